//! Which grid holds a point: an R-tree over grid envelopes, then a closed point-in-polygon test.
//! On a border shared by several grids the lowest code wins, the rule the engine and PostGIS
//! apply (`SELECT min(code) … WHERE ST_Intersects(geom, point)`).

use geo::{BoundingRect, Intersects};
use geo_types::{Coord, Polygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};

type Envelope = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// Grids by envelope, for placing points.
#[derive(Debug, Clone)]
pub struct GridIndex {
    tree: RTree<Envelope>,
    codes: Vec<String>,
    polygons: Vec<Polygon<f64>>,
}

impl GridIndex {
    /// Indexes `grids` (code, boundary); the returned indices refer to this order.
    pub fn new(grids: Vec<(String, Polygon<f64>)>) -> GridIndex {
        let mut envelopes = Vec::with_capacity(grids.len());
        let mut codes = Vec::with_capacity(grids.len());
        let mut polygons = Vec::with_capacity(grids.len());
        for (i, (code, polygon)) in grids.into_iter().enumerate() {
            if let Some(r) = polygon.bounding_rect() {
                let rect = Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]);
                envelopes.push(GeomWithData::new(rect, i));
            }
            codes.push(code);
            polygons.push(polygon);
        }
        GridIndex {
            tree: RTree::bulk_load(envelopes),
            codes,
            polygons,
        }
    }

    /// The grid owning `p` (lowest code among those whose closed polygon holds it), if any.
    pub fn locate(&self, p: Coord<f64>) -> Option<usize> {
        self.tree
            .locate_in_envelope_intersecting(&AABB::from_point([p.x, p.y]))
            .map(|e| e.data)
            .filter(|&i| self.polygons[i].intersects(&p))
            .min_by(|&a, &b| self.codes[a].cmp(&self.codes[b]))
    }

    /// The code of grid `i`.
    pub fn code(&self, i: usize) -> &str {
        &self.codes[i]
    }

    /// The boundary of grid `i`.
    pub fn polygon(&self, i: usize) -> &Polygon<f64> {
        &self.polygons[i]
    }

    /// The number of grids.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether there are no grids.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(x: f64, y: f64) -> Polygon<f64> {
        Polygon::new(
            vec![
                (x, y),
                (x + 1.0, y),
                (x + 1.0, y + 1.0),
                (x, y + 1.0),
                (x, y),
            ]
            .into(),
            vec![],
        )
    }

    #[test]
    fn empty_index_finds_nothing() {
        let index = GridIndex::new(vec![]);
        assert!(index.is_empty());
        assert_eq!(index.locate(Coord { x: 0.5, y: 0.5 }), None);
    }

    #[test]
    fn borders_go_to_the_lowest_code() {
        let index = GridIndex::new(vec![
            ("004".into(), square(1.0, 1.0)),
            ("002".into(), square(1.0, 0.0)),
            ("003".into(), square(0.0, 1.0)),
            ("001".into(), square(0.0, 0.0)),
        ]);
        let code = |x, y| {
            index
                .locate(Coord { x, y })
                .map(|i| index.code(i).to_string())
        };
        assert_eq!(
            code(1.0, 1.0).as_deref(),
            Some("001"),
            "corner shared by four"
        );
        assert_eq!(
            code(1.5, 1.0).as_deref(),
            Some("002"),
            "edge of 002 and 004"
        );
        assert_eq!(code(1.5, 1.5).as_deref(), Some("004"), "interior");
        assert_eq!(code(2.5, 0.5), None, "outside");
    }
}
