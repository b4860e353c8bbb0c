//! What each layer source puts in a tile: which snapshot rows, their geometry in tile units and
//! their typed attributes.
//!
//! The rule: attributes are typed as the model holds them (floors an integer, height a float in
//! metres, codes and names text); a missing value is left out (MVT has no null); only the
//! attributes the layer lists are written, in the layer's order.

use std::borrow::Cow;

use geo::BoundingRect;
use geo_types::{Coord, LineString, MultiPolygon, Polygon};

use super::encode::TagValue;
use super::simplify_shared_borders::Ring;
use super::tile_frame::TileFrame;
use super::tileset::LayerDef;
use crate::model::{Area, BasemapFeature};

/// A polygon in tile units: its exterior and holes, open rings.
pub type TilePolygon = Vec<Ring>;

/// Which of a source's tags a layer writes, in the layer's order. Made once per layer and
/// tile, so writing a feature's tags compares no names.
pub struct TagPlan {
    names: &'static [&'static str],
    /// Positions in `names`, in the layer's attribute order.
    order: Vec<usize>,
}

impl TagPlan {
    /// The plan of layer `def`, over the names its source fills ([`Source::attributes`]; an
    /// area label layer's names are the first of the areas', so area tags serve it).
    pub fn new(def: &LayerDef) -> TagPlan {
        let names = def.source.attributes();
        let order = def
            .attributes
            .iter()
            .filter_map(|a| names.iter().position(|n| n == a))
            .collect();
        TagPlan { names, order }
    }

    /// The planned tags among `values` (one per name of [`Source::attributes`], in its order;
    /// `None` where the feature has no value: MVT has no null). The tags are allocated once at
    /// their full count: collecting them grew the vector again for most features (1.6 % of the
    /// instructions of uncached tiles).
    pub(super) fn pick<'a, const N: usize>(
        &self,
        mut values: [Option<TagValue<'a>>; N],
    ) -> Vec<(&'static str, TagValue<'a>)> {
        let mut tags = Vec::with_capacity(self.order.len());
        tags.extend(
            self.order
                .iter()
                .filter_map(|&i| Some((*self.names.get(i)?, values.get_mut(i)?.take()?))),
        );
        tags
    }
}

/// The tags of an area for its layer's `plan` (areas and area labels); text borrows from the
/// area.
pub fn area_tags<'a>(area: &'a Area, plan: &TagPlan) -> Vec<(&'static str, TagValue<'a>)> {
    plan.pick([
        Some(text(&area.code)),
        Some(text(&area.name)),
        Some(text(area.level.as_str())),
        Some(TagValue::Text(area.layer.as_str())),
        area.parent_code.as_deref().map(text),
        area.leader_name.as_deref().map(text),
        area.urban_rural.map(|v| TagValue::Int(i64::from(v))),
    ])
}

/// A building's attribute values as a tile writes them, text borrowed from wherever it is kept
/// (prepared footprints keep a copy next to each other, see [`super::prepared_buildings`]).
#[derive(Debug, Clone, Copy)]
pub struct BuildingValues<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub floors: i16,
    pub height_m: f64,
    pub building_use: &'static str,
    pub grid_code: Option<&'a str>,
}

/// The tags of a building for its layer's `plan`.
pub fn building_tags<'a>(
    b: &BuildingValues<'a>,
    plan: &TagPlan,
) -> Vec<(&'static str, TagValue<'a>)> {
    plan.pick([
        Some(text(b.code)),
        Some(text(b.name)),
        Some(TagValue::Int(i64::from(b.floors))),
        Some(TagValue::Float(b.height_m)),
        Some(text(b.building_use)),
        b.grid_code.map(text),
    ])
}

/// The tags of a basemap feature for its layer's `plan`: `kind` and `class` are the same
/// value (`motorway` … `water`); `class` is the name styles usually filter roads by.
pub fn basemap_tags<'a>(
    f: &'a BasemapFeature,
    plan: &TagPlan,
) -> Vec<(&'static str, TagValue<'a>)> {
    let kind = f.kind.as_str();
    plan.pick([
        Some(text(&f.code)),
        Some(text(&f.name)),
        Some(text(kind)),
        Some(text(kind)),
    ])
}

/// A text value borrowed from the snapshot.
fn text(s: &str) -> TagValue<'_> {
    TagValue::Text(Cow::Borrowed(s))
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

/// The envelope size (width, height) of a ring already in tile units.
pub fn ring_size(ring: &[Coord<f64>]) -> (f64, f64) {
    let Some(first) = ring.first() else {
        return (0.0, 0.0);
    };
    let (mut min, mut max) = (*first, *first);
    for c in ring {
        (min.x, min.y) = (min.x.min(c.x), min.y.min(c.y));
        (max.x, max.y) = (max.x.max(c.x), max.y.max(c.y));
    }
    (max.x - min.x, max.y - min.y)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::BuildingUse;

    fn layer(attributes: &[&str]) -> LayerDef {
        let toml = format!(
            "[[tileset]]\nname = \"t\"\nminzoom = 14\nmaxzoom = 16\n[[tileset.layer]]\nname = \"b\"\nsource = \"buildings\"\nminzoom = 14\nmaxzoom = 16\nattributes = {attributes:?}\n"
        );
        let sets = crate::tiles::Tilesets::parse(&toml, "test").expect("valid tileset");
        sets.tilesets[0].layers[0].clone()
    }

    #[test]
    fn tags_follow_the_layer_order_with_their_own_names_and_missing_values_left_out() {
        let building = BuildingValues {
            code: "410602001001001",
            name: "1号楼",
            floors: 6,
            height_m: 18.5,
            building_use: BuildingUse::Residential.as_str(),
            grid_code: None,
        };
        let def = layer(&["height", "grid_code", "use", "code", "floors"]);
        let tags = building_tags(&building, &TagPlan::new(&def));
        let names: Vec<&str> = tags.iter().map(|(k, _)| *k).collect();
        assert_eq!(names, ["height", "use", "code", "floors"]);
        assert!(matches!(tags[0].1, TagValue::Float(h) if h == 18.5));
        assert!(matches!(&tags[1].1, TagValue::Text(u) if u == "residential"));
        assert!(matches!(&tags[2].1, TagValue::Text(c) if c == "410602001001001"));
        assert!(matches!(tags[3].1, TagValue::Int(6)));
    }
}
