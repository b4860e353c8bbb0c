//! P4 heatmap tiles and resident bytes per event on the city-scale city (10 M events).
//!
//! Heatmap: square heatmap tiles z8–16 for a one-year window with a category filter, from a
//! running gridmap (tile cache off, plain HTTP, no compression) against the equivalent PostGIS
//! query on the same database in the same run: the events in the tile's box (GiST on geom and
//! on (category, geom), btree on reported_at and on (category, reported_at), the last two
//! dropped afterwards; a plan per tile), binned by the same quantized Web Mercator rule as the
//! engine, counted with `GROUP BY` and encoded with `ST_AsMVT`. Each tile is asked of both,
//! one after the other, one request at a time; the answers are decoded and must hold the same
//! cells with the same counts. Prints p50/p95 per zoom and over all, and the ratios.
//!
//! Resident bytes: the events loaded from PostGIS into an [`EventStore`] as the service does,
//! with the store's own accounting and the growth of this process's resident set; and the
//! running service's resident set.
//!
//! Run through `scripts/bench events`, which fills the database, starts the service and sets
//! `GRIDMAP_BENCH_DB`, `GRIDMAP_BENCH_URL`, `GRIDMAP_BENCH_TOKEN` and
//! `GRIDMAP_BENCH_SERVER_PID`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use gridmap::crs::tile::TileId;
use gridmap::engine::EventLoader;
use gridmap::generate::events::fixed_as_of;
use gridmap::store::postgis::PostgisStore;
use gridmap::store::Store;
use gridmap::tiles::vector_tile;
use prost::Message;
use tokio_postgres::{Client, NoTls};

mod common;

use common::process::status_kb;
use common::quantile;

/// Zooms of the heatmap tileset.
const ZOOMS: std::ops::RangeInclusive<u8> = 8..=16;
/// Tiles asked per zoom (centred on events of the window and category, so none is empty).
const TILES_PER_ZOOM: usize = 30;
/// Times each tile is asked of each side.
const ROUNDS: usize = 3;
/// Cells per side of the heatmap layer (tiles/tilesets.toml) and the MVT extent.
const CELLS: i64 = 64;
const EXTENT: i64 = 4096;
/// The p95 goal of a heatmap tile, and the speed-up goal over PostGIS.
const GOAL_P95_MS: f64 = 20.0;
const GOAL_RATIO: f64 = 20.0;

/// The token's jurisdiction (the whole city, 410600: codes starting 4106), as a `LIKE` pattern.
/// A city-wide jurisdiction also holds the events outside every area
/// (`model::covers_whole_city`), which the anchor keeps with `area_code IS NULL`.
const SCOPE_PATTERN: &str = "4106%";

/// Indexes for the anchor's category filter, beside the schema's GiST on geom and btree on
/// reported_at: a GiST on (category, geom) (btree_gist), which answers a small tile's box and
/// the category in one scan, and a btree on (category, reported_at) for the city-wide tiles.
/// With the btree alone PostgreSQL ANDed the whole year's category into even a z15 tile (40 ms
/// instead of 2 ms); with the GiST alone a z8 tile took 2.5 s instead of 0.4 s.
const ANCHOR_INDEX: &str = "CREATE EXTENSION IF NOT EXISTS btree_gist;
    SET maintenance_work_mem = '1GB';
    CREATE INDEX IF NOT EXISTS bench_event_category_geom ON event USING gist (category, geom);
    CREATE INDEX IF NOT EXISTS bench_event_category_reported ON event (category, reported_at);
    RESET maintenance_work_mem";

/// Leaves the table with the schema's indexes only.
const DROP_ANCHOR_INDEX: &str = "DROP INDEX IF EXISTS bench_event_category_geom;
    DROP INDEX IF EXISTS bench_event_category_reported";

/// The anchor: one heatmap tile by PostGIS. $1–$3 z/x/y, $4/$5 the window, $6 the category,
/// $7 the tile's shift (32 − z), $8 the cell shift (32 − z − 6), $9 the jurisdiction as a
/// `LIKE` pattern (with the events outside every area: the jurisdiction is the whole city, see
/// [`SCOPE_PATTERN`]). The box is widened by a
/// micro-degree and the exact tile test is done on the quantized position, as the engine does.
const ANCHOR_SQL: &str = "
WITH p AS (
    SELECT floor((ST_X(m) + 20037508.342789244) / 40075016.685578488 * 4294967296)::bigint AS wx,
           floor((20037508.342789244 - ST_Y(m)) / 40075016.685578488 * 4294967296)::bigint AS wy
    FROM (SELECT ST_Transform(geom, 3857) AS m FROM event
          WHERE geom && ST_Expand(ST_Transform(ST_TileEnvelope($1, $2, $3), 4490), 1e-6)
            AND reported_at >= $4 AND reported_at < $5 AND category = $6
            AND (area_code LIKE $9 OR area_code IS NULL)) e
), c AS (
    SELECT (wx >> $8) - ($2::bigint << 6) AS cx, (wy >> $8) - ($3::bigint << 6) AS cy, count(*) AS n
    FROM p WHERE (wx >> $7) = $2 AND (wy >> $7) = $3
    GROUP BY 1, 2
)
SELECT ST_AsMVT(t, 'heatmap', 4096, 'geom', 'id') FROM (
    SELECT (($3::bigint << 6) + cy) * (64::bigint << $1) + ($2::bigint << 6) + cx AS id,
           n AS count,
           ST_MakePoint(cx * 64 + 32, cy * 64 + 32) AS geom
    FROM c) t";

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

