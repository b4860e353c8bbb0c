//! The PostGIS store: the system of record on a PostgreSQL server with PostGIS.
//!
//! `connect` opens a connection pool and applies the embedded migrations of `migrations/`
//! (schema, CHECK constraints, triggers). Writes are one transaction per batch that does not
//! notify (`gridmap.silent`); edits by other clients are announced by triggers and arrive through
//! [`Store::subscribe`] as full records, across dropped connections. Geometry is stored as
//! longitude/latitude with SRID 4490 (see `migrations/0001_schema.sql`). Connections are made
//! without TLS: run the service next to its database or behind a TLS tunnel.

mod copy;
mod error;
mod events;
mod listen;
mod migrate;
mod read;
mod references;
mod rows;
mod track;
mod worker_state;
mod write;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime,
};
use tokio::sync::mpsc;
use tokio_postgres::{Config, IsolationLevel, NoTls};

use self::error::{describe, pool_error, query_error};
use self::read::{Filter, Table};
use crate::model::{Change, Dataset, Event, EventSource, WorkerAlert, WorkerFix, WorkerState};
use crate::store::event_query::Ingested;
use crate::store::{Counts, Store, StoreError};
pub use track::worker_fixes_sql;

/// Connections in the pool: enough for a parallel start-up load and concurrent API writes.
const POOL_SIZE: usize = 16;
/// How long a new connection may take unless the URL says otherwise (`connect_timeout=`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Events handed to `load_events`' sink at a time.
const EVENT_CHUNK: usize = 20_000;
/// Changes buffered between the listener and the engine.
const CHANGE_CAPACITY: usize = 10_000;

/// The PostGIS-backed [`Store`].
pub struct PostgisStore {
    pool: Pool,
    listener_config: Config,
    /// Server time when the store connected: the first listener session catches up from here.
    connected_at: DateTime<Utc>,
    subscribed: AtomicBool,
    /// The fix partitions known to exist.
    fix_days: worker_state::FixDays,
}

