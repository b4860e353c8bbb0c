//! Rollups: per area of every layer, the buildings, houses, households and population counts
//! inside it.
//!
//! Each building contributes its own totals (itself, its houses, their households and
//! population) to:
//! - every **base** area whose jurisdiction contains the building's `grid_code` (the prefix
//!   rule of `model::area_code`), so a base parent's rollup is the sum of its children's by
//!   construction;
//! - in every other layer, for each level, the area that owns the building's interior point
//!   under the border rule (`point_in_area`).
//!
//! The [`Ledger`] remembers where each building was posted, so a change moves exactly that
//! building's totals from its old areas to its new ones.

use std::collections::HashMap;

use serde::Serialize;

use super::area_index::AreaIndex;
use crate::model::{CareCounts, HouseUse, Layer, PopulationCounts};

/// Care-tag totals of an area; same field names as [`CareCounts`].
#[derive(Debug, Serialize, Clone, Copy, Default, PartialEq, Eq)]
pub struct CareTotals {
    pub elderly_alone: i64,
    pub left_behind_children: i64,
    pub disabled: i64,
    pub low_income: i64,
    pub released_prisoners: i64,
    pub community_correction: i64,
    pub severe_mental: i64,
    pub drug_users: i64,
    pub key_youth: i64,
    pub party_members: i64,
}

impl CareTotals {
    fn from_array(a: [i64; 10]) -> CareTotals {
        CareTotals {
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

/// Houses of an area by use (实有房屋: 自住/出租/闲置/经营).
#[derive(Debug, Serialize, Clone, Copy, Default, PartialEq, Eq)]
pub struct HousesByUse {
    pub owner_occupied: u64,
    pub rented: u64,
    pub vacant: u64,
    pub business: u64,
}

/// What an area holds: the figures of the statistics endpoints and the wall map.
#[derive(Debug, Serialize, Clone, Default, PartialEq, Eq)]
pub struct Rollup {
    pub buildings: u64,
    pub houses: u64,
    pub houses_by_use: HousesByUse,
    pub households: u64,
    /// registered + floating + overseas.
    pub residents: i64,
    pub registered: i64,
    pub floating: i64,
    pub overseas: i64,
    pub care: CareTotals,
}

/// Signed totals, so that changes can be posted as differences.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub buildings: i64,
    pub houses: i64,
    /// Houses per use, in [`HouseUse::ALL`] order.
    pub houses_by_use: [i64; 4],
    pub households: i64,
    pub registered: i64,
    pub floating: i64,
    pub overseas: i64,
    pub care: [i64; 10],
}

impl Totals {
    /// One building, nothing in it.
    pub const ONE_BUILDING: Totals = Totals {
        buildings: 1,
        houses: 0,
        houses_by_use: [0; 4],
        households: 0,
        registered: 0,
        floating: 0,
        overseas: 0,
        care: [0; 10],
    };

    /// One house of `house_use` with its households.
    pub fn house(house_use: HouseUse, households: i16) -> Totals {
        let mut houses_by_use = [0; 4];
        houses_by_use[house_use.index()] = 1;
        Totals {
            houses: 1,
            houses_by_use,
            households: households.into(),
            ..Totals::default()
        }
    }

    /// The population counts of one house.
    pub fn population(counts: &PopulationCounts) -> Totals {
        Totals {
            registered: counts.registered.into(),
            floating: counts.floating.into(),
            overseas: counts.overseas.into(),
            care: care_array(&counts.care),
            ..Totals::default()
        }
    }

    /// `self + other`.
    pub fn plus(mut self, other: &Totals) -> Totals {
        self.add(other, 1);
        self
    }

    /// `self − other`.
    pub fn minus(mut self, other: &Totals) -> Totals {
        self.add(other, -1);
        self
    }

    /// Adds `sign × other`.
    pub fn add(&mut self, other: &Totals, sign: i64) {
        self.buildings += sign * other.buildings;
        self.houses += sign * other.houses;
        for (a, b) in self.houses_by_use.iter_mut().zip(other.houses_by_use) {
            *a += sign * b;
        }
        self.households += sign * other.households;
        self.registered += sign * other.registered;
        self.floating += sign * other.floating;
        self.overseas += sign * other.overseas;
        for (a, b) in self.care.iter_mut().zip(other.care) {
            *a += sign * b;
        }
    }

    /// Whether every figure is zero.
    pub fn is_zero(&self) -> bool {
        *self == Totals::default()
    }

    /// The public form.
    pub fn to_rollup(self) -> Rollup {
        let count = |v: i64| u64::try_from(v).unwrap_or(0);
        Rollup {
            buildings: count(self.buildings),
            houses: count(self.houses),
            houses_by_use: HousesByUse {
                owner_occupied: count(self.houses_by_use[0]),
                rented: count(self.houses_by_use[1]),
                vacant: count(self.houses_by_use[2]),
                business: count(self.houses_by_use[3]),
            },
            households: count(self.households),
            residents: self.registered + self.floating + self.overseas,
            registered: self.registered,
            floating: self.floating,
            overseas: self.overseas,
            care: CareTotals::from_array(self.care),
        }
    }
}

fn care_array(care: &CareCounts) -> [i64; 10] {
    care.to_array().map(i64::from)
}

/// Rollups by area code. Areas with nothing in them may be missing.
pub type Rollups = HashMap<String, Totals>;

/// Where a building's totals are posted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    /// The base grid (its code feeds every base area by prefix).
    pub grid: Option<String>,
    /// The owning area in each tree of the other layers.
    pub others: Vec<String>,
}

/// What each building has posted, and the totals per grid code (to rebuild base rollups when
/// base areas come or go).
#[derive(Debug, Default)]
pub struct Ledger {
    posted: HashMap<String, (Placement, Totals)>,
    by_grid: HashMap<String, Totals>,
}

impl Ledger {
    /// Posts many buildings at once (start-up): totals are summed per grid and per area before
    /// they are spread over the base areas, which is much cheaper than one post per building.
    pub fn load(entries: Vec<(String, Placement, Totals)>, areas: &AreaIndex) -> (Ledger, Rollups) {
        let mut ledger = Ledger {
            posted: HashMap::with_capacity(entries.len()),
            by_grid: HashMap::new(),
        };
        let mut rollups = Rollups::new();
        for (building, placement, totals) in entries {
            if let Some(grid) = &placement.grid {
                add_to(&mut ledger.by_grid, grid, &totals, 1);
            }
            for code in &placement.others {
                add_to(&mut rollups, code, &totals, 1);
            }
            ledger.posted.insert(building, (placement, totals));
        }
        ledger.rebuild_base(areas, &mut rollups);
        (ledger, rollups)
    }

