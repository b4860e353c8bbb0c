//! Prometheus metrics: requests and latency by route, engine sizes, store errors.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
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

/// Records one store failure for `/metrics`.
pub fn store_error(operation: &'static str) {
    metrics::counter!(STORE_ERRORS, "operation" => operation).increment(1);
}

/// Middleware counting requests and their latency by matched route (not raw path, so the
/// label set stays bounded).
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = request.method().to_string();
    let start = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("gridmap_http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("gridmap_http_request_duration_seconds", "route" => route)
        .record(start.elapsed().as_secs_f64());
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
