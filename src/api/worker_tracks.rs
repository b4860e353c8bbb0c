//! A worker's GPS track (轨迹回放), `GET /api/workers/{code}/track`: the stored fixes of a
//! window, cut into segments and measured by `engine::track`, as a GeoJSON FeatureCollection.
//! Workers are scoped by their home area, as on the other worker endpoints.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{bad_query, ApiError};
use super::event_params::parse_time;
use super::workers::{decimetres, output_crs};
use super::AppState;
use crate::access::Principal;
use crate::crs::{self, Crs, CrsError};
use crate::engine::{self, Segment, Track, TrackRules};

/// The longest window a track may cover.
pub const MAX_WINDOW: Duration = Duration::days(31);
/// The gap that starts a new segment unless `gap` says otherwise.
pub const DEFAULT_GAP: Duration = Duration::minutes(10);
/// The longest gap accepted.
pub const MAX_GAP: Duration = Duration::hours(24);
/// The largest simplification tolerance accepted, in metres.
pub const MAX_SIMPLIFY_M: f64 = 1000.0;

/// Query of `GET /api/workers/{code}/track`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackQuery {
    /// Window start: RFC 3339, or a China Standard Time day (its start).
    pub from: Option<String>,
    /// Window end, excluded: RFC 3339, or a China Standard Time day (its end).
    pub to: Option<String>,
    /// Longest time between two fixes of one segment: see [`parse_gap`].
    pub gap: Option<String>,
    /// Douglas–Peucker tolerance in metres for the drawn lines (0 or absent: every fix).
    pub simplify: Option<String>,
    /// Output CRS: `wgs84` (default), `gcj02`, `bd09`.
    pub crs: Option<String>,
}

/// `GET /api/workers/{code}/track?from=&to=[&gap=][&simplify=][&crs=]`: the worker's fixes in
/// `[from, to)` (at most [`MAX_WINDOW`]) as one Feature per segment — a LineString, or a Point
/// for a lone fix — with `from`, `to`, `fixes`, `distance_m` and `duration_s`, and the totals
/// beside `features`. 404 for an unknown worker, 403 when its home area is outside the
/// caller's jurisdiction.
pub async fn track(
    State(state): State<AppState>,
    principal: Principal,
    Path(code): Path<String>,
    query: Result<Query<TrackQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(bad_query)?;
    let (from, to) = window(q.from.as_deref(), q.to.as_deref())?;
    let rules = TrackRules {
        gap: q.gap.as_deref().map_or(Ok(DEFAULT_GAP), parse_gap)?,
        simplify_m: q.simplify.as_deref().map(parse_simplify).transpose()?,
    };
    let crs = output_crs(q.crs.as_deref())?;
    let home = state
        .engine
        .workers()
        .view(&code)
        .map(|v| v.worker.home_code.clone())
        .ok_or_else(|| ApiError::not_found(format!("no worker with code {code}")))?;
    principal.check_scope(&home)?;
    let fixes = state
        .store
        .worker_fixes(&code, from, to)
        .await
        .map_err(|e| ApiError::unavailable(format!("cannot read the fixes: {e}")))?;
    let track = engine::track(&fixes, &rules);
    let answer = track_json(&code, (from, to), &rules, crs, &track)
        .map_err(|e| ApiError::bad_request("bad_crs", e.to_string()))?;
    Ok(Json(answer))
}

/// The window `[from, to)`: both required, `from` before `to` (`bad_time`), at most
/// [`MAX_WINDOW`] long (`window_too_long`).
pub fn window(
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let required = |name: &str| {
        ApiError::bad_request(
            "bad_time",
            format!("{name} is required: RFC 3339 (2026-01-31T08:00:00+08:00) or a day (2026-01-31, China Standard Time)"),
        )
    };
    let from = parse_time("from", from.ok_or_else(|| required("from"))?, false)?;
    let to = parse_time("to", to.ok_or_else(|| required("to"))?, true)?;
    if from >= to {
        return Err(ApiError::bad_request(
            "bad_time",
            format!("from {from} must be before to {to}"),
        ));
    }
    if to - from > MAX_WINDOW {
        return Err(ApiError::bad_request(
            "window_too_long",
            format!(
                "the window from {from} to {to} is longer than {} days; ask for a shorter one",
                MAX_WINDOW.num_days()
            ),
        ));
    }
    Ok((from, to))
}

/// `gap`: a whole number of seconds (`600`), or of seconds, minutes or hours with the unit
/// `s`, `m` or `h` (`600s`, `10m`, `1h`); from 1 second to [`MAX_GAP`] (`bad_gap`).
pub fn parse_gap(text: &str) -> Result<Duration, ApiError> {
    let refused = || {
        ApiError::bad_request(
            "bad_gap",
            format!(
                "gap {text:?} must be a whole number of seconds (600) or of s, m or h (600s, 10m, 1h), from 1 s to {} h",
                MAX_GAP.num_hours()
            ),
        )
    };
    let (digits, unit) = match text.char_indices().last() {
        Some((i, c @ ('s' | 'm' | 'h'))) => (&text[..i], c),
        _ => (text, 's'),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refused());
    }
    let n: i64 = digits.parse().map_err(|_| refused())?;
    let seconds = match unit {
        'h' => n.checked_mul(3600),
        'm' => n.checked_mul(60),
        _ => Some(n),
    };
    seconds
        .filter(|s| (1..=MAX_GAP.num_seconds()).contains(s))
        .map(Duration::seconds)
        .ok_or_else(refused)
}

