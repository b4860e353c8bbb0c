//! Engine tests on a hand-made city small enough to check by eye:
//!
//! ```text
//! 35.8 +---------+---------+-------------------+
//!      | G001    | G002    |                   |
//!      | (S01)   |         |      G2-001       |
//! 35.7 +---------+---------+   (community 002) |
//!      | G003    | G004    |                   |
//!      |  fire F01 covers the south half       |
//! 35.6 +---------+---------+-------------------+
//!    114.0     114.1     114.2               114.4
//! ```
//! Grids G001–G004 form community 410611001001, G2-001 is community 410611001002; both are in
//! street 410611001, district 410611, city 410600.

use geo_types::{coord, polygon, MultiPolygon, Polygon, Rect};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::model::{
    Area, Building, CareCounts, House, HouseUse, Layer, Level, Population, PopulationCounts,
    Worker, WorkerRole,
};

const CITY: &str = "410600";
const DISTRICT: &str = "410611";
const STREET: &str = "410611001";
const COMMUNITY_1: &str = "410611001001";
const COMMUNITY_2: &str = "410611001002";
const G001: &str = "410611001001001";
const G002: &str = "410611001001002";
const G003: &str = "410611001001003";
const G004: &str = "410611001001004";
const G2_001: &str = "410611001002001";
const MICRO: &str = "41061100100100101";
const SCHOOL: &str = "410611001001S01";
const FIRE: &str = "410611001F01";
const PARK: &str = "410611001001S02";

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Polygon<f64> {
    polygon![(x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1), (x: x0, y: y1)]
}

fn area(
    code: &str,
    layer: Layer,
    level: Level,
    parent: Option<&str>,
    polygons: Vec<Polygon<f64>>,
) -> Area {
    Area {
        code: code.into(),
        layer,
        level,
        name: format!("area {code}"),
        parent_code: parent.map(Into::into),
        geometry: MultiPolygon(polygons),
        center: None,
        leader_name: None,
        leader_phone: None,
        leader_photo_url: None,
        urban_rural: Some(111),
        valid_from: None,
        valid_to: None,
    }
}

fn base(code: &str, level: Level, parent: Option<&str>, r: Polygon<f64>) -> Area {
    area(code, Layer::Base, level, parent, vec![r])
}

fn areas() -> Vec<Area> {
    let whole = rect(114.0, 35.6, 114.4, 35.8);
    let park_hole = rect(114.16, 35.76, 114.18, 35.78).exterior().clone();
    vec![
        base(CITY, Level::City, None, whole.clone()),
        base(DISTRICT, Level::District, Some(CITY), whole.clone()),
        base(STREET, Level::Street, Some(DISTRICT), whole),
        base(
            COMMUNITY_1,
            Level::Community,
            Some(STREET),
            rect(114.0, 35.6, 114.2, 35.8),
        ),
        base(
            COMMUNITY_2,
            Level::Community,
            Some(STREET),
            rect(114.2, 35.6, 114.4, 35.8),
        ),
        base(
            G001,
            Level::Grid,
            Some(COMMUNITY_1),
            rect(114.0, 35.7, 114.1, 35.8),
        ),
        base(
            G002,
            Level::Grid,
            Some(COMMUNITY_1),
            rect(114.1, 35.7, 114.2, 35.8),
        ),
        base(
            G003,
            Level::Grid,
            Some(COMMUNITY_1),
            rect(114.0, 35.6, 114.1, 35.7),
        ),
        base(
            G004,
            Level::Grid,
            Some(COMMUNITY_1),
            rect(114.1, 35.6, 114.2, 35.7),
        ),
        base(
            G2_001,
            Level::Grid,
            Some(COMMUNITY_2),
            rect(114.2, 35.6, 114.4, 35.8),
        ),
        base(
            MICRO,
            Level::Microgrid,
            Some(G001),
            rect(114.0, 35.75, 114.05, 35.8),
        ),
        area(
            SCHOOL,
            Layer::Special,
            Level::Grid,
            Some(COMMUNITY_1),
            vec![rect(114.02, 35.72, 114.04, 35.74)],
        ),
        area(
            PARK,
            Layer::Special,
            Level::Grid,
            Some(COMMUNITY_1),
            vec![
                Polygon::new(
                    rect(114.11, 35.75, 114.19, 35.79).exterior().clone(),
                    vec![park_hole],
                ),
                rect(114.3, 35.61, 114.32, 35.63),
            ],
        ),
        area(
            FIRE,
            Layer::Business("fire".into()),
            Level::Community,
            None,
            vec![rect(114.0, 35.6, 114.4, 35.7)],
        ),
    ]
}

