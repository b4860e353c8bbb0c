//! Tiles of the sample city decoded by an independent decoder: GDAL's MVT driver (`ogrinfo`,
//! `ogr2ogr`). Needs GDAL ≥ 3.x on PATH; fails (never skips) without it.
//!
//! For a fixed set of tiles at z10–z16 around the centre of 淇滨区 (410611) and one rural grid,
//! each tile is written to `<tmp>/<tileset>/z/x/y.pbf` (the driver places it from that path) and
//! checked: it opens without errors; the feature count of every layer equals what the renderer
//! says it wrote; every polygon is valid; every area of the layer whose geometry reaches into the
//! tile is present; decoded polygon areas equal the source clipped to the tile within one tile
//! pixel of boundary displacement; and grid borders inside the tile are shared: every grid edge
//! lies on another grid's edge unless it is on the outer edge of the grid coverage.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use common::gdal::{decode_tile_layer, geometry_of, ogrinfo_counts, require_gdal, text_property};

use geo::{Area, BooleanOps, BoundingRect, Distance, Euclidean, Length, Validation};
use geo_types::{coord, Coord, Geometry, Line, MultiPolygon, Polygon, Rect};
use gridmap::engine::Snapshot;
use gridmap::model::{Area as GridArea, Level};
use gridmap::tiles::{render_tile, TileId, Tileset, EXTENT};

/// One tile pixel (of a 256-pixel tile) in tile units.
const PIXEL: f64 = EXTENT as f64 / 256.0;

/// The places the suite looks at: the management center of 410611 and that of one rural grid.
fn places(snapshot: &Snapshot) -> Vec<(String, Coord<f64>)> {
    let district = snapshot.area("410611").expect("410611 in the sample");
    let centre = district
        .center
        .map(|p| p.0)
        .expect("410611 has a management center");
    let hebi = Rect::new(coord! {x: 113.9, y: 35.4}, coord! {x: 114.8, y: 36.1});
    let rural = snapshot
        .areas_in_bbox(hebi)
        .into_iter()
        .filter(|a| a.level == Level::Grid && a.urban_rural.is_some_and(|c| c >= 200))
        .find_map(|a| a.center.map(|c| (a.code.clone(), c.0)))
        .expect("a rural grid with a center");
    vec![("410611".into(), centre), rural]
}

/// The 2×2 tiles around a place at a zoom (the containing one and its east/south neighbours).
fn tiles_around(z: u8, c: Coord<f64>) -> Vec<TileId> {
    let t = TileId::containing(z, c.x, c.y).unwrap();
    let mut out = Vec::new();
    for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
        if let Ok(n) = TileId::new(z, t.x + dx, t.y + dy) {
            out.push(n);
        }
    }
    out
}

/// Decoded features of one layer: (code, geometry in tile units of `tile`).
fn decode_layer(path: &Path, layer: &str, tile: TileId) -> Vec<(String, Geometry<f64>)> {
    decode_tile_layer(path, layer, tile)
        .iter()
        .map(|f| (text_property(f, "code"), geometry_of(f)))
        .collect()
}

fn tile_rect() -> Polygon<f64> {
    Rect::new(
        coord! {x: 0.0, y: 0.0},
        coord! {x: f64::from(EXTENT), y: f64::from(EXTENT)},
    )
    .to_polygon()
}

fn as_multipolygon(g: &Geometry<f64>) -> MultiPolygon<f64> {
    match g {
        Geometry::Polygon(p) => MultiPolygon::new(vec![p.clone()]),
        Geometry::MultiPolygon(mp) => mp.clone(),
        other => panic!("expected a polygon, got {other:?}"),
    }
}

fn projected(area: &GridArea, tile: TileId) -> MultiPolygon<f64> {
    let frame = tile.frame(EXTENT);
    let mut mp = area.geometry.clone();
    use geo::MapCoordsInPlace;
    mp.map_coords_in_place(|c| frame.project(c.x, c.y));
    mp
}

