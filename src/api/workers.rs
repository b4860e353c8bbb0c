//! Grid workers: the board as GeoJSON (`GET /api/workers`), nearest-worker dispatch
//! (`GET /api/workers/nearest`) and the alert log (`GET /api/workers/alerts`). Workers are
//! scoped by their home area: a principal sees the workers whose home code is inside its
//! jurisdiction, wherever they stand.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::error::{bad_query, ApiError};
use super::AppState;
use crate::access::Principal;
use crate::crs::{self, Crs};
use crate::engine::{WorkerRules, WorkerStatus, WorkerView};
use crate::model::{lonlat_in_range, scope_contains, WorkerAlert};

/// Most workers `nearest` answers.
pub const MAX_NEAREST: usize = 100;

/// Query of `GET /api/workers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkersQuery {
    /// Only workers whose home area is inside this one (default: the caller's jurisdiction).
    pub area: Option<String>,
    /// `online`, `offline` or `all` (default).
    pub status: Option<String>,
    /// Output CRS of positions: `wgs84` (default), `gcj02`, `bd09`.
    pub crs: Option<String>,
}

/// `GET /api/workers`: a FeatureCollection of the workers in scope, each at its latest fix
/// (geometry null before the first one).
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    query: Result<Query<WorkersQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(bad_query)?;
    let area = scoped_area(&state, &principal, q.area.as_deref())?;
    let status = status_filter(q.status.as_deref())?;
    let crs = output_crs(q.crs.as_deref())?;
    let board = state.engine.workers();
    let rules = *board.rules();
    let features: Vec<Value> = board
        .views(|v| in_area(v, &area) && status.is_none_or(|s| v.status == s))
        .into_iter()
        .map(|v| worker_feature(v, &rules, crs, None))
        .collect();
    Ok(Json(
        json!({"type": "FeatureCollection", "features": features}),
    ))
}

/// Query of `GET /api/workers/nearest`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NearestQuery {
    pub lon: f64,
    pub lat: f64,
    /// CRS of lon/lat and of the answer: `wgs84` (default), `gcj02`, `bd09`.
    pub crs: Option<String>,
    /// How many (default 5, at most [`MAX_NEAREST`]).
    pub k: Option<usize>,
    /// Only online workers (default true).
    pub online: Option<bool>,
    /// Only workers whose home area is inside this one (default: the caller's jurisdiction).
    pub area: Option<String>,
}

/// `GET /api/workers/nearest`: the k nearest workers in scope to a point, nearest first, each
/// with `distance_m` (geodesic, on the mean sphere).
pub async fn nearest(
    State(state): State<AppState>,
    principal: Principal,
    query: Result<Query<NearestQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(bad_query)?;
    let area = scoped_area(&state, &principal, q.area.as_deref())?;
    let crs = output_crs(q.crs.as_deref())?;
    let k = q.k.unwrap_or(5);
    if !(1..=MAX_NEAREST).contains(&k) {
        return Err(ApiError::bad_request(
            "bad_k",
            format!("k must be between 1 and {MAX_NEAREST}"),
        ));
    }
    let (lon, lat) = crs::to_storage(crs, q.lon, q.lat)
        .ok()
        .filter(|&(lon, lat)| lonlat_in_range(lon, lat))
        .ok_or_else(|| {
            ApiError::bad_request(
                "bad_position",
                format!("({}, {}) is not a longitude/latitude in China; check the order (lon first) and the crs", q.lon, q.lat),
            )
        })?;
    let online_only = q.online.unwrap_or(true);
    let board = state.engine.workers();
    let rules = *board.rules();
    let features: Vec<Value> = board
        .nearest(lon, lat, k, |v| {
            in_area(v, &area) && (!online_only || v.status == WorkerStatus::Online)
        })
        .into_iter()
        .map(|(v, d)| worker_feature(v, &rules, crs, Some(d)))
        .collect();
    Ok(Json(
        json!({"type": "FeatureCollection", "features": features}),
    ))
}

/// Query of `GET /api/workers/alerts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsQuery {
    /// Only alerts of workers whose home area is inside this one (default: the jurisdiction).
    pub area: Option<String>,
    /// Window start (default: 24 hours before `to`).
    pub from: Option<DateTime<Utc>>,
    /// Window end, exclusive (default: now).
    pub to: Option<DateTime<Utc>>,
    /// Only alerts not cleared (default false).
    pub open: Option<bool>,
}

/// `GET /api/workers/alerts`: the alerts raised in the window, and those still open at its
/// start, oldest first.
pub async fn alerts(
    State(state): State<AppState>,
    principal: Principal,
    query: Result<Query<AlertsQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(bad_query)?;
    let area = scoped_area(&state, &principal, q.area.as_deref())?;
    let to =
        q.to.unwrap_or_else(|| state.clock.now() + Duration::seconds(1));
    let from = q.from.unwrap_or(to - Duration::days(1));
    if from >= to {
        return Err(ApiError::bad_request(
            "bad_window",
            "from must be before to",
        ));
    }
    let stored = state
        .store
        .worker_alerts(from, to)
        .await
        .map_err(|e| ApiError::unavailable(format!("cannot read the alerts: {e}")))?;
    let open_only = q.open.unwrap_or(false);
    let alerts: Vec<Value> = stored
        .iter()
        .filter(|a| scope_contains(&area, &a.home_code))
        .filter(|a| !open_only || a.cleared_at.is_none())
        .map(alert_json)
        .collect();
    Ok(Json(json!({"from": from, "to": to, "alerts": alerts})))
}

