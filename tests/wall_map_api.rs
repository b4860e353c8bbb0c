//! The endpoints the wall map needs besides the statistics: the area search
//! (`GET /api/areas?q=`, checked against the same search in SQL on the server's PostGIS
//! database), the category catalog (`GET /api/events/categories`, naming every category stored)
//! and the satellite basemap proxied from a local stand-in for Tianditu (the key reaches the
//! upstream and never the client).

mod common;

use std::collections::BTreeSet;

use gridmap::access::Role;
use gridmap::config::{SatelliteConfig, StoreLocation};
use serde_json::Value;

use common::satellite_upstream::{self, KEY, MISSING_ZOOM, PNG};

/// The street of the scoped token (410611001 金山街道).
const STREET: &str = "410611001";

fn codes(answer: &Value) -> Vec<String> {
    answer["areas"]
        .as_array()
        .expect("areas")
        .iter()
        .map(|a| a["code"].as_str().expect("code").to_string())
        .collect()
}

/// The codes SQL finds for the query in the jurisdiction `prefix`.
async fn sql_codes(db: &tokio_postgres::Client, query: &str, prefix: &str) -> BTreeSet<String> {
    let digits = query.chars().all(|c| c.is_ascii_digit());
    let sql = if digits {
        "SELECT code FROM area WHERE code LIKE $1 || '%' AND code LIKE $2 || '%'"
    } else {
        "SELECT code FROM area WHERE strpos(lower(name), lower($1)) > 0 AND code LIKE $2 || '%'"
    };
    db.query(sql, &[&query, &prefix])
        .await
        .expect("search in SQL")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Level order of a hit (city first), to check the ranking.
fn level_rank(level: &str) -> usize {
    [
        "city",
        "district",
        "street",
        "community",
        "grid",
        "microgrid",
    ]
    .iter()
    .position(|l| *l == level)
    .expect("known level")
}

#[tokio::test]
async fn area_search_equals_sql_in_every_scope_and_ranks_best_first() {
    let (db_url, server) = common::postgis_sample_server().await;
    let db = common::connect(&db_url).await;
    let base = server.url();
    let city = common::token("410600", &[Role::Viewer]);
    let street = common::token(STREET, &[Role::Viewer]);
    let names: Vec<String> = db
        .query(
            "SELECT name FROM area WHERE level IN (3, 4) ORDER BY code LIMIT 3",
            &[],
        )
        .await
        .expect("names")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut queries = vec![
        "社区".to_string(),
        "街道".into(),
        "4106".into(),
        STREET.into(),
    ];
    queries.extend(names);
    for query in &queries {
        for (token, prefix) in [(&city, "4106"), (&street, STREET)] {
            let url = format!(
                "{base}/api/areas?q={}&limit=50",
                form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>()
            );
            let (status, answer) = common::get_json(&url, token).await;
            assert_eq!(status, 200, "{query}: {answer}");
            let got = codes(&answer);
            let want = sql_codes(&db, query, prefix).await;
            if want.len() <= 50 {
                assert_eq!(
                    got.iter().cloned().collect::<BTreeSet<_>>(),
                    want,
                    "{query} in {prefix}"
                );
            } else {
                assert_eq!(got.len(), 50);
                assert!(got.iter().all(|c| want.contains(c)), "{query} in {prefix}");
            }
            assert!(
                got.iter().all(|c| c.starts_with(prefix)),
                "{query}: {got:?}"
            );
        }
    }
    // An exact name comes first; ranks then run from the top of the hierarchy down.
    let (_, answer) = common::get_json(&format!("{base}/api/areas?q=鹤山区"), &city).await;
    assert_eq!(answer["areas"][0]["code"], "410602", "{answer}");
    assert_eq!(
        answer["areas"][0]["path"],
        serde_json::json!([{"code": "410600", "name": "鹤壁市", "level": "city", "layer": "base"}])
    );
    let bbox = answer["areas"][0]["bbox"].as_array().expect("bbox");
    assert!(bbox[0].as_f64() < bbox[2].as_f64() && bbox[1].as_f64() < bbox[3].as_f64());
    let (_, answer) = common::get_json(&format!("{base}/api/areas?q=410611&limit=50"), &city).await;
    let levels: Vec<usize> = answer["areas"]
        .as_array()
        .expect("areas")
        .iter()
        .skip(1)
        .map(|a| level_rank(a["level"].as_str().expect("level")))
        .collect();
    assert_eq!(answer["areas"][0]["code"], "410611");
    assert!(levels.windows(2).all(|w| w[0] <= w[1]), "{levels:?}");
    for (query, code) in [
        ("q=%20", "empty_query"),
        ("q=a&limit=0", "bad_limit"),
        ("q=a&limit=51", "bad_limit"),
        ("limit=5", "bad_query"),
    ] {
        let (status, answer) = common::get_json(&format!("{base}/api/areas?{query}"), &city).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some(code)),
            "{query}"
        );
    }
    let anonymous = reqwest::get(format!("{base}/api/areas?q=4106"))
        .await
        .expect("request");
    assert_eq!(anonymous.status().as_u16(), 401);
}

