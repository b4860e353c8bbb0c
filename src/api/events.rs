//! Events (事件): idempotent ingest (`POST /api/events`), the seven-step loop
//! (`POST /api/events/{code}/transitions`) and details (`GET /api/events/{code}`); the
//! listing (`GET /api/events`) is in `event_list`. Every read and write checks the jurisdiction of the
//! event's area; `overdue` and the card are derived from the service clock at read time.
//!
//! Answers of `POST /api/events`: a single event object gets 201 (created), 200 (already
//! stored: same code) or its error (422 validation, 403 out of scope). A batch
//! `{"events": [...]}` gets 200 with one result per event in input order; with
//! `"all_or_nothing": true` and any invalid event nothing is stored and the answer is 422 with
//! the same per-event results.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{Principal, Role};
use super::error::ApiError;
use super::AppState;
use crate::crs::{self, Crs};
use crate::engine::events::{card_at, overdue_at, Card};
use crate::model::workflow::{self, Action, WorkflowState};
use crate::model::{
    covers_whole_city, lonlat_in_range, Change, Evaluation, Event, EventSource, EventStatus,
    HandlingLevel, Transition,
};
use crate::serve::apply_and_invalidate;
use crate::store::event_query::Ingested;

/// Most events one post may carry.
pub const MAX_BATCH: usize = 1_000;
/// A report may be stamped at most this far in the future (clock skew of phones).
const FUTURE_SLACK_MIN: i64 = 5;
/// Longest accepted title and content, in characters.
const MAX_TITLE: usize = 200;
const MAX_CONTENT: usize = 10_000;

/// One event as posted by a source system.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// The source system's id: (source, external_id) makes retries idempotent. Required.
    pub external_id: Option<String>,
    /// `patrol`, `hotline`, `wechat`, `app` or `video`. Required.
    pub source: Option<String>,
    /// Category code (`0102`); its 2-digit major picks the deadline. Required.
    pub category: Option<String>,
    pub title: Option<String>,
    pub content: Option<String>,
    pub reporter_name: Option<String>,
    pub reporter_phone: Option<String>,
    pub address: Option<String>,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    /// CRS of lon/lat: `wgs84` (default), `gcj02`, `bd09`, `EPSG:4490`, …
    pub crs: Option<String>,
    /// Default: now.
    pub reported_at: Option<DateTime<Utc>>,
}

/// A per-event error with a stable code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError {
    pub code: &'static str,
    pub message: String,
}

fn invalid(code: &'static str, message: impl Into<String>) -> EventError {
    EventError {
        code,
        message: message.into(),
    }
}

/// `POST /api/events`: one event or `{"events": [...], "all_or_nothing": false}`.
pub async fn ingest(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    if !(principal.has_role(Role::Dispatcher) || principal.has_role(Role::Device)) {
        return Err(ApiError::forbidden_role("dispatcher, device or admin"));
    }
    let Json(body) = body.map_err(|e| ApiError::bad_request("bad_json", e.body_text()))?;
    let (items, all_or_nothing, single) = split_body(body)?;
    let now = state.clock.now();
    let checked: Vec<Result<Event, EventError>> = items
        .into_iter()
        .map(|item| build_event(&state, &principal, item, now))
        .collect();
    let failed = checked.iter().filter(|c| c.is_err()).count();
    let store_all = !(all_or_nothing && failed > 0);
    let valid: Vec<Event> = if store_all {
        checked
            .iter()
            .filter_map(|c| c.as_ref().ok())
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    // Batches are stored concurrently; only the engine apply is serialized with transitions.
    let stored = state
        .store
        .ingest_events(&valid)
        .await
        .map_err(|e| ApiError::unavailable(format!("cannot store the events: {e}")))?;
    let serial = state.event_writes.lock().await;
    apply_created(&state, &valid, &stored);
    drop(serial);
    let results = merge_results(&checked, &stored, store_all);
    Ok(if single {
        single_answer(&results[0])
    } else {
        batch_answer(results, store_all)
    })
}

/// The events of a body, whether it asked for all-or-nothing, and whether it was one object.
fn split_body(body: Value) -> Result<(Vec<Value>, bool, bool), ApiError> {
    let Value::Object(mut object) = body else {
        return Err(ApiError::bad_request(
            "bad_json",
            "the body must be an event object or {\"events\": [...]}",
        ));
    };
    let Some(events) = object.remove("events") else {
        return Ok((vec![Value::Object(object)], false, true));
    };
    let all_or_nothing = match object.remove("all_or_nothing") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(_) => {
            return Err(ApiError::bad_request(
                "bad_json",
                "all_or_nothing must be true or false",
            ))
        }
    };
    if let Some(key) = object.keys().next() {
        return Err(ApiError::bad_request(
            "bad_json",
            format!("unknown field {key:?} next to \"events\""),
        ));
    }
    let Value::Array(items) = events else {
        return Err(ApiError::bad_request(
            "bad_json",
            "\"events\" must be an array",
        ));
    };
    if items.is_empty() {
        return Err(ApiError::bad_request("empty_batch", "\"events\" is empty"));
    }
    if items.len() > MAX_BATCH {
        return Err(ApiError::bad_request(
            "too_many_events",
            format!(
                "a post carries at most {MAX_BATCH} events, this one has {}",
                items.len()
            ),
        ));
    }
    Ok((items, all_or_nothing, false))
}

