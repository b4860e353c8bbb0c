//! A segment: an immutable, columnar run of event rows sorted by the Z-order key of their
//! position, with a bounding box per block of [`BLOCK`] rows and a permutation sorted by code.
//!
//! A query first narrows to the rows whose key lies between the keys of its rectangle's
//! corners (two binary searches), then skips every block whose box misses the rectangle and
//! tests positions only in blocks that straddle its border.

use std::ops::Range;

use super::world::{WorldPoint, WorldRect};

/// Rows per block box.
pub(super) const BLOCK: usize = 256;

/// One event as the store keeps it (see [`super::EventStore`] for the meaning of each field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Row {
    pub code: u64,
    pub at: WorldPoint,
    pub reported: u32,
    pub deadline: u32,
    pub closed: u32,
    pub area: u32,
    pub category: u16,
    pub status: u8,
    pub source: u8,
    pub level: u8,
    pub outside: bool,
}

/// Columns of rows in Z-order, their block boxes and the code permutation.
#[derive(Debug, Clone, Default)]
pub(super) struct Segment {
    pub code: Vec<u64>,
    pub x: Vec<u32>,
    pub y: Vec<u32>,
    pub reported: Vec<u32>,
    pub deadline: Vec<u32>,
    pub closed: Vec<u32>,
    pub area: Vec<u32>,
    pub category: Vec<u16>,
    pub status: Vec<u8>,
    pub source: Vec<u8>,
    pub level: Vec<u8>,
    pub outside: Vec<bool>,
    /// Row numbers sorted by code.
    by_code: Vec<u32>,
    /// The box of each block of [`BLOCK`] rows.
    blocks: Vec<WorldRect>,
    /// Earliest and latest report time.
    pub time: (u32, u32),
    /// Smallest and largest packed code.
    codes: (u64, u64),
}

impl Segment {
    /// Sorts the rows in Z-order and lays them out in columns of exact capacity.
    pub fn build(mut rows: Vec<Row>) -> Segment {
        rows.sort_unstable_by_key(|r| (r.at.morton(), r.code));
        let n = rows.len();
        let col = |f: &dyn Fn(&Row) -> u32| -> Vec<u32> {
            let mut v = Vec::with_capacity(n);
            v.extend(rows.iter().map(f));
            v
        };
        let mut by_code: Vec<u32> = (0..n as u32).collect();
        by_code.sort_unstable_by_key(|&i| rows[i as usize].code);
        let blocks = rows.chunks(BLOCK).map(block_box).collect::<Vec<_>>();
        Segment {
            code: exact(rows.iter().map(|r| r.code), n),
            x: col(&|r| r.at.x),
            y: col(&|r| r.at.y),
            reported: col(&|r| r.reported),
            deadline: col(&|r| r.deadline),
            closed: col(&|r| r.closed),
            area: col(&|r| r.area),
            category: exact(rows.iter().map(|r| r.category), n),
            status: exact(rows.iter().map(|r| r.status), n),
            source: exact(rows.iter().map(|r| r.source), n),
            level: exact(rows.iter().map(|r| r.level), n),
            outside: exact(rows.iter().map(|r| r.outside), n),
            by_code,
            blocks: exact(blocks.into_iter(), n.div_ceil(BLOCK)),
            time: span(rows.iter().map(|r| r.reported)).unwrap_or((u32::MAX, 0)),
            codes: span(rows.iter().map(|r| r.code)).unwrap_or((u64::MAX, 0)),
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.code.len()
    }

    /// The position of row `i`.
    pub fn point(&self, i: usize) -> WorldPoint {
        WorldPoint {
            x: self.x[i],
            y: self.y[i],
        }
    }

    /// Row `i` as a whole.
    pub fn row(&self, i: usize) -> Row {
        Row {
            code: self.code[i],
            at: self.point(i),
            reported: self.reported[i],
            deadline: self.deadline[i],
            closed: self.closed[i],
            area: self.area[i],
            category: self.category[i],
            status: self.status[i],
            source: self.source[i],
            level: self.level[i],
            outside: self.outside[i],
        }
    }

    /// The row holding a packed code.
    pub fn find(&self, code: u64) -> Option<usize> {
        if code < self.codes.0 || code > self.codes.1 {
            return None;
        }
        let k = self
            .by_code
            .partition_point(|&i| self.code[i as usize] < code);
        let i = *self.by_code.get(k)? as usize;
        (self.code[i] == code).then_some(i)
    }

    /// Whether some report time lies in `[from, to)`.
    pub fn overlaps_time(&self, from: u32, to: u32) -> bool {
        self.time.0 < to && self.time.1 >= from
    }

    /// Runs of rows that may lie in `rect`, each with whether its block lies wholly inside
    /// (then no position test is needed).
    pub fn runs_in(&self, rect: &WorldRect) -> impl Iterator<Item = (Range<usize>, bool)> + '_ {
        let rect = *rect;
        let (lo, hi) = rect.morton_range();
        let start = self.partition_by_key(|k| k < lo);
        let end = self.partition_by_key(|k| k <= hi).max(start);
        let first_block = start / BLOCK;
        let last_block = end.div_ceil(BLOCK);
        (first_block..last_block).filter_map(move |b| {
            let inside = rect.covers(&self.blocks[b]);
            rect.intersection(&self.blocks[b])?;
            let run = (b * BLOCK).max(start)..((b + 1) * BLOCK).min(end);
            Some((run, inside))
        })
    }

    /// The first row whose key fails `before`. Keys increase with the row number.
    fn partition_by_key(&self, before: impl Fn(u64) -> bool) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if before(self.point(mid).morton()) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Heap bytes held: the capacity of every column and index.
    pub fn resident_bytes(&self) -> usize {
        fn b<T>(v: &Vec<T>) -> usize {
            v.capacity() * std::mem::size_of::<T>()
        }
        b(&self.code)
            + b(&self.x)
            + b(&self.y)
            + b(&self.reported)
            + b(&self.deadline)
            + b(&self.closed)
            + b(&self.area)
            + b(&self.category)
            + b(&self.status)
            + b(&self.source)
            + b(&self.level)
            + b(&self.outside)
            + b(&self.by_code)
            + b(&self.blocks)
    }
}

/// A vector of exactly `n` slots filled from `items`.
fn exact<T>(items: impl Iterator<Item = T>, n: usize) -> Vec<T> {
    let mut v = Vec::with_capacity(n);
    v.extend(items);
    v.shrink_to_fit();
    v
}

/// Smallest and largest value, `None` when empty.
fn span<T: Copy + Ord>(mut items: impl Iterator<Item = T>) -> Option<(T, T)> {
    let first = items.next()?;
    Some(items.fold((first, first), |(a, b), v| (a.min(v), b.max(v))))
}

/// The box of a block of rows (never empty).
fn block_box(rows: &[Row]) -> WorldRect {
    rows.iter().fold(
        WorldRect {
            x0: u32::MAX,
            y0: u32::MAX,
            x1: 0,
            y1: 0,
        },
        |r, row| WorldRect {
            x0: r.x0.min(row.at.x),
            y0: r.y0.min(row.at.y),
            x1: r.x1.max(row.at.x),
            y1: r.y1.max(row.at.y),
        },
    )
}
