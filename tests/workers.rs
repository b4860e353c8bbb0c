//! Grid workers over real HTTP, on both stores: fixes in the three CRSs, duplicates and
//! out-of-order fixes, refusals with reasons, online/offline and the out-of-grid alert with a
//! controlled clock (and their survival across a restart), the live stream's scope, and
//! nearest-worker dispatch against a brute-force check.

mod common;

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use futures::StreamExt;
use geo::{Distance, Haversine, InteriorPoint};
use geo_types::Point;
use gridmap::access::Role;
use gridmap::config::StoreLocation;
use gridmap::serve::Server;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// A grid worker of the sample city with a point inside its grid and one about a kilometre
/// outside it.
#[derive(Debug, Clone)]
struct Patrol {
    code: String,
    home: String,
    inside: Point<f64>,
    outside: Point<f64>,
}

/// The grid workers of the sample city whose home grid starts with `prefix`.
fn patrols(server: &Server, prefix: &str) -> Vec<Patrol> {
    let snapshot = server.engine.snapshot();
    let board = server.engine.workers();
    board
        .views(|v| v.worker.home_code.starts_with(prefix) && v.worker.home_code.len() == 15)
        .into_iter()
        .filter_map(|v| {
            let area = snapshot.area(&v.worker.home_code)?;
            let inside = area.geometry.interior_point()?;
            let east = geo::BoundingRect::bounding_rect(&area.geometry)?.max().x;
            Some(Patrol {
                code: v.worker.code.clone(),
                home: v.worker.home_code.clone(),
                inside,
                outside: Point::new(east + 0.012, inside.y()),
            })
        })
        .collect()
}

/// A server on a private copy of the sample GeoPackage (the folder goes with the guard).
async fn gpkg_server() -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = common::sample_copy(dir.path());
    let server = gridmap::serve::start(&common::test_config(StoreLocation::Gpkg(path)))
        .await
        .expect("server on the GeoPackage");
    (server, dir)
}

/// The service clock stopped at a whole second of now; fixes are dated from it.
fn stop_clock(server: &Server) -> DateTime<Utc> {
    let t0 = Utc::now().trunc_subsecs(0);
    server.clock.set(t0);
    t0
}

fn admin() -> String {
    common::token("410600", &[Role::Admin])
}

fn fix(worker: &str, at: DateTime<Utc>, p: Point<f64>) -> Value {
    json!({"worker": worker, "at": at.to_rfc3339(), "lon": p.x(), "lat": p.y(), "accuracy": 5.0})
}

async fn post_fixes(server: &Server, token: &str, fixes: Vec<Value>) -> (u16, Value) {
    post_body(server, token, json!({ "fixes": fixes })).await
}

async fn post_body(server: &Server, token: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/api/fixes", server.url()))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("post fixes");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON answer"))
}

fn statuses(answer: &Value) -> Vec<String> {
    answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            let code = r["error"]["code"].as_str().unwrap_or("");
            format!(
                "{}{}{code}",
                r["status"].as_str().expect("status"),
                if code.is_empty() { "" } else { ":" }
            )
        })
        .collect()
}

/// The worker feature `GET /api/workers` answers for `code`.
async fn worker_feature(server: &Server, code: &str) -> Value {
    let (status, answer) =
        common::get_json(&format!("{}/api/workers", server.url()), &admin()).await;
    assert_eq!(status, 200, "{answer}");
    answer["features"]
        .as_array()
        .expect("features")
        .iter()
        .find(|f| f["id"] == code)
        .cloned()
        .unwrap_or_else(|| panic!("worker {code} is not listed"))
}

fn position(feature: &Value) -> Point<f64> {
    let c = &feature["geometry"]["coordinates"];
    Point::new(c[0].as_f64().expect("lon"), c[1].as_f64().expect("lat"))
}

