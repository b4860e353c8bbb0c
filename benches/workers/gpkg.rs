//! P6.2: durable fix ingest into the embedded store (`gridmap serve --data city.gpkg`) through
//! `POST /api/fixes`, against plain rusqlite inserts of the same rows into a copy of the
//! GeoPackage's `worker_fix` table (see the crate documentation for the rules).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::{DateTime, DurationRound, SecondsFormat, Utc};
use geo_types::{Geometry, Point};
use gridmap::model::STORAGE_SRID;
use gridmap::store::gpkg::blob;
use rusqlite::{params, Connection, OpenFlags, TransactionBehavior};

use crate::common::process::{cpu_seconds, own_cpu_seconds, write_bytes};
use crate::fleet::{Fix, Fleet};
use crate::post::Poster;
use crate::server::Server;
use crate::{Config, BATCH};

/// Fixes written by both sides before the measured rounds, not counted.
const WARMUP_FIXES: usize = 20_000;

/// The page cache of the store's writer connection (`WRITER_CACHE_KIB` in
/// `src/store/gpkg/mod.rs`), given to the anchor's connection too.
const WRITER_CACHE_KIB: i64 = 65_536;

/// One side of one round.
#[derive(Debug, Clone, Copy)]
pub struct GpkgSide {
    pub took: Duration,
    /// CPU seconds of the writing process (gridmap's server; the benchmark for the anchor).
    pub cpu_s: f64,
    /// Bytes that process caused to be written to storage.
    pub written_bytes: u64,
}

impl GpkgSide {
    pub fn rate(&self, fixes: usize) -> f64 {
        fixes as f64 / self.took.as_secs_f64()
    }

    /// Measures `work` with the CPU seconds and storage writes `pid` (or this process) made.
    async fn measure(
        pid: Option<u32>,
        work: impl std::future::Future<Output = anyhow::Result<Duration>>,
    ) -> anyhow::Result<GpkgSide> {
        let pid_now = pid.unwrap_or_else(std::process::id);
        let cpu = || pid.map_or_else(own_cpu_seconds, cpu_seconds);
        let (cpu_before, written_before) = (cpu(), write_bytes(pid_now));
        let took = work.await?;
        Ok(GpkgSide {
            took,
            cpu_s: cpu() - cpu_before,
            written_bytes: write_bytes(pid_now) - written_before,
        })
    }
}

/// One round: gridmap's side, the anchor's, and gridmap's resident set after its side.
pub struct GpkgRound {
    pub gridmap: GpkgSide,
    pub sqlite: GpkgSide,
    pub rss_kb: u64,
}

/// What the part measured.
pub struct GpkgIngest {
    pub fixes: usize,
    pub rounds: Vec<GpkgRound>,
    pub hwm_kb: u64,
}

/// Runs the warm-up and the alternating rounds.
pub async fn run(config: &Config, fleet: &Fleet, server: &Server) -> anyhow::Result<GpkgIngest> {
    let poster = Poster::new(&server.url, &config.token);
    let anchor_path = config.out_dir().join("anchor-worker_fix.sqlite");
    let anchor = Arc::new(Mutex::new(anchor_table(&config.gpkg, &anchor_path)?));
    let codes: Arc<Vec<String>> = Arc::new(fleet.workers.iter().map(|w| w.code.clone()).collect());
    let warmup = WARMUP_FIXES.min(fleet.len() * 2) / BATCH * BATCH;
    let slots = |fixes: usize| fixes.div_ceil(fleet.len()) as i64;
    let total = slots(warmup) + slots(config.fixes) * config.fix_rounds as i64;
    let second = chrono::Duration::seconds(1);
    let first = (Utc::now() - chrono::Duration::seconds(total + 5)).duration_trunc(second)?;
    println!(
        "  {} fixes a side and round in batches of {BATCH}: gridmap from {} clients, the anchor on one connection; {} rounds",
        config.fixes, config.clients, config.fix_rounds
    );
    let fixes = Arc::new(fleet.slots(first, second, warmup));
    poster
        .post_all(&fleet.bodies(&fixes), config.clients)
        .await?;
    insert_all(&anchor, &codes, &fixes).await?;
    let mut rounds = Vec::new();
    for round in 0..config.fix_rounds {
        let start = first + second * (slots(warmup) + slots(config.fixes) * round as i64) as i32;
        let fixes = Arc::new(fleet.slots(start, second, config.fixes));
        let bodies = fleet.bodies(&fixes);
        let gridmap =
            GpkgSide::measure(Some(server.pid), poster.post_all(&bodies, config.clients)).await?;
        let rss_kb = server.rss_kb();
        expect_rows(&config.gpkg, &fixes)?;
        let sqlite = GpkgSide::measure(None, insert_all(&anchor, &codes, &fixes)).await?;
        expect_rows(&anchor_path, &fixes)?;
        println!(
            "  round {}: gridmap {:.0} fixes/s, rusqlite {:.0} fixes/s",
            round + 1,
            gridmap.rate(config.fixes),
            sqlite.rate(config.fixes)
        );
        rounds.push(GpkgRound {
            gridmap,
            sqlite,
            rss_kb,
        });
    }
    Ok(GpkgIngest {
        fixes: config.fixes,
        rounds,
        hwm_kb: server.hwm_kb(),
    })
}

