//! Cutting one tile from a snapshot: select by R-tree, project, simplify with shared borders,
//! quantize, clip to the tile plus buffer, encode, and fit the budget.
//!
//! The rule for what a tile holds: a layer contributes at zooms inside its own range only; the
//! scope filter sees every area and building code before anything else, so a tile never holds
//! a feature outside the caller's jurisdiction; features of `keep_small` layers are never
//! dropped for being small (only when rounding to whole units leaves nothing, or by the budget
//! as a last resort), others below `min_size_px` are. Simplification runs on whole rings before
//! clipping, so it does not depend on where the tile edge cuts a border.

use geo::{Area as _, Translate as _};
use geo::{Euclidean, Length as _, Simplify as _};
use std::sync::Arc;

use geo_types::{coord, LineString, MultiLineString, MultiPolygon, Polygon, Rect};

use super::budget::{fit, BudgetError};
use super::clip::{clip_line, clip_owned_polygon, clip_polygon, keeps_point};
use super::encode::{TagValue, TileFeature, TileGeometry, TileLayer};
use super::event_tiles::{event_features, EventTileQuery};
use super::feature_id::feature_id;
use super::prepared_buildings::{PreparedBuildings, ShardFootprints, TileWindow};
use super::simplified_layers::{rounded_points, rounded_polygon, SimplifiedLayers};
use super::simplify_shared_borders::simplify_shared;
use super::source::{
    area_tags, basemap_tags, project_line, project_multipolygon, projected_size, TagPlan,
    TilePolygon,
};
use super::tile_frame::{TileCrs, TileFrame};
use super::tileset::{LayerDef, Source, Tileset, EXTENT, UNITS_PER_PX};
use crate::crs::tile::{TileId, TileIdError};
use crate::engine::{BuildingShard, IndexedArea, Snapshot};
use crate::model::{BasemapFeature, BasemapGeometry};

/// Counter of features dropped to fit a tile's budget, labelled by tileset.
pub const THINNED_METRIC: &str = "gridmap_tile_thinned_features_total";

/// Why a tile could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum TileError {
    #[error(transparent)]
    Address(#[from] TileIdError),
    #[error("tileset {tileset:?} has zooms {min}..={max}; zoom {z} is outside them")]
    Zoom {
        tileset: String,
        z: u8,
        min: u8,
        max: u8,
    },
    #[error("tile {z}/{x}/{y} of {tileset:?} could not be encoded: {source}")]
    Encode {
        tileset: String,
        z: u8,
        x: u32,
        y: u32,
        source: BudgetError,
    },
}

/// An encoded tile and what went into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedTile {
    /// Uncompressed MVT 2.1; empty when the tile has no feature.
    pub bytes: Vec<u8>,
    /// Features in the tile, all layers.
    pub features: usize,
    /// Features per layer, in tileset order (layers with none are absent).
    pub layers: Vec<(String, usize)>,
    /// Features dropped to fit the budget.
    pub thinned: usize,
}

/// What a caller asks of a tile beyond its address.
pub struct TileRequest<'a> {
    /// Whether the caller may see an area or building code.
    pub in_scope: &'a dyn Fn(&str) -> bool,
    /// The grid the address is read in (GCJ-02 for AMap/Tencent basemaps: every coordinate is
    /// shifted before projecting).
    pub crs: TileCrs,
    /// The filter (with the caller's jurisdiction) and binning of event layers; `None` for a
    /// tileset without event layers.
    pub events: Option<&'a EventTileQuery>,
}

/// Renders tile z/x/y of `tileset`, holding only features whose code `in_scope` accepts; event
/// layers hold every event, overdue judged now.
pub fn render_tile(
    snapshot: &Snapshot,
    tileset: &Tileset,
    z: u8,
    x: u32,
    y: u32,
    in_scope: &dyn Fn(&str) -> bool,
) -> Result<RenderedTile, TileError> {
    let events = EventTileQuery::everything(chrono::Utc::now());
    let request = TileRequest {
        in_scope,
        crs: TileCrs::Wgs84,
        events: Some(&events),
    };
    render_tile_in(snapshot, tileset, z, x, y, &request)
}

