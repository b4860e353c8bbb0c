//! The event operations every store answers besides `apply`: idempotent ingest, one event,
//! a transition under an optimistic check, events by code, and the last code of a day.

use chrono::{DateTime, Duration, NaiveDate, Utc};

/// What ingest did with one event, in input order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    /// The stored code (newly assigned, or the one a previous post got).
    pub code: String,
    /// `false` when (source, external_id) was already stored and nothing was written.
    pub created: bool,
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
