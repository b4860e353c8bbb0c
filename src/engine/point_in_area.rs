//! Point in area: which polygon contains a point, and which area owns it.
//!
//! # The border rule
//!
//! Among the areas of one layer and level whose *closed* polygon contains a point (PostGIS
//! `ST_Intersects`: interior or boundary), **the one with the lowest code owns it**. An interior
//! point has exactly one candidate in a layer that tiles without overlap; a point on a border
//! shared by several areas goes to the lowest code. Because child codes extend their parent's,
//! the same point goes to a child of the parent that owns it, so chains stay consistent across
//! levels. The equivalent SQL, used by the tests and the benchmark:
//!
//! ```sql
//! SELECT min(code) FROM area
//! WHERE layer = 'base' AND level = 5
//!   AND ST_Intersects(geom, ST_SetSRID(ST_MakePoint(lon, lat), 4490))
//! ```
//!
//! # Exact agreement with PostGIS
//!
//! PostGIS answers `ST_Intersects(polygon, point)` with a winding-number test on each ring (its
//! "point in polygon short circuit"), in plain double arithmetic: an edge `a → b` puts the point
//! `p` on its left when `(b.x − a.x)(p.y − a.y) − (p.x − a.x)(b.y − a.y)` is positive, on the
//! ring when that value is exactly zero and `p` lies in the edge's bounding box, and the winding
//! number counts upward edges with `a.y ≤ p.y < b.y` that have `p` on their left, minus
//! downward edges with `b.y ≤ p.y < a.y` that have `p` on their right. Zero-length edges are
//! skipped. A polygon holds the point when its exterior ring holds it (boundary included) and no
//! hole holds it strictly inside; a point on a hole's ring is on the boundary, hence inside.
//!
//! [`PreparedArea`] evaluates exactly the same expressions in the same order, so its answer is
//! bit-for-bit the one PostGIS gives, including for points within rounding distance of an edge
//! (where a robust predicate such as `geo`'s `Intersects` may answer differently). It is
//! "prepared" by bucketing each ring's edges by latitude: a test reads only the edges whose
//! latitude range can contain the point, which keeps city and district boundaries with
//! thousands of vertices as fast as a grid.

use geo_types::{Coord, LineString, MultiPolygon, Polygon};

/// Where a point lies relative to a ring or polygon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    Outside,
    Boundary,
    Inside,
}

/// One ring's edges, bucketed by latitude for the point test. Each bucket holds copies of the
/// edges whose latitude range overlaps it, contiguous in memory, so a test reads one short run.
#[derive(Debug, Clone)]
struct PreparedRing {
    /// Lowest and highest latitude of the ring.
    y0: f64,
    y1: f64,
    /// Buckets per degree of latitude.
    scale: f64,
    /// `bucket_start[i]..bucket_start[i + 1]` indexes `bucket_edges` for bucket `i`.
    bucket_start: Vec<u32>,
    /// Edges as stored, `[a.x, a.y, b.x, b.y]` (the direction matters for the floating-point
    /// side test to match PostGIS), bucket after bucket.
    bucket_edges: Vec<[f64; 4]>,
}

/// Edges per bucket aimed at: small enough to read few edges per test, large enough to keep
/// the index small.
const EDGES_PER_BUCKET: usize = 2;

