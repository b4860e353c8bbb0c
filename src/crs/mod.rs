//! Coordinate reference systems: parsing their names and converting to and from storage.
//!
//! Storage is longitude/latitude on CGCS2000 (EPSG:4490), treated as equal to WGS84 at the
//! centimetre level (DESIGN.md "Coordinates"). Input may come in any [`Crs`]: survey data in
//! Gauss-Krüger zones, tiles in Web Mercator, phones and web pickers in GCJ-02 or BD-09.
//! Each conversion lives in its own file: [`mercator`], [`gauss_kruger`], [`gcj02`]; [`tile`]
//! holds tile addresses and the longitude/latitude → tile maths on top of Web Mercator.

pub mod gauss_kruger;
pub mod gcj02;
pub mod mercator;
pub mod tile;

use std::fmt;

use geo::MapCoords;
use geo_types::Coord;
use serde::{Deserialize, Serialize};

pub use gauss_kruger::GkZone;
pub use gcj02::{
    bd09_to_gcj02, bd09_to_wgs84, gcj02_to_bd09, gcj02_to_wgs84, outside_china, wgs84_to_bd09,
    wgs84_to_gcj02,
};
pub use mercator::{lonlat_to_mercator, mercator_to_lonlat};

/// The text listing every accepted CRS name, used in error messages and `--help`.
pub const ACCEPTED: &str = "EPSG:4326 (wgs84), EPSG:4490 (cgcs2000), EPSG:3857 (Web Mercator), \
     EPSG:4491–4554 (CGCS2000 Gauss-Krüger zones, e.g. EPSG:4547), gcj02 (GCJ-02) and bd09 (BD-09)";

/// Why a CRS name or a coordinate conversion was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CrsError {
    #[error("unknown CRS {0:?}: accepted are {ACCEPTED}")]
    Unknown(String),
    #[error("EPSG:{0} is not a CGCS2000 Gauss-Krüger zone: accepted are EPSG:4491–4554")]
    NotGaussKruger(u16),
    #[error("coordinate ({x}, {y}) is not a finite number")]
    NonFinite { x: f64, y: f64 },
    #[error("cannot convert ({x}, {y}) from {crs}: {reason}")]
    Projection {
        crs: String,
        x: f64,
        y: f64,
        reason: String,
    },
    #[error("cannot build the projection {definition:?}: {reason}")]
    Definition { definition: String, reason: String },
}

/// A coordinate reference system that gridmap accepts as input or produces as output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Crs {
    /// WGS84 longitude/latitude (EPSG:4326), what GPS receivers report.
    Wgs84,
    /// CGCS2000 longitude/latitude (EPSG:4490), the storage CRS.
    Cgcs2000,
    /// Spherical Web Mercator metres (EPSG:3857), the tile projection.
    WebMercator,
    /// A CGCS2000 Gauss-Krüger zone by EPSG code (4491..=4554), easting/northing in metres.
    GaussKruger(u16),
    /// GCJ-02 longitude/latitude (AMap, Tencent).
    Gcj02,
    /// BD-09 longitude/latitude (Baidu).
    Bd09,
}

impl Crs {
    /// Parses a CRS name, case-insensitively: `EPSG:4326`, `4326`, `wgs84`, `EPSG:4490`,
    /// `cgcs2000`, `EPSG:3857`, `EPSG:4491`…`EPSG:4554`, `gcj02`/`GCJ-02`, `bd09`/`BD-09`, and
    /// the OGC URNs of the old GeoJSON `crs` member (`urn:ogc:def:crs:EPSG::4547`,
    /// `urn:ogc:def:crs:OGC:1.3:CRS84`).
    pub fn parse(s: &str) -> Result<Crs, CrsError> {
        let unknown = || CrsError::Unknown(s.to_string());
        let lower = s.trim().to_ascii_lowercase();
        let key = lower.replace(['-', '_', ' '], "");
        match key.as_str() {
            "wgs84" | "crs84" | "urn:ogc:def:crs:ogc:1.3:crs84" | "urn:ogc:def:crs:ogc::crs84" => {
                return Ok(Crs::Wgs84)
            }
            "cgcs2000" => return Ok(Crs::Cgcs2000),
            "webmercator" | "pseudomercator" => return Ok(Crs::WebMercator),
            "gcj02" | "gcj" => return Ok(Crs::Gcj02),
            "bd09" | "bd09ll" | "baidu" => return Ok(Crs::Bd09),
            _ => {}
        }
        let number = ["urn:ogc:def:crs:epsg::", "urn:ogc:def:crs:epsg:", "epsg:"]
            .iter()
            .find_map(|prefix| lower.strip_prefix(prefix))
            .unwrap_or(&lower);
        let code: u32 = number.trim().parse().map_err(|_| unknown())?;
        Crs::from_epsg(code).ok_or_else(unknown)
    }

