//! The embedded GeoPackage store, what only it does: file identity and schema, the GeoPackage
//! forms of stored values, the R-tree and `gpkg_contents` kept current, blob headers, and GDAL
//! reading the file without complaint. The promises every store keeps are tested for this one
//! too by `tests/store_contract.rs`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::records::*;
use geo_types::{Geometry, MultiPolygon, Polygon};
use gridmap::generate::{self, GenerateOptions, Scale};
use gridmap::model::{Change, Level};
use gridmap::store::gpkg::{blob, GpkgStore};
use gridmap::store::{Counts, Store, StoreError};
use rusqlite::Connection;

fn temp_file(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

fn open(path: &Path) -> GpkgStore {
    match GpkgStore::open(path) {
        Ok(store) => store,
        Err(e) => panic!("cannot open {}: {e}", path.display()),
    }
}

fn expect_foreign(path: &Path) -> String {
    match GpkgStore::open(path) {
        Err(StoreError::Connect(message)) => {
            assert!(
                message.contains("is not a GeoPackage written by gridmap"),
                "{message}"
            );
            assert!(message.contains("choose another --data file"), "{message}");
            message
        }
        Err(other) => panic!("expected a connect error, got {other:?}"),
        Ok(_) => panic!("{} was accepted", path.display()),
    }
}

#[test]
fn a_text_file_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = temp_file(&dir, "notes.gpkg");
    std::fs::write(
        &path,
        "not a database at all, just some text that is long enough",
    )
    .expect("write");
    let message = expect_foreign(&path);
    assert!(message.contains("not a SQLite database"), "{message}");
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "not a database at all, just some text that is long enough"
    );
}

#[test]
fn a_plain_sqlite_database_and_a_foreign_geopackage_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plain = temp_file(&dir, "plain.sqlite");
    Connection::open(&plain)
        .and_then(|c| c.execute_batch("CREATE TABLE t (x)"))
        .expect("plain db");
    assert!(expect_foreign(&plain).contains("application_id 0x00000000"));

    let foreign = temp_file(&dir, "foreign.gpkg");
    Connection::open(&foreign)
        .and_then(|c| {
            c.execute_batch(
                "PRAGMA application_id = 1196444487; CREATE TABLE gpkg_contents (table_name TEXT)",
            )
        })
        .expect("foreign gpkg");
    assert!(expect_foreign(&foreign).contains("gridmap_meta"));
    let journal: String = Connection::open(&foreign)
        .and_then(|c| c.query_row("PRAGMA journal_mode", [], |r| r.get(0)))
        .expect("journal mode");
    assert_eq!(
        journal, "delete",
        "a refused file must not be switched to WAL"
    );
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = temp_file(&dir, "newer.gpkg");
    drop(open(&path));
    Connection::open(&path)
        .and_then(|c| {
            c.execute(
                "UPDATE gridmap_meta SET value = '999' WHERE key = 'schema_version'",
                [],
            )
        })
        .expect("bump version");
    match GpkgStore::open(&path) {
        Err(StoreError::Connect(message)) => {
            assert!(message.contains("upgrade gridmap"), "{message}")
        }
        other => panic!("expected a refusal, got {:?}", other.err()),
    }
}

#[test]
fn empty_geometry_blob_has_no_envelope_and_the_empty_flag() {
    let empty: Geometry<f64> = MultiPolygon::<f64>(vec![]).into();
    let bytes = blob::encode(&empty, 4490).expect("encode");
    assert_eq!(&bytes[..3], b"GP\0");
    assert_eq!(
        bytes[3], 0b0001_0001,
        "little-endian, envelope code 0, empty"
    );
    assert_eq!(
        i32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
        4490
    );
    let (header, back) = blob::decode(&bytes).expect("decode");
    assert!(header.empty);
    assert_eq!(header.envelope, None);
    assert_eq!(header.wkb_offset, 8);
    assert_eq!(back, empty);
    assert_eq!(blob::envelope(&bytes).expect("envelope"), None);
}