impl PreparedRing {
    fn new(ring: &LineString<f64>) -> PreparedRing {
        let edges: Vec<[f64; 4]> = ring
            .0
            .windows(2)
            .map(|w| [w[0].x, w[0].y, w[1].x, w[1].y])
            .filter(|e| !(e[0] == e[2] && e[1] == e[3]))
            .collect();
        let (y0, y1) = edges
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), e| {
                (lo.min(e[1]).min(e[3]), hi.max(e[1]).max(e[3]))
            });
        let buckets = (edges.len() / EDGES_PER_BUCKET).clamp(1, 1 << 16);
        let height = y1 - y0;
        let scale = if height > 0.0 {
            buckets as f64 / height
        } else {
            0.0
        };
        let mut ring = PreparedRing {
            y0,
            y1,
            scale,
            bucket_start: vec![0; buckets + 1],
            bucket_edges: Vec::new(),
        };
        ring.fill_buckets(&edges);
        ring
    }

    fn buckets(&self) -> usize {
        self.bucket_start.len() - 1
    }

    /// The bucket of a latitude. Monotone in `y` (IEEE rounding is monotone), so an edge whose
    /// latitude range holds `y` is always listed in `y`'s bucket.
    fn bucket(&self, y: f64) -> usize {
        let b = ((y - self.y0) * self.scale).floor();
        if b.is_nan() || b < 0.0 {
            0
        } else {
            (b as usize).min(self.buckets() - 1)
        }
    }

    fn fill_buckets(&mut self, edges: &[[f64; 4]]) {
        let ranges: Vec<(usize, usize)> = edges
            .iter()
            .map(|e| (self.bucket(e[1].min(e[3])), self.bucket(e[1].max(e[3]))))
            .collect();
        let mut start = vec![0u32; self.buckets() + 1];
        for &(lo, hi) in &ranges {
            for c in &mut start[lo + 1..=hi + 1] {
                *c += 1;
            }
        }
        for i in 1..start.len() {
            start[i] += start[i - 1];
        }
        let mut next = start.clone();
        let mut bucket_edges = vec![[0.0; 4]; start[self.buckets()] as usize];
        for (edge, &(lo, hi)) in edges.iter().zip(&ranges) {
            for slot in &mut next[lo..=hi] {
                bucket_edges[*slot as usize] = *edge;
                *slot += 1;
            }
        }
        self.bucket_start = start;
        self.bucket_edges = bucket_edges;
    }

    /// The PostGIS winding-number test (see the module documentation).
    fn position(&self, p: Coord<f64>) -> Position {
        // Outside the latitude range no edge can count or touch (NaN fails both tests).
        if !(self.y0 <= p.y && p.y <= self.y1) {
            return Position::Outside;
        }
        let b = self.bucket(p.y);
        let edges =
            &self.bucket_edges[self.bucket_start[b] as usize..self.bucket_start[b + 1] as usize];
        let mut winding = 0i32;
        for &[ax, ay, bx, by] in edges {
            let side = (bx - ax) * (p.y - ay) - (p.x - ax) * (by - ay);
            if side == 0.0 && on_segment_box(ax, ay, bx, by, p) {
                return Position::Boundary;
            }
            if ay <= p.y && p.y < by && side > 0.0 {
                winding += 1;
            } else if by <= p.y && p.y < ay && side < 0.0 {
                winding -= 1;
            }
        }
        if winding == 0 {
            Position::Outside
        } else {
            Position::Inside
        }
    }
}

/// Whether `p` lies in the closed bounding box of the edge `a → b`.
fn on_segment_box(ax: f64, ay: f64, bx: f64, by: f64, p: Coord<f64>) -> bool {
    ax.min(bx) <= p.x && p.x <= ax.max(bx) && ay.min(by) <= p.y && p.y <= ay.max(by)
}

#[derive(Debug, Clone)]
struct PreparedPolygon {
    exterior: PreparedRing,
    holes: Vec<PreparedRing>,
}

impl PreparedPolygon {
    fn new(polygon: &Polygon<f64>) -> PreparedPolygon {
        PreparedPolygon {
            exterior: PreparedRing::new(polygon.exterior()),
            holes: polygon.interiors().iter().map(PreparedRing::new).collect(),
        }
    }
}

/// An area's (multi)polygon prepared for fast, PostGIS-exact point tests.
#[derive(Debug, Clone)]
pub struct PreparedArea {
    polygons: Vec<PreparedPolygon>,
}

impl PreparedArea {
    /// Prepares the geometry once; tests are then read-only.
    pub fn new(geometry: &MultiPolygon<f64>) -> PreparedArea {
        PreparedArea {
            polygons: geometry.0.iter().map(PreparedPolygon::new).collect(),
        }
    }

