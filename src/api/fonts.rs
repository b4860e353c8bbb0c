//! `GET /fonts/{fontstack}/{range}.pbf`: the SDF glyphs MapLibre draws labels with (the styles'
//! `glyphs` URL). The glyph sets are made and cached by [`crate::glyphs`]; this handler
//! checks the address, answers 304 to a client holding the ETag, and marks the answer public and
//! long-lived (fonts change only when the server's font packages do). The route carries a
//! compression layer (see the router), so gzip or brotli is sent when accepted.

use axum::extract::{Path, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::tiles::client_has;
use super::AppState;
use crate::glyphs::{GlyphError, GlyphRange, GlyphSet};

/// The media type of glyph ranges.
pub const GLYPHS_CONTENT_TYPE: &str = "application/x-protobuf";

/// `Cache-Control` of glyph answers: a week, shared caches included.
pub const GLYPHS_CACHE_CONTROL: &str = "public, max-age=604800";

impl From<GlyphError> for ApiError {
    fn from(e: GlyphError) -> ApiError {
        match e {
            GlyphError::BadRange(_) => ApiError::bad_request("bad_glyph_range", e.to_string()),
            GlyphError::LongStack(_) => ApiError::bad_request("bad_fontstack", e.to_string()),
            GlyphError::UnknownFont { .. } => ApiError {
                status: StatusCode::NOT_FOUND,
                code: "unknown_font",
                message: e.to_string(),
            },
            GlyphError::Unreadable { .. } | GlyphError::Render { .. } => ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "glyphs_failed",
                message: e.to_string(),
            },
        }
    }
}

/// `GET /fonts/{fontstack}/{range}.pbf` (the `.pbf` suffix is optional): the glyph protobuf, 400
/// `bad_glyph_range` for a range that is not an aligned block of 256 code points, 400
/// `bad_fontstack` for a stack of more than four fonts, 404 `unknown_font` when a name of the
/// stack is not an installed font.
pub async fn glyphs(
    State(state): State<AppState>,
    Path((fontstack, range)): Path<(String, String)>,
    request: HeaderMap,
) -> Result<Response, ApiError> {
    let range = GlyphRange::parse(range.strip_suffix(".pbf").unwrap_or(&range))?;
    let store = state.glyphs.clone();
    let set = tokio::task::spawn_blocking(move || store.range(&fontstack, range))
        .await
        .map_err(|e| ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "glyphs_failed",
            message: format!("glyph rendering stopped: {e}"),
        })??;
    Ok(answer(&set, &request))
}

/// 304 when the client holds the ETag, else the bytes; both with the caching headers.
fn answer(set: &GlyphSet, request: &HeaderMap) -> Response {
    let mut response = if client_has(request, &set.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = set.bytes.clone().into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(GLYPHS_CONTENT_TYPE),
        );
        r
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(GLYPHS_CACHE_CONTROL),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Ok(etag) = HeaderValue::from_str(&set.etag) {
        headers.insert(header::ETAG, etag);
    }
    response
}
