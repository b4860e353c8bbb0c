//! The `events` and `heatmap` tilesets over real HTTP against a server on PostGIS (needs
//! `GRIDMAP_TEST_PG`), decoded by GDAL: square heatmap counts equal a GROUP BY on PostGIS cell by
//! cell, cluster counts and their status breakdown equal SQL counts, H3 hexagons equal the
//! engine's counts and a brute force over the events read back with SQL; filters and scope change
//! the answer and the cache key; an event change re-renders exactly the event tiles at its old and
//! new position and no boundaries tile.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use common::gdal::{decode_tile_layer, geometry_of, ogrinfo_counts, require_gdal, text_property};
use geo::Validation;
use geo_types::Geometry;
use gridmap::access::Role;
use gridmap::engine::events::{h3_resolution, EventFilter, WorldPoint, WorldRect};
use gridmap::model::{Change, EventStatus};
use gridmap::serve::Server;
use gridmap::tiles::cache::TileAddr;
use gridmap::tiles::event_tiles::buffer_reach;
use gridmap::tiles::{TileCrs, TileId};
use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio_postgres::Client;

/// Web Mercator half world (metres), as the engine uses.
const HALF: f64 = gridmap::crs::mercator::HALF_WORLD_M;
/// The report window of the filtered requests: October 2026 (the sample ends on 1 November).
const FROM: &str = "2026-10-02";
const TO: &str = "2026-10-31";
const SQL_FROM: &str = "2026-10-02T00:00:00Z";
const SQL_TO: &str = "2026-11-01T00:00:00Z";
/// Rings of neighbour cells a heatmap tile carries (the layer's 32-px buffer in 4-px cells).
const HEATMAP_RING: i64 = 8;

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn etag(&self) -> String {
        self.headers
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

async fn get(server: &Server, path: &str, token: Option<&str>) -> Answer {
    let mut req = reqwest::Client::new().get(format!("{}{path}", server.url()));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.expect("body").to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

fn tile_path(tileset: &str, t: TileId, query: &str) -> String {
    format!("/tiles/{tileset}/{}/{}/{}.pbf{query}", t.z, t.x, t.y)
}

async fn sql_client(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
}

/// The world units of an event in SQL, by the engine's rule (src/engine/events/world.rs):
/// `floor((mx + πR) / 2πR · 2^32)`, `floor((πR − my) / 2πR · 2^32)` on EPSG:3857 metres.
fn world_sql() -> String {
    format!(
        "floor((ST_X(m) + {HALF:?}) / {w:?} * 4294967296)::bigint AS wx, \
         floor(({HALF:?} - ST_Y(m)) / {w:?} * 4294967296)::bigint AS wy",
        w = 2.0 * HALF
    )
}

/// The SQL condition of the filtered requests: the window, statuses, categories and scope.
fn filter_sql(statuses: &[&str], categories: &[String], scope_prefix: &str) -> String {
    let list = |v: &[String]| {
        v.iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let statuses: Vec<String> = statuses.iter().map(|s| s.to_string()).collect();
    format!(
        "reported_at >= '{SQL_FROM}' AND reported_at < '{SQL_TO}' AND status IN ({}) \
         AND category IN ({}) AND area_code LIKE '{scope_prefix}%'",
        list(&statuses),
        list(categories)
    )
}

/// The events matching `cond`, as world positions, from PostGIS.
async fn events_where(client: &Client, cond: &str) -> Vec<(i64, i64, f64, f64)> {
    let sql = format!(
        "SELECT wx, wy, lon, lat FROM (SELECT {}, ST_X(geom) AS lon, ST_Y(geom) AS lat \
         FROM (SELECT geom, ST_Transform(geom, 3857) AS m FROM event WHERE {cond}) e) p",
        world_sql()
    );
    client
        .query(&sql, &[])
        .await
        .expect("events")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

/// Exact counts per square cell of `tile` (`2^k` cells per side) and of `ring` cells around
/// it, by a GROUP BY on PostGIS; cells are numbered from the tile's north-west corner.
async fn sql_bins(
    client: &Client,
    tile: TileId,
    k: u32,
    ring: i64,
    cond: &str,
) -> BTreeMap<(i64, i64), i64> {
    let cshift = 32 - u32::from(tile.z) - k;
    let (x0, y0) = (i64::from(tile.x) << k, i64::from(tile.y) << k);
    let last = (1i64 << k) - 1 + ring;
    let sql = format!(
        "SELECT cx, cy, count(*) FROM (SELECT (wx >> {cshift}) - {x0} AS cx, \
         (wy >> {cshift}) - {y0} AS cy \
         FROM (SELECT {} FROM (SELECT ST_Transform(geom, 3857) AS m FROM event WHERE {cond}) e) p) c \
         WHERE cx BETWEEN {first} AND {last} AND cy BETWEEN {first} AND {last} GROUP BY 1, 2",
        world_sql(),
        first = -ring,
    );
    client
        .query(&sql, &[])
        .await
        .expect("bins")
        .iter()
        .map(|r| ((r.get(0), r.get(1)), r.get(2)))
        .collect()
}

/// Writes a tile answer where GDAL's MVT driver reads its address: `NAME/z/x/y.pbf`.
fn tile_file(dir: &Path, name: &str, tile: TileId, body: &[u8]) -> std::path::PathBuf {
    let path = dir
        .join(name)
        .join(format!("{}/{}/{}.pbf", tile.z, tile.x, tile.y));
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(&path, body).expect("write tile");
    path
}

fn int(f: &geojson::Feature, key: &str) -> i64 {
    f.property(key).and_then(Value::as_i64).unwrap_or(-1)
}

/// The tile at zoom `z` holding the most of `positions`.
fn densest(z: u8, positions: &[(i64, i64, f64, f64)]) -> TileId {
    let shift = 32 - u32::from(z);
    let mut counts: HashMap<(u32, u32), usize> = HashMap::new();
    for &(wx, wy, _, _) in positions {
        *counts
            .entry(((wx >> shift) as u32, (wy >> shift) as u32))
            .or_default() += 1;
    }
    let (&(x, y), _) = counts
        .iter()
        .max_by_key(|(k, n)| (**n, **k))
        .expect("some events");
    TileId::new(z, x, y).expect("tile")
}

/// The two most common categories of the sample, for the category filter.
async fn common_categories(client: &Client) -> Vec<String> {
    client
        .query(
            "SELECT category FROM event GROUP BY category ORDER BY count(*) DESC, category LIMIT 2",
            &[],
        )
        .await
        .expect("categories")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn heatmap_clusters_and_hexagons_equal_postgis_counts_and_scope_applies() {
    require_gdal();
    let (url, server) = common::postgis_sample_server().await;
    let client = sql_client(&url).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let city = common::token("410600", &[Role::Viewer]);
    let categories = common_categories(&client).await;
    let statuses = ["handling", "reported", "closed"];
    let query = format!(
        "?from={FROM}&to={TO}&status={}&category={}",
        statuses.join(","),
        categories.join(",")
    );
    let cond = filter_sql(&statuses, &categories, "4106");
    let matching = events_where(&client, &cond).await;
    assert!(matching.len() > 300, "{} events match", matching.len());

    // Square heatmap cells, cell by cell, at three zooms.
    for z in [10u8, 12, 14] {
        let tile = densest(z, &matching);
        let answer = get(&server, &tile_path("heatmap", tile, &query), Some(&city)).await;
        assert_eq!(answer.status, 200, "heatmap {tile:?}");
        let path = tile_file(dir.path(), &format!("heat{z}"), tile, &answer.body);
        let mut served = BTreeMap::new();
        for f in decode_tile_layer(&path, "heatmap", tile) {
            let Geometry::Point(p) = geometry_of(&f) else {
                panic!("a square bin is a point");
            };
            let cell = ((p.x() / 64.0).floor() as i64, (p.y() / 64.0).floor() as i64);
            assert!(served.insert(cell, int(&f, "count")).is_none());
        }
        let expected = sql_bins(&client, tile, 6, HEATMAP_RING, &cond).await;
        assert!(expected.len() > 3, "z{z}: {} cells", expected.len());
        assert_eq!(served, expected, "heatmap cells of {tile:?}");
    }

    // Clusters: their counts sum to the SQL count of the tile; each status breakdown sums up.
    let tile = densest(10, &matching);
    let answer = get(&server, &tile_path("events", tile, &query), Some(&city)).await;
    assert_eq!(answer.status, 200);
    let path = tile_file(dir.path(), "clusters", tile, &answer.body);
    let clusters = decode_tile_layer(&path, "cluster", tile);
    let total: i64 = clusters.iter().map(|f| int(f, "count")).sum();
    for f in &clusters {
        let by_status: i64 = EventStatus::ALL
            .iter()
            .map(|s| f.property(s.as_str()).and_then(Value::as_i64).unwrap_or(0))
            .sum();
        assert_eq!(by_status, int(f, "count"));
        assert_eq!(
            int(f, "closed") + int(f, "handling") + int(f, "reported"),
            int(f, "count"),
            "only the filtered statuses"
        );
    }
    let in_tile: i64 = sql_bins(&client, tile, 0, 0, &cond).await.values().sum();
    assert_eq!(total, in_tile);

    // Scope: 淇滨区 sees fewer events than the city, exactly its own.
    let scoped = common::token("410611", &[Role::Viewer]);
    let answer = get(&server, &tile_path("events", tile, &query), Some(&scoped)).await;
    let path = tile_file(dir.path(), "scoped", tile, &answer.body);
    let scoped_total: i64 = if answer.status == 204 {
        0
    } else {
        decode_tile_layer(&path, "cluster", tile)
            .iter()
            .map(|f| int(f, "count"))
            .sum()
    };
    let scoped_cond = filter_sql(&statuses, &categories, "410611");
    let scoped_sql: i64 = sql_bins(&client, tile, 0, 0, &scoped_cond)
        .await
        .values()
        .sum();
    assert_eq!(scoped_total, scoped_sql);
    assert!(
        0 < scoped_total && scoped_total < total,
        "{scoped_total} of {total}"
    );
    for set in ["events", "heatmap"] {
        assert_eq!(
            get(&server, &tile_path(set, tile, ""), None).await.status,
            401
        );
        assert_eq!(
            get(&server, &format!("/tiles/{set}"), None).await.status,
            401
        );
    }

    // H3 hexagons at z12: decoded by GDAL, equal to the engine and to a brute force.
    let tile = densest(12, &matching);
    let answer = get(
        &server,
        &tile_path("heatmap", tile, &format!("{query}&bin=h3")),
        Some(&city),
    )
    .await;
    assert_eq!(answer.status, 200);
    let path = tile_file(dir.path(), "h3", tile, &answer.body);
    let mut served = BTreeMap::new();
    for f in decode_tile_layer(&path, "heatmap", tile) {
        let g = geometry_of(&f);
        assert!(
            matches!(g, Geometry::Polygon(_)),
            "a hexagon is one polygon"
        );
        assert!(g.is_valid(), "hexagon {} invalid", text_property(&f, "h3"));
        served.insert(text_property(&f, "h3"), int(&f, "count"));
    }
    let mut filter = EventFilter::at(chrono::Utc::now());
    filter.from = Some(SQL_FROM.parse().expect("time"));
    filter.to = Some(SQL_TO.parse().expect("time"));
    filter.statuses = statuses
        .iter()
        .filter_map(|s| EventStatus::parse(s))
        .collect();
    filter.categories = categories.clone();
    filter.area_prefixes = vec!["4106".into()];
    let engine: BTreeMap<String, i64> = server
        .engine
        .snapshot()
        .events()
        .count_in_h3(tile, &filter)
        .into_iter()
        .map(|(c, n)| (c.to_string(), i64::from(n)))
        .collect();
    assert!(engine.len() > 10, "{} hexagons", engine.len());
    assert_eq!(served, engine);
    let res = h3o::Resolution::try_from(h3_resolution(tile.z)).expect("resolution");
    let rect = WorldRect::of_tile(tile);
    let quantized = |lon: f64, lat: f64| WorldPoint::from_lonlat(lon, lat).to_lonlat();
    let mut brute: BTreeMap<String, i64> = BTreeMap::new();
    for &(_, _, lon, lat) in &matching {
        let (qlon, qlat) = quantized(lon, lat);
        let cell = h3o::LatLng::new(qlat, qlon).expect("latlng").to_cell(res);
        let centre = h3o::LatLng::from(cell);
        if rect.contains(WorldPoint::from_lonlat(centre.lng(), centre.lat())) {
            *brute.entry(cell.to_string()).or_default() += 1;
        }
    }
    assert_eq!(brute, engine);
    assert_eq!(brute.values().sum::<i64>(), served.values().sum::<i64>());
    let counts = ogrinfo_counts(&path);
    assert_eq!(counts.get("heatmap").copied(), Some(served.len()));
    server.stop().await.expect("stop");
}

/// ETags of tiles of `tileset` at `tiles`, as the city sees them with `query`.
async fn etags(
    server: &Server,
    token: &str,
    tileset: &str,
    tiles: &[TileId],
    query: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    for &t in tiles {
        let a = get(server, &tile_path(tileset, t, query), Some(token)).await;
        assert!(
            a.status == 200 || a.status == 204,
            "{tileset} {t:?}: {}",
            a.status
        );
        out.push(a.etag());
    }
    out
}

/// The tiles of a 7×7 block around a position at zoom `z`.
fn block(z: u8, p: WorldPoint) -> Vec<TileId> {
    let shift = 32 - u32::from(z);
    let (cx, cy) = (p.x >> shift, p.y >> shift);
    (cy - 3..=cy + 3)
        .flat_map(|y| (cx - 3..=cx + 3).map(move |x| TileId::new(z, x, y).expect("tile")))
        .collect()
}

#[tokio::test]
async fn filters_key_the_cache_and_an_event_change_refreshes_exactly_its_tiles() {
    let (_url, server) = common::postgis_sample_server().await;
    let city = common::token("410600", &[Role::Viewer]);
    let snap = server.engine.snapshot();
    let events = snap.events();
    let mut all = EventFilter::at(chrono::Utc::now());
    all.area_prefixes = vec!["4106".into()];

    // Filters: same set in another order → same ETag; another set → another ETag.
    let t = {
        let d = server
            .engine
            .snapshot()
            .area("410611")
            .expect("410611")
            .clone();
        let c = d.center.expect("center");
        TileId::containing(12, c.x(), c.y()).expect("tile")
    };
    let ab = get(
        &server,
        &tile_path("heatmap", t, "?status=reported,closed"),
        Some(&city),
    )
    .await;
    let ba = get(
        &server,
        &tile_path("heatmap", t, "?status=closed,reported"),
        Some(&city),
    )
    .await;
    let other = get(
        &server,
        &tile_path("heatmap", t, "?status=handling"),
        Some(&city),
    )
    .await;
    let none = get(&server, &tile_path("heatmap", t, ""), Some(&city)).await;
    assert_eq!((ab.status, other.status, none.status), (200, 200, 200));
    assert_eq!(ab.etag(), ba.etag());
    assert_ne!(ab.etag(), other.etag());
    assert_ne!(ab.etag(), none.etag());
    assert_ne!(ab.body, none.body);
    for bad in [
        "?status=lost",
        "?from=yesterday",
        "?from=2026-10-05&to=2026-10-01",
        "?bin=hex",
        "?category=a%20b",
        "?crs=gcj02",
    ] {
        let a = get(&server, &tile_path("heatmap", t, bad), Some(&city)).await;
        assert_eq!(a.status, 400, "{bad}");
        let code = a.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(code == "bad_filter" || code == "bad_crs", "{bad}: {code}");
    }
    let a = get(&server, &tile_path("events", t, "?bin=h3"), Some(&city)).await;
    assert_eq!(a.status, 400, "bin is for the heatmap only");
    let tj = get(
        &server,
        "/tiles/heatmap?status=closed,reported&bin=h3",
        Some(&city),
    )
    .await;
    assert_eq!(tj.status, 200);
    let url = tj.json()["tiles"][0]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        url.contains("status=closed%2Creported") && url.contains("bin=h3"),
        "{url}"
    );

    // Move an event to where another one is, several z14 tiles away.
    let first = events.points(t, 0, &all);
    let moved_code = first.first().expect("an event in the tile").code.clone();
    let old = events.position(&moved_code).expect("position");
    let far = TileId::new(12, t.x + 2, t.y + 1).expect("tile");
    let target = events
        .points(far, 0, &all)
        .first()
        .map(|p| p.code.clone())
        .unwrap_or_else(|| panic!("no event in {far:?}"));
    let mut event = server
        .store
        .event(&moved_code)
        .await
        .expect("read")
        .expect("stored event");
    let there = server
        .store
        .event(&target)
        .await
        .expect("read")
        .expect("target");
    event.location = there.location;
    let new = WorldPoint::from_lonlat(event.location.x(), event.location.y());

    let zooms = [10u8, 14];
    let mut blocks: Vec<TileId> = Vec::new();
    for z in zooms {
        blocks.extend(block(z, old));
        blocks.extend(block(z, new));
    }
    blocks.sort_by_key(|t| (t.z, t.x, t.y));
    blocks.dedup();
    let sets = ["events", "heatmap"];
    let mut before = HashMap::new();
    for set in sets {
        before.insert(set, etags(&server, &city, set, &blocks, "").await);
    }
    let boundaries: Vec<TileId> = blocks.iter().copied().filter(|t| t.z == 14).collect();
    etags(&server, &city, "boundaries", &boundaries, "").await;

    server
        .store
        .apply(&[Change::UpsertEvent(event.clone())])
        .await
        .expect("store the move");
    server.apply(&[Change::UpsertEvent(event)]).await;

    // A tile shows an event within its layers' buffer (points, and heatmap cells of the ring).
    let tilesets = common::shipped_tilesets();
    let reach = |set: &str, z: u8| {
        let tileset = tilesets.get(set).expect("shipped tileset");
        let serving = tileset.layers.iter().filter(|l| l.serves(z));
        serving.map(|l| buffer_reach(l, z)).max().unwrap_or(0)
    };
    let holds = |set: &str, t: &TileId, p: WorldPoint| {
        WorldRect::of_tile(*t).grown(reach(set, t.z)).contains(p)
    };
    for set in sets {
        let after = etags(&server, &city, set, &blocks, "").await;
        for ((t, b), a) in blocks.iter().zip(&before[set]).zip(&after) {
            let touched = holds(set, t, old) || holds(set, t, new);
            // At z14 both tiles must change; at z10 the move may stay inside one cluster
            // cell and leave its rounded mean where it was.
            if t.z == 14 {
                assert_eq!(a != b, touched, "{set} {t:?}: changed = touched");
            } else {
                assert!(
                    a == b || touched,
                    "{set} {t:?} changed but holds neither position"
                );
            }
        }
    }
    for t in boundaries {
        let addr = TileAddr {
            tileset: "boundaries".into(),
            z: t.z,
            x: t.x,
            y: t.y,
            scope: "410600".into(),
            crs: TileCrs::Wgs84,
        };
        assert!(
            server.tile_cache.contains(&addr),
            "boundaries {t:?} was dropped"
        );
    }
    server.stop().await.expect("stop");
}
