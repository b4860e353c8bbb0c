//! Vector tiles over HTTP: the catalog (`/tiles`), TileJSON 3.0.0 per tileset
//! (`/tiles/{tileset}`) and the tiles themselves (`/tiles/{tileset}/{z}/{x}/{y}[.pbf|.mvt]`).
//!
//! The rules: anonymous callers read public tilesets only; a token's scope filters the features
//! of every tile it asks for, and the cache keys tiles by that scope. An empty tile, and a zoom
//! outside the tileset's range, answer 204 (MapLibre then draws nothing, without an error). Tiles
//! are compressed once, when cached; the answer picks brotli, gzip or identity from
//! Accept-Encoding and carries a strong ETag of the uncompressed bytes. `?crs=gcj02` serves the
//! same tiles in the GCJ-02 grid (for AMap/Tencent basemaps), cached apart from the plain ones.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use geo_types::Rect;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Principal;
use super::base_url::base_url;
use super::error::ApiError;
use super::AppState;
use crate::engine::Snapshot;
use crate::model::Level;
use crate::tiles::cache::{CachedTile, Lookup, TileAddr, PUBLIC_SCOPE};
use crate::tiles::tile_id::TILE_CRS_ACCEPTED;
use crate::tiles::tilejson::{city_bounds, vector_layers};
use crate::tiles::{render_tile_in, TileCrs, TileError, TileId, Tileset};

/// The media type of Mapbox Vector Tiles.
pub const MVT_CONTENT_TYPE: &str = "application/vnd.mapbox-vector-tile";

/// `Cache-Control` values of tile answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileCacheControl {
    /// For anonymous requests of public tilesets.
    pub public: String,
    /// For requests with a token (the tile depends on its scope).
    pub private: String,
}

impl TileCacheControl {
    /// Answers browsers and proxies may keep for `max_age_s` seconds.
    pub fn with_max_age(max_age_s: u32) -> TileCacheControl {
        TileCacheControl {
            public: format!("public, max-age={max_age_s}"),
            private: format!("private, max-age={max_age_s}"),
        }
    }
}

/// The caller of a tile request: anonymous when no Authorization header is sent; a header that
/// does not hold a valid token is refused (401), never treated as anonymous.
#[derive(Debug, Clone)]
pub struct Viewer(pub Option<Principal>);

impl FromRequestParts<AppState> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if !parts.headers.contains_key(header::AUTHORIZATION) {
            return Ok(Viewer(None));
        }
        Principal::from_request_parts(parts, state)
            .await
            .map(|p| Viewer(Some(p)))
    }
}

impl Viewer {
    /// The cache scope: the jurisdiction code, or `public` for anonymous callers.
    fn scope(&self) -> String {
        self.0
            .as_ref()
            .map_or_else(|| PUBLIC_SCOPE.to_string(), |p| p.scope.clone())
    }

    /// Ok when the caller may read `tileset`.
    fn check(&self, tileset: &Tileset) -> Result<(), ApiError> {
        if tileset.public || self.0.is_some() {
            Ok(())
        } else {
            Err(ApiError::unauthorized(format!(
                "tileset {} is not public: send `Authorization: Bearer <token>`",
                tileset.name
            )))
        }
    }
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
}