/// A small square building centred at (x, y).
fn building(code: &str, x: f64, y: f64) -> Building {
    Building::square(code, x - 0.001, y - 0.001, 0.002)
}

fn house(code: &str, building: &str, households: i16) -> House {
    House {
        code: code.into(),
        building_code: building.into(),
        unit: 1,
        floor: 1,
        room: "01".into(),
        house_use: HouseUse::OwnerOccupied,
        households,
    }
}

fn people(house: &str, registered: i32, floating: i32, elderly: i32) -> Population {
    Population {
        house_code: house.into(),
        counts: PopulationCounts {
            registered,
            floating,
            overseas: 0,
            care: CareCounts {
                elderly_alone: elderly,
                ..CareCounts::default()
            },
        },
    }
}

/// Buildings: B1 in G001 (in the school), B2 in G002 (in the park), B3 in G003, B4 in G004,
/// B5 in G2-001, B6 in G2-001 inside the park's second part.
fn dataset() -> Dataset {
    let buildings = vec![
        building("41061100100100001", 114.03, 35.73),
        building("41061100100100002", 114.12, 35.755),
        building("41061100100100003", 114.05, 35.65),
        building("41061100100100004", 114.15, 35.65),
        building("41061100100200001", 114.3, 35.75),
        building("41061100100200002", 114.31, 35.62),
    ];
    let mut houses = Vec::new();
    let mut population = Vec::new();
    for (i, b) in buildings.iter().enumerate() {
        for h in 0..=i {
            let code = format!("{}01{:03}01", b.code, h + 1);
            houses.push(house(&code, &b.code, 1));
            population.push(people(&code, 2, 1, (h % 2) as i32));
        }
    }
    let workers = vec![Worker {
        code: "W001".into(),
        name: "worker".into(),
        phone: None,
        role: WorkerRole::GridWorker,
        home_code: G001.into(),
        device: None,
    }];
    Dataset {
        areas: areas(),
        buildings,
        houses,
        population,
        workers,
        basemap: Vec::new(),
    }
}

fn codes(areas: &[&Area]) -> Vec<String> {
    areas.iter().map(|a| a.code.clone()).collect()
}

fn grid(engine: &Engine, x: f64, y: f64) -> Option<String> {
    engine.snapshot().grid_at(x, y).map(|a| a.code.clone())
}

#[test]
fn empty_dataset() {
    let engine = Engine::new(Dataset::default());
    let s = engine.snapshot();
    assert!(s.lookup(114.1, 35.7).is_empty());
    assert!(s.grid_at(114.1, 35.7).is_none());
    assert!(s.containing(114.1, 35.7).is_empty());
    assert!(s.rollup(CITY).is_none());
    assert!(s.children(CITY).is_empty());
    assert!(s.area(CITY).is_none());
    assert!(s.building("x").is_none());
    let everything = Rect::new(coord! {x: -180.0, y: -90.0}, coord! {x: 180.0, y: 90.0});
    assert!(s.areas_in_bbox(everything).is_empty());
    assert!(s.buildings_in_bbox(everything).is_empty());
    assert_eq!(s.sizes(), Sizes::default());
    engine.apply(&[]);
    engine.apply(&[
        Change::DeleteArea(CITY.into()),
        Change::DeleteBuilding("x".into()),
        Change::DeleteHouse("h".into()),
    ]);
    assert_eq!(engine.snapshot().sizes(), Sizes::default());
}

