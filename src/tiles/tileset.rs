//! Tileset definitions: the TOML file in `tiles/` that says which layers a tileset has, their
//! zoom ranges, attributes and simplification, and whether anonymous clients may read it.
//!
//! The rule: everything a cartographer tunes is data; this file only parses and checks it.
//! Errors name the file and the key (`tileset[boundaries].layer[grid].attributes`) so that a
//! person can fix the file without reading code.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::model::{BasemapKind, Layer, Level};

/// The extent (tile units per tile side) of every tile gridmap cuts; MVT's usual 4096.
pub const EXTENT: u32 = 4096;

/// Tile units per pixel of a 256-pixel tile: the unit of `simplify_px`, `min_size_px`, `buffer_px`.
pub const UNITS_PER_PX: f64 = EXTENT as f64 / 256.0;

/// Why a tileset file was refused.
#[derive(Debug, thiserror::Error)]
pub enum TilesetError {
    #[error("cannot read tileset file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("tileset file {path} is not valid: {source}")]
    Parse {
        path: String,
        source: Box<toml::de::Error>,
    },
    #[error("tileset file {path}, key {key}: {message}")]
    Invalid {
        path: String,
        key: String,
        message: String,
    },
}

/// Where a layer's features come from in the engine's snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Area polygons.
    Areas,
    /// One point per area at its management center.
    AreaLabels,
    /// Building footprints.
    Buildings,
    /// Basemap features: road and river lines, water polygons.
    Basemap,
    /// Events grouped in square cells of the tile: a point per non-empty cell at the mean
    /// position of its events, with the count and the count per status.
    EventClusters,
    /// One point per event.
    EventPoints,
    /// Event counts binned as square cells (points at the cell centres, weighted by `count`)
    /// or, with `?bin=h3`, as H3 hexagons.
    Heatmap,
}

impl Source {
    /// The attribute names this source can fill, in the order `source`'s tag functions fill
    /// them (area labels take the first names of the areas' list).
    pub fn attributes(self) -> &'static [&'static str] {
        match self {
            Source::Areas => &[
                "code",
                "name",
                "level",
                "layer",
                "parent_code",
                "leader_name",
                "urban_rural",
            ],
            Source::AreaLabels => &["code", "name", "level", "layer"],
            Source::Buildings => &["code", "name", "floors", "height", "use", "grid_code"],
            Source::Basemap => &["code", "name", "kind", "class"],
            Source::EventClusters => &[
                "count",
                "reported",
                "registered",
                "dispatched",
                "handling",
                "feedback",
                "closed",
                "evaluated",
            ],
            Source::EventPoints => &[
                "code",
                "status",
                "category",
                "source",
                "level",
                "overdue",
                "card",
                "outside_grid",
            ],
            Source::Heatmap => &["count", "h3"],
        }
    }

    /// Whether the features come from the event store (their tiles change with events, not
    /// with areas or buildings, and take the event filters of the request).
    pub fn is_event(self) -> bool {
        matches!(
            self,
            Source::EventClusters | Source::EventPoints | Source::Heatmap
        )
    }
}

/// Which area layers an area-sourced tile layer shows.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum AreaLayerFilter {
    /// Exactly this layer (`base`, `special`, `business:fire`).
    Exact(Layer),
    /// Every business layer (`business`).
    AnyBusiness,
}

impl AreaLayerFilter {
    /// Whether an area of `layer` belongs to the tile layer.
    pub fn matches(&self, layer: &Layer) -> bool {
        match self {
            AreaLayerFilter::Exact(l) => l == layer,
            AreaLayerFilter::AnyBusiness => matches!(layer, Layer::Business(_)),
        }
    }
}

impl TryFrom<String> for AreaLayerFilter {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        if s == "business" {
            return Ok(AreaLayerFilter::AnyBusiness);
        }
        Layer::parse(&s).map(AreaLayerFilter::Exact).ok_or_else(|| {
            format!("unknown area layer {s:?}: expected base, special, business or business:NAME")
        })
    }
}

