//! The basemap end to end: stored in both stores (GeoPackage read back by GDAL too), delivered
//! by the PostGIS change feed when edited in SQL, imported from GeoJSON with per-feature errors,
//! generated into every new store, and cut into tiles whose cache forgets exactly the tiles an
//! edit touches.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use geo::{BoundingRect, Translate};
use geo_types::{coord, line_string, polygon, LineString, MultiPolygon, Rect};
use gridmap::config::StoreLocation;
use gridmap::import::{import_file, ImportKind, ImportOptions};
use gridmap::model::{BasemapFeature, BasemapGeometry, BasemapKind, Change};
use gridmap::serve::{self, Server};
use gridmap::store::gpkg::GpkgStore;
use gridmap::store::postgis::PostgisStore;
use gridmap::store::Store;
use gridmap::tiles::cache::{TileAddr, PUBLIC_SCOPE};
use gridmap::tiles::coding::etag_of;
use gridmap::tiles::invalidate::{tile_range, tileset_buffer_units};
use gridmap::tiles::TileRange;
use gridmap::tiles::{render_tile, TileCrs, TileId};

fn road(code: &str, kind: BasemapKind, line: LineString<f64>) -> BasemapFeature {
    BasemapFeature {
        code: code.into(),
        kind,
        name: format!("{code}路"),
        geometry: BasemapGeometry::Line(line),
    }
}

/// A motorway, a river and a lake with an island: one of each shape and kind family.
fn features() -> Vec<BasemapFeature> {
    let lake = polygon!(
        exterior: [(x: 114.10, y: 35.80), (x: 114.14, y: 35.80), (x: 114.14, y: 35.84), (x: 114.10, y: 35.84)],
        interiors: [[(x: 114.11, y: 35.81), (x: 114.12, y: 35.81), (x: 114.12, y: 35.82)]],
    );
    vec![
        road(
            "R001",
            BasemapKind::Motorway,
            line_string![(x: 114.40, y: 36.0), (x: 114.39, y: 35.8), (x: 114.38, y: 35.5)],
        ),
        road(
            "V001",
            BasemapKind::River,
            line_string![(x: 114.0, y: 35.87), (x: 114.23, y: 35.75), (x: 114.48, y: 35.6)],
        ),
        BasemapFeature {
            code: "W001".into(),
            kind: BasemapKind::Water,
            name: "水库".into(),
            geometry: BasemapGeometry::Area(MultiPolygon(vec![lake])),
        },
    ]
}

/// Every stored change a store must round-trip: upserts, a replacement, a delete.
async fn round_trip(store: &dyn Store) {
    let mut all = features();
    store
        .apply(
            &all.iter()
                .cloned()
                .map(Change::UpsertBasemap)
                .collect::<Vec<_>>(),
        )
        .await
        .expect("upserts");
    assert_eq!(
        sorted(store.load().await.expect("load").basemap),
        sorted(all.clone())
    );
    all[0].name = "G4京港澳高速".into();
    all[0].kind = BasemapKind::Primary;
    all[0].geometry = BasemapGeometry::Line(line_string![(x: 114.5, y: 35.9), (x: 114.6, y: 35.9)]);
    store
        .apply(&[
            Change::UpsertBasemap(all[0].clone()),
            Change::DeleteBasemap("V001".into()),
            Change::DeleteBasemap("NOT-THERE".into()),
        ])
        .await
        .expect("update and deletes");
    all.remove(1);
    assert_eq!(
        sorted(store.load().await.expect("load").basemap),
        sorted(all)
    );
}

fn sorted(mut v: Vec<BasemapFeature>) -> Vec<BasemapFeature> {
    v.sort_by(|a, b| a.code.cmp(&b.code));
    v
}

#[tokio::test]
async fn gpkg_stores_the_basemap_and_gdal_reads_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.gpkg");
    let store = GpkgStore::open(&path).expect("open");
    round_trip(&store).await;
    drop(store);
    let reopened = GpkgStore::open(&path).expect("reopen");
    assert_eq!(reopened.load().await.expect("load").basemap.len(), 2);
    assert_eq!(common::gdal::ogrinfo_counts(&path).get("basemap"), Some(&2));
    // A water feature with a line is refused, and nothing of its batch is stored.
    let err = reopened
        .apply(&[
            Change::UpsertBasemap(road(
                "R009",
                BasemapKind::Primary,
                line_string![(x: 114.0, y: 35.0), (x: 114.1, y: 35.1)],
            )),
            Change::UpsertBasemap(BasemapFeature {
                kind: BasemapKind::Water,
                ..road(
                    "W009",
                    BasemapKind::Primary,
                    line_string![(x: 114.0, y: 35.0), (x: 114.1, y: 35.1)],
                )
            }),
        ])
        .await
        .expect_err("a water line is refused");
    assert!(err.to_string().contains("W009"), "{err}");
    assert_eq!(reopened.load().await.expect("load").basemap.len(), 2);
}

