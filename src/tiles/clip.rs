//! Clipping to the tile plus its buffer.
//!
//! The rule: a polygon wholly inside the clip rectangle is kept as it is, one wholly outside is
//! dropped, and only one that crosses the rectangle's edge is intersected with it. Two cases of
//! crossing are cheap and common, and are done in one pass over the ring:
//! - the exterior never meets the rectangle's edge (a district around a high-zoom tile): the
//!   rectangle is wholly inside it or wholly outside;
//! - the exterior enters once and leaves once: Sutherland–Hodgman gives its one valid part.
//!
//! Every other crossing (a ring that leaves and re-enters, a vertex on the edge line, a hole
//! across or on the edge) uses geo's boolean intersection (i_overlay): there S–H would join the
//! separate parts with zero-width bridges along the edge, which MVT 2.1 and every validity
//! check refuse. Inputs are already quantized to whole tile units and the clip edges are whole
//! units too, so the vertices the two neighbours of a border share come back unchanged and only
//! the crossing points with the rectangle edge are new; a crossing point is computed from the
//! segment's ends in a fixed order, so both neighbours get the same one.
//!
//! Lines are clipped segment by segment with Liang–Barsky against the closed rectangle: a
//! segment on the edge is kept, one touching it at a single point gives nothing, and a line that
//! leaves and re-enters becomes one part per stay inside. Vertices inside come back unchanged
//! (only crossing points are computed), so consecutive kept segments join exactly.

use std::borrow::Cow;

use geo::{BooleanOps, BoundingRect, Intersects};
use geo_types::{coord, Coord, LineString, MultiLineString, MultiPolygon, Polygon, Rect};

/// The part of `polygon` inside `clip`.
pub fn clip_polygon(polygon: &Polygon<f64>, clip: Rect<f64>) -> MultiPolygon<f64> {
    clip_either(Cow::Borrowed(polygon), clip)
}

/// [`clip_polygon`] of a polygon the caller has no further use for: one wholly inside the
/// rectangle (most buildings of a tile) is moved into the result rather than copied.
pub fn clip_owned_polygon(polygon: Polygon<f64>, clip: Rect<f64>) -> MultiPolygon<f64> {
    clip_either(Cow::Owned(polygon), clip)
}

/// The module rules, for a borrowed or an owned polygon.
fn clip_either(polygon: Cow<'_, Polygon<f64>>, clip: Rect<f64>) -> MultiPolygon<f64> {
    let Some(bounds) = polygon.bounding_rect() else {
        return MultiPolygon::new(Vec::new());
    };
    if contains_rect(clip, bounds) {
        MultiPolygon::new(vec![polygon.into_owned()])
    } else if !clip.intersects(&bounds) {
        MultiPolygon::new(Vec::new())
    } else if let Some(simple) = clip_simple(&polygon, clip) {
        simple
    } else {
        cut_rings(&polygon, clip).intersection(&clip.to_polygon())
    }
}

/// Every ring of `polygon` cut to `clip` by Sutherland–Hodgman as it is, bridges along the edge
/// and all: the point set inside the rectangle is unchanged, and the boolean intersection,
/// which resolves the bridges, then works on the few vertices near the tile rather than on a
/// district's whole border (it took half the clipping time of uncached tiles). Holes clear of
/// the rectangle's edge are kept and holes outside it dropped, as in the cheap cases.
fn cut_rings(polygon: &Polygon<f64>, clip: Rect<f64>) -> Polygon<f64> {
    let cut = |ring: &LineString<f64>| LineString::new(sutherland_hodgman_bridged(&ring.0, clip));
    let holes = polygon
        .interiors()
        .iter()
        .filter_map(|hole| {
            let bounds = hole.bounding_rect()?;
            if contains_rect(clip, bounds) {
                Some(hole.clone())
            } else if clip.intersects(&bounds) {
                Some(cut(hole)).filter(|h| h.0.len() >= 3)
            } else {
                None
            }
        })
        .collect();
    Polygon::new(cut(polygon.exterior()), holes)
}

