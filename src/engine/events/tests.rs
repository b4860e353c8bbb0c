//! The event store against brute force over the same `Event`s: counts per square cell, H3
//! cells, clusters and points for random filters and tiles; block and partition skipping;
//! upserts; the resident size; loading from a GeoPackage.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use geo_types::{coord, Point, Rect};
use h3o::Resolution;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::heatmap_bins::{cell_center, h3_cell};
use super::*;
use crate::crs::mercator::{lonlat_to_mercator, HALF_WORLD_M};
use crate::crs::tile::TileId;
use crate::generate::{self, GenerateOptions, Scale};
use crate::model::{Change, EventStatus};

/// Generated sample events (the sample city, 20 000 events over 90 days).
fn sample() -> &'static [Event] {
    static SAMPLE: OnceLock<Vec<Event>> = OnceLock::new();
    SAMPLE.get_or_init(|| generated(20_000))
}

fn generated(n: u64) -> Vec<Event> {
    let opts = GenerateOptions {
        scale: Scale::Sample,
        seed: 7,
        progress: false,
        events: Some(n),
        as_of: None,
    };
    let city = generate::city(&opts).expect("sample city");
    generate::events(&city, &opts).flatten().collect()
}

fn loaded(events: &[Event]) -> EventStore {
    let mut loader = EventLoader::default();
    for chunk in events.chunks(3_000) {
        loader.push(chunk.to_vec());
    }
    loader.finish()
}

/// 60 % loaded, the rest upserted in batches of 500 (tail segments), some of them twice
/// (dead rows); compacted on request.
fn mixed(events: &[Event], compact: bool) -> EventStore {
    let cut = events.len() * 3 / 5;
    let mut store = loaded(&events[..cut]);
    for batch in events[cut..].chunks(500) {
        let refs: Vec<&Event> = batch.iter().collect();
        store.upsert(&refs);
    }
    let again: Vec<&Event> = events.iter().step_by(97).collect();
    store.upsert(&again);
    if compact {
        store.compact();
    }
    store
}

fn now() -> DateTime<Utc> {
    generate::events::fixed_as_of()
}

fn random_filter(rng: &mut ChaCha8Rng, events: &[Event]) -> EventFilter {
    let mut f = EventFilter::at(now() - Duration::days(rng.random_range(0..60)));
    let pick = |rng: &mut ChaCha8Rng| &events[rng.random_range(0..events.len())];
    if rng.random_bool(0.5) {
        let a = pick(rng).reported_at;
        let b = pick(rng).reported_at;
        f.from = Some(a.min(b));
        f.to = Some(a.max(b) + Duration::seconds(rng.random_range(0..2)));
    }
    if rng.random_bool(0.4) {
        f.statuses = EventStatus::ALL
            .into_iter()
            .filter(|_| rng.random_bool(0.5))
            .collect();
    }
    if rng.random_bool(0.4) {
        f.categories = (0..rng.random_range(1..4))
            .map(|_| pick(rng).category.clone())
            .collect();
    }
    if rng.random_bool(0.3) {
        f.sources = vec![pick(rng).source, pick(rng).source];
    }
    if rng.random_bool(0.3) {
        f.levels = vec![pick(rng).level];
    }
    if rng.random_bool(0.4) {
        f.overdue = Some(rng.random_bool(0.5));
    }
    if rng.random_bool(0.3) {
        let len = *[6, 9, 12].choose(rng).expect("non-empty");
        if let Some(code) = &pick(rng).area_code {
            f.area_prefixes = vec![code[..len.min(code.len())].to_string()];
        }
    }
    if rng.random_bool(0.3) {
        let c = pick(rng).location;
        let (dx, dy) = (rng.random_range(0.0..0.05), rng.random_range(0.0..0.05));
        f.bbox = Some(Rect::new(
            coord! {x: c.x() - dx, y: c.y() - dy},
            coord! {x: c.x() + dy, y: c.y() + dx},
        ));
    }
    f
}

