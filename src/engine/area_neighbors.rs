//! Neighbouring areas (相邻网格): the areas whose border meets an area's border.
//!
//! # The rule
//!
//! `b` is a neighbour of `a` exactly when `b` is another area **of the same layer and level**
//! and PostGIS `ST_Touches(a.geom, b.geom)` holds: the two share at least one point and their
//! interiors do not intersect (DE-9IM `FT*******`, `F**T*****` or `F***T****`). So a shared
//! corner point is enough; an area of the same level that overlaps `a` (a layer that does not
//! tile, such as special grids) is *not* a neighbour, nor is one that only comes close. The
//! equivalent SQL, which the integration test compares with for every area of the sample city:
//!
//! ```sql
//! SELECT b.code FROM area a
//! JOIN area b ON b.level = a.level AND b.layer = a.layer AND b.code <> a.code
//!            AND ST_Touches(a.geom, b.geom)
//! WHERE a.code = $1
//! ```
//!
//! Candidates come from the level's R-tree (envelopes intersecting `a`'s); `geo`'s `Relate`
//! (exact predicates, as GEOS) decides each one from the DE-9IM matrix.
//!
//! # How they touch
//!
//! Two polygons whose interiors are disjoint meet only boundary to boundary, so the dimension
//! of boundary ∩ boundary tells how: a line is a [`Touch::Edge`], isolated points only a
//! [`Touch::Point`] (a corner). For an edge the shared border's length is measured: the parts
//! of `a`'s boundary segments that lie on `b`'s (within [`ON_BORDER_DEG`], so borders that
//! meet at a vertex of one side only still count), geodesic metres on the WGS84 ellipsoid.

use std::sync::Arc;

use geo::coordinate_position::CoordPos;
use geo::dimensions::Dimensions;
use geo::{Distance, Geodesic, PreparedGeometry, Relate};
use geo_types::{Coord, Line, MultiPolygon, Point};
use rstar::{RTree, AABB};

use super::area_index::{tree_key, AreaIndex, IndexedArea};
use crate::model::Area;

/// How far (degrees, about a millimetre) a vertex of one border may lie off the other's
/// segment and still be on it, for the length of a shared border.
const ON_BORDER_DEG: f64 = 1e-8;

/// How a neighbour's border meets the area's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    /// They share a line (at least one stretch of border).
    Edge,
    /// They share only isolated points (corners).
    Point,
}

impl Touch {
    /// The name in answers: `edge` or `point`.
    pub fn as_str(self) -> &'static str {
        match self {
            Touch::Edge => "edge",
            Touch::Point => "point",
        }
    }
}

/// One neighbour of an area.
#[derive(Debug, Clone)]
pub struct Neighbor<'a> {
    /// The neighbouring area.
    pub area: &'a Area,
    /// Whether they share an edge or only a point.
    pub touch: Touch,
    /// Length of the shared border in metres (geodesic); 0 for a point touch.
    pub border_m: f64,
}

/// The neighbours of the area `code` under the rule above, sorted by code; `None` for an
/// unknown code, none for an area without geometry.
pub fn neighbors<'a>(index: &'a AreaIndex, code: &str) -> Option<Vec<Neighbor<'a>>> {
    let target = index.get(code)?;
    let Some(envelope) = target.envelope.as_ref() else {
        return Some(Vec::new());
    };
    let prepared = PreparedGeometry::from(&target.area.geometry);
    let mut found: Vec<Neighbor<'a>> = index
        .in_tree_envelope(&tree_key(&target.area), envelope)
        .filter(|candidate| candidate.area.code != code)
        .filter_map(|candidate| judge(&prepared, &target.area.geometry, candidate))
        .collect();
    found.sort_unstable_by(|a, b| a.area.code.cmp(&b.area.code));
    Some(found)
}

/// Whether `candidate` touches the prepared area, and how.
fn judge<'a, 'p>(
    prepared: &PreparedGeometry<'p, &'p MultiPolygon<f64>>,
    geometry: &MultiPolygon<f64>,
    candidate: &'a Arc<IndexedArea>,
) -> Option<Neighbor<'a>> {
    let matrix = prepared.relate(&candidate.area.geometry);
    if !matrix.is_touches() {
        return None;
    }
    let shared = matrix.get(CoordPos::OnBoundary, CoordPos::OnBoundary);
    let touch = if shared == Dimensions::OneDimensional {
        Touch::Edge
    } else {
        Touch::Point
    };
    let border_m = match touch {
        Touch::Edge => shared_border_m(geometry, &candidate.area.geometry),
        Touch::Point => 0.0,
    };
    Some(Neighbor {
        area: &candidate.area,
        touch,
        border_m,
    })
}

