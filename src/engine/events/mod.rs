//! The event store: every event in memory in a compact columnar form, for the event and
//! heatmap tiles and their filters.
//!
//! Layout. Rows live in segments ([`segment`]): immutable column sets sorted in Z-order of the
//! position, with a box per block of 256 rows. Sealed segments are month partitions (by the
//! UTC month of `reported_at`); new and changed events go to small tail segments, one per
//! applied batch. A row is, per event: the code packed into a `u64` ([`packing`]), the position as
//! `u32` Web Mercator world units ([`world`]), `reported_at`/`deadline`/`closed_at` as `u32`
//! seconds since 2000-01-01 UTC, the area (the deepest base area) and category as indexes into
//! dictionaries (`u32`, `u16`), status/source/level as `u8` indexes into the model's `ALL`
//! lists, and the `outside_grid` flag; plus a `u32` in the code permutation — 42 bytes.
//!
//! Sharing. A segment is shared by `Arc` between snapshots and never changes. An event that
//! changes is found by code, its old row is marked dead in a per-segment bitmap (cloned on
//! write: 1 bit per row) and its new row goes to the batch's tail segment, so applying a batch
//! copies only bitmaps and the list of segments. Past [`TAIL_SEGMENTS`] tail segments they are
//! merged into one; past [`TAIL_ROWS`] tail rows they are merged into their month partitions,
//! which are rebuilt without their dead rows (then an apply costs a partition rebuild).
//!
//! Reads go through [`EventStore`]'s query methods, all under an [`EventFilter`]: the heatmap's
//! counts per square cell and per H3 cell (`heatmap_bins`), clusters and points of a tile
//! (`query`), pages of the event listing, newest first (`listing`), and the figures of the
//! statistics endpoints (`tally`).

mod area_extents;
mod filter;
mod heatmap_bins;
mod listing;
mod month_summary;
mod packing;
mod query;
mod segment;
mod tally;
mod timeliness;
mod world;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use area_extents::AreaExtents;
use filter::Compiled;
use month_summary::MonthSummary;
use packing::{month_of, pack_opt_time, pack_time, SideCodes};
use segment::{Row, Segment};
use timeliness::status_index;

pub use filter::EventFilter;
pub use heatmap_bins::{h3_margin_units, h3_resolution, EventQueryError};
pub use listing::ListingKey;
pub use query::{Cluster, EventPoint};
pub use tally::{EventTally, SeriesMetric};
pub use timeliness::{card_at, overdue_at, Card};
pub use world::{WorldPoint, WorldRect};

use crate::model::{Event, EventSource, HandlingLevel};

/// Live rows in tail segments above which the tails are merged into the partitions.
pub const TAIL_ROWS: usize = 65_536;
/// Tail segments above which they are merged into the partitions.
pub const TAIL_SEGMENTS: usize = 64;
/// The area index of an event outside every area.
const NO_AREA: u32 = u32::MAX;

/// Where an upserted event was and is now, so the caller can drop exactly the tiles that held
/// it (`old` is `None` for a new event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMove {
    pub code: String,
    pub old: Option<WorldPoint>,
    pub new: WorldPoint,
}

/// Category, area and odd-code dictionaries shared by every segment.
#[derive(Debug, Clone, Default)]
pub(super) struct Dicts {
    categories: Vec<String>,
    category_index: HashMap<String, u16>,
    areas: Vec<String>,
    area_index: HashMap<String, u32>,
    side: SideCodes,
}

impl Dicts {
    /// The row of an event when the dictionaries already know its category, area and code.
    fn known_row(&self, e: &Event) -> Option<Row> {
        let category = match self.category_index.get(&e.category) {
            Some(&i) => i,
            None if self.categories.len() >= usize::from(u16::MAX) => u16::MAX,
            None => return None,
        };
        let area = match &e.area_code {
            None => NO_AREA,
            Some(a) => *self.area_index.get(a)?,
        };
        Some(Row {
            code: self.side.find(&e.code)?,
            at: WorldPoint::from_lonlat(e.location.x(), e.location.y()),
            reported: pack_time(e.reported_at),
            deadline: pack_opt_time(e.deadline),
            closed: pack_opt_time(e.closed_at),
            area,
            category,
            status: status_index(e.status),
            source: EventSource::ALL
                .iter()
                .position(|&s| s == e.source)
                .unwrap_or(0) as u8,
            level: HandlingLevel::ALL
                .iter()
                .position(|&l| l == e.level)
                .unwrap_or(0) as u8,
            outside: e.outside_grid,
        })
    }

