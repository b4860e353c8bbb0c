//! The table of the run: a row per side and round of each part, then the last round's figures
//! against the goals.

use crate::fanout::{Live, LiveSide, GOAL_P99_MS};
use crate::gpkg::GpkgIngest;
use crate::postgis::PostgisIngest;
use crate::{Config, LiveAreas, BATCH};

/// The P6 goal of durable fix ingest, fixes per second.
const GOAL_FIXES_PER_S: f64 = 50_000.0;

/// What the parts measured (a part not run stays `None`).
pub struct Report {
    workers: usize,
    clients: usize,
    pub postgis: Option<PostgisIngest>,
    pub gpkg: Option<GpkgIngest>,
    pub live: Option<Live>,
}

/// One row's cells after the part, side and round.
struct Row {
    result: String,
    wal: String,
    written: String,
    gridmap_cpu: String,
    postgres_cpu: String,
    bench_cpu: String,
    rss: String,
}

const NONE: &str = "–";

impl Report {
    pub fn new(config: &Config, workers: usize) -> Report {
        Report {
            workers,
            clients: config.clients,
            postgis: None,
            gpkg: None,
            live: None,
        }
    }

    /// The markdown of the run.
    pub fn render(&self) -> String {
        let mut out = format!(
            "## Grid workers (P6): fix ingest and live fan-out\n\n\
             {workers} workers, batches of {BATCH} fixes; {cores} cores, {date}. Each anchor ran in \
             the same run on the same machine and data, alternating with gridmap round by round.\n\n\
             | part | side | round | result | WAL MB (FPI) | written MB | gridmap CPU s | PostgreSQL CPU s | bench CPU s | gridmap RSS MiB |\n\
             |---|---|---:|---|---:|---:|---:|---:|---:|---:|\n",
            workers = self.workers,
            cores = std::thread::available_parallelism().map_or(0, |n| n.get()),
            date = chrono::Utc::now().format("%Y-%m-%d"),
        );
        let mut goals = Vec::new();
        if let Some(p) = &self.postgis {
            self.postgis_rows(p, &mut out, &mut goals);
        }
        if let Some(g) = &self.gpkg {
            self.gpkg_rows(g, &mut out, &mut goals);
        }
        if let Some(l) = &self.live {
            live_rows(l, &mut out, &mut goals);
        }
        out.push_str("\nLast round against the goals:\n\n");
        for goal in goals {
            out.push_str(&format!("- {goal}\n"));
        }
        out
    }

    fn postgis_rows(&self, p: &PostgisIngest, out: &mut String, goals: &mut Vec<String>) {
        let part = "1 · durable ingest, PostGIS";
        for (k, r) in p.rounds.iter().enumerate() {
            let (ours, copy) = (r.gridmap.rate(p.fixes), r.copy.rate(p.fixes));
            row(
                out,
                part,
                &format!("gridmap `POST /api/fixes`, {} clients", self.clients),
                k,
                Row {
                    result: format!("{} fixes/s ({:.2}× COPY)", thousands(ours), ours / copy),
                    wal: format!(
                        "{:.0} ({})",
                        r.gridmap.wal_mb(),
                        r.gridmap.full_page_images()
                    ),
                    written: NONE.into(),
                    gridmap_cpu: format!("{:.1}", r.gridmap.server_cpu_s()),
                    postgres_cpu: format!("{:.1}", r.gridmap.postgres_cpu_s()),
                    bench_cpu: format!("{:.1}", r.gridmap_client_cpu_s),
                    rss: mib(r.rss_kb),
                },
            );
            row(
                out,
                part,
                &format!(
                    "binary `COPY` into `worker_fix`, {} connections",
                    self.clients
                ),
                k,
                Row {
                    result: format!("{} fixes/s", thousands(copy)),
                    wal: format!("{:.0} ({})", r.copy.wal_mb(), r.copy.full_page_images()),
                    written: NONE.into(),
                    gridmap_cpu: format!("{:.1}", r.copy.server_cpu_s()),
                    postgres_cpu: format!("{:.1}", r.copy.postgres_cpu_s()),
                    bench_cpu: format!("{:.1}", r.copy_client_cpu_s),
                    rss: NONE.into(),
                },
            );
        }
        if let Some(r) = p.rounds.last() {
            let (ours, copy) = (r.gridmap.rate(p.fixes), r.copy.rate(p.fixes));
            goals.push(format!(
                "durable ingest to PostGIS: {} fixes/s, {:.2}× binary COPY ({}); goal ≥ {} fixes/s: {}; gridmap's peak RSS {} MiB",
                thousands(ours),
                ours / copy,
                thousands(copy),
                thousands(GOAL_FIXES_PER_S),
                met(ours >= GOAL_FIXES_PER_S),
                mib(p.hwm_kb)
            ));
        }
    }

