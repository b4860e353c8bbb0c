//! The engine: the in-memory read model every read goes through.
//!
//! Reads take an immutable [`Snapshot`] (an `Arc`, swapped atomically with `arc-swap`), so
//! they never wait for a writer. A write ([`Engine::apply`]) runs after the store has committed
//! the changes: it copies the current snapshot shallowly, patches the parts the changes touch
//! (sharing the rest) and publishes the result. Writers are serialized among themselves.
//!
//! Where things are: `point_in_area` (the border rule and the PostGIS-exact polygon test),
//! `area_index` (R-trees over areas per layer and level), `area_neighbors` (which areas of a
//! level touch an area, PostGIS `ST_Touches`), `building_index` (buildings by code
//! and envelope), `basemap_index` (roads, rivers and water by code and envelope), `housing` (houses and population per building), `rollup` (per-area totals),
//! `events` (the columnar event store and its tile aggregations), `extents` (where a batch
//! changed the map, for tile invalidation),
//! `track` (a worker's GPS track from its fixes: segments, distance, simplification),
//! `apply` (load and incremental patching), `snapshot` (the read API).

mod apply;
mod area_index;
mod area_neighbors;
mod area_search;
mod basemap_index;
mod building_index;
pub mod events;
mod extents;
mod housing;
pub mod patrol_coverage;
pub mod point_in_area;
mod rollup;
mod snapshot;
mod track;
pub mod workers;

#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard};

use chrono::{DateTime, Utc};

use arc_swap::ArcSwap;

use crate::model::{Change, Dataset, Worker, WorkerAlert, WorkerFix, WorkerState};
use apply::Writer;
pub use area_index::IndexedArea;
pub use area_neighbors::{Neighbor, Touch};
pub use basemap_index::basemap_bounds;
pub use building_index::{IndexedBuilding, Shard as BuildingShard};
pub use events::{EventLoader, EventMove, EventStore};
pub use extents::Extents;
pub use rollup::{CareTotals, Rollup};
pub use snapshot::{Sizes, Snapshot};
pub use track::{track, Segment, Track, TrackRules};
pub use workers::{WorkerBoard, WorkerRules, WorkerStatus, WorkerUpdate, WorkerView};

/// The read model: a published snapshot and the writer state behind it. `Send + Sync`; share
/// it in an `Arc`.
pub struct Engine {
    current: ArcSwap<Snapshot>,
    writer: Mutex<Writer>,
    /// The workers' live state; written by fixes and ticks, read by the worker endpoints.
    workers: RwLock<WorkerBoard>,
}

impl Engine {
    /// Builds the read model from a loaded dataset (indexes, grid codes, rollups).
    pub fn new(data: Dataset) -> Engine {
        let workers = WorkerBoard::new(WorkerRules::default(), data.workers.clone());
        let (writer, snapshot) = Writer::load(data);
        Engine {
            current: ArcSwap::from_pointee(snapshot),
            writer: Mutex::new(writer),
            workers: RwLock::new(workers),
        }
    }

    /// Sets the thresholds of worker status and alerts (config `[workers]`), keeping the
    /// registry; call before [`Engine::restore_workers`].
    pub fn set_worker_rules(&self, rules: WorkerRules) {
        let mut board = self.workers_mut();
        let registry = board
            .views(|_| true)
            .into_iter()
            .map(|v| Worker::clone(&v.worker))
            .collect();
        *board = WorkerBoard::new(rules, registry);
    }

    /// Starts the worker board from the stored latest fixes and open alerts; answers the
    /// alerts that changed on the way (see [`WorkerBoard::restore`]).
    pub fn restore_workers(&self, state: WorkerState, now: DateTime<Utc>) -> Vec<WorkerAlert> {
        let snapshot = self.snapshot();
        self.workers_mut().restore(state, &snapshot, now)
    }

    /// Takes newly stored fixes onto the worker board; answers what changed.
    pub fn apply_fixes(&self, fixes: Vec<WorkerFix>, now: DateTime<Utc>) -> Vec<WorkerUpdate> {
        let snapshot = self.snapshot();
        self.workers_mut().apply_fixes(fixes, &snapshot, now)
    }

    /// Moves the worker board's clock to `now` (offline, due alerts); answers what changed.
    pub fn tick_workers(&self, now: DateTime<Utc>) -> Vec<WorkerUpdate> {
        self.workers_mut().tick(now)
    }

    /// The worker board, for reading; hold it briefly (fixes wait for it).
    pub fn workers(&self) -> RwLockReadGuard<'_, WorkerBoard> {
        self.workers.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn workers_mut(&self) -> std::sync::RwLockWriteGuard<'_, WorkerBoard> {
        self.workers.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current snapshot; cheap, never blocks.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Applies a batch of committed changes and publishes the next snapshot. Readers see
    /// either all of the batch or none of it. Returns the extents the batch changed, old and
    /// new (read from the snapshot it is applied to, under the writer lock, so two writers
    /// never see each other's half), for tile invalidation and the live stream.
    pub fn apply(&self, changes: &[Change]) -> Extents {
        // Only a bug can panic inside `Writer::apply`; its half-built snapshot is then never
        // published, and reads carry on from the last good one rather than failing for good.
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.current.load_full();
        let mut extents = Extents::of_changes(&current, changes);
        let mut next = Snapshot::clone(&current);
        extents.events = writer.apply(&mut next, changes);
        self.current.store(Arc::new(next));
        self.apply_registry(changes);
        extents
    }

    /// Worker records of a batch go to the board (their fixes come through
    /// [`Engine::apply_fixes`]).
    fn apply_registry(&self, changes: &[Change]) {
        let workers = changes
            .iter()
            .filter(|c| matches!(c, Change::UpsertWorker(_) | Change::DeleteWorker(_)));
        let mut board = None;
        for change in workers {
            let board = board.get_or_insert_with(|| self.workers_mut());
            match change {
                Change::UpsertWorker(w) => board.upsert_worker(w.clone()),
                Change::DeleteWorker(code) => board.remove_worker(code),
                _ => {}
            }
        }
    }

    /// Replaces the event store (start-up loading, see [`EventLoader`]) and publishes it.
    pub fn load_events(&self, events: EventStore) {
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut next = Snapshot::clone(&self.current.load());
        next.events = Arc::new(events);
        self.current.store(Arc::new(next));
    }
}
