//! `apply`: a batch of changes in one silent transaction.
//!
//! The batch is cut into runs of consecutive changes of one kind, so the order of the batch is
//! kept (a building before its houses, a delete before a re-insert). Each run is written with one
//! statement per chunk of rows: the values travel as one array per column and the server
//! `unnest`s them into `INSERT … SELECT … ON CONFLICT`, which costs one round trip for a single
//! change and keeps bulk loads fast without temporary tables. Event transitions, the largest
//! table, are appended with binary `COPY`. Within a run only the last upsert of a key counts
//! (`ON CONFLICT DO UPDATE` cannot touch a row twice in one statement).

use std::collections::{BTreeSet, HashSet};
use std::mem::discriminant;

use chrono::NaiveDate;
use deadpool_postgres::{Pool, Transaction};
use geo_types::Geometry;
use tokio_postgres::types::ToSql;

use super::copy;
use super::error::{pool_error, query_error, write_error};
use super::references;
use super::rows::ewkb;
use crate::model::{
    Area, BasemapFeature, Building, Change, Event, House, Population, Worker, WorkerFix,
};
use crate::store::StoreError;

/// Rows per statement: large enough that round trips do not matter, small enough that one
/// statement's arrays stay a few megabytes.
const CHUNK: usize = 20_000;

/// Applies `changes` in one transaction that does not notify; returns after the commit.
pub(crate) async fn apply(pool: &Pool, changes: &[Change]) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Ok(());
    }
    let mut client = pool.get().await.map_err(pool_error)?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| query_error("cannot begin a transaction", &e))?;
    tx.batch_execute("SET LOCAL gridmap.silent = 'on'")
        .await
        .map_err(|e| query_error("cannot start a silent transaction", &e))?;
    for run in changes.chunk_by(|a, b| discriminant(a) == discriminant(b)) {
        write_run(&tx, run).await?;
    }
    tx.commit()
        .await
        .map_err(|e| query_error("cannot commit the batch", &e))
}

/// The records of one variant in a run, keeping only the last of each key.
macro_rules! latest_of {
    ($run:expr, $variant:path, $key:ident) => {
        latest(
            $run.iter()
                .filter_map(|c| match c {
                    $variant(record) => Some(record),
                    _ => None,
                })
                .collect(),
            |record| record.$key.as_str(),
        )
    };
}

/// Writes a run of changes that all have the same kind as its first.
async fn write_run(tx: &Transaction<'_>, run: &[Change]) -> Result<(), StoreError> {
    match &run[0] {
        Change::UpsertArea(_) => {
            let areas = latest_of!(run, Change::UpsertArea, code);
            chunked(&areas, |chunk| upsert_areas(tx, chunk)).await
        }
        Change::UpsertBuilding(_) => {
            let buildings = latest_of!(run, Change::UpsertBuilding, code);
            let codes: Vec<&str> = buildings.iter().map(|b| b.code.as_str()).collect();
            references::communities_stored(tx, &codes).await?;
            chunked(&buildings, |chunk| upsert_buildings(tx, chunk)).await
        }
        Change::UpsertHouse(_) => {
            let houses = latest_of!(run, Change::UpsertHouse, code);
            chunked(&houses, |chunk| upsert_houses(tx, chunk)).await
        }
        Change::SetPopulation(_) => {
            let population = latest_of!(run, Change::SetPopulation, house_code);
            chunked(&population, |chunk| upsert_population(tx, chunk)).await
        }
        Change::UpsertWorker(_) => {
            let workers = latest_of!(run, Change::UpsertWorker, code);
            chunked(&workers, |chunk| upsert_workers(tx, chunk)).await
        }
        Change::UpsertEvent(_) => {
            let events = latest_of!(run, Change::UpsertEvent, code);
            chunked(&events, |chunk| upsert_events(tx, chunk)).await
        }
        Change::UpsertBasemap(_) => {
            let features = latest_of!(run, Change::UpsertBasemap, code);
            chunked(&features, |chunk| upsert_basemap(tx, chunk)).await
        }
        Change::InsertFix(_) => {
            let fixes = fixes_of(run);
            let workers: BTreeSet<&str> = fixes.iter().map(|f| f.worker_code.as_str()).collect();
            references::workers_stored(tx, &Vec::from_iter(workers)).await?;
            insert_fixes(tx, &fixes).await
        }
        Change::DeleteArea(_) => {
            let codes = deleted_codes(run);
            references::areas_deletable(tx, &codes).await?;
            delete(tx, "area", &codes).await
        }
        Change::DeleteBuilding(_) => {
            let codes = deleted_codes(run);
            references::buildings_deletable(tx, &codes).await?;
            delete(tx, "building", &codes).await
        }
        Change::DeleteHouse(_) => delete(tx, "house", &deleted_codes(run)).await,
        Change::DeleteWorker(_) => delete(tx, "worker", &deleted_codes(run)).await,
        Change::DeleteBasemap(_) => delete(tx, "basemap", &deleted_codes(run)).await,
    }
}

