//! A worker's GPS track (轨迹回放) from its stored fixes: a pure function over a list of
//! fixes, no store and no clock.
//!
//! # The rules
//!
//! - Fixes are taken in time order. A new **segment** starts wherever two consecutive fixes
//!   are more than `gap` apart (exactly `gap` apart stays one segment): the phone was off or
//!   out of coverage, where the worker went meanwhile is unknown, so no line is drawn and no
//!   distance or time is counted across a gap.
//! - A segment of **one fix** (a lone fix between two gaps) is kept, as a point: its distance
//!   and duration are 0. So every fix belongs to exactly one segment, and the segments' fix
//!   counts add up to the track's.
//! - **Distance**: the haversine distances (geo's `Haversine`, the GRS80 mean radius, as
//!   the worker board measures) between consecutive fixes of each segment, summed, from the
//!   fixes as stored: simplification changes the drawing, never the figures.
//! - **Duration**: from the first to the last fix of each segment, summed: the time the worker
//!   was being tracked, gaps left out.
//! - **Simplification** (`simplify_m`): Douglas–Peucker on each segment with that tolerance in
//!   metres, in a local equirectangular frame at the segment's first fix (metres per degree at
//!   its latitude, `workers::geofence::metres_per_degree`). It keeps a subset of the fixes'
//!   own positions, always the segment's first and last.

use chrono::{DateTime, Duration, Utc};
use geo::{Distance, Haversine, SimplifyIdx};
use geo_types::{Coord, LineString};

use super::workers::geofence::metres_per_degree;
use crate::model::WorkerFix;

/// How a track is cut and drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackRules {
    /// Consecutive fixes further apart than this start a new segment.
    pub gap: Duration,
    /// Douglas–Peucker tolerance in metres for the drawn positions; `None` draws every fix.
    pub simplify_m: Option<f64>,
}

/// One stretch of fixes without a gap.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Time of the first fix.
    pub from: DateTime<Utc>,
    /// Time of the last fix.
    pub to: DateTime<Utc>,
    /// Number of fixes.
    pub fixes: usize,
    /// Haversine metres between consecutive fixes, summed.
    pub distance_m: f64,
    /// Seconds from the first fix to the last.
    pub duration_s: f64,
    /// The positions to draw (storage longitude/latitude), in time order: every fix, or those
    /// simplification kept. One position for a one-fix segment.
    pub positions: Vec<Coord<f64>>,
}

/// A worker's track: its segments and the totals over them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Track {
    /// Segments in time order.
    pub segments: Vec<Segment>,
    /// Number of fixes.
    pub fixes: usize,
    /// Distance of the segments, summed.
    pub distance_m: f64,
    /// Duration of the segments, summed (gaps left out).
    pub duration_s: f64,
}

/// The track of `fixes` (any order) under `rules`; see the module documentation.
pub fn track(fixes: &[WorkerFix], rules: &TrackRules) -> Track {
    let mut ordered: Vec<&WorkerFix> = fixes.iter().collect();
    ordered.sort_by_key(|f| f.at);
    let segments: Vec<Segment> = ordered
        .chunk_by(|a, b| b.at - a.at <= rules.gap)
        .filter_map(|run| segment(run, rules.simplify_m))
        .collect();
    Track {
        fixes: ordered.len(),
        distance_m: segments.iter().map(|s| s.distance_m).sum(),
        duration_s: segments.iter().map(|s| s.duration_s).sum(),
        segments,
    }
}

/// One segment from its run of fixes (`None` for an empty run, which `chunk_by` never makes).
fn segment(run: &[&WorkerFix], simplify_m: Option<f64>) -> Option<Segment> {
    let (first, last) = (run.first()?, run.last()?);
    let distance_m = run
        .windows(2)
        .map(|w| Haversine.distance(w[0].position, w[1].position))
        .sum();
    Some(Segment {
        from: first.at,
        to: last.at,
        fixes: run.len(),
        distance_m,
        duration_s: (last.at - first.at).num_milliseconds() as f64 / 1000.0,
        positions: drawn(run, simplify_m),
    })
}

