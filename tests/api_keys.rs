//! API keys for embedded tile URLs, over real HTTP against a started server on a copy of the
//! sample city: `?key=` and `X-Api-Key` read private tilesets within the key's jurisdiction,
//! TileJSON, the catalog and styles hand a URL key on, origin-bound keys need their origin,
//! unknown keys are refused, and keys do not open the data API. Also `gridmap api-key`.

mod common;

use std::process::Command;

use gridmap::access::api_key::key_hash;
use gridmap::access::Role;
use gridmap::config::{ApiKeyConfig, StoreLocation};
use gridmap::serve::{self, Server};
use gridmap::tiles::TileId;
use serde_json::Value;

const CITY_KEY: &str = "gmk_city_test_key";
const PORTAL_KEY: &str = "gmk_portal_test_key";
const PORTAL: &str = "https://portal.example";

async fn server() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = common::sample_copy(dir.path());
    let mut config = common::test_config(StoreLocation::Gpkg(path));
    config.api_keys = vec![
        ApiKeyConfig {
            name: "wall".into(),
            sha256: key_hash(CITY_KEY),
            scope: "410600".into(),
            origins: Vec::new(),
        },
        ApiKeyConfig {
            name: "portal".into(),
            sha256: key_hash(PORTAL_KEY),
            scope: "410611".into(),
            origins: vec![PORTAL.into()],
        },
    ];
    let server = serve::start(&config).await.expect("server starts");
    (dir, server)
}

