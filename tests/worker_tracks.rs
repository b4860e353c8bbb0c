//! `GET /api/workers/{code}/track` over real HTTP on both stores: fixes written through the
//! store's `apply` (in no particular order, with gaps) come back as segments split at the
//! gaps, with distances equal to a haversine computed here, durations, the window's bounds
//! honoured, simplification and GCJ-02/BD-09 output; an unknown worker is a 404, a worker
//! whose home is outside the caller's jurisdiction a 403, bad parameters 400 with their codes.

mod common;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use geo::{Distance, Haversine};
use geo_types::Point;
use gridmap::access::Role;
use gridmap::config::StoreLocation;
use gridmap::model::{Change, Worker, WorkerFix};
use gridmap::serve::{self, Server};
use serde_json::Value;

/// Seconds after the first fix, and the position, of every fix written: a walk of five fixes,
/// 30 minutes without a fix, three more, another 30 minutes, then a lone fix.
const FIXES: [(i64, f64, f64); 9] = [
    (0, 114.3000, 35.7500),
    (60, 114.3005, 35.7502),
    (120, 114.3010, 35.7501),
    (180, 114.3016, 35.7504),
    (240, 114.3020, 35.7510),
    (2040, 114.3100, 35.7600),
    (2100, 114.3104, 35.7603),
    (2160, 114.3109, 35.7601),
    (4000, 114.3200, 35.7700),
];

/// The segments the default gap (10 minutes) makes of [`FIXES`], as index ranges.
const SEGMENTS: [std::ops::Range<usize>; 3] = [0..5, 5..8, 8..9];

async fn gpkg_server(dir: &tempfile::TempDir) -> Server {
    let path = common::sample_copy(dir.path());
    serve::start(&common::test_config(StoreLocation::Gpkg(path)))
        .await
        .expect("server starts")
}

/// A grid worker of the sample city.
fn sample_worker(server: &Server) -> Worker {
    server
        .engine
        .workers()
        .views(|v| v.worker.home_code.len() == 15)
        .first()
        .map(|v| Worker::clone(&v.worker))
        .expect("a grid worker in the sample city")
}

/// Writes [`FIXES`] for `worker` through the store, the first at `t0`, newest first.
async fn write_fixes(server: &Server, worker: &str, t0: DateTime<Utc>) {
    let changes: Vec<Change> = FIXES
        .iter()
        .rev()
        .map(|&(s, lon, lat)| {
            Change::InsertFix(WorkerFix {
                worker_code: worker.into(),
                at: t0 + Duration::seconds(s),
                position: Point::new(lon, lat),
                accuracy_m: Some(5.0),
                speed_mps: None,
                heading_deg: None,
                source_crs: "wgs84".into(),
            })
        })
        .collect();
    server.store.apply(&changes).await.expect("fixes stored");
}

/// Haversine metres along `FIXES[range]`.
fn walked(range: std::ops::Range<usize>) -> f64 {
    FIXES[range]
        .windows(2)
        .map(|w| Haversine.distance(Point::new(w[0].1, w[0].2), Point::new(w[1].1, w[1].2)))
        .sum()
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("{v} is not an RFC 3339 time"))
}

fn number(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))
}

fn features(answer: &Value) -> &Vec<Value> {
    answer["features"].as_array().expect("features")
}