impl PostgisStore {
    /// Connects to `url` (`postgres://user@host:port/db`), creates the PostGIS extension if
    /// missing and applies pending migrations under an advisory lock.
    pub async fn connect(url: &str) -> Result<PostgisStore, StoreError> {
        let mut config: Config = url
            .parse()
            .map_err(|e| StoreError::Connect(format!("invalid database URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        without_jit(&mut config);
        let pool = build_pool(&config)?;
        let mut client = pool.get().await.map_err(connect_error)?;
        let applied = migrate::migrate(&mut client).await?;
        if applied > 0 {
            tracing::info!(applied, "database schema migrated");
        }
        let connected_at: DateTime<Utc> = client
            .query_one("SELECT now()", &[])
            .await
            .map_err(|e| query_error("cannot read the server time", &e))?
            .get(0);
        let mut listener_config = config;
        listener_config.application_name("gridmap-listener");
        Ok(PostgisStore {
            pool,
            listener_config,
            connected_at,
            subscribed: AtomicBool::new(false),
            fix_days: worker_state::FixDays::default(),
        })
    }

    /// The connection pool, for tests, benchmarks and tools that run SQL directly.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Reads a whole table inside the exported snapshot of the start-up load.
    async fn read_in_snapshot<T>(
        &self,
        table: &Table<T>,
        snapshot: &str,
    ) -> Result<Vec<T>, StoreError> {
        let mut client = self.pool.get().await.map_err(pool_error)?;
        let tx = read_only_transaction(&mut client).await?;
        tx.batch_execute(&format!("SET TRANSACTION SNAPSHOT '{snapshot}'"))
            .await
            .map_err(|e| query_error("cannot share the load snapshot", &e))?;
        let records = table.select(&*tx, Filter::All).await?;
        tx.commit()
            .await
            .map_err(|e| query_error("cannot finish reading", &e))?;
        Ok(records)
    }
}

fn build_pool(config: &Config) -> Result<Pool, StoreError> {
    let mut pool_config = config.clone();
    if pool_config.get_application_name().is_none() {
        pool_config.application_name("gridmap");
    }
    let manager = Manager::from_config(
        pool_config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(POOL_SIZE)
        .runtime(Runtime::Tokio1)
        .create_timeout(Some(Duration::from_secs(10)))
        .wait_timeout(Some(Duration::from_secs(30)))
        .build()
        .map_err(|e| StoreError::Connect(format!("cannot build the connection pool: {e}")))
}

/// The server's own words when the first connection fails (unknown database, refused, auth).
/// Turns JIT compilation off for the service's sessions unless the URL's `options` set it:
/// it pays off for long analytical queries, while the service's statements are short, and
/// with stale statistics PostgreSQL compiled a bulk load's every batch (tens of ms each).
fn without_jit(config: &mut Config) {
    let options = config.get_options().unwrap_or_default();
    if !options.contains("jit") {
        let options = format!("{options} -c jit=off");
        config.options(options.trim());
    }
}

fn connect_error(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => StoreError::Connect(describe(&e)),
        other => StoreError::Connect(other.to_string()),
    }
}

async fn read_only_transaction(
    client: &mut deadpool_postgres::Client,
) -> Result<deadpool_postgres::Transaction<'_>, StoreError> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(|e| query_error("cannot begin a read transaction", &e))
}

#[async_trait]
impl Store for PostgisStore {
    fn name(&self) -> &'static str {
        "postgis"
    }

    /// Reads the six tables in parallel on separate connections that share one snapshot, so
    /// the dataset is consistent (no house without its building).
    async fn load(&self) -> Result<Dataset, StoreError> {
        let mut client = self.pool.get().await.map_err(pool_error)?;
        let tx = read_only_transaction(&mut client).await?;
        let snapshot: String = tx
            .query_one("SELECT pg_export_snapshot()", &[])
            .await
            .map_err(|e| query_error("cannot export the load snapshot", &e))?
            .get(0);
        let (mut areas, buildings, houses, population, workers, basemap) = tokio::try_join!(
            read::AREAS.select(&*tx, Filter::All),
            self.read_in_snapshot(&read::BUILDINGS, &snapshot),
            self.read_in_snapshot(&read::HOUSES, &snapshot),
            self.read_in_snapshot(&read::POPULATION, &snapshot),
            self.read_in_snapshot(&read::WORKERS, &snapshot),
            self.read_in_snapshot(&read::BASEMAP, &snapshot),
        )?;
        tx.commit()
            .await
            .map_err(|e| query_error("cannot finish reading", &e))?;
        areas.sort_unstable_by(|a, b| (a.level, &a.code).cmp(&(b.level, &b.code)));
        Ok(Dataset {
            areas,
            buildings,
            houses,
            population,
            workers,
            basemap,
        })
    }

    async fn load_events(
        &self,
        sink: &mut (dyn FnMut(Vec<Event>) + Send),
    ) -> Result<(), StoreError> {
        stream_events(&self.pool, true, sink).await
    }

    async fn load_events_without_steps(
        &self,
        sink: &mut (dyn FnMut(Vec<Event>) + Send),
    ) -> Result<(), StoreError> {
        stream_events(&self.pool, false, sink).await
    }

    async fn apply(&self, changes: &[Change]) -> Result<(), StoreError> {
        write::apply(&self.pool, changes).await
    }

    async fn refresh_statistics(&self) -> Result<(), StoreError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        client
            .batch_execute(
                "ANALYZE area, building, house, population, event, event_transition, worker, \
                 worker_fix, basemap",
            )
            .await
            .map_err(|e| query_error("cannot refresh the planner statistics", &e))
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let row = client
            .query_one(
                "SELECT (SELECT count(*) FROM area), (SELECT count(*) FROM building), \
                 (SELECT count(*) FROM house), (SELECT count(*) FROM population), \
                 (SELECT count(*) FROM event), (SELECT count(*) FROM worker), \
                 (SELECT count(*) FROM worker_fix)",
                &[],
            )
            .await
            .map_err(|e| query_error("cannot count rows", &e))?;
        let count = |i: usize| -> u64 { u64::try_from(row.get::<_, i64>(i)).unwrap_or(0) };
        Ok(Counts {
            areas: count(0),
            buildings: count(1),
            houses: count(2),
            population: count(3),
            events: count(4),
            workers: count(5),
            worker_fixes: count(6),
        })
    }

    async fn ingest_events(&self, events: &[Event]) -> Result<Vec<Ingested>, StoreError> {
        events::ingest(&self.pool, events).await
    }

    async fn event(&self, code: &str) -> Result<Option<Event>, StoreError> {
        events::one(&self.pool, code).await
    }

