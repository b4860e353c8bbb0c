//! The housing stock behind the rollups: houses (实有房屋) and their population counts,
//! totalled per building. Kept on the writer side of the engine only: reads see the rollups.

use std::collections::HashMap;
use std::sync::Arc;

use super::rollup::Totals;
use crate::model::{House, HouseUse, Population, PopulationCounts};

#[derive(Debug, Clone)]
struct HouseRecord {
    /// Shared with the other houses of the building (the key of `per_building`).
    building_code: Arc<str>,
    house_use: HouseUse,
    households: i16,
}

/// Houses and population rows, and their totals per building code.
#[derive(Debug, Default)]
pub struct HousingStock {
    houses: HashMap<String, HouseRecord>,
    population: HashMap<String, PopulationCounts>,
    per_building: HashMap<Arc<str>, Totals>,
}

/// A change of one building's totals caused by a house or population change.
pub type BuildingDelta = (Arc<str>, Totals);

impl HousingStock {
    /// Loads houses and population rows. Population rows of unknown houses are kept and count
    /// once their house arrives; a repeated house code keeps the last row.
    pub fn new(houses: Vec<House>, population: Vec<Population>) -> HousingStock {
        let mut stock = HousingStock {
            population: population
                .into_iter()
                .map(|p| (p.house_code, p.counts))
                .collect(),
            houses: HashMap::with_capacity(houses.len()),
            ..HousingStock::default()
        };
        for house in houses {
            stock.upsert_house(house);
        }
        stock
    }

    /// Number of houses.
    pub fn houses(&self) -> usize {
        self.houses.len()
    }

    /// Number of population rows.
    pub fn population_rows(&self) -> usize {
        self.population.len()
    }

    /// What the houses of a building add up to (the building itself not counted).
    pub fn building_totals(&self, building_code: &str) -> Totals {
        self.per_building
            .get(building_code)
            .copied()
            .unwrap_or_default()
    }

    fn house_totals(&self, code: &str, house_use: HouseUse, households: i16) -> Totals {
        let people = self
            .population
            .get(code)
            .map(Totals::population)
            .unwrap_or_default();
        Totals::house(house_use, households).plus(&people)
    }

    /// Adds `delta` to a building's totals; returns the shared building code.
    fn book(&mut self, building_code: &str, delta: &Totals) -> Arc<str> {
        if let Some((code, totals)) = self.per_building.get_key_value(building_code) {
            let code = code.clone();
            let updated = totals.plus(delta);
            if updated.is_zero() {
                self.per_building.remove(building_code);
            } else {
                self.per_building.insert(code.clone(), updated);
            }
            return code;
        }
        let code: Arc<str> = Arc::from(building_code);
        if !delta.is_zero() {
            self.per_building.insert(code.clone(), *delta);
        }
        code
    }

    /// Inserts or replaces a house; returns the building totals that changed.
    pub fn upsert_house(&mut self, house: House) -> Vec<BuildingDelta> {
        let mut out = self.delete_house(&house.code);
        let totals = self.house_totals(&house.code, house.house_use, house.households);
        let building_code = self.book(&house.building_code, &totals);
        out.push((building_code.clone(), totals));
        self.houses.insert(
            house.code,
            HouseRecord {
                building_code,
                house_use: house.house_use,
                households: house.households,
            },
        );
        out
    }

    /// Removes a house (its population row stays, as the store keeps it); returns the building
    /// totals that changed.
    pub fn delete_house(&mut self, code: &str) -> Vec<BuildingDelta> {
        let Some(old) = self.houses.remove(code) else {
            return Vec::new();
        };
        let delta =
            Totals::default().minus(&self.house_totals(code, old.house_use, old.households));
        let building_code = self.book(&old.building_code, &delta);
        vec![(building_code, delta)]
    }

    /// Sets the population counts of a house; returns the building totals that changed.
    pub fn set_population(&mut self, population: Population) -> Vec<BuildingDelta> {
        let new = Totals::population(&population.counts);
        let old = self
            .population
            .insert(population.house_code.clone(), population.counts)
            .map(|c| Totals::population(&c))
            .unwrap_or_default();
        let Some(house) = self.houses.get(&population.house_code) else {
            return Vec::new();
        };
        let building = house.building_code.clone();
        let delta = new.minus(&old);
        self.book(&building, &delta);
        vec![(building, delta)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CareCounts, HouseUse};

    fn house(code: &str, building: &str, households: i16) -> House {
        House {
            code: code.into(),
            building_code: building.into(),
            unit: 1,
            floor: 1,
            room: "01".into(),
            house_use: HouseUse::OwnerOccupied,
            households,
        }
    }

    fn people(house: &str, registered: i32, elderly: i32) -> Population {
        Population {
            house_code: house.into(),
            counts: PopulationCounts {
                registered,
                floating: 1,
                overseas: 0,
                care: CareCounts {
                    elderly_alone: elderly,
                    ..CareCounts::default()
                },
            },
        }
    }

    #[test]
    fn empty_stock() {
        let stock = HousingStock::new(vec![], vec![]);
        assert_eq!(stock.houses(), 0);
        assert!(stock.building_totals("B").is_zero());
    }

    #[test]
    fn population_before_its_house_counts_once_the_house_arrives() {
        let mut stock = HousingStock::new(vec![], vec![people("H1", 3, 1)]);
        assert!(stock.building_totals("B").is_zero());
        let deltas = stock.upsert_house(house("H1", "B", 2));
        assert_eq!(deltas.len(), 1);
        let t = stock.building_totals("B");
        assert_eq!(
            (t.houses, t.households, t.registered, t.floating, t.care[0]),
            (1, 2, 3, 1, 1)
        );
    }

    #[test]
    fn moving_a_house_moves_its_people() {
        let mut stock = HousingStock::new(vec![house("H1", "A", 1)], vec![people("H1", 2, 0)]);
        stock.upsert_house(house("H1", "B", 1));
        assert!(stock.building_totals("A").is_zero());
        assert_eq!(stock.building_totals("B").registered, 2);
        stock.set_population(people("H1", 5, 0));
        assert_eq!(stock.building_totals("B").registered, 5);
        stock.delete_house("H1");
        assert!(stock.building_totals("B").is_zero());
        assert_eq!(stock.population_rows(), 1);
    }
}
