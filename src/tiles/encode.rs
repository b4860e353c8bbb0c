//! MVT 2.1 encoding of the features of one tile.
//!
//! The rules (MVT 2.1 §4.3): coordinates are whole tile units (extent 4096, y down); an exterior
//! ring has positive area by the surveyor's formula in those units (clockwise on screen) and an
//! interior ring negative area; no ring repeats a point or its first point, and a ring that
//! collapses (fewer than three points or zero area after rounding) is dropped, together with
//! its holes when it is an exterior. A line is rounded the same way, repeated points are
//! dropped, and a line left with fewer than two points is dropped; a line that starts where the
//! previous one of the feature ends is joined to it (MVT would merge them anyway). Protobuf, layer keys/values and command encoding come from
//! the `mvt` crate; what it does not do (rounding, clean-up and winding) is done here first.

use geo_types::{Coord, LineString, MultiLineString, MultiPolygon};
use mvt::{GeomData, GeomEncoder, GeomType, Tile};

use super::tileset::EXTENT;

/// A typed attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum TagValue {
    Text(String),
    Int(i64),
    Float(f64),
}

/// A feature's geometry in tile units (not yet rounded).
#[derive(Debug, Clone, PartialEq)]
pub enum TileGeometry {
    Polygons(MultiPolygon<f64>),
    Lines(MultiLineString<f64>),
    Points(Vec<Coord<f64>>),
}

/// One feature ready to encode.
#[derive(Debug, Clone, PartialEq)]
pub struct TileFeature {
    pub id: u64,
    pub geometry: TileGeometry,
    pub tags: Vec<(&'static str, TagValue)>,
    /// What thinning orders by: the clipped area in tile units² (for labels, their area's; for
    /// lines, their clipped length in tile units).
    pub size: f64,
    /// Dropped by the budget only after every other feature of the tile.
    pub keep: bool,
}

/// One named layer of a tile.
#[derive(Debug, Clone, PartialEq)]
pub struct TileLayer {
    pub name: String,
    pub features: Vec<TileFeature>,
}

/// The encoded tile and how many features each layer really holds (a feature whose geometry
/// collapses when rounded is left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub layer_counts: Vec<(String, usize)>,
}

/// Encodes layers in order; empty layers are left out, and a tile with no features is empty.
pub fn encode_tile(layers: &[TileLayer]) -> Result<Encoded, mvt::Error> {
    let mut tile = Tile::new(EXTENT);
    let mut layer_counts = Vec::new();
    for layer in layers {
        let mut out = tile.create_layer(&layer.name);
        let mut count = 0;
        for feature in &layer.features {
            let Some(geom) = geometry_data(&feature.geometry)? else {
                continue;
            };
            let mut f = out.into_feature(geom);
            f.set_id(feature.id);
            for (key, value) in &feature.tags {
                match value {
                    TagValue::Text(s) => f.add_tag_string(key, s),
                    TagValue::Int(i) => f.add_tag_sint(key, *i),
                    TagValue::Float(v) => f.add_tag_double(key, *v),
                }
            }
            out = f.into_layer();
            count += 1;
        }
        if count > 0 {
            tile.add_layer(out)?;
            layer_counts.push((layer.name.clone(), count));
        }
    }
    let bytes = if layer_counts.is_empty() {
        Vec::new()
    } else {
        tile.to_bytes()?
    };
    Ok(Encoded {
        bytes,
        layer_counts,
    })
}

/// The MVT command stream of a geometry; `None` when nothing survives rounding.
fn geometry_data(geometry: &TileGeometry) -> Result<Option<GeomData>, mvt::Error> {
    let rings = match geometry {
        TileGeometry::Points(points) => return points_data(points),
        TileGeometry::Lines(lines) => return lines_data(lines),
        TileGeometry::Polygons(polygons) => polygon_rings(polygons),
    };
    if rings.is_empty() {
        return Ok(None);
    }
    let mut enc = GeomEncoder::<i32>::new(GeomType::Polygon);
    let mut previous_end: Option<(i32, i32)> = None;
    for mut ring in rings {
        // The mvt encoder merges a ring's first point into the previous ring's last one when
        // they are equal; starting the ring one vertex later keeps its MoveTo.
        if previous_end == ring.first().copied() {
            ring.rotate_left(1);
        }
        previous_end = ring.last().copied();
        for (x, y) in ring {
            enc.add_point(x, y)?;
        }
        enc.complete_geom()?;
    }
    Ok(Some(enc.encode()?))
}

