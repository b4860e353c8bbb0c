//! The PostGIS store, what only it does: migrations, the PostGIS extension, CHECK constraints
//! that also hold for plain SQL writers, the silent write path, the NOTIFY change feed (also
//! across a killed connection) and the day partitions of GPS fixes. Each test has its own
//! database. The promises every store keeps are tested for this one too by
//! `tests/store_contract.rs`.

mod common;

use std::time::{Duration, Instant};

use common::records::*;
use geo_types::{coord, LineString, MultiPolygon, Point, Polygon};
use gridmap::model::{validate_code, Change, Population, PopulationCounts, Worker};
use gridmap::store::postgis::PostgisStore;
use gridmap::store::{Counts, Store};
use tokio::sync::mpsc;
use tokio_postgres::NoTls;

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
    assert_eq!(rows.len(), 6);
    assert_eq!(rows[0].get::<_, i32>(0), 1);
    assert_eq!(rows[0].get::<_, String>(1), "0001_schema.sql");
    assert_eq!(rows[1].get::<_, String>(1), "0002_basemap.sql");
    assert_eq!(rows[2].get::<_, String>(1), "0003_event_code_day.sql");
    assert_eq!(
        rows[3].get::<_, String>(1),
        "0004_event_idempotency_scope.sql"
    );
    assert_eq!(rows[5].get::<_, String>(1), "0006_fix_partition_race.sql");
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
// Rejected batches
// ---------------------------------------------------------------------------------------------

async fn assert_rejected(batch: Vec<Change>, expected: &[&str]) {
    let (store, _url) = fresh_store().await;
    let mut all = full_batch();
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
    let mut bowtie = community();
    bowtie.code = "410611001002".into();
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
        &["410611001002", "area_geom_valid", "ST_IsValid"],
    )
    .await;
}

#[tokio::test]
async fn coordinates_outside_china_are_rejected() {
    let mut far = building();
    far.code = "41061100100100002".into();
    far.geometry = Polygon::new(square(2.35, 48.85, 0.001), vec![]);
    assert_rejected(
        vec![Change::UpsertBuilding(far)],
        &["41061100100100002", "longitude 73..136"],
    )
    .await;
}

#[tokio::test]
async fn a_malformed_code_is_rejected() {
    let mut short = building();
    short.code = "4106110010010001".into();
    assert_rejected(
        vec![Change::UpsertBuilding(short)],
        &["4106110010010001", "17 digits"],
    )
    .await;
    let mut area = fire_grid();
    area.code = "410611F1".into();
    assert_rejected(
        vec![Change::UpsertArea(area)],
        &["410611F1", "area_code_format"],
    )
    .await;
}

#[tokio::test]
async fn check_constraints_reject_bad_rows_written_with_sql() {
    let (store, url) = fresh_store().await;
    store.apply(&full_batch()).await.expect("apply");
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
        ("UPDATE event SET status = 'lost' WHERE code = 'E1'".to_string(), "event_status_known"),
        ("UPDATE event SET evaluation_score = 9 WHERE code = 'E1'".to_string(), "event_evaluation_score_range"),
        (format!("UPDATE worker SET role = 'mayor' WHERE code = '{WORKER}'"), "worker_role_known"),
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

    store.apply(&full_batch()).await.expect("apply");
    store
        .apply(&[
            Change::DeleteHouse(HOUSE.into()),
            Change::DeleteBuilding(BUILDING.into()),
        ])
        .await
        .expect("delete");
    let quiet = tokio::time::timeout(Duration::from_millis(500), notes.recv()).await;
    assert!(quiet.is_err(), "the store's writes notified: {quiet:?}");

    sql.execute("UPDATE worker SET name = 'x' WHERE code = $1", &[&WORKER])
        .await
        .expect("plain update");
    let note = tokio::time::timeout(Duration::from_secs(2), notes.recv())
        .await
        .expect("a plain update notifies")
        .expect("open");
    let payload: serde_json::Value = serde_json::from_str(&note).expect("json payload");
    assert_eq!(
        payload,
        serde_json::json!({"table": "worker", "op": "UPDATE", "code": WORKER})
    );
}