/// Validates one posted event and places it: area chain, deadline, the first log entry.
fn build_event(
    state: &AppState,
    principal: &Principal,
    item: Value,
    now: DateTime<Utc>,
) -> Result<Event, EventError> {
    let input: EventInput =
        serde_json::from_value(item).map_err(|e| invalid("invalid_event", e.to_string()))?;
    let external_id = required(input.external_id, "external_id", "missing_external_id")?;
    let source_text = required(input.source, "source", "bad_source")?;
    let source = EventSource::parse(&source_text).ok_or_else(|| {
        invalid(
            "bad_source",
            format!(
                "unknown source {source_text:?}: expected patrol, hotline, wechat, app or video"
            ),
        )
    })?;
    let category = required(input.category, "category", "bad_category")?;
    check_category(&category).map_err(|m| invalid("bad_category", m))?;
    let title = required(input.title, "title", "missing_title")?;
    let content = input.content.unwrap_or_default();
    if title.chars().count() > MAX_TITLE || content.chars().count() > MAX_CONTENT {
        return Err(invalid(
            "too_long",
            format!("title is limited to {MAX_TITLE} and content to {MAX_CONTENT} characters"),
        ));
    }
    let (lon, lat) = place(input.lon, input.lat, input.crs.as_deref())?;
    let reported_at = input.reported_at.unwrap_or(now);
    if reported_at > now + Duration::minutes(FUTURE_SLACK_MIN) {
        return Err(invalid(
            "reported_in_future",
            format!("reported_at {reported_at} is after the server time {now}"),
        ));
    }
    let reported_at =
        DateTime::from_timestamp_millis(reported_at.timestamp_millis()).unwrap_or(reported_at);
    let snapshot = state.engine.snapshot();
    let area_code = snapshot
        .lookup(lon, lat)
        .first()
        .map(|a| a.code.clone())
        .ok_or_else(|| {
            invalid(
                "outside_area",
                format!("({lon}, {lat}) is outside every area of the city; check the coordinates and crs"),
            )
        })?;
    if !principal.covers(&area_code) {
        return Err(invalid(
            "out_of_scope",
            format!(
                "the event lies in {area_code}, outside your jurisdiction {}",
                principal.scope
            ),
        ));
    }
    let level = HandlingLevel::Community;
    Ok(Event {
        code: String::new(),
        external_id: Some(external_id),
        deadline: Some(state.deadlines.deadline(&category, level, reported_at)),
        title,
        category,
        source,
        content,
        reporter_name: input.reporter_name.filter(|s| !s.trim().is_empty()),
        reporter_phone: input.reporter_phone.filter(|s| !s.trim().is_empty()),
        location: geo_types::Point::new(lon, lat),
        address: input.address.filter(|s| !s.trim().is_empty()),
        outside_grid: snapshot.grid_at(lon, lat).is_none(),
        area_code: Some(area_code),
        status: EventStatus::Reported,
        level,
        department: None,
        reported_at,
        closed_at: None,
        evaluation: None,
        transitions: vec![Transition {
            at: reported_at,
            from: None,
            to: EventStatus::Reported,
            actor: principal.sub.clone(),
            level,
            department: None,
            note: None,
        }],
    })
}

fn required(value: Option<String>, field: &str, code: &'static str) -> Result<String, EventError> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| invalid(code, format!("{field} is required")))
}

/// A category code: 1–16 ASCII letters or digits.
pub(super) fn check_category(category: &str) -> Result<(), String> {
    if (1..=16).contains(&category.len()) && category.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(format!(
            "category {category:?} must be 1 to 16 letters or digits, like 0102"
        ))
    }
}

