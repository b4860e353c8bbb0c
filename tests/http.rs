//! The HTTP skeleton over real HTTP against a started server: health, readiness, metrics,
//! OpenAPI, lookup and areas with tokens in and out of scope, on both stores.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use geo::InteriorPoint;
use gridmap::access::Role;
use gridmap::config::StoreLocation;
use gridmap::model::{Layer, Level};
use gridmap::serve::{self, Server};
use serde_json::Value;

async fn gpkg_server(dir: &tempfile::TempDir) -> Server {
    let path = common::sample_copy(dir.path());
    serve::start(&common::test_config(StoreLocation::Gpkg(path)))
        .await
        .expect("server starts")
}

async fn get(server: &Server, path: &str, token: Option<&str>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut req = client.get(format!("{}{path}", server.url()));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// A point well inside a grid of district 410611 and that grid's code.
fn point_in_411(server: &Server) -> ((f64, f64), String) {
    let snap = server.engine.snapshot();
    let district = snap.area("410611").expect("district 410611");
    let grid = snap
        .areas_in_bbox(geo::BoundingRect::bounding_rect(&district.geometry).expect("bbox"))
        .into_iter()
        .find(|a| a.layer == Layer::Base && a.level == Level::Grid && a.code.starts_with("410611"))
        .expect("a grid in 410611")
        .clone();
    let p = grid.geometry.interior_point().expect("interior point");
    let found = snap
        .grid_at(p.x(), p.y())
        .expect("grid at its interior point");
    ((p.x(), p.y()), found.code.clone())
}

#[tokio::test]
async fn health_ready_metrics_without_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = gpkg_server(&dir).await;
    let (s, body) = get(&server, "/health", None).await;
    assert_eq!((s, body["status"].as_str()), (200, Some("ok")));
    let (s, body) = get(&server, "/ready", None).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["store"], "gpkg");
    assert!(
        body["engine"]["grids"].as_u64().unwrap_or(0) > 100,
        "{body}"
    );
    let (s, _) = get(&server, "/api/lookup?lon=114.3&lat=35.7", Some("x")).await;
    assert_eq!(s, 401);
    let (s, body) = get(&server, "/metrics", None).await;
    assert_eq!(s, 200);
    let text = body.as_str().expect("metrics text");
    assert!(text.contains("gridmap_http_requests_total"), "{text}");
    assert!(text.contains("route=\"/api/lookup\""), "{text}");
    assert!(
        text.contains("gridmap_http_request_duration_seconds"),
        "{text}"
    );
    assert!(
        text.contains("gridmap_engine_records{kind=\"grids\"}"),
        "{text}"
    );
    let (s, body) = get(&server, "/nowhere", None).await;
    assert_eq!((s, body["error"]["code"].as_str()), (404, Some("no_route")));
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn lookup_chain_in_and_out_of_scope() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = gpkg_server(&dir).await;
    let ((lon, lat), grid) = point_in_411(&server);
    let city = common::token("410600", &[Role::Viewer]);
    let own = common::token("410611", &[Role::Viewer]);
    let other = common::token("410621", &[Role::Viewer]);

    let (s, body) = get(
        &server,
        &format!("/api/lookup?lon={lon}&lat={lat}"),
        Some(&own),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["grid"], grid.as_str());
    let chain = body["chain"].as_array().expect("chain");
    let levels: Vec<&str> = chain.iter().filter_map(|l| l["level"].as_str()).collect();
    let tail: Vec<&str> = levels.iter().rev().take(5).rev().copied().collect();
    assert_eq!(
        tail,
        ["grid", "community", "street", "district", "city"],
        "{body}"
    );
    assert_eq!(chain.last().expect("city")["code"], "410600");
    assert_eq!(chain.last().expect("city")["name"], "鹤壁市");
    for pair in chain.windows(2) {
        let child = pair[0]["code"].as_str().expect("code");
        let parent = pair[1]["code"].as_str().expect("code");
        assert!(
            gridmap::model::scope_contains(parent, child),
            "{parent} > {child}"
        );
    }

    let (s, _) = get(
        &server,
        &format!("/api/lookup?lon={lon}&lat={lat}"),
        Some(&city),
    )
    .await;
    assert_eq!(s, 200);
    let (s, body) = get(
        &server,
        &format!("/api/lookup?lon={lon}&lat={lat}"),
        Some(&other),
    )
    .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (403, Some("out_of_scope"))
    );
    let (s, body) = get(&server, &format!("/api/lookup?lon={lon}&lat={lat}"), None).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );

    // Outside the city (Beijing): accepted, nothing found.
    let (s, body) = get(&server, "/api/lookup?lon=116.4&lat=39.9", Some(&city)).await;
    assert_eq!(s, 200);
    assert_eq!(body["inside"], false);
    assert_eq!(body["chain"].as_array().map(Vec::len), Some(0));

    // Bad input: clear JSON errors.
    let (s, body) = get(&server, "/api/lookup?lon=abc&lat=35.7", Some(&city)).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (400, Some("bad_query")),
        "{body}"
    );
    let (s, body) = get(&server, "/api/lookup?lon=35.7&lat=114.3", Some(&city)).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (400, Some("bad_coordinates")),
        "{body}"
    );
    let (s, body) = get(
        &server,
        "/api/lookup?lon=114.3&lat=35.7&crs=EPSG:9999",
        Some(&city),
    )
    .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (400, Some("bad_crs")),
        "{body}"
    );

    // The same place given in GCJ-02 finds the same grid.
    let (glon, glat) = gridmap::crs::wgs84_to_gcj02(lon, lat);
    let (s, body) = get(
        &server,
        &format!("/api/lookup?lon={glon}&lat={glat}&crs=gcj02"),
        Some(&own),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(body["grid"], grid.as_str());
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn areas_and_children_with_rollups() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = gpkg_server(&dir).await;
    let city = common::token("410600", &[Role::Viewer]);
    let own = common::token("410611", &[Role::Viewer]);

    let (s, feature) = get(&server, "/api/areas/410611", Some(&own)).await;
    assert_eq!(s, 200, "{feature}");
    assert_eq!(feature["type"], "Feature");
    assert_eq!(feature["id"], "410611");
    assert_eq!(feature["properties"]["name"], "淇滨区");
    assert_eq!(feature["properties"]["level"], "district");
    assert_eq!(feature["geometry"]["type"], "MultiPolygon");
    let residents = feature["properties"]["rollup"]["residents"]
        .as_i64()
        .expect("residents");
    assert!(residents > 0);

    let (s, fc) = get(&server, "/api/areas/410611/children", Some(&own)).await;
    assert_eq!(s, 200);
    assert_eq!(fc["type"], "FeatureCollection");
    let children = fc["features"].as_array().expect("features");
    let expected = server.engine.snapshot().children("410611").len();
    assert_eq!(children.len(), expected);
    let base_sum: i64 = children
        .iter()
        .filter(|f| f["properties"]["layer"] == "base")
        .filter_map(|f| f["properties"]["rollup"]["residents"].as_i64())
        .sum();
    assert_eq!(
        base_sum, residents,
        "children's residents add up to the district's"
    );

    let (s, body) = get(&server, "/api/areas/410621", Some(&own)).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (403, Some("out_of_scope"))
    );
    let (s, body) = get(&server, "/api/areas/410600", Some(&own)).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (403, Some("out_of_scope"))
    );
    let (s, body) = get(&server, "/api/areas/410621/children", Some(&own)).await;
    assert_eq!(s, 403, "{body}");
    let (s, body) = get(&server, "/api/areas/410611999", Some(&city)).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (s, city_feature) = get(&server, "/api/areas/410600", Some(&city)).await;
    assert_eq!(s, 200);
    assert_eq!(city_feature["properties"]["name"], "鹤壁市");
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn openapi_matches_routes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = gpkg_server(&dir).await;
    let token = common::token("410600", &[Role::Admin]);
    let (s, doc) = get(&server, "/openapi.json", None).await;
    assert_eq!(s, 200);
    let documented = operations(&doc);
    let routes = gridmap::api::routes();
    let served: BTreeSet<(String, String)> = routes
        .iter()
        .filter(|r| r.documented)
        .map(|r| (r.path.to_string(), r.method.as_str().to_lowercase()))
        .collect();
    let undocumented_routes: Vec<_> = served.difference(&documented).collect();
    assert!(
        undocumented_routes.is_empty(),
        "served but missing from openapi.json: {undocumented_routes:?}"
    );
    let unrouted: Vec<_> = documented.difference(&served).collect();
    assert!(
        unrouted.is_empty(),
        "in openapi.json but not in api::routes(): {unrouted:?}"
    );
    let undocumented: Vec<(&str, &str)> = routes
        .iter()
        .filter(|r| !r.documented)
        .map(|r| (r.path, r.method.as_str()))
        .collect();
    assert_eq!(
        undocumented,
        [
            ("/", "GET"),
            ("/assets/{file}", "GET"),
            ("/tiles/{tileset}/{z}/{x}/{y}", "OPTIONS")
        ],
        "only the wall-map page, its files and the tile CORS preflight are left out of openapi.json"
    );
    let client = reqwest::Client::new();
    for (path, method) in &documented {
        let concrete = path.replace("{code}", "410611").replace("{name}", "dark")
            + if path == "/api/lookup" {
                "?lon=114.3&lat=35.7"
            } else {
                ""
            };
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let resp = client
            .request(method.clone(), format!("{}{concrete}", server.url()))
            .bearer_auth(&token)
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        assert_ne!(
            body["error"]["code"], "no_route",
            "{method} {path} is documented but not routed"
        );
        assert_ne!(status, 405, "{method} {path} is documented but not routed");
        assert!(status < 500, "{method} {path}: {status} {body}");
    }
    server.stop().await.expect("stop");
}

/// The operations of an OpenAPI document, as (path, lower-case method).
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    let paths = doc["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .into_iter()
                .filter(|m| item.get(*m).is_some())
                .map(move |m| (path.clone(), m.to_string()))
        })
        .collect()
}

#[tokio::test]
async fn postgis_mode_follows_edits_from_other_clients() {
    let (url, server) = common::postgis_sample_server().await;
    let token = common::token("410611", &[Role::Viewer]);
    let (s, body) = get(&server, "/ready", None).await;
    assert_eq!(
        (s, body["store"].as_str()),
        (200, Some("postgis")),
        "{body}"
    );
    let (s, before) = get(&server, "/api/areas/410611001", Some(&token)).await;
    assert_eq!(s, 200, "{before}");

    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("psql-like client");
    tokio::spawn(conn);
    client
        .execute(
            "UPDATE area SET name = '金山街道（改）' WHERE code = '410611001'",
            &[],
        )
        .await
        .expect("update from another client");
    let started = Instant::now();
    loop {
        let (_, after) = get(&server, "/api/areas/410611001", Some(&token)).await;
        if after["properties"]["name"] == "金山街道（改）" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "the edit did not reach /api/areas within 1 s: {}",
            after["properties"]["name"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop().await.expect("stop");
}
