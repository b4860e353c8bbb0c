//! `gridmap serve`: open the store, load the engine, follow other writers, answer HTTP until
//! SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::access::ApiKeys;
use crate::access::{Auth, Role};
use crate::api::{self, AppState, Services};
use crate::config::{Config, StoreLocation, DEFAULT_DATA};
use crate::engine::{Engine, EventLoader};
use crate::generate::{self, GenerateOptions, Scale};
use crate::glyphs::{GlyphStore, DEFAULT_CACHE_BYTES};
use crate::model::Change;
use crate::store::gpkg::GpkgStore;
use crate::store::postgis::PostgisStore;
use crate::store::Store;
use crate::tiles::cache::TileCache;
use crate::tiles::Tilesets;
use crate::write::WritePath;

pub mod demo_feed;
mod http;

/// The tilesets built into the binary (`tiles/tilesets.toml`), checked at start-up.
pub const TILESETS_TOML: &str = include_str!("../tiles/tilesets.toml");

/// The seed of the sample city made on first run of the default embedded store.
pub const SAMPLE_SEED: u64 = 1;

/// Opens the configured store (PostGIS or GeoPackage).
pub async fn open_store(location: &StoreLocation) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match location {
        StoreLocation::Postgis(url) => Arc::new(PostgisStore::connect(url).await?),
        StoreLocation::Gpkg(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            Arc::new(GpkgStore::open(path)?)
        }
    })
}

/// A started server.
pub struct Server {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// In demo mode, a ready admin token for the whole city.
    pub demo_token: Option<String>,
    pub engine: Arc<Engine>,
    pub store: Arc<dyn Store>,
    /// The served tilesets.
    pub tilesets: Arc<Tilesets>,
    /// The tile cache the server answers from.
    pub tile_cache: Arc<TileCache>,
    /// The write path every writer of this server goes through.
    pub writes: Arc<WritePath>,
    /// The service clock (tests fix it with `clock.set`).
    pub clock: crate::clock::Clock,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    /// The worker board's clock and the fix retention, stopped with the server.
    upkeep: Vec<JoinHandle<()>>,
}

impl Server {
    /// The base URL clients use.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Applies changes committed by another writer: the path the change feed takes.
    pub async fn apply(&self, changes: &[Change]) {
        self.writes.apply_committed(changes.to_vec()).await;
    }

    /// Stops accepting, lets running requests finish, and waits.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        for task in &self.upkeep {
            task.abort();
        }
        self.task.await??;
        Ok(())
    }

    /// Serves until SIGINT or SIGTERM, then shuts down gracefully.
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        shutdown_signal().await;
        tracing::info!("shutting down");
        self.stop().await
    }
}