/// lon/lat in `crs`, converted to the storage CRS and checked to lie in China.
fn place(lon: Option<f64>, lat: Option<f64>, crs: Option<&str>) -> Result<(f64, f64), EventError> {
    let (Some(x), Some(y)) = (lon, lat) else {
        return Err(invalid("missing_location", "lon and lat are required"));
    };
    let crs = match crs {
        None => Crs::Wgs84,
        Some(text) => Crs::parse(text).map_err(|e| invalid("bad_crs", e.to_string()))?,
    };
    let (lon, lat) =
        crs::to_storage(crs, x, y).map_err(|e| invalid("bad_coordinates", e.to_string()))?;
    if !lonlat_in_range(lon, lat) {
        return Err(invalid(
            "bad_coordinates",
            format!("({lon}, {lat}) is not a longitude/latitude in China; check the order (lon first) and the crs"),
        ));
    }
    Ok((lon, lat))
}

/// Hands the newly stored events to the engine (and the tile cache).
/// Events the engine already holds are skipped: between this batch's commit and its apply, a
/// transition may have read a new event from the store and applied its later state.
fn apply_created(state: &AppState, valid: &[Event], stored: &[Ingested]) {
    let snapshot = state.engine.snapshot();
    let changes: Vec<Change> = valid
        .iter()
        .zip(stored)
        .filter(|(_, s)| s.created && snapshot.events().position(&s.code).is_none())
        .map(|(event, s)| {
            let mut event = event.clone();
            event.code = s.code.clone();
            Change::UpsertEvent(event)
        })
        .collect();
    if !changes.is_empty() {
        apply_and_invalidate(&state.engine, &state.tilesets, &state.tile_cache, &changes);
    }
}

/// One result per input: the store's outcome for valid events, the error for the others.
fn merge_results(
    checked: &[Result<Event, EventError>],
    stored: &[Ingested],
    store_all: bool,
) -> Vec<Result<Ingested, EventError>> {
    let mut stored = stored.iter();
    checked
        .iter()
        .map(|c| match c {
            Err(e) => Err(e.clone()),
            Ok(_) if !store_all => Err(invalid(
                "not_stored",
                "not stored because another event of this all-or-nothing batch is invalid",
            )),
            Ok(_) => stored
                .next()
                .cloned()
                .ok_or_else(|| invalid("not_stored", "the store did not answer for this event")),
        })
        .collect()
}

fn result_json(index: usize, result: &Result<Ingested, EventError>) -> Value {
    match result {
        Ok(i) => json!({"index": index, "code": i.code, "created": i.created}),
        Err(e) => json!({"index": index, "error": {"code": e.code, "message": e.message}}),
    }
}

fn single_answer(result: &Result<Ingested, EventError>) -> Response {
    match result {
        Ok(i) if i.created => (StatusCode::CREATED, Json(result_json(0, result))).into_response(),
        Ok(_) => (StatusCode::OK, Json(result_json(0, result))).into_response(),
        Err(e) => {
            let status = if e.code == "out_of_scope" {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let body = json!({"error": {"code": e.code, "message": e.message}});
            (status, Json(body)).into_response()
        }
    }
}

fn batch_answer(results: Vec<Result<Ingested, EventError>>, stored: bool) -> Response {
    let count =
        |f: fn(&Result<Ingested, EventError>) -> bool| results.iter().filter(|r| f(r)).count();
    let created = count(|r| matches!(r, Ok(i) if i.created));
    let existing = count(|r| matches!(r, Ok(i) if !i.created));
    let failed = count(|r| r.is_err());
    let body = json!({
        "stored": stored,
        "created": created,
        "existing": existing,
        "failed": failed,
        "results": results.iter().enumerate().map(|(i, r)| result_json(i, r)).collect::<Vec<_>>(),
    });
    let status = if stored {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    (status, Json(body)).into_response()
}

/// Body of `POST /api/events/{code}/transitions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionBody {
    /// register, dispatch, handle, feedback, close, evaluate, escalate or return.
    pub action: String,
    /// The department now handling it (required by dispatch).
    pub department: Option<String>,
    pub note: Option<String>,
    /// 1–5, evaluate only.
    pub score: Option<i16>,
    /// evaluate only.
    pub comment: Option<String>,
}

/// `POST /api/events/{code}/transitions`: one step of the loop (dispatcher or admin).
pub async fn transition(
    State(state): State<AppState>,
    principal: Principal,
    Path(code): Path<String>,
    body: Result<Json<TransitionBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    if !principal.has_role(Role::Dispatcher) {
        return Err(ApiError::forbidden_role("dispatcher or admin"));
    }
    let Json(body) = body.map_err(|e| ApiError::bad_request("bad_json", e.body_text()))?;
    let event = scoped_event(&state, &principal, &code).await?;
    let action = Action::parse(&body.action).ok_or_else(|| {
        let names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        ApiError::bad_request(
            "bad_action",
            format!(
                "unknown action {:?}: expected one of {}",
                body.action,
                names.join(", ")
            ),
        )
    })?;
    let from = WorkflowState {
        status: event.status,
        level: event.level,
    };
    let Some(to) = workflow::next(from, action) else {
        return Ok(invalid_transition(&event, action));
    };
    let now = state.clock.now();
    let next = step(&state, &event, action, to, &body, &principal, now)?;
    let _serial = state.event_writes.lock().await;
    let applied = state
        .store
        .transition_event(&next, event.transitions.len())
        .await
        .map_err(|e| ApiError::unavailable(format!("cannot store the transition: {e}")))?;
    if !applied {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            code: "concurrent_transition",
            message: format!(
                "event {code} changed while this transition was made; read it again and retry"
            ),
        });
    }
    apply_and_invalidate(
        &state.engine,
        &state.tilesets,
        &state.tile_cache,
        &[Change::UpsertEvent(next.clone())],
    );
    Ok(Json(details(&state, &principal, &next, now)).into_response())
}

