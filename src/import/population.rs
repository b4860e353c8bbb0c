//! Population counts (实有人口) per stored house; no names, no ID numbers, only counts.
//!
//! Fields: `house_code`, `registered`, `floating`, `overseas` and the care tags of
//! `CareCounts::FIELDS` (`elderly_alone`, …, `party_members`), each a count (default 0). A care
//! count cannot exceed the residents. The house must be in the store.

use super::context::Context;
use super::fields::Fields;
use super::source::RawFeature;
use crate::model::{CareCounts, Change, Population, PopulationCounts};

/// The largest count accepted in one house.
const MAX_COUNT: i64 = 10_000;

/// A count field, 0 when absent (a bad value is recorded as a problem).
fn count(f: &mut Fields<'_>, name: &str) -> i32 {
    f.integer(name, 0, MAX_COUNT).map_or(0, |v| v as i32)
}

/// Validates one population row and returns its replacement counts.
pub fn build(feature: &RawFeature, ctx: &mut Context) -> Result<Change, Vec<String>> {
    let mut f = Fields::new(&feature.properties);
    let house_code = f.required_text("house_code");
    let registered = count(&mut f, "registered");
    let floating = count(&mut f, "floating");
    let overseas = count(&mut f, "overseas");
    let mut care = [0i32; 10];
    for (value, name) in care.iter_mut().zip(CareCounts::FIELDS) {
        *value = count(&mut f, name);
    }
    let counts = PopulationCounts {
        registered,
        floating,
        overseas,
        care: CareCounts::from_array(care),
    };
    let residents = counts.residents();
    for (value, name) in care.iter().zip(CareCounts::FIELDS) {
        if i64::from(*value) > residents {
            f.problem(format!(
                "{name} is {value} but the house has only {residents} residents"
            ));
        }
    }
    if let Some(house) = &house_code {
        if !ctx.store_houses.contains(house) {
            f.problem(format!(
                "house_code {house}: no house with this code in the store; import the houses first"
            ));
        }
        if let Err(e) = ctx.claim("house_code", house, feature.index) {
            f.problem(e);
        }
    }
    match house_code {
        Some(house_code) if f.problems.is_empty() => {
            Ok(Change::SetPopulation(Population { house_code, counts }))
        }
        _ => Err(f.problems),
    }
}