/// Checks one polygon layer of a decoded tile against the source areas.
fn check_area_layer(
    snapshot: &Snapshot,
    tileset: &Tileset,
    layer: &str,
    tile: TileId,
    decoded: &[(String, Geometry<f64>)],
) {
    let def = tileset.layers.iter().find(|l| l.name == layer).unwrap();
    let here = format!("{}/{layer} {}/{}/{}", tileset.name, tile.z, tile.x, tile.y);
    let tile_poly = tile_rect();
    for (code, g) in decoded {
        let mp = as_multipolygon(g);
        assert!(
            mp.is_valid(),
            "{here}: {code} is invalid: {:?}",
            mp.validation_errors()
        );
        let area = snapshot
            .area(code)
            .unwrap_or_else(|| panic!("{here}: unknown code {code}"));
        let source = projected(area, tile).intersection(&tile_poly);
        let got = mp.intersection(&tile_poly);
        let perimeter: f64 = source
            .iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
            .map(|r| Euclidean.length(r))
            .sum();
        let diff = (got.unsigned_area() - source.unsigned_area()).abs();
        assert!(
            diff <= perimeter * PIXEL + PIXEL * PIXEL,
            "{here}: {code} area {} vs source {} (perimeter {perimeter})",
            got.unsigned_area(),
            source.unsigned_area()
        );
    }
    // Every area of the layer that reaches into the tile (by more than a pixel) is there.
    let inner = Rect::new(
        coord! {x: PIXEL, y: PIXEL},
        coord! {x: f64::from(EXTENT) - PIXEL, y: f64::from(EXTENT) - PIXEL},
    )
    .to_polygon();
    let present: std::collections::HashSet<&str> =
        decoded.iter().map(|(c, _)| c.as_str()).collect();
    let bbox = tile.lonlat_bounds(EXTENT, 0.0);
    for area in snapshot.areas_in_bbox(bbox) {
        if def.takes_area(&area.layer, area.level, tile.z)
            && projected(area, tile).intersection(&inner).unsigned_area() > PIXEL * PIXEL
        {
            assert!(
                present.contains(area.code.as_str()),
                "{here}: {} is missing",
                area.code
            );
        }
    }
}

/// Every grid edge inside the tile lies on another grid's edge, unless one of its sides is
/// outside every base grid (the edge of the city).
fn check_shared_borders(
    snapshot: &Snapshot,
    tile: TileId,
    decoded: &[(String, Geometry<f64>)],
) -> usize {
    const CELL: f64 = 64.0;
    let mut edges: Vec<(usize, Line<f64>)> = Vec::new();
    for (i, (_, g)) in decoded.iter().enumerate() {
        for p in as_multipolygon(g).iter() {
            for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                edges.extend(ring.lines().map(|l| (i, l)));
            }
        }
    }
    let mut cells: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
    for (k, (_, l)) in edges.iter().enumerate() {
        let r = l.bounding_rect();
        for cx in (r.min().x / CELL).floor() as i64..=(r.max().x / CELL).floor() as i64 {
            for cy in (r.min().y / CELL).floor() as i64..=(r.max().y / CELL).floor() as i64 {
                cells.entry((cx, cy)).or_default().push(k);
            }
        }
    }
    let frame = tile.frame(EXTENT);
    let inside = |c: Coord<f64>| {
        (1.0..f64::from(EXTENT) - 1.0).contains(&c.x)
            && (1.0..f64::from(EXTENT) - 1.0).contains(&c.y)
    };
    let mut checked = 0;
    for (owner, l) in &edges {
        let mid = coord! {x: (l.start.x + l.end.x) / 2.0, y: (l.start.y + l.end.y) / 2.0};
        let len = Euclidean.length(l);
        if !inside(l.start) || !inside(l.end) || len < 1.0 {
            continue;
        }
        let normal =
            coord! {x: -(l.end.y - l.start.y) / len * 2.0, y: (l.end.x - l.start.x) / len * 2.0};
        let covered = |c: Coord<f64>| {
            let (lon, lat) = frame.unproject(c);
            snapshot.grid_at(lon, lat).is_some()
        };
        if !covered(mid + normal) || !covered(mid - normal) {
            continue;
        }
        let cell = ((mid.x / CELL).floor() as i64, (mid.y / CELL).floor() as i64);
        let shared = cells.get(&cell).into_iter().flatten().any(|&k| {
            let (other, ol) = &edges[k];
            other != owner && Euclidean.distance(&geo_types::Point(mid), ol) < 0.01
        });
        assert!(
            shared,
            "{}/{}/{}: edge {l:?} of {} has no neighbour edge (a gap)",
            tile.z, tile.x, tile.y, decoded[*owner].0
        );
        checked += 1;
    }
    checked
}

