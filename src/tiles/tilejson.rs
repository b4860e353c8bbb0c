//! The TileJSON description of a tileset's content, shared by `GET /tiles/{tileset}` and the
//! metadata of exported PMTiles archives.

use geo::BoundingRect;
use geo_types::{coord, Rect};
use serde_json::{json, Value};

use super::{Source, Tileset};
use crate::engine::Snapshot;
use crate::model::{Layer, Level};

/// The `vector_layers` of a tileset: each layer that shows between `minzoom` and `maxzoom`, with
/// its fields and their types.
pub fn vector_layers(tileset: &Tileset, minzoom: u8, maxzoom: u8) -> Vec<Value> {
    tileset
        .layers
        .iter()
        .filter(|l| l.minzoom <= maxzoom && l.maxzoom >= minzoom)
        .map(|l| {
            let fields: serde_json::Map<String, Value> = l
                .attributes
                .iter()
                .map(|a| (a.clone(), json!(field_type(l.source, a))))
                .collect();
            json!({"id": l.name, "fields": fields, "minzoom": l.minzoom, "maxzoom": l.maxzoom})
        })
        .collect()
}

/// The TileJSON type of an attribute, as `source::area_tags`/`building_tags` write it.
fn field_type(source: Source, attribute: &str) -> &'static str {
    match (source, attribute) {
        (Source::Areas | Source::AreaLabels, "urban_rural") => "Number",
        (Source::Buildings, "floors" | "height") => "Number",
        _ => "String",
    }
}

/// The bounding box of the city (the base city-level areas), or of every area when there is
/// none; `None` for an empty store.
pub fn city_bounds(snapshot: &Snapshot) -> Option<Rect<f64>> {
    let world = Rect::new(coord! {x: -180.0, y: -90.0}, coord! {x: 180.0, y: 90.0});
    let areas = snapshot.areas_in_bbox(world);
    let cities: Vec<_> = areas
        .iter()
        .filter(|a| a.layer == Layer::Base && a.level == Level::City)
        .collect();
    let pick: Vec<_> = if cities.is_empty() {
        areas.iter().collect()
    } else {
        cities
    };
    pick.iter()
        .filter_map(|a| a.geometry.bounding_rect())
        .reduce(|a, b| {
            Rect::new(
                coord! {x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y)},
                coord! {x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y)},
            )
        })
}
