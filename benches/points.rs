//! P3 (point → grid) and P7 (start-up) on the city-scale synthetic city.
//!
//! P3: one million seeded random points inside the city's extent, assigned to their base grid
//! by the engine (one thread, then every core) and by PostGIS (the border rule as a join on the
//! GiST-indexed area table, in batches), in the same run; prints points/s of each and the ratio,
//! and checks that both gave the same grid for every point.
//! P7: `Engine::new` from a loaded dataset (time, resident memory), and the full start-up
//! (`store.load()` from PostGIS + `Engine::new`) in a fresh process, whose peak RSS (VmHWM) is
//! the service's.
//!
//! Run through `scripts/bench points`, which prepares PostgreSQL and sets `GRIDMAP_BENCH_DB`
//! to the URL of a fresh database with PostGIS. `cargo bench --bench points -- --engine-only`
//! times the engine alone.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use geo::BoundingRect;
use gridmap::engine::Engine;
use gridmap::generate::{self, GenerateOptions, Scale};
use gridmap::model::{Area, Change, Dataset, Layer, Level};
use gridmap::store::postgis::PostgisStore;
use gridmap::store::Store;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const POINTS: usize = 1_000_000;
const SQL_BATCH: usize = 10_000;
const SEED: u64 = 1;
/// Argument that times the engine alone, with no database (for work on the engine).
const ENGINE_ONLY: &str = "--engine-only";
/// Argument that makes this binary measure the start-up in a fresh process.
const STARTUP_CHILD: &str = "--startup-child";

/// The border rule as a join, as DESIGN.md's anchor: PostGIS with a GiST index on the grids.
const POSTGIS_JOIN: &str = "SELECT p.i, min(a.code) \
    FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY p(lon, lat, i) \
    JOIN area a ON a.layer = 'base' AND a.level = 5 \
     AND ST_Intersects(a.geom, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4490)) \
    GROUP BY p.i";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if let Some(pos) = args.iter().position(|a| a == STARTUP_CHILD) {
        let url = args
            .get(pos + 1)
            .context("--startup-child needs a database URL")?;
        return runtime.block_on(startup_child(url));
    }
    runtime.block_on(run(args.iter().any(|a| a == ENGINE_ONLY)))
}