    /// Adds what `e` needs to the dictionaries. Beyond 65 535 categories the last index is
    /// shared (configuration holds a few dozen).
    fn intern(&mut self, e: &Event) {
        if !self.category_index.contains_key(&e.category)
            && self.categories.len() < usize::from(u16::MAX)
        {
            let i = self.categories.len() as u16;
            self.categories.push(e.category.clone());
            self.category_index.insert(e.category.clone(), i);
        }
        if let Some(a) = &e.area_code {
            if !self.area_index.contains_key(a) {
                let i = self.areas.len() as u32;
                self.areas.push(a.clone());
                self.area_index.insert(a.clone(), i);
            }
        }
        self.side.pack(&e.code);
    }

    /// The row of an event, adding dictionary entries as needed.
    fn row(&mut self, e: &Event) -> Option<Row> {
        self.intern(e);
        self.known_row(e)
    }

    fn resident_bytes(&self) -> usize {
        let strings =
            |v: &Vec<String>| v.iter().map(|s| 2 * s.capacity()).sum::<usize>() + v.capacity() * 24;
        strings(&self.categories)
            + strings(&self.areas)
            + self.category_index.capacity() * 27
            + self.area_index.capacity() * 29
            + self.side.resident_bytes()
    }
}

/// A segment with its dead-row bitmap and its month (`None` for a tail segment).
#[derive(Debug, Clone)]
struct Part {
    rows: Arc<Segment>,
    dead: Option<Arc<Vec<u64>>>,
    dead_count: usize,
    month: Option<u32>,
    /// The counts of its live rows, made when a tally first needs them (month partitions).
    summary: Arc<OnceLock<MonthSummary>>,
}

impl Part {
    fn new(rows: Segment, month: Option<u32>) -> Part {
        Part {
            rows: Arc::new(rows),
            dead: None,
            dead_count: 0,
            month,
            summary: Arc::new(OnceLock::new()),
        }
    }

    /// The counts of the live rows (made on first use, then shared by every snapshot holding
    /// this state of the partition).
    fn summary(&self) -> &MonthSummary {
        self.summary
            .get_or_init(|| MonthSummary::of(&self.rows, |i| self.is_dead(i)))
    }

    fn is_dead(&self, i: usize) -> bool {
        self.dead
            .as_ref()
            .is_some_and(|d| d[i / 64] & (1 << (i % 64)) != 0)
    }

    fn kill(&mut self, i: usize) {
        let words = self.rows.len().div_ceil(64);
        let dead = self.dead.get_or_insert_with(|| Arc::new(vec![0; words]));
        Arc::make_mut(dead)[i / 64] |= 1 << (i % 64);
        self.dead_count += 1;
        self.summary = Arc::new(OnceLock::new());
    }

    fn live(&self) -> usize {
        self.rows.len() - self.dead_count
    }

    fn live_rows(&self) -> impl Iterator<Item = Row> + '_ {
        (0..self.rows.len())
            .filter(|&i| !self.is_dead(i))
            .map(|i| self.rows.row(i))
    }
}

/// Every event, compact and queryable (see the module documentation). Cloning is cheap: it
/// shares every segment.
#[derive(Debug, Clone, Default)]
pub struct EventStore {
    /// Month partitions in month order, then tail segments in the order applied.
    parts: Vec<Part>,
    dicts: Arc<Dicts>,
    extents: Arc<AreaExtents>,
}

impl EventStore {
    /// `filter` compiled against this store's dictionaries and area boxes.
    fn compile(&self, filter: &EventFilter) -> Compiled {
        Compiled::new(filter, &self.dicts, &self.extents)
    }

    /// Number of live events.
    pub fn len(&self) -> usize {
        self.parts.iter().map(Part::live).sum()
    }

    /// Whether the store holds no event.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes held: the capacity of every column, index, bitmap and dictionary.
    pub fn resident_bytes(&self) -> usize {
        let parts: usize = self
            .parts
            .iter()
            .map(|p| {
                p.rows.resident_bytes()
                    + p.dead.as_ref().map_or(0, |d| d.capacity() * 8)
                    + p.summary.get().map_or(0, MonthSummary::resident_bytes)
                    + std::mem::size_of::<Segment>()
            })
            .sum();
        parts
            + self.parts.capacity() * std::mem::size_of::<Part>()
            + self.dicts.resident_bytes()
            + self.extents.resident_bytes()
    }

    /// The current position of an event, `None` for an unknown code.
    pub fn position(&self, code: &str) -> Option<WorldPoint> {
        let packed = self.dicts.side.find(code)?;
        let (p, i) = self.locate(packed)?;
        Some(self.parts[p].rows.point(i))
    }

    /// The live row of a packed code: (part, row).
    fn locate(&self, packed: u64) -> Option<(usize, usize)> {
        self.parts.iter().enumerate().rev().find_map(|(p, part)| {
            let i = part.rows.find(packed)?;
            (!part.is_dead(i)).then_some((p, i))
        })
    }