/// The 409 answer naming the actions allowed from the event's state.
fn invalid_transition(event: &Event, action: Action) -> Response {
    let allowed: Vec<&str> = workflow::allowed(WorkflowState {
        status: event.status,
        level: event.level,
    })
    .into_iter()
    .map(Action::as_str)
    .collect();
    let body = json!({"error": {
        "code": "invalid_transition",
        "message": format!(
            "{} is not allowed for event {} ({} at {} level); allowed: {}",
            action.as_str(), event.code, event.status.as_str(), event.level.as_str(),
            if allowed.is_empty() { "none".to_string() } else { allowed.join(", ") }
        ),
        "status": event.status.as_str(),
        "level": event.level.as_str(),
        "allowed": allowed,
    }});
    (StatusCode::CONFLICT, Json(body)).into_response()
}

/// The event after `action`: new status and level, the fields the action sets, the log entry.
fn step(
    state: &AppState,
    event: &Event,
    action: Action,
    to: WorkflowState,
    body: &TransitionBody,
    principal: &Principal,
    now: DateTime<Utc>,
) -> Result<Event, ApiError> {
    let mut next = event.clone();
    next.status = to.status;
    next.level = to.level;
    let department = body.department.clone().filter(|d| !d.trim().is_empty());
    if (body.score.is_some() || body.comment.is_some()) && action != Action::Evaluate {
        return Err(ApiError::bad_request(
            "unexpected_evaluation",
            "score and comment belong to the evaluate action only",
        ));
    }
    match action {
        Action::Dispatch => {
            next.department = Some(department.ok_or_else(|| {
                ApiError::bad_request(
                    "missing_department",
                    "dispatch needs the department it goes to",
                )
            })?);
        }
        Action::Escalate => {
            next.department = None;
            next.deadline = Some(state.deadlines.deadline(
                &event.category,
                to.level,
                event.reported_at,
            ));
        }
        Action::Return if to.level != event.level => {
            next.department = None;
            next.deadline = Some(state.deadlines.deadline(
                &event.category,
                to.level,
                event.reported_at,
            ));
        }
        Action::Close => next.closed_at = Some(now),
        Action::Evaluate => {
            let score = body.score.filter(|s| (1..=5).contains(s)).ok_or_else(|| {
                ApiError::bad_request("bad_score", "evaluate needs a score from 1 to 5")
            })?;
            next.evaluation = Some(Evaluation {
                score,
                comment: body.comment.clone(),
            });
        }
        _ => {
            if department.is_some() {
                next.department = department;
            }
        }
    }
    next.transitions.push(Transition {
        at: now,
        from: Some(event.status),
        to: to.status,
        actor: principal.sub.clone(),
        level: to.level,
        department: next.department.clone(),
        note: body.note.clone().filter(|n| !n.trim().is_empty()),
    });
    Ok(next)
}

