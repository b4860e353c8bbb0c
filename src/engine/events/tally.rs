//! Event figures for the statistics endpoints: over the events an [`EventFilter`] keeps, how
//! many there are by status and by category, how many are open, overdue, closed and closed on
//! time; the same per child area in one scan; and counts per time bucket (the trend line).
//!
//! The rules are the timeliness rules ([`super::timeliness`]) at the filter's `now`:
//! - open: a status before 结案 closed ([`crate::model::EventStatus::is_open`]);
//! - overdue: open and past its deadline;
//! - closed on time: closed or evaluated without a red card, i.e. not closed after its
//!   deadline (an event without a deadline is on time).
//!
//! Times count to the second, as everywhere in the event store.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::filter::{Compiled, EventFilter};
use super::month_summary::AreaCounts;
use super::packing::{pack_time, NO_TIME};
use super::query::scan_part;
use super::segment::Segment;
use super::timeliness::{card_packed, closed_status, overdue_packed, Card};
use super::world::WorldRect;
use super::{EventStore, Part, NO_AREA};
use crate::model::EventStatus;

/// The event figures of one area (or of any set of events a filter keeps).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EventTally {
    pub total: u64,
    /// Counts per status, in [`EventStatus::ALL`] order.
    pub by_status: [u64; EventStatus::ALL.len()],
    /// Counts per category code.
    pub by_category: BTreeMap<String, u64>,
    pub open: u64,
    pub overdue: u64,
    /// Closed or evaluated.
    pub closed: u64,
    /// Closed or evaluated, and not after the deadline.
    pub closed_on_time: u64,
}

impl EventTally {
    /// Share of the events that are closed (`None` without events).
    pub fn closure_rate(&self) -> Option<f64> {
        ratio(self.closed, self.total)
    }

    /// Share of the closed events closed on time (`None` without closed events).
    pub fn on_time_rate(&self) -> Option<f64> {
        ratio(self.closed_on_time, self.closed)
    }

    /// Adds row `i` of `seg`, judged at `now`; its category by dictionary index into `counts`.
    fn add(&mut self, seg: &Segment, i: usize, now: u32, category_counts: &mut [u64]) {
        let status = seg.status[i];
        self.total += 1;
        if let Some(n) = self.by_status.get_mut(usize::from(status)) {
            *n += 1;
        }
        if let Some(n) = category_counts.get_mut(usize::from(seg.category[i])) {
            *n += 1;
        }
        if closed_status(status) {
            self.closed += 1;
            let card = card_packed(status, seg.reported[i], seg.deadline[i], seg.closed[i], now);
            if card != Card::Red {
                self.closed_on_time += 1;
            }
        } else {
            self.open += 1;
            if overdue_packed(status, seg.deadline[i], now) {
                self.overdue += 1;
            }
        }
    }
}

impl EventTally {
    /// Adds the counts of an area's month (its overdue events come from the open rows).
    fn add_counts(&mut self, c: &AreaCounts, category_counts: &mut [u64]) {
        for (status, &n) in c.by_status.iter().enumerate() {
            let n = u64::from(n);
            self.total += n;
            self.by_status[status] += n;
            if closed_status(status as u8) {
                self.closed += n;
            } else {
                self.open += n;
            }
        }
        self.closed_on_time += u64::from(c.closed_on_time);
        for &(category, n) in &c.categories {
            if let Some(count) = category_counts.get_mut(usize::from(category)) {
                *count += u64::from(n);
            }
        }
    }
}

