//! Label glyphs over real HTTP: `/fonts/{fontstack}/{range}.pbf` from the system's DejaVu fonts
//! (fonts-dejavu-core, installed by `scripts/test`), its errors, caching headers and gzip, and the
//! glyph URL of every served style resolving for every `text-font` stack the style uses.

mod common;

use std::collections::BTreeSet;

use gridmap::api::styles::style_names;
use gridmap::config::StoreLocation;
use gridmap::glyphs::{Fontstack, GlyphRange, GlyphStore, Glyphs, BUFFER_PX};
use gridmap::serve::{self, Server};
use prost::Message;
use serde_json::Value;

/// A server over an empty GeoPackage: glyphs need no city.
async fn server(dir: &tempfile::TempDir) -> Server {
    let path = dir.path().join("empty.gpkg");
    serve::start(&common::test_config(StoreLocation::Gpkg(path)))
        .await
        .expect("server starts")
}

async fn get(url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("request")
}

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// The one font stack of a glyph answer.
fn decode(bytes: &[u8]) -> Fontstack {
    let mut glyphs = Glyphs::decode(bytes).expect("a glyph protobuf");
    assert_eq!(glyphs.stacks.len(), 1, "one stack per answer");
    glyphs.stacks.remove(0)
}

async fn error_code(resp: reqwest::Response) -> String {
    let body: Value = resp.json().await.expect("JSON error");
    body["error"]["code"].as_str().unwrap_or("").to_string()
}

#[tokio::test]
async fn the_latin_range_of_dejavu_sans_has_digits_and_capitals() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server(&dir).await;
    let resp = get(
        &format!("{}/fonts/DejaVu%20Sans/0-255.pbf", server.url()),
        &[("Origin", "http://wall.example")],
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "content-type"), "application/x-protobuf");
    assert!(header(&resp, "cache-control").contains("public"));
    assert!(header(&resp, "cache-control").contains("max-age=604800"));
    assert_eq!(header(&resp, "access-control-allow-origin"), "*");
    let etag = header(&resp, "etag");
    assert!(etag.starts_with('"'), "strong ETag: {etag:?}");
    let stack = decode(&resp.bytes().await.expect("body"));
    assert_eq!(stack.range, "0-255");
    let ids: BTreeSet<u32> = stack.glyphs.iter().map(|g| g.id).collect();
    for c in ('0'..='9').chain('A'..='Z') {
        assert!(ids.contains(&u32::from(c)), "{c:?} missing");
    }
    for g in &stack.glyphs {
        let len = g.bitmap.as_ref().map_or(0, Vec::len);
        let side = |n: u32| n as usize + 2 * BUFFER_PX;
        assert_eq!(len, side(g.width) * side(g.height), "glyph {}", g.id);
    }
    let a = stack.glyphs.iter().find(|g| g.id == 'A' as u32).expect("A");
    assert!(a.advance > 0 && a.width > 0);

    let again = get(
        &format!("{}/fonts/DejaVu%20Sans/0-255.pbf", server.url()),
        &[("If-None-Match", &etag)],
    )
    .await;
    assert_eq!(again.status(), 304);
    assert_eq!(header(&again, "etag"), etag);
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn glyphs_are_gzipped_when_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server(&dir).await;
    let url = format!("{}/fonts/DejaVu%20Sans%20Bold/0-255", server.url());
    let plain = get(&url, &[]).await;
    assert_eq!(plain.status(), 200, "the .pbf suffix is optional");
    assert_eq!(header(&plain, "content-encoding"), "");
    let plain = plain.bytes().await.expect("body");
    let zipped = get(&url, &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(zipped.status(), 200);
    assert_eq!(header(&zipped, "content-encoding"), "gzip");
    let zipped = zipped.bytes().await.expect("body");
    assert!(zipped.len() < plain.len());
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(zipped.as_ref()),
        &mut unzipped,
    )
    .expect("gunzip");
    assert_eq!(unzipped, plain.as_ref());
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn made_up_font_names_cost_no_render_and_share_one_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server(&dir).await;
    let url = |stack: &str| format!("{}/fonts/{stack}/256-511.pbf", server.url());
    let first = get(&url("DejaVu%20Sans"), &[]).await;
    assert_eq!(first.status(), 200);
    let etag = header(&first, "etag");
    let bytes = first.bytes().await.expect("body");
    for n in 0..20 {
        let resp = get(&url(&format!("DejaVu%20Sans,Made%20Up%20{n}")), &[]).await;
        assert_eq!(resp.status(), 200, "a missing name is passed over");
        assert_eq!(header(&resp, "etag"), etag, "made-up name {n}");
        assert_eq!(resp.bytes().await.expect("body"), bytes);
        let resp = get(&url(&format!("Made%20Up%20{n}")), &[]).await;
        assert_eq!(resp.status(), 404);
        assert_eq!(error_code(resp).await, "unknown_font");
    }
    server.stop().await.expect("stop");

    // The store behind the route: one render for the stack whatever names are added to it.
    let store = GlyphStore::new(gridmap::config::DEFAULT_FONTS_DIR, 1 << 20);
    let range = GlyphRange::parse("256-511").expect("range");
    store.range("DejaVu Sans", range).expect("glyphs");
    for n in 0..1000 {
        let stack = format!("DejaVu Sans,Made Up {n}");
        store.range(&stack, range).expect("glyphs");
        assert!(store.range(&format!("Made Up {n}"), range).is_err());
    }
    assert_eq!(store.rendered_ranges(), 1, "made-up names rendered nothing");
}

