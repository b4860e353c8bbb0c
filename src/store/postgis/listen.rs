//! The change feed: edits that other clients (psql, QGIS, the workflow system) make to the
//! tables reach the service as full [`Change`] records.
//!
//! A background task holds its own connection (`application_name=gridmap-listener`), runs
//! `LISTEN gridmap_change`, and for each burst of notifications reads the current rows (or emits
//! the deletes) into a bounded channel. When the connection drops it reconnects with backoff,
//! listens again and then resynchronises, because notifications sent while it was away are lost:
//! it re-emits every row whose `updated_at` is at or after the last moment it knew it was
//! connected, less [`RESYNC_MARGIN`], and replays the deletes recorded in `gridmap_tombstone`
//! since then. The margin covers transactions that started before that moment and committed
//! while the listener was down; a writer transaction open longer than the margin that commits
//! during an outage is the one case that can be missed. Re-emitted rows are harmless: every
//! change is an idempotent upsert or delete. The first session resynchronises from the moment
//! the store connected, so edits made while the service loaded its dataset are not lost either.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_postgres::tls::NoTlsStream;
use tokio_postgres::{AsyncMessage, Client, Config, Connection, NoTls, Socket};

use super::read::{self, Filter};
use crate::model::{Change, Population, PopulationCounts};
use crate::store::StoreError;

/// The notification channel the triggers of `migrations/` signal.
const CHANNEL: &str = "gridmap_change";
/// How far before the last known-connected moment a resync starts reading.
const RESYNC_MARGIN: chrono::TimeDelta = chrono::TimeDelta::minutes(5);
/// How often the listener checks its connection (a silent network drop is noticed within two
/// periods) and advances its watermark.
const KEEPALIVE: Duration = Duration::from_secs(10);
/// The first reconnect delay; it doubles up to [`MAX_RETRY_DELAY`].
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(200);
/// The longest wait between reconnect attempts.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);
/// At most this many notifications are read back with one query per table.
const MAX_BURST: usize = 1000;
/// Tombstones older than this are pruned (a listener down longer resyncs only from them).
const TOMBSTONE_RETENTION: &str = "7 days";
/// Deletes are emitted children first, so no child outlives its parent in the engine.
const DELETE_ORDER: [&str; 6] = [
    "population",
    "house",
    "building",
    "area",
    "worker",
    "basemap",
];
/// Upserts are emitted parents first, so a house never arrives before its building.
const UPSERT_ORDER: [&str; 7] = [
    "area",
    "building",
    "house",
    "population",
    "worker",
    "event",
    "basemap",
];

/// Starts the listener task. It ends when the receiver of `out` is dropped.
pub(crate) fn spawn(
    runtime: &tokio::runtime::Handle,
    config: Config,
    out: mpsc::Sender<Change>,
    connected_at: DateTime<Utc>,
) {
    let listener = Listener {
        config,
        out,
        watermark: connected_at,
        retry_delay: FIRST_RETRY_DELAY,
    };
    runtime.spawn(listener.run());
}

/// The payload the triggers send.
#[derive(Debug, Deserialize)]
struct Notice {
    table: String,
    op: String,
    code: String,
}

/// Why a listening session ended.
#[derive(Debug, thiserror::Error)]
enum SessionEnd {
    #[error("listener connection failed: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("the listener connection was closed by the server")]
    Closed,
    #[error("the database did not answer the listener's keepalive within {KEEPALIVE:?}")]
    Stalled,
    #[error("nobody receives the changes any more")]
    ReceiverGone,
}

struct Listener {
    config: Config,
    out: mpsc::Sender<Change>,
    /// A server time before which every change has been delivered (up to [`RESYNC_MARGIN`]).
    watermark: DateTime<Utc>,
    retry_delay: Duration,
}

impl Listener {
    async fn run(mut self) {
        loop {
            match self.session().await {
                Err(SessionEnd::ReceiverGone) => return,
                Err(e) => tracing::warn!(
                    error = %e,
                    retry_in = ?self.retry_delay,
                    "change listener lost its connection; reconnecting"
                ),
                Ok(never) => match never {},
            }
            tokio::select! {
                _ = tokio::time::sleep(self.retry_delay) => {}
                _ = self.out.closed() => return,
            }
            self.retry_delay = (self.retry_delay * 2).min(MAX_RETRY_DELAY);
        }
    }

