//! `gridmap export-tiles`: one tileset over a zoom range and a bounding box, rendered from the
//! engine's snapshot and written as a PMTiles v3 archive for offline or static hosting.
//!
//! The archive is written with the `pmtiles` crate (stadiamaps), its synchronous `write`
//! feature only: it handles the Hilbert tile ids, run lengths, deduplication of identical tiles
//! (same bytes, same offset), leaf directories and gzip compression. Tiles are added in tile-id
//! order, so the archive is clustered. Empty tiles (no feature, 204 over HTTP) are left out.
//! Tiles hold the tileset's full content: no jurisdiction filter applies to an export.

use std::fs::File;
use std::path::{Path, PathBuf};

use ::pmtiles::{PmTilesWriter, TileCoord, TileType};
use geo_types::{coord, Rect};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};

use super::render::{render_tile, TileError};
use super::tilejson::vector_layers;
use super::tileset::{Tileset, Tilesets};
use crate::crs::tile::{TileId, TileIdError};
use crate::engine::Snapshot;

/// What to export.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportOptions {
    /// The tileset name, as in `tiles/tilesets.toml`.
    pub tileset: String,
    pub minzoom: u8,
    pub maxzoom: u8,
    /// Longitude/latitude box to cover; `None` covers the city (all areas when no city area).
    pub bbox: Option<Rect<f64>>,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ExportSummary {
    /// Tiles rendered (every tile of the box at every zoom).
    pub rendered: u64,
    /// Tiles written: the non-empty ones.
    pub written: u64,
    /// Tiles left out because they hold no feature.
    pub empty: u64,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("unknown tileset {name:?}; known tilesets: {known}")]
    UnknownTileset { name: String, known: String },
    #[error("--minzoom {min} is greater than --maxzoom {max}")]
    ZoomOrder { min: u8, max: u8 },
    #[error("tileset {tileset:?} has zooms {min}..={max}; {requested_min}..={requested_max} is outside them")]
    ZoomRange {
        tileset: String,
        min: u8,
        max: u8,
        requested_min: u8,
        requested_max: u8,
    },
    #[error("the store holds no area, so there is no city to cover: pass --bbox minlon,minlat,maxlon,maxlat")]
    NoBounds,
    #[error("invalid --bbox {0:?}: expected minlon,minlat,maxlon,maxlat in degrees with min < max, longitudes in -180..180 and latitudes in -85.05..85.05")]
    Bbox(String),
    #[error(transparent)]
    Zoom(#[from] TileIdError),
    #[error("tile {tile} cannot be addressed in PMTiles: {source}")]
    Address {
        tile: String,
        source: ::pmtiles::PmtError,
    },
    #[error(transparent)]
    Render(#[from] TileError),
    #[error("cannot write {path}: {source}")]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the PMTiles archive {path}: {source}")]
    Archive {
        path: PathBuf,
        source: ::pmtiles::PmtError,
    },
}

/// Latitude limit of Web Mercator tiles.
const MAX_LAT: f64 = 85.051_129;

/// Parses `minlon,minlat,maxlon,maxlat` (degrees, WGS84) as given to `--bbox`.
pub fn parse_bbox(text: &str) -> Result<Rect<f64>, ExportError> {
    let bad = || ExportError::Bbox(text.to_string());
    let numbers: Vec<f64> = text
        .split(',')
        .map(|p| p.trim().parse::<f64>().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let [min_lon, min_lat, max_lon, max_lat] = numbers[..] else {
        return Err(bad());
    };
    let lon_ok = |v: f64| (-180.0..=180.0).contains(&v);
    let lat_ok = |v: f64| (-MAX_LAT..=MAX_LAT).contains(&v);
    if !(lon_ok(min_lon) && lon_ok(max_lon) && lat_ok(min_lat) && lat_ok(max_lat))
        || min_lon >= max_lon
        || min_lat >= max_lat
    {
        return Err(bad());
    }
    Ok(Rect::new(
        coord! {x: min_lon, y: min_lat},
        coord! {x: max_lon, y: max_lat},
    ))
}

/// Renders the tiles of `opts` from `snapshot` and writes them to `out` as PMTiles v3.
pub fn export_tiles(
    snapshot: &Snapshot,
    tilesets: &Tilesets,
    opts: &ExportOptions,
    out: &Path,
) -> Result<ExportSummary, ExportError> {
    let tileset = checked_tileset(tilesets, opts)?;
    let bounds = match opts.bbox {
        Some(b) => b,
        None => snapshot.city_extent().ok_or(ExportError::NoBounds)?,
    };
    let tiles = covering_tiles(bounds, opts.minzoom, opts.maxzoom)?;
    let file = File::create(out).map_err(|source| ExportError::Output {
        path: out.to_path_buf(),
        source,
    })?;
    let written = write_archive(snapshot, tileset, opts, bounds, &tiles, file, out);
    if written.is_err() {
        // A half-written archive is unreadable; leave nothing rather than a broken file.
        let _ = std::fs::remove_file(out);
    }
    written
}

/// Renders `tiles` in order into a new archive on `file`.
fn write_archive(
    snapshot: &Snapshot,
    tileset: &Tileset,
    opts: &ExportOptions,
    bounds: Rect<f64>,
    tiles: &[TileCoord],
    file: File,
    out: &Path,
) -> Result<ExportSummary, ExportError> {
    let archive_error = |source| ExportError::Archive {
        path: out.to_path_buf(),
        source,
    };
    let center = bounds.center();
    let mut writer = PmTilesWriter::new(TileType::Mvt)
        .min_zoom(opts.minzoom)
        .max_zoom(opts.maxzoom)
        .bounds(
            bounds.min().x,
            bounds.min().y,
            bounds.max().x,
            bounds.max().y,
        )
        .center(center.x, center.y)
        .center_zoom(opts.minzoom)
        .metadata(metadata(tileset, opts).to_string())
        .create(file)
        .map_err(archive_error)?;
    let bar = progress_bar(opts.progress, tiles.len() as u64);
    let mut summary = ExportSummary {
        rendered: 0,
        written: 0,
        empty: 0,
    };
    for tile in tiles {
        let rendered = render_tile(snapshot, tileset, tile.z(), tile.x(), tile.y(), &|_| true)?;
        summary.rendered += 1;
        bar.inc(1);
        if rendered.bytes.is_empty() {
            summary.empty += 1;
            continue;
        }
        writer
            .add_tile(*tile, &rendered.bytes)
            .map_err(archive_error)?;
        summary.written += 1;
    }
    writer.finalize().map_err(archive_error)?;
    bar.finish_and_clear();
    Ok(summary)
}

/// The tileset named in `opts`, once the zoom range is checked against it.
fn checked_tileset<'a>(
    tilesets: &'a Tilesets,
    opts: &ExportOptions,
) -> Result<&'a Tileset, ExportError> {
    let tileset = tilesets
        .get(&opts.tileset)
        .ok_or_else(|| ExportError::UnknownTileset {
            name: opts.tileset.clone(),
            known: tilesets
                .tilesets
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    if opts.minzoom > opts.maxzoom {
        return Err(ExportError::ZoomOrder {
            min: opts.minzoom,
            max: opts.maxzoom,
        });
    }
    if opts.minzoom < tileset.minzoom || opts.maxzoom > tileset.maxzoom {
        return Err(ExportError::ZoomRange {
            tileset: tileset.name.clone(),
            min: tileset.minzoom,
            max: tileset.maxzoom,
            requested_min: opts.minzoom,
            requested_max: opts.maxzoom,
        });
    }
    Ok(tileset)
}

/// Every tile touching `bounds` at zooms `minzoom..=maxzoom`, in PMTiles tile-id (Hilbert)
/// order, so the archive's tile data is clustered.
pub fn covering_tiles(
    bounds: Rect<f64>,
    minzoom: u8,
    maxzoom: u8,
) -> Result<Vec<TileCoord>, ExportError> {
    let mut tiles = Vec::new();
    for z in minzoom..=maxzoom {
        let top_left = TileId::containing(z, bounds.min().x, bounds.max().y)?;
        let bottom_right = TileId::containing(z, bounds.max().x, bounds.min().y)?;
        for x in top_left.x..=bottom_right.x {
            for y in top_left.y..=bottom_right.y {
                let coord = TileCoord::new(z, x, y).map_err(|source| ExportError::Address {
                    tile: format!("{z}/{x}/{y}"),
                    source,
                })?;
                tiles.push(coord);
            }
        }
    }
    tiles.sort_by_cached_key(|&c| ::pmtiles::TileId::from(c).value());
    Ok(tiles)
}

/// The archive's JSON metadata: the TileJSON fields that describe the content, with
/// `vector_layers` as the PMTiles spec requires for MVT.
fn metadata(tileset: &Tileset, opts: &ExportOptions) -> Value {
    let layers = vector_layers(tileset, opts.minzoom, opts.maxzoom);
    json!({
        "name": tileset.name,
        "description": tileset.description,
        "type": "overlay",
        "format": "pbf",
        "generator": concat!("gridmap ", env!("CARGO_PKG_VERSION")),
        "vector_layers": layers,
    })
}

fn progress_bar(shown: bool, total: u64) -> ProgressBar {
    if !shown {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} tiles ({eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message("rendering");
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bbox_rejects_wrong_arity_order_and_range() {
        assert!(parse_bbox("").is_err());
        assert!(parse_bbox("1,2,3").is_err());
        assert!(parse_bbox("1,2,3,4,5").is_err());
        assert!(parse_bbox("a,2,3,4").is_err());
        assert!(parse_bbox("114,36,113,35").is_err());
        assert!(parse_bbox("114,35,114,36").is_err());
        assert!(parse_bbox("-190,35,114,36").is_err());
        assert!(parse_bbox("113,-89,114,36").is_err());
    }

    #[test]
    fn bbox_parses_degrees() {
        let b = parse_bbox("113.5, 35.2,114.6,36.1").unwrap();
        assert_eq!((b.min().x, b.min().y), (113.5, 35.2));
        assert_eq!((b.max().x, b.max().y), (114.6, 36.1));
    }

    #[test]
    fn covering_tiles_are_in_tile_id_order_and_cover_the_box() {
        let b = parse_bbox("114.0,35.5,114.5,36.0").unwrap();
        let tiles = covering_tiles(b, 0, 10).unwrap();
        let ids: Vec<u64> = tiles
            .iter()
            .map(|&c| ::pmtiles::TileId::from(c).value())
            .collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(tiles.iter().filter(|t| t.z() == 0).count(), 1);
        for z in 0..=10 {
            for (lon, lat) in [(114.0, 35.5), (114.5, 36.0), (114.25, 35.75)] {
                let t = TileId::containing(z, lon, lat).unwrap();
                let c = TileCoord::new(t.z, t.x, t.y).unwrap();
                assert!(tiles.contains(&c), "{z}/{}/{} missing", t.x, t.y);
            }
        }
    }

    #[test]
    fn single_zoom_single_point_box_is_one_tile() {
        let b = parse_bbox("114.29,35.74,114.2901,35.7401").unwrap();
        assert_eq!(covering_tiles(b, 12, 12).unwrap().len(), 1);
    }
}