#[test]
fn shared_borders_go_to_the_lowest_code() {
    let engine = Engine::new(dataset());
    assert_eq!(
        grid(&engine, 114.1, 35.8).as_deref(),
        Some(G001),
        "top vertex of 2 grids"
    );
    assert_eq!(
        grid(&engine, 114.1, 35.75).as_deref(),
        Some(G001),
        "edge of G001|G002"
    );
    assert_eq!(
        grid(&engine, 114.15, 35.7).as_deref(),
        Some(G002),
        "edge of G002/G004"
    );
    assert_eq!(
        grid(&engine, 114.2, 35.7).as_deref(),
        Some(G002),
        "vertex of 3 grids"
    );
    assert_eq!(
        grid(&engine, 114.1, 35.7).as_deref(),
        Some(G001),
        "vertex of 4 grids"
    );
    assert_eq!(
        grid(&engine, 114.1, 35.65).as_deref(),
        Some(G003),
        "edge of G003|G004"
    );
    assert_eq!(
        grid(&engine, 114.2, 35.65).as_deref(),
        Some(G004),
        "edge across communities"
    );
    let chain = engine
        .snapshot()
        .lookup(114.2, 35.65)
        .iter()
        .map(|a| a.code.clone())
        .collect::<Vec<_>>();
    assert_eq!(chain, [G004, COMMUNITY_1, STREET, DISTRICT, CITY]);
}

#[test]
fn outer_border_and_outside() {
    let engine = Engine::new(dataset());
    let s = engine.snapshot();
    assert_eq!(
        codes(&s.lookup(114.0, 35.65)),
        [G003, COMMUNITY_1, STREET, DISTRICT, CITY]
    );
    assert_eq!(
        codes(&s.lookup(114.4, 35.8)),
        [G2_001, COMMUNITY_2, STREET, DISTRICT, CITY]
    );
    assert_eq!(
        codes(&s.lookup(114.0, 35.8)),
        [MICRO, G001, COMMUNITY_1, STREET, DISTRICT, CITY]
    );
    for (x, y) in [
        (113.99, 35.7),
        (114.41, 35.7),
        (114.2, 35.5999),
        (114.2, 35.80001),
        (0.0, 0.0),
    ] {
        assert!(s.lookup(x, y).is_empty(), "({x}, {y})");
        assert!(s.grid_at(x, y).is_none());
        assert!(s.containing(x, y).is_empty());
    }
    assert!(s.lookup(f64::NAN, 35.7).is_empty());
}

#[test]
fn holes_and_multipolygons() {
    let engine = Engine::new(dataset());
    let s = engine.snapshot();
    let in_hole = codes(&s.containing(114.17, 35.77));
    assert!(!in_hole.contains(&PARK.to_string()), "{in_hole:?}");
    assert!(in_hole.contains(&G002.to_string()));
    assert!(
        codes(&s.containing(114.16, 35.77)).contains(&PARK.to_string()),
        "hole ring is boundary"
    );
    assert!(codes(&s.containing(114.155, 35.77)).contains(&PARK.to_string()));
    assert!(
        codes(&s.containing(114.31, 35.62)).contains(&PARK.to_string()),
        "second part"
    );
    assert!(!codes(&s.containing(114.25, 35.62)).contains(&PARK.to_string()));
}

#[test]
fn containing_is_sorted_by_layer_then_level() {
    let engine = Engine::new(dataset());
    let s = engine.snapshot();
    assert_eq!(
        codes(&s.containing(114.03, 35.73)),
        [CITY, DISTRICT, STREET, COMMUNITY_1, G001, SCHOOL]
    );
    assert_eq!(
        codes(&s.containing(114.05, 35.65)),
        [CITY, DISTRICT, STREET, COMMUNITY_1, G003, FIRE]
    );
}

