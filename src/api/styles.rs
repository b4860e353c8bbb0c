//! `GET /styles/{name}`: the MapLibre styles of `tiles/styles/` (dark for the command-center
//! wall map, light for desks), with their source and glyph URLs made absolute for the caller.
//!
//! The templates are embedded at build time; each holds the placeholder [`BASE_PLACEHOLDER`]
//! where the service's base URL goes (config `public_url`, else the proxy's
//! `X-Forwarded-Proto`/`X-Forwarded-Host`, else the `Host` header), so
//! `sources.boundaries.url` becomes `<base>/tiles/boundaries` (the TileJSON of that tileset).
//! A style asked for with `?key=` (an API key) hands the key on in every source URL.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::base_url::base_url;
use super::error::ApiError;
use super::tiles::query_suffix;
use super::viewer::Viewer;
use super::AppState;

/// What the templates hold where the absolute base URL of the service goes.
pub const BASE_PLACEHOLDER: &str = "{base_url}";

/// The styles served, by name, with their templates.
const TEMPLATES: &[(&str, &str)] = &[
    ("dark", include_str!("../../tiles/styles/dark.json")),
    ("light", include_str!("../../tiles/styles/light.json")),
];

/// The names of the styles served, in catalog order.
pub fn style_names() -> Vec<&'static str> {
    TEMPLATES.iter().map(|(name, _)| *name).collect()
}

/// The style `name` with `base` (scheme, host and optional path, no trailing slash) in place of
/// the placeholder; `None` for an unknown name. `base` is JSON-escaped, so any header value
/// gives valid JSON.
pub fn render(name: &str, base: &str) -> Option<String> {
    let (_, template) = TEMPLATES.iter().find(|(n, _)| *n == name)?;
    let quoted = serde_json::Value::String(base.to_string()).to_string();
    let escaped = &quoted[1..quoted.len() - 1];
    Some(template.replace(BASE_PLACEHOLDER, escaped))
}

/// The satellite basemap as a style lists it: its tile URL template and deepest zoom.
struct SatelliteSource {
    tiles: String,
    maxzoom: u8,
}

/// The style with `suffix` (a query such as `?key=…`) added to every source's TileJSON URL,
/// so a map embedded with an API key fetches its TileJSON, and through it its tiles, with it;
/// and, when a satellite basemap is configured, its raster source with the layer `satellite`
/// just above the background, hidden until a client shows it.
fn finish(
    style: String,
    suffix: &str,
    satellite: Option<SatelliteSource>,
) -> Result<String, ApiError> {
    if suffix.is_empty() && satellite.is_none() {
        return Ok(style);
    }
    let mut value: serde_json::Value = serde_json::from_str(&style).map_err(|e| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: "style_failed",
        message: format!("style template is not JSON: {e}"),
    })?;
    if let Some(sources) = value["sources"].as_object_mut() {
        for source in sources.values_mut() {
            if let Some(url) = source["url"].as_str() {
                source["url"] = serde_json::Value::String(format!("{url}{suffix}"));
            }
        }
        if let Some(s) = &satellite {
            sources.insert(
                "satellite".into(),
                serde_json::json!({
                    "type": "raster",
                    "tiles": [format!("{}{suffix}", s.tiles)],
                    "tileSize": 256,
                    "maxzoom": s.maxzoom,
                    "attribution": "卫星影像 © 天地图"
                }),
            );
        }
    }
    if satellite.is_some() {
        if let Some(layers) = value["layers"].as_array_mut() {
            let above_background = layers
                .iter()
                .position(|l| l["type"] == "background")
                .map_or(0, |i| i + 1);
            layers.insert(
                above_background,
                serde_json::json!({
                    "id": "satellite", "type": "raster", "source": "satellite",
                    "layout": {"visibility": "none"}
                }),
            );
        }
    }
    Ok(value.to_string())
}

fn unknown_style(name: &str) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: "unknown_style",
        message: format!(
            "no style named {name:?}; the styles are {}",
            style_names().join(", ")
        ),
    }
}

/// `GET /styles/{name}`: the style as `application/json`, or 404 `unknown_style`.
pub async fn style(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let base = base_url(state.public_url.as_deref(), &headers)?;
    let style = render(&name, &base).ok_or_else(|| unknown_style(&name))?;
    let satellite = state.satellite.as_ref().map(|proxy| SatelliteSource {
        tiles: format!("{base}{}", super::satellite::SATELLITE_ROUTE),
        maxzoom: proxy.maxzoom(),
    });
    let body = finish(style, &query_suffix(&viewer.url_params()), satellite)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_style_renders_nothing() {
        assert_eq!(render("neon", "http://x"), None);
    }

    #[test]
    fn a_quote_in_the_base_still_gives_valid_json() {
        for name in style_names() {
            let text = render(name, "http://a\"b").expect("known style");
            let style: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
            assert_eq!(
                style["sources"]["boundaries"]["url"],
                "http://a\"b/tiles/boundaries"
            );
            assert!(!text.contains(BASE_PLACEHOLDER));
        }
    }
}