/// The cheap crossings of the module rules; `None` for the others.
fn clip_simple(polygon: &Polygon<f64>, clip: Rect<f64>) -> Option<MultiPolygon<f64>> {
    let mut holes = Vec::new();
    for hole in polygon.interiors() {
        let bounds = hole.bounding_rect()?;
        let (min, max) = (bounds.min(), bounds.max());
        let clear_of_edge = min.x > clip.min().x
            && min.y > clip.min().y
            && max.x < clip.max().x
            && max.y < clip.max().y;
        if clear_of_edge {
            holes.push(hole.clone());
        } else if clip.intersects(&bounds) {
            return None;
        }
    }
    let ring = &polygon.exterior().0;
    let part = match edge_crossings(ring, clip)? {
        0 if ring_contains(ring, clip.center()) => clip.to_polygon().exterior().clone(),
        0 => return Some(MultiPolygon::new(Vec::new())),
        2 => LineString::new(sutherland_hodgman(ring, clip)),
        _ => return None,
    };
    Some(MultiPolygon::new(vec![Polygon::new(part, holes)]))
}

/// How often a closed ring crosses the rectangle's edge, counting only clean crossings: of a
/// segment from strictly inside to strictly outside (one), or of one with both ends outside
/// passing through the inside (two); `None` when a vertex lies on the edge or a segment with
/// both ends outside only touches the rectangle.
fn edge_crossings(ring: &[Coord<f64>], clip: Rect<f64>) -> Option<usize> {
    let inside = |c: Coord<f64>| {
        c.x > clip.min().x && c.x < clip.max().x && c.y > clip.min().y && c.y < clip.max().y
    };
    let mut crossings = 0;
    for pair in ring.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        match (inside(a), inside(b)) {
            (true, true) => {}
            (true, false) | (false, true) => crossings += 1,
            // Both ends beyond the same side (most of a border far from the tile).
            (false, false) if outcode(a, clip) & outcode(b, clip) != 0 => {}
            (false, false) => match (keeps_point(a, clip), clip_segment(a, b, clip)) {
                (true, _) => return None,
                (false, None) => {}
                // A segment running through the tile (long edges of grids at high zooms)
                // enters and leaves it.
                (false, Some((p, q))) if inside(p + (q - p) * 0.5) => crossings += 2,
                // One touching a corner or running along an edge.
                (false, Some(_)) => return None,
            },
        }
    }
    Some(crossings)
}

/// Where a point lies against the closed rectangle, one bit per side it is beyond (left,
/// right, top, bottom: Cohen–Sutherland); 0 on or inside it. A segment whose ends share a bit
/// cannot meet the rectangle.
fn outcode(c: Coord<f64>, clip: Rect<f64>) -> u8 {
    let (min, max) = (clip.min(), clip.max());
    u8::from(c.x < min.x)
        | u8::from(c.x > max.x) << 1
        | u8::from(c.y < min.y) << 2
        | u8::from(c.y > max.y) << 3
}

/// Whether a point not on the closed ring lies inside it (even–odd rule).
fn ring_contains(ring: &[Coord<f64>], p: Coord<f64>) -> bool {
    let mut inside = false;
    for pair in ring.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if (a.y > p.y) != (b.y > p.y) && p.x < a.x + (p.y - a.y) * (b.x - a.x) / (b.y - a.y) {
            inside = !inside;
        }
    }
    inside
}

/// One side of the clip rectangle: the line `x == at` (`vertical`) or `y == at`, keeping the
/// points at or above it (`keep_above`) or at or below it.
#[derive(Clone, Copy)]
struct Side {
    vertical: bool,
    at: f64,
    keep_above: bool,
}

impl Side {
    fn of(self, c: Coord<f64>) -> f64 {
        if self.vertical {
            c.x
        } else {
            c.y
        }
    }

    fn keeps(self, c: Coord<f64>) -> bool {
        if self.keep_above {
            self.of(c) >= self.at
        } else {
            self.of(c) <= self.at
        }
    }

    /// Where segment a–b crosses the side's line, computed from the two ends in a fixed order
    /// (so a border walked either way gives the same point) and put exactly on the line.
    fn crossing(self, a: Coord<f64>, b: Coord<f64>) -> Coord<f64> {
        let (p, q) = if (a.x, a.y) <= (b.x, b.y) {
            (a, b)
        } else {
            (b, a)
        };
        let c = p + (q - p) * ((self.at - self.of(p)) / (self.of(q) - self.of(p)));
        if self.vertical {
            coord! {x: self.at, y: c.y}
        } else {
            coord! {x: c.x, y: self.at}
        }
    }
}

