//! Building footprint shapes in a local metric frame: slab blocks, point towers, L-shaped
//! blocks, shops, large public buildings, factory sheds, village courtyards and villas.
//! Each shape is drawn centred on the origin of its cell, so it fits the cell it is given.

use geo_types::Coord;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// What kind of building a footprint is; it decides shape, floors, units and use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// 板楼: a 60 × 12 m residential slab of 3–4 units.
    Slab,
    /// 点式高层: a 30 × 22 m residential tower.
    Tower,
    /// An L-shaped residential block on a corner.
    LBlock,
    /// A street-front shop or office building.
    Shop,
    /// A large public building (school, hospital, market hall, government offices).
    Public,
    /// A factory shed in an industrial area.
    Shed,
    /// A village courtyard house (合院) with a main house and a side wing.
    Courtyard,
    /// A detached village house.
    Villa,
}

fn rect(w: f64, h: f64) -> Vec<Coord<f64>> {
    let (x, y) = (w / 2.0, h / 2.0);
    vec![
        Coord { x: -x, y: -y },
        Coord { x, y: -y },
        Coord { x, y },
        Coord { x: -x, y },
    ]
}

/// An L: a `w × d` bar along the bottom and a `d × h` wing up the left side, centred.
fn ell(w: f64, h: f64, d: f64) -> Vec<Coord<f64>> {
    let (x0, y0) = (-w / 2.0, -h / 2.0);
    vec![
        Coord { x: x0, y: y0 },
        Coord { x: x0 + w, y: y0 },
        Coord {
            x: x0 + w,
            y: y0 + d,
        },
        Coord {
            x: x0 + d,
            y: y0 + d,
        },
        Coord {
            x: x0 + d,
            y: y0 + h,
        },
        Coord { x: x0, y: y0 + h },
    ]
}

/// The largest width and depth (metres) a shape needs, including its random variation.
pub fn extent(shape: Shape) -> (f64, f64) {
    match shape {
        Shape::Slab => (66.0, 14.0),
        Shape::Tower => (33.0, 24.0),
        Shape::LBlock => (48.0, 36.0),
        Shape::Shop => (44.0, 30.0),
        Shape::Public => (90.0, 55.0),
        Shape::Shed => (110.0, 55.0),
        Shape::Courtyard => (16.0, 16.0),
        Shape::Villa => (13.0, 11.0),
    }
}

/// A counter-clockwise footprint ring (open) of `shape`, in metres around the origin, with
/// random proportions within [`extent`].
pub fn draw(shape: Shape, rng: &mut ChaCha8Rng) -> Vec<Coord<f64>> {
    let mut v = |lo: f64, hi: f64| rng.random_range(lo..=hi);
    match shape {
        Shape::Slab => rect(v(54.0, 66.0), v(11.0, 14.0)),
        Shape::Tower => rect(v(26.0, 33.0), v(18.0, 24.0)),
        Shape::LBlock => ell(v(38.0, 48.0), v(28.0, 36.0), v(11.0, 13.0)),
        Shape::Shop => rect(v(24.0, 44.0), v(16.0, 30.0)),
        Shape::Public => {
            if v(0.0, 1.0) < 0.5 {
                rect(v(60.0, 90.0), v(30.0, 55.0))
            } else {
                ell(v(70.0, 90.0), v(40.0, 55.0), v(16.0, 20.0))
            }
        }
        Shape::Shed => rect(v(60.0, 110.0), v(30.0, 55.0)),
        Shape::Courtyard => ell(v(13.0, 16.0), v(12.0, 16.0), v(5.0, 7.0)),
        Shape::Villa => rect(v(9.0, 13.0), v(8.0, 11.0)),
    }
}

/// Moves a local ring by `(dx, dy)` metres.
pub fn translate(ring: &[Coord<f64>], dx: f64, dy: f64) -> Vec<Coord<f64>> {
    ring.iter()
        .map(|c| Coord {
            x: c.x + dx,
            y: c.y + dy,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    const ALL: [Shape; 8] = [
        Shape::Slab,
        Shape::Tower,
        Shape::LBlock,
        Shape::Shop,
        Shape::Public,
        Shape::Shed,
        Shape::Courtyard,
        Shape::Villa,
    ];

    #[test]
    fn shapes_stay_within_their_extent_and_turn_counter_clockwise() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for shape in ALL {
            let (w, h) = extent(shape);
            for _ in 0..50 {
                let ring = draw(shape, &mut rng);
                assert!(ring
                    .iter()
                    .all(|c| c.x.abs() <= w / 2.0 + 1e-9 && c.y.abs() <= h / 2.0 + 1e-9));
                let area2: f64 = (0..ring.len())
                    .map(|i| {
                        let (a, b) = (ring[i], ring[(i + 1) % ring.len()]);
                        a.x * b.y - b.x * a.y
                    })
                    .sum();
                assert!(area2 > 0.0, "{shape:?}");
            }
        }
    }
}
