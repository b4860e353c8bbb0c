//! The fleet the benchmark moves: the city's workers, topped up to the wanted count with extra
//! grid workers registered in both stores, each with a spot inside its home area; and the fixes
//! and request bodies made from them.
//!
//! Fixes stay within a few metres of the worker's spot (a point on the surface of its home
//! area), so none is refused as a GPS jump or raises an out-of-grid alert: every fix costs the
//! service the same checks, store write and board update.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use anyhow::{bail, Context};
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use gridmap::model::{Change, Worker, WorkerRole};
use gridmap::store::gpkg::GpkgStore;
use gridmap::store::postgis::PostgisStore;
use gridmap::store::Store;
use serde_json::json;
use tokio_postgres::Client;

use crate::Config;

/// One worker of the fleet.
pub struct FleetWorker {
    pub code: String,
    pub home: String,
    /// A point inside the home area, WGS84/CGCS2000.
    pub lon: f64,
    pub lat: f64,
}

/// The workers the benchmark posts fixes for, in a fixed shuffled order (by the hash of their
/// code), so that a batch of consecutive workers spreads over the city as a gateway's would.
pub struct Fleet {
    pub workers: Vec<FleetWorker>,
    by_code: HashMap<String, u32>,
}

/// One fix of a fleet worker.
#[derive(Debug, Clone, Copy)]
pub struct Fix {
    /// The worker's index in the fleet.
    pub worker: u32,
    pub at: DateTime<Utc>,
    pub lon: f64,
    pub lat: f64,
    pub accuracy: f32,
    pub speed: f32,
    pub heading: f32,
}

impl Fleet {
    /// Registers in PostGIS the extra workers the wanted count needs, then reads the fleet with
    /// a spot per worker.
    pub async fn prepare(config: &Config, db: &Client) -> anyhow::Result<Fleet> {
        let stored: i64 = db
            .query_one("SELECT count(*) FROM worker", &[])
            .await?
            .get(0);
        let extra = extra_workers(db, config.workers.saturating_sub(stored as usize)).await?;
        if !extra.is_empty() {
            println!(
                "registering {} extra grid workers (the city has {stored})",
                extra.len()
            );
            let changes: Vec<Change> = extra.into_iter().map(Change::UpsertWorker).collect();
            PostgisStore::connect(&config.db)
                .await?
                .apply(&changes)
                .await
                .context("cannot register the extra workers in PostGIS")?;
        }
        let rows = db
            .query(
                "SELECT w.code, w.home_code, ST_X(p.spot), ST_Y(p.spot) FROM worker w \
                 JOIN area a ON a.code = w.home_code \
                 CROSS JOIN LATERAL (SELECT ST_PointOnSurface(a.geom) AS spot) p \
                 ORDER BY md5(w.code) LIMIT $1",
                &[&(config.workers as i64)],
            )
            .await?;
        if rows.len() < config.workers {
            bail!(
                "only {} workers with a home area in the database; wanted {}",
                rows.len(),
                config.workers
            );
        }
        let workers: Vec<FleetWorker> = rows
            .iter()
            .map(|r| FleetWorker {
                code: r.get(0),
                home: r.get(1),
                lon: r.get(2),
                lat: r.get(3),
            })
            .collect();
        let by_code = workers
            .iter()
            .enumerate()
            .map(|(i, w)| (w.code.clone(), i as u32))
            .collect();
        Ok(Fleet { workers, by_code })
    }

    /// Registers in the GeoPackage the fleet's workers it lacks (the extra ones), with their
    /// PostGIS records; no server may have the file open.
    pub async fn register_in_gpkg(&self, path: &Path, db: &Client) -> anyhow::Result<()> {
        let known: HashSet<String> = {
            let conn = rusqlite::Connection::open(path)?;
            let mut statement = conn.prepare("SELECT code FROM worker")?;
            let codes = statement.query_map([], |r| r.get(0))?;
            codes.collect::<Result<_, _>>()?
        };
        let missing: Vec<&str> = self
            .workers
            .iter()
            .map(|w| w.code.as_str())
            .filter(|c| !known.contains(*c))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        println!(
            "registering {} extra grid workers in {}",
            missing.len(),
            path.display()
        );
        let rows = db
            .query(
                "SELECT code, name, phone, role, home_code, device FROM worker \
                 WHERE code = ANY($1) ORDER BY code",
                &[&missing],
            )
            .await?;
        let changes = rows
            .iter()
            .map(|r| {
                let role: String = r.get(3);
                Ok(Change::UpsertWorker(Worker {
                    code: r.get(0),
                    name: r.get(1),
                    phone: r.get(2),
                    role: WorkerRole::parse(&role)
                        .with_context(|| format!("unknown worker role {role:?}"))?,
                    home_code: r.get(4),
                    device: r.get(5),
                }))
            })
            .collect::<anyhow::Result<Vec<Change>>>()?;
        GpkgStore::open(path)?
            .apply(&changes)
            .await
            .with_context(|| format!("cannot register the extra workers in {}", path.display()))
    }

