//! Hand-made records of every kind, shared by the store tests: a small hierarchy on real Hebi
//! codes (a community with a hole and a second part and every optional field set, a business
//! grid with none), a building, a house, its population, a worker, a fix and two events.
//! Times carry milliseconds, the precision every store keeps.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use geo_types::{polygon, LineString, MultiPolygon, Point, Polygon};
use gridmap::model::{
    Area, Building, BuildingUse, CareCounts, Change, Evaluation, Event, EventSource, EventStatus,
    HandlingLevel, House, HouseUse, Layer, Level, Population, PopulationCounts, Transition, Worker,
    WorkerFix, WorkerRole,
};

pub const CITY: &str = "410600";
pub const DISTRICT: &str = "410611";
pub const STREET: &str = "410611001";
pub const COMMUNITY: &str = "410611001001";
pub const GRID: &str = "410611001001001";
/// A fire-safety business grid outside the base tree.
pub const FIRE_GRID: &str = "410611001F01";
pub const BUILDING: &str = "41061100100100001";
/// Building + unit 01 + floor 003 + room 02.
pub const HOUSE: &str = "410611001001000010100302";
pub const WORKER: &str = "W410611001001001";

/// A closed square ring with its south-west corner at (x0, y0).
pub fn square(x0: f64, y0: f64, size: f64) -> LineString<f64> {
    LineString::from(vec![
        (x0, y0),
        (x0 + size, y0),
        (x0 + size, y0 + size),
        (x0, y0 + size),
        (x0, y0),
    ])
}

/// A base area of one square and no optional attribute.
pub fn area(code: &str, level: Level, parent: Option<&str>, x0: f64, size: f64) -> Area {
    Area {
        code: code.into(),
        layer: Layer::Base,
        level,
        name: format!("area {code}"),
        parent_code: parent.map(str::to_string),
        geometry: MultiPolygon(vec![Polygon::new(square(x0, 35.5, size), vec![])]),
        center: None,
        leader_name: None,
        leader_phone: None,
        leader_photo_url: None,
        urban_rural: None,
        valid_from: None,
        valid_to: None,
    }
}

/// A community with a hole and a second part, and every optional field set.
pub fn community() -> Area {
    let with_hole = Polygon::new(
        square(114.10, 35.70, 0.02),
        vec![square(114.105, 35.705, 0.005)],
    );
    let island = Polygon::new(square(114.13, 35.70, 0.01), vec![]);
    Area {
        code: COMMUNITY.into(),
        layer: Layer::Base,
        level: Level::Community,
        name: "金山社区".into(),
        parent_code: Some(STREET.into()),
        geometry: MultiPolygon(vec![with_hole, island]),
        center: Some(Point::new(114.11, 35.71)),
        leader_name: Some("张三".into()),
        leader_phone: Some("13800000000".into()),
        leader_photo_url: Some("https://example.org/p.jpg".into()),
        urban_rural: Some(111),
        valid_from: NaiveDate::from_ymd_opt(2022, 1, 1),
        valid_to: NaiveDate::from_ymd_opt(2030, 12, 31),
    }
}

/// A fire-safety business grid with no optional attribute and no parent.
pub fn fire_grid() -> Area {
    Area {
        code: FIRE_GRID.into(),
        layer: Layer::Business("fire".into()),
        level: Level::Street,
        name: "金山消防一级网格".into(),
        ..area(FIRE_GRID, Level::Street, None, 114.1, 0.2)
    }
}

/// City > district > street > community > grid.
pub fn hierarchy() -> Vec<Area> {
    vec![
        area(CITY, Level::City, None, 114.0, 0.7),
        area(DISTRICT, Level::District, Some(CITY), 114.05, 0.3),
        area(STREET, Level::Street, Some(DISTRICT), 114.08, 0.1),
        community(),
        area(GRID, Level::Grid, Some(COMMUNITY), 114.10, 0.01),
    ]
}

pub fn building() -> Building {
    Building {
        code: BUILDING.into(),
        name: "1号楼".into(),
        address: Some("金山路1号".into()),
        compound: Some("金山小区".into()),
        building_use: BuildingUse::Residential,
        floors: 18,
        height_m: 54.5,
        geometry: polygon![(x: 114.101, y: 35.701), (x: 114.102, y: 35.701), (x: 114.102, y: 35.702), (x: 114.101, y: 35.701)],
        grid_code: Some(GRID.into()),
    }
}

