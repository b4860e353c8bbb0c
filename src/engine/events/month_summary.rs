//! What the statistics need of a month partition, counted once: per area (by dictionary
//! index, and for the events outside every area) the events by status and by category and the
//! closed ones on time; and the rows still open, whose overdue flag depends on the moment
//! asked. A tally whose window covers a whole month and that filters on nothing but areas adds
//! these up instead of reading the month's rows (`tally`); a city's year is then a few
//! thousand additions per month rather than a pass over millions of rows.
//!
//! A summary belongs to one state of a partition: its rows and its dead rows. A partition that
//! loses a row gets a new, empty summary, counted again when next asked.

use super::segment::Segment;
use super::timeliness::{card_packed, closed_status, Card};
use super::NO_AREA;
use crate::model::EventStatus;

/// The events of one area in one month.
#[derive(Debug, Clone, Default)]
pub(super) struct AreaCounts {
    pub by_status: [u32; EventStatus::ALL.len()],
    /// Closed or evaluated, and not after the deadline.
    pub closed_on_time: u32,
    /// (category index, events), by category index.
    pub categories: Vec<(u16, u32)>,
}

impl AreaCounts {
    fn add(&mut self, seg: &Segment, i: usize) {
        let status = seg.status[i];
        if let Some(n) = self.by_status.get_mut(usize::from(status)) {
            *n += 1;
        }
        // A closed event's card does not depend on the moment asked.
        if closed_status(status)
            && card_packed(status, seg.reported[i], seg.deadline[i], seg.closed[i], 0) != Card::Red
        {
            self.closed_on_time += 1;
        }
        let category = seg.category[i];
        match self.categories.binary_search_by_key(&category, |&(c, _)| c) {
            Ok(k) => self.categories[k].1 += 1,
            Err(k) => self.categories.insert(k, (category, 1)),
        }
    }
}

/// The counts of one month partition.
#[derive(Debug, Clone, Default)]
pub(super) struct MonthSummary {
    /// Per area dictionary index (areas without events in the month stay empty).
    pub areas: Vec<AreaCounts>,
    /// The events outside every area.
    pub outside: AreaCounts,
    /// The live rows still open, for their overdue flag at the moment asked.
    pub open_rows: Vec<u32>,
}

impl MonthSummary {
    /// Counts the live rows of `seg` (`dead` tells the others).
    pub fn of(seg: &Segment, dead: impl Fn(usize) -> bool) -> MonthSummary {
        let mut summary = MonthSummary::default();
        for i in (0..seg.len()).filter(|&i| !dead(i)) {
            let area = seg.area[i];
            let counts = if area == NO_AREA {
                &mut summary.outside
            } else {
                let k = area as usize;
                if k >= summary.areas.len() {
                    summary.areas.resize(k + 1, AreaCounts::default());
                }
                &mut summary.areas[k]
            };
            counts.add(seg, i);
            if !closed_status(seg.status[i]) {
                summary.open_rows.push(i as u32);
            }
        }
        summary.areas.shrink_to_fit();
        summary.open_rows.shrink_to_fit();
        summary
    }

    /// The counts of an area index ([`NO_AREA`] for the events outside every area).
    pub fn area(&self, area: u32) -> Option<&AreaCounts> {
        if area == NO_AREA {
            Some(&self.outside)
        } else {
            self.areas.get(area as usize)
        }
    }

    pub fn resident_bytes(&self) -> usize {
        let counts =
            |c: &AreaCounts| std::mem::size_of::<AreaCounts>() + c.categories.capacity() * 8;
        self.areas.iter().map(counts).sum::<usize>()
            + counts(&self.outside)
            + self.open_rows.capacity() * 4
    }
}
