//! GPS fixes and worker alerts: the fix ingest (one binary `COPY` per batch into the day
//! partitions, or an insert that skips the fixes stored before when there are some), the state the worker board starts from, the
//! alert log and the retention of old fixes (whole day partitions are dropped).

use std::collections::{BTreeSet, HashSet};
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use deadpool_postgres::{Client, GenericClient, Pool, Transaction};
use geo_types::Point;
use tokio_postgres::error::SqlState;
use tokio_postgres::Row;

use super::copy;
use super::error::{pool_error, query_error, write_error};
use super::references;
use crate::model::{AlertKind, WorkerAlert, WorkerFix, WorkerState};
use crate::store::StoreError;

/// The day partitions of `worker_fix` this process has made sure of, so that a batch of fixes
/// costs no partition check in the common case.
#[derive(Debug, Default)]
pub(crate) struct FixDays(Mutex<HashSet<NaiveDate>>);

impl FixDays {
    fn missing(&self, days: &BTreeSet<NaiveDate>) -> Vec<NaiveDate> {
        let known = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        days.iter()
            .filter(|d| !known.contains(d))
            .copied()
            .collect()
    }

    fn add(&self, day: NaiveDate) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(day);
    }

    fn forget_before(&self, day: NaiveDate) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|d| *d >= day);
    }
}

const INSERT_FIXES: &str = "INSERT INTO worker_fix \
     (worker_code, at, geom, accuracy_m, speed_mps, heading_deg, source_crs) \
     SELECT t.w, t.at, ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4490), t.acc, t.speed, t.heading, t.crs \
     FROM unnest($1::text[], $2::timestamptz[], $3::float8[], $4::float8[], $5::float4[], \
                 $6::float4[], $7::float4[], $8::text[]) \
          AS t(w, at, lon, lat, acc, speed, heading, crs) \
     ON CONFLICT (worker_code, at) DO NOTHING \
     RETURNING worker_code, at";

/// Stores a batch of fixes in one transaction; see [`crate::store::Store::insert_fixes`].
///
/// The common batch holds no fix stored before, so it goes in by binary `COPY` (about half the
/// server's work of an insert that checks each row for a conflict and returns the new ones).
/// When a fix turns out to be stored already, that transaction rolls back and the batch goes
/// in again by an insert that skips the stored fixes and answers which rows were new.
pub(crate) async fn insert_fixes(
    pool: &Pool,
    days: &FixDays,
    fixes: &[WorkerFix],
) -> Result<Vec<bool>, StoreError> {
    if fixes.is_empty() {
        return Ok(Vec::new());
    }
    let mut client = pool.get().await.map_err(pool_error)?;
    ensure_partitions(&client, days, fixes).await?;
    let first = first_of_each_key(fixes);
    let unique: Vec<&WorkerFix> = fixes
        .iter()
        .zip(&first)
        .filter_map(|(fix, first)| first.then_some(fix))
        .collect();
    match copy_new_fixes(&mut client, &unique).await {
        Ok(()) => Ok(first),
        Err(FixCopyError::StoredBefore) => insert_skipping_stored(&mut client, fixes).await,
        Err(FixCopyError::Store(e)) => Err(e),
    }
}

/// Per fix, whether it is the first of its (worker, time) key in the batch.
fn first_of_each_key(fixes: &[WorkerFix]) -> Vec<bool> {
    let mut seen: HashSet<(&str, DateTime<Utc>)> = HashSet::with_capacity(fixes.len());
    fixes
        .iter()
        .map(|f| seen.insert((f.worker_code.as_str(), f.at)))
        .collect()
}

/// Why a batch could not be copied.
enum FixCopyError {
    /// A fix of the batch was stored before (the primary key refused it); nothing was written.
    StoredBefore,
    Store(StoreError),
}

