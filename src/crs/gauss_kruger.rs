//! CGCS2000 Gauss-Krüger zones (EPSG:4491–4554), the grids of Chinese survey data.
//!
//! The 64 codes follow one rule ([`GkZone::from_epsg`]):
//! - 4491–4501: 6-degree zones 13–23, false easting prefixed with the zone (zone 13 → 13 500 000 m);
//! - 4502–4512: the same 6-degree zones by central meridian (75°E…135°E), false easting 500 000 m;
//! - 4513–4533: 3-degree zones 25–45, false easting prefixed with the zone (zone 38 → 38 500 000 m);
//! - 4534–4554: the same 3-degree zones by central meridian (75°E…135°E), false easting 500 000 m
//!   (Hebi: EPSG:4547, CM 114°E).
//!
//! Projection is done by `proj4rs` (Poder/Engsager exact transverse Mercator on GRS80, the
//! CGCS2000 ellipsoid to 0.1 mm). We use proj4rs rather than the `proj` crate because `proj`
//! binds PROJ's C library at a version Debian 12 does not ship and would build PROJ from source
//! (cmake, minutes); proj4rs is pure Rust, agrees with PROJ to ~1e-9 m, and keeps the README's
//! run command working with only the Rust toolchain.

use std::collections::HashMap;
use std::sync::OnceLock;

use proj4rs::adaptors::transform_xy;
use proj4rs::Proj;

use super::CrsError;

/// The first CGCS2000 Gauss-Krüger EPSG code.
pub const FIRST_EPSG: u16 = 4491;
/// The last CGCS2000 Gauss-Krüger EPSG code.
pub const LAST_EPSG: u16 = 4554;

/// CGCS2000 geographic coordinates on GRS80 (no datum shift: the zones share the datum).
const GEOGRAPHIC: &str = "+proj=longlat +ellps=GRS80 +no_defs";

/// The parameters of one Gauss-Krüger zone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GkZone {
    /// The EPSG code, 4491..=4554.
    pub epsg: u16,
    /// Central meridian, degrees east.
    pub central_meridian: f64,
    /// False easting in metres, including the zone prefix where the CRS has one.
    pub false_easting: f64,
}

impl GkZone {
    /// The zone of a CGCS2000 Gauss-Krüger EPSG code, or an error naming the accepted range.
    pub fn from_epsg(epsg: u16) -> Result<GkZone, CrsError> {
        let (central_meridian, zone_prefix) = match epsg {
            4491..=4501 => {
                let zone = f64::from(epsg - 4491 + 13);
                (zone * 6.0 - 3.0, Some(zone))
            }
            4502..=4512 => (75.0 + 6.0 * f64::from(epsg - 4502), None),
            4513..=4533 => {
                let zone = f64::from(epsg - 4513 + 25);
                (zone * 3.0, Some(zone))
            }
            4534..=4554 => (75.0 + 3.0 * f64::from(epsg - 4534), None),
            _ => return Err(CrsError::NotGaussKruger(epsg)),
        };
        let false_easting = zone_prefix.map_or(0.0, |z| z * 1_000_000.0) + 500_000.0;
        Ok(GkZone {
            epsg,
            central_meridian,
            false_easting,
        })
    }

    /// The 3-degree zone without prefix (EPSG:4534–4554) whose central meridian is nearest to
    /// `lon`: the CRS for metric work on data around that longitude. `None` outside 73.5–136.5°E.
    pub fn three_degree_cm_for(lon: f64) -> Option<GkZone> {
        let step = ((lon - 75.0) / 3.0).round();
        if !(0.0..=20.0).contains(&step) {
            return None;
        }
        GkZone::from_epsg(4534 + step as u16).ok()
    }

    /// Whether eastings in this CRS carry the zone number in front (`38 500 000`).
    pub fn has_zone_prefix(&self) -> bool {
        self.false_easting > 1_000_000.0
    }

    /// The PROJ string of this zone.
    pub fn proj_string(&self) -> String {
        format!(
            "+proj=tmerc +lat_0=0 +lon_0={} +k=1 +x_0={} +y_0=0 +ellps=GRS80 +units=m +no_defs",
            self.central_meridian, self.false_easting
        )
    }
}