/// Reads a `/proc/self/status` field in kB (VmRSS, VmHWM).
fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn mib(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// Child mode: the service's start-up as it happens in production, measured from a clean
/// process so that VmHWM is the start-up's own peak.
async fn startup_child(url: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let store = PostgisStore::connect(url).await?;
    let data = store.load().await?;
    let loaded = started.elapsed();
    let engine = Engine::new(data);
    let total = started.elapsed();
    let sizes = engine.snapshot().sizes();
    println!(
        "startup load_s={:.3} engine_s={:.3} total_s={:.3} vmhwm_kb={} grids={} buildings={}",
        loaded.as_secs_f64(),
        (total - loaded).as_secs_f64(),
        total.as_secs_f64(),
        status_kb("VmHWM:"),
        sizes.grids,
        sizes.buildings
    );
    Ok(())
}

struct Row {
    what: String,
    value: String,
}

fn row(rows: &mut Vec<Row>, what: &str, value: String) {
    println!("  {what:<48} {value}");
    rows.push(Row {
        what: what.into(),
        value,
    });
}

async fn run(engine_only: bool) -> anyhow::Result<()> {
    let database = if engine_only {
        None
    } else {
        Some(std::env::var("GRIDMAP_BENCH_DB").context(
            "GRIDMAP_BENCH_DB is not set: run the benchmark with scripts/bench points \
             (or pass --engine-only to time the engine alone)",
        )?)
    };
    let mut rows = Vec::new();
    let data = generate_city(&mut rows)?;
    if let Some(database) = &database {
        load_into_postgis(database, &data, &mut rows).await?;
    }
    let points = random_points(&data.areas)?;
    let (engine_grids, single) = engine_figures(data, &points, &mut rows);
    let mut differ = 0;
    if let Some(database) = &database {
        let (postgis_grids, sql) = postgis_grids(database, &points).await?;
        row(
            &mut rows,
            "P3 PostGIS ST_Intersects join, GiST (points/s)",
            format!("{:.0}", rate(points.len(), sql)),
        );
        row(
            &mut rows,
            "P3 ratio engine 1 thread / PostGIS",
            format!("{:.1}x", sql.as_secs_f64() / single.as_secs_f64()),
        );
        differ = engine_grids
            .iter()
            .zip(&postgis_grids)
            .filter(|(a, b)| a != b)
            .count();
        row(
            &mut rows,
            "P3 points where engine and PostGIS differ",
            differ.to_string(),
        );
        startup_in_child(database, &mut rows)?;
    }
    println!("\n| measure | value |\n|---|---|");
    for r in &rows {
        println!("| {} | {} |", r.what, r.value);
    }
    if differ > 0 {
        bail!("{differ} points got a different grid from the engine and from PostGIS");
    }
    Ok(())
}

fn generate_city(rows: &mut Vec<Row>) -> anyhow::Result<Dataset> {
    println!("generating the city scale (seed {SEED}) …");
    let t = Instant::now();
    let city = generate::city(&GenerateOptions {
        scale: Scale::City,
        seed: SEED,
        progress: false,
        events: None,
        as_of: None,
    })?;
    row(
        rows,
        "generate city (s)",
        format!("{:.2}", t.elapsed().as_secs_f64()),
    );
    let data = city.dataset;
    row(
        rows,
        "dataset",
        format!(
            "{} areas, {} buildings, {} houses, {} population rows",
            data.areas.len(),
            data.buildings.len(),
            data.houses.len(),
            data.population.len()
        ),
    );
    Ok(data)
}

/// P7's in-process part and P3's engine side; returns the engine's grid per point and the
/// single-thread time.
fn engine_figures(
    data: Dataset,
    points: &[(f64, f64)],
    rows: &mut Vec<Row>,
) -> (Vec<Option<String>>, Duration) {
    let rss_before = status_kb("VmRSS:");
    let t = Instant::now();
    let engine = Engine::new(data);
    let built = t.elapsed();
    let rss_after = status_kb("VmRSS:");
    row(
        rows,
        "P7 Engine::new from a loaded dataset (s)",
        format!("{:.3}", built.as_secs_f64()),
    );
    row(
        rows,
        "P7 resident memory after Engine::new, dataset moved in (MiB)",
        format!("+{:.0}", mib(rss_after.saturating_sub(rss_before))),
    );
    let snapshot = engine.snapshot();
    let (grids, single) = engine_single_thread(&snapshot, points);
    row(
        rows,
        "P3 engine grid_at, 1 thread (points/s)",
        format!("{:.0}", rate(points.len(), single)),
    );
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let all = engine_all_cores(&snapshot, points, threads);
    row(
        rows,
        &format!("P3 engine grid_at, {threads} threads (points/s)"),
        format!("{:.0}", rate(points.len(), all)),
    );
    let sample = &points[..points.len() / 10];
    let chain = engine_lookup(&snapshot, sample);
    row(
        rows,
        "P3 engine lookup chain, 1 thread (points/s)",
        format!("{:.0}", rate(sample.len(), chain)),
    );
    (grids, single)
}

/// Loads the dataset into the benchmark database through the PostGIS store.
async fn load_into_postgis(
    database: &str,
    data: &Dataset,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let store = PostgisStore::connect(database).await?;
    let t = Instant::now();
    let mut changes: Vec<Change> = data.areas.iter().cloned().map(Change::UpsertArea).collect();
    changes.extend(data.buildings.iter().cloned().map(Change::UpsertBuilding));
    changes.extend(data.houses.iter().cloned().map(Change::UpsertHouse));
    changes.extend(data.population.iter().cloned().map(Change::SetPopulation));
    changes.extend(data.workers.iter().cloned().map(Change::UpsertWorker));
    store.apply(&changes).await?;
    let client = store.pool().get().await?;
    client.batch_execute("ANALYZE").await?;
    row(
        rows,
        "load into PostGIS (s)",
        format!("{:.1}", t.elapsed().as_secs_f64()),
    );
    Ok(())
}

/// Seeded random points inside the envelope of the base grids.
fn random_points(areas: &[Area]) -> anyhow::Result<Vec<(f64, f64)>> {
    let extent = areas
        .iter()
        .filter(|a| a.layer == Layer::Base && a.level == Level::Grid)
        .filter_map(|a| a.geometry.bounding_rect())
        .reduce(|a, b| {
            geo::Rect::new(
                geo::coord! {x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y)},
                geo::coord! {x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y)},
            )
        })
        .context("the city has no grids")?;
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    Ok((0..POINTS)
        .map(|_| {
            (
                rng.random_range(extent.min().x..=extent.max().x),
                rng.random_range(extent.min().y..=extent.max().y),
            )
        })
        .collect())
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn engine_single_thread(
    snapshot: &gridmap::engine::Snapshot,
    points: &[(f64, f64)],
) -> (Vec<Option<String>>, Duration) {
    let t = Instant::now();
    let found: Vec<Option<&str>> = points
        .iter()
        .map(|&(x, y)| snapshot.grid_at(x, y).map(|g| g.code.as_str()))
        .collect();
    let elapsed = t.elapsed();
    (
        found.into_iter().map(|c| c.map(str::to_string)).collect(),
        elapsed,
    )
}

