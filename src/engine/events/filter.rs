//! What a query keeps: a time window, statuses, categories, sources, levels, overdue at a
//! moment, a jurisdiction (area-code prefixes) and a box — compiled once per query against the
//! store's dictionaries into masks and lookup tables, so a row is tested with a few loads.
//!
//! Categories are prefixes (`01` keeps `0101`, `0102`, …; a whole code keeps itself): the
//! prefix test runs once per dictionary entry, never per row.

use chrono::{DateTime, Utc};
use geo_types::Rect;

use super::area_extents::AreaExtents;
use super::packing::{pack_end, pack_time, NO_TIME};
use super::segment::Segment;
use super::timeliness::{overdue_packed, status_index};
use super::world::WorldRect;
use super::{Dicts, NO_AREA};
use crate::model::{EventSource, EventStatus, HandlingLevel};

/// A filter over events. Empty lists mean "any".
#[derive(Debug, Clone, PartialEq)]
pub struct EventFilter {
    /// Report time at or after this.
    pub from: Option<DateTime<Utc>>,
    /// Report time before this.
    pub to: Option<DateTime<Utc>>,
    pub statuses: Vec<EventStatus>,
    /// Category code prefixes (`01` keeps `0101`, `0102`, …).
    pub categories: Vec<String>,
    pub sources: Vec<EventSource>,
    pub levels: Vec<HandlingLevel>,
    /// Keep only overdue (`Some(true)`) or only not overdue (`Some(false)`) events at `now`.
    pub overdue: Option<bool>,
    /// Jurisdiction: keep events whose area code starts with one of these; an event outside
    /// every area then matches only with `outside_areas`.
    pub area_prefixes: Vec<String>,
    /// With `area_prefixes`, keep the events outside every area too (for a city-wide
    /// jurisdiction, see `model::covers_whole_city`).
    pub outside_areas: bool,
    /// A storage longitude/latitude box (borders included).
    pub bbox: Option<Rect<f64>>,
    /// The moment `overdue` and the cards are derived at.
    pub now: DateTime<Utc>,
}

impl EventFilter {
    /// A filter that keeps every event, deriving overdue at `now`.
    pub fn at(now: DateTime<Utc>) -> EventFilter {
        EventFilter {
            from: None,
            to: None,
            statuses: Vec::new(),
            categories: Vec::new(),
            sources: Vec::new(),
            levels: Vec::new(),
            overdue: None,
            area_prefixes: Vec::new(),
            outside_areas: false,
            bbox: None,
            now,
        }
    }

    /// Whether an event matches, tested on the event itself (the reference the store's
    /// compiled filter must agree with).
    pub fn matches(&self, e: &crate::model::Event) -> bool {
        let at = pack_time(e.reported_at);
        let in_window = self.from.is_none_or(|f| at >= pack_time(f))
            && self.to.is_none_or(|t| at < pack_end(t));
        let any = |empty: bool, hit: bool| empty || hit;
        let in_box = self.bbox.is_none_or(|b| {
            let p = super::world::WorldPoint::from_lonlat(e.location.x(), e.location.y());
            WorldRect::of_lonlat(b.min().x, b.min().y, b.max().x, b.max().y).contains(p)
        });
        in_window
            && any(self.statuses.is_empty(), self.statuses.contains(&e.status))
            && any(
                self.categories.is_empty(),
                self.categories
                    .iter()
                    .any(|c| e.category.starts_with(c.as_str())),
            )
            && any(self.sources.is_empty(), self.sources.contains(&e.source))
            && any(self.levels.is_empty(), self.levels.contains(&e.level))
            && any(
                self.area_prefixes.is_empty(),
                e.area_code.as_deref().map_or(self.outside_areas, |a| {
                    self.area_prefixes.iter().any(|p| a.starts_with(p.as_str()))
                }),
            )
            && self
                .overdue
                .is_none_or(|want| super::timeliness::overdue_at(e, self.now) == want)
            && in_box
    }
}

