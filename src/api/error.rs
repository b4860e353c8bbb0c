//! The one place errors become HTTP answers: `{"error": {"code": "...", "message": "..."}}`
//! with a stable code a client can branch on and a message a person can act on.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

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
        ApiError {
            status: StatusCode::FORBIDDEN,
            code: "out_of_scope",
            message: format!(
                "{code} is outside your jurisdiction {scope}; ask for a token scoped to an area that contains it"
            ),
        }
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

/// Turns axum's query-string rejections into our JSON error shape.
pub fn bad_query(rejection: axum::extract::rejection::QueryRejection) -> ApiError {
    ApiError::bad_request("bad_query", rejection.body_text())
}