#[test]
fn sample_tiles_decode_with_gdal_into_the_source() {
    require_gdal();
    let snapshot = common::sample_engine().snapshot();
    let sets = common::shipped_tilesets();
    let dir = tempfile::tempdir().unwrap();
    let mut tiles_checked = 0;
    let mut shared_checked = 0;
    for (_, place) in places(&snapshot) {
        for z in 10..=16u8 {
            for tile in tiles_around(z, place) {
                for set in &sets.tilesets {
                    if !(set.minzoom..=set.maxzoom).contains(&z) {
                        continue;
                    }
                    let rendered =
                        render_tile(&snapshot, set, tile.z, tile.x, tile.y, &|_| true).unwrap();
                    assert_eq!(rendered.thinned, 0);
                    if rendered.bytes.is_empty() {
                        assert_eq!(rendered.features, 0);
                        continue;
                    }
                    let path = dir
                        .path()
                        .join(&set.name)
                        .join(format!("{}/{}/{}.pbf", tile.z, tile.x, tile.y));
                    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                    std::fs::write(&path, &rendered.bytes).unwrap();
                    let counts = ogrinfo_counts(&path);
                    let expected: BTreeMap<String, usize> =
                        rendered.layers.iter().cloned().collect();
                    assert_eq!(
                        counts, expected,
                        "{} {}/{}/{}",
                        set.name, tile.z, tile.x, tile.y
                    );
                    for (layer, _) in &rendered.layers {
                        let decoded = decode_layer(&path, layer, tile);
                        let def = set.layers.iter().find(|l| &l.name == layer).unwrap();
                        match def.source {
                            gridmap::tiles::Source::Areas => {
                                check_area_layer(&snapshot, set, layer, tile, &decoded)
                            }
                            gridmap::tiles::Source::Buildings => {
                                for (code, g) in &decoded {
                                    assert!(
                                        as_multipolygon(g).is_valid(),
                                        "building {code} invalid"
                                    );
                                }
                            }
                            gridmap::tiles::Source::Basemap => {
                                // Checked in detail by tests/basemap_tiles.rs.
                                assert!(decoded.iter().all(|(_, g)| matches!(
                                    g,
                                    Geometry::LineString(_)
                                        | Geometry::MultiLineString(_)
                                        | Geometry::Polygon(_)
                                        | Geometry::MultiPolygon(_)
                                )));
                            }
                            gridmap::tiles::Source::AreaLabels => {
                                assert!(decoded
                                    .iter()
                                    .all(|(_, g)| matches!(g, Geometry::Point(_))));
                            }
                            gridmap::tiles::Source::EventClusters
                            | gridmap::tiles::Source::EventPoints
                            | gridmap::tiles::Source::Heatmap => {
                                // Square bins and events are points; checked in detail by
                                // tests/event_tiles.rs.
                                assert!(decoded
                                    .iter()
                                    .all(|(_, g)| matches!(g, Geometry::Point(_))));
                            }
                        }
                        if layer == "grid" {
                            shared_checked += check_shared_borders(&snapshot, tile, &decoded);
                        }
                    }
                    tiles_checked += 1;
                }
            }
        }
    }
    eprintln!("{tiles_checked} tiles decoded by GDAL, {shared_checked} shared grid edges checked");
    assert!(tiles_checked >= 40, "only {tiles_checked} tiles had data");
    assert!(
        shared_checked >= 100,
        "only {shared_checked} shared grid edges checked"
    );
}

#[test]
fn out_of_range_addresses_and_zooms_are_errors() {
    let snapshot = common::sample_engine().snapshot();
    let sets = common::shipped_tilesets();
    let b = sets.get("boundaries").unwrap();
    assert!(render_tile(&snapshot, b, 23, 0, 0, &|_| true).is_err());
    assert!(render_tile(&snapshot, b, 10, 1024, 0, &|_| true).is_err());
    let below = render_tile(&snapshot, b, b.minzoom - 1, 0, 0, &|_| true).unwrap_err();
    assert!(below.to_string().contains("outside"), "{below}");
}

#[test]
fn a_tile_outside_the_city_is_empty() {
    let snapshot = common::sample_engine().snapshot();
    let sets = common::shipped_tilesets();
    // Beijing at z12: no sample data there.
    let t = TileId::containing(12, 116.4, 39.9).unwrap();
    let out = render_tile(
        &snapshot,
        sets.get("boundaries").unwrap(),
        t.z,
        t.x,
        t.y,
        &|_| true,
    )
    .unwrap();
    assert!(out.bytes.is_empty());
    assert_eq!(out.features, 0);
}

#[test]
fn scope_keeps_features_outside_the_jurisdiction_out() {
    let snapshot = common::sample_engine().snapshot();
    let sets = common::shipped_tilesets();
    let b = sets.get("boundaries").unwrap();
    let centre = places(&snapshot)[0].1;
    let t = TileId::containing(12, centre.x, centre.y).unwrap();
    let all = render_tile(&snapshot, b, t.z, t.x, t.y, &|_| true).unwrap();
    let none = render_tile(&snapshot, b, t.z, t.x, t.y, &|_| false).unwrap();
    let scoped = render_tile(&snapshot, b, t.z, t.x, t.y, &|c| c.starts_with("410611")).unwrap();
    assert!(none.bytes.is_empty());
    assert!(
        scoped.features > 0 && scoped.features < all.features,
        "{} vs {}",
        scoped.features,
        all.features
    );
}

