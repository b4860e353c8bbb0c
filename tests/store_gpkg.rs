//! The embedded GeoPackage store: file identity and schema, round trips of every record kind,
//! atomic batches, integrity rules, the R-tree, and GDAL reading the file without complaint.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use geo_types::{coord, polygon, Geometry, LineString, MultiPolygon, Point, Polygon};
use gridmap::generate::{self, GenerateOptions, Scale};
use gridmap::model::{
    Area, Building, BuildingUse, CareCounts, Change, Evaluation, Event, EventSource, EventStatus,
    HandlingLevel, House, HouseUse, Layer, Level, Population, PopulationCounts, Transition, Worker,
    WorkerFix, WorkerRole,
};
use gridmap::store::gpkg::{blob, GpkgStore};
use gridmap::store::{Counts, Store, StoreError};
use rusqlite::Connection;

const CITY: &str = "410600";
const DISTRICT: &str = "410611";
const STREET: &str = "410611001";
const COMMUNITY: &str = "410611001001";
const GRID: &str = "410611001001001";
const BUILDING: &str = "41061100100100001";
const HOUSE: &str = "4106110010010000101003002";
const WORKER: &str = "W410611001001001";

fn temp_file(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

fn square(x0: f64, y0: f64, size: f64) -> LineString<f64> {
    LineString::from(vec![
        (x0, y0),
        (x0 + size, y0),
        (x0 + size, y0 + size),
        (x0, y0 + size),
        (x0, y0),
    ])
}

fn area(code: &str, level: Level, parent: Option<&str>, x0: f64, size: f64) -> Area {
    Area {
        code: code.into(),
        layer: Layer::Base,
        level,
        name: format!("area {code}"),
        parent_code: parent.map(str::to_string),
        geometry: MultiPolygon(vec![Polygon::new(square(x0, 35.5, size), vec![])]),
        center: None,
        leader_name: None,
        leader_phone: None,
        leader_photo_url: None,
        urban_rural: None,
        valid_from: None,
        valid_to: None,
    }
}

/// A community with a hole and a second part, and every optional field set.
fn community() -> Area {
    let with_hole = Polygon::new(
        square(114.10, 35.70, 0.02),
        vec![square(114.105, 35.705, 0.005)],
    );
    let island = Polygon::new(square(114.13, 35.70, 0.01), vec![]);
    Area {
        code: COMMUNITY.into(),
        layer: Layer::Base,
        level: Level::Community,
        name: "金山社区".into(),
        parent_code: Some(STREET.into()),
        geometry: MultiPolygon(vec![with_hole, island]),
        center: Some(Point::new(114.11, 35.71)),
        leader_name: Some("张三".into()),
        leader_phone: Some("13800000000".into()),
        leader_photo_url: Some("https://example.org/p.jpg".into()),
        urban_rural: Some(111),
        valid_from: NaiveDate::from_ymd_opt(2022, 1, 1),
        valid_to: NaiveDate::from_ymd_opt(2030, 12, 31),
    }
}

fn hierarchy() -> Vec<Area> {
    vec![
        area(CITY, Level::City, None, 114.0, 0.7),
        area(DISTRICT, Level::District, Some(CITY), 114.05, 0.3),
        area(STREET, Level::Street, Some(DISTRICT), 114.08, 0.1),
        community(),
        area(GRID, Level::Grid, Some(COMMUNITY), 114.10, 0.01),
    ]
}

fn building() -> Building {
    Building {
        code: BUILDING.into(),
        name: "1号楼".into(),
        address: Some("金山路1号".into()),
        compound: Some("金山小区".into()),
        building_use: BuildingUse::Residential,
        floors: 18,
        height_m: 54.5,
        geometry: polygon![(x: 114.101, y: 35.701), (x: 114.102, y: 35.701), (x: 114.102, y: 35.702), (x: 114.101, y: 35.701)],
        grid_code: Some(GRID.into()),
    }
}

fn house() -> House {
    House {
        code: HOUSE.into(),
        building_code: BUILDING.into(),
        unit: 1,
        floor: 3,
        room: "02".into(),
        house_use: HouseUse::Rented,
        households: 1,
    }
}

fn population() -> Population {
    let mut care = [0; 10];
    for (i, c) in care.iter_mut().enumerate() {
        *c = i as i32 + 1;
    }
    Population {
        house_code: HOUSE.into(),
        counts: PopulationCounts {
            registered: 3,
            floating: 2,
            overseas: 1,
            care: CareCounts::from_array(care),
        },
    }
}

fn worker() -> Worker {
    Worker {
        code: WORKER.into(),
        name: "李四".into(),
        phone: Some("13900000000".into()),
        role: WorkerRole::GridWorker,
        home_code: GRID.into(),
        device: Some("dev-1".into()),
    }
}

fn at(day: u32, hour: u32, millis: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, day, hour, 0, 0)
        .single()
        .expect("valid time")
        + Duration::milliseconds(millis)
}