#[tokio::test]
async fn the_generated_sample_has_its_basemap_in_the_store() {
    let store = GpkgStore::open(common::sample_gpkg()).expect("open sample");
    let stored = store.load().await.expect("load").basemap;
    let generated = gridmap::generate::city(&common::sample_options())
        .expect("city")
        .dataset
        .basemap;
    assert_eq!(stored.len(), 13);
    assert_eq!(sorted(stored), sorted(generated));
}

#[tokio::test]
async fn postgis_stores_the_basemap_and_reports_sql_edits() {
    let url = common::fresh_postgis_url().await;
    let store = PostgisStore::connect(&url).await.expect("connect");
    round_trip(&store).await;
    let mut feed = store.subscribe().expect("change feed");
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("psql-like client");
    tokio::spawn(conn);
    // A kind that does not fit its shape is refused by the table's CHECK.
    let bad = client
        .execute(
            "INSERT INTO basemap (code, kind, name, geom) VALUES \
             ('W002', 'water', 'x', ST_GeomFromText('LINESTRING(114 35, 114.1 35.1)', 4490))",
            &[],
        )
        .await
        .expect_err("a water line is refused");
    assert!(
        format!("{bad:?}").contains("basemap_shape_of_kind"),
        "{bad:?}"
    );
    client
        .batch_execute(
            "UPDATE basemap SET name = '淇河路' WHERE code = 'R001';
             INSERT INTO basemap (code, kind, name, geom) VALUES
               ('R002', 'secondary', '华山路', ST_GeomFromText('LINESTRING(114.28 35.82, 114.287 35.73)', 4490));
             DELETE FROM basemap WHERE code = 'W001';",
        )
        .await
        .expect("edits from another client");
    let mut got: Vec<Change> = Vec::new();
    let started = Instant::now();
    while got.len() < 3 {
        let left = Duration::from_secs(10).saturating_sub(started.elapsed());
        match tokio::time::timeout(left, feed.recv()).await {
            Ok(Some(change)) => got.push(change),
            _ => panic!("the change feed delivered only {got:?}"),
        }
    }
    let upserted: BTreeMap<String, BasemapFeature> = got
        .iter()
        .filter_map(|c| match c {
            Change::UpsertBasemap(f) => Some((f.code.clone(), f.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(upserted["R001"].name, "淇河路");
    assert_eq!(upserted["R002"].kind, BasemapKind::Secondary);
    assert!(matches!(&upserted["R002"].geometry, BasemapGeometry::Line(l) if l.0.len() == 2));
    assert!(
        got.contains(&Change::DeleteBasemap("W001".into())),
        "{got:?}"
    );
}

#[tokio::test]
async fn geojson_imports_with_per_feature_errors_and_stable_ids() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = GpkgStore::open(&dir.path().join("store.gpkg")).expect("open");
    let file = dir.path().join("basemap.geojson");
    let line = r#"{"type": "LineString", "coordinates": [[114.2, 35.7], [114.3, 35.8]]}"#;
    let square = r#"{"type": "Polygon", "coordinates": [[[114.1, 35.8], [114.2, 35.8], [114.2, 35.9], [114.1, 35.8]]]}"#;
    let feature = |props: &str, geometry: &str| {
        format!(r#"{{"type": "Feature", "properties": {{{props}}}, "geometry": {geometry}}}"#)
    };
    let features = [
        feature(
            r#""id": "G107", "kind": "primary", "name": "G107国道""#,
            line,
        ),
        feature(r#""kind": "river", "name": "淇河""#, line),
        feature(r#""class": "water", "name": "水库""#, square),
        feature(r#""id": "BAD1", "kind": "motorway", "name": "x""#, square),
        feature(r#""kind": "canal", "name": "x""#, line),
        feature(r#""kind": "secondary""#, line),
        feature(r#""id": "a b", "kind": "secondary", "name": "x""#, line),
        feature(
            r#""kind": "river", "name": "x""#,
            r#"{"type": "LineString", "coordinates": [[114.2, 35.7], [114.2, 35.7]]}"#,
        ),
        feature(r#""id": "G107", "kind": "primary", "name": "again""#, line),
    ];
    std::fs::write(
        &file,
        format!(
            r#"{{"type": "FeatureCollection", "features": [{}]}}"#,
            features.join(",")
        ),
    )
    .expect("write file");
    let all_or_nothing = import_file(&store, &file, &ImportOptions::new(ImportKind::Basemap))
        .await
        .expect("import runs");
    assert_eq!(
        (
            all_or_nothing.read,
            all_or_nothing.valid,
            all_or_nothing.written
        ),
        (9, 3, 0)
    );
    let by_index: BTreeMap<usize, String> = all_or_nothing
        .errors
        .iter()
        .map(|e| (e.index, e.message.clone()))
        .collect();
    assert_eq!(
        by_index.keys().copied().collect::<Vec<_>>(),
        [3, 4, 5, 6, 7, 8]
    );
    assert!(
        by_index[&3].contains("must be a LineString, found Polygon"),
        "{}",
        by_index[&3]
    );
    assert!(by_index[&4].contains("canal"), "{}", by_index[&4]);
    assert!(by_index[&5].contains("name"), "{}", by_index[&5]);
    assert!(by_index[&6].contains("\"a b\""), "{}", by_index[&6]);
    assert!(
        by_index[&7].contains("two distinct positions"),
        "{}",
        by_index[&7]
    );
    assert!(
        by_index[&8].contains("duplicate id G107"),
        "{}",
        by_index[&8]
    );
    assert!(store.load().await.expect("load").basemap.is_empty());

    let mut partial = ImportOptions::new(ImportKind::Basemap);
    partial.all_or_nothing = false;
    let report = import_file(&store, &file, &partial).await.expect("import");
    assert_eq!(report.written, 3);
    let stored = sorted(store.load().await.expect("load").basemap);
    let codes: Vec<&str> = stored.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes[0], "G107");
    assert!(
        codes[1].starts_with("V-") && codes[2].starts_with("W-"),
        "{codes:?}"
    );
    // Importing the same file again updates the same rows.
    import_file(&store, &file, &partial)
        .await
        .expect("import again");
    assert_eq!(sorted(store.load().await.expect("load").basemap), stored);
    // The command line knows the kind.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gridmap"))
        .args(["import", "--kind", "basemap", "--dry-run", "--data"])
        .arg(dir.path().join("cli.gpkg"))
        .arg(&file)
        .output()
        .expect("gridmap runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("canal"), "{text}");
}

async fn gpkg_server(dir: &tempfile::TempDir) -> Server {
    let path = common::sample_copy(dir.path());
    serve::start(&common::test_config(StoreLocation::Gpkg(path)))
        .await
        .expect("server starts")
}

/// The ETag of every basemap tile of the blocks, in z/x/y order (the tileset is public).
async fn etags(server: &Server, blocks: &[TileRange]) -> BTreeMap<(u8, u32, u32), String> {
    let client = reqwest::Client::new();
    let mut out = BTreeMap::new();
    for block in blocks {
        for (x, y) in block.tiles() {
            let url = format!("{}/tiles/basemap/{}/{x}/{y}.pbf", server.url(), block.z);
            let resp = client.get(&url).send().await.expect("request");
            assert!(
                matches!(resp.status().as_u16(), 200 | 204),
                "{url}: {}",
                resp.status()
            );
            let tag = resp.headers()["etag"].to_str().expect("etag").to_string();
            out.insert((block.z, x, y), tag);
        }
    }
    out
}

#[tokio::test]
async fn a_basemap_edit_invalidates_exactly_the_tiles_it_touches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = gpkg_server(&dir).await;
    let tilejson: serde_json::Value = reqwest::get(format!("{}/tiles/basemap", server.url()))
        .await
        .expect("TileJSON")
        .json()
        .await
        .expect("TileJSON is JSON");
    let layers: Vec<&str> = tilejson["vector_layers"]
        .as_array()
        .expect("vector_layers")
        .iter()
        .filter_map(|l| l["id"].as_str())
        .collect();
    assert_eq!(layers, ["water", "waterway", "road"], "{tilejson}");
    assert_eq!(tilejson["vector_layers"][2]["fields"]["class"], "String");
    let snap = server.engine.snapshot();
    // 华山路, a short secondary road: drawn from z12.
    let old = snap
        .basemap_in_bbox(Rect::new(
            coord! {x: 114.0, y: 35.4},
            coord! {x: 114.8, y: 36.1},
        ))
        .into_iter()
        .find(|f| f.name == "华山路")
        .expect("华山路 in the sample")
        .clone();
    let BasemapGeometry::Line(line) = &old.geometry else {
        panic!("a road is a line");
    };
    let old_box = line.bounding_rect().expect("bbox");
    let mut moved = old.clone();
    moved.name = "华山路（新）".into();
    moved.geometry = BasemapGeometry::Line(line.translate(0.01, 0.0));
    let BasemapGeometry::Line(new_line) = &moved.geometry else {
        unreachable!()
    };
    let new_box = new_line.bounding_rect().expect("bbox");
    let tileset = server.tilesets.get("basemap").expect("basemap").clone();
    let buffer = tileset_buffer_units(&tileset);
    let touched = |z: u8, x: u32, y: u32| {
        [old_box, new_box]
            .iter()
            .any(|b| tile_range(*b, z, buffer).contains(x, y))
    };
    let blocks: Vec<TileRange> = [12u8, 14]
        .into_iter()
        .map(|z| {
            let r = tile_range(old_box, z, buffer);
            let n = tile_range(new_box, z, buffer);
            TileRange {
                z,
                min_x: r.min_x.min(n.min_x) - 2,
                max_x: r.max_x.max(n.max_x) + 2,
                min_y: r.min_y.min(n.min_y) - 2,
                max_y: r.max_y.max(n.max_y) + 2,
            }
        })
        .collect();
    let before = etags(&server, &blocks).await;
    let addr = |&(z, x, y): &(u8, u32, u32)| TileAddr {
        tileset: "basemap".into(),
        z,
        x,
        y,
        scope: PUBLIC_SCOPE.into(),
        crs: TileCrs::Wgs84,
    };
    assert!(before.keys().all(|k| server.tile_cache.contains(&addr(k))));

    server
        .store
        .apply(&[Change::UpsertBasemap(moved.clone())])
        .await
        .expect("store the edit");
    server.apply(&[Change::UpsertBasemap(moved)]).await;

    for k @ &(z, x, y) in before.keys() {
        assert_eq!(
            server.tile_cache.contains(&addr(k)),
            !touched(z, x, y),
            "tile {z}/{x}/{y}: cached after the edit must mean untouched by it"
        );
    }
    let after = etags(&server, &blocks).await;
    let snap = server.engine.snapshot();
    let fresh = |z, x, y| {
        etag_of(
            &render_tile(&snap, &tileset, z, x, y, &|_| true)
                .expect("render")
                .bytes,
        )
    };
    common::assert_only_touched_tiles_changed(
        &before,
        &after,
        fresh,
        touched,
        "moving and renaming a road",
    );
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn a_basemap_edit_in_sql_reaches_the_cached_tiles() {
    let (url, server) = common::postgis_sample_server().await;
    let g4 = server
        .engine
        .snapshot()
        .basemap_feature("R001")
        .expect("G4 is R001")
        .clone();
    let BasemapGeometry::Line(line) = &g4.geometry else {
        panic!("a road is a line");
    };
    let c = line.0[1];
    let t = TileId::containing(10, c.x, c.y).expect("tile");
    let tile_url = format!("{}/tiles/basemap/{}/{}/{}.pbf", server.url(), t.z, t.x, t.y);
    let get = || async {
        let resp = reqwest::get(&tile_url).await.expect("request");
        let tag = resp.headers()["etag"].to_str().expect("etag").to_string();
        (tag, resp.bytes().await.expect("body").to_vec())
    };
    let contains =
        |hay: &[u8], needle: &str| hay.windows(needle.len()).any(|w| w == needle.as_bytes());
    let (before_tag, before) = get().await;
    let renamed = "京港澳高速（改）";
    assert!(contains(&before, &g4.name) && !contains(&before, renamed));
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("psql-like client");
    tokio::spawn(conn);
    client
        .execute(
            "UPDATE basemap SET name = $1 WHERE code = 'R001'",
            &[&renamed],
        )
        .await
        .expect("update from another client");
    let started = Instant::now();
    loop {
        let (tag, body) = get().await;
        if contains(&body, renamed) {
            assert_ne!(tag, before_tag);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the cached basemap tile still shows the old name 3 s after the edit"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop().await.expect("stop");
}

#[test]
fn tiles_of_an_empty_basemap_are_empty() {
    let engine = gridmap::engine::Engine::new(gridmap::model::Dataset::default());
    let sets = gridmap::tiles::Tilesets::parse(gridmap::serve::TILESETS_TOML, "tilesets.toml")
        .expect("tilesets");
    let t = TileId::containing(12, 114.3, 35.75).expect("tile");
    let out = render_tile(
        &engine.snapshot(),
        sets.get("basemap").expect("basemap"),
        t.z,
        t.x,
        t.y,
        &|_| true,
    )
    .expect("render");
    assert!(out.bytes.is_empty());
}
