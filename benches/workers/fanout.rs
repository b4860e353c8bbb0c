//! P6.3: the live fan-out. WebSocket clients on `GET /api/live` while the fleet posts one fix
//! per worker every 5 s, against PostgreSQL LISTEN/NOTIFY carrying the same messages to as many
//! LISTEN connections (see the crate documentation for the rules).
//!
//! Both sides share the schedule ([`Schedule`]: a batch every 250 ms, sent on time whatever
//! the answers do), the receiving clients' bookkeeping ([`ClientLog`]) and the summary
//! ([`LiveSide`]); they differ in how a batch is sent and how a client listens.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use chrono::{DateTime, DurationRound, SecondsFormat, Utc};
use futures::StreamExt;
use tokio::sync::{watch, Mutex};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_postgres::{AsyncMessage, Client, NoTls};
use tokio_tungstenite::tungstenite::Message;

use crate::common::process::{cpu_seconds, own_cpu_seconds, postgres_cpu_seconds};
use crate::common::quantile;
use crate::fleet::Fleet;
use crate::post::Poster;
use crate::server::Server;
use crate::{Config, LiveAreas};

/// A batch is sent every tick; each worker reports once every [`TICKS_PER_REPORT`] ticks
/// (250 ms × 20: one fix per worker every 5 s).
const TICK: Duration = Duration::from_millis(250);
const TICKS_PER_REPORT: usize = 20;
/// How long the clients keep listening after the last batch was answered.
const GRACE: Duration = Duration::from_secs(3);
/// Time allowed per client to connect and subscribe before the first batch.
const CONNECT_TIME: Duration = Duration::from_millis(50);
/// Connections the anchor's batches are sent on, each taking every fourth batch.
const NOTIFY_WRITERS: usize = 4;
/// The p99 goal of the fan-out.
pub const GOAL_P99_MS: f64 = 100.0;

/// Which fix is sent when: batch `b` at `t0 + b × TICK` holds the fixes of the workers
/// `(b mod 20) × per_batch ..` (fleet order), each stamped with the batch's instant. A fix's
/// id is `b × per_batch + its place in the batch`.
struct Schedule {
    t0: DateTime<Utc>,
    batches: usize,
    per_batch: usize,
    workers: usize,
}

impl Schedule {
    /// A schedule of `seconds` starting on a whole second once `clients` clients have had time
    /// to connect ([`CONNECT_TIME`] each).
    fn new(workers: usize, seconds: u64, clients: usize) -> anyhow::Result<Schedule> {
        let second = chrono::Duration::seconds(1);
        let lead = chrono::Duration::from_std(CONNECT_TIME * clients as u32)? + second * 2;
        Ok(Schedule {
            t0: (Utc::now() + lead).duration_trunc(second)?,
            batches: (Duration::from_secs(seconds).as_millis() / TICK.as_millis()) as usize,
            per_batch: workers.div_ceil(TICKS_PER_REPORT),
            workers,
        })
    }

    fn at(&self, batch: usize) -> DateTime<Utc> {
        self.t0 + chrono::Duration::from_std(TICK).unwrap_or_default() * batch as i32
    }

    /// The fleet indexes of the workers of a batch.
    fn workers_of(&self, batch: usize) -> std::ops::Range<usize> {
        let start = (batch % TICKS_PER_REPORT) * self.per_batch;
        start.min(self.workers)..(start + self.per_batch).min(self.workers)
    }

    fn ids(&self) -> usize {
        self.batches * self.per_batch
    }

    /// The id of the fix of `worker` stamped `at_ms`, if the schedule sent one.
    fn fix_id(&self, worker: usize, at_ms: i64) -> Option<usize> {
        let offset = at_ms - self.t0.timestamp_millis();
        let tick = TICK.as_millis() as i64;
        if offset < 0 || offset % tick != 0 {
            return None;
        }
        let batch = (offset / tick) as usize;
        let range = self.workers_of(batch);
        (batch < self.batches && range.contains(&worker))
            .then(|| batch * self.per_batch + worker - range.start)
    }

