//! The absolute base URL of the service as a client sees it, for links in TileJSON and styles.

use axum::http::{header, HeaderMap};

use super::error::ApiError;

/// The absolute base URL clients reach the service at: the configured `public_url` when set,
/// else the first value of `X-Forwarded-Proto` and `X-Forwarded-Host` (behind a proxy), else
/// `http://` and the `Host` header (`localhost` without one) (used by the TileJSON
/// of `api::tiles` and the styles of `api::styles`). A scheme other than http(s) or a malformed host is a 400 `bad_header`.
pub fn base_url(public_url: Option<&str>, headers: &HeaderMap) -> Result<String, ApiError> {
    if let Some(url) = public_url.map(str::trim).filter(|u| !u.is_empty()) {
        return Ok(url.trim_end_matches('/').to_string());
    }
    let first = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let scheme = first("x-forwarded-proto").unwrap_or("http");
    let host = first("x-forwarded-host")
        .or_else(|| first(header::HOST.as_str()))
        .unwrap_or("localhost");
    if !matches!(scheme, "http" | "https") {
        return Err(ApiError::bad_request(
            "bad_header",
            format!("X-Forwarded-Proto {scheme:?} is not http or https"),
        ));
    }
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c))
    {
        return Err(ApiError::bad_request(
            "bad_header",
            format!("host {host:?} is not a valid host name"),
        ));
    }
    Ok(format!("{scheme}://{host}"))
}
