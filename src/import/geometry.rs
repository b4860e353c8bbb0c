//! Feature geometry as read from a file, its shape checks, its conversion to storage, and its
//! validity check with the location of the problem.
//!
//! Every reader hands over geometry as GeoJSON-shaped JSON (WKT and WKB are converted by
//! geozero), so the checks below see the rings exactly as the file has them: an unclosed ring
//! or a ring of too few points is reported before geo-types would silently close it.

use geo::algorithm::line_intersection::{line_intersection, LineIntersection};
use geo::algorithm::validation::{InvalidMultiPolygon, InvalidPolygon, RingRole};
use geo::Validation;
use geo_types::{Coord, Line, LineString, MultiPolygon, Point, Polygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};
use serde_json::Value;

use crate::crs::{from_storage, gauss_kruger, to_storage, Crs};
use crate::model::{lonlat_in_range, CHINA_LAT_RANGE, CHINA_LON_RANGE};

/// A position as read: x (easting or longitude) and y; a third ordinate is dropped.
pub type Position = [f64; 2];
/// A ring as read, first and last position included.
pub type Ring = Vec<Position>;

/// A geometry as read from a file, before any check.
#[derive(Debug, Clone, PartialEq)]
pub enum RawGeometry {
    Point(Position),
    LineString(Vec<Position>),
    Polygon(Vec<Ring>),
    MultiPolygon(Vec<Vec<Ring>>),
    /// Any other GeoJSON type, kept by name for the error message.
    Other(String),
}

impl RawGeometry {
    /// The GeoJSON type name.
    pub fn type_name(&self) -> &str {
        match self {
            RawGeometry::Point(_) => "Point",
            RawGeometry::LineString(_) => "LineString",
            RawGeometry::Polygon(_) => "Polygon",
            RawGeometry::MultiPolygon(_) => "MultiPolygon",
            RawGeometry::Other(name) => name,
        }
    }

    /// Reads a GeoJSON geometry object (`{"type": …, "coordinates": …}`).
    pub fn from_json(value: &Value) -> Result<RawGeometry, String> {
        let kind = value
            .get("type")
            .and_then(Value::as_str)
            .ok_or("geometry has no \"type\"")?;
        let coordinates = || {
            value
                .get("coordinates")
                .ok_or(format!("{kind} geometry has no \"coordinates\""))
        };
        match kind {
            "Point" => Ok(RawGeometry::Point(position(coordinates()?)?)),
            "LineString" => Ok(RawGeometry::LineString(
                array(coordinates()?, "LineString coordinates")?
                    .iter()
                    .map(position)
                    .collect::<Result<_, _>>()?,
            )),
            "Polygon" => Ok(RawGeometry::Polygon(rings(coordinates()?)?)),
            "MultiPolygon" => {
                let polygons = array(coordinates()?, "MultiPolygon coordinates")?;
                Ok(RawGeometry::MultiPolygon(
                    polygons.iter().map(rings).collect::<Result<_, _>>()?,
                ))
            }
            other => Ok(RawGeometry::Other(other.to_string())),
        }
    }
}

/// Reads any geozero geometry (WKT text, WKB bytes) through its GeoJSON form, so that its
/// rings reach the checks exactly as written.
pub fn from_geozero(geometry: &impl geozero::GeozeroGeometry) -> Result<RawGeometry, String> {
    use geozero::ToJson;
    let json = geometry
        .to_json()
        .map_err(|e| format!("cannot read the geometry: {e}"))?;
    let value: Value =
        serde_json::from_str(&json).map_err(|e| format!("cannot read the geometry: {e}"))?;
    RawGeometry::from_json(&value)
}

fn array<'a>(value: &'a Value, what: &str) -> Result<&'a Vec<Value>, String> {
    value
        .as_array()
        .ok_or_else(|| format!("{what} must be an array"))
}

fn position(value: &Value) -> Result<Position, String> {
    let numbers = array(value, "a position")?;
    let x = numbers.first().and_then(Value::as_f64);
    let y = numbers.get(1).and_then(Value::as_f64);
    match (x, y) {
        (Some(x), Some(y)) => Ok([x, y]),
        _ => Err(format!("position {value} must hold at least two numbers")),
    }
}