fn fix() -> WorkerFix {
    WorkerFix {
        worker_code: WORKER.into(),
        at: at(1, 9, 250),
        position: Point::new(114.1015, 35.7015),
        accuracy_m: Some(4.5),
        speed_mps: Some(1.25),
        heading_deg: None,
        source_crs: "gcj02".into(),
    }
}

fn event(code: &str, day: u32) -> Event {
    Event {
        code: code.into(),
        external_id: Some(format!("ext-{code}")),
        idempotency_scope: "410600".into(),
        title: "占道经营".into(),
        category: "0102".into(),
        source: EventSource::Hotline,
        content: "路口有占道经营".into(),
        reporter_name: Some("王五".into()),
        reporter_phone: Some("12345".into()),
        location: Point::new(114.1012, 35.7012),
        address: Some("金山路口".into()),
        area_code: Some(GRID.into()),
        outside_grid: false,
        status: EventStatus::Evaluated,
        level: HandlingLevel::Street,
        department: Some("城管".into()),
        reported_at: at(day, 8, 123),
        deadline: Some(at(day + 2, 8, 0)),
        closed_at: Some(at(day + 1, 17, 999)),
        evaluation: Some(Evaluation {
            score: 5,
            comment: Some("满意".into()),
        }),
        transitions: vec![
            Transition {
                at: at(day, 8, 123),
                from: None,
                to: EventStatus::Reported,
                actor: "hotline".into(),
                level: HandlingLevel::Community,
                department: None,
                note: None,
            },
            Transition {
                at: at(day, 9, 1),
                from: Some(EventStatus::Reported),
                to: EventStatus::Registered,
                actor: WORKER.into(),
                level: HandlingLevel::Street,
                department: Some("城管".into()),
                note: Some("已立案".into()),
            },
        ],
    }
}

/// Every record kind, parents first.
fn full_batch() -> Vec<Change> {
    let mut changes: Vec<Change> = hierarchy().into_iter().map(Change::UpsertArea).collect();
    changes.extend([
        Change::UpsertBuilding(building()),
        Change::UpsertHouse(house()),
        Change::SetPopulation(population()),
        Change::UpsertWorker(worker()),
        Change::InsertFix(fix()),
        Change::UpsertEvent(event("E1", 1)),
    ]);
    changes
}

fn open(path: &Path) -> GpkgStore {
    match GpkgStore::open(path) {
        Ok(store) => store,
        Err(e) => panic!("cannot open {}: {e}", path.display()),
    }
}

async fn load_events(store: &GpkgStore) -> Vec<Event> {
    let mut events = Vec::new();
    store
        .load_events(&mut |chunk| events.extend(chunk))
        .await
        .expect("load events");
    events
}

fn sorted_by<T: Clone, K: Ord>(items: &[T], key: impl Fn(&T) -> K) -> Vec<T> {
    let mut v = items.to_vec();
    v.sort_by_key(key);
    v
}

