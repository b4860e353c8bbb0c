//! The features of event layers (`event_clusters`, `event_points`, `heatmap`), read from the
//! snapshot's event store under the request's [`EventFilter`].
//!
//! The rules:
//! - positions are the store's quantized world units brought into the tile with exact integer
//!   arithmetic ([`WorldPoint::in_tile`]), so a point never lands in the wrong cell or tile;
//! - points come from the tile plus the layer's buffer, so a symbol near an edge is drawn
//!   whole; clusters from the tile only (a cluster's mean lies inside its cell);
//! - square heatmap cells are points at the cell centres with `count` (weights for MapLibre's
//!   heatmap layer), for the tile and the rings of cells that cover the layer's buffer (the
//!   neighbours' cells, with their ids and counts, so the blur has no seam at tile edges);
//!   empty cells are left out;
//! - H3 hexagons are the cells whose centre lies in the tile ([`EventStore::count_in_h3`]),
//!   drawn whole and clipped to the tile plus the layer's buffer, with `h3` (the index in hex)
//!   and `count`;
//! - feature ids: an event's id is [`feature_id`] of its code; a square cell's is its row-major
//!   index in the zoom's grid of cells; a hexagon's is its H3 index.

use std::borrow::Cow;

use geo_types::{coord, Coord, MultiPolygon, Rect};

use super::clip::clip_polygon;
use super::encode::{TagValue, TileFeature, TileGeometry};
use super::feature_id::feature_id;
use super::simplified_layers::rounded_polygon;
use super::source::TagPlan;
use super::tile_frame::TileCrs;
use super::tileset::{LayerDef, Source, EXTENT, UNITS_PER_PX};
use crate::crs::tile::TileId;
use crate::engine::events::{Card, EventFilter, EventPoint, WorldPoint};
use crate::engine::EventStore;

/// How heatmap counts are binned (`?bin=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeatmapBin {
    /// `cells_per_side²` square cells per tile, sent as weighted points.
    #[default]
    Square,
    /// H3 hexagons at [`crate::engine::events::h3_resolution`] of the zoom.
    H3,
}

impl HeatmapBin {
    /// Parses `square` or `h3`.
    pub fn parse(s: &str) -> Option<HeatmapBin> {
        match s {
            "square" => Some(HeatmapBin::Square),
            "h3" => Some(HeatmapBin::H3),
            _ => None,
        }
    }
}

/// What the event layers of a tile show: the events the filter keeps (the caller's
/// jurisdiction is in its area prefixes) and how the heatmap bins them.
#[derive(Debug, Clone)]
pub struct EventTileQuery {
    pub filter: EventFilter,
    pub bin: HeatmapBin,
}

impl EventTileQuery {
    /// Every event, square bins, overdue judged at `now`.
    pub fn everything(now: chrono::DateTime<chrono::Utc>) -> EventTileQuery {
        EventTileQuery {
            filter: EventFilter::at(now),
            bin: HeatmapBin::Square,
        }
    }
}

/// The features of one event layer in `tile`; categories borrow from the store. Event tiles are
/// cut in the WGS84 grid only: in another grid the layer is empty (the HTTP layer refuses
/// `?crs=` for them).
pub fn event_features<'e>(
    events: &'e EventStore,
    def: &LayerDef,
    tile: TileId,
    crs: TileCrs,
    query: &EventTileQuery,
) -> Vec<TileFeature<'e>> {
    if crs != TileCrs::Wgs84 {
        return Vec::new();
    }
    match (def.source, query.bin) {
        (Source::EventPoints, _) => point_features(events, def, tile, &query.filter),
        (Source::EventClusters, _) => cluster_features(events, def, tile, &query.filter),
        (Source::Heatmap, HeatmapBin::Square) => square_features(events, def, tile, &query.filter),
        (Source::Heatmap, HeatmapBin::H3) => hexagon_features(events, def, tile, &query.filter),
        _ => Vec::new(),
    }
}

/// A position in tile units (exact).
fn in_tile(p: WorldPoint, tile: TileId) -> Coord<f64> {
    let (x, y) = p.in_tile(tile, EXTENT);
    coord! {x: x as f64, y: y as f64}
}

