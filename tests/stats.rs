//! The area statistics (`/api/stats/…`) of a server on PostGIS against the same figures
//! computed in SQL on its database (the sample city): an area's rollup and event figures in a
//! window for areas of every base level, the children in JSON, CSV and GeoJSON (the parent's
//! row is the sum of its children's), the trend line per day, week and month, scope and bad
//! input.

mod common;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use gridmap::access::Role;
use gridmap::model::scope_prefix;
use serde_json::{json, Value};

/// The window every comparison uses (China Standard Time days, `to` included) and the
/// instant the server judges overdue at.
const FROM: &str = "2026-09-01";
const TO: &str = "2026-10-15";
const FROM_UTC: &str = "2026-08-31T16:00:00Z";
const TO_UTC: &str = "2026-10-15T16:00:00Z";
const NOW: &str = "2026-10-20T00:00:00Z";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

/// The SQL figures of the area `code`.
async fn sql_stats(db: &tokio_postgres::Client, code: &str) -> Value {
    let prefix = scope_prefix(code);
    let row = db
        .query_one(
            &common::stats_sql::area_sql(),
            &[&prefix, &at(FROM_UTC), &at(TO_UTC), &at(NOW)],
        )
        .await
        .expect("stats in SQL");
    serde_json::from_str(row.get::<_, &str>(0)).expect("SQL JSON")
}

/// The API answer reduced to what the SQL computes, after checking the rates against the
/// counts.
fn comparable(mut answer: Value) -> Value {
    let events = &answer["events"];
    let rate = |part: &str, whole: &str| {
        let whole = events[whole].as_u64().expect("count");
        (whole > 0).then(|| events[part].as_u64().expect("count") as f64 / whole as f64)
    };
    // JSON numbers parse back to within an ulp or so of the number written.
    let close = |got: Option<f64>, want: Option<f64>| match (got, want) {
        (Some(g), Some(w)) => (g - w).abs() < 1e-12,
        (g, w) => g == w,
    };
    assert!(
        close(events["closure_rate"].as_f64(), rate("closed", "total")),
        "{events}"
    );
    assert!(
        close(
            events["on_time_rate"].as_f64(),
            rate("closed_on_time", "closed")
        ),
        "{events}"
    );
    let object = answer.as_object_mut().expect("object");
    for key in ["code", "name", "layer", "level", "window", "as_of"] {
        object.remove(key);
    }
    if let Some(events) = object.get_mut("events").and_then(Value::as_object_mut) {
        events.remove("closure_rate");
        events.remove("on_time_rate");
    }
    answer
}

/// The codes of the first base child of `code`, down to a grid: [code, street, community, grid].
async fn chain_down(base: &str, token: &str, code: &str) -> Vec<String> {
    let mut codes = vec![code.to_string()];
    for _ in 0..3 {
        let last = codes.last().expect("code").clone();
        let (status, body) = common::get_json(
            &format!("{base}/api/stats/areas/{last}/children?from={FROM}&to={TO}"),
            token,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let first = body["children"][0]["code"]
            .as_str()
            .expect("a child")
            .to_string();
        codes.push(first);
    }
    codes
}

#[tokio::test]
async fn area_statistics_equal_sql_on_postgis() {
    let (db_url, server) = common::postgis_sample_server().await;
    server.clock.set(at(NOW));
    let db = common::connect(&db_url).await;
    let base = server.url();
    let token = common::token("410600", &[Role::Analyst]);
    let mut codes = vec!["410600".to_string()];
    codes.extend(chain_down(&base, &token, "410611").await);
    for (depth, code) in codes.iter().enumerate() {
        let (status, answer) = common::get_json(
            &format!("{base}/api/stats/areas/{code}?from={FROM}&to={TO}"),
            &token,
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["as_of"], json!(at(NOW)));
        if depth < 2 {
            let total = answer["events"]["total"].as_u64().expect("total");
            assert!(total > 0, "{code} has events in the window");
        }
        assert_eq!(
            comparable(answer),
            sql_stats(&db, code).await,
            "area {code}"
        );
    }
    server.stop().await.expect("stop");
}

/// The additive figures of a row, flattened to name → number.
fn additive(row: &Value) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for key in [
        "buildings",
        "houses",
        "households",
        "registered",
        "floating",
        "overseas",
    ] {
        out.insert(key.to_string(), row[key].as_u64().expect("count"));
    }
    for (k, v) in row["houses_by_use"].as_object().expect("by use") {
        out.insert(format!("use.{k}"), v.as_u64().expect("count"));
    }
    for (k, v) in row["care"].as_object().expect("care") {
        out.insert(format!("care.{k}"), v.as_u64().expect("count"));
    }
    for key in ["total", "open", "overdue", "closed", "closed_on_time"] {
        out.insert(
            format!("events.{key}"),
            row["events"][key].as_u64().expect("count"),
        );
    }
    for group in ["by_status", "by_category"] {
        for (k, v) in row["events"][group].as_object().expect("group") {
            out.insert(format!("{group}.{k}"), v.as_u64().expect("count"));
        }
    }
    out.retain(|_, v| *v > 0);
    out
}

