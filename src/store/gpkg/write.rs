//! Applying a batch of changes: one IMMEDIATE transaction, upserts by code through cached
//! prepared statements, integrity checks where the model has references, and the
//! `gpkg_contents` extent and `last_change` kept current. Any error rolls the whole batch back.
//!
//! References checked (the rule, and what a violation says to do):
//! - a building's community (its first 12 code digits) must be a stored area;
//! - a house's building, a population's house and a fix's worker must be stored;
//! - an area with child areas, or a community with buildings, cannot be deleted;
//! - a building with houses cannot be deleted;
//! - deleting a house also deletes its population counts (they describe the house).
//!
//! Deleting a record that is not stored is a no-op, so retried deletes are harmless.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use geo_types::Geometry;
use rusqlite::types::ToSql;
use rusqlite::{params, Connection, OptionalExtension, Params, TransactionBehavior};

use crate::model::{
    Area, BasemapFeature, Building, Change, Event, House, Level, Population, Worker, WorkerFix,
    STORAGE_SRID,
};

use super::blob::{self, Envelope};
use super::error::{is_constraint, GpkgError};
use super::rows::{
    date_text, population_columns, time_text, AREA_COLUMNS, BASEMAP_COLUMNS, BUILDING_COLUMNS,
    EVENT_COLUMNS, FIX_COLUMNS, HOUSE_COLUMNS, TRANSITION_COLUMNS, WORKER_COLUMNS,
};

/// Applies `changes` in one transaction and commits; on error nothing is stored.
pub fn apply(conn: &mut Connection, changes: &[Change]) -> Result<(), GpkgError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(GpkgError::sqlite("starting a write transaction"))?;
    let mut touched = Touched::default();
    for change in changes {
        apply_change(&tx, change, &mut touched)?;
    }
    touched.record(&tx)?;
    tx.commit()
        .map_err(GpkgError::sqlite("committing the batch"))
}

fn apply_change(
    conn: &Connection,
    change: &Change,
    touched: &mut Touched,
) -> Result<(), GpkgError> {
    match change {
        Change::UpsertArea(a) => upsert_area(conn, a, touched),
        Change::DeleteArea(code) => delete_area(conn, code, touched),
        Change::UpsertBuilding(b) => upsert_building(conn, b, touched),
        Change::DeleteBuilding(code) => delete_building(conn, code, touched),
        Change::UpsertHouse(h) => upsert_house(conn, h, touched),
        Change::DeleteHouse(code) => delete_house(conn, code, touched),
        Change::SetPopulation(p) => set_population(conn, p, touched),
        Change::UpsertWorker(w) => upsert_worker(conn, w, touched),
        Change::DeleteWorker(code) => delete_worker(conn, code, touched),
        Change::InsertFix(f) => insert_fix(conn, f, touched).map(|_| ()),
        Change::UpsertEvent(e) => upsert_event(conn, e, touched),
        Change::UpsertBasemap(f) => upsert_basemap(conn, f, touched),
        Change::DeleteBasemap(code) => delete_basemap(conn, code, touched),
    }
}

/// The SQL of every upsert, built once from the column lists in `rows.rs`.
struct Sql {
    area: String,
    building: String,
    house: String,
    population: String,
    worker: String,
    fix: String,
    event: String,
    transition: String,
    basemap: String,
}

fn sql() -> &'static Sql {
    static SQL: OnceLock<Sql> = OnceLock::new();
    SQL.get_or_init(|| Sql {
        area: upsert_sql("area", "code", &AREA_COLUMNS),
        building: upsert_sql("building", "code", &BUILDING_COLUMNS),
        house: upsert_sql("house", "code", &HOUSE_COLUMNS),
        population: upsert_sql("population", "house_code", population_columns()),
        worker: upsert_sql("worker", "code", &WORKER_COLUMNS),
        fix: format!(
            "{} ON CONFLICT(worker_code, at) DO NOTHING",
            insert_sql("worker_fix", &FIX_COLUMNS)
        ),
        event: upsert_sql("event", "code", &EVENT_COLUMNS),
        basemap: upsert_sql("basemap", "code", &BASEMAP_COLUMNS),
        transition: insert_sql("event_transition", &TRANSITION_COLUMNS),
    })
}

fn insert_sql(table: &str, columns: &[&str]) -> String {
    let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        columns.join(", "),
        marks.join(", ")
    )
}

