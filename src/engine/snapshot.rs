//! The immutable read model: one consistent view of areas, buildings and rollups. Readers hold
//! an `Arc<Snapshot>` for as long as they like; the writer builds the next one beside it,
//! sharing every part it did not change.

use std::sync::Arc;

use geo_types::{coord, Rect};
use serde::Serialize;

use super::area_index::{rect_to_aabb, AreaIndex, IndexedArea};
use super::area_neighbors::Neighbor;
use super::basemap_index::BasemapIndex;
use super::building_index::{BuildingIndex, Shard};
use super::events::EventStore;
use super::rollup::{Rollup, Rollups};
use crate::model::{Area, BasemapFeature, Building, Layer, Level};

/// Row counts of the read model, for readiness, metrics and the admin API.
#[derive(Debug, Serialize, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sizes {
    /// Areas of every layer.
    pub areas: u64,
    /// Base grids (level grid).
    pub grids: u64,
    pub buildings: u64,
    pub houses: u64,
    pub population_rows: u64,
    pub workers: u64,
}

/// Counts of what the snapshot does not hold itself (kept on the writer side).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct StockCounts {
    pub houses: usize,
    pub population_rows: usize,
    pub workers: usize,
}

/// One immutable, consistent view of the read model.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub(super) areas: Arc<AreaIndex>,
    pub(super) buildings: Arc<BuildingIndex>,
    pub(super) basemap: Arc<BasemapIndex>,
    pub(super) rollups: Arc<Rollups>,
    pub(super) events: Arc<EventStore>,
    pub(super) counts: StockCounts,
}

/// Base levels from the deepest up: the order of a lookup chain.
const CHAIN_LEVELS: [Level; 6] = [
    Level::Microgrid,
    Level::Grid,
    Level::Community,
    Level::Street,
    Level::District,
    Level::City,
];

impl Snapshot {
    /// The area with this code, any layer.
    pub fn area(&self, code: &str) -> Option<&Area> {
        self.areas.get(code).map(|a| &a.area)
    }

    /// At most `limit` areas of every layer matching what a person typed (a code or its start,
    /// or part of a name; see `area_search`), among those `visible` lets through, best first.
    pub fn search_areas(
        &self,
        query: &str,
        visible: impl Fn(&Area) -> bool,
        limit: usize,
    ) -> Vec<&Area> {
        super::area_search::search(&self.areas, query, visible, limit)
    }

    /// The area with this code with its prepared polygon (for repeated point tests).
    pub fn indexed_area(&self, code: &str) -> Option<&IndexedArea> {
        self.areas.get(code).map(Arc::as_ref)
    }

    /// Direct children (`parent_code == code`) of every layer, sorted by code.
    pub fn children(&self, code: &str) -> Vec<&Area> {
        self.areas.children(code).map(|a| &a.area).collect()
    }