fn fixes_of(run: &[Change]) -> Vec<&WorkerFix> {
    run.iter()
        .filter_map(|c| match c {
            Change::InsertFix(fix) => Some(fix),
            _ => None,
        })
        .collect()
}

/// The codes of a run of deletes (all of one table).
fn deleted_codes(run: &[Change]) -> Vec<&str> {
    run.iter()
        .filter_map(|c| match c {
            Change::DeleteArea(code)
            | Change::DeleteBuilding(code)
            | Change::DeleteHouse(code)
            | Change::DeleteWorker(code)
            | Change::DeleteBasemap(code) => Some(code.as_str()),
            _ => None,
        })
        .collect()
}

/// Keeps only the last record of each key, in the order of those last occurrences.
fn latest<'a, T>(records: Vec<&'a T>, key: impl Fn(&'a T) -> &'a str) -> Vec<&'a T> {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut kept: Vec<&T> = records
        .into_iter()
        .rev()
        .filter(|r| seen.insert(key(r)))
        .collect();
    kept.reverse();
    kept
}

async fn chunked<'a, T, F, Fut>(records: &'a [&'a T], mut write: F) -> Result<(), StoreError>
where
    F: FnMut(&'a [&'a T]) -> Fut,
    Fut: std::future::Future<Output = Result<(), StoreError>>,
{
    for chunk in records.chunks(CHUNK) {
        write(chunk).await?;
    }
    Ok(())
}

/// How a bulk write treats an existing key.
#[derive(Clone, Copy)]
enum OnConflict {
    /// Overwrite every column. `updated_at` records only other clients' writes (the change
    /// feed's catch-up re-reads those): the service's own rows get `-infinity` on insert and
    /// keep their value on update, since the engine already holds them.
    Update,
    /// Keep the stored row (append-only logs).
    Ignore,
}

/// One bulk-written table: its columns with the SQL element type of their array parameter.
/// `geometry` columns travel as EWKB (`bytea`) and are decoded by `ST_GeomFromEWKB`.
struct BulkWrite {
    table: &'static str,
    conflict_key: &'static str,
    columns: &'static [(&'static str, &'static str)],
    on_conflict: OnConflict,
}

