//! Areas: boundaries of every layer with their public sign.
//!
//! Fields: `code`, `layer` (default `base`), `level` (`city` … `microgrid` or 1–6), `name`,
//! `parent_code` (required below the city), `center_lon`/`center_lat` (in the file's CRS),
//! `leader_name`, `leader_phone`, `leader_photo_url`, `urban_rural`, `valid_from`, `valid_to`.
//! Geometry: Polygon or MultiPolygon. A base area's code length must match its level; every
//! code must extend its parent's; a parent must be in the store or in the file (any order:
//! features are processed parents first).

use geo_types::Point;

use super::context::Context;
use super::fields::Fields;
use super::geometry::{area_boundary, point_to_storage};
use super::source::RawFeature;
use crate::crs::Crs;
use crate::model::{scope_contains, validate_code, Area, Change, Layer, Level};

/// The 城乡分类代码 values (GB/T 2260 statistical urban/rural classes).
const URBAN_RURAL: [i64; 7] = [111, 112, 121, 122, 123, 210, 220];

/// Validates one area feature and returns its upsert.
pub fn build(feature: &RawFeature, crs: Crs, ctx: &mut Context) -> Result<Change, Vec<String>> {
    let mut f = Fields::new(&feature.properties);
    let code = f.required_text("code");
    let layer = read_layer(&mut f);
    let level = read_level(&mut f);
    let name = f.required_text("name");
    let parent_code = f.text("parent_code");
    let center = read_center(&mut f, crs);
    let leader_name = f.text("leader_name");
    let leader_phone = f.text("leader_phone");
    let leader_photo_url = f.text("leader_photo_url");
    let urban_rural = read_urban_rural(&mut f);
    let valid_from = f.date("valid_from");
    let valid_to = f.date("valid_to");
    if let (Some(from), Some(to)) = (valid_from, valid_to) {
        if to < from {
            f.problem(format!("valid_to {to} is before valid_from {from}"));
        }
    }
    if let (Some(code), Some(layer), Some(level)) = (&code, &layer, level) {
        if check_code(&mut f, code, layer, level) {
            check_parent(&mut f, ctx, code, layer, level, parent_code.as_deref());
        }
        if let Err(e) = ctx.claim("code", code, feature.index) {
            f.problem(e);
        }
    }
    let geometry = area_boundary(feature.geometry.as_ref(), crs)
        .map_err(|e| f.problems.extend(e))
        .ok();
    match (code, layer, level, name, geometry) {
        (Some(code), Some(layer), Some(level), Some(name), Some(geometry))
            if f.problems.is_empty() =>
        {
            ctx.file_areas.insert(code.clone(), level);
            Ok(Change::UpsertArea(Area {
                code,
                layer,
                level,
                name,
                parent_code,
                geometry,
                center,
                leader_name,
                leader_phone,
                leader_photo_url,
                urban_rural,
                valid_from,
                valid_to,
            }))
        }
        _ => Err(f.problems),
    }
}

fn read_layer(f: &mut Fields<'_>) -> Option<Layer> {
    match f.text("layer") {
        None => Some(Layer::Base),
        Some(text) => {
            let layer = Layer::parse(&text);
            if layer.is_none() {
                f.problem(format!("unknown layer {text:?}: accepted are base, special and business:NAME (letters, digits, _)"));
            }
            layer
        }
    }
}

fn read_level(f: &mut Fields<'_>) -> Option<Level> {
    let names: Vec<&str> = Level::ALL.iter().map(|l| l.as_str()).collect();
    f.required_choice(
        &["level"],
        |s| {
            Level::parse(&s.to_ascii_lowercase())
                .or_else(|| s.parse::<i16>().ok().and_then(Level::from_i16))
        },
        &[names.join(", ").as_str(), "or 1–6"],
    )
}

fn read_center(f: &mut Fields<'_>, crs: Crs) -> Option<Point<f64>> {
    match (f.number("center_lon"), f.number("center_lat")) {
        (None, None) => None,
        (Some(x), Some(y)) => point_to_storage(crs, [x, y])
            .map_err(|e| f.problem(format!("center: {e}")))
            .ok(),
        _ => {
            f.problem("center_lon and center_lat must be given together");
            None
        }
    }
}

fn read_urban_rural(f: &mut Fields<'_>) -> Option<i16> {
    let value = f.integer("urban_rural", 0, 999)?;
    if URBAN_RURAL.contains(&value) {
        i16::try_from(value).ok()
    } else {
        let accepted: Vec<String> = URBAN_RURAL.iter().map(i64::to_string).collect();
        f.problem(format!(
            "unknown urban_rural {value}: accepted are {}",
            accepted.join(", ")
        ));
        None
    }
}

/// Format, and for base areas the code length of the level. `false` when the code is not
/// even well-formed (then its parent is not worth checking).
fn check_code(f: &mut Fields<'_>, code: &str, layer: &Layer, level: Level) -> bool {
    if let Err(e) = validate_code(code) {
        f.problem(e.to_string());
        return false;
    }
    if *layer != Layer::Base {
        return true;
    }
    let expected = level.base_code_len();
    let fits = code.len() == expected || (level == Level::Microgrid && code.len() == 18);
    if !fits || !code.bytes().all(|b| b.is_ascii_digit()) {
        let lengths = if level == Level::Microgrid {
            "17 or 18".to_string()
        } else {
            expected.to_string()
        };
        f.problem(format!(
            "code {code} has {} characters but a base {} code has {lengths} digits",
            code.len(),
            level.as_str()
        ));
    }
    true
}

/// The parent exists, sits above, and its code is a prefix of the child's.
fn check_parent(
    f: &mut Fields<'_>,
    ctx: &Context,
    code: &str,
    layer: &Layer,
    level: Level,
    parent: Option<&str>,
) {
    let Some(parent) = parent else {
        if level != Level::City {
            f.problem(format!(
                "missing required field parent_code (a {} needs its parent)",
                level.as_str()
            ));
        }
        return;
    };
    if validate_code(parent).is_err() {
        f.problem(format!("parent_code {parent:?} is not a valid area code"));
        return;
    }
    if parent == code || !scope_contains(parent, code) {
        f.problem(format!(
            "code {code} does not extend its parent_code {parent}"
        ));
        return;
    }
    match ctx.area_level(parent) {
        None => f.problem(ctx.missing_reference("parent_code", parent, "area")),
        Some(parent_level) if *layer == Layer::Base && parent_level >= level => f.problem(format!(
            "parent_code {parent} is a {} but a {} needs a parent of a higher level",
            parent_level.as_str(),
            level.as_str()
        )),
        Some(_) => {}
    }
}