fn rings(value: &Value) -> Result<Vec<Ring>, String> {
    array(value, "Polygon coordinates")?
        .iter()
        .map(|ring| array(ring, "a ring")?.iter().map(position).collect())
        .collect()
}

/// Checks the rings of a polygon as read: at least one ring, each closed and of at least four
/// positions (three distinct corners). Returns every problem found.
pub fn ring_problems(polygon: &[Ring], polygon_label: &str) -> Vec<String> {
    if polygon.is_empty() {
        return vec![format!("{polygon_label}has no rings")];
    }
    let mut problems = Vec::new();
    for (i, ring) in polygon.iter().enumerate() {
        let role = if i == 0 {
            "exterior ring".to_string()
        } else {
            format!("interior ring {}", i - 1)
        };
        match (ring.first(), ring.last()) {
            (Some(first), Some(last)) if first != last => problems.push(format!(
                "{polygon_label}{role} is not closed: it starts at ({}, {}) and ends at ({}, {})",
                first[0], first[1], last[0], last[1]
            )),
            _ => {}
        }
        if ring.len() < 4 {
            problems.push(format!(
                "{polygon_label}{role} has {} positions; a ring needs at least 4 (3 corners and the closing position)",
                ring.len()
            ));
        }
    }
    problems
}

/// The feature's geometry as read, or the problem that stopped reading it.
type ReadGeometry<'a> = Option<&'a Result<RawGeometry, String>>;

/// A boundary for an area: a Polygon or MultiPolygon, converted and valid.
pub fn area_boundary(
    geometry: ReadGeometry<'_>,
    crs: Crs,
) -> Result<MultiPolygon<f64>, Vec<String>> {
    match required(geometry)? {
        RawGeometry::Polygon(rings) => {
            shape_checked(rings, "")?;
            polygon_to_storage(crs, rings).map(|p| MultiPolygon(vec![p]))
        }
        RawGeometry::MultiPolygon(polygons) => {
            let problems: Vec<String> = polygons
                .iter()
                .enumerate()
                .flat_map(|(i, p)| ring_problems(p, &format!("polygon {i}: ")))
                .collect();
            if polygons.is_empty() {
                return Err(vec!["MultiPolygon has no polygons".into()]);
            }
            if !problems.is_empty() {
                return Err(problems);
            }
            multipolygon_to_storage(crs, polygons)
        }
        other => Err(vec![format!(
            "geometry must be a Polygon or MultiPolygon, found {}",
            other.type_name()
        )]),
    }
}

/// A building footprint: a Polygon (or a MultiPolygon of exactly one polygon), converted and valid.
pub fn footprint(geometry: ReadGeometry<'_>, crs: Crs) -> Result<Polygon<f64>, Vec<String>> {
    let rings = match required(geometry)? {
        RawGeometry::Polygon(rings) => rings,
        RawGeometry::MultiPolygon(polygons) if polygons.len() == 1 => &polygons[0],
        RawGeometry::MultiPolygon(polygons) => {
            return Err(vec![format!(
                "a building footprint must be one polygon, found a MultiPolygon of {} polygons",
                polygons.len()
            )])
        }
        other => {
            return Err(vec![format!(
                "geometry must be a Polygon, found {}",
                other.type_name()
            )])
        }
    };
    shape_checked(rings, "")?;
    polygon_to_storage(crs, rings)
}