#[test]
fn chains_are_consistent() {
    let engine = Engine::new(dataset());
    let s = engine.snapshot();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let on_lines = [114.0, 114.1, 114.2, 114.4, 35.6, 35.7, 35.8];
    for i in 0..5000 {
        let mut x = rng.random_range(113.95..114.45);
        let mut y = rng.random_range(35.55..35.85);
        if i % 3 == 0 {
            x = on_lines[rng.random_range(0..4)];
        }
        if i % 5 == 0 {
            y = on_lines[rng.random_range(4..7)];
        }
        let chain = s.lookup(x, y);
        for pair in chain.windows(2) {
            assert_eq!(
                pair[0].parent_code.as_deref(),
                Some(pair[1].code.as_str()),
                "({x}, {y})"
            );
        }
        if let Some(top) = chain.last() {
            assert_eq!(top.code, CITY);
        }
        assert_eq!(
            s.grid_at(x, y).map(|g| &g.code),
            chain
                .iter()
                .find(|a| a.level == Level::Grid)
                .map(|a| &a.code)
        );
    }
}

#[test]
fn areas_children_and_boxes() {
    let engine = Engine::new(dataset());
    let s = engine.snapshot();
    assert_eq!(
        codes(&s.children(COMMUNITY_1)),
        [G001, G002, G003, G004, SCHOOL, PARK]
    );
    assert_eq!(codes(&s.children(G001)), [MICRO]);
    assert!(s.children(G004).is_empty());
    let b = Rect::new(coord! {x: 114.25, y: 35.61}, coord! {x: 114.26, y: 35.62});
    assert_eq!(
        codes(&s.areas_in_bbox(b)),
        [CITY, DISTRICT, STREET, COMMUNITY_2, G2_001, PARK, FIRE]
    );
    let b = Rect::new(coord! {x: 114.0, y: 35.6}, coord! {x: 114.2, y: 35.8});
    let found: Vec<&str> = s
        .buildings_in_bbox(b)
        .iter()
        .map(|b| b.code.as_str())
        .collect();
    assert_eq!(
        found,
        [
            "41061100100100001",
            "41061100100100002",
            "41061100100100003",
            "41061100100100004"
        ]
    );
    assert_eq!(
        s.sizes(),
        Sizes {
            areas: 14,
            grids: 5,
            buildings: 6,
            houses: 21,
            population_rows: 21,
            workers: 1
        }
    );
}

#[test]
fn buildings_get_grid_codes_from_their_interior_point() {
    let mut data = dataset();
    data.buildings[0].grid_code = Some(G004.into());
    let engine = Engine::new(data);
    let s = engine.snapshot();
    assert_eq!(
        s.building("41061100100100001")
            .and_then(|b| b.grid_code.as_deref()),
        Some(G004),
        "kept"
    );
    assert_eq!(
        s.building("41061100100100002")
            .and_then(|b| b.grid_code.as_deref()),
        Some(G002),
        "assigned"
    );
    assert_eq!(
        s.building("41061100100200001")
            .and_then(|b| b.grid_code.as_deref()),
        Some(G2_001)
    );
}

/// Checks that every base area's rollup is the sum of its base children's (where it has any).
fn assert_base_rollups_add_up(s: &Snapshot) {
    for code in [CITY, DISTRICT, STREET, COMMUNITY_1, COMMUNITY_2] {
        let parent = s.rollup(code).unwrap_or_default();
        let children: Vec<Rollup> = s
            .children(code)
            .iter()
            .filter(|c| c.layer == Layer::Base)
            .filter_map(|c| s.rollup(&c.code))
            .collect();
        assert_eq!(
            parent.buildings,
            children.iter().map(|c| c.buildings).sum::<u64>(),
            "{code}"
        );
        assert_eq!(
            parent.residents,
            children.iter().map(|c| c.residents).sum::<i64>(),
            "{code}"
        );
        assert_eq!(
            parent.care.elderly_alone,
            children.iter().map(|c| c.care.elderly_alone).sum::<i64>(),
            "{code}"
        );
    }
}

