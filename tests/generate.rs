//! The synthetic city of `gridmap generate --scale sample`: determinism, exact tiling, codes,
//! numbering, buildings, population shares, events and sizes. The city scale is not run here
//! (too slow for CI); `partition` has unit tests on small synthetic partitions instead.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use geo::{
    Area as _, BooleanOps, BoundingRect, Centroid, Contains, InteriorPoint, Intersects, Validation,
};
use geo_types::{Coord, MultiPolygon, Point};
use gridmap::generate::{self, City, GenerateOptions, Scale};
use gridmap::model::{
    validate_code, Area, BuildingUse, Event, EventStatus, HouseUse, Layer, Level,
};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::RTree;

const EXTENT: (f64, f64, f64, f64) = (113.996, 35.445, 114.753, 36.048);

fn opts(seed: u64) -> GenerateOptions {
    GenerateOptions {
        scale: Scale::Sample,
        seed,
        progress: false,
        events: None,
        as_of: None,
    }
}

fn sample() -> &'static City {
    static CITY: OnceLock<City> = OnceLock::new();
    CITY.get_or_init(|| generate::city(&opts(42)).expect("sample city"))
}

fn sample_events() -> &'static Vec<Event> {
    static EVENTS: OnceLock<Vec<Event>> = OnceLock::new();
    EVENTS.get_or_init(|| generate::events(sample(), &opts(42)).flatten().collect())
}

fn in_extent(c: Coord<f64>) -> bool {
    (EXTENT.0..=EXTENT.2).contains(&c.x) && (EXTENT.1..=EXTENT.3).contains(&c.y)
}

fn base_grids(city: &City) -> Vec<&Area> {
    city.dataset
        .areas
        .iter()
        .filter(|a| a.layer == Layer::Base && a.level == Level::Grid)
        .collect()
}

#[test]
fn event_count_override_of_zero_gives_no_events() {
    let o = GenerateOptions {
        events: Some(0),
        ..opts(42)
    };
    let stream = generate::events(sample(), &o);
    assert_eq!(stream.total(), 0);
    assert_eq!(stream.count(), 0);
}

#[test]
fn same_seed_same_city_other_seed_other_city() {
    let again = generate::city(&opts(42)).expect("sample city");
    let a = &sample().dataset;
    let b = &again.dataset;
    assert!(a.areas == b.areas, "areas differ");
    assert!(a.buildings == b.buildings, "buildings differ");
    assert!(a.houses == b.houses, "houses differ");
    assert!(a.population == b.population, "population differs");
    assert!(a.workers == b.workers, "workers differ");
    assert_eq!(sample().basemap, again.basemap);
    let first = generate::events(sample(), &opts(42)).next();
    let second = generate::events(&again, &opts(42)).next();
    assert!(first.is_some() && first == second, "events differ");
    assert_eq!(
        generate::worker_fixes(sample(), &opts(42)),
        generate::worker_fixes(&again, &opts(42))
    );

    let other = generate::city(&opts(43)).expect("sample city");
    assert!(other.dataset.areas != a.areas);
    assert!(other.dataset.buildings != a.buildings);
}

/// Children grouped by (layer, parent code), excluding special grids, which are another layer
/// laid over the base grids and need not tile their community.
fn families(city: &City) -> BTreeMap<(String, String), Vec<&Area>> {
    let mut out: BTreeMap<(String, String), Vec<&Area>> = BTreeMap::new();
    for a in &city.dataset.areas {
        if let (Some(p), false) = (&a.parent_code, a.layer == Layer::Special) {
            out.entry((a.layer.as_str().into_owned(), p.clone()))
                .or_default()
                .push(a);
        }
    }
    out
}

fn parent_geometry<'a>(city: &'a City, layer: &str, code: &str) -> &'a MultiPolygon<f64> {
    // A fire 一级's parent is a base district.
    city.dataset
        .areas
        .iter()
        .find(|a| a.code == code && (a.layer.as_str() == layer || a.level == Level::District))
        .map(|a| &a.geometry)
        .unwrap_or_else(|| panic!("parent {code} of layer {layer} is missing"))
}

