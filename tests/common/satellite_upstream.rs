//! A local stand-in for Tianditu's imagery WMTS: it answers a 1×1 PNG for the right key, the
//! XML error page Tianditu sends (with status 200) for a wrong one, and 404 at zoom 3; it
//! records every query it was asked, so tests can see the key reached it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use gridmap::config::SatelliteConfig;

/// The key the stand-in accepts.
pub const KEY: &str = "tdt-test-key-5f3a9c";

/// The zoom at which the stand-in has no tiles.
pub const MISSING_ZOOM: u8 = 3;

/// A 1×1 PNG.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x50, 0x48, 0x30, 0x00,
    0x00, 0x01, 0x54, 0x00, 0xb1, 0xce, 0x01, 0x92, 0x8a, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
];

/// The running stand-in.
pub struct Upstream {
    /// Its address, `127.0.0.1:PORT`.
    pub addr: String,
    /// Every query string it was asked, in order.
    pub queries: Arc<Mutex<Vec<String>>>,
}

impl Upstream {
    /// The `[satellite]` configuration pointing at the stand-in with `key`.
    pub fn config(&self, key: &str) -> SatelliteConfig {
        SatelliteConfig {
            key: key.into(),
            url: Some(format!(
                "http://{}/img_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=img&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={{key}}",
                self.addr
            )),
            maxzoom: Some(18),
        }
    }

    /// How many queries it was asked.
    pub fn asked(&self) -> usize {
        self.queries.lock().expect("lock").len()
    }
}

async fn wmts(
    State(queries): State<Arc<Mutex<Vec<String>>>>,
    RawQuery(raw): RawQuery,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    queries.lock().expect("lock").push(raw.unwrap_or_default());
    if q.get("tk").map(String::as_str) != Some(KEY) {
        let page = "<?xml version=\"1.0\"?><ows:ExceptionReport><ows:Exception exceptionCode=\"InvalidKey\"/></ows:ExceptionReport>";
        return ([(header::CONTENT_TYPE, "text/xml")], page).into_response();
    }
    if q.get("TILEMATRIX") == Some(&MISSING_ZOOM.to_string()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    ([(header::CONTENT_TYPE, "image/png")], PNG).into_response()
}

/// Starts the stand-in on an ephemeral port of 127.0.0.1.
pub async fn start() -> Upstream {
    let queries = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new()
        .route("/img_w/wmts", get(wmts))
        .with_state(queries.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the stand-in");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Upstream { addr, queries }
}
