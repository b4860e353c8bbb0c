//! The PostGIS store against a real server: migrations, round trips, rejected batches, CHECK
//! constraints, the silent write path, the NOTIFY change feed (also across a killed connection)
//! and the day partitions of GPS fixes. Each test has its own database.

mod common;

use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use geo_types::{coord, LineString, MultiPolygon, Point, Polygon};
use gridmap::generate::{self, GenerateOptions, Scale};
use gridmap::model::{
    validate_code, Area, Building, BuildingUse, CareCounts, Change, Evaluation, Event, EventSource,
    EventStatus, HandlingLevel, House, HouseUse, Layer, Level, Population, PopulationCounts,
    Transition, Worker, WorkerFix, WorkerRole,
};
use gridmap::store::postgis::PostgisStore;
use gridmap::store::{Counts, Store};
use tokio::sync::mpsc;
use tokio_postgres::NoTls;

const COMMUNITY: &str = "410611001001";
const GRID: &str = "410611001001001";
const BUILDING: &str = "41061100100100001";
const HOUSE: &str = "410611001001000010100101";

// ---------------------------------------------------------------------------------------------
// Test data, by hand
// ---------------------------------------------------------------------------------------------

fn square(x: f64, y: f64, size: f64) -> LineString<f64> {
    LineString::from(vec![
        (x, y),
        (x + size, y),
        (x + size, y + size),
        (x, y + size),
        (x, y),
    ])
}

/// A grid of two parts, the first with a hole.
fn grid_area() -> Area {
    let with_hole = Polygon::new(
        square(114.20, 35.70, 0.01),
        vec![square(114.203, 35.703, 0.002)],
    );
    let island = Polygon::new(square(114.22, 35.70, 0.005), vec![]);
    Area {
        code: GRID.into(),
        layer: Layer::Base,
        level: Level::Grid,
        name: "金山一网格".into(),
        parent_code: Some(COMMUNITY.into()),
        geometry: MultiPolygon(vec![with_hole, island]),
        center: Some(Point::new(114.201, 35.701)),
        leader_name: Some("王芳".into()),
        leader_phone: Some("13800000001".into()),
        leader_photo_url: Some("https://example.org/p/1.jpg".into()),
        urban_rural: Some(111),
        valid_from: NaiveDate::from_ymd_opt(2023, 1, 1),
        valid_to: NaiveDate::from_ymd_opt(2030, 12, 31),
    }
}

/// A fire-safety business grid with no optional attribute.
fn bare_area() -> Area {
    Area {
        code: "410611001F01".into(),
        layer: Layer::Business("fire".into()),
        level: Level::Street,
        name: "金山消防一级网格".into(),
        parent_code: None,
        geometry: MultiPolygon(vec![Polygon::new(square(114.1, 35.6, 0.2), vec![])]),
        center: None,
        leader_name: None,
        leader_phone: None,
        leader_photo_url: None,
        urban_rural: None,
        valid_from: None,
        valid_to: None,
    }
}

fn building(code: &str) -> Building {
    Building {
        code: code.into(),
        name: "1号楼".into(),
        address: Some("淇滨区金山街道1号".into()),
        compound: Some("金山小区".into()),
        building_use: BuildingUse::Residential,
        floors: 6,
        height_m: 18.5,
        geometry: Polygon::new(square(114.2011, 35.7011, 0.0003), vec![]),
        grid_code: Some(GRID.into()),
    }
}

fn house(code: &str, building_code: &str) -> House {
    House {
        code: code.into(),
        building_code: building_code.into(),
        unit: 1,
        floor: 1,
        room: "01".into(),
        house_use: HouseUse::Rented,
        households: 1,
    }
}

fn population(house_code: &str) -> Population {
    Population {
        house_code: house_code.into(),
        counts: PopulationCounts {
            registered: 2,
            floating: 1,
            overseas: 0,
            care: CareCounts::from_array([1, 0, 0, 1, 0, 0, 0, 0, 0, 3]),
        },
    }
}

fn worker(code: &str) -> Worker {
    Worker {
        code: code.into(),
        name: "李强".into(),
        phone: Some("13900000002".into()),
        role: WorkerRole::GridWorker,
        home_code: GRID.into(),
        device: Some("imei-1".into()),
    }
}

fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, day, hour, minute, 0)
        .single()
        .expect("valid test time")
}

fn step(when: DateTime<Utc>, from: Option<EventStatus>, to: EventStatus) -> Transition {
    Transition {
        at: when,
        from,
        to,
        actor: "W0001".into(),
        level: HandlingLevel::Community,
        department: Some("城管".into()),
        note: Some(format!("to {}", to.as_str())),
    }
}

fn event(code: &str, reported_at: DateTime<Utc>) -> Event {
    Event {
        code: code.into(),
        external_id: Some(format!("ext-{code}")),
        idempotency_scope: "410600".into(),
        title: "占道经营".into(),
        category: "0102".into(),
        source: EventSource::Hotline,
        content: "路口有流动摊贩".into(),
        reporter_name: Some("张三".into()),
        reporter_phone: Some("13700000003".into()),
        location: Point::new(114.2012, 35.7012),
        address: Some("金山路".into()),
        area_code: Some(GRID.into()),
        outside_grid: false,
        status: EventStatus::Evaluated,
        level: HandlingLevel::Street,
        department: Some("城管局".into()),
        reported_at,
        deadline: Some(reported_at + chrono::TimeDelta::days(3)),
        closed_at: Some(reported_at + chrono::TimeDelta::days(1)),
        evaluation: Some(Evaluation {
            score: 5,
            comment: Some("满意".into()),
        }),
        transitions: vec![
            step(reported_at, None, EventStatus::Reported),
            step(
                reported_at + chrono::TimeDelta::hours(1),
                Some(EventStatus::Reported),
                EventStatus::Registered,
            ),
            step(
                reported_at + chrono::TimeDelta::hours(2),
                Some(EventStatus::Registered),
                EventStatus::Closed,
            ),
        ],
    }
}

fn bare_event(code: &str, reported_at: DateTime<Utc>) -> Event {
    Event {
        external_id: None,
        idempotency_scope: String::new(),
        reporter_name: None,
        reporter_phone: None,
        address: None,
        area_code: None,
        outside_grid: true,
        status: EventStatus::Reported,
        level: HandlingLevel::Community,
        department: None,
        deadline: None,
        closed_at: None,
        evaluation: None,
        transitions: Vec::new(),
        ..event(code, reported_at)
    }
}

fn fix(worker_code: &str, when: DateTime<Utc>) -> WorkerFix {
    WorkerFix {
        worker_code: worker_code.into(),
        at: when,
        position: Point::new(114.2005, 35.7005),
        accuracy_m: Some(5.0),
        speed_mps: Some(1.2),
        heading_deg: Some(90.0),
        source_crs: "gcj02".into(),
    }
}

/// One of everything, in an order that respects the foreign keys.
fn everything() -> Vec<Change> {
    vec![
        Change::UpsertArea(grid_area()),
        Change::UpsertArea(bare_area()),
        Change::UpsertBuilding(building(BUILDING)),
        Change::UpsertHouse(house(HOUSE, BUILDING)),
        Change::SetPopulation(population(HOUSE)),
        Change::UpsertWorker(worker("W0001")),
        Change::UpsertEvent(event("E0001", at(1, 8, 0))),
        Change::UpsertEvent(bare_event("E0002", at(1, 7, 0))),
    ]
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

async fn fresh_store() -> (PostgisStore, String) {
    let url = common::fresh_postgis_url().await;
    let store = PostgisStore::connect(&url)
        .await
        .expect("connect and migrate");
    (store, url)
}

/// A plain client, as psql or QGIS would be.
async fn plain_client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("plain connect");
    tokio::spawn(connection);
    client
}

async fn all_events(store: &PostgisStore) -> Vec<Event> {
    let mut out = Vec::new();
    store
        .load_events(&mut |chunk| out.extend(chunk))
        .await
        .expect("load events");
    out
}

/// Waits for the next change that `wanted` accepts, skipping others (such as the catch-up
/// upserts the listener sends when it starts).
async fn wait_for(
    rx: &mut mpsc::Receiver<Change>,
    within: Duration,
    wanted: impl Fn(&Change) -> bool,
) -> Change {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(change)) if wanted(&change) => return change,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the change feed closed"),
            Err(_) => panic!("no matching change within {within:?}"),
        }
    }
}

