//! Events (事件): idempotent ingest (`POST /api/events`), the seven-step loop
//! (`POST /api/events/{code}/transitions`) and details (`GET /api/events/{code}`); the
//! listing (`GET /api/events`) is in `event_list`. Every read and write checks the jurisdiction of the
//! event's area; `overdue` and the card are derived from the service clock at read time.
//!
//! Answers of `POST /api/events`: a single event object gets 201 (created), 200 (already
//! stored: same code) or its error (422 validation, 403 out of scope, 409
//! `idempotency_conflict` when its key was used for a different event). Idempotency keys are
//! (the poster's token scope, source, external_id): two jurisdictions may use the same key for
//! two events, and neither learns of the other's. The fields a retry must repeat are those of
//! `model::event_input::replay_differences`. A batch
//! `{"events": [...]}` gets 200 with one result per event in input order; with
//! `"all_or_nothing": true` and any invalid event nothing is stored and the answer is 422 with
//! the same per-event results.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use geo_types::Point;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{bad_json, ApiError};
use super::AppState;
use crate::access::{Principal, Role};
use crate::engine::events::{card_at, overdue_at, Card};
use crate::model::event_input::{self, EventFieldError, EventFields, EventStanding, FutureBound};
use crate::model::workflow::{self, Action, StepInput, WorkflowError, WorkflowState};
use crate::model::{covers_whole_city, Event, EventStatus, HandlingLevel};
use crate::store::event_query::Ingested;

/// Most events one post may carry.
pub const MAX_BATCH: usize = 1_000;

/// One event as posted by a source system.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// The source system's id: (the token's scope, source, external_id) makes retries
    /// idempotent. Required.
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
    let Json(body) = body.map_err(bad_json)?;
    let (items, all_or_nothing, single) = split_body(body)?;
    let now = state.clock.now();
    let checked: Vec<Result<Posted, EventError>> = items
        .into_iter()
        .map(|item| build_event(&state, &principal, item, now))
        .collect();
    let failed = checked.iter().filter(|c| c.is_err()).count();
    let store_all = !(all_or_nothing && failed > 0);
    let valid: Vec<Event> = if store_all {
        checked
            .iter()
            .filter_map(|c| c.as_ref().ok())
            .map(|p| p.event.clone())
            .collect()
    } else {
        Vec::new()
    };
    let stored = store_created(&state, &valid).await?;
    let results = merge_results(&checked, &stored, store_all);
    let results = refuse_different_replays(&state, &checked, results).await?;
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

/// Stores the new events (idempotently) through the write path, which applies the created ones.
async fn store_created(state: &AppState, valid: &[Event]) -> Result<Vec<Ingested>, ApiError> {
    state
        .writes
        .ingest_events(valid)
        .await
        .map_err(|e| ApiError::unavailable(format!("cannot store the events: {e}")))
}

/// A valid posted event, and whether its body gave `reported_at` (else it is the time of the
/// post, which a retry cannot repeat).
struct Posted {
    event: Event,
    reported_at_given: bool,
}

/// Turns every "already stored" answer whose stored event differs from the post into an
/// `idempotency_conflict` (409 for a single event): a reused key never hides a different
/// event. Keys are scoped by the poster's jurisdiction, so the stored event is the poster's own.
async fn refuse_different_replays(
    state: &AppState,
    checked: &[Result<Posted, EventError>],
    results: Vec<Result<Ingested, EventError>>,
) -> Result<Vec<Result<Ingested, EventError>>, ApiError> {
    let mut out = Vec::with_capacity(results.len());
    for (posted, result) in checked.iter().zip(results) {
        let replay = match (posted, &result) {
            (Ok(posted), Ok(ingested)) if !ingested.created => Some((posted, ingested)),
            _ => None,
        };
        let Some((posted, ingested)) = replay else {
            out.push(result);
            continue;
        };
        let stored = state
            .store
            .event(&ingested.code)
            .await
            .map_err(|e| ApiError::unavailable(format!("cannot read the stored event: {e}")))?;
        let differences = stored
            .map(|s| event_input::replay_differences(&s, &posted.event, posted.reported_at_given))
            .unwrap_or_default();
        out.push(if differences.is_empty() {
            result
        } else {
            Err(invalid(
                "idempotency_conflict",
                format!(
                    "external_id {:?} of source {} was already posted in your jurisdiction for an event with a different {}; use a new external_id for a new event",
                    posted.event.external_id.as_deref().unwrap_or_default(),
                    posted.event.source.as_str(),
                    differences.join(", ")
                ),
            ))
        });
    }
    Ok(out)
}

