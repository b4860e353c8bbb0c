//! Shared helpers of the integration tests: fresh PostGIS databases, sample data, a started server.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

pub mod gdal;
pub mod records;
pub mod satellite_upstream;
pub mod stats_sql;

/// The PostgreSQL server the suite uses (set by `scripts/test`): a URL without a database name
/// part that the tests may replace, e.g. `postgres://postgres@127.0.0.1:5432`.
/// A missing variable fails the test: the suite never skips PostGIS.
pub fn pg_base_url() -> String {
    std::env::var("GRIDMAP_TEST_PG").expect(
        "GRIDMAP_TEST_PG is not set: run the suite with scripts/test, which installs PostGIS and sets it",
    )
}

/// Creates a new, empty database with the PostGIS extension (from the template database that
/// `scripts/test` prepares) and returns its URL. Each test gets its own, so tests run in parallel.
pub async fn fresh_postgis_url() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let base = pg_base_url();
    let name = format!(
        "gridmap_t_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    let (client, conn) =
        tokio_postgres::connect(&format!("{base}/postgres"), tokio_postgres::NoTls)
            .await
            .expect("connect to the test PostgreSQL server");
    tokio::spawn(conn);
    // CREATE DATABASE … TEMPLATE fails if another session is using the template at that moment;
    // tests create databases concurrently, so retry briefly.
    let mut last = None;
    for _ in 0..50 {
        match client
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE gridmap_template"))
            .await
        {
            Ok(()) => return format!("{base}/{name}"),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("cannot create test database {name}: {last:?}");
}

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use gridmap::config::{Config, StoreLocation};
use gridmap::generate::{GenerateOptions, Scale};
use gridmap::store::gpkg::GpkgStore;

/// The secret the test servers use.
pub const SECRET: &str = "gridmap-test-secret";

/// Options of the sample city the tests share (seed 1, as `gridmap serve` makes on first run).
pub fn sample_options() -> GenerateOptions {
    GenerateOptions {
        scale: Scale::Sample,
        seed: 1,
        progress: false,
        events: None,
        as_of: None,
    }
}

/// A GeoPackage holding the sample city, generated once per test binary; copy it before writing.
pub fn sample_gpkg() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        // Under the build directory, which goes with the checkout (a system temporary
        // directory would keep one sample per test binary and run).
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("gridmap-sample-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("sample.gpkg");
        let target = path.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            rt.block_on(async {
                let store = GpkgStore::open(&target).expect("open sample gpkg");
                gridmap::generate::generate_into(&store, &sample_options())
                    .await
                    .expect("generate sample");
            });
        })
        .join()
        .expect("sample generation thread");
        path
    })
    .as_path()
}

/// A private copy of the sample GeoPackage in `dir`.
pub fn sample_copy(dir: &Path) -> PathBuf {
    let path = dir.join("city.gpkg");
    std::fs::copy(sample_gpkg(), &path).expect("copy sample gpkg");
    path
}

/// The configuration of a test server on an ephemeral port with the test secret.
pub fn test_config(store: StoreLocation) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        store,
        jwt_secret: Some(SECRET.to_string()),
        public_url: None,
        tile_cache_bytes: gridmap::config::DEFAULT_TILE_CACHE_MB * 1024 * 1024,
        tile_max_age_s: gridmap::config::DEFAULT_TILE_MAX_AGE_S,
        fonts_dir: gridmap::config::DEFAULT_FONTS_DIR.into(),
        api_keys: Vec::new(),
        event_deadlines: gridmap::model::deadline_hours::Deadlines::builtin(),
        event_categories: gridmap::model::category_names::CategoryNames::builtin(),
        connections: gridmap::config::ConnectionLimits::default(),
        trusted_proxies: gridmap::config::TrustedProxies::default(),
        satellite: None,
        workers: gridmap::config::WorkersConfig::default(),
    }
}

/// A client of a test database, its connection driven in the background.
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
}

/// GET `url` with a bearer token: the status and the JSON answer.
pub async fn get_json(url: &str, token: &str) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON answer"))
}

/// A token for the test secret.
pub fn token(scope: &str, roles: &[gridmap::access::Role]) -> String {
    gridmap::access::Auth::new(SECRET)
        .issue("test", scope, roles, chrono::Duration::hours(1))
        .expect("token")
}

/// A fresh PostGIS database holding the sample city, and a test server on it; returns the
/// database URL (for edits by "another client") and the server.
pub async fn postgis_sample_server() -> (String, gridmap::serve::Server) {
    let url = fresh_postgis_url().await;
    {
        let store = gridmap::store::postgis::PostgisStore::connect(&url)
            .await
            .expect("connect");
        gridmap::generate::generate_into(&store, &sample_options())
            .await
            .expect("generate into PostGIS");
    }
    let server = gridmap::serve::start(&test_config(StoreLocation::Postgis(url.clone())))
        .await
        .expect("server on PostGIS");
    (url, server)
}

/// ETags of tiles, keyed by (z, x, y).
pub type TileEtags = std::collections::BTreeMap<(u8, u32, u32), String>;

/// Checks that an edit changed exactly the tiles it touches: every tile whose ETag changed is
/// `touched`, every tile now served equals a fresh render (`fresh_etag`), and the edit changed
/// some but not all of the tiles looked at.
pub fn assert_only_touched_tiles_changed(
    before: &TileEtags,
    after: &TileEtags,
    fresh_etag: impl Fn(u8, u32, u32) -> String,
    touched: impl Fn(u8, u32, u32) -> bool,
    edit: &str,
) {
    let mut changed = 0;
    for (k @ &(z, x, y), tag) in after {
        assert_eq!(tag, &fresh_etag(z, x, y), "tile {z}/{x}/{y} is stale");
        if tag != &before[k] {
            changed += 1;
            assert!(
                touched(z, x, y),
                "tile {z}/{x}/{y} changed but is not touched"
            );
        }
    }
    assert!(changed > 0, "{edit} changed no tile");
    assert!(
        before.len() > changed,
        "the blocks must hold untouched tiles too"
    );
}

/// The sample city without events in an engine, built once per test binary (for tests that cut
/// tiles straight from a snapshot).
pub fn sample_engine() -> &'static gridmap::engine::Engine {
    static ENGINE: std::sync::OnceLock<gridmap::engine::Engine> = std::sync::OnceLock::new();
    ENGINE.get_or_init(|| {
        let opts = GenerateOptions {
            events: Some(0),
            ..sample_options()
        };
        let city = gridmap::generate::city(&opts).expect("sample city");
        gridmap::engine::Engine::new(city.dataset)
    })
}

/// The tilesets the service ships (`tiles/tilesets.toml`).
pub fn shipped_tilesets() -> gridmap::tiles::Tilesets {
    gridmap::tiles::Tilesets::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tiles/tilesets.toml"),
    )
    .expect("tiles/tilesets.toml")
}
