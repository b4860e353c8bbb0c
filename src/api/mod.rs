//! The HTTP API: one router per concern, each a thin layer over the engine (DESIGN.md "API").

pub mod areas;
pub mod auth;
pub mod error;
pub mod health;
pub mod home;
pub mod metrics;
pub mod openapi;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use tower_http::cors::CorsLayer;
use tower_http::trace::TraceLayer;

use crate::engine::Engine;
use crate::store::Store;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub store: Arc<dyn Store>,
    pub auth: Arc<auth::Auth>,
}

/// The whole router.
pub fn router(state: AppState) -> Router {
    // Touch the recorder so request metrics are recorded from the first request on.
    metrics::handle();
    Router::new()
        .route("/", get(home::home))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/metrics", get(metrics::render))
        .route("/openapi.json", get(openapi::serve))
        .route("/api/lookup", get(areas::lookup))
        .route("/api/areas/{code}", get(areas::area))
        .route("/api/areas/{code}/children", get(areas::children))
        .route_layer(axum::middleware::from_fn(metrics::track))
        .fallback(error::no_route)
        .layer(CorsLayer::permissive())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
