//! Area layers simplified once per zoom, for every tile of that zoom.
//!
//! The rule: at zoom `z`, an area layer's polygons are projected into world tile units (the
//! units of tile z/0/0, so tile x/y is the window `[x·4096, (x+1)·4096)`), simplified together
//! with shared borders kept shared ([`simplify_shared`]), and rounded to whole units. A tile
//! then only translates and clips. So a border is drawn the same in every tile that holds it,
//! and the work of simplifying a district's long border is done once per zoom instead of once
//! per tile that touches it (at z16 that is thousands of tiles).
//!
//! A layer is built on first use and kept for as long as the areas do not change: the key holds
//! the snapshot's areas version, so an area edit makes later tiles build afresh while tiles of
//! the old snapshot still find theirs. Events, buildings and other changes keep the entries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use geo_types::{coord, Coord, LineString, Polygon, Rect};

use super::fx_hash::FxBuild;
use super::simplify_shared_borders::{simplify_shared, Ring};
use super::source::{project_multipolygon, projected_size};
use super::tile_frame::{TileCrs, TileFrame};
use super::tileset::{LayerDef, EXTENT, UNITS_PER_PX};
use crate::crs::tile::TileId;
use crate::engine::Snapshot;

/// How many areas versions keep their layers (the current one and a few a slow reader may
/// still hold).
const VERSIONS_KEPT: usize = 3;

/// One area layer at one zoom: each drawn area's polygons in world tile units, simplified and
/// rounded; an area whose every polygon collapsed is absent.
#[derive(Debug, Default)]
pub struct SimplifiedLayer {
    /// Looked up for every area of every tile, by [`crate::engine::IndexedArea::serial`]
    /// rather than by hashing the area's code.
    by_serial: HashMap<u64, Vec<Polygon<f64>>, FxBuild>,
}

impl SimplifiedLayer {
    /// The polygons of the area with `serial` in world tile units, if it is drawn at this zoom.
    pub fn polygons(&self, serial: u64) -> Option<&[Polygon<f64>]> {
        self.by_serial.get(&serial).map(Vec::as_slice)
    }

    /// Builds the layer `def` at zoom `z` in the `crs` grid from every area of the snapshot
    /// that the layer draws there.
    fn build(snapshot: &Snapshot, def: &LayerDef, z: u8, crs: TileCrs) -> SimplifiedLayer {
        let frame = world_frame(z, crs);
        let everywhere = Rect::new(coord! {x: -180.0, y: -90.0}, coord! {x: 180.0, y: 90.0});
        let areas: Vec<_> = snapshot
            .indexed_areas_in_bbox(everywhere)
            .into_iter()
            .filter(|a| draws(def, &a.area, z, &frame))
            .collect();
        let projected: Vec<_> = areas
            .iter()
            .map(|a| project_multipolygon(&a.area.geometry, &frame))
            .collect();
        let rings: Vec<Ring> = projected.iter().flatten().flatten().cloned().collect();
        let keep = vec![def.keep_small; rings.len()];
        let mut simplified =
            simplify_shared(&rings, &keep, def.simplify_px * UNITS_PER_PX).into_iter();
        let mut by_serial = HashMap::default();
        for (area, polygons) in areas.iter().zip(&projected) {
            let rounded: Vec<Polygon<f64>> = polygons
                .iter()
                .filter_map(|p| {
                    let rings: Vec<Ring> = p
                        .iter()
                        .map(|_| simplified.next().unwrap_or_default())
                        .collect();
                    rounded_polygon(rings)
                })
                .collect();
            if !rounded.is_empty() {
                by_serial.insert(area.serial, rounded);
            }
        }
        SimplifiedLayer { by_serial }
    }
}

/// Whether layer `def` draws `area` at zoom `z`: its layer and level, and (unless the layer
/// keeps small features) a projected size of at least `min_size_px` — the same in every tile.
pub fn draws(def: &LayerDef, area: &crate::model::Area, z: u8, frame: &TileFrame) -> bool {
    if !def.takes_area(&area.layer, area.level, z) {
        return false;
    }
    if def.keep_small {
        return true;
    }
    let min = def.min_size_px * UNITS_PER_PX;
    let (w, h) = projected_size(&area.geometry, frame);
    min == 0.0 || w >= min || h >= min
}

/// The frame of world tile units at zoom `z`: tile z/0/0's.
fn world_frame(z: u8, crs: TileCrs) -> TileFrame {
    TileId { z, x: 0, y: 0 }.frame_in(EXTENT, crs)
}

/// A simplified polygon rounded to whole units; `None` when its exterior collapsed. Holes that
/// collapsed are left out.
pub(super) fn rounded_polygon(rings: Vec<Ring>) -> Option<Polygon<f64>> {
    let mut rings = rings.into_iter().map(rounded_ring);
    let exterior = rings.next().flatten()?;
    Some(Polygon::new(exterior, rings.flatten().collect()))
}

