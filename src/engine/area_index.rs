//! The areas of every layer, indexed for point and box queries: one R-tree over area envelopes
//! per (layer, level), each leaf holding the area with its prepared polygon, plus the tree of
//! parent → children and the base areas by jurisdiction prefix (for rollups by code prefix).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use geo::BoundingRect;
use geo_types::{Coord, Rect};
use rstar::{Envelope, RTree, RTreeObject, AABB};

use super::point_in_area::{OwnerSearch, PreparedArea};
use crate::model::{scope_prefix, Area, Layer, Level};

/// An area with what the point tests need, shared between snapshots.
#[derive(Debug)]
pub struct IndexedArea {
    /// A number no other indexed area of this process has had (an edit indexes the area
    /// afresh), so what tiles derive from one area can be looked up without hashing its code.
    pub serial: u64,
    pub area: Area,
    pub prepared: PreparedArea,
    /// `None` for an empty geometry (such an area is in no tree).
    pub envelope: Option<AABB<[f64; 2]>>,
}

impl IndexedArea {
    fn new(area: Area) -> IndexedArea {
        static SERIALS: AtomicU64 = AtomicU64::new(1);
        IndexedArea {
            serial: SERIALS.fetch_add(1, Ordering::Relaxed),
            prepared: PreparedArea::new(&area.geometry),
            envelope: area.geometry.bounding_rect().map(rect_to_aabb),
            area,
        }
    }
}

/// Converts a `geo` rectangle to an R-tree envelope.
pub fn rect_to_aabb(rect: Rect<f64>) -> AABB<[f64; 2]> {
    AABB::from_corners([rect.min().x, rect.min().y], [rect.max().x, rect.max().y])
}

/// One R-tree leaf: an area under its envelope. Equal when the code is (codes are unique).
#[derive(Debug, Clone)]
struct AreaLeaf {
    envelope: AABB<[f64; 2]>,
    area: Arc<IndexedArea>,
}

impl PartialEq for AreaLeaf {
    fn eq(&self, other: &Self) -> bool {
        self.area.area.code == other.area.area.code
    }
}

impl RTreeObject for AreaLeaf {
    type Envelope = AABB<[f64; 2]>;

    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

/// Which tree an area sits in. Ordered by layer, then level, as query results are.
pub type TreeKey = (Layer, Level);

/// Every area, its trees and its hierarchy. Cloned (shallowly) when an area changes.
#[derive(Debug, Clone, Default)]
pub struct AreaIndex {
    /// Unique in the process for each state of the index (see [`AreaIndex::version`]).
    version: u64,
    by_code: HashMap<String, Arc<IndexedArea>>,
    trees: BTreeMap<TreeKey, RTree<AreaLeaf>>,
    children: HashMap<String, BTreeSet<String>>,
    /// Base areas by their jurisdiction prefix ([`scope_prefix`]).
    base_by_scope: HashMap<String, Vec<String>>,
}

impl AreaIndex {
    /// Indexes all areas at once (bulk-loaded trees).
    pub fn new(areas: Vec<Area>) -> AreaIndex {
        let mut index = AreaIndex {
            version: next_version(),
            ..AreaIndex::default()
        };
        let mut leaves: BTreeMap<TreeKey, Vec<AreaLeaf>> = BTreeMap::new();
        for area in areas {
            let indexed = Arc::new(IndexedArea::new(area));
            if let Some(envelope) = indexed.envelope {
                leaves
                    .entry(tree_key(&indexed.area))
                    .or_default()
                    .push(AreaLeaf {
                        envelope,
                        area: indexed.clone(),
                    });
            }
            index.link(&indexed.area);
            index.by_code.insert(indexed.area.code.clone(), indexed);
        }
        index.trees = leaves
            .into_iter()
            .map(|(k, v)| (k, RTree::bulk_load(v)))
            .collect();
        index
    }

    /// Inserts or replaces an area; returns the previous version.
    pub fn upsert(&mut self, area: Area) -> Option<Arc<IndexedArea>> {
        self.version = next_version();
        let old = self.remove(&area.code);
        let indexed = Arc::new(IndexedArea::new(area));
        if let Some(envelope) = indexed.envelope {
            self.trees
                .entry(tree_key(&indexed.area))
                .or_default()
                .insert(AreaLeaf {
                    envelope,
                    area: indexed.clone(),
                });
        }
        self.link(&indexed.area);
        self.by_code.insert(indexed.area.code.clone(), indexed);
        old
    }

    /// Removes an area; returns it when it existed.
    pub fn remove(&mut self, code: &str) -> Option<Arc<IndexedArea>> {
        self.version = next_version();
        let old = self.by_code.remove(code)?;
        let key = tree_key(&old.area);
        if let (Some(envelope), Some(tree)) = (old.envelope, self.trees.get_mut(&key)) {
            tree.remove(&AreaLeaf {
                envelope,
                area: old.clone(),
            });
            if tree.size() == 0 {
                self.trees.remove(&key);
            }
        }
        self.unlink(&old.area);
        Some(old)
    }

    fn link(&mut self, area: &Area) {
        if let Some(parent) = &area.parent_code {
            self.children
                .entry(parent.clone())
                .or_default()
                .insert(area.code.clone());
        }
        if area.layer == Layer::Base {
            self.base_by_scope
                .entry(scope_prefix(&area.code).to_string())
                .or_default()
                .push(area.code.clone());
        }
    }

    fn unlink(&mut self, area: &Area) {
        if let Some(parent) = &area.parent_code {
            if let Some(set) = self.children.get_mut(parent) {
                set.remove(&area.code);
                if set.is_empty() {
                    self.children.remove(parent);
                }
            }
        }
        if area.layer == Layer::Base {
            let scope = scope_prefix(&area.code);
            if let Some(codes) = self.base_by_scope.get_mut(scope) {
                codes.retain(|c| c != &area.code);
                if codes.is_empty() {
                    self.base_by_scope.remove(scope);
                }
            }
        }
    }

