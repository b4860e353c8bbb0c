//! The demo feed's patrols: [`WALKERS`] grid workers spread over the city patrol their grids
//! on e-bikes, a fix every [`FIX_PERIOD`]. The first of them, the stray, also leaves its grid on
//! a fixed cycle of the clock: it rides to a point [`STRAY_AWAY_M`] east of its grid and stays
//! there past the out-of-grid dwell time, so the board raises the alert, then rides back, which
//! clears it. Every fix follows from the walker's latest one on the board, so the feed keeps no
//! state of its own and a restarted service carries on where the board stands.

use chrono::{DateTime, Duration, Utc};
use geo::{BoundingRect, Contains, InteriorPoint};
use geo_types::{Coord, MultiPolygon, Point};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::engine::workers::geofence::metres_per_degree;
use crate::engine::{Snapshot, WorkerBoard, WorkerView};
use crate::generate::metric::LocalFrame;
use crate::generate::workers::{patrol_step, Pace};
use crate::model::{WorkerFix, WorkerRole};

/// Grid workers that patrol.
pub const WALKERS: usize = 8;
/// Time between two fixes of a walker.
pub const FIX_PERIOD: std::time::Duration = std::time::Duration::from_secs(5);
/// How the walkers move between two fixes: e-bikes (电动车巡查), 2–5 m/s, straight for 5 s.
const PACE: Pace = Pace {
    speeds: 2.0..5.0,
    seconds: FIX_PERIOD.as_secs_f64(),
    meander: 1.0,
};
/// How far east of its grid's bounding box the stray goes, metres (well past the tolerance).
pub const STRAY_AWAY_M: f64 = 300.0;
/// The stray's speed going out and coming back, m/s.
const STRAY_SPEED_MPS: f64 = 5.0;
/// The stray's time out beyond the dwell time: the ride out, and the alert standing a while.
const STRAY_OUT_EXTRA: Duration = Duration::minutes(4);
/// The stray's time back in its grid in each cycle.
const STRAY_IN: Duration = Duration::minutes(6);

/// A walker: a grid worker, its grid and its latest fix.
#[derive(Debug, Clone)]
pub struct Walker {
    pub code: String,
    grid: MultiPolygon<f64>,
    /// A point inside the grid: where a walker without a fix starts, and the stray returns to.
    centre: Point<f64>,
    /// Where the stray goes when out.
    away: Point<f64>,
    latest: Option<WorkerFix>,
}

/// The walkers: [`WALKERS`] grid workers spread evenly over all of them in code order (so over
/// the districts), the stray first.
pub fn walkers(areas: &Snapshot, board: &WorkerBoard) -> Vec<Walker> {
    let grid_workers = board.views(|v| v.worker.role == WorkerRole::GridWorker);
    let step = (grid_workers.len() / WALKERS).max(1);
    grid_workers
        .into_iter()
        .step_by(step)
        .filter_map(|v| walker(areas, v))
        .take(WALKERS)
        .collect()
}

fn walker(areas: &Snapshot, view: &WorkerView) -> Option<Walker> {
    let grid = areas.area(&view.worker.home_code)?.geometry.clone();
    let centre = grid.interior_point()?;
    let east = grid.bounding_rect()?.max().x;
    let (per_lon, _) = metres_per_degree(centre.y());
    Some(Walker {
        code: view.worker.code.clone(),
        away: Point::new(east + STRAY_AWAY_M / per_lon, centre.y()),
        centre,
        grid,
        latest: view.fix.clone(),
    })
}

/// Whether the stray is out at `at`: the first `dwell` + [`STRAY_OUT_EXTRA`] of every cycle
/// of `dwell` + [`STRAY_OUT_EXTRA`] + [`STRAY_IN`], counted from the Unix epoch.
pub fn stray_out(at: DateTime<Utc>, dwell: Duration) -> bool {
    let out = dwell + STRAY_OUT_EXTRA;
    let cycle = (out + STRAY_IN).num_milliseconds();
    at.timestamp_millis().rem_euclid(cycle) < out.num_milliseconds()
}

