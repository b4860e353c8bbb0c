//! World positions: Web Mercator quantized to `u32` (2^32 units across the world, about 1 cm
//! at the equator and 0.75 cm at Hebi's latitude), y counting from the north like XYZ tiles.
//!
//! The rule: `x = floor((mx + πR) / 2πR · 2^32)`, `y = floor((πR − my) / 2πR · 2^32)` with
//! `(mx, my)` from Web Mercator, clamped to the world ([`crate::crs::tile::grid_position`] on a
//! grid of 2^32 cells). Because the floor of a floor
//! divided by a power of two is the floor of the quotient, the tile or square cell of a
//! position at any zoom `z` and cells per side `2^k` with `z + k ≤ 32` is a shift of the `u32`,
//! and equals what the floating-point formula of [`TileId::containing`] gives.
//!
//! A Z-order (Morton) key interleaves the bits of x and y: every point of a rectangle
//! `[x0, x1] × [y0, y1]` has a key between `morton(x0, y0)` and `morton(x1, y1)`, and a tile's
//! points are exactly one contiguous key range.

use crate::crs::mercator::{mercator_to_lonlat, HALF_WORLD_M};
use crate::crs::tile::{grid_cell, grid_position, TileId};

/// Units across the world.
const WORLD: f64 = 4_294_967_296.0;

/// A quantized Web Mercator position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct WorldPoint {
    pub x: u32,
    pub y: u32,
}

impl WorldPoint {
    /// Quantizes a storage longitude/latitude (the rule in the module documentation).
    pub fn from_lonlat(lon: f64, lat: f64) -> WorldPoint {
        // The same grid maths as `TileId::containing`, on 2^32 cells: both agree at every zoom.
        let (x, y) = grid_position(lon, lat, WORLD);
        WorldPoint {
            x: grid_cell(x, WORLD),
            y: grid_cell(y, WORLD),
        }
    }

    /// The longitude/latitude of the centre of the unit: within 1 cm of what was quantized.
    pub fn to_lonlat(self) -> (f64, f64) {
        let scale = 2.0 * HALF_WORLD_M / WORLD;
        let mx = (f64::from(self.x) + 0.5) * scale - HALF_WORLD_M;
        let my = HALF_WORLD_M - (f64::from(self.y) + 0.5) * scale;
        mercator_to_lonlat(mx, my)
    }

    /// The Z-order key (bits of x and y interleaved, x in the even bits).
    pub fn morton(self) -> u64 {
        spread(self.x) | (spread(self.y) << 1)
    }

    /// This position in the units of a tile of `extent` units across (0 at the west and north
    /// edges, rounded down, negative west or north of the tile); exact integer arithmetic.
    pub fn in_tile(self, tile: TileId, extent: u32) -> (i64, i64) {
        let r = WorldRect::of_tile(tile);
        let side = u128::from(r.x1 - r.x0) + 1;
        let local = |v: u32, o: u32| {
            ((i128::from(v) - i128::from(o)) * i128::from(extent)).div_euclid(side as i128) as i64
        };
        (local(self.x, r.x0), local(self.y, r.y0))
    }

    /// The tiles x/y at zoom `z` whose units grown by `reach` on every side contain this
    /// position (a shift of the coordinates: the tile of a unit is its top `z` bits).
    pub fn tiles_near(self, z: u8, reach: u32) -> impl Iterator<Item = (u32, u32)> {
        let shift = 32 - u32::from(z);
        let span = |v: u32| {
            (
                v.saturating_sub(reach).checked_shr(shift).unwrap_or(0),
                v.saturating_add(reach).checked_shr(shift).unwrap_or(0),
            )
        };
        let (x0, x1) = span(self.x);
        let (y0, y1) = span(self.y);
        (y0..=y1).flat_map(move |y| (x0..=x1).map(move |x| (x, y)))
    }
}

/// Spreads the 32 bits of `v` to the even bits of a `u64`.
fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// A closed rectangle of world units (`x0 ≤ x ≤ x1`, `y0 ≤ y ≤ y1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorldRect {
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
}

impl WorldRect {
    /// The whole world.
    pub const WORLD: WorldRect = WorldRect {
        x0: 0,
        y0: 0,
        x1: u32::MAX,
        y1: u32::MAX,
    };

    /// The units of a tile.
    pub fn of_tile(tile: TileId) -> WorldRect {
        let shift = 32 - u32::from(tile.z);
        let start = |v: u32| (u64::from(v) << shift) as u32;
        let end = |v: u32| ((u64::from(v + 1) << shift) - 1) as u32;
        WorldRect {
            x0: start(tile.x),
            y0: start(tile.y),
            x1: end(tile.x),
            y1: end(tile.y),
        }
    }

    /// The rectangle of one point.
    pub fn at(p: WorldPoint) -> WorldRect {
        WorldRect {
            x0: p.x,
            y0: p.y,
            x1: p.x,
            y1: p.y,
        }
    }

    /// The smallest rectangle covering both.
    pub fn union(&self, other: &WorldRect) -> WorldRect {
        WorldRect {
            x0: self.x0.min(other.x0),
            y0: self.y0.min(other.y0),
            x1: self.x1.max(other.x1),
            y1: self.y1.max(other.y1),
        }
    }

    /// The units covering a storage longitude/latitude box (west, south, east, north).
    pub fn of_lonlat(west: f64, south: f64, east: f64, north: f64) -> WorldRect {
        let a = WorldPoint::from_lonlat(west, north);
        let b = WorldPoint::from_lonlat(east, south);
        WorldRect {
            x0: a.x.min(b.x),
            y0: a.y.min(b.y),
            x1: a.x.max(b.x),
            y1: a.y.max(b.y),
        }
    }

