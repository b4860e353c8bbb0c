//! GDAL as the independent reader of what gridmap writes: `ogrinfo` counts and `ogr2ogr`
//! decoding of vector tiles (saved as `…/z/x/y.pbf` so the MVT driver can place them) and of
//! GeoPackages. GDAL missing fails the test: the suite never skips it.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use geo::MapCoordsInPlace;
use geo_types::{coord, Geometry};
use gridmap::tiles::{TileId, EXTENT};

/// Fails unless `ogrinfo` is installed with its MVT driver.
pub fn require_gdal() {
    let out = Command::new("ogrinfo")
        .arg("--formats")
        .output()
        .expect("ogrinfo (GDAL) must be installed for the tile tests: apt-get install gdal-bin");
    let formats = String::from_utf8_lossy(&out.stdout);
    assert!(
        formats.contains("MVT"),
        "this GDAL has no MVT driver:\n{formats}"
    );
}

/// Feature counts per layer as `ogrinfo` reports them.
pub fn ogrinfo_counts(path: &Path) -> BTreeMap<String, usize> {
    let out = Command::new("ogrinfo")
        .args(["-ro", "-al", "-so"])
        .arg(path)
        .output()
        .expect("ogrinfo (GDAL) must be installed: apt-get install gdal-bin");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("ERROR"),
        "{}: {stderr}",
        path.display()
    );
    let mut counts = BTreeMap::new();
    let mut layer = String::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some(name) = line.strip_prefix("Layer name: ") {
            layer = name.trim().to_string();
        } else if let Some(n) = line.strip_prefix("Feature Count: ") {
            counts.insert(layer.clone(), n.trim().parse().expect("count"));
        }
    }
    counts
}

/// The features of one layer of a tile file, decoded by GDAL, with their geometry in the tile
/// units of `frame` (pass another tile than the file's to see it in that tile's frame).
pub fn decode_tile_layer(path: &Path, layer: &str, frame: TileId) -> Vec<geojson::Feature> {
    let out = Command::new("ogr2ogr")
        .args(["-f", "GeoJSON", "/vsistdout/", "-oo", "CLIP=NO"])
        .arg(path)
        .arg(layer)
        .output()
        .expect("ogr2ogr runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("ERROR"),
        "{}: {stderr}",
        path.display()
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let fc: geojson::FeatureCollection = text.parse().unwrap_or_else(|e| panic!("{e}: {text}"));
    let m = frame.mercator_bounds();
    let scale = f64::from(EXTENT) / frame.size_m();
    fc.features
        .into_iter()
        .map(|mut f| {
            let mut g: Geometry<f64> = f
                .geometry
                .take()
                .expect("geometry")
                .value
                .try_into()
                .expect("geo");
            g.map_coords_in_place(
                |c| coord! {x: (c.x - m.min().x) * scale, y: (m.max().y - c.y) * scale},
            );
            f.geometry = Some(geojson::Geometry::from(&g));
            f
        })
        .collect()
}

/// A text property of a decoded feature, empty when absent.
pub fn text_property(f: &geojson::Feature, key: &str) -> String {
    f.property(key)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}

/// The geometry of a decoded feature as a geo type.
pub fn geometry_of(f: &geojson::Feature) -> Geometry<f64> {
    f.geometry
        .clone()
        .expect("geometry")
        .value
        .try_into()
        .expect("geo")
}
