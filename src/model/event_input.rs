//! The one validation of an event's reported fields, shared by `POST /api/events` and
//! `gridmap import --kind events`; each maps [`EventFieldError`] to its own answer (the API
//! to 422 with [`EventFieldError::code`], import to a per-feature message).
//!
//! The rules:
//! - `source` is one of [`EventSource::ALL`]; `category` and `title` are required.
//! - `category` is 1–16 ASCII letters or digits ([`check_category`]): a GB/T 30428.2-style code
//!   such as `0102` (its first two digits pick the deadline) or a 综治 key such as `dispute`.
//! - Every text field has its own limit in characters ([`TextField`]); surrounding white space
//!   is trimmed and empty text counts as absent.
//! - The location is longitude/latitude in the storage CRS inside [`lonlat_in_range`]; other
//!   CRSs are converted by [`place`] (the `crs` conversion) before.
//! - `reported_at` lies in [[`earliest_report`], now + [`FUTURE_SLACK_MINUTES`]]: not before
//!   2000 (the engine packs times as seconds since 2000), not ahead of the server clock by
//!   more than a phone's clock skew ([`FutureBound::ServiceClock`], posts). An import runs
//!   offline with the machine's clock, which need not be the service's, so it checks only the
//!   lower bound ([`FutureBound::None`]). It is kept to the millisecond.

use chrono::{DateTime, Duration, TimeZone, Utc};
use geo_types::Point;

use super::event::{Evaluation, Event, EventSource, EventStatus, HandlingLevel, Transition};
use super::lonlat_in_range;
use crate::crs::{self, Crs};

/// A report may be stamped at most this far in the future (clock skew of phones).
pub const FUTURE_SLACK_MINUTES: i64 = 5;

/// The earliest accepted `reported_at`: 2000-01-01T00:00:00Z, the epoch of the engine's packed
/// times (earlier instants would silently clamp there).
pub fn earliest_report() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// [`earliest_report`] as text, for messages.
pub const EARLIEST_REPORT: &str = "2000-01-01T00:00:00Z";

/// A text field of an event or of a transition, with its limit in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextField {
    /// The field's name in JSON and in import files.
    pub name: &'static str,
    /// Most characters (not bytes) accepted.
    pub max_chars: usize,
}

impl TextField {
    /// The source system's id of the event.
    pub const EXTERNAL_ID: TextField = TextField::new("external_id", 100);
    /// A one-line summary.
    pub const TITLE: TextField = TextField::new("title", 200);
    /// The description.
    pub const CONTENT: TextField = TextField::new("content", 10_000);
    /// The reporter's name.
    pub const REPORTER_NAME: TextField = TextField::new("reporter_name", 100);
    /// The reporter's phone number (with extension or country code).
    pub const REPORTER_PHONE: TextField = TextField::new("reporter_phone", 32);
    /// The address as written by the reporter.
    pub const ADDRESS: TextField = TextField::new("address", 500);
    /// The department an event is dispatched to (transitions, imports).
    pub const DEPARTMENT: TextField = TextField::new("department", 200);
    /// The note on a transition.
    pub const NOTE: TextField = TextField::new("note", 2_000);
    /// The resident's comment of an evaluation.
    pub const COMMENT: TextField = TextField::new("comment", 2_000);

    const fn new(name: &'static str, max_chars: usize) -> TextField {
        TextField { name, max_chars }
    }

    /// Trims `value`; `None` when it is empty, an error when it is longer than the limit.
    pub fn check(self, value: Option<String>) -> Result<Option<String>, EventFieldError> {
        let Some(value) = value else {
            return Ok(None);
        };
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Ok(None);
        }
        let length = trimmed.chars().count();
        if length > self.max_chars {
            return Err(EventFieldError::TooLong {
                field: self.name,
                limit: self.max_chars,
                length,
            });
        }
        Ok(Some(trimmed.to_string()))
    }
}

