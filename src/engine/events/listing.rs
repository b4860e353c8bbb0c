//! Pages of the event listing (`GET /api/events`): the events an [`EventFilter`] keeps,
//! newest first, cut into pages by a keyset cursor.
//!
//! The order is by report time to the second, descending, then by code, descending. The store
//! keeps `reported_at` in milliseconds but the event store packs it in seconds
//! ([`super::packing::pack_time`]): events reported within the same second are ordered by their
//! code alone (for the codes the service assigns, the later-ingested first). The order and the
//! cursor use only what the event store holds, so they are exact and stable: a page starts
//! right after the [`ListingKey`] of the previous page's last event, with no gap and no repeat
//! whatever the page sizes.
//!
//! Cost: month partitions are visited newest first and a partition whose latest report is
//! older than the page's oldest kept event is never scanned, so a first page reads the latest
//! month or so (and the small tail segments), and a cursor deep in the past skips every newer
//! month by its time range.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use chrono::{DateTime, Utc};

use super::filter::EventFilter;
use super::packing::{pack_time, unpack_time, NO_TIME};
use super::world::WorldRect;
use super::EventStore;

/// A place in the listing order: an event's report time (whole seconds) and code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingKey {
    /// The report time, truncated to the second.
    pub reported: DateTime<Utc>,
    pub code: String,
}

impl ListingKey {
    /// The key of an event reported at `reported` (truncated to the second).
    pub fn new(reported: DateTime<Utc>, code: impl Into<String>) -> ListingKey {
        ListingKey {
            reported: unpack_time(pack_time(reported)),
            code: code.into(),
        }
    }
}

/// A kept row: packed report time and code, ordered like the listing (greater = earlier in
/// the listing).
#[derive(Debug, PartialEq, Eq)]
struct Kept {
    reported: u32,
    code: String,
}

impl Ord for Kept {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.reported, &self.code).cmp(&(other.reported, &other.code))
    }
}

