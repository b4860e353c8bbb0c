//! Who is asking: a principal (jurisdiction code + roles) from a bearer JWT (HS256).
//!
//! Demo mode (no secret configured) makes a random secret at start-up, so tokens printed then
//! are valid until the process ends.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::AppState;
use crate::model::{scope_contains, validate_code};

/// A role a principal may hold (DESIGN.md "Surface").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Analyst,
    Dispatcher,
    Admin,
    Device,
}

impl Role {
    /// All roles.
    pub const ALL: [Role; 5] = [
        Role::Viewer,
        Role::Analyst,
        Role::Dispatcher,
        Role::Admin,
        Role::Device,
    ];

    /// The text form used in tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Dispatcher => "dispatcher",
            Role::Admin => "admin",
            Role::Device => "device",
        }
    }

    /// Parses a role name, with the accepted names in the error.
    pub fn parse(s: &str) -> Result<Role, String> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| {
            format!("unknown role {s:?}: expected one of viewer, analyst, dispatcher, admin, device")
        })
    }
}

/// The claims of a gridmap token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    /// The jurisdiction: an area code; everything whose code has its prefix is inside.
    pub scope: String,
    pub roles: Vec<Role>,
    pub exp: i64,
    pub iat: i64,
}

/// The caller of a request, established from its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub sub: String,
    pub scope: String,
    pub roles: Vec<Role>,
}

impl Principal {
    /// Whether `code` is inside this principal's jurisdiction.
    pub fn covers(&self, code: &str) -> bool {
        scope_contains(&self.scope, code)
    }

    /// Ok when `code` is inside the jurisdiction, else the 403 answer.
    pub fn check_scope(&self, code: &str) -> Result<(), ApiError> {
        if self.covers(code) {
            Ok(())
        } else {
            Err(ApiError::out_of_scope(&self.scope, code))
        }
    }

    /// Whether the principal holds `role` (admin holds every role).
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role) || self.roles.contains(&Role::Admin)
    }
}

/// Why a token could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    Scope(String),
    #[error("a token needs at least one role")]
    NoRoles,
    #[error("cannot sign the token: {0}")]
    Sign(String),
}

/// Signs and verifies tokens with one HS256 secret.
#[derive(Clone)]
pub struct Auth {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Auth(HS256)")
    }
}

impl Auth {
    /// Uses the configured secret.
    pub fn new(secret: &str) -> Auth {
        Auth {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
        }
    }

    /// Demo mode: a random secret that lives as long as the process.
    pub fn random() -> Auth {
        Auth::new(&format!("{}{}", uuid::Uuid::new_v4(), uuid::Uuid::new_v4()))
    }

    /// Makes a token for `scope` and `roles` valid for `ttl`.
    pub fn issue(
        &self,
        sub: &str,
        scope: &str,
        roles: &[Role],
        ttl: chrono::Duration,
    ) -> Result<String, TokenError> {
        validate_code(scope).map_err(|e| TokenError::Scope(e.to_string()))?;
        if roles.is_empty() {
            return Err(TokenError::NoRoles);
        }
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: sub.to_string(),
            scope: scope.to_string(),
            roles: roles.to_vec(),
            iat: now,
            exp: now + ttl.num_seconds(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| TokenError::Sign(e.to_string()))
    }

    /// Verifies a token and returns its principal.
    pub fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        let validation = Validation::new(Algorithm::HS256);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|e| ApiError::unauthorized(format!("invalid token: {e}")))?;
        let c = data.claims;
        validate_code(&c.scope)
            .map_err(|e| ApiError::unauthorized(format!("token scope is not an area code: {e}")))?;
        Ok(Principal {
            sub: c.sub,
            scope: c.scope,
            roles: c.roles,
        })
    }
}

/// Parses a duration such as `30d`, `12h`, `15m`, `90s`.
pub fn parse_ttl(s: &str) -> Result<chrono::Duration, String> {
    let s = s.trim();
    let split = s.len().saturating_sub(1);
    let (num, unit) = s.split_at(split);
    let n: i64 = num.parse().map_err(|_| {
        format!("invalid duration {s:?}: expected a number and a unit, like 30d, 12h, 15m or 90s")
    })?;
    match unit {
        "d" => Ok(chrono::Duration::days(n)),
        "h" => Ok(chrono::Duration::hours(n)),
        "m" => Ok(chrono::Duration::minutes(n)),
        "s" => Ok(chrono::Duration::seconds(n)),
        _ => Err(format!("invalid duration unit in {s:?}: use d, h, m or s")),
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::unauthorized("missing Authorization header: send `Authorization: Bearer <token>` (see `gridmap token`)")
            })?;
        let text = header
            .to_str()
            .map_err(|_| ApiError::unauthorized("Authorization header is not ASCII"))?;
        let token = text.strip_prefix("Bearer ").ok_or_else(|| {
            ApiError::unauthorized("Authorization header must be `Bearer <token>`")
        })?;
        state.auth.verify(token.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_parsing() {
        assert!(parse_ttl("").is_err());
        assert!(parse_ttl("d").is_err());
        assert!(parse_ttl("5w").is_err());
        assert_eq!(parse_ttl("30d"), Ok(chrono::Duration::days(30)));
        assert_eq!(parse_ttl("90s"), Ok(chrono::Duration::seconds(90)));
    }

    #[test]
    fn issue_and_verify() {
        let auth = Auth::new("secret");
        assert!(auth
            .issue("x", "4106", &[Role::Admin], chrono::Duration::hours(1))
            .is_err());
        assert!(auth
            .issue("x", "410611", &[], chrono::Duration::hours(1))
            .is_err());
        let t = auth
            .issue("x", "410611", &[Role::Viewer], chrono::Duration::hours(1))
            .expect("token");
        let p = auth.verify(&t).expect("valid");
        assert_eq!(p.scope, "410611");
        assert!(p.covers("410611001001001"));
        assert!(!p.covers("410621001"));
        assert!(Auth::new("other").verify(&t).is_err());
        let expired = auth
            .issue("x", "410611", &[Role::Viewer], chrono::Duration::hours(-2))
            .expect("token");
        assert_eq!(
            auth.verify(&expired).map_err(|e| e.code),
            Err("unauthorized")
        );
    }
}
