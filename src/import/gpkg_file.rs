//! GeoPackage input: one table of a `.gpkg` file, read with rusqlite.
//!
//! The table is the one named like the kind (`area`/`areas`, `building`/`buildings` …), else
//! the only feature table (spatial kinds) or the only attributes table (houses, population,
//! workers). Geometry blobs are split by `store::gpkg::blob::header` (the GeoPackage header:
//! magic, version, flags, srs_id, envelope) and their WKB is read by geozero. The table's CRS
//! comes from `gpkg_geometry_columns` and `gpkg_spatial_ref_sys`.

use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use serde_json::{Map, Value};

use super::error::ImportError;
use super::geometry::{from_geozero, RawGeometry};
use super::source::{RawFeature, SourceFile};
use super::ImportKind;
use crate::crs::Crs;
use crate::store::gpkg::blob;

/// A table listed in `gpkg_contents`.
#[derive(Debug)]
struct Table {
    name: String,
    data_type: String,
}

/// The geometry column of a feature table and the CRS it declares.
struct GeometryColumn {
    name: String,
    crs: Result<Option<Crs>, String>,
}

/// Reads the table of `kind` from a GeoPackage.
pub fn read(path: &Path, kind: ImportKind) -> Result<SourceFile, ImportError> {
    let fail = |reason: String| ImportError::GeoPackage {
        path: path.display().to_string(),
        reason,
    };
    let db = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| fail(e.to_string()))?;
    let tables = tables(&db).map_err(|e| fail(format!("cannot list gpkg_contents: {e}")))?;
    let table = choose_table(&tables, kind).map_err(fail)?;
    let geometry_column = if table.data_type == "features" {
        Some(
            geometry_column(&db, &table.name)
                .map_err(|e| fail(format!("table {}: {e}", table.name)))?,
        )
    } else {
        None
    };
    let declared_crs = match geometry_column.as_ref().map(|g| g.crs.clone()) {
        Some(Err(reason)) => {
            return Err(ImportError::DeclaredCrs {
                path: path.display().to_string(),
                reason,
            })
        }
        Some(Ok(crs)) => crs,
        None => None,
    };
    let geometry_name = geometry_column.map(|g| g.name);
    let features = rows(&db, &table.name, geometry_name.as_deref())
        .map_err(|e| fail(format!("table {}: {e}", table.name)))?;
    Ok(SourceFile {
        declared_crs,
        features,
    })
}

fn tables(db: &Connection) -> rusqlite::Result<Vec<Table>> {
    let mut stmt =
        db.prepare("SELECT table_name, data_type FROM gpkg_contents ORDER BY table_name")?;
    let rows = stmt.query_map([], |r| {
        Ok(Table {
            name: r.get(0)?,
            data_type: r.get(1)?,
        })
    })?;
    rows.collect()
}

fn choose_table(tables: &[Table], kind: ImportKind) -> Result<&Table, String> {
    let singular = kind.table_name();
    let plural = kind.as_str();
    if let Some(t) = tables
        .iter()
        .find(|t| t.name.eq_ignore_ascii_case(singular) || t.name.eq_ignore_ascii_case(plural))
    {
        return Ok(t);
    }
    let wanted = if kind.is_spatial() {
        "features"
    } else {
        "attributes"
    };
    let named_for_another_kind = |t: &Table| {
        ImportKind::ALL.iter().any(|k| {
            t.name.eq_ignore_ascii_case(k.table_name()) || t.name.eq_ignore_ascii_case(k.as_str())
        })
    };
    let candidates: Vec<&Table> = tables
        .iter()
        .filter(|t| t.data_type == wanted && !named_for_another_kind(t))
        .collect();
    match candidates.as_slice() {
        [only] => Ok(only),
        _ => Err(format!(
            "no table named {singular:?} or {plural:?}, and {} other {wanted} table to choose from (tables: {})",
            if candidates.is_empty() { "no" } else { "several" },
            if tables.is_empty() {
                "none".to_string()
            } else {
                tables.iter().map(|t| format!("{} ({})", t.name, t.data_type)).collect::<Vec<_>>().join(", ")
            }
        )),
    }
}