    /// One connection's life: listen, catch up, then deliver until something fails.
    async fn session(&mut self) -> Result<Infallible, SessionEnd> {
        let (client, connection) = self.config.connect(NoTls).await?;
        let (notes_in, mut notes) = mpsc::unbounded_channel();
        tokio::spawn(drive(connection, notes_in));
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
        let now = server_now(&client).await?;
        self.resync(&client, self.watermark - RESYNC_MARGIN).await?;
        self.watermark = now;
        self.retry_delay = FIRST_RETRY_DELAY;
        prune_tombstones(&client).await?;
        tracing::info!("change listener is listening on {CHANNEL}");
        let mut keepalive = tokio::time::interval(KEEPALIVE);
        loop {
            tokio::select! {
                note = notes.recv() => {
                    let first = note.ok_or(SessionEnd::Closed)?;
                    let mut burst = vec![first];
                    while burst.len() < MAX_BURST {
                        match notes.try_recv() {
                            Ok(next) => burst.push(next),
                            Err(_) => break,
                        }
                    }
                    self.deliver(&client, &burst).await?;
                }
                _ = keepalive.tick() => {
                    let now = tokio::time::timeout(KEEPALIVE, server_now(&client)).await;
                    self.watermark = now.map_err(|_| SessionEnd::Stalled)??;
                }
                _ = self.out.closed() => return Err(SessionEnd::ReceiverGone),
            }
        }
    }

    /// Reads back the rows a burst of notifications names and sends the changes.
    async fn deliver(&self, client: &Client, payloads: &[String]) -> Result<(), SessionEnd> {
        let mut deleted: HashMap<&str, Vec<String>> = HashMap::new();
        let mut upserted: HashMap<&str, Vec<String>> = HashMap::new();
        for (table, op, code) in last_op_per_row(payloads) {
            let bucket = if op == "DELETE" {
                &mut deleted
            } else {
                &mut upserted
            };
            bucket.entry(table).or_default().push(code);
        }
        for table in DELETE_ORDER {
            if let Some(codes) = deleted.get(table) {
                self.send(deletes(client, table, codes).await?).await?;
            }
        }
        for table in UPSERT_ORDER {
            if let Some(codes) = upserted.get(table) {
                self.send(upserts(client, table, Filter::Codes(codes)).await?)
                    .await?;
            }
        }
        Ok(())
    }

    /// Re-emits what changed since `since`: deletes from the tombstones, then upserts.
    async fn resync(&self, client: &Client, since: DateTime<Utc>) -> Result<(), SessionEnd> {
        let rows = client
            .query(
                "SELECT table_name, array_agg(DISTINCT code) FROM gridmap_tombstone \
                 WHERE deleted_at >= $1 GROUP BY table_name",
                &[&since],
            )
            .await?;
        let tombstones: HashMap<String, Vec<String>> =
            rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        let mut sent = 0;
        for table in DELETE_ORDER {
            if let Some(codes) = tombstones.get(table) {
                sent += self.send(deletes(client, table, codes).await?).await?;
            }
        }
        for table in UPSERT_ORDER {
            sent += self
                .send(upserts(client, table, Filter::Since(since)).await?)
                .await?;
        }
        tracing::info!(changes = sent, %since, "change listener resynchronised");
        Ok(())
    }

    async fn send(&self, changes: Vec<Change>) -> Result<usize, SessionEnd> {
        let count = changes.len();
        for change in changes {
            self.out
                .send(change)
                .await
                .map_err(|_| SessionEnd::ReceiverGone)?;
        }
        Ok(count)
    }
}

/// Polls the connection, forwarding notification payloads until it closes or fails.
async fn drive(
    mut connection: Connection<Socket, NoTlsStream>,
    notes: mpsc::UnboundedSender<String>,
) {
    let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
    while let Some(message) = messages.next().await {
        match message {
            Ok(AsyncMessage::Notification(n)) => {
                if notes.send(n.payload().to_string()).is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(error = %e, "change listener connection ended");
                return;
            }
        }
    }
}

/// Parses payloads and keeps the last operation per (table, code), in order of those last
/// operations. Unreadable payloads (not from our triggers) are logged and skipped.
fn last_op_per_row(payloads: &[String]) -> Vec<(&'static str, String, String)> {
    let mut latest: Vec<(&'static str, String, String)> = Vec::new();
    for payload in payloads {
        let notice: Notice = match serde_json::from_str(payload) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(%payload, error = %e, "ignoring an unreadable {CHANNEL} notification");
                continue;
            }
        };
        let Some(table) = UPSERT_ORDER.into_iter().find(|t| *t == notice.table) else {
            tracing::warn!(table = %notice.table, "ignoring a notification of an unknown table");
            continue;
        };
        latest.retain(|(t, _, c)| !(*t == table && *c == notice.code));
        latest.push((table, notice.op, notice.code));
    }
    latest
}