#[test]
fn polygon_blob_header_carries_its_envelope() {
    let geometry: Geometry<f64> = MultiPolygon(vec![community().geometry.0[0].clone()]).into();
    let bytes = blob::encode(&geometry, 4490).expect("encode");
    assert_eq!(bytes[3], 0b0000_0011, "little-endian, envelope code 1 (xy)");
    let (header, back) = blob::decode(&bytes).expect("decode");
    assert!(!header.empty);
    assert_eq!(header.wkb_offset, 40);
    let e = header.envelope.expect("envelope");
    let expected = [114.10, 114.12, 35.70, 35.72];
    for (got, want) in [e.min_x, e.max_x, e.min_y, e.max_y]
        .into_iter()
        .zip(expected)
    {
        assert!(
            (got - want).abs() < 1e-12,
            "envelope {e:?}, expected {expected:?}"
        );
    }
    assert_eq!(back, geometry);
}

#[tokio::test]
async fn open_on_a_new_path_creates_a_valid_geopackage() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("nested/folder/gridmap.gpkg");
    let store = open(&path);
    assert_eq!(store.name(), "gpkg");
    assert_eq!(store.counts().await.expect("counts"), Counts::default());
    assert!(store.subscribe().is_none());
    assert!(store.load().await.expect("load").areas.is_empty());

    let conn = Connection::open(&path).expect("open");
    let pragma = |name: &str| -> i64 {
        conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
            .expect(name)
    };
    assert_eq!(pragma("application_id"), 0x4750_4B47);
    assert_eq!(pragma("user_version"), 10300);
    let journal: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("journal");
    assert_eq!(journal, "wal");
    let srs: Vec<i64> = query_column(
        &conn,
        "SELECT srs_id FROM gpkg_spatial_ref_sys ORDER BY srs_id",
    );
    assert_eq!(srs, vec![-1, 0, 4326, 4490]);
    let cgcs: String = conn
        .query_row(
            "SELECT definition FROM gpkg_spatial_ref_sys WHERE srs_id = 4490",
            [],
            |r| r.get(0),
        )
        .expect("4490");
    assert!(
        cgcs.contains("CGCS2000") && cgcs.contains("AUTHORITY[\"EPSG\",\"4490\"]"),
        "{cgcs}"
    );
    let contents: Vec<String> = query_column(
        &conn,
        "SELECT table_name || ':' || data_type FROM gpkg_contents ORDER BY table_name",
    );
    assert_eq!(
        contents,
        [
            "area:features",
            "basemap:features",
            "building:features",
            "event:features",
            "event_transition:attributes",
            "house:attributes",
            "population:attributes",
            "worker:attributes",
            "worker_alert:features",
            "worker_fix:features"
        ]
    );
    let geometry_columns: Vec<String> = query_column(
        &conn,
        "SELECT table_name || '.' || column_name || ':' || geometry_type_name || ':' || srs_id
         FROM gpkg_geometry_columns ORDER BY table_name",
    );
    assert_eq!(
        geometry_columns,
        [
            "area.geom:MULTIPOLYGON:4490",
            "basemap.geom:GEOMETRY:4490",
            "building.geom:POLYGON:4490",
            "event.geom:POINT:4490",
            "worker_alert.geom:POINT:4490",
            "worker_fix.geom:POINT:4490"
        ]
    );
    let rtrees: Vec<String> = query_column(
        &conn,
        "SELECT table_name FROM gpkg_extensions WHERE extension_name = 'gpkg_rtree_index' ORDER BY table_name",
    );
    assert_eq!(
        rtrees,
        [
            "area",
            "basemap",
            "building",
            "event",
            "worker_alert",
            "worker_fix"
        ]
    );
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity");
    assert_eq!(integrity, "ok");
}

fn query_column<T: rusqlite::types::FromSql>(conn: &Connection, sql: &str) -> Vec<T> {
    let mut stmt = conn.prepare(sql).expect("prepare");
    let rows = stmt.query_map([], |r| r.get(0)).expect("query");
    rows.collect::<Result<_, _>>().expect("rows")
}

/// The one count of `sql`.
fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).expect(sql)
}

