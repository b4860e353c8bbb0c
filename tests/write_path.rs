//! The one write path of a server: HTTP writes, writes committed through it directly and
//! changes of other writers all reach the engine, the tile cache and the live channel, in
//! commit order, with the extents they changed.

mod common;

use std::time::Duration;

use gridmap::access::Role;
use gridmap::config::StoreLocation;
use gridmap::model::{Change, House, HouseUse};
use gridmap::write::{Published, Writes};
use serde_json::{json, Value};
use tokio::sync::broadcast;

async fn started(dir: &tempfile::TempDir) -> gridmap::serve::Server {
    let path = common::sample_copy(dir.path());
    gridmap::serve::start(&common::test_config(StoreLocation::Gpkg(path)))
        .await
        .expect("server")
}

async fn next_batch(rx: &mut broadcast::Receiver<std::sync::Arc<Published>>) -> Published {
    let published = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a batch within 10 s")
        .expect("channel open");
    std::sync::Arc::try_unwrap(published).expect("only this test holds the batch")
}

#[tokio::test]
async fn an_event_posted_over_http_is_published_with_its_position() {
    let dir = tempfile::tempdir().expect("dir");
    let server = started(&dir).await;
    let mut rx = server.writes.subscribe();
    let token = common::token("410600", &[Role::Dispatcher]);
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/api/events", server.url()))
        .bearer_auth(&token)
        .json(&json!({
            "external_id": "write-path-1", "source": "app", "category": "0102",
            "title": "井盖缺失", "lon": 114.297, "lat": 35.748
        }))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    let code = answer["code"].as_str().expect("code").to_string();

    let batch = next_batch(&mut rx).await;
    assert!(
        matches!(&batch.changes[..], [Change::UpsertEvent(e)] if e.code == code),
        "{:?}",
        batch.changes
    );
    assert_eq!(batch.extents.events.len(), 1);
    let moved = &batch.extents.events[0];
    assert_eq!(moved.code, code);
    assert!(moved.old.is_none(), "a new event has no old position");
    assert!(batch.extents.boxes.is_empty(), "an event draws no area box");
    assert!(server.engine.snapshot().events().position(&code).is_some());

    // The first step moves nothing but is published with the event's position, old and new.
    let stepped = reqwest::Client::new()
        .post(format!("{}/api/events/{code}/transitions", server.url()))
        .bearer_auth(&token)
        .json(&json!({"action": "register"}))
        .send()
        .await
        .expect("transition");
    assert_eq!(stepped.status(), 200);
    let batch = next_batch(&mut rx).await;
    let moved = &batch.extents.events[0];
    assert_eq!(moved.old, Some(moved.new));
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn a_commit_through_the_write_path_is_stored_applied_and_published() {
    let dir = tempfile::tempdir().expect("dir");
    let server = started(&dir).await;
    let mut rx = server.writes.subscribe();
    let snapshot = server.engine.snapshot();
    let mut district = snapshot.area("410611").expect("淇滨区").clone();
    district.name = "淇滨区（改）".into();

    server
        .writes
        .commit(&[Change::UpsertArea(district.clone())])
        .await
        .expect("commit");

    let stored = server.store.load().await.expect("load");
    let stored = stored.areas.iter().find(|a| a.code == "410611");
    assert_eq!(stored.map(|a| a.name.as_str()), Some("淇滨区（改）"));
    let applied = server.engine.snapshot();
    assert_eq!(
        applied.area("410611").map(|a| a.name.as_str()),
        Some("淇滨区（改）")
    );
    let batch = next_batch(&mut rx).await;
    assert_eq!(batch.changes.len(), 1);
    assert_eq!(batch.extents.boxes.len(), 2, "the old and the new box");
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn a_failed_commit_changes_nothing_and_publishes_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let server = started(&dir).await;
    let mut rx = server.writes.subscribe();
    let mut district = server
        .engine
        .snapshot()
        .area("410611")
        .expect("淇滨区")
        .clone();
    district.name = "改名".into();
    let orphan = House {
        code: "4106110010010000100101".into(),
        building_code: "41061100100199999".into(),
        unit: 1,
        floor: 1,
        room: "01".into(),
        house_use: HouseUse::OwnerOccupied,
        households: 1,
    };

    let failed = server
        .writes
        .commit(&[Change::UpsertArea(district), Change::UpsertHouse(orphan)])
        .await;

    assert!(failed.is_err(), "a house of an unknown building is refused");
    let snapshot = server.engine.snapshot();
    assert_eq!(
        snapshot.area("410611").map(|a| a.name.as_str()),
        Some("淇滨区")
    );
    assert!(
        matches!(rx.try_recv(), Err(broadcast::error::TryRecvError::Empty)),
        "nothing was published"
    );
    server.stop().await.expect("stop");
}
