//! Helpers of the event tests: servers on both stores with a fixed clock, HTTP calls, points
//! inside grids of a district, event bodies.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use geo::InteriorPoint;
use gridmap::config::StoreLocation;
use gridmap::model::{Layer, Level};
use gridmap::serve::{self, Server};
use serde_json::{json, Value};

use crate::common;

/// The fixed instant test servers start at: after every sample event, so windows from
/// [`window_start`] hold only what a test posted.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2031, 6, 1, 0, 0, 0)
        .single()
        .expect("t0")
}

/// `from=` that selects only events reported in the tests' year.
pub const WINDOW_FROM: &str = "2031-01-01T00:00:00Z";

/// A server on a private copy of the sample GeoPackage, its clock at [`t0`].
pub async fn gpkg_server(dir: &tempfile::TempDir) -> Server {
    let path = common::sample_copy(dir.path());
    let server = serve::start(&common::test_config(StoreLocation::Gpkg(path)))
        .await
        .expect("server starts");
    server.clock.set(t0());
    server
}

/// A server on a fresh PostGIS database holding the sample city, its clock at [`t0`].
pub async fn postgis_server() -> Server {
    let (_, server) = common::postgis_sample_server().await;
    server.clock.set(t0());
    server
}

/// Status, JSON body (or the text as a JSON string) and headers of a request.
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub text: String,
    pub headers: reqwest::header::HeaderMap,
}

async fn send(req: reqwest::RequestBuilder) -> Answer {
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
    Answer {
        status,
        body,
        text,
        headers,
    }
}

/// `GET path` with a token.
pub async fn get(server: &Server, path: &str, token: &str) -> Answer {
    let client = reqwest::Client::new();
    send(
        client
            .get(format!("{}{path}", server.url()))
            .bearer_auth(token),
    )
    .await
}

/// `POST path` with a JSON body and a token.
pub async fn post(server: &Server, path: &str, token: &str, body: &Value) -> Answer {
    let client = reqwest::Client::new();
    send(
        client
            .post(format!("{}{path}", server.url()))
            .bearer_auth(token)
            .json(body),
    )
    .await
}

/// Interior points of `count` different base grids of `district` (cycled when fewer exist),
/// with the grid codes.
pub fn grid_points(server: &Server, district: &str, count: usize) -> Vec<((f64, f64), String)> {
    let snap = server.engine.snapshot();
    let area = snap.area(district).expect("district");
    let grids: Vec<_> = snap
        .areas_in_bbox(geo::BoundingRect::bounding_rect(&area.geometry).expect("bbox"))
        .into_iter()
        .filter(|a| {
            a.layer == Layer::Base && a.level == Level::Grid && a.code.starts_with(district)
        })
        .map(|a| {
            let p = a.geometry.interior_point().expect("interior point");
            let grid = snap.grid_at(p.x(), p.y()).expect("grid at its point");
            ((p.x(), p.y()), grid.code.clone())
        })
        .collect();
    assert!(!grids.is_empty(), "no grid in {district}");
    grids.iter().cycle().take(count).cloned().collect()
}

/// An event body at (lon, lat) in WGS84.
pub fn event(external_id: &str, (lon, lat): (f64, f64)) -> Value {
    json!({
        "external_id": external_id,
        "source": "app",
        "category": "0101",
        "title": "道路破损",
        "content": "路面坑洼",
        "reporter_name": "张三",
        "reporter_phone": "13812341234",
        "address": "淇滨大道 1 号",
        "lon": lon,
        "lat": lat,
        "reported_at": "2031-05-31T12:00:00Z",
    })
}

/// Posts a batch and returns the codes, asserting every event was accepted.
pub async fn ingest(server: &Server, token: &str, events: Vec<Value>) -> Vec<String> {
    let a = post(server, "/api/events", token, &json!({"events": events})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            r["code"]
                .as_str()
                .unwrap_or_else(|| panic!("event rejected: {r}"))
                .to_string()
        })
        .collect()
}

/// Moves an event with one action; panics unless it answers 200.
pub async fn act(server: &Server, token: &str, code: &str, body: Value) -> Value {
    let a = post(
        server,
        &format!("/api/events/{code}/transitions"),
        token,
        &body,
    )
    .await;
    assert_eq!(a.status, 200, "{code} {body}: {}", a.body);
    a.body
}

/// Every code of a listing, newest first, following the cursor pages of `limit` events.
pub async fn all_pages(server: &Server, token: &str, query: &str, limit: usize) -> Vec<String> {
    let mut codes = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10_000 {
        let mut path = format!("/api/events?{query}&limit={limit}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = get(server, &path, token).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        let features = page.body["features"].as_array().expect("features");
        assert!(features.len() <= limit);
        codes.extend(
            features
                .iter()
                .map(|f| f["id"].as_str().expect("id").to_string()),
        );
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return codes,
        }
    }
    panic!("more than 10 000 pages");
}