/// `INSERT … ON CONFLICT(key) DO UPDATE` of every non-key column.
fn upsert_sql(table: &str, key: &str, columns: &[&str]) -> String {
    let key_columns: Vec<&str> = key.split(", ").collect();
    let updates: Vec<String> = columns
        .iter()
        .filter(|c| !key_columns.contains(c))
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "{} ON CONFLICT({key}) DO UPDATE SET {}",
        insert_sql(table, columns),
        updates.join(", ")
    )
}

/// Runs a cached statement; constraint violations become integrity errors naming `what`.
pub(super) fn execute(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    what: impl FnOnce() -> String,
) -> Result<usize, GpkgError> {
    let mut stmt = conn
        .prepare_cached(sql)
        .map_err(GpkgError::sqlite("preparing a write"))?;
    stmt.execute(params).map_err(|e| {
        let what = what();
        if is_constraint(&e) {
            GpkgError::Integrity(format!("{what} violates a constraint of the store ({e})"))
        } else {
            GpkgError::Sqlite {
                doing: format!("writing {what}"),
                source: e,
            }
        }
    })
}

/// The first value of a cached single-parameter query, if any row matches.
fn first(conn: &Connection, sql: &str, key: &str) -> Result<Option<String>, GpkgError> {
    let mut stmt = conn
        .prepare_cached(sql)
        .map_err(GpkgError::sqlite("preparing a check"))?;
    stmt.query_row([key], |r| r.get(0))
        .optional()
        .map_err(GpkgError::sqlite(format!("checking references of {key}")))
}

pub(super) fn encode(
    geometry: Geometry<f64>,
    what: impl FnOnce() -> String,
) -> Result<Vec<u8>, GpkgError> {
    blob::encode(&geometry, STORAGE_SRID).map_err(|source| GpkgError::Encode {
        what: what(),
        source,
    })
}

fn upsert_area(conn: &Connection, a: &Area, touched: &mut Touched) -> Result<(), GpkgError> {
    let geom = encode(a.geometry.clone().into(), || format!("area {}", a.code))?;
    let (center_lon, center_lat) = a.center.map(|p| (p.x(), p.y())).unzip();
    execute(
        conn,
        &sql().area,
        params![
            geom,
            a.code,
            a.layer.as_str(),
            a.level.as_i16(),
            a.name,
            a.parent_code,
            a.leader_name,
            a.leader_phone,
            a.leader_photo_url,
            a.urban_rural,
            a.valid_from.as_ref().map(date_text),
            a.valid_to.as_ref().map(date_text),
            center_lon,
            center_lat,
        ],
        || format!("area {}", a.code),
    )?;
    touched.feature("area", &geom);
    Ok(())
}

fn delete_area(conn: &Connection, code: &str, touched: &mut Touched) -> Result<(), GpkgError> {
    if let Some(child) = first(
        conn,
        "SELECT code FROM area WHERE parent_code = ?1 LIMIT 1",
        code,
    )? {
        return Err(GpkgError::Integrity(format!(
            "area {code} still has child areas (e.g. {child}): delete or re-parent them first"
        )));
    }
    if code.len() == Level::Community.base_code_len() {
        let building = first(
            conn,
            "SELECT code FROM building WHERE code > ?1 AND code < ?1 || ':' LIMIT 1",
            code,
        )?;
        if let Some(building) = building {
            return Err(GpkgError::Integrity(format!(
                "community {code} still has buildings (e.g. {building}): delete them first"
            )));
        }
    }
    execute(conn, "DELETE FROM area WHERE code = ?1", [code], || {
        format!("the deletion of area {code}")
    })?;
    touched.table("area");
    Ok(())
}

fn upsert_building(
    conn: &Connection,
    b: &Building,
    touched: &mut Touched,
) -> Result<(), GpkgError> {
    let community_len = Level::Community.base_code_len();
    let community = b.code.get(..community_len).filter(|_| b.code.len() > community_len).ok_or_else(|| {
        GpkgError::Integrity(format!(
            "building code {:?} does not start with a 12-digit community code: expected community + 5 digits",
            b.code
        ))
    })?;
    if first(conn, "SELECT code FROM area WHERE code = ?1", community)?.is_none() {
        return Err(GpkgError::Integrity(format!(
            "building {}: its community {community} is not stored: add that area first",
            b.code
        )));
    }
    let geom = encode(b.geometry.clone().into(), || format!("building {}", b.code))?;
    execute(
        conn,
        &sql().building,
        params![
            geom,
            b.code,
            b.name,
            b.address,
            b.compound,
            b.building_use.as_str(),
            b.floors,
            b.height_m,
            b.grid_code
        ],
        || format!("building {}", b.code),
    )?;
    touched.feature("building", &geom);
    Ok(())
}

