//! `gridmap import` against the real embedded store (GeoPackage): every refusal names the
//! feature and the problem and leaves the store unchanged; valid files land where they should.

mod common;

use std::path::{Path, PathBuf};

use geo_types::{polygon, Coord, MultiPolygon, Polygon};
use gridmap::crs::{from_storage, wgs84_to_gcj02, Crs};
use gridmap::import::{import_file, ImportError, ImportKind, ImportOptions, ImportReport};
use gridmap::model::{Area, Building, BuildingUse, Change, House, HouseUse, Level};
use gridmap::store::gpkg::GpkgStore;
use gridmap::store::{Counts, Store};
use tempfile::TempDir;

/// A store holding a small base hierarchy: city 410600 > district 410611 > street 410611001 >
/// community 410611001001 (114.2–114.4°E, 35.7–35.8°N) > grids …001 (west half) and …002
/// (east half); one building and one house in grid …001.
async fn seeded_store(dir: &TempDir) -> GpkgStore {
    let store = GpkgStore::open(&dir.path().join("store.gpkg")).expect("open store");
    let city = square(114.0, 35.5, 114.6, 36.0);
    let community = square(114.2, 35.7, 114.4, 35.8);
    let changes = vec![
        Change::UpsertArea(area("410600", Level::City, None, city.clone())),
        Change::UpsertArea(area(
            "410611",
            Level::District,
            Some("410600"),
            city.clone(),
        )),
        Change::UpsertArea(area("410611001", Level::Street, Some("410611"), city)),
        Change::UpsertArea(area(
            "410611001001",
            Level::Community,
            Some("410611001"),
            community,
        )),
        Change::UpsertArea(area(
            "410611001001001",
            Level::Grid,
            Some("410611001001"),
            square(114.2, 35.7, 114.3, 35.8),
        )),
        Change::UpsertArea(area(
            "410611001001002",
            Level::Grid,
            Some("410611001001"),
            square(114.3, 35.7, 114.4, 35.8),
        )),
        Change::UpsertBuilding(Building {
            code: "41061100100100001".into(),
            name: "1号楼".into(),
            address: None,
            compound: None,
            building_use: BuildingUse::Residential,
            floors: 6,
            height_m: 18.0,
            geometry: footprint(114.25, 35.75),
            grid_code: Some("410611001001001".into()),
        }),
        Change::UpsertHouse(House {
            code: "410611001001000010101001".into(),
            building_code: "41061100100100001".into(),
            unit: 1,
            floor: 1,
            room: "01".into(),
            house_use: HouseUse::OwnerOccupied,
            households: 1,
        }),
    ];
    store.apply(&changes).await.expect("seed store");
    store
}

fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon<f64> {
    MultiPolygon(vec![
        polygon![(x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1), (x: x0, y: y1), (x: x0, y: y0)],
    ])
}

fn footprint(lon: f64, lat: f64) -> Polygon<f64> {
    let d = 0.0002;
    polygon![(x: lon, y: lat), (x: lon + d, y: lat), (x: lon + d, y: lat + d), (x: lon, y: lat + d), (x: lon, y: lat)]
}

fn area(code: &str, level: Level, parent: Option<&str>, geometry: MultiPolygon<f64>) -> Area {
    Area {
        name: format!("区域{code}"),
        geometry,
        ..common::records::area(code, level, parent, 0.0, 1.0)
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(name)
}

fn write(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write input");
    path
}

/// A FeatureCollection of the given features (JSON text each).
fn collection(features: &[String]) -> String {
    format!(
        r#"{{"type": "FeatureCollection", "features": [{}]}}"#,
        features.join(",")
    )
}

/// An area feature with a square boundary inside the seeded community.
fn area_feature(code: &str, level: &str, parent: &str) -> String {
    format!(
        r#"{{"type": "Feature", "properties": {{"code": "{code}", "level": "{level}", "name": "新区域", "parent_code": "{parent}"}},
            "geometry": {{"type": "Polygon", "coordinates": [[[114.21, 35.71], [114.22, 35.71], [114.22, 35.72], [114.21, 35.72], [114.21, 35.71]]]}}}}"#
    )
}

async fn run(store: &GpkgStore, path: &Path, kind: ImportKind) -> ImportReport {
    import_file(store, path, &ImportOptions::new(kind))
        .await
        .expect("import runs")
}

