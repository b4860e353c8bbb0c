//! The event listing (`GET /api/events`): one page of the events in the caller's
//! jurisdiction, newest first, as GeoJSON or CSV.
//!
//! The page is chosen by the engine's event store (`EventStore::page`: the one
//! [`EventFilter`], the order and the keyset cursor, see `engine::events::listing`), then its
//! full records are read from the store by code (the engine keeps no text columns). A record
//! read from the store may be a moment newer than the engine's snapshot (a transition between
//! its commit and its apply); the page and its cursor follow the engine.
//!
//! Filter parameters mean what they mean on the event tiles (`event_params`).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use geo_types::{coord, Rect};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{bad_query, ApiError};
use super::event_params::{self, RawEventParams};
use super::events::Timeliness;
use super::AppState;
use crate::access::Principal;
use crate::engine::events::{EventFilter, ListingKey};
use crate::model::Event;

/// Default and largest page of `GET /api/events`.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1_000;

/// Query of `GET /api/events`; lists are comma-separated (see `event_params`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// west,south,east,north (WGS84 / storage CRS).
    pub bbox: Option<String>,
    /// An area code: the events inside it (`410600`: the whole city).
    pub area: Option<String>,
    /// RFC 3339, or a day (China Standard Time): reported at or after.
    pub from: Option<String>,
    /// RFC 3339 (reported before), or a day (reported on or before that day).
    pub to: Option<String>,
    pub status: Option<String>,
    /// Category code prefixes.
    pub category: Option<String>,
    pub source: Option<String>,
    pub level: Option<String>,
    pub overdue: Option<bool>,
    /// Opaque cursor from `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1–1000 (default 100).
    pub limit: Option<usize>,
    /// `geojson` (default) or `csv`.
    pub format: Option<String>,
}

/// `GET /api/events`: one page of events in the caller's jurisdiction, newest first.
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(bad_query)?;
    let csv = match q.format.as_deref() {
        None | Some("geojson") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "bad_format",
                format!("unknown format {other:?}: use geojson or csv"),
            ))
        }
    };
    let now = state.clock.now();
    let limit = page_size(q.limit)?;
    let after = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let filter = list_filter(&q, &principal, now)?;
    // One more than the page tells whether a next page exists.
    let mut keys = match &filter {
        Some(filter) => state
            .engine
            .snapshot()
            .events()
            .page(filter, after.as_ref(), limit + 1),
        None => Vec::new(),
    };
    let next_cursor = if keys.len() > limit {
        keys.truncate(limit);
        keys.last().map(encode_cursor)
    } else {
        None
    };
    let codes: Vec<String> = keys.into_iter().map(|k| k.code).collect();
    let page = state
        .store
        .events_by_codes(&codes)
        .await
        .map_err(|e| ApiError::unavailable(format!("cannot list events: {e}")))?;
    let rows: Vec<(Event, Timeliness)> = page
        .into_iter()
        .map(|e| {
            let t = Timeliness::of(&e, now);
            (e, t)
        })
        .collect();
    Ok(if csv {
        csv_answer(&rows, next_cursor)?
    } else {
        Json(geojson_page(&rows, next_cursor)).into_response()
    })
}

fn page_size(limit: Option<usize>) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if (1..=MAX_LIMIT).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::bad_request(
            "bad_limit",
            format!("limit must be 1 to {MAX_LIMIT}"),
        ))
    }
}

/// The engine filter of a listing, always narrowed to the caller's jurisdiction; `None` when
/// the asked area lies outside it (nothing can match).
fn list_filter(
    q: &ListQuery,
    principal: &Principal,
    now: DateTime<Utc>,
) -> Result<Option<EventFilter>, ApiError> {
    if let Some(area) = &q.area {
        event_params::check_area(area)?;
    }
    let raw = RawEventParams {
        from: q.from.as_deref(),
        to: q.to.as_deref(),
        status: q.status.as_deref(),
        category: q.category.as_deref(),
        source: q.source.as_deref(),
        level: q.level.as_deref(),
    };
    let mut filter = event_params::parse_filter(raw, now)?;
    filter.overdue = q.overdue;
    filter.bbox = q.bbox.as_deref().map(parse_bbox).transpose()?;
    Ok(event_params::narrow_to(&mut filter, &principal.scope, q.area.as_deref()).then_some(filter))
}