/// The delete changes for `codes` of `table` that are really gone now (a row re-inserted since
/// arrives as an upsert instead). Population that is gone with its house is covered by the
/// house's delete; population removed from a standing house becomes all-zero counts. Events
/// have no delete change: a deleted event stays in the engine until the next start.
async fn deletes(
    client: &Client,
    table: &str,
    codes: &[String],
) -> Result<Vec<Change>, SessionEnd> {
    let gone = missing(client, table, codes).await?;
    Ok(match table {
        "area" => gone.into_iter().map(Change::DeleteArea).collect(),
        "building" => gone.into_iter().map(Change::DeleteBuilding).collect(),
        "house" => gone.into_iter().map(Change::DeleteHouse).collect(),
        "worker" => gone.into_iter().map(Change::DeleteWorker).collect(),
        "basemap" => gone.into_iter().map(Change::DeleteBasemap).collect(),
        "population" => {
            let houses_gone = missing(client, "house", &gone).await?;
            gone.into_iter()
                .filter(|code| !houses_gone.contains(code))
                .map(|house_code| {
                    Change::SetPopulation(Population {
                        house_code,
                        counts: PopulationCounts::default(),
                    })
                })
                .collect()
        }
        _ => Vec::new(),
    })
}

/// The codes among `codes` that have no row in `table`.
async fn missing(
    client: &Client,
    table: &str,
    codes: &[String],
) -> Result<Vec<String>, SessionEnd> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    let key = if table == "population" {
        "house_code"
    } else {
        "code"
    };
    let rows = client
        .query(
            &format!("SELECT {key} FROM {table} WHERE {key} = ANY($1)"),
            &[&codes],
        )
        .await?;
    let present: std::collections::HashSet<String> = rows.iter().map(|r| r.get(0)).collect();
    Ok(codes
        .iter()
        .filter(|c| !present.contains(*c))
        .cloned()
        .collect())
}

/// The current rows of `table` that `filter` selects, as upsert changes.
async fn upserts(
    client: &Client,
    table: &str,
    filter: Filter<'_>,
) -> Result<Vec<Change>, SessionEnd> {
    Ok(match table {
        "area" => read::AREAS
            .select(client, filter)
            .await?
            .into_iter()
            .map(Change::UpsertArea)
            .collect(),
        "building" => read::BUILDINGS
            .select(client, filter)
            .await?
            .into_iter()
            .map(Change::UpsertBuilding)
            .collect(),
        "house" => read::HOUSES
            .select(client, filter)
            .await?
            .into_iter()
            .map(Change::UpsertHouse)
            .collect(),
        "population" => read::POPULATION
            .select(client, filter)
            .await?
            .into_iter()
            .map(Change::SetPopulation)
            .collect(),
        "worker" => read::WORKERS
            .select(client, filter)
            .await?
            .into_iter()
            .map(Change::UpsertWorker)
            .collect(),
        "basemap" => read::BASEMAP
            .select(client, filter)
            .await?
            .into_iter()
            .map(Change::UpsertBasemap)
            .collect(),
        "event" => read::events(client, filter)
            .await?
            .into_iter()
            .map(Change::UpsertEvent)
            .collect(),
        _ => Vec::new(),
    })
}

async fn server_now(client: &Client) -> Result<DateTime<Utc>, tokio_postgres::Error> {
    Ok(client.query_one("SELECT now()", &[]).await?.get(0))
}

async fn prune_tombstones(client: &Client) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            &format!("DELETE FROM gridmap_tombstone WHERE deleted_at < now() - interval '{TOMBSTONE_RETENTION}'"),
            &[],
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(table: &str, op: &str, code: &str) -> String {
        format!(r#"{{"table" : "{table}", "op" : "{op}", "code" : "{code}"}}"#)
    }

    #[test]
    fn nothing_in_nothing_out() {
        assert!(last_op_per_row(&[]).is_empty());
    }

    #[test]
    fn garbage_and_unknown_tables_are_skipped() {
        let got = last_op_per_row(&["not json".into(), payload("worker_fix", "INSERT", "w1")]);
        assert!(got.is_empty());
    }

    #[test]
    fn the_last_operation_of_a_row_wins_and_moves_to_the_end() {
        let got = last_op_per_row(&[
            payload("area", "UPDATE", "410611"),
            payload("building", "DELETE", "41061100100100001"),
            payload("area", "DELETE", "410611"),
        ]);
        assert_eq!(
            got,
            vec![
                (
                    "building",
                    "DELETE".to_string(),
                    "41061100100100001".to_string()
                ),
                ("area", "DELETE".to_string(), "410611".to_string()),
            ]
        );
    }

    #[test]
    fn same_code_in_two_tables_is_two_rows() {
        let got = last_op_per_row(&[
            payload("house", "INSERT", "1"),
            payload("population", "INSERT", "1"),
        ]);
        assert_eq!(got.len(), 2);
    }
}