    /// The batch a fix id belongs to.
    fn batch_of(&self, id: usize) -> usize {
        id / self.per_batch
    }
}

/// The areas the clients subscribe to (client `i` takes area `i mod n`) and, per fleet
/// worker, the key of its area at that level (its channel in the anchor).
struct Areas {
    codes: Vec<String>,
    worker_keys: Vec<String>,
    /// Clients per area code.
    clients: HashMap<String, usize>,
}

impl Areas {
    async fn load(
        db: &Client,
        level: LiveAreas,
        fleet: &Fleet,
        clients: usize,
    ) -> anyhow::Result<Areas> {
        let codes: Vec<String> = match level {
            LiveAreas::City => vec!["410600".to_string()],
            LiveAreas::Districts | LiveAreas::Streets => {
                let level: i16 = if level == LiveAreas::Districts { 2 } else { 3 };
                db.query(
                    "SELECT code FROM area WHERE layer = 'base' AND level = $1 ORDER BY code",
                    &[&level],
                )
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect()
            }
        };
        if codes.is_empty() {
            bail!("the database has no base areas of the level asked for");
        }
        let mut per_area = HashMap::new();
        for i in 0..clients {
            *per_area.entry(codes[i % codes.len()].clone()).or_insert(0) += 1;
        }
        let worker_keys = fleet
            .workers
            .iter()
            .map(|w| match level {
                LiveAreas::City => "410600".to_string(),
                LiveAreas::Districts => w.home[..6].to_string(),
                LiveAreas::Streets => w.home[..9].to_string(),
            })
            .collect();
        Ok(Areas {
            codes,
            worker_keys,
            clients: per_area,
        })
    }

    fn of_client(&self, i: usize) -> &str {
        &self.codes[i % self.codes.len()]
    }

    /// How many clients take the fixes of a worker.
    fn clients_of(&self, worker: usize) -> usize {
        self.clients
            .get(&self.worker_keys[worker])
            .copied()
            .unwrap_or(0)
    }
}

/// What the part measured.
pub struct Live {
    pub clients: usize,
    pub areas: LiveAreas,
    pub area_count: usize,
    pub fixes_per_s: f64,
    pub seconds: u64,
    pub rounds: Vec<(LiveSide, LiveSide)>,
}

/// One side of one round.
pub struct LiveSide {
    /// Latencies from acknowledgement to receipt, ms, sorted.
    pub latencies_ms: Vec<f64>,
    /// Messages due: each fix sent once per client whose area holds its worker.
    pub due: usize,
    /// `lagged` notices received.
    pub lagged: usize,
    pub server_cpu_s: f64,
    pub postgres_cpu_s: f64,
    /// The benchmark's own CPU seconds (its clients parse every message).
    pub client_cpu_s: f64,
    /// Largest `VmRSS` of gridmap sampled each second during the side, and its `VmHWM` after.
    pub rss_max_kb: u64,
    pub hwm_kb: u64,
}

impl LiveSide {
    pub fn received(&self) -> usize {
        self.latencies_ms.len()
    }

    pub fn at(&self, q: f64) -> f64 {
        quantile(&self.latencies_ms, q)
    }

    pub fn max(&self) -> f64 {
        self.latencies_ms.last().copied().unwrap_or(f64::NAN)
    }
}

