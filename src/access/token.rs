//! Bearer tokens: HS256 JWTs naming a principal, made by `gridmap token` and checked on every
//! request that carries one.
//!
//! Demo mode (no secret configured) makes a random secret at start-up, so tokens printed then
//! are valid until the process ends.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::principal::{Principal, Role};
use crate::model::validate_code;

/// The claims of a gridmap token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    /// The jurisdiction: an area code; everything whose code has its prefix is inside.
    pub scope: String,
    /// Missing reads as none, which [`Auth`] refuses ([`VerifyError::NoRoles`]).
    #[serde(default)]
    pub roles: Vec<Role>,
    pub exp: i64,
    pub iat: i64,
}

/// Why a token could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    Scope(String),
    #[error("a token needs at least one role")]
    NoRoles,
    #[error("a token may live at most {MAX_TOKEN_DAYS} days (the service refuses longer ones); use a shorter --ttl")]
    TooLong,
    #[error("cannot sign the token: {0}")]
    Sign(String),
}

/// Why a presented token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Bad signature, expired, not valid yet, malformed, too long-lived or a bad scope.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// A valid token that grants no role, so it may read nothing.
    #[error("this token grants no role, so it may read nothing; ask for a token with a role (viewer, analyst, dispatcher, admin or device)")]
    NoRoles,
}

/// The longest a token may live: the service refuses a token whose `exp` is further ahead, and
/// [`Auth::issue`] does not make one. A leaked token is good until it expires and HS256 tokens
/// cannot be revoked one by one, so "valid for ten years" is refused rather than trusted.
pub const MAX_TOKEN_DAYS: i64 = 365;

/// How many verified tokens [`Auth`] remembers; past this, it forgets them all and starts over
/// (a tile client sends the same token hundreds of times a minute, so the set stays small).
const VERIFIED_TOKENS: usize = 4096;

/// Signs and verifies tokens with one HS256 secret, and remembers the tokens it verified (with
/// their expiry) so that the next request with the same token skips the signature check.
pub struct Auth {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Token → its principal and `exp`; only tokens whose signature and claims checked out.
    verified: RwLock<HashMap<String, Verified>>,
}

/// A token that checked out: who it names and until when (`exp`, seconds since the epoch).
#[derive(Debug, Clone)]
struct Verified {
    principal: Arc<Principal>,
    exp: i64,
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
            validation: validation(),
            verified: RwLock::new(HashMap::new()),
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
        if ttl > chrono::Duration::days(MAX_TOKEN_DAYS) {
            return Err(TokenError::TooLong);
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
    pub fn verify(&self, token: &str) -> Result<Principal, VerifyError> {
        self.verify_shared(token).map(Arc::unwrap_or_clone)
    }

    /// [`Auth::verify`], answered from the tokens verified before while they have not expired
    /// (with the same leeway as the full check), so a client repeating its token pays the
    /// signature check once.
    pub fn verify_shared(&self, token: &str) -> Result<Arc<Principal>, VerifyError> {
        if let Some(principal) = self.remembered(token) {
            return Ok(principal);
        }
        let verified = self.verify_fully(token)?;
        let principal = verified.principal.clone();
        let mut map = self
            .verified
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if map.len() >= VERIFIED_TOKENS {
            map.clear();
        }
        map.insert(token.to_string(), verified);
        Ok(principal)
    }

    /// The principal of a token verified before, unless it has expired since.
    fn remembered(&self, token: &str) -> Option<Arc<Principal>> {
        let map = self.verified.read().unwrap_or_else(PoisonError::into_inner);
        let v = map.get(token)?;
        let leeway = i64::try_from(self.validation.leeway).unwrap_or(i64::MAX);
        (v.exp >= Utc::now().timestamp().saturating_sub(leeway)).then(|| v.principal.clone())
    }

    /// The signature and claims check of `jsonwebtoken` (with `nbf`), an `exp` at most
    /// [`MAX_TOKEN_DAYS`] ahead, the scope's form and at least one role.
    fn verify_fully(&self, token: &str) -> Result<Verified, VerifyError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| VerifyError::Invalid(e.to_string()))?;
        let c = data.claims;
        let leeway = i64::try_from(self.validation.leeway).unwrap_or(0);
        let latest_exp = Utc::now().timestamp() + MAX_TOKEN_DAYS * 86_400 + leeway;
        if c.exp > latest_exp {
            return Err(VerifyError::Invalid(format!(
                "it expires more than {MAX_TOKEN_DAYS} days from now; ask for a token with a shorter lifetime"
            )));
        }
        validate_code(&c.scope)
            .map_err(|e| VerifyError::Invalid(format!("its scope is not an area code: {e}")))?;
        if c.roles.is_empty() {
            return Err(VerifyError::NoRoles);
        }
        Ok(Verified {
            exp: c.exp,
            principal: Arc::new(Principal {
                sub: c.sub,
                scope: c.scope,
                roles: c.roles,
            }),
        })
    }
}

