//! Vector tiles over HTTP: the catalog (`/tiles`), TileJSON 3.0.0 per tileset
//! (`/tiles/{tileset}`) and the tiles themselves (`/tiles/{tileset}/{z}/{x}/{y}[.pbf|.mvt]`).
//!
//! The rules: anonymous callers read public tilesets only; a token's scope filters the features
//! of every tile it asks for, and the cache keys tiles by that scope. An empty tile, and a zoom
//! outside the tileset's range, answer 204 (MapLibre then draws nothing, without an error). Tiles
//! are compressed once, when cached (with the cache off, only in the coding the request asks
//! for); the answer picks brotli, gzip or identity from Accept-Encoding and carries a strong ETag
//! of the uncompressed bytes. `?crs=gcj02` serves the
//! same tiles in the GCJ-02 grid (for AMap/Tencent basemaps), cached apart from the plain ones.
//! Serving a tile (cache, where it renders, compression) is [`crate::tiles::service`]; this
//! file is its HTTP face: the address, the caller, the headers and the status codes.
//!
//! Event tilesets (`events`, `heatmap`) take filters: `from`, `to`, `status` and `category`,
//! with the meaning they have on `GET /api/events` (`event_params`: a day is a China Standard
//! Time day, categories are prefixes) and, for the heatmap, `bin` (`square` or `h3`). Bad
//! values answer 400 `bad_filter` (a list over the size cap `too_many_values`). The filters, in a canonical form (sorted lists), are part of the cache key, and
//! the caller's jurisdiction is added to them, so a scoped caller counts only its events.

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, RawPathParams, Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use geo_types::Rect;
use serde::Deserialize;
use serde_json::{json, Value};

use super::base_url::base_url;
use super::error::{bad_query, ApiError};
use super::event_params::{self, ParamError, RawEventParams};
use super::metrics::RouteRecorder;
use super::viewer::Viewer;
use super::AppState;
use crate::engine::events::EventFilter;
use crate::engine::Snapshot;
use crate::model::Level;
use crate::tiles::coding::{CachedTile, Coding};
use crate::tiles::event_tiles::{EventTileQuery, HeatmapBin};
use crate::tiles::service::{EventTileFilters, ServeError, TileOrder, TileScope, TileService};
use crate::tiles::tile_frame::TILE_CRS_ACCEPTED;
use crate::tiles::tilejson::vector_layers;
use crate::tiles::{TileCrs, TileError, TileId, Tileset};

/// The media type of Mapbox Vector Tiles.
pub const MVT_CONTENT_TYPE: &str = "application/vnd.mapbox-vector-tile";

/// `Cache-Control` values of tile answers, made once (every tile answer carries one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileCacheControl {
    /// For anonymous requests of public tilesets.
    pub public: HeaderValue,
    /// For requests with a token (the tile depends on its scope).
    pub private: HeaderValue,
}

impl TileCacheControl {
    /// Answers browsers and proxies may keep for `max_age_s` seconds.
    pub fn with_max_age(max_age_s: u32) -> TileCacheControl {
        // Digits and ASCII words only: always a valid header value.
        let value = |who: &str| {
            HeaderValue::from_str(&format!("{who}, max-age={max_age_s}"))
                .unwrap_or(HeaderValue::from_static("no-cache"))
        };
        TileCacheControl {
            public: value("public"),
            private: value("private"),
        }
    }
}

/// `?a=b&c=d` for the pairs (URL-encoded), or nothing when there are none.
pub fn query_suffix(params: &[(&str, String)]) -> String {
    if params.is_empty() {
        return String::new();
    }
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
        .finish();
    format!("?{encoded}")
}

fn unknown_tileset(name: &str) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: "unknown_tileset",
        message: format!("no tileset {name:?}; GET /tiles lists them"),
    }
}

fn bad_tile(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("bad_tile", message)
}

fn tile_failed(message: String) -> ApiError {
    ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: "tile_failed",
        message,
    }
}