/// Size limits of one tile; over them the tile is thinned (smallest features first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Largest gzip-compressed tile, bytes.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: usize,
    /// Most features in one tile, all layers together.
    #[serde(default = "default_max_features")]
    pub max_features: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            max_bytes: default_max_bytes(),
            max_features: default_max_features(),
        }
    }
}

fn default_max_bytes() -> usize {
    500 * 1024
}

fn default_max_features() -> usize {
    200_000
}

fn default_simplify_px() -> f64 {
    0.5
}

fn default_buffer_px() -> f64 {
    4.0
}

fn default_cells_per_side() -> u32 {
    64
}

/// One layer of a tileset.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerDef {
    /// The MVT layer name (what styles refer to).
    pub name: String,
    pub source: Source,
    /// For area sources: which area layer(s); all when absent.
    #[serde(default)]
    pub area_layer: Option<AreaLayerFilter>,
    /// For area sources: which levels; all when empty.
    #[serde(default)]
    pub levels: Vec<Level>,
    /// For area sources: a later first zoom for some levels (labels of small areas).
    #[serde(default)]
    pub level_minzoom: BTreeMap<Level, u8>,
    /// For the basemap source: which kinds (`motorway`, `river`, `water` …); all when empty.
    #[serde(default)]
    pub kinds: Vec<BasemapKind>,
    /// For the basemap source: a later first zoom for some kinds (minor roads).
    #[serde(default)]
    pub kind_minzoom: BTreeMap<BasemapKind, u8>,
    pub minzoom: u8,
    pub maxzoom: u8,
    /// Typed tags each feature carries, from [`Source::attributes`].
    pub attributes: Vec<String>,
    /// Douglas–Peucker tolerance in 256-tile pixels.
    #[serde(default = "default_simplify_px")]
    pub simplify_px: f64,
    /// Features smaller than this (pixels, both directions) are dropped unless `keep_small`.
    #[serde(default)]
    pub min_size_px: f64,
    /// Never drop a feature inside this layer's zoom range (grids and their parents).
    #[serde(default)]
    pub keep_small: bool,
    /// How far beyond the tile edge geometry is kept, pixels.
    #[serde(default = "default_buffer_px")]
    pub buffer_px: f64,
    /// For event clusters and square heatmap bins: cells per tile side (a power of two from 1
    /// to 4096; 64 makes 4-pixel cells on a 256-pixel tile).
    #[serde(default = "default_cells_per_side")]
    pub cells_per_side: u32,
}

impl LayerDef {
    /// Whether the layer has data at zoom `z`.
    pub fn serves(&self, z: u8) -> bool {
        (self.minzoom..=self.maxzoom).contains(&z)
    }

    /// Whether an area of `layer` and `level` belongs to this layer at zoom `z`.
    pub fn takes_area(&self, layer: &Layer, level: Level, z: u8) -> bool {
        self.area_layer.as_ref().is_none_or(|f| f.matches(layer))
            && (self.levels.is_empty() || self.levels.contains(&level))
            && self.level_minzoom.get(&level).is_none_or(|&min| z >= min)
    }

    /// Whether a basemap feature of `kind` belongs to this layer at zoom `z`.
    pub fn takes_basemap(&self, kind: BasemapKind, z: u8) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&kind))
            && self.kind_minzoom.get(&kind).is_none_or(|&min| z >= min)
    }

    /// Whether the layer's features come from the event store.
    pub fn is_event(&self) -> bool {
        self.source.is_event()
    }

    /// Whether the layer lists attribute `name`.
    pub fn has_attribute(&self, name: &str) -> bool {
        self.attributes.iter().any(|a| a == name)
    }
}

/// One tileset: a name, its zoom range and layers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tileset {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Whether clients without credentials may read it.
    #[serde(default)]
    pub public: bool,
    pub minzoom: u8,
    pub maxzoom: u8,
    #[serde(default)]
    pub budget: Budget,
    #[serde(rename = "layer")]
    pub layers: Vec<LayerDef>,
}

impl Tileset {
    /// Whether the tileset's layers come from the event store (the check refuses a tileset
    /// mixing event and other layers, so its first layer tells).
    pub fn is_event_based(&self) -> bool {
        self.layers.first().is_some_and(LayerDef::is_event)
    }
}

