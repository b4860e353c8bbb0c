//! Reading the store back into model values: the start-up [`Dataset`], events streamed in
//! chunks oldest first with their transitions, and row counts. Reads use their own read-only
//! connection inside one read transaction, so they see one committed state and never block
//! the writer (WAL).

use std::path::Path;
use std::time::Duration;

use geo_types::{Geometry, MultiPolygon, Point};
use rusqlite::{Connection, OpenFlags, Statement};

use crate::model::{
    geometry_type_name, Area, BasemapFeature, BasemapKind, Building, BuildingUse, CareCounts,
    Dataset, Evaluation, Event, EventSource, EventStatus, HandlingLevel, House, HouseUse, Layer,
    Level, Population, PopulationCounts, Transition, Worker, WorkerRole,
};
use crate::store::Counts;

use super::error::GpkgError;
use super::rows::{
    population_columns, RowReader, AREA_COLUMNS, BASEMAP_COLUMNS, BUILDING_COLUMNS, EVENT_COLUMNS,
    HOUSE_COLUMNS, WORKER_COLUMNS,
};

/// Opens a read-only connection to the store file.
pub fn open_reader(path: &Path) -> Result<Connection, GpkgError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| GpkgError::Open {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(GpkgError::sqlite("setting the busy timeout"))?;
    Ok(conn)
}

/// Reads areas (parents before children), buildings, houses, population, workers and the
/// basemap.
pub fn load(conn: &mut Connection) -> Result<Dataset, GpkgError> {
    let tx = conn
        .transaction()
        .map_err(GpkgError::sqlite("starting a read transaction"))?;
    let dataset = Dataset {
        areas: read_all(
            &tx,
            &select("area", &AREA_COLUMNS, "level, code"),
            "area",
            read_area,
        )?,
        buildings: read_all(
            &tx,
            &select("building", &BUILDING_COLUMNS, "fid"),
            "building",
            read_building,
        )?,
        houses: read_all(
            &tx,
            &select("house", &HOUSE_COLUMNS, "fid"),
            "house",
            read_house,
        )?,
        population: read_all(
            &tx,
            &select("population", population_columns(), "fid"),
            "population",
            read_population,
        )?,
        workers: read_all(
            &tx,
            &select("worker", &WORKER_COLUMNS, "fid"),
            "worker",
            read_worker,
        )?,
        basemap: read_all(
            &tx,
            &select("basemap", &BASEMAP_COLUMNS, "fid"),
            "basemap",
            read_basemap,
        )?,
    };
    Ok(dataset)
}

/// Streams every event ordered by `reported_at` in chunks of `chunk_len`, with transitions.
/// Stops early when `send` returns `false` (the receiver is gone).
pub fn stream_events(
    conn: &mut Connection,
    chunk_len: usize,
    send: &mut dyn FnMut(Vec<Event>) -> bool,
) -> Result<(), GpkgError> {
    let tx = conn
        .transaction()
        .map_err(GpkgError::sqlite("starting a read transaction"))?;
    let mut events = tx
        .prepare(&select("event", &EVENT_COLUMNS, "reported_at, fid"))
        .map_err(GpkgError::sqlite("preparing the event query"))?;
    let mut transitions = tx
        .prepare(
            "SELECT at, from_status, to_status, actor, level, department, note
             FROM event_transition WHERE event_code = ?1 ORDER BY seq",
        )
        .map_err(GpkgError::sqlite("preparing the transition query"))?;
    let mut rows = events
        .query([])
        .map_err(GpkgError::sqlite("reading events"))?;
    let mut chunk = Vec::with_capacity(chunk_len);
    while let Some(row) = rows.next().map_err(GpkgError::sqlite("reading events"))? {
        let mut event = read_event(&RowReader::new(row, "event", 1))?;
        event.transitions = read_transitions(&mut transitions, &event.code)?;
        chunk.push(event);
        if chunk.len() == chunk_len
            && !send(std::mem::replace(&mut chunk, Vec::with_capacity(chunk_len)))
        {
            return Ok(());
        }
    }
    if !chunk.is_empty() {
        send(chunk);
    }
    Ok(())
}