impl PartialOrd for Kept {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl EventStore {
    /// Up to `limit` events the filter keeps that come after `after` in the listing order
    /// (the module documentation), as their keys in that order.
    pub fn page(
        &self,
        filter: &EventFilter,
        after: Option<&ListingKey>,
        limit: usize,
    ) -> Vec<ListingKey> {
        let compiled = self.compile(filter);
        let after = after.map(|k| (pack_time(k.reported), k.code.as_str()));
        // Rows after the cursor are reported at or before its second.
        let to = after.map_or(compiled.to, |(t, _)| compiled.to.min(t.saturating_add(1)));
        let rect = compiled.rect.unwrap_or(WorldRect::WORLD);
        if limit == 0 || compiled.from >= to {
            return Vec::new();
        }
        // The `limit` greatest rows so far, smallest on top.
        let mut kept: BinaryHeap<Reverse<Kept>> = BinaryHeap::with_capacity(limit + 1);
        let mut order: Vec<usize> = (0..self.parts.len()).collect();
        // Tails (no month) first, then the months newest first.
        order.sort_by_key(|&p| Reverse(self.parts[p].month.unwrap_or(u32::MAX)));
        for p in order {
            let part = &self.parts[p];
            let seg = &*part.rows;
            let floor = match kept.peek() {
                Some(Reverse(worst)) if kept.len() == limit => worst.reported,
                _ => compiled.from,
            };
            if !seg.overlaps_time(floor.max(compiled.from), to) {
                // Months come newest first: once one lies wholly before the floor, so do the rest.
                let older = !seg.overlaps_time(floor, NO_TIME);
                if part.month.is_some() && kept.len() == limit && older {
                    break;
                }
                continue;
            }
            for (run, inside) in seg.runs_in(&rect, |c| compiled.keeps_category(c)) {
                for i in run {
                    let t = seg.reported[i];
                    if t >= to
                        || !(inside || rect.contains(seg.point(i)))
                        || !compiled.matches(seg, i)
                        || part.is_dead(i)
                    {
                        continue;
                    }
                    if let Some(Reverse(worst)) = kept.peek() {
                        if kept.len() == limit && t < worst.reported {
                            continue;
                        }
                    }
                    let code = self.dicts.side.unpack(seg.code[i]);
                    if after.is_some_and(|(at, c)| t == at && code.as_str() >= c) {
                        continue;
                    }
                    let row = Kept { reported: t, code };
                    if kept.len() < limit {
                        kept.push(Reverse(row));
                    } else if kept.peek().is_some_and(|Reverse(worst)| row > *worst) {
                        kept.pop();
                        kept.push(Reverse(row));
                    }
                }
            }
        }
        let mut rows: Vec<Kept> = kept.into_iter().map(|Reverse(k)| k).collect();
        rows.sort_unstable_by(|a, b| b.cmp(a));
        rows.into_iter()
            .map(|k| ListingKey {
                reported: unpack_time(k.reported),
                code: k.code,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::engine::events::EventLoader;
    use crate::generate::{self, GenerateOptions, Scale};
    use crate::model::{Event, EventStatus};

    fn sample() -> Vec<Event> {
        let opts = GenerateOptions {
            scale: Scale::Sample,
            seed: 3,
            progress: false,
            events: Some(3_000),
            as_of: None,
        };
        let city = generate::city(&opts).expect("sample city");
        generate::events(&city, &opts).flatten().collect()
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2031, 1, 1, 0, 0, 0)
            .single()
            .expect("t")
    }

    /// The listing order of two keys (`Less` = listed first): newer first, then greater code.
    fn listing_order(a: &ListingKey, b: &ListingKey) -> Ordering {
        (b.reported, &b.code).cmp(&(a.reported, &a.code))
    }

    /// The reference: every matching event, sorted into the listing order.
    fn reference(events: &[Event], f: &EventFilter) -> Vec<ListingKey> {
        let mut keys: Vec<ListingKey> = events
            .iter()
            .filter(|e| f.matches(e))
            .map(|e| ListingKey::new(e.reported_at, e.code.clone()))
            .collect();
        keys.sort_by(listing_order);
        keys
    }

    fn all_pages(store: &EventStore, f: &EventFilter, limit: usize) -> Vec<ListingKey> {
        let mut out: Vec<ListingKey> = Vec::new();
        loop {
            let page = store.page(f, out.last(), limit);
            assert!(page.len() <= limit);
            let done = page.len() < limit;
            out.extend(page);
            if done {
                return out;
            }
        }
    }

    #[test]
    fn an_empty_store_and_a_zero_limit_give_nothing() {
        let store = EventStore::default();
        assert!(store.page(&EventFilter::at(now()), None, 10).is_empty());
        let store = {
            let mut l = EventLoader::default();
            l.push(sample());
            l.finish()
        };
        assert!(store.page(&EventFilter::at(now()), None, 0).is_empty());
    }

    #[test]
    fn pages_of_any_size_equal_the_sorted_reference() {
        let mut events = sample();
        // Ties: several events in one second (different milliseconds), in two months.
        let base = events[0].reported_at;
        for (k, e) in events.iter_mut().take(12).enumerate() {
            e.reported_at = base + Duration::milliseconds(80 * (11 - k as i64));
        }
        let mut loader = EventLoader::default();
        loader.push(events[..2_000].to_vec());
        let mut store = loader.finish();
        // Later events and changes go to tail segments.
        let mut changed: Vec<Event> = events[2_000..].to_vec();
        changed.extend(events[100..140].iter().map(|e| {
            let mut e = e.clone();
            e.status = EventStatus::Closed;
            e
        }));
        let refs: Vec<&Event> = changed.iter().collect();
        store.upsert(&refs);
        let mut latest: std::collections::HashMap<String, Event> = Default::default();
        for e in events.iter().chain(&changed) {
            latest.insert(e.code.clone(), e.clone());
        }
        let latest: Vec<Event> = latest.into_values().collect();

        let mut filters = vec![EventFilter::at(now())];
        let mut f = EventFilter::at(now());
        f.statuses = vec![EventStatus::Closed, EventStatus::Reported];
        filters.push(f);
        let mut f = EventFilter::at(now());
        f.categories = vec!["01".into()];
        f.to = Some(base + Duration::days(20));
        filters.push(f);
        let mut f = EventFilter::at(now());
        f.overdue = Some(true);
        f.area_prefixes = vec!["410611".into()];
        filters.push(f);
        for f in &filters {
            let want = reference(&latest, f);
            assert!(!want.is_empty());
            assert_eq!(store.page(f, None, want.len() + 5), want);
            for limit in [1, 7, 100] {
                assert_eq!(all_pages(&store, f, limit), want, "limit {limit}");
            }
        }
    }

    #[test]
    fn keys_are_truncated_to_the_second() {
        let t = Utc
            .with_ymd_and_hms(2026, 3, 1, 8, 0, 0)
            .single()
            .expect("t");
        let k = ListingKey::new(t + Duration::milliseconds(999), "E1");
        assert_eq!(k.reported, t);
    }
}
