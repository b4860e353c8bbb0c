//! The system of record: one small trait, two backends (PostGIS and an embedded GeoPackage).
//!
//! The write path is store first, then engine: a change is acknowledged only after the backend
//! has committed it, so a crash can lose nothing that was acknowledged.

pub mod gpkg;
pub mod postgis;

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::model::{Change, Dataset, Event};

/// Errors any store can report, with the backend's own detail in the message.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot connect to the store: {0}")]
    Connect(String),
    #[error("store query failed: {0}")]
    Query(String),
    #[error("store data is invalid: {0}")]
    Data(String),
    #[error("migration failed: {0}")]
    Migration(String),
}

/// Row counts per table, for readiness, metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub areas: u64,
    pub buildings: u64,
    pub houses: u64,
    pub population: u64,
    pub events: u64,
    pub workers: u64,
    pub worker_fixes: u64,
}

/// A durable backend. Implementations live in sibling modules; nothing else names them.
#[async_trait]
pub trait Store: Send + Sync {
    /// A short name for logs and metrics (`postgis`, `gpkg`).
    fn name(&self) -> &'static str;

    /// Loads everything the engine needs at start-up (events and fixes excluded).
    async fn load(&self) -> Result<Dataset, StoreError>;

    /// Streams all stored events, oldest first, in chunks, to `sink`.
    async fn load_events(
        &self,
        sink: &mut (dyn FnMut(Vec<Event>) + Send),
    ) -> Result<(), StoreError>;

    /// Applies a batch of changes in one transaction; returns only after the commit.
    /// On error nothing of the batch is stored.
    async fn apply(&self, changes: &[Change]) -> Result<(), StoreError>;

    /// Row counts per table.
    async fn counts(&self) -> Result<Counts, StoreError>;

    /// Changes made by other writers (PostGIS triggers + NOTIFY), as full records. `None` for a
    /// backend that has no other writers. May be called once.
    fn subscribe(&self) -> Option<mpsc::Receiver<Change>>;
}
