//! Event ingest, listings and details over real HTTP on both stores: idempotency under
//! concurrent retries, GCJ-02/BD-09 input, scope, per-event validation codes, every filter,
//! cursor pages without gaps or duplicates, CSV.

mod common;
mod events_support;

use std::collections::BTreeSet;

use gridmap::access::Role;
use gridmap::crs::gcj02;
use gridmap::serve::Server;
use serde_json::{json, Value};

use events_support::*;

fn set(codes: &[String]) -> BTreeSet<String> {
    codes.iter().cloned().collect()
}

async fn idempotent_ingest(server: &Server) {
    let device = common::token("410611", &[Role::Device]);
    let before = server.store.counts().await.expect("counts").events;
    let in_engine = server.engine.snapshot().events().len();
    let batch: Vec<Value> = grid_points(server, "410611", 10)
        .into_iter()
        .enumerate()
        .map(|(i, (p, _))| event(&format!("retry-{i}"), p))
        .collect();
    let body = json!({"events": batch});
    let posts = (0..20).map(|_| post(server, "/api/events", &device, &body));
    let answers = futures::future::join_all(posts).await;
    let mut created = 0;
    let mut code_lists = BTreeSet::new();
    for a in &answers {
        assert_eq!(a.status, 200, "{}", a.body);
        created += a.body["created"].as_u64().expect("created");
        let codes: Vec<String> = a.body["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| r["code"].as_str().expect("code").to_string())
            .collect();
        code_lists.insert(codes);
    }
    assert_eq!(created, 10, "each event created exactly once");
    assert_eq!(code_lists.len(), 1, "every retry answers the same codes");
    let codes = code_lists.into_iter().next().expect("codes");
    assert_eq!(set(&codes).len(), 10);
    assert_eq!(
        server.store.counts().await.expect("counts").events,
        before + 10
    );
    assert!(
        codes.iter().all(|c| c.starts_with("E20310531")),
        "{codes:?}"
    );
    // The engine's event store (event and heatmap tiles) got each once, too.
    assert_eq!(server.engine.snapshot().events().len(), in_engine + 10);
    let listed = all_pages(server, &device, &format!("from={WINDOW_FROM}"), 100).await;
    assert_eq!(set(&listed), set(&codes));
    // A single retried object answers 200 with the stored code, a new one 201.
    let again = post(server, "/api/events", &device, &batch_item(&body, 0)).await;
    assert_eq!(
        (again.status, again.body["created"].clone()),
        (200, json!(false))
    );
    assert_eq!(again.body["code"], codes[0].as_str());
    let mut other = batch_item(&body, 0);
    other["source"] = json!("hotline");
    let new = post(server, "/api/events", &device, &other).await;
    assert_eq!(
        (new.status, new.body["created"].clone()),
        (201, json!(true))
    );
    assert_ne!(new.body["code"], codes[0].as_str());
}

fn batch_item(body: &Value, i: usize) -> Value {
    body["events"][i].clone()
}

#[tokio::test]
async fn ingest_is_idempotent_under_concurrent_retries_gpkg() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = gpkg_server(&dir).await;
    idempotent_ingest(&server).await;
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn ingest_is_idempotent_under_concurrent_retries_postgis() {
    let server = postgis_server().await;
    idempotent_ingest(&server).await;
    server.stop().await.expect("stop");
}

/// Metres between two lon/lat points (equirectangular, fine at this scale).
fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
    let k = 111_320.0;
    let dx = (a.0 - b.0) * k * a.1.to_radians().cos();
    let dy = (a.1 - b.1) * k;
    (dx * dx + dy * dy).sqrt()
}