/// The positions to draw: every fix, or Douglas–Peucker's choice among them in metres.
fn drawn(run: &[&WorkerFix], simplify_m: Option<f64>) -> Vec<Coord<f64>> {
    let positions: Vec<Coord<f64>> = run.iter().map(|f| f.position.0).collect();
    let Some(tolerance) = simplify_m.filter(|t| *t > 0.0 && positions.len() > 2) else {
        return positions;
    };
    let origin = positions[0];
    let (kx, ky) = metres_per_degree(origin.y);
    let local: LineString<f64> = positions
        .iter()
        .map(|p| Coord {
            x: (p.x - origin.x) * kx,
            y: (p.y - origin.y) * ky,
        })
        .collect();
    local
        .simplify_idx(tolerance)
        .into_iter()
        .map(|i| positions[i])
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use geo_types::Point;

    use super::*;

    const TEN_MINUTES: TrackRules = TrackRules {
        gap: Duration::minutes(10),
        simplify_m: None,
    };

    /// A fix `s` seconds after 2026-03-01 08:00 UTC at (lon, lat).
    fn fix(s: i64, lon: f64, lat: f64) -> WorkerFix {
        WorkerFix {
            worker_code: "W0001".into(),
            at: Utc
                .with_ymd_and_hms(2026, 3, 1, 8, 0, 0)
                .single()
                .expect("an instant")
                + Duration::seconds(s),
            position: Point::new(lon, lat),
            accuracy_m: None,
            speed_mps: None,
            heading_deg: None,
            source_crs: "wgs84".into(),
        }
    }

    fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
        Haversine.distance(Point::new(a.0, a.1), Point::new(b.0, b.1))
    }

    #[test]
    fn no_fix_is_an_empty_track() {
        assert_eq!(track(&[], &TEN_MINUTES), Track::default());
    }

    #[test]
    fn a_single_fix_is_a_one_point_segment_of_no_length() {
        let t = track(&[fix(0, 114.3, 35.7)], &TEN_MINUTES);
        assert_eq!(t.segments.len(), 1);
        let s = &t.segments[0];
        assert_eq!((s.fixes, s.distance_m, s.duration_s), (1, 0.0, 0.0));
        assert_eq!(s.positions, [Coord { x: 114.3, y: 35.7 }]);
        assert_eq!((t.fixes, t.distance_m, t.duration_s), (1, 0.0, 0.0));
    }

    #[test]
    fn a_gap_longer_than_the_limit_splits_and_is_not_counted() {
        let fixes = [
            fix(0, 114.30, 35.70),
            fix(60, 114.31, 35.70),
            // Exactly the gap: the same segment.
            fix(660, 114.32, 35.70),
            // A second more than the gap: a new segment.
            fix(1261, 114.40, 35.80),
            fix(1321, 114.41, 35.80),
        ];
        let t = track(&fixes, &TEN_MINUTES);
        assert_eq!(t.segments.len(), 2);
        let (a, b) = (&t.segments[0], &t.segments[1]);
        assert_eq!((a.fixes, b.fixes), (3, 2));
        assert_eq!((a.from, a.to), (fixes[0].at, fixes[2].at));
        assert_eq!((a.duration_s, b.duration_s), (660.0, 60.0));
        let first =
            metres((114.30, 35.70), (114.31, 35.70)) + metres((114.31, 35.70), (114.32, 35.70));
        let second = metres((114.40, 35.80), (114.41, 35.80));
        assert!((a.distance_m - first).abs() < 1e-9);
        assert!((b.distance_m - second).abs() < 1e-9);
        assert_eq!(t.fixes, 5);
        assert!((t.distance_m - first - second).abs() < 1e-9);
        assert_eq!(t.duration_s, 720.0);
    }

    #[test]
    fn a_lone_fix_between_two_gaps_is_its_own_segment() {
        let fixes = [
            fix(0, 114.3, 35.7),
            fix(3600, 114.31, 35.7),
            fix(7200, 114.32, 35.7),
        ];
        let t = track(&fixes, &TEN_MINUTES);
        assert_eq!(
            t.segments.iter().map(|s| s.fixes).collect::<Vec<_>>(),
            [1, 1, 1]
        );
        assert_eq!((t.distance_m, t.duration_s), (0.0, 0.0));
    }

    #[test]
    fn fixes_in_any_order_give_the_same_track() {
        let fixes = [
            fix(0, 114.3, 35.7),
            fix(30, 114.301, 35.7),
            fix(60, 114.302, 35.701),
        ];
        let reversed: Vec<WorkerFix> = fixes.iter().rev().cloned().collect();
        assert_eq!(track(&fixes, &TEN_MINUTES), track(&reversed, &TEN_MINUTES));
    }

    #[test]
    fn simplification_keeps_the_ends_and_the_figures() {
        // A straight walk east with a 3 m wobble, and a 200 m turn north at the end.
        let mut fixes: Vec<WorkerFix> = (0..20)
            .map(|i| {
                let wobble = if i % 2 == 0 { 0.0 } else { 3.0 / 111_195.0 };
                fix(i * 10, 114.3 + i as f64 * 0.0002, 35.7 + wobble)
            })
            .collect();
        fixes.push(fix(200, 114.3 + 19.0 * 0.0002, 35.7 + 200.0 / 111_195.0));
        let rules = TrackRules {
            simplify_m: Some(10.0),
            ..TEN_MINUTES
        };
        let plain = track(&fixes, &TEN_MINUTES);
        let simple = track(&fixes, &rules);
        let drawn = &simple.segments[0].positions;
        assert_eq!(drawn.len(), 3, "{drawn:?}");
        assert_eq!(drawn.first(), Some(&fixes[0].position.0));
        assert_eq!(drawn.last(), Some(&fixes[20].position.0));
        assert_eq!(drawn[1], fixes[19].position.0);
        assert_eq!(
            (simple.distance_m, simple.duration_s, simple.fixes),
            (plain.distance_m, plain.duration_s, plain.fixes)
        );
        // Under a tolerance finer than the wobble, every fix stays.
        let fine = TrackRules {
            simplify_m: Some(1.0),
            ..TEN_MINUTES
        };
        assert_eq!(track(&fixes, &fine).segments[0].positions.len(), 21);
    }

    #[test]
    fn simplification_leaves_two_fix_segments_whole() {
        let fixes = [fix(0, 114.3, 35.7), fix(10, 114.3, 35.7)];
        let rules = TrackRules {
            simplify_m: Some(1000.0),
            ..TEN_MINUTES
        };
        assert_eq!(track(&fixes, &rules).segments[0].positions.len(), 2);
    }
}
