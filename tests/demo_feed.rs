//! The demo feed of `serve`: each round files one new report inside a grid and moves one open
//! event a step forward, both through the server's write path (stored, in the engine, and
//! published to live subscribers), and the report is visible over HTTP at once. Each patrol
//! moves a handful of grid workers inside their grids; the stray among them leaves its grid on
//! its cycle, is alerted after the dwell time and cleared when it is back.

mod common;

use std::sync::Arc;

use gridmap::access::Role;
use gridmap::config::StoreLocation;
use gridmap::engine::WorkerStatus;
use gridmap::model::{Change, EventStatus};
use gridmap::serve::demo_feed::patrol::{self, FIX_PERIOD, WALKERS};
use gridmap::serve::demo_feed::Feed;
use gridmap::serve::Server;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

fn feed_of(server: &Server) -> Feed {
    Feed {
        engine: server.engine.clone(),
        store: server.store.clone(),
        writes: server.writes.clone(),
        clock: server.clock.clone(),
        deadlines: Arc::new(gridmap::model::deadline_hours::Deadlines::builtin()),
    }
}

#[tokio::test]
async fn each_round_files_a_report_and_moves_an_event_through_the_write_path() {
    let dir = tempfile::tempdir().expect("dir");
    let path = common::sample_copy(dir.path());
    let config = common::test_config(StoreLocation::Gpkg(path));
    let server = gridmap::serve::start(&config).await.expect("server");
    let mut published = server.writes.subscribe();
    let feed = feed_of(&server);
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

/// Where a worker stands on the board: its latest fix's time and position, its status, whether
/// it is inside its home grid, its open alert's id.
type Standing = (
    chrono::DateTime<chrono::Utc>,
    (f64, f64),
    WorkerStatus,
    Option<bool>,
    Option<String>,
);

fn standing(server: &Server, code: &str) -> Standing {
    let board = server.engine.workers();
    let view = board.view(code).expect("a registered worker");
    let fix = view.fix.as_ref().expect("a fix");
    (
        fix.at,
        (fix.position.x(), fix.position.y()),
        view.status,
        view.inside_home(board.rules()),
        view.alert.as_ref().map(|a| a.id.clone()),
    )
}

#[tokio::test]
async fn patrols_move_the_walkers_in_their_grids_and_the_stray_is_alerted_until_it_is_back() {
    let dir = tempfile::tempdir().expect("dir");
    let path = common::sample_copy(dir.path());
    let config = common::test_config(StoreLocation::Gpkg(path));
    let server = gridmap::serve::start(&config).await.expect("server");
    let feed = feed_of(&server);
    let dwell = server.engine.workers().rules().dwell;
    let period = chrono::Duration::from_std(FIX_PERIOD).expect("period");
    // A minute before the stray's next time out.
    let mut now = server.clock.now();
    while patrol::stray_out(now, dwell)
        || !patrol::stray_out(now + chrono::Duration::minutes(1), dwell)
    {
        now += period;
    }
    let walkers: Vec<String> = {
        let board = server.engine.workers();
        patrol::walkers(&server.engine.snapshot(), &board)
            .into_iter()
            .map(|w| w.code)
            .collect()
    };
    assert_eq!(walkers.len(), WALKERS);
    let districts: std::collections::BTreeSet<&str> = walkers.iter().map(|c| &c[1..7]).collect();
    assert!(
        districts.len() >= 4,
        "spread over the districts: {walkers:?}"
    );
    let stray = walkers[0].clone();
    let mut rng = ChaCha8Rng::seed_from_u64(7);

    // Inside: every walker online in its grid at each patrol, and each of them moving.
    server.clock.set(now);
    feed.patrol(&mut rng).await.expect("a patrol");
    let first: Vec<Standing> = walkers.iter().map(|c| standing(&server, c)).collect();
    now += period;
    let mut moved = vec![false; WALKERS];
    while !patrol::stray_out(now, dwell) {
        server.clock.set(now);
        feed.patrol(&mut rng).await.expect("a patrol");
        for (i, code) in walkers.iter().enumerate() {
            let s = standing(&server, code);
            assert_eq!(
                (s.0, s.2, s.3),
                (now, WorkerStatus::Online, Some(true)),
                "{code}: {s:?}"
            );
            moved[i] |= s.1 != first[i].1;
        }
        now += period;
    }
    assert!(moved.iter().all(|m| *m), "every walker moved: {moved:?}");

    // Out: the stray leaves; it is alerted once it has been outside for the dwell time, and the
    // others stay in their grids.
    let mut left = None;
    let mut alert = None;
    while alert.is_none() && patrol::stray_out(now, dwell) {
        server.clock.set(now);
        feed.patrol(&mut rng).await.expect("a patrol");
        let s = standing(&server, &stray);
        if s.3 == Some(false) {
            left.get_or_insert(now);
        }
        alert = s.4;
        for code in &walkers[1..] {
            assert_eq!(
                standing(&server, code).3,
                Some(true),
                "{code} stays in its grid"
            );
        }
        now += period;
    }
    let left = left.expect("the stray left its grid");
    let alerted_at = now - period;
    assert!(alert.is_some(), "alerted before its time out ended");
    assert!(
        alerted_at >= left + dwell && alerted_at < left + dwell + period * 2,
        "left at {left}, alerted at {alerted_at}"
    );

    // Back: after its time out, the stray rides back and the alert is cleared.
    while patrol::stray_out(now, dwell) {
        now += period;
    }
    for _ in 0..120 {
        server.clock.set(now);
        feed.patrol(&mut rng).await.expect("a patrol");
        if standing(&server, &stray).4.is_none() {
            break;
        }
        now += period;
    }
    assert_eq!(standing(&server, &stray).3, Some(true), "back in its grid");
    let token = common::token("410600", &[Role::Viewer]);
    let (status, answer) = common::get_json(
        &format!(
            "{}/api/workers/alerts?area=410600&from={}",
            server.url(),
            (left - chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        &token,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let alerts: Vec<&Value> = answer["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .filter(|a| a["worker"] == stray.as_str())
        .collect();
    assert_eq!(alerts.len(), 1, "{answer}");
    assert!(
        alerts[0]["cleared_at"].is_string(),
        "stored as cleared: {answer}"
    );
    server.stop().await.expect("stop");
}