fn expect_data_error(result: Result<(), StoreError>, needle: &str) {
    match result {
        Err(StoreError::Data(message)) => {
            assert!(message.contains(needle), "{message:?} lacks {needle:?}")
        }
        other => panic!("expected a data error about {needle:?}, got {other:?}"),
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
            "worker_fix.geom:POINT:4490"
        ]
    );
    let rtrees: Vec<String> = query_column(
        &conn,
        "SELECT table_name FROM gpkg_extensions WHERE extension_name = 'gpkg_rtree_index' ORDER BY table_name",
    );
    assert_eq!(
        rtrees,
        ["area", "basemap", "building", "event", "worker_fix"]
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

#[tokio::test]
async fn every_record_kind_round_trips_and_survives_reopening() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = temp_file(&dir, "round.gpkg");
    let store = open(&path);
    store.apply(&full_batch()).await.expect("apply");
    drop(store);

    let store = open(&path);
    let data = store.load().await.expect("load");
    assert_eq!(
        sorted_by(&data.areas, |a| a.code.clone()),
        sorted_by(&hierarchy(), |a| a.code.clone())
    );
    let levels: Vec<Level> = data.areas.iter().map(|a| a.level).collect();
    assert!(
        levels.windows(2).all(|w| w[0] <= w[1]),
        "areas come parents first: {levels:?}"
    );
    assert_eq!(data.buildings, vec![building()]);
    assert_eq!(data.houses, vec![house()]);
    assert_eq!(data.population, vec![population()]);
    assert_eq!(data.workers, vec![worker()]);
    assert_eq!(load_events(&store).await, vec![event("E1", 1)]);
    assert_eq!(
        store.counts().await.expect("counts"),
        Counts {
            areas: 5,
            buildings: 1,
            houses: 1,
            population: 1,
            events: 1,
            workers: 1,
            worker_fixes: 1
        }
    );

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
async fn upserts_update_in_place_and_replace_transitions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&temp_file(&dir, "upsert.gpkg"));
    store.apply(&full_batch()).await.expect("apply");

    let mut renamed = community();
    renamed.name = "新金山社区".into();
    renamed.geometry = MultiPolygon(vec![Polygon::new(square(114.2, 35.8, 0.01), vec![])]);
    let mut moved = building();
    moved.floors = 20;
    moved.grid_code = None;
    let mut progressed = event("E1", 1);
    progressed.status = EventStatus::Registered;
    progressed.evaluation = None;
    progressed.closed_at = None;
    progressed.transitions.truncate(1);
    let mut recounted = population();
    recounted.counts.floating = 7;
    store
        .apply(&[
            Change::UpsertArea(renamed.clone()),
            Change::UpsertBuilding(moved.clone()),
            Change::UpsertEvent(progressed.clone()),
            Change::SetPopulation(recounted.clone()),
            Change::InsertFix(fix()),
        ])
        .await
        .expect("upsert");

    let data = store.load().await.expect("load");
    assert_eq!(
        data.areas.iter().find(|a| a.code == COMMUNITY),
        Some(&renamed)
    );
    assert_eq!(data.buildings, vec![moved]);
    assert_eq!(data.population, vec![recounted]);
    assert_eq!(load_events(&store).await, vec![progressed]);
    let counts = store.counts().await.expect("counts");
    assert_eq!(
        (counts.areas, counts.events, counts.worker_fixes),
        (5, 1, 1),
        "upserts add no rows"
    );

    let conn = Connection::open(store.path()).expect("open");
    let transitions: i64 = conn
        .query_row("SELECT count(*) FROM event_transition", [], |r| r.get(0))
        .expect("count");
    assert_eq!(transitions, 1);
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
async fn a_failing_batch_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&temp_file(&dir, "atomic.gpkg"));
    let mut orphan = house();
    orphan.code = "4106110010010000201001001".into();
    orphan.building_code = "41061100100100002".into();
    let mut batch = full_batch();
    batch.insert(6, Change::UpsertHouse(orphan));
    expect_data_error(
        store.apply(&batch).await,
        "its building 41061100100100002 is not stored",
    );
    assert_eq!(store.counts().await.expect("counts"), Counts::default());
    let conn = Connection::open(store.path()).expect("open");
    let indexed: i64 = conn
        .query_row("SELECT count(*) FROM rtree_area_geom", [], |r| r.get(0))
        .expect("rtree");
    assert_eq!(indexed, 0, "the R-tree rolled back too");
    drop(conn);

    store
        .apply(&full_batch())
        .await
        .expect("the store still works after a failed batch");
    assert_eq!(store.counts().await.expect("counts").events, 1);
}

