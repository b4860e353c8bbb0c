//! The SQL functions the standard GeoPackage R-tree triggers call (`ST_IsEmpty`, `ST_MinX`,
//! `ST_MaxX`, `ST_MinY`, `ST_MaxY`), registered on every connection that writes, so the
//! triggers keep `rtree_<table>_geom` current for our writes and for GDAL/QGIS edits alike
//! (GDAL registers its own versions on its connections).

use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::ValueRef;
use rusqlite::Connection;

use super::blob::{self, Envelope};

/// Registers the R-tree trigger functions on `conn`.
pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("ST_IsEmpty", 1, flags, is_empty)?;
    conn.create_scalar_function("ST_MinX", 1, flags, |ctx| bound(ctx, |e| e.min_x))?;
    conn.create_scalar_function("ST_MaxX", 1, flags, |ctx| bound(ctx, |e| e.max_x))?;
    conn.create_scalar_function("ST_MinY", 1, flags, |ctx| bound(ctx, |e| e.min_y))?;
    conn.create_scalar_function("ST_MaxY", 1, flags, |ctx| bound(ctx, |e| e.max_y))?;
    Ok(())
}

/// `ST_IsEmpty(geom)`: 1 for an empty geometry, 0 otherwise, NULL for NULL.
fn is_empty(ctx: &Context<'_>) -> rusqlite::Result<Option<bool>> {
    match ctx.get_raw(0) {
        ValueRef::Blob(b) => {
            let header = blob::header(b).map_err(user_error)?;
            Ok(Some(header.empty))
        }
        _ => Ok(None),
    }
}

/// One bound of the geometry's envelope, NULL for NULL or an empty geometry.
fn bound(ctx: &Context<'_>, pick: fn(&Envelope) -> f64) -> rusqlite::Result<Option<f64>> {
    match ctx.get_raw(0) {
        ValueRef::Blob(b) => Ok(blob::envelope(b).map_err(user_error)?.as_ref().map(pick)),
        _ => Ok(None),
    }
}

fn user_error(e: blob::BlobError) -> rusqlite::Error {
    rusqlite::Error::UserFunctionError(Box::new(e))
}