    async fn transition_event(&self, event: &Event, steps: usize) -> Result<bool, StoreError> {
        events::transition(&self.pool, event, steps).await
    }

    async fn events_by_codes(&self, codes: &[String]) -> Result<Vec<Event>, StoreError> {
        events::by_codes(&self.pool, codes).await
    }

    async fn stored_event_codes(
        &self,
        scope: &str,
        keys: &[(EventSource, String)],
    ) -> Result<Vec<(EventSource, String, String)>, StoreError> {
        events::stored_codes_of(&self.pool, scope, keys).await
    }

    async fn last_event_code(&self, prefix: &str) -> Result<Option<String>, StoreError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        events::last_code(&client, prefix).await
    }

    async fn insert_fixes(&self, fixes: &[WorkerFix]) -> Result<Vec<bool>, StoreError> {
        worker_state::insert_fixes(&self.pool, &self.fix_days, fixes).await
    }

    async fn worker_fixes(
        &self,
        worker_code: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<WorkerFix>, StoreError> {
        track::worker_fixes(&self.pool, worker_code, from, to).await
    }

    async fn load_worker_state(&self, since: DateTime<Utc>) -> Result<WorkerState, StoreError> {
        worker_state::load_state(&self.pool, since).await
    }

    async fn save_alerts(&self, alerts: &[WorkerAlert]) -> Result<(), StoreError> {
        worker_state::save_alerts(&self.pool, alerts).await
    }

    async fn worker_alerts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<WorkerAlert>, StoreError> {
        worker_state::alerts(&self.pool, from, to).await
    }

    async fn prune_fixes(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        worker_state::prune(&self.pool, &self.fix_days, before).await
    }

    /// Starts the listener on the first call; later calls, and calls outside a Tokio runtime,
    /// get `None`.
    fn subscribe(&self) -> Option<mpsc::Receiver<Change>> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!(
                "PostgisStore::subscribe needs a Tokio runtime; no change feed started"
            );
            return None;
        };
        if self.subscribed.swap(true, Ordering::SeqCst) {
            tracing::warn!(
                "PostgisStore::subscribe called twice; the change feed has one receiver"
            );
            return None;
        }
        let (out, receiver) = mpsc::channel(CHANGE_CAPACITY);
        listen::spawn(
            &runtime,
            self.listener_config.clone(),
            out,
            self.connected_at,
        );
        Some(receiver)
    }
}

/// Streams events through a cursor, [`EVENT_CHUNK`] at a time: with their transitions and by
/// `reported_at` when `with_steps`, else without either.
async fn stream_events(
    pool: &Pool,
    with_steps: bool,
    sink: &mut (dyn FnMut(Vec<Event>) + Send),
) -> Result<(), StoreError> {
    let mut client = pool.get().await.map_err(pool_error)?;
    let tx = read_only_transaction(&mut client).await?;
    // Without steps the caller takes any order, and a plain scan spares sorting every event.
    let order = if with_steps {
        " ORDER BY reported_at, code"
    } else {
        ""
    };
    tx.batch_execute(&format!(
        "DECLARE gridmap_events NO SCROLL CURSOR FOR SELECT {} FROM event{order}",
        rows::EVENT_COLUMNS
    ))
    .await
    .map_err(|e| query_error("cannot open the event cursor", &e))?;
    // Each chunk's steps are found by the primary key of event_transition; a reused plan
    // for `= ANY($1)` may scan the whole table per chunk instead (the cursor's plan is
    // fixed already).
    if with_steps {
        tx.batch_execute("SET LOCAL enable_seqscan = off")
            .await
            .map_err(|e| query_error("cannot plan the event load", &e))?;
    }
    let fetch = format!("FETCH {EVENT_CHUNK} FROM gridmap_events");
    loop {
        let found = tx
            .query(&fetch, &[])
            .await
            .map_err(|e| query_error("cannot read events", &e))?;
        if found.is_empty() {
            break;
        }
        let mut events = found
            .iter()
            .map(rows::event)
            .collect::<Result<Vec<_>, _>>()?;
        if with_steps {
            read::attach_transitions(&*tx, &mut events).await?;
        }
        sink(events);
    }
    tx.commit()
        .await
        .map_err(|e| query_error("cannot finish reading events", &e))
}