/// Points rounded to whole tile units with repeated points removed.
pub(super) fn rounded_points(points: &[Coord<f64>]) -> Vec<Coord<f64>> {
    let mut pts: Vec<_> = points
        .iter()
        .map(|c| coord! {x: c.x.round(), y: c.y.round()})
        .collect();
    pts.dedup();
    pts
}

/// A ring rounded to whole units with repeated points removed; `None` below three points.
fn rounded_ring(ring: Ring) -> Option<LineString<f64>> {
    let mut pts = rounded_points(&ring);
    while pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    (pts.len() >= 3).then(|| LineString::from(pts))
}

/// What a simplified layer is kept under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    areas_version: u64,
    tileset: String,
    layer: String,
    z: u8,
    crs: TileCrs,
}

type Slot = Arc<OnceLock<Arc<SimplifiedLayer>>>;

/// The simplified layers of the process, built on first use (one builder per layer; others
/// asking at the same time wait for it).
#[derive(Debug, Default)]
pub struct SimplifiedLayers {
    /// Looked up for every area layer of every tile.
    slots: Mutex<HashMap<Key, Slot, FxBuild>>,
}

impl SimplifiedLayers {
    /// The layers every renderer of this process shares.
    pub fn shared() -> &'static SimplifiedLayers {
        static SHARED: OnceLock<SimplifiedLayers> = OnceLock::new();
        SHARED.get_or_init(SimplifiedLayers::default)
    }

    /// Layer `def` of `tileset` at zoom `z` in the `crs` grid, for the areas of `snapshot`.
    pub fn get(
        &self,
        snapshot: &Snapshot,
        tileset: &str,
        def: &LayerDef,
        z: u8,
        crs: TileCrs,
    ) -> Arc<SimplifiedLayer> {
        let key = Key {
            areas_version: snapshot.areas_version(),
            tileset: tileset.to_string(),
            layer: def.name.clone(),
            z,
            crs,
        };
        let slot = self.slot(key);
        slot.get_or_init(|| Arc::new(SimplifiedLayer::build(snapshot, def, z, crs)))
            .clone()
    }

    fn slot(&self, key: Key) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if !slots.contains_key(&key) {
            forget_old_versions(&mut slots, key.areas_version);
        }
        slots.entry(key).or_default().clone()
    }
}

/// Drops the layers of all but the newest [`VERSIONS_KEPT`] areas versions (counting
/// `incoming`).
fn forget_old_versions(slots: &mut HashMap<Key, Slot, FxBuild>, incoming: u64) {
    let mut versions: Vec<u64> = slots.keys().map(|k| k.areas_version).collect();
    versions.push(incoming);
    versions.sort_unstable();
    versions.dedup();
    if versions.len() > VERSIONS_KEPT {
        let oldest_kept = versions[versions.len() - VERSIONS_KEPT];
        slots.retain(|k, _| k.areas_version >= oldest_kept);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(v: u64) -> Key {
        Key {
            areas_version: v,
            tileset: "t".into(),
            layer: "l".into(),
            z: 1,
            crs: TileCrs::Wgs84,
        }
    }

    #[test]
    fn only_the_newest_versions_are_kept() {
        let mut slots: HashMap<Key, Slot, FxBuild> = HashMap::default();
        for v in [1, 2, 3] {
            forget_old_versions(&mut slots, v);
            slots.insert(key(v), Slot::default());
        }
        forget_old_versions(&mut slots, 4);
        let mut left: Vec<u64> = slots.keys().map(|k| k.areas_version).collect();
        left.sort_unstable();
        assert_eq!(left, [2, 3]);
    }

    #[test]
    fn rounding_drops_repeats_and_collapsed_rings() {
        let ring = |pts: &[(f64, f64)]| pts.iter().map(|&(x, y)| coord! {x: x, y: y}).collect();
        let p = rounded_polygon(vec![
            ring(&[
                (0.2, 0.1),
                (0.4, 0.3),
                (10.0, 0.0),
                (10.0, 10.0),
                (0.0, 0.1),
            ]),
            ring(&[(5.0, 5.0), (5.2, 5.1), (5.1, 5.3)]),
        ])
        .expect("exterior stays");
        assert_eq!(
            p.exterior().0.len(),
            4,
            "closed ring of three distinct points"
        );
        assert!(p.interiors().is_empty(), "the tiny hole collapsed");
        assert!(rounded_polygon(vec![ring(&[(0.0, 0.0), (0.2, 0.2), (0.4, 0.1)])]).is_none());
    }
}
