//! Metres ↔ degrees near Hebi: a local, rotated east/north frame for laying out footprints,
//! and the distance of a point from the inside edges of a convex ring.

use geo_types::Coord;

/// Latitude the partition's metric scaling is taken at (the middle of Hebi).
pub const CITY_LAT: f64 = 35.75;

/// Metres per degree of latitude at latitude `lat` (WGS84 ellipsoid series).
pub fn m_per_deg_lat(lat: f64) -> f64 {
    let p = lat.to_radians();
    111_132.92 - 559.82 * (2.0 * p).cos() + 1.175 * (4.0 * p).cos()
}

/// Metres per degree of longitude at latitude `lat` (WGS84 ellipsoid series).
pub fn m_per_deg_lon(lat: f64) -> f64 {
    let p = lat.to_radians();
    111_412.84 * p.cos() - 93.5 * (3.0 * p).cos()
}

/// [`m_per_deg_lat`] at [`CITY_LAT`], precomputed.
pub const M_PER_DEG_LAT_CITY: f64 = 110_954.3;
/// [`m_per_deg_lon`] at [`CITY_LAT`], precomputed.
pub const M_PER_DEG_LON_CITY: f64 = 90_447.5;

/// A local Cartesian frame in metres: origin at a lon/lat point, x axis turned `angle` radians
/// counter-clockwise from east. Footprints are drawn in it and converted at the origin's latitude.
#[derive(Debug, Clone, Copy)]
pub struct LocalFrame {
    origin: Coord<f64>,
    cos: f64,
    sin: f64,
    kx: f64,
    ky: f64,
}

impl LocalFrame {
    /// A frame at `origin` (lon/lat) with its x axis at `angle` radians from east.
    pub fn new(origin: Coord<f64>, angle: f64) -> LocalFrame {
        LocalFrame {
            origin,
            cos: angle.cos(),
            sin: angle.sin(),
            kx: m_per_deg_lon(origin.y),
            ky: m_per_deg_lat(origin.y),
        }
    }

    /// Lon/lat → local metres.
    pub fn to_local(&self, p: Coord<f64>) -> Coord<f64> {
        let e = (p.x - self.origin.x) * self.kx;
        let n = (p.y - self.origin.y) * self.ky;
        Coord {
            x: e * self.cos + n * self.sin,
            y: -e * self.sin + n * self.cos,
        }
    }

    /// Local metres → lon/lat.
    pub fn to_lonlat(&self, p: Coord<f64>) -> Coord<f64> {
        let e = p.x * self.cos - p.y * self.sin;
        let n = p.x * self.sin + p.y * self.cos;
        Coord {
            x: self.origin.x + e / self.kx,
            y: self.origin.y + n / self.ky,
        }
    }
}

/// The smallest signed distance from `p` to the edges of the counter-clockwise convex ring
/// `ring` (open, metres): positive inside, negative outside. For a convex ring a shape lies
/// inside with margin `m` exactly when all its vertices have a clearance of at least `m`.
pub fn clearance(ring: &[Coord<f64>], p: Coord<f64>) -> f64 {
    let n = ring.len();
    (0..n)
        .filter_map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            let d = b - a;
            let len = d.x.hypot(d.y);
            (len > 1e-9).then(|| (d.x * (p.y - a.y) - d.y * (p.x - a.x)) / len)
        })
        .fold(f64::MAX, f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precomputed_scales_match_the_series() {
        assert!((m_per_deg_lat(CITY_LAT) - M_PER_DEG_LAT_CITY).abs() < 1.0);
        assert!((m_per_deg_lon(CITY_LAT) - M_PER_DEG_LON_CITY).abs() < 1.0);
    }

    #[test]
    fn frame_round_trips_and_rotates() {
        let f = LocalFrame::new(Coord { x: 114.3, y: 35.75 }, 30f64.to_radians());
        let p = Coord {
            x: 114.31,
            y: 35.741,
        };
        let back = f.to_lonlat(f.to_local(p));
        assert!((back.x - p.x).abs() < 1e-12 && (back.y - p.y).abs() < 1e-12);
        let east = f.to_lonlat(Coord { x: 100.0, y: 0.0 });
        let de = (east.x - 114.3) * m_per_deg_lon(35.75);
        let dn = (east.y - 35.75) * m_per_deg_lat(35.75);
        assert!((de - 100.0 * 30f64.to_radians().cos()).abs() < 1e-6);
        assert!((dn - 50.0).abs() < 1e-6);
    }

    #[test]
    fn clearance_inside_outside_and_degenerate_edges() {
        let sq = [
            Coord { x: 0.0, y: 0.0 },
            Coord { x: 10.0, y: 0.0 },
            Coord { x: 10.0, y: 0.0 },
            Coord { x: 10.0, y: 10.0 },
            Coord { x: 0.0, y: 10.0 },
        ];
        assert!((clearance(&sq, Coord { x: 5.0, y: 5.0 }) - 5.0).abs() < 1e-12);
        assert!((clearance(&sq, Coord { x: 1.0, y: 5.0 }) - 1.0).abs() < 1e-12);
        assert!(clearance(&sq, Coord { x: -1.0, y: 5.0 }) < 0.0);
    }
}