/// Runs the alternating rounds.
pub async fn run(
    config: &Config,
    fleet: &Arc<Fleet>,
    server: &Server,
    db: &Client,
) -> anyhow::Result<Live> {
    let areas = Areas::load(db, config.live_areas, fleet, config.live_clients).await?;
    let area_count = areas.codes.len().min(config.live_clients);
    let fixes_per_s = fleet.len() as f64 / (TICK * TICKS_PER_REPORT as u32).as_secs_f64();
    println!(
        "  {} clients on {area_count} areas ({}), {fixes_per_s:.0} fixes/s for {} s a side, {} rounds",
        config.live_clients,
        config.live_areas.name(),
        config.live_seconds,
        config.live_rounds
    );
    let mut rounds = Vec::new();
    for round in 0..config.live_rounds {
        let (gridmap, captured) = gridmap_side(config, fleet, server, &areas).await?;
        let notify = notify_side(config, fleet, server, &areas, &captured).await?;
        println!(
            "  round {}: gridmap p50 {:.1} p99 {:.1} ms ({} of {} messages), NOTIFY p50 {:.1} p99 {:.1} ms ({} of {})",
            round + 1,
            gridmap.at(0.5),
            gridmap.at(0.99),
            gridmap.received(),
            gridmap.due,
            notify.at(0.5),
            notify.at(0.99),
            notify.received(),
            notify.due
        );
        rounds.push((gridmap, notify));
    }
    Ok(Live {
        clients: config.live_clients,
        areas: config.live_areas,
        area_count,
        fixes_per_s,
        seconds: config.live_seconds,
        rounds,
    })
}

/// gridmap's side: the clients on `/api/live`, the batches posted to `/api/fixes`. Answers the
/// side and the first text received of each fix (the anchor's payloads).
async fn gridmap_side(
    config: &Config,
    fleet: &Arc<Fleet>,
    server: &Server,
    areas: &Areas,
) -> anyhow::Result<(LiveSide, Vec<OnceLock<String>>)> {
    let schedule = Schedule::new(fleet.len(), config.live_seconds, config.live_clients)?;
    let bodies: Vec<(Bytes, usize)> = (0..schedule.batches)
        .map(|b| {
            let fixes: Vec<_> = schedule
                .workers_of(b)
                .map(|w| fleet.fix(w as u32, schedule.at(b)))
                .collect();
            (fleet.body(&fixes), fixes.len())
        })
        .collect();
    let receiving = Arc::new(Receiving::new(schedule, fleet.clone(), true));
    let (stop, stopped) = watch::channel(false);
    let mut clients = Vec::new();
    for i in 0..config.live_clients {
        let area = areas.of_client(i);
        clients.push(
            ws_client(
                server,
                &config.token,
                area,
                receiving.clone(),
                stopped.clone(),
            )
            .await?,
        );
    }
    let meter = Meter::start(server.pid);
    let poster = Poster::new(&server.url, &config.token);
    let acks = send_on_schedule(&receiving, |b| {
        let (poster, (body, fixes)) = (poster.clone(), bodies[b].clone());
        async move { poster.post(body, fixes).await }
    })
    .await?;
    tokio::time::sleep(GRACE).await;
    let metered = meter.finish(server).await;
    let _ = stop.send(true);
    let mut logs = Vec::new();
    for client in clients {
        logs.push(client.await??);
    }
    let side = summarize(&receiving, &acks, logs, areas, metered);
    let receiving = Arc::into_inner(receiving).context("a client still holds the receipts")?;
    Ok((side, receiving.captured))
}