/// Imports a file that must be refused: nothing written, the store unchanged, and exactly
/// the given message fragments found among the errors. Returns the report.
async fn refused(
    store: &GpkgStore,
    path: &Path,
    kind: ImportKind,
    expected: &[&str],
) -> ImportReport {
    let before: Counts = store.counts().await.expect("counts");
    let report = run(store, path, kind).await;
    assert_eq!(report.written, 0, "{report:?}");
    assert_eq!(
        store.counts().await.expect("counts"),
        before,
        "store changed"
    );
    let messages: Vec<String> = report.errors.iter().map(|e| e.message.clone()).collect();
    for fragment in expected {
        assert!(
            messages.iter().any(|m| m.contains(fragment)),
            "no error contains {fragment:?}: {messages:#?}"
        );
    }
    report
}

#[tokio::test]
async fn empty_collection_writes_nothing() {
    let dir = TempDir::new().unwrap();
    let store = seeded_store(&dir).await;
    let path = write(&dir, "empty.geojson", &collection(&[]));
    let report = run(&store, &path, ImportKind::Areas).await;
    assert_eq!((report.read, report.valid, report.written), (0, 0, 0));
    assert!(report.errors.is_empty());
}

#[tokio::test]
async fn unsupported_or_broken_files_are_refused_whole() {
    let dir = TempDir::new().unwrap();
    let store = seeded_store(&dir).await;
    let shp = write(&dir, "areas.shp", "");
    let err = import_file(&store, &shp, &ImportOptions::new(ImportKind::Areas))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ImportError::UnsupportedFormat { .. }),
        "{err}"
    );
    assert!(err.to_string().contains(".geojson, .json, .gpkg and .csv"));
    let broken = write(&dir, "broken.geojson", r#"{"type": "Feature"}"#);
    let err = import_file(&store, &broken, &ImportOptions::new(ImportKind::Areas))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("expected a FeatureCollection"),
        "{err}"
    );
    let missing = dir.path().join("missing.csv");
    assert!(
        import_file(&store, &missing, &ImportOptions::new(ImportKind::Areas))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn bad_code_format_is_named() {
    let dir = TempDir::new().unwrap();
    let store = seeded_store(&dir).await;
    let path = write(
        &dir,
        "a.geojson",
        &collection(&[area_feature("41061100100x", "community", "410611001")]),
    );
    let report = refused(
        &store,
        &path,
        ImportKind::Areas,
        &["\"41061100100x\" is not a valid area code"],
    )
    .await;
    assert_eq!(report.errors[0].index, 0);
    assert_eq!(report.errors[0].id.as_deref(), Some("41061100100x"));
}

#[tokio::test]
async fn level_and_code_length_must_agree() {
    let dir = TempDir::new().unwrap();
    let store = seeded_store(&dir).await;
    let path = write(
        &dir,
        "a.geojson",
        &collection(&[area_feature("410611001001003", "community", "410611001")]),
    );
    refused(
        &store,
        &path,
        ImportKind::Areas,
        &["code 410611001001003 has 15 characters but a base community code has 12 digits"],
    )
    .await;
}

#[tokio::test]
async fn unknown_parent_is_named() {
    let dir = TempDir::new().unwrap();
    let store = seeded_store(&dir).await;
    let path = write(
        &dir,
        "a.geojson",
        &collection(&[area_feature("410611009001", "community", "410611009")]),
    );
    refused(
        &store,
        &path,
        ImportKind::Areas,
        &["parent_code 410611009: no area with this code in the store or in this file"],
    )
    .await;
}

#[tokio::test]
async fn parent_later_in_the_file_is_accepted_and_written_first() {
    let dir = TempDir::new().unwrap();
    let store = seeded_store(&dir).await;
    let path = write(
        &dir,
        "a.geojson",
        &collection(&[
            area_feature("410611002001", "community", "410611002"),
            area_feature("410611002", "street", "410611"),
        ]),
    );
    let report = run(&store, &path, ImportKind::Areas).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.written, 2);
    assert_eq!(store.counts().await.unwrap().areas, 8);
}

#[tokio::test]
async fn child_of_a_rejected_parent_says_so() {
    let dir = TempDir::new().unwrap();
    let store = seeded_store(&dir).await;
    let bad_parent =
        area_feature("410611002", "street", "410611").replace("\"name\": \"新区域\", ", "");
    let path = write(
        &dir,
        "a.geojson",
        &collection(&[
            bad_parent,
            area_feature("410611002001", "community", "410611002"),
        ]),
    );
    let report = refused(
        &store,
        &path,
        ImportKind::Areas,
        &[
            "missing required field name",
            "refers to feature 0 of this file, which was rejected",
        ],
    )
    .await;
    assert_eq!(report.errors[1].index, 1);
}