/// The area a worker query is limited to: the one asked for (inside the caller's
/// jurisdiction, and known) or the jurisdiction itself.
pub fn scoped_area(
    state: &AppState,
    principal: &Principal,
    area: Option<&str>,
) -> Result<String, ApiError> {
    let Some(code) = area else {
        return Ok(principal.scope.clone());
    };
    principal.check_scope(code)?;
    if state.engine.snapshot().area(code).is_none() {
        return Err(ApiError::not_found(format!("no area {code}")));
    }
    Ok(code.to_string())
}

fn status_filter(text: Option<&str>) -> Result<Option<WorkerStatus>, ApiError> {
    match text.unwrap_or("all") {
        "all" => Ok(None),
        "online" => Ok(Some(WorkerStatus::Online)),
        "offline" => Ok(Some(WorkerStatus::Offline)),
        other => Err(ApiError::bad_request(
            "bad_status",
            format!("status {other:?} must be online, offline or all"),
        )),
    }
}

/// The CRS of positions given and answered: WGS84 (= storage), GCJ-02 or BD-09.
pub fn output_crs(text: Option<&str>) -> Result<Crs, ApiError> {
    let Some(text) = text else {
        return Ok(Crs::Wgs84);
    };
    match Crs::parse(text) {
        Ok(crs @ (Crs::Wgs84 | Crs::Cgcs2000 | Crs::Gcj02 | Crs::Bd09)) => Ok(crs),
        _ => Err(ApiError::bad_request(
            "bad_crs",
            format!("crs {text:?} must be wgs84, gcj02 or bd09"),
        )),
    }
}

/// Metres to the decimetre, as every worker endpoint gives distances (GPS is no finer).
pub fn decimetres(m: f64) -> f64 {
    (m * 10.0).round() / 10.0
}

fn in_area(view: &WorkerView, area: &str) -> bool {
    scope_contains(area, &view.worker.home_code)
}

/// A worker as a GeoJSON Feature (id = code) at its latest fix in `crs`; `distance_m` when
/// answering a nearest query.
pub fn worker_feature(
    view: &WorkerView,
    rules: &WorkerRules,
    crs: Crs,
    distance_m: Option<f64>,
) -> Value {
    let geometry = view
        .fix
        .as_ref()
        .and_then(|f| crs::from_storage(crs, f.position.x(), f.position.y()).ok())
        .map(|(x, y)| json!({"type": "Point", "coordinates": [x, y]}));
    let mut properties = worker_properties(view, rules);
    if let Some(d) = distance_m {
        properties.insert("distance_m".into(), json!(decimetres(d)));
    }
    json!({
        "type": "Feature",
        "id": view.worker.code,
        "geometry": geometry,
        "properties": properties,
    })
}

/// The attributes of a worker as the API and the live stream give them.
pub fn worker_properties(view: &WorkerView, rules: &WorkerRules) -> Map<String, Value> {
    let w = &view.worker;
    let fix = view.fix.as_ref();
    let mut p = Map::new();
    p.insert("code".into(), json!(w.code));
    p.insert("name".into(), json!(w.name));
    p.insert("phone".into(), json!(w.phone));
    p.insert("role".into(), json!(w.role));
    p.insert("home_code".into(), json!(w.home_code));
    p.insert("device".into(), json!(w.device));
    p.insert("status".into(), json!(view.status.as_str()));
    p.insert("at".into(), json!(fix.map(|f| f.at)));
    p.insert("accuracy".into(), json!(fix.and_then(|f| f.accuracy_m)));
    p.insert("speed".into(), json!(fix.and_then(|f| f.speed_mps)));
    p.insert("heading".into(), json!(fix.and_then(|f| f.heading_deg)));
    p.insert("grid".into(), json!(view.grid));
    p.insert("inside_home".into(), json!(view.inside_home(rules)));
    p.insert("outside_m".into(), json!(view.outside_m.map(decimetres)));
    p.insert("alert".into(), json!(view.alert.as_ref().map(alert_json)));
    p
}

/// An alert as JSON.
pub fn alert_json(alert: &WorkerAlert) -> Value {
    json!({
        "id": alert.id,
        "worker": alert.worker_code,
        "kind": alert.kind.as_str(),
        "home_code": alert.home_code,
        "raised_at": alert.raised_at,
        "cleared_at": alert.cleared_at,
        "lon": alert.position.x(),
        "lat": alert.position.y(),
        "distance_m": decimetres(alert.distance_m),
    })
}
