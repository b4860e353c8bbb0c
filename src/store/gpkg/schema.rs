//! The GeoPackage 1.3 schema gridmap writes: the `gpkg_*` metadata tables, our feature and
//! attribute tables, the R-tree index extension, and schema upgrades.
//!
//! `PRAGMA user_version` belongs to GeoPackage (10300), so gridmap's own schema version lives in
//! the table `gridmap_meta` (not registered in `gpkg_contents`, so GIS clients do not list it).
//! Its presence, with `application = gridmap`, is also how a file is recognised as ours.

use std::path::Path;

use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior};

use crate::model::{CareCounts, STORAGE_SRID};

use super::error::GpkgError;

/// `PRAGMA application_id` of every GeoPackage: ASCII `GPKG`.
pub const GPKG_APPLICATION_ID: i32 = 0x4750_4B47;
/// `PRAGMA user_version` of a GeoPackage 1.3 file.
pub const GPKG_USER_VERSION: i32 = 10300;
/// The name of every geometry column.
pub const GEOMETRY_COLUMN: &str = "geom";

/// One upgrade step: brings the schema from version N-1 to N (index N-1 in [`MIGRATIONS`]).
type Migration = fn(&Connection) -> rusqlite::Result<()>;

/// All schema versions in order; the current version is their count.
const MIGRATIONS: [Migration; 4] = [create_v1, create_v2, create_v3, create_v4];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// What kind of content a table holds, as `gpkg_contents` records it.
#[derive(Debug, Clone, Copy)]
enum Content {
    /// A feature table with its geometry type name.
    Features(&'static str),
    Attributes,
}

/// One table gridmap stores, with its `gpkg_contents` registration.
struct Table {
    name: &'static str,
    content: Content,
    description: &'static str,
}

const TABLES: [Table; 10] = [
    Table {
        name: "area",
        content: Content::Features("MULTIPOLYGON"),
        description:
            "Areas of every layer: base grids and their parents, special and business grids (网格)",
    },
    Table {
        name: "building",
        content: Content::Features("POLYGON"),
        description: "Building footprints (楼栋)",
    },
    Table {
        name: "event",
        content: Content::Features("POINT"),
        description: "Events reported by grid workers and residents (事件)",
    },
    Table {
        name: "worker_fix",
        content: Content::Features("POINT"),
        description: "GPS fixes of grid workers",
    },
    Table {
        name: "house",
        content: Content::Attributes,
        description: "Houses (实有房屋)",
    },
    Table {
        name: "population",
        content: Content::Attributes,
        description: "Population counts per house, without identifiers (实有人口)",
    },
    Table {
        name: "event_transition",
        content: Content::Attributes,
        description: "The step log of each event",
    },
    Table {
        name: "worker",
        content: Content::Attributes,
        description: "Grid workers (网格员)",
    },
    Table {
        name: "basemap",
        content: Content::Features("GEOMETRY"),
        description: "Basemap: roads (LineString), rivers (LineString) and water (MultiPolygon)",
    },
    Table {
        name: "worker_alert",
        content: Content::Features("POINT"),
        description: "Alerts about grid workers: out of their home area (越界)",
    },
];

/// The tables version 1 created (version 2 added `basemap`, version 4 `worker_alert`).
const V1_TABLES: usize = 8;
/// The tables up to version 3.
const V3_TABLES: usize = 9;

/// The feature tables (with a geometry column and an R-tree) among `tables`.
fn feature_tables(tables: &'static [Table]) -> impl Iterator<Item = &'static str> {
    tables
        .iter()
        .filter(|t| matches!(t.content, Content::Features(_)))
        .map(|t| t.name)
}

/// What an existing file turned out to be.
enum FileState {
    /// A new or empty SQLite file.
    Fresh,
    /// A gridmap GeoPackage at this schema version.
    Gridmap(i64),
}

/// Brings the file behind `conn` to the current schema: creates it when new, upgrades an older
/// one, refuses a foreign or newer file. Sets WAL mode only once the file is known to be ours.
pub fn prepare(conn: &mut Connection, path: &Path) -> Result<(), GpkgError> {
    let from = match inspect(conn, path)? {
        FileState::Fresh => 0,
        FileState::Gridmap(v) => v,
    };
    if from > SCHEMA_VERSION {
        return Err(GpkgError::TooNew {
            path: path.display().to_string(),
            found: from,
            known: SCHEMA_VERSION,
        });
    }
    conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
        .map_err(GpkgError::sqlite("switching to WAL journal mode"))?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(GpkgError::sqlite("setting synchronous = FULL"))?;
    if from < SCHEMA_VERSION {
        migrate(conn, path, from)?;
    }
    Ok(())
}

fn inspect(conn: &Connection, path: &Path) -> Result<FileState, GpkgError> {
    let application_id: i32 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(|e| {
            if e.sqlite_error_code() == Some(ErrorCode::NotADatabase) {
                GpkgError::foreign(path, "it is not a SQLite database")
            } else {
                GpkgError::Open {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                }
            }
        })?;
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .map_err(GpkgError::sqlite("listing the tables"))?;
    if application_id == 0 && tables == 0 {
        return Ok(FileState::Fresh);
    }
    if application_id != GPKG_APPLICATION_ID {
        return Err(GpkgError::foreign(
            path,
            format!("application_id {application_id:#010x}, expected {GPKG_APPLICATION_ID:#010x} 'GPKG'"),
        ));
    }
    let has_meta: bool = conn
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'gridmap_meta'",
            [],
            |r| r.get(0),
        )
        .map_err(GpkgError::sqlite("looking for gridmap_meta"))?;
    if !has_meta {
        return Err(GpkgError::foreign(
            path,
            "a GeoPackage without gridmap's table gridmap_meta",
        ));
    }
    let meta = |key: &str| -> Result<Option<String>, GpkgError> {
        conn.query_row(
            "SELECT value FROM gridmap_meta WHERE key = ?1",
            [key],
            |r| r.get(0),
        )
        .optional()
        .map_err(GpkgError::sqlite("reading gridmap_meta"))
    };
    if meta("application")?.as_deref() != Some("gridmap") {
        return Err(GpkgError::foreign(
            path,
            "gridmap_meta does not name gridmap as its application",
        ));
    }
    let version = meta("schema_version")?
        .and_then(|v| v.parse::<i64>().ok())
        .ok_or_else(|| GpkgError::foreign(path, "gridmap_meta has no valid schema_version"))?;
    Ok(FileState::Gridmap(version))
}

/// Runs the migrations after `from` in one transaction, then stamps the GeoPackage pragmas.
fn migrate(conn: &mut Connection, path: &Path, from: i64) -> Result<(), GpkgError> {
    let failed = |source| GpkgError::Migration {
        path: path.display().to_string(),
        from,
        to: SCHEMA_VERSION,
        source,
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(failed)?;
    let start = usize::try_from(from).unwrap_or(0);
    for step in &MIGRATIONS[start..] {
        step(&tx).map_err(failed)?;
    }
    tx.pragma_update(None, "application_id", GPKG_APPLICATION_ID)
        .map_err(failed)?;
    tx.pragma_update(None, "user_version", GPKG_USER_VERSION)
        .map_err(failed)?;
    tx.execute(
        "INSERT INTO gridmap_meta (key, value) VALUES ('schema_version', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [SCHEMA_VERSION.to_string()],
    )
    .map_err(failed)?;
    tx.commit().map_err(failed)
}

/// Version 1: the GeoPackage core, every gridmap table, their registrations and R-trees.
fn create_v1(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(GPKG_CORE)?;
    conn.execute_batch(SPATIAL_REF_SYS)?;
    conn.execute_batch(GRIDMAP_TABLES)?;
    conn.execute_batch(&population_ddl())?;
    for table in &TABLES[..V1_TABLES] {
        register(conn, table)?;
    }
    for table in feature_tables(&TABLES[..V1_TABLES]) {
        conn.execute_batch(&rtree_ddl(table, GEOMETRY_COLUMN))?;
    }
    conn.execute_batch(
        "CREATE TABLE gridmap_meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
         INSERT INTO gridmap_meta (key, value) VALUES ('application', 'gridmap');",
    )
}

/// Version 2: the `basemap` feature table (roads, rivers, water), registered with its R-tree.
/// Its geometry type is GEOMETRY because lines and polygons share it; `kind` says which.
fn create_v2(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE basemap (
  fid INTEGER PRIMARY KEY NOT NULL,
  geom GEOMETRY,
  code TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL CHECK (kind IN ('motorway', 'primary', 'secondary', 'river', 'water')),
  name TEXT NOT NULL
);",
    )?;
    for table in TABLES[V1_TABLES..V3_TABLES].iter() {
        register(conn, table)?;
        conn.execute_batch(&rtree_ddl(table.name, GEOMETRY_COLUMN))?;
    }
    Ok(())
}

/// Version 3: idempotency keys scoped by jurisdiction. `event` gains `idempotency_scope` and
/// its unique key becomes (idempotency_scope, source, external_id) instead of (source,
/// external_id); rows already stored join the city's key space (the root base area), as in
/// `migrations/0004_event_idempotency_scope.sql`. SQLite cannot drop a constraint, so the table
/// is rebuilt with the same fids (its R-tree stays valid) and its index and R-tree triggers are
/// made again (dropping a table drops its triggers without firing them).
fn create_v3(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(EVENT_V3)?;
    conn.execute_batch(&rtree_triggers("event", GEOMETRY_COLUMN))
}

/// Version 4: the `worker_alert` feature table, registered with its R-tree.
fn create_v4(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE worker_alert (
  fid INTEGER PRIMARY KEY NOT NULL,
  geom POINT,
  id TEXT NOT NULL UNIQUE,
  worker_code TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('out_of_grid')),
  home_code TEXT NOT NULL,
  raised_at DATETIME NOT NULL,
  cleared_at DATETIME,
  distance_m DOUBLE NOT NULL CHECK (distance_m >= 0)
);
CREATE INDEX worker_alert_raised_at ON worker_alert (raised_at);",
    )?;
    for table in TABLES[V3_TABLES..].iter() {
        register(conn, table)?;
        conn.execute_batch(&rtree_ddl(table.name, GEOMETRY_COLUMN))?;
    }
    Ok(())
}