impl Walker {
    /// The walker's fix at `now`, a step on from its latest: toward its point away from the grid
    /// when `out`, back toward the grid when outside it, else a patrol step inside it.
    pub fn next_fix(&self, now: DateTime<Utc>, out: bool, rng: &mut ChaCha8Rng) -> WorkerFix {
        let here = self.latest.as_ref().map_or(self.centre, |f| f.position);
        let (position, speed, heading) = if out {
            ride(here, self.away)
        } else if !self.grid.contains(&here) {
            ride(here, self.centre)
        } else {
            self.patrol(here, rng)
        };
        WorkerFix {
            worker_code: self.code.clone(),
            at: now,
            position,
            accuracy_m: Some(rng.random_range(3.0..12.0)),
            speed_mps: Some(speed as f32),
            heading_deg: Some(heading as f32),
            source_crs: "wgs84".into(),
        }
    }

    /// A patrol step inside the grid from `here`: position, speed and heading.
    fn patrol(&self, here: Point<f64>, rng: &mut ChaCha8Rng) -> (Point<f64>, f64, f64) {
        let frame = LocalFrame::new(here.0, 0.0);
        let heading = match self.latest.as_ref().and_then(|f| f.heading_deg) {
            Some(h) => f64::from(h),
            None => rng.random_range(0.0..360.0),
        };
        let step = patrol_step(&self.grid, &frame, Coord::zero(), heading, &PACE, rng);
        (
            Point::from(frame.to_lonlat(step.pos)),
            step.speed,
            step.heading,
        )
    }
}

/// A step of at most [`FIX_PERIOD`] at [`STRAY_SPEED_MPS`] from `from` straight toward `to`:
/// position, speed and heading (degrees clockwise from north).
fn ride(from: Point<f64>, to: Point<f64>) -> (Point<f64>, f64, f64) {
    let (per_lon, per_lat) = metres_per_degree(from.y());
    let (east, north) = ((to.x() - from.x()) * per_lon, (to.y() - from.y()) * per_lat);
    let distance = east.hypot(north);
    let heading = east.atan2(north).to_degrees().rem_euclid(360.0);
    let reach = STRAY_SPEED_MPS * FIX_PERIOD.as_secs_f64();
    if distance <= reach {
        return (to, distance / FIX_PERIOD.as_secs_f64(), heading);
    }
    let share = reach / distance;
    let position = Point::new(
        from.x() + (to.x() - from.x()) * share,
        from.y() + (to.y() - from.y()) * share,
    );
    (position, STRAY_SPEED_MPS, heading)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(s, 0).expect("time")
    }

    #[test]
    fn the_stray_is_out_for_the_dwell_and_the_extra_of_each_cycle() {
        let dwell = Duration::minutes(5);
        let out = (dwell + STRAY_OUT_EXTRA).num_seconds();
        let cycle = out + STRAY_IN.num_seconds();
        assert!(stray_out(at(0), dwell));
        assert!(stray_out(at(out - 1), dwell));
        assert!(!stray_out(at(out), dwell));
        assert!(!stray_out(at(cycle - 1), dwell));
        assert!(stray_out(at(cycle), dwell));
    }

    #[test]
    fn a_ride_ends_at_its_goal_when_within_reach() {
        let from = Point::new(114.3, 35.7);
        assert_eq!(ride(from, from), (from, 0.0, 0.0));
        let near = Point::new(114.3001, 35.7);
        let (position, speed, heading) = ride(from, near);
        assert_eq!(position, near);
        assert!(speed < STRAY_SPEED_MPS, "{speed}");
        assert!((heading - 90.0).abs() < 1e-9, "east: {heading}");
    }

    #[test]
    fn a_long_ride_covers_one_period_at_speed() {
        let from = Point::new(114.3, 35.7);
        let (position, speed, heading) = ride(from, Point::new(114.3, 35.8));
        let (_, per_lat) = metres_per_degree(35.7);
        let metres = (position.y() - from.y()) * per_lat;
        assert!((metres - STRAY_SPEED_MPS * 5.0).abs() < 1e-6, "{metres}");
        assert_eq!(
            (position.x(), speed, heading),
            (114.3, STRAY_SPEED_MPS, 0.0)
        );
    }
}
