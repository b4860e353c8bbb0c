//! Building footprints prepared once per community and zoom, for every tile of that zoom.
//!
//! The rule: at zoom `z`, the buildings of one community (one shard of the engine's building
//! index) that a layer draws there (at least `min_size_px`) are projected into the frame of one
//! tile at the community's north-west corner, simplified together with shared walls kept shared
//! ([`simplify_shared`]), rounded, cleaned and written as MVT geometry commands once. Another
//! tile of that zoom is the same frame shifted by a multiple of the extent, so a footprint
//! wholly inside a tile is written by shifting its first point: the commands after it are
//! relative (MVT 2.1 §4.3.2). Only footprints crossing the tile's edge are decoded and clipped.
//! Walls shared by buildings of two communities are simplified on each side alone.
//!
//! A community's footprints are kept under its shard's id, which changes whenever one of its
//! buildings does: an edit prepares that community afresh and leaves the others. The least
//! recently used are dropped beyond [`MAX_BUILDINGS`] prepared buildings.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use geo::Area as _;
use geo_types::{coord, LineString, MultiPolygon, Polygon, Rect};

use super::clip::clip_owned_polygon;
use super::encode::{
    area2, decode_rings, prepare_polygons, prepared_start, TileFeature, TileGeometry,
    PREPARED_START,
};
use super::feature_id::feature_id;
use super::fx_hash::FxBuild;
use super::simplified_layers::rounded_polygon;
use super::simplify_shared_borders::{simplify_shared, Ring};
use super::source::{building_tags, project_polygon, ring_size, BuildingValues, TagPlan};
use super::tile_frame::TileCrs;
use super::tileset::{LayerDef, EXTENT, UNITS_PER_PX};
use crate::crs::tile::TileId;
use crate::engine::{BuildingShard, IndexedBuilding};
use crate::model::Building;

/// Prepared buildings kept, summed over layers, zooms and communities (about 100 bytes each:
/// a city of a million buildings at three zooms fits).
const MAX_BUILDINGS: usize = 4_000_000;

/// One building's footprint prepared for a zoom.
struct Footprint {
    /// [`feature_id`] of its code.
    id: u64,
    /// Its code, name and grid code in [`ShardFootprints::text`].
    code: Range<usize>,
    name: Range<usize>,
    grid_code: Option<Range<usize>>,
    floors: i16,
    height_m: f64,
    building_use: &'static str,
    /// Envelope in frame units: west, north, east, south (y grows down).
    bounds: [i32; 4],
    /// Its commands in [`ShardFootprints::commands`].
    commands: Range<usize>,
    /// Unsigned area in tile units², what the tile budget thins by.
    area: f64,
}

/// A community's drawn footprints at one zoom, in code order.
pub struct ShardFootprints {
    /// The tile whose frame the footprints are in.
    origin: (i64, i64),
    footprints: Vec<Footprint>,
    commands: Vec<u32>,
    /// The footprints' text attributes back to back: a tile reads them in order rather than
    /// following every building to its own strings.
    text: String,
    /// For each tile (x, y less the origin's) that a footprint reaches into, tile buffer
    /// included, the positions of those footprints in code order: a tile at z16 holds a few
    /// dozen of a community's hundreds.
    by_tile: HashMap<(i64, i64), Vec<u32>, FxBuild>,
}

/// Where one tile lies in a community's frame and what it keeps.
pub struct TileWindow<'f> {
    /// The tile's x, y at the prepared zoom.
    pub x: u32,
    pub y: u32,
    /// The tile plus the layer's buffer, in whole tile units.
    pub clip: Rect<f64>,
    pub in_scope: &'f dyn Fn(&str) -> bool,
    pub plan: &'f TagPlan,
    pub keep: bool,
}