fn random_tile(
    rng: &mut ChaCha8Rng,
    events: &[Event],
    zooms: std::ops::RangeInclusive<u8>,
) -> TileId {
    let e = &events[rng.random_range(0..events.len())];
    TileId::containing(rng.random_range(zooms), e.location.x(), e.location.y()).expect("zoom")
}

/// The cell at `2^zk` cells across the world, straight from the Mercator formula.
fn reference_cell(e: &Event, zk: u32) -> (u64, u64) {
    let (mx, my) = lonlat_to_mercator(e.location.x(), e.location.y());
    let n = (1u64 << zk) as f64;
    let world = 2.0 * HALF_WORLD_M;
    let q = |v: f64| (v / world * n).floor().clamp(0.0, n - 1.0) as u64;
    (q(mx + HALF_WORLD_M), q(HALF_WORLD_M - my))
}

fn reference_bins(events: &[Event], tile: TileId, cells: u32, f: &EventFilter) -> Vec<u32> {
    let k = cells.trailing_zeros();
    let zk = u32::from(tile.z) + k;
    let mut bins = vec![0u32; (cells * cells) as usize];
    for e in events.iter().filter(|e| f.matches(e)) {
        let (cx, cy) = reference_cell(e, zk);
        let (ox, oy) = (u64::from(tile.x) << k, u64::from(tile.y) << k);
        if (ox..ox + u64::from(cells)).contains(&cx) && (oy..oy + u64::from(cells)).contains(&cy) {
            bins[((cy - oy) * u64::from(cells) + (cx - ox)) as usize] += 1;
        }
    }
    bins
}

/// The latest version of each code (what the store must hold).
fn latest(events: &[Event]) -> Vec<Event> {
    let mut by_code: BTreeMap<&str, &Event> = BTreeMap::new();
    for e in events {
        by_code.insert(&e.code, e);
    }
    by_code.into_values().cloned().collect()
}

#[test]
fn empty_store_answers_zeros() {
    let store = EventStore::default();
    let f = EventFilter::at(now());
    let tile = TileId::new(0, 0, 0).expect("tile");
    assert!(store.is_empty());
    assert_eq!(store.count_in_bins(tile, 4, 0, &f), Ok(vec![0; 16]));
    assert!(store.count_in_h3(tile, &f).is_empty());
    assert!(store.points(tile, 0, &f).is_empty());
    assert_eq!(store.position("E20260101000001"), None);
}

#[test]
fn bad_binnings_are_refused() {
    let store = EventStore::default();
    let f = EventFilter::at(now());
    let tile = TileId::new(22, 0, 0).expect("tile");
    assert_eq!(
        store.count_in_bins(tile, 48, 0, &f),
        Err(EventQueryError::CellsPerSide(48))
    );
    assert_eq!(
        store.count_in_bins(tile, 2048, 0, &f).map(|b| b.len()),
        Err(EventQueryError::TooFine { z: 22, cells: 2048 })
    );
    assert_eq!(
        store.count_in_bins(tile, 1024, 0, &f).map(|b| b.len()),
        Ok(1024 * 1024),
        "z22 with 1024 cells is the 2^32 grid itself"
    );
}

#[test]
fn square_bins_equal_brute_force() {
    let events = sample();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for (name, store) in [
        ("loaded", loaded(events)),
        ("tails", mixed(events, false)),
        ("compacted", mixed(events, true)),
    ] {
        assert_eq!(store.len(), events.len(), "{name}");
        let mut nonzero = 0;
        for round in 0..60 {
            let f = random_filter(&mut rng, events);
            let tile = random_tile(&mut rng, events, 6..=17);
            let cells = *[1, 4, 64, 256].choose(&mut rng).expect("non-empty");
            let got = store
                .count_in_bins(tile, cells, 0, &f)
                .expect("valid binning");
            let want = reference_bins(events, tile, cells, &f);
            nonzero += want.iter().filter(|&&c| c > 0).count();
            assert_eq!(got, want, "{name} round {round}: {tile:?} {cells} {f:?}");
        }
        assert!(nonzero > 100, "{name}: the random tiles must hold events");
    }
}

