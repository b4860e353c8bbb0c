//! Buildings indexed by code and by footprint envelope.
//!
//! Buildings are sharded by community (a building code is its community code plus 5 digits):
//! each shard holds its own map and R-tree, and a small R-tree over shard envelopes finds the
//! shards a box touches. A snapshot shares unchanged shards with the previous one, so a change
//! to one building copies one community's buildings, not the city's.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use geo::{BoundingRect, InteriorPoint};
use geo_types::{coord, Coord, Rect};
use rstar::{Envelope, RTree, RTreeObject, AABB};

use super::area_index::rect_to_aabb;
use crate::model::Building;

/// Digits a building code adds to its community code.
const BUILDING_SUFFIX_LEN: usize = 5;

/// A building with its interior point (the point that decides its grid and other owners).
#[derive(Debug)]
pub struct IndexedBuilding {
    pub building: Building,
    /// `geo::InteriorPoint` of the footprint; `None` for an empty footprint.
    pub interior: Option<Coord<f64>>,
    envelope: Option<AABB<[f64; 2]>>,
}

impl IndexedBuilding {
    /// Computes the interior point and envelope of the footprint.
    pub fn new(building: Building) -> IndexedBuilding {
        IndexedBuilding {
            interior: building.geometry.interior_point().map(|p| p.0),
            envelope: building.geometry.bounding_rect().map(rect_to_aabb),
            building,
        }
    }

    /// The same building placed in another grid (geometry unchanged, nothing recomputed).
    pub fn with_grid_code(&self, grid_code: Option<String>) -> IndexedBuilding {
        IndexedBuilding {
            building: Building {
                grid_code,
                ..self.building.clone()
            },
            interior: self.interior,
            envelope: self.envelope,
        }
    }
}

#[derive(Debug, Clone)]
struct BuildingLeaf {
    envelope: AABB<[f64; 2]>,
    building: Arc<IndexedBuilding>,
}

impl PartialEq for BuildingLeaf {
    fn eq(&self, other: &Self) -> bool {
        self.building.building.code == other.building.building.code
    }
}

impl RTreeObject for BuildingLeaf {
    type Envelope = AABB<[f64; 2]>;

    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

/// The buildings of one community.
#[derive(Debug, Clone, Default)]
pub struct Shard {
    /// Unique to this content in the process: a shard gets a new id whenever it changes, so
    /// what is derived from a shard (tile geometry) can be kept under its id.
    id: u64,
    by_code: HashMap<String, Arc<IndexedBuilding>>,
    tree: RTree<BuildingLeaf>,
}

/// A fresh shard id (never 0, the id of a shard not yet filled).
fn next_shard_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Shard {
    /// The id of this shard's content (see the field).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// How many buildings the community has.
    pub fn len(&self) -> usize {
        self.by_code.len()
    }

    /// Whether the community has no building (only a shard being filled).
    pub fn is_empty(&self) -> bool {
        self.by_code.is_empty()
    }

    /// The envelope of the community's footprints (longitude/latitude); `None` when empty.
    pub fn bounds(&self) -> Option<Rect<f64>> {
        let e = self.envelope()?;
        let ([x0, y0], [x1, y1]) = (e.lower(), e.upper());
        Some(Rect::new(coord! {x: x0, y: y0}, coord! {x: x1, y: y1}))
    }

    /// Every building of the community, unordered.
    pub fn buildings(&self) -> impl Iterator<Item = &Arc<IndexedBuilding>> {
        self.by_code.values()
    }

    fn envelope(&self) -> Option<AABB<[f64; 2]>> {
        (self.tree.size() > 0).then(|| self.tree.root().envelope())
    }

    fn remove(&mut self, code: &str) -> Option<Arc<IndexedBuilding>> {
        let old = self.by_code.remove(code)?;
        if let Some(envelope) = old.envelope {
            self.tree.remove(&BuildingLeaf {
                envelope,
                building: old.clone(),
            });
        }
        Some(old)
    }

    fn insert(&mut self, building: Arc<IndexedBuilding>) {
        if let Some(envelope) = building.envelope {
            self.tree.insert(BuildingLeaf {
                envelope,
                building: building.clone(),
            });
        }
        self.by_code
            .insert(building.building.code.clone(), building);
    }
}

/// A shard under its envelope in the top-level tree.
#[derive(Debug, Clone, PartialEq)]
struct ShardLeaf {
    envelope: AABB<[f64; 2]>,
    key: String,
}

impl RTreeObject for ShardLeaf {
    type Envelope = AABB<[f64; 2]>;

    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

/// All buildings; cloning is shallow (shards are shared until changed).
#[derive(Debug, Clone, Default)]
pub struct BuildingIndex {
    shards: HashMap<String, Arc<Shard>>,
    shard_tree: RTree<ShardLeaf>,
    len: usize,
}

/// The shard of a building code: its community code.
fn shard_key(code: &str) -> &str {
    let n = code.len().saturating_sub(BUILDING_SUFFIX_LEN);
    code.get(..n).unwrap_or("")
}

impl BuildingIndex {
    /// Indexes all buildings at once (bulk-loaded trees).
    pub fn new(buildings: Vec<Arc<IndexedBuilding>>) -> BuildingIndex {
        let mut grouped: HashMap<String, Vec<Arc<IndexedBuilding>>> = HashMap::new();
        for b in buildings {
            grouped
                .entry(shard_key(&b.building.code).to_string())
                .or_default()
                .push(b);
        }
        let mut index = BuildingIndex::default();
        let mut shard_leaves = Vec::new();
        for (key, members) in grouped {
            let leaves = members
                .iter()
                .filter_map(|b| {
                    b.envelope.map(|envelope| BuildingLeaf {
                        envelope,
                        building: b.clone(),
                    })
                })
                .collect();
            let by_code: HashMap<_, _> = members
                .into_iter()
                .map(|b| (b.building.code.clone(), b))
                .collect();
            let shard = Shard {
                id: next_shard_id(),
                by_code,
                tree: RTree::bulk_load(leaves),
            };
            index.len += shard.by_code.len();
            if let Some(envelope) = shard.envelope() {
                shard_leaves.push(ShardLeaf {
                    envelope,
                    key: key.clone(),
                });
            }
            index.shards.insert(key, Arc::new(shard));
        }
        index.shard_tree = RTree::bulk_load(shard_leaves);
        index
    }

