//! Model records ⇄ PostgreSQL rows: the column lists every read uses, row decoding, and the
//! geometry encoding (EWKB with SRID 4490 out, WKB in, both through geozero).

use chrono::{DateTime, Utc};
use geo_types::{Geometry, MultiPolygon, Point, Polygon};
use geozero::wkb::Wkb;
use geozero::{CoordDimensions, ToGeo, ToWkb};
use tokio_postgres::types::FromSql;
use tokio_postgres::Row;

use crate::model::{
    Area, BasemapFeature, BasemapKind, Building, BuildingUse, CareCounts, Evaluation, Event,
    EventSource, EventStatus, HandlingLevel, House, HouseUse, Layer, Level, Population,
    PopulationCounts, Transition, Worker, WorkerRole, STORAGE_SRID,
};
use crate::store::StoreError;

/// The select list of `area`, in the order [`area`] decodes.
pub(crate) const AREA_COLUMNS: &str = "code, layer, level, name, parent_code, ST_AsBinary(geom), \
     ST_AsBinary(center), leader_name, leader_phone, leader_photo_url, urban_rural, valid_from, valid_to";

/// The select list of `building`, in the order [`building`] decodes.
pub(crate) const BUILDING_COLUMNS: &str =
    "code, name, address, compound, building_use, floors, height_m, ST_AsBinary(geom), grid_code";

/// The select list of `house`, in the order [`house`] decodes.
pub(crate) const HOUSE_COLUMNS: &str =
    "code, building_code, unit, floor, room, house_use, households";

/// The select list of `population`: the house, the three registration counts, then one column
/// per [`CareCounts::FIELDS`] in that order.
pub(crate) const POPULATION_COLUMNS: &str = "house_code, registered, floating, overseas, \
     elderly_alone, left_behind_children, disabled, low_income, released_prisoners, \
     community_correction, severe_mental, drug_users, key_youth, party_members";

/// The select list of `worker`, in the order [`worker`] decodes.
pub(crate) const WORKER_COLUMNS: &str = "code, name, phone, role, home_code, device";

/// The select list of `event`, in the order [`event`] decodes.
pub(crate) const EVENT_COLUMNS: &str = "code, source, external_id, title, category, content, \
     reporter_name, reporter_phone, ST_AsBinary(geom), address, area_code, outside_grid, status, \
     level, department, reported_at, deadline, closed_at, evaluation_score, evaluation_comment, \
     idempotency_scope";

/// The select list of `event_transition`, in the order [`transition`] decodes (after the code).
pub(crate) const TRANSITION_COLUMNS: &str =
    "event_code, at, from_status, to_status, actor, level, department, note";

/// The select list of `basemap`, in the order [`basemap`] decodes.
pub(crate) const BASEMAP_COLUMNS: &str = "code, kind, name, ST_AsBinary(geom)";

/// EWKB with the storage SRID, as `ST_GeomFromEWKB` reads it.
pub(crate) fn ewkb(geometry: Geometry<f64>) -> Result<Vec<u8>, StoreError> {
    geometry
        .to_ewkb(CoordDimensions::xy(), Some(STORAGE_SRID))
        .map_err(|e| StoreError::Data(format!("cannot encode geometry as EWKB: {e}")))
}

/// Decodes WKB (from `ST_AsBinary`) into a geo-types geometry.
fn geometry(wkb: &[u8]) -> Result<Geometry<f64>, String> {
    Wkb(wkb)
        .to_geo()
        .map_err(|e| format!("unreadable WKB: {e}"))
}

fn multi_polygon(wkb: &[u8]) -> Result<MultiPolygon<f64>, String> {
    match geometry(wkb)? {
        Geometry::MultiPolygon(mp) => Ok(mp),
        Geometry::Polygon(p) => Ok(MultiPolygon(vec![p])),
        other => Err(format!("expected a MultiPolygon, found {other:?}")),
    }
}

fn polygon(wkb: &[u8]) -> Result<Polygon<f64>, String> {
    match geometry(wkb)? {
        Geometry::Polygon(p) => Ok(p),
        other => Err(format!("expected a Polygon, found {other:?}")),
    }
}

fn point(wkb: &[u8]) -> Result<Point<f64>, String> {
    match geometry(wkb)? {
        Geometry::Point(p) => Ok(p),
        other => Err(format!("expected a Point, found {other:?}")),
    }
}

/// Reads one column of a record, naming the record in the error.
fn col<'a, T: FromSql<'a>>(row: &'a Row, idx: usize, record: &str) -> Result<T, StoreError> {
    row.try_get(idx).map_err(|e| {
        let name = row.columns().get(idx).map(|c| c.name()).unwrap_or("?");
        StoreError::Data(format!("{record}: column {name}: {e}"))
    })
}