#[tokio::test]
async fn references_are_checked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&temp_file(&dir, "refs.gpkg"));
    expect_data_error(
        store.apply(&[Change::UpsertBuilding(building())]).await,
        "its community 410611001001 is not stored",
    );
    expect_data_error(
        store.apply(&[Change::SetPopulation(population())]).await,
        "the house is not stored",
    );
    expect_data_error(
        store.apply(&[Change::InsertFix(fix())]).await,
        "the worker is not stored",
    );
    let mut short = building();
    short.code = "4106".into();
    expect_data_error(
        store.apply(&[Change::UpsertBuilding(short)]).await,
        "12-digit community code",
    );

    store.apply(&full_batch()).await.expect("apply");
    let mut twin = event("E2", 2);
    twin.external_id = event("E1", 1).external_id;
    expect_data_error(
        store.apply(&[Change::UpsertEvent(twin)]).await,
        "event E2 violates a constraint",
    );
}

#[tokio::test]
async fn deletions_respect_children_and_cascade_population() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&temp_file(&dir, "delete.gpkg"));
    store.apply(&full_batch()).await.expect("apply");

    expect_data_error(
        store.apply(&[Change::DeleteArea(STREET.into())]).await,
        "still has child areas (e.g. 410611001001)",
    );
    expect_data_error(
        store
            .apply(&[
                Change::DeleteArea(GRID.into()),
                Change::DeleteArea(COMMUNITY.into()),
            ])
            .await,
        "still has buildings",
    );
    expect_data_error(
        store
            .apply(&[Change::DeleteBuilding(BUILDING.into())])
            .await,
        "still has houses",
    );
    assert_eq!(
        store.counts().await.expect("counts").areas,
        5,
        "the refused batches wrote nothing"
    );

    store
        .apply(&[
            Change::DeleteHouse(HOUSE.into()),
            Change::DeleteBuilding(BUILDING.into()),
            Change::DeleteArea(GRID.into()),
            Change::DeleteArea(COMMUNITY.into()),
            Change::DeleteWorker(WORKER.into()),
            Change::DeleteArea("410699999999".into()),
        ])
        .await
        .expect("delete leaves first");
    let counts = store.counts().await.expect("counts");
    assert_eq!(
        (
            counts.areas,
            counts.buildings,
            counts.houses,
            counts.population,
            counts.workers
        ),
        (3, 0, 0, 0, 0)
    );
    let conn = Connection::open(store.path()).expect("open");
    let indexed: i64 = conn
        .query_row("SELECT count(*) FROM rtree_area_geom", [], |r| r.get(0))
        .expect("rtree");
    assert_eq!(indexed, 3, "deleted areas left the R-tree");
}