    pub fn len(&self) -> usize {
        self.workers.len()
    }

    /// The fleet index of a worker code.
    pub fn index_of(&self, code: &str) -> Option<u32> {
        self.by_code.get(code).copied()
    }

    /// The fix of worker `worker` at `at`: near its spot, jittered by a few metres from the
    /// hash of both, walking slowly.
    pub fn fix(&self, worker: u32, at: DateTime<Utc>) -> Fix {
        let w = &self.workers[worker as usize];
        let h = mix(u64::from(worker) << 40 ^ at.timestamp_millis() as u64);
        let unit = |shift: u32| ((h >> shift) & 0xffff) as f64 / 65_535.0 * 2.0 - 1.0;
        Fix {
            worker,
            at,
            // ±2e-5° is about ±2 m.
            lon: w.lon + unit(0) * 2e-5,
            lat: w.lat + unit(16) * 2e-5,
            accuracy: 5.0,
            speed: 1.0 + unit(32).abs() as f32,
            heading: ((unit(48) + 1.0) * 180.0) as f32,
        }
    }

    /// `count` fixes in slots `spacing` apart from `first`: slot k holds every worker's fix
    /// at `first + k × spacing`, in fleet order (so each batch of 500 holds 500 workers).
    pub fn slots(&self, first: DateTime<Utc>, spacing: chrono::Duration, count: usize) -> Vec<Fix> {
        let n = self.len();
        (0..count)
            .map(|i| self.fix((i % n) as u32, first + spacing * (i / n) as i32))
            .collect()
    }

    /// The JSON body of `POST /api/fixes` for a batch.
    pub fn body(&self, batch: &[Fix]) -> Bytes {
        let fixes: Vec<serde_json::Value> = batch
            .iter()
            .map(|f| {
                json!({
                    "worker": self.workers[f.worker as usize].code,
                    "at": f.at.to_rfc3339_opts(SecondsFormat::Millis, true),
                    "lon": f.lon,
                    "lat": f.lat,
                    "crs": "wgs84",
                    "accuracy": f.accuracy,
                    "speed": f.speed,
                    "heading": f.heading,
                })
            })
            .collect();
        Bytes::from(json!({ "fixes": fixes }).to_string())
    }

    /// The bodies of `fixes` in batches of [`crate::BATCH`].
    pub fn bodies(&self, fixes: &[Fix]) -> Vec<Bytes> {
        fixes.chunks(crate::BATCH).map(|b| self.body(b)).collect()
    }
}

/// `count` extra grid workers: a second, third … worker (`W{grid}02` …) in each base grid in
/// code order, until there are enough. Their codes do not collide with the generated ones
/// (`W{grid}01`; street workers have 9-digit homes).
async fn extra_workers(db: &Client, count: usize) -> anyhow::Result<Vec<Worker>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let grids: Vec<String> = db
        .query(
            "SELECT code FROM area WHERE layer = 'base' AND level = 5 ORDER BY code",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if grids.is_empty() {
        bail!("the database has no base grids to home extra workers in");
    }
    let mut extra = Vec::with_capacity(count);
    for n in 2.. {
        for grid in &grids {
            if extra.len() == count {
                return Ok(extra);
            }
            extra.push(Worker {
                code: format!("W{grid}{n:02}"),
                name: format!("压测网格员{n:02}"),
                phone: None,
                role: WorkerRole::GridWorker,
                home_code: grid.clone(),
                device: None,
            });
        }
    }
    unreachable!("the loop returns once there are enough workers")
}

/// A 64-bit mix (splitmix64's finaliser): the same input gives the same jitter in every run.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
