//! The latest worker positions in an R-tree, for "the k nearest workers" (就近派遣).
//!
//! Positions are kept as points on the unit sphere (x, y, z). The straight-line (chord)
//! distance between two such points grows with their great-circle distance, so the R-tree's
//! nearest-neighbour order *is* the geodesic order on the sphere: no projection, no error that
//! grows with the city's extent, and the metres reported are the haversine distance.

use rstar::primitives::GeomWithData;
use rstar::RTree;

use super::geofence::EARTH_RADIUS_M;

type Entry = GeomWithData<[f64; 3], String>;

/// Worker codes under their latest positions: built in one bulk load when a query needs it
/// (positions change thousands of times a second, nearest-worker queries come a few times a
/// minute, and a bulk load of a city's workers takes a few milliseconds).
#[derive(Debug, Default, Clone)]
pub struct PositionIndex {
    tree: RTree<Entry>,
}

/// The point on the unit sphere at a longitude/latitude in degrees.
fn on_sphere(lon: f64, lat: f64) -> [f64; 3] {
    let (lon, lat) = (lon.to_radians(), lat.to_radians());
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

/// The great-circle distance in metres of a chord of the unit sphere.
fn chord_to_metres(squared_chord: f64) -> f64 {
    2.0 * EARTH_RADIUS_M * (squared_chord.sqrt() / 2.0).min(1.0).asin()
}

impl PositionIndex {
    /// The index of these (code, longitude, latitude) positions.
    pub fn build<'a>(positions: impl Iterator<Item = (&'a str, f64, f64)>) -> PositionIndex {
        let entries = positions
            .map(|(code, lon, lat)| Entry::new(on_sphere(lon, lat), code.to_string()))
            .collect();
        PositionIndex {
            tree: RTree::bulk_load(entries),
        }
    }

    /// Codes nearest to a point first, each with its distance in metres; `keep` picks the
    /// ones wanted and the walk stops after `k` of them.
    pub fn nearest(
        &self,
        lon: f64,
        lat: f64,
        k: usize,
        mut keep: impl FnMut(&str) -> bool,
    ) -> Vec<(String, f64)> {
        let at = on_sphere(lon, lat);
        self.tree
            .nearest_neighbor_iter_with_distance_2(&at)
            .filter(|(entry, _)| keep(&entry.data))
            .take(k)
            .map(|(entry, d2)| (entry.data.clone(), chord_to_metres(d2)))
            .collect()
    }

    /// Number of indexed positions.
    pub fn len(&self) -> usize {
        self.tree.size()
    }

    /// Whether no position is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_index_finds_nothing() {
        assert!(PositionIndex::default()
            .nearest(114.3, 35.7, 3, |_| true)
            .is_empty());
    }

    #[test]
    fn each_position_is_indexed_once() {
        let index = PositionIndex::build([("a", 114.30, 35.70), ("b", 114.40, 35.70)].into_iter());
        assert_eq!(index.len(), 2);
        let found = index.nearest(114.40, 35.70, 5, |_| true);
        assert_eq!(found[0].0, "b");
        assert!(found[0].1 < 1e-3, "{found:?}");
    }

    #[test]
    fn one_degree_of_latitude_is_about_111_km() {
        let index = PositionIndex::build([("north", 114.0, 36.0)].into_iter());
        let found = index.nearest(114.0, 35.0, 1, |_| true);
        let expected = EARTH_RADIUS_M * 1f64.to_radians();
        assert!((found[0].1 - expected).abs() < 1e-6, "{found:?}");
    }

    #[test]
    fn the_filter_skips_to_the_next_nearest() {
        let index =
            PositionIndex::build([("near", 114.001, 35.0), ("far", 114.01, 35.0)].into_iter());
        let found = index.nearest(114.0, 35.0, 1, |code| code != "near");
        assert_eq!(found[0].0, "far");
    }
}
