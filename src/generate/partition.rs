//! Splitting a convex polygon into children that tile it exactly.
//!
//! Polygons are rings of vertex ids in an [`Arena`]. A cut is a straight line; the point where it
//! crosses an edge is computed once, stored once, and recorded as a *split* of that edge. Every
//! ring that uses the edge — the two halves, the neighbour across the edge, every ancestor and
//! every later descendant — picks the point up when it is [refined](Arena::refine), so
//! neighbouring polygons always share borders with identical vertex coordinates and there are no
//! T-junctions. Children's areas add up to their parent's exactly up to floating-point summation.
//!
//! Cuts are straight and the seed polygons convex, so every piece is convex (up to the
//! centimetre [`ON_LINE_M`] snap), which keeps a cut always producing exactly two pieces.

use std::collections::HashMap;

use geo_types::{Coord, LineString, Polygon};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::metric::{M_PER_DEG_LAT_CITY, M_PER_DEG_LON_CITY};

/// Index of a vertex in an [`Arena`].
pub type VertexId = u32;

/// A vertex closer than this to a cut line (in metres) is treated as lying on it, so no crossing
/// point lands a hair's breadth from an existing vertex.
const ON_LINE_M: f64 = 0.01;

/// How many random cut directions are tried before a split is declared impossible.
const CUT_ATTEMPTS: usize = 64;

/// Why a polygon could not be split.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PartitionError {
    #[error("cannot split a polygon of {vertices} vertices into {pieces} pieces: no straight cut produced two simple halves (the polygon is degenerate or not convex)")]
    NoCut { vertices: usize, pieces: usize },
}

/// Shared vertices and the record of which edge was split at which vertex.
#[derive(Debug, Default, Clone)]
pub struct Arena {
    points: Vec<Coord<f64>>,
    /// Undirected edge `(min, max)` → the vertex it was split at. Only looked up, never iterated,
    /// so the map's order cannot leak into the output.
    splits: HashMap<(VertexId, VertexId), VertexId>,
}

/// A cut line `normal · p = offset`, with `normal` scaled so that the signed distance comes out
/// in metres.
#[derive(Debug, Clone, Copy)]
struct Cut {
    normal: Coord<f64>,
    offset: f64,
}

impl Cut {
    fn side(&self, p: Coord<f64>) -> f64 {
        self.normal.x * p.x + self.normal.y * p.y - self.offset
    }
}

fn sign(s: f64) -> i8 {
    if s > ON_LINE_M {
        1
    } else if s < -ON_LINE_M {
        -1
    } else {
        0
    }
}

fn edge_key(a: VertexId, b: VertexId) -> (VertexId, VertexId) {
    (a.min(b), a.max(b))
}

/// Twice the signed shoelace area of a closed ring given as open coordinates (CCW positive).
fn ring_area2(coords: &[Coord<f64>]) -> f64 {
    let n = coords.len();
    (0..n)
        .map(|i| {
            let (a, b) = (coords[i], coords[(i + 1) % n]);
            a.x * b.y - b.x * a.y
        })
        .sum()
}

/// The unit direction (in metres) of `angle` radians, mapped to a degree-space normal whose dot
/// product with a lon/lat point gives metres.
fn metric_normal(angle: f64) -> Coord<f64> {
    Coord {
        x: angle.cos() * M_PER_DEG_LON_CITY,
        y: angle.sin() * M_PER_DEG_LAT_CITY,
    }
}

impl Arena {
    /// Adds a vertex and returns its id.
    pub fn add(&mut self, c: Coord<f64>) -> VertexId {
        self.points.push(c);
        VertexId::try_from(self.points.len() - 1).unwrap_or(VertexId::MAX)
    }

    /// The coordinate of a vertex.
    pub fn coord(&self, v: VertexId) -> Coord<f64> {
        self.points[v as usize]
    }

    /// The ring with every recorded split inserted, so that it shares its vertices with all of
    /// its neighbours. `ring` is open (the first vertex is not repeated).
    pub fn refine(&self, ring: &[VertexId]) -> Vec<VertexId> {
        let mut out = Vec::with_capacity(ring.len() * 2);
        for (i, &a) in ring.iter().enumerate() {
            let b = ring[(i + 1) % ring.len()];
            out.push(a);
            self.push_edge_interior(a, b, &mut out);
        }
        out
    }

    /// Pushes the split vertices strictly between `a` and `b`, in order from `a` to `b`.
    fn push_edge_interior(&self, a: VertexId, b: VertexId, out: &mut Vec<VertexId>) {
        let mut stack = vec![(a, b)];
        while let Some((u, v)) = stack.pop() {
            match self.splits.get(&edge_key(u, v)) {
                // Visit (u, w) first: push (w, v), then w as a marker, then (u, w).
                Some(&w) => {
                    stack.push((w, v));
                    stack.push((w, w));
                    stack.push((u, w));
                }
                None if u == v => out.push(u),
                None => {}
            }
        }
    }

