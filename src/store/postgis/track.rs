//! One worker's fixes in a window, oldest first: the raw GPS track.
//!
//! `worker_fix` is partitioned by UTC day on `at`, and every partition holds the key
//! (worker_code, at). The window's bounds are bind parameters, so PostgreSQL prunes the
//! partitions outside the window and reads each one left by its key, already in time order
//! (`tests/store_postgis.rs` checks the plan).

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;

use super::error::{pool_error, query_error};
use super::worker_state::{fix, FIX_COLUMNS};
use crate::model::WorkerFix;
use crate::store::StoreError;

/// The query of [`worker_fixes`] (`$1` worker code, `$2` from, `$3` to): public so that a test
/// can show its plan.
pub fn worker_fixes_sql() -> String {
    format!(
        "SELECT {FIX_COLUMNS} FROM worker_fix f \
         WHERE f.worker_code = $1 AND f.at >= $2 AND f.at < $3 ORDER BY f.at"
    )
}

/// See [`crate::store::Store::worker_fixes`].
pub(crate) async fn worker_fixes(
    pool: &Pool,
    worker_code: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<WorkerFix>, StoreError> {
    let client = pool.get().await.map_err(pool_error)?;
    let statement = client
        .prepare_cached(&worker_fixes_sql())
        .await
        .map_err(|e| query_error("cannot prepare the track query", &e))?;
    let rows = client
        .query(&statement, &[&worker_code, &from, &to])
        .await
        .map_err(|e| query_error("cannot read the worker's fixes", &e))?;
    rows.iter().map(fix).collect()
}
