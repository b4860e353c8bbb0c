//! Where an applied batch drew on the map, before and after: what the tile cache drops and what
//! the live stream may tell subscribers, without either of them knowing snapshots or changes.
//!
//! Rules: an area's extent is its bounding box joined with its management center (the label
//! point); a building's and a basemap feature's is their bounding box; an event's is its old
//! and new position. Houses, population and workers draw nothing on the map.

use geo::BoundingRect;
use geo_types::{coord, Rect};

use super::basemap_index::basemap_bounds;
use super::events::{EventMove, WorldPoint};
use super::snapshot::Snapshot;
use crate::model::{Area, Building, Change};

/// The extents one applied batch changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extents {
    /// Old and new longitude/latitude boxes of every changed area, building and basemap
    /// feature.
    pub boxes: Vec<Rect<f64>>,
    /// Old and new positions of every changed event.
    pub events: Vec<EventMove>,
}

impl Extents {
    /// The boxes a batch draws in: the old one (from `before`, the snapshot the batch is applied
    /// to) and the new one of every changed area, building and basemap feature.
    pub fn of_changes(before: &Snapshot, changes: &[Change]) -> Extents {
        let mut boxes = Vec::new();
        for change in changes {
            match change {
                Change::UpsertArea(area) => {
                    boxes.extend(before.area(&area.code).and_then(area_box));
                    boxes.extend(area_box(area));
                }
                Change::DeleteArea(code) => boxes.extend(before.area(code).and_then(area_box)),
                Change::UpsertBuilding(b) => {
                    boxes.extend(before.building(&b.code).and_then(building_box));
                    boxes.extend(building_box(b));
                }
                Change::DeleteBuilding(code) => {
                    boxes.extend(before.building(code).and_then(building_box))
                }
                Change::UpsertBasemap(f) => {
                    boxes.extend(before.basemap_feature(&f.code).and_then(basemap_bounds));
                    boxes.extend(basemap_bounds(f));
                }
                Change::DeleteBasemap(code) => {
                    boxes.extend(before.basemap_feature(code).and_then(basemap_bounds))
                }
                Change::UpsertHouse(_)
                | Change::DeleteHouse(_)
                | Change::SetPopulation(_)
                | Change::UpsertWorker(_)
                | Change::DeleteWorker(_)
                | Change::InsertFix(_)
                | Change::UpsertEvent(_) => {}
            }
        }
        Extents {
            boxes,
            events: Vec::new(),
        }
    }

    /// Every old and new event position, in world units.
    pub fn event_points(&self) -> Vec<WorldPoint> {
        self.events
            .iter()
            .flat_map(|m| m.old.into_iter().chain([m.new]))
            .collect()
    }

    /// Whether the batch changed nothing on the map.
    pub fn is_empty(&self) -> bool {
        self.boxes.is_empty() && self.events.is_empty()
    }
}

fn area_box(area: &Area) -> Option<Rect<f64>> {
    let shape = area.geometry.bounding_rect();
    let center = area.center.map(|c| Rect::new(c.0, c.0));
    match (shape, center) {
        (Some(s), Some(c)) => Some(union(s, c)),
        (s, c) => s.or(c),
    }
}

fn building_box(b: &Building) -> Option<Rect<f64>> {
    b.geometry.bounding_rect()
}

fn union(a: Rect<f64>, b: Rect<f64>) -> Rect<f64> {
    Rect::new(
        coord! {x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y)},
        coord! {x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y)},
    )
}
