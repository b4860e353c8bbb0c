//! The event filter parameters, with one meaning on `GET /api/events`, the `events` tiles and
//! the `heatmap` tiles; this is the one parser all three use.
//!
//! - `from`, `to`: an RFC 3339 instant (`2026-10-01T08:00:00+08:00`) or a day (`2026-10-01`).
//!   A day is a China Standard Time (UTC+8) day, the day users of the city mean: `from` a day
//!   is the start of that day, `to` a day its end (the next day's start, excluded). An event
//!   is kept when `from <= reported_at < to`. Instants are kept to the second (the engine's
//!   precision).
//! - `status`, `source`, `level`: comma lists of exact values.
//! - `category`: a comma list of category code prefixes (1–16 letters or digits, the rule of a
//!   posted category): `01` keeps `0101`, `0102`, …; a whole
//!   code keeps itself.
//! - `area` (listing only): an area code; its jurisdiction, as for a token's scope
//!   (`model::scope_prefix`: `410600` is the whole city, every `4106…` code).
//!
//! Lists are trimmed, sorted by their text and without repeats (their canonical form, part of the tile cache
//! key) and hold at most [`MAX_LIST_VALUES`] values, repeats counted (`too_many_values`).

use chrono::{DateTime, NaiveDate, Utc};

use super::error::ApiError;
use super::events::check_category;
use crate::engine::events::EventFilter;
use crate::model::event_code::china_midnight;
use crate::model::{covers_whole_city, scope_prefix, EventSource, EventStatus, HandlingLevel};

/// Most values one list parameter may hold.
pub const MAX_LIST_VALUES: usize = 64;

/// A refused parameter: the listing's stable code (`bad_status`, `bad_time`, …) and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    pub code: &'static str,
    pub message: String,
}

impl From<ParamError> for ApiError {
    /// A 400 with the parameter's code (the listing's answer; tiles answer `bad_filter`).
    fn from(e: ParamError) -> ApiError {
        ApiError::bad_request(e.code, e.message)
    }
}

fn refuse(code: &'static str, message: impl Into<String>) -> ParamError {
    ParamError {
        code,
        message: message.into(),
    }
}

/// The raw text of the filter parameters of a request (`None`: not given).
#[derive(Debug, Clone, Copy, Default)]
pub struct RawEventParams<'a> {
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub status: Option<&'a str>,
    pub category: Option<&'a str>,
    pub source: Option<&'a str>,
    pub level: Option<&'a str>,
}

/// Checks every parameter (see the module documentation) into the engine's filter, which
/// keeps every event the parameters do not exclude, overdue judged at `now`.
pub fn parse_filter(
    raw: RawEventParams<'_>,
    now: DateTime<Utc>,
) -> Result<EventFilter, ParamError> {
    let from = raw.from.map(|s| parse_time("from", s, false)).transpose()?;
    let to = raw.to.map(|s| parse_time("to", s, true)).transpose()?;
    if let (Some(f), Some(t)) = (from, to) {
        if f >= t {
            return Err(refuse(
                "bad_time",
                format!("from {f} must be before to {t}"),
            ));
        }
    }
    let categories = values("category", raw.category)?
        .into_iter()
        .map(|c| {
            check_category(c)
                .map(|()| c.to_string())
                .map_err(|m| refuse("bad_category", m))
        })
        .collect::<Result<_, _>>()?;
    let mut filter = EventFilter::at(now);
    filter.from = from;
    filter.to = to;
    filter.statuses = parsed("status", "bad_status", raw.status, EventStatus::parse)?;
    filter.categories = categories;
    filter.sources = parsed("source", "bad_source", raw.source, EventSource::parse)?;
    filter.levels = parsed("level", "bad_level", raw.level, HandlingLevel::parse)?;
    Ok(filter)
}

/// A time bound (see the module documentation): RFC 3339, or a China Standard Time day — its
/// start, or with `end_of_day` the next day's start.
pub fn parse_time(name: &str, s: &str, end_of_day: bool) -> Result<DateTime<Utc>, ParamError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
        refuse(
            "bad_time",
            format!(
                "{name} {s:?} is neither RFC 3339 (2026-01-31T08:00:00+08:00) nor a day (2026-01-31, China Standard Time)"
            ),
        )
    })?;
    let day = if end_of_day {
        day.succ_opt()
    } else {
        Some(day)
    };
    day.and_then(china_midnight)
        .ok_or_else(|| refuse("bad_time", format!("{name} {s:?} is out of range")))
}

/// The non-empty items of a comma list, sorted and without repeats; a list of more than
/// [`MAX_LIST_VALUES`] items (repeats counted) is refused.
pub fn values<'a>(name: &str, text: Option<&'a str>) -> Result<Vec<&'a str>, ParamError> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    let mut items: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    if items.len() > MAX_LIST_VALUES {
        return Err(refuse(
            "too_many_values",
            format!(
                "{name} lists {} values; at most {MAX_LIST_VALUES} are accepted",
                items.len()
            ),
        ));
    }
    items.sort_unstable();
    items.dedup();
    Ok(items)
}

