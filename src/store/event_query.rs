//! The event operations every store answers besides `apply`: idempotent ingest, one event,
//! a transition under an optimistic check, and filtered pages. The code format lives in `model::event_code`.

use chrono::{DateTime, Utc};

use crate::model::{EventSource, EventStatus, HandlingLevel};

/// What ingest did with one event, in input order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    /// The stored code (newly assigned, or the one a previous post got).
    pub code: String,
    /// `false` when the key (idempotency_scope, source, external_id) was already stored and
    /// nothing was written.
    pub created: bool,
}

/// Filters of an event listing; every field narrows, `None`/empty means "any".
#[derive(Debug, Clone)]
pub struct EventQuery {
    /// Significant prefix of the caller's jurisdiction (`model::scope_prefix`); always applied.
    pub scope_prefix: String,
    /// Area code prefix asked for.
    pub area_prefix: Option<String>,
    /// west, south, east, north in the storage CRS.
    pub bbox: Option<[f64; 4]>,
    /// `reported_at >= from`.
    pub from: Option<DateTime<Utc>>,
    /// `reported_at < to`.
    pub to: Option<DateTime<Utc>>,
    pub statuses: Vec<EventStatus>,
    /// Category code prefixes (`01` matches `0101`, `0102`, …).
    pub categories: Vec<String>,
    pub sources: Vec<EventSource>,
    pub levels: Vec<HandlingLevel>,
    /// Open (before closed) and past the deadline at `now` (`engine::events::overdue_at`).
    pub overdue: Option<bool>,
    /// The instant `overdue` is judged at (the service clock).
    pub now: DateTime<Utc>,
    /// Keyset cursor: only events after this (reported_at, code) in the listing order
    /// (reported_at descending, then code descending).
    pub after: Option<(DateTime<Utc>, String)>,
    /// Page size.
    pub limit: usize,
}

/// The SQL condition of the `overdue` filter, `now` being the placeholder of the instant it is
/// judged at: the engine's rule (`engine::events::overdue_at`: open, with a deadline before
/// now) in SQL that both stores speak.
pub fn overdue_clause(overdue: bool, now: &str) -> String {
    let closed = closed_statuses_sql();
    if overdue {
        format!("(status NOT IN ({closed}) AND deadline IS NOT NULL AND deadline < {now})")
    } else {
        format!("(status IN ({closed}) OR deadline IS NULL OR deadline >= {now})")
    }
}

/// The closed statuses as an SQL list (`'closed', 'evaluated'`), derived from the one rule
/// ([`EventStatus::is_open`]) so the SQL cannot drift from it.
pub fn closed_statuses_sql() -> String {
    EventStatus::ALL
        .into_iter()
        .filter(|s| !s.is_open())
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The SQL condition of a cursor: the events listed after (`reported_at`, `code`), newest
/// first, `at` and `code` being the placeholders of the cursor's values.
pub fn after_clause(at: &str, code: &str) -> String {
    format!("(reported_at, code) < ({at}, {code})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sql_closed_list_follows_the_open_rule() {
        assert_eq!(closed_statuses_sql(), "'closed', 'evaluated'");
        assert!(overdue_clause(true, "$1").contains("NOT IN ('closed', 'evaluated')"));
    }
}