/// Every tileset of the service, in file order.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tilesets {
    #[serde(rename = "tileset")]
    pub tilesets: Vec<Tileset>,
}

impl Tilesets {
    /// Reads and checks a tileset file (normally `tiles/tilesets.toml`).
    pub fn load(path: &Path) -> Result<Tilesets, TilesetError> {
        let text = std::fs::read_to_string(path).map_err(|source| TilesetError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Tilesets::parse(&text, &path.display().to_string())
    }

    /// Parses and checks tileset TOML; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Tilesets, TilesetError> {
        let sets: Tilesets = toml::from_str(text).map_err(|e| TilesetError::Parse {
            path: origin.to_string(),
            source: Box::new(e),
        })?;
        sets.check()
            .map_err(|(key, message)| TilesetError::Invalid {
                path: origin.to_string(),
                key,
                message,
            })?;
        Ok(sets)
    }

    /// The tileset called `name`.
    pub fn get(&self, name: &str) -> Option<&Tileset> {
        self.tilesets.iter().find(|t| t.name == name)
    }

    fn check(&self) -> Result<(), (String, String)> {
        let mut names = std::collections::HashSet::new();
        for (i, set) in self.tilesets.iter().enumerate() {
            let key = format!(
                "tileset[{}]",
                if set.name.is_empty() {
                    i.to_string()
                } else {
                    set.name.clone()
                }
            );
            if !valid_name(&set.name) {
                return Err((
                    format!("{key}.name"),
                    "expected 1–64 characters a-z, 0-9, _ or -".into(),
                ));
            }
            if !names.insert(set.name.as_str()) {
                return Err((
                    format!("{key}.name"),
                    format!("tileset {:?} is defined twice", set.name),
                ));
            }
            check_zoom_range(&key, set.minzoom, set.maxzoom)?;
            if set.budget.max_bytes == 0 || set.budget.max_features == 0 {
                return Err((format!("{key}.budget"), "limits must be positive".into()));
            }
            set.check_layers(&key)?;
        }
        Ok(())
    }
}

impl Tileset {
    fn check_layers(&self, key: &str) -> Result<(), (String, String)> {
        if self.layers.is_empty() {
            return Err((
                format!("{key}.layer"),
                "a tileset needs at least one layer".into(),
            ));
        }
        if self
            .layers
            .iter()
            .any(|l| l.is_event() != self.is_event_based())
        {
            return Err((
                format!("{key}.layer"),
                "event layers (event_clusters, event_points, heatmap) and other layers cannot share a tileset".into(),
            ));
        }
        let mut names = std::collections::HashSet::new();
        for layer in &self.layers {
            let lkey = format!("{key}.layer[{}]", layer.name);
            if !valid_name(&layer.name) {
                return Err((
                    format!("{lkey}.name"),
                    "expected 1–64 characters a-z, 0-9, _ or -".into(),
                ));
            }
            if !names.insert(layer.name.as_str()) {
                return Err((
                    format!("{lkey}.name"),
                    "layer defined twice in this tileset".into(),
                ));
            }
            check_zoom_range(&lkey, layer.minzoom, layer.maxzoom)?;
            if layer.minzoom < self.minzoom || layer.maxzoom > self.maxzoom {
                return Err((
                    format!("{lkey}.minzoom"),
                    format!(
                        "zooms {}..={} fall outside the tileset's {}..={}",
                        layer.minzoom, layer.maxzoom, self.minzoom, self.maxzoom
                    ),
                ));
            }
            check_layer_fields(&lkey, layer)?;
        }
        Ok(())
    }
}