/// Why an event's fields were refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EventFieldError {
    #[error("{0} is required")]
    Missing(&'static str),
    #[error("unknown source {0:?}: expected patrol, hotline, wechat, app or video")]
    BadSource(String),
    #[error("category {0:?} must be 1 to 16 ASCII letters or digits: a GB/T 30428.2-style code like 0102 or a key like dispute")]
    BadCategory(String),
    #[error("{field} is limited to {limit} characters, this one has {length}")]
    TooLong {
        field: &'static str,
        limit: usize,
        length: usize,
    },
    #[error("{0}")]
    BadCrs(String),
    #[error("{0}")]
    BadCoordinates(String),
    #[error("reported_at {at} is after the server time {now} (at most {FUTURE_SLACK_MINUTES} minutes ahead are accepted)")]
    ReportedInFuture {
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    #[error("reported_at {0} is before {EARLIEST_REPORT}, the earliest accepted report time")]
    ReportedTooEarly(DateTime<Utc>),
}

impl EventFieldError {
    /// The stable code of the error (the API's `error.code`).
    pub fn code(&self) -> &'static str {
        match self {
            EventFieldError::Missing("external_id") => "missing_external_id",
            EventFieldError::Missing("source") | EventFieldError::BadSource(_) => "bad_source",
            EventFieldError::Missing("category") | EventFieldError::BadCategory(_) => {
                "bad_category"
            }
            EventFieldError::Missing("location") => "missing_location",
            EventFieldError::Missing(_) => "missing_title",
            EventFieldError::TooLong { .. } => "too_long",
            EventFieldError::BadCrs(_) => "bad_crs",
            EventFieldError::BadCoordinates(_) => "bad_coordinates",
            EventFieldError::ReportedInFuture { .. } => "reported_in_future",
            EventFieldError::ReportedTooEarly(_) => "bad_reported_at",
        }
    }
}

/// Checks a category code (see the module documentation).
///
/// ```
/// use gridmap::model::event_input::check_category;
/// assert!(check_category("0102").is_ok());
/// assert!(check_category("dispute").is_ok());
/// assert!(check_category("01-02").is_err());
/// ```
pub fn check_category(category: &str) -> Result<(), EventFieldError> {
    if (1..=16).contains(&category.len()) && category.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(EventFieldError::BadCategory(category.to_string()))
    }
}

/// The CRS named by `text` (`wgs84`, `gcj02`, `bd09`, `EPSG:4547`, …); WGS84 when absent.
pub fn parse_crs(text: Option<&str>) -> Result<Crs, EventFieldError> {
    match text {
        None => Ok(Crs::Wgs84),
        Some(text) => Crs::parse(text).map_err(|e| EventFieldError::BadCrs(e.to_string())),
    }
}

/// `x`/`y` in `crs`, converted to the storage CRS and checked to lie in China.
pub fn place(x: f64, y: f64, crs: Crs) -> Result<Point<f64>, EventFieldError> {
    let (lon, lat) =
        crs::to_storage(crs, x, y).map_err(|e| EventFieldError::BadCoordinates(e.to_string()))?;
    checked_location(Point::new(lon, lat))
}

fn checked_location(p: Point<f64>) -> Result<Point<f64>, EventFieldError> {
    if lonlat_in_range(p.x(), p.y()) {
        Ok(p)
    } else {
        Err(EventFieldError::BadCoordinates(format!(
            "({}, {}) is not a longitude/latitude in China; check the order (lon first) and the crs",
            p.x(),
            p.y()
        )))
    }
}

/// Whether `reported_at` is bounded by the clock it is validated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FutureBound {
    /// At most [`FUTURE_SLACK_MINUTES`] after `now`: `now` is the service clock (posts).
    ServiceClock,
    /// No upper bound: `now` is only the default (imports, see the module documentation).
    None,
}

/// Checks `reported_at` against the accepted range at `now` (see the module documentation).
pub fn check_reported_at(
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    bound: FutureBound,
) -> Result<(), EventFieldError> {
    if at < earliest_report() {
        return Err(EventFieldError::ReportedTooEarly(at));
    }
    if bound == FutureBound::ServiceClock && at > now + Duration::minutes(FUTURE_SLACK_MINUTES) {
        return Err(EventFieldError::ReportedInFuture { at, now });
    }
    Ok(())
}