impl BulkWrite {
    /// `INSERT … SELECT … FROM unnest($1::type[], …) ON CONFLICT …`.
    fn sql(&self) -> String {
        let names: Vec<&str> = self.columns.iter().map(|(n, _)| *n).collect();
        let arrays: Vec<String> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, (_, ty))| {
                let element = if *ty == "geometry" { "bytea" } else { ty };
                format!("${}::{element}[]", i + 1)
            })
            .collect();
        let values: Vec<String> = self
            .columns
            .iter()
            .map(|(n, ty)| match *ty {
                "geometry" => format!("ST_GeomFromEWKB(t.{n})"),
                _ => format!("t.{n}"),
            })
            .collect();
        let action = match self.on_conflict {
            OnConflict::Ignore => "DO NOTHING".to_string(),
            OnConflict::Update => {
                let keys: Vec<&str> = self.conflict_key.split(',').map(str::trim).collect();
                let sets: Vec<String> = names
                    .iter()
                    .filter(|n| !keys.contains(n))
                    .map(|n| format!("{n} = EXCLUDED.{n}"))
                    .collect();
                format!("DO UPDATE SET {}", sets.join(", "))
            }
        };
        let (stamp_column, stamp_value) = match self.on_conflict {
            OnConflict::Update => (", updated_at", ", '-infinity'::timestamptz"),
            OnConflict::Ignore => ("", ""),
        };
        format!(
            "INSERT INTO {table} ({cols}{stamp_column}) SELECT {values}{stamp_value} FROM unnest({arrays}) AS t({cols}) \
             ON CONFLICT ({key}) {action}",
            table = self.table,
            cols = names.join(", "),
            values = values.join(", "),
            arrays = arrays.join(", "),
            key = self.conflict_key,
        )
    }

    async fn execute(
        &self,
        tx: &Transaction<'_>,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<(), StoreError> {
        let statement = tx
            .prepare_cached(&self.sql())
            .await
            .map_err(|e| query_error(&format!("cannot prepare the {} write", self.table), &e))?;
        tx.execute(&statement, params)
            .await
            .map_err(|e| write_error(self.table, &e))?;
        Ok(())
    }
}

const AREA_WRITE: BulkWrite = BulkWrite {
    table: "area",
    conflict_key: "code",
    columns: &[
        ("code", "text"),
        ("layer", "text"),
        ("level", "int2"),
        ("name", "text"),
        ("parent_code", "text"),
        ("geom", "geometry"),
        ("center", "geometry"),
        ("leader_name", "text"),
        ("leader_phone", "text"),
        ("leader_photo_url", "text"),
        ("urban_rural", "int2"),
        ("valid_from", "date"),
        ("valid_to", "date"),
    ],
    on_conflict: OnConflict::Update,
};

