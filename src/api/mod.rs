//! The HTTP API: one router per concern, each a thin layer over the engine (DESIGN.md "API").

pub mod areas;
pub mod assets;
pub mod auth;
pub mod base_url;
pub mod error;
pub mod event_list;
pub mod event_params;
pub mod events;
pub mod fixes;
pub mod fonts;
pub mod health;
pub mod home;
pub mod live;
pub mod metrics;
pub mod openapi;
pub mod patrol_coverage;
pub mod satellite;
pub mod stats;
pub mod styles;
pub mod tiles;
pub mod viewer;
pub mod worker_tracks;
pub mod workers;

use std::sync::Arc;

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;
use tower_http::compression::CompressionLayer;
use tower_http::cors::CorsLayer;
use tower_http::trace::TraceLayer;

use crate::engine::Engine;
use crate::glyphs::GlyphStore;
use crate::store::Store;
use crate::tiles::cache::TileCache;
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
    pub auth: Arc<crate::access::Auth>,
    /// The tilesets served under `/tiles`.
    pub tilesets: Arc<Tilesets>,
    /// Encoded tiles, invalidated by the write path after every engine apply.
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
    pub api_keys: Arc<crate::access::ApiKeys>,
    /// The instant derived values (overdue, cards) are judged at; fixed in tests.
    pub clock: crate::clock::Clock,
    /// Event deadline hours per category and level (限时办结).
    pub deadlines: Arc<crate::model::deadline_hours::Deadlines>,
    /// Event category names (事件分类), for people reading codes.
    pub categories: Arc<crate::model::category_names::CategoryNames>,
    /// The satellite basemap proxy, when a key is configured.
    pub satellite: Option<Arc<crate::tiles::satellite::SatelliteProxy>>,
    /// Where every write goes: store, engine, tile cache, live subscribers.
    pub writes: Arc<crate::write::WritePath>,
    /// Worker thresholds, the fix plausibility check and retention (`[workers]`).
    pub workers: crate::config::WorkersConfig,
}

/// The whole router: the [`routes`], the routes behind the shared layers (request metrics,
/// CORS, tracing, the JSON 404), the tile route outside them (the hot path records its own
/// metrics and answers its own CORS preflight).
pub fn router(state: AppState) -> Router {
    // Touch the recorder so request metrics are recorded from the first request on.
    metrics::handle();
    let layered = mount(Router::new(), layered_routes())
        .route_layer(axum::middleware::from_fn(metrics::track))
        .fallback(error::no_route)
        .layer(CorsLayer::permissive())
        .layer(TraceLayer::new_for_http());
    mount(layered, tile_routes()).with_state(state)
}

/// One operation the API serves: a method on a path (the OpenAPI template; axum reads the same
/// syntax). [`router`] mounts exactly the [`routes`], and the OpenAPI test compares them with
/// `openapi.json` in both directions, so no route is served without being documented.
pub struct Route {
    /// The path template, e.g. `/api/areas/{code}`.
    pub path: &'static str,
    /// The HTTP method.
    pub method: Method,
    /// `false` only for what is not part of the API: the wall-map page, its files and a CORS
    /// preflight.
    pub documented: bool,
    endpoint: MethodRouter<AppState>,
}

impl Route {
    fn get<H: Handler<T, AppState>, T: 'static>(path: &'static str, handler: H) -> Route {
        Route::on(path, Method::GET, MethodFilter::GET, handler)
    }

    fn post<H: Handler<T, AppState>, T: 'static>(path: &'static str, handler: H) -> Route {
        Route::on(path, Method::POST, MethodFilter::POST, handler)
    }

    fn options<H: Handler<T, AppState>, T: 'static>(path: &'static str, handler: H) -> Route {
        Route::on(path, Method::OPTIONS, MethodFilter::OPTIONS, handler)
    }

    /// The method and its filter are given together, so the table cannot name one method
    /// and serve another.
    fn on<H: Handler<T, AppState>, T: 'static>(
        path: &'static str,
        method: Method,
        filter: MethodFilter,
        handler: H,
    ) -> Route {
        Route {
            path,
            method,
            documented: true,
            endpoint: on(filter, handler),
        }
    }

    /// Marks a route that `openapi.json` leaves out on purpose.
    fn undocumented(self) -> Route {
        Route {
            documented: false,
            ..self
        }
    }
}

/// Every operation the service answers.
pub fn routes() -> Vec<Route> {
    let mut all = layered_routes();
    all.extend(tile_routes());
    all
}

/// The routes behind the shared layers.
fn layered_routes() -> Vec<Route> {
    vec![
        Route::get("/", home::home).undocumented(),
        Route::get(
            "/assets/{file}",
            assets::asset.layer(CompressionLayer::new()),
        )
        .undocumented(),
        Route::get("/health", health::health),
        Route::get("/ready", health::ready),
        Route::get("/metrics", metrics::render),
        Route::get("/openapi.json", openapi::serve),
        Route::get("/api/lookup", areas::lookup),
        Route::get("/api/areas", areas::search),
        Route::get("/api/areas/{code}", areas::area),
        Route::get("/api/areas/{code}/children", areas::children),
        Route::get("/api/areas/{code}/neighbors", areas::neighbors),
        Route::get("/api/stats/areas/{code}", stats::area),
        Route::get("/api/stats/areas/{code}/children", stats::children),
        Route::get("/api/stats/timeseries", stats::timeseries),
        Route::get("/api/events", event_list::list),
        Route::get("/api/events/categories", events::categories),
        Route::post("/api/events", events::ingest),
        Route::get("/api/events/{code}", events::event),
        Route::post("/api/events/{code}/transitions", events::transition),
        Route::post("/api/fixes", fixes::ingest),
        Route::get("/api/workers", workers::list),
        Route::get("/api/workers/nearest", workers::nearest),
        Route::get("/api/workers/alerts", workers::alerts),
        Route::get("/api/workers/{code}/track", worker_tracks::track),
        Route::get("/api/live", live::live),
        Route::get(
            "/api/analysis/patrol-coverage",
            patrol_coverage::patrol_coverage,
        ),
        Route::get("/tiles", tiles::catalog),
        Route::get("/tiles/{tileset}", tiles::tilejson),
        Route::get("/styles/{name}", styles::style),
        Route::get(satellite::SATELLITE_ROUTE, satellite::tile),
        Route::get(
            "/fonts/{fontstack}/{range}",
            fonts::glyphs.layer(CompressionLayer::new()),
        ),
    ]
}

/// The tile route, outside the shared layers.
fn tile_routes() -> Vec<Route> {
    vec![
        Route::get(tiles::TILE_ROUTE, tiles::tile),
        Route::options(tiles::TILE_ROUTE, tiles::preflight).undocumented(),
    ]
}

/// `router` with `routes` added (two routes of one path merge into one method router).
fn mount(router: Router<AppState>, routes: Vec<Route>) -> Router<AppState> {
    routes.into_iter().fold(router, |router, route| {
        router.route(route.path, route.endpoint)
    })
}

#[cfg(test)]
mod tests {
    /// A route added with axum's own method, beside the table, would be served without being
    /// compared with the OpenAPI document (`tests/http.rs`): the one call of it is in `mount`.
    #[test]
    fn routes_are_mounted_only_from_the_table() {
        let calls = include_str!("mod.rs")
            .matches(concat!(".", "route("))
            .count();
        assert_eq!(
            calls, 1,
            "add routes to `layered_routes` or `tile_routes`, not to the Router directly"
        );
    }
}
