//! Basemap features (roads, rivers, water) indexed by code and by envelope.
//!
//! One map and one R-tree for the whole city: a basemap holds thousands of features, not
//! hundreds of thousands, so a change copies the index (features themselves are shared `Arc`s)
//! rather than sharding it as the buildings are.

use std::collections::HashMap;
use std::sync::Arc;

use geo::BoundingRect;
use geo_types::Rect;
use rstar::{RTree, RTreeObject, AABB};

use super::area_index::rect_to_aabb;
use crate::model::{BasemapFeature, BasemapGeometry};

/// The envelope of a feature's geometry; `None` when it is empty.
pub fn basemap_bounds(feature: &BasemapFeature) -> Option<Rect<f64>> {
    match &feature.geometry {
        BasemapGeometry::Line(l) => l.bounding_rect(),
        BasemapGeometry::Area(a) => a.bounding_rect(),
    }
}

#[derive(Debug, Clone)]
struct BasemapLeaf {
    envelope: AABB<[f64; 2]>,
    feature: Arc<BasemapFeature>,
}

impl PartialEq for BasemapLeaf {
    fn eq(&self, other: &Self) -> bool {
        self.feature.code == other.feature.code
    }
}

impl RTreeObject for BasemapLeaf {
    type Envelope = AABB<[f64; 2]>;

    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

/// All basemap features; cloning copies the map and tree, sharing the features.
#[derive(Debug, Clone, Default)]
pub struct BasemapIndex {
    by_code: HashMap<String, Arc<BasemapFeature>>,
    tree: RTree<BasemapLeaf>,
}

fn leaf(feature: &Arc<BasemapFeature>) -> Option<BasemapLeaf> {
    basemap_bounds(feature).map(|r| BasemapLeaf {
        envelope: rect_to_aabb(r),
        feature: feature.clone(),
    })
}

impl BasemapIndex {
    /// Indexes every feature at once (bulk-loaded tree); a later duplicate code wins.
    pub fn new(features: Vec<BasemapFeature>) -> BasemapIndex {
        let by_code: HashMap<String, Arc<BasemapFeature>> = features
            .into_iter()
            .map(|f| (f.code.clone(), Arc::new(f)))
            .collect();
        let tree = RTree::bulk_load(by_code.values().filter_map(leaf).collect());
        BasemapIndex { by_code, tree }
    }

    /// Number of features.
    pub fn len(&self) -> usize {
        self.by_code.len()
    }

    /// The feature with this code.
    pub fn get(&self, code: &str) -> Option<&BasemapFeature> {
        self.by_code.get(code).map(|f| &**f)
    }

    /// Inserts or replaces a feature; returns the previous version.
    pub fn upsert(&mut self, feature: BasemapFeature) -> Option<Arc<BasemapFeature>> {
        let old = self.remove(&feature.code);
        let feature = Arc::new(feature);
        if let Some(l) = leaf(&feature) {
            self.tree.insert(l);
        }
        self.by_code.insert(feature.code.clone(), feature);
        old
    }

    /// Removes a feature; returns it when it was there.
    pub fn remove(&mut self, code: &str) -> Option<Arc<BasemapFeature>> {
        let old = self.by_code.remove(code)?;
        if let Some(l) = leaf(&old) {
            self.tree.remove(&l);
        }
        Some(old)
    }

    /// Features whose envelope intersects `bbox`, sorted by code.
    pub fn in_bbox(&self, bbox: Rect<f64>) -> Vec<&BasemapFeature> {
        let mut found: Vec<&BasemapFeature> = self
            .tree
            .locate_in_envelope_intersecting(&rect_to_aabb(bbox))
            .map(|l| &*l.feature)
            .collect();
        found.sort_unstable_by(|a, b| a.code.cmp(&b.code));
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::BasemapKind;
    use geo_types::{coord, line_string, LineString};

    fn road(code: &str, line: LineString<f64>) -> BasemapFeature {
        BasemapFeature {
            code: code.into(),
            kind: BasemapKind::Primary,
            name: code.into(),
            geometry: BasemapGeometry::Line(line),
        }
    }

    fn bbox(x0: f64, y0: f64, x1: f64, y1: f64) -> Rect<f64> {
        Rect::new(coord! {x: x0, y: y0}, coord! {x: x1, y: y1})
    }

    #[test]
    fn an_empty_index_finds_nothing_and_empty_lines_are_not_in_the_tree() {
        let mut index = BasemapIndex::default();
        assert!(index.in_bbox(bbox(-180.0, -90.0, 180.0, 90.0)).is_empty());
        index.upsert(road("E", LineString::new(vec![])));
        assert_eq!(index.len(), 1);
        assert!(index.in_bbox(bbox(-180.0, -90.0, 180.0, 90.0)).is_empty());
        assert!(index.remove("E").is_some());
        assert_eq!(index.len(), 0);
    }

    #[test]
    fn upsert_moves_a_feature_and_remove_drops_it() {
        let mut index = BasemapIndex::new(vec![
            road("A", line_string![(x: 0.0, y: 0.0), (x: 1.0, y: 1.0)]),
            road("B", line_string![(x: 5.0, y: 5.0), (x: 6.0, y: 6.0)]),
        ]);
        let codes = |v: Vec<&BasemapFeature>| v.iter().map(|f| f.code.clone()).collect::<Vec<_>>();
        assert_eq!(codes(index.in_bbox(bbox(0.5, 0.5, 5.5, 5.5))), ["A", "B"]);
        let old = index.upsert(road(
            "A",
            line_string![(x: 9.0, y: 9.0), (x: 10.0, y: 10.0)],
        ));
        assert!(old.is_some());
        assert_eq!(
            codes(index.in_bbox(bbox(0.0, 0.0, 2.0, 2.0))),
            Vec::<String>::new()
        );
        assert_eq!(codes(index.in_bbox(bbox(9.5, 9.5, 9.6, 9.6))), ["A"]);
        index.remove("B");
        assert_eq!(
            codes(index.in_bbox(bbox(5.0, 5.0, 6.0, 6.0))),
            Vec::<String>::new()
        );
        assert_eq!(index.len(), 1);
        assert!(index.remove("B").is_none());
    }
}