/// An event's reported fields as they arrive, before validation. Text is as given; the
/// location is already in the storage CRS (see [`place`]).
#[derive(Debug, Clone, Default)]
pub struct EventFields {
    pub external_id: Option<String>,
    pub source: Option<String>,
    pub category: Option<String>,
    pub title: Option<String>,
    pub content: Option<String>,
    pub reporter_name: Option<String>,
    pub reporter_phone: Option<String>,
    pub address: Option<String>,
    pub location: Option<Point<f64>>,
    /// `None`: the time of the report (`now`).
    pub reported_at: Option<DateTime<Utc>>,
}

/// An event's reported fields after validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidFields {
    pub external_id: Option<String>,
    pub source: EventSource,
    pub category: String,
    pub title: String,
    pub content: String,
    pub reporter_name: Option<String>,
    pub reporter_phone: Option<String>,
    pub address: Option<String>,
    pub location: Point<f64>,
    /// Kept to the millisecond (what both stores hold).
    pub reported_at: DateTime<Utc>,
}

/// What an event is besides its reported fields: its code and key scope, where the engine
/// placed it, how far its handling has got, and who entered it. A post and an import each
/// know these differently; [`ValidFields::into_event`] joins them the same way.
#[derive(Debug, Clone, PartialEq)]
pub struct EventStanding {
    /// Empty for a post: the store gives the code when it commits.
    pub code: String,
    /// The jurisdiction the idempotency key `(source, external_id)` is unique in.
    pub idempotency_scope: String,
    /// The deepest area at the location (`None`: outside every area).
    pub area_code: Option<String>,
    pub outside_grid: bool,
    pub status: EventStatus,
    pub level: HandlingLevel,
    pub department: Option<String>,
    pub deadline: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub evaluation: Option<Evaluation>,
    /// Who entered it, written in the first entry of its log with `note`.
    pub actor: String,
    pub note: Option<String>,
}

impl ValidFields {
    /// The event these fields and `standing` describe, its log opened by one transition into
    /// its status at the time of the report.
    pub fn into_event(self, standing: EventStanding) -> Event {
        let opened = Transition {
            at: self.reported_at,
            from: None,
            to: standing.status,
            actor: standing.actor,
            level: standing.level,
            department: standing.department.clone(),
            note: standing.note,
        };
        Event {
            code: standing.code,
            external_id: self.external_id,
            idempotency_scope: standing.idempotency_scope,
            title: self.title,
            category: self.category,
            source: self.source,
            content: self.content,
            reporter_name: self.reporter_name,
            reporter_phone: self.reporter_phone,
            location: self.location,
            address: self.address,
            area_code: standing.area_code,
            outside_grid: standing.outside_grid,
            status: standing.status,
            level: standing.level,
            department: standing.department,
            reported_at: self.reported_at,
            deadline: standing.deadline,
            closed_at: standing.closed_at,
            evaluation: standing.evaluation,
            transitions: vec![opened],
        }
    }
}

/// Validates `fields` at `now`: the valid fields, or every problem in field order
/// (external_id, source, category, title, the other texts, location, reported_at).
pub fn validate(
    fields: EventFields,
    now: DateTime<Utc>,
    bound: FutureBound,
) -> Result<ValidFields, Vec<EventFieldError>> {
    let mut problems = Vec::new();
    let p = &mut problems;
    let external_id = noted(p, TextField::EXTERNAL_ID.check(fields.external_id)).flatten();
    let source = noted(p, parse_source(fields.source));
    let category = noted(p, required_category(fields.category));
    let title = noted(
        p,
        TextField::TITLE
            .check(fields.title)
            .and_then(|t| t.ok_or(EventFieldError::Missing("title"))),
    );
    let content = noted(p, TextField::CONTENT.check(fields.content)).flatten();
    let reporter_name = noted(p, TextField::REPORTER_NAME.check(fields.reporter_name)).flatten();
    let reporter_phone = noted(p, TextField::REPORTER_PHONE.check(fields.reporter_phone)).flatten();
    let address = noted(p, TextField::ADDRESS.check(fields.address)).flatten();
    let location = noted(
        p,
        fields
            .location
            .ok_or(EventFieldError::Missing("location"))
            .and_then(checked_location),
    );
    let reported_at = fields.reported_at.unwrap_or(now);
    let reported_at = noted(
        p,
        check_reported_at(reported_at, now, bound).map(|()| to_millisecond(reported_at)),
    );
    match (source, category, title, location, reported_at) {
        (Some(source), Some(category), Some(title), Some(location), Some(reported_at))
            if problems.is_empty() =>
        {
            Ok(ValidFields {
                external_id,
                source,
                category,
                title,
                content: content.unwrap_or_default(),
                reporter_name,
                reporter_phone,
                address,
                location,
                reported_at,
            })
        }
        _ => Err(problems),
    }
}