#[tokio::test]
async fn records_survive_reopening_and_are_stored_in_geopackage_forms() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = temp_file(&dir, "round.gpkg");
    let store = open(&path);
    store.apply(&full_batch()).await.expect("apply");
    drop(store);

    let store = open(&path);
    let data = store.load().await.expect("load");
    let mut areas = hierarchy();
    areas.push(fire_grid());
    assert_eq!(
        sorted_by(&data.areas, |a| a.code.clone()),
        sorted_by(&areas, |a| a.code.clone())
    );
    assert_eq!(data.houses, vec![house()]);
    assert_eq!(store.counts().await.expect("counts").worker_fixes, 1);

    let conn = Connection::open(&path).expect("open");
    let fix_row: (String, f64, Option<f64>, String) = conn
        .query_row(
            "SELECT at, accuracy_m, heading_deg, source_crs FROM worker_fix",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .expect("fix");
    assert_eq!(
        fix_row,
        (
            "2024-05-01T09:00:00.250Z".to_string(),
            4.5,
            None,
            "gcj02".to_string()
        )
    );
    let valid_from: String = conn
        .query_row(
            "SELECT valid_from FROM area WHERE code = ?1",
            [COMMUNITY],
            |r| r.get(0),
        )
        .expect("date");
    assert_eq!(valid_from, "2022-01-01");
}

#[tokio::test]
async fn upserts_replace_transition_rows_and_move_the_rtree() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&temp_file(&dir, "upsert.gpkg"));
    store.apply(&full_batch()).await.expect("apply");

    let mut moved = community();
    moved.geometry = MultiPolygon(vec![Polygon::new(square(114.2, 35.8, 0.01), vec![])]);
    let mut progressed = event("E1", 1);
    progressed.transitions.truncate(1);
    store
        .apply(&[Change::UpsertArea(moved), Change::UpsertEvent(progressed)])
        .await
        .expect("upsert");

    let conn = Connection::open(store.path()).expect("open");
    assert_eq!(count(&conn, "SELECT count(*) FROM event_transition"), 1);
    let indexed: (f64, f64) = conn
        .query_row(
            "SELECT r.minx, r.maxy FROM rtree_area_geom r JOIN area a ON a.fid = r.id WHERE a.code = ?1",
            [COMMUNITY],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("rtree row");
    assert!(
        (indexed.0 - 114.2).abs() < 1e-4 && (indexed.1 - 35.81).abs() < 1e-4,
        "R-tree follows the update: {indexed:?}"
    );
    let extent: (f64, f64) = conn
        .query_row(
            "SELECT min_x, max_x FROM gpkg_contents WHERE table_name = 'area'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("extent");
    assert_eq!(extent, (114.0, 114.7));
}

#[tokio::test]
async fn the_rtree_follows_failed_batches_and_deletions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&temp_file(&dir, "rtree.gpkg"));
    let mut batch = full_batch();
    batch.push(Change::UpsertHouse(gridmap::model::House {
        building_code: "41061100100100002".into(),
        ..house()
    }));
    store.apply(&batch).await.expect_err("an orphan house");
    let conn = Connection::open(store.path()).expect("open");
    assert_eq!(
        count(&conn, "SELECT count(*) FROM rtree_area_geom"),
        0,
        "the R-tree rolled back too"
    );

    store.apply(&full_batch()).await.expect("apply");
    store
        .apply(&[
            Change::DeleteHouse(HOUSE.into()),
            Change::DeleteBuilding(BUILDING.into()),
            Change::DeleteArea(GRID.into()),
            Change::DeleteArea(COMMUNITY.into()),
        ])
        .await
        .expect("delete leaves first");
    assert_eq!(
        count(&conn, "SELECT count(*) FROM rtree_area_geom"),
        4,
        "deleted areas left the R-tree"
    );
    assert_eq!(count(&conn, "SELECT count(*) FROM rtree_building_geom"), 0);
}

fn ogrinfo(args: &[&str]) -> (String, String) {
    let output = Command::new("ogrinfo").args(args).output().expect(
        "ogrinfo (GDAL) must be installed to test the GeoPackage store: apt-get install gdal-bin",
    );
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "ogrinfo {args:?} failed: {stderr}");
    (stdout, stderr)
}