#[tokio::test]
async fn children_sum_to_their_parent_in_every_format() {
    let (db_url, server) = common::postgis_sample_server().await;
    server.clock.set(at(NOW));
    let db = common::connect(&db_url).await;
    let base = server.url();
    let token = common::token("410600", &[Role::Analyst]);
    let url = format!("{base}/api/stats/areas/410611/children?from={FROM}&to={TO}");
    let (status, body) = common::get_json(&url, &token).await;
    assert_eq!(status, 200, "{body}");
    let children = body["children"].as_array().expect("children");
    assert!(children.len() > 1);
    let mut sum: BTreeMap<String, u64> = BTreeMap::new();
    for child in children {
        for (k, v) in additive(child) {
            *sum.entry(k).or_default() += v;
        }
        let code = child["code"].as_str().expect("code");
        assert_eq!(
            comparable(child.clone()),
            sql_stats(&db, code).await,
            "child {code}"
        );
    }
    assert_eq!(
        sum,
        additive(&body["parent"]),
        "the parent is the sum of its children"
    );

    let client = reqwest::Client::new();
    let csv = client
        .get(format!("{url}&format=csv"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("csv");
    assert_eq!(csv.status().as_u16(), 200);
    assert!(csv.headers()["content-type"]
        .to_str()
        .expect("type")
        .starts_with("text/csv"));
    let text = csv.text().await.expect("text");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().expect("header").clone();
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), children.len());
    let column = |name: &str| headers.iter().position(|h| h == name).expect(name);
    for (row, child) in rows.iter().zip(children) {
        assert_eq!(&row[column("code")], child["code"].as_str().expect("code"));
        assert_eq!(row[column("residents")], child["residents"].to_string());
        assert_eq!(
            row[column("events_overdue")],
            child["events"]["overdue"].to_string()
        );
        assert_eq!(
            row[column("houses_rented")],
            child["houses_by_use"]["rented"].to_string()
        );
    }

    let (status, geojson) = common::get_json(&format!("{url}&format=geojson"), &token).await;
    assert_eq!(status, 200);
    let features = geojson["features"].as_array().expect("features");
    assert_eq!(features.len(), children.len());
    for (f, child) in features.iter().zip(children) {
        assert_eq!(f["id"], child["code"]);
        assert!(f["geometry"]["coordinates"].is_array());
        assert_eq!(f["properties"]["events"], child["events"]["total"]);
        assert_eq!(f["properties"]["households"], child["households"]);
    }
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn trend_lines_equal_sql_per_day_week_and_month() {
    let (db_url, server) = common::postgis_sample_server().await;
    server.clock.set(at(NOW));
    let db = common::connect(&db_url).await;
    let base = server.url();
    let token = common::token("410611", &[Role::Analyst]);
    for metric in ["reported", "closed"] {
        // Weeks and months are whole, so the window is given by whole weeks and months.
        for (interval, from, to) in [
            ("day", FROM, TO),
            ("week", "2026-08-31", "2026-10-11"),
            ("month", "2026-09-01", "2026-10-31"),
        ] {
            let url = format!(
                "{base}/api/stats/timeseries?area=410611&metric={metric}&interval={interval}&from={from}&to={to}"
            );
            let (status, body) = common::get_json(&url, &token).await;
            assert_eq!(status, 200, "{body}");
            let points = body["points"].as_array().expect("points");
            assert_eq!(
                points.first().expect("first")["start"],
                format!("{from}T00:00:00+08:00")
            );
            let ours: BTreeMap<String, u64> = points
                .iter()
                .filter(|p| p["value"].as_u64() != Some(0))
                .map(|p| {
                    (
                        p["start"].as_str().expect("start").to_string(),
                        p["value"].as_u64().expect("n"),
                    )
                })
                .collect();
            let expected = sql_series(&db, "410611", metric, interval, from, to).await;
            assert_eq!(ours, expected, "{metric} per {interval}");
        }
    }
    server.stop().await.expect("stop");
}

/// The non-empty buckets of the SQL trend line over the China Standard Time days `from` to
/// `to` (included): bucket start (RFC 3339, +08:00) → count.
async fn sql_series(
    db: &tokio_postgres::Client,
    prefix: &str,
    metric: &str,
    interval: &str,
    from: &str,
    to: &str,
) -> BTreeMap<String, u64> {
    let time = if metric == "closed" {
        "closed_at"
    } else {
        "reported_at"
    };
    let closed = if metric == "closed" {
        "AND status IN ('closed', 'evaluated')"
    } else {
        ""
    };
    let sql = format!(
        "SELECT to_char(date_trunc('{interval}', {time} AT TIME ZONE 'Asia/Shanghai'),
                        'YYYY-MM-DD\"T\"HH24:MI:SS\"+08:00\"'), count(*)
         FROM event WHERE area_code LIKE $1 || '%' {closed}
           AND {time} >= $2 AND {time} < $3 GROUP BY 1"
    );
    let from = at(&format!("{from}T00:00:00+08:00"));
    let to = at(&format!("{to}T00:00:00+08:00")) + chrono::Duration::days(1);
    let rows = db
        .query(&sql, &[&prefix, &from, &to])
        .await
        .expect("series in SQL");
    rows.iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as u64))
        .collect()
}

