//! The promises of the `Store` trait, as one set of cases every backend must pass.
//!
//! Each case takes a fresh, empty store and checks one promise through the trait alone; the
//! test binary `tests/store_contract.rs` runs every case against every backend. What only one
//! backend does (file identity, schema, GDAL, migrations, CHECK constraints for plain SQL
//! writers, the NOTIFY feed, day partitions) is tested in that backend's own file.
//!
//! To add a case: write an `async fn(&dyn Store)` here and name it in the `contract!` list.

use chrono::Duration;
use geo_types::{coord, MultiPolygon, Point, Polygon};
use gridmap::generate::{self, GenerateOptions, Scale};
use gridmap::model::{Change, Event, EventStatus, Level, Transition, Worker, WorkerFix};
use gridmap::store::{Counts, Store, StoreError};

use crate::common::records::*;

/// Every stored event, in the order the store streams them.
async fn all_events(store: &dyn Store) -> Vec<Event> {
    let mut events = Vec::new();
    store
        .load_events(&mut |chunk| events.extend(chunk))
        .await
        .expect("load events");
    events
}

/// The batch is refused as bad data whose message names every one of `needles`.
fn expect_data_error(result: Result<(), StoreError>, needles: &[&str]) {
    match result {
        Err(StoreError::Data(message)) => {
            for needle in needles {
                assert!(message.contains(needle), "{message:?} lacks {needle:?}");
            }
        }
        other => panic!("expected a data error about {needles:?}, got {other:?}"),
    }
}

/// The counts of the full batch.
fn full_counts() -> Counts {
    Counts {
        areas: 6,
        buildings: 1,
        houses: 1,
        population: 1,
        events: 1,
        workers: 1,
        worker_fixes: 1,
    }
}

/// A new store holds nothing, and an empty batch is fine.
pub async fn an_empty_store_holds_nothing(store: &dyn Store) {
    assert_eq!(store.counts().await.expect("counts"), Counts::default());
    store.apply(&[]).await.expect("an empty batch");
    let data = store.load().await.expect("load");
    assert!(data.areas.is_empty());
    assert!(data.buildings.is_empty() && data.houses.is_empty());
    assert!(data.population.is_empty() && data.workers.is_empty());
    assert!(data.basemap.is_empty());
    assert!(all_events(store).await.is_empty());
    assert_eq!(store.counts().await.expect("counts"), Counts::default());
}