impl ShardFootprints {
    /// Prepares the buildings of `shard` that layer `def` draws at zoom `z` in the `crs` grid.
    fn build(shard: &BuildingShard, def: &LayerDef, z: u8, crs: TileCrs) -> ShardFootprints {
        let origin = shard
            .bounds()
            .and_then(|b| TileId::containing(z, b.min().x, b.max().y).ok())
            .unwrap_or(TileId { z, x: 0, y: 0 });
        let frame = origin.frame_in(EXTENT, crs);
        let min = if def.keep_small {
            0.0
        } else {
            def.min_size_px * UNITS_PER_PX
        };
        let mut drawn: Vec<(&Arc<IndexedBuilding>, Vec<Ring>)> = shard
            .buildings()
            .filter_map(|b| {
                let polygon = project_polygon(&b.building.geometry, &frame);
                let (w, h) = ring_size(polygon.first()?);
                (min == 0.0 || w >= min || h >= min).then_some((b, polygon))
            })
            .collect();
        drawn.sort_unstable_by(|a, b| a.0.building.code.cmp(&b.0.building.code));
        let rings: Vec<Ring> = drawn.iter().flat_map(|(_, p)| p.iter().cloned()).collect();
        let keep = vec![def.keep_small; rings.len()];
        let mut simplified =
            simplify_shared(&rings, &keep, def.simplify_px * UNITS_PER_PX).into_iter();
        let mut prepared = ShardFootprints {
            origin: (i64::from(origin.x), i64::from(origin.y)),
            footprints: Vec::with_capacity(drawn.len()),
            commands: Vec::new(),
            text: String::new(),
            by_tile: HashMap::default(),
        };
        for (building, polygon) in drawn {
            let rings = polygon
                .iter()
                .map(|_| simplified.next().unwrap_or_default())
                .collect();
            if let Some(p) = rounded_polygon(rings) {
                prepared.push(&building.building, p);
            }
        }
        prepared.file_by_tile((def.buffer_px * UNITS_PER_PX).round() as i64);
        prepared
    }

    /// Files each footprint under the tiles whose clip rectangle (`buffer` units around the
    /// tile) it meets, touching included.
    fn file_by_tile(&mut self, buffer: i64) {
        let extent = i64::from(EXTENT);
        for (at, f) in self.footprints.iter().enumerate() {
            let [w, n, e, s] = f.bounds.map(i64::from);
            let at = u32::try_from(at).unwrap_or(u32::MAX);
            for tx in (w - buffer - 1).div_euclid(extent)..=(e + buffer).div_euclid(extent) {
                for ty in (n - buffer - 1).div_euclid(extent)..=(s + buffer).div_euclid(extent) {
                    self.by_tile.entry((tx, ty)).or_default().push(at);
                }
            }
        }
    }

    /// Adds a building whose simplified, rounded footprint is `polygon`, unless it collapses.
    fn push(&mut self, building: &Building, polygon: Polygon<f64>) {
        let polygons = MultiPolygon::new(vec![polygon]);
        let Some(commands) = prepare_polygons(&polygons) else {
            return;
        };
        let Some(bounds) = frame_bounds(&commands) else {
            return;
        };
        let start = self.commands.len();
        self.commands.extend_from_slice(&commands);
        let code = self.keep_text(&building.code);
        let name = self.keep_text(&building.name);
        let grid_code = building.grid_code.as_deref().map(|g| self.keep_text(g));
        self.footprints.push(Footprint {
            id: feature_id(&building.code),
            code,
            name,
            grid_code,
            floors: building.floors,
            height_m: building.height_m,
            building_use: building.building_use.as_str(),
            bounds,
            commands: start..self.commands.len(),
            area: polygons.unsigned_area(),
        });
    }

    /// Copies `s` into [`ShardFootprints::text`]; gives where it is.
    fn keep_text(&mut self, s: &str) -> Range<usize> {
        let start = self.text.len();
        self.text.push_str(s);
        start..self.text.len()
    }

