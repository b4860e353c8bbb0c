//! A live-stream client that stops reading does not grow the server's memory: while fixes
//! pour in, its queue holds at most one position per worker (the latest), and when it reads
//! again it gets each worker's latest fix. Alone in its test binary, because it reads the
//! process-wide gauge `gridmap_live_queued_messages`.

mod common;

use std::collections::HashMap;
use std::time::Duration as StdDuration;

use chrono::{Duration, SubsecRound, Utc};
use futures::StreamExt;
use geo::InteriorPoint;
use gridmap::access::Role;
use gridmap::config::StoreLocation;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// Workers that move, and how many fixes each posts.
const WORKERS: usize = 120;
const ROUNDS: i64 = 300;

async fn queued_messages(base: &str) -> f64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|l| l.strip_prefix("gridmap_live_queued_messages "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn a_client_that_stops_reading_queues_one_position_per_worker() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = common::sample_copy(dir.path());
    let server = gridmap::serve::start(&common::test_config(StoreLocation::Gpkg(path)))
        .await
        .expect("server");
    let t0 = Utc::now().trunc_subsecs(0);
    server.clock.set(t0 + Duration::seconds(ROUNDS));
    let walkers: Vec<(String, geo_types::Point<f64>)> = {
        let snapshot = server.engine.snapshot();
        let board = server.engine.workers();
        board
            .views(|v| v.worker.home_code.len() == 15)
            .into_iter()
            .filter_map(|v| {
                let home = snapshot.area(&v.worker.home_code)?;
                Some((v.worker.code.clone(), home.geometry.interior_point()?))
            })
            .take(WORKERS)
            .collect()
    };
    assert_eq!(walkers.len(), WORKERS);
    let token = common::token("410600", &[Role::Admin]);
    let url = format!("ws://{}/api/live?token={token}&kinds=fixes", server.addr);
    let (mut client, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    // Read the greeting, then stop reading.
    let greeting = client.next().await.expect("frame").expect("message");
    assert!(matches!(greeting, Message::Text(ref t) if t.as_str().contains("subscribed")));
    let http = reqwest::Client::new();
    let mut peak: f64 = 0.0;
    for round in 0..ROUNDS {
        let at = t0 + Duration::seconds(round);
        let fixes: Vec<Value> = walkers
            .iter()
            .map(|(code, p)| {
                let lon = p.x() + round as f64 * 1e-6;
                json!({"worker": code, "at": at.to_rfc3339(), "lon": lon, "lat": p.y()})
            })
            .collect();
        let answer: Value = http
            .post(format!("{}/api/fixes", server.url()))
            .bearer_auth(&token)
            .json(&json!({ "fixes": fixes }))
            .send()
            .await
            .expect("post")
            .json()
            .await
            .expect("answer");
        assert_eq!(answer["stored"], json!(WORKERS), "{answer}");
        if round % 10 == 9 {
            peak = peak.max(queued_messages(&server.url()).await);
        }
    }
    peak = peak.max(queued_messages(&server.url()).await);
    // The socket's buffers take the first few thousand messages; the rest wait in the
    // queue, one per worker. Without coalescing it would hold over ten thousand.
    assert!(
        peak <= WORKERS as f64,
        "queued {peak} messages for {WORKERS} workers"
    );
    assert!(
        peak >= WORKERS as f64 / 2.0,
        "the client never fell far behind ({peak} queued): the test proves nothing"
    );
    // Reading again, the client gets every worker's latest fix.
    let last = t0 + Duration::seconds(ROUNDS - 1);
    let mut latest: HashMap<String, String> = HashMap::new();
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(60);
    while latest
        .values()
        .filter(|at| **at == last.to_rfc3339())
        .count()
        < WORKERS
    {
        let frame = tokio::time::timeout_at(deadline, client.next())
            .await
            .expect("every latest fix arrives within a minute")
            .expect("open")
            .expect("frame");
        if let Message::Text(text) = frame {
            let message: Value = serde_json::from_str(text.as_str()).expect("JSON");
            if message["type"] == "fix" {
                let at: chrono::DateTime<Utc> =
                    serde_json::from_value(message["worker"]["properties"]["at"].clone())
                        .expect("at");
                let code = message["worker"]["id"].as_str().expect("id").to_string();
                latest.insert(code, at.to_rfc3339());
            }
        }
    }
    server.stop().await.expect("stop");
}