    /// Posts a building's totals at `placement`, first taking back whatever it had posted.
    pub fn post(
        &mut self,
        building: &str,
        placement: Placement,
        totals: Totals,
        areas: &AreaIndex,
        rollups: &mut Rollups,
    ) {
        self.withdraw(building, areas, rollups);
        self.spread(&placement, &totals, 1, areas, rollups);
        self.posted
            .insert(building.to_string(), (placement, totals));
    }

    /// Takes back everything a building posted (it was deleted).
    pub fn withdraw(&mut self, building: &str, areas: &AreaIndex, rollups: &mut Rollups) {
        if let Some((placement, totals)) = self.posted.remove(building) {
            self.spread(&placement, &totals, -1, areas, rollups);
        }
    }

    /// Adds `delta` to what a building posted, where it posted it (a house or population change).
    /// Does nothing for a building that posted nothing (not loaded yet).
    pub fn adjust(
        &mut self,
        building: &str,
        delta: &Totals,
        areas: &AreaIndex,
        rollups: &mut Rollups,
    ) {
        let Some((placement, totals)) = self.posted.get_mut(building) else {
            return;
        };
        totals.add(delta, 1);
        let placement = placement.clone();
        self.spread(&placement, delta, 1, areas, rollups);
    }

    /// Where a building is posted.
    pub fn placement(&self, building: &str) -> Option<&Placement> {
        self.posted.get(building).map(|(p, _)| p)
    }

    fn spread(
        &mut self,
        placement: &Placement,
        totals: &Totals,
        sign: i64,
        areas: &AreaIndex,
        rollups: &mut Rollups,
    ) {
        if let Some(grid) = &placement.grid {
            add_to(&mut self.by_grid, grid, totals, sign);
            for code in areas.base_scopes_of(grid) {
                add_to(rollups, code, totals, sign);
            }
        }
        for code in &placement.others {
            add_to(rollups, code, totals, sign);
        }
    }

    /// Recomputes every base rollup from the totals per grid code (after base areas were
    /// added or removed), and drops the rollups of areas that are gone.
    pub fn rebuild_base(&self, areas: &AreaIndex, rollups: &mut Rollups) {
        rollups.retain(|code, _| areas.get(code).is_some_and(|a| a.area.layer != Layer::Base));
        for (grid, totals) in &self.by_grid {
            for code in areas.base_scopes_of(grid) {
                add_to(rollups, code, totals, 1);
            }
        }
    }
}

/// Adds `sign × totals` to the entry of `code`, allocating a key only for a new entry and
/// dropping entries that fall to zero.
fn add_to(map: &mut HashMap<String, Totals>, code: &str, totals: &Totals, sign: i64) {
    match map.get_mut(code) {
        Some(entry) => {
            entry.add(totals, sign);
            if entry.is_zero() {
                map.remove(code);
            }
        }
        None => {
            let mut entry = Totals::default();
            entry.add(totals, sign);
            if !entry.is_zero() {
                map.insert(code.to_string(), entry);
            }
        }
    }
}