    /// Where `p` lies, following PostGIS's multipolygon rule: the first polygon whose exterior
    /// holds the point decides, a hole boundary counts as boundary, a point strictly inside a
    /// hole goes on to the next polygon.
    pub fn position(&self, p: Coord<f64>) -> Position {
        for polygon in &self.polygons {
            match polygon.exterior.position(p) {
                Position::Outside => continue,
                Position::Boundary => return Position::Boundary,
                Position::Inside => {}
            }
            let mut in_hole = false;
            for hole in &polygon.holes {
                match hole.position(p) {
                    Position::Inside => {
                        in_hole = true;
                        break;
                    }
                    Position::Boundary => return Position::Boundary,
                    Position::Outside => {}
                }
            }
            if !in_hole {
                return Position::Inside;
            }
        }
        Position::Outside
    }

    /// Whether the closed polygon contains `p` (PostGIS `ST_Intersects`).
    pub fn intersects(&self, p: Coord<f64>) -> bool {
        self.position(p) != Position::Outside
    }
}

/// The owner of a point among candidate areas under the border rule: the lowest code whose
/// closed polygon contains the point. An accumulator, so that candidates can come from an
/// R-tree visit without collecting them first.
pub struct OwnerSearch<'a, T> {
    p: Coord<f64>,
    best: Option<(&'a str, &'a T)>,
}

impl<'a, T> OwnerSearch<'a, T> {
    /// Starts a search for the owner of `p`.
    pub fn new(p: Coord<f64>) -> Self {
        OwnerSearch { p, best: None }
    }

    /// Considers one candidate; the polygon is tested only when its code would win.
    pub fn offer(&mut self, code: &'a str, prepared: &PreparedArea, item: &'a T) {
        if self.best.is_some_and(|(b, _)| b <= code) {
            return;
        }
        if prepared.intersects(self.p) {
            self.best = Some((code, item));
        }
    }

    /// The winner so far.
    pub fn owner(&self) -> Option<&'a T> {
        self.best.map(|(_, item)| item)
    }
}

#[cfg(test)]
mod tests {
    use geo::Intersects;
    use geo_types::{coord, polygon, MultiPolygon};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> Polygon<f64> {
        polygon![(x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1), (x: x0, y: y1)]
    }

    fn prepared(polygons: Vec<Polygon<f64>>) -> PreparedArea {
        PreparedArea::new(&MultiPolygon(polygons))
    }

    #[test]
    fn empty_geometry_contains_nothing() {
        let area = prepared(vec![]);
        assert_eq!(area.position(coord! {x: 0.0, y: 0.0}), Position::Outside);
        let empty_ring = prepared(vec![Polygon::new(LineString(vec![]), vec![])]);
        assert_eq!(
            empty_ring.position(coord! {x: 0.0, y: 0.0}),
            Position::Outside
        );
    }

    #[test]
    fn degenerate_ring_with_repeated_points() {
        let ring = LineString::from(vec![
            (0.0, 0.0),
            (0.0, 0.0),
            (1.0, 0.0),
            (1.0, 0.0),
            (1.0, 1.0),
            (0.0, 0.0),
        ]);
        let area = prepared(vec![Polygon::new(ring, vec![])]);
        assert_eq!(area.position(coord! {x: 0.0, y: 0.0}), Position::Boundary);
        assert_eq!(area.position(coord! {x: 0.9, y: 0.5}), Position::Inside);
        assert_eq!(area.position(coord! {x: 0.1, y: 0.5}), Position::Outside);
    }

    #[test]
    fn edges_and_vertices_are_boundary() {
        let area = prepared(vec![square(0.0, 0.0, 2.0, 2.0)]);
        for (x, y) in [
            (0.0, 0.0),
            (2.0, 2.0),
            (1.0, 0.0),
            (2.0, 1.0),
            (1.0, 2.0),
            (0.0, 1.5),
        ] {
            assert_eq!(
                area.position(coord! {x: x, y: y}),
                Position::Boundary,
                "({x}, {y})"
            );
        }
        assert_eq!(area.position(coord! {x: 1.0, y: 1.0}), Position::Inside);
        for (x, y) in [
            (-0.1, 1.0),
            (2.1, 1.0),
            (1.0, 2.1),
            (1.0, -1e-12),
            (3.0, 0.0),
            (0.0, 3.0),
        ] {
            assert_eq!(
                area.position(coord! {x: x, y: y}),
                Position::Outside,
                "({x}, {y})"
            );
        }
    }