/// A list of known values, in the order of their sorted text, without repeats.
fn parsed<T: PartialEq>(
    name: &str,
    code: &'static str,
    text: Option<&str>,
    parse: fn(&str) -> Option<T>,
) -> Result<Vec<T>, ParamError> {
    let mut out = Vec::new();
    for s in values(name, text)? {
        let value = parse(s).ok_or_else(|| refuse(code, format!("unknown {name} {s:?}")))?;
        if !out.contains(&value) {
            out.push(value);
        }
    }
    Ok(out)
}

/// An `area` parameter: an area code of letters and digits (`bad_area`).
pub fn check_area(area: &str) -> Result<(), ParamError> {
    if area.is_empty() || area.len() > 32 || !area.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(refuse(
            "bad_area",
            format!("area {area:?} is not an area code"),
        ));
    }
    Ok(())
}

/// Narrows `filter` to the events inside the jurisdiction `scope` and, if given, the area
/// `area`: the longer of the two prefixes when one extends the other. An event outside every
/// area is kept when both cover the whole city (`model::covers_whole_city`). `false` when
/// the two do not overlap (nothing can match).
pub fn narrow_to(filter: &mut EventFilter, scope: &str, area: Option<&str>) -> bool {
    let scope_p = scope_prefix(scope);
    let prefix = match area.map(scope_prefix) {
        None => scope_p,
        Some(a) if a.starts_with(scope_p) => a,
        Some(a) if scope_p.starts_with(a) => scope_p,
        Some(_) => return false,
    };
    filter.area_prefixes = vec![prefix.to_string()];
    filter.outside_areas = covers_whole_city(scope) && area.is_none_or(covers_whole_city);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw<'a>(from: Option<&'a str>, to: Option<&'a str>) -> RawEventParams<'a> {
        RawEventParams {
            from,
            to,
            ..RawEventParams::default()
        }
    }

    #[test]
    fn a_day_is_a_china_standard_time_day() {
        let p = parse_filter(raw(Some("2026-10-01"), Some("2026-10-01")), Utc::now()).expect("ok");
        let at = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .expect("t")
                .with_timezone(&Utc)
        };
        assert_eq!(p.from, Some(at("2026-09-30T16:00:00Z")));
        assert_eq!(
            p.to,
            Some(at("2026-10-01T16:00:00Z")),
            "to a day includes it"
        );
        let p = parse_filter(raw(Some("2026-10-01T08:00:00+08:00"), None), Utc::now()).expect("ok");
        assert_eq!(p.from, Some(at("2026-10-01T00:00:00Z")));
    }

    #[test]
    fn bad_times_and_empty_windows_are_refused() {
        for (from, to) in [
            (Some("yesterday"), None),
            (Some("2026-13-01"), None),
            (Some("2026-10-05"), Some("2026-10-01")),
            (Some("2026-10-01T00:00:00Z"), Some("2026-10-01T00:00:00Z")),
        ] {
            let e = parse_filter(raw(from, to), Utc::now()).expect_err("refused");
            assert_eq!(e.code, "bad_time", "{from:?} {to:?}");
        }
    }

    #[test]
    fn lists_are_canonical_and_capped() {
        let p = parse_filter(
            RawEventParams {
                status: Some(" closed,reported,closed,"),
                category: Some("0102,01,0102"),
                ..RawEventParams::default()
            },
            Utc::now(),
        )
        .expect("ok");
        assert_eq!(p.statuses, vec![EventStatus::Closed, EventStatus::Reported]);
        assert_eq!(p.categories, vec!["01".to_string(), "0102".to_string()]);
        let many: Vec<String> = (0..=MAX_LIST_VALUES).map(|i| format!("{i:04}")).collect();
        let many = many.join(",");
        let e = parse_filter(
            RawEventParams {
                category: Some(&many),
                ..RawEventParams::default()
            },
            Utc::now(),
        )
        .expect_err("too many");
        assert_eq!(e.code, "too_many_values");
        for (raw, code) in [
            (
                RawEventParams {
                    status: Some("open"),
                    ..Default::default()
                },
                "bad_status",
            ),
            (
                RawEventParams {
                    category: Some("a b"),
                    ..Default::default()
                },
                "bad_category",
            ),
            (
                RawEventParams {
                    source: Some("fax"),
                    ..Default::default()
                },
                "bad_source",
            ),
            (
                RawEventParams {
                    level: Some("province"),
                    ..Default::default()
                },
                "bad_level",
            ),
        ] {
            assert_eq!(
                parse_filter(raw, Utc::now()).expect_err("refused").code,
                code
            );
        }
    }

    #[test]
    fn scope_and_area_narrow_to_the_longer_prefix() {
        let now = Utc::now();
        let narrowed = |scope: &str, area: Option<&str>| {
            let mut f = EventFilter::at(now);
            narrow_to(&mut f, scope, area).then_some((f.area_prefixes, f.outside_areas))
        };
        assert_eq!(narrowed("410600", None), Some((vec!["4106".into()], true)));
        assert_eq!(
            narrowed("410600", Some("410600")),
            Some((vec!["4106".into()], true)),
            "the city asked as an area is the whole city"
        );
        assert_eq!(
            narrowed("410600", Some("410611")),
            Some((vec!["410611".into()], false))
        );
        assert_eq!(
            narrowed("410611", Some("410600")),
            Some((vec!["410611".into()], false))
        );
        assert_eq!(narrowed("410611", Some("410621")), None);
        assert_eq!(
            narrowed("410611001", Some("410611")),
            Some((vec!["410611001".into()], false))
        );
    }
}
