//! `GET /assets/{file}`: the wall map's built files (`web/dist`, made by `web/build.mjs` from
//! `web/src` and committed), embedded in the binary so that `serve` needs no npm and the page
//! loads nothing from anywhere but this service.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::error::ApiError;

/// One embedded file: its name under `/assets/`, content type and bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: [Asset; 3] = [
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../web/dist/app.js"),
    },
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../web/dist/app.css"),
    },
    Asset {
        name: "maplibre-gl-worker.mjs",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../web/dist/maplibre-gl-worker.mjs"),
    },
];

/// The ETag of each asset (a prefix of its SHA-256), in [`ASSETS`] order.
fn etags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let digest = Sha256::digest(a.bytes);
                let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
                format!("\"{hex}\"")
            })
            .collect()
    })
}

/// `GET /assets/{file}`: the file, revalidated by ETag on every load (the binary may change
/// under the same name); 404 `unknown_asset` for any other name.
pub async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (asset, etag) = ASSETS
        .iter()
        .zip(etags())
        .find(|(a, _)| a.name == file)
        .ok_or_else(|| ApiError {
            status: StatusCode::NOT_FOUND,
            code: "unknown_asset",
            message: format!(
                "no wall-map file {file:?}; the page loads /assets/app.js and /assets/app.css"
            ),
        })?;
    let tag = HeaderValue::from_str(etag).map_err(|e| ApiError::unavailable(e.to_string()))?;
    let cache = HeaderValue::from_static("no-cache");
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if matches {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, tag), (header::CACHE_CONTROL, cache)],
        )
            .into_response());
    }
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (header::ETAG, tag),
            (header::CACHE_CONTROL, cache),
        ],
        asset.bytes,
    )
        .into_response())
}