/// Opens the store, fills the default embedded store with the sample city when it is empty,
/// loads the engine, starts following other writers and binds the listener.
pub async fn start(config: &Config) -> anyhow::Result<Server> {
    let store = open_store(&config.store).await?;
    fill_default_store(config, store.as_ref()).await?;
    let started = std::time::Instant::now();
    let dataset = store.load().await?;
    let engine = Arc::new(Engine::new(dataset));
    let mut events = EventLoader::default();
    store
        .load_events_without_steps(&mut |chunk| events.push(chunk))
        .await?;
    engine.load_events(events.finish());
    let clock = crate::clock::Clock::system();
    restore_workers(config, store.as_ref(), &engine, clock.now()).await?;
    tracing::info!(
        store = store.name(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        sizes = ?engine.snapshot().sizes(),
        events = engine.snapshot().events().len(),
        "engine loaded"
    );
    let tilesets = Arc::new(Tilesets::parse(TILESETS_TOML, "tiles/tilesets.toml")?);
    let tile_cache = Arc::new(TileCache::new(config.tile_cache_bytes));
    let writes = Arc::new(WritePath::new(
        store.clone(),
        engine.clone(),
        tilesets.clone(),
        tile_cache.clone(),
    ));
    if let Some(changes) = store.subscribe() {
        tokio::spawn(follow_changes(changes, writes.clone()));
    }
    let (auth, demo_token) = match &config.jwt_secret {
        Some(secret) => (Auth::new(secret), None),
        None => {
            let auth = Auth::random();
            let token = auth.issue(
                "demo-admin",
                "410600",
                &[Role::Admin],
                chrono::Duration::days(30),
            )?;
            (auth, Some(token))
        }
    };
    let upkeep = vec![
        tokio::spawn(tick_workers(writes.clone(), clock.clone())),
        tokio::spawn(prune_fixes(store.clone(), clock.clone(), config.workers)),
    ];
    let state = AppState::new(Services {
        engine: engine.clone(),
        store: store.clone(),
        auth: Arc::new(auth),
        tilesets: tilesets.clone(),
        tile_cache: tile_cache.clone(),
        tile_render_costs: Arc::new(crate::tiles::render_cost::RenderCosts::new(&tilesets)),
        tile_cache_control: api::tiles::TileCacheControl::with_max_age(config.tile_max_age_s),
        public_url: config.public_url.clone(),
        glyphs: Arc::new(GlyphStore::new(&config.fonts_dir, DEFAULT_CACHE_BYTES)),
        api_keys: Arc::new(ApiKeys::new(&config.api_keys)?),
        clock: clock.clone(),
        deadlines: Arc::new(config.event_deadlines.clone()),
        categories: Arc::new(config.event_categories.clone()),
        satellite: match &config.satellite {
            Some(s) => Some(Arc::new(crate::tiles::satellite::SatelliteProxy::new(s)?)),
            None => None,
        },
        writes: writes.clone(),
        workers: config.workers,
    });
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let app = api::router(state);
    let metrics_upkeep = api::metrics::keep_up();
    let (connections, trusted_proxies) = (config.connections, config.trusted_proxies.clone());
    let task = tokio::spawn(async move {
        let rules = http::ConnectionRules {
            limits: connections,
            trusted_proxies,
        };
        let served = http::serve_per_core(listener, app, rules, async {
            let _ = rx.await;
        })
        .await;
        metrics_upkeep.abort();
        served
    });
    Ok(Server {
        addr,
        demo_token,
        engine,
        store,
        tilesets,
        tile_cache,
        writes,
        clock,
        shutdown: Some(tx),
        task,
        upkeep,
    })
}

/// How far back the worker board looks for each worker's latest fix at start-up: a worker
/// silent for longer starts without a position.
const LATEST_FIX_LOOKBACK_DAYS: i64 = 7;

/// How often the worker board's clock moves (status and due alerts).
const WORKER_TICK: std::time::Duration = std::time::Duration::from_secs(1);

/// How often fixes past their retention are deleted.
const FIX_RETENTION_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Puts the configured rules on the worker board and starts it from the stored latest fixes
/// and open alerts; stores the alerts the restart changed.
async fn restore_workers(
    config: &Config,
    store: &dyn Store,
    engine: &Engine,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    engine.set_worker_rules(config.workers.rules());
    let since = now - chrono::Duration::days(LATEST_FIX_LOOKBACK_DAYS);
    let state = store.load_worker_state(since).await?;
    let changed = engine.restore_workers(state, now);
    store.save_alerts(&changed).await?;
    Ok(())
}

/// Moves the worker board's clock every [`WORKER_TICK`].
async fn tick_workers(writes: Arc<WritePath>, clock: crate::clock::Clock) {
    let mut every = tokio::time::interval(WORKER_TICK);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        writes.tick_workers(clock.now()).await;
    }
}

/// Deletes the fixes older than the retention, at start-up and every hour.
async fn prune_fixes(
    store: Arc<dyn Store>,
    clock: crate::clock::Clock,
    workers: crate::config::WorkersConfig,
) {
    let mut every = tokio::time::interval(FIX_RETENTION_EVERY);
    loop {
        every.tick().await;
        let before = clock.now() - chrono::Duration::days(i64::from(workers.retention_days));
        match store.prune_fixes(before).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, %before, "deleted fixes past their retention"),
            Err(e) => tracing::error!(error = %e, "cannot delete fixes past their retention"),
        }
    }
}

/// The default embedded store is filled with the sample city on first run, so a new user sees
/// a city without importing anything. Other stores are left as they are.
async fn fill_default_store(config: &Config, store: &dyn Store) -> anyhow::Result<()> {
    let is_default = config.store == StoreLocation::Gpkg(Path::new(DEFAULT_DATA).to_path_buf());
    if !is_default || store.counts().await?.areas > 0 {
        return Ok(());
    }
    tracing::info!("{DEFAULT_DATA} is empty: generating the sample city (seed {SAMPLE_SEED})");
    generate::generate_into(
        store,
        &GenerateOptions {
            scale: Scale::Sample,
            seed: SAMPLE_SEED,
            progress: false,
            events: None,
            // The demo city's history ends now, so its latest events are today's.
            as_of: Some(chrono::Utc::now()),
        },
    )
    .await?;
    Ok(())
}

/// Applies changes made by other writers, in batches of what has arrived.
async fn follow_changes(mut changes: mpsc::Receiver<Change>, writes: Arc<WritePath>) {
    while let Some(first) = changes.recv().await {
        let mut batch = vec![first];
        while batch.len() < 10_000 {
            match changes.try_recv() {
                Ok(change) => batch.push(change),
                Err(_) => break,
            }
        }
        tracing::debug!(changes = batch.len(), "applying changes from other writers");
        writes.apply_committed(batch).await;
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