/// The rebuild of `event` (see [`create_v3`]).
const EVENT_V3: &str = "CREATE TABLE event_v3 (
  fid INTEGER PRIMARY KEY NOT NULL,
  geom POINT,
  code TEXT NOT NULL UNIQUE,
  external_id TEXT,
  title TEXT NOT NULL,
  category TEXT NOT NULL,
  source TEXT NOT NULL,
  content TEXT NOT NULL,
  reporter_name TEXT,
  reporter_phone TEXT,
  address TEXT,
  area_code TEXT,
  outside_grid BOOLEAN NOT NULL,
  status TEXT NOT NULL,
  level TEXT NOT NULL,
  department TEXT,
  reported_at DATETIME NOT NULL,
  deadline DATETIME,
  closed_at DATETIME,
  evaluation_score INTEGER,
  evaluation_comment TEXT,
  idempotency_scope TEXT NOT NULL DEFAULT '',
  CONSTRAINT event_scope_source_external_id UNIQUE (idempotency_scope, source, external_id)
);
INSERT INTO event_v3 (fid, geom, code, external_id, title, category, source, content,
  reporter_name, reporter_phone, address, area_code, outside_grid, status, level, department,
  reported_at, deadline, closed_at, evaluation_score, evaluation_comment, idempotency_scope)