/// Waits (the board ticks every second) until `check` holds for the worker's feature.
async fn until_worker(
    server: &Server,
    code: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    for _ in 0..50 {
        let feature = worker_feature(server, code).await;
        if check(&feature) {
            return feature;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    panic!(
        "worker {code} never became {what}: {}",
        worker_feature(server, code).await
    );
}

async fn on_both_stores<F, Fut>(test: F)
where
    F: Fn(Server) -> Fut,
    Fut: std::future::Future<Output = Server>,
{
    let (server, _dir) = gpkg_server().await;
    test(server).await.stop().await.expect("stop");
    let (_url, server) = common::postgis_sample_server().await;
    test(server).await.stop().await.expect("stop");
}

#[tokio::test]
async fn gcj02_and_bd09_fixes_land_within_a_metre_of_the_wgs84_truth() {
    on_both_stores(|server| async move {
        let t0 = stop_clock(&server);
        let crews = patrols(&server, "4106");
        for (crew, crs) in crews.iter().zip(["wgs84", "gcj02", "bd09"]) {
            let p = crew.inside;
            let (x, y) = match crs {
                "gcj02" => gridmap::crs::gcj02::wgs84_to_gcj02(p.x(), p.y()),
                "bd09" => gridmap::crs::gcj02::wgs84_to_bd09(p.x(), p.y()),
                _ => (p.x(), p.y()),
            };
            let posted =
                json!({"worker": crew.code, "at": t0.to_rfc3339(), "lon": x, "lat": y, "crs": crs});
            let (status, answer) = post_fixes(&server, &admin(), vec![posted]).await;
            assert_eq!(
                (status, statuses(&answer)),
                (200, vec!["stored".to_string()]),
                "{answer}"
            );
            let feature = worker_feature(&server, &crew.code).await;
            let metres = Haversine.distance(position(&feature), p);
            assert!(metres < 1.0, "{crs}: {metres} m from the truth");
            // The fix moved the offset by hundreds of metres: it was not stored as given.
            assert!(Haversine.distance(Point::new(x, y), p) > 100.0 || crs == "wgs84");
            assert_eq!(feature["properties"]["grid"], crew.home.as_str());
            assert_eq!(feature["properties"]["status"], "online");
            assert_eq!(feature["properties"]["inside_home"], true);
        }
        server
    })
    .await;
}

#[tokio::test]
async fn duplicates_are_ignored_and_late_fixes_do_not_move_a_worker_back() {
    on_both_stores(|server| async move {
        let t0 = stop_clock(&server);
        let crew = patrols(&server, "4106").remove(0);
        let near = Point::new(crew.inside.x() + 0.0002, crew.inside.y());
        let first = vec![
            fix(&crew.code, t0 - Duration::seconds(60), crew.inside),
            fix(&crew.code, t0, near),
        ];
        let before = server.store.counts().await.expect("counts").worker_fixes;
        let (_, answer) = post_fixes(&server, &admin(), first.clone()).await;
        assert_eq!(statuses(&answer), ["stored", "stored"]);
        let (_, again) = post_fixes(&server, &admin(), first).await;
        assert_eq!(statuses(&again), ["duplicate", "duplicate"]);
        assert_eq!(
            (again["stored"].clone(), again["duplicates"].clone()),
            (json!(0), json!(2))
        );
        let late = vec![fix(&crew.code, t0 - Duration::seconds(30), crew.inside)];
        let (_, answer) = post_fixes(&server, &admin(), late).await;
        assert_eq!(
            statuses(&answer),
            ["stored"],
            "a late fix is kept for the track"
        );
        let feature = worker_feature(&server, &crew.code).await;
        assert_eq!(feature["properties"]["at"], json!(t0));
        assert!(Haversine.distance(position(&feature), near) < 0.01);
        let after = server.store.counts().await.expect("counts").worker_fixes;
        assert_eq!(after - before, 3);
        server
    })
    .await;
}

#[tokio::test]
async fn bad_fixes_are_refused_with_a_reason_and_the_rest_are_stored() {
    on_both_stores(|server| async move {
        let t0 = stop_clock(&server);
        let crews = patrols(&server, "4106");
        let (a, b) = (&crews[0], crews.iter().find(|c| c.home[..9] != crews[0].home[..9]).expect("another street"));
        let street_token = common::token(&a.home[..9], &[Role::Device]);
        let jump = Point::new(a.inside.x() + 0.5, a.inside.y());
        let posted = vec![
            fix(&a.code, t0, a.inside),
            fix(&a.code, t0 + Duration::seconds(10), jump),
            fix(&a.code, t0 + Duration::minutes(5), a.inside),
            fix(&a.code, t0 - Duration::seconds(5), Point::new(2.35, 48.85)),
            json!({"worker": a.code, "at": "yesterday", "lon": 114.3, "lat": 35.7}),
            json!({"worker": "W-nobody", "at": t0.to_rfc3339(), "lon": 114.3, "lat": 35.7}),
            json!({"device": "no-such-device", "at": t0.to_rfc3339(), "lon": 114.3, "lat": 35.7}),
            fix(&b.code, t0, b.inside),
            json!({"worker": a.code, "at": t0.to_rfc3339(), "lon": 114.3, "lat": 35.7, "crs": "EPSG:4547"}),
            json!({"worker": a.code, "at": t0.to_rfc3339(), "lon": 114.3, "lat": 35.7, "heading": 400}),
            json!({"worker": a.code, "at": t0.to_rfc3339(), "lon": "east"}),
            json!({"worker": a.code, "lon": 114.3, "lat": 35.7}),
        ];
        let (status, answer) = post_fixes(&server, &street_token, posted).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            statuses(&answer),
            [
                "stored",
                "refused:impossible_speed",
                "refused:future_time",
                "refused:outside_china",
                "refused:bad_time",
                "refused:unknown_worker",
                "refused:unknown_worker",
                "refused:out_of_scope",
                "refused:bad_crs",
                "refused:bad_value",
                "refused:bad_fix",
                "refused:bad_time",
            ]
        );
        assert_eq!((answer["stored"].clone(), answer["refused"].clone()), (json!(1), json!(11)));
        let message = answer["results"][1]["error"]["message"].as_str().expect("message");
        assert!(message.contains("m/s"), "{message}");
        // Whole-body errors.
        let (status, answer) = post_fixes(&server, &street_token, vec![]).await;
        assert_eq!((status, answer["error"]["code"].clone()), (400, json!("empty_batch")));
        for body in [
            json!({ "fixes": 3 }),
            json!([fix(&a.code, t0, a.inside)]),
            json!({ "fixes": [fix(&a.code, t0, a.inside)], "extra": 1 }),
        ] {
            let (status, answer) = post_body(&server, &street_token, body.clone()).await;
            assert_eq!((status, answer["error"]["code"].clone()), (400, json!("bad_json")), "{body}");
        }
        let viewer = common::token("410600", &[Role::Viewer]);
        let (status, answer) = post_fixes(&server, &viewer, vec![fix(&a.code, t0, a.inside)]).await;
        assert_eq!((status, answer["error"]["code"].clone()), (403, json!("forbidden_role")));
        server
    })
    .await;
}

#[tokio::test]
async fn status_follows_the_clock_and_an_out_of_grid_alert_is_raised_stored_and_cleared() {
    on_both_stores(|server| async move {
        let t0 = stop_clock(&server);
        let crew = patrols(&server, "4106").remove(0);
        post_fixes(&server, &admin(), vec![fix(&crew.code, t0, crew.inside)]).await;
        until_worker(&server, &crew.code, "online", |f| {
            f["properties"]["status"] == "online"
        })
        .await;
        server.clock.set(t0 + Duration::minutes(10));
        until_worker(&server, &crew.code, "offline", |f| {
            f["properties"]["status"] == "offline"
        })
        .await;
        // Out of the grid: about a kilometre east, for six minutes.
        let t1 = t0 + Duration::minutes(20);
        server.clock.set(t1);
        let (_, answer) =
            post_fixes(&server, &admin(), vec![fix(&crew.code, t1, crew.outside)]).await;
        assert_eq!(statuses(&answer), ["stored"]);
        let outside = until_worker(&server, &crew.code, "online outside", |f| {
            f["properties"]["status"] == "online"
        })
        .await;
        assert_eq!(outside["properties"]["inside_home"], false);
        assert!(
            outside["properties"]["outside_m"]
                .as_f64()
                .expect("outside_m")
                > 500.0
        );
        assert_eq!(
            outside["properties"]["alert"],
            Value::Null,
            "not before the dwell time"
        );
        server.clock.set(t1 + Duration::minutes(5));
        let alerted = until_worker(&server, &crew.code, "alerted", |f| {
            !f["properties"]["alert"].is_null()
        })
        .await;
        let alert = &alerted["properties"]["alert"];
        assert_eq!(alert["raised_at"], json!(t1 + Duration::minutes(5)));
        assert_eq!(alert["kind"], "out_of_grid");
        let alerts_url = format!("{}/api/workers/alerts?open=true", server.url());
        let (status, listed) = common::get_json(&alerts_url, &admin()).await;
        assert_eq!(status, 200, "{listed}");
        assert!(
            listed["alerts"]
                .as_array()
                .expect("alerts")
                .iter()
                .any(|a| a["id"] == alert["id"]),
            "{listed}"
        );
        // Another street's jurisdiction does not see it.
        let other = patrols(&server, "4106")
            .into_iter()
            .find(|c| c.home[..9] != crew.home[..9])
            .expect("another street");
        let (_, hidden) = common::get_json(
            &alerts_url,
            &common::token(&other.home[..9], &[Role::Viewer]),
        )
        .await;
        assert!(hidden["alerts"]
            .as_array()
            .expect("alerts")
            .iter()
            .all(|a| a["id"] != alert["id"]));
        // Back inside: cleared, and stored as cleared.
        let t2 = t1 + Duration::minutes(7);
        server.clock.set(t2);
        post_fixes(&server, &admin(), vec![fix(&crew.code, t2, crew.inside)]).await;
        let back = until_worker(&server, &crew.code, "cleared", |f| {
            f["properties"]["alert"].is_null()
        })
        .await;
        assert_eq!(back["properties"]["inside_home"], true);
        let (_, listed) =
            common::get_json(&format!("{}/api/workers/alerts", server.url()), &admin()).await;
        let stored = listed["alerts"]
            .as_array()
            .expect("alerts")
            .iter()
            .find(|a| a["id"] == alert["id"])
            .cloned()
            .expect("stored alert");
        assert_eq!(stored["cleared_at"], json!(t2));
        server
    })
    .await;
}

#[tokio::test]
async fn an_open_alert_and_the_latest_positions_survive_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = common::sample_copy(dir.path());
    let config = common::test_config(StoreLocation::Gpkg(path));
    let server = gridmap::serve::start(&config).await.expect("server");
    let t0 = stop_clock(&server);
    let crew = patrols(&server, "4106").remove(0);
    let outside = vec![
        fix(&crew.code, t0 - Duration::minutes(6), crew.outside),
        fix(&crew.code, t0, crew.outside),
    ];
    post_fixes(&server, &admin(), outside).await;
    let alerted = until_worker(&server, &crew.code, "alerted", |f| {
        !f["properties"]["alert"].is_null()
    })
    .await;
    server.stop().await.expect("stop");
    let server = gridmap::serve::start(&config)
        .await
        .expect("restarted server");
    server.clock.set(t0);
    let restored = worker_feature(&server, &crew.code).await;
    assert_eq!(
        restored["properties"]["alert"],
        alerted["properties"]["alert"]
    );
    assert!(Haversine.distance(position(&restored), crew.outside) < 0.01);
    server.stop().await.expect("stop");
}