/// The row-major index of square cell (cx, cy) of `tile` in the zoom's grid of cells; a cell
/// of the buffer ring (negative, or `side` and beyond) gets its neighbour's index, so one cell
/// has one id in every tile that carries it.
fn cell_id(tile: TileId, side: u32, (cx, cy): (i64, i64)) -> u64 {
    let across = (1i64 << tile.z) * i64::from(side);
    let gx = i64::from(tile.x) * i64::from(side) + cx;
    let gy = i64::from(tile.y) * i64::from(side) + cy;
    gy.wrapping_mul(across).wrapping_add(gx) as u64
}

/// A layer's buffer in world units at zoom `z` (tile units scaled by 2^(32 − z) / extent).
fn buffer_world_units(def: &LayerDef, z: u8) -> u32 {
    let tile_units = (def.buffer_px * UNITS_PER_PX).max(0.0).ceil() as u64;
    let world = (tile_units << (32 - u32::from(z))) / u64::from(EXTENT);
    u32::try_from(world).unwrap_or(u32::MAX)
}

/// How far (world units) outside a tile at zoom `z` an event can lie and still be drawn in it
/// by `def` as a point or a square cell: the layer's buffer, rounded up to whole cells for a
/// heatmap. The cache invalidates that far around a changed event (H3 hexagons reach further;
/// the cache adds their margin).
pub fn buffer_reach(def: &LayerDef, z: u8) -> u32 {
    match def.source {
        Source::EventPoints => buffer_world_units(def, z),
        Source::Heatmap => {
            let side = def.cells_per_side.max(1);
            let cell = (1u64 << (32 - u32::from(z))) / u64::from(side);
            u32::try_from(u64::from(buffer_cells(def, side)) * cell).unwrap_or(u32::MAX)
        }
        _ => 0,
    }
}

/// Rings of square cells that cover a layer's buffer.
fn buffer_cells(def: &LayerDef, side: u32) -> u32 {
    let cell_units = f64::from(EXTENT) / f64::from(side.max(1));
    ((def.buffer_px * UNITS_PER_PX).max(0.0) / cell_units).ceil() as u32
}

fn point<'e>(id: u64, at: Coord<f64>, tags: Vec<(&'static str, TagValue<'e>)>) -> TileFeature<'e> {
    TileFeature {
        id,
        geometry: TileGeometry::Points(vec![at]),
        tags,
        size: 1.0,
        keep: false,
    }
}

fn card_str(card: Card) -> &'static str {
    match card {
        Card::None => "none",
        Card::Yellow => "yellow",
        Card::Red => "red",
    }
}

/// An event's tags; its code (owned by the query's answer) moves in, the rest is borrowed.
/// An event's tags for its layer's `plan` (names from [`Source::EventPoints`]'s list).
fn event_tags<'e>(e: EventPoint<'e>, plan: &TagPlan) -> Vec<(&'static str, TagValue<'e>)> {
    let text = |s: &'e str| Some(TagValue::Text(Cow::Borrowed(s)));
    let flag = |b: bool| Some(TagValue::Int(i64::from(b)));
    plan.pick([
        Some(TagValue::Text(Cow::Owned(e.code))),
        text(e.status.as_str()),
        text(e.category),
        text(e.source.as_str()),
        text(e.level.as_str()),
        flag(e.overdue),
        text(card_str(e.card)),
        flag(e.outside_grid),
    ])
}

fn point_features<'e>(
    events: &'e EventStore,
    def: &LayerDef,
    tile: TileId,
    filter: &EventFilter,
) -> Vec<TileFeature<'e>> {
    let plan = TagPlan::new(def);
    events
        .points(tile, buffer_world_units(def, tile.z), filter)
        .into_iter()
        .map(|e| {
            let (id, at) = (feature_id(&e.code), in_tile(e.at, tile));
            point(id, at, event_tags(e, &plan))
        })
        .collect()
}