async fn shifted_input(server: &Server) {
    let admin = common::token("410600", &[Role::Admin]);
    let ((lon, lat), grid) = grid_points(server, "410611", 1).remove(0);
    let gcj = gcj02::wgs84_to_gcj02(lon, lat);
    let bd = gcj02::wgs84_to_bd09(lon, lat);
    assert!(metres(gcj, (lon, lat)) > 100.0, "GCJ-02 is offset in Hebi");
    for (i, (crs, (x, y))) in [("gcj02", gcj), ("bd09", bd), ("EPSG:4490", (lon, lat))]
        .into_iter()
        .enumerate()
    {
        let mut e = event(&format!("crs-{i}"), (x, y));
        e["crs"] = json!(crs);
        let code = ingest(server, &admin, vec![e]).await.remove(0);
        let d = get(server, &format!("/api/events/{code}"), &admin)
            .await
            .body;
        let stored = (
            d["place"]["lon"].as_f64().expect("lon"),
            d["place"]["lat"].as_f64().expect("lat"),
        );
        assert!(
            metres(stored, (lon, lat)) < 1.0,
            "{crs}: {stored:?} vs {lon},{lat}"
        );
        assert_eq!(d["place"]["area_code"], grid.as_str());
        assert_eq!(d["place"]["outside_grid"], false);
        let chain: Vec<&str> = d["place"]["chain"]
            .as_array()
            .expect("chain")
            .iter()
            .map(|l| l["code"].as_str().expect("code"))
            .collect();
        assert_eq!(chain.first().copied(), Some(grid.as_str()));
        assert_eq!(chain.last().copied(), Some("410600"));
        assert!(chain.contains(&"410611"));
    }
}

#[tokio::test]
async fn gcj02_and_bd09_input_lands_within_a_metre_gpkg() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = gpkg_server(&dir).await;
    shifted_input(&server).await;
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn gcj02_and_bd09_input_lands_within_a_metre_postgis() {
    let server = postgis_server().await;
    shifted_input(&server).await;
    server.stop().await.expect("stop");
}

async fn scope(server: &Server) {
    let admin = common::token("410600", &[Role::Admin]);
    let qibin = common::token("410611", &[Role::Dispatcher]);
    let viewer = common::token("410611", &[Role::Viewer]);
    let (xun, _) = grid_points(server, "410621", 1).remove(0);
    let (own, _) = grid_points(server, "410611", 1).remove(0);
    let r = post(server, "/api/events", &qibin, &event("s-1", xun)).await;
    assert_eq!(
        (r.status, &r.body["error"]["code"]),
        (403, &json!("out_of_scope"))
    );
    let batch = json!({"events": [event("s-1", xun), event("s-2", own)]});
    let r = post(server, "/api/events", &qibin, &batch).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["results"][0]["error"]["code"], "out_of_scope");
    assert_eq!(r.body["results"][1]["created"], true);
    let own_code = r.body["results"][1]["code"]
        .as_str()
        .expect("code")
        .to_string();
    let r = post(server, "/api/events", &viewer, &event("s-3", own)).await;
    assert_eq!(
        (r.status, &r.body["error"]["code"]),
        (403, &json!("forbidden_role"))
    );
    let foreign = ingest(server, &admin, vec![event("s-1", xun)])
        .await
        .remove(0);
    let r = get(server, &format!("/api/events/{foreign}"), &qibin).await;
    assert_eq!(
        (r.status, &r.body["error"]["code"]),
        (403, &json!("out_of_scope"))
    );
    let r = post(
        server,
        &format!("/api/events/{foreign}/transitions"),
        &qibin,
        &json!({"action": "register"}),
    )
    .await;
    assert_eq!(
        (r.status, &r.body["error"]["code"]),
        (403, &json!("out_of_scope"))
    );
    let mine = all_pages(server, &qibin, &format!("from={WINDOW_FROM}"), 50).await;
    assert_eq!(mine, vec![own_code.clone()]);
    let everything = all_pages(server, &admin, &format!("from={WINDOW_FROM}"), 50).await;
    assert_eq!(set(&everything), set(&[own_code.clone(), foreign]));
    // The reporter's phone: whole for dispatchers, masked for viewers.
    let d = get(server, &format!("/api/events/{own_code}"), &qibin)
        .await
        .body;
    assert_eq!(d["reporter"]["phone"], "13812341234");
    assert_eq!(d["reporter"]["name"], "张三");
    let d = get(server, &format!("/api/events/{own_code}"), &viewer)
        .await
        .body;
    assert_eq!(d["reporter"]["phone"], "138****1234");
    let r = get(server, "/api/events/E20310101000999", &admin).await;
    assert_eq!(
        (r.status, &r.body["error"]["code"]),
        (404, &json!("not_found"))
    );
}