fn geometry_column(db: &Connection, table: &str) -> rusqlite::Result<GeometryColumn> {
    let (name, srs_id): (String, i64) = db.query_row(
        "SELECT column_name, srs_id FROM gpkg_geometry_columns WHERE table_name = ?1",
        [table],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let srs: Option<(String, i64)> = db
        .query_row(
            "SELECT organization, organization_coordsys_id FROM gpkg_spatial_ref_sys WHERE srs_id = ?1",
            [srs_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .ok();
    Ok(GeometryColumn {
        name,
        crs: srs_crs(srs_id, srs),
    })
}

/// The CRS of a GeoPackage `srs_id`: none declared for the spec's "undefined" systems (-1, 0),
/// else the EPSG code of its organization.
fn srs_crs(srs_id: i64, srs: Option<(String, i64)>) -> Result<Option<Crs>, String> {
    if srs_id == -1 || srs_id == 0 {
        return Ok(None);
    }
    let (organization, code) = srs.unwrap_or(("EPSG".to_string(), srs_id));
    if !organization.eq_ignore_ascii_case("EPSG") {
        return Err(format!(
            "srs_id {srs_id} is {organization}:{code}, not an EPSG system"
        ));
    }
    u32::try_from(code)
        .ok()
        .and_then(Crs::from_epsg)
        .map(Some)
        .ok_or_else(|| format!("EPSG:{code} is not one of {}", crate::crs::ACCEPTED))
}

fn rows(db: &Connection, table: &str, geometry: Option<&str>) -> rusqlite::Result<Vec<RawFeature>> {
    let mut stmt = db.prepare(&format!("SELECT * FROM \"{}\"", table.replace('"', "\"\"")))?;
    let names: Vec<String> = stmt
        .column_names()
        .iter()
        .map(|n| n.to_ascii_lowercase())
        .collect();
    let geometry = geometry.map(str::to_ascii_lowercase);
    let mut rows = stmt.query([])?;
    let mut features = Vec::new();
    while let Some(row) = rows.next()? {
        let mut properties = Map::new();
        let mut raw_geometry = None;
        for (i, name) in names.iter().enumerate() {
            let value = row.get_ref(i)?;
            if Some(name) == geometry.as_ref() {
                raw_geometry = geometry_value(value);
            } else if let Some(v) = json_value(value) {
                properties.insert(name.clone(), v);
            }
        }
        features.push(RawFeature {
            index: features.len(),
            properties,
            geometry: raw_geometry,
        });
    }
    Ok(features)
}

fn json_value(value: ValueRef<'_>) -> Option<Value> {
    match value {
        ValueRef::Null | ValueRef::Blob(_) => None,
        ValueRef::Integer(i) => Some(i.into()),
        ValueRef::Real(r) => serde_json::Number::from_f64(r).map(Value::Number),
        ValueRef::Text(t) => Some(Value::String(String::from_utf8_lossy(t).into_owned())),
    }
}

fn geometry_value(value: ValueRef<'_>) -> Option<Result<RawGeometry, String>> {
    let ValueRef::Blob(bytes) = value else {
        return match value {
            ValueRef::Null => None,
            _ => Some(Err("the geometry column holds a non-blob value".to_string())),
        };
    };
    let header = match blob::header(bytes) {
        Ok(h) => h,
        Err(e) => return Some(Err(e.to_string())),
    };
    if header.empty {
        return None;
    }
    Some(from_geozero(&geozero::wkb::Wkb(
        &bytes[header.wkb_offset..],
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undefined_srs_declares_nothing() {
        assert_eq!(srs_crs(-1, None), Ok(None));
        assert_eq!(srs_crs(0, None), Ok(None));
    }

    #[test]
    fn epsg_systems_map_to_crs() {
        assert_eq!(
            srs_crs(4490, Some(("EPSG".into(), 4490))),
            Ok(Some(Crs::Cgcs2000))
        );
        assert_eq!(
            srs_crs(100, Some(("epsg".into(), 4547))),
            Ok(Some(Crs::GaussKruger(4547)))
        );
        assert!(srs_crs(100, Some(("ESRI".into(), 102100)))
            .unwrap_err()
            .contains("ESRI:102100"));
        assert!(srs_crs(2000, Some(("EPSG".into(), 2000)))
            .unwrap_err()
            .contains("EPSG:2000"));
    }

    #[test]
    fn table_choice() {
        let t = |name: &str, data_type: &str| Table {
            name: name.into(),
            data_type: data_type.into(),
        };
        let tables = vec![
            t("area", "features"),
            t("building", "features"),
            t("house", "attributes"),
        ];
        assert_eq!(
            choose_table(&tables, ImportKind::Buildings).unwrap().name,
            "building"
        );
        let err = choose_table(&tables, ImportKind::Population).unwrap_err();
        assert!(
            err.contains("no other attributes table") && err.contains("house (attributes)"),
            "{err}"
        );
        let tables = vec![t("parcels", "features")];
        assert_eq!(
            choose_table(&tables, ImportKind::Areas).unwrap().name,
            "parcels"
        );
        assert!(choose_table(&[], ImportKind::Areas)
            .unwrap_err()
            .contains("tables: none"));
    }
}
