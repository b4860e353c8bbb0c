//! Houses (实有房屋): dwelling and business units of a stored building.
//!
//! Fields: `code` (building code + unit 2 + floor 3 + room 2 digits = 24 digits),
//! `building_code` (default: the code's first 17 digits), `unit`, `floor`, `room` (default:
//! read from the code), `house_use`, `households` (default 1, or 0 for vacant and business
//! units). The building must be in the store.

use super::context::Context;
use super::fields::Fields;
use super::source::RawFeature;
use crate::model::{Change, House, HouseUse};

/// Accepted `house_use` values.
const USES: [&str; 4] = ["owner_occupied", "rented", "vacant", "business"];
/// Length of a building code, the prefix of a house code.
const BUILDING_CODE_LEN: usize = 17;
/// Length of a house code.
const HOUSE_CODE_LEN: usize = BUILDING_CODE_LEN + 7;

/// Validates one house row and returns its upsert.
pub fn build(feature: &RawFeature, ctx: &mut Context) -> Result<Change, Vec<String>> {
    let mut f = Fields::new(&feature.properties);
    let code = f.required_text("code");
    let well_formed = code
        .as_deref()
        .filter(|c| c.len() == HOUSE_CODE_LEN && c.bytes().all(|b| b.is_ascii_digit()));
    if let (Some(code), None) = (&code, well_formed) {
        f.problem(format!(
            "house code {code:?} must be 24 digits: building code (17), unit (2), floor (3) and room (2)"
        ));
    }
    let from_code = |range: std::ops::Range<usize>| well_formed.map(|c| c[range].to_string());
    let building_code = f
        .text("building_code")
        .or_else(|| from_code(0..BUILDING_CODE_LEN));
    let unit = f
        .integer("unit", 0, 99)
        .or_else(|| from_code(17..19).and_then(|s| s.parse().ok()));
    let floor = f
        .integer("floor", -99, 999)
        .or_else(|| from_code(19..22).and_then(|s| s.parse().ok()));
    let room = f.text("room").or_else(|| from_code(22..24));
    for (value_missing, name) in [
        (unit.is_none(), "unit"),
        (floor.is_none(), "floor"),
        (room.is_none(), "room"),
    ] {
        if value_missing && !f.has(name) && well_formed.is_none() {
            f.problem(format!(
                "missing required field {name} (or a 24-digit code to read it from)"
            ));
        }
    }
    let house_use = f.required_choice(&["house_use", "use"], HouseUse::parse, &USES);
    let households = f.integer("households", 0, 99);
    if let (Some(code), Some(building)) = (well_formed, &building_code) {
        if !code.starts_with(building.as_str()) {
            f.problem(format!(
                "house code {code} does not start with its building_code {building}"
            ));
        }
    }
    match &building_code {
        Some(building) if !ctx.store_buildings.contains(building) => {
            f.problem(format!("building_code {building}: no building with this code in the store; import the buildings first"))
        }
        None if code.is_some() => f.problem("missing required field building_code"),
        _ => {}
    }
    if let Some(code) = well_formed {
        if let Err(e) = ctx.claim("code", code, feature.index) {
            f.problem(e);
        }
    }
    match (code, building_code, unit, floor, room, house_use) {
        (Some(code), Some(building_code), Some(unit), Some(floor), Some(room), Some(house_use))
            if f.problems.is_empty() =>
        {
            let default_households = i64::from(matches!(
                house_use,
                HouseUse::OwnerOccupied | HouseUse::Rented
            ));
            Ok(Change::UpsertHouse(House {
                code,
                building_code,
                unit: i16::try_from(unit).unwrap_or_default(),
                floor: i16::try_from(floor).unwrap_or_default(),
                room,
                house_use,
                households: i16::try_from(households.unwrap_or(default_households))
                    .unwrap_or_default(),
            }))
        }
        _ => Err(f.problems),
    }
}
