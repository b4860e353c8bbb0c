//! The MapLibre styles over real HTTP: absolute source URLs (direct and behind a proxy), every
//! source layer and attribute they use exists in `tiles/tilesets.toml`, and the official
//! validator (`gl-style-validate`, installed by `scripts/test`) accepts them as served.

mod common;

use std::path::{Path, PathBuf};

use gridmap::api::styles::style_names;
use gridmap::config::StoreLocation;
use gridmap::serve::{self, Server};
use gridmap::tiles::Tilesets;
use serde_json::Value;

async fn gpkg_server(dir: &tempfile::TempDir) -> Server {
    let path = common::sample_copy(dir.path());
    let mut config = common::test_config(StoreLocation::Gpkg(path));
    // The tests also play the reverse proxy, whose X-Forwarded-* headers are believed.
    config.trusted_proxies =
        gridmap::config::TrustedProxies::parse(&["127.0.0.1".into()]).expect("trusted proxies");
    serve::start(&config).await.expect("server starts")
}

/// Status, content type and body of `GET path` with extra headers.
async fn get(server: &Server, path: &str, headers: &[(&str, &str)]) -> (u16, String, Value) {
    let mut req = reqwest::Client::new().get(format!("{}{path}", server.url()));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, content_type, body)
}

fn tilesets() -> Tilesets {
    Tilesets::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tiles/tilesets.toml"))
        .expect("tiles/tilesets.toml loads")
}

/// The validator `scripts/test` installs; a missing one fails the test, never skips it.
fn validator() -> PathBuf {
    let path = std::env::var("GRIDMAP_STYLE_VALIDATOR").expect(
        "GRIDMAP_STYLE_VALIDATOR is not set: run the suite with scripts/test, which installs \
         @maplibre/maplibre-gl-style-spec and sets it",
    );
    let path = PathBuf::from(path);
    assert!(
        path.is_file(),
        "GRIDMAP_STYLE_VALIDATOR={} does not exist: run scripts/test to install it",
        path.display()
    );
    path
}