#[test]
fn rollups_add_up_across_levels() {
    let engine = Engine::new(dataset());
    let s = engine.snapshot();
    let city = s.rollup(CITY).unwrap_or_default();
    assert_eq!(
        (
            city.buildings,
            city.houses,
            city.households,
            city.registered,
            city.floating,
            city.residents
        ),
        (6, 21, 21, 42, 21, 63)
    );
    assert_eq!(city.care.elderly_alone, 9);
    let g2 = s.rollup(G2_001).unwrap_or_default();
    assert_eq!((g2.buildings, g2.houses), (2, 11));
    assert_eq!(s.rollup(G004).map(|r| r.houses), Some(4));
    assert_eq!(
        s.rollup(MICRO),
        Some(Rollup::default()),
        "a micro-grid code no grid code starts with"
    );
    assert_eq!(
        s.rollup(SCHOOL).map(|r| (r.buildings, r.houses)),
        Some((1, 1))
    );
    assert_eq!(
        s.rollup(PARK).map(|r| (r.buildings, r.houses)),
        Some((2, 8)),
        "B2 in part one, B6 in part two"
    );
    assert_eq!(
        s.rollup(FIRE).map(|r| (r.buildings, r.houses)),
        Some((3, 13)),
        "B3, B4, B6"
    );
    assert!(s.rollup("410611001001099").is_none());
    assert_base_rollups_add_up(&s);
}

#[test]
fn moving_a_border_moves_buildings_and_rollups() {
    let engine = Engine::new(dataset());
    let before = engine.snapshot();
    engine.apply(&[
        Change::UpsertArea(base(
            G001,
            Level::Grid,
            Some(COMMUNITY_1),
            rect(114.0, 35.7, 114.13, 35.8),
        )),
        Change::UpsertArea(base(
            G002,
            Level::Grid,
            Some(COMMUNITY_1),
            rect(114.13, 35.7, 114.2, 35.8),
        )),
    ]);
    let s = engine.snapshot();
    assert_eq!(
        s.building("41061100100100002")
            .and_then(|b| b.grid_code.as_deref()),
        Some(G001)
    );
    assert_eq!(
        s.rollup(G001).map(|r| (r.buildings, r.houses)),
        Some((2, 3))
    );
    assert_eq!(s.rollup(G002).map(|r| r.buildings), Some(0));
    assert_eq!(s.rollup(COMMUNITY_1), before.rollup(COMMUNITY_1));
    assert_eq!(grid(&engine, 114.12, 35.75).as_deref(), Some(G001));
    assert_base_rollups_add_up(&s);
    assert_eq!(
        before
            .building("41061100100100002")
            .and_then(|b| b.grid_code.as_deref()),
        Some(G002),
        "an earlier snapshot never changes"
    );
    assert_eq!(before.rollup(G002).map(|r| r.buildings), Some(1));
}

#[test]
fn deleting_areas() {
    let engine = Engine::new(dataset());
    engine.apply(&[
        Change::DeleteArea(G002.into()),
        Change::DeleteArea(SCHOOL.into()),
    ]);
    let s = engine.snapshot();
    assert!(s.area(G002).is_none() && s.rollup(G002).is_none() && s.rollup(SCHOOL).is_none());
    assert_eq!(
        s.building("41061100100100002")
            .and_then(|b| b.grid_code.as_deref()),
        None
    );
    assert_eq!(s.rollup(COMMUNITY_1).map(|r| r.buildings), Some(3));
    assert_eq!(s.rollup(CITY).map(|r| r.buildings), Some(5));
    assert_eq!(codes(&s.children(COMMUNITY_1)), [G001, G003, G004, PARK]);
    assert_eq!(
        codes(&s.lookup(114.15, 35.75)),
        [COMMUNITY_1, STREET, DISTRICT, CITY],
        "as deep as it goes"
    );
    assert_eq!(s.sizes().grids, 4);
    engine.apply(&[Change::UpsertArea(base(
        G002,
        Level::Grid,
        Some(COMMUNITY_1),
        rect(114.1, 35.7, 114.2, 35.8),
    ))]);
    let s = engine.snapshot();
    assert_eq!(
        s.building("41061100100100002")
            .and_then(|b| b.grid_code.as_deref()),
        Some(G002)
    );
    assert_eq!(s.rollup(CITY).map(|r| r.buildings), Some(6));
    assert_base_rollups_add_up(&s);
}

#[test]
fn adding_a_base_area_gets_its_rollup_by_prefix() {
    let engine = Engine::new(dataset());
    engine.apply(&[Change::DeleteArea(STREET.into())]);
    assert!(engine.snapshot().rollup(STREET).is_none());
    engine.apply(&[Change::UpsertArea(base(
        STREET,
        Level::Street,
        Some(DISTRICT),
        rect(114.0, 35.6, 114.4, 35.8),
    ))]);
    assert_eq!(
        engine.snapshot().rollup(STREET).map(|r| r.buildings),
        Some(6)
    );
}