    /// The CRS of an EPSG code, if gridmap accepts it (900913 is the old alias of 3857).
    pub fn from_epsg(code: u32) -> Option<Crs> {
        match code {
            4326 => Some(Crs::Wgs84),
            4490 => Some(Crs::Cgcs2000),
            3857 | 900913 => Some(Crs::WebMercator),
            4491..=4554 => u16::try_from(code).ok().map(Crs::GaussKruger),
            _ => None,
        }
    }

    /// The canonical name: `EPSG:4326`, `EPSG:4490`, `EPSG:3857`, `EPSG:4547`, `gcj02`, `bd09`.
    pub fn name(&self) -> String {
        match self {
            Crs::Wgs84 => "EPSG:4326".into(),
            Crs::Cgcs2000 => "EPSG:4490".into(),
            Crs::WebMercator => "EPSG:3857".into(),
            Crs::GaussKruger(code) => format!("EPSG:{code}"),
            Crs::Gcj02 => "gcj02".into(),
            Crs::Bd09 => "bd09".into(),
        }
    }

    /// Whether coordinates in this CRS are longitude/latitude degrees (not projected metres).
    pub fn is_geographic(&self) -> bool {
        matches!(self, Crs::Wgs84 | Crs::Cgcs2000 | Crs::Gcj02 | Crs::Bd09)
    }
}

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl std::str::FromStr for Crs {
    type Err = CrsError;

    fn from_str(s: &str) -> Result<Crs, CrsError> {
        Crs::parse(s)
    }
}