#[test]
fn the_buffer_ring_holds_the_neighbours_cells() {
    let events = sample();
    let store = loaded(events);
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let mut in_ring = 0;
    for round in 0..30 {
        let f = random_filter(&mut rng, events);
        let tile = random_tile(&mut rng, events, 8..=15);
        let cells = 64i64;
        let ring = *[1i64, 8].choose(&mut rng).expect("non-empty");
        let got = store
            .count_in_bins(tile, cells as u32, ring as u32, &f)
            .expect("valid binning");
        let across = cells + 2 * ring;
        assert_eq!(got.len() as i64, across * across);
        let last = cells << tile.z;
        let mut neighbours: HashMap<(u32, u32), Vec<u32>> = HashMap::new();
        for (k, &n) in got.iter().enumerate() {
            let (cx, cy) = (k as i64 % across - ring, k as i64 / across - ring);
            let (gx, gy) = (
                i64::from(tile.x) * cells + cx,
                i64::from(tile.y) * cells + cy,
            );
            if gx < 0 || gy < 0 || gx >= last || gy >= last {
                assert_eq!(n, 0, "round {round}: a cell beyond the world edge");
                continue;
            }
            let (tx, ty) = ((gx / cells) as u32, (gy / cells) as u32);
            let bins = neighbours.entry((tx, ty)).or_insert_with(|| {
                let t = TileId::new(tile.z, tx, ty).expect("tile");
                store
                    .count_in_bins(t, cells as u32, 0, &f)
                    .expect("valid binning")
            });
            let want = bins[((gy % cells) * cells + gx % cells) as usize];
            assert_eq!(n, want, "round {round}: {tile:?} cell ({cx}, {cy})");
            if !(0..cells).contains(&cx) || !(0..cells).contains(&cy) {
                in_ring += n;
            }
        }
    }
    assert!(in_ring > 0, "the ring cells must hold events");
}

#[test]
fn counts_with_skipping_equal_a_full_scan() {
    let events = sample();
    let store = mixed(events, false);
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let mut hits = 0;
    for _ in 0..300 {
        let mut f = random_filter(&mut rng, events);
        if f.bbox.is_none() {
            let c = events[rng.random_range(0..events.len())].location;
            let d = rng.random_range(0.0001..0.2);
            f.bbox = Some(Rect::new(
                coord! {x: c.x() - d, y: c.y() - d},
                coord! {x: c.x() + d, y: c.y() + d},
            ));
        }
        let want = events.iter().filter(|e| f.matches(e)).count() as u64;
        hits += want;
        assert_eq!(store.count(&f), want, "{f:?}");
    }
    assert!(hits > 1000);
    assert_eq!(store.count(&EventFilter::at(now())), events.len() as u64);
}

