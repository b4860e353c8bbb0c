//! `GET /rasters/satellite/{z}/{x}/{y}`: the satellite basemap (Tianditu imagery by default),
//! fetched by the service with its key (`tiles::satellite`) for callers with a token or an API
//! key. The dark and light styles list it as the hidden layer `satellite` when it is
//! configured; without a `[satellite]` table the route answers 404 `not_configured`.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::tiles::parse_address;
use super::viewer::Viewer;
use super::AppState;

/// How long browsers may keep an imagery tile (a day: imagery changes yearly).
const MAX_AGE: HeaderValue = HeaderValue::from_static("private, max-age=86400");

/// The route of the proxied tiles, as the styles link them.
pub const SATELLITE_ROUTE: &str = "/rasters/satellite/{z}/{x}/{y}";

/// `GET /rasters/satellite/{z}/{x}/{y}`: one imagery tile as the upstream sent it.
pub async fn tile(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((z, x, y)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    if viewer.principal.is_none() {
        return Err(ApiError::unauthorized(
            "satellite tiles need a token (Authorization: Bearer) or an API key (?key=)",
        ));
    }
    let Some(proxy) = state.satellite.as_ref() else {
        return Err(ApiError {
            status: StatusCode::NOT_FOUND,
            code: "not_configured",
            message: "no satellite basemap is configured: add a [satellite] table with the Tianditu key to the config file".into(),
        });
    };
    let raster = proxy.tile(parse_address(&z, &x, &y)?).await?;
    let content_type = HeaderValue::from_str(&raster.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, MAX_AGE),
        ],
        raster.bytes,
    )
        .into_response())
}
