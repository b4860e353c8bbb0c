//! Issue 15's statistics goal: `GET /api/stats/areas/{code}` from gridmap (rollups and the
//! event store in memory, over HTTP) against the same figures in one SQL query on PostGIS
//! (`tests/common/stats_sql.rs`, the reference the tests compare with), on the city-scale city
//! with its events, one-year window. Areas: the city, every district, and a fixed sample of
//! streets, communities and grids; each asked [`ROUNDS`] times of each side, alternating, one
//! request at a time. Both answers are compared once per area (events, open, overdue, residents,
//! households, buildings) before any timing counts.
//!
//! Environment (set by `scripts/bench events`): `GRIDMAP_BENCH_URL`, `GRIDMAP_BENCH_TOKEN`
//! (city-wide), `GRIDMAP_BENCH_DB`.

#[path = "../tests/common/stats_sql.rs"]
mod stats_sql;

use std::time::Instant;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use gridmap::generate::events::fixed_as_of;
use gridmap::model::{scope_prefix, Level};
use serde_json::Value;
use tokio_postgres::NoTls;

/// Timed requests of each side per area.
const ROUNDS: usize = 5;
/// Areas sampled per level below the district.
const PER_LEVEL: i64 = 20;
/// The goals of issue 15: gridmap at least this many times faster at p50, p95 at most this.
const GOAL_RATIO: f64 = 10.0;
const GOAL_P95_MS: f64 = 5.0;

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

fn var(name: &str) -> anyhow::Result<String> {
    std::env::var(name)
        .with_context(|| format!("{name} is not set: run this through scripts/bench events"))
}

async fn run() -> anyhow::Result<()> {
    let (url, token, db) = (
        var("GRIDMAP_BENCH_URL")?,
        var("GRIDMAP_BENCH_TOKEN")?,
        var("GRIDMAP_BENCH_DB")?,
    );
    let (client, connection) = tokio_postgres::connect(&db, NoTls).await?;
    tokio::spawn(connection);
    let http = reqwest::Client::new();
    // The same instant for both sides: the service's answer names the `now` it judged overdue
    // at, and the anchor is given that instant.
    let (from, to) = (fixed_as_of() - chrono::Duration::days(365), fixed_as_of());
    let areas = sample_areas(&client).await?;
    let statement = client.prepare(&stats_sql::area_sql()).await?;
    let mut rows: Vec<(String, Vec<f64>, Vec<f64>)> = Vec::new();
    for (code, level) in &areas {
        let query = format!(
            "{url}/api/stats/areas/{code}?from={}&to={}",
            from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        let mut ours = Vec::with_capacity(ROUNDS);
        let mut theirs = Vec::with_capacity(ROUNDS);
        for round in 0..ROUNDS {
            let t = Instant::now();
            let answer: Value = http
                .get(&query)
                .bearer_auth(&token)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            ours.push(t.elapsed().as_secs_f64() * 1e3);
            let now: DateTime<Utc> = serde_json::from_value(answer["as_of"].clone())?;
            let t = Instant::now();
            let row = client
                .query_one(&statement, &[&scope_prefix(code), &from, &to, &now])
                .await?;
            theirs.push(t.elapsed().as_secs_f64() * 1e3);
            if round == 0 {
                let sql: Value = serde_json::from_str(row.get::<_, &str>(0))?;
                same_figures(code, &answer, &sql)?;
            }
        }
        rows.push((level.clone(), ours, theirs));
    }
    print_table(&rows, from, to);
    Ok(())
}

/// The city, every district, and [`PER_LEVEL`] streets, communities and grids (a fixed
/// sample: ordered by the hash of their code).
async fn sample_areas(client: &tokio_postgres::Client) -> anyhow::Result<Vec<(String, String)>> {
    let all = [Level::City, Level::District].map(Level::as_i16);
    let sampled = [Level::Street, Level::Community, Level::Grid].map(Level::as_i16);
    let rows = client
        .query(
            "(SELECT code, level FROM area WHERE layer = 'base' AND level = ANY($1))
             UNION ALL (SELECT code, level FROM (
                 SELECT code, level, row_number() OVER (PARTITION BY level ORDER BY md5(code)) AS k
                 FROM area WHERE layer = 'base' AND level = ANY($2)) s
               WHERE k <= $3)
             ORDER BY level, code",
            &[&&all[..], &&sampled[..], &PER_LEVEL],
        )
        .await?;
    let areas: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r.get::<_, String>(0), level_name(r.get::<_, i16>(1))))
        .collect();
    if areas.is_empty() {
        bail!("no areas: generate the city first");
    }
    Ok(areas)
}