    fn gpkg_rows(&self, g: &GpkgIngest, out: &mut String, goals: &mut Vec<String>) {
        let part = "2 · durable ingest, GeoPackage";
        for (k, r) in g.rounds.iter().enumerate() {
            let (ours, sqlite) = (r.gridmap.rate(g.fixes), r.sqlite.rate(g.fixes));
            row(
                out,
                part,
                &format!("gridmap `POST /api/fixes`, {} clients", self.clients),
                k,
                Row {
                    result: format!(
                        "{} fixes/s ({:.2}× rusqlite)",
                        thousands(ours),
                        ours / sqlite
                    ),
                    wal: NONE.into(),
                    written: format!("{:.0}", r.gridmap.written_bytes as f64 / 1e6),
                    gridmap_cpu: format!("{:.1}", r.gridmap.cpu_s),
                    postgres_cpu: NONE.into(),
                    bench_cpu: NONE.into(),
                    rss: mib(r.rss_kb),
                },
            );
            row(
                out,
                part,
                "rusqlite prepared `INSERT`, one connection",
                k,
                Row {
                    result: format!("{} fixes/s", thousands(sqlite)),
                    wal: NONE.into(),
                    written: format!("{:.0}", r.sqlite.written_bytes as f64 / 1e6),
                    gridmap_cpu: NONE.into(),
                    postgres_cpu: NONE.into(),
                    bench_cpu: format!("{:.1}", r.sqlite.cpu_s),
                    rss: NONE.into(),
                },
            );
        }
        if let Some(r) = g.rounds.last() {
            let (ours, sqlite) = (r.gridmap.rate(g.fixes), r.sqlite.rate(g.fixes));
            goals.push(format!(
                "durable ingest to the embedded store: {} fixes/s, {:.2}× plain rusqlite ({}); gridmap's peak RSS {} MiB",
                thousands(ours),
                ours / sqlite,
                thousands(sqlite),
                mib(g.hwm_kb)
            ));
        }
    }
}

fn live_rows(l: &Live, out: &mut String, goals: &mut Vec<String>) {
    let areas = match l.areas {
        LiveAreas::City => l.areas.name().to_string(),
        _ => format!("{} {}", l.area_count, l.areas.name()),
    };
    let part = format!(
        "3 · fan-out, {} clients on {areas}, {:.0} fixes/s for {} s",
        l.clients, l.fixes_per_s, l.seconds
    );
    for (k, (ours, notify)) in l.rounds.iter().enumerate() {
        let ratio = format!(" (p99 {:.2}× NOTIFY's)", ours.at(0.99) / notify.at(0.99));
        for (name, side, rss, ratio) in [
            ("gridmap `GET /api/live`", ours, true, ratio.as_str()),
            ("LISTEN/NOTIFY", notify, false, ""),
        ] {
            row(
                out,
                &part,
                name,
                k,
                Row {
                    result: format!("{}{ratio}", latency(side)),
                    wal: NONE.into(),
                    written: NONE.into(),
                    gridmap_cpu: format!("{:.1}", side.server_cpu_s),
                    postgres_cpu: format!("{:.1}", side.postgres_cpu_s),
                    bench_cpu: format!("{:.1}", side.client_cpu_s),
                    rss: if rss {
                        format!("{} (peak {})", mib(side.rss_max_kb), mib(side.hwm_kb))
                    } else {
                        NONE.into()
                    },
                },
            );
        }
    }
    if let Some((ours, notify)) = l.rounds.last() {
        goals.push(format!(
            "fan-out: p99 {:.1} ms from the POST's answer to the client, {:.2}× LISTEN/NOTIFY's {:.1} ms; goal p99 ≤ {GOAL_P99_MS} ms: {}; {} of {} messages received",
            ours.at(0.99),
            ours.at(0.99) / notify.at(0.99),
            notify.at(0.99),
            met(ours.at(0.99) <= GOAL_P99_MS && ours.received() == ours.due),
            ours.received(),
            ours.due
        ));
    }
}

fn row(out: &mut String, part: &str, side: &str, round: usize, r: Row) {
    out.push_str(&format!(
        "| {part} | {side} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
        round + 1,
        r.result,
        r.wal,
        r.written,
        r.gridmap_cpu,
        r.postgres_cpu,
        r.bench_cpu,
        r.rss
    ));
}

/// A side's latencies and deliveries.
fn latency(side: &LiveSide) -> String {
    let lagged = if side.lagged > 0 {
        format!(", {} lagged notices", side.lagged)
    } else {
        String::new()
    };
    format!(
        "p50 {:.1} · p95 {:.1} · p99 {:.1} · max {:.1} ms; {} of {} messages{lagged}",
        side.at(0.5),
        side.at(0.95),
        side.at(0.99),
        side.max(),
        thousands(side.received() as f64),
        thousands(side.due as f64)
    )
}

fn mib(kb: u64) -> String {
    format!("{:.0}", kb as f64 / 1024.0)
}

/// A whole number with thin spaces between thousands (50 000).
fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn met(yes: bool) -> &'static str {
    if yes {
        "met"
    } else {
        "not met"
    }
}
