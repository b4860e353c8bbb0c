//! The board's rules with a controlled clock: status, out-of-order fixes, the out-of-grid
//! alert's dwell and clearing, and removal.

use chrono::{DateTime, Duration, TimeZone, Utc};
use geo::{Distance, Haversine};
use geo_types::{polygon, MultiPolygon, Point};

use super::*;
use crate::engine::Engine;
use crate::model::{Area, Dataset, Level, WorkerRole};

const GRID: &str = "410611001001001";

fn t(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 6, 8, 0, 0)
        .single()
        .expect("time")
        + Duration::minutes(minute)
}

/// A grid of 0.01° × 0.01° (about 900 m × 1 100 m) with its south-west corner at 114.0, 35.0.
fn areas() -> std::sync::Arc<Snapshot> {
    let square = MultiPolygon(vec![polygon![
        (x: 114.0, y: 35.0),
        (x: 114.01, y: 35.0),
        (x: 114.01, y: 35.01),
        (x: 114.0, y: 35.01),
    ]]);
    Engine::new(Dataset {
        areas: vec![Area::bare(GRID, "一网格", Level::Grid, square)],
        ..Dataset::default()
    })
    .snapshot()
}

fn worker(code: &str) -> Worker {
    Worker {
        code: code.into(),
        name: "张三".into(),
        phone: None,
        role: WorkerRole::GridWorker,
        home_code: GRID.into(),
        device: Some(format!("dev-{code}")),
    }
}

fn fix(code: &str, minute: i64, lon: f64, lat: f64) -> WorkerFix {
    WorkerFix {
        worker_code: code.into(),
        at: t(minute),
        position: Point::new(lon, lat),
        accuracy_m: None,
        speed_mps: None,
        heading_deg: None,
        source_crs: "wgs84".into(),
    }
}

fn board() -> WorkerBoard {
    WorkerBoard::new(WorkerRules::default(), vec![worker("w1"), worker("w2")])
}

fn alerts(updates: &[WorkerUpdate]) -> Vec<&WorkerAlert> {
    updates
        .iter()
        .filter_map(|u| match u {
            WorkerUpdate::Alert(a) => Some(a),
            _ => None,
        })
        .collect()
}

#[test]
fn a_worker_never_seen_is_offline_without_a_position() {
    let board = board();
    let view = board.view("w1").expect("registered");
    assert_eq!(view.status, WorkerStatus::Offline);
    assert_eq!(view.fix, None);
    assert!(board.nearest(114.0, 35.0, 5, |_| true).is_empty());
    assert_eq!(board.code_of_device("dev-w2"), Some("w2"));
}

#[test]
fn a_fresh_fix_puts_the_worker_online_in_its_grid_until_the_timeout() {
    let (mut board, areas) = (board(), areas());
    let updates = board.apply_fixes(vec![fix("w1", 0, 114.005, 35.005)], &areas, t(1));
    assert!(matches!(&updates[0], WorkerUpdate::Moved(v) if v.grid.as_deref() == Some(GRID)));
    assert!(matches!(&updates[1], WorkerUpdate::Status(v) if v.status == WorkerStatus::Online));
    let view = board.view("w1").expect("w1");
    assert_eq!(view.inside_home(board.rules()), Some(true));
    assert!(board.tick(t(9)).is_empty(), "still within ten minutes");
    let updates = board.tick(t(10));
    assert!(matches!(&updates[..], [WorkerUpdate::Status(v)] if v.status == WorkerStatus::Offline));
    assert!(board.tick(t(60)).is_empty(), "offline once");
}

#[test]
fn an_old_fix_arrives_offline_and_a_late_one_does_not_move_the_worker_back() {
    let (mut board, areas) = (board(), areas());
    let updates = board.apply_fixes(vec![fix("w1", 0, 114.005, 35.005)], &areas, t(30));
    assert_eq!(updates.len(), 1, "moved, still offline: {updates:?}");
    board.apply_fixes(vec![fix("w1", 31, 114.006, 35.006)], &areas, t(31));
    let late = board.apply_fixes(vec![fix("w1", 20, 114.001, 35.001)], &areas, t(31));
    assert!(late.is_empty());
    let view = board.view("w1").expect("w1");
    assert_eq!(view.fix.as_ref().map(|f| f.at), Some(t(31)));
    let found = board.nearest(114.006, 35.006, 1, |_| true);
    assert!(found[0].1 < 0.01, "{found:?}");
}

#[test]
fn a_border_crossing_within_the_tolerance_is_not_outside() {
    let (mut board, areas) = (board(), areas());
    // 0.0003° east of the grid: about 27 m.
    board.apply_fixes(vec![fix("w1", 0, 114.0103, 35.005)], &areas, t(0));
    let view = board.view("w1").expect("w1");
    assert!(
        view.outside_m.is_some_and(|d| (20.0..35.0).contains(&d)),
        "{view:?}"
    );
    assert_eq!(view.inside_home(board.rules()), Some(true));
    assert!(alerts(&board.tick(t(30))).is_empty());
}

#[test]
fn staying_outside_past_the_dwell_raises_one_alert_and_coming_back_clears_it() {
    let (mut board, areas) = (board(), areas());
    // 0.005° east: about 455 m outside.
    let out = board.apply_fixes(vec![fix("w1", 0, 114.015, 35.005)], &areas, t(0));
    assert!(alerts(&out).is_empty(), "not before the dwell time");
    let out = board.apply_fixes(vec![fix("w1", 4, 114.016, 35.005)], &areas, t(4));
    assert!(alerts(&out).is_empty());
    let out = board.apply_fixes(vec![fix("w1", 6, 114.017, 35.005)], &areas, t(6));
    let raised = alerts(&out);
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].raised_at, t(5), "dated when the dwell ran out");
    assert_eq!(raised[0].cleared_at, None);
    assert!(alerts(&board.tick(t(8))).is_empty(), "raised once");
    let back = board.apply_fixes(vec![fix("w1", 9, 114.005, 35.005)], &areas, t(9));
    let cleared = alerts(&back);
    assert_eq!(cleared.len(), 1);
    assert_eq!(cleared[0].cleared_at, Some(t(9)));
    assert_eq!(cleared[0].id, raised[0].id);
    assert_eq!(board.view("w1").and_then(|v| v.alert.as_ref()), None);
}