/// Reads an event and checks it is inside the caller's jurisdiction (404 / 403).
async fn scoped_event(
    state: &AppState,
    principal: &Principal,
    code: &str,
) -> Result<Event, ApiError> {
    let event = state
        .store
        .event(code)
        .await
        .map_err(|e| ApiError::unavailable(format!("cannot read the event: {e}")))?
        .ok_or_else(|| ApiError::not_found(format!("no event {code}")))?;
    match &event.area_code {
        Some(area) if principal.covers(area) => Ok(event),
        // Outside every area: the city's to see (`model::covers_whole_city`).
        None if covers_whole_city(&principal.scope) => Ok(event),
        _ => Err(ApiError::out_of_scope(&principal.scope, code)),
    }
}

/// `GET /api/events/{code}`: the details the seed asks for (事发地点, 上报人, 上报时间, 事件内容,
/// phone, 处理进度 with the timeline, 事件评价).
pub async fn event(
    State(state): State<AppState>,
    principal: Principal,
    Path(code): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let event = scoped_event(&state, &principal, &code).await?;
    Ok(Json(details(&state, &principal, &event, state.clock.now())))
}

/// The reporter's phone for this caller: whole for dispatchers and admins, else masked.
fn phone_for(principal: &Principal, phone: Option<&str>) -> Option<String> {
    let phone = phone?;
    Some(if principal.has_role(Role::Dispatcher) {
        phone.to_string()
    } else {
        mask_phone(phone)
    })
}

/// `13812341234` → `138****1234`; shorter numbers keep only their last two characters.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() >= 11 {
        let tail: String = chars[chars.len() - 4..].iter().collect();
        let head: String = chars[..3].iter().collect();
        format!("{head}****{tail}")
    } else {
        let keep = chars.len().min(2);
        let tail: String = chars[chars.len() - keep..].iter().collect();
        format!("{}{tail}", "*".repeat(chars.len() - keep))
    }
}

fn details(state: &AppState, principal: &Principal, e: &Event, now: DateTime<Utc>) -> Value {
    let snapshot = state.engine.snapshot();
    let mut chain = Vec::new();
    let mut next = e.area_code.clone();
    while let Some(code) = next {
        let Some(area) = snapshot.area(&code) else {
            break;
        };
        chain.push(json!({"code": area.code, "name": area.name, "level": area.level.as_str()}));
        next = area.parent_code.clone();
    }
    let t = Timeliness::of(e, now);
    let timeline: Vec<Value> = e
        .transitions
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({
                "seq": i + 1, "at": s.at, "from": s.from.map(|f| f.as_str()), "to": s.to.as_str(),
                "actor": s.actor, "level": s.level.as_str(), "department": s.department, "note": s.note,
            })
        })
        .collect();
    let allowed: Vec<&str> = workflow::allowed(WorkflowState {
        status: e.status,
        level: e.level,
    })
    .into_iter()
    .map(Action::as_str)
    .collect();
    json!({
        "code": e.code,
        "external_id": e.external_id,
        "source": e.source.as_str(),
        "category": e.category,
        "title": e.title,
        "content": e.content,
        "place": {
            "lon": e.location.x(), "lat": e.location.y(), "address": e.address,
            "area_code": e.area_code, "outside_grid": e.outside_grid, "chain": chain,
        },
        "reporter": {"name": e.reporter_name, "phone": phone_for(principal, e.reporter_phone.as_deref())},
        "reported_at": e.reported_at,
        "status": e.status.as_str(),
        "level": e.level.as_str(),
        "department": e.department,
        "deadline": e.deadline,
        "overdue": t.overdue,
        "card": t.card,
        "closed_at": e.closed_at,
        "evaluation": e.evaluation.as_ref().map(|v| json!({"score": v.score, "comment": v.comment})),
        "timeline": timeline,
        "allowed_actions": allowed,
    })
}

/// Time pressure of an event at one instant: derived, never stored.
pub(super) struct Timeliness {
    pub overdue: bool,
    pub card: &'static str,
}

impl Timeliness {
    pub(super) fn of(e: &Event, now: DateTime<Utc>) -> Timeliness {
        let card = match card_at(e, now) {
            Card::None => "none",
            Card::Yellow => "yellow",
            Card::Red => "red",
        };
        Timeliness {
            overdue: overdue_at(e, now),
            card,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_masked() {
        assert_eq!(mask_phone("13812341234"), "138****1234");
        assert_eq!(mask_phone("12345"), "***45");
        assert_eq!(mask_phone("1"), "1");
    }
}