/// Geodesic length in metres of the parts of `a`'s boundary that lie on `b`'s boundary.
fn shared_border_m(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>) -> f64 {
    let b_lines: RTree<Line<f64>> = RTree::bulk_load(boundary_lines(b).collect());
    boundary_lines(a)
        .map(|line| {
            let near = AABB::from_corners(
                Point::new(
                    line.start.x.min(line.end.x) - ON_BORDER_DEG,
                    line.start.y.min(line.end.y) - ON_BORDER_DEG,
                ),
                Point::new(
                    line.start.x.max(line.end.x) + ON_BORDER_DEG,
                    line.start.y.max(line.end.y) + ON_BORDER_DEG,
                ),
            );
            b_lines
                .locate_in_envelope_intersecting(&near)
                .filter_map(|other| overlap(line, *other))
                .map(|(p, q)| Geodesic.distance(Point(p), Point(q)))
                .sum::<f64>()
        })
        .sum()
}

/// The non-degenerate segments of every ring of a multipolygon.
fn boundary_lines(geometry: &MultiPolygon<f64>) -> impl Iterator<Item = Line<f64>> + '_ {
    geometry
        .iter()
        .flat_map(|polygon| std::iter::once(polygon.exterior()).chain(polygon.interiors()))
        .flat_map(|ring| ring.lines())
        .filter(|line| line.start != line.end)
}

/// The stretch of `line` that `other` runs along (both of `other`'s ends within
/// [`ON_BORDER_DEG`] of `line`'s supporting line), as its two ends on `line`; `None` when they
/// are not collinear or share at most a point.
fn overlap(line: Line<f64>, other: Line<f64>) -> Option<(Coord<f64>, Coord<f64>)> {
    let d = line.delta();
    let len2 = d.x * d.x + d.y * d.y;
    let off_line = |p: Coord<f64>| {
        let v = p - line.start;
        (d.x * v.y - d.y * v.x).abs() / len2.sqrt()
    };
    if off_line(other.start) > ON_BORDER_DEG || off_line(other.end) > ON_BORDER_DEG {
        return None;
    }
    let along = |p: Coord<f64>| {
        let v = p - line.start;
        (d.x * v.x + d.y * v.y) / len2
    };
    let (t0, t1) = (along(other.start), along(other.end));
    let lo = t0.min(t1).max(0.0);
    let hi = t0.max(t1).min(1.0);
    (hi > lo).then(|| (line.start + d * lo, line.start + d * hi))
}

#[cfg(test)]
mod tests {
    use geo_types::{polygon, MultiPolygon, Polygon};

    use super::*;
    use crate::model::{Layer, Level};

    /// A rectangle from its corners, spelled out so that shared sides are bit-for-bit equal.
    fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Polygon<f64> {
        polygon![(x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1), (x: x0, y: y1)]
    }

    fn grid(code: &str, polygon: Polygon<f64>) -> Area {
        Area::bare(code, code, Level::Grid, MultiPolygon(vec![polygon]))
    }

    /// Codes and touches of the neighbours of `code`.
    fn touching(index: &AreaIndex, code: &str) -> Vec<(String, Touch)> {
        neighbors(index, code)
            .expect("known code")
            .into_iter()
            .map(|n| (n.area.code.clone(), n.touch))
            .collect()
    }

    #[test]
    fn an_unknown_code_has_no_answer_and_a_lonely_area_no_neighbour() {
        let index = AreaIndex::new(vec![
            grid("410611001001001", rect(114.0, 35.7, 114.01, 35.71)),
            // Near, envelopes apart.
            grid("410611001001002", rect(114.02, 35.7, 114.03, 35.71)),
        ]);
        assert!(neighbors(&index, "410611001001999").is_none());
        assert!(touching(&index, "410611001001001").is_empty());
    }

    #[test]
    fn an_area_without_geometry_has_no_neighbour() {
        let index = AreaIndex::new(vec![
            Area::bare(
                "410611001001001",
                "empty",
                Level::Grid,
                MultiPolygon(vec![]),
            ),
            grid("410611001001002", rect(114.0, 35.7, 114.01, 35.71)),
        ]);
        assert!(touching(&index, "410611001001001").is_empty());
    }

