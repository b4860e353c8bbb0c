//! What validation knows beyond the feature itself: the records already in the store, the codes
//! seen so far in the file, and the base grids for point-in-polygon.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::event_codes::EventCodes;
use crate::engine::{Engine, Snapshot};
use crate::model::{Dataset, Level};

/// Validation state shared by the features of one file.
pub struct Context {
    /// Area codes in the store, with their level.
    pub store_areas: HashMap<String, Level>,
    /// Building codes in the store.
    pub store_buildings: HashSet<String>,
    /// House codes in the store.
    pub store_houses: HashSet<String>,
    /// Areas of this file accepted so far, with their level (parents are processed first).
    pub file_areas: HashMap<String, Level>,
    /// Codes of this file's features that were rejected, with the feature index.
    pub rejected: HashMap<String, usize>,
    /// The first feature index of every key seen in this file (duplicate detection).
    seen: HashMap<String, usize>,
    /// The read model over the stored areas, for grid assignment (`grid_at`, `lookup`).
    pub snapshot: Arc<Snapshot>,
    /// Event codes in use and the generator of new ones.
    pub event_codes: EventCodes,
    /// The time of the import: the default `reported_at` of events.
    pub now: DateTime<Utc>,
}

impl Context {
    /// Builds the context from the store's dataset. Grid assignment uses the engine's snapshot
    /// (`crate::engine`), so buildings and events get exactly the grid the service will show
    /// (the border rule: a point on a shared border belongs to the lowest code).
    pub fn new(dataset: Dataset, event_codes: EventCodes, now: DateTime<Utc>) -> Context {
        let store_areas = dataset
            .areas
            .iter()
            .map(|a| (a.code.clone(), a.level))
            .collect();
        let store_buildings = dataset.buildings.iter().map(|b| b.code.clone()).collect();
        let store_houses = dataset.houses.iter().map(|h| h.code.clone()).collect();
        // Grid assignment needs only the areas; leaving the rest out keeps the engine cheap.
        let areas_only = Dataset {
            areas: dataset.areas,
            ..Dataset::default()
        };
        let snapshot = Engine::new(areas_only).snapshot();
        Context {
            store_areas,
            store_buildings,
            store_houses,
            file_areas: HashMap::new(),
            rejected: HashMap::new(),
            seen: HashMap::new(),
            snapshot,
            event_codes,
            now,
        }
    }

    /// Claims `key` for the feature at `index`; the message names the first feature holding it.
    pub fn claim(&mut self, what: &str, key: &str, index: usize) -> Result<(), String> {
        match self.seen.get(key) {
            Some(first) if *first != index => Err(format!(
                "duplicate {what} {key}: feature {first} of this file has it already"
            )),
            _ => {
                self.seen.insert(key.to_string(), index);
                Ok(())
            }
        }
    }

    /// The level of an area in the store or accepted earlier in this file.
    pub fn area_level(&self, code: &str) -> Option<Level> {
        self.file_areas
            .get(code)
            .or_else(|| self.store_areas.get(code))
            .copied()
    }

    /// Why `code` cannot be referenced: rejected in this file or unknown everywhere.
    pub fn missing_reference(&self, field: &str, code: &str, what: &str) -> String {
        match self.rejected.get(code) {
            Some(index) => {
                format!("{field} {code} refers to feature {index} of this file, which was rejected")
            }
            None => {
                format!("{field} {code}: no {what} with this code in the store or in this file")
            }
        }
    }
}
