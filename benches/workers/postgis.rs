//! P6.1: durable fix ingest into PostGIS through `POST /api/fixes`, against binary `COPY` of the
//! same fixes into `worker_fix` (see the crate documentation for the rules of the comparison).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use chrono::{DateTime, DurationRound, Utc};
use futures::pin_mut;
use tokio::sync::Mutex;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;
use tokio_postgres::Client;

use crate::common::pg::{connect, geometry_type, point_ewkb, Side};
use crate::common::process::own_cpu_seconds;
use crate::fleet::{Fix, Fleet};
use crate::post::Poster;
use crate::server::Server;
use crate::{Config, BATCH};

/// Fixes posted before the measured rounds and not counted: they create the day partition and
/// bring the service's and PostgreSQL's code paths and buffers in, for both sides alike.
const WARMUP_FIXES: usize = 20_000;

/// One round: gridmap's side and the anchor's, the benchmark's own CPU seconds in each, and
/// gridmap's resident set after its side.
pub struct Round {
    pub gridmap: Side,
    pub copy: Side,
    pub gridmap_client_cpu_s: f64,
    pub copy_client_cpu_s: f64,
    pub rss_kb: u64,
}

/// What the part measured.
pub struct PostgisIngest {
    /// Fixes per side and round.
    pub fixes: usize,
    pub rounds: Vec<Round>,
    /// gridmap's peak resident set over the part.
    pub hwm_kb: u64,
}

/// Runs the warm-up and the alternating rounds.
pub async fn run(
    config: &Config,
    fleet: &Fleet,
    server: &Server,
    db: &Client,
) -> anyhow::Result<PostgisIngest> {
    let poster = Poster::new(&server.url, &config.token);
    let warmup = WARMUP_FIXES.min(fleet.len() * 2) / BATCH * BATCH;
    // One fix per worker and second, every slot later than the one before (so each fix moves
    // its worker on the board), all in the past.
    let slots = |fixes: usize| fixes.div_ceil(fleet.len()) as i64;
    let total = slots(warmup) + slots(config.fixes) * config.fix_rounds as i64;
    let first = (Utc::now() - chrono::Duration::seconds(total + 5))
        .duration_trunc(chrono::Duration::seconds(1))?;
    let second = chrono::Duration::seconds(1);
    println!(
        "  {} fixes a side and round in batches of {BATCH} from {} clients, {} rounds, {} workers",
        config.fixes,
        config.clients,
        config.fix_rounds,
        fleet.len()
    );
    let connections = copy_connections(config).await?;
    let fixes = fleet.slots(first, second, warmup);
    poster
        .post_all(&fleet.bodies(&fixes), config.clients)
        .await?;
    clear(db, &fixes).await?;
    let mut rounds = Vec::new();
    for round in 0..config.fix_rounds {
        let start = first + second * (slots(warmup) + slots(config.fixes) * round as i64) as i32;
        let fixes = Arc::new(fleet.slots(start, second, config.fixes));
        let bodies = fleet.bodies(&fixes);
        let cpu = own_cpu_seconds();
        let gridmap = Side::measure(db, Some(server.pid), async {
            let took = poster.post_all(&bodies, config.clients).await?;
            expect_rows(db, &fixes, "posted").await?;
            Ok(took)
        })
        .await?;
        let gridmap_client_cpu_s = own_cpu_seconds() - cpu;
        let rss_kb = server.rss_kb();
        clear(db, &fixes).await?;
        let cpu = own_cpu_seconds();
        let copy = Side::measure(db, Some(server.pid), async {
            let took = copy_all(&connections, fleet, db, &fixes).await?;
            expect_rows(db, &fixes, "copied").await?;
            Ok(took)
        })
        .await?;
        let copy_client_cpu_s = own_cpu_seconds() - cpu;
        clear(db, &fixes).await?;
        println!(
            "  round {}: gridmap {:.0} fixes/s (WAL {:X}–{:X}), COPY {:.0} fixes/s (WAL {:X}–{:X})",
            round + 1,
            gridmap.rate(config.fixes),
            gridmap.before.lsn,
            gridmap.after.lsn,
            copy.rate(config.fixes),
            copy.before.lsn,
            copy.after.lsn
        );
        rounds.push(Round {
            gridmap,
            copy,
            gridmap_client_cpu_s,
            copy_client_cpu_s,
            rss_kb,
        });
    }
    Ok(PostgisIngest {
        fixes: config.fixes,
        rounds,
        hwm_kb: server.hwm_kb(),
    })
}