#[tokio::test]
async fn scope_is_checked_on_writes_and_reads_gpkg() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = gpkg_server(&dir).await;
    scope(&server).await;
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn scope_is_checked_on_writes_and_reads_postgis() {
    let server = postgis_server().await;
    scope(&server).await;
    server.stop().await.expect("stop");
}

async fn validation(server: &Server) {
    let admin = common::token("410600", &[Role::Admin]);
    let (p, _) = grid_points(server, "410611", 1).remove(0);
    let good = event("v-good", p);
    let with = |key: &str, value: Value| {
        let mut e = event("v-x", p);
        if value.is_null() {
            e.as_object_mut().expect("object").remove(key);
        } else {
            e[key] = value;
        }
        e
    };
    let cases = [
        (with("external_id", Value::Null), "missing_external_id"),
        (with("source", json!("fax")), "bad_source"),
        (with("category", json!("01-02")), "bad_category"),
        (with("title", json!("  ")), "missing_title"),
        (with("title", json!("长".repeat(201))), "too_long"),
        (with("lon", Value::Null), "missing_location"),
        (with("crs", json!("EPSG:99999")), "bad_crs"),
        (with("lat", json!(95.0)), "bad_coordinates"),
        (
            with("reported_at", json!("2031-06-02T00:00:00Z")),
            "reported_in_future",
        ),
        (
            with("reported_at", json!("1999-12-31T23:59:59Z")),
            "bad_reported_at",
        ),
        (with("lon", json!(80.0)), "outside_area"),
        (with("colour", json!("red")), "invalid_event"),
        (json!("not an object"), "invalid_event"),
    ];
    let mut events: Vec<Value> = cases.iter().map(|(e, _)| e.clone()).collect();
    events.push(good.clone());
    let r = post(
        server,
        "/api/events",
        &admin,
        &json!({"events": events, "all_or_nothing": true}),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["stored"], false);
    assert_eq!(
        r.body["results"][cases.len()]["error"]["code"],
        "not_stored"
    );
    let r = post(server, "/api/events", &admin, &json!({"events": events})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for (i, (_, code)) in cases.iter().enumerate() {
        assert_eq!(r.body["results"][i]["error"]["code"], *code, "case {i}");
        assert_eq!(r.body["results"][i]["index"], i);
    }
    assert_eq!(r.body["results"][cases.len()]["created"], true);
    assert_eq!(
        (r.body["created"].clone(), r.body["failed"].clone()),
        (json!(1), json!(cases.len()))
    );
    let r = post(server, "/api/events", &admin, &cases[1].0).await;
    assert_eq!(
        (r.status, &r.body["error"]["code"]),
        (422, &json!("bad_source"))
    );
    let r = post(server, "/api/events", &admin, &json!({"events": []})).await;
    assert_eq!(
        (r.status, &r.body["error"]["code"]),
        (400, &json!("empty_batch"))
    );
    let many: Vec<Value> = (0..1001).map(|_| good.clone()).collect();
    let r = post(server, "/api/events", &admin, &json!({"events": many})).await;
    assert_eq!(
        (r.status, &r.body["error"]["code"]),
        (400, &json!("too_many_events"))
    );
    for (query, code) in [
        ("status=open", "bad_status"),
        ("bbox=1,2,3", "bad_bbox"),
        ("cursor=zz", "bad_cursor"),
        ("limit=0", "bad_limit"),
        ("format=xml", "bad_format"),
        ("level=province", "bad_level"),
        ("area=41%25", "bad_area"),
    ] {
        let r = get(server, &format!("/api/events?{query}"), &admin).await;
        assert_eq!(
            (r.status, &r.body["error"]["code"]),
            (400, &json!(code)),
            "{query}"
        );
    }
}

#[tokio::test]
async fn validation_errors_have_stable_codes_gpkg() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = gpkg_server(&dir).await;
    validation(&server).await;
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn validation_errors_have_stable_codes_postgis() {
    let server = postgis_server().await;
    validation(&server).await;
    server.stop().await.expect("stop");
}

/// Idempotency keys are scoped by the poster's jurisdiction (the token's scope): two
/// districts may use the same (source, external_id) for two events and neither learns of the
/// other's; the same key with another body is a 409; a true retry (with or without its
/// reported_at) answers 200 with the stored code.
async fn scoped_idempotency(server: &Server) {
    let heshan = common::token("410602", &[Role::Device]);
    let qibin = common::token("410611", &[Role::Device]);
    let (p602, _) = grid_points(server, "410602", 1).remove(0);
    let (p611, _) = grid_points(server, "410611", 1).remove(0);
    let before = server.store.counts().await.expect("counts").events;
    let first = post(server, "/api/events", &qibin, &event("shared-1", p611)).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let qibin_code = first.body["code"].as_str().expect("code").to_string();
    let other = post(server, "/api/events", &heshan, &event("shared-1", p602)).await;
    assert_eq!(other.status, 201, "{}", other.body);
    assert_eq!(other.body["created"], true);
    assert_ne!(other.body["code"], qibin_code.as_str());
    assert_eq!(
        server.store.counts().await.expect("counts").events,
        before + 2,
        "both districts' events are stored"
    );
    let retry = post(server, "/api/events", &qibin, &event("shared-1", p611)).await;
    assert_eq!((retry.status, &retry.body["created"]), (200, &json!(false)));
    assert_eq!(retry.body["code"], qibin_code.as_str());
    let mut untimed = event("shared-1", p611);
    untimed
        .as_object_mut()
        .expect("object")
        .remove("reported_at");
    let retry = post(server, "/api/events", &qibin, &untimed).await;
    assert_eq!(
        (retry.status, &retry.body["code"]),
        (200, &json!(qibin_code))
    );
    let mut changed = event("shared-1", p611);
    changed["title"] = json!("路灯不亮");
    let r = post(server, "/api/events", &qibin, &changed).await;
    assert_eq!(
        (r.status, &r.body["error"]["code"]),
        (409, &json!("idempotency_conflict")),
        "{}",
        r.body
    );
    let message = r.body["error"]["message"].as_str().expect("message");
    assert!(message.contains("title"), "{message}");
    assert!(!message.contains(&qibin_code), "{message}");
    let batch = json!({"events": [changed, event("shared-2", p611)]});
    let r = post(server, "/api/events", &qibin, &batch).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["results"][0]["error"]["code"],
        "idempotency_conflict"
    );
    assert_eq!(r.body["results"][1]["created"], true);
    let admin = common::token("410600", &[Role::Admin]);
    let kept = get(server, &format!("/api/events/{qibin_code}"), &admin).await;
    assert_eq!(
        kept.body["title"], "道路破损",
        "the stored event is untouched"
    );
}

