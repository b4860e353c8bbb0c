//! A segment: an immutable, columnar run of event rows sorted by category and then by the
//! Z-order key of their position, with a bounding box per block of [`BLOCK`] rows (a block
//! never spans two categories) and a permutation sorted by code.
//!
//! A query visits only the category runs its filter keeps (a heatmap of one category reads
//! that category's rows alone); in each it narrows to the rows whose key lies between the keys
//! of its rectangle's corners (two binary searches), then skips every block whose box misses
//! the rectangle and tests positions only in blocks that straddle its border.

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
    /// The rows of each category, in category order.
    runs: Vec<CategoryRun>,
    /// The box of each block of [`BLOCK`] rows of each run, run after run.
    blocks: Vec<WorldRect>,
    /// Earliest and latest report time.
    pub time: (u32, u32),
    /// Smallest and largest packed code.
    codes: (u64, u64),
}

/// The rows `start..end` of one category, whose blocks start at `first_block`.
#[derive(Debug, Clone, Copy)]
struct CategoryRun {
    category: u16,
    start: usize,
    end: usize,
    first_block: usize,
}

/// The category runs of rows sorted by category, and the box of each run's blocks.
fn category_runs(rows: &[Row]) -> (Vec<CategoryRun>, Vec<WorldRect>) {
    let mut runs = Vec::new();
    let mut blocks = Vec::with_capacity(rows.len().div_ceil(BLOCK));
    let mut start = 0;
    for group in rows.chunk_by(|a, b| a.category == b.category) {
        runs.push(CategoryRun {
            category: group[0].category,
            start,
            end: start + group.len(),
            first_block: blocks.len(),
        });
        blocks.extend(group.chunks(BLOCK).map(block_box));
        start += group.len();
    }
    runs.shrink_to_fit();
    blocks.shrink_to_fit();
    (runs, blocks)
}

impl Segment {
    /// Sorts the rows by category and Z-order and lays them out in columns of exact capacity.
    pub fn build(mut rows: Vec<Row>) -> Segment {
        rows.sort_unstable_by_key(|r| (r.category, r.at.morton(), r.code));
        let n = rows.len();
        let col = |f: &dyn Fn(&Row) -> u32| -> Vec<u32> {
            let mut v = Vec::with_capacity(n);
            v.extend(rows.iter().map(f));
            v
        };
        let mut by_code: Vec<u32> = (0..n as u32).collect();
        by_code.sort_unstable_by_key(|&i| rows[i as usize].code);
        let (runs, blocks) = category_runs(&rows);
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
            runs,
            blocks,
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

    /// Runs of rows of the categories `wanted` keeps that may lie in `rect`, each with
    /// whether its block lies wholly inside (then no position test is needed).
    pub fn runs_in<'a>(
        &'a self,
        rect: &WorldRect,
        wanted: impl Fn(u16) -> bool + 'a,
    ) -> impl Iterator<Item = (Range<usize>, bool)> + 'a {
        let rect = *rect;
        let (lo, hi) = rect.morton_range();
        self.runs
            .iter()
            .filter(move |run| wanted(run.category))
            .flat_map(move |run| {
                let start = self.partition_by_key(run, |k| k < lo);
                let end = self.partition_by_key(run, |k| k <= hi).max(start);
                let first = (start - run.start) / BLOCK;
                let last = (end - run.start).div_ceil(BLOCK);
                (first..last).filter_map(move |b| {
                    let block = &self.blocks[run.first_block + b];
                    let inside = rect.covers(block);
                    rect.intersection(block)?;
                    let from = run.start + b * BLOCK;
                    Some((from.max(start)..(from + BLOCK).min(end), inside))
                })
            })
    }

    /// The first row of `run` whose key fails `before`. Keys increase with the row number
    /// within a run.
    fn partition_by_key(&self, run: &CategoryRun, before: impl Fn(u64) -> bool) -> usize {
        let (mut lo, mut hi) = (run.start, run.end);
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
            + b(&self.runs)
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
