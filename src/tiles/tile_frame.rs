//! The tile grids tiles are cut in (WGS84, or GCJ-02 for AMap/Tencent basemaps) and the frame
//! that maps longitude/latitude into a tile's units. Tile addresses and the lon/lat → tile
//! maths are [`crate::crs::tile`].
//!
//! The rule: tile units run from 0 to the extent across the tile with y pointing down, so a
//! point on the tile's west edge has x = 0 and one on its north edge has y = 0. The frame is a
//! pure function of (lon, lat): a vertex shared by two areas lands on exactly the same tile
//! coordinate in both, which shared-border simplification relies on.

use geo_types::{coord, Coord, Rect};

use crate::crs::gcj02::{gcj02_to_wgs84, wgs84_to_gcj02};
use crate::crs::mercator::{lonlat_to_mercator, mercator_to_lonlat};
use crate::crs::tile::TileId;

/// The datum of the tile grid: plain storage longitude/latitude (WGS84), or GCJ-02 for apps
/// that overlay tiles on an AMap or Tencent basemap (the grid is the same Web Mercator grid,
/// but every coordinate is shifted to GCJ-02 before projecting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TileCrs {
    #[default]
    Wgs84,
    Gcj02,
}

/// Margin in degrees that covers the largest GCJ-02 shift (about 700 m in mainland China).
pub const GCJ02_MARGIN_DEG: f64 = 0.01;

/// The values `TileCrs::parse` accepts, for error messages.
pub const TILE_CRS_ACCEPTED: &str = "wgs84 (the default) and gcj02 (also GCJ-02)";

impl TileCrs {
    /// Parses a tile CRS name, case-insensitively: `wgs84`, `gcj02` or `GCJ-02`.
    pub fn parse(s: &str) -> Option<TileCrs> {
        match s.trim().to_ascii_lowercase().as_str() {
            "wgs84" => Some(TileCrs::Wgs84),
            "gcj02" | "gcj-02" => Some(TileCrs::Gcj02),
            _ => None,
        }
    }

    /// The query-string name (`wgs84` or `gcj02`).
    pub fn name(self) -> &'static str {
        match self {
            TileCrs::Wgs84 => "wgs84",
            TileCrs::Gcj02 => "gcj02",
        }
    }

    /// A storage longitude/latitude in this CRS.
    pub fn shift(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            TileCrs::Wgs84 => (lon, lat),
            TileCrs::Gcj02 => wgs84_to_gcj02(lon, lat),
        }
    }

    /// A storage box that holds every point whose position in this CRS lies in `bbox`: the
    /// inverse of the four corners, widened by [`GCJ02_MARGIN_DEG`] for GCJ-02.
    pub fn storage_box(self, bbox: Rect<f64>) -> Rect<f64> {
        if self == TileCrs::Wgs84 {
            return bbox;
        }
        let (min, max) = (bbox.min(), bbox.max());
        let corners = [
            (min.x, min.y),
            (min.x, max.y),
            (max.x, min.y),
            (max.x, max.y),
        ]
        .map(|(lon, lat)| gcj02_to_wgs84(lon, lat));
        let m = GCJ02_MARGIN_DEG;
        let (mut west, mut south) = (f64::INFINITY, f64::INFINITY);
        let (mut east, mut north) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
        for (lon, lat) in corners {
            (west, east) = (west.min(lon), east.max(lon));
            (south, north) = (south.min(lat), north.max(lat));
        }
        Rect::new(
            coord! {x: west - m, y: south - m},
            coord! {x: east + m, y: north + m},
        )
    }
}

/// The frames of a tile, kept with [`TileFrame`] (they need the tile grid's CRS, which is a
/// tile-serving matter, not part of the address).
impl TileId {
    /// The frame mapping longitude/latitude to this tile's units.
    pub fn frame(self, extent: u32) -> TileFrame {
        self.frame_in(extent, TileCrs::Wgs84)
    }

    /// The frame mapping storage longitude/latitude to this tile's units in the `crs` grid.
    pub fn frame_in(self, extent: u32, crs: TileCrs) -> TileFrame {
        let m = self.mercator_bounds();
        TileFrame {
            west: m.min().x,
            north: m.max().y,
            units_per_m: f64::from(extent) / self.size_m(),
            crs,
        }
    }
}