/// The query string of tile and TileJSON requests.
#[derive(Debug, Default, Deserialize)]
pub struct TileQuery {
    /// `wgs84` (default) or `gcj02`/`GCJ-02`.
    pub crs: Option<String>,
    /// Event tilesets: events reported at or after this (RFC 3339, or a China Standard Time
    /// day `YYYY-MM-DD`).
    pub from: Option<String>,
    /// Event tilesets: events reported before this (RFC 3339), or on or before this day.
    pub to: Option<String>,
    /// Event tilesets: statuses, comma-separated (`reported,registered`).
    pub status: Option<String>,
    /// Event tilesets: category code prefixes, comma-separated.
    pub category: Option<String>,
    /// Heatmap: `square` (default) or `h3`.
    pub bin: Option<String>,
}

/// The checked event filters of a request (before the caller's jurisdiction) and the binning.
#[derive(Debug, Clone)]
struct EventParams {
    /// Lists sorted, without repeats.
    filter: EventFilter,
    bin: HeatmapBin,
}

/// A refused event filter: 400 `bad_filter` with the parser's message, except a list over the
/// size cap, which keeps its own code (`too_many_values`) as on the listing.
fn bad_filter(e: ParamError) -> ApiError {
    let code = if e.code == "too_many_values" {
        e.code
    } else {
        "bad_filter"
    };
    ApiError::bad_request(code, e.message)
}

impl EventParams {
    /// The cache key part: `from`/`to` in RFC 3339 UTC, sorted lists, the binning.
    fn canonical(&self) -> String {
        let time = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
        let f = &self.filter;
        let statuses: Vec<&str> = f.statuses.iter().map(|s| s.as_str()).collect();
        format!(
            "from={}&to={}&status={}&category={}&bin={}",
            time(f.from),
            time(f.to),
            statuses.join(","),
            f.categories.join(","),
            if self.bin == HeatmapBin::H3 {
                "h3"
            } else {
                "square"
            }
        )
    }

    /// The filter for a caller: these filters and its jurisdiction.
    fn query(self, viewer: &Viewer) -> EventTileQuery {
        let mut filter = self.filter;
        if let Some(p) = &viewer.principal {
            event_params::narrow_to(&mut filter, &p.scope, None);
        }
        EventTileQuery {
            filter,
            bin: self.bin,
        }
    }
}

impl TileQuery {
    /// The checked event filters (400 `bad_filter`), overdue judged at `now`; `bin` only for
    /// tilesets with a heatmap.
    fn event_params(&self, tileset: &Tileset, now: DateTime<Utc>) -> Result<EventParams, ApiError> {
        let raw = RawEventParams {
            from: self.from.as_deref(),
            to: self.to.as_deref(),
            status: self.status.as_deref(),
            category: self.category.as_deref(),
            ..RawEventParams::default()
        };
        let filter = event_params::parse_filter(raw, now).map_err(bad_filter)?;
        let has_heatmap = tileset
            .layers
            .iter()
            .any(|l| l.source == crate::tiles::Source::Heatmap);
        let bin = match self.bin.as_deref() {
            None => HeatmapBin::Square,
            Some(b) if has_heatmap => HeatmapBin::parse(b).ok_or_else(|| {
                ApiError::bad_request("bad_filter", format!("bin {b:?} is not square or h3"))
            })?,
            Some(_) => {
                return Err(ApiError::bad_request(
                    "bad_filter",
                    format!(
                        "bin applies to heatmap tilesets only, not to {}",
                        tileset.name
                    ),
                ))
            }
        };
        Ok(EventParams { filter, bin })
    }

    /// The filter pairs to hand on in the tile URL of a TileJSON, as the request gave them.
    fn filter_params(&self) -> Vec<(&'static str, String)> {
        [
            ("from", &self.from),
            ("to", &self.to),
            ("status", &self.status),
            ("category", &self.category),
            ("bin", &self.bin),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
        .collect()
    }

    /// The requested tile grid; 400 `bad_crs` for a name other than the accepted ones.
    fn tile_crs(&self) -> Result<TileCrs, ApiError> {
        let Some(name) = self.crs.as_deref() else {
            return Ok(TileCrs::Wgs84);
        };
        TileCrs::parse(name).ok_or_else(|| {
            ApiError::bad_request(
                "bad_crs",
                format!("crs {name:?} is not served for tiles: accepted are {TILE_CRS_ACCEPTED}"),
            )
        })
    }
}

fn find<'a>(state: &'a AppState, name: &str) -> Result<&'a Tileset, ApiError> {
    state
        .tilesets
        .get(name)
        .ok_or_else(|| unknown_tileset(name))
}

