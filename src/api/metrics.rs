//! Prometheus metrics: requests and latency by route, engine sizes, store errors.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::AppState;

/// Counter of failed store operations, labelled by operation.
pub const STORE_ERRORS: &str = "gridmap_store_errors_total";

/// The process-wide recorder (metrics has one global recorder; every router shares it).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ])
            .unwrap_or_else(|_| PrometheusBuilder::new())
            .build_recorder();
        let handle = recorder.handle();
        // Only fails if another recorder was installed first; then ours just stays unused.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// How often recorded latencies are folded into their histogram buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Folds recorded latencies into their histogram buckets every [`UPKEEP_EVERY`], for as long
/// as the runtime runs. The recorder keeps every sample until then (or until a scrape), so a
/// server that nobody scraped grew by about twelve bytes a request (measured on cached tiles).
pub fn keep_up() -> tokio::task::JoinHandle<()> {
    tokio::spawn(async {
        let mut every = tokio::time::interval(UPKEEP_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            handle().run_upkeep();
        }
    })
}

/// Records one store failure for `/metrics`.
pub fn store_error(operation: &'static str) {
    metrics::counter!(STORE_ERRORS, "operation" => operation).increment(1);
}

/// The request metrics of one route: its latency histogram and its counters by method and
/// status, registered once so that a request only bumps them.
struct RouteMetrics {
    duration: metrics::Histogram,
    requests: RwLock<HashMap<(&'static str, u16), metrics::Counter>>,
}

/// The `method` label of a request: the method's name when it is one of the methods HTTP
/// defines for resources, else `other`. A client may send any token as a method, and one
/// series per name made memory grow without bound (220 000 made-up methods took 200 MB).
pub fn method_label(method: &Method) -> &'static str {
    const KNOWN: [(Method, &str); 7] = [
        (Method::GET, "GET"),
        (Method::HEAD, "HEAD"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::DELETE, "DELETE"),
        (Method::PATCH, "PATCH"),
        (Method::OPTIONS, "OPTIONS"),
    ];
    KNOWN
        .iter()
        .find(|(known, _)| known == method)
        .map_or("other", |(_, label)| label)
}

/// [`RouteMetrics`] by matched route (a bounded set: the router's routes and `unmatched`).
fn route_metrics(route: &str) -> Arc<RouteMetrics> {
    static ROUTES: OnceLock<RwLock<HashMap<String, Arc<RouteMetrics>>>> = OnceLock::new();
    let routes = ROUTES.get_or_init(Default::default);
    if let Some(m) = routes
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(route)
    {
        return m.clone();
    }
    let fresh = Arc::new(RouteMetrics {
        duration: metrics::histogram!("gridmap_http_request_duration_seconds", "route" => route.to_string()),
        requests: RwLock::default(),
    });
    let mut routes = routes.write().unwrap_or_else(PoisonError::into_inner);
    routes.entry(route.to_string()).or_insert(fresh).clone()
}

impl RouteMetrics {
    /// Counts one answer with `status` to `method` on `route`, and its latency since `started`.
    fn record(&self, route: &str, method: &Method, status: u16, started: Instant) {
        self.requests(route, method, status).increment(1);
        self.duration.record(started.elapsed().as_secs_f64());
    }

    /// The request counter of `method` and `status` on `route`.
    fn requests(&self, route: &str, method: &Method, status: u16) -> metrics::Counter {
        let key = (method_label(method), status);
        if let Some(c) = self
            .requests
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return c.clone();
        }
        let counter = metrics::counter!("gridmap_http_requests_total", "route" => route.to_string(), "method" => key.0, "status" => status.to_string());
        let mut known = self
            .requests
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        known.entry(key).or_insert(counter).clone()
    }
}

/// The request metrics of one route served outside [`track`], recorded by its handler under
/// the same names and labels as [`track`] records.
pub struct RouteRecorder {
    route: &'static str,
    metrics: OnceLock<Arc<RouteMetrics>>,
}

impl RouteRecorder {
    /// The recorder of `route` (its pattern, as [`MatchedPath`] would give it).
    pub const fn new(route: &'static str) -> RouteRecorder {
        RouteRecorder {
            route,
            metrics: OnceLock::new(),
        }
    }

    /// Counts one answer with `status` to `method`, and its latency since `started`.
    pub fn record(&self, method: &Method, status: axum::http::StatusCode, started: Instant) {
        let metrics = self.metrics.get_or_init(|| route_metrics(self.route));
        metrics.record(self.route, method, status.as_u16(), started);
    }
}

/// Middleware counting requests and their latency by matched route (not raw path, so the
/// label set stays bounded).
pub async fn track(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let method = request.method().clone();
    let start = Instant::now();
    let response = next.run(request).await;
    route_metrics(route).record(route, &method, response.status().as_u16(), start);
    response
}

/// `GET /metrics`: the Prometheus text format, with engine sizes sampled now.
pub async fn render(State(state): State<AppState>) -> impl IntoResponse {
    let sizes = state.engine.snapshot().sizes();
    for (name, value) in [
        ("areas", sizes.areas),
        ("grids", sizes.grids),
        ("buildings", sizes.buildings),
        ("houses", sizes.houses),
        ("population_rows", sizes.population_rows),
        ("workers", sizes.workers),
    ] {
        metrics::gauge!("gridmap_engine_records", "kind" => name).set(value as f64);
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        handle().render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_methods_are_labels_of_their_own() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::OPTIONS), "OPTIONS");
        for odd in ["X0000001", "get", "PROPFIND", "CONNECT", "TRACE"] {
            let method = Method::from_bytes(odd.as_bytes()).expect("a method token");
            assert_eq!(method_label(&method), "other", "{odd}");
        }
    }
}
