//! Patrol coverage (巡查覆盖), `GET /api/analysis/patrol-coverage`: per base grid of an area,
//! how much of it the grid's own workers (those whose home is the grid) came near in a window
//! — the share of its buildings, and of its area, within `distance` metres of their tracks
//! (`engine::patrol_coverage`).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use futures::{StreamExt, TryStreamExt};
use geo::BoundingRect;
use geo_types::LineString;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{bad_query, ApiError};
use super::worker_tracks::{parse_gap, window, DEFAULT_GAP};
use super::workers::scoped_area;
use super::AppState;
use crate::access::Principal;
use crate::engine::patrol_coverage::{track_lines, GridCoverage};
use crate::engine::{track, TrackRules};
use crate::model::{scope_contains, Area, Layer, Level};

/// The most grids one request may cover (a district of the city; ask per street beyond).
pub const MAX_GRIDS: usize = 1_500;
/// The distance a building may lie from a track and count as covered, unless asked.
pub const DEFAULT_DISTANCE_M: f64 = 50.0;
/// The largest distance accepted.
pub const MAX_DISTANCE_M: f64 = 1_000.0;
/// Workers whose fixes are read at once.
const READS_AT_ONCE: usize = 8;

/// Query of `GET /api/analysis/patrol-coverage`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatrolCoverageQuery {
    /// The area whose base grids are measured (default: the jurisdiction).
    pub area: Option<String>,
    /// Window start: RFC 3339, or a China Standard Time day.
    pub from: Option<String>,
    /// Window end, excluded: RFC 3339, or a China Standard Time day (its end).
    pub to: Option<String>,
    /// Metres from a track that count as covered (default 50).
    pub distance: Option<f64>,
    /// Longest time between two fixes joined by a line (default 10 minutes; as the track's).
    pub gap: Option<String>,
}

/// `GET /api/analysis/patrol-coverage?area=&from=&to=[&distance=][&gap=]`.
pub async fn patrol_coverage(
    State(state): State<AppState>,
    principal: Principal,
    query: Result<Query<PatrolCoverageQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(bad_query)?;
    let area = scoped_area(&state, &principal, q.area.as_deref())?;
    let (from, to) = window(q.from.as_deref(), q.to.as_deref())?;
    let distance = q.distance.unwrap_or(DEFAULT_DISTANCE_M);
    if !(distance > 0.0 && distance <= MAX_DISTANCE_M) {
        return Err(ApiError::bad_request(
            "bad_distance",
            format!("distance must be above 0 and at most {MAX_DISTANCE_M} metres"),
        ));
    }
    let rules = TrackRules {
        gap: q.gap.as_deref().map_or(Ok(DEFAULT_GAP), parse_gap)?,
        simplify_m: None,
    };
    let snapshot = state.engine.snapshot();
    let grids = grids_of(&snapshot, &area)?;
    let crews: Vec<(usize, String)> = {
        let grid_index: std::collections::HashMap<&str, usize> = grids
            .iter()
            .enumerate()
            .map(|(i, g)| (g.code.as_str(), i))
            .collect();
        let board = state.engine.workers();
        board
            .views(|v| grid_index.contains_key(v.worker.home_code.as_str()))
            .into_iter()
            .map(|v| {
                (
                    grid_index[v.worker.home_code.as_str()],
                    v.worker.code.clone(),
                )
            })
            .collect()
    };
    let store = &state.store;
    let tracks: Vec<(usize, CrewTrack)> = futures::stream::iter(crews)
        .map(|(i, code)| async move {
            let fixes = store.worker_fixes(&code, from, to).await?;
            let walked = track(&fixes, &rules);
            let crew = CrewTrack {
                fixes: walked.fixes,
                lines: track_lines(&walked),
                worker: code,
            };
            Ok::<_, crate::store::StoreError>((i, crew))
        })
        .buffered(READS_AT_ONCE)
        .try_collect()
        .await
        .map_err(|e| ApiError::unavailable(format!("cannot read the fixes: {e}")))?;
    let mut by_grid: Vec<Vec<CrewTrack>> = vec![Vec::new(); grids.len()];
    for (i, crew) in tracks {
        by_grid[i].push(crew);
    }
    let rows: Vec<Value> = grids
        .iter()
        .zip(by_grid)
        .map(|(grid, crews)| {
            let workers: Vec<&str> = crews.iter().map(|c| c.worker.as_str()).collect();
            let fixes: usize = crews.iter().map(|c| c.fixes).sum();
            let lines: Vec<LineString<f64>> =
                crews.iter().flat_map(|c| c.lines.iter().cloned()).collect();
            grid_row(
                &snapshot.patrol_coverage(grid, &lines, distance),
                &workers,
                fixes,
            )
        })
        .collect();
    Ok(Json(json!({
        "area": area,
        "from": from,
        "to": to,
        "distance_m": distance,
        "grids": rows,
    })))
}

/// One worker's track in the window, as coverage needs it.
#[derive(Debug, Clone)]
struct CrewTrack {
    worker: String,
    fixes: usize,
    lines: Vec<LineString<f64>>,
}

/// The base grids inside `area`, by code (at most [`MAX_GRIDS`]).
fn grids_of(snapshot: &crate::engine::Snapshot, area: &str) -> Result<Vec<Area>, ApiError> {
    let bounds = snapshot
        .area(area)
        .and_then(|a| a.geometry.bounding_rect())
        .or_else(|| snapshot.city_extent());
    let mut grids: Vec<Area> = bounds
        .map(|b| snapshot.areas_in_bbox(b))
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a.layer == Layer::Base && a.level == Level::Grid)
        .filter(|a| scope_contains(area, &a.code))
        .cloned()
        .collect();
    if grids.len() > MAX_GRIDS {
        return Err(ApiError::bad_request(
            "too_many_grids",
            format!(
                "{area} holds {} grids, more than the {MAX_GRIDS} one request measures: ask per district or street",
                grids.len()
            ),
        ));
    }
    grids.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(grids)
}

fn grid_row(coverage: &GridCoverage, workers: &[&str], fixes: usize) -> Value {
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    json!({
        "grid": coverage.grid,
        "name": coverage.name,
        "workers": workers,
        "fixes": fixes,
        "buildings": coverage.buildings,
        "covered_buildings": coverage.covered_buildings,
        "building_share": coverage.building_share.map(round),
        "area_share": round(coverage.area_share),
        "track_m": coverage.track_m.round(),
    })
}
