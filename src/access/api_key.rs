//! API keys: long-lived, read-only credentials for tile URLs embedded in other apps, where a
//! short-lived bearer token cannot be refreshed (a `<script>` on an intranet portal, a
//! dashboard screen). A key is sent as `?key=` or `X-Api-Key`, reads tilesets, TileJSON and
//! styles within its jurisdiction, and nothing else: the data API still needs a token.
//!
//! The config file holds only each key's SHA-256 (`gridmap api-key` prints a new key and its
//! entry), so a leaked config does not leak keys. A key may be tied to the web origins allowed
//! to embed it: a browser request must then carry a matching `Origin` or `Referer`.

use std::collections::HashMap;

use http::{header, HeaderMap};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::principal::{Principal, Role};
use crate::config::ApiKeyConfig;
use crate::model::validate_code;

/// What one key grants.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Grant {
    name: String,
    scope: String,
    origins: Vec<String>,
}

/// The configured API keys, by the hex SHA-256 of the key.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    by_hash: HashMap<String, Grant>,
}

/// Why the configured keys are unusable.
#[derive(Debug, thiserror::Error)]
pub enum ApiKeyConfigError {
    #[error("api_key {name:?}: sha256 must be 64 hex digits (as printed by `gridmap api-key`)")]
    Hash { name: String },
    #[error("api_key {name:?}: {message}")]
    Scope { name: String, message: String },
    #[error("api_key {name:?}: origin {origin:?} must be a scheme and host such as https://portal.example.gov.cn")]
    Origin { name: String, origin: String },
    #[error("api_key {name:?} has the same sha256 as api_key {other:?}")]
    Duplicate { name: String, other: String },
}

/// Why a presented key is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No configured key has this hash.
    #[error("this API key is not known to the service; ask its administrator for a key (gridmap api-key)")]
    Unknown,
    /// The key is tied to origins and the request came from none of them.
    #[error(
        "API key {name:?} may be used only from {allowed} (this request came from {came_from})"
    )]
    Origin {
        name: String,
        allowed: String,
        came_from: String,
    },
}

impl ApiKeys {
    /// Checks and indexes the configured keys.
    pub fn new(configured: &[ApiKeyConfig]) -> Result<ApiKeys, ApiKeyConfigError> {
        let mut by_hash: HashMap<String, Grant> = HashMap::new();
        for k in configured {
            let hash = k.sha256.trim().to_ascii_lowercase();
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ApiKeyConfigError::Hash {
                    name: k.name.clone(),
                });
            }
            validate_code(&k.scope).map_err(|e| ApiKeyConfigError::Scope {
                name: k.name.clone(),
                message: e.to_string(),
            })?;
            let origins = k
                .origins
                .iter()
                .map(|o| normalized_origin(o))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| ApiKeyConfigError::Origin {
                    name: k.name.clone(),
                    origin: k.origins.join(", "),
                })?;
            let grant = Grant {
                name: k.name.clone(),
                scope: k.scope.clone(),
                origins,
            };
            if let Some(other) = by_hash.insert(hash, grant) {
                return Err(ApiKeyConfigError::Duplicate {
                    name: k.name.clone(),
                    other: other.name,
                });
            }
        }
        Ok(ApiKeys { by_hash })
    }

    /// The principal a presented key stands for: a viewer in the key's jurisdiction. Refused
    /// for a key that is not configured, and when the key is tied to origins and the request
    /// (its `Origin` or `Referer` header) comes from none of them.
    pub fn principal(&self, key: &str, headers: &HeaderMap) -> Result<Principal, KeyError> {
        let grant = self.by_hash.get(&key_hash(key)).ok_or(KeyError::Unknown)?;
        if !grant.origins.is_empty() {
            let origin = request_origin(headers);
            if !origin.as_ref().is_some_and(|o| grant.origins.contains(o)) {
                return Err(KeyError::Origin {
                    name: grant.name.clone(),
                    allowed: grant.origins.join(", "),
                    came_from: origin.unwrap_or_else(|| "no Origin or Referer".into()),
                });
            }
        }
        Ok(Principal {
            sub: format!("key:{}", grant.name),
            scope: grant.scope.clone(),
            roles: vec![Role::Viewer],
        })
    }
}

/// The hex SHA-256 of a key, as the config file holds it.
pub fn key_hash(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new random key: 32 bytes of the OS generator as 64 hex digits, prefixed so it is
/// recognisable in logs and secret scanners.
pub fn new_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("gmk_{hex}")
}

/// `scheme://host[:port]` in lower case, without path; `None` when `url` has no such part.
fn normalized_origin(url: &str) -> Option<String> {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    let scheme_ok = !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric());
    (scheme_ok && !host.is_empty()).then(|| format!("{scheme}://{host}").to_ascii_lowercase())
}

/// The web origin a browser request comes from: `Origin`, else the origin of `Referer`.
fn request_origin(headers: &HeaderMap) -> Option<String> {
    [header::ORIGIN, header::REFERER]
        .iter()
        .filter_map(|h| headers.get(h)?.to_str().ok())
        .find_map(normalized_origin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn keys(origins: &[&str]) -> (String, ApiKeys) {
        let key = new_key();
        let configured = ApiKeyConfig {
            name: "portal".into(),
            sha256: key_hash(&key),
            scope: "410611".into(),
            origins: origins.iter().map(|o| o.to_string()).collect(),
        };
        (key, ApiKeys::new(&[configured]).expect("valid keys"))
    }

    fn with(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn a_known_key_is_a_viewer_in_its_scope() {
        let (key, keys) = keys(&[]);
        let p = keys.principal(&key, &HeaderMap::new()).expect("known key");
        assert_eq!(p.scope, "410611");
        assert_eq!(p.roles, vec![Role::Viewer]);
        assert_eq!(p.sub, "key:portal");
    }

    #[test]
    fn an_unknown_key_is_refused() {
        let (_, keys) = keys(&[]);
        let e = keys.principal("gmk_nope", &HeaderMap::new()).unwrap_err();
        assert_eq!(e, KeyError::Unknown);
    }

    #[test]
    fn an_origin_bound_key_needs_its_origin() {
        let (key, keys) = keys(&["https://Portal.example/"]);
        assert!(keys
            .principal(&key, &with(header::ORIGIN, "https://portal.example"))
            .is_ok());
        assert!(keys
            .principal(
                &key,
                &with(header::REFERER, "https://portal.example/map?a=1")
            )
            .is_ok());
        for h in [
            with(header::ORIGIN, "https://evil.example"),
            with(header::REFERER, "http://portal.example/"),
            HeaderMap::new(),
        ] {
            let e = keys.principal(&key, &h).unwrap_err();
            assert!(matches!(e, KeyError::Origin { .. }), "{e}");
        }
    }

    #[test]
    fn bad_config_entries_are_named() {
        let entry = |sha256: &str, scope: &str, origin: &str| ApiKeyConfig {
            name: "k".into(),
            sha256: sha256.into(),
            scope: scope.into(),
            origins: vec![origin.into()],
        };
        let good = key_hash("x");
        assert!(ApiKeys::new(&[entry("abc", "410611", "https://a")]).is_err());
        assert!(ApiKeys::new(&[entry(&good, "41x", "https://a")]).is_err());
        assert!(ApiKeys::new(&[entry(&good, "410611", "portal.example")]).is_err());
        let twice = [
            entry(&good, "410611", "https://a"),
            entry(&good, "410600", "https://b"),
        ];
        assert!(matches!(
            ApiKeys::new(&twice),
            Err(ApiKeyConfigError::Duplicate { .. })
        ));
    }
}
