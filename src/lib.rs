//! gridmap: the map and spatial-analytics service of a city's grid-management platform.
//!
//! Data flows one way: `model` (validated types) → `store` (durable, PostGIS or GeoPackage)
//! → `engine` (in-memory read model) → `api` (HTTP views). Every write goes through `write`
//! (store, then engine, tile cache and live subscribers). See `../shared/DESIGN.md`.

pub mod access;
pub mod api;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crs;
pub mod engine;
pub mod generate;
pub mod glyphs;
pub mod import;
pub mod live;
pub mod model;
pub mod serve;
pub mod store;
pub mod tiles;
pub mod write;
