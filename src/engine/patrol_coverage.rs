//! Patrol coverage (巡查覆盖): how much of a grid its workers came near in a window.
//!
//! Rules:
//! - A grid's tracks are the segments of its workers' tracks (`track`: split at gaps; a lone
//!   fix is a zero-length line), in a local metric frame centred on the grid
//!   (equirectangular at the grid's mid-latitude: well under a metre of error across a grid).
//! - A building is covered when its representative point (the interior point of its
//!   footprint) lies within `distance_m` of a track segment. Buildings count for the grid of
//!   their `grid_code`.
//! - The covered share of the grid's area is measured on a lattice of points inside the grid,
//!   [`LATTICE_POINTS`] at most (spacing at least [`MIN_SPACING_M`]): the share of lattice
//!   points within `distance_m` of a segment.

use geo::{BoundingRect, InteriorPoint};
use geo_types::{coord, Coord, Line, LineString, Point};
use rstar::RTree;

use super::point_in_area::PreparedArea;
use super::track::Track;
use super::workers::geofence::metres_per_degree;
use super::Snapshot;
use crate::model::Area;

/// Most lattice points a grid's area share is measured on.
pub const LATTICE_POINTS: f64 = 4_000.0;

/// The finest lattice spacing, metres.
pub const MIN_SPACING_M: f64 = 5.0;

/// The coverage of one grid.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GridCoverage {
    /// The grid's code and name.
    pub grid: String,
    pub name: String,
    /// Buildings of the grid, and those within the distance of a track.
    pub buildings: usize,
    pub covered_buildings: usize,
    /// `covered_buildings / buildings`; `None` for a grid without buildings.
    pub building_share: Option<f64>,
    /// Share of the grid's area within the distance of a track (0..=1).
    pub area_share: f64,
    /// Length of the grid's tracks, metres.
    pub track_m: f64,
}

/// A local metric frame: metres east and north of an origin.
struct Frame {
    origin: Coord<f64>,
    kx: f64,
    ky: f64,
}

impl Frame {
    fn new(origin: Coord<f64>) -> Frame {
        let (kx, ky) = metres_per_degree(origin.y);
        Frame { origin, kx, ky }
    }

    fn local(&self, c: Coord<f64>) -> Coord<f64> {
        coord! {x: (c.x - self.origin.x) * self.kx, y: (c.y - self.origin.y) * self.ky}
    }

    fn lonlat(&self, c: Coord<f64>) -> Coord<f64> {
        coord! {x: self.origin.x + c.x / self.kx, y: self.origin.y + c.y / self.ky}
    }
}

impl Snapshot {
    /// The coverage of `grid` by `tracks` (lon/lat polylines) at `distance_m`.
    pub fn patrol_coverage(
        &self,
        grid: &Area,
        tracks: &[LineString<f64>],
        distance_m: f64,
    ) -> GridCoverage {
        let bounds = grid.geometry.bounding_rect();
        let frame = Frame::new(bounds.map(|b| b.center()).unwrap_or_default());
        let segments: Vec<Line<f64>> = tracks
            .iter()
            .flat_map(|t| t.lines())
            .map(|l| Line::new(frame.local(l.start), frame.local(l.end)))
            .collect();
        let track_m = segments.iter().map(|l| l.dx().hypot(l.dy())).sum();
        let tree = RTree::bulk_load(segments);
        let near = |c: Coord<f64>| {
            let p = frame.local(c);
            tree.locate_within_distance(Point(p), distance_m * distance_m)
                .next()
                .is_some()
        };
        let points: Vec<Coord<f64>> = bounds
            .map(|b| self.buildings_in_bbox(b))
            .unwrap_or_default()
            .into_iter()
            .filter(|b| b.grid_code.as_deref() == Some(grid.code.as_str()))
            .filter_map(|b| b.geometry.interior_point().map(|p| p.0))
            .collect();
        let covered_buildings = points.iter().filter(|&&c| near(c)).count();
        let buildings = points.len();
        GridCoverage {
            grid: grid.code.clone(),
            name: grid.name.clone(),
            buildings,
            covered_buildings,
            building_share: (buildings > 0).then(|| covered_buildings as f64 / buildings as f64),
            area_share: area_share(grid, &frame, &near),
            track_m,
        }
    }
}