/// Parses a stored text or number into a model value, naming the record on failure.
fn parsed<S: std::fmt::Debug, T>(
    value: S,
    parse: impl FnOnce(&S) -> Option<T>,
    what: &str,
    record: &str,
) -> Result<T, StoreError> {
    parse(&value).ok_or_else(|| StoreError::Data(format!("{record}: unknown {what} {value:?}")))
}

fn data_error(record: &str) -> impl FnOnce(String) -> StoreError + '_ {
    move |e| StoreError::Data(format!("{record}: {e}"))
}

/// Decodes a row of [`AREA_COLUMNS`].
pub(crate) fn area(row: &Row) -> Result<Area, StoreError> {
    let code: String = col(row, 0, "area")?;
    let record = format!("area {code}");
    let r = record.as_str();
    let center: Option<&[u8]> = col(row, 6, r)?;
    Ok(Area {
        layer: parsed(col::<String>(row, 1, r)?, |s| Layer::parse(s), "layer", r)?,
        level: parsed(col::<i16>(row, 2, r)?, |v| Level::from_i16(*v), "level", r)?,
        name: col(row, 3, r)?,
        parent_code: col(row, 4, r)?,
        geometry: multi_polygon(col(row, 5, r)?).map_err(data_error(r))?,
        center: center.map(point).transpose().map_err(data_error(r))?,
        leader_name: col(row, 7, r)?,
        leader_phone: col(row, 8, r)?,
        leader_photo_url: col(row, 9, r)?,
        urban_rural: col(row, 10, r)?,
        valid_from: col(row, 11, r)?,
        valid_to: col(row, 12, r)?,
        code,
    })
}

/// Decodes a row of [`BASEMAP_COLUMNS`].
pub(crate) fn basemap(row: &Row) -> Result<BasemapFeature, StoreError> {
    let code: String = col(row, 0, "basemap")?;
    let record = format!("basemap feature {code}");
    let r = record.as_str();
    let kind = parsed(
        col::<String>(row, 1, r)?,
        |s| BasemapKind::parse(s),
        "kind",
        r,
    )?;
    let geom = geometry(col(row, 3, r)?).map_err(data_error(r))?;
    BasemapFeature::new(code, kind, col(row, 2, r)?, geom).map_err(|e| data_error(r)(e.to_string()))
}

/// Decodes a row of [`BUILDING_COLUMNS`].
pub(crate) fn building(row: &Row) -> Result<Building, StoreError> {
    let code: String = col(row, 0, "building")?;
    let record = format!("building {code}");
    let r = record.as_str();
    Ok(Building {
        name: col(row, 1, r)?,
        address: col(row, 2, r)?,
        compound: col(row, 3, r)?,
        building_use: parsed(
            col::<String>(row, 4, r)?,
            |s| BuildingUse::parse(s),
            "use",
            r,
        )?,
        floors: col(row, 5, r)?,
        height_m: col(row, 6, r)?,
        geometry: polygon(col(row, 7, r)?).map_err(data_error(r))?,
        grid_code: col(row, 8, r)?,
        code,
    })
}

/// Decodes a row of [`HOUSE_COLUMNS`].
pub(crate) fn house(row: &Row) -> Result<House, StoreError> {
    let code: String = col(row, 0, "house")?;
    let record = format!("house {code}");
    let r = record.as_str();
    Ok(House {
        building_code: col(row, 1, r)?,
        unit: col(row, 2, r)?,
        floor: col(row, 3, r)?,
        room: col(row, 4, r)?,
        house_use: parsed(col::<String>(row, 5, r)?, |s| HouseUse::parse(s), "use", r)?,
        households: col(row, 6, r)?,
        code,
    })
}

/// Decodes a row of [`POPULATION_COLUMNS`].
pub(crate) fn population(row: &Row) -> Result<Population, StoreError> {
    let house_code: String = col(row, 0, "population")?;
    let record = format!("population of house {house_code}");
    let r = record.as_str();
    let mut care = [0_i32; CareCounts::FIELDS.len()];
    for (i, count) in care.iter_mut().enumerate() {
        *count = col(row, 4 + i, r)?;
    }
    Ok(Population {
        counts: PopulationCounts {
            registered: col(row, 1, r)?,
            floating: col(row, 2, r)?,
            overseas: col(row, 3, r)?,
            care: CareCounts::from_array(care),
        },
        house_code,
    })
}

/// Decodes a row of [`WORKER_COLUMNS`].
pub(crate) fn worker(row: &Row) -> Result<Worker, StoreError> {
    let code: String = col(row, 0, "worker")?;
    let record = format!("worker {code}");
    let r = record.as_str();
    Ok(Worker {
        name: col(row, 1, r)?,
        phone: col(row, 2, r)?,
        role: parsed(
            col::<String>(row, 3, r)?,
            |s| WorkerRole::parse(s),
            "role",
            r,
        )?,
        home_code: col(row, 4, r)?,
        device: col(row, 5, r)?,
        code,
    })
}