SELECT fid, geom, code, external_id, title, category, source, content,
  reporter_name, reporter_phone, address, area_code, outside_grid, status, level, department,
  reported_at, deadline, closed_at, evaluation_score, evaluation_comment,
  coalesce((SELECT code FROM area WHERE layer = 'base' AND parent_code IS NULL
            ORDER BY code LIMIT 1), '')
FROM event;
DROP TABLE event;
ALTER TABLE event_v3 RENAME TO event;
CREATE INDEX event_reported_at ON event (reported_at);";

/// Registers a table in `gpkg_contents` (and `gpkg_geometry_columns` for features).
fn register(conn: &Connection, table: &Table) -> rusqlite::Result<()> {
    match table.content {
        Content::Features(geometry_type) => {
            conn.execute(
                "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
                 VALUES (?1, 'features', ?1, ?2, ?3)",
                rusqlite::params![table.name, table.description, STORAGE_SRID],
            )?;
            conn.execute(
                "INSERT INTO gpkg_geometry_columns (table_name, column_name, geometry_type_name, srs_id, z, m)
                 VALUES (?1, ?2, ?3, ?4, 0, 0)",
                rusqlite::params![table.name, GEOMETRY_COLUMN, geometry_type, STORAGE_SRID],
            )?;
        }
        Content::Attributes => {
            conn.execute(
                "INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
                 VALUES (?1, 'attributes', ?1, ?2)",
                rusqlite::params![table.name, table.description],
            )?;
        }
    }
    Ok(())
}

