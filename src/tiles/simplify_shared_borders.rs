//! Simplification that keeps shared borders shared.
//!
//! The rule: the rings of one tile layer are cut into chains at their junctions, each chain is
//! simplified once (Douglas–Peucker, tolerance in tile units) and every ring that runs along
//! the chain reuses that one result, forwards or backwards. Two neighbouring grids whose
//! borders carry identical vertices (the generator and the import guarantee it) therefore get
//! identical simplified borders: no slivers, no gaps.
//!
//! A vertex is a junction when the rings through it use other than exactly two distinct edges
//! there (where a shared border begins or ends, where three areas meet, where a ring touches
//! itself). A ring with no junction (an island, or an island and the hole it fills) starts its
//! single closed chain at its smallest vertex, so both copies agree. Each chain is simplified
//! in a canonical direction (the lexicographically smaller of forwards and backwards) so the
//! result does not depend on which neighbour asked first.
//!
//! A ring that would collapse (fewer than three distinct points or almost no area) marks its
//! chains as kept: they stay unsimplified for every ring that uses them, so a small grid never
//! vanishes inside its zoom range and its neighbours still share its border.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use geo_types::Coord;

use super::fx_hash::FxBuild;

/// A ring in tile units, open (the first vertex is not repeated at the end).
pub type Ring = Vec<Coord<f64>>;

/// Rings whose area falls below this (tile units²) count as collapsed.
const COLLAPSED_AREA: f64 = 1.0;

type VertexKey = (u64, u64);

fn key(c: Coord<f64>) -> VertexKey {
    (c.x.to_bits(), c.y.to_bits())
}

fn cmp_coord(a: &Coord<f64>, b: &Coord<f64>) -> Ordering {
    a.x.total_cmp(&b.x).then(a.y.total_cmp(&b.y))
}

/// One maximal run of vertices between junctions, stored in canonical direction.
struct Chain {
    points: Vec<Coord<f64>>,
    simplified: Vec<Coord<f64>>,
}

/// The chains by their first two points in canonical direction.
type ChainIndex = HashMap<(VertexKey, VertexKey), usize, FxBuild>;

/// How a ring uses a chain.
#[derive(Clone, Copy)]
struct ChainUse {
    chain: usize,
    reversed: bool,
}

/// Simplifies every ring of one layer with `tolerance` tile units; `keep` says which input
/// rings must not collapse. Returns the rings in input order; a collapsed ring that may be
/// dropped comes back with fewer than three points.
pub fn simplify_shared(rings: &[Ring], keep: &[bool], tolerance: f64) -> Vec<Ring> {
    let junctions = find_junctions(rings);
    let mut chains: Vec<Chain> = Vec::new();
    let mut index = ChainIndex::default();
    let uses: Vec<Vec<ChainUse>> = rings
        .iter()
        .map(|ring| split_ring(ring, &junctions, &mut chains, &mut index, tolerance))
        .collect();
    // Which rings collapse is judged on the plain simplification of every chain first, so
    // the outcome does not depend on the order of the rings.
    let collapsing: Vec<usize> = uses
        .iter()
        .enumerate()
        .filter(|(i, u)| keep.get(*i).copied().unwrap_or(false) && collapsed(&assemble(u, &chains)))
        .map(|(i, _)| i)
        .collect();
    for i in collapsing {
        for u in &uses[i] {
            let chain = &mut chains[u.chain];
            chain.simplified = chain.points.clone();
        }
    }
    uses.iter().map(|u| assemble(u, &chains)).collect()
}

/// The distinct neighbours a vertex has among the rings: one, two, or more.
#[derive(Clone, Copy)]
enum Neighbours {
    One(VertexKey),
    Two(VertexKey, VertexKey),
    More,
}

impl Neighbours {
    fn with(self, k: VertexKey) -> Neighbours {
        match self {
            Neighbours::One(a) if a == k => self,
            Neighbours::One(a) => Neighbours::Two(a, k),
            Neighbours::Two(a, b) if a == k || b == k => self,
            Neighbours::Two(..) | Neighbours::More => Neighbours::More,
        }
    }
}

/// The vertices at which chains start and end.
type Junctions = HashSet<VertexKey, FxBuild>;

/// Vertices where the rings use other than exactly two distinct edges.
fn find_junctions(rings: &[Ring]) -> Junctions {
    let vertices = rings.iter().map(Vec::len).sum();
    let mut neighbours: HashMap<VertexKey, Neighbours, FxBuild> =
        HashMap::with_capacity_and_hasher(vertices, FxBuild::default());
    for ring in rings {
        let n = ring.len();
        for i in 0..n {
            let (before, after) = (key(ring[(i + n - 1) % n]), key(ring[(i + 1) % n]));
            neighbours
                .entry(key(ring[i]))
                .and_modify(|seen| *seen = seen.with(before).with(after))
                .or_insert_with(|| Neighbours::One(before).with(after));
        }
    }
    neighbours
        .into_iter()
        .filter(|(_, n)| !matches!(n, Neighbours::Two(..)))
        .map(|(k, _)| k)
        .collect()
}