    /// Whether the point lies inside (borders included).
    pub fn contains(&self, p: WorldPoint) -> bool {
        (self.x0..=self.x1).contains(&p.x) && (self.y0..=self.y1).contains(&p.y)
    }

    /// Whether `other` lies wholly inside.
    pub fn covers(&self, other: &WorldRect) -> bool {
        self.x0 <= other.x0 && self.y0 <= other.y0 && other.x1 <= self.x1 && other.y1 <= self.y1
    }

    /// The common part, `None` when the rectangles are disjoint.
    pub fn intersection(&self, other: &WorldRect) -> Option<WorldRect> {
        let r = WorldRect {
            x0: self.x0.max(other.x0),
            y0: self.y0.max(other.y0),
            x1: self.x1.min(other.x1),
            y1: self.y1.min(other.y1),
        };
        (r.x0 <= r.x1 && r.y0 <= r.y1).then_some(r)
    }

    /// The rectangle grown by `by` units on every side, clamped to the world.
    pub fn grown(&self, by: u32) -> WorldRect {
        WorldRect {
            x0: self.x0.saturating_sub(by),
            y0: self.y0.saturating_sub(by),
            x1: self.x1.saturating_add(by),
            y1: self.y1.saturating_add(by),
        }
    }

    /// The Morton keys of the lowest and highest corner: every inside point's key is between.
    pub fn morton_range(&self) -> (u64, u64) {
        (
            WorldPoint {
                x: self.x0,
                y: self.y0,
            }
            .morton(),
            WorldPoint {
                x: self.x1,
                y: self.y1,
            }
            .morton(),
        )
    }
}

/// World units per metre on the ground at a latitude (Web Mercator scale grows as 1/cos).
pub fn units_per_m(lat: f64) -> f64 {
    WORLD / (2.0 * HALF_WORLD_M) / lat.to_radians().cos().max(1e-6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_of_a_point_is_a_shift_and_agrees_with_tile_id() {
        for &(lon, lat) in &[
            (114.3, 35.75),
            (-179.999, 84.9),
            (0.0, 0.0),
            (179.9999, -60.0),
        ] {
            let p = WorldPoint::from_lonlat(lon, lat);
            for z in 0..=22u8 {
                let t = TileId::containing(z, lon, lat).expect("valid zoom");
                let shift = 32 - u32::from(z);
                let (tx, ty) = if z == 0 {
                    (0, 0)
                } else {
                    (p.x >> shift, p.y >> shift)
                };
                assert_eq!((t.x, t.y), (tx, ty), "z{z} at {lon},{lat}");
                assert!(WorldRect::of_tile(t).contains(p));
            }
        }
    }

    #[test]
    fn round_trip_is_within_a_centimetre() {
        let (lon, lat) = (114.297_123_456, 35.747_987_654);
        let (lon2, lat2) = WorldPoint::from_lonlat(lon, lat).to_lonlat();
        let dx = (lon2 - lon) * 111_320.0 * lat.to_radians().cos();
        let dy = (lat2 - lat) * 110_574.0;
        assert!(dx.hypot(dy) < 0.01, "{dx} {dy}");
    }

    #[test]
    fn morton_range_brackets_a_rectangle() {
        let r = WorldRect {
            x0: 1000,
            y0: 5000,
            x1: 9000,
            y1: 7000,
        };
        let (lo, hi) = r.morton_range();
        for x in (r.x0..=r.x1).step_by(97) {
            for y in (r.y0..=r.y1).step_by(89) {
                let k = WorldPoint { x, y }.morton();
                assert!(lo <= k && k <= hi);
            }
        }
        assert_eq!(WorldPoint { x: 1, y: 0 }.morton(), 1);
        assert_eq!(WorldPoint { x: 0, y: 1 }.morton(), 2);
    }

    #[test]
    fn tile_units_start_at_the_north_west_corner() {
        let t = TileId::new(12, 3348, 1630).expect("valid");
        let r = WorldRect::of_tile(t);
        let corner = WorldPoint { x: r.x0, y: r.y0 };
        assert_eq!(corner.in_tile(t, 4096), (0, 0));
        let last = WorldPoint { x: r.x1, y: r.y1 };
        assert_eq!(last.in_tile(t, 4096), (4095, 4095));
        let west = WorldPoint {
            x: r.x0 - 1,
            y: r.y0,
        };
        assert_eq!(west.in_tile(t, 4096), (-1, 0));
    }

    #[test]
    fn tiles_near_a_point_reach_across_the_edge_only_with_a_reach() {
        let t = TileId::containing(12, 114.297, 35.748).expect("tile");
        // One unit west of the tile's west edge.
        let edge = WorldPoint {
            x: (t.x << 20) - 1,
            y: t.y << 20,
        };
        assert!(edge.tiles_near(12, 0).all(|(x, _)| x == t.x - 1));
        assert!(edge.tiles_near(12, 2).any(|(x, y)| (x, y) == (t.x, t.y)));
        let corner = WorldPoint { x: 0, y: 0 };
        assert_eq!(corner.tiles_near(0, u32::MAX).count(), 1);
    }

    #[test]
    fn world_tile_covers_everything() {
        let t = TileId::new(0, 0, 0).expect("valid");
        assert_eq!(WorldRect::of_tile(t), WorldRect::WORLD);
    }
}