/// A hint for an easting that does not fit the zone's convention: a zone-prefixed easting
/// (≥ 1 000 000 m) given in a CRS without prefix, or the other way round. Names the CRS that
/// the easting most likely belongs to.
pub fn easting_hint(epsg: u16, x: f64) -> Option<String> {
    let zone = GkZone::from_epsg(epsg).ok()?;
    let three_degree = (4513..=4554).contains(&epsg);
    if !zone.has_zone_prefix() && x >= 1_000_000.0 {
        let number = (x / 1_000_000.0).floor();
        let (first, first_zone, last_zone) = if three_degree {
            (4513.0, 25.0, 45.0)
        } else {
            (4491.0, 13.0, 23.0)
        };
        if (first_zone..=last_zone).contains(&number) {
            let suggested = first + number - first_zone;
            return Some(format!(
                "the easting {x} starts with zone number {number}, so the data is probably in EPSG:{suggested} (zone-prefixed), not EPSG:{epsg}"
            ));
        }
        return Some(format!(
            "the easting {x} is too large for EPSG:{epsg}, whose eastings are about 500 000 m"
        ));
    }
    if zone.has_zone_prefix() && x < 1_000_000.0 {
        let suggested = if three_degree { epsg + 21 } else { epsg + 11 };
        return Some(format!(
            "the easting {x} has no zone number in front, so the data is probably in EPSG:{suggested} (by central meridian), not EPSG:{epsg}"
        ));
    }
    None
}

/// The built projections: every zone by EPSG code, plus the geographic CRS. Built once.
struct Projections {
    geographic: Proj,
    zones: HashMap<u16, Proj>,
}

fn projections() -> Result<&'static Projections, CrsError> {
    static CACHE: OnceLock<Result<Projections, CrsError>> = OnceLock::new();
    CACHE
        .get_or_init(build_projections)
        .as_ref()
        .map_err(Clone::clone)
}

fn build_projections() -> Result<Projections, CrsError> {
    let geographic = build(GEOGRAPHIC)?;
    let mut zones = HashMap::new();
    for epsg in FIRST_EPSG..=LAST_EPSG {
        let zone = GkZone::from_epsg(epsg)?;
        zones.insert(epsg, build(&zone.proj_string())?);
    }
    Ok(Projections { geographic, zones })
}

fn build(definition: &str) -> Result<Proj, CrsError> {
    Proj::from_proj_string(definition).map_err(|e| CrsError::Definition {
        definition: definition.to_string(),
        reason: e.to_string(),
    })
}

fn zone_projection(epsg: u16) -> Result<(&'static Proj, &'static Proj), CrsError> {
    let p = projections()?;
    let zone = p.zones.get(&epsg).ok_or(CrsError::NotGaussKruger(epsg))?;
    Ok((zone, &p.geographic))
}

/// Gauss-Krüger easting/northing (metres, x = easting) in zone `epsg` to longitude/latitude.
pub fn gk_to_lonlat(epsg: u16, x: f64, y: f64) -> Result<(f64, f64), CrsError> {
    let (zone, geographic) = zone_projection(epsg)?;
    let (lon, lat) = transform_xy(zone, geographic, x, y).map_err(|e| CrsError::Projection {
        crs: format!("EPSG:{epsg}"),
        x,
        y,
        reason: e.to_string(),
    })?;
    Ok((lon.to_degrees(), lat.to_degrees()))
}