/// Cuts a ring into chains (registering new ones) and returns how the ring uses them.
fn split_ring(
    ring: &Ring,
    junctions: &Junctions,
    chains: &mut Vec<Chain>,
    index: &mut ChainIndex,
    tolerance: f64,
) -> Vec<ChainUse> {
    if ring.len() < 3 {
        return Vec::new();
    }
    let Some(start) = ring.iter().position(|c| junctions.contains(&key(*c))) else {
        // No junction: one closed chain from the smallest vertex, looked up no further.
        let start = smallest_vertex(ring);
        let run = ring[start..]
            .iter()
            .chain(&ring[..=start])
            .copied()
            .collect();
        return vec![register(run, chains, index, tolerance)];
    };
    let n = ring.len();
    let mut uses = Vec::new();
    let mut run = vec![ring[start]];
    for step in 1..=n {
        let c = ring[(start + step) % n];
        run.push(c);
        if step == n || junctions.contains(&key(c)) {
            uses.push(register(
                std::mem::replace(&mut run, vec![c]),
                chains,
                index,
                tolerance,
            ));
        }
    }
    uses
}

fn smallest_vertex(ring: &Ring) -> usize {
    (0..ring.len())
        .min_by(|&a, &b| cmp_coord(&ring[a], &ring[b]))
        .unwrap_or(0)
}

/// Finds or adds the chain `run` (in the ring's direction).
fn register(
    run: Vec<Coord<f64>>,
    chains: &mut Vec<Chain>,
    index: &mut ChainIndex,
    tolerance: f64,
) -> ChainUse {
    let reversed = run
        .iter()
        .zip(run.iter().rev())
        .map(|(a, b)| cmp_coord(a, b))
        .find(|o| o.is_ne())
        == Some(Ordering::Greater);
    let mut points = run;
    if reversed {
        points.reverse();
    }
    let id = (key(points[0]), key(points[1]));
    let chain = *index.entry(id).or_insert_with(|| {
        let simplified = douglas_peucker(&points, tolerance);
        chains.push(Chain { points, simplified });
        chains.len() - 1
    });
    ChainUse { chain, reversed }
}

/// Joins a ring's chains back into an open ring.
fn assemble(uses: &[ChainUse], chains: &[Chain]) -> Ring {
    let len = uses.iter().map(|u| chains[u.chain].simplified.len()).sum();
    let mut ring: Ring = Vec::with_capacity(len);
    for u in uses {
        let pts = &chains[u.chain].simplified;
        // Each chain's first point is the previous chain's last.
        let skip = usize::from(!ring.is_empty());
        if u.reversed {
            ring.extend(pts.iter().rev().skip(skip));
        } else {
            ring.extend(pts.iter().skip(skip));
        }
    }
    if ring.len() > 1 && ring.first() == ring.last() {
        ring.pop();
    }
    ring
}

fn collapsed(ring: &Ring) -> bool {
    ring.len() < 3 || signed_area(ring).abs() < COLLAPSED_AREA
}

/// Shoelace area of an open ring (positive when clockwise in y-down tile units).
pub fn signed_area(ring: &[Coord<f64>]) -> f64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            a.x * b.y - b.x * a.y
        })
        .sum::<f64>()
        / 2.0
}

/// Douglas–Peucker on an open polyline (its ends are always kept). A closed chain (first ==
/// last) is first split at its vertex farthest from the start.
pub fn douglas_peucker(points: &[Coord<f64>], tolerance: f64) -> Vec<Coord<f64>> {
    if points.len() < 3 {
        return points.to_vec();
    }
    let last = points.len() - 1;
    let mut keep = vec![false; points.len()];
    keep[0] = true;
    keep[last] = true;
    if points[0] == points[last] {
        let far = (1..last)
            .max_by(|&a, &b| dist2(points[a], points[0]).total_cmp(&dist2(points[b], points[0])))
            .unwrap_or(1);
        keep[far] = true;
        mark(points, 0, far, tolerance, &mut keep);
        mark(points, far, last, tolerance, &mut keep);
    } else {
        mark(points, 0, last, tolerance, &mut keep);
    }
    points
        .iter()
        .zip(keep)
        .filter_map(|(p, k)| k.then_some(*p))
        .collect()
}

fn mark(points: &[Coord<f64>], first: usize, last: usize, tolerance: f64, keep: &mut [bool]) {
    let mut stack = vec![(first, last)];
    while let Some((a, b)) = stack.pop() {
        if b <= a + 1 {
            continue;
        }
        let (far, d) = (a + 1..b)
            .map(|i| (i, segment_distance(points[i], points[a], points[b])))
            .fold(
                (a + 1, -1.0),
                |best, cur| if cur.1 > best.1 { cur } else { best },
            );
        if d > tolerance {
            keep[far] = true;
            stack.push((a, far));
            stack.push((far, b));
        }
    }
}