#[test]
fn clusters_and_points_equal_brute_force() {
    let events = sample();
    let store = mixed(events, false);
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    for _ in 0..40 {
        let f = random_filter(&mut rng, events);
        let tile = random_tile(&mut rng, events, 8..=16);
        let rect = WorldRect::of_tile(tile);
        let inside: Vec<&Event> = events
            .iter()
            .filter(|e| f.matches(e))
            .filter(|e| rect.contains(WorldPoint::from_lonlat(e.location.x(), e.location.y())))
            .collect();

        let mut codes: Vec<String> = store
            .points(tile, 0, &f)
            .into_iter()
            .map(|p| p.code)
            .collect();
        codes.sort();
        let mut want: Vec<String> = inside.iter().map(|e| e.code.clone()).collect();
        want.sort();
        assert_eq!(codes, want);

        let clusters = store.clusters(tile, 16, &f).expect("valid binning");
        let mut by_cell: BTreeMap<(u32, u32), ([u32; 7], u64, u64)> = BTreeMap::new();
        let k = 4;
        for e in &inside {
            let (cx, cy) = reference_cell(e, u32::from(tile.z) + k);
            let cell = (
                (cx - (u64::from(tile.x) << k)) as u32,
                (cy - (u64::from(tile.y) << k)) as u32,
            );
            let p = WorldPoint::from_lonlat(e.location.x(), e.location.y());
            let acc = by_cell.entry(cell).or_default();
            acc.0[super::timeliness::status_index(e.status) as usize] += 1;
            acc.1 += u64::from(p.x - rect.x0);
            acc.2 += u64::from(p.y - rect.y0);
        }
        let want: Vec<Cluster> = by_cell
            .into_iter()
            .map(|((cx, cy), (by_status, sx, sy))| {
                let n: u32 = by_status.iter().sum();
                Cluster {
                    cell: (cx, cy),
                    count: n,
                    by_status,
                    center: WorldPoint {
                        x: rect.x0 + (sx / u64::from(n)) as u32,
                        y: rect.y0 + (sy / u64::from(n)) as u32,
                    },
                }
            })
            .collect();
        let mut got = clusters;
        got.sort_by_key(|c| c.cell);
        assert_eq!(got, want);
    }
}

#[test]
fn point_flags_follow_the_deadline_rule() {
    let events = sample();
    let store = loaded(events);
    let f = EventFilter::at(now());
    let by_code: HashMap<&str, &Event> = events.iter().map(|e| (e.code.as_str(), e)).collect();
    let tile = TileId::containing(8, events[0].location.x(), events[0].location.y()).expect("tile");
    let points = store.points(tile, 0, &f);
    assert!(points.len() > 100);
    let mut overdue = 0;
    for p in &points {
        let e = by_code[p.code.as_str()];
        assert_eq!(p.overdue, overdue_at(e, f.now), "{}", p.code);
        assert_eq!(p.card, card_at(e, f.now));
        assert_eq!(
            (p.status, p.category, p.level),
            (e.status, e.category.as_str(), e.level)
        );
        overdue += usize::from(p.overdue);
    }
    assert!(
        overdue > 0,
        "the sample has overdue open events at the anchor"
    );
}

#[test]
fn h3_counts_equal_brute_force() {
    let events = sample();
    let store = mixed(events, false);
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    let mut raw_mismatches = 0;
    let mut total = 0;
    for _ in 0..25 {
        let f = random_filter(&mut rng, events);
        let tile = random_tile(&mut rng, events, 7..=15);
        let res = Resolution::try_from(h3_resolution(tile.z)).expect("resolution");
        let rect = WorldRect::of_tile(tile);
        let mut want: BTreeMap<h3o::CellIndex, u32> = BTreeMap::new();
        let mut raw: BTreeMap<h3o::CellIndex, u32> = BTreeMap::new();
        for e in events.iter().filter(|e| f.matches(e)) {
            let p = WorldPoint::from_lonlat(e.location.x(), e.location.y());
            let cell = h3_cell(p, res).expect("valid position");
            if rect.contains(cell_center(cell)) {
                *want.entry(cell).or_default() += 1;
            }
            let ll = h3o::LatLng::new(e.location.y(), e.location.x()).expect("valid");
            let raw_cell = ll.to_cell(res);
            if rect.contains(cell_center(raw_cell)) {
                *raw.entry(raw_cell).or_default() += 1;
            }
        }
        let got: BTreeMap<h3o::CellIndex, u32> = store.count_in_h3(tile, &f).into_iter().collect();
        total += want.values().sum::<u32>();
        raw_mismatches += raw.iter().filter(|(c, n)| want.get(c) != Some(n)).count();
        assert_eq!(got, want, "{tile:?} {f:?}");
    }
    assert!(total > 1000);
    eprintln!(
        "h3: {total} events binned; cells differing from unquantized positions: {raw_mismatches}"
    );
}