    #[test]
    fn hole_interior_is_outside_and_hole_ring_is_boundary() {
        let hole = square(1.0, 1.0, 2.0, 2.0).exterior().clone();
        let with_hole = Polygon::new(square(0.0, 0.0, 3.0, 3.0).exterior().clone(), vec![hole]);
        let area = prepared(vec![with_hole]);
        assert_eq!(area.position(coord! {x: 1.5, y: 1.5}), Position::Outside);
        assert_eq!(area.position(coord! {x: 1.0, y: 1.5}), Position::Boundary);
        assert_eq!(area.position(coord! {x: 0.5, y: 1.5}), Position::Inside);
    }

    #[test]
    fn multipolygon_parts_and_island_in_hole() {
        let hole = square(1.0, 1.0, 4.0, 4.0).exterior().clone();
        let ring = Polygon::new(square(0.0, 0.0, 5.0, 5.0).exterior().clone(), vec![hole]);
        let island = square(2.0, 2.0, 3.0, 3.0);
        let far = square(10.0, 10.0, 11.0, 11.0);
        let area = prepared(vec![ring, island, far]);
        assert_eq!(area.position(coord! {x: 2.5, y: 2.5}), Position::Inside);
        assert_eq!(area.position(coord! {x: 1.5, y: 1.5}), Position::Outside);
        assert_eq!(area.position(coord! {x: 10.5, y: 10.5}), Position::Inside);
        assert_eq!(area.position(coord! {x: 7.0, y: 7.0}), Position::Outside);
    }

    #[test]
    fn owner_is_the_lowest_code_on_shared_borders() {
        let a = prepared(vec![square(0.0, 0.0, 1.0, 1.0)]);
        let b = prepared(vec![square(1.0, 0.0, 2.0, 1.0)]);
        let c = prepared(vec![square(0.0, 1.0, 1.0, 2.0)]);
        let d = prepared(vec![square(1.0, 1.0, 2.0, 2.0)]);
        let all = [("004", &d), ("002", &b), ("003", &c), ("001", &a)];
        let find = |x: f64, y: f64| {
            let mut search = OwnerSearch::new(coord! {x: x, y: y});
            for (code, prepared) in &all {
                search.offer(code, prepared, code);
            }
            search.owner().copied()
        };
        assert_eq!(find(1.0, 1.0), Some("001"), "vertex shared by four");
        assert_eq!(find(1.0, 1.5), Some("003"), "edge shared by 003 and 004");
        assert_eq!(find(1.5, 1.0), Some("002"), "edge shared by 002 and 004");
        assert_eq!(find(1.5, 1.5), Some("004"));
        assert_eq!(find(2.0, 2.0), Some("004"), "outer corner");
        assert_eq!(find(2.5, 2.5), None);
    }

    #[test]
    fn agrees_with_geo_away_from_edges_on_a_large_ring() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let n = 2000;
        let star: Vec<(f64, f64)> = (0..n)
            .map(|i| {
                let t = i as f64 / n as f64 * std::f64::consts::TAU;
                let r = if i % 2 == 0 { 1.0 } else { 0.6 };
                (114.3 + r * t.cos(), 35.7 + r * t.sin())
            })
            .collect();
        let polygon = Polygon::new(LineString::from(star), vec![]);
        let area = prepared(vec![polygon.clone()]);
        for _ in 0..20_000 {
            let p = coord! {x: rng.random_range(113.2..115.4), y: rng.random_range(34.6..36.8)};
            assert_eq!(area.intersects(p), polygon.intersects(&p), "{p:?}");
        }
    }
}