pub fn house() -> House {
    House {
        code: HOUSE.into(),
        building_code: BUILDING.into(),
        unit: 1,
        floor: 3,
        room: "02".into(),
        house_use: HouseUse::Rented,
        households: 1,
    }
}

/// Counts of every kind, each different.
pub fn population() -> Population {
    let mut care = [0; 10];
    for (i, c) in care.iter_mut().enumerate() {
        *c = i as i32 + 1;
    }
    Population {
        house_code: HOUSE.into(),
        counts: PopulationCounts {
            registered: 3,
            floating: 2,
            overseas: 1,
            care: CareCounts::from_array(care),
        },
    }
}

pub fn worker() -> Worker {
    Worker {
        code: WORKER.into(),
        name: "李四".into(),
        phone: Some("13900000000".into()),
        role: WorkerRole::GridWorker,
        home_code: GRID.into(),
        device: Some("dev-1".into()),
    }
}

/// 2024-05-`day` `hour`:00 UTC plus `millis`.
pub fn at(day: u32, hour: u32, millis: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, day, hour, 0, 0)
        .single()
        .expect("valid time")
        + Duration::milliseconds(millis)
}

pub fn fix() -> WorkerFix {
    WorkerFix {
        worker_code: WORKER.into(),
        at: at(1, 9, 250),
        position: Point::new(114.1015, 35.7015),
        accuracy_m: Some(4.5),
        speed_mps: Some(1.25),
        heading_deg: None,
        source_crs: "gcj02".into(),
    }
}

/// An evaluated event reported on May `day`, with every field set and two transitions.
pub fn event(code: &str, day: u32) -> Event {
    Event {
        code: code.into(),
        external_id: Some(format!("ext-{code}")),
        idempotency_scope: "410600".into(),
        title: "占道经营".into(),
        category: "0102".into(),
        source: EventSource::Hotline,
        content: "路口有占道经营".into(),
        reporter_name: Some("王五".into()),
        reporter_phone: Some("12345".into()),
        location: Point::new(114.1012, 35.7012),
        address: Some("金山路口".into()),
        area_code: Some(GRID.into()),
        outside_grid: false,
        status: EventStatus::Evaluated,
        level: HandlingLevel::Street,
        department: Some("城管".into()),
        reported_at: at(day, 8, 123),
        deadline: Some(at(day + 2, 8, 0)),
        closed_at: Some(at(day + 1, 17, 999)),
        evaluation: Some(Evaluation {
            score: 5,
            comment: Some("满意".into()),
        }),
        transitions: vec![
            Transition {
                at: at(day, 8, 123),
                from: None,
                to: EventStatus::Reported,
                actor: "hotline".into(),
                level: HandlingLevel::Community,
                department: None,
                note: None,
            },
            Transition {
                at: at(day, 9, 1),
                from: Some(EventStatus::Reported),
                to: EventStatus::Registered,
                actor: WORKER.into(),
                level: HandlingLevel::Street,
                department: Some("城管".into()),
                note: Some("已立案".into()),
            },
        ],
    }
}

/// A just-reported event outside every grid, with no optional field and no transition.
pub fn bare_event(code: &str, day: u32) -> Event {
    Event {
        external_id: None,
        idempotency_scope: String::new(),
        reporter_name: None,
        reporter_phone: None,
        address: None,
        area_code: None,
        outside_grid: true,
        status: EventStatus::Reported,
        level: HandlingLevel::Community,
        department: None,
        deadline: None,
        closed_at: None,
        evaluation: None,
        transitions: Vec::new(),
        ..event(code, day)
    }
}

/// Every record kind, parents first: the hierarchy, the business grid, the building, its
/// house and population, the worker, a fix and the evaluated event `E1` of May 1.
pub fn full_batch() -> Vec<Change> {
    let mut changes: Vec<Change> = hierarchy().into_iter().map(Change::UpsertArea).collect();
    changes.extend([
        Change::UpsertArea(fire_grid()),
        Change::UpsertBuilding(building()),
        Change::UpsertHouse(house()),
        Change::SetPopulation(population()),
        Change::UpsertWorker(worker()),
        Change::InsertFix(fix()),
        Change::UpsertEvent(event("E1", 1)),
    ]);
    changes
}

/// `items` sorted by `key`, for comparing loads whose order is not promised.
pub fn sorted_by<T: Clone, K: Ord>(items: &[T], key: impl Fn(&T) -> K) -> Vec<T> {
    let mut v = items.to_vec();
    v.sort_by_key(key);
    v
}
