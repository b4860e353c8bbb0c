//! Which grid holds a point while the city is generated (before any engine exists): an R-tree
//! over grid envelopes, then the engine's own point-in-area test and border rule
//! (`engine::point_in_area`: the lowest code among the closed polygons holding the point,
//! bit-for-bit what PostGIS answers), so generated events sit in the grid the engine assigns.

use geo::BoundingRect;
use geo_types::{Coord, MultiPolygon, Polygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};

use crate::engine::point_in_area::{OwnerSearch, PreparedArea};

type Envelope = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// Grids by envelope, for placing points.
#[derive(Debug, Clone)]
pub struct GridIndex {
    tree: RTree<Envelope>,
    codes: Vec<String>,
    polygons: Vec<Polygon<f64>>,
    prepared: Vec<PreparedArea>,
}

impl GridIndex {
    /// Indexes `grids` (code, boundary); the returned indices refer to this order.
    pub fn new(grids: Vec<(String, Polygon<f64>)>) -> GridIndex {
        let mut envelopes = Vec::with_capacity(grids.len());
        let mut codes = Vec::with_capacity(grids.len());
        let mut polygons = Vec::with_capacity(grids.len());
        let mut prepared = Vec::with_capacity(grids.len());
        for (i, (code, polygon)) in grids.into_iter().enumerate() {
            if let Some(r) = polygon.bounding_rect() {
                let rect = Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]);
                envelopes.push(GeomWithData::new(rect, i));
            }
            codes.push(code);
            prepared.push(PreparedArea::new(&MultiPolygon(vec![polygon.clone()])));
            polygons.push(polygon);
        }
        GridIndex {
            tree: RTree::bulk_load(envelopes),
            codes,
            polygons,
            prepared,
        }
    }

    /// The grid owning `p` (lowest code among those whose closed polygon holds it), if any.
    pub fn locate(&self, p: Coord<f64>) -> Option<usize> {
        let mut search = OwnerSearch::new(p);
        for envelope in self
            .tree
            .locate_in_envelope_intersecting(&AABB::from_point([p.x, p.y]))
        {
            let i = &envelope.data;
            search.offer(&self.codes[*i], &self.prepared[*i], i);
        }
        search.owner().copied()
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
