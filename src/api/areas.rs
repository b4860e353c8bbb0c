//! Areas: the chain at a point (`/api/lookup`), one area as a GeoJSON Feature with its rollup,
//! and an area's children and neighbours as FeatureCollections. Every answer is scoped to the
//! caller.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use geo::BoundingRect;
use geojson::{Feature, FeatureCollection, JsonObject};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::error::{bad_query, ApiError};
use super::AppState;
use crate::access::Principal;
use crate::crs::{self, Crs};
use crate::engine::{Neighbor, Rollup, Snapshot};
use crate::model::{lonlat_in_range, Area};

/// Query of `GET /api/lookup`.
#[derive(Debug, Deserialize)]
pub struct LookupQuery {
    pub lon: f64,
    pub lat: f64,
    /// The CRS of lon/lat (default WGS84): `wgs84`, `gcj02`, `bd09`, `EPSG:4490`, a GK zone …
    pub crs: Option<String>,
}

/// One link of an area chain.
#[derive(Debug, Serialize)]
pub struct ChainLink {
    pub code: String,
    pub name: String,
    pub level: &'static str,
    pub layer: String,
}

impl From<&Area> for ChainLink {
    fn from(a: &Area) -> ChainLink {
        ChainLink {
            code: a.code.clone(),
            name: a.name.clone(),
            level: a.level.as_str(),
            layer: a.layer.as_str().into_owned(),
        }
    }
}

/// `GET /api/lookup?lon=&lat=[&crs=]`: the base-layer chain at a point, deepest first, and the
/// areas of other layers (special, business) containing it.
pub async fn lookup(
    State(state): State<AppState>,
    principal: Principal,
    query: Result<Query<LookupQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(bad_query)?;
    let crs = match q.crs.as_deref() {
        None => Crs::Wgs84,
        Some(text) => {
            Crs::parse(text).map_err(|e| ApiError::bad_request("bad_crs", e.to_string()))?
        }
    };
    let (lon, lat) = crs::to_storage(crs, q.lon, q.lat)
        .map_err(|e| ApiError::bad_request("bad_coordinates", e.to_string()))?;
    if !lonlat_in_range(lon, lat) {
        return Err(ApiError::bad_request(
            "bad_coordinates",
            format!("({lon}, {lat}) is not a longitude/latitude in China; check the order (lon first) and the crs"),
        ));
    }
    let snapshot = state.engine.snapshot();
    let chain = snapshot.lookup(lon, lat);
    if let Some(deepest) = chain.first() {
        principal.check_scope(&deepest.code)?;
    }
    let others: Vec<ChainLink> = snapshot
        .containing(lon, lat)
        .into_iter()
        .filter(|a| a.layer != crate::model::Layer::Base && principal.covers(&a.code))
        .map(ChainLink::from)
        .collect();
    let grid = chain
        .iter()
        .find(|a| a.level == crate::model::Level::Grid)
        .map(|a| a.code.clone());
    Ok(Json(json!({
        "lon": lon,
        "lat": lat,
        "inside": !chain.is_empty(),
        "grid": grid,
        "chain": chain.into_iter().map(ChainLink::from).collect::<Vec<_>>(),
        "other_layers": others,
    })))
}

/// Most hits `GET /api/areas?q=` answers.
pub const MAX_SEARCH_HITS: usize = 50;
const DEFAULT_SEARCH_HITS: usize = 10;

/// Query of `GET /api/areas`.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    /// A code or its start (digits), or part of a name.
    pub q: String,
    /// Hits wanted, 1–50 (default 10).
    pub limit: Option<usize>,
}

/// One hit of an area search: enough to list it and fly to it.
#[derive(Debug, Serialize)]
pub struct SearchHit {
    pub code: String,
    pub name: String,
    pub level: &'static str,
    pub layer: String,
    pub parent_code: Option<String>,
    /// Its ancestors, from the top down (for telling two 新华社区 apart, and for breadcrumbs).
    pub path: Vec<ChainLink>,
    /// `[west, south, east, north]`, longitude/latitude.
    pub bbox: Option<[f64; 4]>,
}

/// `GET /api/areas?q=&limit=`: the areas in the caller's jurisdiction whose code starts with
/// `q` (digits) or whose name contains it, best match first (`engine::area_search`).
pub async fn search(
    State(state): State<AppState>,
    principal: Principal,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(bad_query)?;
    let limit = q.limit.unwrap_or(DEFAULT_SEARCH_HITS);
    if !(1..=MAX_SEARCH_HITS).contains(&limit) {
        return Err(ApiError::bad_request(
            "bad_limit",
            format!("limit must be between 1 and {MAX_SEARCH_HITS}, not {limit}"),
        ));
    }
    if q.q.trim().is_empty() {
        return Err(ApiError::bad_request(
            "empty_query",
            "q is empty: give part of an area's name or the start of its code",
        ));
    }
    let snapshot = state.engine.snapshot();
    let hits: Vec<SearchHit> = snapshot
        .search_areas(&q.q, |a| principal.covers(&a.code), limit)
        .into_iter()
        .map(|a| SearchHit {
            code: a.code.clone(),
            name: a.name.clone(),
            level: a.level.as_str(),
            layer: a.layer.as_str().into_owned(),
            parent_code: a.parent_code.clone(),
            path: ancestors(&snapshot, a),
            bbox: a
                .geometry
                .bounding_rect()
                .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y]),
        })
        .collect();
    Ok(Json(json!({ "query": q.q.trim(), "areas": hits })))
}

