//! Grid workers and a day of their patrol fixes.
//!
//! Codes: `W{grid}01` the grid's 网格员 (home = the grid), `W{community}01` the community's
//! 网格长 (home = the community), `W{street}01…` 民警 and `W{street}51…` 消防网格员 (home = the
//! street). Fixes: a sample of grid workers walk their grid on the day before the anchor date,
//! 08:00–18:00 Beijing time, one WGS84 fix every six minutes, always inside the grid.

use chrono::{DateTime, Duration, Utc};
use geo::Contains;
use geo_types::{Coord, Point, Polygon};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::base::BaseLayer;
use super::metric::LocalFrame;
use super::names;
use super::random::{normal, stream, Purpose};
use crate::model::{Level, Worker, WorkerFix, WorkerRole};

fn worker(code: String, role: WorkerRole, home_code: &str, rng: &mut ChaCha8Rng) -> Worker {
    Worker {
        name: names::person(rng),
        phone: Some(names::phone(rng)),
        role,
        home_code: home_code.to_string(),
        device: Some(format!(
            "86{:013}",
            rng.random_range(0..10_000_000_000_000u64)
        )),
        code,
    }
}

/// All workers, in code order of their home areas.
pub fn workers(base: &BaseLayer, seed: u64) -> Vec<Worker> {
    let mut out = Vec::new();
    for (i, node) in base.nodes.iter().enumerate() {
        let mut rng = stream(seed, Purpose::Workers, i as u64);
        match node.level {
            Level::Grid => out.push(worker(
                format!("W{}01", node.code),
                WorkerRole::GridWorker,
                &node.code,
                &mut rng,
            )),
            Level::Community => out.push(worker(
                format!("W{}01", node.code),
                WorkerRole::GridLeader,
                &node.code,
                &mut rng,
            )),
            Level::Street => {
                for n in 1..=rng.random_range(1..=3) {
                    out.push(worker(
                        format!("W{}{n:02}", node.code),
                        WorkerRole::Police,
                        &node.code,
                        &mut rng,
                    ));
                }
                for n in 51..=rng.random_range(51..=52) {
                    out.push(worker(
                        format!("W{}{n:02}", node.code),
                        WorkerRole::FireSafety,
                        &node.code,
                        &mut rng,
                    ));
                }
                out.push(worker(
                    format!("W{}31", node.code),
                    WorkerRole::UrbanManagement,
                    &node.code,
                    &mut rng,
                ));
            }
            _ => {}
        }
    }
    out.sort_by(|a, b| a.code.cmp(&b.code));
    out
}

/// The day the patrol fixes are recorded on: the day before `anchor`.
fn patrol_start(anchor: DateTime<Utc>) -> DateTime<Utc> {
    // 08:00 Beijing time is 00:00 UTC.
    anchor - Duration::days(1)
}

/// A day of patrol fixes for `count` grid workers spread evenly over `grids` (code and
/// boundary of each base grid), `per_worker` fixes each.
pub fn fixes(
    grids: &[(&str, &Polygon<f64>)],
    anchor: DateTime<Utc>,
    count: usize,
    per_worker: usize,
    seed: u64,
) -> Vec<WorkerFix> {
    if grids.is_empty() || count == 0 {
        return Vec::new();
    }
    let step = (grids.len() / count.min(grids.len())).max(1);
    let mut out = Vec::with_capacity(count * per_worker);
    for (k, (code, polygon)) in grids.iter().step_by(step).take(count).enumerate() {
        let mut rng = stream(seed, Purpose::Fixes, k as u64);
        walk(
            polygon,
            &format!("W{code}01"),
            anchor,
            per_worker,
            &mut rng,
            &mut out,
        );
    }
    out
}

/// How a patrol moves from one fix to the next.
#[derive(Debug, Clone)]
pub struct Pace {
    /// Speeds drawn while moving, m/s (a quarter of the steps pause instead).
    pub speeds: std::ops::Range<f64>,
    /// Seconds between two fixes.
    pub seconds: f64,
    /// The straight-line share of the path walked between two fixes (patrols meander).
    pub meander: f64,
}

/// The pace of the generated day of patrols: on foot, a fix every six minutes.
const ON_FOOT: Pace = Pace {
    speeds: 0.6..1.5,
    seconds: 360.0,
    meander: 0.3,
};

/// One step of a patrol.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// Where it ends, in the local frame (metres).
    pub pos: Coord<f64>,
    /// The heading, degrees clockwise from north.
    pub heading: f64,
    /// The speed drawn, m/s.
    pub speed: f64,
}

/// The next step of a patrol at `pos` (metres in `frame`) heading `heading`: a speed drawn
/// from `pace`, a heading that drifts, and a turn when the step would leave `grid` (after
/// eight tries it stays put).
pub fn patrol_step<G: Contains<Point<f64>>>(
    grid: &G,
    frame: &LocalFrame,
    pos: Coord<f64>,
    heading: f64,
    pace: &Pace,
    rng: &mut ChaCha8Rng,
) -> Step {
    let speed = if rng.random_bool(0.25) {
        0.0
    } else {
        rng.random_range(pace.speeds.clone())
    };
    let mut step = Step {
        pos,
        heading,
        speed,
    };
    for _ in 0..8 {
        step.heading = (step.heading + normal(rng) * 40.0).rem_euclid(360.0);
        let (s, c) = step.heading.to_radians().sin_cos();
        let next = Coord {
            x: pos.x + s * speed * pace.seconds * pace.meander,
            y: pos.y + c * speed * pace.seconds * pace.meander,
        };
        if grid.contains(&Point::from(frame.to_lonlat(next))) {
            step.pos = next;
            break;
        }
    }
    step
}

/// A random walk inside `grid`: a heading that drifts, pauses, and turns back at the border.
fn walk(
    grid: &Polygon<f64>,
    worker: &str,
    anchor: DateTime<Utc>,
    n: usize,
    rng: &mut ChaCha8Rng,
    out: &mut Vec<WorkerFix>,
) {
    let Some(start) = geo::InteriorPoint::interior_point(grid) else {
        return;
    };
    let frame = LocalFrame::new(start.0, 0.0);
    let mut pos = Coord { x: 0.0, y: 0.0 };
    let mut heading: f64 = rng.random_range(0.0..360.0);
    let t0 = patrol_start(anchor);
    for k in 0..n {
        let step = patrol_step(grid, &frame, pos, heading, &ON_FOOT, rng);
        (pos, heading) = (step.pos, step.heading);
        out.push(WorkerFix {
            worker_code: worker.to_string(),
            at: t0 + Duration::seconds((k as f64 * ON_FOOT.seconds) as i64),
            position: Point::from(frame.to_lonlat(pos)),
            accuracy_m: Some(rng.random_range(3.0..15.0)),
            speed_mps: Some(step.speed as f32),
            heading_deg: Some(heading as f32),
            source_crs: "wgs84".into(),
        });
    }
}
