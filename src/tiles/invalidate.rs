//! Which cached tiles a change touches.
//!
//! The rules:
//! - after every engine apply, the engine's [`crate::engine::Extents`] give the old and new
//!   bounding boxes of every changed area, building and basemap feature (house and population
//!   changes draw nothing, so they give none), and the cache removes, for every tileset and every zoom of its range, the tiles those
//!   boxes touch once grown by the tileset's largest layer buffer ([`touched_tiles`], the same
//!   growth the renderer's R-tree query uses); for the GCJ-02 variants the boxes are first
//!   widened by [`GCJ02_MARGIN_DEG`], more than the largest GCJ-02 shift. When one box touches
//!   more than [`HUGE_BOX_TILES`] tiles at a zoom, the tileset's content version is bumped
//!   instead: every tile of the tileset becomes unreachable at once and ages out of the LRU;
//! - event tilesets ([`Tileset::is_event_based`]) hold events only: area and building changes
//!   leave them alone, and an event's old or new position touches the tiles of event tilesets
//!   that could hold it ([`event_tiles`]) — the tile containing it and, for H3 heatmaps, every
//!   tile whose hexagons (cells whose centre lies in the tile) could reach it — at every zoom.

use geo_types::{coord, Rect};

use super::event_tiles::buffer_reach;
use super::tile_frame::GCJ02_MARGIN_DEG;
use super::tileset::{Source, Tileset, EXTENT, UNITS_PER_PX};
use crate::crs::tile::TileRange;
use crate::engine::events::{h3_margin_units, WorldPoint};

/// Above this many tiles for one box at one zoom, the tileset's version is bumped instead of
/// removing tiles one by one (a district redrawn at z16 touches tens of thousands of tiles).
pub const HUGE_BOX_TILES: u64 = 10_000;

/// The blocks of tiles of `tileset` at zoom `z` that `boxes` touch once grown by the tileset's
/// largest layer buffer; `None` when one box touches more than [`HUGE_BOX_TILES`] tiles (then
/// the whole tileset is dropped instead).
pub fn touched_tiles(tileset: &Tileset, boxes: &[Rect<f64>], z: u8) -> Option<Vec<TileRange>> {
    let buffer = tileset_buffer_units(tileset);
    let ranges: Vec<TileRange> = boxes.iter().map(|b| tile_range(*b, z, buffer)).collect();
    (!ranges.iter().any(|r| r.count() > HUGE_BOX_TILES)).then_some(ranges)
}

/// The tiles x/y of event tileset `tileset` at zoom `z` that could hold an event at one of
/// `points`, sorted, without repeats.
pub fn event_tiles(tileset: &Tileset, z: u8, points: &[WorldPoint]) -> Vec<(u32, u32)> {
    let reach = event_reach_units(tileset, z, points);
    let mut tiles: Vec<(u32, u32)> = points.iter().flat_map(|p| p.tiles_near(z, reach)).collect();
    tiles.sort_unstable();
    tiles.dedup();
    tiles
}

/// The boxes moved to cover their GCJ-02 positions: grown by [`GCJ02_MARGIN_DEG`].
pub fn gcj02_boxes(boxes: &[Rect<f64>]) -> Vec<Rect<f64>> {
    boxes
        .iter()
        .map(|b| widened(*b, GCJ02_MARGIN_DEG))
        .collect()
}

/// The largest buffer of the tileset's layers, in tile units: how far outside a tile the
/// renderer looks for features.
pub fn tileset_buffer_units(tileset: &Tileset) -> f64 {
    tileset
        .layers
        .iter()
        .map(|l| l.buffer_px)
        .fold(0.0, f64::max)
        * UNITS_PER_PX
}

/// The tiles at zoom `z` whose bounds grown by `buffer` tile units touch the longitude/latitude
/// box (see [`TileRange::touching`]).
pub fn tile_range(bbox: Rect<f64>, z: u8, buffer: f64) -> TileRange {
    TileRange::touching(bbox, z, buffer / f64::from(EXTENT))
}

/// How far (world units) outside a tile of event tileset `tileset` at zoom `z` an event can be
/// and still change it: the buffer of its point and square-cell layers ([`buffer_reach`]; 0
/// for clusters, which are strictly inside the tile); for a heatmap at least the margin
/// [`crate::engine::EventStore::count_in_h3`] scans ([`h3_margin_units`]) for hexagons whose centre is in the tile
/// (three edge lengths of the zoom's H3 resolution, at the most poleward of `points`, plus one
/// unit for rounding).
pub(super) fn event_reach_units(tileset: &Tileset, z: u8, points: &[WorldPoint]) -> u32 {
    let serving = tileset.layers.iter().filter(|l| l.serves(z));
    let buffers = serving
        .clone()
        .map(|l| buffer_reach(l, z))
        .max()
        .unwrap_or(0);
    if !serving.clone().any(|l| l.source == Source::Heatmap) {
        return buffers;
    }
    let lat = points
        .iter()
        .map(|p| p.to_lonlat().1.abs())
        .fold(0.0, f64::max);
    // The latitude grown by a tile's width in degrees (more than a tile's height plus the
    // margin), so the poleward edge of any tile in reach is covered: the engine sizes its
    // margin there.
    let lat = (lat + 360.0 / f64::from(1u32 << z.min(31))).min(89.0);
    let Some(hexagons) = h3_margin_units(z, lat) else {
        return u32::MAX;
    };
    hexagons.saturating_add(1).max(buffers)
}

/// A box grown by `margin` degrees on every side.
fn widened(b: Rect<f64>, margin: f64) -> Rect<f64> {
    Rect::new(
        coord! {x: b.min().x - margin, y: b.min().y - margin},
        coord! {x: b.max().x + margin, y: b.max().y + margin},
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiles::Tilesets;

    fn sets() -> Tilesets {
        Tilesets::parse(include_str!("../../tiles/tilesets.toml"), "tilesets.toml")
            .expect("tilesets")
    }

    #[test]
    fn h3_reach_covers_the_engine_margin_at_every_zoom() {
        let set = sets();
        let heatmap = set.get("heatmap").expect("heatmap");
        let events = set.get("events").expect("events");
        let p = WorldPoint::from_lonlat(114.297, 35.748);
        for z in heatmap.minzoom..=heatmap.maxzoom {
            let reach = event_reach_units(heatmap, z, &[p]);
            // The margin the engine scans at Hebi's latitude.
            let margin = h3_margin_units(z, 35.75).expect("resolution");
            assert!(reach > margin, "z{z}");
            // The heatmap's ring of buffer cells is covered too.
            let ring = heatmap.layers.iter().map(|l| buffer_reach(l, z)).max();
            assert!(reach >= ring.unwrap_or(0), "z{z}");
            // Clusters lie inside their tile; points reach as far as their layer's buffer.
            let points = events.layers.iter().filter(|l| l.serves(z));
            let buffer = points.map(|l| buffer_reach(l, z)).max().unwrap_or(0);
            assert_eq!(event_reach_units(events, z, &[p]), buffer, "z{z}");
            assert_eq!(buffer > 0, z >= 14, "z{z}");
        }
    }
}