#[test]
fn children_tile_their_parents_exactly() {
    let city = sample();
    let mut checked = 0;
    for ((layer, parent), children) in families(city) {
        let parent_geom = parent_geometry(city, &layer, &parent);
        let parent_area = parent_geom.unsigned_area();
        if layer.starts_with("business:") && children[0].level == Level::Street {
            // 一级 fire grids cover the street, not the whole district.
            continue;
        }
        let sum: f64 = children.iter().map(|c| c.geometry.unsigned_area()).sum();
        assert!(
            (sum - parent_area).abs() <= 1e-6 * parent_area,
            "{layer} {parent}: children cover {sum}, parent {parent_area}"
        );
        let tree = RTree::bulk_load(
            children
                .iter()
                .enumerate()
                .filter_map(|(i, c)| {
                    c.geometry.bounding_rect().map(|r| {
                        GeomWithData::new(
                            Rectangle::from_corners(r.min().into(), r.max().into()),
                            i,
                        )
                    })
                })
                .collect::<Vec<GeomWithData<Rectangle<[f64; 2]>, usize>>>(),
        );
        for (a, b) in tree.intersection_candidates_with_other_tree(&tree) {
            if a.data < b.data {
                let overlap = children[a.data]
                    .geometry
                    .intersection(&children[b.data].geometry)
                    .unsigned_area();
                assert!(
                    overlap <= 1e-9 * parent_area,
                    "{} overlaps {} by {overlap}",
                    children[a.data].code,
                    children[b.data].code
                );
            }
        }
        checked += 1;
    }
    assert!(checked > 100, "only {checked} families checked");
}

#[test]
fn neighbouring_grids_share_identical_vertices() {
    // Every vertex of a grid that lies on another grid's boundary is a vertex of that grid too.
    let grids = base_grids(sample());
    let vertices: BTreeSet<(u64, u64)> = grids
        .iter()
        .flat_map(|g| {
            g.geometry.0[0]
                .exterior()
                .coords()
                .map(|c| (c.x.to_bits(), c.y.to_bits()))
        })
        .collect();
    let tree = RTree::bulk_load(
        grids
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                c.geometry.bounding_rect().map(|r| {
                    GeomWithData::new(Rectangle::from_corners(r.min().into(), r.max().into()), i)
                })
            })
            .collect::<Vec<GeomWithData<Rectangle<[f64; 2]>, usize>>>(),
    );
    let mut shared = 0;
    for (a, b) in tree.intersection_candidates_with_other_tree(&tree) {
        if a.data == b.data {
            continue;
        }
        let ring_b = grids[b.data].geometry.0[0].exterior();
        let own_b: BTreeSet<(u64, u64)> = ring_b
            .coords()
            .map(|c| (c.x.to_bits(), c.y.to_bits()))
            .collect();
        for c in grids[a.data].geometry.0[0].exterior().coords() {
            let on_b = ring_b.lines().any(|l| {
                let cross = (l.end.x - l.start.x) * (c.y - l.start.y)
                    - (l.end.y - l.start.y) * (c.x - l.start.x);
                let within = (c.x - l.start.x) * (c.x - l.end.x)
                    + (c.y - l.start.y) * (c.y - l.end.y)
                    <= 0.0;
                within && cross.abs() < 1e-15
            });
            if on_b {
                shared += 1;
                assert!(
                    own_b.contains(&(c.x.to_bits(), c.y.to_bits())),
                    "T-junction at {c:?}"
                );
            }
        }
    }
    assert!(
        shared > 1000 && vertices.len() > 500,
        "{shared} shared of {} vertices",
        vertices.len()
    );
}

#[test]
fn every_area_is_valid_complete_and_in_hebi() {
    for a in &sample().dataset.areas {
        assert!(
            a.geometry.is_valid(),
            "{}: {:?}",
            a.code,
            a.geometry.validation_errors()
        );
        assert!(
            a.geometry.coords_iter_all().into_iter().all(in_extent),
            "{} leaves Hebi",
            a.code
        );
        let center = a
            .center
            .unwrap_or_else(|| panic!("{} has no centre", a.code));
        assert!(a.geometry.intersects(&center), "{}: centre outside", a.code);
        assert!(!a.name.is_empty(), "{}", a.code);
        assert!(a.leader_name.is_some() && a.leader_photo_url.is_some() && a.valid_from.is_some());
        let phone = a.leader_phone.as_deref().unwrap_or("");
        assert!(phone.len() == 11 && phone.starts_with('1'), "{phone}");
        if a.layer == Layer::Base && a.level >= Level::Community {
            let class = a.urban_rural.unwrap_or(0);
            assert!(
                [111, 112, 121, 122, 123, 210, 220].contains(&class),
                "{}: {class}",
                a.code
            );
        }
    }
}