fn parse_bbox(text: &str) -> Result<Rect<f64>, ApiError> {
    let bad = || ApiError::bad_request("bad_bbox", "bbox must be west,south,east,north in degrees");
    let values: Vec<f64> = text
        .split(',')
        .map(|v| v.trim().parse::<f64>().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    match values.as_slice() {
        [w, s, e, n] if w < e && s < n && values.iter().all(|v| v.is_finite()) => {
            Ok(Rect::new(coord! {x: *w, y: *s}, coord! {x: *e, y: *n}))
        }
        _ => Err(bad()),
    }
}

/// The cursor after a listed event: hex of `seconds|code` (its [`ListingKey`]), opaque to
/// clients.
fn encode_cursor(key: &ListingKey) -> String {
    format!("{}|{}", key.reported.timestamp(), key.code)
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode_cursor(text: &str) -> Result<ListingKey, ApiError> {
    let bad = || ApiError::bad_request("bad_cursor", "cursor is not one this service gave out");
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return Err(bad());
    }
    let bytes: Vec<u8> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let decoded = String::from_utf8(bytes).map_err(|_| bad())?;
    let (seconds, code) = decoded.split_once('|').ok_or_else(bad)?;
    let at = seconds
        .parse::<i64>()
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .ok_or_else(bad)?;
    Ok(ListingKey::new(at, code))
}

/// The properties of an event in a listing (no reporter: see the details for that).
fn summary(e: &Event, t: &Timeliness) -> Value {
    json!({
        "code": e.code,
        "title": e.title,
        "category": e.category,
        "source": e.source.as_str(),
        "status": e.status.as_str(),
        "level": e.level.as_str(),
        "department": e.department,
        "area_code": e.area_code,
        "outside_grid": e.outside_grid,
        "address": e.address,
        "reported_at": e.reported_at,
        "deadline": e.deadline,
        "closed_at": e.closed_at,
        "overdue": t.overdue,
        "card": t.card,
    })
}

fn geojson_page(rows: &[(Event, Timeliness)], next_cursor: Option<String>) -> Value {
    let features: Vec<Value> = rows
        .iter()
        .map(|(e, t)| {
            json!({
                "type": "Feature",
                "id": e.code,
                "geometry": {"type": "Point", "coordinates": [e.location.x(), e.location.y()]},
                "properties": summary(e, t),
            })
        })
        .collect();
    json!({"type": "FeatureCollection", "features": features, "next_cursor": next_cursor})
}

const CSV_COLUMNS: [&str; 17] = [
    "code",
    "lon",
    "lat",
    "title",
    "category",
    "source",
    "status",
    "level",
    "department",
    "area_code",
    "outside_grid",
    "address",
    "reported_at",
    "deadline",
    "closed_at",
    "overdue",
    "card",
];

/// A stored text as a CSV cell that a spreadsheet shows as text: a cell starting with `=`,
/// `+`, `-`, `@`, a tab or a carriage return would be read as a formula (CSV injection), so it
/// gets a leading `'`, which spreadsheets hide.
pub(super) fn text_cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

/// The page as CSV (text cells through [`text_cell`]); the next cursor travels in the
/// `X-Next-Cursor` header.
fn csv_answer(
    rows: &[(Event, Timeliness)],
    next_cursor: Option<String>,
) -> Result<Response, ApiError> {
    let failed = |e: csv::Error| ApiError::unavailable(format!("cannot write CSV: {e}"));
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(CSV_COLUMNS).map_err(failed)?;
    let time = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
    for (e, t) in rows {
        writer
            .write_record([
                text_cell(&e.code),
                e.location.x().to_string(),
                e.location.y().to_string(),
                text_cell(&e.title),
                text_cell(&e.category),
                e.source.as_str().to_string(),
                e.status.as_str().to_string(),
                e.level.as_str().to_string(),
                text_cell(e.department.as_deref().unwrap_or_default()),
                text_cell(e.area_code.as_deref().unwrap_or_default()),
                e.outside_grid.to_string(),
                text_cell(e.address.as_deref().unwrap_or_default()),
                time(Some(e.reported_at)),
                time(e.deadline),
                time(e.closed_at),
                t.overdue.to_string(),
                t.card.to_string(),
            ])
            .map_err(failed)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| ApiError::unavailable(format!("cannot write CSV: {e}")))?;
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        )],
        bytes,
    )
        .into_response();
    if let Some(cursor) = next_cursor.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert("x-next-cursor", cursor);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).expect("t");
        let key = ListingKey::new(at, "E20260101000001");
        assert_eq!(decode_cursor(&encode_cursor(&key)).ok(), Some(key));
        for bad in ["", "zz", "abc", "7c"] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bbox_must_be_ordered() {
        assert!(parse_bbox("114,35,115,36").is_ok());
        assert!(parse_bbox("115,35,114,36").is_err());
        assert!(parse_bbox("114,35,115").is_err());
        assert!(parse_bbox("a,b,c,d").is_err());
    }

    #[test]
    fn formula_cells_are_neutralised() {
        for risky in [
            "=HYPERLINK(\"http://x\")",
            "+1",
            "-1",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            assert_eq!(text_cell(risky), format!("'{risky}"));
        }
        assert_eq!(text_cell("道路破损"), "道路破损");
        assert_eq!(text_cell(""), "");
    }
}