/// The first and last instant of a run of fixes.
fn span(fixes: &[Fix]) -> (DateTime<Utc>, DateTime<Utc>) {
    let first = fixes.iter().map(|f| f.at).min().unwrap_or_default();
    let last = fixes.iter().map(|f| f.at).max().unwrap_or_default();
    (first, last)
}

/// Fails unless `worker_fix` holds exactly as many rows in the fixes' span as there are fixes
/// (the span is the benchmark's own: nothing else writes fixes at those instants).
async fn expect_rows(db: &Client, fixes: &[Fix], how: &str) -> anyhow::Result<()> {
    let (first, last) = span(fixes);
    let rows: i64 = db
        .query_one(
            "SELECT count(*) FROM worker_fix WHERE at BETWEEN $1 AND $2",
            &[&first, &last],
        )
        .await?
        .get(0);
    if rows != fixes.len() as i64 {
        bail!(
            "worker_fix holds {rows} rows of the {} fixes {how}",
            fixes.len()
        );
    }
    Ok(())
}

/// Deletes the fixes' rows and vacuums the table, so the next side writes into the table as
/// this one found it.
async fn clear(db: &Client, fixes: &[Fix]) -> anyhow::Result<()> {
    let (first, last) = span(fixes);
    db.execute(
        "DELETE FROM worker_fix WHERE at BETWEEN $1 AND $2",
        &[&first, &last],
    )
    .await?;
    db.batch_execute("VACUUM worker_fix").await?;
    Ok(())
}

/// The anchor's connections, one per client, opened before the rounds and kept open (a backend
/// that exits takes its CPU seconds out of PostgreSQL's count).
async fn copy_connections(config: &Config) -> anyhow::Result<Vec<Arc<Mutex<Client>>>> {
    let mut connections = Vec::new();
    for _ in 0..config.clients {
        connections.push(Arc::new(Mutex::new(connect(&config.db).await?)));
    }
    Ok(connections)
}

/// The anchor: every batch by binary `COPY` in its own transaction, from the connections each
/// taking the next batch; the time from the first batch to the last commit.
async fn copy_all(
    connections: &[Arc<Mutex<Client>>],
    fleet: &Fleet,
    db: &Client,
    fixes: &Arc<Vec<Fix>>,
) -> anyhow::Result<Duration> {
    let types = Arc::new(vec![
        Type::TEXT,
        Type::TIMESTAMPTZ,
        geometry_type(db).await?,
        Type::FLOAT4,
        Type::FLOAT4,
        Type::FLOAT4,
        Type::TEXT,
    ]);
    let codes: Arc<Vec<String>> = Arc::new(fleet.workers.iter().map(|w| w.code.clone()).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in connections {
        let (fixes, next, types, codes) =
            (fixes.clone(), next.clone(), types.clone(), codes.clone());
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = client.lock().await;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(batch) = fixes.chunks(BATCH).nth(i) else {
                    return Ok::<(), anyhow::Error>(());
                };
                copy_batch(&mut client, &types, &codes, batch).await?;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(started.elapsed())
}

/// One batch in one transaction: `COPY worker_fix … FROM STDIN (FORMAT binary)`, then COMMIT.
async fn copy_batch(
    client: &mut Client,
    types: &[Type],
    codes: &[String],
    batch: &[Fix],
) -> anyhow::Result<()> {
    let tx = client.transaction().await?;
    let sink = tx
        .copy_in(
            "COPY worker_fix (worker_code, at, geom, accuracy_m, speed_mps, heading_deg, source_crs) \
             FROM STDIN (FORMAT binary)",
        )
        .await?;
    let writer = BinaryCopyInWriter::new(sink, types);
    pin_mut!(writer);
    for f in batch {
        writer
            .as_mut()
            .write(&[
                &codes[f.worker as usize],
                &f.at,
                &point_ewkb(f.lon, f.lat),
                &f.accuracy,
                &f.speed,
                &f.heading,
                &"wgs84",
            ])
            .await?;
    }
    writer.finish().await?;
    tx.commit().await?;
    Ok(())
}
