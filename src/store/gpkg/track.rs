//! One worker's fixes in a window, oldest first: the raw GPS track. Times are stored as
//! fixed-width RFC 3339 text in UTC (`rows::time_text`), whose text order is time order, so
//! the unique index on (worker_code, at) serves both the filter and the order.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};

use super::error::GpkgError;
use super::rows::time_text;
use super::worker_state::{read_fix, rows};
use crate::model::WorkerFix;

/// See [`crate::store::Store::worker_fixes`].
pub fn worker_fixes(
    conn: &Connection,
    worker_code: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<WorkerFix>, GpkgError> {
    rows(
        conn,
        "SELECT geom, worker_code, at, accuracy_m, speed_mps, heading_deg, source_crs \
         FROM worker_fix WHERE worker_code = ?1 AND at >= ?2 AND at < ?3 ORDER BY at",
        params![worker_code, time_text(&from), time_text(&to)],
        "worker_fix",
        read_fix,
    )
}