/// A road or river centre line: a LineString of at least two distinct positions, converted and
/// valid (a line may cross itself: a ring road or a meander).
pub fn centre_line(geometry: ReadGeometry<'_>, crs: Crs) -> Result<LineString<f64>, Vec<String>> {
    let positions = match required(geometry)? {
        RawGeometry::LineString(positions) => positions,
        other => {
            return Err(vec![format!(
                "geometry must be a LineString, found {}",
                other.type_name()
            )])
        }
    };
    let converted = positions
        .iter()
        .map(|p| position_to_storage(crs, *p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| vec![e])?;
    let mut distinct = converted.clone();
    distinct.dedup();
    if distinct.len() < 2 {
        return Err(vec![format!(
            "a LineString needs at least two distinct positions, found {}",
            distinct.len()
        )]);
    }
    let line = LineString::from(converted);
    let problems: Vec<String> = line
        .validation_errors()
        .iter()
        .map(|e| e.to_string())
        .collect();
    if problems.is_empty() {
        Ok(line)
    } else {
        Err(problems)
    }
}

/// A point location, converted.
pub fn location(geometry: ReadGeometry<'_>, crs: Crs) -> Result<Point<f64>, Vec<String>> {
    match required(geometry)? {
        RawGeometry::Point(p) => point_to_storage(crs, *p).map_err(|e| vec![e]),
        other => Err(vec![format!(
            "geometry must be a Point, found {}",
            other.type_name()
        )]),
    }
}

fn required(geometry: ReadGeometry<'_>) -> Result<&RawGeometry, Vec<String>> {
    match geometry {
        None => Err(vec!["missing geometry".to_string()]),
        Some(Err(e)) => Err(vec![e.clone()]),
        Some(Ok(g)) => Ok(g),
    }
}

fn shape_checked(rings: &[Ring], label: &str) -> Result<(), Vec<String>> {
    let problems = ring_problems(rings, label);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Converts one position to storage and checks that it lies in the accepted range.
pub fn position_to_storage(crs: Crs, p: Position) -> Result<Coord<f64>, String> {
    let hint = || match crs {
        Crs::GaussKruger(epsg) => gauss_kruger::easting_hint(epsg, p[0]).map(|h| format!("; {h}")),
        _ => None,
    };
    let (lon, lat) = to_storage(crs, p[0], p[1]).map_err(|e| {
        format!(
            "{e}{}",
            hint().unwrap_or_else(|| "; is the CRS right?".to_string())
        )
    })?;
    if !lonlat_in_range(lon, lat) {
        let source = if matches!(crs, Crs::Wgs84 | Crs::Cgcs2000) {
            String::new()
        } else {
            format!(" (from {} ({}, {}))", crs.name(), p[0], p[1])
        };
        return Err(format!(
            "coordinate lon {lon:.7}, lat {lat:.7}{source} is out of range: accepted are longitudes {}–{} and latitudes {}–{}{}",
            CHINA_LON_RANGE.0,
            CHINA_LON_RANGE.1,
            CHINA_LAT_RANGE.0,
            CHINA_LAT_RANGE.1,
            hint().unwrap_or_else(|| "; is the CRS right?".to_string())
        ));
    }
    Ok(Coord { x: lon, y: lat })
}

/// A point converted to storage.
pub fn point_to_storage(crs: Crs, p: Position) -> Result<Point<f64>, String> {
    position_to_storage(crs, p).map(Point::from)
}

/// A polygon (rings already shape-checked) converted to storage and checked for validity.
pub fn polygon_to_storage(crs: Crs, rings: &[Ring]) -> Result<Polygon<f64>, Vec<String>> {
    let polygon = convert_polygon(crs, rings).map_err(|e| vec![e])?;
    let problems: Vec<String> = polygon
        .validation_errors()
        .iter()
        .map(|e| describe_polygon_problem(&polygon, e, crs, ""))
        .collect();
    if problems.is_empty() {
        Ok(polygon)
    } else {
        Err(problems)
    }
}

/// A multipolygon (rings already shape-checked) converted to storage and checked for validity.
pub fn multipolygon_to_storage(
    crs: Crs,
    polygons: &[Vec<Ring>],
) -> Result<MultiPolygon<f64>, Vec<String>> {
    let converted: Result<Vec<Polygon<f64>>, String> =
        polygons.iter().map(|p| convert_polygon(crs, p)).collect();
    let multi = MultiPolygon(converted.map_err(|e| vec![e])?);
    let problems: Vec<String> = multi
        .validation_errors()
        .iter()
        .map(|e| match e {
            InvalidMultiPolygon::InvalidPolygon(index, problem) => {
                let label = format!("polygon {}: ", index.0);
                describe_polygon_problem(&multi.0[index.0], problem, crs, &label)
            }
            other => other.to_string(),
        })
        .collect();
    if problems.is_empty() {
        Ok(multi)
    } else {
        Err(problems)
    }
}

fn convert_polygon(crs: Crs, rings: &[Ring]) -> Result<Polygon<f64>, String> {
    let mut converted = rings.iter().map(|ring| {
        ring.iter()
            .map(|p| position_to_storage(crs, *p))
            .collect::<Result<Vec<_>, _>>()
            .map(LineString::from)
    });
    let exterior = converted
        .next()
        .unwrap_or_else(|| Ok(LineString::new(Vec::new())))?;
    let interiors = converted.collect::<Result<Vec<_>, _>>()?;
    Ok(Polygon::new(exterior, interiors))
}

fn describe_polygon_problem(
    polygon: &Polygon<f64>,
    problem: &InvalidPolygon,
    crs: Crs,
    label: &str,
) -> String {
    let InvalidPolygon::SelfIntersection(role) = problem else {
        return format!("{label}{problem}");
    };
    let ring = match role {
        RingRole::Exterior => polygon.exterior(),
        RingRole::Interior(i) => &polygon.interiors()[*i],
    };
    match self_intersection(ring) {
        Some(at) => format!(
            "{label}{role} intersects itself at {}",
            describe_location(at, crs)
        ),
        None => format!("{label}{problem}"),
    }
}

/// A location for a message: storage lon/lat, plus the file's own coordinates when they differ.
fn describe_location(at: Coord<f64>, crs: Crs) -> String {
    let lonlat = format!("lon {:.7}, lat {:.7}", at.x, at.y);
    if matches!(crs, Crs::Wgs84 | Crs::Cgcs2000) {
        return lonlat;
    }
    match from_storage(crs, at.x, at.y) {
        Ok((x, y)) => format!("{lonlat} ({} {x:.3}, {y:.3})", crs.name()),
        Err(_) => lonlat,
    }
}

/// Where a ring first touches or crosses itself: the intersection of two of its edges that are
/// not neighbours, or the far end of an edge that folds back over its neighbour (a spike).
/// `None` for a simple ring. Edges are found with an R-tree over their envelopes, so large
/// rings are checked in O(n log n).
pub fn self_intersection(ring: &LineString<f64>) -> Option<Coord<f64>> {
    let mut vertices: Vec<Coord<f64>> = ring.0.clone();
    vertices.dedup();
    let edges: Vec<Line<f64>> = vertices.windows(2).map(|w| Line::new(w[0], w[1])).collect();
    let n = edges.len();
    let tree = RTree::bulk_load(
        edges
            .iter()
            .enumerate()
            .map(|(i, e)| {
                GeomWithData::new(Rectangle::from_corners(e.start.into(), e.end.into()), i)
            })
            .collect::<Vec<GeomWithData<Rectangle<[f64; 2]>, usize>>>(),
    );
    let closed = vertices.first() == vertices.last();
    let neighbours = |i: usize, j: usize| j == i + 1 || (closed && i == 0 && j + 1 == n);
    for (i, edge) in edges.iter().enumerate() {
        let envelope = AABB::from_corners(edge.start.into(), edge.end.into());
        let mut found: Vec<(usize, Coord<f64>)> = tree
            .locate_in_envelope_intersecting(&envelope)
            .filter(|other| other.data > i)
            .filter_map(|other| {
                let j = other.data;
                let hit = line_intersection(*edge, edges[j])?;
                match (hit, neighbours(i, j)) {
                    (LineIntersection::SinglePoint { .. }, true) => None,
                    (LineIntersection::SinglePoint { intersection, .. }, false) => {
                        Some((j, intersection))
                    }
                    (LineIntersection::Collinear { .. }, true) => {
                        Some((j, shared_vertex(edge, &edges[j])))
                    }
                    (LineIntersection::Collinear { intersection }, false) => {
                        Some((j, intersection.start))
                    }
                }
            })
            .collect();
        found.sort_by_key(|(j, _)| *j);
        if let Some((_, at)) = found.first() {
            return Some(*at);
        }
    }
    None
}

/// The vertex two neighbouring edges share: where a spike (an edge folding back over the
/// previous one) turns.
fn shared_vertex(a: &Line<f64>, b: &Line<f64>) -> Coord<f64> {
    if a.end == b.start || a.end == b.end {
        a.end
    } else {
        a.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_geojson_shapes() {
        let point =
            RawGeometry::from_json(&json!({"type": "Point", "coordinates": [114.3, 35.7, 80.0]}))
                .unwrap();
        assert_eq!(point, RawGeometry::Point([114.3, 35.7]));
        let other =
            RawGeometry::from_json(&json!({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}))
                .unwrap();
        assert_eq!(other.type_name(), "LineString");
        assert!(RawGeometry::from_json(&json!({"type": "Point", "coordinates": [114.3]})).is_err());
        assert!(RawGeometry::from_json(&json!({"coordinates": [1, 2]})).is_err());
    }

    #[test]
    fn empty_polygon_and_short_or_open_rings() {
        assert_eq!(ring_problems(&[], ""), vec!["has no rings".to_string()]);
        let open = vec![vec![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]];
        let problems = ring_problems(&open, "");
        assert_eq!(
            problems,
            vec!["exterior ring is not closed: it starts at (0, 0) and ends at (0, 1)".to_string()]
        );
        let short = vec![vec![[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]];
        assert!(ring_problems(&short, "")[0].contains("has 3 positions"));
    }

    #[test]
    fn simple_ring_has_no_self_intersection() {
        let ring = LineString::from(vec![
            (0.0, 0.0),
            (2.0, 0.0),
            (2.0, 2.0),
            (0.0, 2.0),
            (0.0, 0.0),
        ]);
        assert_eq!(self_intersection(&ring), None);
        let with_duplicate = LineString::from(vec![
            (0.0, 0.0),
            (2.0, 0.0),
            (2.0, 0.0),
            (2.0, 2.0),
            (0.0, 0.0),
        ]);
        assert_eq!(self_intersection(&with_duplicate), None);
    }

    #[test]
    fn bow_tie_crossing_is_located() {
        let ring = LineString::from(vec![
            (0.0, 0.0),
            (2.0, 2.0),
            (2.0, 0.0),
            (0.0, 2.0),
            (0.0, 0.0),
        ]);
        assert_eq!(self_intersection(&ring), Some(Coord { x: 1.0, y: 1.0 }));
    }

    #[test]
    fn touching_vertex_and_spike_are_located() {
        let touching = LineString::from(vec![
            (0.0, 0.0),
            (4.0, 0.0),
            (2.0, 2.0),
            (4.0, 4.0),
            (0.0, 4.0),
            (2.0, 2.0),
            (0.0, 0.0),
        ]);
        assert_eq!(self_intersection(&touching), Some(Coord { x: 2.0, y: 2.0 }));
        let spike = LineString::from(vec![
            (0.0, 0.0),
            (4.0, 0.0),
            (6.0, 0.0),
            (5.0, 0.0),
            (4.0, 4.0),
            (0.0, 0.0),
        ]);
        assert_eq!(self_intersection(&spike), Some(Coord { x: 6.0, y: 0.0 }));
    }

    #[test]
    fn invalid_polygon_message_names_the_crossing() {
        let rings = vec![vec![
            [114.0, 35.0],
            [114.2, 35.2],
            [114.2, 35.0],
            [114.0, 35.2],
            [114.0, 35.0],
        ]];
        let problems = polygon_to_storage(Crs::Wgs84, &rings).unwrap_err();
        assert_eq!(
            problems,
            vec!["exterior ring intersects itself at lon 114.1000000, lat 35.1000000".to_string()]
        );
    }

    #[test]
    fn out_of_range_coordinate_names_the_crs() {
        let err =
            position_to_storage(Crs::GaussKruger(4547), [38_500_000.0, 3_960_000.0]).unwrap_err();
        assert!(err.contains("EPSG:4526 (zone-prefixed)"), "{err}");
        let err =
            position_to_storage(Crs::GaussKruger(4547), [500_000.0, 9_000_000.0]).unwrap_err();
        assert!(
            err.contains("out of range") && err.contains("from EPSG:4547"),
            "{err}"
        );
        assert!(position_to_storage(Crs::Wgs84, [200.0, 35.0])
            .unwrap_err()
            .contains("lon 200.0000000"));
    }
}