    /// Number of buildings.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The building with this code.
    pub fn get(&self, code: &str) -> Option<&Arc<IndexedBuilding>> {
        self.shards.get(shard_key(code))?.by_code.get(code)
    }

    /// Inserts or replaces a building; returns the previous version.
    pub fn upsert(&mut self, building: Arc<IndexedBuilding>) -> Option<Arc<IndexedBuilding>> {
        let key = shard_key(&building.building.code).to_string();
        let old = self.edit_shard(&key, |shard| {
            let old = shard.remove(&building.building.code);
            shard.insert(building);
            old
        });
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Removes a building; returns it when it existed.
    pub fn remove(&mut self, code: &str) -> Option<Arc<IndexedBuilding>> {
        let key = shard_key(code).to_string();
        if !self.shards.contains_key(&key) {
            return None;
        }
        let old = self.edit_shard(&key, |shard| shard.remove(code));
        if old.is_some() {
            self.len -= 1;
        }
        old
    }

    /// Applies `edit` to a private copy of one shard and keeps the shard tree in step.
    fn edit_shard<R>(&mut self, key: &str, edit: impl FnOnce(&mut Shard) -> R) -> R {
        let shard = self.shards.entry(key.to_string()).or_default();
        let before = shard.envelope();
        let edited = Arc::make_mut(shard);
        let result = edit(edited);
        edited.id = next_shard_id();
        let after = shard.envelope();
        if shard.by_code.is_empty() {
            self.shards.remove(key);
        }
        if before != after {
            if let Some(envelope) = before {
                self.shard_tree.remove(&ShardLeaf {
                    envelope,
                    key: key.to_string(),
                });
            }
            if let Some(envelope) = after {
                self.shard_tree.insert(ShardLeaf {
                    envelope,
                    key: key.to_string(),
                });
            }
        }
        result
    }

    /// Buildings whose footprint envelope intersects the box, unordered.
    pub fn in_envelope(&self, envelope: &AABB<[f64; 2]>) -> Vec<&Arc<IndexedBuilding>> {
        let mut out = Vec::new();
        for leaf in self.shard_tree.locate_in_envelope_intersecting(envelope) {
            if let Some(shard) = self.shards.get(&leaf.key) {
                let _ = shard
                    .tree
                    .locate_in_envelope_intersecting_int(envelope, |b| {
                        out.push(&b.building);
                        ControlFlow::<()>::Continue(())
                    });
            }
        }
        out
    }

    /// The community shards whose buildings' envelope intersects the box, sorted by community
    /// code (so their buildings, each sorted by code, come in code order).
    pub fn shards_in_envelope(&self, envelope: &AABB<[f64; 2]>) -> Vec<&Shard> {
        let mut leaves: Vec<&ShardLeaf> = self
            .shard_tree
            .locate_in_envelope_intersecting(envelope)
            .collect();
        leaves.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        leaves
            .into_iter()
            .filter_map(|leaf| self.shards.get(&leaf.key).map(Arc::as_ref))
            .collect()
    }

    /// Buildings whose interior point lies in the closed box.
    pub fn with_interior_in(&self, envelope: &AABB<[f64; 2]>) -> Vec<&Arc<IndexedBuilding>> {
        let mut found = self.in_envelope(envelope);
        found.retain(|b| {
            b.interior
                .is_some_and(|p| envelope.contains_point(&[p.x, p.y]))
        });
        found
    }
}
