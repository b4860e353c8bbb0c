//! GCJ-02 (the offset used by AMap/Tencent SDKs) and BD-09 (Baidu), with their inverses.
//!
//! GCJ-02 is the public, widely re-implemented formula (Krasovsky-ellipsoid polynomial shift,
//! 300–700 m in mainland China). BD-09 is a further polar-style shift of GCJ-02. Neither is in
//! PROJ. The shifts apply only inside the public mainland-China rectangle ([`outside_china`]);
//! outside it every conversion is the identity, as the SDKs behave.
//!
//! The inverses are fixed-point iterations on the forward formula (each step subtracts the
//! residual), which converge to far below a millimetre in a handful of steps.

use std::f64::consts::PI;

/// Semi-major axis of the Krasovsky 1940 ellipsoid used by the GCJ-02 formula.
const KRASOVSKY_A: f64 = 6_378_245.0;
/// First eccentricity squared of the Krasovsky 1940 ellipsoid.
const KRASOVSKY_EE: f64 = 0.006_693_421_622_965_943;
/// The BD-09 angular constant (π·3000/180).
const BD_X_PI: f64 = PI * 3000.0 / 180.0;
/// Stop an inverse iteration once the residual is below this (degrees; about 0.01 mm).
const INVERSE_TOLERANCE_DEG: f64 = 1e-10;
/// Upper bound on inverse iterations (convergence takes 3–6 in practice).
const INVERSE_MAX_STEPS: usize = 30;

/// Whether a point lies outside the public mainland-China rectangle
/// (lon 72.004–137.8347, lat 0.8293–55.8271), where GCJ-02 and BD-09 equal WGS84.
pub fn outside_china(lon: f64, lat: f64) -> bool {
    !(72.004..=137.8347).contains(&lon) || !(0.8293..=55.8271).contains(&lat)
}

/// WGS84 longitude/latitude to GCJ-02 (identity outside China).
pub fn wgs84_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    if outside_china(lon, lat) {
        return (lon, lat);
    }
    let (dlon, dlat) = gcj02_offset(lon, lat);
    (lon + dlon, lat + dlat)
}

/// GCJ-02 longitude/latitude to WGS84 by iterating the forward formula (round trip < 0.01 m).
pub fn gcj02_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    if outside_china(lon, lat) {
        return (lon, lat);
    }
    invert(lon, lat, wgs84_to_gcj02)
}

/// GCJ-02 longitude/latitude to BD-09 (identity outside China).
pub fn gcj02_to_bd09(lon: f64, lat: f64) -> (f64, f64) {
    if outside_china(lon, lat) {
        return (lon, lat);
    }
    let z = lon.hypot(lat) + 0.000_02 * (lat * BD_X_PI).sin();
    let theta = lat.atan2(lon) + 0.000_003 * (lon * BD_X_PI).cos();
    (z * theta.cos() + 0.0065, z * theta.sin() + 0.006)
}

/// BD-09 longitude/latitude to GCJ-02: the published closed-form approximation refined by
/// iterating [`gcj02_to_bd09`] (sub-millimetre round trip).
pub fn bd09_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    if outside_china(lon, lat) {
        return (lon, lat);
    }
    invert(lon, lat, gcj02_to_bd09)
}

/// WGS84 longitude/latitude to BD-09.
pub fn wgs84_to_bd09(lon: f64, lat: f64) -> (f64, f64) {
    let (lon, lat) = wgs84_to_gcj02(lon, lat);
    gcj02_to_bd09(lon, lat)
}

/// BD-09 longitude/latitude to WGS84.
pub fn bd09_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    let (lon, lat) = bd09_to_gcj02(lon, lat);
    gcj02_to_wgs84(lon, lat)
}

/// Finds `p` with `forward(p) ≈ target` by fixed-point iteration `p ← p − (forward(p) − target)`.
/// The shifts vary slowly (their derivative is ~1e-5), so each step gains about five digits.
fn invert(lon: f64, lat: f64, forward: fn(f64, f64) -> (f64, f64)) -> (f64, f64) {
    let (mut x, mut y) = (lon, lat);
    for _ in 0..INVERSE_MAX_STEPS {
        let (fx, fy) = forward(x, y);
        let (dx, dy) = (fx - lon, fy - lat);
        x -= dx;
        y -= dy;
        if dx.abs() < INVERSE_TOLERANCE_DEG && dy.abs() < INVERSE_TOLERANCE_DEG {
            break;
        }
    }
    (x, y)
}