#[test]
fn the_grid_tile_is_covered_exactly_by_its_grids_and_the_same_every_time() {
    let snapshot = common::sample_engine().snapshot();
    let sets = common::shipped_tilesets();
    let b = sets.get("boundaries").unwrap();
    let centre = places(&snapshot)[0].1;
    let t = TileId::containing(14, centre.x, centre.y).unwrap();
    let first = render_tile(&snapshot, b, t.z, t.x, t.y, &|_| true).unwrap();
    let again = render_tile(&snapshot, b, t.z, t.x, t.y, &|_| true).unwrap();
    assert_eq!(first, again, "rendering is deterministic");
    // A polygon exactly covering the tile: the district around the centre covers its tile.
    let district = snapshot.area("410611").unwrap();
    let tile_poly = tile_rect();
    let covered = projected(district, t)
        .intersection(&tile_poly)
        .unsigned_area();
    if (covered - tile_poly.unsigned_area()).abs() < 1.0 {
        assert!(first.layers.iter().any(|(l, n)| l == "district" && *n >= 1));
    }
}

/// Vertices of each feature of `layer` that lie strictly inside `strip` (tile units of the
/// frame they were decoded in), keyed by code and rounded to 1/100 unit.
fn vertices_inside(
    decoded: &[(String, Geometry<f64>)],
    strip: Rect<f64>,
) -> BTreeMap<String, std::collections::BTreeSet<(i64, i64)>> {
    use geo::CoordsIter;
    let mut out: BTreeMap<String, std::collections::BTreeSet<(i64, i64)>> = BTreeMap::new();
    for (code, g) in decoded {
        let set = out.entry(code.clone()).or_default();
        for c in g.coords_iter() {
            let inside = c.x > strip.min().x
                && c.x < strip.max().x
                && c.y > strip.min().y
                && c.y < strip.max().y;
            if inside {
                set.insert(((c.x * 100.0).round() as i64, (c.y * 100.0).round() as i64));
            }
        }
    }
    out
}

#[test]
fn a_border_is_drawn_the_same_in_both_tiles_that_hold_it() {
    require_gdal();
    let snapshot = common::sample_engine().snapshot();
    let sets = common::shipped_tilesets();
    // Coarser simplification than the served tileset, so a border cut into other chains in
    // one of the two tiles would show.
    let mut coarse = sets.get("boundaries").unwrap().clone();
    for layer in &mut coarse.layers {
        layer.simplify_px = 4.0;
    }
    let b = &coarse;
    let dir = tempfile::tempdir().unwrap();
    let e = f64::from(EXTENT);
    let mut compared = 0;
    let write = |tile: TileId| {
        let path = dir
            .path()
            .join(format!("{}/{}/{}.pbf", tile.z, tile.x, tile.y));
        if !path.exists() {
            let rendered = render_tile(&snapshot, b, tile.z, tile.x, tile.y, &|_| true).unwrap();
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &rendered.bytes).unwrap();
        }
        path
    };
    for (_, place) in places(&snapshot) {
        for z in 12..=16u8 {
            let centre = TileId::containing(z, place.x, place.y).unwrap();
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let here = TileId::new(z, centre.x + dx, centre.y + dy).unwrap();
                let east = TileId::new(z, here.x + 1, here.y).unwrap();
                let south = TileId::new(z, here.x, here.y + 1).unwrap();
                for (other, seam) in [
                    (east, coord! {x: e, y: 0.0}),
                    (south, coord! {x: 0.0, y: e}),
                ] {
                    let (a, b_path) = (write(here), write(other));
                    for layer in ["street", "community", "grid"] {
                        let def = b.layers.iter().find(|l| l.name == layer).unwrap();
                        if !def.serves(z) {
                            continue;
                        }
                        let buffer = (def.buffer_px * PIXEL).round();
                        // Where both tiles hold geometry, away from either tile's clip lines;
                        // both decoded in the frame of `here`.
                        let strip = if seam.x > 0.0 {
                            Rect::new(
                                coord! {x: e - buffer + 0.5, y: -buffer + 0.5},
                                coord! {x: e + buffer - 0.5, y: e + buffer - 0.5},
                            )
                        } else {
                            Rect::new(
                                coord! {x: -buffer + 0.5, y: e - buffer + 0.5},
                                coord! {x: e + buffer - 0.5, y: e + buffer - 0.5},
                            )
                        };
                        let mine = vertices_inside(&decode_layer(&a, layer, here), strip);
                        let theirs = vertices_inside(&decode_layer(&b_path, layer, here), strip);
                        for (code, vertices) in &mine {
                            if let Some(other_vertices) = theirs.get(code) {
                                assert_eq!(
                                    vertices, other_vertices,
                                    "{layer} {code} near the edge of z{z} {}/{} and {}/{}",
                                    here.x, here.y, other.x, other.y
                                );
                                compared += vertices.len();
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(compared >= 100, "only {compared} vertices compared");
}
