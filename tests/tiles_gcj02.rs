//! `?crs=gcj02` on vector tiles, over real HTTP against a started server on a copy of the sample
//! city: the tile address is read in the GCJ-02 grid and features are shifted into it (decoded
//! by GDAL's MVT driver, which places the tile in the ordinary Web-Mercator grid exactly as an
//! AMap overlay does), bad names answer 400, the cache keeps both variants apart and an edit
//! invalidates the GCJ-02 variant too.

mod common;

use std::path::Path;
use std::process::Command;

use gridmap::config::StoreLocation;
use gridmap::crs::{lonlat_to_mercator, wgs84_to_gcj02};
use gridmap::model::Change;
use gridmap::serve::{self, Server};
use gridmap::tiles::cache::{TileAddr, PUBLIC_SCOPE};
use gridmap::tiles::{TileCrs, TileId};
use serde_json::Value;

async fn server() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = common::sample_copy(dir.path());
    let config = common::test_config(StoreLocation::Gpkg(path));
    let server = serve::start(&config).await.expect("server starts");
    (dir, server)
}

/// Status, ETag and body of a GET.
async fn get(server: &Server, path: &str) -> (u16, Option<String>, Vec<u8>) {
    let resp = reqwest::get(format!("{}{path}", server.url()))
        .await
        .expect("request");
    let status = resp.status().as_u16();
    let etag = resp
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp.bytes().await.expect("body").to_vec();
    (status, etag, body)
}

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

/// The management center of district 410611 in storage (WGS84) and in GCJ-02.
fn centre(server: &Server) -> ((f64, f64), (f64, f64)) {
    let snap = server.engine.snapshot();
    let c = snap
        .area("410611")
        .and_then(|a| a.center)
        .expect("410611 has a management center");
    ((c.x(), c.y()), wgs84_to_gcj02(c.x(), c.y()))
}

fn tile_path(t: TileId, query: &str) -> String {
    format!("/tiles/boundaries/{}/{}/{}.pbf{query}", t.z, t.x, t.y)
}

/// Web-Mercator position GDAL decodes for the `label` point of `code` in a tile saved as
/// z/x/y.pbf.
fn decoded_label(dir: &Path, t: TileId, bytes: &[u8], code: &str) -> Option<(f64, f64)> {
    let path = dir.join(format!("{}/{}/{}.pbf", t.z, t.x, t.y));
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(&path, bytes).expect("write tile");
    let out = Command::new("ogr2ogr")
        .args(["-f", "GeoJSON", "/vsistdout/", "-oo", "CLIP=NO"])
        .arg(&path)
        .arg("label")
        .output()
        .expect("ogr2ogr (GDAL) must be installed: apt-get install gdal-bin");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("ERROR"),
        "{stderr}"
    );
    let fc: geojson::FeatureCollection = String::from_utf8_lossy(&out.stdout)
        .parse()
        .expect("GeoJSON from ogr2ogr");
    fc.features.into_iter().find_map(|f| {
        if f.property("code").and_then(Value::as_str) != Some(code) {
            return None;
        }
        let g: geo_types::Geometry<f64> = f.geometry?.value.try_into().ok()?;
        match g {
            geo_types::Geometry::Point(p) => Some((p.x(), p.y())),
            _ => None,
        }
    })
}

