//! Buildings (楼栋) and houses (实有房屋).

use geo_types::Polygon;
use serde::{Deserialize, Serialize};

/// What a building is mainly used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BuildingUse {
    Residential,
    Commercial,
    Mixed,
    Public,
    Industrial,
}

impl BuildingUse {
    /// The stable text form used in SQL, JSON and tiles.
    pub fn as_str(self) -> &'static str {
        match self {
            BuildingUse::Residential => "residential",
            BuildingUse::Commercial => "commercial",
            BuildingUse::Mixed => "mixed",
            BuildingUse::Public => "public",
            BuildingUse::Industrial => "industrial",
        }
    }

    /// Inverse of [`BuildingUse::as_str`].
    pub fn parse(s: &str) -> Option<BuildingUse> {
        [
            BuildingUse::Residential,
            BuildingUse::Commercial,
            BuildingUse::Mixed,
            BuildingUse::Public,
            BuildingUse::Industrial,
        ]
        .into_iter()
        .find(|u| u.as_str() == s)
    }
}

/// One building footprint. Its code is the community code plus 5 digits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Building {
    pub code: String,
    pub name: String,
    pub address: Option<String>,
    /// 小区 (residential compound) name.
    pub compound: Option<String>,
    pub building_use: BuildingUse,
    pub floors: i16,
    pub height_m: f64,
    /// Longitude/latitude footprint, storage CRS.
    pub geometry: Polygon<f64>,
    /// The base grid containing the footprint's interior point; kept current by the engine.
    pub grid_code: Option<String>,
}

/// How a house (dwelling unit) is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HouseUse {
    /// 自住
    OwnerOccupied,
    /// 出租
    Rented,
    /// 闲置
    Vacant,
    /// 经营
    Business,
}

impl HouseUse {
    /// Every use, in the order of the figures by use.
    pub const ALL: [HouseUse; 4] = [
        HouseUse::OwnerOccupied,
        HouseUse::Rented,
        HouseUse::Vacant,
        HouseUse::Business,
    ];

    /// The position of this use in [`HouseUse::ALL`].
    pub fn index(self) -> usize {
        match self {
            HouseUse::OwnerOccupied => 0,
            HouseUse::Rented => 1,
            HouseUse::Vacant => 2,
            HouseUse::Business => 3,
        }
    }

    /// The stable text form used in SQL and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            HouseUse::OwnerOccupied => "owner_occupied",
            HouseUse::Rented => "rented",
            HouseUse::Vacant => "vacant",
            HouseUse::Business => "business",
        }
    }

    /// Inverse of [`HouseUse::as_str`].
    pub fn parse(s: &str) -> Option<HouseUse> {
        HouseUse::ALL.into_iter().find(|u| u.as_str() == s)
    }
}

/// One dwelling or business unit in a building. Code: building code + unit(2) + floor(3) + room(2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct House {
    pub code: String,
    pub building_code: String,
    pub unit: i16,
    pub floor: i16,
    pub room: String,
    pub house_use: HouseUse,
    pub households: i16,
}

#[cfg(test)]
impl Building {
    /// A six-floor residential building whose footprint is the square of side `size` degrees
    /// with its south-west corner at (`west`, `south`); for tests.
    pub(crate) fn square(code: &str, west: f64, south: f64, size: f64) -> Building {
        use geo_types::polygon;
        Building {
            code: code.into(),
            name: format!("building {code}"),
            address: None,
            compound: None,
            building_use: BuildingUse::Residential,
            floors: 6,
            height_m: 18.0,
            geometry: polygon![
                (x: west, y: south),
                (x: west + size, y: south),
                (x: west + size, y: south + size),
                (x: west, y: south + size),
            ],
            grid_code: None,
        }
    }
}