/// The R-tree of one geometry column, its registration, and the GeoPackage triggers that keep
/// it current (they call the functions in `functions.rs`). These are the triggers of GeoPackage
/// 1.4 (`update5`–`update7` instead of 1.3's `update1`/`update3`): 1.3's `INSERT OR REPLACE`
/// inside an update trigger fails under `INSERT … ON CONFLICT DO UPDATE`, which every upsert
/// here is.
fn rtree_ddl(t: &str, c: &str) -> String {
    let r = format!("rtree_{t}_{c}");
    format!(
        "CREATE VIRTUAL TABLE {r} USING rtree(id, minx, maxx, miny, maxy);
         INSERT INTO gpkg_extensions (table_name, column_name, extension_name, definition, scope)
           VALUES ('{t}', '{c}', 'gpkg_rtree_index', 'http://www.geopackage.org/spec120/#extension_rtree', 'write-only');
         {}",
        rtree_triggers(t, c)
    )
}

/// The triggers that keep the R-tree of column `c` of table `t` current.
fn rtree_triggers(t: &str, c: &str) -> String {
    let r = format!("rtree_{t}_{c}");
    let bounds = format!("ST_MinX(NEW.{c}), ST_MaxX(NEW.{c}), ST_MinY(NEW.{c}), ST_MaxY(NEW.{c})");
    let new_present = format!("(NEW.{c} NOTNULL AND NOT ST_IsEmpty(NEW.{c}))");
    let new_absent = format!("(NEW.{c} ISNULL OR ST_IsEmpty(NEW.{c}))");
    format!(
        "CREATE TRIGGER {r}_insert AFTER INSERT ON {t}
           WHEN {new_present}
           BEGIN INSERT OR REPLACE INTO {r} VALUES (NEW.fid, {bounds}); END;
         CREATE TRIGGER {r}_update6 AFTER UPDATE OF {c} ON {t}
           WHEN OLD.fid = NEW.fid AND {new_present} AND (OLD.{c} NOTNULL AND NOT ST_IsEmpty(OLD.{c}))
           BEGIN UPDATE {r} SET minx = ST_MinX(NEW.{c}), maxx = ST_MaxX(NEW.{c}),
                 miny = ST_MinY(NEW.{c}), maxy = ST_MaxY(NEW.{c}) WHERE id = NEW.fid; END;
         CREATE TRIGGER {r}_update7 AFTER UPDATE OF {c} ON {t}
           WHEN OLD.fid = NEW.fid AND {new_present} AND (OLD.{c} ISNULL OR ST_IsEmpty(OLD.{c}))
           BEGIN INSERT INTO {r} VALUES (NEW.fid, {bounds}); END;
         CREATE TRIGGER {r}_update2 AFTER UPDATE OF {c} ON {t}
           WHEN OLD.fid = NEW.fid AND {new_absent}
           BEGIN DELETE FROM {r} WHERE id = OLD.fid; END;
         CREATE TRIGGER {r}_update5 AFTER UPDATE ON {t}
           WHEN OLD.fid != NEW.fid AND {new_present}
           BEGIN DELETE FROM {r} WHERE id = OLD.fid; INSERT INTO {r} VALUES (NEW.fid, {bounds}); END;
         CREATE TRIGGER {r}_update4 AFTER UPDATE ON {t}
           WHEN OLD.fid != NEW.fid AND {new_absent}
           BEGIN DELETE FROM {r} WHERE id IN (OLD.fid, NEW.fid); END;
         CREATE TRIGGER {r}_delete AFTER DELETE ON {t}
           WHEN OLD.{c} NOT NULL
           BEGIN DELETE FROM {r} WHERE id = OLD.fid; END;"
    )
}

