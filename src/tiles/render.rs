//! Cutting one tile from a snapshot: select by R-tree, project, simplify with shared borders,
//! quantize, clip to the tile plus buffer, encode, and fit the budget.
//!
//! The rule for what a tile holds: a layer contributes at zooms inside its own range only; the
//! scope filter sees every area and building code before anything else, so a tile never holds
//! a feature outside the caller's jurisdiction; features of `keep_small` layers are never
//! dropped for being small (only when rounding to whole units leaves nothing, or by the budget
//! as a last resort), others below `min_size_px` are. Simplification runs on whole rings before
//! clipping, so it does not depend on where the tile edge cuts a border.

use geo::Area as _;
use geo_types::{coord, LineString, MultiPolygon, Polygon, Rect};

use super::budget::{fit, BudgetError};
use super::clip::{clip_polygon, keeps_point};
use super::encode::{TagValue, TileFeature, TileGeometry, TileLayer};
use super::feature_id::feature_id;
use super::simplify::simplify_shared;
use super::source::{
    area_tags, building_tags, project_multipolygon, project_polygon, projected_size, TilePolygon,
};
use super::tile_id::{TileCrs, TileFrame, TileId, TileIdError};
use super::tileset::{LayerDef, Source, Tileset, EXTENT, UNITS_PER_PX};
use crate::engine::Snapshot;
use crate::model::{Area, Building};

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

/// Renders tile z/x/y of `tileset`, holding only features whose code `in_scope` accepts.
pub fn render_tile(
    snapshot: &Snapshot,
    tileset: &Tileset,
    z: u8,
    x: u32,
    y: u32,
    in_scope: &dyn Fn(&str) -> bool,
) -> Result<RenderedTile, TileError> {
    render_tile_in(snapshot, tileset, z, x, y, in_scope, TileCrs::Wgs84)
}

/// Renders tile z/x/y of `tileset` in the `crs` grid (GCJ-02 for AMap/Tencent basemaps: the
/// address is read in the GCJ-02 grid and every coordinate is shifted before projecting).
pub fn render_tile_in(
    snapshot: &Snapshot,
    tileset: &Tileset,
    z: u8,
    x: u32,
    y: u32,
    in_scope: &dyn Fn(&str) -> bool,
    crs: TileCrs,
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
    let cut = Cut::new(snapshot, tileset, tile, in_scope, crs);
    let layers: Vec<TileLayer> = tileset
        .layers
        .iter()
        .filter(|def| def.serves(z))
        .map(|def| cut.layer(def))
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
    tile: TileId,
    frame: TileFrame,
    areas: Vec<&'a Area>,
    buildings: Vec<&'a Building>,
}

/// One polygon feature before simplification.
struct Candidate {
    id: u64,
    polygons: Vec<TilePolygon>,
    tags: Vec<(&'static str, TagValue)>,
}

impl<'a> Cut<'a> {
    fn new(
        snapshot: &'a Snapshot,
        tileset: &Tileset,
        tile: TileId,
        in_scope: &dyn Fn(&str) -> bool,
        crs: TileCrs,
    ) -> Cut<'a> {
        let serving: Vec<&LayerDef> = tileset.layers.iter().filter(|d| d.serves(tile.z)).collect();
        let buffer = serving.iter().map(|d| d.buffer_px).fold(0.0, f64::max) * UNITS_PER_PX;
        let bbox = crs.storage_box(tile.lonlat_bounds(EXTENT, buffer));
        let wants = |s: Source| serving.iter().any(|d| d.source == s);
        let areas = if wants(Source::Areas) || wants(Source::AreaLabels) {
            snapshot
                .areas_in_bbox(bbox)
                .into_iter()
                .filter(|a| in_scope(&a.code))
                .collect()
        } else {
            Vec::new()
        };
        let buildings = if wants(Source::Buildings) {
            snapshot
                .buildings_in_bbox(bbox)
                .into_iter()
                .filter(|b| in_scope(&b.code))
                .collect()
        } else {
            Vec::new()
        };
        Cut {
            tile,
            frame: tile.frame_in(EXTENT, crs),
            areas,
            buildings,
        }
    }

    fn layer(&self, def: &LayerDef) -> TileLayer {
        let features = match def.source {
            Source::Areas => self.polygon_features(def, self.area_candidates(def)),
            Source::Buildings => self.polygon_features(def, self.building_candidates(def)),
            Source::AreaLabels => self.label_features(def),
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

    fn area_candidates(&self, def: &LayerDef) -> Vec<Candidate> {
        self.areas
            .iter()
            .filter(|a| def.takes_area(&a.layer, a.level, self.tile.z))
            .filter(|a| self.big_enough(projected_size(&a.geometry, &self.frame), def))
            .map(|a| Candidate {
                id: feature_id(&a.code),
                polygons: project_multipolygon(&a.geometry, &self.frame),
                tags: area_tags(a, def),
            })
            .collect()
    }

    fn building_candidates(&self, def: &LayerDef) -> Vec<Candidate> {
        self.buildings
            .iter()
            .filter(|b| self.big_enough(projected_size(&b.geometry, &self.frame), def))
            .map(|b| Candidate {
                id: feature_id(&b.code),
                polygons: vec![project_polygon(&b.geometry, &self.frame)],
                tags: building_tags(b, def),
            })
            .collect()
    }

    /// Simplifies all rings of the layer together, then quantizes and clips each feature.
    fn polygon_features(&self, def: &LayerDef, candidates: Vec<Candidate>) -> Vec<TileFeature> {
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
                if let Some(p) = quantized_polygon(rings) {
                    parts.extend(clip_polygon(p, clip));
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

    fn label_features(&self, def: &LayerDef) -> Vec<TileFeature> {
        let clip = self.clip_rect(def);
        self.areas
            .iter()
            .filter(|a| def.takes_area(&a.layer, a.level, self.tile.z))
            .filter_map(|a| {
                let center = a.center?;
                let p = self.frame.project(center.x(), center.y());
                keeps_point(p, clip).then(|| {
                    let (w, h) = projected_size(&a.geometry, &self.frame);
                    TileFeature {
                        id: feature_id(&a.code),
                        geometry: TileGeometry::Points(vec![p]),
                        tags: area_tags(a, def),
                        size: w * h,
                        keep: def.keep_small,
                    }
                })
            })
            .collect()
    }

    /// The tile plus the layer's buffer, in whole tile units.
    fn clip_rect(&self, def: &LayerDef) -> Rect<f64> {
        let b = (def.buffer_px * UNITS_PER_PX).round();
        let e = f64::from(EXTENT);
        Rect::new(coord! {x: -b, y: -b}, coord! {x: e + b, y: e + b})
    }
}

/// A simplified polygon rounded to whole tile units; `None` when its exterior collapsed. Holes
/// that collapsed are left out.
fn quantized_polygon(rings: Vec<Vec<geo_types::Coord<f64>>>) -> Option<Polygon<f64>> {
    let mut rings = rings.into_iter().map(quantized_ring);
    let exterior = rings.next().flatten()?;
    Some(Polygon::new(exterior, rings.flatten().collect()))
}

/// A ring rounded to whole units with repeated points removed; `None` below three points.
fn quantized_ring(ring: Vec<geo_types::Coord<f64>>) -> Option<LineString<f64>> {
    let mut pts: Vec<_> = ring
        .into_iter()
        .map(|c| coord! {x: c.x.round(), y: c.y.round()})
        .collect();
    pts.dedup();
    while pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    (pts.len() >= 3).then(|| LineString::from(pts))
}
