//! The one write path: every writer of a serving process (the HTTP handlers, the PostGIS change
//! feed, and later the GPS fixes and the demo feed) hands its batch to [`WritePath`], which
//!
//! 1. commits it to the store (acknowledged only after the commit: a crash loses nothing that
//!    was acknowledged),
//! 2. applies it to the engine, which answers the extents the batch changed,
//! 3. drops exactly the cached tiles those extents touch, and
//! 4. publishes the batch on an in-process broadcast channel for live subscribers.
//!
//! Engine applies happen in commit order: one lock is held from a commit to its apply (event
//! ingest commits outside it, as its batches are independent and the store assigns codes, then
//! applies under it).
//!
//! Offline writers (`gridmap import`, `gridmap generate`, the first fill of the sample city)
//! run where no engine, cache or subscriber exists; they write through [`Writes`] too, which a
//! bare store implements by committing alone. A serving process learns of their writes through
//! the PostGIS change feed, which comes back here.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::{broadcast, Mutex};

use chrono::{DateTime, Utc};

use crate::engine::{Engine, Extents, WorkerUpdate};
use crate::model::{Change, Event, WorkerAlert, WorkerFix};
use crate::store::event_query::Ingested;
use crate::store::{Store, StoreError};
use crate::tiles::cache::TileCache;
use crate::tiles::Tilesets;

/// Batches a slow live subscriber may fall behind by before it is told it lagged.
const PUBLISHED_BACKLOG: usize = 1024;

/// Where a batch of changes goes to become durable, and visible wherever this process shows it.
#[async_trait]
pub trait Writes: Send + Sync {
    /// The store the writes land in (for the reads that validate a batch first).
    fn store(&self) -> &dyn Store;

    /// Commits `changes` in one transaction and, once committed, applies them to whatever read
    /// model this process keeps. On error nothing of the batch is stored or applied.
    async fn commit(&self, changes: &[Change]) -> Result<(), StoreError>;
}

/// A bare store is the whole write path of an offline writer.
#[async_trait]
impl<S: Store> Writes for S {
    fn store(&self) -> &dyn Store {
        self
    }

    async fn commit(&self, changes: &[Change]) -> Result<(), StoreError> {
        self.apply(changes).await
    }
}

/// As for a concrete store, for one chosen at run time (`serve::open_store`).
#[async_trait]
impl Writes for dyn Store + '_ {
    fn store(&self) -> &dyn Store {
        self
    }

    async fn commit(&self, changes: &[Change]) -> Result<(), StoreError> {
        self.apply(changes).await
    }
}

/// One applied batch, as live subscribers receive it.
#[derive(Debug)]
pub struct Published {
    /// The changes, in the order they were applied.
    pub changes: Vec<Change>,
    /// Where they changed the map, old and new.
    pub extents: Extents,
    /// What changed on the worker board (fixes, status, alerts).
    pub workers: Vec<WorkerUpdate>,
    /// The board's version after `workers` ([`crate::engine::WorkerBoard::version`]): a
    /// client whose snapshot showed this version or a later one has these updates already.
    pub board_version: u64,
    /// The batch as the live stream's messages, rendered by the first client that needs
    /// them and shared by the rest.
    pub rendered: std::sync::OnceLock<Vec<crate::live::Rendered>>,
}

/// The write path of a serving process: store, engine, tile cache, live channel.
pub struct WritePath {
    store: Arc<dyn Store>,
    engine: Arc<Engine>,
    tilesets: Arc<Tilesets>,
    tile_cache: Arc<TileCache>,
    published: broadcast::Sender<Arc<Published>>,
    /// Held from a commit to its engine apply, so the engine sees batches in commit order.
    order: Mutex<()>,
}

impl WritePath {
    /// The write path over a loaded engine and the cache that serves its tiles.
    pub fn new(
        store: Arc<dyn Store>,
        engine: Arc<Engine>,
        tilesets: Arc<Tilesets>,
        tile_cache: Arc<TileCache>,
    ) -> WritePath {
        let (published, _) = broadcast::channel(PUBLISHED_BACKLOG);
        WritePath {
            store,
            engine,
            tilesets,
            tile_cache,
            published,
            order: Mutex::new(()),
        }
    }

