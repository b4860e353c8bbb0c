//! The seven-step loop over real HTTP on both stores: every (status, level, action) allowed or
//! answered 409 with the allowed actions, the log of each step, overdue and cards under a fixed
//! clock, and the optimistic check of concurrent transitions.

mod common;
mod events_support;

use chrono::Duration;
use gridmap::access::Role;
use gridmap::model::workflow::{self, Action, WorkflowState};
use gridmap::model::{EventStatus, HandlingLevel, Transition};
use gridmap::serve::Server;
use serde_json::{json, Value};

use events_support::*;

/// The body of an action (dispatch names a department, evaluate a score).
fn body(action: Action) -> Value {
    match action {
        Action::Dispatch => json!({"action": "dispatch", "department": "城管局", "note": "派遣"}),
        Action::Evaluate => json!({"action": "evaluate", "score": 5, "comment": "满意"}),
        other => json!({"action": other.as_str(), "note": format!("{} by test", other.as_str())}),
    }
}

/// The actions that bring a new event (reported, community) to `state`.
fn path_to(state: WorkflowState) -> Vec<Action> {
    let climbs = HandlingLevel::ALL
        .iter()
        .position(|l| *l == state.level)
        .expect("level");
    let steps = EventStatus::ALL
        .iter()
        .position(|s| *s == state.status)
        .expect("status");
    let forward = [
        Action::Register,
        Action::Dispatch,
        Action::Handle,
        Action::Feedback,
        Action::Close,
        Action::Evaluate,
    ];
    let mut path = vec![Action::Escalate; climbs];
    path.extend(&forward[..steps]);
    path
}

fn state_of(details: &Value) -> (String, String) {
    (
        details["status"].as_str().unwrap_or("").to_string(),
        details["level"].as_str().unwrap_or("").to_string(),
    )
}

async fn every_transition(server: &Server) {
    let admin = common::token("410600", &[Role::Admin]);
    let states: Vec<WorkflowState> = EventStatus::ALL
        .into_iter()
        .flat_map(|status| {
            HandlingLevel::ALL
                .into_iter()
                .map(move |level| WorkflowState { status, level })
        })
        .collect();
    // One event per state for the forbidden actions, one per allowed (state, action).
    let mut trials: Vec<(WorkflowState, Option<Action>)> =
        states.iter().map(|s| (*s, None)).collect();
    for s in &states {
        trials.extend(workflow::allowed(*s).into_iter().map(|a| (*s, Some(a))));
    }
    let points = grid_points(server, "410611", trials.len());
    let events: Vec<Value> = points
        .iter()
        .enumerate()
        .map(|(i, (p, _))| event(&format!("wf-{i}"), *p))
        .collect();
    let codes = ingest(server, &admin, events).await;
    let mut checked = (0, 0);
    for ((state, action), code) in trials.iter().zip(&codes) {
        for step in path_to(*state) {
            act(server, &admin, code, body(step)).await;
        }
        let at = get(server, &format!("/api/events/{code}"), &admin).await;
        assert_eq!(
            state_of(&at.body),
            (
                state.status.as_str().to_string(),
                state.level.as_str().to_string()
            )
        );
        match action {
            Some(a) => {
                let after = act(server, &admin, code, body(*a)).await;
                let expected = workflow::next(*state, *a).expect("allowed");
                assert_eq!(
                    state_of(&after),
                    (
                        expected.status.as_str().to_string(),
                        expected.level.as_str().to_string()
                    ),
                    "{state:?} {a:?}"
                );
                let last = after["timeline"]
                    .as_array()
                    .and_then(|t| t.last())
                    .cloned()
                    .expect("timeline");
                assert_eq!(last["from"], state.status.as_str());
                assert_eq!(last["to"], expected.status.as_str());
                assert_eq!(last["level"], expected.level.as_str());
                assert_eq!(last["actor"], "test");
                checked.0 += 1;
            }
            None => {
                let allowed = workflow::allowed(*state);
                for a in Action::ALL.into_iter().filter(|a| !allowed.contains(a)) {
                    let r = post(
                        server,
                        &format!("/api/events/{code}/transitions"),
                        &admin,
                        &body(a),
                    )
                    .await;
                    assert_eq!(r.status, 409, "{state:?} {a:?}: {}", r.body);
                    assert_eq!(r.body["error"]["code"], "invalid_transition");
                    let names: Vec<&str> = allowed.iter().map(|a| a.as_str()).collect();
                    assert_eq!(r.body["error"]["allowed"], json!(names), "{state:?} {a:?}");
                    assert_eq!(r.body["error"]["status"], state.status.as_str());
                    checked.1 += 1;
                }
                let still = get(server, &format!("/api/events/{code}"), &admin).await;
                assert_eq!(state_of(&still.body), state_of(&at.body));
            }
        }
    }
    // 55 allowed pairs, 7 × 4 × 8 − 55 forbidden ones (see model::workflow's table).
    assert_eq!(checked, (55, 224 - 55));
}

