//! Errors of the GeoPackage store, each saying what to do, and their mapping into
//! [`StoreError`].

use std::path::Path;

use crate::store::StoreError;

use super::blob::BlobError;

/// What went wrong in the GeoPackage store.
#[derive(Debug, thiserror::Error)]
pub enum GpkgError {
    /// The file exists but is not one gridmap wrote.
    #[error("{path} is not a GeoPackage written by gridmap ({reason}): choose another --data file (or bring its features in with `gridmap import`)")]
    Foreign { path: String, reason: String },
    /// The file was written by a newer gridmap with a schema this build does not know.
    #[error("{path} has gridmap schema version {found}, newer than the {known} this build knows: upgrade gridmap or choose another --data file")]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
    /// The file cannot be opened or created.
    #[error("cannot open {path}: {reason}: check that the path is right and that its folder is writable")]
    Open { path: String, reason: String },
    /// A schema upgrade failed; the transaction was rolled back.
    #[error("upgrading {path} from schema version {from} to {to} failed: {source}; the file was left unchanged")]
    Migration {
        path: String,
        from: i64,
        to: i64,
        source: rusqlite::Error,
    },
    /// SQLite reported an error while doing something.
    #[error("SQLite failed while {doing}: {source}")]
    Sqlite {
        doing: String,
        source: rusqlite::Error,
    },
    /// A change breaks the integrity of the data (a missing parent, a remaining child, a
    /// duplicate key); nothing of the batch was stored.
    #[error("{0}; nothing of the batch was stored")]
    Integrity(String),
    /// A stored row cannot be turned back into a model value.
    #[error("{table} row {key:?} is invalid: {reason}; fix the row (e.g. with QGIS or sqlite3) or restore a backup")]
    BadRow {
        table: &'static str,
        key: String,
        reason: String,
    },
    /// A geometry could not be written.
    #[error("cannot encode the geometry of {what}: {source}")]
    Encode { what: String, source: BlobError },
    /// The blocking worker thread died.
    #[error("the store's worker thread failed: {0}")]
    Task(String),
}

impl GpkgError {
    /// Wraps a SQLite error with what was being done.
    pub fn sqlite(doing: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> GpkgError {
        let doing = doing.into();
        move |source| GpkgError::Sqlite { doing, source }
    }

    /// A [`GpkgError::Foreign`] for `path`.
    pub fn foreign(path: &Path, reason: impl Into<String>) -> GpkgError {
        GpkgError::Foreign {
            path: path.display().to_string(),
            reason: reason.into(),
        }
    }
}

impl From<GpkgError> for StoreError {
    fn from(e: GpkgError) -> StoreError {
        let message = e.to_string();
        match e {
            GpkgError::Foreign { .. } | GpkgError::TooNew { .. } | GpkgError::Open { .. } => {
                StoreError::Connect(message)
            }
            GpkgError::Migration { .. } => StoreError::Migration(message),
            GpkgError::Integrity(_) | GpkgError::BadRow { .. } | GpkgError::Encode { .. } => {
                StoreError::Data(message)
            }
            GpkgError::Sqlite { .. } | GpkgError::Task(_) => StoreError::Query(message),
        }
    }
}

/// Whether a SQLite error is a constraint violation (UNIQUE, CHECK, NOT NULL), i.e. bad data
/// rather than a broken store.
pub fn is_constraint(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
}