/// The population table: registration counts plus one column per [`CareCounts::FIELDS`].
fn population_ddl() -> String {
    let care: String = CareCounts::FIELDS
        .iter()
        .map(|f| format!(",\n  {f} INTEGER NOT NULL DEFAULT 0"))
        .collect();
    format!(
        "CREATE TABLE population (
  fid INTEGER PRIMARY KEY NOT NULL,
  house_code TEXT NOT NULL UNIQUE,
  registered INTEGER NOT NULL,
  floating INTEGER NOT NULL,
  overseas INTEGER NOT NULL{care}
);"
    )
}

/// The GeoPackage core tables, as GDAL creates them.
const GPKG_CORE: &str = "
CREATE TABLE gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL PRIMARY KEY,
  organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL,
  definition TEXT NOT NULL,
  description TEXT
);
CREATE TABLE gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY,
  data_type TEXT NOT NULL,
  identifier TEXT UNIQUE,
  description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE,
  srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id)
);
CREATE TABLE gpkg_geometry_columns (
  table_name TEXT NOT NULL,
  column_name TEXT NOT NULL,
  geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL,
  z TINYINT NOT NULL,
  m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id)
);
CREATE TABLE gpkg_extensions (
  table_name TEXT,
  column_name TEXT,
  extension_name TEXT NOT NULL,
  definition TEXT NOT NULL,
  scope TEXT NOT NULL,
  CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name)
);
";

/// The required SRS rows (-1, 0, 4326) and CGCS2000 (4490), with GDAL's WKT definitions.
const SPATIAL_REF_SYS: &str = r#"
INSERT INTO gpkg_spatial_ref_sys VALUES ('Undefined Cartesian SRS', -1, 'NONE', -1, 'undefined',
  'undefined Cartesian coordinate reference system');
INSERT INTO gpkg_spatial_ref_sys VALUES ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined',
  'undefined geographic coordinate reference system');
INSERT INTO gpkg_spatial_ref_sys VALUES ('WGS 84 geodetic', 4326, 'EPSG', 4326,
  'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]',
  'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid');
INSERT INTO gpkg_spatial_ref_sys VALUES ('China Geodetic Coordinate System 2000', 4490, 'EPSG', 4490,
  'GEOGCS["China Geodetic Coordinate System 2000",DATUM["China_2000",SPHEROID["CGCS2000",6378137,298.257222101,AUTHORITY["EPSG","1024"]],AUTHORITY["EPSG","1043"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4490"]]',
  'longitude/latitude coordinates in decimal degrees on the CGCS2000 spheroid (storage CRS of gridmap)');
"#;