/// Every check, on a server whose store holds the sample city.
async fn check_tracks(server: &Server) {
    let worker = sample_worker(server);
    // A whole second three days ago: inside the fix retention, and away from the sample's
    // patrol fixes, which lie on the day before the city's anchor day.
    let t0 = (server.clock.now() - Duration::days(3)).trunc_subsecs(0);
    write_fixes(server, &worker.code, t0).await;
    let street = &worker.home_code[..9];
    let token = common::token(street, &[Role::Viewer]);
    let base = format!("{}/api/workers/{}/track", server.url(), worker.code);
    let window = |from: DateTime<Utc>, to: DateTime<Utc>| {
        format!(
            "from={}&to={}",
            urlencode(&from.to_rfc3339()),
            urlencode(&to.to_rfc3339())
        )
    };
    let all = window(t0 - Duration::hours(1), t0 + Duration::hours(2));

    // The default gap: three segments, the last a lone fix.
    let (status, answer) = common::get_json(&format!("{base}?{all}"), &token).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["type"], "FeatureCollection");
    assert_eq!(answer["worker"], worker.code.as_str());
    assert_eq!(answer["gap_s"], 600);
    assert_eq!(answer["fixes"], 9);
    let segments = features(&answer);
    assert_eq!(segments.len(), 3, "{answer}");
    for (feature, range) in segments.iter().zip(SEGMENTS) {
        let p = &feature["properties"];
        let (first, last) = (FIXES[range.start].0, FIXES[range.end - 1].0);
        assert_eq!(p["fixes"], range.len());
        assert_eq!(time(&p["from"]), t0 + Duration::seconds(first));
        assert_eq!(time(&p["to"]), t0 + Duration::seconds(last));
        assert_eq!(number(&p["duration_s"]), (last - first) as f64);
        let expected = walked(range.clone());
        assert!(
            (number(&p["distance_m"]) - expected).abs() <= 0.05 + 1e-9,
            "{p} against {expected} m"
        );
        let coordinates: Vec<(f64, f64)> = match feature["geometry"]["type"].as_str() {
            Some("Point") => vec![coordinate(&feature["geometry"]["coordinates"])],
            Some("LineString") => feature["geometry"]["coordinates"]
                .as_array()
                .expect("coordinates")
                .iter()
                .map(coordinate)
                .collect(),
            other => panic!("unexpected geometry {other:?}"),
        };
        let written: Vec<(f64, f64)> = FIXES[range.clone()]
            .iter()
            .map(|&(_, x, y)| (x, y))
            .collect();
        assert_eq!(coordinates, written);
        assert_eq!(feature["geometry"]["type"] == "Point", range.len() == 1);
    }
    let total: f64 = SEGMENTS.into_iter().map(walked).sum();
    assert!((number(&answer["distance_m"]) - total).abs() <= 0.05 + 1e-9);
    assert_eq!(number(&answer["duration_s"]), 240.0 + 120.0);

    // A gap of an hour, in any of its spellings, joins everything into one segment.
    for gap in ["1h", "60m", "3600s", "3600"] {
        let (status, answer) = common::get_json(&format!("{base}?{all}&gap={gap}"), &token).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["gap_s"], 3600);
        assert_eq!(features(&answer).len(), 1, "{gap}");
        assert!((number(&answer["distance_m"]) - walked(0..9)).abs() <= 0.05 + 1e-9);
        assert_eq!(number(&answer["duration_s"]), 4000.0);
    }

    // from is included, to is not.
    let inner = window(t0 + Duration::seconds(60), t0 + Duration::seconds(4000));
    let (status, answer) = common::get_json(&format!("{base}?{inner}"), &token).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["fixes"], 7);
    assert_eq!(features(&answer).len(), 2);
    assert_eq!(
        time(&features(&answer)[0]["properties"]["from"]),
        t0 + Duration::seconds(60)
    );

    // Simplification thins the drawing, keeps the ends, changes no figure.
    let (status, simple) = common::get_json(&format!("{base}?{all}&simplify=1000"), &token).await;
    assert_eq!(status, 200, "{simple}");
    let walk = &features(&simple)[0];
    let drawn = walk["geometry"]["coordinates"].as_array().expect("line");
    assert_eq!(drawn.len(), 2, "{walk}");
    assert_eq!(coordinate(&drawn[0]), (FIXES[0].1, FIXES[0].2));
    assert_eq!(coordinate(&drawn[1]), (FIXES[4].1, FIXES[4].2));
    for key in ["fixes", "distance_m", "duration_s"] {
        assert_eq!(
            simple[key],
            answer_all(&base, &all, &token).await[key],
            "{key}"
        );
    }

    // GCJ-02 and BD-09 answers are the WGS84 positions shifted.
    for (crs, shift) in [
        (
            "gcj02",
            gridmap::crs::wgs84_to_gcj02 as fn(f64, f64) -> (f64, f64),
        ),
        ("bd09", gridmap::crs::wgs84_to_bd09),
    ] {
        let (status, shifted) = common::get_json(&format!("{base}?{all}&crs={crs}"), &token).await;
        assert_eq!(status, 200, "{shifted}");
        let first = coordinate(&features(&shifted)[0]["geometry"]["coordinates"][0]);
        assert_eq!(first, shift(FIXES[0].1, FIXES[0].2), "{crs}");
        assert_eq!(
            shifted["distance_m"],
            answer_all(&base, &all, &token).await["distance_m"]
        );
    }

    // Refusals.
    let other_district = if worker.home_code.starts_with("410611") {
        "410621"
    } else {
        "410611"
    };
    let outsider = common::token(other_district, &[Role::Admin]);
    let (status, answer) = common::get_json(&format!("{base}?{all}"), &outsider).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (403, Some("out_of_scope")),
        "{answer}"
    );
    let unknown = format!("{}/api/workers/W-nobody/track?{all}", server.url());
    let (status, answer) = common::get_json(&unknown, &token).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{answer}"
    );
    let month = window(t0 - Duration::days(31), t0 + Duration::seconds(1));
    for (query, code) in [
        ("to=2026-12-01".to_string(), "bad_time"),
        ("from=2026-12-01".to_string(), "bad_time"),
        ("from=yesterday&to=2026-12-01".to_string(), "bad_time"),
        ("from=2026-12-02&to=2026-12-01".to_string(), "bad_time"),
        (month, "window_too_long"),
        (format!("{all}&gap=10min"), "bad_gap"),
        (format!("{all}&gap=0"), "bad_gap"),
        (format!("{all}&simplify=-1"), "bad_simplify"),
        (format!("{all}&crs=EPSG:3857"), "bad_crs"),
        (format!("{all}&limit=5"), "bad_query"),
    ] {
        let (status, answer) = common::get_json(&format!("{base}?{query}"), &token).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some(code)),
            "{query}: {answer}"
        );
    }
    let anonymous = reqwest::get(format!("{base}?{all}"))
        .await
        .expect("request");
    assert_eq!(anonymous.status().as_u16(), 401);
}

/// The answer for the whole window with the default rules.
async fn answer_all(base: &str, all: &str, token: &str) -> Value {
    common::get_json(&format!("{base}?{all}"), token).await.1
}

fn coordinate(v: &Value) -> (f64, f64) {
    (number(&v[0]), number(&v[1]))
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn tracks_from_the_geopackage_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = gpkg_server(&dir).await;
    check_tracks(&server).await;
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn tracks_from_the_postgis_store() {
    let (_url, server) = common::postgis_sample_server().await;
    check_tracks(&server).await;
    server.stop().await.expect("stop");
}