/// The anchor's side: LISTEN connections on the clients' areas, the same messages sent by
/// `pg_notify` on each worker's area channel, one transaction per batch.
async fn notify_side(
    config: &Config,
    fleet: &Arc<Fleet>,
    server: &Server,
    areas: &Areas,
    captured: &[OnceLock<String>],
) -> anyhow::Result<LiveSide> {
    let schedule = Schedule::new(fleet.len(), config.live_seconds, config.live_clients)?;
    let template = captured
        .iter()
        .find_map(|c| c.get())
        .context("no gridmap client received a fix: nothing to send through NOTIFY")?;
    let batches: Vec<Arc<NotifyBatch>> = (0..schedule.batches)
        .map(|b| {
            let at = schedule.at(b).to_rfc3339_opts(SecondsFormat::AutoSi, true);
            let mut channels = Vec::new();
            let mut payloads = Vec::new();
            for (j, w) in schedule.workers_of(b).enumerate() {
                let id = b * schedule.per_batch + j;
                // A fix no gridmap client received (a worker outside every client's area)
                // still goes out, as a naive writer does not know who listens.
                let message = match captured.get(id).and_then(|c| c.get()) {
                    Some(text) => text.clone(),
                    None => replace_string(template, "\"code\":\"", &fleet.workers[w].code),
                };
                channels.push(channel(&areas.worker_keys[w]));
                payloads.push(replace_string(&message, "\"at\":\"", &at));
            }
            Arc::new(NotifyBatch { channels, payloads })
        })
        .collect();
    let receiving = Arc::new(Receiving::new(schedule, fleet.clone(), false));
    let mut listeners = Vec::new();
    for i in 0..config.live_clients {
        let area = areas.of_client(i);
        listeners.push(listener(&config.db, &channel(area), receiving.clone()).await?);
    }
    let mut writers = Vec::new();
    for _ in 0..NOTIFY_WRITERS {
        writers.push(Arc::new(Mutex::new(
            crate::common::pg::connect(&config.db).await?,
        )));
    }
    let meter = Meter::start(server.pid);
    let acks = send_on_schedule(&receiving, |b| {
        let writer = writers[b % NOTIFY_WRITERS].clone();
        let batch = batches[b].clone();
        async move {
            let mut writer = writer.lock().await;
            let tx = writer.transaction().await?;
            tx.execute(
                "SELECT pg_notify(c, p) FROM unnest($1::text[], $2::text[]) AS t(c, p)",
                &[&batch.channels, &batch.payloads],
            )
            .await?;
            tx.commit().await?;
            Ok(())
        }
    })
    .await?;
    tokio::time::sleep(GRACE).await;
    // Before the listeners go: an exiting backend takes its CPU seconds along.
    let metered = meter.finish(server).await;
    let mut logs = Vec::new();
    for (client, driver) in listeners {
        // Without its client the connection ends, and with it the listener's stream.
        drop(client);
        logs.push(driver.await?);
    }
    Ok(summarize(&receiving, &acks, logs, areas, metered))
}

/// One batch of the anchor: each fix's message and the channel it goes on.
struct NotifyBatch {
    channels: Vec<String>,
    payloads: Vec<String>,
}

/// The NOTIFY channel of an area.
fn channel(area: &str) -> String {
    format!("fix_{area}")
}