/// Reads text messages from a live socket until `done` says so or the time is up.
async fn read_until<S>(
    socket: &mut S,
    seconds: u64,
    mut done: impl FnMut(&Value) -> bool,
) -> Vec<Value>
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(seconds);
    while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(deadline, socket.next()).await {
        if let Message::Text(text) = frame {
            let message: Value = serde_json::from_str(text.as_str()).expect("JSON message");
            let stop = done(&message);
            got.push(message);
            if stop {
                break;
            }
        }
    }
    got
}

fn live_url(server: &Server, token: &str, query: &str) -> String {
    format!("ws://{}/api/live?token={token}&{query}", server.addr)
}

/// The workers whose fixes arrived in `messages`.
fn fix_workers(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .filter(|m| m["type"] == "fix")
        .map(|m| m["worker"]["id"].as_str().expect("id").to_string())
        .collect()
}

#[tokio::test]
async fn a_street_scoped_subscriber_never_receives_another_streets_workers() {
    on_both_stores(|server| async move {
        let t0 = stop_clock(&server);
        let crews = patrols(&server, "4106");
        let mine = crews[0].clone();
        let street = &mine.home[..9];
        let others: Vec<Patrol> = crews
            .iter()
            .filter(|c| &c.home[..9] != street)
            .take(5)
            .cloned()
            .collect();
        let street_token = common::token(street, &[Role::Viewer]);
        let (mut scoped, _) =
            tokio_tungstenite::connect_async(live_url(&server, &street_token, "snapshot=true"))
                .await
                .expect("connect the street's client");
        let (mut city, _) =
            tokio_tungstenite::connect_async(live_url(&server, &admin(), "kinds=fixes"))
                .await
                .expect("connect the city's client");
        let greeting = read_until(&mut scoped, 5, |m| m["type"] == "snapshot").await;
        assert_eq!(greeting[0]["type"], "subscribed");
        let snapshot = greeting.last().expect("snapshot");
        let listed = snapshot["workers"]["features"]
            .as_array()
            .expect("features");
        assert!(!listed.is_empty());
        assert!(listed.iter().all(|f| f["properties"]["home_code"]
            .as_str()
            .expect("home")
            .starts_with(street)));
        read_until(&mut city, 5, |m| m["type"] == "subscribed").await;
        let mut posted = vec![fix(&mine.code, t0, mine.inside)];
        posted.extend(others.iter().map(|c| fix(&c.code, t0, c.inside)));
        post_fixes(&server, &admin(), posted).await;
        // Everything posted reached the city's client: the street's would have had time too.
        let city_got = read_until(&mut city, 10, |_| false).await;
        let city_workers = fix_workers(&city_got);
        assert!(
            city_workers.contains(&mine.code)
                && others.iter().all(|o| city_workers.contains(&o.code)),
            "{city_workers:?}"
        );
        let scoped_got = read_until(&mut scoped, 2, |_| false).await;
        assert_eq!(fix_workers(&scoped_got), vec![mine.code.clone()]);
        for message in &scoped_got {
            let home = message["worker"]["properties"]["home_code"]
                .as_str()
                .unwrap_or(street);
            assert!(home.starts_with(street), "{message}");
        }
        // A subscription outside the jurisdiction is refused on the socket.
        let (mut sink, mut stream) = scoped.split();
        futures::SinkExt::send(
            &mut sink,
            Message::Text(
                json!({"type": "subscribe", "area": others[0].home})
                    .to_string()
                    .into(),
            ),
        )
        .await
        .expect("send");
        let refused = read_until(&mut stream, 5, |m| m["type"] == "error").await;
        assert_eq!(refused.last().expect("error")["code"], "out_of_scope");
        // Without a WebSocket handshake the route says what it is.
        let plain = reqwest::Client::new()
            .get(format!("{}/api/live", server.url()))
            .bearer_auth(admin())
            .send()
            .await
            .expect("plain GET");
        assert_eq!(plain.status().as_u16(), 426);
        server
    })
    .await;
}