impl TileQuery {
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
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let base = base_url(state.public_url.as_deref(), &headers)?;
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
                "tilejson": format!("{base}/tiles/{}", t.name),
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
    Query(query): Query<TileQuery>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let crs = query.tile_crs()?;
    let tileset = find(&state, &name)?;
    viewer.check(tileset)?;
    let base = base_url(state.public_url.as_deref(), &headers)?;
    let snapshot = state.engine.snapshot();
    let bounds = city_bounds(&snapshot);
    let (clon, clat) = city_center(&snapshot, bounds);
    let (clon, clat) = crs.shift(clon, clat);
    let center_zoom = 12u8.clamp(tileset.minzoom, tileset.maxzoom);
    let bounds = bounds.map_or(json!([-180.0, -85.051_129, 180.0, 85.051_129]), |b| {
        let (west, south) = crs.shift(b.min().x, b.min().y);
        let (east, north) = crs.shift(b.max().x, b.max().y);
        json!([west, south, east, north])
    });
    let suffix = match crs {
        TileCrs::Wgs84 => String::new(),
        TileCrs::Gcj02 => format!("?crs={}", crs.name()),
    };
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
fn parse_address(z: &str, x: &str, y: &str) -> Result<TileId, ApiError> {
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

/// `GET /tiles/{tileset}/{z}/{x}/{y}[.pbf|.mvt]`: one vector tile for the caller's scope.
pub async fn tile(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((name, z, x, y)): Path<(String, String, String, String)>,
    Query(query): Query<TileQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let crs = query.tile_crs()?;
    let tileset = find(&state, &name)?;
    viewer.check(tileset)?;
    let id = parse_address(&z, &x, &y)?;
    let cache_control = if viewer.0.is_some() {
        state.tile_cache_control.private.clone()
    } else {
        state.tile_cache_control.public.clone()
    };
    if !(tileset.minzoom..=tileset.maxzoom).contains(&id.z) {
        return Ok(empty(&cache_control));
    }
    let cached = cached_tile(&state, &viewer, tileset, id, crs).await?;
    Ok(answer(&cached, &headers, &cache_control))
}

/// The tile from the cache, or rendered (off the async threads) and stored.
async fn cached_tile(
    state: &AppState,
    viewer: &Viewer,
    tileset: &Tileset,
    id: TileId,
    crs: TileCrs,
) -> Result<Arc<CachedTile>, ApiError> {
    let addr = TileAddr {
        tileset: tileset.name.clone(),
        z: id.z,
        x: id.x,
        y: id.y,
        scope: viewer.scope(),
        crs,
    };
    let ticket = match state.tile_cache.lookup(&addr) {
        Lookup::Hit(tile) => return Ok(tile),
        Lookup::Miss(ticket) => ticket,
    };
    let snapshot = state.engine.snapshot();
    let tileset = tileset.clone();
    let principal = viewer.0.clone();
    let rendered = tokio::task::spawn_blocking(move || {
        let in_scope = |code: &str| principal.as_ref().is_none_or(|p| p.covers(code));
        let raw = render_tile_in(&snapshot, &tileset, id.z, id.x, id.y, &in_scope, crs)?;
        CachedTile::encode(raw.bytes).map_err(|e| tile_failed(format!("cannot compress: {e}")))
    })
    .await
    .map_err(|e| tile_failed(format!("tile rendering stopped: {e}")))??;
    let tile = Arc::new(rendered);
    state.tile_cache.store(ticket, tile.clone());
    Ok(tile)
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

fn empty(cache_control: &str) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    set_common(response.headers_mut(), cache_control);
    response
}

fn set_common(headers: &mut HeaderMap, cache_control: &str) {
    headers.insert(
        header::VARY,
        HeaderValue::from_static("Accept-Encoding, Authorization"),
    );
    if let Ok(v) = HeaderValue::from_str(cache_control) {
        headers.insert(header::CACHE_CONTROL, v);
    }
}

/// The answer for a tile: 304 when the client holds it, 204 when empty, else the bytes in the
/// best encoding the client accepts.
fn answer(tile: &CachedTile, request: &HeaderMap, cache_control: &str) -> Response {
    let etag = HeaderValue::from_str(&tile.etag).ok();
    let mut response = if client_has(request, &tile.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else if tile.is_empty() {
        StatusCode::NO_CONTENT.into_response()
    } else {
        let (encoding, body): (Option<&'static str>, Bytes) = match best_encoding(request) {
            Encoding::Brotli => (Some("br"), tile.brotli.clone()),
            Encoding::Gzip => (Some("gzip"), tile.gzip.clone()),
            Encoding::Identity => (None, tile.identity.clone()),
        };
        let mut r = body.into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(MVT_CONTENT_TYPE),
        );
        if let Some(e) = encoding {
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
fn client_has(request: &HeaderMap, etag: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/") == etag)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

/// The preferred encoding the client accepts (q > 0): brotli, then gzip, else identity.
fn best_encoding(request: &HeaderMap) -> Encoding {
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
        Encoding::Brotli
    } else if accepts(gzip) {
        Encoding::Gzip
    } else {
        Encoding::Identity
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
        assert_eq!(best_encoding(&HeaderMap::new()), Encoding::Identity);
        let e = |v| best_encoding(&with(header::ACCEPT_ENCODING, v));
        assert_eq!(e("gzip, deflate, br"), Encoding::Brotli);
        assert_eq!(e("gzip"), Encoding::Gzip);
        assert_eq!(e("br;q=0, gzip"), Encoding::Gzip);
        assert_eq!(e("identity"), Encoding::Identity);
        assert_eq!(e("*"), Encoding::Brotli);
        assert_eq!(e("*;q=0"), Encoding::Identity);
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
