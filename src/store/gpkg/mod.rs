//! The embedded store: one GeoPackage 1.3 file (SQLite through rusqlite) that QGIS and GDAL
//! open as they are, with the same durability promise as PostGIS (WAL, `synchronous = FULL`,
//! a batch is acknowledged only after its COMMIT).
//!
//! Layout: feature tables `area` (MultiPolygon), `building` (Polygon), `event` (Point),
//! `worker_fix` (Point) and `basemap` (LineString roads and rivers, MultiPolygon water) in
//! EPSG:4490 with R-tree indexes; attribute tables `house`,
//! `population`, `event_transition` and `worker`. `schema.rs` holds the DDL and upgrades,
//! `blob.rs` the geometry encoding, `write.rs` and `read.rs` the two directions, `rows.rs` the
//! column lists and value forms they share, `functions.rs` the SQL functions of the R-tree
//! triggers. rusqlite is blocking, so every call runs on tokio's blocking pool: writes on the
//! one writer connection, reads on their own read-only connections. Times are stored to the
//! millisecond (GeoPackage DATETIME text), so finer fractions do not survive a round trip.

pub mod blob;
mod error;
mod events;
mod functions;
mod read;
mod rows;
mod schema;
mod track;
mod worker_state;
mod write;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::Connection;
use tokio::sync::mpsc;

use chrono::{DateTime, Utc};

use crate::model::{Change, Dataset, Event, EventSource, WorkerAlert, WorkerFix, WorkerState};
use crate::store::event_query::Ingested;
use crate::store::{Counts, Store, StoreError};

pub use error::GpkgError;

/// Events per chunk handed to the `load_events` sink.
const EVENT_CHUNK: usize = 50_000;

/// Statements kept prepared on the writer connection (every upsert, delete and check).
const STATEMENT_CACHE: usize = 64;

/// Page cache of the writer connection, in KiB (large batches of events touch many index pages).
const WRITER_CACHE_KIB: i64 = 65_536;

/// A gridmap GeoPackage file used as the system of record.
pub struct GpkgStore {
    path: PathBuf,
    writer: Arc<Mutex<Connection>>,
}

impl GpkgStore {
    /// Opens the store at `path`: creates the file (and its folder) with the full schema when
    /// missing, upgrades an older gridmap schema, and refuses a file that is not a gridmap
    /// GeoPackage (or is from a newer gridmap) with an error that says what to do.
    pub fn open(path: &Path) -> Result<GpkgStore, StoreError> {
        Ok(Self::open_file(path)?)
    }

    fn open_file(path: &Path) -> Result<GpkgStore, GpkgError> {
        let open_error = |reason: String| GpkgError::Open {
            path: path.display().to_string(),
            reason,
        };
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder).map_err(|e| open_error(e.to_string()))?;
        }
        let mut conn = Connection::open(path).map_err(|e| open_error(e.to_string()))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(GpkgError::sqlite("setting the busy timeout"))?;
        functions::register(&conn)
            .map_err(GpkgError::sqlite("registering the R-tree functions"))?;
        schema::prepare(&mut conn, path)?;
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)
            .map_err(GpkgError::sqlite("setting the page cache size"))?;
        // Statement journals (every upsert with triggers needs one) stay in memory, not in
        // temporary files.
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(GpkgError::sqlite("keeping temporary data in memory"))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(GpkgStore {
            path: path.to_path_buf(),
            writer: Arc::new(Mutex::new(conn)),
        })
    }

    /// The file this store reads and writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` on the writer connection on the blocking pool.
    async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, GpkgError> + Send + 'static,
    {
        let writer = Arc::clone(&self.writer);
        let outcome = tokio::task::spawn_blocking(move || {
            // A panic while holding the lock dropped its transaction, which rolled back: the
            // connection is consistent, so a poisoned lock is safe to reuse.
            let mut conn = writer.lock().unwrap_or_else(PoisonError::into_inner);
            work(&mut conn)
        })
        .await;
        Ok(outcome.map_err(|e| GpkgError::Task(e.to_string()))??)
    }

    /// Runs `work` on a fresh read-only connection on the blocking pool.
    async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, GpkgError> + Send + 'static,
    {
        let path = self.path.clone();
        let outcome =
            tokio::task::spawn_blocking(move || work(&mut read::open_reader(&path)?)).await;
        Ok(outcome.map_err(|e| GpkgError::Task(e.to_string()))??)
    }
}

