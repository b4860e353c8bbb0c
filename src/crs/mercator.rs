//! Spherical Web Mercator (EPSG:3857), the projection of XYZ map tiles.
//!
//! A closed formula on the sphere of radius 6 378 137 m; latitudes are clamped to
//! ±85.051 128 78°, the limit at which the square world tile ends.

/// Earth radius used by EPSG:3857 (the WGS84 semi-major axis), metres.
pub const EARTH_RADIUS_M: f64 = 6_378_137.0;

/// The latitude where Web Mercator's square world ends (y = ±π·R).
pub const MAX_LATITUDE: f64 = 85.051_128_779_806_59;

/// Half the width of the world in Web Mercator metres (20 037 508.34 m).
pub const HALF_WORLD_M: f64 = std::f64::consts::PI * EARTH_RADIUS_M;

/// Longitude/latitude (degrees) to Web Mercator metres; latitude is clamped to ±[`MAX_LATITUDE`].
pub fn lonlat_to_mercator(lon: f64, lat: f64) -> (f64, f64) {
    let lat = lat.clamp(-MAX_LATITUDE, MAX_LATITUDE);
    let x = EARTH_RADIUS_M * lon.to_radians();
    let y = EARTH_RADIUS_M
        * (std::f64::consts::FRAC_PI_4 + lat.to_radians() / 2.0)
            .tan()
            .ln();
    (x, y)
}

/// Web Mercator metres to longitude/latitude (degrees); the exact inverse of [`lonlat_to_mercator`].
pub fn mercator_to_lonlat(x: f64, y: f64) -> (f64, f64) {
    let lon = (x / EARTH_RADIUS_M).to_degrees();
    let lat = (2.0 * (y / EARTH_RADIUS_M).exp().atan() - std::f64::consts::FRAC_PI_2).to_degrees();
    (lon, lat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_maps_to_origin() {
        let (x, y) = lonlat_to_mercator(0.0, 0.0);
        assert!(x.abs() < 1e-9 && y.abs() < 1e-9);
    }

    #[test]
    fn antimeridian_is_half_the_world() {
        let (x, y) = lonlat_to_mercator(180.0, 0.0);
        assert!((x - 20_037_508.342_789_244).abs() < 1e-6, "{x}");
        assert!(y.abs() < 1e-9);
        let (x, _) = lonlat_to_mercator(-180.0, 0.0);
        assert!((x + 20_037_508.342_789_244).abs() < 1e-6);
    }

    #[test]
    fn poles_are_clamped_to_the_square_world() {
        let (_, y) = lonlat_to_mercator(0.0, 90.0);
        assert!((y - HALF_WORLD_M).abs() < 1e-3, "{y}");
        let (_, y) = lonlat_to_mercator(0.0, -90.0);
        assert!((y + HALF_WORLD_M).abs() < 1e-3, "{y}");
    }

    #[test]
    fn epsg_guidance_note_example() {
        // IOGP Guidance Note 7-2, Popular Visualisation Pseudo Mercator worked example:
        // 24°22'54.433"N, 100°20'00.000"W → E = -11 169 055.58 m, N = 2 800 000.00 m.
        let lat = 24.0 + 22.0 / 60.0 + 54.433 / 3600.0;
        let lon = -(100.0 + 20.0 / 60.0);
        let (x, y) = lonlat_to_mercator(lon, lat);
        assert!((x + 11_169_055.58).abs() < 0.01, "{x}");
        assert!((y - 2_800_000.00).abs() < 0.01, "{y}");
    }

    #[test]
    fn round_trip() {
        for (lon, lat) in [(114.3, 35.75), (-73.9, 40.7), (0.0, -60.0), (179.9, 85.0)] {
            let (x, y) = lonlat_to_mercator(lon, lat);
            let (lon2, lat2) = mercator_to_lonlat(x, y);
            assert!((lon - lon2).abs() < 1e-12 && (lat - lat2).abs() < 1e-12);
        }
    }
}
