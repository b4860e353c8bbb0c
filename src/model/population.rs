//! Population (实有人口) held as counts per house, never as identifiable records.

use serde::{Deserialize, Serialize};

/// Residents of one house by special-care tag. A person may carry several tags, so these do
/// not add up to the residents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CareCounts {
    /// 独居老人
    pub elderly_alone: i32,
    /// 留守儿童
    pub left_behind_children: i32,
    /// 残疾人
    pub disabled: i32,
    /// 低保
    pub low_income: i32,
    /// 刑满释放
    pub released_prisoners: i32,
    /// 社区矫正
    pub community_correction: i32,
    /// 严重精神障碍
    pub severe_mental: i32,
    /// 吸毒
    pub drug_users: i32,
    /// 重点青少年
    pub key_youth: i32,
    /// 党员
    pub party_members: i32,
}

impl CareCounts {
    /// Field names in a fixed order, used for SQL columns, CSV headers and JSON keys.
    pub const FIELDS: [&'static str; 10] = [
        "elderly_alone",
        "left_behind_children",
        "disabled",
        "low_income",
        "released_prisoners",
        "community_correction",
        "severe_mental",
        "drug_users",
        "key_youth",
        "party_members",
    ];

    /// The counts in the order of [`CareCounts::FIELDS`].
    pub fn to_array(&self) -> [i32; 10] {
        [
            self.elderly_alone,
            self.left_behind_children,
            self.disabled,
            self.low_income,
            self.released_prisoners,
            self.community_correction,
            self.severe_mental,
            self.drug_users,
            self.key_youth,
            self.party_members,
        ]
    }

    /// Inverse of [`CareCounts::to_array`].
    pub fn from_array(a: [i32; 10]) -> CareCounts {
        CareCounts {
            elderly_alone: a[0],
            left_behind_children: a[1],
            disabled: a[2],
            low_income: a[3],
            released_prisoners: a[4],
            community_correction: a[5],
            severe_mental: a[6],
            drug_users: a[7],
            key_youth: a[8],
            party_members: a[9],
        }
    }
}

/// Residents of one house by registration (户籍 / 流动 / 境外) and by care tag.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PopulationCounts {
    pub registered: i32,
    pub floating: i32,
    pub overseas: i32,
    pub care: CareCounts,
}

impl PopulationCounts {
    /// All residents (registered + floating + overseas).
    pub fn residents(&self) -> i64 {
        self.registered as i64 + self.floating as i64 + self.overseas as i64
    }
}

/// The population counts of one house.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Population {
    pub house_code: String,
    #[serde(flatten)]
    pub counts: PopulationCounts,
}