#[tokio::test]
async fn duplicate_code_in_the_file_names_the_first() {
    let dir = TempDir::new().unwrap();
    let store = seeded_store(&dir).await;
    let feature = area_feature("410611001004", "community", "410611001");
    let path = write(&dir, "a.geojson", &collection(&[feature.clone(), feature]));
    let report = refused(
        &store,
        &path,
        ImportKind::Areas,
        &["duplicate code 410611001004: feature 0 of this file has it already"],
    )
    .await;
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].index, 1);
}

#[tokio::test]
async fn out_of_range_coordinates_are_named() {
    let dir = TempDir::new().unwrap();
    let store = seeded_store(&dir).await;
    let feature = area_feature("410611001004", "community", "410611001")
        .replace("[114.21, 35.71]", "[11.421, 35.71]");
    let path = write(&dir, "a.geojson", &collection(&[feature]));
    refused(
        &store,
        &path,
        ImportKind::Areas,
        &["coordinate lon 11.4210000, lat 35.7100000 is out of range"],
    )
    .await;
}

#[tokio::test]
async fn self_intersection_names_its_location() {
    let dir = TempDir::new().unwrap();
    let store = seeded_store(&dir).await;
    let report = refused(
        &store,
        &fixture("self_intersecting.geojson"),
        ImportKind::Areas,
        &["exterior ring intersects itself at lon 114.2500000, lat 35.7500000"],
    )
    .await;
    assert_eq!(report.errors[0].id.as_deref(), Some("410611001003"));
}

#[tokio::test]
async fn unclosed_and_short_rings_are_named() {
    let dir = TempDir::new().unwrap();
    let store = seeded_store(&dir).await;
    let unclosed =
        area_feature("410611001004", "community", "410611001").replace(", [114.21, 35.71]]]", "]]");
    let short = area_feature("410611001005", "community", "410611001").replace(
        "[[[114.21, 35.71], [114.22, 35.71], [114.22, 35.72], [114.21, 35.72], [114.21, 35.71]]]",
        "[[[114.21, 35.71], [114.22, 35.71], [114.21, 35.71]]]",
    );
    let path = write(&dir, "a.geojson", &collection(&[unclosed, short]));
    refused(
        &store,
        &path,
        ImportKind::Areas,
        &[
            "exterior ring is not closed: it starts at (114.21, 35.71) and ends at (114.21, 35.72)",
            "exterior ring has 3 positions; a ring needs at least 4",
        ],
    )
    .await;
}

#[tokio::test]
async fn every_error_is_reported_not_just_the_first() {
    let dir = TempDir::new().unwrap();
    let store = seeded_store(&dir).await;
    let path = write(
        &dir,
        "a.geojson",
        &collection(&[
            area_feature("410611001004", "community", "410611001"),
            area_feature("4106110010x5", "community", "410611001"),
            area_feature("410611001006", "village", "410611001"),
        ]),
    );
    let report = refused(
        &store,
        &path,
        ImportKind::Areas,
        &["not a valid area code", "unknown level \"village\": accepted are city, district, street, community, grid, microgrid, or 1–6"],
    )
    .await;
    assert_eq!((report.read, report.valid), (3, 1));
    let indexes: Vec<usize> = report.errors.iter().map(|e| e.index).collect();
    assert_eq!(indexes, vec![1, 2]);
}

#[tokio::test]
async fn dry_run_validates_and_writes_nothing() {
    let dir = TempDir::new().unwrap();
    let store = seeded_store(&dir).await;
    let before = store.counts().await.unwrap();
    let path = write(
        &dir,
        "a.geojson",
        &collection(&[area_feature("410611001004", "community", "410611001")]),
    );
    let opts = ImportOptions {
        dry_run: true,
        ..ImportOptions::new(ImportKind::Areas)
    };
    let report = import_file(&store, &path, &opts).await.unwrap();
    assert_eq!((report.read, report.valid, report.written), (1, 1, 0));
    assert!(report.errors.is_empty());
    assert_eq!(store.counts().await.unwrap(), before);
}

