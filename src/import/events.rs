//! Events (事件) reported elsewhere (the hotline, another platform, a migration).
//!
//! Fields: `code` (optional: generated as in `event_codes`), `external_id`, `title`,
//! `category` (1–16 letters or digits: GB/T 30428.2-style digits such as `0102`, or a 综治 key
//! such as `dispute`),
//! `source`, `content`, `reporter_name`, `reporter_phone`, `address`, `status` (default
//! `reported`), `level` (default `community`), `department`, `reported_at` (default: now),
//! `deadline`, `closed_at` (required once closed), `evaluation_score` (1–5, evaluated events
//! only), `evaluation_comment`, and an optional per-row `crs` for files that mix phone CRSs.
//! Geometry: Point. The reported fields follow `model::event_input` (the API's rules: required
//! fields, text limits, reported_at range). The area chain comes from the engine's
//! point-in-area lookup.

use std::collections::HashSet;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use regex::Regex;

use super::context::Context;
use super::event_codes::EventCodes;
use super::fields::Fields;
use super::geometry::location;
use super::source::RawFeature;
use crate::crs::Crs;
use crate::model::event_code::code_day_prefix;
use crate::model::event_input::{
    self, EventFieldError, EventFields, EventStanding, FutureBound, TextField, ValidFields,
};
use crate::model::{Change, Evaluation, EventSource, EventStatus, HandlingLevel};
use crate::store::{Store, StoreError};

/// The actor recorded on the transition that brings an imported event into the log.
pub const IMPORT_ACTOR: &str = "import";

fn code_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^[A-Za-z0-9_-]{1,40}$").expect("static regex"))
}

/// Keys looked up in the store per query.
const KEY_CHUNK: usize = 10_000;

/// Fills `codes` from the store for the events of a file, without reading every stored
/// event: the stored codes of the file's (source, external_id) keys, and the highest stored
/// code of each report day of the file (`now` for rows without `reported_at`, the same parse
/// as [`build`]).
pub async fn note_stored_codes(
    store: &dyn Store,
    features: &[RawFeature],
    now: DateTime<Utc>,
    codes: &mut EventCodes,
) -> Result<(), StoreError> {
    let mut keys = HashSet::new();
    let mut days = HashSet::from([code_day_prefix(now)]);
    for feature in features {
        let mut f = Fields::new(&feature.properties);
        let source = f.text("source").and_then(|s| EventSource::parse(&s));
        if let (Some(source), Some(external)) = (source, f.text("external_id")) {
            keys.insert((source, external));
        }
        if let Some(at) = f.datetime("reported_at") {
            days.insert(code_day_prefix(at));
        }
    }
    let keys: Vec<(EventSource, String)> = keys.into_iter().collect();
    for chunk in keys.chunks(KEY_CHUNK) {
        let scope = codes.key_scope().to_string();
        for (source, external, code) in store.stored_event_codes(&scope, chunk).await? {
            codes.note_stored(source, external, code);
        }
    }
    for day in days {
        if let Some(last) = store.last_event_code(&day).await? {
            codes.note_code(&last);
        }
    }
    Ok(())
}