    /// The refined ring as a closed polygon in lon/lat.
    pub fn polygon(&self, ring: &[VertexId]) -> Polygon<f64> {
        let mut coords: Vec<Coord<f64>> =
            self.refine(ring).iter().map(|&v| self.coord(v)).collect();
        if let Some(&first) = coords.first() {
            coords.push(first);
        }
        Polygon::new(LineString::new(coords), vec![])
    }

    /// Twice the signed area (degree²) of the refined ring.
    fn area2(&self, ring: &[VertexId]) -> f64 {
        let coords: Vec<Coord<f64>> = ring.iter().map(|&v| self.coord(v)).collect();
        ring_area2(&coords)
    }

    /// Twice the area of the part of `ring` on the positive side of `cut`, without touching
    /// the arena (used to search the cut offset).
    fn positive_area2(&self, ring: &[VertexId], cut: Cut) -> f64 {
        let mut kept = Vec::with_capacity(ring.len() + 2);
        for (i, &a) in ring.iter().enumerate() {
            let b = ring[(i + 1) % ring.len()];
            let (pa, pb) = (self.coord(a), self.coord(b));
            let (sa, sb) = (cut.side(pa), cut.side(pb));
            if sa >= 0.0 {
                kept.push(pa);
            }
            if (sa >= 0.0) != (sb >= 0.0) {
                kept.push(pa + (pb - pa) * (sa / (sa - sb)));
            }
        }
        ring_area2(&kept)
    }

    /// The vertex where edge `a`–`b` crosses the cut, created and recorded as a split once.
    fn crossing(&mut self, a: VertexId, b: VertexId, sa: f64, sb: f64) -> VertexId {
        let (pa, pb) = (self.coord(a), self.coord(b));
        let x = self.add(pa + (pb - pa) * (sa / (sa - sb)));
        self.splits.insert(edge_key(a, b), x);
        x
    }

    /// Splits a refined ring by `cut` into (positive side, negative side). `None` when the cut
    /// does not cross the ring in exactly two places (the caller then tries another line).
    fn split(&mut self, ring: &[VertexId], cut: Cut) -> Option<(Vec<VertexId>, Vec<VertexId>)> {
        let sides: Vec<f64> = ring.iter().map(|&v| cut.side(self.coord(v))).collect();
        let signs: Vec<i8> = sides.iter().map(|&s| sign(s)).collect();
        let nonzero: Vec<i8> = signs.iter().copied().filter(|&s| s != 0).collect();
        let changes = (0..nonzero.len())
            .filter(|&i| nonzero[i] != nonzero[(i + 1) % nonzero.len()])
            .count();
        if changes != 2 {
            return None;
        }
        let (mut pos, mut neg) = (Vec::new(), Vec::new());
        for i in 0..ring.len() {
            let j = (i + 1) % ring.len();
            if signs[i] >= 0 {
                pos.push(ring[i]);
            }
            if signs[i] <= 0 {
                neg.push(ring[i]);
            }
            if signs[i] * signs[j] < 0 {
                let x = self.crossing(ring[i], ring[j], sides[i], sides[j]);
                pos.push(x);
                neg.push(x);
            }
        }
        (pos.len() >= 3 && neg.len() >= 3).then_some((pos, neg))
    }

    /// The angle (radians, metric frame) along which `ring` is widest, out of a fan of
    /// directions: cutting across it gives compact, block-like pieces.
    fn long_axis(&self, ring: &[VertexId]) -> f64 {
        const FAN: usize = 12;
        (0..FAN)
            .map(|k| k as f64 * std::f64::consts::PI / FAN as f64)
            .map(|angle| {
                let n = metric_normal(angle);
                let proj = ring
                    .iter()
                    .map(|&v| n.x * self.coord(v).x + n.y * self.coord(v).y);
                let (lo, hi) =
                    proj.fold((f64::MAX, f64::MIN), |(lo, hi), p| (lo.min(p), hi.max(p)));
                (hi - lo, angle)
            })
            .fold(
                (f64::MIN, 0.0),
                |best, cand| if cand.0 > best.0 { cand } else { best },
            )
            .1
    }

    /// The cut with normal direction `angle` leaving `share` of the ring's area on its
    /// positive side (bisection on the offset).
    fn balanced_cut(&self, ring: &[VertexId], angle: f64, share: f64) -> Cut {
        let normal = metric_normal(angle);
        let total = self.area2(ring);
        let proj: Vec<f64> = ring
            .iter()
            .map(|&v| normal.x * self.coord(v).x + normal.y * self.coord(v).y)
            .collect();
        let (mut lo, mut hi) = proj
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &p| (lo.min(p), hi.max(p)));
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            let part = self.positive_area2(
                ring,
                Cut {
                    normal,
                    offset: mid,
                },
            ) / total;
            if part > share {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Cut {
            normal,
            offset: 0.5 * (lo + hi),
        }
    }