    /// The area with this code.
    pub fn get(&self, code: &str) -> Option<&Arc<IndexedArea>> {
        self.by_code.get(code)
    }

    /// Every area of every layer, in no particular order.
    pub fn areas(&self) -> impl Iterator<Item = &Area> {
        self.by_code.values().map(|a| &a.area)
    }

    /// Number of areas of every layer.
    pub fn len(&self) -> usize {
        self.by_code.len()
    }

    /// Number of areas in one tree (e.g. base grids).
    pub fn count(&self, layer: &Layer, level: Level) -> usize {
        self.trees
            .get(&(layer.clone(), level))
            .map_or(0, RTree::size)
    }

    /// Direct children of `code`, sorted by code.
    pub fn children(&self, code: &str) -> impl Iterator<Item = &Arc<IndexedArea>> {
        self.children
            .get(code)
            .into_iter()
            .flatten()
            .filter_map(|c| self.by_code.get(c))
    }

    /// The owner of a point in one tree under the border rule (see `point_in_area`).
    pub fn owner_at(
        &self,
        layer: &Layer,
        level: Level,
        p: Coord<f64>,
    ) -> Option<&Arc<IndexedArea>> {
        let tree = self.trees.get(&(layer.clone(), level))?;
        owner_in(tree, p)
    }

    /// Every area of every tree whose closed polygon contains the point, by layer, level, code.
    pub fn containing(&self, p: Coord<f64>) -> Vec<&Arc<IndexedArea>> {
        let query = AABB::from_point([p.x, p.y]);
        let mut out = Vec::new();
        for tree in self.trees.values() {
            let start = out.len();
            let _ = tree.locate_in_envelope_intersecting_int(&query, |leaf| {
                if leaf.area.prepared.intersects(p) {
                    out.push(&leaf.area);
                }
                ControlFlow::<()>::Continue(())
            });
            out[start..].sort_by(|a, b| a.area.code.cmp(&b.area.code));
        }
        out
    }

    /// The owners of a point in every tree of the layers other than base, one per tree.
    pub fn other_layer_owners(&self, p: Coord<f64>) -> Vec<String> {
        self.trees
            .iter()
            .filter(|((layer, _), _)| *layer != Layer::Base)
            .filter_map(|(_, tree)| owner_in(tree, p))
            .map(|a| a.area.code.clone())
            .collect()
    }

    /// The envelope of the areas of one layer and level (`Some(key)`) or of every area
    /// (`None`), read off the trees' roots; `None` when there is no such area.
    pub fn extent(&self, key: Option<&TreeKey>) -> Option<AABB<[f64; 2]>> {
        self.trees
            .iter()
            .filter(|(k, tree)| key.is_none_or(|key| *k == key) && tree.size() > 0)
            .map(|(_, tree)| tree.root().envelope())
            .reduce(|a, b| a.merged(&b))
    }

    /// The areas of one tree (layer and level) whose envelope intersects the box, in no
    /// particular order: the candidates of a query within one level (neighbours).
    pub fn in_tree_envelope<'a>(
        &'a self,
        key: &TreeKey,
        envelope: &'a AABB<[f64; 2]>,
    ) -> impl Iterator<Item = &'a Arc<IndexedArea>> + 'a {
        self.trees
            .get(key)
            .into_iter()
            .flat_map(move |tree| tree.locate_in_envelope_intersecting(envelope))
            .map(|leaf| &leaf.area)
    }

    /// Areas whose envelope intersects the box, by layer, level, code.
    pub fn in_envelope(&self, envelope: &AABB<[f64; 2]>) -> Vec<&Arc<IndexedArea>> {
        let mut out = Vec::new();
        for tree in self.trees.values() {
            let start = out.len();
            out.extend(
                tree.locate_in_envelope_intersecting(envelope)
                    .map(|leaf| &leaf.area),
            );
            out[start..].sort_by(|a, b| a.area.code.cmp(&b.area.code));
        }
        out
    }

    /// Codes of the base areas whose jurisdiction contains `code` (prefix rule), including an
    /// area with that very code.
    pub fn base_scopes_of<'a>(&'a self, code: &'a str) -> impl Iterator<Item = &'a String> + 'a {
        (1..=code.len())
            .filter_map(move |n| code.get(..n))
            .filter_map(move |prefix| self.base_by_scope.get(prefix))
            .flatten()
    }
}

/// A number no other state of any area index in this process has had, so what is derived from
/// the areas (simplified tile layers) can be kept under it.
fn next_version() -> u64 {
    static VERSIONS: AtomicU64 = AtomicU64::new(1);
    VERSIONS.fetch_add(1, Ordering::Relaxed)
}

impl AreaIndex {
    /// This state's version: it changes with every upsert or removal, and no two indexes share
    /// one.
    pub fn version(&self) -> u64 {
        self.version
    }
}

/// The tree an area sits in.
pub fn tree_key(area: &Area) -> TreeKey {
    (area.layer.clone(), area.level)
}

fn owner_in(tree: &RTree<AreaLeaf>, p: Coord<f64>) -> Option<&Arc<IndexedArea>> {
    let query = AABB::from_point([p.x, p.y]);
    let mut search = OwnerSearch::new(p);
    let _ = tree.locate_in_envelope_intersecting_int(&query, |leaf| {
        search.offer(
            leaf.area.area.code.as_str(),
            &leaf.area.prepared,
            &leaf.area,
        );
        ControlFlow::<()>::Continue(())
    });
    search.owner()
}