/// A filter compiled against the dictionaries of one store.
#[derive(Debug, Clone)]
pub(super) struct Compiled {
    pub from: u32,
    pub to: u32,
    statuses: u8,
    sources: u8,
    levels: u8,
    categories: Option<Vec<bool>>,
    areas: Option<Vec<bool>>,
    /// Whether an event outside every area passes the area test.
    outside_areas: bool,
    overdue: Option<bool>,
    pub now: u32,
    /// The filter's box in world units; `None` for no box.
    pub rect: Option<WorldRect>,
}

/// A bit per listed value (all bits for an empty list).
fn mask<T: Copy>(values: &[T], index: impl Fn(T) -> u8) -> u8 {
    if values.is_empty() {
        return u8::MAX;
    }
    values.iter().fold(0, |m, &v| m | 1 << index(v))
}

impl Compiled {
    /// Compiles a filter against the store's dictionaries; a filter on areas gets the union
    /// of their rows' boxes as its box (see `area_extents`).
    pub fn new(f: &EventFilter, dicts: &Dicts, extents: &AreaExtents) -> Compiled {
        let categories = (!f.categories.is_empty()).then(|| {
            dicts
                .categories
                .iter()
                .map(|c| f.categories.iter().any(|p| c.starts_with(p.as_str())))
                .collect()
        });
        let areas: Option<Vec<bool>> = (!f.area_prefixes.is_empty()).then(|| {
            dicts
                .areas
                .iter()
                .map(|a| f.area_prefixes.iter().any(|p| a.starts_with(p.as_str())))
                .collect()
        });
        let bbox = f
            .bbox
            .map(|b| WorldRect::of_lonlat(b.min().x, b.min().y, b.max().x, b.max().y));
        let (rect, nothing) = match (&areas, f.outside_areas) {
            (Some(keep), false) => match (extents.union_of(keep), bbox) {
                (None, _) => (bbox, true),
                (Some(r), None) => (Some(r), false),
                (Some(r), Some(b)) => {
                    let both = r.intersection(&b);
                    (both, both.is_none())
                }
            },
            _ => (bbox, false),
        };
        // Nothing can match: an empty window, which every scan tests first.
        let (from, to) = if nothing {
            (0, 0)
        } else {
            (f.from.map_or(0, pack_time), f.to.map_or(NO_TIME, pack_end))
        };
        Compiled {
            from,
            to,
            statuses: mask(&f.statuses, status_index),
            sources: mask(&f.sources, |s| {
                EventSource::ALL.iter().position(|&v| v == s).unwrap_or(0) as u8
            }),
            levels: mask(&f.levels, |l| {
                HandlingLevel::ALL.iter().position(|&v| v == l).unwrap_or(0) as u8
            }),
            categories,
            outside_areas: areas.is_none() || f.outside_areas,
            areas,
            overdue: f.overdue,
            now: pack_time(f.now),
            rect,
        }
    }

    /// Whether the filter keeps events of a category (by its dictionary index).
    pub fn keeps_category(&self, category: u16) -> bool {
        self.categories
            .as_ref()
            .is_none_or(|c| c.get(usize::from(category)).copied().unwrap_or(false))
    }

    /// Whether the filter keeps events of an area (by its dictionary index, or [`NO_AREA`]).
    #[inline]
    pub fn keeps_area(&self, area: u32) -> bool {
        match &self.areas {
            None => true,
            Some(_) if area == NO_AREA => self.outside_areas,
            Some(a) => a.get(area as usize).copied().unwrap_or(false),
        }
    }

    /// Whether row `i` of `s` passes everything but the box. The tests are combined with `&`,
    /// not `&&`: evaluating all of them without branches beats mispredicted early exits.
    #[inline]
    pub fn matches(&self, s: &Segment, i: usize) -> bool {
        let t = s.reported[i];
        let category = self.keeps_category(s.category[i]);
        let area = self.keeps_area(s.area[i]);
        let overdue = self
            .overdue
            .is_none_or(|want| overdue_packed(s.status[i], s.deadline[i], self.now) == want);
        (t >= self.from)
            & (t < self.to)
            & (self.statuses & (1 << s.status[i]) != 0)
            & (self.sources & (1 << s.source[i]) != 0)
            & (self.levels & (1 << s.level[i]) != 0)
            & category
            & area
            & overdue
    }
}