/// Sends batch `b` (through `send(b)`, each in a task of its own) at `t0 + b × TICK`,
/// whatever the earlier ones are doing; answers when each was acknowledged (µs since the
/// receipts' base). Fails if a batch failed.
async fn send_on_schedule<F, Fut>(receiving: &Receiving, send: F) -> anyhow::Result<Vec<u64>>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let schedule = &receiving.schedule;
    let ahead = (schedule.t0 - Utc::now()).to_std().unwrap_or_default();
    let start = Instant::now() + ahead;
    let acks: Arc<Vec<AtomicU64>> =
        Arc::new((0..schedule.batches).map(|_| AtomicU64::new(0)).collect());
    let mut tasks = Vec::with_capacity(schedule.batches);
    for b in 0..schedule.batches {
        tokio::time::sleep_until(start + TICK * b as u32).await;
        let sent = send(b);
        let (acks, base) = (acks.clone(), receiving.base);
        tasks.push(tokio::spawn(async move {
            sent.await?;
            acks[b].store(base.elapsed().as_micros() as u64, Ordering::Relaxed);
            Ok::<(), anyhow::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(acks.iter().map(|a| a.load(Ordering::Relaxed)).collect())
}

/// What one client received.
#[derive(Default)]
struct ClientLog {
    /// (fix id, µs since the base) of every fix message matched to the schedule.
    receipts: Vec<(u32, u64)>,
    lagged: usize,
}

/// What a side's clients share: the clock base, the schedule, the fleet, and (gridmap's side)
/// the first text of each fix for the anchor.
struct Receiving {
    base: Instant,
    schedule: Schedule,
    fleet: Arc<Fleet>,
    capture: bool,
    captured: Vec<OnceLock<String>>,
}

impl Receiving {
    fn new(schedule: Schedule, fleet: Arc<Fleet>, capture: bool) -> Receiving {
        let ids = if capture { schedule.ids() } else { 0 };
        Receiving {
            base: Instant::now(),
            schedule,
            fleet,
            capture,
            captured: (0..ids).map(|_| OnceLock::new()).collect(),
        }
    }

    /// Books a message received `at_us` after the base. A fix message that does not match the
    /// schedule fails the run: it would mean the clients are not measuring what was sent.
    fn take(&self, log: &mut ClientLog, text: &str, at_us: u64) -> anyhow::Result<()> {
        let Some((code, at)) = fix_fields(text) else {
            if text.contains("\"type\":\"lagged\"") {
                log.lagged += 1;
            }
            return Ok(());
        };
        let id = self
            .fleet
            .index_of(code)
            .zip(at_millis(at))
            .and_then(|(w, ms)| self.schedule.fix_id(w as usize, ms))
            .with_context(|| format!("a fix message of no scheduled fix: {code} at {at}"))?;
        log.receipts.push((id as u32, at_us));
        if self.capture {
            self.captured[id].get_or_init(|| text.to_string());
        }
        Ok(())
    }
}

/// The worker code and `at` of a `fix` message, found by their keys in the compact JSON both
/// sides send (`"code":"…"` occurs once, in the worker's properties, as `"at":"…"` does;
/// `home_code` and `raised_at` have other characters before the key's last quote): reading
/// two fields costs a client far less than parsing the whole message, which matters with
/// every message of the run parsed on the same two cores as the server.
fn fix_fields(text: &str) -> Option<(&str, &str)> {
    if !text.contains("\"type\":\"fix\"") {
        return None;
    }
    Some((
        string_at(text, "\"code\":\"")?,
        string_at(text, "\"at\":\"")?,
    ))
}

/// The string value after `key` (which ends with its opening quote).
fn string_at<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let start = text.find(key)? + key.len();
    let len = text[start..].find('"')?;
    Some(&text[start..start + len])
}

/// `text` with the string value after `key` replaced by `value`.
fn replace_string(text: &str, key: &str, value: &str) -> String {
    let Some(old) = string_at(text, key) else {
        return text.to_string();
    };
    let start = old.as_ptr() as usize - text.as_ptr() as usize;
    format!("{}{value}{}", &text[..start], &text[start + old.len()..])
}

fn at_millis(text: &str) -> Option<i64> {
    Some(DateTime::parse_from_rfc3339(text).ok()?.timestamp_millis())
}

/// A WebSocket client subscribed to `area`'s fixes; its task books every message until
/// `stop`, then closes.
async fn ws_client(
    server: &Server,
    token: &str,
    area: &str,
    receiving: Arc<Receiving>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<JoinHandle<anyhow::Result<ClientLog>>> {
    let url = format!(
        "{}/api/live?token={token}&area={area}&kinds=fixes&snapshot=false",
        server.url.replacen("http://", "ws://", 1)
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(&url)
        .await
        .with_context(|| format!("cannot open the live stream of {area}"))?;
    let first = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .with_context(|| format!("the live stream of {area} said nothing"))?;
    match first {
        Some(Ok(Message::Text(text))) if text.contains("\"type\":\"subscribed\"") => {}
        other => bail!("the live stream of {area} did not confirm the subscription: {other:?}"),
    }
    Ok(tokio::spawn(async move {
        let mut log = ClientLog::default();
        loop {
            tokio::select! {
                frame = ws.next() => {
                    let at_us = receiving.base.elapsed().as_micros() as u64;
                    match frame {
                        Some(Ok(Message::Text(text))) => receiving.take(&mut log, text.as_str(), at_us)?,
                        Some(Ok(Message::Close(_))) | None => bail!("the server closed a live stream"),
                        Some(Ok(_)) => {}
                        Some(Err(e)) => return Err(e.into()),
                    }
                }
                _ = stop.changed() => break,
            }
        }
        let _ = ws.close(None).await;
        Ok(log)
    }))
}

/// A connection LISTENing on `channel`, and the task that books its notifications until the
/// connection ends (when the returned client is dropped).
async fn listener(
    db: &str,
    channel: &str,
    receiving: Arc<Receiving>,
) -> anyhow::Result<(Client, JoinHandle<ClientLog>)> {
    let (client, mut connection) = tokio_postgres::connect(db, NoTls)
        .await
        .with_context(|| format!("cannot connect to {db}"))?;
    let driver = tokio::spawn(async move {
        let mut log = ClientLog::default();
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            let at_us = receiving.base.elapsed().as_micros() as u64;
            if let AsyncMessage::Notification(n) = message {
                if let Err(e) = receiving.take(&mut log, n.payload(), at_us) {
                    eprintln!("listener: {e:#}");
                }
            }
        }
        log
    });
    client
        .batch_execute(&format!("LISTEN \"{channel}\""))
        .await?;
    Ok((client, driver))
}

/// CPU seconds of gridmap, PostgreSQL and the benchmark over a side, and gridmap's resident
/// set sampled every second.
struct Meter {
    pid: u32,
    cpu: (f64, f64, f64),
    rss_max_kb: Arc<AtomicU64>,
    sampler: JoinHandle<()>,
}

/// The readings of a [`Meter`]: gridmap CPU s, PostgreSQL CPU s, benchmark CPU s, largest
/// sampled RSS kB, HWM kB.
struct Metered(f64, f64, f64, u64, u64);

impl Meter {
    fn start(pid: u32) -> Meter {
        let rss_max_kb = Arc::new(AtomicU64::new(0));
        let sampled = rss_max_kb.clone();
        let sampler = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            loop {
                every.tick().await;
                let rss = crate::common::process::status_kb(pid, "VmRSS:");
                sampled.fetch_max(rss, Ordering::Relaxed);
            }
        });
        Meter {
            pid,
            cpu: (cpu_seconds(pid), postgres_cpu_seconds(), own_cpu_seconds()),
            rss_max_kb,
            sampler,
        }
    }

    async fn finish(self, server: &Server) -> Metered {
        self.sampler.abort();
        let _ = self.sampler.await;
        Metered(
            cpu_seconds(self.pid) - self.cpu.0,
            postgres_cpu_seconds() - self.cpu.1,
            own_cpu_seconds() - self.cpu.2,
            self.rss_max_kb.load(Ordering::Relaxed).max(server.rss_kb()),
            server.hwm_kb(),
        )
    }
}

/// The side's figures from the clients' logs and the acknowledgements.
fn summarize(
    receiving: &Receiving,
    acks: &[u64],
    logs: Vec<ClientLog>,
    areas: &Areas,
    metered: Metered,
) -> LiveSide {
    let schedule = &receiving.schedule;
    let mut latencies_ms = Vec::new();
    let mut lagged = 0;
    for log in logs {
        lagged += log.lagged;
        latencies_ms.extend(log.receipts.iter().map(|&(id, at_us)| {
            let ack = acks[schedule.batch_of(id as usize)];
            (at_us as f64 - ack as f64) / 1000.0
        }));
    }
    latencies_ms.sort_by(f64::total_cmp);
    let due = (0..schedule.batches)
        .flat_map(|b| schedule.workers_of(b))
        .map(|w| areas.clients_of(w))
        .sum();
    let Metered(server_cpu_s, postgres_cpu_s, client_cpu_s, rss_max_kb, hwm_kb) = metered;
    LiveSide {
        latencies_ms,
        due,
        lagged,
        server_cpu_s,
        postgres_cpu_s,
        client_cpu_s,
        rss_max_kb,
        hwm_kb,
    }
}