fn engine_all_cores(
    snapshot: &gridmap::engine::Snapshot,
    points: &[(f64, f64)],
    threads: usize,
) -> Duration {
    let chunk = points.len().div_ceil(threads);
    let t = Instant::now();
    std::thread::scope(|scope| {
        for part in points.chunks(chunk) {
            scope.spawn(move || {
                part.iter()
                    .filter(|&&(x, y)| snapshot.grid_at(x, y).is_some())
                    .count()
            });
        }
    });
    t.elapsed()
}

fn engine_lookup(snapshot: &gridmap::engine::Snapshot, points: &[(f64, f64)]) -> Duration {
    let t = Instant::now();
    let levels: usize = points
        .iter()
        .map(|&(x, y)| snapshot.lookup(x, y).len())
        .sum();
    std::hint::black_box(levels);
    t.elapsed()
}

/// The anchor: PostGIS answers the same points in batches of [`SQL_BATCH`].
async fn postgis_grids(
    database: &str,
    points: &[(f64, f64)],
) -> anyhow::Result<(Vec<Option<String>>, Duration)> {
    let (client, connection) = tokio_postgres::connect(database, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let statement = client.prepare(POSTGIS_JOIN).await?;
    let mut grids = vec![None; points.len()];
    let t = Instant::now();
    for (n, chunk) in points.chunks(SQL_BATCH).enumerate() {
        let lons: Vec<f64> = chunk.iter().map(|p| p.0).collect();
        let lats: Vec<f64> = chunk.iter().map(|p| p.1).collect();
        for r in client.query(&statement, &[&lons, &lats]).await? {
            let i: i64 = r.get(0);
            grids[n * SQL_BATCH + usize::try_from(i - 1)?] = Some(r.get::<_, String>(1));
        }
    }
    Ok((grids, t.elapsed()))
}

/// Runs the start-up measurement in a fresh copy of this binary and reports its figures.
fn startup_in_child(database: &str, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let output = Command::new(exe)
        .arg(STARTUP_CHILD)
        .arg(database)
        .output()?;
    if !output.status.success() {
        bail!(
            "start-up measurement failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("startup "))
        .context("no start-up figures")?;
    let field = |name: &str| -> String {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
            .unwrap_or("?")
            .to_string()
    };
    row(
        rows,
        "P7 start-up: store.load() from PostGIS (s)",
        field("load_s"),
    );
    row(rows, "P7 start-up: Engine::new (s)", field("engine_s"));
    row(rows, "P7 start-up: total (s)", field("total_s"));
    let peak = field("vmhwm_kb")
        .parse::<u64>()
        .map(|kb| format!("{:.0}", mib(kb)))
        .unwrap_or_else(|_| "?".into());
    row(rows, "P7 start-up: peak RSS, VmHWM (MiB)", peak);
    Ok(())
}