trait AllCoords {
    fn coords_iter_all(&self) -> Vec<Coord<f64>>;
}

impl AllCoords for MultiPolygon<f64> {
    fn coords_iter_all(&self) -> Vec<Coord<f64>> {
        self.0
            .iter()
            .flat_map(|p| {
                p.exterior()
                    .coords()
                    .chain(p.interiors().iter().flat_map(|r| r.coords()))
            })
            .copied()
            .collect()
    }
}

#[test]
fn codes_are_well_formed_and_extend_their_parents() {
    let city = sample();
    let by_code: BTreeMap<(String, &str), &Area> = city
        .dataset
        .areas
        .iter()
        .map(|a| ((a.layer.as_str().into_owned(), a.code.as_str()), a))
        .collect();
    assert_eq!(by_code.len(), city.dataset.areas.len(), "duplicate codes");
    let names = ["410602", "410603", "410611", "410621", "410622", "410671"];
    for d in names {
        assert!(
            by_code.contains_key(&("base".to_string(), d)),
            "district {d}"
        );
    }
    assert_eq!(
        city.dataset
            .areas
            .iter()
            .filter(|a| a.level == Level::Street && a.layer == Layer::Base)
            .count(),
        48
    );
    for a in &city.dataset.areas {
        validate_code(&a.code).unwrap_or_else(|e| panic!("{e}"));
        let Some(parent) = &a.parent_code else {
            assert_eq!((a.code.as_str(), a.level), ("410600", Level::City));
            continue;
        };
        let expected_len = match (&a.layer, a.level) {
            (Layer::Base, Level::District) => {
                assert!(a.code.starts_with("4106"));
                continue;
            }
            (Layer::Base, level) => level.base_code_len(),
            (Layer::Special, _) => parent.len() + 3,
            (Layer::Business(_), Level::Street) => {
                assert!(a.code.starts_with(parent.as_str()));
                12
            }
            (Layer::Business(_), _) => parent.len() + 2,
        };
        assert!(
            a.code.starts_with(parent.as_str()),
            "{} does not extend {parent}",
            a.code
        );
        assert_eq!(a.code.len(), expected_len, "{}", a.code);
        match &a.layer {
            Layer::Special => {
                assert!(a.code[parent.len()..].starts_with('S') && a.level == Level::Grid)
            }
            Layer::Business(name) => {
                assert_eq!(name, "fire");
                assert!(a.code[9..].starts_with('F'));
            }
            Layer::Base => {}
        }
    }
}

#[test]
fn communities_and_villages_use_the_statistics_ranges() {
    for a in sample()
        .dataset
        .areas
        .iter()
        .filter(|a| a.layer == Layer::Base && a.level == Level::Community)
    {
        let n: u32 = a.code[9..].parse().expect("digits");
        if a.name.ends_with('村') {
            assert!((200..400).contains(&n), "{} {}", a.code, a.name);
        } else {
            assert!(
                a.name.ends_with("社区") && (1..200).contains(&n),
                "{} {}",
                a.code,
                a.name
            );
        }
    }
}

