//! Turning PostgreSQL errors into [`StoreError`]s a person can act on: the server's message and
//! detail, what our CHECK constraint means, and the code of the offending record where known.

use crate::store::StoreError;

/// What each CHECK constraint of `migrations/` requires, in words.
const CONSTRAINT_MEANINGS: &[(&str, &str)] = &[
    ("area_code_format", "the area code must match the model's code format (6, 9, 12, 15, 17 or 18 digits, optionally a layer letter and digit pairs)"),
    ("area_parent_code_format", "the parent code must be a valid area code"),
    ("area_layer_known", "the layer must be base, special or business:NAME (lower-case letters, digits, _)"),
    ("area_level_range", "the level must be between 1 (city) and 6 (micro-grid)"),
    ("area_geom_valid", "the boundary must be a non-empty valid MultiPolygon (ST_IsValid) within longitude 73..136, latitude 3..54"),
    ("area_center_valid", "the management center must lie within longitude 73..136, latitude 3..54"),
    ("area_urban_rural_range", "the urban/rural class must be between 111 and 220"),
    ("area_validity_order", "valid_to must not be before valid_from"),
    ("building_code_format", "a building code is the 12-digit community code plus 5 digits (17 digits)"),
    ("building_use_known", "the building use must be residential, commercial, mixed, public or industrial"),
    ("building_floors_range", "floors must not be negative"),
    ("building_height_range", "the height must not be negative"),
    ("building_geom_valid", "the footprint must be a non-empty valid Polygon (ST_IsValid) within longitude 73..136, latitude 3..54"),
    ("building_grid_code_format", "the grid code must be a valid area code"),
    ("house_code_format", "a house code is its building's code plus unit (2), floor (3) and room (2) digits (24 digits)"),
    ("house_unit_range", "the unit must not be negative"),
    ("house_use_known", "the house use must be owner_occupied, rented, vacant or business"),
    ("house_households_range", "households must not be negative"),
    ("population_counts_non_negative", "population counts must not be negative"),
    ("event_geom_valid", "the event location must lie within longitude 73..136, latitude 3..54"),
    ("event_area_code_format", "the event's area code must be a valid area code"),
    ("event_evaluation_score_range", "the evaluation score must be between 1 and 5"),
    (
        "event_external_id_unique",
        "another event already has this (idempotency_scope, source, external_id)",
    ),
    ("event_transition_seq_positive", "transition numbers start at 1"),
    ("worker_home_code_format", "the worker's home code must be a valid area code"),
    ("worker_fix_geom_valid", "the fix position must lie within longitude 73..136, latitude 3..54"),
    ("worker_fix_heading_range", "the heading must be between 0 and 360 degrees"),
    ("worker_fix_source_crs_known", "the source CRS must be wgs84, gcj02 or bd09"),
];

/// The server's message with its detail, hint and the meaning of the violated constraint.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    let Some(db) = e.as_db_error() else {
        return e.to_string();
    };
    let mut text = db.message().to_string();
    if let Some(meaning) = db
        .constraint()
        .and_then(|c| CONSTRAINT_MEANINGS.iter().find(|(name, _)| *name == c))
    {
        text.push_str(&format!(" ({})", meaning.1));
    }
    if let Some(detail) = db.detail() {
        text.push_str(&format!("; {}", shorten(detail)));
    }
    if let Some(hint) = db.hint() {
        text.push_str(&format!("; hint: {hint}"));
    }
    text
}

/// Which row a constraint rejected, from the server's detail: the code (first column of a
/// "Failing row contains (…)"; our tables put the code first) or the key of "Key (…)=(…)".
pub(crate) fn offending_row(e: &tokio_postgres::Error) -> Option<String> {
    let detail = e.as_db_error()?.detail()?;
    if let Some(row) = detail.strip_prefix("Failing row contains (") {
        return row.split(',').next().map(|code| code.trim().to_string());
    }
    let key = detail.strip_prefix("Key ")?;
    let end = key.find(") ")?;
    Some(format!("with {}", &key[..=end]))
}

/// A failed write of `kind` records, naming the offending row where the server tells it: bad
/// data when a constraint refused it (as the GeoPackage store says), else a failed query.
pub(crate) fn write_error(kind: &str, e: &tokio_postgres::Error) -> StoreError {
    let message = match offending_row(e) {
        Some(row) => format!("cannot write {kind} {row}: {}", describe(e)),
        None => format!("cannot write {kind} records: {}", describe(e)),
    };
    if is_constraint_violation(e) {
        StoreError::Data(message)
    } else {
        StoreError::Query(message)
    }
}

/// Whether the server refused a row for breaking a constraint (SQLSTATE class 23: CHECK,
/// UNIQUE, foreign key, NOT NULL).
fn is_constraint_violation(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|code| code.code().starts_with("23"))
}

/// A failed read or housekeeping statement.
pub(crate) fn query_error(what: &str, e: &tokio_postgres::Error) -> StoreError {
    StoreError::Query(format!("{what}: {}", describe(e)))
}

/// No connection could be had from the pool.
pub(crate) fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    StoreError::Connect(format!("no database connection available: {e}"))
}

/// Long details (a failing row with hex geometry) are cut so logs stay readable.
fn shorten(detail: &str) -> String {
    const MAX: usize = 300;
    match detail.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &detail[..at]),
        None => detail.to_string(),
    }
}
