//! Areas: every boundary of every layer (base grids and their parents, special grids,
//! business grids) in one tree per layer.

use chrono::NaiveDate;
use geo_types::{MultiPolygon, Point};
use serde::{Deserialize, Serialize};

/// Which tree an area belongs to. Serialized as `base`, `special` or `business:NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    /// The 综治 base grids and their parents; must tile each parent exactly.
    Base,
    /// 专属网格: a school, hospital, market or large building inside a community.
    Special,
    /// A business layer (城管, 环卫, fire safety …) named by its key, e.g. `fire`.
    Business(String),
}

impl Layer {
    /// The stable text form used in SQL, JSON and tiles; borrowed for the fixed layers, so
    /// tiles tag most areas without allocating.
    pub fn as_str(&self) -> std::borrow::Cow<'static, str> {
        match self {
            Layer::Base => "base".into(),
            Layer::Special => "special".into(),
            Layer::Business(name) => format!("business:{name}").into(),
        }
    }

    /// Parses the text form; `None` for anything else.
    pub fn parse(s: &str) -> Option<Layer> {
        match s {
            "base" => Some(Layer::Base),
            "special" => Some(Layer::Special),
            _ => s
                .strip_prefix("business:")
                .filter(|n| {
                    !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                })
                .map(|n| Layer::Business(n.to_string())),
        }
    }
}

impl Serialize for Layer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_str())
    }
}

impl<'de> Deserialize<'de> for Layer {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Layer::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown layer {s:?}: expected base, special or business:NAME"
            ))
        })
    }
}

/// The level of an area in the hierarchy. Business layers use the level their tier is aligned
/// with (fire safety: street = 一级, community = 二级, grid = 三级).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    City = 1,
    District = 2,
    Street = 3,
    Community = 4,
    Grid = 5,
    Microgrid = 6,
}

impl Level {
    /// All levels from the top down.
    pub const ALL: [Level; 6] = [
        Level::City,
        Level::District,
        Level::Street,
        Level::Community,
        Level::Grid,
        Level::Microgrid,
    ];

    /// The numeric form stored in SQL (1 = city … 6 = micro-grid).
    pub fn as_i16(self) -> i16 {
        self as i16
    }

    /// Inverse of [`Level::as_i16`].
    pub fn from_i16(v: i16) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_i16() == v)
    }

    /// The lower-case name used in JSON and tiles.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::City => "city",
            Level::District => "district",
            Level::Street => "street",
            Level::Community => "community",
            Level::Grid => "grid",
            Level::Microgrid => "microgrid",
        }
    }

    /// Inverse of [`Level::as_str`].
    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// The code length of a base area at this level (micro-grids may also be 18).
    pub fn base_code_len(self) -> usize {
        match self {
            Level::City | Level::District => 6,
            Level::Street => 9,
            Level::Community => 12,
            Level::Grid => 15,
            Level::Microgrid => 17,
        }
    }
}

/// One boundary with its public sign (网格公示牌) and attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Area {
    pub code: String,
    pub layer: Layer,
    pub level: Level,
    pub name: String,
    /// The parent in the same layer's tree; `None` only for the root (the city).
    pub parent_code: Option<String>,
    /// Longitude/latitude, storage CRS.
    pub geometry: MultiPolygon<f64>,
    /// The management center (管理中心) shown on the map with the leader's name.
    pub center: Option<Point<f64>>,
    pub leader_name: Option<String>,
    pub leader_phone: Option<String>,
    pub leader_photo_url: Option<String>,
    /// 城乡分类代码 (111 main urban … 220 village); decides the household rule of a grid.
    pub urban_rural: Option<i16>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
}

#[cfg(test)]
impl Area {
    /// A base-layer area with only a code, a name, a level and a geometry (unit tests).
    pub(crate) fn bare(code: &str, name: &str, level: Level, geometry: MultiPolygon<f64>) -> Area {
        Area {
            code: code.into(),
            layer: Layer::Base,
            level,
            name: name.into(),
            parent_code: None,
            geometry,
            center: None,
            leader_name: None,
            leader_phone: None,
            leader_photo_url: None,
            urban_rural: None,
            valid_from: None,
            valid_to: None,
        }
    }
}

/// The code of the city: the lowest code among the base areas without a parent (the root of
/// the base tree). The key space of events written without a poster (`Event::idempotency_scope`
/// of imported and generated events); `migrations/0004_event_idempotency_scope.sql` applies
/// the same rule in SQL.
pub fn city_code<'a>(areas: impl IntoIterator<Item = &'a Area>) -> Option<&'a str> {
    areas
        .into_iter()
        .filter(|a| a.layer == Layer::Base && a.parent_code.is_none())
        .map(|a| a.code.as_str())
        .min()
}
