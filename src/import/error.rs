//! Errors that stop a whole import (as opposed to per-feature problems, which are reported).

use crate::crs::CrsError;
use crate::store::StoreError;

/// Why a file could not be imported at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: unsupported file type; accepted are .geojson, .json, .gpkg and .csv")]
    UnsupportedFormat { path: String },
    #[error("{path} is not valid GeoJSON: {reason}")]
    GeoJson { path: String, reason: String },
    #[error("{path} is not a usable GeoPackage: {reason}")]
    GeoPackage { path: String, reason: String },
    #[error("{path} is not a usable CSV file: {reason}")]
    Csv { path: String, reason: String },
    #[error("{path} declares a CRS gridmap cannot convert ({reason}); pass --crs to say which CRS the coordinates are in")]
    DeclaredCrs { path: String, reason: String },
    #[error("invalid CRS: {0}")]
    Crs(#[from] CrsError),
    #[error(transparent)]
    Store(#[from] StoreError),
}