    /// The attribute values of a footprint.
    fn values(&self, f: &Footprint) -> BuildingValues<'_> {
        let text = |r: &Range<usize>| self.text.get(r.clone()).unwrap_or_default();
        BuildingValues {
            code: text(&f.code),
            name: text(&f.name),
            floors: f.floors,
            height_m: f.height_m,
            building_use: f.building_use,
            grid_code: f.grid_code.as_ref().map(text),
        }
    }

    /// Appends the features of the footprints that reach into `window`'s tile and are in
    /// scope: those wholly inside it as prepared commands, the others clipped.
    pub fn features<'s>(&'s self, window: &TileWindow<'_>, out: &mut Vec<TileFeature<'s>>) {
        let extent = i64::from(EXTENT);
        let shift = (
            (i64::from(window.x) - self.origin.0) * extent,
            (i64::from(window.y) - self.origin.1) * extent,
        );
        let clip = [
            window.clip.min().x as i64 + shift.0,
            window.clip.min().y as i64 + shift.1,
            window.clip.max().x as i64 + shift.0,
            window.clip.max().y as i64 + shift.1,
        ];
        let key = (
            i64::from(window.x) - self.origin.0,
            i64::from(window.y) - self.origin.1,
        );
        let Some(filed) = self.by_tile.get(&key) else {
            return;
        };
        out.reserve(filed.len());
        for f in filed
            .iter()
            .filter_map(|&at| self.footprints.get(at as usize))
        {
            let [w, n, e, s] = f.bounds.map(i64::from);
            if e < clip[0] || w > clip[2] || s < clip[1] || n > clip[3] {
                continue;
            }
            let b = self.values(f);
            if !(window.in_scope)(b.code) {
                continue;
            }
            let commands = &self.commands[f.commands.clone()];
            let inside = w >= clip[0] && e <= clip[2] && n >= clip[1] && s <= clip[3];
            let (geometry, size) = if inside {
                let (x, y) = prepared_start(commands);
                let start = (
                    (i64::from(x) - shift.0) as i32,
                    (i64::from(y) - shift.1) as i32,
                );
                let rest = &commands[PREPARED_START.min(commands.len())..];
                (TileGeometry::Prepared { start, rest }, f.area)
            } else {
                let clipped = clipped(commands, shift, window.clip);
                if clipped.0.is_empty() {
                    continue;
                }
                let size = clipped.unsigned_area();
                (TileGeometry::Polygons(clipped), size)
            };
            out.push(TileFeature {
                id: f.id,
                geometry,
                size,
                tags: building_tags(&b, window.plan),
                keep: window.keep,
            });
        }
    }
}

/// The envelope of prepared commands (west, north, east, south); `None` when they hold no
/// point.
fn frame_bounds(commands: &[u32]) -> Option<[i32; 4]> {
    let rings = decode_rings(commands);
    let mut points = rings.iter().flatten();
    let &(x, y) = points.next()?;
    Some(points.fold([x, y, x, y], |[w, n, e, s], &(x, y)| {
        [w.min(x), n.min(y), e.max(x), s.max(y)]
    }))
}

/// Prepared polygon commands moved into a tile (`shift` is the tile's corner in their frame)
/// and clipped to `clip`.
fn clipped(commands: &[u32], shift: (i64, i64), clip: Rect<f64>) -> MultiPolygon<f64> {
    let mut polygons: Vec<Polygon<f64>> = Vec::new();
    for ring in decode_rings(commands) {
        let exterior = area2(&ring) > 0;
        let line: LineString<f64> = ring
            .iter()
            .map(|&(x, y)| coord! {x: (i64::from(x) - shift.0) as f64, y: (i64::from(y) - shift.1) as f64})
            .collect();
        match polygons.last_mut() {
            Some(p) if !exterior => p.interiors_push(line),
            _ => polygons.push(Polygon::new(line, Vec::new())),
        }
    }
    MultiPolygon::new(
        polygons
            .into_iter()
            .flat_map(|p| clip_owned_polygon(p, clip))
            .collect(),
    )
}

/// What prepared footprints are kept under, less the shard.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct LayerKey {
    tileset: String,
    layer: String,
    z: u8,
    crs: TileCrs,
}

type Slot = Arc<OnceLock<Arc<ShardFootprints>>>;

/// A community's slot and when a tile last asked for it.
struct Entry {
    slot: Slot,
    last_used: u64,
    /// The shard's buildings: what the entry is counted as against [`MAX_BUILDINGS`].
    weight: usize,
}

#[derive(Default)]
struct Kept {
    layers: HashMap<LayerKey, HashMap<u64, Entry, FxBuild>>,
    weight: usize,
}

/// The prepared footprints of the process, built on first use (one builder per community and
/// zoom; others asking at the same time wait for it).
#[derive(Default)]
pub struct PreparedBuildings {
    kept: Mutex<Kept>,
    clock: AtomicU64,
}