    /// The areas of the same layer and level that touch the area `code` (PostGIS
    /// `ST_Touches`: a shared edge or corner, interiors apart), with how and along how much
    /// border, sorted by code; `None` for an unknown code (see `area_neighbors`).
    pub fn neighbors(&self, code: &str) -> Option<Vec<Neighbor<'_>>> {
        super::area_neighbors::neighbors(&self.areas, code)
    }

    /// The base-layer chain at a point, deepest first: `[microgrid,] grid, community, street,
    /// district, city`, each level's owner under the border rule (`point_in_area`); levels with
    /// no area at the point are left out, and the chain is empty outside every base area.
    pub fn lookup(&self, lon: f64, lat: f64) -> Vec<&Area> {
        let p = coord! {x: lon, y: lat};
        CHAIN_LEVELS
            .iter()
            .filter_map(|&level| self.areas.owner_at(&Layer::Base, level, p))
            .map(|a| &a.area)
            .collect()
    }

    /// The base grid owning the point under the border rule.
    pub fn grid_at(&self, lon: f64, lat: f64) -> Option<&Area> {
        self.areas
            .owner_at(&Layer::Base, Level::Grid, coord! {x: lon, y: lat})
            .map(|a| &a.area)
    }

    /// Every area of every layer whose closed polygon contains the point (special grids, fire
    /// grids …), sorted by layer, then level, then code.
    pub fn containing(&self, lon: f64, lat: f64) -> Vec<&Area> {
        self.areas
            .containing(coord! {x: lon, y: lat})
            .into_iter()
            .map(|a| &a.area)
            .collect()
    }

    /// The rollup of an area; `None` for an unknown code, zeros for an empty area.
    pub fn rollup(&self, code: &str) -> Option<Rollup> {
        self.areas.get(code)?;
        Some(
            self.rollups
                .get(code)
                .copied()
                .unwrap_or_default()
                .to_rollup(),
        )
    }

    /// The version of the areas this snapshot holds: equal for two snapshots exactly when
    /// they hold the same areas (what is derived from areas may be kept under it).
    pub fn areas_version(&self) -> u64 {
        self.areas.version()
    }

    /// The extent of the city: the envelope of the base city-level areas, or of every area when
    /// there is none; `None` for an empty store. Read off the R-trees, so it costs nothing.
    pub fn city_extent(&self) -> Option<Rect<f64>> {
        let aabb = self
            .areas
            .extent(Some(&(Layer::Base, Level::City)))
            .or_else(|| self.areas.extent(None))?;
        let ([x0, y0], [x1, y1]) = (aabb.lower(), aabb.upper());
        Some(Rect::new(coord! {x: x0, y: y0}, coord! {x: x1, y: y1}))
    }

    /// Areas whose envelope intersects the box, sorted by layer, level, code.
    pub fn areas_in_bbox(&self, bbox: Rect<f64>) -> Vec<&Area> {
        self.areas
            .in_envelope(&rect_to_aabb(bbox))
            .into_iter()
            .map(|a| &a.area)
            .collect()
    }

    /// [`Snapshot::areas_in_bbox`] with each area's serial, for what is derived per area.
    pub fn indexed_areas_in_bbox(&self, bbox: Rect<f64>) -> Vec<&IndexedArea> {
        self.areas
            .in_envelope(&rect_to_aabb(bbox))
            .into_iter()
            .map(Arc::as_ref)
            .collect()
    }

    /// Buildings whose footprint envelope intersects the box, sorted by code.
    pub fn buildings_in_bbox(&self, bbox: Rect<f64>) -> Vec<&Building> {
        let mut found: Vec<&Building> = self
            .buildings
            .in_envelope(&rect_to_aabb(bbox))
            .into_iter()
            .map(|b| &b.building)
            .collect();
        found.sort_unstable_by(|a, b| a.code.cmp(&b.code));
        found
    }

    /// The communities' building shards that may hold a building intersecting the box, in
    /// community code order. A shard keeps its id until one of its buildings changes, so tile
    /// geometry derived from a shard is kept under that id.
    pub fn building_shards_in_bbox(&self, bbox: Rect<f64>) -> Vec<&Shard> {
        self.buildings.shards_in_envelope(&rect_to_aabb(bbox))
    }

    /// The building with this code.
    pub fn building(&self, code: &str) -> Option<&Building> {
        self.buildings.get(code).map(|b| &b.building)
    }

    /// Basemap features (roads, rivers, water) whose envelope intersects the box, sorted by code.
    pub fn basemap_in_bbox(&self, bbox: Rect<f64>) -> Vec<&BasemapFeature> {
        self.basemap.in_bbox(bbox)
    }

    /// The basemap feature with this code.
    pub fn basemap_feature(&self, code: &str) -> Option<&BasemapFeature> {
        self.basemap.get(code)
    }

    /// Number of basemap features.
    pub fn basemap_len(&self) -> usize {
        self.basemap.len()
    }

    /// The event store (events for the event and heatmap tiles).
    pub fn events(&self) -> &EventStore {
        &self.events
    }

    /// Row counts.
    pub fn sizes(&self) -> Sizes {
        Sizes {
            areas: self.areas.len() as u64,
            grids: self.areas.count(&Layer::Base, Level::Grid) as u64,
            buildings: self.buildings.len() as u64,
            houses: self.counts.houses as u64,
            population_rows: self.counts.population_rows as u64,
            workers: self.counts.workers as u64,
        }
    }
}
