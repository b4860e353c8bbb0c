//! Basemap features (底图): roads, rivers and water bodies drawn under the grid boundaries.
//!
//! A feature is keyed by a stable code of 1–64 characters `A-Z a-z 0-9 _ - . :`. The generator
//! numbers its features per kind family in a fixed order (`R001` roads, `V001` rivers, `W001`
//! water), so a regenerated city keeps its codes; an import takes the file's `id` (or `code`)
//! and, when a feature has none, derives one from its kind, name and geometry
//! (`R-` / `V-` / `W-` and 16 hex digits of a hash), so re-importing the same file updates
//! the same rows instead of adding copies.
//!
//! Roads and rivers are centre lines (LineString); water is an area (MultiPolygon). The kind
//! decides the shape: [`BasemapFeature::new`] refuses a road with a polygon.

use geo_types::{Geometry, LineString, MultiPolygon};
use serde::{Deserialize, Serialize};

use super::geometry_type_name;

/// What a basemap feature is; roads by class, from highest to lowest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BasemapKind {
    Motorway,
    Primary,
    Secondary,
    River,
    Water,
}

impl BasemapKind {
    /// Every kind, roads first.
    pub const ALL: [BasemapKind; 5] = [
        BasemapKind::Motorway,
        BasemapKind::Primary,
        BasemapKind::Secondary,
        BasemapKind::River,
        BasemapKind::Water,
    ];

    /// The stable text form used in SQL, JSON, imports and tiles.
    pub fn as_str(self) -> &'static str {
        match self {
            BasemapKind::Motorway => "motorway",
            BasemapKind::Primary => "primary",
            BasemapKind::Secondary => "secondary",
            BasemapKind::River => "river",
            BasemapKind::Water => "water",
        }
    }

    /// Inverse of [`BasemapKind::as_str`].
    pub fn parse(s: &str) -> Option<BasemapKind> {
        BasemapKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether features of this kind are lines (roads, rivers) rather than areas (water).
    pub fn is_line(self) -> bool {
        self != BasemapKind::Water
    }

    /// The letter that starts generated and derived codes: `R` roads, `V` rivers, `W` water.
    pub fn code_prefix(self) -> char {
        match self {
            BasemapKind::Motorway | BasemapKind::Primary | BasemapKind::Secondary => 'R',
            BasemapKind::River => 'V',
            BasemapKind::Water => 'W',
        }
    }
}

/// The shape of a basemap feature, longitude/latitude in the storage CRS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BasemapGeometry {
    /// A road or river centre line.
    Line(LineString<f64>),
    /// A lake, reservoir or wide river surface.
    Area(MultiPolygon<f64>),
}

impl BasemapGeometry {
    /// The geometry as a generic geo-types value (for encoders and bounding boxes).
    pub fn to_geometry(&self) -> Geometry<f64> {
        match self {
            BasemapGeometry::Line(l) => Geometry::LineString(l.clone()),
            BasemapGeometry::Area(a) => Geometry::MultiPolygon(a.clone()),
        }
    }
}

/// Why a basemap feature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BasemapError {
    #[error("basemap code {0:?} must be 1–64 characters of A-Z, a-z, 0-9, _, -, . or :")]
    Code(String),
    #[error("a {kind} must be a {expected}, found a {found}")]
    Shape {
        kind: &'static str,
        expected: &'static str,
        found: &'static str,
    },
}

/// One stored basemap feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BasemapFeature {
    /// Stable key (see the module documentation).
    pub code: String,
    pub kind: BasemapKind,
    pub name: String,
    pub geometry: BasemapGeometry,
}

impl BasemapFeature {
    /// A feature from a generic geometry: lines for roads and rivers, a Polygon or MultiPolygon
    /// for water.
    pub fn new(
        code: String,
        kind: BasemapKind,
        name: String,
        geometry: Geometry<f64>,
    ) -> Result<BasemapFeature, BasemapError> {
        if !valid_code(&code) {
            return Err(BasemapError::Code(code));
        }
        let shape = |found| BasemapError::Shape {
            kind: kind.as_str(),
            expected: if kind.is_line() {
                "LineString"
            } else {
                "Polygon or MultiPolygon"
            },
            found,
        };
        let geometry = match (kind.is_line(), geometry) {
            (true, Geometry::LineString(l)) => BasemapGeometry::Line(l),
            (true, Geometry::Line(l)) => BasemapGeometry::Line(l.into()),
            (false, Geometry::Polygon(p)) => BasemapGeometry::Area(MultiPolygon(vec![p])),
            (false, Geometry::MultiPolygon(m)) => BasemapGeometry::Area(m),
            (_, other) => return Err(shape(geometry_type_name(&other))),
        };
        Ok(BasemapFeature {
            code,
            kind,
            name,
            geometry,
        })
    }
}

impl BasemapFeature {
    /// Checks a feature built field by field: a valid code and the shape its kind needs.
    pub fn validate(&self) -> Result<(), BasemapError> {
        BasemapFeature::new(
            self.code.clone(),
            self.kind,
            self.name.clone(),
            self.geometry.to_geometry(),
        )
        .map(|_| ())
    }
}

/// Whether `code` is a valid basemap code (see the module documentation).
pub fn valid_code(code: &str) -> bool {
    (1..=64).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{line_string, polygon};

    #[test]
    fn kinds_round_trip_through_text() {
        for k in BasemapKind::ALL {
            assert_eq!(BasemapKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(BasemapKind::parse("Motorway"), None);
        assert_eq!(BasemapKind::parse(""), None);
    }

    #[test]
    fn codes_are_checked() {
        assert!(valid_code("R001"));
        assert!(valid_code("osm:way.123-a_b"));
        assert!(!valid_code(""));
        assert!(!valid_code("R 1"));
        assert!(!valid_code(&"R".repeat(65)));
    }

    #[test]
    fn the_kind_decides_the_shape() {
        let line = Geometry::LineString(line_string![(x: 114.0, y: 35.0), (x: 114.1, y: 35.1)]);
        let area = Geometry::Polygon(
            polygon![(x: 114.0, y: 35.0), (x: 114.1, y: 35.0), (x: 114.1, y: 35.1)],
        );
        let road = BasemapFeature::new("R1".into(), BasemapKind::Primary, "x".into(), line.clone());
        assert!(matches!(road.unwrap().geometry, BasemapGeometry::Line(_)));
        let lake = BasemapFeature::new("W1".into(), BasemapKind::Water, "x".into(), area.clone());
        assert!(matches!(lake.unwrap().geometry, BasemapGeometry::Area(m) if m.0.len() == 1));
        let err = BasemapFeature::new("R1".into(), BasemapKind::River, "x".into(), area)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("river must be a LineString, found a Polygon"),
            "{err}"
        );
        assert!(BasemapFeature::new("W1".into(), BasemapKind::Water, "x".into(), line).is_err());
    }
}