#[tokio::test]
async fn edits_by_other_clients_arrive_as_changes() {
    let (store, url) = fresh_store().await;
    let mut batch = full_batch();
    batch.push(Change::UpsertEvent(bare_event("E0", 1)));
    store.apply(&batch).await.expect("apply");
    let mut rx = store.subscribe().expect("a feed");
    assert!(store.subscribe().is_none(), "one receiver only");
    let sql = plain_client(&url).await;

    rename_and_expect(&sql, &mut rx, "改名网格", Duration::from_secs(1)).await;

    sql.execute("DELETE FROM area WHERE code = $1", &[&FIRE_GRID])
        .await
        .expect("delete");
    wait_for(&mut rx, Duration::from_secs(1), |c| {
        *c == Change::DeleteArea(FIRE_GRID.into())
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
         VALUES ('E0', 1, now(), NULL, 'reported', 'hotline', 'community')",
        &[],
    )
    .await
    .expect("a workflow step");
    let touched = wait_for(
        &mut rx,
        Duration::from_secs(1),
        |c| matches!(c, Change::UpsertEvent(e) if e.code == "E0" && e.transitions.len() == 1),
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
    store.apply(&full_batch()).await.expect("apply");
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
    sql.execute("DELETE FROM worker WHERE code = $1", &[&WORKER])
        .await
        .expect("delete");
    let (mut renamed, mut deleted) = (false, false);
    while !(renamed && deleted) {
        let change = wait_for(&mut rx, Duration::from_secs(5), |c| {
            is_area_named(c, "第二次") || *c == Change::DeleteWorker(WORKER.into())
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

/// March `day`, `hour`:`minute` UTC.
fn march(day: u32, hour: u32, minute: u32) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc
        .with_ymd_and_hms(2024, 3, day, hour, minute, 0)
        .single()
        .expect("valid test time")
}

/// The shared fix, of `worker_code` at `when`.
fn fix_at(worker_code: &str, when: chrono::DateTime<chrono::Utc>) -> gridmap::model::WorkerFix {
    gridmap::model::WorkerFix {
        worker_code: worker_code.into(),
        at: when,
        ..fix()
    }
}

#[tokio::test]
async fn fixes_land_in_day_partitions() {
    let (store, url) = fresh_store().await;
    let second = Worker {
        code: "W0002".into(),
        ..worker()
    };
    store
        .apply(&[Change::UpsertWorker(worker()), Change::UpsertWorker(second)])
        .await
        .expect("workers");
    let sql = plain_client(&url).await;
    // A fix written before its day had a partition sits in the default partition until then.
    sql.execute(
        "INSERT INTO worker_fix (worker_code, at, geom, source_crs) \
         VALUES ($1, '2024-03-02 09:00+00', 'SRID=4490;POINT(114.2 35.7)', 'wgs84')",
        &[&WORKER],
    )
    .await
    .expect("direct insert");
    store
        .apply(&[
            Change::InsertFix(fix_at(WORKER, march(1, 23, 59))),
            Change::InsertFix(fix_at(WORKER, march(2, 0, 1))),
            Change::InsertFix(fix_at(WORKER, march(2, 0, 1))), // a retried fix
            Change::InsertFix(fix_at("W0002", march(2, 0, 1))),
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
        (114.1015, 35.7015)
    );
    assert_eq!(row.get::<_, Option<f32>>(2), Some(4.5));
    assert_eq!(row.get::<_, String>(3), "gcj02");
    assert_eq!(store.counts().await.expect("counts").worker_fixes, 4);
}

/// Two writers making the same day's partition at once both succeed: the second, having looked
/// for the partition before the first made it, waits for the first and then sees it (before
/// migration 6 it tried to create it again and failed with "already exists").
#[tokio::test]
async fn a_day_partition_made_while_another_writer_waits_is_seen_by_it() {
    let (_store, url) = fresh_store().await;
    let first = plain_client(&url).await;
    let second = plain_client(&url).await;
    let second_pid: i32 = second
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    first
        .batch_execute("BEGIN; SELECT gridmap_ensure_fix_partition('2030-01-01')")
        .await
        .expect("the first writer makes the partition");
    let waiting = tokio::spawn(async move {
        second
            .execute("SELECT gridmap_ensure_fix_partition('2030-01-01')", &[])
            .await
    });
    let watch = plain_client(&url).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let waits: Option<String> = watch
            .query_one(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1",
                &[&second_pid],
            )
            .await
            .expect("activity")
            .get(0);
        if waits.as_deref() == Some("Lock") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the second writer never waited for the first"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.batch_execute("COMMIT").await.expect("commit");
    waiting
        .await
        .expect("task")
        .expect("the second writer sees the partition the first made");
}

/// A track reads only the day partitions of its window, each by its (worker_code, at) key:
/// with sequential scans disabled no plan node scans a table, and the other days' partitions
/// are not in the plan.
#[tokio::test]
async fn a_track_reads_only_its_days_partitions_by_their_key() {
    let (store, url) = fresh_store().await;
    store
        .apply(&[Change::UpsertWorker(worker())])
        .await
        .expect("worker");
    let fixes = (1..=3).map(|day| Change::InsertFix(fix_at(WORKER, march(day, 12, 0))));
    store
        .apply(&fixes.collect::<Vec<_>>())
        .await
        .expect("fixes");
    let sql = plain_client(&url).await;
    sql.batch_execute("SET enable_seqscan = off")
        .await
        .expect("set");
    let plan: Vec<String> = sql
        .query(
            &format!(
                "EXPLAIN (COSTS OFF) {}",
                gridmap::store::postgis::worker_fixes_sql()
            ),
            &[&WORKER, &march(2, 0, 0), &march(3, 0, 0)],
        )
        .await
        .expect("explain")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let plan = plan.join("\n");
    assert!(plan.contains("worker_fix_20240302"), "{plan}");
    assert!(
        !plan.contains("worker_fix_20240301") && !plan.contains("worker_fix_20240303"),
        "{plan}"
    );
    assert!(!plan.contains("Seq Scan"), "{plan}");
    assert!(!plan.contains("Sort"), "read in key order: {plan}");
    let read = store
        .worker_fixes(WORKER, march(2, 0, 0), march(3, 0, 0))
        .await
        .expect("read");
    assert_eq!(read, vec![fix_at(WORKER, march(2, 12, 0))]);
}

#[tokio::test]
async fn a_fix_outside_china_is_rejected() {
    let (store, _url) = fresh_store().await;
    store
        .apply(&[Change::UpsertWorker(worker())])
        .await
        .expect("worker");
    let mut far = fix_at(WORKER, march(1, 12, 0));
    far.position = Point::new(-74.0, 40.7);
    let err = store
        .apply(&[Change::InsertFix(far)])
        .await
        .expect_err("rejected");
    assert!(err.to_string().contains("worker_fix_geom_valid"), "{err}");
    assert_eq!(store.counts().await.expect("counts").worker_fixes, 0);
}