#[test]
fn the_view_of_a_move_carries_the_alert_the_fix_raised_or_cleared() {
    let (mut board, areas) = (board(), areas());
    board.apply_fixes(vec![fix("w1", 0, 114.015, 35.005)], &areas, t(0));
    let moved = |updates: &[WorkerUpdate]| {
        updates.iter().find_map(|u| match u {
            WorkerUpdate::Moved(v) => Some(v.alert.clone()),
            _ => None,
        })
    };
    let out = board.apply_fixes(vec![fix("w1", 6, 114.016, 35.005)], &areas, t(6));
    assert_eq!(
        moved(&out),
        Some(alerts(&out).first().map(|a| (*a).clone()))
    );
    assert!(moved(&out).flatten().is_some(), "raised by this fix");
    let back = board.apply_fixes(vec![fix("w1", 7, 114.005, 35.005)], &areas, t(7));
    assert_eq!(alerts(&back).len(), 1, "cleared by this fix");
    assert_eq!(moved(&back), Some(None));
}

#[test]
fn the_clock_raises_the_alert_when_no_fix_comes() {
    let (mut board, areas) = (board(), areas());
    board.apply_fixes(vec![fix("w2", 0, 114.015, 35.005)], &areas, t(0));
    assert!(alerts(&board.tick(t(4))).is_empty());
    let updates = board.tick(t(5));
    let raised = alerts(&updates);
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].worker_code, "w2");
    assert!(raised[0].distance_m > 400.0, "{:?}", raised[0]);
}

#[test]
fn coming_back_before_the_dwell_cancels_the_alert() {
    let (mut board, areas) = (board(), areas());
    board.apply_fixes(vec![fix("w1", 0, 114.015, 35.005)], &areas, t(0));
    board.apply_fixes(vec![fix("w1", 3, 114.005, 35.005)], &areas, t(3));
    assert!(alerts(&board.tick(t(20))).is_empty());
}

#[test]
fn every_batch_and_tick_moves_the_version_on() {
    let (mut board, areas) = (board(), areas());
    assert_eq!(board.version(), 0);
    board.apply_fixes(vec![fix("w1", 0, 114.001, 35.001)], &areas, t(0));
    board.tick(t(1));
    board.apply_fixes(vec![fix("w1", 2, 114.002, 35.001)], &areas, t(2));
    assert_eq!(board.version(), 3);
}

#[test]
fn nearest_finds_a_moved_worker_where_it_is_now() {
    let (mut board, areas) = (board(), areas());
    board.apply_fixes(vec![fix("w1", 0, 114.001, 35.001)], &areas, t(0));
    board.apply_fixes(vec![fix("w2", 0, 114.005, 35.005)], &areas, t(0));
    let first = board.nearest(114.001, 35.001, 1, |_| true);
    assert_eq!(first[0].0.worker.code, "w1");
    board.apply_fixes(vec![fix("w1", 1, 114.009, 35.009)], &areas, t(1));
    let after = board.nearest(114.001, 35.001, 2, |_| true);
    let codes: Vec<&str> = after.iter().map(|(v, _)| v.worker.code.as_str()).collect();
    assert_eq!(codes, ["w2", "w1"], "w1 moved away: {after:?}");
    let metres = Haversine.distance(Point::new(114.001, 35.001), Point::new(114.009, 35.009));
    assert!(
        (after[1].1 - metres).abs() < 1e-3,
        "{after:?} against {metres}"
    );
}

#[test]
fn a_removed_worker_leaves_no_trace() {
    let (mut board, areas) = (board(), areas());
    board.apply_fixes(vec![fix("w1", 0, 114.015, 35.005)], &areas, t(0));
    assert_eq!(board.nearest(114.015, 35.005, 5, |_| true).len(), 1);
    board.remove_worker("w1");
    assert!(board.view("w1").is_none());
    assert!(board.nearest(114.015, 35.005, 5, |_| true).is_empty());
    assert!(board.tick(t(60)).is_empty());
    assert_eq!(board.code_of_device("dev-w1"), None);
}

#[test]
fn restoring_an_open_alert_keeps_it_until_the_worker_is_back() {
    let areas = areas();
    let mut board = board();
    let alert = WorkerAlert {
        id: WorkerAlert::id_of("w1", t(5)),
        worker_code: "w1".into(),
        kind: AlertKind::OutOfGrid,
        home_code: GRID.into(),
        raised_at: t(5),
        cleared_at: None,
        position: Point::new(114.015, 35.005),
        distance_m: 455.0,
    };
    let state = WorkerState {
        latest: vec![fix("w1", 6, 114.015, 35.005)],
        open_alerts: vec![alert.clone()],
    };
    assert!(board.restore(state, &areas, t(7)).is_empty());
    assert_eq!(board.view("w1").and_then(|v| v.alert.clone()), Some(alert));
    assert!(alerts(&board.tick(t(30))).is_empty(), "not raised twice");
    let back = board.apply_fixes(vec![fix("w1", 31, 114.005, 35.005)], &areas, t(31));
    assert_eq!(alerts(&back).len(), 1);
}
