//! The engine's border rule agrees with PostGIS, point for point.
//!
//! The sample city goes into a fresh PostGIS database through the PostGIS store; 100 000
//! seeded random points over its extent, plus every vertex of every base grid and the
//! midpoint of every grid edge, are assigned by the engine and by the SQL of the border rule
//! (`min(code)` among areas whose geometry `ST_Intersects` the point), level by level, and
//! must agree exactly.

mod common;

use std::collections::{BTreeSet, HashMap};

use geo::BoundingRect;
use gridmap::engine::Engine;
use gridmap::generate::{self, GenerateOptions, Scale};
use gridmap::model::{Area, Change, Layer, Level};
use gridmap::store::postgis::PostgisStore;
use gridmap::store::Store;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Random points over the city's extent.
const RANDOM_POINTS: usize = 100_000;
/// Points per SQL query.
const BATCH: usize = 10_000;

/// Per point: base level → owning code, as PostGIS says.
type Owners = Vec<HashMap<i16, String>>;

/// Seeded random points over the envelope of the base areas, then every grid vertex and the
/// midpoint of every grid edge.
fn probe_points(areas: &[Area]) -> Vec<(f64, f64)> {
    let grids: Vec<&Area> = areas
        .iter()
        .filter(|a| a.layer == Layer::Base && a.level == Level::Grid)
        .collect();
    let extent = grids
        .iter()
        .filter_map(|a| a.geometry.bounding_rect())
        .reduce(|a, b| {
            geo::Rect::new(
                geo::coord! {x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y)},
                geo::coord! {x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y)},
            )
        })
        .expect("the sample city has grids");
    let mut rng = ChaCha8Rng::seed_from_u64(20240601);
    let mut points: Vec<(f64, f64)> = (0..RANDOM_POINTS)
        .map(|_| {
            (
                rng.random_range(extent.min().x..=extent.max().x),
                rng.random_range(extent.min().y..=extent.max().y),
            )
        })
        .collect();
    let mut vertices = BTreeSet::new();
    let mut midpoints = Vec::new();
    for grid in &grids {
        for polygon in &grid.geometry.0 {
            for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
                for w in ring.0.windows(2) {
                    vertices.insert((w[0].x.to_bits(), w[0].y.to_bits()));
                    midpoints.push(((w[0].x + w[1].x) / 2.0, (w[0].y + w[1].y) / 2.0));
                }
            }
        }
    }
    points.extend(
        vertices
            .into_iter()
            .map(|(x, y)| (f64::from_bits(x), f64::from_bits(y))),
    );
    points.extend(midpoints);
    points
}

/// The border rule in SQL, for every base level at once, in batches.
async fn postgis_owners(client: &tokio_postgres::Client, points: &[(f64, f64)]) -> Owners {
    let sql = "SELECT p.i, a.level, min(a.code) \
               FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY p(lon, lat, i) \
               JOIN area a ON a.layer = 'base' \
                AND ST_Intersects(a.geom, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4490)) \
               GROUP BY p.i, a.level";
    let mut owners: Owners = vec![HashMap::new(); points.len()];
    for (chunk_no, chunk) in points.chunks(BATCH).enumerate() {
        let lons: Vec<f64> = chunk.iter().map(|p| p.0).collect();
        let lats: Vec<f64> = chunk.iter().map(|p| p.1).collect();
        let rows = client
            .query(sql, &[&lons, &lats])
            .await
            .expect("border-rule query");
        for row in rows {
            let i: i64 = row.get(0);
            let index = chunk_no * BATCH + usize::try_from(i - 1).expect("ordinality starts at 1");
            owners[index].insert(row.get(1), row.get(2));
        }
    }
    owners
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn point_in_grid_agrees_with_postgis() {
    let city = generate::city(&GenerateOptions {
        scale: Scale::Sample,
        seed: 1,
        progress: false,
        events: None,
        as_of: None,
    })
    .expect("generate the sample city");
    let areas = city.dataset.areas.clone();
    let url = common::fresh_postgis_url().await;
    let store = PostgisStore::connect(&url)
        .await
        .expect("connect to the test database");
    let changes: Vec<Change> = areas.iter().cloned().map(Change::UpsertArea).collect();
    store.apply(&changes).await.expect("load the sample areas");
    let client = store.pool().get().await.expect("a pooled connection");

    let engine = Engine::new(city.dataset);
    let snapshot = engine.snapshot();
    let points = probe_points(&areas);
    let expected = postgis_owners(&client, &points).await;

    let mut mismatches = Vec::new();
    let mut on_grids = 0usize;
    for (&(lon, lat), want) in points.iter().zip(&expected) {
        let got: HashMap<i16, String> = snapshot
            .lookup(lon, lat)
            .into_iter()
            .map(|a| (a.level.as_i16(), a.code.clone()))
            .collect();
        let grid = snapshot.grid_at(lon, lat).map(|g| g.code.clone());
        on_grids += usize::from(grid.is_some());
        if got != *want || grid.as_ref() != want.get(&Level::Grid.as_i16()) {
            mismatches.push(format!(
                "({lon:.15}, {lat:.15}): engine {got:?}, PostGIS {want:?}"
            ));
        }
    }
    assert!(
        on_grids > points.len() / 2,
        "most probe points fall in grids: {on_grids} of {}",
        points.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} of {} points differ; first ones:\n{}",
        mismatches.len(),
        points.len(),
        mismatches
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