/// Copies fixes with distinct keys in one transaction, after checking their workers.
async fn copy_new_fixes(client: &mut Client, fixes: &[&WorkerFix]) -> Result<(), FixCopyError> {
    let tx = client
        .transaction()
        .await
        .map_err(|e| FixCopyError::Store(query_error("cannot begin a transaction", &e)))?;
    check_workers(&tx, fixes.iter().copied())
        .await
        .map_err(FixCopyError::Store)?;
    match copy::fixes(&tx, fixes).await {
        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            return Err(FixCopyError::StoredBefore)
        }
        Err(e) => return Err(FixCopyError::Store(write_error("worker_fix", &e))),
        Ok(()) => {}
    }
    tx.commit()
        .await
        .map_err(|e| FixCopyError::Store(query_error("cannot commit the fixes", &e)))
}

/// Fails naming the first worker of the fixes that is not stored.
async fn check_workers(
    tx: &Transaction<'_>,
    fixes: impl Iterator<Item = &WorkerFix>,
) -> Result<(), StoreError> {
    let workers: BTreeSet<&str> = fixes.map(|f| f.worker_code.as_str()).collect();
    references::workers_stored(tx, &Vec::from_iter(workers)).await
}

/// Inserts the fixes not stored yet in one transaction; answers per fix whether it was new.
async fn insert_skipping_stored(
    client: &mut Client,
    fixes: &[WorkerFix],
) -> Result<Vec<bool>, StoreError> {
    let tx = client
        .transaction()
        .await
        .map_err(|e| query_error("cannot begin a transaction", &e))?;
    check_workers(&tx, fixes.iter()).await?;
    let worker: Vec<&str> = fixes.iter().map(|f| f.worker_code.as_str()).collect();
    let at: Vec<DateTime<Utc>> = fixes.iter().map(|f| f.at).collect();
    let lon: Vec<f64> = fixes.iter().map(|f| f.position.x()).collect();
    let lat: Vec<f64> = fixes.iter().map(|f| f.position.y()).collect();
    let accuracy: Vec<Option<f32>> = fixes.iter().map(|f| f.accuracy_m).collect();
    let speed: Vec<Option<f32>> = fixes.iter().map(|f| f.speed_mps).collect();
    let heading: Vec<Option<f32>> = fixes.iter().map(|f| f.heading_deg).collect();
    let crs: Vec<&str> = fixes.iter().map(|f| f.source_crs.as_str()).collect();
    let statement = tx
        .prepare_cached(INSERT_FIXES)
        .await
        .map_err(|e| query_error("cannot prepare the fix insert", &e))?;
    let inserted = tx
        .query(
            &statement,
            &[&worker, &at, &lon, &lat, &accuracy, &speed, &heading, &crs],
        )
        .await
        .map_err(|e| write_error("worker_fix", &e))?;
    tx.commit()
        .await
        .map_err(|e| query_error("cannot commit the fixes", &e))?;
    let mut new: HashSet<(String, DateTime<Utc>)> = inserted
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(|e| query_error("cannot read the inserted fixes", &e))?;
    // The first fix of a key in the batch is the one stored; a repeat of it is not new.
    Ok(fixes
        .iter()
        .map(|f| new.remove(&(f.worker_code.clone(), f.at)))
        .collect())
}

/// Creates the day partitions the fixes need that this process has not seen yet.
async fn ensure_partitions(
    client: &impl GenericClient,
    days: &FixDays,
    fixes: &[WorkerFix],
) -> Result<(), StoreError> {
    let wanted: BTreeSet<NaiveDate> = fixes.iter().map(|f| f.at.date_naive()).collect();
    for day in days.missing(&wanted) {
        ensure_partition(client, day).await?;
        days.add(day);
    }
    Ok(())
}

/// Creates the `worker_fix` partition of a UTC day unless it exists.
pub(crate) async fn ensure_partition(
    client: &impl GenericClient,
    day: NaiveDate,
) -> Result<(), StoreError> {
    client
        .execute("SELECT gridmap_ensure_fix_partition($1)", &[&day])
        .await
        .map_err(|e| {
            query_error(
                &format!("cannot create the worker_fix partition of {day}"),
                &e,
            )
        })?;
    Ok(())
}

pub(super) const FIX_COLUMNS: &str =
    "f.worker_code, f.at, ST_X(f.geom), ST_Y(f.geom), f.accuracy_m, \
     f.speed_mps, f.heading_deg, f.source_crs";

