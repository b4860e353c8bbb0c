//! Buildings (楼栋): footprint and attributes; the base grid is assigned here.
//!
//! Fields: `code` (community code + 5 digits), `name`, `address`, `compound`, `building_use`
//! (or `use`), `floors`, `height_m` (default 3 m per floor). Geometry: Polygon. The community
//! (the first 12 digits) must be in the store. `grid_code` is the base grid that owns the
//! footprint's interior point under the border rule, from the engine's snapshot of the store.

use geo::InteriorPoint;

use super::context::Context;
use super::fields::Fields;
use super::geometry::footprint;
use super::source::RawFeature;
use crate::crs::Crs;
use crate::model::{Building, BuildingUse, Change};

/// Accepted `building_use` values.
const USES: [&str; 5] = ["residential", "commercial", "mixed", "public", "industrial"];
/// Metres per floor when `height_m` is not given.
const FLOOR_HEIGHT_M: f64 = 3.0;
/// Length of a community code, the prefix of a building code.
const COMMUNITY_CODE_LEN: usize = 12;

/// Validates one building feature and returns its upsert.
pub fn build(feature: &RawFeature, crs: Crs, ctx: &mut Context) -> Result<Change, Vec<String>> {
    let mut f = Fields::new(&feature.properties);
    let code = f.required_text("code");
    let name = f.required_text("name");
    let address = f.text("address");
    let compound = f.text("compound");
    let building_use = f.required_choice(&["building_use", "use"], BuildingUse::parse, &USES);
    let floors = f
        .required_integer("floors", 1, 200)
        .and_then(|v| i16::try_from(v).ok());
    let height_m = f.number("height_m");
    if height_m.is_some_and(|h| !(0.0..=1000.0).contains(&h)) {
        f.problem(format!(
            "height_m must be between 0 and 1000 metres, found {}",
            height_m.unwrap_or_default()
        ));
    }
    if let Some(code) = &code {
        check_code(&mut f, ctx, code, feature.index);
    }
    let geometry = footprint(feature.geometry.as_ref(), crs)
        .map_err(|e| f.problems.extend(e))
        .ok();
    match (code, name, building_use, floors, geometry) {
        (Some(code), Some(name), Some(building_use), Some(floors), Some(geometry))
            if f.problems.is_empty() =>
        {
            let grid_code = geometry
                .interior_point()
                .and_then(|p| ctx.snapshot.grid_at(p.x(), p.y()))
                .map(|grid| grid.code.clone());
            Ok(Change::UpsertBuilding(Building {
                code,
                name,
                address,
                compound,
                building_use,
                floors,
                height_m: height_m.unwrap_or(f64::from(floors) * FLOOR_HEIGHT_M),
                geometry,
                grid_code,
            }))
        }
        _ => Err(f.problems),
    }
}

fn check_code(f: &mut Fields<'_>, ctx: &mut Context, code: &str, index: usize) {
    if code.len() != COMMUNITY_CODE_LEN + 5 || !code.bytes().all(|b| b.is_ascii_digit()) {
        f.problem(format!(
            "building code {code:?} must be 17 digits: the 12-digit community code and 5 digits"
        ));
        return;
    }
    let community = &code[..COMMUNITY_CODE_LEN];
    if ctx.area_level(community).is_none() {
        f.problem(format!(
            "community {community} (the first 12 digits of building code {code}) is not in the store; import the areas first"
        ));
    }
    if let Err(e) = ctx.claim("code", code, index) {
        f.problem(e);
    }
}