/// Longitude/latitude to Gauss-Krüger easting/northing (metres) in zone `epsg`.
pub fn lonlat_to_gk(epsg: u16, lon: f64, lat: f64) -> Result<(f64, f64), CrsError> {
    let (zone, geographic) = zone_projection(epsg)?;
    transform_xy(geographic, zone, lon.to_radians(), lat.to_radians()).map_err(|e| {
        CrsError::Projection {
            crs: "EPSG:4490".to_string(),
            x: lon,
            y: lat,
            reason: e.to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An independent transverse Mercator forward: the Krüger n-series to 4th order on GRS80
    /// (as in Karney 2011 / the Wikipedia "Transverse Mercator" derivation), accurate to well
    /// under a millimetre within a zone.
    fn kruger_forward(lon0: f64, false_easting: f64, lon: f64, lat: f64) -> (f64, f64) {
        let a: f64 = 6_378_137.0;
        let f: f64 = 1.0 / 298.257_222_101;
        let n = f / (2.0 - f);
        let (n2, n3, n4) = (n * n, n * n * n, n * n * n * n);
        let big_a = a / (1.0 + n) * (1.0 + n2 / 4.0 + n4 / 64.0);
        let alpha = [
            n / 2.0 - 2.0 * n2 / 3.0 + 5.0 * n3 / 16.0 + 41.0 * n4 / 180.0,
            13.0 * n2 / 48.0 - 3.0 * n3 / 5.0 + 557.0 * n4 / 1440.0,
            61.0 * n3 / 240.0 - 103.0 * n4 / 140.0,
            49561.0 * n4 / 161_280.0,
        ];
        let e = 2.0 * n.sqrt() / (1.0 + n);
        let phi = lat.to_radians();
        let dl = (lon - lon0).to_radians();
        let t = (phi.sin().atanh() - e * (e * phi.sin()).atanh()).sinh();
        let xi = (t / dl.cos()).atan();
        let eta = (dl.sin() / (1.0 + t * t).sqrt()).atanh();
        let mut east = eta;
        let mut north = xi;
        for (j, aj) in alpha.iter().enumerate() {
            let k = 2.0 * (j + 1) as f64;
            east += aj * (k * xi).cos() * (k * eta).sinh();
            north += aj * (k * xi).sin() * (k * eta).cosh();
        }
        (false_easting + big_a * east, big_a * north)
    }

    #[test]
    fn codes_outside_the_range_are_refused() {
        for bad in [4490, 4555, 0, 3857, 4326] {
            let err = GkZone::from_epsg(bad).unwrap_err();
            assert!(err.to_string().contains("4491–4554"), "{err}");
            assert!(gk_to_lonlat(bad, 500_000.0, 4_000_000.0).is_err());
        }
    }

    #[test]
    fn zone_table_edges() {
        let z = |e| GkZone::from_epsg(e).unwrap();
        assert_eq!(
            (z(4491).central_meridian, z(4491).false_easting),
            (75.0, 13_500_000.0)
        );
        assert_eq!(
            (z(4501).central_meridian, z(4501).false_easting),
            (135.0, 23_500_000.0)
        );
        assert_eq!(
            (z(4502).central_meridian, z(4502).false_easting),
            (75.0, 500_000.0)
        );
        assert_eq!(
            (z(4512).central_meridian, z(4512).false_easting),
            (135.0, 500_000.0)
        );
        assert_eq!(
            (z(4513).central_meridian, z(4513).false_easting),
            (75.0, 25_500_000.0)
        );
        assert_eq!(
            (z(4524).central_meridian, z(4524).false_easting),
            (108.0, 36_500_000.0)
        );
        assert_eq!(
            (z(4526).central_meridian, z(4526).false_easting),
            (114.0, 38_500_000.0)
        );
        assert_eq!(
            (z(4533).central_meridian, z(4533).false_easting),
            (135.0, 45_500_000.0)
        );
        assert_eq!(
            (z(4534).central_meridian, z(4534).false_easting),
            (75.0, 500_000.0)
        );
        assert_eq!(
            (z(4547).central_meridian, z(4547).false_easting),
            (114.0, 500_000.0)
        );
        assert_eq!(
            (z(4554).central_meridian, z(4554).false_easting),
            (135.0, 500_000.0)
        );
    }

    #[test]
    fn zone_table_agrees_with_the_epsg_registry() {
        // proj4rs ships the EPSG table (crs-definitions); every zone's definition must match ours.
        let geographic = Proj::from_proj_string(GEOGRAPHIC).unwrap();
        for epsg in FIRST_EPSG..=LAST_EPSG {
            let registry = Proj::from_epsg_code(epsg).unwrap();
            let zone = GkZone::from_epsg(epsg).unwrap();
            let lon = zone.central_meridian + 1.0;
            let expected = transform_xy(&geographic, &registry, lon.to_radians(), 0.6).unwrap();
            let ours = lonlat_to_gk(epsg, lon, 0.6_f64.to_degrees()).unwrap();
            assert!(
                (expected.0 - ours.0).abs() < 1e-6 && (expected.1 - ours.1).abs() < 1e-6,
                "EPSG:{epsg}"
            );
        }
    }

    #[test]
    fn three_degree_zone_for_a_longitude() {
        assert_eq!(GkZone::three_degree_cm_for(114.3).unwrap().epsg, 4547);
        assert_eq!(GkZone::three_degree_cm_for(115.49).unwrap().epsg, 4547);
        assert_eq!(GkZone::three_degree_cm_for(73.6).unwrap().epsg, 4534);
        assert!(GkZone::three_degree_cm_for(73.4).is_none());
        assert!(GkZone::three_degree_cm_for(10.0).is_none());
        assert!(GkZone::three_degree_cm_for(f64::NAN).is_none());
    }

    #[test]
    fn hints_for_a_misplaced_zone_prefix() {
        let hint = easting_hint(4547, 38_512_345.0).unwrap();
        assert!(hint.contains("EPSG:4526"), "{hint}");
        let hint = easting_hint(4526, 512_345.0).unwrap();
        assert!(hint.contains("EPSG:4547"), "{hint}");
        let hint = easting_hint(4508, 20_512_345.0).unwrap();
        assert!(hint.contains("EPSG:4498"), "{hint}");
        assert!(easting_hint(4547, 512_345.0).is_none());
        assert!(easting_hint(4526, 38_512_345.0).is_none());
        assert!(easting_hint(4547, 99_000_000.0)
            .unwrap()
            .contains("too large"));
    }

    #[test]
    fn central_meridian_maps_to_false_easting() {
        let (x, y) = lonlat_to_gk(4547, 114.0, 0.0).unwrap();
        assert!((x - 500_000.0).abs() < 1e-6 && y.abs() < 1e-6, "{x} {y}");
    }

    #[test]
    fn agrees_with_an_independent_kruger_series() {
        for (lon, lat) in [
            (114.0, 35.7),
            (113.996, 35.445),
            (114.753, 36.048),
            (114.3, 35.75),
            (115.4, 40.0),
            (112.6, 23.0),
        ] {
            let (x, y) = lonlat_to_gk(4547, lon, lat).unwrap();
            let (kx, ky) = kruger_forward(114.0, 500_000.0, lon, lat);
            assert!(
                (x - kx).abs() < 1e-3 && (y - ky).abs() < 1e-3,
                "({lon},{lat}): proj4rs {x},{y} vs series {kx},{ky}"
            );
            let (px, py) = lonlat_to_gk(4526, lon, lat).unwrap();
            assert!((px - kx - 38_000_000.0).abs() < 1e-3 && (py - ky).abs() < 1e-3);
        }
    }

    #[test]
    fn zone_prefixed_easting_round_trips() {
        let (x, y) = lonlat_to_gk(4526, 114.3, 35.75).unwrap();
        assert!((38_500_000.0..38_600_000.0).contains(&x), "{x}");
        let (lon, lat) = gk_to_lonlat(4526, x, y).unwrap();
        assert!(
            (lon - 114.3).abs() < 1e-9 && (lat - 35.75).abs() < 1e-9,
            "{lon} {lat}"
        );
    }

    #[test]
    fn round_trip_in_every_zone() {
        for epsg in FIRST_EPSG..=LAST_EPSG {
            let zone = GkZone::from_epsg(epsg).unwrap();
            let (lon, lat) = (zone.central_meridian + 1.2, 30.0);
            let (x, y) = lonlat_to_gk(epsg, lon, lat).unwrap();
            let (lon2, lat2) = gk_to_lonlat(epsg, x, y).unwrap();
            assert!(
                (lon - lon2).abs() < 1e-9 && (lat - lat2).abs() < 1e-9,
                "EPSG:{epsg}"
            );
        }
    }
}