/// One thing a tally reads (see [`EventStore::visit_tallied`]).
enum Tallied<'a> {
    /// A matching live row of a part read row by row.
    Row(&'a Segment, usize),
    /// A kept area's counts in a month read from its summary (area index, or [`NO_AREA`]).
    Counts(u32, &'a AreaCounts),
    /// An open row of a kept area in such a month, for its overdue flag at the moment asked.
    Open(&'a Segment, usize),
}

/// Whether a tally may read `part` from its summary: a month partition wholly inside the
/// window (the filter keeping events by area alone is checked once by the caller).
fn month_inside_window(compiled: &Compiled, part: &Part) -> bool {
    let (first, last) = part.rows.time;
    part.month.is_some()
        && compiled.from < compiled.to
        && compiled.from <= first
        && last < compiled.to
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    // Counts of events stay far below 2^53, so the conversion is exact.
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// What a trend line counts per bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesMetric {
    /// Events reported in the bucket.
    Reported,
    /// Events closed (结案) in the bucket, by their closing time.
    Closed,
}

impl SeriesMetric {
    /// The names the API accepts.
    pub const NAMES: [&'static str; 2] = ["reported", "closed"];

    /// Parses a metric name.
    pub fn parse(s: &str) -> Option<SeriesMetric> {
        match s {
            "reported" => Some(SeriesMetric::Reported),
            "closed" => Some(SeriesMetric::Closed),
            _ => None,
        }
    }
}

impl EventStore {
    /// The figures of the events `filter` keeps.
    pub fn tally(&self, filter: &EventFilter) -> EventTally {
        let compiled = self.compile(filter);
        let mut tally = EventTally::default();
        let mut categories = vec![0u64; self.dicts.categories.len()];
        let now = compiled.now;
        self.visit_tallied(filter, &compiled, |seen| match seen {
            Tallied::Row(seg, i) => tally.add(seg, i, now, &mut categories),
            Tallied::Counts(_, counts) => tally.add_counts(counts, &mut categories),
            Tallied::Open(seg, i) => {
                tally.overdue += u64::from(overdue_packed(seg.status[i], seg.deadline[i], now));
            }
        });
        tally.by_category = self.category_counts(&categories);
        tally
    }

    /// The figures of the events `filter` keeps, split by area: one tally per prefix in
    /// `prefixes` (an event counts for every prefix its area code starts with). One scan,
    /// whatever the number of prefixes.
    pub fn tally_by_area(&self, filter: &EventFilter, prefixes: &[String]) -> Vec<EventTally> {
        let compiled = self.compile(filter);
        let owners: Vec<Vec<usize>> = self
            .dicts
            .areas
            .iter()
            .map(|area| {
                let matching = prefixes.iter().enumerate();
                matching
                    .filter(|(_, p)| area.starts_with(p.as_str()))
                    .map(|(k, _)| k)
                    .collect()
            })
            .collect();
        let mut tallies = vec![EventTally::default(); prefixes.len()];
        let mut categories = vec![vec![0u64; self.dicts.categories.len()]; prefixes.len()];
        let now = compiled.now;
        let owners_of = |area: u32| -> &[usize] {
            if area == NO_AREA {
                return &[];
            }
            owners.get(area as usize).map_or(&[][..], Vec::as_slice)
        };
        self.visit_tallied(filter, &compiled, |seen| match seen {
            Tallied::Row(seg, i) => {
                for &k in owners_of(seg.area[i]) {
                    tallies[k].add(seg, i, now, &mut categories[k]);
                }
            }
            Tallied::Counts(area, counts) => {
                for &k in owners_of(area) {
                    tallies[k].add_counts(counts, &mut categories[k]);
                }
            }
            Tallied::Open(seg, i) => {
                if overdue_packed(seg.status[i], seg.deadline[i], now) {
                    for &k in owners_of(seg.area[i]) {
                        tallies[k].overdue += 1;
                    }
                }
            }
        });
        for (tally, counts) in tallies.iter_mut().zip(&categories) {
            tally.by_category = self.category_counts(counts);
        }
        tallies
    }

    /// Hands `visit` what a tally under `filter` reads, part by part: the months wholly inside
    /// the window, under a filter that keeps events by area alone, as their summaries' counts
    /// per kept area and their open rows in those areas; every other part row by row.
    fn visit_tallied(
        &self,
        filter: &EventFilter,
        compiled: &Compiled,
        mut visit: impl FnMut(Tallied<'_>),
    ) {
        let by_area_only = filter.statuses.is_empty()
            && filter.categories.is_empty()
            && filter.sources.is_empty()
            && filter.levels.is_empty()
            && filter.overdue.is_none()
            && filter.bbox.is_none();
        for part in &self.parts {
            if !(by_area_only && month_inside_window(compiled, part)) {
                scan_part(part, compiled, WorldRect::WORLD, &mut |seg, i| {
                    visit(Tallied::Row(seg, i));
                });
                continue;
            }
            let summary = part.summary();
            let kept = (0..summary.areas.len() as u32).chain([NO_AREA]);
            for area in kept.filter(|&a| compiled.keeps_area(a)) {
                if let Some(counts) = summary.area(area) {
                    visit(Tallied::Counts(area, counts));
                }
            }
            for &i in &summary.open_rows {
                if compiled.keeps_area(part.rows.area[i as usize]) {
                    visit(Tallied::Open(&part.rows, i as usize));
                }
            }
        }
    }

    /// Counts per bucket of the events `filter` keeps: `bounds` are the buckets' edges in
    /// ascending order (bucket `k` is `bounds[k] <= t < bounds[k + 1]`), `t` the report time
    /// or the closing time by `metric`. For [`SeriesMetric::Closed`] the filter's report-time
    /// window does not apply: every kept event closed inside the buckets counts.
    pub fn series(
        &self,
        filter: &EventFilter,
        metric: SeriesMetric,
        bounds: &[DateTime<Utc>],
    ) -> Vec<u64> {
        let edges: Vec<u32> = bounds.iter().map(|&t| pack_time(t)).collect();
        let mut counts = vec![0u64; edges.len().saturating_sub(1)];
        let (Some(&first), Some(&last)) = (edges.first(), edges.last()) else {
            return counts;
        };
        let mut filter = filter.clone();
        match metric {
            SeriesMetric::Reported => {
                filter.from = bounds.first().copied();
                filter.to = bounds.last().copied();
            }
            SeriesMetric::Closed => {
                filter.from = None;
                filter.to = None;
            }
        }
        let compiled = self.compile(&filter);
        self.scan(&compiled, WorldRect::WORLD, |seg, i| {
            let t = match metric {
                SeriesMetric::Reported => seg.reported[i],
                SeriesMetric::Closed if closed_status(seg.status[i]) => seg.closed[i],
                SeriesMetric::Closed => NO_TIME,
            };
            if t == NO_TIME || t < first || t >= last {
                return;
            }
            let bucket = edges.partition_point(|&e| e <= t) - 1;
            if let Some(n) = counts.get_mut(bucket) {
                *n += 1;
            }
        });
        counts
    }

    /// The non-zero counts by category code, from counts by dictionary index.
    fn category_counts(&self, counts: &[u64]) -> BTreeMap<String, u64> {
        self.dicts
            .categories
            .iter()
            .zip(counts)
            .filter(|(_, &n)| n > 0)
            .map(|(c, &n)| (c.clone(), n))
            .collect()
    }
}
