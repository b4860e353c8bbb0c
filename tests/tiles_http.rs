//! Vector tiles over real HTTP against a started server on a copy of the sample city: catalog,
//! TileJSON, tiles with suffixes, encodings, ETags, empty and bad tiles, auth and scope, and the
//! cache's exact invalidation after an engine apply and after an edit by another PostGIS client
//! (that test needs `GRIDMAP_TEST_PG`, like every PostGIS test).

mod common;

use std::collections::BTreeMap;
use std::io::Read as _;

use geo::{BoundingRect, Translate};
use gridmap::access::Role;
use gridmap::config::StoreLocation;
use gridmap::model::{scope_contains, Change, Layer, Level};
use gridmap::serve::{self, Server};
use gridmap::tiles::cache::TileAddr;
use gridmap::tiles::coding::etag_of;
use gridmap::tiles::invalidate::{tile_range, tileset_buffer_units};
use gridmap::tiles::TileRange;
use gridmap::tiles::{render_tile, TileCrs, TileId};
use reqwest::header::HeaderMap;
use serde_json::Value;

async fn server_with(public_url: Option<&str>) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = common::sample_copy(dir.path());
    let mut config = common::test_config(StoreLocation::Gpkg(path));
    config.public_url = public_url.map(str::to_string);
    // The tests also play the reverse proxy, whose X-Forwarded-* headers are believed.
    config.trusted_proxies =
        gridmap::config::TrustedProxies::parse(&["127.0.0.1".into()]).expect("trusted proxies");
    let server = serve::start(&config).await.expect("server starts");
    (dir, server)
}

