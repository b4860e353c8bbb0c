//! Compact forms of an event's code and times.
//!
//! Codes: the format of `model::event_code` (`E{yyyymmdd}{seq:06}`) packs into 36 bits — the day as days since
//! 2000-01-01 (16 bits, up to 2179) shifted left by 20, plus the sequence (< 1 000 000 < 2^20).
//! Any other code is kept in a side table and packs as [`SIDE_TAG`] | its index there. Packed
//! codes of the pattern sort like the codes themselves.
//!
//! Times: seconds since 2000-01-01T00:00:00Z as `u32` (good until 2136); earlier instants
//! clamp to 0, later ones to `u32::MAX - 1`; [`NO_TIME`] stands for "none".

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};

use crate::model::event_code::{format_code, parse_code};

/// Bit set on a packed code that indexes the side table.
pub const SIDE_TAG: u64 = 1 << 63;
/// The "no time" value of a packed time column.
pub const NO_TIME: u32 = u32::MAX;
/// Unix time of 2000-01-01T00:00:00Z.
const EPOCH_UNIX: i64 = 946_684_800;
const SEQ_BITS: u32 = 20;
const SEQ_LIMIT: u64 = 1_000_000;

fn epoch_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default()
}

/// Packs a code of the pattern, `None` for any other code.
pub fn pack_pattern(code: &str) -> Option<u64> {
    let (date, seq) = parse_code(code)?;
    let days = u64::try_from((date - epoch_date()).num_days()).ok()?;
    let seq = u64::from(seq);
    (days < 1 << 16 && seq < SEQ_LIMIT).then_some((days << SEQ_BITS) | seq)
}

/// The code of a packed pattern code (the inverse of [`pack_pattern`]).
pub fn unpack_pattern(packed: u64) -> String {
    let days = (packed >> SEQ_BITS) as i64;
    let seq = (packed & ((1 << SEQ_BITS) - 1)) as u32;
    format_code(epoch_date() + chrono::Duration::days(days), seq)
}

/// Codes that do not fit the pattern, by index.
#[derive(Debug, Clone, Default)]
pub struct SideCodes {
    codes: Vec<String>,
    index: HashMap<String, u64>,
}

impl SideCodes {
    /// The packed form of any code, adding it to the side table when needed.
    pub fn pack(&mut self, code: &str) -> u64 {
        if let Some(p) = pack_pattern(code) {
            return p;
        }
        if let Some(&i) = self.index.get(code) {
            return SIDE_TAG | i;
        }
        let i = self.codes.len() as u64;
        self.codes.push(code.to_string());
        self.index.insert(code.to_string(), i);
        SIDE_TAG | i
    }

    /// The packed form of a code already known, without adding anything.
    pub fn find(&self, code: &str) -> Option<u64> {
        pack_pattern(code).or_else(|| self.index.get(code).map(|&i| SIDE_TAG | i))
    }

    /// The code of a packed code.
    pub fn unpack(&self, packed: u64) -> String {
        if packed & SIDE_TAG == 0 {
            return unpack_pattern(packed);
        }
        let i = (packed & !SIDE_TAG) as usize;
        self.codes.get(i).cloned().unwrap_or_default()
    }

    /// Heap bytes held.
    pub fn resident_bytes(&self) -> usize {
        let strings: usize = self.codes.iter().map(|c| 2 * c.capacity()).sum();
        strings
            + self.codes.capacity() * std::mem::size_of::<String>()
            + self.index.capacity() * (std::mem::size_of::<(String, u64)>() + 1)
    }
}

/// Packs an instant (see the module documentation).
pub fn pack_time(t: DateTime<Utc>) -> u32 {
    (t.timestamp() - EPOCH_UNIX).clamp(0, i64::from(NO_TIME) - 1) as u32
}

/// Packs the exclusive end of a window: the next whole second when `t` has a fraction, so an
/// event reported earlier in `t`'s own second (stored to the second) falls inside. A window
/// ending now then holds the event posted a moment ago.
pub fn pack_end(t: DateTime<Utc>) -> u32 {
    let whole = pack_time(t);
    if t.timestamp_subsec_nanos() > 0 && whole < NO_TIME - 1 {
        whole + 1
    } else {
        whole
    }
}

/// Packs an optional instant, `None` as [`NO_TIME`].
pub fn pack_opt_time(t: Option<DateTime<Utc>>) -> u32 {
    t.map_or(NO_TIME, pack_time)
}

/// The instant of a packed time.
pub fn unpack_time(t: u32) -> DateTime<Utc> {
    Utc.timestamp_opt(EPOCH_UNIX + i64::from(t), 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The month partition of a packed time: months since January 2000 (UTC).
pub fn month_of(t: u32) -> u32 {
    let d = unpack_time(t);
    (d.year() as u32).saturating_sub(2000) * 12 + d.month0()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_end_inside_a_second_keeps_that_second() {
        let whole = DateTime::parse_from_rfc3339("2026-12-06T11:38:28Z")
            .expect("time")
            .with_timezone(&Utc);
        let inside = whole + chrono::Duration::milliseconds(900);
        assert_eq!(pack_end(whole), pack_time(whole));
        assert_eq!(pack_end(inside), pack_time(whole) + 1);
        assert!(pack_time(whole + chrono::Duration::milliseconds(819)) < pack_end(inside));
    }

    #[test]
    fn pattern_codes_round_trip_and_sort() {
        let a = pack_pattern("E20261031000123").expect("pattern");
        let b = pack_pattern("E20261101000001").expect("pattern");
        assert!(a < b);
        assert_eq!(unpack_pattern(a), "E20261031000123");
        assert_eq!(pack_pattern("E20000101000000"), Some(0));
    }

    #[test]
    fn other_codes_go_to_the_side_table() {
        let mut side = SideCodes::default();
        for odd in [
            "E2026103100012",
            "X20261031000123",
            "E20261331000001",
            "事件1",
            "",
        ] {
            assert_eq!(pack_pattern(odd), None, "{odd}");
            let p = side.pack(odd);
            assert_ne!(p & SIDE_TAG, 0);
            assert_eq!(side.pack(odd), p);
            assert_eq!(side.unpack(p), odd);
            assert_eq!(side.find(odd), Some(p));
        }
        assert_eq!(side.find("nope"), None);
    }

    #[test]
    fn times_clamp_and_round_trip() {
        let t = Utc
            .with_ymd_and_hms(2026, 11, 1, 8, 30, 5)
            .single()
            .expect("valid");
        assert_eq!(unpack_time(pack_time(t)), t);
        let old = Utc
            .with_ymd_and_hms(1990, 1, 1, 0, 0, 0)
            .single()
            .expect("valid");
        assert_eq!(pack_time(old), 0);
        assert_eq!(pack_opt_time(None), NO_TIME);
        assert_eq!(month_of(pack_time(t)), 26 * 12 + 10);
    }
}