#[tokio::test]
async fn gdal_reads_every_layer_without_complaint() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = temp_file(&dir, "gdal.gpkg");
    let store = open(&path);
    let mut batch = full_batch();
    batch.push(Change::UpsertEvent(event("E2", 2)));
    let mut empty = area("410611001001002", Level::Grid, Some(COMMUNITY), 114.0, 0.0);
    empty.geometry = MultiPolygon(vec![]);
    batch.push(Change::UpsertArea(empty));
    store.apply(&batch).await.expect("apply");
    drop(store);
    let file = path.to_str().expect("utf-8 path");

    let (listing, stderr) = ogrinfo(&["-ro", file]);
    assert_eq!(stderr, "", "ogrinfo complained");
    for layer in [
        "area (Multi Polygon)",
        "building (Polygon)",
        "event (Point)",
        "worker_fix (Point)",
        "house (None)",
        "population (None)",
        "event_transition (None)",
        "worker (None)",
    ] {
        assert!(listing.contains(layer), "{layer} missing from:\n{listing}");
    }
    assert!(!listing.contains("gridmap_meta"), "{listing}");

    let (summary, stderr) = ogrinfo(&["-ro", "-so", "-al", file]);
    assert_eq!(stderr, "", "ogrinfo complained");
    for (layer, count) in [
        ("area", 7),
        ("building", 1),
        ("event", 2),
        ("worker_fix", 1),
        ("event_transition", 4),
    ] {
        let section = layer_section(&summary, layer);
        assert!(
            section.contains(&format!("Feature Count: {count}")),
            "{layer}:\n{section}"
        );
    }
    let area = layer_section(&summary, "area");
    assert!(area.contains("ID[\"EPSG\",4490]"), "{area}");
    assert!(
        area.contains("Extent: (114.000000, 35.500000) - (114.700000, 36.200000)"),
        "{area}"
    );
    assert!(area.contains("leader_phone: String"), "{area}");
    assert!(
        layer_section(&summary, "event").contains("reported_at: DateTime"),
        "{summary}"
    );

    let (features, stderr) = ogrinfo(&["-ro", "-al", "-q", file]);
    assert_eq!(stderr, "", "ogrinfo complained while reading every feature");
    assert!(
        features.contains("MULTIPOLYGON EMPTY"),
        "the empty area reads as empty"
    );
    assert!(
        features.contains("reported_at (DateTime) = 2024/05/01 08:00:00.123+00"),
        "{features}"
    );

    let (spatial, stderr) = ogrinfo(&[
        "-ro", file, "-spat", "114.1011", "35.7011", "114.1013", "35.7013", "event",
    ]);
    assert_eq!(stderr, "");
    assert!(spatial.contains("Feature Count: 2"), "{spatial}");
    let (indexed, _) = ogrinfo(&[
        "-ro",
        file,
        "-sql",
        "SELECT HasSpatialIndex('area', 'geom')",
    ]);
    assert!(
        indexed.contains("HasSpatialIndex (Integer) = 1"),
        "{indexed}"
    );
}

/// The part of an `ogrinfo -al` output that describes `layer`.
fn layer_section<'a>(output: &'a str, layer: &str) -> &'a str {
    let marker = format!("Layer name: {layer}\n");
    let start = output
        .find(&marker)
        .unwrap_or_else(|| panic!("no layer {layer} in:\n{output}"));
    let rest = &output[start + marker.len()..];
    let end = rest.find("Layer name: ").unwrap_or(rest.len());
    &rest[..end]
}

#[tokio::test]
async fn gdal_reads_the_generated_sample_city() {
    let opts = GenerateOptions {
        scale: Scale::Sample,
        seed: 1,
        progress: false,
        events: Some(3_000),
        as_of: None,
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let path = temp_file(&dir, "sample.gpkg");
    let store = open(&path);
    generate::generate_into(&store, &opts)
        .await
        .expect("generate into the store");
    let counts = store.counts().await.expect("counts");
    drop(store);

    let (summary_text, stderr) =
        ogrinfo(&["-ro", "-so", "-al", path.to_str().expect("utf-8 path")]);
    assert_eq!(stderr, "", "ogrinfo complained");
    assert!(
        layer_section(&summary_text, "area").contains(&format!("Feature Count: {}", counts.areas)),
        "{summary_text}"
    );
    let (_, stderr) = ogrinfo(&[
        "-ro",
        "-al",
        "-q",
        path.to_str().expect("utf-8 path"),
        "area",
        "building",
    ]);
    assert_eq!(
        stderr, "",
        "ogrinfo complained while reading every area and building"
    );
}