#[test]
fn building_and_house_changes_update_rollups() {
    let engine = Engine::new(dataset());
    let b = "41061100100100003";
    engine.apply(&[
        Change::UpsertHouse(house("NEW1", b, 2)),
        Change::SetPopulation(people("NEW1", 4, 0, 1)),
    ]);
    let s = engine.snapshot();
    assert_eq!(
        s.rollup(G003)
            .map(|r| (r.houses, r.households, r.registered)),
        Some((4, 5, 10))
    );
    assert_eq!(s.rollup(FIRE).map(|r| r.houses), Some(14));
    assert_eq!(s.sizes().houses, 22);

    // Move B3 into G004's ground: its houses follow it.
    let mut moved = building(b, 114.15, 35.62);
    moved.grid_code = None;
    engine.apply(&[Change::UpsertBuilding(moved)]);
    let s = engine.snapshot();
    assert_eq!(
        s.building(b).and_then(|x| x.grid_code.as_deref()),
        Some(G004)
    );
    assert_eq!(s.rollup(G003), Some(Rollup::default()));
    assert_eq!(
        s.rollup(G004).map(|r| (r.buildings, r.houses)),
        Some((2, 8))
    );
    assert_base_rollups_add_up(&s);

    engine.apply(&[
        Change::DeleteBuilding(b.into()),
        Change::DeleteHouse("NEW1".into()),
    ]);
    let s = engine.snapshot();
    assert!(s.building(b).is_none());
    assert_eq!(
        s.rollup(G004).map(|r| (r.buildings, r.houses)),
        Some((1, 4))
    );
    assert_eq!(s.rollup(CITY).map(|r| r.buildings), Some(5));
    assert_eq!(s.rollup(FIRE).map(|r| r.buildings), Some(2));
    assert_base_rollups_add_up(&s);

    // Houses of a building that is not there yet count once it arrives.
    engine.apply(&[Change::UpsertHouse(house("LATE1", "41061100100100099", 3))]);
    assert_eq!(engine.snapshot().rollup(CITY).map(|r| r.houses), Some(18));
    engine.apply(&[Change::UpsertBuilding(building(
        "41061100100100099",
        114.05,
        35.75,
    ))]);
    let s = engine.snapshot();
    assert_eq!(
        s.rollup(CITY)
            .map(|r| (r.buildings, r.houses, r.households)),
        Some((6, 19, 21))
    );
    assert_eq!(s.rollup(G001).map(|r| r.buildings), Some(2));
}

#[test]
fn workers_and_ignored_changes() {
    let engine = Engine::new(dataset());
    engine.apply(&[
        Change::DeleteWorker("W001".into()),
        Change::UpsertWorker(Worker {
            code: "W002".into(),
            name: "w".into(),
            phone: None,
            role: WorkerRole::Police,
            home_code: G002.into(),
            device: None,
        }),
    ]);
    assert_eq!(engine.snapshot().sizes().workers, 1);
}

#[test]
fn reads_run_while_a_writer_applies() {
    let engine = std::sync::Arc::new(Engine::new(dataset()));
    let reader = {
        let engine = engine.clone();
        std::thread::spawn(move || {
            for _ in 0..2000 {
                let s = engine.snapshot();
                let total = s.rollup(CITY).map(|r| r.buildings).unwrap_or_default();
                assert!(total == 6 || total == 7, "{total}");
            }
        })
    };
    for i in 0..200 {
        let code = "41061100100100050";
        if i % 2 == 0 {
            engine.apply(&[Change::UpsertBuilding(building(code, 114.05, 35.75))]);
        } else {
            engine.apply(&[Change::DeleteBuilding(code.into())]);
        }
    }
    assert!(reader.join().is_ok());
}

#[test]
fn engine_and_snapshot_are_shareable_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Engine>();
    shareable::<Snapshot>();
}