#[tokio::test]
async fn without_all_or_nothing_the_valid_features_are_written() {
    let dir = TempDir::new().unwrap();
    let store = seeded_store(&dir).await;
    let path = write(
        &dir,
        "a.geojson",
        &collection(&[
            area_feature("410611001004", "community", "410611001"),
            area_feature("bad", "community", "410611001"),
        ]),
    );
    let opts = ImportOptions {
        all_or_nothing: false,
        ..ImportOptions::new(ImportKind::Areas)
    };
    let report = import_file(&store, &path, &opts).await.unwrap();
    assert_eq!(
        (
            report.read,
            report.valid,
            report.written,
            report.errors.len()
        ),
        (2, 1, 1, 1)
    );
    assert_eq!(store.counts().await.unwrap().areas, 7);
}

#[tokio::test]
async fn areas_in_gauss_kruger_land_at_the_right_lon_lat() {
    let dir = TempDir::new().unwrap();
    let store = seeded_store(&dir).await;
    // The fixture's coordinates were computed with an independent Krüger-series implementation
    // from the lon/lat corners (114.25, 35.75) … (114.35, 35.78) in EPSG:4547 (CM 114°E).
    let report = run(
        &store,
        &fixture("areas_epsg4547.geojson"),
        ImportKind::Areas,
    )
    .await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!((report.written, report.crs.as_str()), (1, "EPSG:4547"));
    let data = store.load().await.unwrap();
    let community = data
        .areas
        .iter()
        .find(|a| a.code == "410611001002")
        .expect("imported");
    let corners: Vec<Coord<f64>> = community.geometry.0[0].exterior().0.clone();
    let expected = [
        (114.25, 35.75),
        (114.35, 35.75),
        (114.35, 35.78),
        (114.25, 35.78),
        (114.25, 35.75),
    ];
    assert_eq!(corners.len(), expected.len());
    for (c, (lon, lat)) in corners.iter().zip(expected) {
        assert!(
            (c.x - lon).abs() < 1e-8 && (c.y - lat).abs() < 1e-8,
            "{c:?} vs ({lon}, {lat})"
        );
    }
    let center = community.center.expect("center");
    assert!(
        (center.x() - 114.30).abs() < 1e-8 && (center.y() - 35.765).abs() < 1e-8,
        "{center:?}"
    );
    assert_eq!(community.leader_name.as_deref(), Some("王网格"));
    assert_eq!(community.urban_rural, Some(111));
}

#[tokio::test]
async fn crs_flag_overrides_the_file() {
    let dir = TempDir::new().unwrap();
    let store = seeded_store(&dir).await;
    let opts = ImportOptions {
        crs: Some(Crs::Wgs84),
        dry_run: true,
        ..ImportOptions::new(ImportKind::Areas)
    };
    let report = import_file(&store, &fixture("areas_epsg4547.geojson"), &opts)
        .await
        .unwrap();
    assert_eq!(report.crs, "EPSG:4326");
    assert!(
        report
            .errors
            .iter()
            .any(|e| e.message.contains("out of range")),
        "{:?}",
        report.errors
    );
}

/// Metres between two nearby lon/lat points.
fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
    let k = 6_371_008.8_f64.to_radians();
    ((a.0 - b.0) * k * a.1.to_radians().cos()).hypot((a.1 - b.1) * k)
}

async fn stored_events(store: &GpkgStore) -> Vec<gridmap::model::Event> {
    let mut events = Vec::new();
    store
        .load_events(&mut |chunk| events.extend(chunk))
        .await
        .unwrap();
    events.sort_by(|a, b| a.external_id.cmp(&b.external_id));
    events
}

#[tokio::test]
async fn events_in_gcj02_land_within_a_metre_of_the_truth() {
    let dir = TempDir::new().unwrap();
    let store = seeded_store(&dir).await;
    let opts = ImportOptions {
        crs: Some(Crs::Gcj02),
        ..ImportOptions::new(ImportKind::Events)
    };
    let report = import_file(&store, &fixture("events_gcj02.csv"), &opts)
        .await
        .unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.written, 3);
    let events = stored_events(&store).await;
    let truth = [(114.25, 35.75), (114.35, 35.76), (114.5, 35.9)];
    for (event, t) in events.iter().zip(truth) {
        let got = (event.location.x(), event.location.y());
        assert!(metres(got, t) < 1.0, "{}: {got:?} vs {t:?}", event.title);
    }
    assert_eq!(events[0].area_code.as_deref(), Some("410611001001001"));
    assert_eq!(events[1].area_code.as_deref(), Some("410611001001002"));
    assert_eq!(
        (events[2].area_code.as_deref(), events[2].outside_grid),
        (Some("410611001"), true)
    );
    assert_eq!(events[0].code, "E20240501000001");
    assert_eq!(
        events[0].reported_at.to_rfc3339(),
        "2024-05-01T00:30:00+00:00"
    );
    assert_eq!(events[0].status, gridmap::model::EventStatus::Reported);
    assert_eq!(events[0].transitions.len(), 1);
}

