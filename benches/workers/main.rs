//! P6, grid workers: durable fix ingest into both stores and the live fan-out, each against an
//! anchor measured in the same run on the same machine and data.
//!
//! 1. **Fix ingest to PostGIS**: a fleet of workers (10 000 by default: the generated city's
//!    workers and, when it has fewer, extra grid workers registered in their grids) posted to
//!    `POST /api/fixes` in batches of 500 fixes (each batch 500 different workers at one
//!    instant, as a gateway collects them) from C concurrent clients; fixes/s counted from the
//!    first request to the last answer, and gridmap answers after its COMMIT. Anchor: the same
//!    fixes by binary `COPY` into `worker_fix` (the partitioned table, routed to the same day
//!    partition), the same batches, one transaction each, from as many connections. Alternating
//!    rounds (gridmap, COPY, gridmap, COPY …), each side right after a `CHECKPOINT`, each
//!    side's rows deleted and the table vacuumed after it, so both write into the same table
//!    (see `benches/ingest.rs` for why). Per side: WAL MB and full-page images, the CPU seconds
//!    of gridmap's process and of PostgreSQL's processes, gridmap's resident set.
//! 2. **Fix ingest to the embedded store** (`gridmap serve --data city.gpkg`), the same load.
//!    Anchor: the same rows by plain prepared rusqlite `INSERT`s, one transaction per batch, on
//!    one connection in WAL mode with `synchronous = FULL` (the store's promise) and the store
//!    writer's page cache, into a copy of the GeoPackage's `worker_fix` table (its DDL and rows,
//!    and its R-tree, which the anchor fills itself: a plain client does the triggers' work) in
//!    a file of its own in the same directory. SQLite has one writer at a time, so the anchor
//!    writes its batches one after another. Per side: bytes written to storage by the writing
//!    process (`/proc/PID/io`), its CPU seconds.
//! 3. **Fan-out**: L WebSocket clients (100 by default) on `GET /api/live?kinds=fixes`, each
//!    subscribed to one area of a level (`districts` by default, round robin: the six district
//!    command centres' wall maps; `streets` or `city` on request), while the whole fleet posts
//!    one fix per worker every 5 s as a gateway does: a batch every 250 ms (500 fixes for
//!    10 000 workers), sent on schedule whatever the answers do. Latency: from the moment the
//!    POST's answer was received to each client's receipt of that fix's message (matched by
//!    worker code and `at`); the server publishes before it answers, so a message may arrive
//!    first and count negative. Anchor: PostgreSQL LISTEN/NOTIFY, the fan-out of a naive design
//!    where each wall-map connection LISTENs on its area's channel and the writer NOTIFYs each
//!    fix on its worker's channel: the same messages (the JSON payloads gridmap sent, with the
//!    anchor's own `at`), the same schedule and batches (one transaction of `pg_notify` per
//!    batch), as many LISTEN connections on the same areas, latency from the COMMIT's
//!    acknowledgement to receipt. The anchor stores nothing, so it is the fan-out alone. Per
//!    side: p50/p95/p99/max, the messages received against those due, gridmap's CPU seconds and
//!    resident set (largest `VmRSS` sampled each second, and `VmHWM`; a fresh server per part).
//!
//! Each part starts its own `gridmap serve` (release build) and stops it afterwards. Run
//! through `scripts/bench workers`, which generates the city into PostGIS and into a
//! GeoPackage and sets `GRIDMAP_BENCH_DB`, `GRIDMAP_BENCH_GPKG`, `GRIDMAP_BENCH_BIN`,
//! `GRIDMAP_BENCH_SECRET` (the JWT secret given to the servers) and `GRIDMAP_BENCH_TOKEN` (an
//! admin token of 410600 for that secret). Optional: `GRIDMAP_BENCH_WORKERS` (10 000),
//! `GRIDMAP_BENCH_FIXES` (fixes per side and round, 500 000), `GRIDMAP_BENCH_CLIENTS` (4),
//! `GRIDMAP_BENCH_FIX_ROUNDS` (2), `GRIDMAP_BENCH_LIVE_CLIENTS` (100),
//! `GRIDMAP_BENCH_LIVE_SECONDS` (60 a side), `GRIDMAP_BENCH_LIVE_ROUNDS` (1),
//! `GRIDMAP_BENCH_LIVE_AREAS` (`districts`, `streets` or `city`) and
//! `GRIDMAP_BENCH_WORKERS_PARTS` (`postgis gpkg live`). Prints one table, also written to
//! `bench-out/workers.md`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};

#[path = "../common/mod.rs"]
mod common;
mod fanout;
mod fleet;
mod gpkg;
mod post;
mod postgis;
mod report;
mod server;

use common::env_number;
use common::pg::connect;
use fleet::Fleet;
use report::Report;
use server::{Server, StoreArg};

/// Fixes per request and per anchor transaction.
pub const BATCH: usize = 500;

/// A part of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Postgis,
    Gpkg,
    Live,
}

/// The level of the areas the live clients subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveAreas {
    City,
    Districts,
    Streets,
}

