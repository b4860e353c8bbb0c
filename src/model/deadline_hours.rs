//! 限时办结: how long an event may stay open, per category and handling level, from
//! `events/deadlines.toml` (overridable in the config file). The deadline is stored with the
//! event; `overdue` and the yellow/red card (红黄牌) derived from it at read time follow one
//! rule for the API and the tiles: `engine::events::{overdue_at, card_at}`.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use super::event::HandlingLevel;

/// The table built into the binary.
pub const DEADLINES_TOML: &str = include_str!("../../events/deadlines.toml");

/// Hours for each level; a missing level falls back to the less specific table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelHours {
    pub community: Option<u32>,
    pub street: Option<u32>,
    pub district: Option<u32>,
    pub city: Option<u32>,
}

impl LevelHours {
    fn get(&self, level: HandlingLevel) -> Option<u32> {
        match level {
            HandlingLevel::Community => self.community,
            HandlingLevel::Street => self.street,
            HandlingLevel::District => self.district,
            HandlingLevel::City => self.city,
        }
    }

    /// `over`'s hours where it has them, ours elsewhere.
    fn merged(self, over: LevelHours) -> LevelHours {
        LevelHours {
            community: over.community.or(self.community),
            street: over.street.or(self.street),
            district: over.district.or(self.district),
            city: over.city.or(self.city),
        }
    }
}

/// Deadline hours: a default and entries per category code or 2-digit major.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deadlines {
    #[serde(default)]
    pub default: LevelHours,
    #[serde(default)]
    pub category: BTreeMap<String, LevelHours>,
}

/// Hours used when neither the table nor the default names a level (a week).
const FALLBACK_HOURS: u32 = 168;

impl Deadlines {
    /// Parses a table in the shape of `events/deadlines.toml`.
    pub fn parse(text: &str) -> Result<Deadlines, String> {
        toml::from_str(text).map_err(|e| format!("invalid event deadline table: {e}"))
    }

    /// The built-in table with `over` applied on top (entry by entry, level by level).
    pub fn with_overrides(over: &Deadlines) -> Result<Deadlines, String> {
        let mut table = Deadlines::parse(DEADLINES_TOML)?;
        table.default = table.default.merged(over.default);
        for (key, hours) in &over.category {
            let entry = table.category.entry(key.clone()).or_default();
            *entry = entry.merged(*hours);
        }
        Ok(table)
    }

    /// The built-in table.
    pub fn builtin() -> Deadlines {
        Deadlines::parse(DEADLINES_TOML).unwrap_or_default()
    }

    /// Hours allowed for `category` at `level`: full code, then major, then default.
    pub fn hours(&self, category: &str, level: HandlingLevel) -> u32 {
        let major = category.get(..2).unwrap_or(category);
        [self.category.get(category), self.category.get(major)]
            .into_iter()
            .flatten()
            .find_map(|h| h.get(level))
            .or(self.default.get(level))
            .unwrap_or(FALLBACK_HOURS)
    }

    /// The deadline of an event reported at `reported_at`.
    pub fn deadline(
        &self,
        category: &str,
        level: HandlingLevel,
        reported_at: DateTime<Utc>,
    ) -> DateTime<Utc> {
        reported_at + Duration::hours(i64::from(self.hours(category, level)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_config_file_takes_an_event_deadlines_table() {
        let text = "[event_deadlines.default]\ncity = 300\n[event_deadlines.category.\"0102\"]\ncommunity = 6\n";
        let file: crate::config::FileConfig = toml::from_str(text).expect("config");
        let d = Deadlines::with_overrides(&file.event_deadlines.expect("table")).expect("merged");
        assert_eq!(d.hours("0102", HandlingLevel::Community), 6);
        assert_eq!(d.hours("9999", HandlingLevel::City), 300);
        assert_eq!(d.hours("0101", HandlingLevel::City), 240);
    }

    #[test]
    fn deadline_runs_from_the_report() {
        let at = Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("time");
        let d = Deadlines::builtin();
        assert_eq!(
            d.deadline("0102", HandlingLevel::Street, at),
            at + Duration::hours(36)
        );
    }

    #[test]
    fn builtin_table_parses_and_falls_back() {
        let d = Deadlines::parse(DEADLINES_TOML).expect("builtin");
        assert_eq!(d.hours("0102", HandlingLevel::Community), 24);
        assert_eq!(d.hours("0101", HandlingLevel::Community), 72);
        assert_eq!(d.hours("0101", HandlingLevel::City), 240);
        assert_eq!(d.hours("9901", HandlingLevel::Street), 120);
        assert_eq!(d.hours("", HandlingLevel::Street), 120);
    }

    #[test]
    fn overrides_replace_single_levels() {
        let over = Deadlines::parse("[category.\"0102\"]\ncommunity = 6\n").expect("over");
        let d = Deadlines::with_overrides(&over).expect("merged");
        assert_eq!(d.hours("0102", HandlingLevel::Community), 6);
        assert_eq!(d.hours("0102", HandlingLevel::Street), 36);
        assert!(Deadlines::parse("[category.\"01\"]\nweekly = 1\n").is_err());
    }
}
