//! The engine: the in-memory read model every read goes through.
//!
//! Reads take an immutable [`Snapshot`] (an `Arc`, swapped atomically with `arc-swap`), so
//! they never wait for a writer. A write ([`Engine::apply`]) runs after the store has committed
//! the changes: it copies the current snapshot shallowly, patches the parts the changes touch
//! (sharing the rest) and publishes the result. Writers are serialized among themselves.
//!
//! Where things are: `point_in_area` (the border rule and the PostGIS-exact polygon test),
//! `area_index` (R-trees over areas per layer and level), `building_index` (buildings by code
//! and envelope), `basemap_index` (roads, rivers and water by code and envelope), `housing` (houses and population per building), `rollup` (per-area totals),
//! `events` (the columnar event store and its tile aggregations), `extents` (where a batch
//! changed the map, for tile invalidation),
//! `apply` (load and incremental patching), `snapshot` (the read API).

mod apply;
mod area_index;
mod area_search;
mod basemap_index;
mod building_index;
pub mod events;
mod extents;
mod housing;
pub mod point_in_area;
mod rollup;
mod snapshot;

#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;

use crate::model::{Change, Dataset};
use apply::Writer;
pub use area_index::IndexedArea;
pub use basemap_index::basemap_bounds;
pub use building_index::{IndexedBuilding, Shard as BuildingShard};
pub use events::{EventLoader, EventMove, EventStore};
pub use extents::Extents;
pub use rollup::{CareTotals, Rollup};
pub use snapshot::{Sizes, Snapshot};

/// The read model: a published snapshot and the writer state behind it. `Send + Sync`; share
/// it in an `Arc`.
pub struct Engine {
    current: ArcSwap<Snapshot>,
    writer: Mutex<Writer>,
}

impl Engine {
    /// Builds the read model from a loaded dataset (indexes, grid codes, rollups).
    pub fn new(data: Dataset) -> Engine {
        let (writer, snapshot) = Writer::load(data);
        Engine {
            current: ArcSwap::from_pointee(snapshot),
            writer: Mutex::new(writer),
        }
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
        extents
    }

    /// Replaces the event store (start-up loading, see [`EventLoader`]) and publishes it.
    pub fn load_events(&self, events: EventStore) {
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut next = Snapshot::clone(&self.current.load());
        next.events = Arc::new(events);
        self.current.store(Arc::new(next));
    }
}
