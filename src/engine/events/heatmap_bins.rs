//! Heatmap binning: exact counts of the events under a filter per square cell and per H3 cell
//! of a tile.
//!
//! Square cells: a tile `z/x/y` with `cells_per_side = 2^k` (`z + k ≤ 32`) has cell
//! `((px − x0) >> (32 − z − k), (py − y0) >> (32 − z − k))` for a world position `(px, py)` in
//! it: integer arithmetic, so counts are exact. The same cells group the clusters of
//! `event_clusters` ([`EventStore::clusters`]).
//!
//! H3 cells: the resolution follows the zoom ([`h3_resolution`]) so a hexagon is about 1/32 of
//! the tile across; a tile gets the H3 cells whose centre (quantized like an event) lies in it,
//! with every matching event of those cells, including events in neighbouring tiles.

use std::collections::HashMap;

use h3o::{CellIndex, LatLng, Resolution};

use super::filter::EventFilter;
use super::world::{units_per_m, WorldPoint, WorldRect};
use super::EventStore;
use crate::crs::tile::TileId;

/// Largest cells per side of a square binning.
pub const MAX_CELLS_PER_SIDE: u32 = 4096;

/// Why a query was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventQueryError {
    #[error("cells per side must be a power of two from 1 to {MAX_CELLS_PER_SIDE}, not {0}")]
    CellsPerSide(u32),
    #[error("zoom {z} with {cells} cells per side is finer than the 2^32 world grid")]
    TooFine { z: u8, cells: u32 },
}

/// The H3 resolution of heatmap hexagons at a zoom: `min(15, (5z + 5) / 7)` — z8 → 6,
/// z12 → 9, z16 → 12 — which keeps a hexagon about 1/32 of a tile across (each resolution is
/// √7 ≈ 2^1.4 finer, each zoom 2× finer).
pub fn h3_resolution(z: u8) -> u8 {
    ((5 * u32::from(z) + 5) / 7).min(15) as u8
}

/// The bit shift from world units to cells of a tile.
pub(super) fn cell_shift(tile: TileId, cells_per_side: u32) -> Result<u32, EventQueryError> {
    if !cells_per_side.is_power_of_two() || cells_per_side > MAX_CELLS_PER_SIDE {
        return Err(EventQueryError::CellsPerSide(cells_per_side));
    }
    let k = cells_per_side.trailing_zeros();
    32u32
        .checked_sub(u32::from(tile.z) + k)
        .ok_or(EventQueryError::TooFine {
            z: tile.z,
            cells: cells_per_side,
        })
}

/// How far (world units) around a tile at zoom `z` the H3 count of [`EventStore::count_in_h3`]
/// looks for members of the hexagons whose centre is in the tile, for a tile whose poleward
/// edge is at latitude `lat`; `None` past the deepest H3 resolution. The cache invalidates at
/// least that far around a moved event.
pub fn h3_margin_units(z: u8, lat: f64) -> Option<u32> {
    let res = Resolution::try_from(h3_resolution(z)).ok()?;
    Some(h3_margin_at(res, lat))
}

/// A member lies within one circumradius (< 2 average edges) of its cell's centre; 3 edges at
/// latitude `lat` is a margin that no cell of the resolution exceeds.
fn h3_margin_at(res: Resolution, lat: f64) -> u32 {
    let margin_m = 3.0 * res.edge_length_m();
    (margin_m * units_per_m(lat))
        .ceil()
        .min(f64::from(u32::MAX)) as u32
}

impl EventStore {
    /// Exact counts per square cell of a tile and of `ring` cells around it (the layer's
    /// buffer, so a heatmap drawn tile by tile has no seams), row-major from the north-west
    /// corner of the ring: `(cells_per_side + 2·ring)²` entries.
    pub fn count_in_bins(
        &self,
        tile: TileId,
        cells_per_side: u32,
        ring: u32,
        filter: &EventFilter,
    ) -> Result<Vec<u32>, EventQueryError> {
        let shift = cell_shift(tile, cells_per_side)?;
        let r = WorldRect::of_tile(tile);
        let reach = (u64::from(ring) << shift).min(u64::from(u32::MAX));
        let (ox, oy) = (
            i64::from(r.x0) - reach as i64,
            i64::from(r.y0) - reach as i64,
        );
        let across = (cells_per_side + 2 * ring) as usize;
        let mut bins = vec![0u32; across * across];
        let compiled = self.compile(filter);
        self.scan(&compiled, r.grown(reach as u32), |s, i| {
            let cx = ((i64::from(s.x[i]) - ox) >> shift) as usize;
            let cy = ((i64::from(s.y[i]) - oy) >> shift) as usize;
            bins[cy * across + cx] += 1;
        });
        Ok(bins)
    }

    /// Exact counts per H3 cell at [`h3_resolution`] of the tile's zoom, for the cells whose
    /// centre lies in the tile, sorted by cell.
    pub fn count_in_h3(&self, tile: TileId, filter: &EventFilter) -> Vec<(CellIndex, u32)> {
        let res = Resolution::try_from(h3_resolution(tile.z)).unwrap_or(Resolution::Fifteen);
        let r = WorldRect::of_tile(tile);
        let lat_north = WorldPoint { x: r.x0, y: r.y0 }.to_lonlat().1;
        let lat_south = WorldPoint { x: r.x1, y: r.y1 }.to_lonlat().1;
        // Sized at the tile's poleward edge, where units per metre are largest.
        let margin = h3_margin_at(res, lat_north.abs().max(lat_south.abs()));
        let mut counts: HashMap<CellIndex, u32> = HashMap::new();
        let compiled = self.compile(filter);
        self.scan(&compiled, r.grown(margin), |s, i| {
            if let Some(cell) = h3_cell(s.point(i), res) {
                *counts.entry(cell).or_default() += 1;
            }
        });
        let mut out: Vec<(CellIndex, u32)> = counts
            .into_iter()
            .filter(|(cell, _)| r.contains(cell_center(*cell)))
            .collect();
        out.sort_unstable();
        out
    }
}

/// The H3 cell of a stored position (its quantized longitude/latitude).
pub(super) fn h3_cell(p: WorldPoint, res: Resolution) -> Option<CellIndex> {
    let (lon, lat) = p.to_lonlat();
    LatLng::new(lat, lon).ok().map(|ll| ll.to_cell(res))
}

/// The quantized centre of an H3 cell.
pub(super) fn cell_center(cell: CellIndex) -> WorldPoint {
    let ll = LatLng::from(cell);
    WorldPoint::from_lonlat(ll.lng(), ll.lat())
}