#[async_trait]
impl Store for GpkgStore {
    fn name(&self) -> &'static str {
        "gpkg"
    }

    async fn load(&self) -> Result<Dataset, StoreError> {
        self.read(read::load).await
    }

    async fn load_events(
        &self,
        sink: &mut (dyn FnMut(Vec<Event>) + Send),
    ) -> Result<(), StoreError> {
        let (chunks, mut received) = mpsc::channel::<Vec<Event>>(2);
        let reading = self.read(move |conn| {
            read::stream_events(conn, EVENT_CHUNK, &mut |chunk| {
                chunks.blocking_send(chunk).is_ok()
            })
        });
        let draining = async {
            while let Some(chunk) = received.recv().await {
                sink(chunk);
            }
        };
        let (outcome, ()) = tokio::join!(reading, draining);
        outcome
    }

    async fn apply(&self, changes: &[Change]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let changes = changes.to_vec();
        self.write(move |conn| write::apply(conn, &changes)).await
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        self.read(|conn| read::counts(conn)).await
    }

    async fn ingest_events(&self, events: &[Event]) -> Result<Vec<Ingested>, StoreError> {
        let events = events.to_vec();
        self.write(move |conn| events::ingest(conn, &events)).await
    }

    async fn event(&self, code: &str) -> Result<Option<Event>, StoreError> {
        let code = code.to_string();
        self.read(move |conn| events::one(conn, &code)).await
    }

    async fn transition_event(&self, event: &Event, steps: usize) -> Result<bool, StoreError> {
        let event = event.clone();
        self.write(move |conn| events::transition(conn, &event, steps))
            .await
    }

    async fn events_by_codes(&self, codes: &[String]) -> Result<Vec<Event>, StoreError> {
        let codes = codes.to_vec();
        self.read(move |conn| events::by_codes(conn, &codes)).await
    }

    async fn stored_event_codes(
        &self,
        scope: &str,
        keys: &[(EventSource, String)],
    ) -> Result<Vec<(EventSource, String, String)>, StoreError> {
        let (scope, keys) = (scope.to_string(), keys.to_vec());
        self.read(move |conn| events::stored_codes_of(conn, &scope, &keys))
            .await
    }

    async fn last_event_code(&self, prefix: &str) -> Result<Option<String>, StoreError> {
        let prefix = prefix.to_string();
        self.read(move |conn| events::last_code(conn, &prefix))
            .await
    }

    async fn insert_fixes(&self, fixes: &[WorkerFix]) -> Result<Vec<bool>, StoreError> {
        if fixes.is_empty() {
            return Ok(Vec::new());
        }
        let fixes = fixes.to_vec();
        self.write(move |conn| worker_state::insert_fixes(conn, &fixes))
            .await
    }

    async fn worker_fixes(
        &self,
        worker_code: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<WorkerFix>, StoreError> {
        let worker_code = worker_code.to_string();
        self.read(move |conn| track::worker_fixes(conn, &worker_code, from, to))
            .await
    }

    async fn load_worker_state(&self, since: DateTime<Utc>) -> Result<WorkerState, StoreError> {
        self.read(move |conn| worker_state::load_state(conn, since))
            .await
    }

    async fn save_alerts(&self, alerts: &[WorkerAlert]) -> Result<(), StoreError> {
        if alerts.is_empty() {
            return Ok(());
        }
        let alerts = alerts.to_vec();
        self.write(move |conn| worker_state::save_alerts(conn, &alerts))
            .await
    }

    async fn worker_alerts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<WorkerAlert>, StoreError> {
        self.read(move |conn| worker_state::alerts(conn, from, to))
            .await
    }

    async fn prune_fixes(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.write(move |conn| worker_state::prune(conn, before))
            .await
    }

    fn subscribe(&self) -> Option<mpsc::Receiver<Change>> {
        None
    }
}