/// gridmap's tables except `population` (whose care columns come from the model).
const GRIDMAP_TABLES: &str = "
CREATE TABLE area (
  fid INTEGER PRIMARY KEY NOT NULL,
  geom MULTIPOLYGON,
  code TEXT NOT NULL UNIQUE,
  layer TEXT NOT NULL,
  level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 6),
  name TEXT NOT NULL,
  parent_code TEXT,
  leader_name TEXT,
  leader_phone TEXT,
  leader_photo_url TEXT,
  urban_rural INTEGER,
  valid_from DATE,
  valid_to DATE,
  center_lon DOUBLE,
  center_lat DOUBLE
);
CREATE INDEX area_parent_code ON area (parent_code);
CREATE TABLE building (
  fid INTEGER PRIMARY KEY NOT NULL,
  geom POLYGON,
  code TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  address TEXT,
  compound TEXT,
  building_use TEXT NOT NULL,
  floors INTEGER NOT NULL,
  height_m DOUBLE NOT NULL,
  grid_code TEXT
);
CREATE TABLE house (
  fid INTEGER PRIMARY KEY NOT NULL,
  code TEXT NOT NULL UNIQUE,
  building_code TEXT NOT NULL,
  unit INTEGER NOT NULL,
  floor INTEGER NOT NULL,
  room TEXT NOT NULL,
  house_use TEXT NOT NULL,
  households INTEGER NOT NULL
);
CREATE INDEX house_building_code ON house (building_code);
CREATE TABLE event (
  fid INTEGER PRIMARY KEY NOT NULL,
  geom POINT,
  code TEXT NOT NULL UNIQUE,
  external_id TEXT,
  title TEXT NOT NULL,
  category TEXT NOT NULL,
  source TEXT NOT NULL,
  content TEXT NOT NULL,
  reporter_name TEXT,
  reporter_phone TEXT,
  address TEXT,
  area_code TEXT,
  outside_grid BOOLEAN NOT NULL,
  status TEXT NOT NULL,
  level TEXT NOT NULL,
  department TEXT,
  reported_at DATETIME NOT NULL,
  deadline DATETIME,
  closed_at DATETIME,
  evaluation_score INTEGER,
  evaluation_comment TEXT,
  CONSTRAINT event_source_external_id UNIQUE (source, external_id)
);
CREATE INDEX event_reported_at ON event (reported_at);
CREATE TABLE event_transition (
  fid INTEGER PRIMARY KEY NOT NULL,
  event_code TEXT NOT NULL,
  seq INTEGER NOT NULL,
  at DATETIME NOT NULL,
  from_status TEXT,
  to_status TEXT NOT NULL,
  actor TEXT NOT NULL,
  level TEXT NOT NULL,
  department TEXT,
  note TEXT,
  CONSTRAINT event_transition_event_seq UNIQUE (event_code, seq)
);
CREATE TABLE worker (
  fid INTEGER PRIMARY KEY NOT NULL,
  code TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  phone TEXT,
  role TEXT NOT NULL,
  home_code TEXT NOT NULL,
  device TEXT
);
CREATE TABLE worker_fix (
  fid INTEGER PRIMARY KEY NOT NULL,
  geom POINT,
  worker_code TEXT NOT NULL,
  at DATETIME NOT NULL,
  accuracy_m DOUBLE,
  speed_mps DOUBLE,
  heading_deg DOUBLE,
  source_crs TEXT NOT NULL,
  CONSTRAINT worker_fix_worker_at UNIQUE (worker_code, at)
);
";

#[cfg(test)]
mod tests {
    use super::*;

    /// A version-2 file with a city and an event, upgraded to version 3.
    #[test]
    fn version_3_scopes_stored_keys_to_the_city_and_keeps_the_r_tree() {
        let conn = Connection::open_in_memory().expect("memory");
        super::super::functions::register(&conn).expect("functions");
        create_v1(&conn).expect("v1");
        create_v2(&conn).expect("v2");
        conn.execute_batch(
            "INSERT INTO area (code, layer, level, name, parent_code)
               VALUES ('410611', 'base', 2, '淇滨区', '410600'),
                      ('410600', 'base', 1, '鹤壁市', NULL);
             INSERT INTO event (fid, code, external_id, title, category, source, content,
               outside_grid, status, level, reported_at)
               VALUES (7, 'E20260101000001', 'k-1', 't', '0101', 'app', '', 0, 'reported',
               'community', '2026-01-01T00:00:00Z');
             INSERT INTO rtree_event_geom VALUES (7, 114.0, 114.0, 35.0, 35.0);",
        )
        .expect("v2 rows");
        create_v3(&conn).expect("v3");
        let (fid, scope): (i64, String) = conn
            .query_row(
                "SELECT fid, idempotency_scope FROM event WHERE external_id = 'k-1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("migrated row");
        assert_eq!((fid, scope.as_str()), (7, "410600"));
        let twin = |scope: &str| {
            conn.execute(
                "INSERT INTO event (code, external_id, title, category, source, content,
                   outside_grid, status, level, reported_at, idempotency_scope)
                 VALUES (?1, 'k-1', 't', '0101', 'app', '', 0, 'reported', 'community',
                   '2026-01-01T00:00:00Z', ?2)",
                [format!("E-{scope}"), scope.to_string()],
            )
        };
        assert!(
            twin("410611").is_ok(),
            "another jurisdiction may reuse the key"
        );
        assert!(twin("410600").is_err(), "the same jurisdiction may not");
        let triggers: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'event'",
                [],
                |r| r.get(0),
            )
            .expect("triggers");
        assert_eq!(triggers, 7, "the R-tree triggers are back");
        let indexed: i64 = conn
            .query_row("SELECT count(*) FROM rtree_event_geom", [], |r| r.get(0))
            .expect("r-tree");
        assert_eq!(indexed, 1);
    }
}