/// Validates one posted event (`model::event_input`, the rules import shares) and places it:
/// area chain, deadline, the first log entry.
fn build_event(
    state: &AppState,
    principal: &Principal,
    item: Value,
    now: DateTime<Utc>,
) -> Result<Posted, EventError> {
    let input: EventInput =
        serde_json::from_value(item).map_err(|e| invalid("invalid_event", e.to_string()))?;
    let reported_at_given = input.reported_at.is_some();
    if input
        .external_id
        .as_deref()
        .is_none_or(|id| id.trim().is_empty())
    {
        return Err(field_error(&EventFieldError::Missing("external_id")));
    }
    let fields = EventFields {
        location: input_location(&input)?,
        external_id: input.external_id,
        source: input.source,
        category: input.category,
        title: input.title,
        content: input.content,
        reporter_name: input.reporter_name,
        reporter_phone: input.reporter_phone,
        address: input.address,
        reported_at: input.reported_at,
    };
    let valid =
        event_input::validate(fields, now, FutureBound::ServiceClock).map_err(|problems| {
            problems
                .first()
                .map_or_else(|| invalid("invalid_event", "invalid event"), field_error)
        })?;
    let (lon, lat) = (valid.location.x(), valid.location.y());
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
    let standing = EventStanding {
        code: String::new(),
        idempotency_scope: principal.scope.clone(),
        area_code: Some(area_code),
        outside_grid: snapshot.grid_at(lon, lat).is_none(),
        status: EventStatus::Reported,
        level,
        department: None,
        deadline: Some(
            state
                .deadlines
                .deadline(&valid.category, level, valid.reported_at),
        ),
        closed_at: None,
        evaluation: None,
        actor: principal.sub.clone(),
        note: None,
    };
    let event = valid.into_event(standing);
    Ok(Posted {
        event,
        reported_at_given,
    })
}

/// The posted lon/lat converted from its `crs` to the storage CRS (`None` when absent: the
/// validation names it).
fn input_location(input: &EventInput) -> Result<Option<Point<f64>>, EventError> {
    let (Some(x), Some(y)) = (input.lon, input.lat) else {
        return Ok(None);
    };
    let crs = event_input::parse_crs(input.crs.as_deref()).map_err(|e| field_error(&e))?;
    event_input::place(x, y, crs)
        .map(Some)
        .map_err(|e| field_error(&e))
}

fn field_error(e: &EventFieldError) -> EventError {
    invalid(e.code(), e.to_string())
}

/// A category code (the one rule, `model::event_input::check_category`), with the message a
/// listing filter answers.
pub(super) fn check_category(category: &str) -> Result<(), String> {
    event_input::check_category(category).map_err(|e| e.to_string())
}

/// One result per input: the store's outcome for valid events, the error for the others.
fn merge_results(
    checked: &[Result<Posted, EventError>],
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
            let status = match e.code {
                "out_of_scope" => StatusCode::FORBIDDEN,
                "idempotency_conflict" => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
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
    let Json(body) = body.map_err(bad_json)?;
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
    let input = StepInput {
        department: body.department,
        note: body.note,
        score: body.score,
        comment: body.comment,
    };
    let now = state.clock.now();
    let next = match workflow::step(&event, action, input, &principal.sub, now, &state.deadlines) {
        Ok(next) => next,
        Err(WorkflowError::NotAllowed { from, allowed, .. }) => {
            return Ok(invalid_transition(&event.code, action, from, &allowed))
        }
        Err(e) => return Err(step_error(&e)),
    };
    if !store_transition(&state, &next, event.transitions.len()).await? {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            code: "concurrent_transition",
            message: format!(
                "event {code} changed while this transition was made; read it again and retry"
            ),
        });
    }
    Ok(Json(details(&state, &principal, &next, now)).into_response())
}

/// Writes the event's new state (if it still has `steps` transitions) and applies it to the
/// engine through the write path; `false` when another writer got there first.
async fn store_transition(state: &AppState, next: &Event, steps: usize) -> Result<bool, ApiError> {
    state
        .writes
        .transition_event(next, steps)
        .await
        .map_err(|e| ApiError::unavailable(format!("cannot store the transition: {e}")))
}

/// The answer to a step refused for its input: 422 for a text over its limit, 400 for a
/// missing or stray field (a step the loop does not allow answers [`invalid_transition`]).
fn step_error(e: &WorkflowError) -> ApiError {
    let status = match e {
        WorkflowError::Field(_) => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::BAD_REQUEST,
    };
    ApiError {
        status,
        code: e.code(),
        message: e.to_string(),
    }
}

/// The 409 answer naming the actions allowed from the event's state.
fn invalid_transition(
    code: &str,
    action: Action,
    from: WorkflowState,
    allowed: &[Action],
) -> Response {
    let refused = WorkflowError::NotAllowed {
        code: code.to_string(),
        action,
        from,
        allowed: allowed.to_vec(),
    };
    let body = json!({"error": {
        "code": refused.code(),
        "message": refused.to_string(),
        "status": from.status.as_str(),
        "level": from.level.as_str(),
        "allowed": allowed.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
    }});
    (StatusCode::CONFLICT, Json(body)).into_response()
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

/// `GET /api/events/categories`: the category catalog, so clients show names for codes.
pub async fn categories(State(state): State<AppState>, _principal: Principal) -> Json<Value> {
    Json(json!({ "categories": state.categories.list() }))
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
