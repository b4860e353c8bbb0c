//! The one place errors become HTTP answers: `{"error": {"code": "...", "message": "..."}}`
//! with a stable code a client can branch on and a message a person can act on.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::access::{KeyError, OutOfScope, VerifyError};

/// An error answer of the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    /// A 400 with a stable code naming what was wrong.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
        }
    }

    /// A 404 for a resource that does not exist.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: message.into(),
        }
    }

    /// A 401: no or an invalid credential.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: message.into(),
        }
    }

    /// A 403 for a resource outside the caller's jurisdiction.
    pub fn out_of_scope(scope: &str, code: &str) -> ApiError {
        ApiError::from(OutOfScope {
            scope: scope.to_string(),
            code: code.to_string(),
        })
    }

    /// A 403 for a role that may not do this.
    pub fn forbidden_role(needed: &str) -> ApiError {
        ApiError {
            status: StatusCode::FORBIDDEN,
            code: "forbidden_role",
            message: format!("this request needs the role {needed}"),
        }
    }

    /// A 503 while the service cannot answer (store down, not loaded yet).
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "unavailable",
            message: message.into(),
        }
    }
}

/// The satellite upstream's refusals: 400 beyond its zoom, 404 for a tile it lacks, 502 when
/// it failed (the message never holds its URL, which holds the key).
impl From<crate::tiles::satellite::SatelliteError> for ApiError {
    fn from(e: crate::tiles::satellite::SatelliteError) -> ApiError {
        use crate::tiles::satellite::SatelliteError;
        let (status, code) = match e {
            SatelliteError::TooDeep { .. } => (StatusCode::BAD_REQUEST, "bad_tile"),
            SatelliteError::Missing(_) => (StatusCode::NOT_FOUND, "not_found"),
            SatelliteError::Upstream(_) => (StatusCode::BAD_GATEWAY, "upstream_failed"),
        };
        ApiError {
            status,
            code,
            message: e.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// The answer for a path no route serves.
pub async fn no_route(uri: axum::http::Uri) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: "no_route",
        message: format!(
            "no endpoint at {}; see /openapi.json for the API",
            uri.path()
        ),
    }
}

impl From<OutOfScope> for ApiError {
    fn from(e: OutOfScope) -> ApiError {
        ApiError {
            status: StatusCode::FORBIDDEN,
            code: "out_of_scope",
            message: e.to_string(),
        }
    }
}

/// A refused token: 401 `unauthorized`, or 403 `no_roles` for a valid token granting nothing.
impl From<VerifyError> for ApiError {
    fn from(e: VerifyError) -> ApiError {
        match e {
            VerifyError::Invalid(_) => ApiError::unauthorized(e.to_string()),
            VerifyError::NoRoles => ApiError {
                status: StatusCode::FORBIDDEN,
                code: "no_roles",
                message: e.to_string(),
            },
        }
    }
}

/// A refused API key: 401 `bad_api_key` when unknown, 403 `key_origin` from a foreign origin.
impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> ApiError {
        let (status, code) = match e {
            KeyError::Unknown => (StatusCode::UNAUTHORIZED, "bad_api_key"),
            KeyError::Origin { .. } => (StatusCode::FORBIDDEN, "key_origin"),
        };
        ApiError {
            status,
            code,
            message: e.to_string(),
        }
    }
}

/// Turns axum's query-string rejections into our JSON error shape.
pub fn bad_query(rejection: axum::extract::rejection::QueryRejection) -> ApiError {
    ApiError::bad_request("bad_query", rejection.body_text())
}

/// Turns axum's JSON body rejections into our JSON error shape: a body over the size limit is
/// a 413 `body_too_large`, anything else (not JSON, wrong shape, no JSON content type) a 400
/// `bad_json`.
pub fn bad_json(rejection: axum::extract::rejection::JsonRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::body_too_large();
    }
    ApiError::bad_request("bad_json", rejection.body_text())
}

/// The largest request body accepted: axum's default limit, which the router keeps, and what
/// `serve::http` refuses up front when a request declares a longer `Content-Length`.
pub const BODY_LIMIT_BYTES: usize = 2 * 1024 * 1024;

impl ApiError {
    /// A 413 for a request body over [`BODY_LIMIT_BYTES`].
    pub fn body_too_large() -> ApiError {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "body_too_large",
            message: format!(
                "the request body is larger than the {} MiB the service accepts; send fewer events per request",
                BODY_LIMIT_BYTES / (1024 * 1024)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::extract::FromRequest;
    use axum::http::{header, Request};

    async fn rejection(body: Vec<u8>) -> axum::extract::rejection::JsonRejection {
        let request = Request::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .expect("request");
        Json::<serde_json::Value>::from_request(request, &())
            .await
            .expect_err("rejected")
    }

    #[tokio::test]
    async fn an_oversized_body_is_a_413_and_other_bad_bodies_a_400() {
        let mut big = b"[".to_vec();
        big.resize(BODY_LIMIT_BYTES + 1, b' ');
        let e = bad_json(rejection(big).await);
        assert_eq!(
            (e.status, e.code),
            (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
        );
        let e = bad_json(rejection(b"{not json".to_vec()).await);
        assert_eq!((e.status, e.code), (StatusCode::BAD_REQUEST, "bad_json"));
    }
}