#[test]
fn city_extent_follows_the_city_and_its_edits() {
    let engine = Engine::new(dataset());
    let extent = |e: &Engine| e.snapshot().city_extent().map(|r| (r.min(), r.max()));
    assert_eq!(
        extent(&engine),
        Some((coord! {x: 114.0, y: 35.6}, coord! {x: 114.4, y: 35.8}))
    );
    let mut city = engine.snapshot().area(CITY).unwrap().clone();
    city.geometry = MultiPolygon::new(vec![rect(113.9, 35.5, 114.4, 35.8)]);
    engine.apply(&[Change::UpsertArea(city)]);
    assert_eq!(
        extent(&engine),
        Some((coord! {x: 113.9, y: 35.5}, coord! {x: 114.4, y: 35.8}))
    );
    // Without a city-level area, the extent of every area.
    engine.apply(&[Change::DeleteArea(CITY.into())]);
    assert_eq!(
        extent(&engine),
        Some((coord! {x: 114.0, y: 35.6}, coord! {x: 114.4, y: 35.8}))
    );
    assert_eq!(
        Engine::new(Dataset::default()).snapshot().city_extent(),
        None
    );
}

#[test]
fn building_shards_come_in_community_order_and_change_id_with_their_buildings() {
    let engine = Engine::new(dataset());
    let everywhere = Rect::new(coord! {x: 113.0, y: 35.0}, coord! {x: 115.0, y: 36.0});
    let ids = |s: &Snapshot| -> Vec<(u64, usize)> {
        s.building_shards_in_bbox(everywhere)
            .iter()
            .map(|shard| (shard.id(), shard.len()))
            .collect()
    };
    let before = engine.snapshot();
    let first = ids(&before);
    assert_eq!(first.iter().map(|(_, n)| *n).collect::<Vec<_>>(), [4, 2]);
    let west = before.building_shards_in_bbox(Rect::new(
        coord! {x: 114.0, y: 35.6},
        coord! {x: 114.2, y: 35.8},
    ));
    assert_eq!(west.len(), 1, "community 002's buildings are east of 114.2");
    assert_eq!(west[0].id(), first[0].0);

    engine.apply(&[Change::UpsertBuilding(building(
        "41061100100200003",
        114.32,
        35.7,
    ))]);
    let after = ids(&engine.snapshot());
    assert_eq!(after[0], first[0], "community 001 is untouched: same id");
    assert_ne!(after[1].0, first[1].0, "community 002 changed: new id");
    assert_eq!(after[1].1, 3);
    assert_eq!(ids(&before), first, "an older snapshot keeps its shards");
}

#[test]
fn apply_answers_the_old_and_new_extents_of_what_it_changed() {
    let engine = Engine::new(dataset());
    let b = "41061100100100003";
    let old = engine.snapshot().building(b).cloned().expect("B3");
    let moved = building(b, 114.15, 35.62);

    let extents = engine.apply(&[
        Change::UpsertBuilding(moved.clone()),
        Change::UpsertHouse(house("NEW1", b, 2)),
    ]);

    let box_of = |b: &Building| geo::BoundingRect::bounding_rect(&b.geometry).expect("box");
    assert_eq!(extents.boxes, vec![box_of(&old), box_of(&moved)]);
    assert!(extents.events.is_empty());

    let nothing = engine.apply(&[Change::DeleteHouse("NEW1".into())]);
    assert!(nothing.is_empty(), "houses draw nothing on the map");

    let gone = engine.apply(&[Change::DeleteBuilding(b.into())]);
    assert_eq!(gone.boxes, vec![box_of(&moved)]);
}

#[test]
fn an_area_extent_holds_its_management_center() {
    let engine = Engine::new(dataset());
    let mut street = engine.snapshot().area(STREET).cloned().expect("street");
    let far = geo_types::Point::new(114.9, 35.1);
    street.center = Some(far);

    let extents = engine.apply(&[Change::UpsertArea(street)]);

    let new = extents.boxes.last().expect("new box");
    assert_eq!((new.min().x, new.min().y), (114.0, 35.1));
    assert_eq!((new.max().x, new.max().y), (114.9, 35.8));
}
