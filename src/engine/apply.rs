//! The writer side of the engine: loads a dataset into the first snapshot and patches a copy
//! of the current snapshot with each batch of changes.
//!
//! Rules kept here:
//! - A building keeps the `grid_code` it comes with (the store is the system of record); one
//!   without gets the base grid owning its interior point under the border rule.
//! - A change to a base grid, or to any area of another layer, re-places the buildings whose
//!   interior point lies in the area's old or new envelope: base grids re-assign `grid_code`,
//!   other layers re-pick the owner per level; rollups follow through the [`Ledger`].
//! - Adding or removing base areas rebuilds the base rollups from the totals per grid code.
//! - Events of a batch go to the event store together (one tail segment per batch); worker
//!   fixes are not part of the snapshot: they go to the worker board (`workers`) through
//!   `Engine::apply_fixes`.

use std::collections::HashSet;
use std::sync::Arc;

use rstar::{Envelope, AABB};

use super::area_index::{AreaIndex, IndexedArea};
use super::basemap_index::BasemapIndex;
use super::building_index::{BuildingIndex, IndexedBuilding};
use super::events::EventMove;
use super::housing::{BuildingDelta, HousingStock};
use super::rollup::{Ledger, Placement, Rollups, Totals};
use super::snapshot::{Snapshot, StockCounts};
use crate::model::{Area, Building, Change, Dataset, Event, Layer, Level};

/// Everything the writer keeps besides the published snapshot.
#[derive(Debug, Default)]
pub(super) struct Writer {
    stock: HousingStock,
    ledger: Ledger,
    workers: HashSet<String>,
}

impl Writer {
    /// Builds the writer state and the first snapshot from a loaded dataset.
    pub fn load(data: Dataset) -> (Writer, Snapshot) {
        let areas = AreaIndex::new(data.areas);
        // The housing stock does not depend on the buildings' placement: build both at once.
        let (stock, placed) = std::thread::scope(|scope| {
            let stock = scope.spawn(|| HousingStock::new(data.houses, data.population));
            let placed = place_all(data.buildings, &areas);
            (
                stock
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                placed,
            )
        });
        let (buildings, placements): (Vec<_>, Vec<_>) = placed.into_iter().unzip();
        let entries = buildings
            .iter()
            .zip(placements)
            .map(|(b, placement)| {
                let code = b.building.code.clone();
                let totals = Totals::ONE_BUILDING.plus(&stock.building_totals(&code));
                (code, placement, totals)
            })
            .collect();
        let (ledger, rollups) = Ledger::load(entries, &areas);
        let writer = Writer {
            stock,
            ledger,
            workers: data.workers.into_iter().map(|w| w.code).collect(),
        };
        let snapshot = Snapshot {
            areas: Arc::new(areas),
            buildings: Arc::new(BuildingIndex::new(buildings)),
            basemap: Arc::new(BasemapIndex::new(data.basemap)),
            rollups: Arc::new(rollups),
            events: Arc::default(),
            counts: writer.counts(),
        };
        (writer, snapshot)
    }

    fn counts(&self) -> StockCounts {
        StockCounts {
            houses: self.stock.houses(),
            population_rows: self.stock.population_rows(),
            workers: self.workers.len(),
        }
    }

    fn post(
        &mut self,
        b: &IndexedBuilding,
        placement: Placement,
        areas: &AreaIndex,
        rollups: &mut Rollups,
    ) {
        let code = &b.building.code;
        let totals = Totals::ONE_BUILDING.plus(&self.stock.building_totals(code));
        self.ledger.post(code, placement, totals, areas, rollups);
    }

    /// Patches `next` (a shallow copy of the current snapshot) with a batch of changes;
    /// returns where the batch's events were and are.
    pub fn apply(&mut self, next: &mut Snapshot, changes: &[Change]) -> Vec<EventMove> {
        let mut areas_changed = false;
        let mut events: Vec<&Event> = Vec::new();
        for change in changes {
            match change {
                Change::UpsertArea(area) => {
                    let old = Arc::make_mut(&mut next.areas).upsert(area.clone());
                    self.area_changed(next, old.as_deref(), Some(area));
                    areas_changed = true;
                }
                Change::DeleteArea(code) => {
                    if let Some(old) = Arc::make_mut(&mut next.areas).remove(code) {
                        self.area_changed(next, Some(&old), None);
                        areas_changed = true;
                    }
                }
                Change::UpsertBuilding(building) => self.upsert_building(next, building.clone()),
                Change::DeleteBuilding(code) => {
                    Arc::make_mut(&mut next.buildings).remove(code);
                    self.ledger
                        .withdraw(code, &next.areas, Arc::make_mut(&mut next.rollups));
                }
                Change::UpsertHouse(house) => {
                    let deltas = self.stock.upsert_house(house.clone());
                    self.adjust(next, deltas);
                }
                Change::DeleteHouse(code) => {
                    let deltas = self.stock.delete_house(code);
                    self.adjust(next, deltas);
                }
                Change::SetPopulation(population) => {
                    let deltas = self.stock.set_population(population.clone());
                    self.adjust(next, deltas);
                }
                Change::UpsertWorker(worker) => {
                    self.workers.insert(worker.code.clone());
                }
                Change::DeleteWorker(code) => {
                    self.workers.remove(code);
                }
                Change::UpsertBasemap(feature) => {
                    Arc::make_mut(&mut next.basemap).upsert(feature.clone());
                }
                Change::DeleteBasemap(code) => {
                    Arc::make_mut(&mut next.basemap).remove(code);
                }
                Change::UpsertEvent(event) => events.push(event),
                Change::InsertFix(_) => {}
            }
        }
        if areas_changed {
            let rollups = Arc::make_mut(&mut next.rollups);
            self.ledger.rebuild_base(&next.areas, rollups);
        }
        next.counts = self.counts();
        if events.is_empty() {
            return Vec::new();
        }
        Arc::make_mut(&mut next.events).upsert(&events)
    }