fn is_area_named(change: &Change, name: &str) -> bool {
    matches!(change, Change::UpsertArea(a) if a.code == GRID && a.name == name)
}

/// Renames the grid with plain SQL and waits until the rename arrives on the feed.
async fn rename_and_expect(
    sql: &tokio_postgres::Client,
    rx: &mut mpsc::Receiver<Change>,
    name: &str,
    within: Duration,
) {
    sql.execute("UPDATE area SET name = $1 WHERE code = $2", &[&name, &GRID])
        .await
        .expect("rename");
    wait_for(rx, within, |c| is_area_named(c, name)).await;
}

async fn listener_pids(sql: &tokio_postgres::Client) -> Vec<i32> {
    sql.query(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'gridmap-listener' AND datname = current_database()",
        &[],
    )
    .await
    .expect("pg_stat_activity")
    .iter()
    .map(|r| r.get(0))
    .collect()
}

// ---------------------------------------------------------------------------------------------
// Migrations
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn migrations_apply_once_and_reconnect_is_a_no_op() {
    let (store, url) = fresh_store().await;
    drop(store);
    let again = PostgisStore::connect(&url).await.expect("reconnect");
    let sql = plain_client(&url).await;
    let rows = sql
        .query(
            "SELECT version, name FROM gridmap_migrations ORDER BY version",
            &[],
        )
        .await
        .expect("migrations table");
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0].get::<_, i32>(0), 1);
    assert_eq!(rows[0].get::<_, String>(1), "0001_schema.sql");
    assert_eq!(rows[1].get::<_, String>(1), "0002_basemap.sql");
    assert_eq!(rows[2].get::<_, String>(1), "0003_event_code_day.sql");
    assert_eq!(
        rows[3].get::<_, String>(1),
        "0004_event_idempotency_scope.sql"
    );
    assert_eq!(again.counts().await.expect("counts"), Counts::default());
    let srid: i32 = sql
        .query_one("SELECT Find_SRID('public', 'area', 'geom')", &[])
        .await
        .expect("srid")
        .get(0);
    assert_eq!(srid, 4490);
}

#[tokio::test]
async fn concurrent_first_connects_migrate_once() {
    let url = common::fresh_postgis_url().await;
    let (a, b, c) = tokio::join!(
        PostgisStore::connect(&url),
        PostgisStore::connect(&url),
        PostgisStore::connect(&url)
    );
    for store in [a, b, c] {
        store.expect("every concurrent connect succeeds");
    }
}

#[tokio::test]
async fn the_postgis_extension_is_created_when_missing() {
    let base = common::pg_base_url();
    let name = format!("gridmap_t_nopostgis_{}", std::process::id());
    let admin = plain_client(&format!("{base}/postgres")).await;
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .await
        .expect("drop an old database");
    admin
        .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE template0"))
        .await
        .expect("create a database without PostGIS");
    let url = format!("{base}/{name}");
    PostgisStore::connect(&url)
        .await
        .expect("connect creates postgis");
    let sql = plain_client(&url).await;
    let version: String = sql
        .query_one("SELECT postgis_version()", &[])
        .await
        .expect("postgis")
        .get(0);
    assert!(!version.is_empty());
}

