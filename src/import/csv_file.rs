//! CSV input: a header row naming the model's fields, one feature per row.
//!
//! Geometry columns: a point from `lon`,`lat` (also `longitude`,`latitude` or `x`,`y`); any
//! geometry as WKT in a `wkt` or `geometry` column. Non-spatial kinds (houses, population,
//! workers) need neither. Cells are text; empty cells count as absent.

use std::path::Path;

use serde_json::{Map, Value};

use super::error::ImportError;
use super::geometry::{from_geozero, RawGeometry};
use super::source::{RawFeature, SourceFile};

/// Column pairs read as a point, in order of preference.
const POINT_COLUMNS: [(&str, &str); 3] = [("lon", "lat"), ("longitude", "latitude"), ("x", "y")];
/// Columns read as WKT, in order of preference.
const WKT_COLUMNS: [&str; 2] = ["wkt", "geometry"];

/// Where a row's geometry comes from.
enum GeometryColumns {
    None,
    Point(usize, usize),
    Wkt(usize),
}

/// Reads a CSV file with a header row.
pub fn read(path: &Path) -> Result<SourceFile, ImportError> {
    let csv_error = |reason: String| ImportError::Csv {
        path: path.display().to_string(),
        reason,
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| csv_error(e.to_string()))?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(e.to_string()))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_ascii_lowercase())
        .collect();
    let geometry_columns = geometry_columns(&headers);
    let mut features = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|e| csv_error(format!("row {}: {e}", index + 2)))?;
        features.push(feature(index, &headers, &record, &geometry_columns));
    }
    Ok(SourceFile {
        declared_crs: None,
        features,
    })
}

fn geometry_columns(headers: &[String]) -> GeometryColumns {
    let find = |name: &str| headers.iter().position(|h| h == name);
    if let Some((x, y)) = POINT_COLUMNS
        .iter()
        .find_map(|(x, y)| Some((find(x)?, find(y)?)))
    {
        return GeometryColumns::Point(x, y);
    }
    WKT_COLUMNS
        .iter()
        .find_map(|c| find(c))
        .map_or(GeometryColumns::None, GeometryColumns::Wkt)
}

fn feature(
    index: usize,
    headers: &[String],
    record: &csv::StringRecord,
    columns: &GeometryColumns,
) -> RawFeature {
    let properties: Map<String, Value> = headers
        .iter()
        .zip(record.iter())
        .filter(|(_, cell)| !cell.is_empty())
        .map(|(h, cell)| (h.clone(), Value::String(cell.to_string())))
        .collect();
    let geometry = match columns {
        GeometryColumns::None => None,
        GeometryColumns::Point(x, y) => point(record.get(*x), record.get(*y)),
        GeometryColumns::Wkt(c) => record
            .get(*c)
            .filter(|cell| !cell.is_empty())
            .map(|cell| from_geozero(&geozero::wkt::Wkt(cell))),
    };
    RawFeature {
        index,
        properties,
        geometry,
    }
}

fn point(x: Option<&str>, y: Option<&str>) -> Option<Result<RawGeometry, String>> {
    let (x, y) = (x.filter(|c| !c.is_empty()), y.filter(|c| !c.is_empty()));
    if x.is_none() && y.is_none() {
        return None;
    }
    let number = |cell: Option<&str>| {
        cell.and_then(|c| c.parse::<f64>().ok())
            .filter(|v| v.is_finite())
    };
    Some(match (number(x), number(y)) {
        (Some(x), Some(y)) => Ok(RawGeometry::Point([x, y])),
        _ => Err(format!(
            "point columns must both be numbers, found {:?} and {:?}",
            x.unwrap_or(""),
            y.unwrap_or("")
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read_text(text: &str) -> SourceFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        read(file.path()).unwrap()
    }

    #[test]
    fn header_only_file_has_no_features() {
        assert!(read_text("code,name\n").features.is_empty());
    }

    #[test]
    fn bom_and_case_in_headers() {
        let file = read_text("\u{feff}Code,LON,Lat\n410611,114.3,35.7\n");
        assert_eq!(file.features[0].code().as_deref(), Some("410611"));
        assert_eq!(
            file.features[0].geometry,
            Some(Ok(RawGeometry::Point([114.3, 35.7])))
        );
    }

    #[test]
    fn bad_point_cells_and_empty_cells() {
        let file = read_text("code,lon,lat\na,x,35\nb,,\n");
        assert!(file.features[0].geometry.as_ref().unwrap().is_err());
        assert!(file.features[1].geometry.is_none());
    }

    #[test]
    fn wkt_polygon_keeps_its_rings_as_written() {
        let file = read_text("code,wkt\na,\"POLYGON((0 0,1 0,1 1,0 0))\"\n");
        let Some(Ok(RawGeometry::Polygon(rings))) = &file.features[0].geometry else {
            panic!("no polygon")
        };
        assert_eq!(rings[0].len(), 4);
        let file = read_text("code,wkt\na,\"POLYGON((0 0,1 0\"\n");
        assert!(file.features[0].geometry.as_ref().unwrap().is_err());
    }

    #[test]
    fn ragged_rows_stop_the_file() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(b"code,name\na,b,c\n").unwrap();
        assert!(read(file.path()).unwrap_err().to_string().contains("row 2"));
    }
}