#[test]
fn upsert_moves_an_event_between_statuses_and_places() {
    let events = sample();
    let mut store = loaded(events);
    let open = events
        .iter()
        .find(|e| e.status == EventStatus::Handling)
        .expect("an event being handled");
    let by_status = |store: &EventStore, s: EventStatus| {
        let mut f = EventFilter::at(now());
        f.statuses = vec![s];
        store.count(&f)
    };
    let (handling, closed) = (
        by_status(&store, EventStatus::Handling),
        by_status(&store, EventStatus::Closed),
    );
    let mut changed = open.clone();
    changed.status = EventStatus::Closed;
    changed.closed_at = Some(now());
    let moves = store.upsert(&[&changed]);
    let at = WorldPoint::from_lonlat(open.location.x(), open.location.y());
    assert_eq!(
        moves,
        vec![EventMove {
            code: open.code.clone(),
            old: Some(at),
            new: at
        }]
    );
    assert_eq!(store.len(), events.len());
    assert_eq!(by_status(&store, EventStatus::Handling), handling - 1);
    assert_eq!(by_status(&store, EventStatus::Closed), closed + 1);

    // Moved and changed twice in one batch: the last version wins, the first place is "old".
    let mut moved = changed.clone();
    moved.location = Point::new(open.location.x() + 0.01, open.location.y());
    let mut reopened = moved.clone();
    reopened.status = EventStatus::Feedback;
    let moves = store.upsert(&[&moved, &reopened]);
    let new_at = WorldPoint::from_lonlat(moved.location.x(), moved.location.y());
    assert_eq!(moves[0].old, Some(at));
    assert_eq!(moves[1].old, Some(new_at));
    assert_eq!(store.position(&open.code), Some(new_at));
    assert_eq!(by_status(&store, EventStatus::Closed), closed);
    assert_eq!(store.len(), events.len());

    // A new event with a code off the pattern and a new category.
    let mut fresh = open.clone();
    fresh.code = "HOTLINE-42".to_string();
    fresh.category = "9999".to_string();
    let moves = store.upsert(&[&fresh]);
    assert_eq!(moves[0].old, None);
    assert_eq!(store.len(), events.len() + 1);
    let tile = TileId::containing(18, fresh.location.x(), fresh.location.y()).expect("tile");
    let mut f = EventFilter::at(now());
    f.categories = vec!["9999".to_string()];
    let points = store.points(tile, 0, &f);
    assert_eq!(points.len(), 1);
    assert_eq!(
        (points[0].code.as_str(), points[0].category),
        ("HOTLINE-42", "9999")
    );

    // Compaction keeps everything.
    let before = store.count_in_bins(
        TileId::new(0, 0, 0).expect("tile"),
        64,
        0,
        &EventFilter::at(now()),
    );
    store.compact();
    assert_eq!(store.parts.iter().filter(|p| p.month.is_none()).count(), 0);
    assert!(store.parts.iter().all(|p| p.dead_count == 0));
    assert_eq!(
        store.count_in_bins(
            TileId::new(0, 0, 0).expect("tile"),
            64,
            0,
            &EventFilter::at(now())
        ),
        before
    );
    assert_eq!(store.position(&open.code), Some(new_at));
}

#[test]
fn snapshot_follows_engine_apply() {
    let events = sample();
    let engine = crate::engine::Engine::new(crate::model::Dataset::default());
    engine.load_events(loaded(&events[..1000]));
    let before = engine.snapshot();
    let changes: Vec<Change> = events[1000..1500]
        .iter()
        .cloned()
        .map(Change::UpsertEvent)
        .collect();
    let moves = engine.apply(&changes).events;
    assert_eq!(moves.len(), 500);
    assert!(moves.iter().all(|m| m.old.is_none()));
    assert_eq!(before.events().len(), 1000, "an old snapshot never changes");
    assert_eq!(engine.snapshot().events().len(), 1500);
}