/// An answer: status, headers, raw body (never decompressed: reqwest is built without it).
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn get(server: &Server, path: &str, token: Option<&str>, headers: &[(&str, &str)]) -> Answer {
    let mut req = reqwest::Client::new().get(format!("{}{path}", server.url()));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
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

/// The z14 tile over the management center of district 410611.
fn tile_over_410611(server: &Server, z: u8) -> TileId {
    let snap = server.engine.snapshot();
    let district = snap.area("410611").expect("district 410611");
    let c = district.center.expect("410611 has a management center");
    TileId::containing(z, c.x(), c.y()).expect("tile")
}

fn path(tileset: &str, t: TileId, suffix: &str) -> String {
    format!("/tiles/{tileset}/{}/{}/{}{suffix}", t.z, t.x, t.y)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn catalog_and_tilejson() {
    let (_dir, server) = server_with(None).await;
    let catalog = get(&server, "/tiles", None, &[]).await;
    assert_eq!(catalog.status, 200);
    let sets = catalog.json()["tilesets"].clone();
    let names: Vec<&str> = sets
        .as_array()
        .expect("tilesets")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["boundaries", "buildings", "basemap", "events", "heatmap"]
    );
    assert_eq!(sets[0]["public"], true);
    assert_eq!(sets[1]["public"], false);
    assert_eq!(sets[2]["public"], true);
    assert_eq!(sets[0]["minzoom"], 8);
    let host = server.addr.to_string();
    assert_eq!(
        sets[0]["tilejson"],
        format!("http://{host}/tiles/boundaries")
    );

    let tj = get(&server, "/tiles/boundaries", None, &[]).await;
    assert_eq!(tj.status, 200);
    let tj = tj.json();
    assert_eq!(tj["tilejson"], "3.0.0");
    assert_eq!(tj["name"], "boundaries");
    assert_eq!(tj["scheme"], "xyz");
    assert_eq!(
        tj["tiles"][0],
        format!("http://{host}/tiles/boundaries/{{z}}/{{x}}/{{y}}.pbf")
    );
    assert_eq!(
        (tj["minzoom"].as_u64(), tj["maxzoom"].as_u64()),
        (Some(8), Some(16))
    );
    let b: Vec<f64> = tj["bounds"]
        .as_array()
        .expect("bounds")
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    assert_eq!(b.len(), 4);
    assert!(
        b[0] > 113.0 && b[2] < 116.0 && b[1] > 35.0 && b[3] < 37.0,
        "{b:?}"
    );
    let center = tj["center"].as_array().expect("center");
    let (clon, clat) = (
        center[0].as_f64().expect("lon"),
        center[1].as_f64().expect("lat"),
    );
    assert!((b[0]..=b[2]).contains(&clon) && (b[1]..=b[3]).contains(&clat));
    let layers = tj["vector_layers"].as_array().expect("vector_layers");
    let grid = layers
        .iter()
        .find(|l| l["id"] == "grid")
        .expect("grid layer");
    assert_eq!(grid["fields"]["code"], "String");
    assert_eq!(grid["fields"]["urban_rural"], "Number");
    assert_eq!(
        (grid["minzoom"].as_u64(), grid["maxzoom"].as_u64()),
        (Some(12), Some(16))
    );

    let proxied = get(
        &server,
        "/tiles/boundaries",
        None,
        &[
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "maps.example.cn"),
        ],
    )
    .await
    .json();
    assert_eq!(
        proxied["tiles"][0],
        "https://maps.example.cn/tiles/boundaries/{z}/{x}/{y}.pbf"
    );
    let bad = get(
        &server,
        "/tiles/boundaries",
        None,
        &[("X-Forwarded-Host", "a b/c")],
    )
    .await;
    assert_eq!(bad.status, 400);
    server.stop().await.expect("stop");

    let (_dir, server) = server_with(Some("https://grid.example.cn/gm/")).await;
    let tj = get(
        &server,
        "/tiles/boundaries",
        None,
        &[("X-Forwarded-Host", "ignored")],
    )
    .await
    .json();
    assert_eq!(
        tj["tiles"][0],
        "https://grid.example.cn/gm/tiles/boundaries/{z}/{x}/{y}.pbf"
    );
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn bad_tiles_unknown_tilesets_and_auth() {
    let (_dir, server) = server_with(None).await;
    let t = tile_over_410611(&server, 14);
    for bad in [
        "/tiles/boundaries/30/0/0",
        "/tiles/boundaries/14/99999/0",
        "/tiles/boundaries/14/0/16384.pbf",
        "/tiles/boundaries/x/0/0",
        "/tiles/boundaries/14/0/1.png",
    ] {
        let a = get(&server, bad, None, &[]).await;
        assert_eq!(a.status, 400, "{bad}");
        assert_eq!(a.json()["error"]["code"], "bad_tile", "{bad}");
    }
    let unknown = get(&server, &path("roads", t, ".pbf"), None, &[]).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["error"]["code"], "unknown_tileset");
    let unknown_tj = get(&server, "/tiles/roads", None, &[]).await;
    assert_eq!(unknown_tj.json()["error"]["code"], "unknown_tileset");

    let anonymous = get(&server, &path("buildings", t, ".pbf"), None, &[]).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.json()["error"]["code"], "unauthorized");
    assert_eq!(
        get(&server, "/tiles/buildings", None, &[]).await.status,
        401
    );
    let forged = get(
        &server,
        &path("boundaries", t, ".pbf"),
        Some("not-a-token"),
        &[],
    )
    .await;
    assert_eq!(
        forged.status, 401,
        "an invalid token is refused, not anonymous"
    );

    let public = get(&server, &path("boundaries", t, ".pbf"), None, &[]).await;
    assert_eq!(public.status, 200);
    assert_eq!(public.header("cache-control"), Some("public, max-age=60"));
    let city = common::token("410600", &[Role::Viewer]);
    let buildings = get(&server, &path("buildings", t, ".pbf"), Some(&city), &[]).await;
    assert_eq!(buildings.status, 200);
    assert_eq!(
        buildings.header("cache-control"),
        Some("private, max-age=60")
    );

    // Outside the tileset's zoom range: 204, documented.
    let below = get(
        &server,
        &path(
            "buildings",
            TileId::containing(10, 114.3, 35.7).expect("t"),
            "",
        ),
        Some(&city),
        &[],
    )
    .await;
    assert_eq!(below.status, 204);
    // Over Beijing: no feature, 204.
    let beijing = TileId::containing(14, 116.397, 39.909).expect("tile");
    let empty = get(&server, &path("boundaries", beijing, ".pbf"), None, &[]).await;
    assert_eq!(empty.status, 204);
    assert!(empty.body.is_empty());
    server.stop().await.expect("stop");
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("gzip decodes");
    out
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(bytes, 4096)
        .read_to_end(&mut out)
        .expect("brotli decodes");
    out
}

