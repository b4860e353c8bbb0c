//! The caller of a map request (tiles, TileJSON, styles): anonymous, a bearer token, or an API
//! key (`?key=` or `X-Api-Key`, see [`crate::access::api_key`]). A credential that does not check out
//! is refused (401/403), never treated as anonymous; nor is a query naming `key` twice (400).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Uri};

use super::auth::bearer;
use super::error::ApiError;
use super::AppState;
use crate::access::Principal;
use crate::tiles::cache::PUBLIC_SCOPE;
use crate::tiles::Tileset;

/// The header an API key may be sent in (instead of `?key=`).
pub const API_KEY_HEADER: &str = "x-api-key";

/// Who asks for a map resource, and the key to carry into the URLs handed back when the key
/// came in the URL (a browser fetching TileJSON, then tiles, can send no header).
#[derive(Debug, Clone, Default)]
pub struct Viewer {
    pub principal: Option<Arc<Principal>>,
    pub url_key: Option<String>,
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            return Ok(Viewer {
                principal: Some(bearer(parts, state)?),
                url_key: None,
            });
        }
        let url_key = url_key(&parts.uri)?.filter(|k| !k.is_empty());
        let header_key = parts
            .headers
            .get(API_KEY_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let Some(key) = header_key.clone().or_else(|| url_key.clone()) else {
            return Ok(Viewer::default());
        };
        let principal = state.api_keys.principal(&key, &parts.headers)?;
        Ok(Viewer {
            principal: Some(Arc::new(principal)),
            url_key: if header_key.is_some() { None } else { url_key },
        })
    }
}

/// The `key` parameter of the query, if any; 400 `repeated_key` when it is given more than
/// once (which key would be meant is a guess, and guessing "none" served anonymous answers).
fn url_key(uri: &Uri) -> Result<Option<String>, ApiError> {
    let query = uri.query().unwrap_or_default();
    let mut keys = form_urlencoded::parse(query.as_bytes()).filter(|(name, _)| name == "key");
    let first = keys.next().map(|(_, value)| value.into_owned());
    if keys.next().is_some() {
        return Err(ApiError::bad_request(
            "repeated_key",
            "the query names `key` more than once; send one API key",
        ));
    }
    Ok(first)
}

impl Viewer {
    /// The cache scope: the jurisdiction code, or `public` for anonymous callers.
    pub fn scope(&self) -> &str {
        self.principal
            .as_ref()
            .map_or(PUBLIC_SCOPE, |p| p.scope.as_str())
    }

    /// Whether the caller holds a credential (its answers depend on its scope).
    pub fn is_known(&self) -> bool {
        self.principal.is_some()
    }

    /// Whether `code` is inside what the caller may see (anonymous callers see all of a public
    /// tileset).
    pub fn covers(&self, code: &str) -> bool {
        self.principal.as_ref().is_none_or(|p| p.covers(code))
    }

    /// Ok when the caller may read `tileset`.
    pub fn check(&self, tileset: &Tileset) -> Result<(), ApiError> {
        if tileset.public || self.is_known() {
            Ok(())
        } else {
            Err(ApiError::unauthorized(format!(
                "tileset {} is not public: send `Authorization: Bearer <token>`, or an API key as ?key= or X-Api-Key",
                tileset.name
            )))
        }
    }

    /// `(name, value)` pairs to add to the query of URLs handed back to this caller.
    pub fn url_params(&self) -> Vec<(&'static str, String)> {
        self.url_key.iter().map(|k| ("key", k.clone())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(uri: &str) -> Result<Option<String>, &'static str> {
        url_key(&uri.parse().expect("uri")).map_err(|e| e.code)
    }

    #[test]
    fn the_key_parameter_is_read_once() {
        assert_eq!(key_of("/tiles/boundaries"), Ok(None));
        assert_eq!(key_of("/tiles/boundaries?x=1"), Ok(None));
        assert_eq!(
            key_of("/tiles/boundaries?key=a%2Bb"),
            Ok(Some("a+b".into()))
        );
        assert_eq!(key_of("/t?key=a&key=b"), Err("repeated_key"));
        assert_eq!(key_of("/t?key=a&key="), Err("repeated_key"));
        assert_eq!(key_of("/t?key=&key=a"), Err("repeated_key"));
    }
}
