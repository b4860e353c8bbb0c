//! The TileJSON description of a tileset's content, shared by `GET /tiles/{tileset}` and the
//! metadata of exported PMTiles archives.

use serde_json::{json, Value};

use super::{Source, Tileset};

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
        (Source::EventPoints, "overdue" | "outside_grid") => "Number",
        (Source::EventClusters, _) | (Source::Heatmap, "count") => "Number",
        _ => "String",
    }
}