#[tokio::test]
async fn statistics_are_scoped_and_refuse_bad_input() {
    let (_, server) = common::postgis_sample_server().await;
    let base = server.url();
    let street = common::token("410611001", &[Role::Analyst]);
    for path in [
        "/api/stats/areas/410611",
        "/api/stats/areas/410602/children",
        "/api/stats/timeseries?area=410621",
    ] {
        let (status, body) = common::get_json(&format!("{base}{path}"), &street).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (403, Some("out_of_scope")),
            "{path}"
        );
    }
    let (status, body) = common::get_json(&format!("{base}/api/stats/timeseries"), &street).await;
    assert_eq!(
        status, 200,
        "the caller's own jurisdiction by default: {body}"
    );
    assert_eq!(body["area"], "410611001");
    let city = common::token("410600", &[Role::Analyst]);
    for (path, code) in [
        (
            "/api/stats/areas/410611?from=2026-10-05&to=2026-10-01",
            "bad_time",
        ),
        ("/api/stats/areas/410611?from=yesterday", "bad_time"),
        ("/api/stats/areas/410611/children?format=xml", "bad_format"),
        ("/api/stats/timeseries?interval=hour", "bad_interval"),
        ("/api/stats/timeseries?metric=open", "bad_metric"),
        (
            "/api/stats/timeseries?from=2000-01-01&to=2026-01-01",
            "too_many_buckets",
        ),
        ("/api/stats/areas/410611?colour=red", "bad_query"),
    ] {
        let (status, body) = common::get_json(&format!("{base}{path}"), &city).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some(code)),
            "{path}: {body}"
        );
    }
    let (status, _) = common::get_json(&format!("{base}/api/stats/areas/410699"), &city).await;
    assert_eq!(status, 404);
    server.stop().await.expect("stop");
}
