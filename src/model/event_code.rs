//! The one format of event codes and the one China day they are numbered by.
//!
//! A code is `E`, the report day in China Standard Time (UTC+8, no daylight saving; `yyyymmdd`)
//! and a 6-digit sequence of that day, e.g. `E20240501000042`. Stores number new events from 1
//! after the highest stored code of the day; the generator numbers its days from 0. Any other
//! code (given in an imported file) is accepted as it is: it just does not take part in the
//! numbering.

use chrono::{DateTime, FixedOffset, NaiveDate, Offset, Utc};

/// The letter every generated code starts with.
pub const CODE_LETTER: char = 'E';
/// The highest sequence of a day: a day has at most 999 999 generated codes.
pub const MAX_SEQUENCE: u32 = 999_999;

/// China Standard Time, UTC+8: the time zone of report days and of local times in imports.
pub fn china_offset() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or(Utc.fix())
}

/// The China day of an instant (2024-04-30T17:00Z is 2024-05-01 in China).
pub fn china_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&china_offset()).date_naive()
}

/// The instant a China day starts (2024-05-01 starts at 2024-04-30T16:00Z); `None` only at
/// the ends of chrono's range.
pub fn china_midnight(day: NaiveDate) -> Option<DateTime<Utc>> {
    day.and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(china_offset()).single())
        .map(|t| t.with_timezone(&Utc))
}

/// The `E{yyyymmdd}` prefix of the codes of a day.
pub fn code_prefix_of_day(day: NaiveDate) -> String {
    format!("{CODE_LETTER}{}", day.format("%Y%m%d"))
}

/// The `E{yyyymmdd}` prefix of the codes of events reported at `at` (its China day).
pub fn code_day_prefix(at: DateTime<Utc>) -> String {
    code_prefix_of_day(china_day(at))
}

/// The code of sequence `sequence` (at most [`MAX_SEQUENCE`]) of `day`.
pub fn format_code(day: NaiveDate, sequence: u32) -> String {
    format!("{}{sequence:06}", code_prefix_of_day(day))
}

/// The code after `last` (the highest stored code of the day, if any) for the day `prefix`;
/// `None` once the day's [`MAX_SEQUENCE`] codes are used.
pub fn next_code(prefix: &str, last: Option<&str>) -> Option<String> {
    let sequence = last
        .and_then(|c| c.strip_prefix(prefix))
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(0);
    (sequence < MAX_SEQUENCE).then(|| format!("{prefix}{:06}", sequence + 1))
}

/// The day and sequence of a code of the format; `None` for any other code (wrong letter or
/// length, a non-digit, a date that does not exist).
pub fn parse_code(code: &str) -> Option<(NaiveDate, u32)> {
    let rest = code.strip_prefix(CODE_LETTER)?;
    if rest.len() != 14 || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let day = NaiveDate::parse_from_str(&rest[..8], "%Y%m%d").ok()?;
    Some((day, rest[8..].parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    #[test]
    fn codes_follow_the_china_day() {
        let late_utc = Utc.with_ymd_and_hms(2026, 3, 1, 17, 0, 0).unwrap();
        assert_eq!(china_day(late_utc), day(2026, 3, 2));
        assert_eq!(code_day_prefix(late_utc), "E20260302");
        let early_utc = Utc.with_ymd_and_hms(2026, 3, 1, 15, 59, 59).unwrap();
        assert_eq!(code_day_prefix(early_utc), "E20260301");
    }

    #[test]
    fn next_code_counts_from_one_and_stops_at_the_limit() {
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

    #[test]
    fn parse_is_the_inverse_of_format() {
        assert_eq!(format_code(day(2024, 5, 1), 42), "E20240501000042");
        assert_eq!(parse_code("E20240501000042"), Some((day(2024, 5, 1), 42)));
        for other in [
            "",
            "E",
            "E2024050100004",
            "X20240501000042",
            "E2024050100004x",
            "E20241331000001",
            "E２0240501000042",
        ] {
            assert_eq!(parse_code(other), None, "{other}");
        }
    }
}