#[tokio::test]
async fn bad_crs_names_are_refused_and_gcj_02_is_accepted() {
    let (_dir, server) = server().await;
    let (_, (glon, glat)) = centre(&server);
    let t = TileId::containing(14, glon, glat).expect("tile");
    for bad in ["bd09", "", "EPSG:4326", "gcj"] {
        let (status, _, body) = get(&server, &tile_path(t, &format!("?crs={bad}"))).await;
        assert_eq!(status, 400, "crs={bad}");
        let error = &json(&body)["error"];
        assert_eq!(error["code"], "bad_crs", "crs={bad}");
        assert!(error["message"]
            .as_str()
            .is_some_and(|m| m.contains("gcj02")));
        let (status, _, body) = get(&server, &format!("/tiles/boundaries?crs={bad}")).await;
        assert_eq!(
            (status, &json(&body)["error"]["code"]),
            (400, &"bad_crs".into())
        );
    }
    let (status, lower, _) = get(&server, &tile_path(t, "?crs=gcj02")).await;
    let (status_upper, upper, _) = get(&server, &tile_path(t, "?crs=GCJ-02")).await;
    assert_eq!((status, status_upper), (200, 200));
    assert_eq!(lower, upper);
    let (_, plain, _) = get(&server, &tile_path(t, "")).await;
    let (_, wgs84, _) = get(&server, &tile_path(t, "?crs=wgs84")).await;
    assert_eq!(plain, wgs84);
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn a_gcj02_tile_holds_the_label_at_the_shifted_point() {
    let (_dir, server) = server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ((lon, lat), (glon, glat)) = centre(&server);
    let t = TileId::containing(14, glon, glat).expect("tile");
    let (status, gcj_tag, gcj) = get(&server, &tile_path(t, "?crs=gcj02")).await;
    assert_eq!(status, 200);
    let (status, plain_tag, plain) = get(&server, &tile_path(t, "")).await;
    assert_eq!(status, 200);
    assert_ne!(
        gcj_tag, plain_tag,
        "the cache mixed the plain and GCJ-02 tiles"
    );
    assert_ne!(gcj, plain);
    let addr = |crs| TileAddr {
        tileset: "boundaries".into(),
        z: t.z,
        x: t.x,
        y: t.y,
        scope: PUBLIC_SCOPE.into(),
        crs,
    };
    assert!(server.tile_cache.contains(&addr(TileCrs::Gcj02)));
    assert!(server.tile_cache.contains(&addr(TileCrs::Wgs84)));

    let pixel_m = t.size_m() / 256.0;
    let shifted = lonlat_to_mercator(glon, glat);
    let got = decoded_label(dir.path(), t, &gcj, "410611").expect("label 410611 decoded");
    let off = (got.0 - shifted.0).hypot(got.1 - shifted.1);
    assert!(
        off <= pixel_m,
        "label {off:.1} m from the GCJ-02 point ({pixel_m:.1} m/px)"
    );
    let storage = lonlat_to_mercator(lon, lat);
    let shift_m = (storage.0 - shifted.0).hypot(storage.1 - shifted.1);
    assert!(
        shift_m > 100.0,
        "the GCJ-02 shift in Hebi is hundreds of metres: {shift_m:.0}"
    );

    let (_, tj_body) = {
        let (s, _, b) = get(&server, "/tiles/boundaries?crs=gcj02").await;
        (s, json(&b))
    };
    let plain_tj = json(&get(&server, "/tiles/boundaries").await.2);
    let url = tj_body["tiles"][0].as_str().expect("tile url");
    assert!(
        url.ends_with("/tiles/boundaries/{z}/{x}/{y}.pbf?crs=gcj02"),
        "{url}"
    );
    let pair = |v: &Value, i: usize| {
        let f = |k: usize| v[k].as_f64().expect("number");
        (f(i), f(i + 1))
    };
    let expected = |p: (f64, f64)| wgs84_to_gcj02(p.0, p.1);
    let close = |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9;
    let (center, plain_center) = (pair(&tj_body["center"], 0), pair(&plain_tj["center"], 0));
    assert!(close(center, expected(plain_center)), "{center:?}");
    assert!(
        (center.0 - plain_center.0).abs() > 1e-3,
        "the center did not move"
    );
    for i in [0, 2] {
        let (b, plain_b) = (pair(&tj_body["bounds"], i), pair(&plain_tj["bounds"], i));
        assert!(close(b, expected(plain_b)), "bounds {b:?}");
    }
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn an_edit_invalidates_the_gcj02_variant() {
    let (_dir, server) = server().await;
    let (_, (glon, glat)) = centre(&server);
    let t = TileId::containing(14, glon, glat).expect("tile");
    let (_, before_tag, before) = get(&server, &tile_path(t, "?crs=gcj02")).await;
    let addr = TileAddr {
        tileset: "boundaries".into(),
        z: t.z,
        x: t.x,
        y: t.y,
        scope: PUBLIC_SCOPE.into(),
        crs: TileCrs::Gcj02,
    };
    assert!(server.tile_cache.contains(&addr));
    let renamed = "淇滨区（改）";
    assert!(!before
        .windows(renamed.len())
        .any(|w| w == renamed.as_bytes()));
    let mut district = server
        .engine
        .snapshot()
        .area("410611")
        .expect("410611")
        .clone();
    district.name = renamed.into();
    server.apply(&[Change::UpsertArea(district)]).await;
    assert!(
        !server.tile_cache.contains(&addr),
        "the GCJ-02 tile survived the edit"
    );
    let (_, after_tag, after) = get(&server, &tile_path(t, "?crs=gcj02")).await;
    assert_ne!(before_tag, after_tag);
    assert!(after
        .windows(renamed.len())
        .any(|w| w == renamed.as_bytes()));
    server.stop().await.expect("stop");
}
