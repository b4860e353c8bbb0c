//! P4, durable ingest: events posted to a running gridmap over HTTP in batches of 500 from C
//! concurrent clients, against the floor cost of durable rows in PostGIS on this machine: binary
//! `COPY` of as many rows in the same batches and concurrency into the same `event` table (its
//! size, indexes, constraints; silent like gridmap's own writes, so no change notices), measured
//! in the same run. Both sides' rows are deleted afterwards.
//!
//! The event table's indexes are first read into PostgreSQL's buffers (`pg_prewarm`), as a
//! server that has been running holds them, so neither side starts on cold index pages after
//! the restart that tunes PostgreSQL. A warm-up of 20 000 posted events follows, unmeasured. An answer counts only once it came back, and gridmap answers after its
//! COMMIT, so both figures are durable rows per second. The run checks that every answer was
//! 2xx with all 500 events created, and that the event table grew by exactly the number posted.
//!
//! The two sides run in alternating rounds (gridmap, COPY, gridmap, COPY, …), each round with
//! fresh events, and each side starts right after a `CHECKPOINT`: the first change of a page
//! after a checkpoint writes the whole page to the WAL (a full-page image), so whichever side
//! ran first after one paid for every index page it touched and the other found them paid for
//! (at 10 M events gridmap's first round wrote 3.1 GB of WAL, 365 000 full-page images, and
//! ran at 12 000 events/s; COPY right after it wrote 77). Per side and round the table also
//! gives what PostgreSQL wrote meanwhile (WAL bytes and full-page images, from `pg_stat_wal`),
//! the checkpoints that ran, and the CPU seconds gridmap's process used.
//!
//! Environment: `GRIDMAP_BENCH_URL` (the running gridmap, on PostGIS), `GRIDMAP_BENCH_TOKEN` (a
//! token that may post events in the whole city 410600), `GRIDMAP_BENCH_DB` (its database);
//! optional `GRIDMAP_BENCH_CLIENTS` (default 4), `GRIDMAP_BENCH_INGEST_EVENTS` (default
//! 200 000), `GRIDMAP_BENCH_INGEST_ROUNDS` (default 2) and `GRIDMAP_BENCH_SERVER_PID` (gridmap's
//! process, for its CPU seconds). Run through `scripts/bench events`, which starts the server. Writes the table to
//! `bench-out/ingest.md` as well.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use futures::pin_mut;
use serde_json::{json, Value};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;
use tokio_postgres::Client;

mod common;

use common::env_number;
use common::pg::{connect, geometry_type, point_ewkb, Side};

/// Events per request and per anchor transaction.
const BATCH: usize = 500;
const DEFAULT_EVENTS: usize = 200_000;
const DEFAULT_CLIENTS: usize = 4;
/// Events posted before the measured run and not counted: they bring the table's index pages
/// into PostgreSQL's buffers (after a restart they are cold), as the anchor, which runs after
/// the measured posts, finds them.
const WARMUP_EVENTS: usize = 20_000;
/// The goal of P4, durable events per second.
const GOAL: f64 = 20_000.0;
/// Days back over which `reported_at` is spread, so repeated runs stay far from the 999 999
/// codes a report day has.
const DAYS: i64 = 7;

/// One position inside the city, with the area gridmap stores for it.
#[derive(Clone)]
struct Place {
    lon: f64,
    lat: f64,
    area: String,
}

/// One event of the run, as both the HTTP body and the anchor's row are made from it.
struct Draft {
    external_id: String,
    place: Place,
    reported_at: DateTime<Utc>,
}

struct Config {
    url: String,
    token: String,
    db: String,
    clients: usize,
    events: usize,
    rounds: usize,
    server_pid: Option<u32>,
}

impl Config {
    fn from_env() -> anyhow::Result<Config> {
        let var = |name: &str| std::env::var(name).with_context(|| format!("{name} is not set"));
        let config = Config {
            url: var("GRIDMAP_BENCH_URL")?.trim_end_matches('/').to_string(),
            token: var("GRIDMAP_BENCH_TOKEN")?,
            db: var("GRIDMAP_BENCH_DB")?,
            clients: env_number("GRIDMAP_BENCH_CLIENTS", DEFAULT_CLIENTS)?.max(1),
            events: env_number("GRIDMAP_BENCH_INGEST_EVENTS", DEFAULT_EVENTS)?,
            rounds: env_number("GRIDMAP_BENCH_INGEST_ROUNDS", 2)?.max(1),
            server_pid: std::env::var("GRIDMAP_BENCH_SERVER_PID")
                .ok()
                .and_then(|p| p.parse().ok()),
        };
        if config.events == 0 || !config.events.is_multiple_of(BATCH) {
            bail!("GRIDMAP_BENCH_INGEST_EVENTS must be a positive multiple of {BATCH}");
        }
        Ok(config)
    }
}

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(Config::from_env()?))
}

