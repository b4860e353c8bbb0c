//! Basemap features (底图): roads, rivers and water bodies.
//!
//! Fields: `kind` (motorway, primary, secondary, river, water; `class` is accepted for it),
//! `name`, and an optional `id` (or `code`): 1–64 characters `A-Z a-z 0-9 _ - . :`. Geometry:
//! a LineString for roads and rivers, a Polygon or MultiPolygon for water. A feature without
//! an id gets one derived from its kind, name and converted geometry (`R-`, `V-` or `W-` and
//! 16 hex digits of an FNV-1a hash), so importing the same file again updates the same rows;
//! give an `id` to be able to edit a feature's shape in place.

use geo::CoordsIter;
use geo_types::Geometry;

use super::context::Context;
use super::fields::Fields;
use super::geometry::{area_boundary, centre_line};
use super::source::RawFeature;
use crate::crs::Crs;
use crate::model::basemap::valid_code;
use crate::model::{BasemapFeature, BasemapKind, Change};

/// Accepted `kind` values.
const KINDS: [&str; 5] = ["motorway", "primary", "secondary", "river", "water"];

/// Validates one basemap feature and returns its upsert.
pub fn build(feature: &RawFeature, crs: Crs, ctx: &mut Context) -> Result<Change, Vec<String>> {
    let mut f = Fields::new(&feature.properties);
    let kind = f.required_choice(&["kind", "class"], BasemapKind::parse, &KINDS);
    let name = f.required_text("name");
    let given = f.text_any(&["id", "code"]).filter(|id| !id.is_empty());
    if let Some(id) = given.as_deref().filter(|id| !valid_code(id)) {
        f.problem(format!(
            "id {id:?} must be 1–64 characters of A-Z, a-z, 0-9, _, -, . or :"
        ));
    }
    let geometry = kind.and_then(|kind| {
        let shape = if kind.is_line() {
            centre_line(feature.geometry.as_ref(), crs).map(Geometry::LineString)
        } else {
            area_boundary(feature.geometry.as_ref(), crs).map(Geometry::MultiPolygon)
        };
        shape.map_err(|e| f.problems.extend(e)).ok()
    });
    let (Some(kind), Some(name), Some(geometry)) = (kind, name, geometry) else {
        return Err(f.problems);
    };
    let code = given.unwrap_or_else(|| derived_code(kind, &name, &geometry));
    if let Err(e) = ctx.claim("id", &code, feature.index) {
        f.problem(e);
    }
    if !f.problems.is_empty() {
        return Err(f.problems);
    }
    BasemapFeature::new(code, kind, name, geometry)
        .map(Change::UpsertBasemap)
        .map_err(|e| vec![e.to_string()])
}

/// The code of a feature that has no id: its kind's letter and a hash of kind, name and shape.
fn derived_code(kind: BasemapKind, name: &str, geometry: &Geometry<f64>) -> String {
    let mut hash = Fnv::default();
    hash.write(kind.as_str().as_bytes());
    hash.write(&[0]);
    hash.write(name.as_bytes());
    hash.write(&[0]);
    for c in geometry.coords_iter() {
        hash.write(&c.x.to_bits().to_le_bytes());
        hash.write(&c.y.to_bits().to_le_bytes());
    }
    format!("{}-{:016x}", kind.code_prefix(), hash.0)
}

/// FNV-1a, 64 bit: small, stable across Rust versions and platforms (unlike `DefaultHasher`).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::line_string;

    #[test]
    fn derived_codes_are_stable_and_depend_on_every_part() {
        let line: Geometry<f64> = line_string![(x: 114.1, y: 35.7), (x: 114.2, y: 35.8)].into();
        let a = derived_code(BasemapKind::Primary, "G107", &line);
        assert_eq!(a, derived_code(BasemapKind::Primary, "G107", &line));
        assert!(a.starts_with("R-") && a.len() == 18, "{a}");
        assert!(valid_code(&a));
        assert_ne!(a, derived_code(BasemapKind::Secondary, "G107", &line));
        assert_ne!(a, derived_code(BasemapKind::Primary, "G106", &line));
        let other: Geometry<f64> = line_string![(x: 114.1, y: 35.7), (x: 114.2, y: 35.9)].into();
        assert_ne!(a, derived_code(BasemapKind::Primary, "G107", &other));
        assert!(derived_code(BasemapKind::River, "", &line).starts_with("V-"));
    }
}