/// A fresh SQLite file holding a copy of the GeoPackage's `worker_fix` table: the same DDL,
/// indexes and rows, and the R-tree of its geometries; opened as the store opens its writer
/// (WAL, `synchronous = FULL`, the same page cache, statement journals in memory).
fn anchor_table(gpkg: &Path, path: &Path) -> anyhow::Result<Connection> {
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        if file.exists() {
            std::fs::remove_file(&file)?;
        }
    }
    let conn = Connection::open(path)?;
    conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    let source = gpkg.to_str().context("the GeoPackage path is not UTF-8")?;
    conn.execute("ATTACH DATABASE ?1 AS g", [source])?;
    let ddl: Vec<String> = conn
        .prepare(
            "SELECT sql FROM g.sqlite_master WHERE tbl_name = 'worker_fix' \
             AND type IN ('table', 'index') AND sql IS NOT NULL ORDER BY type = 'index'",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if ddl.is_empty() {
        bail!("{} has no worker_fix table", gpkg.display());
    }
    for statement in &ddl {
        conn.execute_batch(statement)?;
    }
    conn.execute_batch(
        "CREATE VIRTUAL TABLE rtree_worker_fix_geom USING rtree(id, minx, maxx, miny, maxy);
         INSERT INTO main.worker_fix SELECT * FROM g.worker_fix;
         INSERT INTO main.rtree_worker_fix_geom SELECT * FROM g.rtree_worker_fix_geom;
         DETACH DATABASE g;",
    )?;
    Ok(conn)
}

/// The anchor: every batch in its own transaction of prepared inserts (the row, then its
/// R-tree entry), one batch after another; the time from the first to the last commit.
async fn insert_all(
    conn: &Arc<Mutex<Connection>>,
    codes: &Arc<Vec<String>>,
    fixes: &Arc<Vec<Fix>>,
) -> anyhow::Result<Duration> {
    let (conn, codes, fixes) = (conn.clone(), codes.clone(), fixes.clone());
    tokio::task::spawn_blocking(move || {
        let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
        let started = Instant::now();
        for batch in fixes.chunks(BATCH) {
            insert_batch(&mut conn, &codes, batch)?;
        }
        Ok(started.elapsed())
    })
    .await?
}

fn insert_batch(conn: &mut Connection, codes: &[String], batch: &[Fix]) -> anyhow::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut row = tx.prepare_cached(
            "INSERT INTO worker_fix \
             (geom, worker_code, at, accuracy_m, speed_mps, heading_deg, source_crs) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let mut rtree =
            tx.prepare_cached("INSERT INTO rtree_worker_fix_geom VALUES (?1, ?2, ?2, ?3, ?3)")?;
        for f in batch {
            let geom = blob::encode(&Geometry::Point(Point::new(f.lon, f.lat)), STORAGE_SRID)?;
            row.execute(params![
                geom,
                codes[f.worker as usize],
                time_text(f.at),
                f64::from(f.accuracy),
                f64::from(f.speed),
                f64::from(f.heading),
                "wgs84"
            ])?;
            rtree.execute(params![tx.last_insert_rowid(), f.lon, f.lat])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// A time as the store writes it (GeoPackage DATETIME, milliseconds).
fn time_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Fails unless the file's `worker_fix` holds exactly as many rows in the fixes' span as there
/// are fixes.
fn expect_rows(path: &Path, fixes: &[Fix]) -> anyhow::Result<()> {
    let first = fixes.iter().map(|f| f.at).min().unwrap_or_default();
    let last = fixes.iter().map(|f| f.at).max().unwrap_or_default();
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let rows: i64 = conn.query_row(
        "SELECT count(*) FROM worker_fix WHERE at BETWEEN ?1 AND ?2",
        [time_text(first), time_text(last)],
        |r| r.get(0),
    )?;
    if rows != fixes.len() as i64 {
        bail!(
            "{} holds {rows} rows of the {} fixes written",
            path.display(),
            fixes.len()
        );
    }
    Ok(())
}