#[tokio::test]
async fn nearest_workers_equal_a_brute_force_check() {
    on_both_stores(|server| async move {
        let t0 = stop_clock(&server);
        let crews = patrols(&server, "4106");
        let posted: Vec<Value> = crews.iter().map(|c| fix(&c.code, t0, c.inside)).collect();
        let (_, answer) = post_fixes(&server, &admin(), posted).await;
        assert_eq!(answer["stored"], json!(crews.len()));
        let (_, all) = common::get_json(
            &format!("{}/api/workers?status=online", server.url()),
            &admin(),
        )
        .await;
        let online: Vec<(String, Point<f64>)> = all["features"]
            .as_array()
            .expect("features")
            .iter()
            .map(|f| (f["id"].as_str().expect("id").to_string(), position(f)))
            .collect();
        assert!(online.len() >= crews.len());
        for probe in crews.iter().step_by(crews.len() / 5 + 1).map(|c| c.outside) {
            let mut brute: Vec<(f64, &str)> = online
                .iter()
                .map(|(code, p)| (Haversine.distance(probe, *p), code.as_str()))
                .collect();
            brute.sort_by(|a, b| a.0.total_cmp(&b.0));
            let url = format!(
                "{}/api/workers/nearest?lon={}&lat={}&k=7",
                server.url(),
                probe.x(),
                probe.y()
            );
            let (status, nearest) = common::get_json(&url, &admin()).await;
            assert_eq!(status, 200, "{nearest}");
            let found: Vec<(f64, String)> = nearest["features"]
                .as_array()
                .expect("features")
                .iter()
                .map(|f| {
                    (
                        f["properties"]["distance_m"].as_f64().expect("distance"),
                        f["id"].as_str().expect("id").to_string(),
                    )
                })
                .collect();
            assert_eq!(found.len(), 7);
            for ((d, code), (expected, expected_code)) in found.iter().zip(&brute) {
                assert_eq!(code, expected_code);
                assert!((d - expected).abs() < 0.1, "{code}: {d} vs {expected}");
            }
        }
        // Scope: a street's dispatcher gets only its own street's workers.
        let street = &crews[0].home[..9];
        let url = format!(
            "{}/api/workers/nearest?lon={}&lat={}&k=20",
            server.url(),
            crews[0].inside.x(),
            crews[0].inside.y()
        );
        let (_, scoped) = common::get_json(&url, &common::token(street, &[Role::Dispatcher])).await;
        let homes: Vec<&str> = scoped["features"]
            .as_array()
            .expect("features")
            .iter()
            .map(|f| f["properties"]["home_code"].as_str().expect("home"))
            .collect();
        assert!(
            !homes.is_empty() && homes.iter().all(|h| h.starts_with(street)),
            "{homes:?}"
        );
        let (status, bad) = common::get_json(
            &format!("{}/api/workers/nearest?lon=2.3&lat=48.8", server.url()),
            &admin(),
        )
        .await;
        assert_eq!(
            (status, bad["error"]["code"].clone()),
            (400, json!("bad_position"))
        );
        server
    })
    .await;
}

