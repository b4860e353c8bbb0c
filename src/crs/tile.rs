//! Tile addresses of the XYZ scheme (as MapLibre requests them) and the one place where a
//! longitude/latitude becomes a position on the Web Mercator tile grid.
//!
//! The rule: z is 0..=22 and x, y < 2^z; y counts from the north (y = 0 is the top row). A
//! longitude/latitude lies at `((mx + πR) / 2πR · n, (πR − my) / 2πR · n)` on a grid of `n`
//! cells across the world ([`grid_position`], with `(mx, my)` from [`lonlat_to_mercator`]),
//! and in the cell `floor` of that, clamped to the grid ([`grid_cell`]). The tiles of a zoom
//! (`n = 2^z`), the event store's quantized world units (`n = 2^32`) and the tiles a box
//! touches are all computed through these two functions: since `n` is a power of two, the
//! scaling is exact and the answers agree at every zoom.
//!
//! This lives beside Web Mercator in `crs` so that both the engine (event positions) and the
//! tiles use it without the engine depending on the tile renderer.

use geo_types::{coord, Rect};

use super::mercator::{lonlat_to_mercator, mercator_to_lonlat, HALF_WORLD_M};

/// Deepest zoom served.
pub const MAX_ZOOM: u8 = 22;

/// Why a tile address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileIdError {
    #[error("zoom {0} is out of range: expected 0..={MAX_ZOOM}")]
    Zoom(u8),
    #[error("tile {x}/{y} does not exist at zoom {z}: x and y must be below {limit}")]
    Column { z: u8, x: u32, y: u32, limit: u64 },
}

/// The position of a longitude/latitude on a grid of `cells_across` cells over the Web
/// Mercator world square: fractional column and row from the west and north edges (y down).
/// Latitudes beyond the square are clamped to its edge.
pub fn grid_position(lon: f64, lat: f64, cells_across: f64) -> (f64, f64) {
    let (mx, my) = lonlat_to_mercator(lon, lat);
    let world = 2.0 * HALF_WORLD_M;
    (
        (mx + HALF_WORLD_M) / world * cells_across,
        (HALF_WORLD_M - my) / world * cells_across,
    )
}

/// The whole cell of a fractional grid coordinate (from [`grid_position`]), clamped to the
/// grid of `cells_across` cells.
pub fn grid_cell(position: f64, cells_across: f64) -> u32 {
    position.floor().clamp(0.0, cells_across - 1.0) as u32
}

/// How many tiles span the world at zoom `z`.
fn tiles_across(z: u8) -> f64 {
    (1u64 << z) as f64
}

/// A checked tile address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileId {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

impl TileId {
    /// Checks z/x/y against the XYZ scheme.
    pub fn new(z: u8, x: u32, y: u32) -> Result<TileId, TileIdError> {
        if z > MAX_ZOOM {
            return Err(TileIdError::Zoom(z));
        }
        let limit = 1u64 << z;
        if u64::from(x) >= limit || u64::from(y) >= limit {
            return Err(TileIdError::Column { z, x, y, limit });
        }
        Ok(TileId { z, x, y })
    }

    /// The tile containing a longitude/latitude at zoom `z` (clamped to the world).
    pub fn containing(z: u8, lon: f64, lat: f64) -> Result<TileId, TileIdError> {
        if z > MAX_ZOOM {
            return Err(TileIdError::Zoom(z));
        }
        let n = tiles_across(z);
        let (col, row) = grid_position(lon, lat, n);
        TileId::new(z, grid_cell(col, n), grid_cell(row, n))
    }

    /// Side of the tile in Web Mercator metres.
    pub fn size_m(self) -> f64 {
        2.0 * HALF_WORLD_M / (1u64 << self.z) as f64
    }

    /// The tile's Web Mercator bounds.
    pub fn mercator_bounds(self) -> Rect<f64> {
        let size = self.size_m();
        let min_x = -HALF_WORLD_M + f64::from(self.x) * size;
        let max_y = HALF_WORLD_M - f64::from(self.y) * size;
        Rect::new(
            coord! {x: min_x, y: max_y - size},
            coord! {x: min_x + size, y: max_y},
        )
    }

    /// The longitude/latitude bounds of the tile grown by `buffer` tile units (of a tile
    /// `extent` units across) on every side: what a spatial query for the tile must cover.
    pub fn lonlat_bounds(self, extent: u32, buffer: f64) -> Rect<f64> {
        let m = self.mercator_bounds();
        let grow = buffer / f64::from(extent) * self.size_m();
        let (w, s) = mercator_to_lonlat(m.min().x - grow, m.min().y - grow);
        let (e, n) = mercator_to_lonlat(m.max().x + grow, m.max().y + grow);
        Rect::new(coord! {x: w, y: s}, coord! {x: e, y: n})
    }
}