const ALERT_COLUMNS: &str = "id, worker_code, kind, home_code, raised_at, cleared_at, \
     ST_X(geom), ST_Y(geom), distance_m";

/// The newest fix of each worker since `since`, and the open alerts.
pub(crate) async fn load_state(
    pool: &Pool,
    since: DateTime<Utc>,
) -> Result<WorkerState, StoreError> {
    let client = pool.get().await.map_err(pool_error)?;
    let latest = client
        .query(
            &format!(
                "SELECT {FIX_COLUMNS} FROM worker w CROSS JOIN LATERAL \
                 (SELECT * FROM worker_fix x WHERE x.worker_code = w.code AND x.at >= $1 \
                  ORDER BY x.at DESC LIMIT 1) f"
            ),
            &[&since],
        )
        .await
        .map_err(|e| query_error("cannot read the latest fixes", &e))?;
    let open = client
        .query(
            &format!("SELECT {ALERT_COLUMNS} FROM worker_alert WHERE cleared_at IS NULL"),
            &[],
        )
        .await
        .map_err(|e| query_error("cannot read the open alerts", &e))?;
    Ok(WorkerState {
        latest: latest.iter().map(fix).collect::<Result<_, _>>()?,
        open_alerts: open.iter().map(alert).collect::<Result<_, _>>()?,
    })
}

/// Upserts alerts by id in one transaction.
pub(crate) async fn save_alerts(pool: &Pool, alerts: &[WorkerAlert]) -> Result<(), StoreError> {
    if alerts.is_empty() {
        return Ok(());
    }
    let client = pool.get().await.map_err(pool_error)?;
    let id: Vec<&str> = alerts.iter().map(|a| a.id.as_str()).collect();
    let worker: Vec<&str> = alerts.iter().map(|a| a.worker_code.as_str()).collect();
    let kind: Vec<&str> = alerts.iter().map(|a| a.kind.as_str()).collect();
    let home: Vec<&str> = alerts.iter().map(|a| a.home_code.as_str()).collect();
    let raised: Vec<DateTime<Utc>> = alerts.iter().map(|a| a.raised_at).collect();
    let cleared: Vec<Option<DateTime<Utc>>> = alerts.iter().map(|a| a.cleared_at).collect();
    let lon: Vec<f64> = alerts.iter().map(|a| a.position.x()).collect();
    let lat: Vec<f64> = alerts.iter().map(|a| a.position.y()).collect();
    let distance: Vec<f64> = alerts.iter().map(|a| a.distance_m).collect();
    client
        .execute(
            "INSERT INTO worker_alert \
             (id, worker_code, kind, home_code, raised_at, cleared_at, geom, distance_m) \
             SELECT t.id, t.w, t.kind, t.home, t.raised, t.cleared, \
                    ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4490), t.distance \
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], \
                         $6::timestamptz[], $7::float8[], $8::float8[], $9::float8[]) \
                  AS t(id, w, kind, home, raised, cleared, lon, lat, distance) \
             ON CONFLICT (id) DO UPDATE SET cleared_at = EXCLUDED.cleared_at",
            &[
                &id, &worker, &kind, &home, &raised, &cleared, &lon, &lat, &distance,
            ],
        )
        .await
        .map_err(|e| write_error("worker_alert", &e))?;
    Ok(())
}