    /// Splits `ring` into `weights.len()` pieces with areas proportional to `weights`.
    /// Piece `i` goes to item `i`; when `seeds` are given (one lon/lat point per item), items
    /// whose seeds lie on the same side of a cut end up on that side, so seeds steer where each
    /// piece lies. `jitter_deg` turns every cut away from the straight-across direction by up to
    /// that many degrees, for irregular street-block shapes.
    pub fn partition(
        &mut self,
        ring: &[VertexId],
        weights: &[f64],
        seeds: Option<&[Coord<f64>]>,
        jitter_deg: f64,
        rng: &mut ChaCha8Rng,
    ) -> Result<Vec<Vec<VertexId>>, PartitionError> {
        let mut out = vec![Vec::new(); weights.len()];
        let items: Vec<usize> = (0..weights.len()).collect();
        let mut work = vec![(ring.to_vec(), items)];
        while let Some((ring, items)) = work.pop() {
            let ring = self.refine(&ring);
            if let [only] = items[..] {
                out[only] = ring;
                continue;
            }
            let (pos, neg, hi_items, lo_items) =
                self.bisect(&ring, &items, weights, seeds, jitter_deg, rng)?;
            work.push((neg, lo_items));
            work.push((pos, hi_items));
        }
        Ok(out)
    }

    /// One step of [`Arena::partition`]: a cut across the long axis that splits `items` in two
    /// groups of about equal weight. Returns (positive piece, negative piece, their items).
    #[allow(clippy::type_complexity)]
    fn bisect(
        &mut self,
        ring: &[VertexId],
        items: &[usize],
        weights: &[f64],
        seeds: Option<&[Coord<f64>]>,
        jitter_deg: f64,
        rng: &mut ChaCha8Rng,
    ) -> Result<(Vec<VertexId>, Vec<VertexId>, Vec<usize>, Vec<usize>), PartitionError> {
        let axis = self.long_axis(ring);
        for attempt in 0..CUT_ATTEMPTS {
            // Widen the jitter as attempts fail, so a hard polygon still finds a cut.
            let spread = (jitter_deg + attempt as f64 * 3.0).min(89.0).to_radians();
            let angle = axis + rng.random_range(-1.0..=1.0) * spread;
            let mut order = items.to_vec();
            if let Some(seeds) = seeds {
                let n = metric_normal(angle);
                order.sort_by(|&a, &b| {
                    let pa = n.x * seeds[a].x + n.y * seeds[a].y;
                    let pb = n.x * seeds[b].x + n.y * seeds[b].y;
                    pa.total_cmp(&pb).then(a.cmp(&b))
                });
            }
            let k = balanced_split_index(&order, weights);
            let total: f64 = order.iter().map(|&i| weights[i]).sum();
            let high: f64 = order[k..].iter().map(|&i| weights[i]).sum();
            let cut = self.balanced_cut(ring, angle, high / total);
            if let Some((pos, neg)) = self.split(ring, cut) {
                return Ok((pos, neg, order[k..].to_vec(), order[..k].to_vec()));
            }
        }
        Err(PartitionError::NoCut {
            vertices: ring.len(),
            pieces: items.len(),
        })
    }
}

