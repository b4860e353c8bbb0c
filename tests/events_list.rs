//! The event listing served from the engine, over real HTTP on both stores: every page of many
//! filter combinations equals a reference computed here (`EventFilter::matches` over every
//! stored event, sorted newest first); one meaning of `from`/`to`/`category`/`status` on the
//! listing, the event tiles and the heatmap; the listing's hardening (list caps, CSV formula
//! cells, `area=410600`, events outside every area).

mod common;
mod events_support;

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, Utc};
use common::gdal::{decode_tile_layer, require_gdal, text_property};
use geo_types::{coord, Rect};
use gridmap::access::Role;
use gridmap::engine::events::EventFilter;
use gridmap::model::{Change, Event, EventSource, EventStatus, HandlingLevel};
use gridmap::serve::Server;
use gridmap::tiles::TileId;
use serde_json::json;

use events_support::*;

/// Every stored event, read from the server's store.
async fn stored_events(server: &Server) -> Vec<Event> {
    let mut all = Vec::new();
    server
        .store
        .load_events(&mut |chunk| all.extend(chunk))
        .await
        .expect("load events");
    all
}

/// The reference listing: the events `f` keeps, newest first by the second, then by code.
fn reference(events: &[Event], f: &EventFilter) -> Vec<String> {
    let mut kept: Vec<(i64, &str)> = events
        .iter()
        .filter(|e| f.matches(e))
        .map(|e| (e.reported_at.timestamp(), e.code.as_str()))
        .collect();
    kept.sort_unstable_by(|a, b| b.cmp(a));
    kept.into_iter().map(|(_, c)| c.to_string()).collect()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

/// The city admin's filter at the test clock: the whole city, events outside every area too.
fn city_filter() -> EventFilter {
    let mut f = EventFilter::at(t0());
    f.area_prefixes = vec!["4106".into()];
    f.outside_areas = true;
    f
}

async fn listing_equals_reference(server: &Server) {
    let events = stored_events(server).await;
    assert!(events.len() > 1_000, "the sample has events");
    // A second of ties: three events in the same second, in milliseconds against code order.
    let admin = common::token("410600", &[Role::Admin]);
    let last = events.iter().map(|e| e.reported_at).max().expect("events");
    let (p, _) = grid_points(server, "410611", 1).remove(0);
    let ties: Vec<_> = (0..3)
        .map(|i| {
            let mut e = event(&format!("tie-{i}"), p);
            let t = last + chrono::Duration::milliseconds(900 - 300 * i);
            e["reported_at"] = json!(t.to_rfc3339());
            e
        })
        .collect();
    ingest(server, &admin, ties).await;
    let events = stored_events(server).await;
    let window = (at("2026-09-01T00:00:00Z"), at("2026-10-15T12:00:00Z"));
    let bbox = Rect::new(coord! {x: 114.0, y: 35.6}, coord! {x: 114.3, y: 35.9});
    let mut cases: Vec<(String, EventFilter, usize)> = Vec::new();
    let mut case = |query: &str, limit: usize, edit: &dyn Fn(&mut EventFilter)| {
        let mut f = city_filter();
        edit(&mut f);
        cases.push((query.to_string(), f, limit));
    };
    case("", 1_000, &|_| {});
    case("area=410611", 1_000, &|f| {
        f.area_prefixes = vec!["410611".into()];
        f.outside_areas = false;
    });
    case("area=410600", 1_000, &|_| {});
    case("bbox=114.0,35.6,114.3,35.9", 1_000, &|f| {
        f.bbox = Some(bbox)
    });
    case(
        "from=2026-09-01T00:00:00Z&to=2026-10-15T12:00:00Z",
        1_000,
        &|f| (f.from, f.to) = (Some(window.0), Some(window.1)),
    );
    case("status=closed,evaluated", 1_000, &|f| {
        f.statuses = vec![EventStatus::Closed, EventStatus::Evaluated]
    });
    case("category=01,0601", 1_000, &|f| {
        f.categories = vec!["01".into(), "0601".into()]
    });
    case("source=hotline,app", 1_000, &|f| {
        f.sources = vec![EventSource::Hotline, EventSource::App]
    });
    case("level=street,district", 1_000, &|f| {
        f.levels = vec![HandlingLevel::Street, HandlingLevel::District]
    });
    case("overdue=true", 1_000, &|f| f.overdue = Some(true));
    case("overdue=false&area=410621", 1_000, &|f| {
        f.overdue = Some(false);
        f.area_prefixes = vec!["410621".into()];
        f.outside_areas = false;
    });
    case(
        "area=410611&status=reported,registered&category=01&from=2026-09-01T00:00:00Z",
        37,
        &|f| {
            f.area_prefixes = vec!["410611".into()];
            f.outside_areas = false;
            f.statuses = vec![EventStatus::Reported, EventStatus::Registered];
            f.categories = vec!["01".into()];
            f.from = Some(window.0);
        },
    );
    case("to=2026-10-15T12:00:00Z&source=patrol", 250, &|f| {
        f.to = Some(window.1);
        f.sources = vec![EventSource::Patrol];
    });
    for (query, f, limit) in &cases {
        let want = reference(&events, f);
        assert!(!want.is_empty(), "{query}: the reference keeps events");
        let got = all_pages(server, &admin, query, *limit).await;
        assert_eq!(got.len(), want.len(), "{query}");
        assert_eq!(got, want, "{query}");
    }
    // Paging through everything in pages of 997 gives the one-page order (several pages).
    let whole = reference(&events, &city_filter());
    assert!(whole.len() > 3 * 997);
    assert_eq!(all_pages(server, &admin, "", 997).await, whole);
}

#[tokio::test]
async fn engine_listing_equals_the_reference_gpkg() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = gpkg_server(&dir).await;
    listing_equals_reference(&server).await;
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn engine_listing_equals_the_reference_postgis() {
    let server = postgis_server().await;
    listing_equals_reference(&server).await;
    server.stop().await.expect("stop");
}

/// Codes of the `event` layer of an events tile.
fn tile_codes(body: &[u8], tile: TileId, dir: &Path) -> BTreeSet<String> {
    let path = dir.join(format!("events-{}-{}.pbf", tile.x, tile.y));
    std::fs::write(&path, body).expect("write tile");
    decode_tile_layer(&path, "event", tile)
        .iter()
        .map(|f| text_property(f, "code"))
        .collect()
}

/// The summed counts of the heatmap cells of a tile and of its ring (only the test's events
/// match the filters, all at one point inside the tile).
fn heatmap_count(body: &[u8], tile: TileId, dir: &Path) -> f64 {
    let path = dir.join(format!("heatmap-{}-{}.pbf", tile.x, tile.y));
    std::fs::write(&path, body).expect("write tile");
    decode_tile_layer(&path, "heatmap", tile)
        .iter()
        .map(|f| f.property("count").and_then(|c| c.as_f64()).unwrap_or(0.0))
        .sum()
}

#[tokio::test]
async fn a_query_means_the_same_on_the_listing_and_both_event_tilesets() {
    require_gdal();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = gpkg_server(&dir).await;
    let admin = common::token("410600", &[Role::Admin]);
    let (p, _) = grid_points(&server, "410611", 1).remove(0);
    // Around the China Standard Time day 2031-05-10 (UTC 05-09T16:00 to 05-10T16:00).
    let posted = [
        ("2031-05-09T15:59:59Z", "0101", false),
        ("2031-05-09T16:00:00Z", "0102", true),
        ("2031-05-10T04:00:00Z", "0103", true),
        ("2031-05-10T06:00:00Z", "0201", false),
        ("2031-05-10T15:59:59Z", "01", true),
        ("2031-05-10T16:00:00Z", "0101", false),
    ];
    let bodies = posted
        .iter()
        .enumerate()
        .map(|(i, (t, c, _))| {
            let mut e = event(&format!("m-{i}"), p);
            e["reported_at"] = json!(t);
            e["category"] = json!(c);
            e
        })
        .collect();
    let codes = ingest(&server, &admin, bodies).await;
    let want: BTreeSet<String> = codes
        .iter()
        .zip(&posted)
        .filter(|(_, (_, _, kept))| *kept)
        .map(|(c, _)| c.clone())
        .collect();
    let tile = TileId::containing(14, p.0, p.1).expect("tile");
    let tile_url = |set: &str, q: &str| format!("/tiles/{set}/14/{}/{}.pbf?{q}", tile.x, tile.y);
    let day = "from=2031-05-10&to=2031-05-10&category=01&status=reported";
    let instants = "from=2031-05-09T16:00:00Z&to=2031-05-10T16:00:00Z&category=01&status=reported";
    for q in [day, instants] {
        let listed: BTreeSet<String> = all_pages(&server, &admin, q, 100)
            .await
            .into_iter()
            .collect();
        assert_eq!(listed, want, "listing {q}");
        let events_tile = get_bytes(&server, &tile_url("events", q), &admin).await;
        assert_eq!(
            tile_codes(&events_tile, tile, dir.path()),
            want,
            "events {q}"
        );
        let heat = get_bytes(&server, &tile_url("heatmap", q), &admin).await;
        assert_eq!(heatmap_count(&heat, tile, dir.path()), 3.0, "heatmap {q}");
    }
    // status means the same too: none of them is registered.
    let registered = "from=2031-05-10&to=2031-05-10&status=registered";
    assert!(all_pages(&server, &admin, registered, 100).await.is_empty());
    let r = reqwest::Client::new()
        .get(format!(
            "{}{}",
            server.url(),
            tile_url("events", registered)
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 204, "an empty events tile");
    server.stop().await.expect("stop");
}

/// The body of a 200 answer.
async fn get_bytes(server: &Server, path: &str, token: &str) -> Vec<u8> {
    let r = reqwest::Client::new()
        .get(format!("{}{path}", server.url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 200, "{path}");
    r.bytes().await.expect("body").to_vec()
}

#[tokio::test]
async fn a_thousand_values_in_a_list_are_refused_on_all_three_endpoints() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = gpkg_server(&dir).await;
    let admin = common::token("410600", &[Role::Admin]);
    let numbered: Vec<String> = (0..1_000).map(|i| format!("{i:04}")).collect();
    let many = |v: &str| vec![v; 1_000].join(",");
    let lists = [
        format!("category={}", numbered.join(",")),
        format!("status={}", many("reported")),
        format!("source={}", many("app")),
        format!("level={}", many("street")),
    ];
    let refused = |a: &Answer| (a.status, a.body["error"]["code"].as_str().map(String::from));
    let too_many = (400, Some("too_many_values".to_string()));
    for q in &lists {
        let a = get(&server, &format!("/api/events?{q}"), &admin).await;
        assert_eq!(refused(&a), too_many, "listing {}", &q[..12]);
    }
    let tile = TileId::containing(10, 114.3, 35.75).expect("tile");
    for q in &lists[..2] {
        for set in ["events", "heatmap"] {
            let path = format!("/tiles/{set}/10/{}/{}.pbf?{q}", tile.x, tile.y);
            let a = get(&server, &path, &admin).await;
            assert_eq!(refused(&a), too_many, "{set} {}", &q[..12]);
        }
    }
    // 64 values are still accepted.
    let q = format!("category={}", numbered[..64].join(","));
    assert_eq!(
        get(&server, &format!("/api/events?{q}"), &admin)
            .await
            .status,
        200
    );
    server.stop().await.expect("stop");
}

/// An event outside every area (as an import or another writer may store it).
fn unplaced_event() -> Event {
    let reported_at = at("2031-05-20T02:00:00Z");
    Event {
        external_id: Some("outside-1".into()),
        idempotency_scope: "410600".into(),
        title: "市界外的事件".into(),
        category: "0101".into(),
        content: String::new(),
        location: geo_types::Point::new(113.5, 35.2),
        reported_at,
        transitions: vec![gridmap::model::Transition {
            at: reported_at,
            from: None,
            to: EventStatus::Reported,
            actor: "import".into(),
            level: HandlingLevel::Community,
            department: None,
            note: None,
        }],
        ..common::records::bare_event("E20310520000001", 20)
    }
}

#[tokio::test]
async fn hardening_csv_cells_city_area_and_events_outside_every_area() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = common::sample_copy(dir.path());
    {
        let store = gridmap::store::gpkg::GpkgStore::open(&path).expect("open");
        gridmap::store::Store::apply(&store, &[Change::UpsertEvent(unplaced_event())])
            .await
            .expect("store the unplaced event");
    }
    let config = common::test_config(gridmap::config::StoreLocation::Gpkg(path));
    let server = gridmap::serve::start(&config).await.expect("server starts");
    server.clock.set(t0());
    let admin = common::token("410600", &[Role::Admin]);
    let qibin = common::token("410611", &[Role::Dispatcher]);
    let window = format!("from={WINDOW_FROM}");

    // CSV: formula cells are neutralised.
    let (p, _) = grid_points(&server, "410611", 1).remove(0);
    let (x, _) = grid_points(&server, "410621", 1).remove(0);
    let mut risky = event("csv-1", p);
    risky["title"] = json!("=HYPERLINK(\"http://evil.example\",\"x\")");
    risky["address"] = json!("@SUM(1+1)");
    let codes = ingest(&server, &admin, vec![risky, event("xun-1", x)]).await;
    let csv_page = get(
        &server,
        &format!("/api/events?{window}&area=410611&format=csv"),
        &admin,
    )
    .await;
    assert_eq!(csv_page.status, 200);
    let mut reader = csv::Reader::from_reader(csv_page.text.as_bytes());
    let header = reader.headers().expect("header").clone();
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    let row = reader.records().next().expect("a row").expect("row");
    assert_eq!(&row[col("code")], codes[0].as_str());
    assert_eq!(
        &row[col("title")],
        "'=HYPERLINK(\"http://evil.example\",\"x\")"
    );
    assert_eq!(&row[col("address")], "'@SUM(1+1)");

    // area=410600 is the whole city for the city, and the district's own for the district.
    let everything = all_pages(&server, &admin, &window, 100).await;
    assert_eq!(everything.len(), 3, "two posted and the unplaced one");
    let city = all_pages(&server, &admin, &format!("{window}&area=410600"), 100).await;
    assert_eq!(city, everything);
    let mine = all_pages(&server, &qibin, &format!("{window}&area=410600"), 100).await;
    assert_eq!(mine, vec![codes[0].clone()]);
    let none = all_pages(&server, &qibin, &format!("{window}&area=410621"), 100).await;
    assert!(none.is_empty());

    // Outside every area: the city sees it in the listing, the details and the tiles.
    let unplaced = unplaced_event().code;
    assert!(everything.contains(&unplaced));
    let district_view = all_pages(&server, &qibin, &window, 100).await;
    assert!(!district_view.contains(&unplaced));
    let d = get(&server, &format!("/api/events/{unplaced}"), &admin).await;
    assert_eq!(
        (d.status, d.body["code"].as_str()),
        (200, Some(unplaced.as_str()))
    );
    let d = get(&server, &format!("/api/events/{unplaced}"), &qibin).await;
    assert_eq!(d.status, 403);
    let tile = TileId::containing(14, 113.5, 35.2).expect("tile");
    let events_tile = format!("/tiles/events/14/{}/{}.pbf", tile.x, tile.y);
    let heatmap_tile = format!("/tiles/heatmap/14/{}/{}.pbf", tile.x, tile.y);
    let status = |path: String, token: String| {
        let server = &server;
        async move {
            reqwest::Client::new()
                .get(format!("{}{path}", server.url()))
                .bearer_auth(token)
                .send()
                .await
                .expect("request")
                .status()
                .as_u16()
        }
    };
    assert_eq!(status(events_tile.clone(), admin.clone()).await, 200);
    assert_eq!(status(heatmap_tile.clone(), admin.clone()).await, 200);
    assert_eq!(status(events_tile, qibin.clone()).await, 204);
    assert_eq!(status(heatmap_tile, qibin.clone()).await, 204);
    server.stop().await.expect("stop");
}
