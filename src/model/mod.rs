//! The validated domain types every other module speaks: areas and their codes, buildings,
//! houses, population counts, events, workers and their GPS fixes, and the basemap (roads,
//! rivers, water).
//!
//! Geometry is always longitude/latitude in the storage CRS (CGCS2000, EPSG:4490, treated as
//! WGS84 at the centimetre level). Conversions from other CRSs happen in `crs` before a value
//! reaches these types.

pub mod area;
pub mod area_code;
pub mod basemap;
pub mod building;
pub mod category_names;
pub mod deadline_hours;
pub mod event;
pub mod event_code;
pub mod event_input;
pub mod fix_input;
pub mod population;
pub mod worker;
pub mod workflow;

use geo_types::Geometry;

pub use area::{Area, Layer, Level};
pub use area_code::{covers_whole_city, scope_contains, scope_prefix, validate_code, CodeError};
pub use basemap::{BasemapFeature, BasemapGeometry, BasemapKind};
pub use building::{Building, BuildingUse, House, HouseUse};
pub use event::{Evaluation, Event, EventSource, EventStatus, HandlingLevel, Transition};
pub use population::{CareCounts, Population, PopulationCounts};
pub use worker::{AlertKind, Worker, WorkerAlert, WorkerFix, WorkerRole, WorkerState};

/// The OGC type name of a geometry, for error messages that say what was given instead.
pub fn geometry_type_name(g: &Geometry<f64>) -> &'static str {
    match g {
        Geometry::Point(_) => "Point",
        Geometry::Line(_) | geo_types::Geometry::LineString(_) => "LineString",
        Geometry::Polygon(_) => "Polygon",
        Geometry::MultiPoint(_) => "MultiPoint",
        Geometry::MultiLineString(_) => "MultiLineString",
        Geometry::MultiPolygon(_) => "MultiPolygon",
        Geometry::GeometryCollection(_) => "GeometryCollection",
        Geometry::Rect(_) => "Rect",
        Geometry::Triangle(_) => "Triangle",
    }
}

/// The storage SRID of every geometry column (CGCS2000 geographic; see DESIGN.md "Coordinates").
pub const STORAGE_SRID: i32 = 4490;

/// Longitude/latitude bounds of the People's Republic of China plus a margin: coordinates outside
/// these are rejected as out of range for a city service.
pub const CHINA_LON_RANGE: (f64, f64) = (73.0, 136.0);
/// See [`CHINA_LON_RANGE`].
pub const CHINA_LAT_RANGE: (f64, f64) = (3.0, 54.0);

/// Everything the engine needs at start-up, as loaded from a store (events and fixes are
/// loaded separately because of their volume).
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub areas: Vec<Area>,
    pub buildings: Vec<Building>,
    pub houses: Vec<House>,
    pub population: Vec<Population>,
    pub workers: Vec<Worker>,
    /// Roads, rivers and water drawn under the boundaries.
    pub basemap: Vec<BasemapFeature>,
}

/// One durable change to the system of record. Stores apply a batch of these atomically; the
/// engine applies the same values after the store has committed them.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    UpsertArea(Area),
    DeleteArea(String),
    UpsertBuilding(Building),
    DeleteBuilding(String),
    UpsertHouse(House),
    DeleteHouse(String),
    SetPopulation(Population),
    UpsertWorker(Worker),
    DeleteWorker(String),
    InsertFix(WorkerFix),
    UpsertEvent(Event),
    UpsertBasemap(BasemapFeature),
    DeleteBasemap(String),
}

impl Change {
    /// The table-like kind of the changed record, used in logs, metrics and NOTIFY payloads.
    pub fn kind(&self) -> &'static str {
        match self {
            Change::UpsertArea(_) | Change::DeleteArea(_) => "area",
            Change::UpsertBuilding(_) | Change::DeleteBuilding(_) => "building",
            Change::UpsertHouse(_) | Change::DeleteHouse(_) => "house",
            Change::SetPopulation(_) => "population",
            Change::UpsertWorker(_) | Change::DeleteWorker(_) => "worker",
            Change::InsertFix(_) => "worker_fix",
            Change::UpsertEvent(_) => "event",
            Change::UpsertBasemap(_) | Change::DeleteBasemap(_) => "basemap",
        }
    }
}

/// Whether a longitude/latitude pair lies in the accepted range (see [`CHINA_LON_RANGE`]).
pub fn lonlat_in_range(lon: f64, lat: f64) -> bool {
    lon.is_finite()
        && lat.is_finite()
        && (CHINA_LON_RANGE.0..=CHINA_LON_RANGE.1).contains(&lon)
        && (CHINA_LAT_RANGE.0..=CHINA_LAT_RANGE.1).contains(&lat)
}