fn check_layer_fields(lkey: &str, layer: &LayerDef) -> Result<(), (String, String)> {
    let known = layer.source.attributes();
    if let Some(bad) = layer
        .attributes
        .iter()
        .find(|a| !known.contains(&a.as_str()))
    {
        return Err((
            format!("{lkey}.attributes"),
            format!("unknown attribute {bad:?} for this source; expected some of {known:?}"),
        ));
    }
    let area_only =
        layer.area_layer.is_some() || !layer.levels.is_empty() || !layer.level_minzoom.is_empty();
    let area_source = matches!(layer.source, Source::Areas | Source::AreaLabels);
    if !area_source && area_only {
        return Err((
            format!("{lkey}.source"),
            "area_layer, levels and level_minzoom apply only to area sources".into(),
        ));
    }
    let basemap_only = !layer.kinds.is_empty() || !layer.kind_minzoom.is_empty();
    if layer.source != Source::Basemap && basemap_only {
        return Err((
            format!("{lkey}.source"),
            "kinds and kind_minzoom apply only to the basemap source".into(),
        ));
    }
    let side = layer.cells_per_side;
    if !side.is_power_of_two() || side > 4096 {
        return Err((
            format!("{lkey}.cells_per_side"),
            format!("{side} is not a power of two from 1 to 4096"),
        ));
    }
    if layer.is_event() && u32::from(layer.maxzoom) + side.trailing_zeros() > 32 {
        return Err((
            format!("{lkey}.cells_per_side"),
            format!(
                "{side} cells per side at zoom {} are finer than the 2^32 world grid",
                layer.maxzoom
            ),
        ));
    }
    for (name, v) in [
        ("simplify_px", layer.simplify_px),
        ("min_size_px", layer.min_size_px),
        ("buffer_px", layer.buffer_px),
    ] {
        if !(0.0..=256.0).contains(&v) {
            return Err((
                format!("{lkey}.{name}"),
                format!("{v} is outside 0..=256 pixels"),
            ));
        }
    }
    Ok(())
}