/// Decodes a row of [`EVENT_COLUMNS`]; its transitions are attached by the caller.
pub(crate) fn event(row: &Row) -> Result<Event, StoreError> {
    let code: String = col(row, 0, "event")?;
    let record = format!("event {code}");
    let r = record.as_str();
    let score: Option<i16> = col(row, 18, r)?;
    let comment: Option<String> = col(row, 19, r)?;
    Ok(Event {
        source: parsed(
            col::<String>(row, 1, r)?,
            |s| EventSource::parse(s),
            "source",
            r,
        )?,
        external_id: col(row, 2, r)?,
        title: col(row, 3, r)?,
        category: col(row, 4, r)?,
        content: col(row, 5, r)?,
        reporter_name: col(row, 6, r)?,
        reporter_phone: col(row, 7, r)?,
        location: point(col(row, 8, r)?).map_err(data_error(r))?,
        address: col(row, 9, r)?,
        area_code: col(row, 10, r)?,
        outside_grid: col(row, 11, r)?,
        status: parsed(
            col::<String>(row, 12, r)?,
            |s| EventStatus::parse(s),
            "status",
            r,
        )?,
        level: parsed(
            col::<String>(row, 13, r)?,
            |s| HandlingLevel::parse(s),
            "level",
            r,
        )?,
        department: col(row, 14, r)?,
        reported_at: col(row, 15, r)?,
        deadline: col(row, 16, r)?,
        closed_at: col(row, 17, r)?,
        evaluation: score.map(|score| Evaluation { score, comment }),
        idempotency_scope: col(row, 20, r)?,
        transitions: Vec::new(),
        code,
    })
}

/// Decodes a row of [`TRANSITION_COLUMNS`] into its event code and the step.
pub(crate) fn transition(row: &Row) -> Result<(String, Transition), StoreError> {
    let event_code: String = col(row, 0, "event transition")?;
    let record = format!("transition of event {event_code}");
    let r = record.as_str();
    let from: Option<String> = col(row, 2, r)?;
    let at: DateTime<Utc> = col(row, 1, r)?;
    let step = Transition {
        at,
        from: from
            .map(|s| parsed(s, |s| EventStatus::parse(s), "status", r))
            .transpose()?,
        to: parsed(
            col::<String>(row, 3, r)?,
            |s| EventStatus::parse(s),
            "status",
            r,
        )?,
        actor: col(row, 4, r)?,
        level: parsed(
            col::<String>(row, 5, r)?,
            |s| HandlingLevel::parse(s),
            "level",
            r,
        )?,
        department: col(row, 6, r)?,
        note: col(row, 7, r)?,
    };
    Ok((event_code, step))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{coord, LineString};

    #[test]
    fn population_columns_follow_care_fields() {
        let cols: Vec<&str> = POPULATION_COLUMNS.split(',').map(str::trim).collect();
        assert_eq!(
            &cols[..4],
            ["house_code", "registered", "floating", "overseas"]
        );
        assert_eq!(&cols[4..], CareCounts::FIELDS);
    }

    #[test]
    fn ewkb_carries_the_storage_srid() {
        let bytes = ewkb(Geometry::Point(Point::new(114.3, 35.7))).unwrap();
        // little-endian, type Point with the SRID flag, then SRID 4490
        assert_eq!(&bytes[..9], &[1, 1, 0, 0, 0x20, 0x8a, 0x11, 0, 0]);
    }

    #[test]
    fn polygon_with_hole_round_trips_through_wkb() {
        let exterior = LineString::from(vec![
            (114.0, 35.0),
            (114.1, 35.0),
            (114.1, 35.1),
            (114.0, 35.0),
        ]);
        let hole = LineString::from(vec![
            coord! {x: 114.05, y: 35.01},
            coord! {x: 114.06, y: 35.01},
            coord! {x: 114.06, y: 35.02},
            coord! {x: 114.05, y: 35.01},
        ]);
        let mp = MultiPolygon(vec![Polygon::new(exterior, vec![hole])]);
        let wkb = Geometry::MultiPolygon(mp.clone())
            .to_wkb(CoordDimensions::xy())
            .unwrap();
        assert_eq!(multi_polygon(&wkb).unwrap(), mp);
    }

    #[test]
    fn a_point_is_not_a_polygon() {
        let wkb = Geometry::Point(Point::new(114.0, 35.0))
            .to_wkb(CoordDimensions::xy())
            .unwrap();
        assert!(polygon(&wkb).unwrap_err().contains("expected a Polygon"));
        assert!(multi_polygon(&wkb).is_err());
    }

    #[test]
    fn garbage_is_unreadable() {
        assert!(geometry(&[1, 2, 3]).is_err());
        assert!(geometry(&[]).is_err());
    }
}