/// Validates one event feature (its reported fields by `model::event_input`, the rules the
/// API shares; the workflow fields here) and returns its upsert.
pub fn build(
    feature: &RawFeature,
    file_crs: Crs,
    ctx: &mut Context,
) -> Result<Change, Vec<String>> {
    let mut f = Fields::new(&feature.properties);
    let crs = match f.text("crs").map(|c| Crs::parse(&c)) {
        None => file_crs,
        Some(Ok(crs)) => crs,
        Some(Err(e)) => {
            f.problem(format!("field crs: {e}"));
            file_crs
        }
    };
    let code = f.text("code");
    let position = location(feature.geometry.as_ref(), crs);
    // A geometry that is there but wrong is reported as such, not as a missing location.
    let geometry_refused = position.is_err();
    let reported = EventFields {
        external_id: f.text("external_id"),
        source: f.text("source"),
        category: f.text("category"),
        title: f.text("title"),
        content: f.text("content"),
        reporter_name: f.text("reporter_name"),
        reporter_phone: f.text("reporter_phone"),
        address: f.text("address"),
        location: position.map_err(|e| f.problems.extend(e)).ok(),
        reported_at: f.datetime("reported_at"),
    };
    let statuses: Vec<&str> = EventStatus::ALL.iter().map(|s| s.as_str()).collect();
    let status = f.choice(&["status"], EventStatus::parse, &statuses);
    let levels: Vec<&str> = HandlingLevel::ALL.iter().map(|l| l.as_str()).collect();
    let level = f.choice(&["level"], HandlingLevel::parse, &levels);
    let deadline = f.datetime("deadline");
    let closed_at = f.datetime("closed_at");
    let evaluation = read_evaluation(&mut f);
    let department = TextField::DEPARTMENT
        .check(f.text("department"))
        .map_err(|e| f.problem(e.to_string()))
        .ok()
        .flatten();
    let valid = event_input::validate(reported, ctx.now, FutureBound::None)
        .map_err(|problems| {
            let missing_location = EventFieldError::Missing("location");
            f.problems.extend(
                problems
                    .iter()
                    .filter(|p| !(geometry_refused && **p == missing_location))
                    .map(ToString::to_string),
            );
        })
        .ok();
    if let Some(code) = code.as_deref().filter(|c| !code_regex().is_match(c)) {
        f.problem(format!(
            "event code {code:?} must be 1–40 letters, digits, '-' or '_'"
        ));
    }
    let status = status.unwrap_or(EventStatus::Reported);
    check_closing(&mut f, status, closed_at, evaluation.is_some());
    let Some(valid) = valid.filter(|_| f.problems.is_empty()) else {
        return Err(f.problems);
    };
    let code = match claim_code(&mut f, ctx, feature.index, code, &valid) {
        Some(code) if f.problems.is_empty() => code,
        _ => return Err(f.problems),
    };
    let (lon, lat) = (valid.location.x(), valid.location.y());
    let chain = ctx.snapshot.lookup(lon, lat);
    let outside_grid = ctx.snapshot.grid_at(lon, lat).is_none();
    let level = level.unwrap_or(HandlingLevel::Community);
    let standing = EventStanding {
        code,
        idempotency_scope: ctx.event_codes.key_scope().to_string(),
        area_code: chain.first().map(|a| a.code.clone()),
        outside_grid,
        status,
        level,
        department,
        deadline,
        closed_at,
        evaluation,
        actor: IMPORT_ACTOR.to_string(),
        note: Some("imported".to_string()),
    };
    Ok(Change::UpsertEvent(valid.into_event(standing)))
}

fn read_evaluation(f: &mut Fields<'_>) -> Option<Evaluation> {
    let score = f.integer("evaluation_score", 1, 5);
    let comment = TextField::COMMENT
        .check(f.text("evaluation_comment"))
        .map_err(|e| f.problem(format!("evaluation_{e}")))
        .ok()
        .flatten();
    match (score, comment) {
        (Some(score), comment) => Some(Evaluation {
            score: i16::try_from(score).unwrap_or_default(),
            comment,
        }),
        (None, Some(_)) if !f.has("evaluation_score") => {
            f.problem("evaluation_comment needs an evaluation_score (1–5)");
            None
        }
        _ => None,
    }
}

/// A closed event has a closing time; only an evaluated event has an evaluation.
fn check_closing(
    f: &mut Fields<'_>,
    status: EventStatus,
    closed_at: Option<DateTime<Utc>>,
    evaluated: bool,
) {
    let closed = !status.is_open();
    if closed && closed_at.is_none() && !f.has("closed_at") {
        f.problem(format!("status {} needs closed_at", status.as_str()));
    }
    if !closed && closed_at.is_some() {
        f.problem(format!(
            "closed_at is given but status {} is not closed",
            status.as_str()
        ));
    }
    if evaluated && status != EventStatus::Evaluated {
        f.problem(format!(
            "evaluation_score is given but status {} is not evaluated",
            status.as_str()
        ));
    }
}

/// The event's code: as given, the stored code of the same (source, external_id), or a new one.
fn claim_code(
    f: &mut Fields<'_>,
    ctx: &mut Context,
    index: usize,
    code: Option<String>,
    event: &ValidFields,
) -> Option<String> {
    let source = event.source;
    if let Some(external) = &event.external_id {
        if let Err(e) = ctx.claim(
            "source and external_id",
            &format!("{} {external}", source.as_str()),
            index,
        ) {
            f.problem(e);
        }
    }
    let stored = event
        .external_id
        .as_deref()
        .and_then(|e| ctx.event_codes.stored(source, e))
        .map(str::to_string);
    let code = match (code, stored) {
        (Some(code), Some(stored)) if code != stored => {
            f.problem(format!("code {code} differs from {stored}, the stored event with the same source and external_id"));
            return None;
        }
        (Some(code), _) => code,
        (None, Some(stored)) => stored,
        (None, None) if !f.problems.is_empty() => return None,
        (None, None) => match ctx.event_codes.generate(event.reported_at) {
            Some(code) => code,
            None => {
                f.problem(
                    "no event code left for that day (999 999 in use); give codes in the file",
                );
                return None;
            }
        },
    };
    if let Err(e) = ctx.claim("code", &code, index) {
        f.problem(e);
    }
    Some(code)
}