#[test]
fn grids_are_numbered_west_to_east_then_north_to_south() {
    // The rule of `generate::base::reading_order`: k = ceil(sqrt(n)) bands of equal height over
    // the parent's bounding box, bands north to south, west to east within a band.
    let city = sample();
    for ((layer, parent), children) in families(city) {
        let level = children[0].level;
        if layer != "base" || !matches!(level, Level::Grid | Level::Microgrid) {
            continue;
        }
        let rect = parent_geometry(city, &layer, &parent)
            .bounding_rect()
            .expect("non-empty");
        let k = (children.len() as f64).sqrt().ceil() as usize;
        let key = |a: &Area| {
            let c = a.geometry.centroid().expect("non-empty").0;
            let band = (((rect.max().y - c.y) / rect.height() * k as f64)
                .floor()
                .max(0.0) as usize)
                .min(k - 1);
            (band, c.x)
        };
        let mut sorted = children.clone();
        sorted.sort_by(|a, b| a.code.cmp(&b.code));
        for pair in sorted.windows(2) {
            let (ka, kb) = (key(pair[0]), key(pair[1]));
            assert!(
                ka.0 < kb.0 || (ka.0 == kb.0 && ka.1 <= kb.1),
                "{} before {}",
                pair[0].code,
                pair[1].code
            );
        }
        let first = sorted[0].code.len() - if level == Level::Grid { 3 } else { 2 };
        for (i, a) in sorted.iter().enumerate() {
            assert_eq!(
                a.code[first..].parse::<usize>().ok(),
                Some(i + 1),
                "{} is not numbered 1…",
                a.code
            );
        }
    }
}

#[test]
fn buildings_lie_inside_their_grid() {
    let city = sample();
    let grids: BTreeMap<&str, &Area> = base_grids(city)
        .into_iter()
        .map(|g| (g.code.as_str(), g))
        .collect();
    let mut codes = BTreeSet::new();
    for b in &city.dataset.buildings {
        assert!(codes.insert(&b.code), "duplicate {}", b.code);
        assert_eq!(b.code.len(), 17);
        assert!(b.geometry.is_valid(), "{}", b.code);
        assert!(b.geometry.exterior().coords().all(|&c| in_extent(c)));
        let grid_code = b.grid_code.as_deref().expect("grid code");
        assert_eq!(
            &grid_code[..12],
            &b.code[..12],
            "{} is not in its grid's community",
            b.code
        );
        let grid = grids
            .get(grid_code)
            .unwrap_or_else(|| panic!("{grid_code} is not a grid"));
        let interior: Point<f64> = b.geometry.interior_point().expect("non-empty");
        assert!(
            grid.geometry.contains(&interior),
            "{}: interior point outside {grid_code}",
            b.code
        );
        assert!(
            grid.geometry.contains(&b.geometry),
            "{}: footprint crosses {grid_code}",
            b.code
        );
        let residential = matches!(
            b.building_use,
            BuildingUse::Residential | BuildingUse::Mixed
        );
        let expected_floors = match (residential, &b.compound) {
            (true, None) => 1..=3,
            (true, Some(_)) => 5..=33,
            (false, _) => 1..=12,
        };
        assert!(
            expected_floors.contains(&b.floors),
            "{}: {} floors",
            b.code,
            b.floors
        );
        assert!((b.height_m - b.floors as f64 * 3.0).abs() <= 1.5);
    }
}

#[test]
fn sample_sizes_are_in_range() {
    let d = &sample().dataset;
    let grids = base_grids(sample()).len();
    assert!((300..=600).contains(&grids), "{grids} grids");
    assert!(
        (3_000..=8_000).contains(&d.buildings.len()),
        "{} buildings",
        d.buildings.len()
    );
    let events = sample_events().len();
    assert!((20_000..=50_000).contains(&events), "{events} events");
    assert!(
        d.areas.iter().any(|a| a.level == Level::Microgrid),
        "no micro-grids"
    );
    assert!(d.areas.iter().filter(|a| a.layer == Layer::Special).count() >= 20);
    assert!(d.workers.len() >= grids);
    let fixes = generate::worker_fixes(sample(), &opts(42));
    assert_eq!(fixes.len(), 50 * 100);
}

#[test]
fn grids_follow_the_household_rule() {
    let d = &sample().dataset;
    let building_grid: BTreeMap<&str, &str> = d
        .buildings
        .iter()
        .filter_map(|b| Some((b.code.as_str(), b.grid_code.as_deref()?)))
        .collect();
    let mut households: BTreeMap<&str, i64> = BTreeMap::new();
    for h in &d.houses {
        *households
            .entry(building_grid[h.building_code.as_str()])
            .or_default() += 1;
    }
    let urban: Vec<i64> = base_grids(sample())
        .iter()
        .filter(|g| g.urban_rural.is_some_and(|c| c < 200))
        .map(|g| households.get(g.code.as_str()).copied().unwrap_or(0))
        .collect();
    let within = urban.iter().filter(|&&h| (200..=650).contains(&h)).count();
    assert!(
        within as f64 >= 0.9 * urban.len() as f64,
        "{within} of {} urban grids",
        urban.len()
    );
}