/// Every attribute name read with `["get", NAME]` anywhere in `value`.
fn attributes_read(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Array(items) => {
            if let [Value::String(op), Value::String(name)] = items.as_slice() {
                if op == "get" {
                    out.push(name.clone());
                }
            }
            items.iter().for_each(|v| attributes_read(v, out));
        }
        Value::Object(map) => map.values().for_each(|v| attributes_read(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn unknown_style_is_a_404_listing_the_known_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = gpkg_server(&dir).await;
    for path in ["/styles/neon", "/styles/DARK", "/styles/dark.json"] {
        let (s, content_type, body) = get(&server, path, &[]).await;
        assert_eq!(s, 404, "{path}: {body}");
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}"
        );
        assert_eq!(body["error"]["code"], "unknown_style", "{body}");
        let message = body["error"]["message"].as_str().expect("message");
        assert!(
            message.contains("dark") && message.contains("light"),
            "{message}"
        );
    }
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn styles_point_at_this_server_directly_and_behind_a_proxy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = gpkg_server(&dir).await;
    let proxy = [
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "maps.example.gov.cn"),
    ];
    for name in style_names() {
        let (s, content_type, style) = get(&server, &format!("/styles/{name}"), &[]).await;
        assert_eq!(s, 200, "{name}: {style}");
        assert_eq!(content_type, "application/json");
        assert_eq!(style["version"], 8);
        let base = server.url();
        assert_eq!(
            style["sources"]["boundaries"]["url"],
            format!("{base}/tiles/boundaries")
        );
        assert_eq!(
            style["sources"]["buildings"]["url"],
            format!("{base}/tiles/buildings")
        );
        assert_eq!(
            style["glyphs"],
            format!("{base}/fonts/{{fontstack}}/{{range}}.pbf")
        );

        let (s, _, style) = get(&server, &format!("/styles/{name}"), &proxy).await;
        assert_eq!(s, 200, "{name} behind a proxy: {style}");
        assert_eq!(
            style["sources"]["boundaries"]["url"],
            "https://maps.example.gov.cn/tiles/boundaries"
        );
        assert_eq!(
            style["sources"]["buildings"]["url"],
            "https://maps.example.gov.cn/tiles/buildings"
        );
    }
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn configured_public_url_wins_over_the_request_headers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = common::test_config(StoreLocation::Gpkg(common::sample_copy(dir.path())));
    config.public_url = Some("https://gis.example.gov.cn/gridmap/".to_string());
    let server = serve::start(&config).await.expect("server starts");
    let (s, _, style) = get(
        &server,
        "/styles/dark",
        &[("X-Forwarded-Host", "proxy.local")],
    )
    .await;
    assert_eq!(s, 200, "{style}");
    assert_eq!(
        style["sources"]["boundaries"]["url"],
        "https://gis.example.gov.cn/gridmap/tiles/boundaries"
    );
    assert_eq!(
        style["glyphs"],
        "https://gis.example.gov.cn/gridmap/fonts/{fontstack}/{range}.pbf"
    );
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn openapi_lists_exactly_the_served_styles() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = gpkg_server(&dir).await;
    let (s, _, doc) = get(&server, "/openapi.json", &[]).await;
    assert_eq!(s, 200);
    let param = &doc["paths"]["/styles/{name}"]["get"]["parameters"][0];
    assert_eq!(param["name"], "name", "{param}");
    let documented: Vec<&str> = param["schema"]["enum"]
        .as_array()
        .expect("enum of style names")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(documented, style_names());
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn styles_use_only_layers_and_attributes_the_tilesets_have() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = gpkg_server(&dir).await;
    let tilesets = tilesets();
    for name in style_names() {
        let (s, _, style) = get(&server, &format!("/styles/{name}"), &[]).await;
        assert_eq!(s, 200, "{name}: {style}");
        let layers = style["layers"].as_array().expect("layers");
        let mut seen_sources = Vec::new();
        for layer in layers {
            let id = layer["id"].as_str().expect("layer id");
            let Some(source) = layer["source"].as_str() else {
                assert_eq!(layer["type"], "background", "{name}/{id} has no source");
                continue;
            };
            seen_sources.push(source.to_string());
            let tileset = tilesets
                .get(source)
                .unwrap_or_else(|| panic!("{name}/{id}: source {source} is no tileset"));
            let source_layer = layer["source-layer"].as_str().expect("source-layer");
            let def = tileset
                .layers
                .iter()
                .find(|l| l.name == source_layer)
                .unwrap_or_else(|| {
                    panic!("{name}/{id}: tileset {source} has no layer {source_layer}")
                });
            let mut read = Vec::new();
            attributes_read(layer, &mut read);
            for attribute in read {
                assert!(
                    def.has_attribute(&attribute),
                    "{name}/{id}: {source}/{source_layer} has no attribute {attribute}"
                );
            }
        }
        for tileset in ["boundaries", "buildings", "basemap"] {
            assert!(
                seen_sources.iter().any(|s| s == tileset),
                "{name} draws nothing from {tileset}"
            );
        }
        let types: Vec<&str> = layers.iter().filter_map(|l| l["type"].as_str()).collect();
        for needed in ["background", "fill", "line", "fill-extrusion", "symbol"] {
            assert!(types.contains(&needed), "{name} has no {needed} layer");
        }
    }
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn the_official_validator_accepts_the_served_styles() {
    let validator = validator();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = gpkg_server(&dir).await;
    for name in style_names() {
        let (s, _, style) = get(&server, &format!("/styles/{name}"), &[]).await;
        assert_eq!(s, 200, "{name}: {style}");
        let file = dir.path().join(format!("{name}.json"));
        std::fs::write(&file, serde_json::to_vec_pretty(&style).expect("JSON"))
            .expect("write style");
        let out = std::process::Command::new(&validator)
            .arg(&file)
            .output()
            .expect("run gl-style-validate");
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && report.trim().is_empty(),
            "gl-style-validate rejects {name}: {report}"
        );
    }
    server.stop().await.expect("stop");
}
