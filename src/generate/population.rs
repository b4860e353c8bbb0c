//! Houses (实有房屋) of a building and the population counts (实有人口) of each house.
//!
//! Shares aimed at (city-wide): houses ≈ 75 % owner-occupied, 15 % rented, 8 % vacant, 2 %
//! business (ground floors of mixed buildings); ≈ 2.7 residents per occupied household;
//! floating ≈ 15 % of residents (mostly in rented houses), overseas ≈ 0.1 %; elderly living
//! alone ≈ 3 % of households; left-behind children mostly in villages; disabled ≈ 6 %, party
//! members ≈ 7 % of residents; low income (低保) ≈ 3 % of households; the sensitive tags rare.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::layout::PlacedBuilding;
use super::random::weighted_index;
use crate::model::{BuildingUse, CareCounts, House, HouseUse, Population, PopulationCounts};

/// Residents per household, 1–6, weights giving a mean of about 2.7.
const HOUSEHOLD_SIZE_WEIGHTS: [f64; 6] = [0.20, 0.28, 0.27, 0.15, 0.07, 0.03];

/// The houses of a building: unit 01…, floor 001…, room 01…; ground-floor rooms of mixed
/// buildings are businesses.
pub fn houses(
    building_code: &str,
    b: &PlacedBuilding,
    village: bool,
    rng: &mut ChaCha8Rng,
) -> Vec<House> {
    let (vacant, rented) = if village { (0.11, 0.07) } else { (0.075, 0.17) };
    let mut out = Vec::with_capacity(b.houses() as usize);
    for unit in 1..=b.units {
        for floor in 1..=b.floors {
            for room in 1..=b.rooms_per_floor {
                let house_use = if b.building_use == BuildingUse::Mixed && floor == 1 {
                    HouseUse::Business
                } else {
                    let x: f64 = rng.random();
                    if x < vacant {
                        HouseUse::Vacant
                    } else if x < vacant + rented {
                        HouseUse::Rented
                    } else {
                        HouseUse::OwnerOccupied
                    }
                };
                let households = match house_use {
                    HouseUse::Vacant | HouseUse::Business => 0,
                    _ if rng.random_bool(0.03) => 2,
                    _ => 1,
                };
                out.push(House {
                    code: format!("{building_code}{unit:02}{floor:03}{room:02}"),
                    building_code: building_code.to_string(),
                    unit,
                    floor,
                    room: format!("{floor}{room:02}"),
                    house_use,
                    households,
                });
            }
        }
    }
    out
}

fn binomial(rng: &mut ChaCha8Rng, n: i32, p: f64) -> i32 {
    (0..n).filter(|_| rng.random_bool(p)).count() as i32
}

/// The population counts of an occupied house; `None` for a house nobody lives in.
pub fn population(house: &House, village: bool, rng: &mut ChaCha8Rng) -> Option<Population> {
    if house.households <= 0 {
        return None;
    }
    let mut residents = 0i32;
    let mut alone = false;
    for _ in 0..house.households {
        let size = weighted_index(rng, &HOUSEHOLD_SIZE_WEIGHTS) as i32 + 1;
        alone |= size == 1 && house.households == 1;
        residents += size;
    }
    let floating_p = if house.house_use == HouseUse::Rented {
        0.80
    } else {
        0.035
    };
    let floating = binomial(rng, residents, floating_p);
    let overseas = binomial(rng, residents - floating, 0.001);
    let registered = residents - floating - overseas;
    let care = CareCounts {
        // Of one-person households (~20 %), about one in seven is an elderly person: ≈ 3 %.
        elderly_alone: i32::from(alone && rng.random_bool(0.15)),
        left_behind_children: if residents >= 2
            && rng.random_bool(if village { 0.06 } else { 0.006 })
        {
            rng.random_range(1..=2.min(residents - 1))
        } else {
            0
        },
        disabled: binomial(rng, residents, 0.06),
        low_income: if rng.random_bool(if village { 0.045 } else { 0.02 }) {
            residents
        } else {
            0
        },
        released_prisoners: binomial(rng, residents, 0.0005),
        community_correction: binomial(rng, residents, 0.0003),
        severe_mental: binomial(rng, residents, 0.004),
        drug_users: binomial(rng, residents, 0.0005),
        key_youth: binomial(rng, residents, 0.001),
        party_members: binomial(rng, residents, 0.07),
    };
    Some(Population {
        house_code: house.code.clone(),
        counts: PopulationCounts {
            registered,
            floating,
            overseas,
            care,
        },
    })
}

#[cfg(test)]
mod tests {
    use geo_types::Polygon;
    use rand::SeedableRng;

    use super::*;
    use crate::generate::footprints::Shape;

    fn building(units: i16, floors: i16, rooms: i16, building_use: BuildingUse) -> PlacedBuilding {
        PlacedBuilding {
            footprint: Polygon::new(vec![(0.0, 0.0)].into(), vec![]),
            shape: Shape::Slab,
            building_use,
            floors,
            units,
            rooms_per_floor: rooms,
            compound: None,
            on_site: false,
        }
    }

    #[test]
    fn a_building_without_units_has_no_houses() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert!(houses(
            "41061100100100001",
            &building(0, 5, 0, BuildingUse::Commercial),
            false,
            &mut rng
        )
        .is_empty());
    }

    #[test]
    fn vacant_and_business_houses_have_nobody() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for house_use in [HouseUse::Vacant, HouseUse::Business] {
            let house = House {
                code: "x".into(),
                building_code: "b".into(),
                unit: 1,
                floor: 1,
                room: "101".into(),
                house_use,
                households: 0,
            };
            assert_eq!(population(&house, false, &mut rng), None);
        }
    }

    #[test]
    fn house_codes_and_ground_floor_business() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let hs = houses(
            "41061100100100001",
            &building(2, 6, 2, BuildingUse::Mixed),
            false,
            &mut rng,
        );
        assert_eq!(hs.len(), 24);
        assert_eq!(hs[0].code, "41061100100100001".to_string() + "0100101");
        assert_eq!(hs[23].code, "41061100100100001".to_string() + "0200602");
        assert_eq!(hs[23].room, "602");
        assert!(hs
            .iter()
            .filter(|h| h.floor == 1)
            .all(|h| h.house_use == HouseUse::Business));
        assert!(hs
            .iter()
            .filter(|h| h.floor > 1)
            .all(|h| h.house_use != HouseUse::Business));
    }

    #[test]
    fn shares_over_many_houses() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let b = building(4, 10, 2, BuildingUse::Residential);
        let (mut households, mut residents, mut floating, mut alone, mut party) =
            (0i64, 0i64, 0i64, 0i64, 0i64);
        for n in 0..300 {
            for h in houses(&format!("{n:017}"), &b, false, &mut rng) {
                households += h.households as i64;
                if let Some(p) = population(&h, false, &mut rng) {
                    residents += p.counts.residents();
                    floating += p.counts.floating as i64;
                    alone += p.counts.care.elderly_alone as i64;
                    party += p.counts.care.party_members as i64;
                }
            }
        }
        let per_household = residents as f64 / households as f64;
        assert!((2.5..2.9).contains(&per_household), "{per_household}");
        assert!((0.10..0.22).contains(&(floating as f64 / residents as f64)));
        assert!((0.015..0.045).contains(&(alone as f64 / households as f64)));
        assert!((0.05..0.09).contains(&(party as f64 / residents as f64)));
    }
}