#[tokio::test]
async fn unknown_fonts_and_bad_ranges_are_json_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server(&dir).await;
    let url = |path: &str| format!("{}/fonts/{path}", server.url());
    let resp = get(&url("Comic%20Sans/0-255.pbf"), &[]).await;
    assert_eq!(resp.status(), 404);
    assert_eq!(error_code(resp).await, "unknown_font");
    // A stack with one known font serves that font's glyphs.
    let resp = get(&url("DejaVu%20Sans,Comic%20Sans/0-255.pbf"), &[]).await;
    assert_eq!(resp.status(), 200);
    for bad in [
        "1-256.pbf",
        "0-511.pbf",
        "65536-65791.pbf",
        "x.pbf",
        "0-255.png",
    ] {
        let resp = get(&url(&format!("DejaVu%20Sans/{bad}")), &[]).await;
        assert_eq!(resp.status(), 400, "{bad}");
        assert_eq!(error_code(resp).await, "bad_glyph_range", "{bad}");
    }
    let resp = get(&url("A,B,C,D,E/0-255.pbf"), &[]).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(resp).await, "bad_fontstack");
    let resp = get(&url("DejaVu%20Sans/19968-20223.pbf"), &[]).await;
    assert_eq!(
        resp.status(),
        200,
        "a range the font lacks is a valid, empty set"
    );
    assert!(decode(&resp.bytes().await.expect("body")).glyphs.is_empty());
    server.stop().await.expect("stop");
}

/// Every `text-font` stack in `value`: a plain array of names, or `["literal", [names]]` inside
/// an expression.
fn font_stacks(value: &Value, out: &mut BTreeSet<Vec<String>>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                if key == "text-font" {
                    stacks_of(v, out);
                } else {
                    font_stacks(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| font_stacks(v, out)),
        _ => {}
    }
}

fn stacks_of(value: &Value, out: &mut BTreeSet<Vec<String>>) {
    match string_array(value) {
        Some(names) => {
            out.insert(names);
        }
        None => literal_stacks(value, out),
    }
}

fn literal_stacks(value: &Value, out: &mut BTreeSet<Vec<String>>) {
    let Value::Array(items) = value else {
        return;
    };
    if let [Value::String(op), inner] = items.as_slice() {
        if let (true, Some(names)) = (op == "literal", string_array(inner)) {
            out.insert(names);
            return;
        }
    }
    items.iter().for_each(|v| literal_stacks(v, out));
}

fn string_array(value: &Value) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(String::from))
        .collect()
}

#[tokio::test]
async fn every_style_font_resolves_through_the_style_glyph_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = server(&dir).await;
    for name in style_names() {
        let style: Value = get(&format!("{}/styles/{name}", server.url()), &[])
            .await
            .json()
            .await
            .expect("style JSON");
        let template = style["glyphs"].as_str().expect("glyphs URL");
        assert!(template.starts_with(&server.url()), "{template}");
        let mut stacks = BTreeSet::new();
        font_stacks(&style["layers"], &mut stacks);
        assert!(!stacks.is_empty(), "style {name} uses no text-font");
        for stack in stacks {
            let url = template
                .replace("{fontstack}", &stack.join(",").replace(' ', "%20"))
                .replace("{range}", "0-255");
            let resp = get(&url, &[]).await;
            assert_eq!(resp.status(), 200, "{name}: {stack:?} at {url}");
            let glyphs = decode(&resp.bytes().await.expect("body"));
            assert!(
                glyphs.glyphs.iter().any(|g| g.id == '0' as u32),
                "{name}: {stack:?} has no digits"
            );
        }
    }
    server.stop().await.expect("stop");
}

#[test]
fn the_style_walk_finds_plain_and_literal_stacks() {
    let layers = serde_json::json!([
        {"layout": {"text-font": ["A", "B"]}},
        {"layout": {"text-font": ["match", ["get", "level"], "district",
            ["literal", ["C"]], ["literal", ["A"]]]}},
        {"layout": {"text-field": ["get", "name"]}}
    ]);
    let mut stacks = BTreeSet::new();
    font_stacks(&layers, &mut stacks);
    let want: BTreeSet<Vec<String>> = [vec!["A", "B"], vec!["C"], vec!["A"]]
        .into_iter()
        .map(|s| s.into_iter().map(String::from).collect())
        .collect();
    assert_eq!(stacks, want);
}