/// The benchmark's inputs from `scripts/bench events`.
struct Setup {
    database: String,
    url: String,
    token: String,
    server_pid: Option<u32>,
}

impl Setup {
    fn from_env() -> anyhow::Result<Setup> {
        let var = |name: &str| {
            std::env::var(name).with_context(|| {
                format!("{name} is not set: run this through scripts/bench events")
            })
        };
        Ok(Setup {
            database: var("GRIDMAP_BENCH_DB")?,
            url: var("GRIDMAP_BENCH_URL")?,
            token: var("GRIDMAP_BENCH_TOKEN")?,
            server_pid: std::env::var("GRIDMAP_BENCH_SERVER_PID")
                .ok()
                .and_then(|p| p.parse().ok()),
        })
    }
}

async fn run() -> anyhow::Result<()> {
    let setup = Setup::from_env()?;
    let (client, connection) = tokio_postgres::connect(&setup.database, NoTls).await?;
    tokio::spawn(connection);
    let mut report = Report::default();
    // scripts/bench generates the city with --as-of at this instant.
    let window = (fixed_as_of() - chrono::Duration::days(365), fixed_as_of());
    client.batch_execute(ANCHOR_INDEX).await?;
    // A plan for each tile's own values rather than the prepared statement's generic plan,
    // which cannot size the tile's box.
    client
        .batch_execute("SET plan_cache_mode = force_custom_plan")
        .await?;
    client.batch_execute("ANALYZE event").await?;
    let category = busiest_category(&client, window).await?;
    let events: i64 = client
        .query_one("SELECT count(*) FROM event", &[])
        .await?
        .get(0);
    let in_window: i64 = client
        .query_one(
            "SELECT count(*) FROM event WHERE reported_at >= $1 AND reported_at < $2 AND category = $3",
            &[&window.0, &window.1, &category],
        )
        .await?
        .get(0);
    report.line(format!(
        "{events} events; window {} – {}; category {category} ({in_window} events in the window)",
        window.0.format("%Y-%m-%d"),
        window.1.format("%Y-%m-%d")
    ));
    let tiles = tile_list(&client, window, &category).await?;
    let timings = heatmap_timings(&setup, &client, &tiles, window, &category).await?;
    // The ingest bench that follows measures the schema's own indexes.
    client.batch_execute(DROP_ANCHOR_INDEX).await?;
    report.heatmap(&timings);
    resident_bytes(&setup, &mut report).await?;
    report.print();
    let overall = Summary::of(timings.iter().flat_map(|t| t.gridmap.iter().copied()));
    let anchor_overall = Summary::of(timings.iter().flat_map(|t| t.postgis.iter().copied()));
    if overall.p95 > GOAL_P95_MS || anchor_overall.p50 / overall.p50 < GOAL_RATIO {
        println!("(goals not met: see the table)");
    }
    Ok(())
}

/// The category with the most events in the window (the heaviest filter to serve).
async fn busiest_category(
    client: &Client,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) -> anyhow::Result<String> {
    let row = client
        .query_opt(
            "SELECT category FROM event WHERE reported_at >= $1 AND reported_at < $2 \
             GROUP BY category ORDER BY count(*) DESC, category LIMIT 1",
            &[&from, &to],
        )
        .await?
        .context("no events in the window: generate the city with events first")?;
    Ok(row.get(0))
}

/// For each zoom, tiles holding events of the window and category: the tiles of a seeded
/// sample of such events, as many per zoom, so every zoom weighs the same in the overall
/// figures (at z8 the city is a few tiles, asked repeatedly as many wall maps would).
async fn tile_list(
    client: &Client,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    category: &str,
) -> anyhow::Result<Vec<TileId>> {
    let wanted = (ZOOMS.count() * TILES_PER_ZOOM) as i64;
    let rows = client
        .query(
            "SELECT ST_X(geom), ST_Y(geom) FROM event TABLESAMPLE SYSTEM (2) REPEATABLE (7) \
             WHERE reported_at >= $1 AND reported_at < $2 AND category = $3 LIMIT $4",
            &[&from, &to, &category, &wanted],
        )
        .await?;
    if rows.len() < wanted as usize {
        bail!(
            "only {} sampled events of category {category} in the window; need {wanted}",
            rows.len()
        );
    }
    let mut tiles = Vec::with_capacity(rows.len());
    for (zoom, chunk) in ZOOMS.zip(rows.chunks(TILES_PER_ZOOM)) {
        for r in chunk {
            tiles.push(TileId::containing(zoom, r.get(0), r.get(1))?);
        }
    }
    Ok(tiles)
}