/// The level column holds `model::Level` as a number; the table names it.
fn level_name(level: i16) -> String {
    Level::from_i16(level).map_or_else(|| level.to_string(), |l| l.as_str().to_string())
}

/// Both sides must agree before their times count.
fn same_figures(code: &str, ours: &Value, sql: &Value) -> anyhow::Result<()> {
    let pick = |v: &Value, path: &[&str]| path.iter().fold(v.clone(), |v, k| v[*k].clone());
    for path in [
        &["residents"][..],
        &["households"],
        &["buildings"],
        &["events", "total"],
        &["events", "open"],
        &["events", "overdue"],
        &["events", "closed_on_time"],
    ] {
        if pick(ours, path) != pick(sql, path) {
            bail!(
                "area {code}: {path:?} is {} from gridmap, {} from PostGIS",
                pick(ours, path),
                pick(sql, path)
            );
        }
    }
    Ok(())
}

fn quantile(v: &[f64], q: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1]
}

fn print_table(rows: &[(String, Vec<f64>, Vec<f64>)], from: DateTime<Utc>, to: DateTime<Utc>) {
    println!(
        "\n## Area statistics: GET /api/stats/areas/{{code}} against the same SQL on PostGIS\n"
    );
    println!(
        "window {} – {}; {ROUNDS} requests of each side per area, alternating, one at a time.\n",
        from.format("%Y-%m-%d"),
        to.format("%Y-%m-%d")
    );
    println!("| level | areas | gridmap p50 ms | gridmap p95 ms | PostGIS p50 ms | PostGIS p95 ms | ratio p50 |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut levels: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    levels.dedup();
    levels.push("all");
    let mut all = (Vec::new(), Vec::new());
    for level in levels {
        let (ours, theirs): (Vec<f64>, Vec<f64>) = if level == "all" {
            (all.0.clone(), all.1.clone())
        } else {
            let picked: Vec<&(String, Vec<f64>, Vec<f64>)> =
                rows.iter().filter(|r| r.0 == level).collect();
            let ours: Vec<f64> = picked.iter().flat_map(|r| r.1.iter().copied()).collect();
            let theirs: Vec<f64> = picked.iter().flat_map(|r| r.2.iter().copied()).collect();
            all.0.extend(&ours);
            all.1.extend(&theirs);
            (ours, theirs)
        };
        let areas = rows
            .iter()
            .filter(|r| level == "all" || r.0 == level)
            .count();
        let (p50, p95) = (quantile(&ours, 0.5), quantile(&ours, 0.95));
        let (a50, a95) = (quantile(&theirs, 0.5), quantile(&theirs, 0.95));
        println!(
            "| {level} | {areas} | {p50:.2} | {p95:.2} | {a50:.1} | {a95:.1} | {:.1}× |",
            a50 / p50
        );
    }
    let (p50, p95, a50) = (
        quantile(&all.0, 0.5),
        quantile(&all.0, 0.95),
        quantile(&all.1, 0.5),
    );
    println!(
        "\nGoals: ratio ≥ {GOAL_RATIO}× at p50 ({}), gridmap p95 ≤ {GOAL_P95_MS} ms ({}).",
        if a50 / p50 >= GOAL_RATIO {
            "met"
        } else {
            "not met"
        },
        if p95 <= GOAL_P95_MS { "met" } else { "not met" }
    );
}
