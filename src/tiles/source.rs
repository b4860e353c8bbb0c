//! What each layer source puts in a tile: which snapshot rows, their geometry in tile units and
//! their typed attributes.
//!
//! The rule: attributes are typed as the model holds them (floors an integer, height a float in
//! metres, codes and names text); a missing value is left out (MVT has no null); only the
//! attributes the layer lists are written, in the layer's order.

use std::borrow::Cow;

use geo::BoundingRect;
use geo_types::{Coord, LineString, MultiPolygon, Polygon, Rect};

use super::encode::TagValue;
use super::simplify::Ring;
use super::tile_id::TileFrame;
use super::tileset::LayerDef;
use crate::engine::{basemap_bounds, Snapshot};
use crate::model::{Area, BasemapFeature, Building, Change};

/// A polygon in tile units: its exterior and holes, open rings.
pub type TilePolygon = Vec<Ring>;

/// The tags of an area for `def` (areas and area labels); text borrows from the area.
pub fn area_tags<'a>(area: &'a Area, def: &LayerDef) -> Vec<(&'static str, TagValue<'a>)> {
    let all: [(&'static str, Option<TagValue<'a>>); 7] = [
        ("code", Some(text(&area.code))),
        ("name", Some(text(&area.name))),
        ("level", Some(text(area.level.as_str()))),
        ("layer", Some(TagValue::Text(area.layer.as_str()))),
        ("parent_code", area.parent_code.as_deref().map(text)),
        ("leader_name", area.leader_name.as_deref().map(text)),
        (
            "urban_rural",
            area.urban_rural.map(|v| TagValue::Int(i64::from(v))),
        ),
    ];
    listed(all, def)
}

/// The tags of a building for `def`; text borrows from the building.
pub fn building_tags<'a>(b: &'a Building, def: &LayerDef) -> Vec<(&'static str, TagValue<'a>)> {
    let all: [(&'static str, Option<TagValue<'a>>); 6] = [
        ("code", Some(text(&b.code))),
        ("name", Some(text(&b.name))),
        ("floors", Some(TagValue::Int(i64::from(b.floors)))),
        ("height", Some(TagValue::Float(b.height_m))),
        ("use", Some(text(b.building_use.as_str()))),
        ("grid_code", b.grid_code.as_deref().map(text)),
    ];
    listed(all, def)
}

/// The tags of a basemap feature for `def`: `kind` and `class` are the same value
/// (`motorway` … `water`); `class` is the name styles usually filter roads by.
pub fn basemap_tags<'a>(
    f: &'a BasemapFeature,
    def: &LayerDef,
) -> Vec<(&'static str, TagValue<'a>)> {
    let kind = f.kind.as_str();
    let all: [(&'static str, Option<TagValue<'a>>); 4] = [
        ("code", Some(text(&f.code))),
        ("name", Some(text(&f.name))),
        ("kind", Some(text(kind))),
        ("class", Some(text(kind))),
    ];
    listed(all, def)
}

/// A text value borrowed from the snapshot.
fn text(s: &str) -> TagValue<'_> {
    TagValue::Text(Cow::Borrowed(s))
}

/// The boxes a basemap change touches: the stored feature's before the change (from `before`)
/// and the new one's. Other changes give nothing here.
pub fn basemap_change_boxes(before: &Snapshot, change: &Change) -> Vec<Rect<f64>> {
    let (code, new) = match change {
        Change::UpsertBasemap(f) => (f.code.as_str(), basemap_bounds(f)),
        Change::DeleteBasemap(code) => (code.as_str(), None),
        _ => return Vec::new(),
    };
    let old = before.basemap_feature(code).and_then(basemap_bounds);
    old.into_iter().chain(new).collect()
}

fn listed<'a, const N: usize>(
    all: [(&'static str, Option<TagValue<'a>>); N],
    def: &LayerDef,
) -> Vec<(&'static str, TagValue<'a>)> {
    let mut tags: Vec<(&'static str, TagValue<'a>)> = all
        .into_iter()
        .filter(|(k, _)| def.has_attribute(k))
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
    tags.sort_by_key(|(k, _)| def.attributes.iter().position(|a| a == k));
    tags
}

/// An area's polygons in tile units.
pub fn project_multipolygon(mp: &MultiPolygon<f64>, frame: &TileFrame) -> Vec<TilePolygon> {
    mp.iter().map(|p| project_polygon(p, frame)).collect()
}

/// A polygon in tile units (rings opened: the closing vertex dropped).
pub fn project_polygon(p: &Polygon<f64>, frame: &TileFrame) -> TilePolygon {
    std::iter::once(p.exterior())
        .chain(p.interiors())
        .map(|ring| {
            let mut out: Ring = ring.0.iter().map(|c| frame.project(c.x, c.y)).collect();
            if out.len() > 1 && out.first() == out.last() {
                out.pop();
            }
            out
        })
        .collect()
}

/// A line in tile units.
pub fn project_line(line: &LineString<f64>, frame: &TileFrame) -> Vec<Coord<f64>> {
    line.0.iter().map(|c| frame.project(c.x, c.y)).collect()
}

/// The envelope size (width, height) of a geometry in tile units.
pub fn projected_size<G: BoundingRect<f64>>(g: &G, frame: &TileFrame) -> (f64, f64) {
    let Some(r) = g.bounding_rect().into() else {
        return (0.0, 0.0);
    };
    let a: Coord<f64> = frame.project(r.min().x, r.min().y);
    let b: Coord<f64> = frame.project(r.max().x, r.max().y);
    ((b.x - a.x).abs(), (b.y - a.y).abs())
}