struct Answer {
    status: u16,
    etag: Option<String>,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

async fn get(server: &Server, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut req = reqwest::Client::new().get(format!("{}{path}", server.url()));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let etag = resp
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp.bytes().await.expect("body").to_vec();
    Answer { status, etag, body }
}

/// The z14 tile at the management center of 淇滨区 (410611), with buildings of it and of
/// neighbouring districts' areas in the boundaries tileset at z11.
fn tile_at_district(server: &Server, z: u8) -> TileId {
    let snapshot = server.engine.snapshot();
    let c = snapshot
        .area("410611")
        .and_then(|a| a.center)
        .expect("410611 has a center");
    TileId::containing(z, c.x(), c.y()).expect("tile")
}

#[tokio::test]
async fn a_url_key_reads_private_tiles_and_is_handed_on() {
    let (_dir, server) = server().await;
    let t = tile_at_district(&server, 15);
    let tile = format!("/tiles/buildings/{}/{}/{}.pbf", t.z, t.x, t.y);

    assert_eq!(get(&server, &tile, &[]).await.status, 401);
    let by_url = get(&server, &format!("{tile}?key={CITY_KEY}"), &[]).await;
    assert_eq!(by_url.status, 200);
    let by_header = get(&server, &tile, &[("X-Api-Key", CITY_KEY)]).await;
    assert_eq!(by_header.status, 200);
    assert_eq!(by_url.etag, by_header.etag);
    assert_eq!(by_url.body, by_header.body);

    let tilejson = get(&server, &format!("/tiles/buildings?key={CITY_KEY}"), &[]).await;
    assert_eq!(tilejson.status, 200);
    let url = tilejson.json()["tiles"][0].as_str().unwrap().to_string();
    assert!(url.ends_with(&format!(".pbf?key={CITY_KEY}")), "{url}");

    let gcj = get(
        &server,
        &format!("/tiles/buildings?crs=gcj02&key={CITY_KEY}"),
        &[],
    )
    .await;
    let url = gcj.json()["tiles"][0].as_str().unwrap().to_string();
    assert!(
        url.ends_with(&format!(".pbf?crs=gcj02&key={CITY_KEY}")),
        "{url}"
    );

    // A key sent as a header stays out of the URLs handed back.
    let quiet = get(&server, "/tiles/buildings", &[("X-Api-Key", CITY_KEY)]).await;
    let url = quiet.json()["tiles"][0].as_str().unwrap().to_string();
    assert!(!url.contains("key="), "{url}");

    let catalog = get(&server, &format!("/tiles?key={CITY_KEY}"), &[]).await;
    for set in catalog.json()["tilesets"].as_array().unwrap() {
        let link = set["tilejson"].as_str().unwrap();
        assert!(link.ends_with(&format!("?key={CITY_KEY}")), "{link}");
    }

    let style = get(&server, &format!("/styles/dark?key={CITY_KEY}"), &[]).await;
    assert_eq!(style.status, 200);
    let sources = style.json()["sources"].as_object().unwrap().clone();
    assert!(!sources.is_empty());
    for (name, source) in sources {
        if let Some(url) = source["url"].as_str() {
            assert!(url.ends_with(&format!("?key={CITY_KEY}")), "{name}: {url}");
        }
    }
    server.stop().await.expect("server stops");
}

#[tokio::test]
async fn a_key_sees_its_jurisdiction_like_a_token_of_that_scope() {
    let (_dir, server) = server().await;
    let t = tile_at_district(&server, 11);
    let tile = format!("/tiles/boundaries/{}/{}/{}.pbf", t.z, t.x, t.y);
    let origin = [("Origin", PORTAL)];
    let by_key = get(&server, &format!("{tile}?key={PORTAL_KEY}"), &origin).await;
    assert_eq!(by_key.status, 200);
    let token = common::token("410611", &[Role::Viewer]);
    let bearer = format!("Bearer {token}");
    let by_token = get(&server, &tile, &[("Authorization", &bearer)]).await;
    let anonymous = get(&server, &tile, &[]).await;
    assert_eq!(by_key.etag, by_token.etag);
    assert_ne!(by_key.etag, anonymous.etag, "the key's tile must be scoped");
    server.stop().await.expect("server stops");
}

#[tokio::test]
async fn origin_bound_unknown_keys_and_the_data_api_are_refused() {
    let (_dir, server) = server().await;
    let path = format!("/tiles/boundaries?key={PORTAL_KEY}");
    let no_origin = get(&server, &path, &[]).await;
    assert_eq!(
        (no_origin.status, no_origin.error_code().as_str()),
        (403, "key_origin")
    );
    let elsewhere = get(&server, &path, &[("Origin", "https://evil.example")]).await;
    assert_eq!(elsewhere.status, 403);
    let from_page = get(
        &server,
        &path,
        &[("Referer", "https://portal.example/wall?x=1")],
    )
    .await;
    assert_eq!(from_page.status, 200);

    // An unknown key is refused even where anonymous callers are let in.
    let unknown = get(&server, "/tiles/boundaries?key=gmk_nope", &[]).await;
    assert_eq!(
        (unknown.status, unknown.error_code().as_str()),
        (401, "bad_api_key")
    );

    // A key named twice is an error, not an anonymous request.
    let twice = get(
        &server,
        &format!("/tiles/boundaries?key={CITY_KEY}&key=gmk_other"),
        &[],
    )
    .await;
    assert_eq!(
        (twice.status, twice.error_code().as_str()),
        (400, "repeated_key")
    );
    let twice_empty = get(&server, "/tiles/boundaries?key=&key=", &[]).await;
    assert_eq!(twice_empty.status, 400);

    let lookup = get(
        &server,
        "/api/lookup?lon=114.297&lat=35.748",
        &[("X-Api-Key", CITY_KEY)],
    )
    .await;
    assert_eq!(lookup.status, 401, "keys read map resources only");
    server.stop().await.expect("server stops");
}

#[test]
fn gridmap_api_key_prints_a_key_and_its_config_entry() {
    let out = Command::new(env!("CARGO_BIN_EXE_gridmap"))
        .args([
            "api-key", "--name", "portal", "--scope", "410611", "--origin", PORTAL,
        ])
        .output()
        .expect("gridmap runs");
    assert!(out.status.success(), "{out:?}");
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(key.starts_with("gmk_") && key.len() == 68, "{key}");
    let entry = String::from_utf8(out.stderr).unwrap();
    let toml_part = &entry[entry.find("[[api_key]]").expect("entry")..];
    let parsed: toml::Value = toml::from_str(toml_part).expect("entry is TOML");
    let k = &parsed["api_key"][0];
    assert_eq!(k["sha256"].as_str(), Some(key_hash(&key).as_str()));
    assert_eq!(k["scope"].as_str(), Some("410611"));
    assert_eq!(k["origins"][0].as_str(), Some(PORTAL));

    let bad = Command::new(env!("CARGO_BIN_EXE_gridmap"))
        .args(["api-key", "--name", "x", "--scope", "41x"])
        .output()
        .expect("gridmap runs");
    assert!(!bad.status.success());
}