/// Renders tile z/x/y of `tileset` for `request` (its scope, grid and event filters).
pub fn render_tile_in(
    snapshot: &Snapshot,
    tileset: &Tileset,
    z: u8,
    x: u32,
    y: u32,
    request: &TileRequest<'_>,
) -> Result<RenderedTile, TileError> {
    let tile = TileId::new(z, x, y)?;
    if !(tileset.minzoom..=tileset.maxzoom).contains(&z) {
        return Err(TileError::Zoom {
            tileset: tileset.name.clone(),
            z,
            min: tileset.minzoom,
            max: tileset.maxzoom,
        });
    }
    let mut cut = Cut::new(snapshot, tileset, tile, request.in_scope, request.crs);
    cut.events = request.events;
    let serving: Vec<&LayerDef> = tileset.layers.iter().filter(|def| def.serves(z)).collect();
    let footprints: Vec<Vec<Arc<ShardFootprints>>> =
        serving.iter().map(|def| cut.footprints(def)).collect();
    let layers: Vec<TileLayer> = serving
        .iter()
        .zip(&footprints)
        .map(|(def, footprints)| cut.layer(def, footprints))
        .collect();
    let fitted = fit(layers, &tileset.budget).map_err(|source| TileError::Encode {
        tileset: tileset.name.clone(),
        z,
        x,
        y,
        source,
    })?;
    if fitted.thinned > 0 {
        metrics::counter!(THINNED_METRIC, "tileset" => tileset.name.clone())
            .increment(fitted.thinned as u64);
    }
    Ok(RenderedTile {
        features: fitted.encoded.layer_counts.iter().map(|(_, n)| n).sum(),
        layers: fitted.encoded.layer_counts,
        bytes: fitted.encoded.bytes,
        thinned: fitted.thinned,
    })
}

/// The rows selected for one tile and the frame they are projected with.
struct Cut<'a> {
    snapshot: &'a Snapshot,
    tileset: String,
    crs: TileCrs,
    tile: TileId,
    frame: TileFrame,
    areas: Vec<&'a IndexedArea>,
    /// The communities whose buildings may reach into the tile.
    building_shards: Vec<&'a BuildingShard>,
    /// Basemap features are not jurisdiction data: every caller sees them, unscoped.
    basemap: Vec<&'a BasemapFeature>,
    /// Whether the caller may see an area or building code.
    in_scope: &'a dyn Fn(&str) -> bool,
    /// What event layers show; `None` leaves them empty.
    events: Option<&'a EventTileQuery>,
}

/// One polygon feature before simplification; its text tags borrow from the snapshot.
struct Candidate<'a> {
    id: u64,
    polygons: Vec<TilePolygon>,
    tags: Vec<(&'static str, TagValue<'a>)>,
}