/// The value of `result`, or `None` with its error noted.
fn noted<T>(problems: &mut Vec<EventFieldError>, result: Result<T, EventFieldError>) -> Option<T> {
    result.map_err(|e| problems.push(e)).ok()
}

fn parse_source(text: Option<String>) -> Result<EventSource, EventFieldError> {
    let text = text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    let text = text.ok_or(EventFieldError::Missing("source"))?;
    EventSource::parse(&text).ok_or(EventFieldError::BadSource(text))
}

fn required_category(text: Option<String>) -> Result<String, EventFieldError> {
    let text = text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    let category = text.ok_or(EventFieldError::Missing("category"))?;
    check_category(&category)?;
    Ok(category)
}

/// `at` without its sub-millisecond part (what both stores hold).
fn to_millisecond(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}

/// Locations closer than this (degrees, about 1 cm) count as the same place when a post is
/// compared with the stored event of its idempotency key.
const SAME_PLACE_DEGREES: f64 = 1e-7;

/// The reported fields in which `posted` differs from `stored`, the event already stored under
/// the same idempotency key (`Event::idempotency_scope`, source, external_id): category, title,
/// content, reporter_name, reporter_phone, address, location and — when the post gave it
/// (`compare_reported_at`; otherwise it is the time of the post) — reported_at. Empty for a
/// true retry. Derived fields (area, deadline, status, code) are not compared.
pub fn replay_differences(
    stored: &Event,
    posted: &Event,
    compare_reported_at: bool,
) -> Vec<&'static str> {
    let same_place = (stored.location.x() - posted.location.x()).abs() <= SAME_PLACE_DEGREES
        && (stored.location.y() - posted.location.y()).abs() <= SAME_PLACE_DEGREES;
    let same_time = stored.reported_at.timestamp_millis() == posted.reported_at.timestamp_millis();
    [
        ("category", stored.category == posted.category),
        ("title", stored.title == posted.title),
        ("content", stored.content == posted.content),
        (
            "reporter_name",
            stored.reporter_name == posted.reporter_name,
        ),
        (
            "reporter_phone",
            stored.reporter_phone == posted.reporter_phone,
        ),
        ("address", stored.address == posted.address),
        ("location", same_place),
        ("reported_at", same_time || !compare_reported_at),
    ]
    .into_iter()
    .filter(|(_, same)| !same)
    .map(|(field, _)| field)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
    }

    fn fields() -> EventFields {
        EventFields {
            external_id: Some(" HL-1 ".into()),
            source: Some("hotline".into()),
            category: Some("0102".into()),
            title: Some("井盖缺失".into()),
            location: Some(Point::new(114.3, 35.75)),
            ..EventFields::default()
        }
    }

    fn codes(f: EventFields) -> Vec<&'static str> {
        match validate(f, now(), FutureBound::ServiceClock) {
            Ok(_) => vec![],
            Err(e) => e.iter().map(EventFieldError::code).collect(),
        }
    }

    #[test]
    fn an_empty_event_names_every_required_field() {
        assert_eq!(
            codes(EventFields::default()),
            vec![
                "bad_source",
                "bad_category",
                "missing_title",
                "missing_location"
            ]
        );
    }

    #[test]
    fn a_complete_event_is_trimmed_and_defaults_to_now() {
        let v = validate(fields(), now(), FutureBound::ServiceClock).expect("valid");
        assert_eq!(v.external_id.as_deref(), Some("HL-1"));
        assert_eq!(v.source, EventSource::Hotline);
        assert_eq!(v.reported_at, now());
        assert_eq!(v.content, "");
    }

    #[test]
    fn categories_are_letters_and_digits_up_to_16() {
        for ok in ["0102", "01", "dispute", "A1", "1234567890123456"] {
            assert!(check_category(ok).is_ok(), "{ok}");
        }
        for bad in ["", "01-02", "a_b", "12345678901234567", "井盖", "01 02"] {
            assert!(check_category(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_text_field_has_its_limit_in_characters() {
        for field in [
            TextField::EXTERNAL_ID,
            TextField::TITLE,
            TextField::CONTENT,
            TextField::REPORTER_NAME,
            TextField::REPORTER_PHONE,
            TextField::ADDRESS,
            TextField::DEPARTMENT,
            TextField::NOTE,
            TextField::COMMENT,
        ] {
            let at_limit = "长".repeat(field.max_chars);
            assert_eq!(field.check(Some(at_limit.clone())), Ok(Some(at_limit)));
            let over = "长".repeat(field.max_chars + 1);
            let err = field.check(Some(over)).expect_err("over the limit");
            assert_eq!(err.code(), "too_long");
            assert!(err.to_string().starts_with(field.name), "{err}");
            assert_eq!(field.check(Some("  ".into())), Ok(None));
        }
        let mut f = fields();
        f.address = Some("x".repeat(501));
        assert_eq!(codes(f), vec!["too_long"]);
    }

    #[test]
    fn reported_at_lies_between_2000_and_five_minutes_ahead() {
        let at = |t: DateTime<Utc>| {
            let mut f = fields();
            f.reported_at = Some(t);
            codes(f)
        };
        assert_eq!(at(earliest_report()), Vec::<&str>::new());
        assert_eq!(
            at(earliest_report() - Duration::seconds(1)),
            vec!["bad_reported_at"]
        );
        assert_eq!(at(now() + Duration::minutes(5)), Vec::<&str>::new());
        let ahead = now() + Duration::minutes(5) + Duration::seconds(1);
        assert_eq!(at(ahead), vec!["reported_in_future"]);
        assert_eq!(check_reported_at(ahead, now(), FutureBound::None), Ok(()));
        assert!(check_reported_at(
            earliest_report() - Duration::seconds(1),
            now(),
            FutureBound::None
        )
        .is_err());
    }

    fn stored() -> Event {
        let v = validate(fields(), now(), FutureBound::ServiceClock).expect("valid");
        Event {
            code: "E20261101000001".into(),
            external_id: v.external_id,
            idempotency_scope: "410611".into(),
            title: v.title,
            category: v.category,
            source: v.source,
            content: v.content,
            reporter_name: v.reporter_name,
            reporter_phone: v.reporter_phone,
            location: v.location,
            address: v.address,
            area_code: Some("410611001001001".into()),
            outside_grid: false,
            status: crate::model::EventStatus::Registered,
            level: crate::model::HandlingLevel::Community,
            department: None,
            reported_at: v.reported_at,
            deadline: None,
            closed_at: None,
            evaluation: None,
            transitions: Vec::new(),
        }
    }

    #[test]
    fn a_retry_differs_only_in_what_the_post_gave() {
        let stored = stored();
        let mut retry = stored.clone();
        retry.status = crate::model::EventStatus::Reported;
        retry.reported_at = now() + Duration::minutes(3);
        assert!(replay_differences(&stored, &retry, false).is_empty());
        assert_eq!(
            replay_differences(&stored, &retry, true),
            vec!["reported_at"]
        );
        let mut other = stored.clone();
        other.title = "路灯不亮".into();
        other.location = Point::new(114.31, 35.75);
        assert_eq!(
            replay_differences(&stored, &other, false),
            vec!["title", "location"]
        );
    }

    #[test]
    fn locations_are_converted_and_kept_in_china() {
        assert!(place(114.3, 35.75, Crs::Wgs84).is_ok());
        assert_eq!(
            place(35.75, 114.3, Crs::Wgs84).map_err(|e| e.code()),
            Err("bad_coordinates")
        );
        assert_eq!(
            place(f64::NAN, 1.0, Crs::Wgs84).map_err(|e| e.code()),
            Err("bad_coordinates")
        );
        assert_eq!(
            parse_crs(Some("nope")).map_err(|e| e.code()),
            Err("bad_crs")
        );
        assert_eq!(parse_crs(None), Ok(Crs::Wgs84));
    }
}
