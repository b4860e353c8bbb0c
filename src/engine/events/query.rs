//! Reads of the event store for tiles: exact counts per square cell and per H3 cell, clusters
//! with a status breakdown, and points — all under an [`EventFilter`].
//!
//! Square cells: a tile `z/x/y` with `cells_per_side = 2^k` (`z + k ≤ 32`) has cell
//! `((px − x0) >> (32 − z − k), (py − y0) >> (32 − z − k))` for a world position `(px, py)` in
//! it: integer arithmetic, so counts are exact.
//!
//! H3 cells: the resolution follows the zoom ([`h3_resolution`]) so a hexagon is about 1/32 of
//! the tile across; a tile gets the H3 cells whose centre (quantized like an event) lies in it,
//! with every matching event of those cells, including events in neighbouring tiles.

use std::collections::HashMap;

use h3o::{CellIndex, LatLng, Resolution};
use serde::Serialize;

use super::filter::{Compiled, EventFilter};
use super::segment::Segment;
use super::timeliness::{card_packed, overdue_packed, Card};
use super::world::{units_per_m, WorldPoint, WorldRect};
use super::EventStore;
use crate::model::{EventSource, EventStatus, HandlingLevel};
use crate::tiles::tile_id::TileId;

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

/// A square cell's events at low zoom: how many, how many per status (in
/// [`EventStatus::ALL`] order) and the mean position of its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cluster {
    /// Column and row of the cell in the tile (0, 0 at the north-west).
    pub cell: (u32, u32),
    pub count: u32,
    pub by_status: [u32; 7],
    pub center: WorldPoint,
}

/// One event at high zoom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventPoint<'a> {
    pub code: String,
    pub at: WorldPoint,
    pub status: EventStatus,
    pub category: &'a str,
    pub source: EventSource,
    pub level: HandlingLevel,
    pub outside_grid: bool,
    pub overdue: bool,
    pub card: Card,
}

/// The H3 resolution of heatmap hexagons at a zoom: `min(15, (5z + 5) / 7)` — z8 → 6,
/// z12 → 9, z16 → 12 — which keeps a hexagon about 1/32 of a tile across (each resolution is
/// √7 ≈ 2^1.4 finer, each zoom 2× finer).
pub fn h3_resolution(z: u8) -> u8 {
    ((5 * u32::from(z) + 5) / 7).min(15) as u8
}