/// `area`'s ancestors, from the top down (at most as many as there are levels, so a parent
/// cycle in imported data cannot loop).
fn ancestors(snapshot: &Snapshot, area: &Area) -> Vec<ChainLink> {
    let mut chain = Vec::new();
    let mut parent = area.parent_code.as_deref();
    while let Some(p) = parent.and_then(|code| snapshot.area(code)) {
        if chain.len() >= crate::model::Level::ALL.len() {
            break;
        }
        chain.push(ChainLink::from(p));
        parent = p.parent_code.as_deref();
    }
    chain.reverse();
    chain
}

/// `GET /api/areas/{code}`: the area as a GeoJSON Feature with attributes and rollup.
pub async fn area(
    State(state): State<AppState>,
    principal: Principal,
    Path(code): Path<String>,
) -> Result<Json<Feature>, ApiError> {
    principal.check_scope(&code)?;
    let snapshot = state.engine.snapshot();
    let area = snapshot
        .area(&code)
        .ok_or_else(|| ApiError::not_found(format!("no area with code {code}")))?;
    Ok(Json(area_feature(area, snapshot.rollup(&code))))
}

/// `GET /api/areas/{code}/children`: the direct children (every layer) as a FeatureCollection.
pub async fn children(
    State(state): State<AppState>,
    principal: Principal,
    Path(code): Path<String>,
) -> Result<Json<FeatureCollection>, ApiError> {
    principal.check_scope(&code)?;
    let snapshot = state.engine.snapshot();
    if snapshot.area(&code).is_none() {
        return Err(ApiError::not_found(format!("no area with code {code}")));
    }
    let features = snapshot
        .children(&code)
        .into_iter()
        .map(|a| area_feature(a, snapshot.rollup(&a.code)))
        .collect();
    Ok(Json(FeatureCollection {
        bbox: None,
        features,
        foreign_members: None,
    }))
}

/// `GET /api/areas/{code}/neighbors` (相邻网格): the areas of the same layer and level that
/// touch the area (PostGIS `ST_Touches`: a shared edge or corner, interiors apart; see
/// `engine::area_neighbors`) as a FeatureCollection sorted by code, each with `touch` (`edge`
/// or `point`) and `border_m` (the shared border in geodesic metres, 0 for a point).
///
/// Scope as `/children`: the area itself must be in the caller's jurisdiction (403 before
/// 404). A neighbour outside it — the grid across a jurisdiction border, which is what
/// neighbour assistance is about — is still listed, but only by code, name and level (no
/// geometry, rollup or leader), with `in_scope: false`; neighbours inside it are full area
/// features, as `/children` gives them, with `in_scope: true`.
pub async fn neighbors(
    State(state): State<AppState>,
    principal: Principal,
    Path(code): Path<String>,
) -> Result<Json<FeatureCollection>, ApiError> {
    principal.check_scope(&code)?;
    let snapshot = state.engine.snapshot();
    let found = snapshot
        .neighbors(&code)
        .ok_or_else(|| ApiError::not_found(format!("no area with code {code}")))?;
    let features = found
        .iter()
        .map(|n| neighbor_feature(&snapshot, n, principal.covers(&n.area.code)))
        .collect();
    Ok(Json(FeatureCollection {
        bbox: None,
        features,
        foreign_members: None,
    }))
}

/// One neighbour as a Feature: the full area feature in scope, else only code, name and level
/// without geometry; both with how it touches.
fn neighbor_feature(snapshot: &Snapshot, neighbor: &Neighbor<'_>, in_scope: bool) -> Feature {
    let area = neighbor.area;
    let mut feature = if in_scope {
        area_feature(area, snapshot.rollup(&area.code))
    } else {
        let mut props = JsonObject::new();
        props.insert("code".into(), json!(area.code));
        props.insert("name".into(), json!(area.name));
        props.insert("level".into(), json!(area.level.as_str()));
        Feature {
            bbox: None,
            geometry: None,
            id: Some(geojson::feature::Id::String(area.code.clone())),
            properties: Some(props),
            foreign_members: None,
        }
    };
    let props = feature.properties.get_or_insert_with(JsonObject::new);
    props.insert("touch".into(), json!(neighbor.touch.as_str()));
    // Centimetres are more than the boundaries' own accuracy.
    props.insert(
        "border_m".into(),
        json!((neighbor.border_m * 100.0).round() / 100.0),
    );
    props.insert("in_scope".into(), json!(in_scope));
    feature
}

/// An area as a GeoJSON Feature: id = code, properties = attributes + `rollup`.
pub fn area_feature(area: &Area, rollup: Option<Rollup>) -> Feature {
    let mut props = JsonObject::new();
    props.insert("code".into(), json!(area.code));
    props.insert("name".into(), json!(area.name));
    props.insert("layer".into(), json!(area.layer.as_str()));
    props.insert("level".into(), json!(area.level.as_str()));
    props.insert("parent_code".into(), json!(area.parent_code));
    props.insert("center".into(), json!(area.center.map(|p| [p.x(), p.y()])));
    props.insert("leader_name".into(), json!(area.leader_name));
    props.insert("leader_phone".into(), json!(area.leader_phone));
    props.insert("leader_photo_url".into(), json!(area.leader_photo_url));
    props.insert("urban_rural".into(), json!(area.urban_rural));
    props.insert("valid_from".into(), json!(area.valid_from));
    props.insert("valid_to".into(), json!(area.valid_to));
    props.insert("rollup".into(), json!(rollup));
    Feature {
        bbox: None,
        geometry: Some(geojson::Geometry::from(&area.geometry)),
        id: Some(geojson::feature::Id::String(area.code.clone())),
        properties: Some(props),
        foreign_members: None,
    }
}