/// What a token must satisfy besides its signature: HS256, not expired and not before its
/// `nbf` (each with `jsonwebtoken`'s leeway of a minute for clock skew).
fn validation() -> Validation {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_nbf = true;
    validation
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
        assert!(matches!(
            auth.verify(&expired),
            Err(VerifyError::Invalid(_))
        ));
    }

    /// A token signed with `secret` holding exactly `claims`.
    fn signed(claims: serde_json::Value) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"secret"),
        )
        .expect("sign")
    }

    #[test]
    fn a_token_not_valid_yet_is_refused() {
        let now = Utc::now().timestamp();
        let claims = |nbf: i64| {
            serde_json::json!({"sub": "x", "scope": "410611", "roles": ["viewer"],
                "iat": now, "exp": now + 7200, "nbf": nbf})
        };
        let auth = Auth::new("secret");
        let early = auth.verify(&signed(claims(now + 3600))).unwrap_err();
        assert!(early.to_string().contains("Immature"), "{early}");
        assert!(auth.verify(&signed(claims(now - 10))).is_ok());
    }

    #[test]
    fn a_token_living_longer_than_the_bound_is_refused_and_not_made() {
        let now = Utc::now().timestamp();
        let claims = |exp: i64| {
            serde_json::json!({"sub": "x", "scope": "410611", "roles": ["viewer"],
                "iat": now, "exp": exp})
        };
        let auth = Auth::new("secret");
        let far = auth
            .verify(&signed(claims(now + 20 * 365 * 86_400)))
            .unwrap_err();
        assert!(far.to_string().contains("365 days"), "{far}");
        assert!(auth
            .verify(&signed(claims(now + MAX_TOKEN_DAYS * 86_400)))
            .is_ok());
        let too_long = chrono::Duration::days(MAX_TOKEN_DAYS + 1);
        assert!(matches!(
            auth.issue("x", "410611", &[Role::Viewer], too_long),
            Err(TokenError::TooLong)
        ));
        let longest = chrono::Duration::days(MAX_TOKEN_DAYS);
        let t = auth
            .issue("x", "410611", &[Role::Viewer], longest)
            .expect("a year is allowed");
        assert!(auth.verify(&t).is_ok());
    }

    #[test]
    fn a_token_without_roles_is_forbidden() {
        let now = Utc::now().timestamp();
        let auth = Auth::new("secret");
        for roles in [serde_json::json!([]), serde_json::Value::Null] {
            let mut claims = serde_json::json!({"sub": "x", "scope": "410611",
                "iat": now, "exp": now + 600});
            if !roles.is_null() {
                claims["roles"] = roles;
            }
            let e = auth.verify_shared(&signed(claims)).unwrap_err();
            assert_eq!(e, VerifyError::NoRoles);
        }
    }

    #[test]
    fn remembered_tokens_still_expire() {
        let auth = Auth::new("secret");
        let t = auth
            .issue("x", "410611", &[Role::Viewer], chrono::Duration::hours(1))
            .expect("token");
        let first = auth.verify_shared(&t).expect("valid");
        let again = auth.verify_shared(&t).expect("remembered");
        assert!(
            Arc::ptr_eq(&first, &again),
            "the second check is answered from memory"
        );
        // An expired memory (here also naming another scope) is not used: the token is
        // checked in full again.
        let past = Utc::now().timestamp() - 61;
        if let Some(v) = auth.verified.write().expect("lock").get_mut(&t) {
            v.exp = past;
            v.principal = Arc::new(Principal {
                scope: "410621".into(),
                ..Principal::clone(&v.principal)
            });
        }
        let checked = auth.verify_shared(&t).expect("valid");
        assert_eq!(checked.scope, "410611");
        let expired = auth
            .issue("x", "410611", &[Role::Viewer], chrono::Duration::hours(-2))
            .expect("token");
        for _ in 0..2 {
            assert!(auth.verify_shared(&expired).is_err(), "never remembered");
        }
        assert!(Auth::new("other").verify_shared(&t).is_err());
    }
}
