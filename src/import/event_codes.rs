//! Event codes for events imported without one, in the one format of `model::event_code`
//! (`E` + the report day in China + a 6-digit sequence, e.g. `E20240501000042`).
//!
//! Imported events have no poster: their idempotency key space (`Event::idempotency_scope`) is
//! the city's (`model::area::city_code`), so a re-import finds the events an earlier import
//! (or a city-scoped poster) stored, and never those of a district's poster.
//!
//! The sequence continues after the highest one already stored for that day (and after any
//! such code given explicitly in the file), so generated codes never collide. An event whose
//! (source, external_id) is already stored keeps its stored code, so re-importing a file
//! updates the events instead of duplicating them.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};

use crate::model::event_code::{china_day, format_code, parse_code, MAX_SEQUENCE};
use crate::model::EventSource;

/// Highest sequence per day and stored codes by (source, external id) in one key space.
#[derive(Debug, Default)]
pub struct EventCodes {
    key_scope: String,
    last_sequence: HashMap<NaiveDate, u32>,
    by_external_id: HashMap<(EventSource, String), String>,
}

impl EventCodes {
    /// No codes known yet, for events of the key space `key_scope`.
    pub fn new(key_scope: &str) -> EventCodes {
        EventCodes {
            key_scope: key_scope.to_string(),
            ..EventCodes::default()
        }
    }

    /// The idempotency key space of the imported events.
    pub fn key_scope(&self) -> &str {
        &self.key_scope
    }

    /// Notes the stored code of the event from `source` with id `external_id`.
    pub fn note_stored(&mut self, source: EventSource, external_id: String, code: String) {
        self.note_code(&code);
        self.by_external_id.insert((source, external_id), code);
    }

    /// Notes a code (stored or given in the file) so that generation skips past it.
    pub fn note_code(&mut self, code: &str) {
        if let Some((day, sequence)) = parse_code(code) {
            let last = self.last_sequence.entry(day).or_insert(0);
            *last = (*last).max(sequence);
        }
    }

    /// The stored code of an event from `source` with this external id, if any.
    pub fn stored(&self, source: EventSource, external_id: &str) -> Option<&str> {
        self.by_external_id
            .get(&(source, external_id.to_string()))
            .map(String::as_str)
    }

    /// A new code for an event reported at `at`; `None` once a day's 999 999 codes are used.
    pub fn generate(&mut self, at: DateTime<Utc>) -> Option<String> {
        let day = china_day(at);
        let last = self.last_sequence.entry(day).or_insert(0);
        if *last >= MAX_SEQUENCE {
            return None;
        }
        *last += 1;
        Some(format_code(day, *last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn other_code_formats_are_ignored() {
        let mut codes = EventCodes::default();
        for code in [
            "",
            "E",
            "E2024050100004",
            "X20240501000042",
            "E2024050100004x",
        ] {
            codes.note_code(code);
        }
        assert!(codes.last_sequence.is_empty());
    }

    #[test]
    fn continues_after_the_highest_code_of_the_day_in_china_time() {
        let mut codes = EventCodes::default();
        codes.note_code("E20240501000041");
        codes.note_code("E20240501000007");
        // 2024-04-30 17:00 UTC is 2024-05-01 01:00 in China.
        let at = Utc.with_ymd_and_hms(2024, 4, 30, 17, 0, 0).unwrap();
        assert_eq!(codes.generate(at).as_deref(), Some("E20240501000042"));
        assert_eq!(codes.generate(at).as_deref(), Some("E20240501000043"));
        let next_day = Utc.with_ymd_and_hms(2024, 5, 1, 17, 0, 0).unwrap();
        assert_eq!(codes.generate(next_day).as_deref(), Some("E20240502000001"));
    }

    #[test]
    fn a_full_day_yields_none() {
        let mut codes = EventCodes::default();
        codes.note_code("E20240501999999");
        let at = Utc.with_ymd_and_hms(2024, 5, 1, 4, 0, 0).unwrap();
        assert_eq!(codes.generate(at), None);
    }
}