#[test]
fn tails_compact_on_their_own() {
    let events = sample();
    let mut store = EventStore::default();
    for batch in events.chunks(200) {
        let refs: Vec<&Event> = batch.iter().collect();
        store.upsert(&refs);
        let tails = store.parts.iter().filter(|p| p.month.is_none()).count();
        assert!(tails <= TAIL_SEGMENTS);
    }
    assert_eq!(store.len(), events.len());
    assert_eq!(
        latest(events).len(),
        events.len(),
        "sample codes are unique"
    );
}

#[test]
fn a_million_events_fit_in_48_bytes_each_and_a_z12_tile_is_quick() {
    let started = Instant::now();
    let opts = GenerateOptions {
        scale: Scale::Sample,
        seed: 3,
        progress: false,
        events: Some(1_000_000),
        as_of: None,
    };
    let city = generate::city(&opts).expect("sample city");
    let mut loader = EventLoader::default();
    let mut centre = None;
    for chunk in generate::events(&city, &opts) {
        centre.get_or_insert(chunk[0].location);
        loader.push(chunk);
    }
    let generated = started.elapsed();
    let started = Instant::now();
    let store = loader.finish();
    let built = started.elapsed();
    assert_eq!(store.len(), 1_000_000);
    let per_event = store.resident_bytes() as f64 / store.len() as f64;
    eprintln!(
        "1 M events: {per_event:.1} bytes/event; generated in {generated:?}, built in {built:?}"
    );
    assert!(per_event <= 48.0, "{per_event} bytes per event");

    let c = centre.expect("events");
    measure_apply(&store);
    let mut f = EventFilter::at(now());
    f.from = Some(now() - Duration::days(365));
    f.to = Some(now());
    for (z, cells) in [(12u8, 256u32), (8, 256), (12, 64)] {
        let tile = TileId::containing(z, c.x(), c.y()).expect("tile");
        let started = Instant::now();
        let bins = store.count_in_bins(tile, cells, 0, &f).expect("valid");
        let square = started.elapsed();
        let started = Instant::now();
        let hex = store.count_in_h3(tile, &f);
        let h3 = started.elapsed();
        let mut one = f.clone();
        one.categories = vec!["0203".to_string()];
        let started = Instant::now();
        let filtered = store.count_in_bins(tile, cells, 0, &one).expect("valid");
        let category = started.elapsed();
        eprintln!(
            "z{z} {cells}²: {} events in {square:?}; h3 {} cells in {h3:?}; category 0203 {} in {category:?}",
            bins.iter().sum::<u32>(),
            hex.len(),
            filtered.iter().sum::<u32>(),
        );
    }
}

