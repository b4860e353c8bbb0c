//! Model values ⇄ SQLite values: the column lists shared by writes and reads, times and dates
//! in GeoPackage text form, and a row reader that turns bad stored values into clear errors.
//!
//! Times are ISO-8601 UTC text with milliseconds (`YYYY-MM-DDTHH:MM:SS.SSSZ`, the GeoPackage
//! DATETIME form), so they sort as text and round trip to the millisecond; dates are
//! `YYYY-MM-DD`.

use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use geo_types::Geometry;
use rusqlite::types::{FromSql, ValueRef};
use rusqlite::Row;

use crate::model::{CareCounts, STORAGE_SRID};

use super::blob;
use super::error::GpkgError;

/// Columns of `area`, in bind and select order.
pub const AREA_COLUMNS: [&str; 14] = [
    "geom",
    "code",
    "layer",
    "level",
    "name",
    "parent_code",
    "leader_name",
    "leader_phone",
    "leader_photo_url",
    "urban_rural",
    "valid_from",
    "valid_to",
    "center_lon",
    "center_lat",
];

/// Columns of `building`, in bind and select order.
pub const BUILDING_COLUMNS: [&str; 9] = [
    "geom",
    "code",
    "name",
    "address",
    "compound",
    "building_use",
    "floors",
    "height_m",
    "grid_code",
];

/// Columns of `basemap`, in bind and select order.
pub const BASEMAP_COLUMNS: [&str; 4] = ["geom", "code", "kind", "name"];

/// Columns of `house`, in bind and select order.
pub const HOUSE_COLUMNS: [&str; 7] = [
    "code",
    "building_code",
    "unit",
    "floor",
    "room",
    "house_use",
    "households",
];

/// Columns of `worker`, in bind and select order.
pub const WORKER_COLUMNS: [&str; 6] = ["code", "name", "phone", "role", "home_code", "device"];

/// Columns of `worker_fix`, in bind order.
pub const FIX_COLUMNS: [&str; 7] = [
    "geom",
    "worker_code",
    "at",
    "accuracy_m",
    "speed_mps",
    "heading_deg",
    "source_crs",
];

/// Columns of `event`, in bind and select order.
pub const EVENT_COLUMNS: [&str; 21] = [
    "geom",
    "code",
    "external_id",
    "title",
    "category",
    "source",
    "content",
    "reporter_name",
    "reporter_phone",
    "address",
    "area_code",
    "outside_grid",
    "status",
    "level",
    "department",
    "reported_at",
    "deadline",
    "closed_at",
    "evaluation_score",
    "evaluation_comment",
    "idempotency_scope",
];

/// Columns of `event_transition`, in bind and select order.
pub const TRANSITION_COLUMNS: [&str; 9] = [
    "event_code",
    "seq",
    "at",
    "from_status",
    "to_status",
    "actor",
    "level",
    "department",
    "note",
];

/// Columns of `population`, in bind and select order: the house, the registration counts, then
/// one column per [`CareCounts::FIELDS`].
pub fn population_columns() -> &'static [&'static str] {
    static COLUMNS: OnceLock<Vec<&'static str>> = OnceLock::new();
    COLUMNS.get_or_init(|| {
        let mut c = vec!["house_code", "registered", "floating", "overseas"];
        c.extend(CareCounts::FIELDS);
        c
    })
}

/// A time in GeoPackage DATETIME form.
pub fn time_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A date in GeoPackage DATE form.
pub fn date_text(d: &NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Parses a stored time: RFC 3339 (what we and GDAL write) or SQLite's `YYYY-MM-DD HH:MM:SS`.
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc())
        })
}

/// How a row is named in errors: by one of its columns (its code) or by a given key.
enum Key<'r> {
    Column(usize),
    Given(&'r str),
}

/// Reads the columns of one row, naming the table and the row's key in every error.
pub struct RowReader<'r, 's> {
    row: &'r Row<'s>,
    table: &'static str,
    key: Key<'r>,
}

impl<'r, 's> RowReader<'r, 's> {
    /// A reader whose rows are identified by the text column `key_index` (the code).
    pub fn new(row: &'r Row<'s>, table: &'static str, key_index: usize) -> RowReader<'r, 's> {
        RowReader {
            row,
            table,
            key: Key::Column(key_index),
        }
    }

    /// A reader whose rows are identified by `key` (e.g. the event of a transition).
    pub fn keyed(row: &'r Row<'s>, table: &'static str, key: &'r str) -> RowReader<'r, 's> {
        RowReader {
            row,
            table,
            key: Key::Given(key),
        }
    }

    /// An error about this row.
    pub fn bad(&self, reason: impl Into<String>) -> GpkgError {
        let key = match self.key {
            Key::Column(i) => self
                .row
                .get::<_, String>(i)
                .unwrap_or_else(|_| "?".to_string()),
            Key::Given(k) => k.to_string(),
        };
        GpkgError::BadRow {
            table: self.table,
            key,
            reason: reason.into(),
        }
    }

    /// A column's value.
    pub fn get<T: FromSql>(&self, index: usize) -> Result<T, GpkgError> {
        self.row.get(index).map_err(|e| self.bad(e.to_string()))
    }

    /// A text column parsed into a domain value by `parse`.
    pub fn parse<T>(
        &self,
        index: usize,
        what: &str,
        parse: fn(&str) -> Option<T>,
    ) -> Result<T, GpkgError> {
        let text: String = self.get(index)?;
        parse(&text).ok_or_else(|| self.bad(format!("unknown {what} {text:?}")))
    }

    /// A nullable text column parsed by `parse`.
    pub fn parse_opt<T>(
        &self,
        index: usize,
        what: &str,
        parse: fn(&str) -> Option<T>,
    ) -> Result<Option<T>, GpkgError> {
        let text: Option<String> = self.get(index)?;
        text.map(|t| parse(&t).ok_or_else(|| self.bad(format!("unknown {what} {t:?}"))))
            .transpose()
    }

    /// A required DATETIME column.
    pub fn time(&self, index: usize) -> Result<DateTime<Utc>, GpkgError> {
        self.parse(index, "time", parse_time)
    }

    /// A nullable DATETIME column.
    pub fn time_opt(&self, index: usize) -> Result<Option<DateTime<Utc>>, GpkgError> {
        self.parse_opt(index, "time", parse_time)
    }

    /// A nullable DATE column.
    pub fn date_opt(&self, index: usize) -> Result<Option<NaiveDate>, GpkgError> {
        self.parse_opt(index, "date", |s| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
        })
    }

    /// A required geometry column in the storage SRS.
    pub fn geometry(&self, index: usize) -> Result<Geometry<f64>, GpkgError> {
        let bytes = match self
            .row
            .get_ref(index)
            .map_err(|e| self.bad(e.to_string()))?
        {
            ValueRef::Blob(b) => b,
            ValueRef::Null => return Err(self.bad("it has no geometry")),
            _ => return Err(self.bad("its geometry is not a blob")),
        };
        let (header, geometry) = blob::decode(bytes).map_err(|e| self.bad(e.to_string()))?;
        if header.srs_id != STORAGE_SRID {
            return Err(self.bad(format!(
                "its geometry has srs_id {}, expected {STORAGE_SRID}",
                header.srs_id
            )));
        }
        Ok(geometry)
    }
}