/// What is written is read back equal, every optional field and both polygon holes included;
/// areas come parents first, events oldest first.
pub async fn every_record_kind_round_trips(store: &dyn Store) {
    let earlier = Event {
        reported_at: at(1, 7, 0),
        ..bare_event("E0", 1)
    };
    let mut batch = full_batch();
    batch.push(Change::UpsertEvent(earlier.clone()));
    store.apply(&batch).await.expect("apply");

    let data = store.load().await.expect("load");
    let mut areas = hierarchy();
    areas.push(fire_grid());
    assert_eq!(
        sorted_by(&data.areas, |a| a.code.clone()),
        sorted_by(&areas, |a| a.code.clone())
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
    assert_eq!(all_events(store).await, vec![earlier, event("E1", 1)]);
    assert_eq!(
        store.counts().await.expect("counts"),
        Counts {
            events: 2,
            ..full_counts()
        }
    );
}

/// Upserts replace a record in place (the last of a key in a batch wins), an event's
/// transitions are replaced by the new list, and a retried fix adds no row.
pub async fn upserts_update_in_place(store: &dyn Store) {
    store.apply(&full_batch()).await.expect("apply");

    let mut renamed = community();
    renamed.name = "新金山社区".into();
    renamed.leader_name = None;
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
            Change::UpsertArea(community()),
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
    assert_eq!(all_events(store).await, vec![progressed]);
    assert_eq!(
        store.counts().await.expect("counts"),
        full_counts(),
        "upserts add no rows"
    );
}

/// Changes apply in batch order: a house deleted and added again in one batch is stored, its
/// population went with the deletion; deleting what is not stored is a no-op.
pub async fn a_batch_applies_in_order_and_deletes_are_idempotent(store: &dyn Store) {
    store.apply(&full_batch()).await.expect("apply");
    store
        .apply(&[
            Change::DeleteHouse(HOUSE.into()),
            Change::UpsertHouse(house()),
            Change::DeleteWorker(WORKER.into()),
            Change::DeleteWorker(WORKER.into()),
            Change::DeleteArea("410699999999".into()),
            Change::DeleteHouse("410611001001000990100101".into()),
        ])
        .await
        .expect("apply");
    let data = store.load().await.expect("load");
    assert_eq!(data.houses, vec![house()]);
    assert!(
        data.population.is_empty(),
        "population went with the deleted house"
    );
    assert!(data.workers.is_empty());
}

/// A batch that fails part-way stores nothing of itself, and the store keeps working.
pub async fn a_failing_batch_writes_nothing(store: &dyn Store) {
    let mut orphan = house();
    orphan.code = "410611001001000020100101".into();
    orphan.building_code = "41061100100100002".into();
    let mut batch = full_batch();
    batch.insert(8, Change::UpsertHouse(orphan));
    expect_data_error(store.apply(&batch).await, &["41061100100100002"]);
    assert_eq!(store.counts().await.expect("counts"), Counts::default());
    assert!(store.load().await.expect("load").areas.is_empty());

    store
        .apply(&full_batch())
        .await
        .expect("the store still works after a failed batch");
    assert_eq!(store.counts().await.expect("counts"), full_counts());
}

/// A building needs its community, a house its building, a population its house, a fix its
/// worker; two events cannot share a (source, external_id). Each refusal names the record.
pub async fn references_and_keys_are_checked(store: &dyn Store) {
    store
        .apply(
            &hierarchy()[..3]
                .iter()
                .cloned()
                .map(Change::UpsertArea)
                .collect::<Vec<_>>(),
        )
        .await
        .expect("city, district, street");
    expect_data_error(
        store.apply(&[Change::UpsertBuilding(building())]).await,
        &["its community 410611001001 is not stored"],
    );
    let mut short = building();
    short.code = "4106".into();
    expect_data_error(
        store.apply(&[Change::UpsertBuilding(short)]).await,
        &["12-digit community code"],
    );
    expect_data_error(
        store.apply(&[Change::UpsertHouse(house())]).await,
        &[BUILDING],
    );
    expect_data_error(
        store.apply(&[Change::SetPopulation(population())]).await,
        &[HOUSE],
    );
    expect_data_error(
        store.apply(&[Change::InsertFix(fix())]).await,
        &[WORKER, "the worker is not stored"],
    );
    assert_eq!(store.counts().await.expect("counts").areas, 3);

    store.apply(&full_batch()).await.expect("apply");
    let mut twin = event("E2", 2);
    twin.external_id = event("E1", 1).external_id;
    expect_data_error(
        store.apply(&[Change::UpsertEvent(twin)]).await,
        &["external_id"],
    );
    assert_eq!(store.counts().await.expect("counts"), full_counts());
}

/// A record others refer to cannot be deleted before them: an area with child areas, a
/// community with buildings, a building with houses. Deleting leaves first works, and a house
/// takes its population with it.
pub async fn deletions_keep_references_whole(store: &dyn Store) {
    store.apply(&full_batch()).await.expect("apply");
    expect_data_error(
        store.apply(&[Change::DeleteArea(STREET.into())]).await,
        &["area 410611001 still has child areas (e.g. 410611001001)"],
    );
    expect_data_error(
        store
            .apply(&[
                Change::DeleteArea(GRID.into()),
                Change::DeleteArea(COMMUNITY.into()),
            ])
            .await,
        &["community 410611001001 still has buildings (e.g. 41061100100100001)"],
    );
    expect_data_error(
        store
            .apply(&[Change::DeleteBuilding(BUILDING.into())])
            .await,
        &["building 41061100100100001 still has houses (e.g. 410611001001000010100302)"],
    );
    assert_eq!(
        store.counts().await.expect("counts"),
        full_counts(),
        "the refused batches wrote nothing"
    );

    store
        .apply(&[
            Change::DeleteHouse(HOUSE.into()),
            Change::DeleteBuilding(BUILDING.into()),
            Change::DeleteArea(GRID.into()),
            Change::DeleteArea(COMMUNITY.into()),
            Change::DeleteWorker(WORKER.into()),
        ])
        .await
        .expect("delete leaves first");
    assert_eq!(
        store.counts().await.expect("counts"),
        Counts {
            areas: 4,
            events: 1,
            worker_fixes: 1,
            ..Counts::default()
        },
        "fixes and events outlive what they refer to"
    );
}

/// Events stream oldest first, whatever order they were written in; an event without
/// transitions or external id comes back as it went in.
pub async fn events_stream_oldest_first(store: &dyn Store) {
    assert!(all_events(store).await.is_empty());
    store.apply(&full_batch()).await.expect("apply");
    let mut events: Vec<Change> = [("E3", 3), ("E0", 20), ("E2", 2)]
        .into_iter()
        .map(|(code, day)| Change::UpsertEvent(event(code, day)))
        .collect();
    events.push(Change::UpsertEvent(bare_event("E4", 4)));
    store.apply(&events).await.expect("apply events");
    let loaded = all_events(store).await;
    let codes: Vec<&str> = loaded.iter().map(|e| e.code.as_str()).collect();
    assert_eq!(codes, ["E1", "E2", "E3", "E4", "E0"]);
    assert_eq!(loaded[3], bare_event("E4", 4));
}

/// Tens of thousands of events with their transitions in one batch are written, then streamed
/// back in more than one chunk, oldest first; without steps every event comes once.
pub async fn a_large_event_batch_is_written_and_streamed_back(store: &dyn Store) {
    const EVENTS: usize = 60_000;
    store.apply(&full_batch()).await.expect("apply");
    let batch: Vec<Change> = (0..EVENTS)
        .map(|i| {
            let mut e = event(&format!("B{i:07}"), 1);
            e.external_id = Some(format!("bulk-{i}"));
            e.reported_at = at(1, 0, i as i64);
            e.location = Point(
                coord! { x: 114.0 + (i % 1000) as f64 * 1e-4, y: 35.5 + (i / 1000) as f64 * 1e-4 },
            );
            Change::UpsertEvent(e)
        })
        .collect();
    let began = std::time::Instant::now();
    store.apply(&batch).await.expect("bulk apply");
    let took = began.elapsed();
    eprintln!(
        "{}: {EVENTS} events with {} transitions in {took:?} ({:.0} events/s)",
        store.name(),
        EVENTS * 2,
        EVENTS as f64 / took.as_secs_f64()
    );

    let mut chunks = Vec::new();
    let mut last = None;
    store
        .load_events(&mut |chunk| {
            chunks.push(chunk.len());
            for e in &chunk {
                assert_eq!(e.transitions.len(), 2, "{} lost steps", e.code);
                assert!(last.is_none_or(|t| t <= e.reported_at), "oldest first");
                last = Some(e.reported_at);
            }
        })
        .await
        .expect("stream");
    assert!(chunks.len() > 1, "streamed in chunks: {chunks:?}");
    assert_eq!(chunks.iter().sum::<usize>(), EVENTS + 1);

    let mut codes = Vec::new();
    store
        .load_events_without_steps(&mut |chunk| codes.extend(chunk.into_iter().map(|e| e.code)))
        .await
        .expect("stream without steps");
    codes.sort();
    let mut expected: Vec<String> = (0..EVENTS).map(|i| format!("B{i:07}")).collect();
    expected.push("E1".into());
    assert_eq!(codes, expected, "every event once");
}

/// The generated sample city, written by the generator, reads back as generated.
pub async fn the_sample_city_round_trips(store: &dyn Store) {
    let opts = GenerateOptions {
        scale: Scale::Sample,
        seed: 7,
        progress: false,
        events: Some(3_000),
        as_of: None,
    };
    let summary = generate::generate_into(store, &opts)
        .await
        .expect("generate into the store");
    let city = generate::city(&opts).expect("the same city again");
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
    let events = all_events(store).await;
    assert!(
        events
            .windows(2)
            .all(|w| w[0].reported_at <= w[1].reported_at),
        "events stream oldest first"
    );
    let generated: Vec<Event> = generate::events(&city, &opts).flatten().collect();
    assert_eq!(
        sorted_by(&events, |e| e.code.clone()),
        sorted_by(&generated, |e| e.code.clone())
    );
    let counts = store.counts().await.expect("counts");
    assert_eq!(
        counts,
        Counts {
            areas: summary.areas,
            buildings: summary.buildings,
            houses: summary.houses,
            population: summary.population_rows,
            events: summary.events,
            workers: summary.workers,
            worker_fixes: summary.worker_fixes,
        }
    );
}

/// Events to ingest: two reported on May 1 (China time), one on May 2.
fn posted_events() -> Vec<Event> {
    let mut second = event("ignored", 1);
    second.external_id = Some("post-2".into());
    second.reported_at += Duration::minutes(5);
    let mut third = event("ignored", 2);
    third.external_id = Some("post-3".into());
    let mut first = event("ignored", 1);
    first.external_id = Some("post-1".into());
    vec![first, second, third]
}

/// Ingest gives new events the next codes of their China day and stores them with their
/// transitions; posting the same events again stores nothing and answers the same codes.
pub async fn ingest_stores_the_same_events_once(store: &dyn Store) {
    store.apply(&full_batch()).await.expect("apply");
    let posted = posted_events();
    let first = store.ingest_events(&posted).await.expect("ingest");
    let codes: Vec<&str> = first.iter().map(|i| i.code.as_str()).collect();
    assert_eq!(
        codes,
        ["E20240501000001", "E20240501000002", "E20240502000001"]
    );
    assert!(first.iter().all(|i| i.created));

    let again = store.ingest_events(&posted).await.expect("ingest again");
    assert_eq!(
        again.iter().map(|i| i.code.as_str()).collect::<Vec<_>>(),
        codes
    );
    assert!(again.iter().all(|i| !i.created), "{again:?}");
    assert_eq!(store.counts().await.expect("counts").events, 1 + 3);

    let stored = store
        .event("E20240502000001")
        .await
        .expect("read")
        .expect("the ingested event");
    assert_eq!(
        stored,
        Event {
            code: "E20240502000001".into(),
            ..posted[2].clone()
        }
    );
    assert_eq!(
        store.last_event_code("E20240501").await.expect("last"),
        Some("E20240501000002".into())
    );
    assert_eq!(
        store.last_event_code("E20240503").await.expect("last"),
        None
    );
}

/// An event that is not stored reads as none.
pub async fn an_unknown_event_is_none(store: &dyn Store) {
    store.apply(&full_batch()).await.expect("apply");
    assert_eq!(store.event("E20240501999999").await.expect("read"), None);
    assert_eq!(store.event("E1").await.expect("read"), Some(event("E1", 1)));
}

/// A transition is written only by the writer that read the stored number of steps; a stale
/// writer is told so and writes nothing.
pub async fn a_transition_is_checked_against_the_steps_read(store: &dyn Store) {
    store.apply(&full_batch()).await.expect("apply");
    let stored = store.event("E1").await.expect("read").expect("event");
    let steps = stored.transitions.len();
    let mut next = stored.clone();
    next.status = EventStatus::Dispatched;
    next.department = Some("环卫".into());
    next.transitions.push(Transition {
        at: at(1, 10, 5),
        from: Some(stored.status),
        to: EventStatus::Dispatched,
        actor: "dispatcher".into(),
        level: stored.level,
        department: Some("环卫".into()),
        note: Some("派遣".into()),
    });

    assert!(!store
        .transition_event(&next, steps - 1)
        .await
        .expect("store answers"));
    assert_eq!(
        store.event("E1").await.expect("read"),
        Some(stored),
        "a refused transition writes nothing"
    );
    assert!(store
        .transition_event(&next, steps)
        .await
        .expect("store answers"));
    assert!(
        !store
            .transition_event(&next, steps)
            .await
            .expect("store answers"),
        "the same step twice is refused"
    );
    assert_eq!(store.event("E1").await.expect("read"), Some(next.clone()));
    assert_eq!(all_events(store).await, vec![next]);
}

/// Stores the areas and the worker the fix cases need.
async fn store_the_worker(store: &dyn Store) {
    let mut setup = hierarchy()
        .into_iter()
        .map(Change::UpsertArea)
        .collect::<Vec<_>>();
    setup.push(Change::UpsertWorker(worker()));
    store.apply(&setup).await.expect("setup");
}

/// A fix two hours after `fix()`, `minutes` later still.
fn later_fix(minutes: i64) -> gridmap::model::WorkerFix {
    let mut fix = fix();
    fix.at += Duration::hours(2) + Duration::minutes(minutes);
    fix.position = Point::new(114.102, 35.702);
    fix
}

/// Fixes are stored once per (worker, instant): a repeat, in the batch or later, is answered
/// as not new and writes nothing; a fix of an unknown worker fails the batch.
pub async fn fixes_are_stored_once_and_need_their_worker(store: &dyn Store) {
    store_the_worker(store).await;
    let first = store
        .insert_fixes(&[fix(), later_fix(0), fix()])
        .await
        .expect("insert");
    assert_eq!(first, vec![true, true, false]);
    let again = store
        .insert_fixes(&[later_fix(0), later_fix(1)])
        .await
        .expect("insert again");
    assert_eq!(again, vec![false, true]);
    assert_eq!(store.counts().await.expect("counts").worker_fixes, 3);
    // A batch of new fixes and one holding a stored fix take different paths (PostGIS copies
    // the first, inserts the second skipping the stored fix); both keep every field.
    let stored = store
        .worker_fixes(WORKER, fix().at, later_fix(2).at)
        .await
        .expect("read back");
    assert_eq!(stored, vec![fix(), later_fix(0), later_fix(1)]);
    let mut stranger = fix();
    stranger.worker_code = "nobody".into();
    let refused = store.insert_fixes(&[later_fix(5), stranger]).await;
    assert!(
        matches!(&refused, Err(StoreError::Data(m)) if m.contains("nobody")),
        "{refused:?}"
    );
    assert_eq!(store.counts().await.expect("counts").worker_fixes, 3);
}

/// The worker state is each worker's newest fix since a time, and the open alerts; alerts are
/// replaced by id, and listed by window.
pub async fn worker_state_and_alerts_round_trip(store: &dyn Store) {
    store_the_worker(store).await;
    store
        .insert_fixes(&[later_fix(1), fix(), later_fix(0)])
        .await
        .expect("insert");
    let state = store.load_worker_state(fix().at).await.expect("state");
    assert_eq!(state.latest, vec![later_fix(1)]);
    let none = store
        .load_worker_state(later_fix(2).at)
        .await
        .expect("state");
    assert!(none.latest.is_empty());
    let raised = gridmap::model::WorkerAlert {
        id: gridmap::model::WorkerAlert::id_of(WORKER, later_fix(0).at),
        worker_code: WORKER.into(),
        kind: gridmap::model::AlertKind::OutOfGrid,
        home_code: GRID.into(),
        raised_at: later_fix(0).at,
        cleared_at: None,
        position: Point::new(114.2, 35.8),
        distance_m: 812.5,
    };
    store
        .save_alerts(std::slice::from_ref(&raised))
        .await
        .expect("raise");
    let state = store.load_worker_state(fix().at).await.expect("state");
    assert_eq!(state.open_alerts, vec![raised.clone()]);
    let cleared = gridmap::model::WorkerAlert {
        cleared_at: Some(later_fix(9).at),
        ..raised.clone()
    };
    store
        .save_alerts(std::slice::from_ref(&cleared))
        .await
        .expect("clear");
    let state = store.load_worker_state(fix().at).await.expect("state");
    assert!(state.open_alerts.is_empty());
    let listed = store
        .worker_alerts(raised.raised_at, later_fix(10).at)
        .await
        .expect("alerts");
    assert_eq!(listed, vec![cleared.clone()]);
    // Raised before the window and cleared inside it: still listed.
    let listed = store
        .worker_alerts(later_fix(5).at, later_fix(10).at)
        .await
        .expect("alerts");
    assert_eq!(listed, vec![cleared]);
    let after = store
        .worker_alerts(later_fix(10).at, later_fix(20).at)
        .await
        .expect("alerts");
    assert!(after.is_empty());
}

/// Retention deletes exactly the fixes before the cut, across days.
pub async fn retention_deletes_the_fixes_before_the_cut(store: &dyn Store) {
    store_the_worker(store).await;
    let days: Vec<gridmap::model::WorkerFix> = (0..4)
        .map(|d| {
            let mut f = fix();
            f.at += Duration::days(d);
            f
        })
        .collect();
    store.insert_fixes(&days).await.expect("insert");
    let deleted = store.prune_fixes(days[2].at).await.expect("prune");
    assert_eq!(deleted, 2);
    assert_eq!(store.counts().await.expect("counts").worker_fixes, 2);
    let state = store.load_worker_state(days[0].at).await.expect("state");
    assert_eq!(state.latest, vec![days[3].clone()]);
    // The days pruned take fixes again.
    assert_eq!(
        store.insert_fixes(&days[..1]).await.expect("insert"),
        vec![true]
    );
}

/// A worker's fixes come back for a window `[from, to)`, oldest first whatever order they
/// were written in, across UTC days (PostGIS: day partitions), to the millisecond; another
/// worker's fixes and those outside the window are left out.
pub async fn a_worker_s_fixes_are_read_in_a_window_oldest_first(store: &dyn Store) {
    let other = Worker {
        code: "W410611001001002".into(),
        device: None,
        ..worker()
    };
    let at_of = |code: &str, when| WorkerFix {
        worker_code: code.into(),
        at: when,
        ..fix()
    };
    let mut batch: Vec<Change> = hierarchy().into_iter().map(Change::UpsertArea).collect();
    batch.extend([
        Change::UpsertWorker(worker()),
        Change::UpsertWorker(other.clone()),
    ]);
    // Written newest first, on three days.
    let times = [
        at(3, 9, 0),
        at(2, 1, 0),
        at(2, 0, 0),
        at(1, 23, 500),
        at(1, 8, 0),
    ];
    batch.extend(times.iter().map(|&t| Change::InsertFix(at_of(WORKER, t))));
    batch.push(Change::InsertFix(at_of(&other.code, at(2, 0, 0))));
    store.apply(&batch).await.expect("apply");

    let read = |from, to| store.worker_fixes(WORKER, from, to);
    let got = read(at(1, 23, 500), at(3, 9, 0)).await.expect("window");
    let want: Vec<WorkerFix> = [at(1, 23, 500), at(2, 0, 0), at(2, 1, 0)]
        .into_iter()
        .map(|t| at_of(WORKER, t))
        .collect();
    assert_eq!(got, want, "from is included, to is not");
    let got = read(at(1, 23, 501), at(3, 9, 1)).await.expect("window");
    let times_read: Vec<_> = got.iter().map(|f| f.at).collect();
    assert_eq!(times_read, [at(2, 0, 0), at(2, 1, 0), at(3, 9, 0)]);
    assert!(read(at(4, 0, 0), at(5, 0, 0))
        .await
        .expect("an empty window")
        .is_empty());
    assert!(store
        .worker_fixes("W-nobody", at(1, 0, 0), at(5, 0, 0))
        .await
        .expect("an unknown worker")
        .is_empty());
}