/// Reads every index of the event table into shared buffers (see the module documentation).
async fn prewarm_event_indexes(db: &tokio_postgres::Client) -> anyhow::Result<()> {
    db.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        .await?;
    let blocks: i64 = db
        .query_one(
            "SELECT coalesce(sum(pg_prewarm(indexrelid::regclass)), 0)::bigint \
             FROM pg_index WHERE indrelid = 'event'::regclass",
            &[],
        )
        .await?
        .get(0);
    println!("prewarmed the event table's indexes: {blocks} blocks");
    Ok(())
}

async fn run(config: Config) -> anyhow::Result<()> {
    let db = connect(&config.db).await?;
    let places = places(&db).await?;
    let run_id = format!("ingest-{}", Utc::now().timestamp_millis());
    prewarm_event_indexes(&db).await?;
    println!(
        "P4 ingest: {} events in batches of {BATCH} from {} clients, {} rounds (run {run_id})",
        config.events, config.clients, config.rounds
    );
    post_all(
        &config,
        &drafts_for(&format!("{run_id}-warmup"), &places, WARMUP_EVENTS),
    )
    .await?;
    delete_posted(&db, &format!("{run_id}-warmup")).await?;
    let mut rounds = Vec::new();
    for round in 1..=config.rounds {
        let id = format!("{run_id}-r{round}");
        let drafts = Arc::new(drafts_for(&id, &places, config.events));
        let gridmap = Side::measure(&db, config.server_pid, async {
            let before = event_rows(&db).await?;
            let took = post_all(&config, &drafts).await?;
            let grew = event_rows(&db).await? - before;
            if grew != config.events as i64 {
                bail!(
                    "the event table grew by {grew} rows, not by the {} events posted",
                    config.events
                );
            }
            Ok(took)
        })
        .await?;
        delete_posted(&db, &id).await?;
        let copy = Side::measure(
            &db,
            config.server_pid,
            copy_anchor(&config, &db, &drafts, &id),
        )
        .await?;
        println!(
            "round {round}: gridmap {:.0} events/s (WAL {:X}–{:X}), COPY {:.0} events/s (WAL {:X}–{:X})",
            gridmap.rate(config.events),
            gridmap.before.lsn,
            gridmap.after.lsn,
            copy.rate(config.events),
            copy.before.lsn,
            copy.after.lsn,
        );
        rounds.push((gridmap, copy));
    }
    let table = report(&config, &rounds);
    println!("\n{table}");
    std::fs::create_dir_all("bench-out")?;
    std::fs::write("bench-out/ingest.md", &table)?;
    Ok(())
}

/// Positions of stored events inside the areas (a sample of the table), or, on a database
/// without events, a point on each base grid.
async fn places(db: &Client) -> anyhow::Result<Vec<Place>> {
    let sampled = db
        .query(
            "SELECT ST_X(geom), ST_Y(geom), area_code FROM event TABLESAMPLE SYSTEM (1) \
             WHERE area_code IS NOT NULL AND NOT outside_grid LIMIT 20000",
            &[],
        )
        .await?;
    let rows = if sampled.len() >= 1_000 {
        sampled
    } else {
        db.query(
            "SELECT ST_X(p), ST_Y(p), code FROM (SELECT ST_PointOnSurface(geom) AS p, code \
             FROM area WHERE layer = 'base' AND level = 5) g",
            &[],
        )
        .await?
    };
    let places: Vec<Place> = rows
        .iter()
        .map(|r| Place {
            lon: r.get(0),
            lat: r.get(1),
            area: r.get(2),
        })
        .collect();
    if places.is_empty() {
        bail!("the database has neither events nor base grids to place events in");
    }
    Ok(places)
}