/// Tiles are served outside the router's shared layers: they carry CORS headers themselves
/// (refusals too), answer the browser's preflight, and are still counted in /metrics.
#[tokio::test]
async fn tiles_carry_cors_answer_preflights_and_are_counted() {
    let (_dir, server) = server_with(None).await;
    let t = tile_over_410611(&server, 14);
    let origin = [("Origin", "https://wall.example")];
    let ok = get(&server, &path("boundaries", t, ".pbf"), None, &origin).await;
    let refused = get(&server, &path("buildings", t, ".pbf"), None, &origin).await;
    let bad = get(&server, "/tiles/boundaries/x/0/0", None, &origin).await;
    for (answer, status) in [(&ok, 200), (&refused, 401), (&bad, 400)] {
        assert_eq!(answer.status, status);
        assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
        assert_eq!(answer.header("access-control-expose-headers"), Some("*"));
    }

    let preflight = reqwest::Client::new()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}{}", server.url(), path("buildings", t, ".pbf")),
        )
        .header("Origin", "https://wall.example")
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "authorization,x-api-key")
        .send()
        .await
        .expect("preflight");
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let h = |name: &str| {
        preflight
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    assert_eq!(h("access-control-allow-origin").as_deref(), Some("*"));
    assert!(h("access-control-allow-methods").is_some_and(|m| m.contains("GET")));
    // `*` would not allow Authorization: the asked headers come back by name.
    assert_eq!(
        h("access-control-allow-headers").as_deref(),
        Some("authorization,x-api-key")
    );

    let metrics = reqwest::get(format!("{}/metrics", server.url()))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for status in ["200", "401", "400"] {
        let counted = metrics.lines().any(|l| {
            l.starts_with("gridmap_http_requests_total{")
                && l.contains("route=\"/tiles/{tileset}/{z}/{x}/{y}\"")
                && l.contains(&format!("status=\"{status}\""))
        });
        assert!(
            counted,
            "tile answers with {status} are counted:\n{metrics}"
        );
    }
    assert!(metrics.contains(
        "gridmap_http_request_duration_seconds_count{route=\"/tiles/{tileset}/{z}/{x}/{y}\"}"
    ));
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn a_tile_in_every_encoding_with_etags() {
    let (_dir, server) = server_with(None).await;
    let t = tile_over_410611(&server, 14);
    let plain = get(&server, &path("boundaries", t, ""), None, &[]).await;
    assert_eq!(plain.status, 200);
    assert_eq!(
        plain.header("content-type"),
        Some("application/vnd.mapbox-vector-tile")
    );
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(
        plain.header("vary"),
        Some("Accept-Encoding, Authorization, X-Api-Key")
    );
    assert!(!plain.body.is_empty());
    assert!(contains(&plain.body, b"410611"));
    let snap = server.engine.snapshot();
    let tileset = server.tilesets.get("boundaries").expect("boundaries");
    let direct = render_tile(&snap, tileset, t.z, t.x, t.y, &|_| true).expect("render");
    assert_eq!(plain.body, direct.bytes);
    let etag = plain.header("etag").expect("etag").to_string();
    assert_eq!(etag, etag_of(&direct.bytes));
    assert!(etag.starts_with('"') && !etag.starts_with("W/"));

    for suffix in [".pbf", ".mvt"] {
        let a = get(&server, &path("boundaries", t, suffix), None, &[]).await;
        assert_eq!((a.status, &a.body), (200, &plain.body), "{suffix}");
    }
    let gz = get(
        &server,
        &path("boundaries", t, ".pbf"),
        None,
        &[("Accept-Encoding", "gzip")],
    )
    .await;
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&gz.body), plain.body);
    let br = get(
        &server,
        &path("boundaries", t, ".pbf"),
        None,
        &[("Accept-Encoding", "gzip, br")],
    )
    .await;
    assert_eq!(br.header("content-encoding"), Some("br"));
    assert_eq!(unbrotli(&br.body), plain.body);
    assert_eq!(br.header("etag"), Some(etag.as_str()));

    let fresh = get(
        &server,
        &path("boundaries", t, ".pbf"),
        None,
        &[("If-None-Match", &etag)],
    )
    .await;
    assert_eq!(fresh.status, 304);
    assert!(fresh.body.is_empty());
    assert_eq!(fresh.header("etag"), Some(etag.as_str()));
    let stale = get(
        &server,
        &path("boundaries", t, ".pbf"),
        None,
        &[("If-None-Match", "\"0-0\"")],
    )
    .await;
    assert_eq!(stale.status, 200);
    let metrics = String::from_utf8(get(&server, "/metrics", None, &[]).await.body).expect("text");
    for name in [
        "gridmap_tile_cache_hits_total",
        "gridmap_tile_cache_misses_total",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn scope_filters_tiles_and_the_cache_does_not_leak() {
    let (_dir, server) = server_with(None).await;
    let t = tile_over_410611(&server, 14);
    let city = common::token("410600", &[Role::Viewer]);
    let other = common::token("410621", &[Role::Viewer]);
    let as_city = get(&server, &path("boundaries", t, ".pbf"), Some(&city), &[]).await;
    assert_eq!(as_city.status, 200);
    assert!(contains(&as_city.body, b"410611"));
    let as_other = get(&server, &path("boundaries", t, ".pbf"), Some(&other), &[]).await;
    assert_ne!(
        as_city.body, as_other.body,
        "the city's cached tile leaked to 410621"
    );
    assert!(
        !contains(&as_other.body, b"410611"),
        "a 410611 feature reached a 410621 token"
    );
    let snap = server.engine.snapshot();
    let tileset = server.tilesets.get("boundaries").expect("boundaries");
    let expected = render_tile(&snap, tileset, t.z, t.x, t.y, &|c| {
        scope_contains("410621", c)
    })
    .expect("render");
    assert_eq!(as_other.body, expected.bytes);
    assert_eq!(
        as_other.status,
        if expected.bytes.is_empty() { 204 } else { 200 }
    );
    // And back: the city still gets its own tile from the cache.
    let again = get(&server, &path("boundaries", t, ".pbf"), Some(&city), &[]).await;
    assert_eq!(again.body, as_city.body);
    server.stop().await.expect("stop");
}

/// ETags of every tile of the blocks, as the city sees them, in z/x/y order.
async fn etags(
    server: &Server,
    token: &str,
    blocks: &[TileRange],
) -> BTreeMap<(u8, u32, u32), String> {
    let mut out = BTreeMap::new();
    for block in blocks {
        for (x, y) in block.tiles() {
            let t = TileId::new(block.z, x, y).expect("tile");
            let a = get(server, &path("boundaries", t, ".pbf"), Some(token), &[]).await;
            assert!(matches!(a.status, 200 | 204), "{t:?}: {}", a.status);
            out.insert((t.z, t.x, t.y), a.header("etag").expect("etag").to_string());
        }
    }
    out
}

#[tokio::test]
async fn an_edit_invalidates_exactly_the_tiles_it_touches() {
    let (_dir, server) = server_with(None).await;
    let city = common::token("410600", &[Role::Viewer]);
    let snap = server.engine.snapshot();
    let district = snap.area("410611").expect("410611");
    let grid = snap
        .areas_in_bbox(district.geometry.bounding_rect().expect("bbox"))
        .into_iter()
        .find(|a| a.layer == Layer::Base && a.level == Level::Grid && a.code.starts_with("410611"))
        .expect("a grid of 410611")
        .clone();
    let old_box = grid.geometry.bounding_rect().expect("grid bbox");
    // Move the grid east by a quarter of its width and rename it.
    let shift = old_box.width() / 4.0;
    let mut moved = grid.clone();
    moved.name = format!("{}（迁）", grid.name);
    moved.geometry = grid.geometry.translate(shift, 0.0);
    moved.center = grid.center.map(|c| c.translate(shift, 0.0));
    let new_box = moved.geometry.bounding_rect().expect("moved bbox");
    let centers: Vec<geo_types::Rect<f64>> = [grid.center, moved.center]
        .into_iter()
        .flatten()
        .map(|c| geo_types::Rect::new(c.0, c.0))
        .collect();

    let tileset = server
        .tilesets
        .get("boundaries")
        .expect("boundaries")
        .clone();
    let buffer = tileset_buffer_units(&tileset);
    let touched = |z: u8, x: u32, y: u32| {
        [old_box, new_box]
            .iter()
            .chain(centers.iter())
            .any(|b| tile_range(*b, z, buffer).contains(x, y))
    };
    // Blocks reaching three tiles beyond the touched ones, at two zooms.
    let blocks: Vec<TileRange> = [14u8, 16]
        .into_iter()
        .map(|z| {
            let r = tile_range(old_box, z, buffer);
            let n = tile_range(new_box, z, buffer);
            TileRange {
                z,
                min_x: r.min_x.min(n.min_x) - 3,
                max_x: r.max_x.max(n.max_x) + 3,
                min_y: r.min_y.min(n.min_y) - 3,
                max_y: r.max_y.max(n.max_y) + 3,
            }
        })
        .collect();
    let before = etags(&server, &city, &blocks).await;
    let addr = |&(z, x, y): &(u8, u32, u32)| TileAddr {
        tileset: "boundaries".into(),
        z,
        x,
        y,
        scope: "410600".into(),
        crs: TileCrs::Wgs84,
    };
    assert!(before.keys().all(|k| server.tile_cache.contains(&addr(k))));

    server.apply(&[Change::UpsertArea(moved)]).await;

    for k @ &(z, x, y) in before.keys() {
        assert_eq!(
            server.tile_cache.contains(&addr(k)),
            !touched(z, x, y),
            "tile {z}/{x}/{y}: cached after the edit must mean untouched by it"
        );
    }
    let after = etags(&server, &city, &blocks).await;
    let snap = server.engine.snapshot();
    let fresh = |z, x, y| {
        let tile = render_tile(&snap, &tileset, z, x, y, &|c| scope_contains("410600", c));
        etag_of(&tile.expect("render").bytes)
    };
    common::assert_only_touched_tiles_changed(
        &before,
        &after,
        fresh,
        touched,
        "moving and renaming a grid",
    );
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn an_edit_from_another_client_reaches_the_cached_tiles() {
    let (url, server) = common::postgis_sample_server().await;
    let street = server
        .engine
        .snapshot()
        .area("410611001")
        .expect("street 410611001")
        .clone();
    let c = street.center.expect("street center");
    let t = TileId::containing(12, c.x(), c.y()).expect("tile");
    let before = get(&server, &path("boundaries", t, ".pbf"), None, &[]).await;
    assert_eq!(before.status, 200);
    let renamed = "金山街道（改）";
    assert!(!contains(&before.body, renamed.as_bytes()));

    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("psql-like client");
    tokio::spawn(conn);
    client
        .execute(
            "UPDATE area SET name = $1 WHERE code = '410611001'",
            &[&renamed],
        )
        .await
        .expect("update from another client");
    let started = std::time::Instant::now();
    loop {
        let after = get(&server, &path("boundaries", t, ".pbf"), None, &[]).await;
        if contains(&after.body, renamed.as_bytes()) {
            assert_ne!(after.header("etag"), before.header("etag"));
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "the cached tile still shows the old name 2 s after the edit"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    server.stop().await.expect("stop");
}