#[tokio::test]
async fn idempotency_keys_are_scoped_by_jurisdiction_gpkg() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = gpkg_server(&dir).await;
    scoped_idempotency(&server).await;
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn idempotency_keys_are_scoped_by_jurisdiction_postgis() {
    let server = postgis_server().await;
    scoped_idempotency(&server).await;
    server.stop().await.expect("stop");
}

/// Every text field has its own limit: at the limit it is stored, one character more is a 422
/// naming the field and the limit (posted events and transitions alike).
async fn text_caps(server: &Server) {
    let admin = common::token("410600", &[Role::Admin]);
    let (p, _) = grid_points(server, "410611", 1).remove(0);
    let refused = |r: &Answer, field: &str, limit: usize| {
        assert_eq!(
            (r.status, &r.body["error"]["code"]),
            (422, &json!("too_long")),
            "{field}: {}",
            r.body
        );
        let message = r.body["error"]["message"].as_str().expect("message");
        assert!(
            message.starts_with(&format!("{field} is limited to {limit} characters")),
            "{message}"
        );
    };
    for (field, limit) in [
        ("external_id", 100),
        ("title", 200),
        ("content", 10_000),
        ("reporter_name", 100),
        ("reporter_phone", 32),
        ("address", 500),
    ] {
        let mut e = event(&format!("cap-{field}"), p);
        e[field] = json!("长".repeat(limit));
        let r = post(server, "/api/events", &admin, &e).await;
        assert_eq!(r.status, 201, "{field} at its limit: {}", r.body);
        let mut over = event(&format!("cap-{field}-over"), p);
        over[field] = json!("长".repeat(limit + 1));
        refused(
            &post(server, "/api/events", &admin, &over).await,
            field,
            limit,
        );
    }
    let code = ingest(server, &admin, vec![event("cap-steps", p)])
        .await
        .remove(0);
    let step = |body: Value| {
        let path = format!("/api/events/{code}/transitions");
        let admin = admin.clone();
        async move { post(server, &path, &admin, &body).await }
    };
    let long = |n: usize| json!("长".repeat(n));
    refused(
        &step(json!({"action": "register", "note": long(2_001)})).await,
        "note",
        2_000,
    );
    refused(
        &step(json!({"action": "register", "department": long(201)})).await,
        "department",
        200,
    );
    for action in ["register", "dispatch", "handle", "feedback", "close"] {
        let body = json!({"action": action, "department": long(200), "note": long(2_000)});
        assert_eq!(step(body).await.status, 200, "{action}");
    }
    refused(
        &step(json!({"action": "evaluate", "score": 5, "comment": long(2_001)})).await,
        "comment",
        2_000,
    );
    let r = step(json!({"action": "evaluate", "score": 5, "comment": long(2_000)})).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn every_text_field_is_capped_gpkg() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = gpkg_server(&dir).await;
    text_caps(&server).await;
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn every_text_field_is_capped_postgis() {
    let server = postgis_server().await;
    text_caps(&server).await;
    server.stop().await.expect("stop");
}

/// One posted event of the filter test and what it was given.
struct Posted {
    code: String,
    category: &'static str,
    source: &'static str,
    district: &'static str,
    lonlat: (f64, f64),
    reported_at: String,
}

async fn filters(server: &Server) {
    let admin = common::token("410600", &[Role::Admin]);
    let mut bodies = Vec::new();
    let mut posted = Vec::new();
    let categories = ["0101", "0102", "0201", "0601"];
    let sources = ["app", "hotline", "wechat"];
    for (d, district) in ["410611", "410621"].into_iter().enumerate() {
        for (i, (p, _)) in grid_points(server, district, 15).into_iter().enumerate() {
            let n = d * 15 + i;
            let mut e = event(&format!("f-{n}"), p);
            let reported_at = format!("2031-05-{:02}T{:02}:00:00Z", 1 + n % 28, n % 24);
            e["category"] = json!(categories[n % 4]);
            e["source"] = json!(sources[n % 3]);
            e["reported_at"] = json!(reported_at);
            bodies.push(e);
            posted.push(Posted {
                code: String::new(),
                category: categories[n % 4],
                source: sources[n % 3],
                district,
                lonlat: p,
                reported_at,
            });
        }
    }
    // Two events at the same instant: the code breaks the tie in the order.
    let codes = ingest(server, &admin, bodies).await;
    for (p, c) in posted.iter_mut().zip(codes) {
        p.code = c;
    }
    // Move some along: 0..5 registered, 0..2 escalated to street.
    for p in &posted[..5] {
        act(server, &admin, &p.code, json!({"action": "register"})).await;
    }
    for p in &posted[..2] {
        act(server, &admin, &p.code, json!({"action": "escalate"})).await;
    }
    let window = format!("from={WINDOW_FROM}");
    let expect = |f: &dyn Fn(&Posted) -> bool| -> BTreeSet<String> {
        posted
            .iter()
            .filter(|p| f(p))
            .map(|p| p.code.clone())
            .collect()
    };
    let check = |query: String, want: BTreeSet<String>| async move {
        let got = all_pages(server, &admin_token(), &query, 1000).await;
        assert_eq!(set(&got), want, "{query}");
        assert_eq!(got.len(), want.len(), "{query}: duplicates");
    };
    check(window.clone(), expect(&|_| true)).await;
    check(
        format!("{window}&area=410621"),
        expect(&|p| p.district == "410621"),
    )
    .await;
    check(
        format!("{window}&category=01"),
        expect(&|p| p.category.starts_with("01")),
    )
    .await;
    check(
        format!("{window}&category=0102,0601"),
        expect(&|p| ["0102", "0601"].contains(&p.category)),
    )
    .await;
    check(
        format!("{window}&source=hotline,wechat"),
        expect(&|p| p.source != "app"),
    )
    .await;
    let registered: Vec<String> = posted[2..5].iter().map(|p| p.code.clone()).collect();
    check(format!("{window}&status=registered"), set(&registered)).await;
    let escalated: Vec<String> = posted[..2].iter().map(|p| p.code.clone()).collect();
    check(format!("{window}&level=street"), set(&escalated)).await;
    check(
        format!("{window}&status=reported&level=community"),
        expect(&|p| !posted[..5].iter().any(|q| q.code == p.code)),
    )
    .await;
    check(
        "from=2031-05-10T00:00:00Z&to=2031-05-20T00:00:00Z".to_string(),
        expect(&|p| {
            p.reported_at.as_str() >= "2031-05-10" && p.reported_at.as_str() < "2031-05-20"
        }),
    )
    .await;
    let (x, y) = posted[7].lonlat;
    let bbox = format!("{},{},{},{}", x - 1e-5, y - 1e-5, x + 1e-5, y + 1e-5);
    check(
        format!("{window}&bbox={bbox}"),
        expect(&|p| (p.lonlat.0 - x).abs() < 1e-5 && (p.lonlat.1 - y).abs() < 1e-5),
    )
    .await;
    // Deadlines run from 2031-05 and the clock is at 2031-06-01: all but the escalated 0601
    // (168 h community, 240 h street) ones reported late in May are overdue.
    let now = "2031-06-01T00:00:00Z";
    let hours = |p: &Posted| -> i64 {
        let street = posted[..2].iter().any(|q| q.code == p.code);
        match (p.category, street) {
            ("0102", false) => 24,
            ("0102", true) => 36,
            ("0601", false) => 168,
            ("0601", true) => 240,
            ("0201", false) => 24,
            ("0201", true) => 48,
            (_, false) => 72,
            (_, true) => 96,
        }
    };
    let overdue = |p: &Posted| -> bool {
        let at = chrono::DateTime::parse_from_rfc3339(&p.reported_at).expect("time");
        let clock = chrono::DateTime::parse_from_rfc3339(now).expect("now");
        at + chrono::Duration::hours(hours(p)) < clock
    };
    let late = expect(&overdue);
    assert!(
        !late.is_empty() && late.len() < posted.len(),
        "both kinds present"
    );
    check(format!("{window}&overdue=true"), late.clone()).await;
    check(format!("{window}&overdue=false"), expect(&|p| !overdue(p))).await;
    // Pages of every size hold the same events in the same order, newest first.
    let one_page = all_pages(server, &admin, &window, 1000).await;
    for limit in [1, 7, 29, 30] {
        assert_eq!(
            all_pages(server, &admin, &window, limit).await,
            one_page,
            "limit {limit}"
        );
    }
    let times: Vec<&str> = one_page
        .iter()
        .map(|c| {
            posted
                .iter()
                .find(|p| &p.code == c)
                .map(|p| p.reported_at.as_str())
                .expect("posted")
        })
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    // CSV: the same page, parseable, with the cursor in a header.
    let csv_page = get(
        server,
        &format!("/api/events?{window}&format=csv&limit=10"),
        &admin,
    )
    .await;
    assert_eq!(csv_page.status, 200);
    assert!(csv_page.headers["content-type"]
        .to_str()
        .expect("type")
        .starts_with("text/csv"));
    assert!(csv_page.headers.contains_key("x-next-cursor"));
    let mut reader = csv::Reader::from_reader(csv_page.text.as_bytes());
    let header = reader.headers().expect("header").clone();
    assert_eq!(&header[0], "code");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    let csv_codes: Vec<String> = rows.iter().map(|r| r[0].to_string()).collect();
    assert_eq!(csv_codes, one_page[..10].to_vec());
    let title = header.iter().position(|h| h == "title").expect("title");
    assert_eq!(&rows[0][title], "道路破损");
}

fn admin_token() -> String {
    common::token("410600", &[Role::Admin])
}

#[tokio::test]
async fn filters_pages_and_csv_gpkg() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = gpkg_server(&dir).await;
    filters(&server).await;
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn filters_pages_and_csv_postgis() {
    let server = postgis_server().await;
    filters(&server).await;
    server.stop().await.expect("stop");
}

/// The importer asks the store for the last code of each day and for the stored keys: codes it
/// generates continue after those the API assigned, and a known (source, external_id) keeps
/// its code.
async fn import_after_ingest(server: &Server, dir: &std::path::Path) {
    use gridmap::import::{import_file, ImportKind, ImportOptions};
    let admin = common::token("410600", &[Role::Admin]);
    let points = grid_points(server, "410611", 3);
    let codes = ingest(
        server,
        &admin,
        vec![event("imp-0", points[0].0), event("imp-1", points[1].0)],
    )
    .await;
    assert_eq!(codes, vec!["E20310531000001", "E20310531000002"]);
    // A district's key is the district's own: the import (the city's key space) does not
    // update that event but stores its own.
    let qibin = common::token("410611", &[Role::Device]);
    let district = ingest(server, &qibin, vec![event("imp-d", points[0].0)]).await;
    assert_eq!(district, vec!["E20310531000003"]);
    let feature = |external: &str, (lon, lat): (f64, f64)| {
        json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
               "properties": {"external_id": external, "source": "app", "title": "道路破损",
                              "category": "0101", "content": "", "reported_at": "2031-05-31T13:00:00Z"}})
    };
    let file = dir.join("events.geojson");
    let collection = json!({"type": "FeatureCollection", "features": [
        feature("imp-1", points[1].0), feature("imp-new", points[2].0),
        feature("imp-d", points[2].0)
    ]});
    std::fs::write(&file, collection.to_string()).expect("write file");
    // Through the server's write path, as an in-process importer would: the listing (read from
    // the engine) sees the imported events at once.
    let report = import_file(
        server.writes.as_ref(),
        &file,
        &ImportOptions::new(ImportKind::Events),
    )
    .await
    .expect("import");
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.written, 3);
    let stored = |code: &'static str| async move {
        server.store.event(code).await.expect("read").map(|e| {
            (
                e.external_id.unwrap_or_default(),
                e.idempotency_scope,
                e.title,
            )
        })
    };
    let city = |id: &str| (id.to_string(), "410600".to_string(), "道路破损".to_string());
    assert_eq!(stored("E20310531000002").await, Some(city("imp-1")));
    assert_eq!(stored("E20310531000004").await, Some(city("imp-new")));
    assert_eq!(stored("E20310531000005").await, Some(city("imp-d")));
    let kept = stored("E20310531000003").await.expect("district event");
    assert_eq!((kept.0.as_str(), kept.1.as_str()), ("imp-d", "410611"));
    let listed = all_pages(server, &admin, &format!("from={WINDOW_FROM}"), 100).await;
    assert_eq!(listed.len(), 5, "{listed:?}");
}