#[tokio::test]
async fn every_transition_over_http_gpkg() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = gpkg_server(&dir).await;
    every_transition(&server).await;
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn every_transition_over_http_postgis() {
    let server = postgis_server().await;
    every_transition(&server).await;
    server.stop().await.expect("stop");
}

async fn overdue_and_cards(server: &Server) {
    let admin = common::token("410600", &[Role::Admin]);
    let (p, _) = grid_points(server, "410611", 1).remove(0);
    let mut e = event("late-1", p);
    // 0102 (井盖缺失): 24 h at community, 36 h at street (events/deadlines.toml).
    e["category"] = json!("0102");
    e["reported_at"] = json!(t0().to_rfc3339());
    let code = ingest(server, &admin, vec![e]).await.remove(0);
    let look = |hours: i64| {
        let admin = admin.clone();
        let code = code.clone();
        async move {
            server.clock.set(t0() + Duration::hours(hours));
            let d = get(server, &format!("/api/events/{code}"), &admin)
                .await
                .body;
            let overdue_list = get(
                server,
                &format!("/api/events?from={WINDOW_FROM}&overdue=true"),
                &admin,
            )
            .await
            .body;
            let listed = overdue_list["features"]
                .as_array()
                .expect("features")
                .iter()
                .any(|f| f["id"] == code.as_str());
            (
                d["overdue"].as_bool().expect("overdue"),
                d["card"].as_str().expect("card").to_string(),
                listed,
            )
        }
    };
    let deadline = get(server, &format!("/api/events/{code}"), &admin)
        .await
        .body["deadline"]
        .clone();
    assert_eq!(
        deadline,
        json!((t0() + Duration::hours(24)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    );
    assert_eq!(look(0).await, (false, "none".into(), false));
    assert_eq!(look(17).await, (false, "none".into(), false));
    assert_eq!(look(19).await, (false, "yellow".into(), false));
    assert_eq!(look(25).await, (true, "red".into(), true));
    // Escalation re-derives the deadline for the street level (36 h): no longer overdue.
    act(server, &admin, &code, json!({"action": "escalate"})).await;
    assert_eq!(look(25).await, (false, "none".into(), false));
    assert_eq!(look(30).await, (false, "yellow".into(), false));
    assert_eq!(look(40).await, (true, "red".into(), true));
}

#[tokio::test]
async fn overdue_and_cards_follow_the_clock_gpkg() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = gpkg_server(&dir).await;
    overdue_and_cards(&server).await;
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn overdue_and_cards_follow_the_clock_postgis() {
    let server = postgis_server().await;
    overdue_and_cards(&server).await;
    server.stop().await.expect("stop");
}

async fn concurrent_transitions(server: &Server) {
    let admin = common::token("410600", &[Role::Admin]);
    let (p, _) = grid_points(server, "410611", 1).remove(0);
    let code = ingest(server, &admin, vec![event("race-1", p)])
        .await
        .remove(0);
    let races = (0..12).map(|i| {
        let action = if i % 2 == 0 { "register" } else { "escalate" };
        let admin = admin.clone();
        let path = format!("/api/events/{code}/transitions");
        async move { post(server, &path, &admin, &json!({"action": action})).await }
    });
    let answers = futures::future::join_all(races).await;
    let ok = answers.iter().filter(|a| a.status == 200).count();
    assert!(ok >= 1);
    assert!(answers.iter().all(|a| a.status == 200 || a.status == 409));
    let d = get(server, &format!("/api/events/{code}"), &admin)
        .await
        .body;
    let timeline = d["timeline"].as_array().expect("timeline");
    // Every answered 200 is one logged step; nothing else was logged.
    assert_eq!(timeline.len(), 1 + ok);
    // A transition prepared on a stale read is refused by the store's check.
    let stored = server
        .store
        .event(&code)
        .await
        .expect("read")
        .expect("event");
    let mut stale = stored.clone();
    stale.status = EventStatus::Dispatched;
    stale.transitions.push(Transition {
        at: t0(),
        from: Some(stored.status),
        to: EventStatus::Dispatched,
        actor: "stale".into(),
        level: stored.level,
        department: None,
        note: None,
    });
    let steps = stored.transitions.len();
    assert!(!server
        .store
        .transition_event(&stale, steps - 1)
        .await
        .expect("store answers"));
    assert!(server
        .store
        .transition_event(&stale, steps)
        .await
        .expect("store answers"));
    assert!(!server
        .store
        .transition_event(&stale, steps)
        .await
        .expect("store answers"));
    let after = server
        .store
        .event(&code)
        .await
        .expect("read")
        .expect("event");
    assert_eq!(after.transitions.len(), steps + 1);
    assert_eq!(after.status, EventStatus::Dispatched);
}

#[tokio::test]
async fn concurrent_transitions_apply_once_gpkg() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = gpkg_server(&dir).await;
    concurrent_transitions(&server).await;
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn concurrent_transitions_apply_once_postgis() {
    let server = postgis_server().await;
    concurrent_transitions(&server).await;
    server.stop().await.expect("stop");
}

async fn action_inputs(server: &Server) {
    let admin = common::token("410600", &[Role::Admin]);
    let viewer = common::token("410600", &[Role::Viewer]);
    let (p, _) = grid_points(server, "410611", 1).remove(0);
    let code = ingest(server, &admin, vec![event("inputs-1", p)])
        .await
        .remove(0);
    let path = format!("/api/events/{code}/transitions");
    let r = post(server, &path, &viewer, &json!({"action": "register"})).await;
    assert_eq!(
        (r.status, &r.body["error"]["code"]),
        (403, &json!("forbidden_role"))
    );
    let r = post(server, &path, &admin, &json!({"action": "approve"})).await;
    assert_eq!(
        (r.status, &r.body["error"]["code"]),
        (400, &json!("bad_action"))
    );
    act(server, &admin, &code, json!({"action": "register"})).await;
    let r = post(server, &path, &admin, &json!({"action": "dispatch"})).await;
    assert_eq!(
        (r.status, &r.body["error"]["code"]),
        (400, &json!("missing_department"))
    );
    let r = post(
        server,
        &path,
        &admin,
        &json!({"action": "dispatch", "score": 3}),
    )
    .await;
    assert_eq!(
        (r.status, &r.body["error"]["code"]),
        (400, &json!("unexpected_evaluation"))
    );
    for step in [
        json!({"action": "dispatch", "department": "住建局"}),
        json!({"action": "handle"}),
        json!({"action": "feedback"}),
        json!({"action": "close"}),
    ] {
        act(server, &admin, &code, step).await;
    }
    let r = post(
        server,
        &path,
        &admin,
        &json!({"action": "evaluate", "score": 9}),
    )
    .await;
    assert_eq!(
        (r.status, &r.body["error"]["code"]),
        (400, &json!("bad_score"))
    );
    let done = act(
        server,
        &admin,
        &code,
        json!({"action": "evaluate", "score": 4, "comment": "及时"}),
    )
    .await;
    assert_eq!(done["evaluation"], json!({"score": 4, "comment": "及时"}));
    assert_eq!(done["department"], "住建局");
    assert_eq!(
        done["closed_at"],
        json!(t0().to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    );
    assert_eq!(done["timeline"].as_array().map(Vec::len), Some(7));
    let r = post(
        server,
        "/api/events/E20310601999999/transitions",
        &admin,
        &json!({"action": "register"}),
    )
    .await;
    assert_eq!(
        (r.status, &r.body["error"]["code"]),
        (404, &json!("not_found"))
    );
}

#[tokio::test]
async fn action_inputs_are_checked_gpkg() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = gpkg_server(&dir).await;
    action_inputs(&server).await;
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn action_inputs_are_checked_postgis() {
    let server = postgis_server().await;
    action_inputs(&server).await;
    server.stop().await.expect("stop");
}
