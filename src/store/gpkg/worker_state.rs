//! GPS fixes and worker alerts in the embedded store: the fix ingest (one transaction per
//! batch, answering which fixes were new), the state the worker board starts from, the alert
//! log and the retention of old fixes.

use chrono::{DateTime, Utc};
use geo_types::{Geometry, Point};
use rusqlite::{params, Connection, TransactionBehavior};

use super::error::GpkgError;
use super::rows::{time_text, RowReader};
use super::write::{encode, execute, insert_fix, Touched};
use crate::model::{AlertKind, WorkerAlert, WorkerFix, WorkerState};

/// See [`crate::store::Store::insert_fixes`]; runs on the writer connection.
pub fn insert_fixes(conn: &mut Connection, fixes: &[WorkerFix]) -> Result<Vec<bool>, GpkgError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(GpkgError::sqlite("starting a write transaction"))?;
    let mut touched = Touched::default();
    let new = fixes
        .iter()
        .map(|f| insert_fix(&tx, f, &mut touched))
        .collect::<Result<Vec<bool>, _>>()?;
    touched.record(&tx)?;
    tx.commit()
        .map_err(GpkgError::sqlite("committing the fixes"))?;
    Ok(new)
}

const FIX_COLUMNS: &str =
    "geom, worker_code, max(at), accuracy_m, speed_mps, heading_deg, source_crs";

const ALERT_COLUMNS: &str =
    "geom, id, worker_code, kind, home_code, raised_at, cleared_at, distance_m";

/// The newest fix of each worker since `since` and the open alerts.
pub fn load_state(conn: &Connection, since: DateTime<Utc>) -> Result<WorkerState, GpkgError> {
    // SQLite takes the other columns of an aggregate query with max() from the row holding
    // the maximum.
    let latest = rows(
        conn,
        &format!(
            "SELECT {FIX_COLUMNS} FROM worker_fix WHERE at >= ?1 \
             AND worker_code IN (SELECT code FROM worker) GROUP BY worker_code"
        ),
        params![time_text(&since)],
        "worker_fix",
        read_fix,
    )?;
    let open_alerts = rows(
        conn,
        &format!("SELECT {ALERT_COLUMNS} FROM worker_alert WHERE cleared_at IS NULL"),
        [],
        "worker_alert",
        read_alert,
    )?;
    Ok(WorkerState {
        latest,
        open_alerts,
    })
}

/// Upserts alerts by id in one transaction; runs on the writer connection.
pub fn save_alerts(conn: &mut Connection, alerts: &[WorkerAlert]) -> Result<(), GpkgError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(GpkgError::sqlite("starting a write transaction"))?;
    let mut touched = Touched::default();
    for a in alerts {
        let what = || format!("alert {}", a.id);
        let geom = encode(Geometry::Point(a.position), what)?;
        execute(
            &tx,
            "INSERT INTO worker_alert
               (geom, id, worker_code, kind, home_code, raised_at, cleared_at, distance_m)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT(id) DO UPDATE SET cleared_at = excluded.cleared_at",
            params![
                geom,
                a.id,
                a.worker_code,
                a.kind.as_str(),
                a.home_code,
                time_text(&a.raised_at),
                a.cleared_at.as_ref().map(time_text),
                a.distance_m
            ],
            what,
        )?;
        touched.feature("worker_alert", &geom);
    }
    touched.record(&tx)?;
    tx.commit()
        .map_err(GpkgError::sqlite("committing the alerts"))
}

/// Alerts raised in `[from, to)` or open at `from`, oldest first.
pub fn alerts(
    conn: &Connection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<WorkerAlert>, GpkgError> {
    rows(
        conn,
        &format!(
            "SELECT {ALERT_COLUMNS} FROM worker_alert \
             WHERE raised_at < ?2 AND (raised_at >= ?1 OR cleared_at IS NULL OR cleared_at > ?1) \
             ORDER BY raised_at, id"
        ),
        params![time_text(&from), time_text(&to)],
        "worker_alert",
        read_alert,
    )
}

/// Deletes the fixes before `before`; runs on the writer connection.
pub fn prune(conn: &mut Connection, before: DateTime<Utc>) -> Result<u64, GpkgError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(GpkgError::sqlite("starting a write transaction"))?;
    let deleted = execute(
        &tx,
        "DELETE FROM worker_fix WHERE at < ?1",
        [time_text(&before)],
        || "the retention of old fixes".to_string(),
    )?;
    let mut touched = Touched::default();
    touched.table("worker_fix");
    touched.record(&tx)?;
    tx.commit()
        .map_err(GpkgError::sqlite("committing the fix retention"))?;
    Ok(deleted as u64)
}

/// The rows of a query, each read by `read`.
pub(super) fn rows<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    table: &'static str,
    read: fn(&RowReader<'_, '_>) -> Result<T, GpkgError>,
) -> Result<Vec<T>, GpkgError> {
    let mut stmt = conn
        .prepare_cached(sql)
        .map_err(GpkgError::sqlite(format!("preparing a read of {table}")))?;
    let mut found = stmt
        .query(params)
        .map_err(GpkgError::sqlite(format!("reading {table}")))?;
    let mut out = Vec::new();
    while let Some(row) = found
        .next()
        .map_err(GpkgError::sqlite(format!("reading {table}")))?
    {
        out.push(read(&RowReader::new(row, table, 1))?);
    }
    Ok(out)
}

fn point(r: &RowReader<'_, '_>) -> Result<Point<f64>, GpkgError> {
    match r.geometry(0)? {
        Geometry::Point(p) => Ok(p),
        _ => Err(r.bad("the geometry is not a point")),
    }
}

/// A fix from a row of (geom, worker_code, at, accuracy_m, speed_mps, heading_deg,
/// source_crs).
pub(super) fn read_fix(r: &RowReader<'_, '_>) -> Result<WorkerFix, GpkgError> {
    Ok(WorkerFix {
        position: point(r)?,
        worker_code: r.get(1)?,
        at: r.time(2)?,
        accuracy_m: r.get::<Option<f64>>(3)?.map(|v| v as f32),
        speed_mps: r.get::<Option<f64>>(4)?.map(|v| v as f32),
        heading_deg: r.get::<Option<f64>>(5)?.map(|v| v as f32),
        source_crs: r.get(6)?,
    })
}

fn read_alert(r: &RowReader<'_, '_>) -> Result<WorkerAlert, GpkgError> {
    Ok(WorkerAlert {
        position: point(r)?,
        id: r.get(1)?,
        worker_code: r.get(2)?,
        kind: r.parse(3, "kind", AlertKind::parse)?,
        home_code: r.get(4)?,
        raised_at: r.time(5)?,
        cleared_at: r.time_opt(6)?,
        distance_m: r.get(7)?,
    })
}
