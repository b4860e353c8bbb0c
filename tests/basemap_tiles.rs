//! Basemap tiles of the sample city decoded by GDAL's MVT driver (`ogrinfo`, `ogr2ogr`). Needs
//! GDAL ≥ 3.x on PATH; fails (never skips) without it.
//!
//! For the 2×2 tiles around four places (on the 淇河, on G4, at 盘石头水库 and on a secondary
//! road) at z8–z16, each basemap tile is written to `<tmp>/basemap/z/x/y.pbf` and checked: it
//! opens without errors; the feature count of every layer equals what the renderer wrote; every
//! feature reaching into the tile (more than a pixel inside) is present, and none is present that
//! misses the tile plus buffer; lines are valid LineStrings whose vertices all lie inside the
//! tile plus buffer and within the simplification tolerance of the source line; water polygons
//! are valid; and the road classes follow the per-class first zooms of `tiles/tilesets.toml`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::gdal::{decode_tile_layer, geometry_of, ogrinfo_counts, require_gdal, text_property};

use geo::{Distance, Euclidean, Intersects, MapCoordsInPlace, Validation};
use geo_types::{coord, Geometry, LineString, MultiLineString, Point, Rect};
use gridmap::model::{BasemapFeature, BasemapGeometry, BasemapKind};
use gridmap::tiles::{render_tile, LayerDef, TileId, Tileset, EXTENT};

/// One tile pixel (of a 256-pixel tile) in tile units.
const PIXEL: f64 = EXTENT as f64 / 256.0;

fn basemap_tileset() -> Tileset {
    common::shipped_tilesets()
        .get("basemap")
        .expect("a basemap tileset")
        .clone()
}

const PLACES: [(f64, f64); 4] = [
    (114.23, 35.75),
    (114.392, 35.76),
    (114.10, 35.838),
    (114.2835, 35.775),
];

fn tiles_around(z: u8, lon: f64, lat: f64) -> Vec<TileId> {
    let t = TileId::containing(z, lon, lat).expect("tile");
    [(0, 0), (1, 0), (0, 1), (1, 1)]
        .into_iter()
        .filter_map(|(dx, dy)| TileId::new(z, t.x + dx, t.y + dy).ok())
        .collect()
}

/// Decoded features of one layer: (code, class, geometry in tile units).
fn decode_layer(path: &Path, layer: &str, tile: TileId) -> Vec<(String, String, Geometry<f64>)> {
    decode_tile_layer(path, layer, tile)
        .iter()
        .map(|f| {
            (
                text_property(f, "code"),
                text_property(f, "class"),
                geometry_of(f),
            )
        })
        .collect()
}

fn lines_of(g: &Geometry<f64>) -> MultiLineString<f64> {
    match g {
        Geometry::LineString(l) => MultiLineString::new(vec![l.clone()]),
        Geometry::MultiLineString(m) => m.clone(),
        other => panic!("expected a line, got {other:?}"),
    }
}

fn square(min: f64, max: f64) -> Rect<f64> {
    Rect::new(coord! {x: min, y: min}, coord! {x: max, y: max})
}

/// A source feature's geometry projected into the tile's units.
fn projected(f: &BasemapFeature, tile: TileId) -> Geometry<f64> {
    let frame = tile.frame(EXTENT);
    let mut g = f.geometry.to_geometry();
    g.map_coords_in_place(|c| frame.project(c.x, c.y));
    g
}

/// The codes of the features of `def` the tile must hold (reaching a pixel into it) and may
/// hold (reaching into the tile plus buffer and the simplification tolerance).
fn expected(def: &LayerDef, tile: TileId) -> (BTreeSet<String>, BTreeSet<String>) {
    let snapshot = common::sample_engine().snapshot();
    let world = square(-180.0, 180.0);
    let e = f64::from(EXTENT);
    let inner = square(PIXEL, e - PIXEL);
    let slack = (def.buffer_px + def.simplify_px + 1.0) * PIXEL;
    let outer = square(-slack, e + slack);
    let (mut must, mut may) = (BTreeSet::new(), BTreeSet::new());
    for f in snapshot.basemap_in_bbox(world) {
        if !def.takes_basemap(f.kind, tile.z) {
            continue;
        }
        let g = projected(f, tile);
        if g.intersects(&inner) && f.kind.is_line() {
            must.insert(f.code.clone());
        }
        if g.intersects(&outer) {
            may.insert(f.code.clone());
        }
    }
    (must, may)
}

/// Checks one decoded line layer; returns how many vertices were checked.
fn check_lines(def: &LayerDef, tile: TileId, decoded: &[(String, String, Geometry<f64>)]) -> usize {
    let here = format!("basemap/{} {}/{}/{}", def.name, tile.z, tile.x, tile.y);
    let snapshot = common::sample_engine().snapshot();
    let b = (def.buffer_px * PIXEL).round();
    // GDAL hands back mercator metres: allow for the float noise of the round trip.
    let clip = square(-b - 0.01, f64::from(EXTENT) + b + 0.01);
    let tolerance = def.simplify_px * PIXEL + 1.0;
    let mut vertices = 0;
    for (code, class, g) in decoded {
        let lines = lines_of(g);
        assert!(lines.is_valid(), "{here}: {code} is invalid");
        let source = snapshot
            .basemap_feature(code)
            .unwrap_or_else(|| panic!("{here}: unknown code {code}"));
        assert_eq!(class, source.kind.as_str(), "{here}: {code}");
        let BasemapGeometry::Line(_) = source.geometry else {
            panic!("{here}: {code} is not a line in the source");
        };
        let Geometry::LineString(source_line) = projected(source, tile) else {
            panic!("{here}: {code} projects to a line");
        };
        for c in lines.iter().flat_map(LineString::coords) {
            assert!(
                clip.intersects(&Point(*c)),
                "{here}: {code} has vertex {c:?} outside the tile plus buffer {b}"
            );
            let off = Euclidean.distance(&Point(*c), &source_line);
            assert!(
                off <= tolerance,
                "{here}: {code} vertex {c:?} is {off} units from its source line"
            );
            vertices += 1;
        }
    }
    vertices
}