fn dist2(a: Coord<f64>, b: Coord<f64>) -> f64 {
    (a.x - b.x).powi(2) + (a.y - b.y).powi(2)
}

/// Distance from `p` to the segment `a`–`b`.
fn segment_distance(p: Coord<f64>, a: Coord<f64>, b: Coord<f64>) -> f64 {
    let len2 = dist2(a, b);
    if len2 == 0.0 {
        return dist2(p, a).sqrt();
    }
    let t = (((p.x - a.x) * (b.x - a.x) + (p.y - a.y) * (b.y - a.y)) / len2).clamp(0.0, 1.0);
    dist2(p, coord(a.x + t * (b.x - a.x), a.y + t * (b.y - a.y))).sqrt()
}

fn coord(x: f64, y: f64) -> Coord<f64> {
    Coord { x, y }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(pts: &[(f64, f64)]) -> Ring {
        pts.iter().map(|&(x, y)| coord(x, y)).collect()
    }

    #[test]
    fn no_rings_give_no_rings() {
        assert!(simplify_shared(&[], &[], 1.0).is_empty());
    }

    #[test]
    fn a_degenerate_ring_stays_degenerate() {
        let out = simplify_shared(&[ring(&[(0.0, 0.0), (1.0, 1.0)])], &[true], 1.0);
        assert!(out[0].len() < 3);
    }

    #[test]
    fn a_lone_square_keeps_its_corners() {
        let sq = ring(&[
            (0.0, 0.0),
            (50.0, 0.0),
            (100.0, 0.0),
            (100.0, 100.0),
            (0.0, 100.0),
        ]);
        let out = simplify_shared(std::slice::from_ref(&sq), &[false], 1.0);
        assert_eq!(out[0].len(), 4, "{:?}", out[0]);
    }

    #[test]
    fn a_ring_that_collapses_is_kept_when_asked() {
        let tiny = ring(&[(0.0, 0.0), (3.0, 0.0), (3.0, 3.0), (0.0, 3.0)]);
        let dropped = simplify_shared(std::slice::from_ref(&tiny), &[false], 10.0);
        assert!(collapsed(&dropped[0]));
        let kept = simplify_shared(std::slice::from_ref(&tiny), &[true], 10.0);
        assert_eq!(kept[0].len(), 4);
    }

    /// Two squares sharing a wiggly border: the border must come out identical in both.
    #[test]
    fn a_shared_border_stays_shared() {
        let border: Vec<(f64, f64)> = (0..=20)
            .map(|i| {
                (
                    100.0 + if i % 2 == 0 { 0.3 } else { -0.3 } * f64::from(i % 3),
                    f64::from(i) * 5.0,
                )
            })
            .collect();
        let mut left = vec![(0.0, 100.0), (0.0, 0.0)];
        left.extend(border.iter().copied());
        let mut right: Vec<(f64, f64)> = border.iter().rev().copied().collect();
        right.extend([(200.0, 0.0), (200.0, 100.0)]);
        let right = {
            let mut r = right;
            r.rotate_left(3);
            r
        };
        let out = simplify_shared(&[ring(&left), ring(&right)], &[true, true], 2.0);
        let on_border = |r: &Ring| -> Vec<Coord<f64>> {
            let mut v: Vec<Coord<f64>> = r
                .iter()
                .copied()
                .filter(|c| c.x > 99.0 && c.x < 101.0)
                .collect();
            v.sort_by(cmp_coord);
            v
        };
        assert_eq!(on_border(&out[0]), on_border(&out[1]));
        assert!(
            on_border(&out[0]).len() < border.len(),
            "the border was simplified"
        );
    }

    #[test]
    fn an_island_and_its_hole_agree() {
        let island = ring(&[
            (10.0, 10.0),
            (20.0, 10.5),
            (30.0, 10.0),
            (30.0, 30.0),
            (10.0, 30.0),
        ]);
        let mut hole = island.clone();
        hole.reverse();
        hole.rotate_left(2);
        let out = simplify_shared(&[island, hole], &[false, false], 1.0);
        let mut a = out[0].clone();
        let mut b = out[1].clone();
        a.sort_by(cmp_coord);
        b.sort_by(cmp_coord);
        assert_eq!(a, b);
    }

    #[test]
    fn douglas_peucker_keeps_the_ends_of_a_straight_line() {
        let line = ring(&[(0.0, 0.0), (1.0, 0.1), (2.0, 0.0)]);
        assert_eq!(douglas_peucker(&line, 0.5), ring(&[(0.0, 0.0), (2.0, 0.0)]));
    }

    #[test]
    fn clockwise_in_y_down_units_is_positive() {
        // East, then south (y grows downwards), then west: clockwise on screen.
        let r = ring(&[(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)]);
        assert!(signed_area(&r) > 0.0);
    }
}
