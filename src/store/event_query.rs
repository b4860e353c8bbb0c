//! The event operations every store answers besides `apply`: idempotent ingest, one event,
//! a transition under an optimistic check, filtered pages, and the last code of a day.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::model::{EventSource, EventStatus, HandlingLevel};

/// What ingest did with one event, in input order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    /// The stored code (newly assigned, or the one a previous post got).
    pub code: String,
    /// `false` when (source, external_id) was already stored and nothing was written.
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
    if overdue {
        format!(
            "(status NOT IN ('closed', 'evaluated') AND deadline IS NOT NULL AND deadline < {now})"
        )
    } else {
        format!("(status IN ('closed', 'evaluated') OR deadline IS NULL OR deadline >= {now})")
    }
}

/// The SQL condition of a cursor: the events listed after (`reported_at`, `code`), newest
/// first, `at` and `code` being the placeholders of the cursor's values.
pub fn after_clause(at: &str, code: &str) -> String {
    format!("(reported_at, code) < ({at}, {code})")
}

/// The `E{yyyymmdd}` prefix of codes of events reported at `at` (China Standard Time day).
pub fn code_day_prefix(at: DateTime<Utc>) -> String {
    format!("E{}", (at + Duration::hours(8)).format("%Y%m%d"))
}

/// The code after `last` (the highest stored code of the day, if any) for the day `prefix`.
pub fn next_code(prefix: &str, last: Option<&str>) -> Option<String> {
    let seq = last
        .and_then(|c| c.strip_prefix(prefix))
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(0);
    (seq < 999_999).then(|| format!("{prefix}{:06}", seq + 1))
}

/// The day-prefix of codes of a date (for the importer).
pub fn code_prefix_of_day(day: NaiveDate) -> String {
    format!("E{}", day.format("%Y%m%d"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn codes_follow_the_china_day() {
        let late_utc = Utc
            .with_ymd_and_hms(2026, 3, 1, 17, 0, 0)
            .single()
            .expect("t");
        assert_eq!(code_day_prefix(late_utc), "E20260302");
        assert_eq!(
            next_code("E20260302", None).as_deref(),
            Some("E20260302000001")
        );
        assert_eq!(
            next_code("E20260302", Some("E20260302000041")).as_deref(),
            Some("E20260302000042")
        );
        assert_eq!(next_code("E20260302", Some("E20260302999999")), None);
    }
}