/// Times a batch of 500 status changes on a shared store (as `Engine::apply` does it: the
/// previous snapshot keeps its copy) and a compaction.
fn measure_apply(store: &EventStore) {
    let tile = TileId::new(0, 0, 0).expect("tile");
    let changed: Vec<Event> = store
        .points(tile, 0, &EventFilter::at(now()))
        .into_iter()
        .step_by(1999)
        .take(500)
        .map(|p| {
            let mut e = sample()[0].clone();
            e.code = p.code;
            let (lon, lat) = p.at.to_lonlat();
            e.location = Point::new(lon, lat);
            e.status = EventStatus::Closed;
            e
        })
        .collect();
    let refs: Vec<&Event> = changed.iter().collect();
    let mut next = store.clone();
    let started = Instant::now();
    let moves = next.upsert(&refs);
    let upsert = started.elapsed();
    assert_eq!(moves.iter().filter(|m| m.old.is_some()).count(), 500);
    assert_eq!(next.len(), store.len());
    let started = Instant::now();
    next.compact();
    eprintln!(
        "500 status changes applied in {upsert:?}; compaction after them {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn loads_from_a_geopackage() {
    use crate::store::gpkg::GpkgStore;
    use crate::store::Store;
    let events = &sample()[..3_000];
    let dir = tempfile::tempdir().expect("temp dir");
    let store = GpkgStore::open(&dir.path().join("events.gpkg")).expect("open");
    let changes: Vec<Change> = events.iter().cloned().map(Change::UpsertEvent).collect();
    store.apply(&changes).await.expect("stored");
    let mut loader = EventLoader::default();
    store
        .load_events(&mut |chunk| loader.push(chunk))
        .await
        .expect("loaded");
    let loaded = loader.finish();
    assert_eq!(loaded.len(), events.len());
    for s in EventStatus::ALL {
        let mut f = EventFilter::at(now());
        f.statuses = vec![s];
        let want = events.iter().filter(|e| e.status == s).count() as u64;
        assert_eq!(loaded.count(&f), want, "{s:?}");
    }
    let tile =
        TileId::containing(10, events[0].location.x(), events[0].location.y()).expect("tile");
    let f = EventFilter::at(now());
    assert_eq!(
        loaded.count_in_bins(tile, 64, 0, &f),
        Ok(reference_bins(events, tile, 64, &f))
    );
}

/// The tally of `events` by brute force, with the timeliness rules of `Event`s.
fn reference_tally(events: &[Event], f: &EventFilter) -> EventTally {
    let mut t = EventTally::default();
    for e in events.iter().filter(|e| f.matches(e)) {
        t.total += 1;
        t.by_status[usize::from(timeliness::status_index(e.status))] += 1;
        *t.by_category.entry(e.category.clone()).or_default() += 1;
        if e.status.is_open() {
            t.open += 1;
            t.overdue += u64::from(overdue_at(e, f.now));
        } else {
            t.closed += 1;
            t.closed_on_time += u64::from(card_at(e, f.now) != Card::Red);
        }
    }
    t
}

#[test]
fn tallies_equal_brute_force_whole_and_by_area() {
    let events = sample();
    let store = mixed(events, false);
    let live = latest(events);
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    for _ in 0..40 {
        let f = random_filter(&mut rng, events);
        assert_eq!(store.tally(&f), reference_tally(&live, &f), "{f:?}");
    }
    let empty = store.tally(&EventFilter::at(now()));
    assert_eq!(empty.total, live.len() as u64);
    assert_eq!(
        empty.closure_rate(),
        Some(empty.closed as f64 / empty.total as f64)
    );
    assert_eq!(EventTally::default().on_time_rate(), None);

    let mut districts: Vec<String> = live
        .iter()
        .filter_map(|e| e.area_code.as_deref().map(|a| a[..6].to_string()))
        .collect();
    districts.sort();
    districts.dedup();
    districts.push("4199".into());
    let f = EventFilter::at(now() - Duration::days(20));
    let by_area = store.tally_by_area(&f, &districts);
    for (prefix, tally) in districts.iter().zip(&by_area) {
        let mut one = f.clone();
        one.area_prefixes = vec![prefix.clone()];
        assert_eq!(*tally, reference_tally(&live, &one), "{prefix}");
    }
    assert_eq!(by_area.last().map(|t| t.total), Some(0));
}

#[test]
fn series_count_reports_and_closings_per_bucket() {
    let events = sample();
    let store = mixed(events, true);
    let live = latest(events);
    let start = now() - Duration::days(40);
    let bounds: Vec<DateTime<Utc>> = (0..=10).map(|k| start + Duration::days(3 * k)).collect();
    let f = EventFilter::at(now());
    let bucket_of = |t: DateTime<Utc>| {
        let t = packing::unpack_time(packing::pack_time(t));
        (t >= bounds[0] && t < bounds[10]).then(|| bounds.partition_point(|&b| b <= t) - 1)
    };
    for metric in [SeriesMetric::Reported, SeriesMetric::Closed] {
        let mut want = vec![0u64; 10];
        for e in &live {
            let t = match metric {
                SeriesMetric::Reported => Some(e.reported_at),
                SeriesMetric::Closed => e.closed_at.filter(|_| !e.status.is_open()),
            };
            if let Some(k) = t.and_then(bucket_of) {
                want[k] += 1;
            }
        }
        assert!(want.iter().sum::<u64>() > 100, "{metric:?}");
        assert_eq!(store.series(&f, metric, &bounds), want, "{metric:?}");
    }
    assert!(store
        .series(&f, SeriesMetric::Reported, &bounds[..1])
        .is_empty());
}

/// An event keeps its area code when it (or the boundary) moves: a query for its area must
/// still find it far from where the area's other events lie.
#[test]
fn an_event_far_from_its_area_still_counts_for_it() {
    let events = sample();
    let mut store = loaded(events);
    let e = events
        .iter()
        .find(|e| e.area_code.is_some())
        .expect("an event in an area");
    let area = e.area_code.clone().expect("area");
    let far = events
        .iter()
        .find(|o| o.area_code.as_deref().is_some_and(|a| a[..9] != area[..9]))
        .expect("an event of another street");
    let mut moved = e.clone();
    moved.location = far.location;
    store.upsert(&[&moved]);
    let mut f = EventFilter::at(now());
    f.area_prefixes = vec![area.clone()];
    let live: Vec<Event> = latest(events)
        .into_iter()
        .map(|x| {
            if x.code == moved.code {
                moved.clone()
            } else {
                x
            }
        })
        .collect();
    assert_eq!(store.tally(&f), reference_tally(&live, &f));
    assert_eq!(
        store.count(&f),
        live.iter().filter(|x| f.matches(x)).count() as u64
    );
    f.area_prefixes = vec!["4199".into()];
    assert_eq!(store.count(&f), 0, "an area without events matches nothing");
}

/// Tallies over whole months read the months' summaries: they equal the rows' figures for
/// windows with whole and partial months, with and without areas, and stay right after a
/// month loses rows to an update (its summary is made again).
#[test]
fn month_summaries_equal_the_rows_before_and_after_an_update() {
    let events = sample();
    let mut store = loaded(events);
    let mut live = latest(events);
    let first = live.iter().map(|e| e.reported_at).min().expect("events");
    let windows = [
        (None, None),
        (Some(first + Duration::days(20)), None),
        (None, Some(now() - Duration::days(15))),
    ];
    let area = live
        .iter()
        .find_map(|e| e.area_code.clone())
        .expect("an area");
    let check = |store: &EventStore, live: &[Event]| {
        for (from, to) in windows {
            for prefixes in [vec![], vec![area[..9].to_string()], vec![area.clone()]] {
                let mut f = EventFilter::at(now());
                (f.from, f.to, f.area_prefixes) = (from, to, prefixes.clone());
                assert_eq!(store.tally(&f), reference_tally(live, &f), "{f:?}");
                let by_area = store.tally_by_area(&f, &[area[..6].to_string(), area.clone()]);
                let mut one = f.clone();
                one.area_prefixes = vec![area.clone()];
                if prefixes.is_empty() {
                    assert_eq!(by_area[1], reference_tally(live, &one));
                }
            }
        }
    };
    check(&store, &live);
    let changed: Vec<Event> = live
        .iter()
        .filter(|e| e.status.is_open())
        .take(50)
        .map(|e| Event {
            status: EventStatus::Closed,
            closed_at: Some(now()),
            ..e.clone()
        })
        .collect();
    store.upsert(&changed.iter().collect::<Vec<_>>());
    for c in &changed {
        if let Some(e) = live.iter_mut().find(|e| e.code == c.code) {
            *e = c.clone();
        }
    }
    check(&store, &live);
}