/// Sutherland–Hodgman: a closed ring clipped to each side of the rectangle in turn, for a ring
/// that enters once and leaves once (one part: the bridges are removed).
fn sutherland_hodgman(ring: &[Coord<f64>], clip: Rect<f64>) -> Vec<Coord<f64>> {
    without_edge_runs(sutherland_hodgman_bridged(ring, clip), &sides_of(clip))
}

/// Sutherland–Hodgman on a closed ring, open result: the parts of a ring that leaves and
/// re-enters stay joined by zero-width bridges along the rectangle's edge.
fn sutherland_hodgman_bridged(ring: &[Coord<f64>], clip: Rect<f64>) -> Vec<Coord<f64>> {
    let mut points: Vec<Coord<f64>> = ring.to_vec();
    points.pop();
    for side in sides_of(clip) {
        if points.is_empty() {
            break;
        }
        let mut out = Vec::with_capacity(points.len() + 4);
        for (i, &b) in points.iter().enumerate() {
            let a = points[(i + points.len() - 1) % points.len()];
            match (side.keeps(a), side.keeps(b)) {
                (true, true) => out.push(b),
                (true, false) => out.push(side.crossing(a, b)),
                (false, true) => {
                    out.push(side.crossing(a, b));
                    out.push(b);
                }
                (false, false) => {}
            }
        }
        points = out;
    }
    points
}

/// The four sides of the rectangle, each keeping the points on its inner side.
fn sides_of(clip: Rect<f64>) -> [Side; 4] {
    let (min, max) = (clip.min(), clip.max());
    [
        Side {
            vertical: true,
            at: min.x,
            keep_above: true,
        },
        Side {
            vertical: true,
            at: max.x,
            keep_above: false,
        },
        Side {
            vertical: false,
            at: min.y,
            keep_above: true,
        },
        Side {
            vertical: false,
            at: max.y,
            keep_above: false,
        },
    ]
}

/// Drops repeated points and the middle one of three that lie on one side's line. Clipping
/// side after side joins what an earlier side cut off by zero-width runs along the line (the
/// bridges of the module rules); when the result is one part, removing them leaves its ring.
fn without_edge_runs(mut points: Vec<Coord<f64>>, sides: &[Side]) -> Vec<Coord<f64>> {
    let on_one_line = |a: Coord<f64>, b: Coord<f64>, c: Coord<f64>| {
        sides
            .iter()
            .any(|s| s.of(a) == s.at && s.of(b) == s.at && s.of(c) == s.at)
    };
    loop {
        let n = points.len();
        if n < 3 {
            return points;
        }
        let redundant = (0..n).find(|&i| {
            let (prev, here, next) = (points[(i + n - 1) % n], points[i], points[(i + 1) % n]);
            here == next || on_one_line(prev, here, next)
        });
        match redundant {
            Some(i) => {
                points.remove(i);
            }
            None => return points,
        }
    }
}

/// The parts of the polyline `points` inside `clip`, each of at least two distinct points.
pub fn clip_line(points: &[Coord<f64>], clip: Rect<f64>) -> MultiLineString<f64> {
    let mut parts = Vec::new();
    let mut current: Vec<Coord<f64>> = Vec::new();
    for pair in points.windows(2) {
        match clip_segment(pair[0], pair[1], clip) {
            Some((a, b)) => {
                if current.last() != Some(&a) {
                    finish_part(&mut current, &mut parts);
                    current.push(a);
                }
                if current.last() != Some(&b) {
                    current.push(b);
                }
            }
            None => finish_part(&mut current, &mut parts),
        }
    }
    finish_part(&mut current, &mut parts);
    MultiLineString::new(parts)
}

/// Moves a part under way into `parts` when it has two points or more; clears it either way.
fn finish_part(current: &mut Vec<Coord<f64>>, parts: &mut Vec<LineString<f64>>) {
    let part = std::mem::take(current);
    if part.len() >= 2 {
        parts.push(LineString::new(part));
    }
}

