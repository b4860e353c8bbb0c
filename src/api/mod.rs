//! The HTTP API: one router per concern, each a thin layer over the engine (DESIGN.md "API").

pub mod api_key;
pub mod areas;
pub mod auth;
pub mod base_url;
pub mod clock;
pub mod error;
pub mod event_list;
pub mod event_params;
pub mod events;
pub mod fonts;
pub mod health;
pub mod home;
pub mod metrics;
pub mod openapi;
pub mod styles;
pub mod tiles;
pub mod viewer;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use tower_http::compression::CompressionLayer;
use tower_http::cors::CorsLayer;
use tower_http::trace::TraceLayer;

use crate::engine::Engine;
use crate::store::Store;
use crate::tiles::cache::TileCache;
use crate::tiles::glyphs::GlyphStore;
use crate::tiles::Tilesets;

/// What every handler can reach, shared: axum clones the state for every extractor of every
/// request, so a clone is one reference count rather than one per service.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    /// The state of a router serving these services.
    pub fn new(services: Services) -> AppState {
        AppState(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The services behind [`AppState`].
pub struct Services {
    pub engine: Arc<Engine>,
    pub store: Arc<dyn Store>,
    pub auth: Arc<auth::Auth>,
    /// The tilesets served under `/tiles`.
    pub tilesets: Arc<Tilesets>,
    /// Encoded tiles, invalidated after every engine apply (see `serve::apply_and_invalidate`).
    pub tile_cache: Arc<TileCache>,
    /// Recent render costs per tileset and zoom: cheap tiles render on the connection's thread.
    pub tile_render_costs: Arc<crate::tiles::render_cost::RenderCosts>,
    /// `Cache-Control` of tile answers.
    pub tile_cache_control: tiles::TileCacheControl,
    /// The URL clients reach the service at, when configured (TileJSON links use it).
    pub public_url: Option<String>,
    /// The label glyphs served under `/fonts` (config `fonts_dir`).
    pub glyphs: Arc<GlyphStore>,
    /// API keys accepted on tile, TileJSON and style requests.
    pub api_keys: Arc<api_key::ApiKeys>,
    /// The instant derived values (overdue, cards) are judged at; fixed in tests.
    pub clock: clock::Clock,
    /// Event deadline hours per category and level (限时办结).
    pub deadlines: Arc<crate::model::deadline::Deadlines>,
    /// Serializes event writes (ingest, transitions) of this process from the store commit to
    /// the engine apply, so the engine sees them in commit order.
    pub event_writes: Arc<tokio::sync::Mutex<()>>,
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
        .route("/api/events", get(event_list::list).post(events::ingest))
        .route("/api/events/{code}", get(events::event))
        .route("/api/events/{code}/transitions", post(events::transition))
        .route("/tiles", get(tiles::catalog))
        .route("/tiles/{tileset}", get(tiles::tilejson))
        .route("/styles/{name}", get(styles::style))
        .route(
            "/fonts/{fontstack}/{range}",
            get(fonts::glyphs).layer(CompressionLayer::new()),
        )
        .route_layer(axum::middleware::from_fn(metrics::track))
        .fallback(error::no_route)
        .layer(CorsLayer::permissive())
        .layer(TraceLayer::new_for_http())
        .route(
            tiles::TILE_ROUTE,
            get(tiles::tile).options(tiles::preflight),
        )
        .with_state(state)
}