impl PreparedBuildings {
    /// The footprints every renderer of this process shares.
    pub fn shared() -> &'static PreparedBuildings {
        static SHARED: OnceLock<PreparedBuildings> = OnceLock::new();
        SHARED.get_or_init(PreparedBuildings::default)
    }

    /// The footprints of `shards` for layer `def` of `tileset` at zoom `z` in the `crs` grid,
    /// in the order given.
    pub fn get(
        &self,
        shards: &[&BuildingShard],
        tileset: &str,
        def: &LayerDef,
        z: u8,
        crs: TileCrs,
    ) -> Vec<Arc<ShardFootprints>> {
        let key = LayerKey {
            tileset: tileset.to_string(),
            layer: def.name.clone(),
            z,
            crs,
        };
        let slots = self.slots(key, shards);
        shards
            .iter()
            .zip(slots)
            .map(|(shard, slot)| {
                slot.get_or_init(|| Arc::new(ShardFootprints::build(shard, def, z, crs)))
                    .clone()
            })
            .collect()
    }

    /// The slots of `shards` under `key`, marked as used now; drops the least recently used
    /// beyond [`MAX_BUILDINGS`].
    fn slots(&self, key: LayerKey, shards: &[&BuildingShard]) -> Vec<Slot> {
        let now = self.clock.fetch_add(1, Ordering::Relaxed);
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let Kept { layers, weight } = &mut *kept;
        let layer = layers.entry(key).or_default();
        let slots = shards
            .iter()
            .map(|shard| {
                let entry = layer.entry(shard.id()).or_insert_with(|| {
                    *weight += shard.len();
                    Entry {
                        slot: Slot::default(),
                        last_used: now,
                        weight: shard.len(),
                    }
                });
                entry.last_used = now;
                entry.slot.clone()
            })
            .collect();
        if kept.weight > MAX_BUILDINGS {
            kept.forget_least_recent(MAX_BUILDINGS / 4 * 3);
        }
        slots
    }
}