#[test]
fn population_shares_are_realistic() {
    let d = &sample().dataset;
    let n = d.houses.len() as f64;
    let share = |u: HouseUse| d.houses.iter().filter(|h| h.house_use == u).count() as f64 / n;
    assert!(
        (0.65..0.85).contains(&share(HouseUse::OwnerOccupied)),
        "owner {}",
        share(HouseUse::OwnerOccupied)
    );
    assert!(
        (0.08..0.22).contains(&share(HouseUse::Rented)),
        "rented {}",
        share(HouseUse::Rented)
    );
    assert!(
        (0.04..0.14).contains(&share(HouseUse::Vacant)),
        "vacant {}",
        share(HouseUse::Vacant)
    );
    assert!(
        (0.005..0.05).contains(&share(HouseUse::Business)),
        "business {}",
        share(HouseUse::Business)
    );
    let households: i64 = d.houses.iter().map(|h| h.households as i64).sum();
    let residents: i64 = d.population.iter().map(|p| p.counts.residents()).sum();
    let sum = |f: fn(&gridmap::model::Population) -> i32| {
        d.population.iter().map(|p| f(p) as i64).sum::<i64>() as f64
    };
    let r = residents as f64;
    assert!(
        (2.5..2.9).contains(&(r / households as f64)),
        "{} per household",
        r / households as f64
    );
    assert!((0.10..0.22).contains(&(sum(|p| p.counts.floating) / r)));
    assert!((0.0002..0.003).contains(&(sum(|p| p.counts.overseas) / r)));
    assert!((0.015..0.045).contains(&(sum(|p| p.counts.care.elderly_alone) / households as f64)));
    assert!((0.045..0.075).contains(&(sum(|p| p.counts.care.disabled) / r)));
    assert!((0.055..0.085).contains(&(sum(|p| p.counts.care.party_members) / r)));
    assert!(sum(|p| p.counts.care.drug_users) / r < 0.002);
    assert!(sum(|p| p.counts.care.left_behind_children) > 0.0);
    let houses: BTreeSet<&str> = d.houses.iter().map(|h| h.code.as_str()).collect();
    assert!(d
        .population
        .iter()
        .all(|p| houses.contains(p.house_code.as_str())));
}

#[test]
fn events_are_placed_timed_and_tracked() {
    let city = sample();
    let events = sample_events();
    let grids: BTreeMap<&str, &Area> = base_grids(city)
        .into_iter()
        .map(|g| (g.code.as_str(), g))
        .collect();
    let anchor = generate::events::fixed_as_of();
    let outside = events.iter().filter(|e| e.outside_grid).count() as f64 / events.len() as f64;
    assert!(
        (0.0005..0.005).contains(&outside),
        "outside share {outside}"
    );
    let mut codes = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for w in events.windows(2) {
        assert!(w[0].reported_at <= w[1].reported_at, "not oldest first");
    }
    for e in events {
        assert!(
            codes.insert(e.code.as_str()) && ids.insert(e.external_id.as_deref()),
            "duplicate {}",
            e.code
        );
        assert!(e.reported_at < anchor && e.reported_at >= anchor - chrono::Duration::days(91));
        assert_eq!(e.outside_grid, e.area_code.is_none());
        match e.area_code.as_deref() {
            Some(code) => {
                let grid = grids
                    .get(code)
                    .unwrap_or_else(|| panic!("{code} is not a grid"));
                assert!(grid.geometry.intersects(&e.location));
            }
            None => assert!(grids.values().all(|g| !g.geometry.intersects(&e.location))),
        }
        assert_eq!(
            e.transitions.first().map(|t| t.to),
            Some(EventStatus::Reported)
        );
        assert_eq!(e.transitions.last().map(|t| t.to), Some(e.status));
        assert!(e
            .transitions
            .iter()
            .all(|t| t.at <= anchor && t.at >= e.reported_at));
        assert_eq!(e.closed_at.is_some(), e.status >= EventStatus::Closed);
        assert_eq!(e.evaluation.is_some(), e.status == EventStatus::Evaluated);
        assert_eq!(e.category.len(), 4);
    }
    let old: Vec<&Event> = events
        .iter()
        .filter(|e| e.reported_at < anchor - chrono::Duration::days(30))
        .collect();
    let old_closed = old
        .iter()
        .filter(|e| e.status >= EventStatus::Closed)
        .count() as f64
        / old.len() as f64;
    assert!(old_closed > 0.95, "{old_closed}");
    let recent = events
        .iter()
        .filter(|e| e.reported_at > anchor - chrono::Duration::hours(12));
    assert!(recent.filter(|e| e.status < EventStatus::Closed).count() > 10);
    let overdue = events
        .iter()
        .filter(|e| match (e.deadline, e.closed_at) {
            (Some(d), Some(c)) => c > d,
            (Some(d), None) => d < anchor,
            _ => false,
        })
        .count() as f64
        / events.len() as f64;
    assert!((0.05..0.35).contains(&overdue), "overdue {overdue}");
}