fn cluster_features(
    events: &EventStore,
    def: &LayerDef,
    tile: TileId,
    filter: &EventFilter,
) -> Vec<TileFeature<'static>> {
    let side = def.cells_per_side;
    let Ok(clusters) = events.clusters(tile, side, filter) else {
        return Vec::new();
    };
    let plan = TagPlan::new(def);
    clusters
        .iter()
        .map(|c| {
            // The count, then one per status in `EventStatus::ALL` order, as
            // `Source::EventClusters` names them.
            let tags = plan.pick(std::array::from_fn::<_, 8, _>(|i| {
                let n = if i == 0 { c.count } else { c.by_status[i - 1] };
                Some(TagValue::Int(i64::from(n)))
            }));
            let cell = (i64::from(c.cell.0), i64::from(c.cell.1));
            let mut f = point(cell_id(tile, side, cell), in_tile(c.center, tile), tags);
            f.size = f64::from(c.count);
            f
        })
        .collect()
}

fn square_features(
    events: &EventStore,
    def: &LayerDef,
    tile: TileId,
    filter: &EventFilter,
) -> Vec<TileFeature<'static>> {
    let side = def.cells_per_side;
    let ring = buffer_cells(def, side);
    let Ok(bins) = events.count_in_bins(tile, side, ring, filter) else {
        return Vec::new();
    };
    let across = i64::from(side + 2 * ring);
    let unit = f64::from(EXTENT) / f64::from(side);
    let plan = TagPlan::new(def);
    bins.iter()
        .enumerate()
        .filter(|(_, &n)| n > 0)
        .map(|(k, &n)| {
            let cell = (
                k as i64 % across - i64::from(ring),
                k as i64 / across - i64::from(ring),
            );
            let at = coord! {x: (cell.0 as f64 + 0.5) * unit, y: (cell.1 as f64 + 0.5) * unit};
            let mut f = point(
                cell_id(tile, side, cell),
                at,
                plan.pick([Some(TagValue::Int(i64::from(n))), None]),
            );
            f.size = f64::from(n);
            f
        })
        .collect()
}

fn hexagon_features(
    events: &EventStore,
    def: &LayerDef,
    tile: TileId,
    filter: &EventFilter,
) -> Vec<TileFeature<'static>> {
    let frame = tile.frame_in(EXTENT, TileCrs::Wgs84);
    let b = (def.buffer_px * UNITS_PER_PX).round();
    let e = f64::from(EXTENT);
    let clip = Rect::new(coord! {x: -b, y: -b}, coord! {x: e + b, y: e + b});
    let plan = TagPlan::new(def);
    events
        .count_in_h3(tile, filter)
        .into_iter()
        .filter_map(|(cell, n)| {
            let ring: Vec<Coord<f64>> = cell
                .boundary()
                .iter()
                .map(|ll| frame.project(ll.lng(), ll.lat()))
                .collect();
            let parts = clip_polygon(&rounded_polygon(vec![ring])?, clip);
            if parts.0.is_empty() {
                return None;
            }
            Some(TileFeature {
                id: u64::from(cell),
                geometry: TileGeometry::Polygons(MultiPolygon::new(parts.0)),
                tags: plan.pick([
                    Some(TagValue::Int(i64::from(n))),
                    Some(TagValue::Text(Cow::Owned(cell.to_string()))),
                ]),
                size: f64::from(n),
                keep: false,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn cluster_tags_are_the_count_then_the_statuses_in_order() {
        let names = Source::EventClusters.attributes();
        assert_eq!(names[0], "count");
        let statuses: Vec<&str> = crate::model::EventStatus::ALL
            .iter()
            .map(|s| s.as_str())
            .collect();
        assert_eq!(&names[1..], statuses.as_slice());
    }

    use super::*;

    #[test]
    fn cell_ids_are_unique_across_neighbouring_tiles() {
        let a = TileId::new(10, 5, 7).expect("tile");
        let b = TileId::new(10, 6, 7).expect("tile");
        assert_ne!(cell_id(a, 64, (63, 0)), cell_id(b, 64, (0, 0)));
        assert_eq!(cell_id(a, 64, (63, 0)) + 1, cell_id(b, 64, (0, 0)));
        assert_eq!(cell_id(a, 64, (64, 0)), cell_id(b, 64, (0, 0)));
        assert_eq!(cell_id(b, 64, (-1, 3)), cell_id(a, 64, (63, 3)));
    }

    #[test]
    fn bins_parse() {
        assert_eq!(HeatmapBin::parse("h3"), Some(HeatmapBin::H3));
        assert_eq!(HeatmapBin::parse("square"), Some(HeatmapBin::Square));
        assert_eq!(HeatmapBin::parse("hex"), None);
    }
}