fn lines_data(lines: &MultiLineString<f64>) -> Result<Option<GeomData>, mvt::Error> {
    let lines = line_parts(lines);
    if lines.is_empty() {
        return Ok(None);
    }
    let mut enc = GeomEncoder::<i32>::new(GeomType::Linestring);
    for line in lines {
        for (x, y) in line {
            enc.add_point(x, y)?;
        }
        enc.complete_geom()?;
    }
    Ok(Some(enc.encode()?))
}

/// Rounded lines without repeated points, joined where one starts at the previous one's end;
/// lines of fewer than two points are left out.
pub fn line_parts(lines: &MultiLineString<f64>) -> Vec<Vec<(i32, i32)>> {
    let mut out: Vec<Vec<(i32, i32)>> = Vec::new();
    for line in lines {
        let mut pts: Vec<(i32, i32)> = line.0.iter().map(|c| round(*c)).collect();
        pts.dedup();
        if pts.len() < 2 {
            continue;
        }
        match out.last_mut() {
            Some(previous) if previous.last() == pts.first() => previous.extend(&pts[1..]),
            _ => out.push(pts),
        }
    }
    out
}

fn points_data(points: &[Coord<f64>]) -> Result<Option<GeomData>, mvt::Error> {
    let mut rounded: Vec<(i32, i32)> = points.iter().map(|c| round(*c)).collect();
    rounded.dedup();
    if rounded.is_empty() {
        return Ok(None);
    }
    let mut enc = GeomEncoder::<i32>::new(GeomType::Point);
    for (x, y) in rounded {
        enc.add_point(x, y)?;
    }
    Ok(Some(enc.encode()?))
}

/// Rounded, cleaned and wound rings of a multipolygon in encoding order: each exterior followed
/// by its surviving holes.
pub fn polygon_rings(polygons: &MultiPolygon<f64>) -> Vec<Vec<(i32, i32)>> {
    let mut rings = Vec::new();
    for polygon in polygons {
        let Some(exterior) = clean_ring(polygon.exterior()) else {
            continue;
        };
        rings.push(wound(exterior, true));
        rings.extend(
            polygon
                .interiors()
                .iter()
                .filter_map(clean_ring)
                .map(|hole| wound(hole, false)),
        );
    }
    rings
}

/// Rounds a ring to whole units and removes repeated points, the closing point and zero-width
/// spikes (a → b → a); `None` when it collapses.
pub fn clean_ring(ring: &LineString<f64>) -> Option<Vec<(i32, i32)>> {
    let mut out: Vec<(i32, i32)> = Vec::with_capacity(ring.0.len());
    for p in ring.0.iter().map(|c| round(*c)) {
        if out.last() == Some(&p) {
            continue;
        }
        if out.len() >= 2 && out[out.len() - 2] == p {
            out.pop();
            continue;
        }
        out.push(p);
    }
    while out.len() > 1 && out.first() == out.last() {
        out.pop();
    }
    // Spikes across the start: ... y, x | x's neighbours equal.
    while out.len() >= 3 && out[out.len() - 1] == out[1] {
        out.remove(0);
        out.pop();
    }
    (out.len() >= 3 && area2(&out) != 0).then_some(out)
}

/// Twice the signed area in y-down units (positive = exterior per MVT 2.1).
pub fn area2(ring: &[(i32, i32)]) -> i64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            i64::from(a.0) * i64::from(b.1) - i64::from(b.0) * i64::from(a.1)
        })
        .sum()
}

fn wound(mut ring: Vec<(i32, i32)>, exterior: bool) -> Vec<(i32, i32)> {
    if (area2(&ring) > 0) != exterior {
        ring.reverse();
    }
    ring
}