fn check_zoom_range(key: &str, min: u8, max: u8) -> Result<(), (String, String)> {
    if max > crate::crs::tile::MAX_ZOOM || min > max {
        return Err((
            format!("{key}.minzoom"),
            format!(
                "zoom range {min}..={max} must satisfy minzoom <= maxzoom <= {}",
                crate::crs::tile::MAX_ZOOM
            ),
        ));
    }
    Ok(())
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// The smallest valid tileset file: one tileset `t` (zooms 0–4) with one area layer `grid`;
/// for tests.
#[cfg(test)]
pub(crate) const MINIMAL: &str = r#"
[[tileset]]
name = "t"
minzoom = 0
maxzoom = 4
[[tileset.layer]]
name = "grid"
source = "areas"
minzoom = 0
maxzoom = 4
attributes = ["code"]
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(text: &str) -> String {
        Tilesets::parse(text, "test.toml").unwrap_err().to_string()
    }

    #[test]
    fn an_empty_file_has_no_tilesets_and_is_refused() {
        assert!(error_of("").contains("test.toml"));
    }

    #[test]
    fn an_unknown_attribute_names_the_key() {
        let msg = error_of(&MINIMAL.replace("[\"code\"]", "[\"code\", \"floors\"]"));
        assert!(msg.contains("tileset[t].layer[grid].attributes"), "{msg}");
        assert!(msg.contains("floors"), "{msg}");
    }

    #[test]
    fn a_layer_outside_the_tileset_zooms_is_refused() {
        let msg = error_of(&MINIMAL.replace("maxzoom = 4\nattributes", "maxzoom = 5\nattributes"));
        assert!(msg.contains("layer[grid].minzoom"), "{msg}");
    }

    #[test]
    fn zoom_above_22_is_refused() {
        let msg = error_of(&MINIMAL.replace("maxzoom = 4", "maxzoom = 23"));
        assert!(msg.contains("<= 22"), "{msg}");
    }

    #[test]
    fn an_unknown_key_is_refused_with_its_line() {
        let msg = error_of(&MINIMAL.replace("name = \"t\"", "name = \"t\"\ncolour = 1"));
        assert!(msg.contains("colour"), "{msg}");
    }

    #[test]
    fn area_layer_filters_parse() {
        let sets = Tilesets::parse(
            &MINIMAL.replace(
                "source = \"areas\"",
                "source = \"areas\"\narea_layer = \"business\"",
            ),
            "x",
        )
        .unwrap();
        let layer = &sets.tilesets[0].layers[0];
        assert!(layer.takes_area(&Layer::Business("fire".into()), Level::Grid, 3));
        assert!(!layer.takes_area(&Layer::Base, Level::Grid, 3));
        let msg = error_of(&MINIMAL.replace(
            "source = \"areas\"",
            "source = \"areas\"\narea_layer = \"roads\"",
        ));
        assert!(msg.contains("roads"), "{msg}");
    }

    #[test]
    fn the_shipped_file_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tiles/tilesets.toml");
        let sets = Tilesets::load(&path).unwrap();
        let boundaries = sets.get("boundaries").unwrap();
        assert!(boundaries.public);
        assert!(boundaries
            .layers
            .iter()
            .any(|l| l.name == "grid" && l.keep_small));
        let buildings = sets.get("buildings").unwrap();
        assert_eq!(buildings.minzoom, 14);
        let basemap = sets.get("basemap").unwrap();
        assert!(basemap.public);
        assert_eq!((basemap.minzoom, basemap.maxzoom), (8, 16));
        let road = basemap.layers.iter().find(|l| l.name == "road").unwrap();
        assert_eq!(road.source, Source::Basemap);
        assert!(road.takes_basemap(BasemapKind::Motorway, 8));
        assert!(!road.takes_basemap(BasemapKind::Primary, 9));
        assert!(road.takes_basemap(BasemapKind::Primary, 10));
        assert!(!road.takes_basemap(BasemapKind::Secondary, 11));
        assert!(road.takes_basemap(BasemapKind::Secondary, 12));
        assert!(!road.takes_basemap(BasemapKind::River, 16));
        let events = sets.get("events").unwrap();
        assert!(!events.public && events.is_event_based());
        assert!(!boundaries.is_event_based());
        let heatmap = sets.get("heatmap").unwrap();
        assert!(!heatmap.public && heatmap.layers[0].source == Source::Heatmap);
    }

    #[test]
    fn event_and_other_layers_do_not_mix_and_cells_are_powers_of_two() {
        let mixed = format!(
            "{MINIMAL}[[tileset.layer]]\nname = \"e\"\nsource = \"event_points\"\nminzoom = 0\nmaxzoom = 4\nattributes = [\"code\"]\n"
        );
        assert!(error_of(&mixed).contains("cannot share a tileset"));
        let heat = MINIMAL
            .replace(
                "source = \"areas\"",
                "source = \"heatmap\"\ncells_per_side = 48",
            )
            .replace("[\"code\"]", "[\"count\"]");
        assert!(
            error_of(&heat).contains("cells_per_side"),
            "{}",
            error_of(&heat)
        );
    }

    #[test]
    fn basemap_filters_parse_and_stay_on_basemap_layers() {
        let basemap = MINIMAL.replace("source = \"areas\"", "source = \"basemap\"");
        let sets = Tilesets::parse(
            &basemap.replace(
                "attributes = [\"code\"]",
                "attributes = [\"code\", \"class\"]\nkinds = [\"river\", \"water\"]\n[tileset.layer.kind_minzoom]\nwater = 3",
            ),
            "x",
        )
        .unwrap();
        let layer = &sets.tilesets[0].layers[0];
        assert!(layer.takes_basemap(BasemapKind::River, 0));
        assert!(!layer.takes_basemap(BasemapKind::Water, 2));
        assert!(layer.takes_basemap(BasemapKind::Water, 3));
        assert!(!layer.takes_basemap(BasemapKind::Motorway, 4));
        let msg = error_of(&MINIMAL.replace(
            "attributes = [\"code\"]",
            "attributes = [\"code\"]\nkinds = [\"river\"]",
        ));
        assert!(msg.contains("apply only to the basemap source"), "{msg}");
        let msg = error_of(&basemap.replace(
            "attributes = [\"code\"]",
            "attributes = [\"code\"]\nkinds = [\"canal\"]",
        ));
        assert!(msg.contains("canal"), "{msg}");
        let msg = error_of(&basemap.replace(
            "source = \"basemap\"",
            "source = \"basemap\"\nlevels = [\"grid\"]",
        ));
        assert!(msg.contains("apply only to area sources"), "{msg}");
    }
}