#[tokio::test]
async fn a_bad_url_or_missing_database_says_so() {
    let err = PostgisStore::connect("not a url")
        .await
        .err()
        .expect("rejected");
    assert!(err.to_string().contains("invalid database URL"), "{err}");
    let missing = format!("{}/gridmap_t_does_not_exist", common::pg_base_url());
    let err = PostgisStore::connect(&missing)
        .await
        .err()
        .expect("rejected");
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[tokio::test]
async fn the_area_code_check_agrees_with_the_model() {
    let (_store, url) = fresh_store().await;
    let sql = plain_client(&url).await;
    for code in [
        "",
        "41061",
        "410600",
        "410611",
        "4106110",
        "41061100",
        "410611001",
        "410611001001",
        "410611001001001",
        "41061100100100101",
        "410611001001001001",
        "4106110010010010011",
        "410611001001S01",
        "410611001F01",
        "410611001F0102",
        "410611001F010203",
        "410611001F012",
        "410611F1",
        "41061a",
        "410671400",
        "410611001001001001x",
    ] {
        let db: bool = sql
            .query_one("SELECT gridmap_is_area_code($1)", &[&code])
            .await
            .expect("check")
            .get(0);
        assert_eq!(db, validate_code(code).is_ok(), "{code:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_empty_batch_and_an_empty_store() {
    let (store, _url) = fresh_store().await;
    store.apply(&[]).await.expect("empty batch");
    let data = store.load().await.expect("load");
    assert!(data.areas.is_empty() && data.buildings.is_empty() && data.workers.is_empty());
    assert!(all_events(&store).await.is_empty());
}

#[tokio::test]
async fn every_record_kind_round_trips() {
    let (store, _url) = fresh_store().await;
    store.apply(&everything()).await.expect("apply");
    let data = store.load().await.expect("load");

    let mut areas = data.areas.clone();
    areas.sort_by(|a, b| a.code.cmp(&b.code));
    assert_eq!(areas, vec![grid_area(), bare_area()]);
    assert_eq!(
        areas[0].geometry.0[0].interiors().len(),
        1,
        "the hole survives"
    );
    assert_eq!(data.buildings, vec![building(BUILDING)]);
    assert_eq!(data.houses, vec![house(HOUSE, BUILDING)]);
    assert_eq!(data.population, vec![population(HOUSE)]);
    assert_eq!(data.workers, vec![worker("W0001")]);
    // oldest first
    assert_eq!(
        all_events(&store).await,
        vec![
            bare_event("E0002", at(1, 7, 0)),
            event("E0001", at(1, 8, 0))
        ]
    );
    assert_eq!(
        store.counts().await.expect("counts"),
        Counts {
            areas: 2,
            buildings: 1,
            houses: 1,
            population: 1,
            events: 2,
            workers: 1,
            worker_fixes: 0
        }
    );
}

#[tokio::test]
async fn upserts_replace_and_deletes_cascade() {
    let (store, _url) = fresh_store().await;
    store.apply(&everything()).await.expect("apply");

    let mut renamed = grid_area();
    renamed.name = "金山二网格".into();
    renamed.leader_name = None;
    let mut shorter = event("E0001", at(1, 8, 0));
    shorter.transitions.truncate(1);
    shorter.status = EventStatus::Reported;
    let mut emptier = population(HOUSE);
    emptier.counts.floating = 0;
    store
        .apply(&[
            Change::UpsertArea(grid_area()),
            Change::UpsertArea(renamed.clone()), // the last upsert of a key wins
            Change::UpsertEvent(shorter.clone()),
            Change::SetPopulation(emptier.clone()),
        ])
        .await
        .expect("upserts");
    let data = store.load().await.expect("load");
    assert!(data.areas.contains(&renamed));
    assert_eq!(data.population, vec![emptier]);
    let events = all_events(&store).await;
    assert_eq!(events.iter().find(|e| e.code == "E0001"), Some(&shorter));

    store
        .apply(&[Change::DeleteBuilding(BUILDING.into())])
        .await
        .expect("delete");
    let data = store.load().await.expect("load");
    assert!(data.buildings.is_empty() && data.houses.is_empty() && data.population.is_empty());
    store
        .apply(&[Change::DeleteBuilding(BUILDING.into())])
        .await
        .expect("deleting again is fine");
}

#[tokio::test]
async fn a_delete_then_reinsert_in_one_batch_keeps_the_order() {
    let (store, _url) = fresh_store().await;
    store.apply(&everything()).await.expect("apply");
    store
        .apply(&[
            Change::DeleteHouse(HOUSE.into()),
            Change::UpsertHouse(house(HOUSE, BUILDING)),
            Change::DeleteWorker("W0001".into()),
        ])
        .await
        .expect("apply");
    let data = store.load().await.expect("load");
    assert_eq!(data.houses.len(), 1);
    assert!(
        data.population.is_empty(),
        "population went with the deleted house"
    );
    assert!(data.workers.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Rejected batches
// ---------------------------------------------------------------------------------------------

async fn assert_rejected(batch: Vec<Change>, expected: &[&str]) {
    let (store, _url) = fresh_store().await;
    let mut all = everything();
    all.extend(batch);
    let err = store.apply(&all).await.expect_err("the batch is rejected");
    let message = err.to_string();
    for part in expected {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
    assert_eq!(
        store.counts().await.expect("counts"),
        Counts::default(),
        "nothing stored"
    );
}

#[tokio::test]
async fn a_self_intersecting_boundary_is_rejected() {
    let mut bowtie = grid_area();
    bowtie.code = "410611001001002".into();
    let ring = LineString::from(vec![
        coord! {x: 114.0, y: 35.0},
        coord! {x: 114.1, y: 35.1},
        coord! {x: 114.1, y: 35.0},
        coord! {x: 114.0, y: 35.1},
        coord! {x: 114.0, y: 35.0},
    ]);
    bowtie.geometry = MultiPolygon(vec![Polygon::new(ring, vec![])]);
    assert_rejected(
        vec![Change::UpsertArea(bowtie)],
        &["410611001001002", "area_geom_valid", "ST_IsValid"],
    )
    .await;
}

#[tokio::test]
async fn coordinates_outside_china_are_rejected() {
    let mut far = building("41061100100100002");
    far.geometry = Polygon::new(square(2.35, 48.85, 0.001), vec![]);
    assert_rejected(
        vec![Change::UpsertBuilding(far)],
        &["41061100100100002", "longitude 73..136"],
    )
    .await;
}

#[tokio::test]
async fn a_malformed_code_is_rejected() {
    assert_rejected(
        vec![Change::UpsertBuilding(building("4106110010010001"))],
        &["4106110010010001", "17 digits"],
    )
    .await;
    let mut area = bare_area();
    area.code = "410611F1".into();
    assert_rejected(
        vec![Change::UpsertArea(area)],
        &["410611F1", "area_code_format"],
    )
    .await;
}

#[tokio::test]
async fn a_house_of_an_unknown_building_is_rejected() {
    let orphan = house("410611001001000990100101", "41061100100100099");
    assert_rejected(
        vec![Change::UpsertHouse(orphan)],
        &["41061100100100099", "house", "not present"],
    )
    .await;
}

#[tokio::test]
async fn a_duplicate_external_id_is_rejected() {
    let mut twin = event("E0003", at(2, 8, 0));
    twin.external_id = Some("ext-E0001".into());
    assert_rejected(
        vec![Change::UpsertEvent(twin)],
        &["ext-E0001", "external_id"],
    )
    .await;
}

#[tokio::test]
async fn check_constraints_reject_bad_rows_written_with_sql() {
    let (store, url) = fresh_store().await;
    store.apply(&everything()).await.expect("apply");
    let sql = plain_client(&url).await;
    let geom = "ST_Multi(ST_MakeEnvelope(114, 35, 114.1, 35.1, 4490))";
    for (bad, constraint) in [
        (format!("INSERT INTO area (code, layer, level, name, geom) VALUES ('4106', 'base', 2, 'x', {geom})"), "area_code_format"),
        (format!("INSERT INTO area (code, layer, level, name, geom) VALUES ('410612', 'base', 7, 'x', {geom})"), "area_level_range"),
        (format!("INSERT INTO area (code, layer, level, name, geom) VALUES ('410612', 'roads', 2, 'x', {geom})"), "area_layer_known"),
        (format!("INSERT INTO area (code, layer, level, name, geom, urban_rural) VALUES ('410612', 'base', 2, 'x', {geom}, 300)"), "area_urban_rural_range"),
        ("INSERT INTO area (code, layer, level, name, geom) VALUES ('410612', 'base', 2, 'x', 'SRID=4490;MULTIPOLYGON(((114 35, 114.1 35.1, 114.1 35, 114 35.1, 114 35)))')".to_string(), "area_geom_valid"),
        ("INSERT INTO area (code, layer, level, name, geom) VALUES ('410612', 'base', 2, 'x', 'SRID=4490;MULTIPOLYGON(((10 35, 10.1 35, 10.1 35.1, 10 35)))')".to_string(), "area_geom_valid"),
        (format!("UPDATE building SET building_use = 'castle' WHERE code = '{BUILDING}'"), "building_use_known"),
        (format!("INSERT INTO house (code, building_code, unit, floor, room, house_use, households) VALUES ('410611001001000020100101', '{BUILDING}', 1, 1, '01', 'rented', 1)"), "house_code_format"),
        (format!("UPDATE population SET floating = -1 WHERE house_code = '{HOUSE}'"), "population_counts_non_negative"),
        ("UPDATE event SET status = 'lost' WHERE code = 'E0001'".to_string(), "event_status_known"),
        ("UPDATE event SET evaluation_score = 9 WHERE code = 'E0001'".to_string(), "event_evaluation_score_range"),
        ("UPDATE worker SET role = 'mayor' WHERE code = 'W0001'".to_string(), "worker_role_known"),
    ] {
        let err = sql.batch_execute(&bad).await.err().unwrap_or_else(|| panic!("accepted: {bad}"));
        let db = err.as_db_error().unwrap_or_else(|| panic!("not a server error: {err}"));
        assert_eq!(db.constraint(), Some(constraint), "{bad}: {}", db.message());
    }
}

// ---------------------------------------------------------------------------------------------
// The change feed
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_store_own_writes_do_not_notify() {
    let (store, url) = fresh_store().await;
    let sql = plain_client(&url).await;
    let (listener, mut connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
    let (notes_in, mut notes) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        use futures::StreamExt;
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notification(n) = message {
                let _ = notes_in.send(n.payload().to_string());
            }
        }
    });
    listener
        .batch_execute("LISTEN gridmap_change")
        .await
        .expect("listen");

    store.apply(&everything()).await.expect("apply");
    store
        .apply(&[Change::DeleteBuilding(BUILDING.into())])
        .await
        .expect("delete");
    let quiet = tokio::time::timeout(Duration::from_millis(500), notes.recv()).await;
    assert!(quiet.is_err(), "the store's writes notified: {quiet:?}");

    sql.execute("UPDATE worker SET name = 'x' WHERE code = 'W0001'", &[])
        .await
        .expect("plain update");
    let note = tokio::time::timeout(Duration::from_secs(2), notes.recv())
        .await
        .expect("a plain update notifies")
        .expect("open");
    let payload: serde_json::Value = serde_json::from_str(&note).expect("json payload");
    assert_eq!(
        payload,
        serde_json::json!({"table": "worker", "op": "UPDATE", "code": "W0001"})
    );
}

#[tokio::test]
async fn edits_by_other_clients_arrive_as_changes() {
    let (store, url) = fresh_store().await;
    store.apply(&everything()).await.expect("apply");
    let mut rx = store.subscribe().expect("a feed");
    assert!(store.subscribe().is_none(), "one receiver only");
    let sql = plain_client(&url).await;

    rename_and_expect(&sql, &mut rx, "改名网格", Duration::from_secs(1)).await;

    sql.execute("DELETE FROM area WHERE code = $1", &[&"410611001F01"])
        .await
        .expect("delete");
    wait_for(&mut rx, Duration::from_secs(1), |c| {
        *c == Change::DeleteArea("410611001F01".into())
    })
    .await;

    sql.execute("DELETE FROM population WHERE house_code = $1", &[&HOUSE])
        .await
        .expect("delete");
    let zero = wait_for(&mut rx, Duration::from_secs(1), |c| {
        matches!(c, Change::SetPopulation(_))
    })
    .await;
    assert_eq!(
        zero,
        Change::SetPopulation(Population {
            house_code: HOUSE.into(),
            counts: PopulationCounts::default()
        })
    );

    sql.execute(
        "INSERT INTO event_transition (event_code, seq, at, from_status, to_status, actor, level) \
         VALUES ('E0002', 1, now(), NULL, 'reported', 'hotline', 'community')",
        &[],
    )
    .await
    .expect("a workflow step");
    let touched = wait_for(
        &mut rx,
        Duration::from_secs(1),
        |c| matches!(c, Change::UpsertEvent(e) if e.code == "E0002" && e.transitions.len() == 1),
    )
    .await;
    assert!(matches!(touched, Change::UpsertEvent(e) if e.transitions[0].actor == "hotline"));

    sql.execute("DELETE FROM building WHERE code = $1", &[&BUILDING])
        .await
        .expect("delete");
    wait_for(&mut rx, Duration::from_secs(1), |c| {
        *c == Change::DeleteHouse(HOUSE.into())
    })
    .await;
    wait_for(&mut rx, Duration::from_secs(1), |c| {
        *c == Change::DeleteBuilding(BUILDING.into())
    })
    .await;
}

#[tokio::test]
async fn the_feed_survives_a_killed_listener_connection() {
    let (store, url) = fresh_store().await;
    store.apply(&everything()).await.expect("apply");
    let mut rx = store.subscribe().expect("a feed");
    let sql = plain_client(&url).await;
    rename_and_expect(&sql, &mut rx, "第一次", Duration::from_secs(2)).await;

    let pids = listener_pids(&sql).await;
    assert_eq!(pids.len(), 1, "one listener connection");
    sql.execute("SELECT pg_terminate_backend($1)", &[&pids[0]])
        .await
        .expect("kill");
    // Edits made at once land while the listener is down or reconnecting: they must still arrive.
    sql.execute("UPDATE area SET name = '第二次' WHERE code = $1", &[&GRID])
        .await
        .expect("rename");
    sql.execute("DELETE FROM worker WHERE code = 'W0001'", &[])
        .await
        .expect("delete");
    let (mut renamed, mut deleted) = (false, false);
    while !(renamed && deleted) {
        let change = wait_for(&mut rx, Duration::from_secs(5), |c| {
            is_area_named(c, "第二次") || *c == Change::DeleteWorker("W0001".into())
        })
        .await;
        renamed |= is_area_named(&change, "第二次");
        deleted |= matches!(change, Change::DeleteWorker(_));
    }

    let new_pids = listener_pids(&sql).await;
    assert_eq!(new_pids.len(), 1);
    assert_ne!(new_pids, pids, "a new connection");
    rename_and_expect(&sql, &mut rx, "第三次", Duration::from_secs(2)).await;
}

// ---------------------------------------------------------------------------------------------
// GPS fixes
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn fixes_land_in_day_partitions() {
    let (store, url) = fresh_store().await;
    let sql = plain_client(&url).await;
    // A fix written before its day had a partition sits in the default partition until then.
    sql.execute(
        "INSERT INTO worker_fix (worker_code, at, geom, source_crs) \
         VALUES ('W0001', '2024-03-02 09:00+00', 'SRID=4490;POINT(114.2 35.7)', 'wgs84')",
        &[],
    )
    .await
    .expect("direct insert");
    store
        .apply(&[
            Change::InsertFix(fix("W0001", at(1, 23, 59))),
            Change::InsertFix(fix("W0001", at(2, 0, 1))),
            Change::InsertFix(fix("W0001", at(2, 0, 1))), // a retried fix
            Change::InsertFix(fix("W0002", at(2, 0, 1))),
        ])
        .await
        .expect("fixes");
    let rows = sql
        .query(
            "SELECT tableoid::regclass::text, count(*) FROM worker_fix GROUP BY 1 ORDER BY 1",
            &[],
        )
        .await
        .expect("partitions");
    let got: Vec<(String, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        got,
        vec![
            ("worker_fix_20240301".to_string(), 1),
            ("worker_fix_20240302".to_string(), 3)
        ]
    );

    let row = sql
        .query_one(
            "SELECT ST_X(geom), ST_Y(geom), accuracy_m, source_crs FROM worker_fix \
             WHERE worker_code = 'W0002'",
            &[],
        )
        .await
        .expect("read back");
    assert_eq!(
        (row.get::<_, f64>(0), row.get::<_, f64>(1)),
        (114.2005, 35.7005)
    );
    assert_eq!(row.get::<_, Option<f32>>(2), Some(5.0));
    assert_eq!(row.get::<_, String>(3), "gcj02");
    assert_eq!(store.counts().await.expect("counts").worker_fixes, 4);
}

#[tokio::test]
async fn a_fix_outside_china_is_rejected() {
    let (store, _url) = fresh_store().await;
    let mut far = fix("W0001", at(1, 12, 0));
    far.position = Point::new(-74.0, 40.7);
    let err = store
        .apply(&[Change::InsertFix(far)])
        .await
        .expect_err("rejected");
    assert!(err.to_string().contains("worker_fix_geom_valid"), "{err}");
    assert_eq!(store.counts().await.expect("counts").worker_fixes, 0);
}

// ---------------------------------------------------------------------------------------------
// Volume
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_large_event_batch_is_written_and_streamed_back() {
    const EVENTS: usize = 50_000;
    let (store, _url) = fresh_store().await;
    store.apply(&everything()[..1]).await.expect("the grid");
    let start = at(1, 0, 0);
    let events: Vec<Change> = (0..EVENTS)
        .map(|i| {
            let mut e = event(
                &format!("B{i:07}"),
                start + chrono::TimeDelta::seconds(i as i64),
            );
            e.external_id = Some(format!("bulk-{i}"));
            Change::UpsertEvent(e)
        })
        .collect();
    let began = Instant::now();
    store.apply(&events).await.expect("bulk apply");
    let took = began.elapsed();
    eprintln!(
        "wrote {EVENTS} events with {} transitions in {took:?} ({:.0} events/s)",
        EVENTS * 3,
        EVENTS as f64 / took.as_secs_f64()
    );

    let mut chunks = Vec::new();
    let mut count = 0;
    let mut last = None;
    let began = Instant::now();
    store
        .load_events(&mut |chunk| {
            chunks.push(chunk.len());
            for e in &chunk {
                assert_eq!(e.transitions.len(), 3);
                assert!(last.is_none_or(|t| t <= e.reported_at), "oldest first");
                last = Some(e.reported_at);
            }
            count += chunk.len();
        })
        .await
        .expect("stream");
    eprintln!(
        "streamed {count} events in {:?} in chunks of {chunks:?}",
        began.elapsed()
    );
    assert_eq!(count, EVENTS);
    assert!(chunks.len() > 1, "streamed in chunks");

    let mut codes = Vec::new();
    store
        .load_events_without_steps(&mut |chunk| {
            for e in chunk {
                assert!(e.transitions.is_empty(), "{} came with its steps", e.code);
                codes.push(e.code);
            }
        })
        .await
        .expect("stream without steps");
    codes.sort();
    let expected: Vec<String> = (0..EVENTS).map(|i| format!("B{i:07}")).collect();
    assert_eq!(codes, expected, "every event once, steps left out");
}

// ---------------------------------------------------------------------------------------------
// The sample city
// ---------------------------------------------------------------------------------------------

fn sorted<T>(mut records: Vec<T>, key: impl Fn(&T) -> String) -> Vec<T> {
    records.sort_by_key(|r| key(r));
    records
}

#[tokio::test]
async fn the_sample_city_round_trips() {
    let (store, _url) = fresh_store().await;
    let opts = GenerateOptions {
        scale: Scale::Sample,
        seed: 7,
        progress: false,
        events: Some(3_000),
    };
    let summary = generate::generate_into(&store, &opts)
        .await
        .expect("generate into PostGIS");
    let city = generate::city(&opts).expect("the same city again");
    let expected = city.dataset.clone();

    let began = Instant::now();
    let loaded = store.load().await.expect("load");
    eprintln!(
        "loaded {} areas, {} buildings, {} houses in {:?}",
        loaded.areas.len(),
        loaded.buildings.len(),
        loaded.houses.len(),
        began.elapsed()
    );
    assert_eq!(
        sorted(loaded.areas, |a| a.code.clone()),
        sorted(expected.areas, |a| a.code.clone())
    );
    assert_eq!(
        sorted(loaded.buildings, |b| b.code.clone()),
        sorted(expected.buildings, |b| b.code.clone())
    );
    assert_eq!(
        sorted(loaded.houses, |h| h.code.clone()),
        sorted(expected.houses, |h| h.code.clone())
    );
    assert_eq!(
        sorted(loaded.population, |p| p.house_code.clone()),
        sorted(expected.population, |p| p.house_code.clone())
    );
    assert_eq!(
        sorted(loaded.workers, |w| w.code.clone()),
        sorted(expected.workers, |w| w.code.clone())
    );

    let mut generated = Vec::new();
    for chunk in generate::events(&city, &opts) {
        generated.extend(chunk);
    }
    assert_eq!(
        sorted(all_events(&store).await, |e| e.code.clone()),
        sorted(generated, |e| e.code.clone())
    );
    let counts = store.counts().await.expect("counts");
    assert_eq!(counts.events, summary.events);
    assert_eq!(counts.worker_fixes, summary.worker_fixes);
}