/// `GET /tiles`: every tileset with its TileJSON URL.
pub async fn catalog(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let base = base_url(state.public_url.as_deref(), &headers)?;
    let suffix = query_suffix(&viewer.url_params());
    let sets: Vec<Value> = state
        .tilesets
        .tilesets
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "description": t.description,
                "public": t.public,
                "minzoom": t.minzoom,
                "maxzoom": t.maxzoom,
                "tilejson": format!("{base}/tiles/{}{suffix}", t.name),
            })
        })
        .collect();
    Ok(Json(json!({ "tilesets": sets })))
}

/// `GET /tiles/{tileset}`: TileJSON 3.0.0 of one tileset (401 for a private one without token).
pub async fn tilejson(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
    query: Result<Query<TileQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(bad_query)?;
    let tileset = find(&state, &name)?;
    let crs = tile_crs_for(&query, tileset)?;
    viewer.check(tileset)?;
    if tileset.is_event_based() {
        query.event_params(tileset, state.clock.now())?;
    }
    let base = base_url(state.public_url.as_deref(), &headers)?;
    let snapshot = state.engine.snapshot();
    let bounds = snapshot.city_extent();
    let (clon, clat) = city_center(&snapshot, bounds);
    let (clon, clat) = crs.shift(clon, clat);
    let center_zoom = 12u8.clamp(tileset.minzoom, tileset.maxzoom);
    let bounds = bounds.map_or(json!([-180.0, -85.051_129, 180.0, 85.051_129]), |b| {
        let (west, south) = crs.shift(b.min().x, b.min().y);
        let (east, north) = crs.shift(b.max().x, b.max().y);
        json!([west, south, east, north])
    });
    let mut params = viewer.url_params();
    if crs == TileCrs::Gcj02 {
        params.insert(0, ("crs", crs.name().to_string()));
    }
    if tileset.is_event_based() {
        params.splice(0..0, query.filter_params());
    }
    let suffix = query_suffix(&params);
    Ok(Json(json!({
        "tilejson": "3.0.0",
        "name": tileset.name,
        "description": tileset.description,
        "scheme": "xyz",
        "tiles": [format!("{base}/tiles/{}/{{z}}/{{x}}/{{y}}.pbf{suffix}", tileset.name)],
        "minzoom": tileset.minzoom,
        "maxzoom": tileset.maxzoom,
        "bounds": bounds,
        "center": [clon, clat, center_zoom],
        "vector_layers": vector_layers(tileset, tileset.minzoom, tileset.maxzoom),
    })))
}

/// The tile grid of a request: event tilesets are cut in the WGS84 grid only.
fn tile_crs_for(query: &TileQuery, tileset: &Tileset) -> Result<TileCrs, ApiError> {
    let crs = query.tile_crs()?;
    if crs != TileCrs::Wgs84 && tileset.is_event_based() {
        return Err(ApiError::bad_request(
            "bad_crs",
            format!("tileset {} is served in the WGS84 grid only", tileset.name),
        ));
    }
    Ok(crs)
}

fn city_center(snapshot: &Snapshot, bounds: Option<Rect<f64>>) -> (f64, f64) {
    let Some(b) = bounds else {
        return (0.0, 0.0);
    };
    let mid = b.center();
    let centers = snapshot.lookup(mid.x, mid.y);
    centers
        .iter()
        .find(|a| a.level == Level::City)
        .and_then(|a| a.center)
        .map_or((mid.x, mid.y), |c| (c.x(), c.y()))
}