#[tokio::test]
async fn patrol_coverage_counts_the_buildings_near_a_grids_own_tracks() {
    on_both_stores(|server| async move {
        let t0 = stop_clock(&server);
        let crew = patrols(&server, "4106").remove(0);
        let homes: Vec<Point<f64>> = server
            .engine
            .snapshot()
            .buildings_in_bbox(
                geo::BoundingRect::bounding_rect(
                    &server
                        .engine
                        .snapshot()
                        .area(&crew.home)
                        .expect("grid")
                        .geometry,
                )
                .expect("box"),
            )
            .into_iter()
            .filter(|b| b.grid_code.as_deref() == Some(crew.home.as_str()))
            .filter_map(|b| b.geometry.interior_point())
            .collect();
        assert!(homes.len() >= 3, "the grid has buildings");
        // A walk from one building to the next, a fix every two minutes.
        let walk: Vec<Value> = homes
            .iter()
            .take(3)
            .enumerate()
            .map(|(i, p)| fix(&crew.code, t0 - Duration::minutes(10 - 2 * i as i64), *p))
            .collect();
        let (_, answer) = post_fixes(&server, &admin(), walk).await;
        assert_eq!(answer["stored"], json!(3), "{answer}");
        let street = &crew.home[..9];
        let window = format!(
            "from={}&to={}",
            (t0 - Duration::hours(1)).to_rfc3339().replace('+', "%2B"),
            (t0 + Duration::seconds(1)).to_rfc3339().replace('+', "%2B")
        );
        let url = |distance: f64| {
            format!(
                "{}/api/analysis/patrol-coverage?area={street}&{window}&distance={distance}",
                server.url()
            )
        };
        let (status, near) = common::get_json(&url(1.0), &admin()).await;
        assert_eq!(status, 200, "{near}");
        let rows = near["grids"].as_array().expect("grids");
        assert!(
            rows.len() > 1
                && rows
                    .iter()
                    .all(|r| r["grid"].as_str().expect("grid").starts_with(street))
        );
        let mine = rows
            .iter()
            .find(|r| r["grid"] == crew.home.as_str())
            .expect("the crew's grid");
        assert_eq!(mine["workers"], json!([crew.code]));
        assert_eq!(mine["fixes"], json!(3));
        let walked: f64 = homes[..3]
            .windows(2)
            .map(|w| Haversine.distance(w[0], w[1]))
            .sum();
        assert!(
            (mine["track_m"].as_f64().expect("track_m") - walked).abs() <= 1.0 + walked * 0.01,
            "{mine} vs {walked}"
        );
        assert!(
            mine["covered_buildings"].as_u64().expect("covered") >= 3,
            "{mine}"
        );
        let others_covered: u64 = rows
            .iter()
            .filter(|r| r["grid"] != crew.home.as_str())
            .map(|r| r["covered_buildings"].as_u64().expect("covered"))
            .sum();
        assert_eq!(others_covered, 0, "only a grid's own workers count for it");
        let (_, far) = common::get_json(&url(1000.0), &admin()).await;
        let mine = far["grids"]
            .as_array()
            .expect("grids")
            .iter()
            .find(|r| r["grid"] == crew.home.as_str())
            .cloned()
            .expect("grid");
        assert_eq!(mine["building_share"], json!(1.0), "{mine}");
        assert!(
            mine["area_share"].as_f64().expect("area_share") > 0.9,
            "{mine}"
        );
        // Bad input and scope.
        let (status, bad) = common::get_json(&url(0.0), &admin()).await;
        assert_eq!(
            (status, bad["error"]["code"].clone()),
            (400, json!("bad_distance"))
        );
        let other = patrols(&server, "4106")
            .into_iter()
            .find(|c| c.home[..9] != *street)
            .expect("another street");
        let (status, _) = common::get_json(
            &url(50.0),
            &common::token(&other.home[..9], &[Role::Analyst]),
        )
        .await;
        assert_eq!(status, 403);
        server
    })
    .await;
}