fn delete_building(conn: &Connection, code: &str, touched: &mut Touched) -> Result<(), GpkgError> {
    if let Some(house) = first(
        conn,
        "SELECT code FROM house WHERE building_code = ?1 LIMIT 1",
        code,
    )? {
        return Err(GpkgError::Integrity(format!(
            "building {code} still has houses (e.g. {house}): delete them first"
        )));
    }
    execute(conn, "DELETE FROM building WHERE code = ?1", [code], || {
        format!("the deletion of building {code}")
    })?;
    touched.table("building");
    Ok(())
}

fn upsert_house(conn: &Connection, h: &House, touched: &mut Touched) -> Result<(), GpkgError> {
    if first(
        conn,
        "SELECT code FROM building WHERE code = ?1",
        &h.building_code,
    )?
    .is_none()
    {
        return Err(GpkgError::Integrity(format!(
            "house {}: its building {} is not stored: add the building first",
            h.code, h.building_code
        )));
    }
    execute(
        conn,
        &sql().house,
        params![
            h.code,
            h.building_code,
            h.unit,
            h.floor,
            h.room,
            h.house_use.as_str(),
            h.households
        ],
        || format!("house {}", h.code),
    )?;
    touched.table("house");
    Ok(())
}

fn delete_house(conn: &Connection, code: &str, touched: &mut Touched) -> Result<(), GpkgError> {
    let what = || format!("the deletion of house {code}");
    execute(
        conn,
        "DELETE FROM population WHERE house_code = ?1",
        [code],
        what,
    )?;
    execute(conn, "DELETE FROM house WHERE code = ?1", [code], what)?;
    touched.table("population");
    touched.table("house");
    Ok(())
}

fn set_population(
    conn: &Connection,
    p: &Population,
    touched: &mut Touched,
) -> Result<(), GpkgError> {
    if first(
        conn,
        "SELECT code FROM house WHERE code = ?1",
        &p.house_code,
    )?
    .is_none()
    {
        return Err(GpkgError::Integrity(format!(
            "population of house {}: the house is not stored: add the house first",
            p.house_code
        )));
    }
    let care = p.counts.care.to_array();
    let mut values: Vec<&dyn ToSql> = vec![
        &p.house_code,
        &p.counts.registered,
        &p.counts.floating,
        &p.counts.overseas,
    ];
    values.extend(care.iter().map(|c| c as &dyn ToSql));
    execute(conn, &sql().population, values.as_slice(), || {
        format!("population of house {}", p.house_code)
    })?;
    touched.table("population");
    Ok(())
}

fn upsert_worker(conn: &Connection, w: &Worker, touched: &mut Touched) -> Result<(), GpkgError> {
    execute(
        conn,
        &sql().worker,
        params![
            w.code,
            w.name,
            w.phone,
            w.role.as_str(),
            w.home_code,
            w.device
        ],
        || format!("worker {}", w.code),
    )?;
    touched.table("worker");
    Ok(())
}

fn delete_worker(conn: &Connection, code: &str, touched: &mut Touched) -> Result<(), GpkgError> {
    execute(conn, "DELETE FROM worker WHERE code = ?1", [code], || {
        format!("the deletion of worker {code}")
    })?;
    touched.table("worker");
    Ok(())
}

/// Stores a fix unless one of its worker and instant is stored; answers whether it was new.
pub(super) fn insert_fix(
    conn: &Connection,
    f: &WorkerFix,
    touched: &mut Touched,
) -> Result<bool, GpkgError> {
    let at = time_text(&f.at);
    let what = || format!("the fix of worker {} at {at}", f.worker_code);
    if first(
        conn,
        "SELECT code FROM worker WHERE code = ?1",
        &f.worker_code,
    )?
    .is_none()
    {
        return Err(GpkgError::Integrity(format!(
            "{}: the worker is not stored: add the worker first",
            what()
        )));
    }
    let geom = encode(f.position.into(), what)?;
    let inserted = execute(
        conn,
        &sql().fix,
        params![
            geom,
            f.worker_code,
            at,
            f.accuracy_m,
            f.speed_mps,
            f.heading_deg,
            f.source_crs
        ],
        what,
    )?;
    touched.feature("worker_fix", &geom);
    Ok(inserted > 0)
}