/// An inclusive block of tiles at one zoom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileRange {
    pub z: u8,
    pub min_x: u32,
    pub max_x: u32,
    pub min_y: u32,
    pub max_y: u32,
}

impl TileRange {
    /// The tiles at zoom `z` whose bounds grown by `grow` tile widths touch the
    /// longitude/latitude box. Edges count as touching, and a margin of a millionth of a tile
    /// absorbs rounding, so the block is never too small.
    pub fn touching(bbox: Rect<f64>, z: u8, grow: f64) -> TileRange {
        let n = tiles_across(z);
        let (west, north) = grid_position(bbox.min().x, bbox.max().y, n);
        let (east, south) = grid_position(bbox.max().x, bbox.min().y, n);
        let grow = grow + 1e-6;
        TileRange {
            z,
            min_x: grid_cell(west - grow, n),
            max_x: grid_cell(east + grow, n),
            min_y: grid_cell(north - grow, n),
            max_y: grid_cell(south + grow, n),
        }
    }

    /// How many tiles the block holds.
    pub fn count(&self) -> u64 {
        u64::from(self.max_x - self.min_x + 1) * u64::from(self.max_y - self.min_y + 1)
    }

    /// Whether tile x/y is in the block.
    pub fn contains(&self, x: u32, y: u32) -> bool {
        (self.min_x..=self.max_x).contains(&x) && (self.min_y..=self.max_y).contains(&y)
    }

    /// Every x/y of the block, row by row.
    pub fn tiles(self) -> impl Iterator<Item = (u32, u32)> {
        (self.min_y..=self.max_y).flat_map(move |y| (self.min_x..=self.max_x).map(move |x| (x, y)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoom_above_22_is_refused() {
        assert_eq!(TileId::new(23, 0, 0), Err(TileIdError::Zoom(23)));
        assert_eq!(TileId::containing(23, 0.0, 0.0), Err(TileIdError::Zoom(23)));
    }

    #[test]
    fn column_or_row_beyond_the_world_is_refused() {
        assert!(TileId::new(0, 1, 0).is_err());
        assert!(TileId::new(3, 0, 8).is_err());
        assert!(TileId::new(22, (1 << 22) - 1, (1 << 22) - 1).is_ok());
    }

    #[test]
    fn the_antimeridian_and_the_poles_stay_on_the_grid() {
        assert_eq!(TileId::containing(3, 180.0, 0.0).map(|t| t.x), Ok(7));
        assert_eq!(TileId::containing(3, -180.0, 0.0).map(|t| t.x), Ok(0));
        assert_eq!(TileId::containing(3, 0.0, 90.0).map(|t| t.y), Ok(0));
        assert_eq!(TileId::containing(3, 0.0, -90.0).map(|t| t.y), Ok(7));
        assert_eq!(grid_cell(-0.5, 8.0), 0);
        assert_eq!(grid_cell(8.0, 8.0), 7);
    }

    #[test]
    fn hebi_z10_tile_is_the_known_one() {
        // 114.297°E 35.748°N: x = floor((114.297+180)/360·1024) = 837,
        // y = floor((1 − ln(tan φ + sec φ)/π)/2·1024) = floor(402.99) = 402 at z10.
        let t = TileId::containing(10, 114.297, 35.748).expect("tile");
        assert_eq!((t.x, t.y), (837, 402));
    }

    #[test]
    fn buffered_bounds_contain_the_tile() {
        let t = TileId::new(12, 3349, 1633).expect("tile");
        let plain = t.lonlat_bounds(4096, 0.0);
        let grown = t.lonlat_bounds(4096, 64.0);
        assert!(grown.min().x < plain.min().x && grown.max().y > plain.max().y);
    }

    #[test]
    fn a_box_on_a_tile_edge_touches_both_neighbours() {
        // Longitude 0 is the edge between columns 0 and 1 at z1.
        let edge = Rect::new(coord! {x: 0.0, y: 10.0}, coord! {x: 0.0, y: 10.0});
        let r = TileRange::touching(edge, 1, 0.0);
        assert_eq!((r.min_x, r.max_x, r.min_y, r.max_y), (0, 1, 0, 0));
        let world = Rect::new(coord! {x: -180.0, y: -85.0}, coord! {x: 180.0, y: 85.0});
        assert_eq!(TileRange::touching(world, 3, 1.0 / 64.0).count(), 64);
    }

    #[test]
    fn the_block_contains_the_tile_of_every_corner() {
        let b = Rect::new(coord! {x: 114.2, y: 35.7}, coord! {x: 114.35, y: 35.8});
        for z in [8, 12, 16] {
            let r = TileRange::touching(b, z, 1.0 / 64.0);
            for (lon, lat) in [(114.2, 35.7), (114.35, 35.8), (114.2, 35.8)] {
                let t = TileId::containing(z, lon, lat).expect("tile");
                assert!(r.contains(t.x, t.y), "z{z} {t:?} not in {r:?}");
            }
        }
    }
}