/// `count` events with fresh external ids, cycling over `places`, reported over the last days.
fn drafts_for(run_id: &str, places: &[Place], count: usize) -> Vec<Draft> {
    let now = Utc::now() - chrono::Duration::minutes(1);
    (0..count)
        .map(|i| Draft {
            external_id: format!("{run_id}-{i}"),
            place: places[(i * 7919) % places.len()].clone(),
            reported_at: now
                - chrono::Duration::days(i as i64 % DAYS)
                - chrono::Duration::seconds((i / 7) as i64 % 3_600),
        })
        .collect()
}

async fn event_rows(db: &Client) -> anyhow::Result<i64> {
    Ok(db
        .query_one("SELECT count(*) FROM event", &[])
        .await?
        .get(0))
}

/// Deletes the run's posted events and their steps, silently, so the database stays as it was
/// generated (`scripts/bench events` may reuse it) and the anchor writes into a table of the
/// same size.
async fn delete_posted(db: &Client, run_id: &str) -> anyhow::Result<()> {
    let pattern = format!("{run_id}-%");
    db.batch_execute("BEGIN; SET LOCAL gridmap.silent = 'on'")
        .await?;
    db.execute(
        "DELETE FROM event_transition t USING event e WHERE t.event_code = e.code \
         AND e.source = 'app' AND e.external_id LIKE $1",
        &[&pattern],
    )
    .await?;
    db.execute(
        "DELETE FROM event WHERE source = 'app' AND external_id LIKE $1",
        &[&pattern],
    )
    .await?;
    db.batch_execute("COMMIT").await?;
    Ok(())
}

/// The JSON body of one batch.
fn body(batch: &[Draft]) -> String {
    let events: Vec<Value> = batch
        .iter()
        .map(|d| {
            json!({
                "external_id": d.external_id,
                "source": "app",
                "category": "0102",
                "title": "bench ingest",
                "content": "posted by benches/ingest.rs",
                "lon": d.place.lon,
                "lat": d.place.lat,
                "reported_at": d.reported_at.to_rfc3339(),
            })
        })
        .collect();
    json!({ "events": events }).to_string()
}