/// Row counts of every table.
pub fn counts(conn: &Connection) -> Result<Counts, GpkgError> {
    conn.query_row(
        "SELECT (SELECT count(*) FROM area), (SELECT count(*) FROM building), (SELECT count(*) FROM house),
                (SELECT count(*) FROM population), (SELECT count(*) FROM event), (SELECT count(*) FROM worker),
                (SELECT count(*) FROM worker_fix)",
        [],
        |r| {
            Ok(Counts {
                areas: r.get(0)?,
                buildings: r.get(1)?,
                houses: r.get(2)?,
                population: r.get(3)?,
                events: r.get(4)?,
                workers: r.get(5)?,
                worker_fixes: r.get(6)?,
            })
        },
    )
    .map_err(GpkgError::sqlite("counting rows"))
}

fn select(table: &str, columns: &[&str], order: &str) -> String {
    format!(
        "SELECT {} FROM {table} ORDER BY {order}",
        columns.join(", ")
    )
}

/// Runs `sql` and turns every row into a value; rows are keyed by their second column when the
/// first is the geometry, else by their first.
fn read_all<T>(
    conn: &Connection,
    sql: &str,
    table: &'static str,
    read: fn(&RowReader<'_, '_>) -> Result<T, GpkgError>,
) -> Result<Vec<T>, GpkgError> {
    let doing = || format!("reading table {table}");
    let mut stmt = conn.prepare(sql).map_err(GpkgError::sqlite(doing()))?;
    let key_index = usize::from(stmt.column_name(0).is_ok_and(|c| c == "geom"));
    let mut rows = stmt.query([]).map_err(GpkgError::sqlite(doing()))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(GpkgError::sqlite(doing()))? {
        out.push(read(&RowReader::new(row, table, key_index))?);
    }
    Ok(out)
}

fn read_area(r: &RowReader<'_, '_>) -> Result<Area, GpkgError> {
    let geometry = match r.geometry(0)? {
        Geometry::MultiPolygon(m) => m,
        Geometry::Polygon(p) => MultiPolygon(vec![p]),
        other => {
            return Err(r.bad(format!(
                "its geometry is a {}, expected a MultiPolygon",
                geometry_type_name(&other)
            )))
        }
    };
    let level: i16 = r.get(3)?;
    let center_lon: Option<f64> = r.get(12)?;
    let center_lat: Option<f64> = r.get(13)?;
    Ok(Area {
        code: r.get(1)?,
        layer: r.parse(2, "layer", Layer::parse)?,
        level: Level::from_i16(level).ok_or_else(|| r.bad(format!("level {level} is not 1–6")))?,
        name: r.get(4)?,
        parent_code: r.get(5)?,
        geometry,
        center: center_lon
            .zip(center_lat)
            .map(|(lon, lat)| Point::new(lon, lat)),
        leader_name: r.get(6)?,
        leader_phone: r.get(7)?,
        leader_photo_url: r.get(8)?,
        urban_rural: r.get(9)?,
        valid_from: r.date_opt(10)?,
        valid_to: r.date_opt(11)?,
    })
}

fn read_building(r: &RowReader<'_, '_>) -> Result<Building, GpkgError> {
    let geometry = match r.geometry(0)? {
        Geometry::Polygon(p) => p,
        Geometry::MultiPolygon(MultiPolygon(mut polygons)) if polygons.len() == 1 => {
            polygons.remove(0)
        }
        other => {
            return Err(r.bad(format!(
                "its geometry is a {}, expected a Polygon",
                geometry_type_name(&other)
            )))
        }
    };
    Ok(Building {
        code: r.get(1)?,
        name: r.get(2)?,
        address: r.get(3)?,
        compound: r.get(4)?,
        building_use: r.parse(5, "building use", BuildingUse::parse)?,
        floors: r.get(6)?,
        height_m: r.get(7)?,
        geometry,
        grid_code: r.get(8)?,
    })
}

