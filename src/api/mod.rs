//! The HTTP API: one router per concern, each a thin layer over the engine (DESIGN.md "API").

pub mod areas;
pub mod auth;
pub mod base_url;
pub mod error;
pub mod health;
pub mod home;
pub mod metrics;
pub mod openapi;
pub mod styles;
pub mod tiles;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use tower_http::cors::CorsLayer;
use tower_http::trace::TraceLayer;

use crate::engine::Engine;
use crate::store::Store;
use crate::tiles::cache::TileCache;
use crate::tiles::Tilesets;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub store: Arc<dyn Store>,
    pub auth: Arc<auth::Auth>,
    /// The tilesets served under `/tiles`.
    pub tilesets: Arc<Tilesets>,
    /// Encoded tiles, invalidated after every engine apply (see `serve::apply_and_invalidate`).
    pub tile_cache: Arc<TileCache>,
    /// `Cache-Control` of tile answers.
    pub tile_cache_control: tiles::TileCacheControl,
    /// The URL clients reach the service at, when configured (TileJSON links use it).
    pub public_url: Option<String>,
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
        .route("/tiles", get(tiles::catalog))
        .route("/tiles/{tileset}", get(tiles::tilejson))
        .route("/tiles/{tileset}/{z}/{x}/{y}", get(tiles::tile))
        .route("/styles/{name}", get(styles::style))
        .route_layer(axum::middleware::from_fn(metrics::track))
        .fallback(error::no_route)
        .layer(CorsLayer::permissive())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
