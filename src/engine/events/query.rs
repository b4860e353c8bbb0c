//! Reads of the event store for tiles: the filtered scan every read goes through, counts,
//! clusters with a status breakdown (square cells, as in [`super::heatmap_bins`]) and points —
//! all under an [`EventFilter`]. The heatmap's counting per square and H3 cell is
//! [`super::heatmap_bins`].

use serde::Serialize;

use super::filter::{Compiled, EventFilter};
use super::heatmap_bins::{cell_shift, EventQueryError};
use super::segment::Segment;
use super::timeliness::{card_packed, overdue_packed, Card};
use super::world::{WorldPoint, WorldRect};
use super::{EventStore, Part};
use crate::crs::tile::TileId;
use crate::model::{EventSource, EventStatus, HandlingLevel};

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

/// Calls `f` with every live row of `part` that matches the filter and lies in `rect`.
pub(super) fn scan_part(
    part: &Part,
    filter: &Compiled,
    rect: WorldRect,
    f: &mut impl FnMut(&Segment, usize),
) {
    let Some(rect) = filter.rect.map_or(Some(rect), |r| r.intersection(&rect)) else {
        return;
    };
    let seg = &*part.rows;
    if filter.from >= filter.to || !seg.overlaps_time(filter.from, filter.to) {
        return;
    }
    for (run, inside) in seg.runs_in(&rect, |c| filter.keeps_category(c)) {
        for i in run {
            if (inside || rect.contains(seg.point(i))) && filter.matches(seg, i) && !part.is_dead(i)
            {
                f(seg, i);
            }
        }
    }
}

impl EventStore {
    /// Calls `f` with every live row that matches the filter and lies in `rect`.
    pub(super) fn scan(
        &self,
        filter: &Compiled,
        rect: WorldRect,
        mut f: impl FnMut(&Segment, usize),
    ) {
        for part in &self.parts {
            scan_part(part, filter, rect, &mut f);
        }
    }

    /// Number of live events that match (the filter's box included).
    pub fn count(&self, filter: &EventFilter) -> u64 {
        let compiled = self.compile(filter);
        let mut n = 0;
        self.scan(&compiled, WorldRect::WORLD, |_, _| n += 1);
        n
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
        let compiled = self.compile(filter);
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

    /// The matching events of a tile and of `buffer` world units around it (so symbols near
    /// an edge are drawn whole), in the store's order.
    pub fn points(&self, tile: TileId, buffer: u32, filter: &EventFilter) -> Vec<EventPoint<'_>> {
        let compiled = self.compile(filter);
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