#[tokio::test]
async fn reimporting_events_updates_instead_of_duplicating() {
    let dir = TempDir::new().unwrap();
    let store = seeded_store(&dir).await;
    let opts = ImportOptions {
        crs: Some(Crs::Gcj02),
        ..ImportOptions::new(ImportKind::Events)
    };
    import_file(&store, &fixture("events_gcj02.csv"), &opts)
        .await
        .unwrap();
    let first: Vec<String> = stored_events(&store)
        .await
        .into_iter()
        .map(|e| e.code)
        .collect();
    let report = import_file(&store, &fixture("events_gcj02.csv"), &opts)
        .await
        .unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let second: Vec<String> = stored_events(&store)
        .await
        .into_iter()
        .map(|e| e.code)
        .collect();
    assert_eq!(first, second);
    assert_eq!(store.counts().await.unwrap().events, 3);
}

#[tokio::test]
async fn event_values_are_checked() {
    let dir = TempDir::new().unwrap();
    let store = seeded_store(&dir).await;
    let path = write(
        &dir,
        "e.csv",
        "code,title,category,source,status,lon,lat\n\
         E1,井盖,01-02,fax,done,114.25,35.75\n\
         E2,井盖,0102,app,closed,114.25,35.75\n\
         E3,,0102,app,,114.25,35.75\n",
    );
    refused(
        &store,
        &path,
        ImportKind::Events,
        &[
            "category \"01-02\" must be 1 to 16 ASCII letters or digits",
            "unknown source \"fax\": expected patrol, hotline, wechat, app or video",
            "unknown status \"done\": accepted are reported, registered, dispatched, handling, feedback, closed, evaluated",
            "status closed needs closed_at",
            "title is required",
        ],
    )
    .await;
}

#[tokio::test]
async fn buildings_get_their_grid_and_unknown_communities_are_refused() {
    let dir = TempDir::new().unwrap();
    let store = seeded_store(&dir).await;
    let wkt = |lon: f64, lat: f64| {
        format!(
            "\"POLYGON(({lon} {lat},{} {lat},{} {},{lon} {},{lon} {lat}))\"",
            lon + 0.0002,
            lon + 0.0002,
            lat + 0.0002,
            lat + 0.0002
        )
    };
    let bad = write(
        &dir,
        "b.csv",
        &format!(
            "code,name,use,floors,wkt\n41061100100900001,2号楼,residential,6,{}\n41061100100100002,3号楼,castle,6,{}\n",
            wkt(114.35, 35.75),
            wkt(114.35, 35.75)
        ),
    );
    refused(
        &store,
        &bad,
        ImportKind::Buildings,
        &[
            "community 410611001009 (the first 12 digits of building code 41061100100900001) is not in the store",
            "unknown building_use \"castle\": accepted are residential, commercial, mixed, public, industrial",
        ],
    )
    .await;
    let good = write(
        &dir,
        "g.csv",
        &format!(
            "code,name,use,floors,wkt\n41061100100100002,3号楼,residential,6,{}\n",
            wkt(114.35, 35.75)
        ),
    );
    let report = run(&store, &good, ImportKind::Buildings).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let data = store.load().await.unwrap();
    let building = data
        .buildings
        .iter()
        .find(|b| b.code == "41061100100100002")
        .expect("imported");
    assert_eq!(building.grid_code.as_deref(), Some("410611001001002"));
    assert_eq!(building.height_m, 18.0);
}

#[tokio::test]
async fn houses_need_a_known_building() {
    let dir = TempDir::new().unwrap();
    let store = seeded_store(&dir).await;
    let path = write(
        &dir,
        "h.csv",
        "code,house_use\n410611001001000990101001,rented\n",
    );
    refused(
        &store,
        &path,
        ImportKind::Houses,
        &["building_code 41061100100100099: no building with this code in the store"],
    )
    .await;
    let path = write(
        &dir,
        "h2.csv",
        "code,house_use,households\n410611001001000010102001,rented,2\n",
    );
    let report = run(&store, &path, ImportKind::Houses).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let data = store.load().await.unwrap();
    let house = data
        .houses
        .iter()
        .find(|h| h.code == "410611001001000010102001")
        .expect("imported");
    assert_eq!(
        (
            house.unit,
            house.floor,
            house.room.as_str(),
            house.households
        ),
        (1, 20, "01", 2)
    );
}