    /// Adds new events and replaces changed ones (found by code); within the batch the last
    /// version of a code wins. Returns where each event was and is.
    pub fn upsert(&mut self, events: &[&Event]) -> Vec<EventMove> {
        if events.iter().any(|e| self.dicts.known_row(e).is_none()) {
            let dicts = Arc::make_mut(&mut self.dicts);
            for e in events {
                dicts.intern(e);
            }
        }
        let mut rows: Vec<Row> = Vec::with_capacity(events.len());
        let mut pending: HashMap<u64, usize> = HashMap::with_capacity(events.len());
        let mut moves = Vec::with_capacity(events.len());
        for e in events {
            let Some(row) = self.dicts.known_row(e) else {
                continue;
            };
            let old = match pending.get(&row.code) {
                Some(&k) => {
                    let old = rows[k].at;
                    rows[k] = row;
                    Some(old)
                }
                None => {
                    let old = self.locate(row.code).map(|(p, i)| {
                        self.parts[p].kill(i);
                        self.parts[p].rows.point(i)
                    });
                    pending.insert(row.code, rows.len());
                    rows.push(row);
                    old
                }
            };
            moves.push(EventMove {
                code: e.code.clone(),
                old,
                new: row.at,
            });
        }
        let mut placed = rows.iter().filter(|r| r.area != NO_AREA).peekable();
        if placed.peek().is_some() {
            let extents = Arc::make_mut(&mut self.extents);
            for row in placed {
                extents.grow(row.area, row.at);
            }
        }
        if !rows.is_empty() {
            self.parts.push(Part::new(Segment::build(rows), None));
        }
        self.compact_if_needed();
        moves
    }

    /// Merges the tails into the partitions past [`TAIL_ROWS`] live tail rows, or into one
    /// tail segment past [`TAIL_SEGMENTS`] segments (cheap: at most [`TAIL_ROWS`] rows), so
    /// a stream of single-event batches does not rebuild partitions.
    fn compact_if_needed(&mut self) {
        let tails = self.parts.iter().filter(|p| p.month.is_none());
        let (segments, rows) = tails.fold((0, 0), |(n, r), p| (n + 1, r + p.live()));
        if rows > TAIL_ROWS {
            self.compact();
        } else if segments > TAIL_SEGMENTS {
            let rows: Vec<Row> = self
                .parts
                .iter()
                .filter(|p| p.month.is_none())
                .flat_map(Part::live_rows)
                .collect();
            self.parts.retain(|p| p.month.is_some());
            self.parts.push(Part::new(Segment::build(rows), None));
        }
    }

    /// Merges the tail segments into their month partitions and rebuilds every partition
    /// that has dead rows.
    pub fn compact(&mut self) {
        let mut rebuild: BTreeMap<u32, Vec<Row>> = BTreeMap::new();
        for part in self.parts.iter().filter(|p| p.month.is_none()) {
            for row in part.live_rows() {
                rebuild.entry(month_of(row.reported)).or_default().push(row);
            }
        }
        let mut kept = Vec::new();
        for part in std::mem::take(&mut self.parts) {
            let Some(month) = part.month else { continue };
            if part.dead_count > 0 || rebuild.contains_key(&month) {
                rebuild.entry(month).or_default().extend(part.live_rows());
            } else {
                kept.push(part);
            }
        }
        kept.extend(
            rebuild
                .into_iter()
                .filter(|(_, rows)| !rows.is_empty())
                .map(|(month, rows)| Part::new(Segment::build(rows), Some(month))),
        );
        kept.sort_by_key(|p| p.month);
        kept.shrink_to_fit();
        self.parts = kept;
    }
}

/// Fills an event store from chunks of events (as `Store::load_events` streams them) while
/// holding only compact rows, never all `Event`s at once. Codes are assumed unique, as the
/// store guarantees.
#[derive(Debug, Default)]
pub struct EventLoader {
    dicts: Dicts,
    extents: AreaExtents,
    months: BTreeMap<u32, Vec<Row>>,
}

impl EventLoader {
    /// Takes one chunk.
    pub fn push(&mut self, chunk: Vec<Event>) {
        for e in &chunk {
            let Some(row) = self.dicts.row(e) else {
                continue;
            };
            if row.area != NO_AREA {
                self.extents.grow(row.area, row.at);
            }
            self.months
                .entry(month_of(row.reported))
                .or_default()
                .push(row);
        }
    }

    /// Builds the partitions, one month at a time (each month's rows are freed as its
    /// segment is built).
    pub fn finish(mut self) -> EventStore {
        let mut parts = Vec::with_capacity(self.months.len());
        while let Some((month, rows)) = self.months.pop_first() {
            parts.push(Part::new(Segment::build(rows), Some(month)));
        }
        EventStore {
            parts,
            dicts: Arc::new(self.dicts),
            extents: Arc::new(self.extents),
        }
    }
}