/// Posts every batch from `config.clients` clients; the time from the first request to the
/// last answer.
async fn post_all(config: &Config, drafts: &[Draft]) -> anyhow::Result<Duration> {
    let bodies: Arc<Vec<String>> = Arc::new(drafts.chunks(BATCH).map(body).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let http = reqwest::Client::new();
    let endpoint = format!("{}/api/events", config.url);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..config.clients {
        let (bodies, next, http) = (bodies.clone(), next.clone(), http.clone());
        let (endpoint, token) = (endpoint.clone(), config.token.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else {
                    return Ok::<(), anyhow::Error>(());
                };
                post_one(&http, &endpoint, &token, body.clone()).await?;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(started.elapsed())
}

/// One request; fails unless the answer is 2xx with every event of the batch created.
async fn post_one(
    http: &reqwest::Client,
    endpoint: &str,
    token: &str,
    body: String,
) -> anyhow::Result<()> {
    let text = common::post_json(http, endpoint, token, body, "/api/events").await?;
    let answer: Value = serde_json::from_str(&text)?;
    if answer["created"].as_u64() != Some(BATCH as u64) {
        bail!("a batch was not created whole: {}", common::preview(&text));
    }
    Ok(())
}

const COPY_COLUMNS: &str = "code, source, external_id, title, category, content, geom, \
     area_code, outside_grid, status, level, reported_at, deadline, updated_at";

/// The anchor: rows like the posted ones (their own codes and external ids) by binary `COPY`
/// into `event`, one transaction per batch, from as many connections as HTTP clients; the rows
/// are deleted afterwards.
async fn copy_anchor(
    config: &Config,
    db: &Client,
    drafts: &Arc<Vec<Draft>>,
    run_id: &str,
) -> anyhow::Result<Duration> {
    let result = copy_all(config, db, drafts, run_id).await;
    let pattern = format!("{ANCHOR_PREFIX}{run_id}-%");
    db.batch_execute("BEGIN; SET LOCAL gridmap.silent = 'on'")
        .await?;
    db.execute("DELETE FROM event WHERE code LIKE $1", &[&pattern])
        .await?;
    db.batch_execute("COMMIT").await?;
    result
}

/// The start of the anchor rows' codes and external ids.
const ANCHOR_PREFIX: &str = "copy-";

async fn copy_all(
    config: &Config,
    db: &Client,
    drafts: &Arc<Vec<Draft>>,
    run_id: &str,
) -> anyhow::Result<Duration> {
    let geometry = geometry_type(db).await?;
    let types = Arc::new(vec![
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        geometry,
        Type::TEXT,
        Type::BOOL,
        Type::TEXT,
        Type::TEXT,
        Type::TIMESTAMPTZ,
        Type::TIMESTAMPTZ,
        Type::TIMESTAMPTZ,
    ]);
    let mut connections = Vec::new();
    for _ in 0..config.clients {
        connections.push(connect(&config.db).await?);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for mut client in connections {
        let (drafts, next, types) = (drafts.clone(), next.clone(), types.clone());
        let run_id = run_id.to_string();
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(batch) = drafts.chunks(BATCH).nth(i) else {
                    return Ok::<(), anyhow::Error>(());
                };
                let prefix = format!("{ANCHOR_PREFIX}{run_id}-{i}");
                copy_batch(&mut client, &types, batch, &prefix).await?;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(started.elapsed())
}

/// One batch in one transaction: `COPY … FROM STDIN (FORMAT binary)`, then COMMIT.
async fn copy_batch(
    client: &mut Client,
    types: &[Type],
    batch: &[Draft],
    code_prefix: &str,
) -> anyhow::Result<()> {
    let tx = client.transaction().await?;
    tx.batch_execute("SET LOCAL gridmap.silent = 'on'").await?;
    let sink = tx
        .copy_in(&format!(
            "COPY event ({COPY_COLUMNS}) FROM STDIN (FORMAT binary)"
        ))
        .await?;
    let writer = BinaryCopyInWriter::new(sink, types);
    pin_mut!(writer);
    // gridmap stamps its own rows '-infinity', which the driver cannot send; any old time
    // costs the BRIN index the same.
    let never = DateTime::<Utc>::UNIX_EPOCH;
    for (j, d) in batch.iter().enumerate() {
        let code = format!("{code_prefix}-{j}");
        let external_id = format!("{code_prefix}-{j}");
        let geom = point_ewkb(d.place.lon, d.place.lat);
        let deadline = d.reported_at + chrono::Duration::days(3);
        writer
            .as_mut()
            .write(&[
                &code,
                &"app",
                &external_id,
                &"bench ingest",
                &"0102",
                &"posted by benches/ingest.rs",
                &geom,
                &d.place.area,
                &false,
                &"reported",
                &"community",
                &d.reported_at,
                &deadline,
                &never,
            ])
            .await?;
    }
    writer.finish().await?;
    tx.commit().await?;
    Ok(())
}

/// The row cells after the rate: WAL MB, full-page images, checkpoints, gridmap CPU s.
fn written(side: &Side) -> String {
    format!(
        "{:.0} | {} | {} | {:.1}",
        side.wal_mb(),
        side.full_page_images(),
        side.checkpoints(),
        side.server_cpu_s(),
    )
}

/// The markdown table of the run: every round, then the last round's figures against the
/// goal (the first round meets whatever the benches before it left behind).
fn report(config: &Config, rounds: &[(Side, Side)]) -> String {
    let mut table = format!(
        "P4 durable ingest: {events} events a side and round, batches of {BATCH}, {clients} clients; \
         gridmap `POST /api/events` (answered after COMMIT) against PostGIS binary COPY into `event`\n\n\
         | round | side | events/s | WAL MB | full-page images | checkpoints | gridmap CPU s |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: |\n",
        events = config.events,
        clients = config.clients,
    );
    for (k, (ours, copy)) in rounds.iter().enumerate() {
        for (name, side) in [("gridmap", ours), ("COPY", copy)] {
            table += &format!(
                "| {} | {name} | {:.0} | {} |\n",
                k + 1,
                side.rate(config.events),
                written(side)
            );
        }
    }
    if let Some((ours, copy)) = rounds.last() {
        let (ours, floor) = (ours.rate(config.events), copy.rate(config.events));
        let met = if ours >= GOAL { "yes" } else { "no" };
        table += &format!(
            "\nlast round: gridmap {ours:.0} events/s, COPY {floor:.0}, ratio {:.2}; goal ≥ {GOAL:.0} events/s met: {met}\n",
            ours / floor
        );
    }
    table
}