#[tokio::test]
async fn population_needs_a_known_house_and_consistent_counts() {
    let dir = TempDir::new().unwrap();
    let store = seeded_store(&dir).await;
    let path = write(
        &dir,
        "p.csv",
        "house_code,registered,floating,elderly_alone\n410611001001000010101099,2,0,0\n410611001001000010101001,1,0,2\n",
    );
    refused(
        &store,
        &path,
        ImportKind::Population,
        &[
            "house_code 410611001001000010101099: no house with this code in the store",
            "elderly_alone is 2 but the house has only 1 residents",
        ],
    )
    .await;
    let path = write(
        &dir,
        "p2.csv",
        "house_code,registered,floating,elderly_alone\n410611001001000010101001,2,1,1\n",
    );
    let report = run(&store, &path, ImportKind::Population).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(store.counts().await.unwrap().population, 1);
}

#[tokio::test]
async fn workers_need_a_known_home_area_and_role() {
    let dir = TempDir::new().unwrap();
    let store = seeded_store(&dir).await;
    let path = write(&dir, "w.csv", "code,name,role,home_code\nW001,张三,boss,410611001001001\nW002,李四,grid_worker,410611001001099\n");
    refused(
        &store,
        &path,
        ImportKind::Workers,
        &[
            "unknown role \"boss\": accepted are grid_leader, grid_worker",
            "home_code 410611001001099: no area with this code in the store",
        ],
    )
    .await;
    let path = write(
        &dir,
        "w2.csv",
        "code,name,role,home_code,phone\nW001,张三,grid_worker,410611001001001,13800000000\n",
    );
    assert!(run(&store, &path, ImportKind::Workers)
        .await
        .errors
        .is_empty());
    assert_eq!(store.counts().await.unwrap().workers, 1);
}

#[tokio::test]
async fn geopackage_of_another_gridmap_store_imports() {
    let dir = TempDir::new().unwrap();
    let source = seeded_store(&dir).await;
    drop(source);
    let target_dir = TempDir::new().unwrap();
    let target = GpkgStore::open(&target_dir.path().join("target.gpkg")).unwrap();
    let report = run(&target, &dir.path().join("store.gpkg"), ImportKind::Areas).await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(
        (report.read, report.written, report.crs.as_str()),
        (6, 6, "EPSG:4490")
    );
    let report = run(
        &target,
        &dir.path().join("store.gpkg"),
        ImportKind::Buildings,
    )
    .await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let data = target.load().await.unwrap();
    assert_eq!(
        data.buildings[0].grid_code.as_deref(),
        Some("410611001001001")
    );
    let grid = data
        .areas
        .iter()
        .find(|a| a.code == "410611001001002")
        .unwrap();
    assert_eq!(grid.geometry, square(114.3, 35.7, 114.4, 35.8));
}

#[tokio::test]
async fn gauss_kruger_csv_with_a_misplaced_zone_prefix_gets_a_hint() {
    let dir = TempDir::new().unwrap();
    let store = seeded_store(&dir).await;
    let (x, y) = from_storage(Crs::GaussKruger(4526), 114.25, 35.75).unwrap();
    let path = write(
        &dir,
        "e.csv",
        &format!("title,category,source,x,y\n井盖,0102,patrol,{x},{y}\n"),
    );
    let opts = ImportOptions {
        crs: Some(Crs::GaussKruger(4547)),
        ..ImportOptions::new(ImportKind::Events)
    };
    let report = import_file(&store, &path, &opts).await.unwrap();
    assert!(
        report.errors[0].message.contains("probably in EPSG:4526"),
        "{:?}",
        report.errors
    );
    let opts = ImportOptions {
        crs: Some(Crs::GaussKruger(4526)),
        ..ImportOptions::new(ImportKind::Events)
    };
    let report = import_file(&store, &path, &opts).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let event = &stored_events(&store).await[0];
    assert!(metres((event.location.x(), event.location.y()), (114.25, 35.75)) < 0.001);
    let (gx, gy) = wgs84_to_gcj02(114.25, 35.75);
    assert!(metres((gx, gy), (114.25, 35.75)) > 100.0);
}