#[tokio::test]
async fn events_stream_oldest_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&temp_file(&dir, "events.gpkg"));
    assert!(load_events(&store).await.is_empty());
    store.apply(&full_batch()).await.expect("apply");
    let mut events: Vec<Change> = [("E3", 3), ("E0", 20), ("E2", 2)]
        .into_iter()
        .map(|(code, day)| Change::UpsertEvent(event(code, day)))
        .collect();
    let mut no_transitions = event("E4", 4);
    no_transitions.transitions.clear();
    no_transitions.external_id = None;
    events.push(Change::UpsertEvent(no_transitions.clone()));
    store.apply(&events).await.expect("apply events");
    let loaded = load_events(&store).await;
    let codes: Vec<&str> = loaded.iter().map(|e| e.code.as_str()).collect();
    assert_eq!(codes, ["E1", "E2", "E3", "E4", "E0"]);
    assert_eq!(loaded[3], no_transitions);
}

#[tokio::test]
async fn many_events_in_one_batch() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&temp_file(&dir, "bulk.gpkg"));
    store.apply(&full_batch()).await.expect("apply");
    let batch: Vec<Change> = (0..120_000)
        .map(|i| {
            let mut e = event(&format!("B{i:07}"), 1);
            e.external_id = Some(format!("bulk-{i}"));
            e.reported_at = at(1, 0, i);
            e.location = Point(
                coord! { x: 114.0 + (i % 1000) as f64 * 1e-4, y: 35.5 + (i / 1000) as f64 * 1e-4 },
            );
            Change::UpsertEvent(e)
        })
        .collect();
    let started = std::time::Instant::now();
    store.apply(&batch).await.expect("bulk apply");
    let elapsed = started.elapsed();
    eprintln!(
        "120000 events with 240000 transitions in {elapsed:?} ({:.0} events/s)",
        120_000.0 / elapsed.as_secs_f64()
    );
    let mut chunks = Vec::new();
    store
        .load_events(&mut |chunk| chunks.push(chunk.len()))
        .await
        .expect("load");
    assert_eq!(chunks, [50_000, 50_000, 20_001]);
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
        ("area", 6),
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
async fn the_generated_sample_city_round_trips_and_gdal_reads_it() {
    let opts = GenerateOptions {
        scale: Scale::Sample,
        seed: 1,
        progress: false,
        events: Some(3_000),
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let path = temp_file(&dir, "sample.gpkg");
    let store = open(&path);
    let summary = generate::generate_into(&store, &opts)
        .await
        .expect("generate into the store");
    let city = generate::city(&opts).expect("city");
    let expected = &city.dataset;

    let data = store.load().await.expect("load");
    assert_eq!(
        sorted_by(&data.areas, |a| a.code.clone()),
        sorted_by(&expected.areas, |a| a.code.clone())
    );
    assert_eq!(
        sorted_by(&data.buildings, |b| b.code.clone()),
        sorted_by(&expected.buildings, |b| b.code.clone())
    );
    assert_eq!(
        sorted_by(&data.houses, |h| h.code.clone()),
        sorted_by(&expected.houses, |h| h.code.clone())
    );
    assert_eq!(
        sorted_by(&data.population, |p| p.house_code.clone()),
        sorted_by(&expected.population, |p| p.house_code.clone())
    );
    assert_eq!(
        sorted_by(&data.workers, |w| w.code.clone()),
        sorted_by(&expected.workers, |w| w.code.clone())
    );
    let events = load_events(&store).await;
    let generated: Vec<Event> = generate::events(&city, &opts).flatten().collect();
    assert_eq!(
        sorted_by(&events, |e| e.code.clone()),
        sorted_by(&generated, |e| e.code.clone())
    );
    assert!(
        events
            .windows(2)
            .all(|w| w[0].reported_at <= w[1].reported_at),
        "events stream oldest first"
    );
    let counts = store.counts().await.expect("counts");
    assert_eq!(
        (
            counts.areas,
            counts.buildings,
            counts.houses,
            counts.population,
            counts.events,
            counts.workers,
            counts.worker_fixes
        ),
        (
            summary.areas,
            summary.buildings,
            summary.houses,
            summary.population_rows,
            summary.events,
            summary.workers,
            summary.worker_fixes
        )
    );
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