/// A parsed tile address from the path (`y` may end in `.pbf` or `.mvt`).
pub(super) fn parse_address(z: &str, x: &str, y: &str) -> Result<TileId, ApiError> {
    let y = y
        .strip_suffix(".pbf")
        .or_else(|| y.strip_suffix(".mvt"))
        .unwrap_or(y);
    let number = |what: &str, s: &str| {
        s.parse::<u32>()
            .map_err(|_| bad_tile(format!("tile {what} {s:?} is not a whole number")))
    };
    let zoom = number("zoom", z)?;
    let z = u8::try_from(zoom).map_err(|_| bad_tile(format!("zoom {zoom} is out of range")))?;
    TileId::new(z, number("column", x)?, number("row", y)?).map_err(|e| bad_tile(e.to_string()))
}

/// The four segments of a tile path, borrowed from the matched route.
/// A segment the route lacks stays empty (and is refused as a tileset or a number).
fn tile_path(params: &RawPathParams) -> [&str; 4] {
    let mut segments = [""; 4];
    for (name, value) in params.iter() {
        let slot = match name {
            "tileset" => 0,
            "z" => 1,
            "x" => 2,
            "y" => 3,
            _ => continue,
        };
        segments[slot] = value;
    }
    segments
}

/// The route of single tiles. It is served outside the router's shared layers (see
/// [`super::router`]): answering a cached tile is a few microseconds, and the generic CORS,
/// metrics and tracing middleware together took a quarter of the throughput of cached tiles.
/// The handler does their part itself: [`tile`] counts and times every answer under this route
/// and logs server errors, and every answer carries the CORS headers ([`preflight`] answers
/// the browser's preflight).
pub const TILE_ROUTE: &str = "/tiles/{tileset}/{z}/{x}/{y}";

/// The request metrics of [`TILE_ROUTE`].
static TILE_METRICS: RouteRecorder = RouteRecorder::new(TILE_ROUTE);

/// `GET /tiles/{tileset}/{z}/{x}/{y}[.pbf|.mvt]`: one vector tile for the caller's scope.
/// The request is taken whole so its headers are read in place, not copied; the caller and
/// the query are read inside, so that refusals are counted and carry CORS headers too.
pub async fn tile(State(state): State<AppState>, request: Request) -> Response {
    let started = std::time::Instant::now();
    let (mut parts, _) = request.into_parts();
    let mut response = match tile_answer(&state, &mut parts).await {
        Ok(response) => response,
        Err(e) => {
            if e.status.is_server_error() {
                tracing::error!(uri = %parts.uri, code = e.code, message = %e.message, "tile failed");
            }
            e.into_response()
        }
    };
    allow_any_origin(response.headers_mut());
    TILE_METRICS.record(&parts.method, response.status(), started);
    response
}

async fn tile_answer(state: &AppState, parts: &mut Parts) -> Result<Response, ApiError> {
    let viewer = Viewer::from_request_parts(parts, state).await?;
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|e| bad_tile(e.body_text()))?;
    let Query(query) = Query::<TileQuery>::try_from_uri(&parts.uri).map_err(bad_query)?;
    let [name, z, x, y] = tile_path(&params);
    let headers = &parts.headers;
    let tileset = find(state, name)?;
    let crs = tile_crs_for(&query, tileset)?;
    viewer.check(tileset)?;
    let id = parse_address(z, x, y)?;
    let events = if tileset.is_event_based() {
        Some(query.event_params(tileset, state.clock.now())?)
    } else {
        None
    };
    let cache_control = if viewer.is_known() {
        &state.tile_cache_control.private
    } else {
        &state.tile_cache_control.public
    };
    if !(tileset.minzoom..=tileset.maxzoom).contains(&id.z) {
        return Ok(empty(cache_control));
    }
    let coding = best_encoding(headers);
    let events = events.map(|params| EventTileFilters {
        canonical: params.canonical(),
        query: params.query(&viewer),
    });
    let order = TileOrder {
        tileset,
        id,
        crs,
        scope: &viewer,
        events,
        coding,
    };
    let service = TileService::new(&state.engine, &state.tile_cache, &state.tile_render_costs);
    let cached = service.tile(order).await?;
    Ok(answer(&cached, coding, headers, cache_control))
}

/// A caller's tiles are cut for its jurisdiction and cached under it.
impl TileScope for Viewer {
    fn cache_scope(&self) -> &str {
        self.scope()
    }

    fn covers(&self, code: &str) -> bool {
        Viewer::covers(self, code)
    }
}

