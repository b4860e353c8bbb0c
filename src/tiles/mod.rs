//! Vector tiles cut from the engine's in-memory snapshot (not from SQL), so the embedded and
//! PostGIS modes serve the same tiles.
//!
//! Where things are: `tileset` (the TOML definitions in `tiles/`), `tile_id` (z/x/y and the
//! tile frame), `source` (rows and typed attributes per layer source), `simplify` (Douglas–
//! Peucker that keeps shared borders shared), `clip` (tile plus buffer), `encode` (rounding,
//! winding and MVT 2.1, written by hand for speed), `fx_hash` (the hasher of per-tile maps),
//! `budget` (size limits and thinning), `feature_id` (stable ids from codes), `simplified` (area
//! layers simplified once per zoom), `prepared_buildings` (footprints written once per community
//! and zoom), `event_tiles` (event clusters, points and heatmap bins from the event store),
//! `render` (the pipeline, [`render_tile`]), `render_cost` (recent render costs, which decide
//! where a tile renders), `tilejson` (layer descriptions and city bounds), `cache` (served
//! tiles), `pmtiles` (archive export) and `glyphs` (SDF label glyphs for the styles' `glyphs`
//! URL).

mod budget;
pub mod cache;
mod clip;
mod encode;
pub mod event_tiles;
pub mod feature_id;
mod fx_hash;
pub mod glyphs;
pub mod pmtiles;
mod prepared_buildings;
mod render;
pub mod render_cost;
mod simplified;
mod simplify;
mod source;
pub mod tile_id;
pub mod tilejson;
pub mod tileset;
pub mod vector_tile;

pub use budget::BudgetError;
pub use render::{
    render_tile, render_tile_in, RenderedTile, TileError, TileRequest, THINNED_METRIC,
};
pub use tile_id::{TileCrs, TileFrame, TileId, TileIdError};
pub use tileset::{Budget, LayerDef, Source, Tileset, TilesetError, Tilesets, EXTENT};