    fn upsert_building(&mut self, next: &mut Snapshot, building: Building) {
        let indexed = Arc::new(index_building(building, &next.areas));
        let placement = placement_of(&indexed, &next.areas);
        Arc::make_mut(&mut next.buildings).upsert(indexed.clone());
        self.post(
            &indexed,
            placement,
            &next.areas,
            Arc::make_mut(&mut next.rollups),
        );
    }

    fn adjust(&mut self, next: &mut Snapshot, deltas: Vec<BuildingDelta>) {
        if deltas.is_empty() {
            return;
        }
        let rollups = Arc::make_mut(&mut next.rollups);
        for (building, delta) in deltas {
            self.ledger.adjust(&building, &delta, &next.areas, rollups);
        }
    }

    /// Re-places the buildings an area change can concern (see the module documentation).
    fn area_changed(&mut self, next: &mut Snapshot, old: Option<&IndexedArea>, new: Option<&Area>) {
        let Some(area) = new.or(old.map(|o| &o.area)) else {
            return;
        };
        let regrid = area.layer == Layer::Base && area.level == Level::Grid;
        if area.layer == Layer::Base && !regrid {
            return;
        }
        let Some(envelope) = changed_envelope(&next.areas, old, &area.code) else {
            return;
        };
        let touched: Vec<Arc<IndexedBuilding>> = next
            .buildings
            .with_interior_in(&envelope)
            .into_iter()
            .cloned()
            .collect();
        for b in touched {
            let mut placement = placement_of(&b, &next.areas);
            if regrid {
                placement.grid = grid_owner(&next.areas, &b);
            }
            if self.ledger.placement(&b.building.code) == Some(&placement) {
                continue;
            }
            let current = if placement.grid != b.building.grid_code {
                let moved = Arc::new(b.with_grid_code(placement.grid.clone()));
                Arc::make_mut(&mut next.buildings).upsert(moved.clone());
                moved
            } else {
                b
            };
            self.post(
                &current,
                placement,
                &next.areas,
                Arc::make_mut(&mut next.rollups),
            );
        }
    }
}

/// The union of an area's old envelope and its current one (after the change).
fn changed_envelope(
    areas: &AreaIndex,
    old: Option<&IndexedArea>,
    code: &str,
) -> Option<AABB<[f64; 2]>> {
    let new = areas.get(code).and_then(|a| a.envelope);
    match (old.and_then(|o| o.envelope), new) {
        (Some(a), Some(b)) => Some(a.merged(&b)),
        (a, b) => a.or(b),
    }
}

/// Indexes and places every building, on all cores (interior points and owner lookups are
/// the bulk of the start-up work).
fn place_all(
    buildings: Vec<Building>,
    areas: &AreaIndex,
) -> Vec<(Arc<IndexedBuilding>, Placement)> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = buildings.len().div_ceil(threads).max(1);
    let mut chunks: Vec<Vec<Building>> = Vec::new();
    let mut rest = buildings;
    while rest.len() > chunk {
        let tail = rest.split_off(chunk);
        chunks.push(rest);
        rest = tail;
    }
    chunks.push(rest);
    std::thread::scope(|scope| {
        let workers: Vec<_> = chunks
            .into_iter()
            .map(|part| {
                scope.spawn(move || {
                    part.into_iter()
                        .map(|b| {
                            let indexed = index_building(b, areas);
                            let placement = placement_of(&indexed, areas);
                            (Arc::new(indexed), placement)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// Indexes a building, assigning its grid when it has none.
fn index_building(building: Building, areas: &AreaIndex) -> IndexedBuilding {
    let mut indexed = IndexedBuilding::new(building);
    if indexed.building.grid_code.is_none() {
        indexed.building.grid_code = grid_owner(areas, &indexed);
    }
    indexed
}

/// The base grid owning a building's interior point.
fn grid_owner(areas: &AreaIndex, b: &IndexedBuilding) -> Option<String> {
    let p = b.interior?;
    areas
        .owner_at(&Layer::Base, Level::Grid, p)
        .map(|a| a.area.code.clone())
}

/// Where a building's totals go: its grid code, and the owners of its interior point in the
/// other layers.
fn placement_of(b: &IndexedBuilding, areas: &AreaIndex) -> Placement {
    Placement {
        grid: b.building.grid_code.clone(),
        others: b
            .interior
            .map(|p| areas.other_layer_owners(p))
            .unwrap_or_default(),
    }
}