fn read_house(r: &RowReader<'_, '_>) -> Result<House, GpkgError> {
    Ok(House {
        code: r.get(0)?,
        building_code: r.get(1)?,
        unit: r.get(2)?,
        floor: r.get(3)?,
        room: r.get(4)?,
        house_use: r.parse(5, "house use", HouseUse::parse)?,
        households: r.get(6)?,
    })
}

fn read_population(r: &RowReader<'_, '_>) -> Result<Population, GpkgError> {
    let mut care = [0i32; CareCounts::FIELDS.len()];
    for (i, count) in care.iter_mut().enumerate() {
        *count = r.get(4 + i)?;
    }
    Ok(Population {
        house_code: r.get(0)?,
        counts: PopulationCounts {
            registered: r.get(1)?,
            floating: r.get(2)?,
            overseas: r.get(3)?,
            care: CareCounts::from_array(care),
        },
    })
}

fn read_worker(r: &RowReader<'_, '_>) -> Result<Worker, GpkgError> {
    Ok(Worker {
        code: r.get(0)?,
        name: r.get(1)?,
        phone: r.get(2)?,
        role: r.parse(3, "worker role", WorkerRole::parse)?,
        home_code: r.get(4)?,
        device: r.get(5)?,
    })
}

fn read_basemap(r: &RowReader<'_, '_>) -> Result<BasemapFeature, GpkgError> {
    let kind = r.parse(2, "basemap kind", BasemapKind::parse)?;
    BasemapFeature::new(r.get(1)?, kind, r.get(3)?, r.geometry(0)?)
        .map_err(|e| r.bad(e.to_string()))
}

pub(super) fn read_event(r: &RowReader<'_, '_>) -> Result<Event, GpkgError> {
    let location = match r.geometry(0)? {
        Geometry::Point(p) => p,
        other => {
            return Err(r.bad(format!(
                "its geometry is a {}, expected a Point",
                geometry_type_name(&other)
            )))
        }
    };
    let score: Option<i16> = r.get(18)?;
    let comment: Option<String> = r.get(19)?;
    Ok(Event {
        code: r.get(1)?,
        external_id: r.get(2)?,
        title: r.get(3)?,
        category: r.get(4)?,
        source: r.parse(5, "event source", EventSource::parse)?,
        content: r.get(6)?,
        reporter_name: r.get(7)?,
        reporter_phone: r.get(8)?,
        location,
        address: r.get(9)?,
        area_code: r.get(10)?,
        outside_grid: r.get(11)?,
        status: r.parse(12, "event status", EventStatus::parse)?,
        level: r.parse(13, "handling level", HandlingLevel::parse)?,
        department: r.get(14)?,
        reported_at: r.time(15)?,
        deadline: r.time_opt(16)?,
        closed_at: r.time_opt(17)?,
        evaluation: score.map(|score| Evaluation { score, comment }),
        idempotency_scope: r.get(20)?,
        transitions: Vec::new(),
    })
}

pub(super) fn read_transitions(
    stmt: &mut Statement<'_>,
    event_code: &str,
) -> Result<Vec<Transition>, GpkgError> {
    let doing = || format!("reading the transitions of event {event_code}");
    let mut rows = stmt
        .query([event_code])
        .map_err(GpkgError::sqlite(doing()))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(GpkgError::sqlite(doing()))? {
        let r = RowReader::keyed(row, "event_transition", event_code);
        out.push(Transition {
            at: r.time(0)?,
            from: r.parse_opt(1, "event status", EventStatus::parse)?,
            to: r.parse(2, "event status", EventStatus::parse)?,
            actor: r.get(3)?,
            level: r.parse(4, "handling level", HandlingLevel::parse)?,
            department: r.get(5)?,
            note: r.get(6)?,
        });
    }
    Ok(out)
}