impl Kept {
    /// Drops the least recently used entries until at most `target` buildings are kept.
    fn forget_least_recent(&mut self, target: usize) {
        let mut by_use: Vec<(u64, usize)> = self
            .layers
            .values()
            .flat_map(|l| l.values().map(|e| (e.last_used, e.weight)))
            .collect();
        by_use.sort_unstable();
        let mut weight = self.weight;
        let mut cut = 0;
        for (used, w) in by_use {
            if weight <= target {
                break;
            }
            weight -= w;
            cut = used + 1;
        }
        for layer in self.layers.values_mut() {
            layer.retain(|_, e| e.last_used >= cut);
        }
        self.layers.retain(|_, l| !l.is_empty());
        self.weight = self
            .layers
            .values()
            .flat_map(|l| l.values().map(|e| e.weight))
            .sum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Engine;
    use crate::model::{Building, Dataset};
    use crate::tiles::encode::{encode_tile, TagValue, TileLayer};
    use crate::tiles::tileset::Tilesets;
    use crate::tiles::vector_tile;

    const BUILDINGS: &str = r#"
[[tileset]]
name = "b"
minzoom = 14
maxzoom = 16
[[tileset.layer]]
name = "building"
source = "buildings"
minzoom = 14
maxzoom = 16
simplify_px = 0.25
attributes = ["code", "floors"]
"#;

    /// Tile 16/53536/26060 (about 114.08° E, 35.72° N) and a lon/lat span of its width.
    const TILE: (u8, u32, u32) = (16, 53_536, 26_060);

    /// The tile's lon/lat corners: west, south, east, north.
    fn tile_corners() -> [f64; 4] {
        let (z, x, y) = TILE;
        let b = TileId { z, x, y }.lonlat_bounds(EXTENT, 0.0);
        [b.min().x, b.min().y, b.max().x, b.max().y]
    }

    /// The rings of a feature as a decoder reads them from its encoded tile, each started at
    /// its least point (simplification may start a ring elsewhere).
    fn rings(feature: TileFeature<'_>) -> Vec<Vec<(i32, i32)>> {
        let bytes = encode_tile(&[TileLayer {
            name: "building".into(),
            features: vec![feature],
        }])
        .bytes;
        let tile: vector_tile::Tile = prost::Message::decode(&bytes[..]).expect("a valid tile");
        let mut rings = decode_rings(&tile.layers[0].features[0].geometry);
        for ring in &mut rings {
            let least = (0..ring.len()).min_by_key(|&i| ring[i]).unwrap_or(0);
            ring.rotate_left(least);
        }
        rings
    }

    #[test]
    fn footprints_inside_a_tile_are_written_as_the_tile_frame_would_write_them() {
        let [w, s, e, n] = tile_corners();
        let span = e - w;
        // One building well inside, one across the east edge (beyond the buffer), one outside
        // to the north-west (so the community's frame is another tile's).
        let inside = Building::square(
            "41061100100100001",
            w + span * 0.3,
            s + (n - s) * 0.4,
            span * 0.05,
        );
        let across = Building::square(
            "41061100100100002",
            e - span * 0.02,
            s + (n - s) * 0.5,
            span * 0.2,
        );
        let outside = Building::square(
            "41061100100100003",
            w - span * 1.5,
            n + span * 0.5,
            span * 0.05,
        );
        let engine = Engine::new(Dataset {
            buildings: vec![inside.clone(), across.clone(), outside],
            ..Dataset::default()
        });
        let snapshot = engine.snapshot();
        let sets = Tilesets::parse(BUILDINGS, "test.toml").expect("valid tilesets");
        let def = &sets.get("b").expect("tileset b").layers[0];
        let shards = snapshot.building_shards_in_bbox(Rect::new(
            coord! {x: w - span, y: s - span},
            coord! {x: e + span, y: n + span},
        ));
        assert_eq!(shards.len(), 1);
        let (z, x, y) = TILE;
        let prepared = ShardFootprints::build(shards[0], def, z, TileCrs::Wgs84);
        assert_ne!(
            prepared.origin,
            (i64::from(x), i64::from(y)),
            "the community's frame is another tile's, so the shift is exercised"
        );
        let plan = TagPlan::new(def);
        let all = |_: &str| true;
        let window = TileWindow {
            x,
            y,
            clip: Rect::new(coord! {x: -64.0, y: -64.0}, coord! {x: 4160.0, y: 4160.0}),
            in_scope: &all,
            plan: &plan,
            keep: false,
        };
        let mut features = Vec::new();
        prepared.features(&window, &mut features);
        let ids: Vec<u64> = features.iter().map(|f| f.id).collect();
        assert_eq!(ids, [feature_id(&inside.code), feature_id(&across.code)]);
        assert!(matches!(
            features[0].geometry,
            TileGeometry::Prepared { .. }
        ));
        assert_eq!(
            features[0].tags,
            [
                ("code", TagValue::Text(inside.code.as_str().into())),
                ("floors", TagValue::Int(6))
            ],
            "tags from the footprint's own copy of the values"
        );

        let frame = TileId { z, x, y }.frame_in(EXTENT, TileCrs::Wgs84);
        let projected = |b: &Building| {
            let ring: LineString<f64> = project_polygon(&b.geometry, &frame)[0]
                .iter()
                .map(|c| coord! {x: c.x.round(), y: c.y.round()})
                .collect();
            Polygon::new(ring, Vec::new())
        };
        let direct = TileFeature {
            geometry: TileGeometry::Polygons(MultiPolygon::new(vec![projected(&inside)])),
            ..features[0].clone()
        };
        assert_eq!(rings(features[0].clone()), rings(direct));

        let TileGeometry::Polygons(cut) = &features[1].geometry else {
            panic!(
                "a footprint across the edge is clipped: {:?}",
                features[1].geometry
            );
        };
        let expected = clip_owned_polygon(projected(&across), window.clip);
        assert!((cut.unsigned_area() - expected.unsigned_area()).abs() < 1.0);
        assert!(cut
            .iter()
            .flat_map(|p| p.exterior().0.iter())
            .all(|c| c.x <= 4160.0));

        let east = TileWindow { x: x + 1, ..window };
        let mut next = Vec::new();
        prepared.features(&east, &mut next);
        let ids: Vec<u64> = next.iter().map(|f| f.id).collect();
        assert_eq!(
            ids,
            [feature_id(&across.code)],
            "the tile east holds the rest of it"
        );

        let none = |_: &str| false;
        let scoped = TileWindow {
            in_scope: &none,
            ..east
        };
        let mut out = Vec::new();
        prepared.features(&scoped, &mut out);
        assert!(out.is_empty(), "out of scope, nothing");
    }

    #[test]
    fn the_least_recently_used_communities_are_forgotten_first() {
        let mut kept = Kept::default();
        let entries = [(1u64, 10usize, 5u64), (2, 10, 1), (3, 10, 9), (4, 10, 3)];
        let layer = kept.layers.entry(LayerKey {
            tileset: "b".into(),
            layer: "building".into(),
            z: 14,
            crs: TileCrs::Wgs84,
        });
        let layer = layer.or_default();
        for (id, weight, last_used) in entries {
            layer.insert(
                id,
                Entry {
                    slot: Slot::default(),
                    last_used,
                    weight,
                },
            );
        }
        kept.weight = 40;
        kept.forget_least_recent(20);
        let mut left: Vec<u64> = kept
            .layers
            .values()
            .flat_map(|l| l.keys().copied())
            .collect();
        left.sort_unstable();
        assert_eq!(left, [1, 3], "the two used last (at 5 and 9) stay");
        assert_eq!(kept.weight, 20);
    }
}