impl<'a> Cut<'a> {
    fn new(
        snapshot: &'a Snapshot,
        tileset: &Tileset,
        tile: TileId,
        in_scope: &'a dyn Fn(&str) -> bool,
        crs: TileCrs,
    ) -> Cut<'a> {
        let serving: Vec<&LayerDef> = tileset.layers.iter().filter(|d| d.serves(tile.z)).collect();
        let buffer = serving.iter().map(|d| d.buffer_px).fold(0.0, f64::max) * UNITS_PER_PX;
        let bbox = crs.storage_box(tile.lonlat_bounds(EXTENT, buffer));
        let wants = |s: Source| serving.iter().any(|d| d.source == s);
        let areas = if wants(Source::Areas) || wants(Source::AreaLabels) {
            snapshot
                .indexed_areas_in_bbox(bbox)
                .into_iter()
                .filter(|a| in_scope(&a.area.code))
                .collect()
        } else {
            Vec::new()
        };
        let building_shards = if wants(Source::Buildings) {
            snapshot.building_shards_in_bbox(bbox)
        } else {
            Vec::new()
        };
        let basemap = if wants(Source::Basemap) {
            snapshot.basemap_in_bbox(bbox)
        } else {
            Vec::new()
        };
        Cut {
            snapshot,
            tileset: tileset.name.clone(),
            crs,
            tile,
            frame: tile.frame_in(EXTENT, crs),
            areas,
            building_shards,
            basemap,
            in_scope,
            events: None,
        }
    }

    /// The prepared footprints of the tile's communities for layer `def` (none unless it is a
    /// building layer).
    fn footprints(&self, def: &LayerDef) -> Vec<Arc<ShardFootprints>> {
        if def.source != Source::Buildings {
            return Vec::new();
        }
        PreparedBuildings::shared().get(
            &self.building_shards,
            &self.tileset,
            def,
            self.tile.z,
            self.crs,
        )
    }

    /// Layer `def` of the tile; a building layer's features borrow from its `footprints`.
    fn layer<'s>(
        &'s self,
        def: &LayerDef,
        footprints: &'s [Arc<ShardFootprints>],
    ) -> TileLayer<'s> {
        let features = match def.source {
            Source::Areas => self.area_features(def),
            Source::Buildings => self.building_features(def, footprints),
            Source::AreaLabels => self.label_features(def),
            Source::Basemap => self.basemap_features(def),
            Source::EventClusters | Source::EventPoints | Source::Heatmap => {
                self.events.map_or_else(Vec::new, |query| {
                    event_features(self.snapshot.events(), def, self.tile, self.crs, query)
                })
            }
        };
        TileLayer {
            name: def.name.clone(),
            features,
        }
    }

    fn min_size(&self, def: &LayerDef) -> f64 {
        if def.keep_small {
            0.0
        } else {
            def.min_size_px * UNITS_PER_PX
        }
    }

    fn big_enough(&self, size: (f64, f64), def: &LayerDef) -> bool {
        let min = self.min_size(def);
        min == 0.0 || size.0 >= min || size.1 >= min
    }

    /// The tile's areas of layer `def`, cut from the layer as simplified once for this zoom
    /// (see [`super::simplified`]): translated into the tile and clipped.
    fn area_features(&self, def: &LayerDef) -> Vec<TileFeature<'a>> {
        let layer = SimplifiedLayers::shared().get(
            self.snapshot,
            &self.tileset,
            def,
            self.tile.z,
            self.crs,
        );
        let extent = f64::from(EXTENT);
        let (dx, dy) = (
            -f64::from(self.tile.x) * extent,
            -f64::from(self.tile.y) * extent,
        );
        // Clipped where the layer lies (whole world tile units), so only the parts in the tile
        // are translated.
        let clip = self.clip_rect(def);
        let clip = Rect::new(
            coord! {x: clip.min().x - dx, y: clip.min().y - dy},
            coord! {x: clip.max().x - dx, y: clip.max().y - dy},
        );
        let plan = TagPlan::new(def);
        self.areas
            .iter()
            .copied()
            .filter(|a| def.takes_area(&a.area.layer, a.area.level, self.tile.z))
            .filter_map(|indexed| {
                let a = &indexed.area;
                let parts: Vec<Polygon<f64>> = layer
                    .polygons(indexed.serial)?
                    .iter()
                    .flat_map(|p| clip_polygon(p, clip))
                    .map(|p| p.translate(dx, dy))
                    .collect();
                if parts.is_empty() {
                    return None;
                }
                let geometry = MultiPolygon::new(parts);
                Some(TileFeature {
                    id: feature_id(&a.code),
                    size: geometry.unsigned_area(),
                    geometry: TileGeometry::Polygons(geometry),
                    tags: area_tags(a, &plan),
                    keep: def.keep_small,
                })
            })
            .collect()
    }

    /// The tile's buildings in the caller's scope, from their communities' prepared
    /// footprints (see [`super::prepared_buildings`]).
    fn building_features<'s>(
        &self,
        def: &LayerDef,
        footprints: &'s [Arc<ShardFootprints>],
    ) -> Vec<TileFeature<'s>> {
        let plan = TagPlan::new(def);
        let window = TileWindow {
            x: self.tile.x,
            y: self.tile.y,
            clip: self.clip_rect(def),
            in_scope: self.in_scope,
            plan: &plan,
            keep: def.keep_small,
        };
        let mut features = Vec::new();
        for shard in footprints {
            shard.features(&window, &mut features);
        }
        features
    }

    /// Simplifies all rings of the layer together, then quantizes and clips each feature.
    fn polygon_features(
        &self,
        def: &LayerDef,
        candidates: Vec<Candidate<'a>>,
    ) -> Vec<TileFeature<'a>> {
        let rings: Vec<_> = candidates
            .iter()
            .flat_map(|c| c.polygons.iter().flatten().cloned())
            .collect();
        let keep = vec![def.keep_small; rings.len()];
        let mut simplified =
            simplify_shared(&rings, &keep, def.simplify_px * UNITS_PER_PX).into_iter();
        let clip = self.clip_rect(def);
        let mut features = Vec::new();
        for c in candidates {
            let mut parts = Vec::new();
            for polygon in &c.polygons {
                let rings: Vec<_> = polygon
                    .iter()
                    .map(|_| simplified.next().unwrap_or_default())
                    .collect();
                if let Some(p) = rounded_polygon(rings) {
                    parts.extend(clip_owned_polygon(p, clip));
                }
            }
            if parts.is_empty() {
                continue;
            }
            let geometry = MultiPolygon::new(parts);
            features.push(TileFeature {
                id: c.id,
                size: geometry.unsigned_area(),
                geometry: TileGeometry::Polygons(geometry),
                tags: c.tags,
                keep: def.keep_small,
            });
        }
        features
    }

    fn label_features(&self, def: &LayerDef) -> Vec<TileFeature<'a>> {
        let clip = self.clip_rect(def);
        let plan = TagPlan::new(def);
        self.areas
            .iter()
            .map(|a| &a.area)
            .filter(|a| def.takes_area(&a.layer, a.level, self.tile.z))
            .filter_map(|a| {
                let center = a.center?;
                let p = self.frame.project(center.x(), center.y());
                keeps_point(p, clip).then(|| {
                    let (w, h) = projected_size(&a.geometry, &self.frame);
                    TileFeature {
                        id: feature_id(&a.code),
                        geometry: TileGeometry::Points(vec![p]),
                        tags: area_tags(a, &plan),
                        size: w * h,
                        keep: def.keep_small,
                    }
                })
            })
            .collect()
    }

    /// Basemap lines (roads, rivers) and water polygons of the kinds `def` takes at this zoom;
    /// water goes through the polygon path, lines through [`Cut::line_feature`].
    fn basemap_features(&self, def: &LayerDef) -> Vec<TileFeature<'a>> {
        let taken = self
            .basemap
            .iter()
            .copied()
            .filter(|f| def.takes_basemap(f.kind, self.tile.z));
        let plan = TagPlan::new(def);
        let mut water = Vec::new();
        let mut features = Vec::new();
        for f in taken {
            match &f.geometry {
                BasemapGeometry::Line(line) => {
                    if self.big_enough(projected_size(line, &self.frame), def) {
                        features.extend(self.line_feature(f, line, def, &plan));
                    }
                }
                BasemapGeometry::Area(area) => {
                    if self.big_enough(projected_size(area, &self.frame), def) {
                        water.push(Candidate {
                            id: feature_id(&f.code),
                            polygons: project_multipolygon(area, &self.frame),
                            tags: basemap_tags(f, &plan),
                        });
                    }
                }
            }
        }
        features.extend(self.polygon_features(def, water));
        features
    }

    /// One line feature: projected, simplified (Douglas–Peucker, `simplify_px`), rounded to
    /// whole units, clipped to the tile plus buffer; `None` when nothing is left in the tile.
    fn line_feature(
        &self,
        f: &'a BasemapFeature,
        line: &LineString<f64>,
        def: &LayerDef,
        plan: &TagPlan,
    ) -> Option<TileFeature<'a>> {
        let projected = LineString::new(project_line(line, &self.frame));
        let simplified = projected.simplify(def.simplify_px * UNITS_PER_PX);
        let rounded = rounded_points(&simplified.0);
        let clipped: Vec<LineString<f64>> = clip_line(&rounded, self.clip_rect(def))
            .into_iter()
            .map(|part| LineString::new(rounded_points(&part.0)))
            .filter(|part| part.0.len() >= 2)
            .collect();
        if clipped.is_empty() {
            return None;
        }
        let lines = MultiLineString::new(clipped);
        Some(TileFeature {
            id: feature_id(&f.code),
            size: Euclidean.length(&lines),
            geometry: TileGeometry::Lines(lines),
            tags: basemap_tags(f, plan),
            keep: def.keep_small,
        })
    }

    /// The tile plus the layer's buffer, in whole tile units.
    fn clip_rect(&self, def: &LayerDef) -> Rect<f64> {
        let b = (def.buffer_px * UNITS_PER_PX).round();
        let e = f64::from(EXTENT);
        Rect::new(coord! {x: -b, y: -b}, coord! {x: e + b, y: e + b})
    }
}