/// Alerts raised in `[from, to)` or open at `from`, oldest first.
pub(crate) async fn alerts(
    pool: &Pool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<WorkerAlert>, StoreError> {
    let client = pool.get().await.map_err(pool_error)?;
    let rows = client
        .query(
            &format!(
                "SELECT {ALERT_COLUMNS} FROM worker_alert \
                 WHERE raised_at < $2 AND (raised_at >= $1 OR cleared_at IS NULL OR cleared_at > $1) \
                 ORDER BY raised_at, id"
            ),
            &[&from, &to],
        )
        .await
        .map_err(|e| query_error("cannot read the alerts", &e))?;
    rows.iter().map(alert).collect()
}

/// Drops the day partitions wholly before `before` and deletes older rows elsewhere.
pub(crate) async fn prune(
    pool: &Pool,
    days: &FixDays,
    before: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut client = pool.get().await.map_err(pool_error)?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| query_error("cannot begin a transaction", &e))?;
    let partitions = tx
        .query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'worker_fix'::regclass",
            &[],
        )
        .await
        .map_err(|e| query_error("cannot list the fix partitions", &e))?;
    let mut deleted = 0u64;
    for row in partitions {
        let name: String = row
            .try_get(0)
            .map_err(|e| query_error("cannot read a partition name", &e))?;
        let Some(day) = partition_day(&name) else {
            continue;
        };
        if day_end(day) > before {
            continue;
        }
        let rows: i64 = tx
            .query_one(&format!("SELECT count(*) FROM {name}"), &[])
            .await
            .and_then(|r| r.try_get(0))
            .map_err(|e| query_error(&format!("cannot count {name}"), &e))?;
        tx.batch_execute(&format!("DROP TABLE {name}"))
            .await
            .map_err(|e| query_error(&format!("cannot drop {name}"), &e))?;
        deleted += u64::try_from(rows).unwrap_or(0);
    }
    deleted += tx
        .execute("DELETE FROM worker_fix WHERE at < $1", &[&before])
        .await
        .map_err(|e| query_error("cannot delete old fixes", &e))?;
    tx.commit()
        .await
        .map_err(|e| query_error("cannot commit the fix retention", &e))?;
    days.forget_before(before.date_naive());
    Ok(deleted)
}

/// The day of a partition named `worker_fix_YYYYMMDD` (what `gridmap_ensure_fix_partition`
/// creates); `None` for any other table.
fn partition_day(name: &str) -> Option<NaiveDate> {
    let digits = name.strip_prefix("worker_fix_")?;
    NaiveDate::parse_from_str(digits, "%Y%m%d").ok()
}

/// The first instant after a UTC day.
fn day_end(day: NaiveDate) -> DateTime<Utc> {
    (day + Duration::days(1))
        .and_time(chrono::NaiveTime::MIN)
        .and_utc()
}

pub(super) fn fix(row: &Row) -> Result<WorkerFix, StoreError> {
    let read = || -> Result<WorkerFix, tokio_postgres::Error> {
        Ok(WorkerFix {
            worker_code: row.try_get(0)?,
            at: row.try_get(1)?,
            position: Point::new(row.try_get(2)?, row.try_get(3)?),
            accuracy_m: row.try_get(4)?,
            speed_mps: row.try_get(5)?,
            heading_deg: row.try_get(6)?,
            source_crs: row.try_get(7)?,
        })
    };
    read().map_err(|e| StoreError::Data(format!("worker_fix: {e}")))
}

fn alert(row: &Row) -> Result<WorkerAlert, StoreError> {
    let read = || -> Result<(WorkerAlert, String), tokio_postgres::Error> {
        let kind: String = row.try_get(2)?;
        Ok((
            WorkerAlert {
                id: row.try_get(0)?,
                worker_code: row.try_get(1)?,
                kind: AlertKind::OutOfGrid,
                home_code: row.try_get(3)?,
                raised_at: row.try_get(4)?,
                cleared_at: row.try_get(5)?,
                position: Point::new(row.try_get(6)?, row.try_get(7)?),
                distance_m: row.try_get(8)?,
            },
            kind,
        ))
    };
    let (mut alert, kind) = read().map_err(|e| StoreError::Data(format!("worker_alert: {e}")))?;
    alert.kind = AlertKind::parse(&kind).ok_or_else(|| {
        StoreError::Data(format!("worker_alert {}: unknown kind {kind:?}", alert.id))
    })?;
    Ok(alert)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_day_partitions_have_a_day() {
        assert_eq!(partition_day("worker_fix_default"), None);
        assert_eq!(partition_day("worker_fix_2026130"), None);
        assert_eq!(
            partition_day("worker_fix_20261206"),
            NaiveDate::from_ymd_opt(2026, 12, 6)
        );
    }

    #[test]
    fn a_day_ends_at_the_next_midnight_utc() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 31).expect("day");
        assert_eq!(day_end(day).to_rfc3339(), "2027-01-01T00:00:00+00:00");
    }
}