#[test]
fn basemap_tiles_decode_with_gdal_into_the_source() {
    require_gdal();
    let set = basemap_tileset();
    let snapshot = common::sample_engine().snapshot();
    assert_eq!(
        snapshot.basemap_len(),
        13,
        "the sample basemap is in the engine"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut tiles, mut vertices) = (0, 0);
    let mut classes_by_zoom: BTreeMap<u8, BTreeSet<String>> = BTreeMap::new();
    for (lon, lat) in PLACES {
        for z in set.minzoom..=set.maxzoom {
            for tile in tiles_around(z, lon, lat) {
                let rendered = render_tile(&snapshot, &set, tile.z, tile.x, tile.y, &|_| true)
                    .expect("render");
                assert_eq!(rendered.thinned, 0);
                let path = dir
                    .path()
                    .join(format!("basemap/{}/{}/{}.pbf", tile.z, tile.x, tile.y));
                std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
                std::fs::write(&path, &rendered.bytes).expect("write tile");
                let expected_counts: BTreeMap<String, usize> =
                    rendered.layers.iter().cloned().collect();
                if rendered.bytes.is_empty() {
                    assert_eq!(rendered.features, 0);
                } else {
                    assert_eq!(
                        ogrinfo_counts(&path),
                        expected_counts,
                        "{}/{}/{}",
                        tile.z,
                        tile.x,
                        tile.y
                    );
                }
                for def in set.layers.iter().filter(|d| d.serves(z)) {
                    let decoded = if expected_counts.contains_key(&def.name) {
                        decode_layer(&path, &def.name, tile)
                    } else {
                        Vec::new()
                    };
                    let here = format!("{}/{} {}/{}/{}", set.name, def.name, z, tile.x, tile.y);
                    let present: BTreeSet<String> =
                        decoded.iter().map(|(c, _, _)| c.clone()).collect();
                    let (must, may) = expected(def, tile);
                    assert!(must.is_subset(&present), "{here}: {must:?} ⊄ {present:?}");
                    assert!(present.is_subset(&may), "{here}: {present:?} ⊄ {may:?}");
                    if def.name == "water" {
                        for (code, _, g) in &decoded {
                            assert!(g.is_valid(), "{here}: water {code} is invalid");
                            assert!(matches!(
                                g,
                                Geometry::Polygon(_) | Geometry::MultiPolygon(_)
                            ));
                        }
                    } else {
                        vertices += check_lines(def, tile, &decoded);
                    }
                    if def.name == "road" {
                        let classes = classes_by_zoom.entry(z).or_default();
                        classes.extend(decoded.iter().map(|(_, class, _)| class.clone()));
                    }
                }
                tiles += 1;
            }
        }
    }
    eprintln!("{tiles} basemap tiles decoded by GDAL, {vertices} line vertices checked");
    assert!(vertices >= 500, "only {vertices} vertices checked");
    let minzoom = |class: BasemapKind| {
        classes_by_zoom
            .iter()
            .find(|(_, c)| c.contains(class.as_str()))
            .map(|(z, _)| *z)
    };
    assert_eq!(minzoom(BasemapKind::Motorway), Some(8));
    assert_eq!(minzoom(BasemapKind::Primary), Some(10));
    assert_eq!(minzoom(BasemapKind::Secondary), Some(12));
}

#[test]
fn a_long_line_crossing_many_tiles_is_cut_into_each_and_nowhere_else() {
    // G4 runs north–south over the whole city: at z12 every tile of its column holds a piece,
    // and the tiles one column east hold none.
    let set = basemap_tileset();
    let snapshot = common::sample_engine().snapshot();
    let g4 = snapshot.basemap_feature("R001").expect("G4 is R001");
    assert_eq!(g4.kind, BasemapKind::Motorway);
    let top = TileId::containing(12, 114.40, 35.95).expect("tile");
    let mut pieces = 0;
    for dy in 0..8 {
        let y = top.y + dy;
        let here = render_tile(&snapshot, &set, 12, top.x, y, &|_| true).expect("render");
        let roads = here.layers.iter().find(|(l, _)| l == "road");
        pieces += usize::from(roads.is_some());
    }
    assert!(
        pieces >= 7,
        "G4 is in only {pieces} of 8 tiles of its column"
    );
    let far = TileId::containing(12, 114.60, 35.95).expect("tile");
    let road_count = |x: u32, y: u32| {
        render_tile(&snapshot, &set, 12, x, y, &|_| true)
            .expect("render")
            .layers
            .into_iter()
            .find(|(l, _)| l == "road")
            .map_or(0, |(_, n)| n)
    };
    // 114.60°E at 35.95°N: no road runs there in the sample basemap.
    assert_eq!(road_count(far.x, far.y), 0);
}