/// The index `k` (1 ≤ k < n) that splits `order` into two runs of weight as equal as possible.
fn balanced_split_index(order: &[usize], weights: &[f64]) -> usize {
    let total: f64 = order.iter().map(|&i| weights[i]).sum();
    let mut acc = 0.0;
    let mut best = (f64::MAX, 1);
    for k in 1..order.len() {
        acc += weights[order[k - 1]];
        let diff = (acc - total / 2.0).abs();
        if diff < best.0 {
            best = (diff, k);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use geo::{Area, BooleanOps, Validation};
    use rand::SeedableRng;

    use super::*;

    fn square(arena: &mut Arena, size: f64) -> Vec<VertexId> {
        [(0.0, 0.0), (size, 0.0), (size, size), (0.0, size)]
            .into_iter()
            .map(|(x, y)| {
                arena.add(Coord {
                    x: 114.0 + x,
                    y: 35.7 + y,
                })
            })
            .collect()
    }

    #[test]
    fn one_piece_is_the_ring_itself() {
        let mut arena = Arena::default();
        let ring = square(&mut arena, 0.01);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let pieces = arena
            .partition(&ring, &[1.0], None, 20.0, &mut rng)
            .unwrap();
        assert_eq!(pieces, vec![ring]);
    }

    #[test]
    fn refine_of_an_unsplit_ring_is_unchanged() {
        let mut arena = Arena::default();
        let ring = square(&mut arena, 0.01);
        assert_eq!(arena.refine(&ring), ring);
    }

    #[test]
    fn a_cut_through_a_vertex_reuses_it() {
        let mut arena = Arena::default();
        let ring = square(&mut arena, 0.01);
        // The diagonal from (0,0) to (size,size): normal along (1,-1) in degree space.
        let normal = Coord { x: 1.0, y: -1.0 } * 1.0e5;
        let offset = normal.x * arena.coord(ring[0]).x + normal.y * arena.coord(ring[0]).y;
        let (pos, neg) = arena.split(&ring, Cut { normal, offset }).unwrap();
        assert_eq!(pos.len(), 3);
        assert_eq!(neg.len(), 3);
        assert_eq!(
            arena.points.len(),
            4,
            "no new vertex for a cut through two corners"
        );
    }

    #[test]
    fn a_cut_missing_the_ring_is_refused() {
        let mut arena = Arena::default();
        let ring = square(&mut arena, 0.01);
        let cut = Cut {
            normal: Coord { x: 1.0e5, y: 0.0 },
            offset: 1.0e5 * 200.0,
        };
        assert!(arena.split(&ring, cut).is_none());
    }

    #[test]
    fn nested_partitions_tile_exactly_with_shared_vertices() {
        let mut arena = Arena::default();
        let ring = square(&mut arena, 0.05);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let weights = [1.0, 2.0, 1.5, 0.7, 1.0];
        let children = arena
            .partition(&ring, &weights, None, 25.0, &mut rng)
            .unwrap();
        let mut grandchildren = Vec::new();
        for child in &children {
            grandchildren.extend(
                arena
                    .partition(child, &[1.0; 4], None, 25.0, &mut rng)
                    .unwrap(),
            );
        }
        for level in [&children, &grandchildren] {
            let parent = arena.polygon(&ring);
            let polys: Vec<Polygon<f64>> = level.iter().map(|r| arena.polygon(r)).collect();
            let sum: f64 = polys.iter().map(|p| p.unsigned_area()).sum();
            assert!((sum - parent.unsigned_area()).abs() <= 1e-9 * parent.unsigned_area());
            for (i, a) in polys.iter().enumerate() {
                assert!(a.is_valid(), "{:?}", a.validation_errors());
                for b in &polys[i + 1..] {
                    assert!(a.intersection(b).unsigned_area() <= 1e-12 * parent.unsigned_area());
                }
            }
        }
        // Every vertex of every grandchild that lies on another grandchild's boundary is a
        // vertex of that grandchild too (no T-junctions).
        let rings: Vec<Vec<VertexId>> = grandchildren.iter().map(|r| arena.refine(r)).collect();
        for a in &rings {
            for b in &rings {
                for &v in a {
                    let p = arena.coord(v);
                    let on_edge = (0..b.len()).any(|i| {
                        let (u, w) = (arena.coord(b[i]), arena.coord(b[(i + 1) % b.len()]));
                        let cross = (w.x - u.x) * (p.y - u.y) - (w.y - u.y) * (p.x - u.x);
                        let within = (p.x - u.x) * (p.x - w.x) + (p.y - u.y) * (p.y - w.y) < 0.0;
                        within && cross.abs() < 1e-14
                    });
                    assert!(!on_edge || b.contains(&v), "T-junction at {p:?}");
                }
            }
        }
    }

    #[test]
    fn weights_set_the_areas() {
        let mut arena = Arena::default();
        let ring = square(&mut arena, 0.02);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let pieces = arena
            .partition(&ring, &[1.0, 3.0], None, 10.0, &mut rng)
            .unwrap();
        let a0 = arena.polygon(&pieces[0]).unsigned_area();
        let a1 = arena.polygon(&pieces[1]).unsigned_area();
        assert!((a1 / a0 - 3.0).abs() < 1e-6, "{}", a1 / a0);
    }

    #[test]
    fn seeds_steer_pieces() {
        let mut arena = Arena::default();
        let ring = square(&mut arena, 0.02);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let seeds = [
            Coord {
                x: 114.001,
                y: 35.701,
            },
            Coord {
                x: 114.019,
                y: 35.719,
            },
        ];
        let pieces = arena
            .partition(&ring, &[1.0, 1.0], Some(&seeds), 10.0, &mut rng)
            .unwrap();
        use geo::Contains;
        for (piece, seed) in pieces.iter().zip(seeds) {
            assert!(arena.polygon(piece).contains(&geo_types::Point::from(seed)));
        }
    }
}