fn upsert_event(conn: &Connection, e: &Event, touched: &mut Touched) -> Result<(), GpkgError> {
    let what = || format!("event {}", e.code);
    let geom = encode(e.location.into(), what)?;
    execute(
        conn,
        &sql().event,
        params![
            geom,
            e.code,
            e.external_id,
            e.title,
            e.category,
            e.source.as_str(),
            e.content,
            e.reporter_name,
            e.reporter_phone,
            e.address,
            e.area_code,
            e.outside_grid,
            e.status.as_str(),
            e.level.as_str(),
            e.department,
            time_text(&e.reported_at),
            e.deadline.as_ref().map(time_text),
            e.closed_at.as_ref().map(time_text),
            e.evaluation.as_ref().map(|v| v.score),
            e.evaluation.as_ref().and_then(|v| v.comment.as_deref()),
            e.idempotency_scope,
        ],
        what,
    )?;
    execute(
        conn,
        "DELETE FROM event_transition WHERE event_code = ?1",
        [&e.code],
        what,
    )?;
    for (seq, t) in (1i64..).zip(&e.transitions) {
        execute(
            conn,
            &sql().transition,
            params![
                e.code,
                seq,
                time_text(&t.at),
                t.from.map(|s| s.as_str()),
                t.to.as_str(),
                t.actor,
                t.level.as_str(),
                t.department,
                t.note
            ],
            || format!("transition {seq} of event {}", e.code),
        )?;
    }
    touched.feature("event", &geom);
    touched.table("event_transition");
    Ok(())
}

fn upsert_basemap(
    conn: &Connection,
    f: &BasemapFeature,
    touched: &mut Touched,
) -> Result<(), GpkgError> {
    let what = || format!("basemap feature {}", f.code);
    f.validate()
        .map_err(|e| GpkgError::Integrity(format!("{}: {e}", what())))?;
    let geom = encode(f.geometry.to_geometry(), what)?;
    execute(
        conn,
        &sql().basemap,
        params![geom, f.code, f.kind.as_str(), f.name],
        what,
    )?;
    touched.feature("basemap", &geom);
    Ok(())
}

fn delete_basemap(conn: &Connection, code: &str, touched: &mut Touched) -> Result<(), GpkgError> {
    execute(conn, "DELETE FROM basemap WHERE code = ?1", [code], || {
        format!("the deletion of basemap feature {code}")
    })?;
    touched.table("basemap");
    Ok(())
}

/// The tables a batch wrote, with the union of the envelopes written to each feature table.
#[derive(Default)]
pub(super) struct Touched(BTreeMap<&'static str, Option<Envelope>>);

impl Touched {
    /// Notes a write to `table` without growing its extent (attributes, deletions).
    pub(super) fn table(&mut self, table: &'static str) {
        self.0.entry(table).or_insert(None);
    }

    /// Notes a geometry written to `table`.
    pub(super) fn feature(&mut self, table: &'static str, geom: &[u8]) {
        let written = blob::envelope(geom).ok().flatten();
        let slot = self.0.entry(table).or_insert(None);
        *slot = match (*slot, written) {
            (Some(a), Some(b)) => Some(a.union(b)),
            (a, b) => a.or(b),
        };
    }

    /// Updates `last_change` of every touched table and grows the extent of feature tables
    /// (it never shrinks on deletion: GeoPackage allows an extent larger than the content).
    pub(super) fn record(&self, conn: &Connection) -> Result<(), GpkgError> {
        for (table, extent) in &self.0 {
            let what = || format!("the gpkg_contents row of {table}");
            execute(
                conn,
                "UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE table_name = ?1",
                [table],
                what,
            )?;
            if let Some(e) = extent {
                execute(
                    conn,
                    "UPDATE gpkg_contents SET
                       min_x = min(coalesce(min_x, ?2), ?2), max_x = max(coalesce(max_x, ?3), ?3),
                       min_y = min(coalesce(min_y, ?4), ?4), max_y = max(coalesce(max_y, ?5), ?5)
                     WHERE table_name = ?1",
                    params![table, e.min_x, e.max_x, e.min_y, e.max_y],
                    what,
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsert_sql_updates_every_non_key_column() {
        assert_eq!(
            upsert_sql("t", "a, b", &["a", "b", "c"]),
            "INSERT INTO t (a, b, c) VALUES (?1, ?2, ?3) ON CONFLICT(a, b) DO UPDATE SET c = excluded.c"
        );
    }
}