async fn upsert_areas(tx: &Transaction<'_>, areas: &[&Area]) -> Result<(), StoreError> {
    let code: Vec<&str> = areas.iter().map(|a| a.code.as_str()).collect();
    let layer: Vec<String> = areas
        .iter()
        .map(|a| a.layer.as_str().into_owned())
        .collect();
    let level: Vec<i16> = areas.iter().map(|a| a.level.as_i16()).collect();
    let name: Vec<&str> = areas.iter().map(|a| a.name.as_str()).collect();
    let parent: Vec<Option<&str>> = areas.iter().map(|a| a.parent_code.as_deref()).collect();
    let geom = areas
        .iter()
        .map(|a| ewkb(Geometry::MultiPolygon(a.geometry.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    let center = areas
        .iter()
        .map(|a| a.center.map(|c| ewkb(Geometry::Point(c))).transpose())
        .collect::<Result<Vec<_>, _>>()?;
    let leader: Vec<Option<&str>> = areas.iter().map(|a| a.leader_name.as_deref()).collect();
    let phone: Vec<Option<&str>> = areas.iter().map(|a| a.leader_phone.as_deref()).collect();
    let photo: Vec<Option<&str>> = areas
        .iter()
        .map(|a| a.leader_photo_url.as_deref())
        .collect();
    let urban_rural: Vec<Option<i16>> = areas.iter().map(|a| a.urban_rural).collect();
    let from: Vec<Option<NaiveDate>> = areas.iter().map(|a| a.valid_from).collect();
    let to: Vec<Option<NaiveDate>> = areas.iter().map(|a| a.valid_to).collect();
    AREA_WRITE
        .execute(
            tx,
            &[
                &code,
                &layer,
                &level,
                &name,
                &parent,
                &geom,
                &center,
                &leader,
                &phone,
                &photo,
                &urban_rural,
                &from,
                &to,
            ],
        )
        .await
}

const BUILDING_WRITE: BulkWrite = BulkWrite {
    table: "building",
    conflict_key: "code",
    columns: &[
        ("code", "text"),
        ("name", "text"),
        ("address", "text"),
        ("compound", "text"),
        ("building_use", "text"),
        ("floors", "int2"),
        ("height_m", "float8"),
        ("geom", "geometry"),
        ("grid_code", "text"),
    ],
    on_conflict: OnConflict::Update,
};

async fn upsert_buildings(tx: &Transaction<'_>, buildings: &[&Building]) -> Result<(), StoreError> {
    let code: Vec<&str> = buildings.iter().map(|b| b.code.as_str()).collect();
    let name: Vec<&str> = buildings.iter().map(|b| b.name.as_str()).collect();
    let address: Vec<Option<&str>> = buildings.iter().map(|b| b.address.as_deref()).collect();
    let compound: Vec<Option<&str>> = buildings.iter().map(|b| b.compound.as_deref()).collect();
    let building_use: Vec<&str> = buildings.iter().map(|b| b.building_use.as_str()).collect();
    let floors: Vec<i16> = buildings.iter().map(|b| b.floors).collect();
    let height: Vec<f64> = buildings.iter().map(|b| b.height_m).collect();
    let geom = buildings
        .iter()
        .map(|b| ewkb(Geometry::Polygon(b.geometry.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    let grid: Vec<Option<&str>> = buildings.iter().map(|b| b.grid_code.as_deref()).collect();
    BUILDING_WRITE
        .execute(
            tx,
            &[
                &code,
                &name,
                &address,
                &compound,
                &building_use,
                &floors,
                &height,
                &geom,
                &grid,
            ],
        )
        .await
}

const BASEMAP_WRITE: BulkWrite = BulkWrite {
    table: "basemap",
    conflict_key: "code",
    columns: &[
        ("code", "text"),
        ("kind", "text"),
        ("name", "text"),
        ("geom", "geometry"),
    ],
    on_conflict: OnConflict::Update,
};

async fn upsert_basemap(
    tx: &Transaction<'_>,
    features: &[&BasemapFeature],
) -> Result<(), StoreError> {
    let code: Vec<&str> = features.iter().map(|f| f.code.as_str()).collect();
    let kind: Vec<&str> = features.iter().map(|f| f.kind.as_str()).collect();
    let name: Vec<&str> = features.iter().map(|f| f.name.as_str()).collect();
    let geom = features
        .iter()
        .map(|f| ewkb(f.geometry.to_geometry()))
        .collect::<Result<Vec<_>, _>>()?;
    BASEMAP_WRITE
        .execute(tx, &[&code, &kind, &name, &geom])
        .await
}

const HOUSE_WRITE: BulkWrite = BulkWrite {
    table: "house",
    conflict_key: "code",
    columns: &[
        ("code", "text"),
        ("building_code", "text"),
        ("unit", "int2"),
        ("floor", "int2"),
        ("room", "text"),
        ("house_use", "text"),
        ("households", "int2"),
    ],
    on_conflict: OnConflict::Update,
};

async fn upsert_houses(tx: &Transaction<'_>, houses: &[&House]) -> Result<(), StoreError> {
    let code: Vec<&str> = houses.iter().map(|h| h.code.as_str()).collect();
    let building: Vec<&str> = houses.iter().map(|h| h.building_code.as_str()).collect();
    let unit: Vec<i16> = houses.iter().map(|h| h.unit).collect();
    let floor: Vec<i16> = houses.iter().map(|h| h.floor).collect();
    let room: Vec<&str> = houses.iter().map(|h| h.room.as_str()).collect();
    let house_use: Vec<&str> = houses.iter().map(|h| h.house_use.as_str()).collect();
    let households: Vec<i16> = houses.iter().map(|h| h.households).collect();
    HOUSE_WRITE
        .execute(
            tx,
            &[
                &code,
                &building,
                &unit,
                &floor,
                &room,
                &house_use,
                &households,
            ],
        )
        .await
}

const POPULATION_WRITE: BulkWrite = BulkWrite {
    table: "population",
    conflict_key: "house_code",
    columns: &[
        ("house_code", "text"),
        ("registered", "int4"),
        ("floating", "int4"),
        ("overseas", "int4"),
        ("elderly_alone", "int4"),
        ("left_behind_children", "int4"),
        ("disabled", "int4"),
        ("low_income", "int4"),
        ("released_prisoners", "int4"),
        ("community_correction", "int4"),
        ("severe_mental", "int4"),
        ("drug_users", "int4"),
        ("key_youth", "int4"),
        ("party_members", "int4"),
    ],
    on_conflict: OnConflict::Update,
};

async fn upsert_population(tx: &Transaction<'_>, rows: &[&Population]) -> Result<(), StoreError> {
    let house: Vec<&str> = rows.iter().map(|p| p.house_code.as_str()).collect();
    let registered: Vec<i32> = rows.iter().map(|p| p.counts.registered).collect();
    let floating: Vec<i32> = rows.iter().map(|p| p.counts.floating).collect();
    let overseas: Vec<i32> = rows.iter().map(|p| p.counts.overseas).collect();
    let care: Vec<Vec<i32>> = (0..10)
        .map(|i| rows.iter().map(|p| p.counts.care.to_array()[i]).collect())
        .collect();
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&house, &registered, &floating, &overseas];
    params.extend(care.iter().map(|c| c as &(dyn ToSql + Sync)));
    POPULATION_WRITE.execute(tx, &params).await
}

const WORKER_WRITE: BulkWrite = BulkWrite {
    table: "worker",
    conflict_key: "code",
    columns: &[
        ("code", "text"),
        ("name", "text"),
        ("phone", "text"),
        ("role", "text"),
        ("home_code", "text"),
        ("device", "text"),
    ],
    on_conflict: OnConflict::Update,
};

async fn upsert_workers(tx: &Transaction<'_>, workers: &[&Worker]) -> Result<(), StoreError> {
    let code: Vec<&str> = workers.iter().map(|w| w.code.as_str()).collect();
    let name: Vec<&str> = workers.iter().map(|w| w.name.as_str()).collect();
    let phone: Vec<Option<&str>> = workers.iter().map(|w| w.phone.as_deref()).collect();
    let role: Vec<&str> = workers.iter().map(|w| w.role.as_str()).collect();
    let home: Vec<&str> = workers.iter().map(|w| w.home_code.as_str()).collect();
    let device: Vec<Option<&str>> = workers.iter().map(|w| w.device.as_deref()).collect();
    WORKER_WRITE
        .execute(tx, &[&code, &name, &phone, &role, &home, &device])
        .await
}

const EVENT_WRITE: BulkWrite = BulkWrite {
    table: "event",
    conflict_key: "code",
    columns: &[
        ("code", "text"),
        ("source", "text"),
        ("external_id", "text"),
        ("title", "text"),
        ("category", "text"),
        ("content", "text"),
        ("reporter_name", "text"),
        ("reporter_phone", "text"),
        ("geom", "geometry"),
        ("address", "text"),
        ("area_code", "text"),
        ("outside_grid", "bool"),
        ("status", "text"),
        ("level", "text"),
        ("department", "text"),
        ("reported_at", "timestamptz"),
        ("deadline", "timestamptz"),
        ("closed_at", "timestamptz"),
        ("evaluation_score", "int2"),
        ("evaluation_comment", "text"),
        ("idempotency_scope", "text"),
    ],
    on_conflict: OnConflict::Update,
};

/// The columns of a batch of events, in the order of [`EVENT_WRITE`]'s columns, as arrays for
/// one `unnest` statement (shared by the upsert here and the idempotent ingest).
pub(crate) struct EventColumns<'a> {
    pub code: Vec<&'a str>,
    source: Vec<&'a str>,
    external: Vec<Option<&'a str>>,
    title: Vec<&'a str>,
    category: Vec<&'a str>,
    content: Vec<&'a str>,
    reporter: Vec<Option<&'a str>>,
    phone: Vec<Option<&'a str>>,
    geom: Vec<Vec<u8>>,
    address: Vec<Option<&'a str>>,
    area: Vec<Option<&'a str>>,
    outside: Vec<bool>,
    status: Vec<&'a str>,
    level: Vec<&'a str>,
    department: Vec<Option<&'a str>>,
    reported: Vec<chrono::DateTime<chrono::Utc>>,
    deadline: Vec<Option<chrono::DateTime<chrono::Utc>>>,
    closed: Vec<Option<chrono::DateTime<chrono::Utc>>>,
    score: Vec<Option<i16>>,
    comment: Vec<Option<&'a str>>,
    scope: Vec<&'a str>,
}

impl<'a> EventColumns<'a> {
    /// The columns of `events`; fails only when a location cannot be encoded.
    pub(crate) fn new(events: &[&'a Event]) -> Result<EventColumns<'a>, StoreError> {
        let text = |f: fn(&'a Event) -> &'a str| events.iter().map(|e| f(e)).collect();
        let opt = |f: fn(&'a Event) -> Option<&'a str>| events.iter().map(|e| f(e)).collect();
        Ok(EventColumns {
            code: text(|e| e.code.as_str()),
            source: text(|e| e.source.as_str()),
            external: opt(|e| e.external_id.as_deref()),
            title: text(|e| e.title.as_str()),
            category: text(|e| e.category.as_str()),
            content: text(|e| e.content.as_str()),
            reporter: opt(|e| e.reporter_name.as_deref()),
            phone: opt(|e| e.reporter_phone.as_deref()),
            geom: events
                .iter()
                .map(|e| ewkb(Geometry::Point(e.location)))
                .collect::<Result<Vec<_>, _>>()?,
            address: opt(|e| e.address.as_deref()),
            area: opt(|e| e.area_code.as_deref()),
            outside: events.iter().map(|e| e.outside_grid).collect(),
            status: text(|e| e.status.as_str()),
            level: text(|e| e.level.as_str()),
            department: opt(|e| e.department.as_deref()),
            reported: events.iter().map(|e| e.reported_at).collect(),
            deadline: events.iter().map(|e| e.deadline).collect(),
            closed: events.iter().map(|e| e.closed_at).collect(),
            score: events
                .iter()
                .map(|e| e.evaluation.as_ref().map(|v| v.score))
                .collect(),
            comment: opt(|e| e.evaluation.as_ref().and_then(|v| v.comment.as_deref())),
            scope: text(|e| e.idempotency_scope.as_str()),
        })
    }

    /// The statement parameters, `$1` to `$21`.
    pub(crate) fn params(&self) -> [&(dyn ToSql + Sync); 21] {
        [
            &self.code,
            &self.source,
            &self.external,
            &self.title,
            &self.category,
            &self.content,
            &self.reporter,
            &self.phone,
            &self.geom,
            &self.address,
            &self.area,
            &self.outside,
            &self.status,
            &self.level,
            &self.department,
            &self.reported,
            &self.deadline,
            &self.closed,
            &self.score,
            &self.comment,
            &self.scope,
        ]
    }
}

/// Upserts events and replaces their transition logs.
async fn upsert_events(tx: &Transaction<'_>, events: &[&Event]) -> Result<(), StoreError> {
    let columns = EventColumns::new(events)?;
    EVENT_WRITE.execute(tx, &columns.params()).await?;
    let code = &columns.code;
    // The primary key (event_code, seq) finds each event's steps. Without fresh statistics
    // (a table just loaded, autovacuum off) PostgreSQL's reused plan for `= ANY($1)` scans the
    // whole table instead, a second per batch at city scale; the index is the only sane plan.
    tx.batch_execute("SET LOCAL enable_seqscan = off")
        .await
        .map_err(|e| write_error("event transition", &e))?;
    tx.execute(
        "DELETE FROM event_transition WHERE event_code = ANY($1)",
        &[code],
    )
    .await
    .map_err(|e| write_error("event transition", &e))?;
    tx.batch_execute("SET LOCAL enable_seqscan = on")
        .await
        .map_err(|e| write_error("event transition", &e))?;
    copy::transitions(tx, events).await
}

const FIX_WRITE: BulkWrite = BulkWrite {
    table: "worker_fix",
    conflict_key: "worker_code, at",
    columns: &[
        ("worker_code", "text"),
        ("at", "timestamptz"),
        ("geom", "geometry"),
        ("accuracy_m", "float4"),
        ("speed_mps", "float4"),
        ("heading_deg", "float4"),
        ("source_crs", "text"),
    ],
    on_conflict: OnConflict::Ignore,
};

/// Appends GPS fixes (a repeated fix of the same worker and instant is ignored), creating the
/// day partitions they need first.
async fn insert_fixes(tx: &Transaction<'_>, fixes: &[&WorkerFix]) -> Result<(), StoreError> {
    let days: BTreeSet<NaiveDate> = fixes.iter().map(|f| f.at.date_naive()).collect();
    for day in days {
        super::worker_state::ensure_partition(tx, day).await?;
    }
    for chunk in fixes.chunks(CHUNK) {
        let worker: Vec<&str> = chunk.iter().map(|f| f.worker_code.as_str()).collect();
        let at = chunk.iter().map(|f| f.at).collect::<Vec<_>>();
        let geom = chunk
            .iter()
            .map(|f| ewkb(Geometry::Point(f.position)))
            .collect::<Result<Vec<_>, _>>()?;
        let accuracy: Vec<Option<f32>> = chunk.iter().map(|f| f.accuracy_m).collect();
        let speed: Vec<Option<f32>> = chunk.iter().map(|f| f.speed_mps).collect();
        let heading: Vec<Option<f32>> = chunk.iter().map(|f| f.heading_deg).collect();
        let crs: Vec<&str> = chunk.iter().map(|f| f.source_crs.as_str()).collect();
        FIX_WRITE
            .execute(
                tx,
                &[&worker, &at, &geom, &accuracy, &speed, &heading, &crs],
            )
            .await?;
    }
    Ok(())
}

/// Deletes rows by code (the population of a deleted house goes with it); the run was checked
/// by [`references`] first.
async fn delete(tx: &Transaction<'_>, table: &str, codes: &[&str]) -> Result<(), StoreError> {
    tx.execute(
        &format!("DELETE FROM {table} WHERE code = ANY($1)"),
        &[&codes],
    )
    .await
    .map_err(|e| write_error(table, &e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::postgis::rows::POPULATION_COLUMNS;

    #[test]
    fn latest_keeps_the_last_of_each_key_in_order() {
        let (a1, b, a2) = ("a".to_string(), "b".to_string(), "a".to_string());
        let values = [(&a1, 1), (&b, 2), (&a2, 3)];
        let refs: Vec<&(&String, i32)> = values.iter().collect();
        let kept: Vec<i32> = latest(refs, |v| v.0.as_str())
            .into_iter()
            .map(|v| v.1)
            .collect();
        assert_eq!(kept, vec![2, 3]);
    }

    #[test]
    fn latest_of_nothing_is_nothing() {
        let none: Vec<&(String, i32)> = Vec::new();
        assert!(latest(none, |v| v.0.as_str()).is_empty());
    }

    #[test]
    fn upsert_sql_updates_every_column_but_the_key() {
        let sql = HOUSE_WRITE.sql();
        assert!(
            sql.contains("FROM unnest($1::text[], $2::text[], $3::int2[]"),
            "{sql}"
        );
        assert!(
            sql.contains("ON CONFLICT (code) DO UPDATE SET building_code = EXCLUDED.building_code"),
            "{sql}"
        );
        assert!(!sql.contains(" code = EXCLUDED.code"), "{sql}");
        assert!(!sql.contains("updated_at = "), "{sql}");
        assert!(sql.contains("'-infinity'::timestamptz"), "{sql}");
    }

    #[test]
    fn geometry_travels_as_ewkb() {
        let sql = FIX_WRITE.sql();
        assert!(sql.contains("$3::bytea[]"), "{sql}");
        assert!(sql.contains("ST_GeomFromEWKB(t.geom)"), "{sql}");
        assert!(
            sql.ends_with("ON CONFLICT (worker_code, at) DO NOTHING"),
            "{sql}"
        );
    }

    #[test]
    fn population_columns_match_the_read_list() {
        let written: Vec<&str> = POPULATION_WRITE.columns.iter().map(|(n, _)| *n).collect();
        let read: Vec<&str> = POPULATION_COLUMNS.split(',').map(str::trim).collect();
        assert_eq!(written, read);
    }
}