/// `OPTIONS` on [`TILE_ROUTE`]: the CORS preflight of a browser that sends a token or an API
/// key header, allowing GET from any origin with the headers it asked for.
pub async fn preflight(headers: HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let out = response.headers_mut();
    allow_any_origin(out);
    insert_static(
        out,
        &[
            (header::ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD, OPTIONS"),
            (header::ACCESS_CONTROL_MAX_AGE, "86400"),
            (header::VARY, "Access-Control-Request-Headers"),
        ],
    );
    // `*` would not cover Authorization (Fetch standard), so the asked headers are echoed.
    if let Some(asked) = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    response
}

/// What the router's permissive CORS layer adds to other answers: any origin may read the
/// answer and all of its headers (tiles carry no cookies, so `*` is allowed).
fn allow_any_origin(headers: &mut HeaderMap) {
    insert_static(
        headers,
        &[
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::ACCESS_CONTROL_EXPOSE_HEADERS, "*"),
        ],
    );
}

/// Sets each header to its fixed value.
fn insert_static(headers: &mut HeaderMap, pairs: &[(header::HeaderName, &'static str)]) {
    for (name, value) in pairs {
        headers.insert(name.clone(), HeaderValue::from_static(value));
    }
}

impl From<TileError> for ApiError {
    fn from(e: TileError) -> ApiError {
        match e {
            TileError::Address(e) => bad_tile(e.to_string()),
            TileError::Zoom { .. } => bad_tile(e.to_string()),
            TileError::Encode { .. } => tile_failed(e.to_string()),
        }
    }
}

impl From<ServeError> for ApiError {
    fn from(e: ServeError) -> ApiError {
        match e {
            ServeError::Tile(e) => e.into(),
            ServeError::Panicked | ServeError::Stopped(_) | ServeError::Compress(_) => {
                tile_failed(e.to_string())
            }
        }
    }
}

fn empty(cache_control: &HeaderValue) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    set_common(response.headers_mut(), cache_control);
    response
}

fn set_common(headers: &mut HeaderMap, cache_control: &HeaderValue) {
    headers.insert(
        header::VARY,
        HeaderValue::from_static("Accept-Encoding, Authorization, X-Api-Key"),
    );
    headers.insert(header::CACHE_CONTROL, cache_control.clone());
}

/// The answer for a tile: 304 when the client holds it, 204 when empty, else the bytes in
/// `coding` (the best the client accepts) when the tile holds that form, identity otherwise.
fn answer(
    tile: &CachedTile,
    coding: Coding,
    request: &HeaderMap,
    cache_control: &HeaderValue,
) -> Response {
    let etag = HeaderValue::from_str(&tile.etag).ok();
    let mut response = if client_has(request, &tile.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else if tile.is_empty() {
        StatusCode::NO_CONTENT.into_response()
    } else {
        let (sent, body) = tile.body(coding);
        let mut r = body.into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(MVT_CONTENT_TYPE),
        );
        if let Some(e) = sent.header() {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(e));
        }
        r
    };
    let headers = response.headers_mut();
    set_common(headers, cache_control);
    if let Some(etag) = etag {
        headers.insert(header::ETAG, etag);
    }
    response
}

/// Whether If-None-Match names this ETag (or `*`); weak forms match too, as RFC 9110 asks.
pub fn client_has(request: &HeaderMap, etag: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/") == etag)
}