#[tokio::test]
async fn the_category_catalog_names_every_stored_category() {
    let (db_url, server) = common::postgis_sample_server().await;
    let db = common::connect(&db_url).await;
    let token = common::token("410600", &[Role::Viewer]);
    let (status, answer) =
        common::get_json(&format!("{}/api/events/categories", server.url()), &token).await;
    assert_eq!(status, 200, "{answer}");
    let listed: Vec<&Value> = answer["categories"]
        .as_array()
        .expect("list")
        .iter()
        .collect();
    let named: BTreeSet<&str> = listed
        .iter()
        .map(|c| c["code"].as_str().expect("code"))
        .collect();
    let stored: Vec<String> = db
        .query("SELECT DISTINCT category FROM event", &[])
        .await
        .expect("categories")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(!stored.is_empty());
    for code in &stored {
        assert!(named.contains(code.as_str()), "{code} has no name");
        assert!(named.contains(&code[..2]), "{code}'s major has no name");
    }
    let cover = listed.iter().find(|c| c["code"] == "0102").expect("0102");
    assert_eq!(cover["name"], "井盖缺失");
    assert_eq!(cover["major_name"], "市政设施");
}

/// A server on a copy of the sample city with this satellite configuration (the copy lives as
/// long as the test process).
async fn server_with(satellite: Option<SatelliteConfig>) -> gridmap::serve::Server {
    let dir = Box::leak(Box::new(tempfile::tempdir().expect("tempdir")));
    let mut config = common::test_config(StoreLocation::Gpkg(common::sample_copy(dir.path())));
    config.satellite = satellite;
    gridmap::serve::start(&config).await.expect("server")
}

#[tokio::test]
async fn the_satellite_basemap_is_proxied_and_the_key_stays_on_the_server() {
    let upstream = satellite_upstream::start().await;
    let server = server_with(Some(upstream.config(KEY))).await;
    let base = server.url();
    let token = common::token(STREET, &[Role::Viewer]);
    let http = reqwest::Client::new();

    let tile = http
        .get(format!("{base}/rasters/satellite/14/13393/6457"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("tile");
    assert_eq!(tile.status().as_u16(), 200);
    assert_eq!(tile.headers()["content-type"], "image/png");
    let headers = format!("{:?}", tile.headers());
    assert_eq!(&tile.bytes().await.expect("bytes")[..], PNG);
    assert!(!headers.contains(KEY));
    let asked = upstream.queries.lock().expect("lock").clone();
    assert_eq!(asked.len(), 1);
    assert!(
        asked[0].contains(&format!("tk={KEY}"))
            && asked[0].contains("TILEMATRIX=14&TILEROW=6457&TILECOL=13393"),
        "{asked:?}"
    );

    // A second request is answered from memory.
    let again = http
        .get(format!("{base}/rasters/satellite/14/13393/6457"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("tile");
    assert_eq!(again.status().as_u16(), 200);
    assert_eq!(upstream.asked(), 1);

    // The style lists the proxy, hidden, and never the upstream or the key.
    let style = http
        .get(format!("{base}/styles/dark"))
        .send()
        .await
        .expect("style")
        .text()
        .await
        .expect("text");
    assert!(
        !style.contains(KEY) && !style.contains(&upstream.addr),
        "{style}"
    );
    let style: Value = serde_json::from_str(&style).expect("style JSON");
    assert_eq!(
        style["sources"]["satellite"]["tiles"][0],
        format!("{base}/rasters/satellite/{{z}}/{{x}}/{{y}}")
    );
    let layer = style["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .position(|l| l["id"] == "satellite")
        .expect("satellite layer");
    assert_eq!(style["layers"][layer - 1]["type"], "background");
    assert_eq!(style["layers"][layer]["layout"]["visibility"], "none");

    // Refusals: no credential, a bad address, too deep, a tile the upstream lacks.
    let anonymous = http
        .get(format!("{base}/rasters/satellite/14/13393/6457"))
        .send()
        .await
        .expect("tile");
    assert_eq!(anonymous.status().as_u16(), 401);
    for (path, status, code) in [
        ("14/x/1", 400, "bad_tile"),
        ("2/9/0", 400, "bad_tile"),
        ("19/0/0", 400, "bad_tile"),
        (&format!("{MISSING_ZOOM}/1/1")[..], 404, "not_found"),
    ] {
        let (got, answer) =
            common::get_json(&format!("{base}/rasters/satellite/{path}"), &token).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{path}: {answer}"
        );
    }
}

/// The error code and answer of one satellite tile from a server with this configuration.
async fn satellite_refusal(satellite: Option<SatelliteConfig>) -> (u16, String, Value) {
    let server = server_with(satellite).await;
    let token = common::token("410600", &[Role::Viewer]);
    let (status, answer) = common::get_json(
        &format!("{}/rasters/satellite/10/837/403", server.url()),
        &token,
    )
    .await;
    let code = answer["error"]["code"].as_str().unwrap_or("").to_string();
    (status, code, answer)
}

#[tokio::test]
async fn a_refused_key_or_a_dead_upstream_is_a_502_without_the_key() {
    let upstream = satellite_upstream::start().await;
    let (status, code, answer) = satellite_refusal(Some(upstream.config("wrong-key-77"))).await;
    assert_eq!((status, code.as_str()), (502, "upstream_failed"));
    let message = answer["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("check the key") && !message.contains("wrong-key-77"),
        "{message}"
    );

    let mut dead = upstream.config(KEY);
    dead.url = dead.url.map(|u| u.replace(&upstream.addr, "127.0.0.1:9"));
    let (status, code, answer) = satellite_refusal(Some(dead)).await;
    assert_eq!((status, code.as_str()), (502, "upstream_failed"));
    assert!(!answer.to_string().contains(KEY), "{answer}");

    let (status, code, _) = satellite_refusal(None).await;
    assert_eq!((status, code.as_str()), (404, "not_configured"));
}