/// `simplify`: metres from 0 to [`MAX_SIMPLIFY_M`] (`bad_simplify`).
fn parse_simplify(text: &str) -> Result<f64, ApiError> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|m| (0.0..=MAX_SIMPLIFY_M).contains(m))
        .ok_or_else(|| {
            ApiError::bad_request(
                "bad_simplify",
                format!("simplify {text:?} must be a number of metres from 0 to {MAX_SIMPLIFY_M}"),
            )
        })
}

/// The answer: a FeatureCollection of the segments with the worker, the window, the rules and
/// the totals beside `features`.
fn track_json(
    code: &str,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    rules: &TrackRules,
    crs: Crs,
    track: &Track,
) -> Result<Value, CrsError> {
    let features: Vec<Value> = track
        .segments
        .iter()
        .map(|s| segment_feature(s, crs))
        .collect::<Result<_, _>>()?;
    Ok(json!({
        "type": "FeatureCollection",
        "worker": code,
        "from": from,
        "to": to,
        "gap_s": rules.gap.num_seconds(),
        "simplify_m": rules.simplify_m,
        "crs": crs.name(),
        "fixes": track.fixes,
        "distance_m": decimetres(track.distance_m),
        "duration_s": track.duration_s,
        "features": features,
    }))
}

/// One segment as a Feature: a LineString, or a Point for a lone fix.
fn segment_feature(segment: &Segment, crs: Crs) -> Result<Value, CrsError> {
    let coordinates: Vec<[f64; 2]> = segment
        .positions
        .iter()
        .map(|p| crs::from_storage(crs, p.x, p.y).map(|(x, y)| [x, y]))
        .collect::<Result<_, _>>()?;
    let geometry = match coordinates.as_slice() {
        [only] => json!({"type": "Point", "coordinates": only}),
        _ => json!({"type": "LineString", "coordinates": coordinates}),
    };
    Ok(json!({
        "type": "Feature",
        "geometry": geometry,
        "properties": {
            "from": segment.from,
            "to": segment.to,
            "fixes": segment.fixes,
            "distance_m": decimetres(segment.distance_m),
            "duration_s": segment.duration_s,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gap_is_seconds_or_a_number_with_a_unit() {
        for (text, seconds) in [
            ("600", 600),
            ("600s", 600),
            ("10m", 600),
            ("1h", 3600),
            ("1", 1),
            ("24h", 86_400),
        ] {
            assert_eq!(parse_gap(text), Ok(Duration::seconds(seconds)), "{text}");
        }
    }

    #[test]
    fn a_bad_gap_is_refused_with_bad_gap() {
        for text in [
            "",
            "s",
            "0",
            "0m",
            "-5",
            "+5",
            "1.5m",
            "10 m",
            "10min",
            "PT10M",
            "25h",
            "86401",
            "99999999999999999999",
            "9223372036854775807",
            "9223372036854775807h",
        ] {
            let e = parse_gap(text).expect_err(text);
            assert_eq!(e.code, "bad_gap", "{text}");
        }
    }

    #[test]
    fn simplify_is_metres_within_the_limit() {
        assert_eq!(parse_simplify("0"), Ok(0.0));
        assert_eq!(parse_simplify("12.5"), Ok(12.5));
        for text in ["-1", "1001", "NaN", "inf", "ten", ""] {
            assert_eq!(
                parse_simplify(text).map_err(|e| e.code),
                Err("bad_simplify"),
                "{text}"
            );
        }
    }

    #[test]
    fn a_window_needs_both_ends_in_order_and_at_most_31_days() {
        let code = |from, to| window(from, to).map_err(|e| e.code);
        assert!(code(Some("2026-03-01"), Some("2026-03-31")).is_ok());
        assert_eq!(code(None, Some("2026-03-02")), Err("bad_time"));
        assert_eq!(code(Some("2026-03-01"), None), Err("bad_time"));
        assert_eq!(code(Some("yesterday"), Some("2026-03-02")), Err("bad_time"));
        assert_eq!(
            code(Some("2026-03-02T00:00:00Z"), Some("2026-03-01T00:00:00Z")),
            Err("bad_time")
        );
        assert_eq!(
            code(Some("2026-03-01"), Some("2026-04-01")),
            Err("window_too_long")
        );
        // A day as `to` is its end: 2026-03-01 .. 2026-03-31 is 31 days.
        let (from, to) = window(Some("2026-03-01"), Some("2026-03-31")).expect("window");
        assert_eq!(to - from, MAX_WINDOW);
    }
}