/// The GCJ-02 shift (degrees of longitude, latitude) at a WGS84 point.
fn gcj02_offset(lon: f64, lat: f64) -> (f64, f64) {
    let x = lon - 105.0;
    let y = lat - 35.0;
    let rad_lat = lat.to_radians();
    let magic = 1.0 - KRASOVSKY_EE * rad_lat.sin().powi(2);
    let sqrt_magic = magic.sqrt();
    let dlat = shift_lat(x, y) * 180.0
        / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrt_magic) * PI);
    let dlon = shift_lon(x, y) * 180.0 / (KRASOVSKY_A / sqrt_magic * rad_lat.cos() * PI);
    (dlon, dlat)
}

/// The latitude polynomial of the GCJ-02 formula (metres-like units on the Krasovsky ellipsoid).
fn shift_lat(x: f64, y: f64) -> f64 {
    let mut r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    r
}

/// The longitude polynomial of the GCJ-02 formula.
fn shift_lon(x: f64, y: f64) -> f64 {
    let mut r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    r += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    r += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    r += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Metres between two nearby lon/lat points (equirectangular; exact enough below 1 km).
    fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
        let k = 6_371_008.8_f64.to_radians();
        let dx = (a.0 - b.0) * k * a.1.to_radians().cos();
        let dy = (a.1 - b.1) * k;
        dx.hypot(dy)
    }

    /// A 12 × 12 grid over Hebi's extent (113.996–114.753°E, 35.445–36.048°N).
    fn hebi_grid() -> Vec<(f64, f64)> {
        let mut points = Vec::new();
        for i in 0..12 {
            for j in 0..12 {
                let lon = 113.996 + (114.753 - 113.996) * i as f64 / 11.0;
                let lat = 35.445 + (36.048 - 35.445) * j as f64 / 11.0;
                points.push((lon, lat));
            }
        }
        points
    }

    #[test]
    fn mask_edges() {
        assert!(outside_china(72.0, 30.0));
        assert!(!outside_china(72.004, 30.0));
        assert!(!outside_china(137.8347, 55.8271));
        assert!(outside_china(137.835, 30.0));
        assert!(outside_china(114.0, 0.8));
        assert!(outside_china(114.0, 55.9));
        assert!(outside_china(f64::NAN, 30.0));
    }

    #[test]
    fn outside_china_is_identity() {
        for p in [(2.35, 48.85), (-74.0, 40.7), (139.7, 35.7), (114.0, 60.0)] {
            assert_eq!(wgs84_to_gcj02(p.0, p.1), p);
            assert_eq!(gcj02_to_wgs84(p.0, p.1), p);
            assert_eq!(wgs84_to_bd09(p.0, p.1), p);
            assert_eq!(bd09_to_wgs84(p.0, p.1), p);
        }
    }

    #[test]
    fn published_beijing_vector() {
        // WGS84 (39.90105 N, 116.42079 E) is GCJ-02 (39.90245 N, 116.42703 E).
        let (lon, lat) = wgs84_to_gcj02(116.42079, 39.90105);
        assert!((lon - 116.42703).abs() < 1e-5, "{lon}");
        assert!((lat - 39.90245).abs() < 1e-5, "{lat}");
        let (lon, lat) = gcj02_to_wgs84(116.42703, 39.90245);
        assert!((lon - 116.42079).abs() < 1e-5, "{lon}");
        assert!((lat - 39.90105).abs() < 1e-5, "{lat}");
    }

    #[test]
    fn offset_in_hebi_is_hundreds_of_metres() {
        for p in hebi_grid() {
            let d = metres(p, wgs84_to_gcj02(p.0, p.1));
            assert!((300.0..900.0).contains(&d), "{p:?}: {d} m");
        }
    }

    #[test]
    fn gcj02_round_trip_over_hebi() {
        for p in hebi_grid() {
            let g = wgs84_to_gcj02(p.0, p.1);
            let back = gcj02_to_wgs84(g.0, g.1);
            assert!(metres(p, back) < 0.01, "{p:?}: {} m", metres(p, back));
        }
    }

    #[test]
    fn bd09_round_trip_over_hebi() {
        for p in hebi_grid() {
            let b = gcj02_to_bd09(p.0, p.1);
            let back = bd09_to_gcj02(b.0, b.1);
            assert!(metres(p, back) < 0.01, "{p:?}: {} m", metres(p, back));
            let b = wgs84_to_bd09(p.0, p.1);
            let back = bd09_to_wgs84(b.0, b.1);
            assert!(metres(p, back) < 0.01, "{p:?}: {} m", metres(p, back));
        }
    }

    #[test]
    fn bd09_adds_about_0_0065_and_0_006_degrees() {
        // BD-09 adds roughly (0.0065, 0.006) degrees to GCJ-02 at mid latitudes.
        let (lon, lat) = gcj02_to_bd09(114.3, 35.75);
        assert!((lon - 114.3 - 0.0065).abs() < 0.001, "{lon}");
        assert!((lat - 35.75 - 0.006).abs() < 0.001, "{lat}");
    }
}
