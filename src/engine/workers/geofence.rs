//! How far a point lies outside an area, in metres: the geofence test of the out-of-grid rule.
//!
//! Rule: a point on the area's boundary or inside it is 0 m outside (the closed polygon, as
//! the border rule of `point_in_area` treats a point on a shared border as inside both
//! sides). Outside, the distance is the Euclidean distance to the nearest boundary point in a
//! local equirectangular frame centred on the point (metres per degree at its latitude), which
//! agrees with the geodesic distance to well under a metre at the few-kilometre distances a
//! grid's geofence deals with.

use geo::{Distance, Euclidean, MapCoords};
use geo_types::{Coord, MultiPolygon, Point};

use crate::engine::point_in_area::PreparedArea;

/// Mean Earth radius (IUGG), metres: the sphere of every metric distance of the worker board.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Metres outside `area` (0 inside or on its boundary); `None` for an empty area, which has
/// no inside to leave.
pub fn distance_outside_m(
    prepared: &PreparedArea,
    area: &MultiPolygon<f64>,
    p: Coord<f64>,
) -> Option<f64> {
    if area.0.is_empty() {
        return None;
    }
    if prepared.intersects(p) {
        return Some(0.0);
    }
    let (kx, ky) = metres_per_degree(p.y);
    let local = area.map_coords(|c| Coord {
        x: (c.x - p.x) * kx,
        y: (c.y - p.y) * ky,
    });
    Some(Euclidean.distance(&Point::new(0.0, 0.0), &local))
}

/// Metres per degree of longitude and of latitude at `lat` on the mean sphere.
pub fn metres_per_degree(lat: f64) -> (f64, f64) {
    let per_degree = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;
    (per_degree * lat.to_radians().cos(), per_degree)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::polygon;

    fn square() -> MultiPolygon<f64> {
        MultiPolygon(vec![polygon![
            (x: 114.0, y: 35.0),
            (x: 114.01, y: 35.0),
            (x: 114.01, y: 35.01),
            (x: 114.0, y: 35.01),
        ]])
    }

    fn outside(p: Coord<f64>) -> f64 {
        let area = square();
        distance_outside_m(&PreparedArea::new(&area), &area, p).expect("a square")
    }

    #[test]
    fn an_empty_area_has_no_distance() {
        let empty = MultiPolygon::<f64>(vec![]);
        let p = Coord { x: 114.0, y: 35.0 };
        assert_eq!(
            distance_outside_m(&PreparedArea::new(&empty), &empty, p),
            None
        );
    }

    #[test]
    fn on_the_border_and_inside_are_zero() {
        assert_eq!(
            outside(Coord {
                x: 114.0,
                y: 35.005
            }),
            0.0
        );
        assert_eq!(
            outside(Coord {
                x: 114.005,
                y: 35.005
            }),
            0.0
        );
    }

    #[test]
    fn east_of_the_square_is_the_longitude_gap_in_metres() {
        let d = outside(Coord {
            x: 114.011,
            y: 35.005,
        });
        let (kx, _) = metres_per_degree(35.005);
        assert!((d - 0.001 * kx).abs() < 1e-6, "{d}");
        // About 91 m at this latitude.
        assert!((90.0..92.0).contains(&d), "{d}");
    }

    #[test]
    fn north_of_the_square_is_the_latitude_gap_in_metres() {
        let d = outside(Coord {
            x: 114.005,
            y: 35.0109,
        });
        assert!((d - 0.0009 * metres_per_degree(0.0).1).abs() < 1e-6, "{d}");
    }
}
