//! `gridmap export-tiles` as a user runs it, with the archive read back by the reference Python
//! `pmtiles` reader (independent of the Rust writer): header, metadata, tile count, and tile
//! bytes equal to what `render_tile` makes for the same address. Plus the refusals.
//!
//! The reader runs under `GRIDMAP_PYTHON` (set by `scripts/test`, which installs `pmtiles` from
//! PyPI), else `python3`; a missing reader fails the test.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Output};

use gridmap::engine::Engine;
use gridmap::store::gpkg::GpkgStore;
use gridmap::store::Store;
use gridmap::tiles::pmtiles::covering_tiles;
use gridmap::tiles::{render_tile, Tilesets};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_gridmap");

/// Prints the archive's header, metadata and every tile (z, x, y, stored bytes in hex) as JSON.
const READER: &str = r#"
import json, sys
from pmtiles.reader import Reader, MmapSource, all_tiles
with open(sys.argv[1], "rb") as f:
    source = MmapSource(f)
    reader = Reader(source)
    header = {k: getattr(v, "value", v) for k, v in reader.header().items()}
    tiles = [[z, x, y, data.hex()] for (z, x, y), data in all_tiles(source)]
    print(json.dumps({"header": header, "metadata": reader.metadata(), "tiles": tiles}))
"#;

fn export(data: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("export-tiles")
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("GRIDMAP_CONFIG")
        .output()
        .expect("run gridmap export-tiles")
}

/// The archive as the reference reader sees it.
fn read_archive(path: &Path) -> Value {
    let python = std::env::var("GRIDMAP_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let out = Command::new(&python)
        .arg("-c")
        .arg(READER)
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}; run the suite with scripts/test"));
    assert!(
        out.status.success(),
        "the pmtiles reader failed (scripts/test installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("reader JSON")
}

fn gunzip(hex: &str) -> Vec<u8> {
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect();
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_end(&mut out)
        .expect("tile is gzip");
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn unknown_tileset_lists_the_known_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = common::sample_copy(dir.path());
    let out_file = dir.path().join("x.pmtiles");
    let out = export(
        &data,
        &[
            "--tileset",
            "nosuch",
            "--minzoom",
            "8",
            "--maxzoom",
            "9",
            "--out",
            out_file.to_str().expect("utf-8 path"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("unknown tileset \"nosuch\""), "{err}");
    assert!(err.contains("boundaries"), "{err}");
    assert!(!out_file.exists());
}

#[test]
fn zoom_order_range_and_unwritable_output_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = common::sample_copy(dir.path());
    let out_file = dir.path().join("x.pmtiles");
    let out_str = out_file.to_str().expect("utf-8 path");
    let cases: [(&[&str], &str); 4] = [
        (
            &["--minzoom", "12", "--maxzoom", "8", "--out", out_str],
            "--minzoom 12 is greater than --maxzoom 8",
        ),
        (
            &["--minzoom", "3", "--maxzoom", "9", "--out", out_str],
            "has zooms 8..=16",
        ),
        (
            &[
                "--minzoom",
                "8",
                "--maxzoom",
                "9",
                "--out",
                "/nonexistent-dir/b.pmtiles",
            ],
            "cannot write /nonexistent-dir/b.pmtiles",
        ),
        (
            &[
                "--minzoom",
                "8",
                "--maxzoom",
                "9",
                "--bbox",
                "114,36,113,35",
                "--out",
                out_str,
            ],
            "invalid --bbox",
        ),
    ];
    for (args, message) in cases {
        let mut all = vec!["--tileset", "boundaries"];
        all.extend_from_slice(args);
        let out = export(&data, &all);
        assert_eq!(
            out.status.code(),
            Some(if message == "invalid --bbox" { 2 } else { 1 })
        );
        let err = stderr(&out);
        assert!(err.contains(message), "{args:?}: {err}");
        assert!(!out_file.exists(), "{args:?} left a file");
    }
}

#[tokio::test]
async fn boundaries_archive_reads_back_as_rendered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = common::sample_copy(dir.path());
    let archive = dir.path().join("b.pmtiles");
    let out = export(
        &data,
        &[
            "--tileset",
            "boundaries",
            "--minzoom",
            "8",
            "--maxzoom",
            "12",
            "--out",
            archive.to_str().expect("utf-8 path"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).expect("summary JSON");

    let store = GpkgStore::open(&data).expect("open gpkg");
    let engine = Engine::new(store.load().await.expect("load"));
    let snapshot = engine.snapshot();
    let tilesets =
        Tilesets::parse(gridmap::serve::TILESETS_TOML, "tilesets.toml").expect("tilesets");
    let tileset = tilesets.get("boundaries").expect("boundaries");
    let bounds = snapshot.city_extent().expect("city bounds");
    let mut expected = BTreeMap::new();
    for c in covering_tiles(bounds, 8, 12).expect("tiles") {
        let tile = render_tile(&snapshot, tileset, c.z(), c.x(), c.y(), &|_| true).expect("render");
        if !tile.bytes.is_empty() {
            expected.insert((c.z(), c.x(), c.y()), tile.bytes);
        }
    }
    assert!(expected.len() > 20, "the sample city fills tiles");
    assert_eq!(summary["written"], expected.len());

    let read = read_archive(&archive);
    let header = &read["header"];
    assert_eq!(header["tile_type"], 1, "MVT");
    assert_eq!(header["tile_compression"], 2, "gzip");
    assert_eq!(header["internal_compression"], 2, "gzip");
    assert_eq!(header["clustered"], true);
    assert_eq!(header["min_zoom"], 8);
    assert_eq!(header["max_zoom"], 12);
    assert_eq!(header["addressed_tiles_count"], expected.len());
    let e7 = |v: f64| (v * 1e7).round() as i64;
    for (key, want) in [
        ("min_lon_e7", bounds.min().x),
        ("min_lat_e7", bounds.min().y),
        ("max_lon_e7", bounds.max().x),
        ("max_lat_e7", bounds.max().y),
    ] {
        let got = header[key].as_i64().expect("bound");
        assert!((got - e7(want)).abs() <= 1, "{key}: {got} vs {want}");
    }
    let layers: Vec<&str> = read["metadata"]["vector_layers"]
        .as_array()
        .expect("vector_layers")
        .iter()
        .filter_map(|l| l["id"].as_str())
        .collect();
    assert!(
        layers.contains(&"district") && layers.contains(&"grid"),
        "{layers:?}"
    );

    let tiles = read["tiles"].as_array().expect("tiles");
    assert_eq!(tiles.len(), expected.len());
    for t in tiles {
        let at = (
            t[0].as_u64().expect("z") as u8,
            t[1].as_u64().expect("x") as u32,
            t[2].as_u64().expect("y") as u32,
        );
        let want = expected
            .get(&at)
            .unwrap_or_else(|| panic!("{at:?} is not a rendered tile"));
        assert_eq!(&gunzip(t[3].as_str().expect("hex")), want, "tile {at:?}");
    }
}

#[test]
fn help_names_export_tiles() {
    let out = Command::new(BIN).arg("--help").output().expect("run");
    assert!(String::from_utf8_lossy(&out.stdout).contains("export-tiles"));
}