/// The share of lattice points inside the grid that `near` accepts.
fn area_share(grid: &Area, frame: &Frame, near: &impl Fn(Coord<f64>) -> bool) -> f64 {
    let Some(bounds) = grid.geometry.bounding_rect() else {
        return 0.0;
    };
    let (low, high) = (frame.local(bounds.min()), frame.local(bounds.max()));
    let (width, height) = (high.x - low.x, high.y - low.y);
    let spacing = (width * height / LATTICE_POINTS).sqrt().max(MIN_SPACING_M);
    let prepared = PreparedArea::new(&grid.geometry);
    let (mut inside, mut covered) = (0usize, 0usize);
    let mut y = low.y + spacing / 2.0;
    while y < high.y {
        let mut x = low.x + spacing / 2.0;
        while x < high.x {
            let c = frame.lonlat(coord! {x: x, y: y});
            if prepared.intersects(c) {
                inside += 1;
                covered += usize::from(near(c));
            }
            x += spacing;
        }
        y += spacing;
    }
    if inside == 0 {
        0.0
    } else {
        covered as f64 / inside as f64
    }
}

/// The lines a track draws, for coverage: each segment's positions, a one-fix segment as a
/// zero-length line (a worker standing still covers what is around it).
pub fn track_lines(track: &Track) -> Vec<LineString<f64>> {
    track
        .segments
        .iter()
        .map(|segment| {
            let mut coords = segment.positions.clone();
            if coords.len() == 1 {
                coords.push(coords[0]);
            }
            LineString(coords)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Engine;
    use crate::engine::TrackRules;
    use crate::model::{Building, Dataset, Level, WorkerFix};
    use chrono::{Duration, TimeZone, Utc};
    use geo_types::{polygon, MultiPolygon};

    const GRID: &str = "410611001001001";

    /// A grid of 0.01° × 0.01° at 114.0, 35.0 with a row of buildings along its south edge
    /// (ten of them, every 0.001°) and one in its north-east corner.
    fn city() -> std::sync::Arc<Snapshot> {
        let square = MultiPolygon(vec![polygon![
            (x: 114.0, y: 35.0), (x: 114.01, y: 35.0), (x: 114.01, y: 35.01), (x: 114.0, y: 35.01),
        ]]);
        let building = |code: usize, x: f64, y: f64| Building {
            grid_code: Some(GRID.into()),
            ..Building::square(&format!("41061100100100{code:03}"), x, y, 0.0002)
        };
        let mut buildings: Vec<Building> = (0..10)
            .map(|i| building(i, 114.0005 + i as f64 * 0.001, 35.0005))
            .collect();
        buildings.push(building(10, 114.0095, 35.0095));
        Engine::new(Dataset {
            areas: vec![Area::bare(GRID, "一网格", Level::Grid, square)],
            buildings,
            ..Dataset::default()
        })
        .snapshot()
    }

    fn grid(snapshot: &Snapshot) -> Area {
        snapshot.area(GRID).expect("grid").clone()
    }

    #[test]
    fn no_track_covers_nothing() {
        let snapshot = city();
        let coverage = snapshot.patrol_coverage(&grid(&snapshot), &[], 50.0);
        assert_eq!((coverage.buildings, coverage.covered_buildings), (11, 0));
        assert_eq!(coverage.area_share, 0.0);
        assert_eq!(coverage.track_m, 0.0);
    }

    #[test]
    fn a_walk_along_the_south_edge_covers_its_buildings_and_a_strip_of_the_area() {
        let snapshot = city();
        let walk = LineString::from(vec![(114.0, 35.0006), (114.01, 35.0006)]);
        let coverage = snapshot.patrol_coverage(&grid(&snapshot), &[walk], 30.0);
        assert_eq!((coverage.buildings, coverage.covered_buildings), (11, 10));
        assert!((coverage.track_m - 912.0).abs() < 5.0, "{coverage:?}");
        // A strip 60 m wide (30 m either side of the walk) of the grid's 1 112 m.
        assert!(
            (0.045..0.065).contains(&coverage.area_share),
            "{coverage:?}"
        );
    }

    #[test]
    fn a_standing_worker_covers_the_circle_around_it() {
        let snapshot = city();
        let t = Utc
            .with_ymd_and_hms(2026, 12, 6, 8, 0, 0)
            .single()
            .expect("t");
        let stand = WorkerFix {
            worker_code: "w1".into(),
            at: t,
            position: Point::new(114.0096, 35.0096),
            accuracy_m: None,
            speed_mps: None,
            heading_deg: None,
            source_crs: "wgs84".into(),
        };
        let rules = TrackRules {
            gap: Duration::minutes(10),
            simplify_m: None,
        };
        let lines = track_lines(&crate::engine::track(&[stand], &rules));
        assert_eq!(lines.len(), 1);
        let coverage = snapshot.patrol_coverage(&grid(&snapshot), &lines, 30.0);
        assert_eq!(coverage.covered_buildings, 1);
        assert!(
            coverage.area_share > 0.0 && coverage.area_share < 0.01,
            "{coverage:?}"
        );
    }
}