/// Maps longitude/latitude to tile units (y down); see the module rule.
#[derive(Debug, Clone, Copy)]
pub struct TileFrame {
    west: f64,
    north: f64,
    units_per_m: f64,
    crs: TileCrs,
}

impl TileFrame {
    /// Tile units of a storage longitude/latitude (shifted to the frame's CRS first; the shift
    /// is a pure function, so shared vertices stay shared).
    pub fn project(&self, lon: f64, lat: f64) -> Coord<f64> {
        let (lon, lat) = self.crs.shift(lon, lat);
        let (mx, my) = lonlat_to_mercator(lon, lat);
        coord! {x: (mx - self.west) * self.units_per_m, y: (self.north - my) * self.units_per_m}
    }

    /// Longitude/latitude, in the frame's CRS, of a tile-unit position (the inverse of
    /// [`TileFrame::project`] up to the CRS shift).
    pub fn unproject(&self, c: Coord<f64>) -> (f64, f64) {
        mercator_to_lonlat(
            c.x / self.units_per_m + self.west,
            self.north - c.y / self.units_per_m,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_world_tile_frames_the_whole_square() {
        let t = TileId::new(0, 0, 0).unwrap();
        let f = t.frame(4096);
        let nw = f.project(-180.0, 85.051_128_779_806_59);
        assert!(nw.x.abs() < 1e-6 && nw.y.abs() < 1e-6, "{nw:?}");
        let c = f.project(0.0, 0.0);
        assert!(
            (c.x - 2048.0).abs() < 1e-6 && (c.y - 2048.0).abs() < 1e-6,
            "{c:?}"
        );
    }

    #[test]
    fn a_point_lands_inside_its_containing_tile() {
        let (lon, lat) = (114.297, 35.748);
        for z in [0, 10, 14, 22] {
            let t = TileId::containing(z, lon, lat).unwrap();
            let p = t.frame(4096).project(lon, lat);
            assert!(
                (0.0..4096.0).contains(&p.x) && (0.0..4096.0).contains(&p.y),
                "z{z} {p:?}"
            );
        }
    }

    #[test]
    fn unproject_inverts_project() {
        let f = TileId::new(14, 13393, 6532).unwrap().frame(4096);
        let p = f.project(114.3, 35.75);
        let (lon, lat) = f.unproject(p);
        assert!((lon - 114.3).abs() < 1e-12 && (lat - 35.75).abs() < 1e-12);
    }

    #[test]
    fn tile_crs_names_parse_and_others_do_not() {
        assert_eq!(TileCrs::parse("GCJ-02"), Some(TileCrs::Gcj02));
        assert_eq!(TileCrs::parse("gcj02"), Some(TileCrs::Gcj02));
        assert_eq!(TileCrs::parse("WGS84"), Some(TileCrs::Wgs84));
        assert_eq!(TileCrs::parse(""), None);
        assert_eq!(TileCrs::parse("bd09"), None);
    }

    #[test]
    fn the_gcj02_frame_shifts_and_its_storage_box_covers_the_tile() {
        let (lon, lat) = (114.297, 35.748);
        let t = TileId::containing(14, lon, lat).unwrap();
        let plain = t.frame(4096).project(lon, lat);
        let (glon, glat) = wgs84_to_gcj02(lon, lat);
        let shifted = t.frame_in(4096, TileCrs::Gcj02).project(lon, lat);
        let expected = t.frame(4096).project(glon, glat);
        assert!((shifted.x - expected.x).abs() < 1e-9 && (shifted.y - expected.y).abs() < 1e-9);
        assert!((shifted.x - plain.x).abs() > 10.0);
        let gt = TileId::containing(14, glon, glat).unwrap();
        let b = TileCrs::Gcj02.storage_box(gt.lonlat_bounds(4096, 0.0));
        assert!(b.min().x < lon && lon < b.max().x && b.min().y < lat && lat < b.max().y);
        let world = t.lonlat_bounds(4096, 0.0);
        assert_eq!(TileCrs::Wgs84.storage_box(world), world);
    }
}