impl LiveAreas {
    fn parse(text: &str) -> anyhow::Result<LiveAreas> {
        Ok(match text {
            "city" => LiveAreas::City,
            "districts" => LiveAreas::Districts,
            "streets" => LiveAreas::Streets,
            other => bail!("GRIDMAP_BENCH_LIVE_AREAS={other:?}: use city, districts or streets"),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            LiveAreas::City => "the whole city",
            LiveAreas::Districts => "districts",
            LiveAreas::Streets => "streets",
        }
    }
}

/// The benchmark's inputs (see the module documentation).
pub struct Config {
    pub db: String,
    pub gpkg: PathBuf,
    pub bin: PathBuf,
    pub secret: String,
    pub token: String,
    pub workers: usize,
    pub fixes: usize,
    pub clients: usize,
    pub fix_rounds: usize,
    pub live_clients: usize,
    pub live_seconds: u64,
    pub live_rounds: usize,
    pub live_areas: LiveAreas,
    pub parts: Vec<Part>,
}

impl Config {
    fn from_env() -> anyhow::Result<Config> {
        let var = |name: &str| {
            std::env::var(name).with_context(|| {
                format!("{name} is not set: run this through scripts/bench workers")
            })
        };
        let parts = std::env::var("GRIDMAP_BENCH_WORKERS_PARTS")
            .unwrap_or_else(|_| "postgis gpkg live".into())
            .split_whitespace()
            .map(|p| match p {
                "postgis" => Ok(Part::Postgis),
                "gpkg" => Ok(Part::Gpkg),
                "live" => Ok(Part::Live),
                other => bail!("unknown part {other:?} in GRIDMAP_BENCH_WORKERS_PARTS"),
            })
            .collect::<anyhow::Result<Vec<Part>>>()?;
        let config = Config {
            db: var("GRIDMAP_BENCH_DB")?,
            gpkg: PathBuf::from(var("GRIDMAP_BENCH_GPKG")?),
            bin: PathBuf::from(var("GRIDMAP_BENCH_BIN")?),
            secret: var("GRIDMAP_BENCH_SECRET")?,
            token: var("GRIDMAP_BENCH_TOKEN")?,
            workers: env_number("GRIDMAP_BENCH_WORKERS", 10_000)?,
            fixes: env_number("GRIDMAP_BENCH_FIXES", 500_000)?,
            clients: env_number("GRIDMAP_BENCH_CLIENTS", 4)?.max(1),
            fix_rounds: env_number("GRIDMAP_BENCH_FIX_ROUNDS", 2)?.max(1),
            live_clients: env_number("GRIDMAP_BENCH_LIVE_CLIENTS", 100)?.max(1),
            live_seconds: env_number("GRIDMAP_BENCH_LIVE_SECONDS", 60)?.max(1) as u64,
            live_rounds: env_number("GRIDMAP_BENCH_LIVE_ROUNDS", 1)?.max(1),
            live_areas: LiveAreas::parse(
                &std::env::var("GRIDMAP_BENCH_LIVE_AREAS").unwrap_or_else(|_| "districts".into()),
            )?,
            parts,
        };
        if config.workers < BATCH {
            bail!("GRIDMAP_BENCH_WORKERS must be at least {BATCH}: a batch holds {BATCH} different workers");
        }
        if config.fixes == 0 || !config.fixes.is_multiple_of(BATCH) {
            bail!("GRIDMAP_BENCH_FIXES must be a positive multiple of {BATCH}");
        }
        Ok(config)
    }

    /// Where the servers' configuration, logs and the anchor's file go.
    pub fn out_dir(&self) -> PathBuf {
        PathBuf::from("bench-out/workers")
    }
}

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(Config::from_env()?))
}

async fn run(config: Config) -> anyhow::Result<()> {
    std::fs::create_dir_all(config.out_dir())?;
    let db = connect(&config.db).await?;
    let fleet = Arc::new(Fleet::prepare(&config, &db).await?);
    let mut report = Report::new(&config, fleet.len());
    for part in &config.parts {
        match part {
            Part::Postgis => {
                println!("P6.1: fix ingest to PostGIS through the HTTP API, against COPY");
                let server = Server::start(&config, StoreArg::Postgis, "postgis").await?;
                report.postgis = Some(postgis::run(&config, &fleet, &server, &db).await?);
                server.stop();
            }
            Part::Gpkg => {
                println!("P6.2: fix ingest to the embedded store, against rusqlite");
                fleet.register_in_gpkg(&config.gpkg, &db).await?;
                let server = Server::start(&config, StoreArg::Gpkg, "gpkg").await?;
                report.gpkg = Some(gpkg::run(&config, &fleet, &server).await?);
                server.stop();
            }
            Part::Live => {
                println!("P6.3: live fan-out, against LISTEN/NOTIFY");
                let server = Server::start(&config, StoreArg::Postgis, "live").await?;
                report.live = Some(fanout::run(&config, &fleet, &server, &db).await?);
                server.stop();
            }
        }
    }
    let table = report.render();
    println!("\n{table}");
    std::fs::write("bench-out/workers.md", &table)?;
    Ok(())
}