fn round(c: Coord<f64>) -> (i32, i32) {
    // Tile coordinates are bounded by the clip rectangle, far inside i32.
    (c.x.round() as i32, c.y.round() as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{coord, polygon, LineString, Polygon};

    fn feature(geometry: TileGeometry) -> TileFeature {
        TileFeature {
            id: 7,
            geometry,
            tags: vec![
                ("name", TagValue::Text("x".into())),
                ("floors", TagValue::Int(3)),
            ],
            size: 1.0,
            keep: false,
        }
    }

    #[test]
    fn an_empty_tile_is_empty_bytes() {
        let out = encode_tile(&[TileLayer {
            name: "grid".into(),
            features: vec![],
        }])
        .unwrap();
        assert!(out.bytes.is_empty() && out.layer_counts.is_empty());
    }

    #[test]
    fn a_ring_collapsing_when_rounded_drops_the_feature() {
        let sliver = polygon![(x: 0.1, y: 0.1), (x: 0.3, y: 0.2), (x: 0.2, y: 0.4)];
        let layer = TileLayer {
            name: "grid".into(),
            features: vec![feature(TileGeometry::Polygons(MultiPolygon::new(vec![
                sliver,
            ])))],
        };
        assert!(encode_tile(&[layer]).unwrap().layer_counts.is_empty());
    }

    #[test]
    fn exteriors_are_positive_and_holes_negative() {
        // Given counter-clockwise on screen (negative), with a hole given the same way.
        let outer = LineString::from(vec![
            (0.0, 0.0),
            (0.0, 100.0),
            (100.0, 100.0),
            (100.0, 0.0),
            (0.0, 0.0),
        ]);
        let hole = LineString::from(vec![
            (10.0, 10.0),
            (10.0, 20.0),
            (20.0, 20.0),
            (20.0, 10.0),
            (10.0, 10.0),
        ]);
        let rings = polygon_rings(&MultiPolygon::new(vec![Polygon::new(outer, vec![hole])]));
        assert_eq!(rings.len(), 2);
        assert!(area2(&rings[0]) > 0);
        assert!(area2(&rings[1]) < 0);
    }

    #[test]
    fn repeated_points_and_spikes_are_removed() {
        let ring = LineString::from(vec![
            (0.0, 0.0),
            (0.2, 0.1),
            (10.0, 0.0),
            (10.0, 10.0),
            (15.0, 15.0),
            (10.0, 10.0),
            (0.0, 10.0),
            (0.0, 0.0),
        ]);
        assert_eq!(
            clean_ring(&ring).unwrap(),
            vec![(0, 0), (10, 0), (10, 10), (0, 10)]
        );
    }

    #[test]
    fn a_ring_starting_where_the_previous_ended_keeps_its_move_to() {
        // Two squares touching at (10,10): the second ring's first point is the first's last.
        let a = polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0)];
        let b = polygon![(x: 10.0, y: 10.0), (x: 20.0, y: 10.0), (x: 20.0, y: 20.0)];
        let geometry = TileGeometry::Polygons(MultiPolygon::new(vec![a, b]));
        let data = geometry_data(&geometry).unwrap().unwrap();
        // 2 rings × (MoveTo 1 + 2 params + LineTo 1 + 4 params + ClosePath 1) = 18 integers.
        assert_eq!(data.len(), 18);
    }

    #[test]
    fn lines_lose_repeated_points_and_collapsed_parts() {
        let lines = MultiLineString::new(vec![
            LineString::from(vec![(0.2, 0.2), (0.4, 0.1)]),
            LineString::from(vec![(0.0, 0.0), (0.1, 0.0), (10.0, 0.0), (10.0, 10.0)]),
            LineString::new(vec![]),
        ]);
        assert_eq!(line_parts(&lines), vec![vec![(0, 0), (10, 0), (10, 10)]]);
        let nothing = MultiLineString::new(vec![LineString::from(vec![(3.0, 3.0)])]);
        assert!(line_parts(&nothing).is_empty());
        assert!(geometry_data(&TileGeometry::Lines(nothing))
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_line_starting_at_the_previous_end_is_joined() {
        let lines = MultiLineString::new(vec![
            LineString::from(vec![(0.0, 0.0), (10.0, 0.0)]),
            LineString::from(vec![(10.0, 0.0), (10.0, 10.0)]),
            LineString::from(vec![(20.0, 20.0), (30.0, 20.0)]),
        ]);
        assert_eq!(
            line_parts(&lines),
            vec![vec![(0, 0), (10, 0), (10, 10)], vec![(20, 20), (30, 20)]]
        );
        let data = geometry_data(&TileGeometry::Lines(lines)).unwrap().unwrap();
        // (MoveTo 1 + 2) + (LineTo 1 + 4) then (MoveTo 1 + 2) + (LineTo 1 + 2) = 14 integers.
        assert_eq!(data.len(), 14);
    }

    #[test]
    fn points_are_encoded_once() {
        let geometry =
            TileGeometry::Points(vec![coord! {x: 25.0, y: 17.0}, coord! {x: 25.2, y: 16.9}]);
        let out = encode_tile(&[TileLayer {
            name: "label".into(),
            features: vec![feature(geometry)],
        }])
        .unwrap();
        assert_eq!(out.layer_counts, vec![("label".to_string(), 1)]);
        assert!(!out.bytes.is_empty());
    }
}
