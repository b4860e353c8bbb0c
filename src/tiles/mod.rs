//! Vector tiles cut from the engine's in-memory snapshot (not from SQL), so the embedded and
//! PostGIS modes serve the same tiles.
//!
//! Where things are: `tileset` (the TOML definitions in `tiles/`), `tile_frame` (the tile grids,
//! WGS84 or GCJ-02, and the frame into a tile's units; tile addresses are
//! [`crate::crs::tile`]), `source` (rows and typed attributes per layer source),
//! `simplify_shared_borders` (Douglas–Peucker that keeps shared borders shared), `clip` (tile
//! plus buffer), `encode` (rounding, winding and MVT 2.1, written by hand for speed), `fx_hash`
//! (the hasher of per-tile maps), `budget` (size limits and thinning), `feature_id` (stable ids
//! from codes), `simplified_layers` (area layers simplified once per zoom), `prepared_buildings`
//! (footprints written once per community and zoom), `event_tiles` (event clusters, points and
//! heatmap features from the event store, whose counting is
//! `engine::events::heatmap_bins`), `render` (the pipeline, [`render_tile`]), `render_cost`
//! (recent render costs, which decide where a tile renders), `tilejson` (layer descriptions and
//! city bounds), `service` (one tile for one caller: cache, where to render, compression),
//! `cache` (the LRU of served tiles), `coding` (gzip, brotli and ETags), `invalidate` (which
//! tiles a change touches) and `pmtiles` (archive export). Label glyphs are [`crate::glyphs`].

mod budget;
pub mod cache;
mod clip;
pub mod coding;
mod encode;
pub mod event_tiles;
pub mod feature_id;
mod fx_hash;
pub mod invalidate;
pub mod pmtiles;
mod prepared_buildings;
mod render;
pub mod render_cost;
pub mod satellite;
pub mod service;
mod simplified_layers;
mod simplify_shared_borders;
mod source;
pub mod tile_frame;
pub mod tilejson;
pub mod tileset;
pub mod vector_tile;

pub use crate::crs::tile::{TileId, TileIdError, TileRange, MAX_ZOOM};
pub use budget::BudgetError;
pub use render::{
    render_tile, render_tile_in, RenderedTile, TileError, TileRequest, THINNED_METRIC,
};
pub use tile_frame::{TileCrs, TileFrame};
pub use tileset::{Budget, LayerDef, Source, Tileset, TilesetError, Tilesets, EXTENT};