/// The bit shift from world units to cells of a tile.
fn cell_shift(tile: TileId, cells_per_side: u32) -> Result<u32, EventQueryError> {
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

impl EventStore {
    /// Calls `f` with every live row that matches the filter and lies in `rect`.
    fn scan(&self, filter: &Compiled, rect: WorldRect, mut f: impl FnMut(&Segment, usize)) {
        let Some(rect) = filter.rect.map_or(Some(rect), |r| r.intersection(&rect)) else {
            return;
        };
        if filter.from >= filter.to {
            return;
        }
        for part in &self.parts {
            let seg = &*part.rows;
            if !seg.overlaps_time(filter.from, filter.to) {
                continue;
            }
            for (run, inside) in seg.runs_in(&rect, |c| filter.keeps_category(c)) {
                for i in run {
                    if (inside || rect.contains(seg.point(i)))
                        && filter.matches(seg, i)
                        && !part.is_dead(i)
                    {
                        f(seg, i);
                    }
                }
            }
        }
    }

    /// Number of live events that match (the filter's box included).
    pub fn count(&self, filter: &EventFilter) -> u64 {
        let compiled = Compiled::new(filter, &self.dicts);
        let mut n = 0;
        self.scan(&compiled, WorldRect::WORLD, |_, _| n += 1);
        n
    }

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
        let compiled = Compiled::new(filter, &self.dicts);
        self.scan(&compiled, r.grown(reach as u32), |s, i| {
            let cx = ((i64::from(s.x[i]) - ox) >> shift) as usize;
            let cy = ((i64::from(s.y[i]) - oy) >> shift) as usize;
            bins[cy * across + cx] += 1;
        });
        Ok(bins)
    }

    /// Clusters of a tile: the non-empty square cells with counts, a status breakdown and the
    /// mean position of their members, in row-major cell order.
    pub fn clusters(
        &self,
        tile: TileId,
        cells_per_side: u32,
        filter: &EventFilter,
    ) -> Result<Vec<Cluster>, EventQueryError> {
        #[derive(Clone, Copy, Default)]
        struct Acc {
            by_status: [u32; 7],
            sx: u64,
            sy: u64,
        }
        let shift = cell_shift(tile, cells_per_side)?;
        let r = WorldRect::of_tile(tile);
        let side = cells_per_side as usize;
        let mut cells = vec![Acc::default(); side * side];
        let compiled = Compiled::new(filter, &self.dicts);
        self.scan(&compiled, r, |s, i| {
            let (dx, dy) = (s.x[i] - r.x0, s.y[i] - r.y0);
            let a = &mut cells[(dy >> shift) as usize * side + (dx >> shift) as usize];
            a.by_status[usize::from(s.status[i]).min(6)] += 1;
            a.sx += u64::from(dx);
            a.sy += u64::from(dy);
        });
        Ok(cells
            .iter()
            .enumerate()
            .filter_map(|(k, a)| {
                let count: u32 = a.by_status.iter().sum();
                (count > 0).then(|| Cluster {
                    cell: ((k % side) as u32, (k / side) as u32),
                    count,
                    by_status: a.by_status,
                    center: WorldPoint {
                        x: r.x0 + (a.sx / u64::from(count)) as u32,
                        y: r.y0 + (a.sy / u64::from(count)) as u32,
                    },
                })
            })
            .collect())
    }

    /// Exact counts per H3 cell at [`h3_resolution`] of the tile's zoom, for the cells whose
    /// centre lies in the tile, sorted by cell.
    pub fn count_in_h3(&self, tile: TileId, filter: &EventFilter) -> Vec<(CellIndex, u32)> {
        let res = Resolution::try_from(h3_resolution(tile.z)).unwrap_or(Resolution::Fifteen);
        let r = WorldRect::of_tile(tile);
        let lat_north = WorldPoint { x: r.x0, y: r.y0 }.to_lonlat().1;
        let lat_south = WorldPoint { x: r.x1, y: r.y1 }.to_lonlat().1;
        // A member lies within one circumradius (< 2 average edges) of its cell's centre;
        // 3 edges at the tile's poleward edge (where units per metre are largest) is a margin
        // that no cell of the resolution exceeds.
        let margin_m = 3.0 * res.edge_length_m();
        let per_m = units_per_m(lat_north.abs().max(lat_south.abs()));
        let margin = (margin_m * per_m).ceil().min(f64::from(u32::MAX)) as u32;
        let mut counts: HashMap<CellIndex, u32> = HashMap::new();
        let compiled = Compiled::new(filter, &self.dicts);
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

    /// The matching events of a tile and of `buffer` world units around it (so symbols near
    /// an edge are drawn whole), in the store's order.
    pub fn points(&self, tile: TileId, buffer: u32, filter: &EventFilter) -> Vec<EventPoint<'_>> {
        let compiled = Compiled::new(filter, &self.dicts);
        let mut out = Vec::new();
        self.scan(&compiled, WorldRect::of_tile(tile).grown(buffer), |s, i| {
            out.push(self.point_of(s, i, compiled.now));
        });
        out
    }

    fn point_of(&self, s: &Segment, i: usize, now: u32) -> EventPoint<'_> {
        EventPoint {
            code: self.dicts.side.unpack(s.code[i]),
            at: s.point(i),
            status: EventStatus::ALL[usize::from(s.status[i]).min(6)],
            category: self
                .dicts
                .categories
                .get(usize::from(s.category[i]))
                .map_or("", String::as_str),
            source: EventSource::ALL[usize::from(s.source[i]).min(4)],
            level: HandlingLevel::ALL[usize::from(s.level[i]).min(3)],
            outside_grid: s.outside[i],
            overdue: overdue_packed(s.status[i], s.deadline[i], now),
            card: card_packed(s.status[i], s.reported[i], s.deadline[i], s.closed[i], now),
        }
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