/// Liang–Barsky: the part of segment `p0`–`p1` inside the closed rectangle, with the ends that
/// lie inside returned exactly as given.
fn clip_segment(
    p0: Coord<f64>,
    p1: Coord<f64>,
    clip: Rect<f64>,
) -> Option<(Coord<f64>, Coord<f64>)> {
    let d = p1 - p0;
    let (min, max) = (clip.min(), clip.max());
    let mut t0: f64 = 0.0;
    let mut t1: f64 = 1.0;
    for (p, q) in [
        (-d.x, p0.x - min.x),
        (d.x, max.x - p0.x),
        (-d.y, p0.y - min.y),
        (d.y, max.y - p0.y),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
            continue;
        }
        let t = q / p;
        if p < 0.0 {
            t0 = t0.max(t);
        } else {
            t1 = t1.min(t);
        }
        if t0 > t1 {
            return None;
        }
    }
    let at = |t: f64| {
        if t <= 0.0 {
            p0
        } else if t >= 1.0 {
            p1
        } else {
            p0 + d * t
        }
    };
    Some((at(t0), at(t1)))
}

/// Whether a point lies in the closed clip rectangle.
pub fn keeps_point(p: Coord<f64>, clip: Rect<f64>) -> bool {
    (clip.min().x..=clip.max().x).contains(&p.x) && (clip.min().y..=clip.max().y).contains(&p.y)
}