/// The preferred encoding the client accepts (q > 0): brotli, then gzip, else identity.
fn best_encoding(request: &HeaderMap) -> Coding {
    let mut brotli = None;
    let mut gzip = None;
    let mut star = None;
    let offers = request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for offer in offers {
        let mut parts = offer.split(';').map(str::trim);
        let name = parts.next().unwrap_or("").to_ascii_lowercase();
        let q = parts
            .find_map(|p| p.strip_prefix("q="))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        match name.as_str() {
            "br" => brotli = Some(q),
            "gzip" | "x-gzip" => gzip = Some(q),
            "*" => star = Some(q),
            _ => {}
        }
    }
    let accepts = |q: Option<f32>| q.or(star).is_some_and(|q| q > 0.0);
    if accepts(brotli) {
        Coding::Brotli
    } else if accepts(gzip) {
        Coding::Gzip
    } else {
        Coding::Identity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).expect("header"));
        h
    }

    #[test]
    fn addresses_are_checked() {
        assert!(parse_address("", "0", "0").is_err());
        assert!(parse_address("30", "0", "0").is_err());
        assert!(parse_address("300", "0", "0").is_err());
        assert!(parse_address("2", "4", "0").is_err());
        assert!(parse_address("2", "1", "1.png").is_err());
        assert!(parse_address("2", "-1", "1").is_err());
        let plain = parse_address("14", "13393", "6532").expect("tile");
        assert_eq!(parse_address("14", "13393", "6532.pbf").ok(), Some(plain));
        assert_eq!(parse_address("14", "13393", "6532.mvt").ok(), Some(plain));
    }

    #[test]
    fn encodings_are_negotiated() {
        assert_eq!(best_encoding(&HeaderMap::new()), Coding::Identity);
        let e = |v| best_encoding(&with(header::ACCEPT_ENCODING, v));
        assert_eq!(e("gzip, deflate, br"), Coding::Brotli);
        assert_eq!(e("gzip"), Coding::Gzip);
        assert_eq!(e("br;q=0, gzip"), Coding::Gzip);
        assert_eq!(e("identity"), Coding::Identity);
        assert_eq!(e("*"), Coding::Brotli);
        assert_eq!(e("*;q=0"), Coding::Identity);
    }

    fn heatmap() -> Tileset {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tiles/tilesets.toml");
        crate::tiles::Tilesets::load(&path)
            .expect("tilesets")
            .get("heatmap")
            .expect("heatmap")
            .clone()
    }

    #[test]
    fn event_filters_have_one_canonical_form() {
        let q = |status: &str, category: &str| TileQuery {
            status: Some(status.into()),
            category: Some(category.into()),
            from: Some("2026-10-01".into()),
            to: Some("2026-10-31".into()),
            ..TileQuery::default()
        };
        let a = q("reported,closed", "0102,0101")
            .event_params(&heatmap(), Utc::now())
            .expect("ok");
        let b = q(" closed,reported,closed", "0101,0102,")
            .event_params(&heatmap(), Utc::now())
            .expect("ok");
        assert_eq!(a.canonical(), b.canonical());
        assert_eq!(
            a.filter.to.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-10-31T16:00:00+00:00"),
            "a day as `to` includes that China Standard Time day"
        );
        let c = q("reported", "0102,0101")
            .event_params(&heatmap(), Utc::now())
            .expect("ok");
        assert_ne!(a.canonical(), c.canonical());
    }

    #[test]
    fn bad_event_filters_are_refused_with_bad_filter() {
        let refused = |q: TileQuery| {
            q.event_params(&heatmap(), Utc::now())
                .expect_err("refused")
                .code
        };
        let status = |s: &str| TileQuery {
            status: Some(s.into()),
            ..TileQuery::default()
        };
        assert_eq!(refused(status("open")), "bad_filter");
        let from = TileQuery {
            from: Some("2026-13-01".into()),
            ..TileQuery::default()
        };
        assert_eq!(refused(from), "bad_filter");
        let bin = TileQuery {
            bin: Some("hexagon".into()),
            ..TileQuery::default()
        };
        assert_eq!(refused(bin), "bad_filter");
        let rfc = TileQuery {
            from: Some("2026-10-01T08:00:00+08:00".into()),
            ..TileQuery::default()
        };
        let p = rfc.event_params(&heatmap(), Utc::now()).expect("ok");
        assert_eq!(
            p.filter.from.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-10-01T00:00:00+00:00")
        );
    }

    #[test]
    fn if_none_match_forms() {
        let tag = "\"3-00ab\"";
        assert!(!client_has(&HeaderMap::new(), tag));
        assert!(client_has(&with(header::IF_NONE_MATCH, "*"), tag));
        assert!(client_has(
            &with(header::IF_NONE_MATCH, "\"x\", W/\"3-00ab\""),
            tag
        ));
        assert!(!client_has(&with(header::IF_NONE_MATCH, "\"3-00ac\""), tag));
    }
}
