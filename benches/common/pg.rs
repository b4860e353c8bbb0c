//! PostgreSQL for the benchmarks: connections, EWKB points for binary `COPY`, and one side of a
//! durable-write comparison measured from a `CHECKPOINT` (WAL, full-page images, checkpoints,
//! CPU seconds of the service and of PostgreSQL).

use std::time::Duration;

use anyhow::Context;
use bytes::BytesMut;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::{Client, NoTls};

use super::process;

/// A connection whose connection task runs on the runtime.
pub async fn connect(url: &str) -> anyhow::Result<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .with_context(|| format!("cannot connect to {url}"))?;
    tokio::spawn(connection);
    Ok(client)
}

/// EWKB bytes sent as a binary `geometry` value (PostGIS' receive function reads EWKB).
#[derive(Debug)]
pub struct Ewkb(Vec<u8>);

impl ToSql for Ewkb {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&self.0);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        ty.name() == "geometry"
    }

    to_sql_checked!();
}

/// A point with SRID 4490 as little-endian EWKB.
pub fn point_ewkb(lon: f64, lat: f64) -> Ewkb {
    let mut b = Vec::with_capacity(25);
    b.push(1u8);
    b.extend_from_slice(&0x2000_0001u32.to_le_bytes());
    b.extend_from_slice(&4490u32.to_le_bytes());
    b.extend_from_slice(&lon.to_le_bytes());
    b.extend_from_slice(&lat.to_le_bytes());
    Ewkb(b)
}

/// The `geometry` type of the database (an extension type: its oid differs per database).
pub async fn geometry_type(db: &Client) -> anyhow::Result<Type> {
    Ok(db.prepare("SELECT $1::geometry").await?.params()[0].clone())
}

/// What PostgreSQL and the measured service had done up to a moment.
#[derive(Debug, Clone, Copy)]
pub struct Counters {
    pub wal_bytes: f64,
    pub full_page_images: i64,
    pub checkpoints: i64,
    /// The service's user + system CPU seconds; 0 without its pid.
    pub server_cpu_s: f64,
    /// The CPU seconds of every PostgreSQL process ([`process::postgres_cpu_seconds`]).
    pub postgres_cpu_s: f64,
    /// The WAL position (for `pg_walinspect` on a slow round).
    pub lsn: i64,
}

impl Counters {
    pub async fn read(db: &Client, server_pid: Option<u32>) -> anyhow::Result<Counters> {
        let row = db
            .query_one(
                "SELECT w.wal_bytes::float8, w.wal_fpi, \
                 (b.checkpoints_timed + b.checkpoints_req)::bigint, \
                 (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint \
                 FROM pg_stat_wal w, pg_stat_bgwriter b",
                &[],
            )
            .await?;
        Ok(Counters {
            wal_bytes: row.get(0),
            full_page_images: row.get(1),
            checkpoints: row.get(2),
            server_cpu_s: server_pid.map_or(0.0, process::cpu_seconds),
            postgres_cpu_s: process::postgres_cpu_seconds(),
            lsn: row.get(3),
        })
    }
}

/// One side of one round of a durable-write comparison: its time and what was written
/// meanwhile. Each side starts right after a `CHECKPOINT`, so both pay the full-page images of
/// the pages they touch first alike.
#[derive(Debug, Clone, Copy)]
pub struct Side {
    pub took: Duration,
    pub before: Counters,
    pub after: Counters,
}

impl Side {
    /// Runs `work` (which answers the time it measured) between two readings of the counters.
    pub async fn measure(
        db: &Client,
        server_pid: Option<u32>,
        work: impl std::future::Future<Output = anyhow::Result<Duration>>,
    ) -> anyhow::Result<Side> {
        db.batch_execute("CHECKPOINT").await?;
        let before = Counters::read(db, server_pid).await?;
        let took = work.await?;
        let after = Counters::read(db, server_pid).await?;
        Ok(Side {
            took,
            before,
            after,
        })
    }

    /// Items per second.
    pub fn rate(&self, items: usize) -> f64 {
        items as f64 / self.took.as_secs_f64()
    }

    /// WAL written, MB.
    pub fn wal_mb(&self) -> f64 {
        (self.after.wal_bytes - self.before.wal_bytes) / 1e6
    }

    pub fn full_page_images(&self) -> i64 {
        self.after.full_page_images - self.before.full_page_images
    }

    pub fn checkpoints(&self) -> i64 {
        self.after.checkpoints - self.before.checkpoints
    }

    pub fn server_cpu_s(&self) -> f64 {
        self.after.server_cpu_s - self.before.server_cpu_s
    }

    pub fn postgres_cpu_s(&self) -> f64 {
        self.after.postgres_cpu_s - self.before.postgres_cpu_s
    }
}
