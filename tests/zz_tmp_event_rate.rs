mod common;
mod events_support;
use events_support::*;
use gridmap::api::auth::Role;
use serde_json::json;

#[tokio::test]
async fn rate() {
    let server = postgis_server().await;
    let admin = common::token("410600", &[Role::Admin]);
    let points = grid_points(&server, "410611", 500);
    let started = std::time::Instant::now();
    let mut n = 0;
    for b in 0..20 {
        let events: Vec<_> = points.iter().enumerate().map(|(i, (p, _))| event(&format!("r-{b}-{i}"), *p)).collect();
        let a = post(&server, "/api/events", &admin, &json!({"events": events})).await;
        assert_eq!(a.body["created"], 500);
        n += 500;
    }
    let s = started.elapsed().as_secs_f64();
    println!("HTTP ingest: {n} events in {s:.2}s = {:.0}/s", n as f64 / s);
}

#[tokio::test]
async fn store_rate() {
    let server = postgis_server().await;
    let points = grid_points(&server, "410611", 500);
    let snap = server.engine.snapshot();
    let mut total = 0.0;
    for b in 0..20 {
        let events: Vec<gridmap::model::Event> = points.iter().enumerate().map(|(i, (p, g))| gridmap::model::Event {
            code: String::new(), external_id: Some(format!("s-{b}-{i}")), title: "t".into(), category: "0101".into(),
            source: gridmap::model::EventSource::App, content: "c".into(), reporter_name: None, reporter_phone: None,
            location: geo_types::Point::new(p.0, p.1), address: None, area_code: Some(g.clone()), outside_grid: false,
            status: gridmap::model::EventStatus::Reported, level: gridmap::model::HandlingLevel::Community, department: None,
            reported_at: t0(), deadline: Some(t0()), closed_at: None, evaluation: None,
            transitions: vec![gridmap::model::Transition { at: t0(), from: None, to: gridmap::model::EventStatus::Reported, actor: "x".into(), level: gridmap::model::HandlingLevel::Community, department: None, note: None }],
        }).collect();
        let t = std::time::Instant::now();
        server.store.ingest_events(&events).await.expect("ingest");
        total += t.elapsed().as_secs_f64();
    }
    let _ = snap;
    println!("store ingest: 10000 events in {total:.2}s = {:.0}/s", 10000.0 / total);
}
