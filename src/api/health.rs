//! Liveness and readiness.

use std::time::Duration;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::error::ApiError;
use super::metrics::store_error;
use super::AppState;

/// `GET /health`: the process answers.
pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /ready`: the engine is loaded and the store answers within 2 s.
pub async fn ready(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let counts = tokio::time::timeout(Duration::from_secs(2), state.store.counts())
        .await
        .map_err(|_| {
            store_error("ready");
            ApiError::unavailable("the store did not answer within 2 s")
        })?
        .map_err(|e| {
            store_error("ready");
            ApiError::unavailable(format!("the store is not ready: {e}"))
        })?;
    Ok(Json(json!({
        "status": "ready",
        "store": state.store.name(),
        "engine": state.engine.snapshot().sizes(),
        "stored": counts,
    })))
}