#[test]
fn event_deadlines_come_from_the_servers_table() {
    let deadlines = gridmap::model::deadline_hours::Deadlines::builtin();
    let mut levels = BTreeSet::new();
    for e in sample_events() {
        assert_eq!(
            e.deadline,
            Some(deadlines.deadline(&e.category, e.level, e.reported_at)),
            "{} ({} at {})",
            e.code,
            e.category,
            e.level.as_str()
        );
        levels.insert(e.level);
    }
    assert!(
        levels.len() > 1,
        "the sample has events above the community"
    );
}

#[test]
fn events_follow_the_daily_and_weekly_rhythm() {
    use chrono::{Datelike, Timelike};
    let events = sample_events();
    let beijing = chrono::FixedOffset::east_opt(8 * 3600).expect("offset");
    let mut hours = [0usize; 24];
    let (mut weekday, mut weekend) = (0usize, 0usize);
    for e in events {
        let local = e.reported_at.with_timezone(&beijing);
        hours[local.hour() as usize] += 1;
        match local.weekday() {
            chrono::Weekday::Sat | chrono::Weekday::Sun => weekend += 1,
            _ => weekday += 1,
        }
    }
    assert!(
        hours[10] > 3 * hours[13] / 2 && hours[16] > 3 * hours[13] / 2 && hours[3] * 10 < hours[10]
    );
    assert!((weekend as f64 / 2.0) < 0.85 * (weekday as f64 / 5.0));
}

#[test]
fn fixes_stay_in_their_workers_grid() {
    let city = sample();
    let grids: BTreeMap<String, &Area> = base_grids(city)
        .into_iter()
        .map(|g| (format!("W{}01", g.code), g))
        .collect();
    let workers: BTreeSet<&str> = city
        .dataset
        .workers
        .iter()
        .map(|w| w.code.as_str())
        .collect();
    for f in generate::worker_fixes(city, &opts(42)) {
        assert!(workers.contains(f.worker_code.as_str()));
        assert!(
            grids[&f.worker_code].geometry.contains(&f.position),
            "{} left its grid",
            f.worker_code
        );
        assert_eq!(f.source_crs, "wgs84");
    }
}

#[tokio::test]
async fn generate_into_a_geopackage_stores_what_it_reports() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store =
        gridmap::store::gpkg::GpkgStore::open(&dir.path().join("city.gpkg")).expect("open gpkg");
    let o = GenerateOptions {
        events: Some(3_000),
        ..opts(7)
    };
    let summary = generate::generate_into(&store, &o).await.expect("generate");
    let counts = gridmap::store::Store::counts(&store).await.expect("counts");
    assert_eq!(counts.areas, summary.areas);
    assert_eq!(counts.buildings, summary.buildings);
    assert_eq!(counts.houses, summary.houses);
    assert_eq!(counts.population, summary.population_rows);
    assert_eq!(counts.events, summary.events);
    assert_eq!(summary.events, 3_000);
    assert_eq!(counts.workers, summary.workers);
    assert_eq!(counts.worker_fixes, summary.worker_fixes);
}