/// The times of one tile on both sides, in milliseconds.
struct TileTiming {
    tile: TileId,
    gridmap: Vec<f64>,
    postgis: Vec<f64>,
}

async fn heatmap_timings(
    setup: &Setup,
    client: &Client,
    tiles: &[TileId],
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    category: &str,
) -> anyhow::Result<Vec<TileTiming>> {
    let http = reqwest::Client::builder().build()?;
    let statement = client.prepare(ANCHOR_SQL).await?;
    let query = format!(
        "from={}&to={}&category={category}",
        from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    println!(
        "asking {} heatmap tiles {ROUNDS} times of gridmap and of PostGIS …",
        tiles.len()
    );
    let mut timings = Vec::with_capacity(tiles.len());
    for &tile in tiles {
        let mut timing = TileTiming {
            tile,
            gridmap: Vec::new(),
            postgis: Vec::new(),
        };
        let url = format!(
            "{}/tiles/heatmap/{}/{}/{}.pbf?{query}",
            setup.url, tile.z, tile.x, tile.y
        );
        let (z, x, y) = (
            i32::from(tile.z),
            i32::try_from(tile.x)?,
            i32::try_from(tile.y)?,
        );
        let (tshift, cshift) = (32 - z, 32 - z - 6);
        for _ in 0..ROUNDS {
            let t = Instant::now();
            let ours = fetch_tile(&http, &url, &setup.token).await?;
            timing.gridmap.push(ms(t.elapsed()));
            let t = Instant::now();
            let row = client
                .query_one(
                    &statement,
                    &[
                        &z,
                        &x,
                        &y,
                        &from,
                        &to,
                        &category,
                        &tshift,
                        &cshift,
                        &SCOPE_PATTERN,
                    ],
                )
                .await?;
            timing.postgis.push(ms(t.elapsed()));
            let theirs: Vec<u8> = row.get(0);
            let (a, b) = (cells(&ours)?, cells(&theirs)?);
            if a != b {
                bail!(
                    "tile {}/{}/{}: gridmap has {} cells ({} events), PostGIS {} cells ({} events)",
                    tile.z,
                    tile.x,
                    tile.y,
                    a.len(),
                    a.values().sum::<u64>(),
                    b.len(),
                    b.values().sum::<u64>()
                );
            }
        }
        timings.push(timing);
    }
    Ok(timings)
}

/// One heatmap tile from the service, uncompressed; an empty tile (204) is no bytes.
async fn fetch_tile(http: &reqwest::Client, url: &str, token: &str) -> anyhow::Result<Vec<u8>> {
    let answer = http.get(url).bearer_auth(token).send().await?;
    let status = answer.status();
    let body = answer.bytes().await?;
    match status.as_u16() {
        200 => Ok(body.to_vec()),
        204 => Ok(Vec::new()),
        _ => bail!(
            "{url} answered {status}: {}",
            String::from_utf8_lossy(&body)
        ),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The cells inside a heatmap tile: the position of each point (tile units) and its count.
fn cells(tile: &[u8]) -> anyhow::Result<BTreeMap<(i64, i64), u64>> {
    let decoded = vector_tile::Tile::decode(tile)?;
    let mut cells = BTreeMap::new();
    for layer in decoded.layers.iter().filter(|l| l.name == "heatmap") {
        let count_key = layer.keys.iter().position(|k| k == "count");
        for f in &layer.features {
            let count = f
                .tags
                .chunks(2)
                .find(|kv| Some(kv[0] as usize) == count_key)
                .and_then(|kv| layer.values.get(*kv.get(1)? as usize))
                .and_then(|v| {
                    v.int_value
                        .or(v.sint_value)
                        .or(v.uint_value.map(|u| u as i64))
                })
                .context("a heatmap feature without count")?;
            let (x, y) = match f.geometry.as_slice() {
                [9, x, y] => (zigzag(*x), zigzag(*y)),
                other => bail!("a heatmap feature is not one point: {other:?}"),
            };
            if (x - 32).rem_euclid(EXTENT / CELLS) != 0 || (y - 32).rem_euclid(EXTENT / CELLS) != 0
            {
                bail!("a heatmap point at ({x}, {y}) is not a cell centre");
            }
            // Cells of the buffer ring belong to the neighbours; the anchor has none.
            if (0..EXTENT).contains(&x) && (0..EXTENT).contains(&y) {
                cells.insert((x, y), u64::try_from(count)?);
            }
        }
    }
    Ok(cells)
}

fn zigzag(v: u32) -> i64 {
    i64::from((v >> 1) as i32 ^ -((v & 1) as i32))
}

/// p50, p95 and mean of a set of times.
struct Summary {
    p50: f64,
    p95: f64,
    mean: f64,
    n: usize,
}

impl Summary {
    fn of(times: impl Iterator<Item = f64>) -> Summary {
        let mut v: Vec<f64> = times.collect();
        v.sort_by(f64::total_cmp);
        Summary {
            p50: quantile(&v, 0.5),
            p95: quantile(&v, 0.95),
            mean: v.iter().sum::<f64>() / v.len().max(1) as f64,
            n: v.len(),
        }
    }
}

/// Loads the events as the service does and measures what they hold; adds the service's
/// resident set.
async fn resident_bytes(setup: &Setup, report: &mut Report) -> anyhow::Result<()> {
    println!("loading the events from PostGIS into an event store …");
    let store = PostgisStore::connect(&setup.database).await?;
    let t = Instant::now();
    let mut loader = EventLoader::default();
    store
        .load_events_without_steps(&mut |chunk| loader.push(chunk))
        .await?;
    let events = loader.finish();
    let took = t.elapsed();
    report.line(format!(
        "event store: {} events loaded from PostGIS in {:.1} s; {:.2} bytes/event resident \
         (every column, index and dictionary by capacity; goal ≤ 48)",
        events.len(),
        took.as_secs_f64(),
        events.resident_bytes() as f64 / events.len().max(1) as f64,
    ));
    if let Some(pid) = setup.server_pid {
        report.line(format!(
            "the running service (city, buildings, events, tile index): {:.0} MiB resident",
            status_kb(pid, "VmRSS:") as f64 / 1024.0
        ));
    }
    Ok(())
}

/// The printed report, also written to bench-out/events.md.
#[derive(Default)]
struct Report {
    text: String,
}

impl Report {
    fn line(&mut self, line: String) {
        self.text.push_str(&line);
        self.text.push_str("\n\n");
    }

    fn heatmap(&mut self, timings: &[TileTiming]) {
        let mut t = String::from(
            "| zoom | tiles × rounds | gridmap p50 ms | gridmap p95 ms | PostGIS p50 ms | PostGIS p95 ms | ratio p50 | ratio p95 |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        let mut row = |label: String, of: &dyn Fn(&TileTiming) -> bool| {
            let ours = Summary::of(
                timings
                    .iter()
                    .filter(|t| of(t))
                    .flat_map(|t| t.gridmap.clone()),
            );
            let theirs = Summary::of(
                timings
                    .iter()
                    .filter(|t| of(t))
                    .flat_map(|t| t.postgis.clone()),
            );
            t.push_str(&format!(
                "| {label} | {} | {:.2} | {:.2} | {:.1} | {:.1} | {:.1}× | {:.1}× |\n",
                ours.n,
                ours.p50,
                ours.p95,
                theirs.p50,
                theirs.p95,
                theirs.p50 / ours.p50,
                theirs.p95 / ours.p95
            ));
        };
        for z in ZOOMS {
            row(format!("z{z}"), &|t: &TileTiming| t.tile.z == z);
        }
        row("all".to_string(), &|_: &TileTiming| true);
        self.text.push_str(&t);
        let ours = Summary::of(timings.iter().flat_map(|t| t.gridmap.clone()));
        let theirs = Summary::of(timings.iter().flat_map(|t| t.postgis.clone()));
        self.text.push('\n');
        self.line(format!(
            "Every tile held the same cells with the same counts on both sides. Mean per tile: \
             gridmap {:.2} ms, PostGIS {:.1} ms ({:.1}×). Goals: ratio ≥ {GOAL_RATIO}× (p50 {}), \
             gridmap p95 ≤ {GOAL_P95_MS} ms ({}).",
            ours.mean,
            theirs.mean,
            theirs.mean / ours.mean,
            met(theirs.p50 / ours.p50 >= GOAL_RATIO),
            met(ours.p95 <= GOAL_P95_MS)
        ));
    }

    fn print(&self) {
        let text = format!(
            "## Events (P4): heatmap tiles and resident bytes\n\n{}",
            self.text
        );
        println!("\n{text}");
        if let Err(e) = std::fs::create_dir_all("bench-out")
            .and_then(|_| std::fs::write("bench-out/events.md", &text))
        {
            eprintln!("cannot write bench-out/events.md: {e}");
        }
    }
}

fn met(yes: bool) -> &'static str {
    if yes {
        "met"
    } else {
        "not met"
    }
}
