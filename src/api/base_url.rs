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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).expect("header value"));
        }
        map
    }
    #[test]
    fn no_host_at_all_means_localhost() {
        assert_eq!(
            base_url(None, &HeaderMap::new()),
            Ok("http://localhost".to_string())
        );
        assert_eq!(
            base_url(Some("  "), &headers(&[("host", "")])),
            Ok("http://localhost".to_string())
        );
    }

    #[test]
    fn odd_scheme_or_host_is_a_bad_header() {
        let h = headers(&[("host", "a.example"), ("x-forwarded-proto", "javascript")]);
        assert_eq!(base_url(None, &h).map_err(|e| e.code), Err("bad_header"));
        let h = headers(&[("x-forwarded-host", "a.example/evil?")]);
        assert_eq!(base_url(None, &h).map_err(|e| e.code), Err("bad_header"));
    }

    #[test]
    fn public_url_wins_and_loses_its_trailing_slash() {
        let h = headers(&[("host", "10.0.0.1:8080"), ("x-forwarded-host", "a.example")]);
        assert_eq!(
            base_url(Some("https://maps.example.gov.cn/gridmap/"), &h),
            Ok("https://maps.example.gov.cn/gridmap".to_string())
        );
    }

    #[test]
    fn forwarded_headers_take_their_first_value() {
        let h = headers(&[
            ("host", "10.0.0.1:8080"),
            ("x-forwarded-proto", "https, http"),
            ("x-forwarded-host", "maps.example.gov.cn, proxy.local"),
        ]);
        assert_eq!(
            base_url(None, &h),
            Ok("https://maps.example.gov.cn".to_string())
        );
    }

    #[test]
    fn host_header_alone_means_plain_http() {
        let h = headers(&[("host", "127.0.0.1:3000")]);
        assert_eq!(base_url(None, &h), Ok("http://127.0.0.1:3000".to_string()));
    }
}
