//! The demo feed of `serve`: each round files one new report inside a grid and moves one open
//! event a step forward, both through the server's write path (stored, in the engine, and
//! published to live subscribers), and the report is visible over HTTP at once.

mod common;

use std::sync::Arc;

use gridmap::access::Role;
use gridmap::config::StoreLocation;
use gridmap::model::{Change, EventStatus};
use gridmap::serve::demo_feed::Feed;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

#[tokio::test]
async fn each_round_files_a_report_and_moves_an_event_through_the_write_path() {
    let dir = tempfile::tempdir().expect("dir");
    let path = common::sample_copy(dir.path());
    let config = common::test_config(StoreLocation::Gpkg(path));
    let server = gridmap::serve::start(&config).await.expect("server");
    let mut published = server.writes.subscribe();
    let feed = Feed {
        engine: server.engine.clone(),
        store: server.store.clone(),
        writes: server.writes.clone(),
        clock: server.clock.clone(),
        deadlines: Arc::new(config.event_deadlines.clone()),
    };
    let before = server.engine.snapshot().events().len();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let rounds = 3;
    for _ in 0..rounds {
        feed.round(&mut rng).await.expect("a round");
    }
    assert_eq!(server.engine.snapshot().events().len(), before + rounds);

    let mut reports = Vec::new();
    let mut steps = 0;
    while let Ok(batch) = published.try_recv() {
        for change in &batch.changes {
            let Change::UpsertEvent(e) = change else {
                panic!("the feed writes events only: {change:?}");
            };
            if e.status == EventStatus::Reported
                && e.transitions.len() == 1
                && e.transitions[0].actor == "demo-feed"
            {
                reports.push(e.code.clone());
            } else {
                steps += 1;
                let last = e.transitions.last().expect("a step");
                assert_eq!(last.actor, "demo-feed");
                assert_eq!(last.from.map(|s| s.is_open()), Some(true));
            }
        }
    }
    assert_eq!(reports.len(), rounds, "one report a round");
    assert_eq!(steps, rounds, "one step a round");

    let token = common::token("410600", &[Role::Viewer]);
    for code in &reports {
        let details: Value = reqwest::Client::new()
            .get(format!("{}/api/events/{code}", server.url()))
            .bearer_auth(&token)
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        assert_eq!(details["status"], "reported", "{details}");
        assert_eq!(
            details["place"]["outside_grid"], false,
            "a report lies in a grid"
        );
        let area = details["place"]["area_code"].as_str().unwrap_or_default();
        assert!(area.starts_with("4106") && area.len() >= 15, "{details}");
    }
    server.stop().await.expect("stop");
}