impl Serialize for Crs {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for Crs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Crs::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Converts one coordinate in `crs` (x = easting or longitude) to storage longitude/latitude.
pub fn to_storage(crs: Crs, x: f64, y: f64) -> Result<(f64, f64), CrsError> {
    if !x.is_finite() || !y.is_finite() {
        return Err(CrsError::NonFinite { x, y });
    }
    match crs {
        Crs::Wgs84 | Crs::Cgcs2000 => Ok((x, y)),
        Crs::WebMercator => Ok(mercator_to_lonlat(x, y)),
        Crs::GaussKruger(code) => gauss_kruger::gk_to_lonlat(code, x, y),
        Crs::Gcj02 => Ok(gcj02_to_wgs84(x, y)),
        Crs::Bd09 => Ok(bd09_to_wgs84(x, y)),
    }
}

/// Converts one storage longitude/latitude to `crs` (used for `?crs=gcj02` output and the like).
pub fn from_storage(crs: Crs, lon: f64, lat: f64) -> Result<(f64, f64), CrsError> {
    if !lon.is_finite() || !lat.is_finite() {
        return Err(CrsError::NonFinite { x: lon, y: lat });
    }
    match crs {
        Crs::Wgs84 | Crs::Cgcs2000 => Ok((lon, lat)),
        Crs::WebMercator => Ok(lonlat_to_mercator(lon, lat)),
        Crs::GaussKruger(code) => gauss_kruger::lonlat_to_gk(code, lon, lat),
        Crs::Gcj02 => Ok(wgs84_to_gcj02(lon, lat)),
        Crs::Bd09 => Ok(wgs84_to_bd09(lon, lat)),
    }
}

/// Converts every coordinate of a geometry (any geo-types geometry) from `crs` to storage.
pub fn geometry_to_storage<G>(crs: Crs, geometry: &G) -> Result<G::Output, CrsError>
where
    G: MapCoords<f64, f64>,
{
    geometry.try_map_coords(|c: Coord<f64>| to_storage(crs, c.x, c.y).map(|(x, y)| Coord { x, y }))
}

/// Converts every coordinate of a geometry from storage to `crs`.
pub fn geometry_from_storage<G>(crs: Crs, geometry: &G) -> Result<G::Output, CrsError>
where
    G: MapCoords<f64, f64>,
{
    geometry
        .try_map_coords(|c: Coord<f64>| from_storage(crs, c.x, c.y).map(|(x, y)| Coord { x, y }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{polygon, Geometry, Point};

    #[test]
    fn refuses_unknown_names_with_the_accepted_list() {
        for bad in [
            "",
            "EPSG:",
            "EPSG:4555",
            "EPSG:4490x",
            "4325",
            "utm",
            "EPSG:99999999",
        ] {
            let err = Crs::parse(bad).unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains("EPSG:4491–4554") && text.contains("gcj02"),
                "{text}"
            );
        }
    }

    #[test]
    fn parses_every_spelling() {
        let cases = [
            ("EPSG:4326", Crs::Wgs84),
            ("4326", Crs::Wgs84),
            ("wgs84", Crs::Wgs84),
            ("WGS 84", Crs::Wgs84),
            ("urn:ogc:def:crs:OGC:1.3:CRS84", Crs::Wgs84),
            ("epsg:4490", Crs::Cgcs2000),
            ("CGCS2000", Crs::Cgcs2000),
            ("EPSG:3857", Crs::WebMercator),
            ("EPSG:4547", Crs::GaussKruger(4547)),
            ("urn:ogc:def:crs:EPSG::4547", Crs::GaussKruger(4547)),
            (" 4491 ", Crs::GaussKruger(4491)),
            ("EPSG:4554", Crs::GaussKruger(4554)),
            ("gcj02", Crs::Gcj02),
            ("GCJ-02", Crs::Gcj02),
            ("bd09", Crs::Bd09),
            ("BD-09", Crs::Bd09),
        ];
        for (text, crs) in cases {
            assert_eq!(Crs::parse(text), Ok(crs), "{text}");
        }
    }

    #[test]
    fn names_round_trip() {
        for crs in [
            Crs::Wgs84,
            Crs::Cgcs2000,
            Crs::WebMercator,
            Crs::GaussKruger(4547),
            Crs::Gcj02,
            Crs::Bd09,
        ] {
            assert_eq!(Crs::parse(&crs.name()), Ok(crs));
        }
        assert_eq!(Crs::GaussKruger(4547).name(), "EPSG:4547");
        assert_eq!(Crs::Gcj02.name(), "gcj02");
        assert_eq!(serde_json::to_string(&Crs::Bd09).unwrap(), "\"bd09\"");
    }

    #[test]
    fn invalid_gauss_kruger_code_is_an_error() {
        assert_eq!(
            to_storage(Crs::GaussKruger(4490), 500_000.0, 3_900_000.0),
            Err(CrsError::NotGaussKruger(4490))
        );
        assert_eq!(
            from_storage(Crs::GaussKruger(4555), 114.0, 35.0),
            Err(CrsError::NotGaussKruger(4555))
        );
    }

    #[test]
    fn non_finite_input_is_an_error() {
        assert!(matches!(
            to_storage(Crs::Wgs84, f64::NAN, 1.0),
            Err(CrsError::NonFinite { .. })
        ));
        assert!(matches!(
            from_storage(Crs::Gcj02, 1.0, f64::INFINITY),
            Err(CrsError::NonFinite { .. })
        ));
    }

    #[test]
    fn storage_crs_is_identity() {
        assert_eq!(to_storage(Crs::Cgcs2000, 114.3, 35.75), Ok((114.3, 35.75)));
        assert_eq!(from_storage(Crs::Wgs84, 114.3, 35.75), Ok((114.3, 35.75)));
    }

    #[test]
    fn every_crs_round_trips_through_storage() {
        for crs in [
            Crs::WebMercator,
            Crs::GaussKruger(4547),
            Crs::GaussKruger(4526),
            Crs::Gcj02,
            Crs::Bd09,
        ] {
            let (x, y) = from_storage(crs, 114.3, 35.75).unwrap();
            let (lon, lat) = to_storage(crs, x, y).unwrap();
            assert!(
                (lon - 114.3).abs() < 1e-8 && (lat - 35.75).abs() < 1e-8,
                "{crs}: {lon} {lat}"
            );
        }
    }

    #[test]
    fn converts_whole_geometries() {
        let square = polygon![(x: 500_000.0, y: 3_960_000.0), (x: 501_000.0, y: 3_960_000.0), (x: 501_000.0, y: 3_961_000.0), (x: 500_000.0, y: 3_960_000.0)];
        let lonlat = geometry_to_storage(Crs::GaussKruger(4547), &square).unwrap();
        let first = lonlat.exterior().0[0];
        assert!(
            (first.x - 114.0).abs() < 1e-9 && (35.7..35.8).contains(&first.y),
            "{first:?}"
        );
        let back = geometry_from_storage(Crs::GaussKruger(4547), &lonlat).unwrap();
        assert!((back.exterior().0[2].x - 501_000.0).abs() < 1e-6);
        let point: Geometry<f64> = Point::new(114.3, 35.75).into();
        assert!(geometry_to_storage(Crs::Gcj02, &point).is_ok());
        let bad: Geometry<f64> = Point::new(f64::NAN, 35.75).into();
        assert!(geometry_to_storage(Crs::Gcj02, &bad).is_err());
    }
}