    /// Every batch applied from now on; a receiver that falls more than a backlog behind gets
    /// `Lagged` and carries on from the oldest batch still held.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Published>> {
        self.published.subscribe()
    }

    /// Applies a batch another writer has committed (the PostGIS change feed), in order with
    /// this process's own commits.
    pub async fn apply_committed(&self, changes: Vec<Change>) {
        let _order = self.order.lock().await;
        self.show(changes);
    }

    /// Stores new events idempotently ([`Store::ingest_events`]) and applies the ones created.
    /// Batches commit concurrently; their applies are ordered. An event the engine already
    /// holds is not applied again: between this batch's commit and its apply, a transition may
    /// have read it from the store and applied its later state.
    pub async fn ingest_events(&self, events: &[Event]) -> Result<Vec<Ingested>, StoreError> {
        let stored = self.store.ingest_events(events).await?;
        let _order = self.order.lock().await;
        let snapshot = self.engine.snapshot();
        let created: Vec<Change> = events
            .iter()
            .zip(&stored)
            .filter(|(_, s)| s.created && snapshot.events().position(&s.code).is_none())
            .map(|(event, s)| {
                let mut event = event.clone();
                event.code = s.code.clone();
                Change::UpsertEvent(event)
            })
            .collect();
        if !created.is_empty() {
            self.show(created);
        }
        Ok(stored)
    }

    /// Stores an event's next state under the optimistic check of
    /// [`Store::transition_event`] and applies it; `Ok(false)` (nothing stored or applied)
    /// when another writer changed the event first.
    pub async fn transition_event(&self, next: &Event, steps: usize) -> Result<bool, StoreError> {
        let _order = self.order.lock().await;
        if !self.store.transition_event(next, steps).await? {
            return Ok(false);
        }
        self.show(vec![Change::UpsertEvent(next.clone())]);
        Ok(true)
    }

    /// Stores GPS fixes ([`Store::insert_fixes`]) and takes the new ones onto the worker board
    /// at `now`; answers per fix whether it was new. Batches commit concurrently; their
    /// applies are ordered. The alerts the fixes raised or cleared are stored before they are
    /// published.
    pub async fn ingest_fixes(
        &self,
        fixes: Vec<WorkerFix>,
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, StoreError> {
        let new = self.store.insert_fixes(&fixes).await?;
        let stored: Vec<WorkerFix> = fixes
            .into_iter()
            .zip(&new)
            .filter(|(_, new)| **new)
            .map(|(fix, _)| fix)
            .collect();
        if !stored.is_empty() {
            let _order = self.order.lock().await;
            let updates = self.engine.apply_fixes(stored, now);
            let version = self.engine.workers().version();
            self.publish_workers(updates, version).await;
        }
        Ok(new)
    }

    /// Moves the worker board's clock to `now`: status changes and due alerts are stored
    /// (alerts) and published.
    pub async fn tick_workers(&self, now: DateTime<Utc>) {
        let _order = self.order.lock().await;
        let updates = self.engine.tick_workers(now);
        let version = self.engine.workers().version();
        self.publish_workers(updates, version).await;
    }

    /// Stores the alerts among `updates`, then publishes them all with the board version they
    /// brought. A store failure is logged: the alert stays on the board and is written again
    /// when it is cleared. Callers hold `order`, so no other batch moved the board meanwhile.
    async fn publish_workers(&self, updates: Vec<WorkerUpdate>, board_version: u64) {
        if updates.is_empty() {
            return;
        }
        let alerts: Vec<WorkerAlert> = updates
            .iter()
            .filter_map(|u| match u {
                WorkerUpdate::Alert(alert) => Some(alert.clone()),
                _ => None,
            })
            .collect();
        if !alerts.is_empty() {
            if let Err(e) = self.store.save_alerts(&alerts).await {
                tracing::error!(error = %e, alerts = alerts.len(), "cannot store worker alerts");
            }
        }
        let _ = self.published.send(Arc::new(Published {
            changes: Vec::new(),
            extents: Extents::default(),
            workers: updates,
            board_version,
            rendered: Default::default(),
        }));
    }

    /// Engine, tile cache, subscribers: everything after the commit. Callers hold `order`.
    fn show(&self, changes: Vec<Change>) {
        let extents = self.engine.apply(&changes);
        self.tile_cache.invalidate(&self.tilesets, &extents.boxes);
        self.tile_cache
            .invalidate_points(&self.tilesets, &extents.event_points());
        // No subscriber is not an error: the batch is applied either way.
        let _ = self.published.send(Arc::new(Published {
            changes,
            extents,
            workers: Vec::new(),
            board_version: 0,
            rendered: Default::default(),
        }));
    }
}

#[async_trait]
impl Writes for WritePath {
    fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    async fn commit(&self, changes: &[Change]) -> Result<(), StoreError> {
        let _order = self.order.lock().await;
        self.store.apply(changes).await?;
        self.show(changes.to_vec());
        Ok(())
    }
}
