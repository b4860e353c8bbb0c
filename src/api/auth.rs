//! The HTTP side of who is asking: a handler that names [`Principal`] gets the principal of the
//! request's bearer token (see [`crate::access`] for tokens themselves).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::error::ApiError;
use super::AppState;
use crate::access::Principal;

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        bearer(parts, state).map(Arc::unwrap_or_clone)
    }
}

/// The principal of the request's bearer token (401 when missing, malformed or invalid).
pub fn bearer(parts: &Parts, state: &AppState) -> Result<Arc<Principal>, ApiError> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::unauthorized("missing Authorization header: send `Authorization: Bearer <token>` (see `gridmap token`)")
        })?;
    let text = header
        .to_str()
        .map_err(|_| ApiError::unauthorized("Authorization header is not ASCII"))?;
    let token = text
        .strip_prefix("Bearer ")
        .ok_or_else(|| ApiError::unauthorized("Authorization header must be `Bearer <token>`"))?;
    Ok(state.auth.verify_shared(token.trim())?)
}