    #[test]
    fn a_shared_corner_is_a_point_touch() {
        let index = AreaIndex::new(vec![
            grid("410611001001001", rect(114.0, 35.7, 114.01, 35.71)),
            grid("410611001001004", rect(114.01, 35.71, 114.02, 35.72)),
        ]);
        assert_eq!(
            touching(&index, "410611001001001"),
            [("410611001001004".to_string(), Touch::Point)]
        );
        let n = &neighbors(&index, "410611001001004").expect("known")[0];
        assert_eq!(n.border_m, 0.0);
    }

    #[test]
    fn an_overlapping_area_of_the_same_level_is_not_a_neighbour() {
        let index = AreaIndex::new(vec![
            grid("410611001001001", rect(114.0, 35.7, 114.01, 35.71)),
            grid("410611001001002", rect(114.005, 35.7, 114.015, 35.71)),
            // Inside the first, touching its border from within: interiors meet.
            grid("410611001001003", rect(114.0, 35.7, 114.002, 35.702)),
        ]);
        assert!(touching(&index, "410611001001001").is_empty());
    }

    #[test]
    fn other_levels_and_layers_are_not_neighbours() {
        let mut community = Area::bare(
            "410611001002",
            "community",
            Level::Community,
            MultiPolygon(vec![rect(114.01, 35.7, 114.02, 35.71)]),
        );
        community.parent_code = Some("410611001".into());
        let mut special = grid("410611001001S01", rect(114.0, 35.71, 114.01, 35.72));
        special.layer = Layer::Special;
        let index = AreaIndex::new(vec![
            grid("410611001001001", rect(114.0, 35.7, 114.01, 35.71)),
            community,
            special,
            grid("410611001001002", rect(114.0, 35.69, 114.01, 35.7)),
        ]);
        assert_eq!(
            touching(&index, "410611001001001"),
            [("410611001001002".to_string(), Touch::Edge)]
        );
    }

    #[test]
    fn an_edge_touch_measures_the_shared_border_even_across_a_t_junction() {
        // The west square's east side has no vertex where the two east squares meet.
        let west = grid("410611001001001", rect(114.0, 35.7, 114.02, 35.72));
        let north_east = grid("410611001001002", rect(114.02, 35.71, 114.03, 35.72));
        let south_east = grid("410611001001003", rect(114.02, 35.7, 114.03, 35.71));
        let index = AreaIndex::new(vec![west, north_east, south_east]);
        let side =
            |y0: f64, y1: f64| Geodesic.distance(Point::new(114.02, y0), Point::new(114.02, y1));
        let found: Vec<(&str, Touch, f64)> = neighbors(&index, "410611001001001")
            .expect("known")
            .into_iter()
            .map(|n| (n.area.code.as_str(), n.touch, n.border_m))
            .collect();
        assert_eq!(found.len(), 2, "{found:?}");
        for ((code, touch, border_m), expected) in
            found.iter().zip([side(35.71, 35.72), side(35.7, 35.71)])
        {
            assert_eq!(*touch, Touch::Edge, "{code}");
            assert!(
                (border_m - expected).abs() < 1e-6,
                "{code}: {border_m} m, not {expected} m"
            );
        }
        // From the east squares' side the border is the same length.
        let back = neighbors(&index, "410611001001002").expect("known");
        let to_west = back
            .iter()
            .find(|n| n.area.code == "410611001001001")
            .expect("west is a neighbour");
        assert!((to_west.border_m - side(35.71, 35.72)).abs() < 1e-6);
        // The two east squares share their common side with each other.
        assert!(back
            .iter()
            .any(|n| n.area.code == "410611001001003" && n.touch == Touch::Edge));
    }

    #[test]
    fn neighbours_are_sorted_by_code_and_exclude_the_area_itself() {
        let index = AreaIndex::new(vec![
            grid("410611001001005", rect(114.0, 35.7, 114.01, 35.71)),
            grid("410611001001009", rect(114.01, 35.7, 114.02, 35.71)),
            grid("410611001001001", rect(113.99, 35.7, 114.0, 35.71)),
            grid("410611001001002", rect(114.0, 35.71, 114.01, 35.72)),
        ]);
        let codes: Vec<String> = touching(&index, "410611001001005")
            .into_iter()
            .map(|(code, _)| code)
            .collect();
        assert_eq!(
            codes,
            ["410611001001001", "410611001001002", "410611001001009"]
        );
    }
}