fn contains_rect(outer: Rect<f64>, inner: Rect<f64>) -> bool {
    outer.min().x <= inner.min().x
        && outer.min().y <= inner.min().y
        && outer.max().x >= inner.max().x
        && outer.max().y >= inner.max().y
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Area;
    use geo_types::{coord, polygon};

    fn tile() -> Rect<f64> {
        Rect::new(coord! {x: 0.0, y: 0.0}, coord! {x: 100.0, y: 100.0})
    }

    #[test]
    fn an_empty_polygon_gives_nothing() {
        let empty = Polygon::new(geo_types::LineString::new(vec![]), vec![]);
        assert!(clip_polygon(&empty, tile()).0.is_empty());
    }

    #[test]
    fn outside_is_dropped_and_inside_is_kept_as_is() {
        let outside = polygon![(x: 200.0, y: 0.0), (x: 300.0, y: 0.0), (x: 300.0, y: 50.0)];
        assert!(clip_polygon(&outside, tile()).0.is_empty());
        let inside = polygon![(x: 10.0, y: 10.0), (x: 20.0, y: 10.0), (x: 20.0, y: 20.0)];
        assert_eq!(clip_polygon(&inside, tile()).0, vec![inside]);
    }

    #[test]
    fn a_polygon_covering_the_tile_becomes_the_tile() {
        let cover = polygon![(x: -50.0, y: -50.0), (x: 150.0, y: -50.0), (x: 150.0, y: 150.0), (x: -50.0, y: 150.0)];
        let out = clip_polygon(&cover, tile());
        assert!((out.unsigned_area() - 10_000.0).abs() < 1e-9);
    }

    #[test]
    fn a_u_shape_crossing_the_edge_splits_into_valid_parts() {
        // A U opening downwards whose bottom goes below the tile: two legs inside, no bridge.
        let u = polygon![
            (x: 10.0, y: 50.0), (x: 90.0, y: 50.0), (x: 90.0, y: 150.0), (x: 70.0, y: 150.0),
            (x: 70.0, y: 120.0), (x: 30.0, y: 120.0), (x: 30.0, y: 150.0), (x: 10.0, y: 150.0)
        ];
        let out = clip_polygon(&u, tile());
        assert_eq!(
            out.0.len(),
            1,
            "the U's top bar joins both legs inside the tile"
        );
        assert!((out.unsigned_area() - 80.0 * 50.0).abs() < 1e-9);
        // Legs inside the tile, joined by a bar above it: two parts, not one ring with a bridge.
        let legs = polygon![
            (x: 10.0, y: 50.0), (x: 30.0, y: 50.0), (x: 30.0, y: -20.0), (x: 70.0, y: -20.0),
            (x: 70.0, y: 50.0), (x: 90.0, y: 50.0), (x: 90.0, y: -50.0), (x: 10.0, y: -50.0)
        ];
        let out = clip_polygon(&legs, tile());
        assert_eq!(out.0.len(), 2);
        assert!((out.unsigned_area() - 2.0 * 20.0 * 50.0).abs() < 1e-9);
        use geo::Validation;
        assert!(out.is_valid());
    }

    /// A star-shaped polygon with whole-unit vertices around a random centre near the tile,
    /// sometimes with a small square hole at the centre.
    fn random_star(rng: &mut rand_chacha::ChaCha8Rng) -> Polygon<f64> {
        use rand::Rng;
        let centre = coord! {x: rng.random_range(-120.0..220.0f64).round(), y: rng.random_range(-120.0..220.0f64).round()};
        let n = rng.random_range(3..40);
        let mut angles: Vec<f64> = (0..n)
            .map(|_| rng.random_range(0.0..std::f64::consts::TAU))
            .collect();
        angles.sort_by(f64::total_cmp);
        let ring: Vec<Coord<f64>> = angles
            .iter()
            .map(|a| {
                let r = rng.random_range(8.0..160.0);
                coord! {x: (centre.x + r * a.cos()).round(), y: (centre.y + r * a.sin()).round()}
            })
            .collect();
        let holes = if rng.random_bool(0.3) {
            let h = |dx: f64, dy: f64| coord! {x: centre.x + dx, y: centre.y + dy};
            vec![LineString::new(vec![
                h(-2.0, -2.0),
                h(-2.0, 2.0),
                h(2.0, 2.0),
                h(2.0, -2.0),
            ])]
        } else {
            Vec::new()
        };
        Polygon::new(LineString::new(ring), holes)
    }

    #[test]
    fn the_cheap_cases_equal_the_boolean_intersection() {
        use geo::Validation;
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let (mut cheap, mut tried) = (0, 0);
        while tried < 3000 {
            let polygon = random_star(&mut rng);
            if !polygon.is_valid() {
                continue;
            }
            tried += 1;
            let want = polygon.intersection(&tile().to_polygon());
            let got = clip_polygon(&polygon, tile());
            if clip_simple(&polygon, tile()).is_some() {
                cheap += 1;
            }
            // i_overlay works on a fixed-point grid: its areas are good to about 1e-5.
            assert!(
                (got.unsigned_area() - want.unsigned_area()).abs() < 1e-3,
                "{polygon:?}: {} ≠ {}",
                got.unsigned_area(),
                want.unsigned_area()
            );
            assert!(got.is_valid(), "{polygon:?} gave {got:?}");
        }
        assert!(cheap > 300, "only {cheap} of {tried} took a cheap case");
    }

    #[test]
    fn an_edge_running_through_the_tile_is_a_cheap_case() {
        use geo::Validation;
        // Polygons whose only part in the tile is cut off by one long edge with both ends
        // outside: across a corner, and from the left side to the right.
        let corner_cut = polygon![(x: -50.0, y: 80.0), (x: 80.0, y: -50.0), (x: -300.0, y: -300.0)];
        let across = polygon![(x: -100.0, y: 40.0), (x: 200.0, y: 60.0), (x: 200.0, y: -300.0), (x: -100.0, y: -300.0)];
        for (p, area) in [(corner_cut, 450.0), (across, 5000.0)] {
            let want = p.intersection(&tile().to_polygon());
            assert!((want.unsigned_area() - area).abs() < 1e-3);
            let got = clip_simple(&p, tile()).expect("a cheap case");
            assert!(
                (got.unsigned_area() - want.unsigned_area()).abs() < 1e-3,
                "{got:?}"
            );
            assert!(got.is_valid(), "{got:?}");
            assert_eq!(got.0.len(), 1);
        }
    }

    #[test]
    fn a_crossing_point_is_the_same_whichever_way_the_border_runs() {
        let side = Side {
            vertical: true,
            at: 100.0,
            keep_above: false,
        };
        let (a, b) = (coord! {x: 37.0, y: 11.0}, coord! {x: 1013.0, y: 977.0});
        assert_eq!(side.crossing(a, b), side.crossing(b, a));
        assert_eq!(side.crossing(a, b).x, 100.0);
    }

    fn line(points: &[(f64, f64)]) -> Vec<Coord<f64>> {
        points.iter().map(|&(x, y)| coord! {x: x, y: y}).collect()
    }

    fn parts(out: &MultiLineString<f64>) -> Vec<Vec<(f64, f64)>> {
        out.iter()
            .map(|l| l.0.iter().map(|c| (c.x, c.y)).collect())
            .collect()
    }

    #[test]
    fn empty_and_single_point_lines_give_nothing() {
        assert!(clip_line(&[], tile()).0.is_empty());
        assert!(clip_line(&line(&[(50.0, 50.0)]), tile()).0.is_empty());
        assert!(clip_line(&line(&[(50.0, 50.0), (50.0, 50.0)]), tile())
            .0
            .is_empty());
    }

    #[test]
    fn a_line_inside_is_kept_as_is() {
        let pts = line(&[(10.0, 10.0), (20.5, 30.0), (90.0, 90.0)]);
        assert_eq!(clip_line(&pts, tile()).0, vec![LineString::new(pts)]);
    }

    #[test]
    fn a_line_outside_is_dropped() {
        let pts = line(&[(-10.0, -10.0), (-5.0, 50.0), (-1.0, 200.0), (50.0, 200.0)]);
        assert!(clip_line(&pts, tile()).0.is_empty());
        // Its bounding box overlaps the tile, the line itself passes beside the corner.
        let diagonal = line(&[(-10.0, 90.0), (10.0, 130.0)]);
        assert!(clip_line(&diagonal, tile()).0.is_empty());
    }

    #[test]
    fn a_crossing_line_is_cut_at_the_edges() {
        let out = clip_line(&line(&[(-50.0, 50.0), (150.0, 50.0)]), tile());
        assert_eq!(parts(&out), vec![vec![(0.0, 50.0), (100.0, 50.0)]]);
        let out = clip_line(
            &line(&[(-100.0, -100.0), (50.0, 50.0), (60.0, 40.0)]),
            tile(),
        );
        assert_eq!(
            parts(&out),
            vec![vec![(0.0, 0.0), (50.0, 50.0), (60.0, 40.0)]]
        );
    }

    #[test]
    fn touching_the_edge() {
        // Along the edge: kept (the rectangle is closed).
        let out = clip_line(&line(&[(20.0, 0.0), (80.0, 0.0)]), tile());
        assert_eq!(parts(&out), vec![vec![(20.0, 0.0), (80.0, 0.0)]]);
        // Touching one corner from outside: a single point, nothing.
        let out = clip_line(
            &line(&[(-10.0, 110.0), (0.0, 100.0), (-10.0, 90.0)]),
            tile(),
        );
        assert!(out.0.is_empty(), "{out:?}");
        // Coming in to the edge and going back out: the part on the edge only.
        let out = clip_line(
            &line(&[(50.0, -20.0), (50.0, 0.0), (70.0, 0.0), (70.0, -20.0)]),
            tile(),
        );
        assert_eq!(parts(&out), vec![vec![(50.0, 0.0), (70.0, 0.0)]]);
    }

    #[test]
    fn each_stay_inside_is_one_part() {
        // A zig-zag leaving through the top and re-entering twice.
        let pts = line(&[
            (10.0, 50.0),
            (20.0, 150.0),
            (30.0, 50.0),
            (40.0, 150.0),
            (50.0, 50.0),
            (60.0, 50.0),
        ]);
        let out = clip_line(&pts, tile());
        assert_eq!(
            parts(&out),
            vec![
                vec![(10.0, 50.0), (15.0, 100.0)],
                vec![(25.0, 100.0), (30.0, 50.0), (35.0, 100.0)],
                vec![(45.0, 100.0), (50.0, 50.0), (60.0, 50.0)],
            ]
        );
        assert!(out
            .iter()
            .flat_map(|l| l.0.iter())
            .all(|c| keeps_point(*c, tile())));
    }

    #[test]
    fn points_on_the_edge_are_kept() {
        assert!(keeps_point(coord! {x: 100.0, y: 0.0}, tile()));
        assert!(!keeps_point(coord! {x: 100.5, y: 0.0}, tile()));
    }
}