#[tokio::test]
async fn import_continues_after_api_codes_gpkg() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = gpkg_server(&dir).await;
    import_after_ingest(&server, dir.path()).await;
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn import_continues_after_api_codes_postgis() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = postgis_server().await;
    import_after_ingest(&server, dir.path()).await;
    server.stop().await.expect("stop");
}

/// A point outside every grid (its grid removed) is accepted, flagged and assigned as deep as
/// the remaining areas go.
async fn outside_grid(server: &Server) {
    let admin = common::token("410600", &[Role::Admin]);
    let snap = server.engine.snapshot();
    let (point, grid) = grid_points(server, "410611", 40)
        .into_iter()
        .find(|(_, g)| snap.children(g).is_empty())
        .expect("a grid without micro-grids");
    let community = snap
        .area(&grid)
        .and_then(|a| a.parent_code.clone())
        .expect("parent");
    drop(snap);
    let change = gridmap::model::Change::DeleteArea(grid.clone());
    server
        .store
        .apply(std::slice::from_ref(&change))
        .await
        .expect("delete the grid");
    server.apply(&[change]).await;
    let r = post(server, "/api/events", &admin, &event("og-1", point)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let code = r.body["code"].as_str().expect("code");
    let d = get(server, &format!("/api/events/{code}"), &admin)
        .await
        .body;
    assert_eq!(d["place"]["outside_grid"], true);
    assert_eq!(d["place"]["area_code"], community.as_str());
    assert_eq!(d["place"]["chain"][0]["code"], community.as_str());
}

#[tokio::test]
async fn outside_every_grid_is_accepted_and_flagged_gpkg() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = gpkg_server(&dir).await;
    outside_grid(&server).await;
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn outside_every_grid_is_accepted_and_flagged_postgis() {
    let server = postgis_server().await;
    outside_grid(&server).await;
    server.stop().await.expect("stop");
}
