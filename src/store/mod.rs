//! The system of record: one small trait, two backends (PostGIS and an embedded GeoPackage).
//!
//! The write path is store first, then engine: a change is acknowledged only after the backend
//! has committed it, so a crash can lose nothing that was acknowledged.

pub mod event_query;
pub mod gpkg;
pub mod postgis;

use async_trait::async_trait;
use tokio::sync::mpsc;

use chrono::{DateTime, Utc};

use crate::model::{Change, Dataset, Event, EventSource, WorkerAlert, WorkerFix, WorkerState};
use event_query::Ingested;

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

    /// Loads everything the engine needs at start-up (events and fixes excluded). Areas come
    /// parents first (by level, then code); other records in any order.
    async fn load(&self) -> Result<Dataset, StoreError>;

    /// Streams all stored events, oldest first (events reported at the same instant in any
    /// order), in chunks, to `sink`, each with its steps.
    async fn load_events(
        &self,
        sink: &mut (dyn FnMut(Vec<Event>) + Send),
    ) -> Result<(), StoreError>;

    /// As [`Store::load_events`], but the events' steps may be left out and the order may be
    /// any: what the engine loads at start-up (it keeps no step history, the steps are most of
    /// the rows, and it sorts the events itself).
    async fn load_events_without_steps(
        &self,
        sink: &mut (dyn FnMut(Vec<Event>) + Send),
    ) -> Result<(), StoreError> {
        self.load_events(sink).await
    }

    /// Applies a batch of changes in one transaction, in batch order; returns only after the
    /// commit. On error nothing of the batch is stored.
    ///
    /// Upserts replace the record of their key (an event's transitions with the new list); a
    /// fix already stored for its worker and instant adds no row; deleting what is not stored
    /// is a no-op, and deleting a house deletes its population counts. Times are kept to the
    /// millisecond at least. Refused as [`StoreError::Data`], naming the record: a building
    /// whose community (its first 12 code digits) is not stored, a house without its
    /// building, a population without its house, a fix without its worker, a second event
    /// with the same (source, external_id), and deleting an area with child areas, a
    /// community with buildings or a building with houses. A backend may refuse more
    /// (PostGIS: the CHECK constraints of `migrations/`, which also hold for other writers).
    ///
    /// `tests/store_contract.rs` runs these promises against every backend.
    async fn apply(&self, changes: &[Change]) -> Result<(), StoreError>;

    /// Row counts per table.
    async fn counts(&self) -> Result<Counts, StoreError>;

    /// Brings the backend's planner statistics up to date after a bulk load (a generated or
    /// imported city), so its queries do not wait for a background job, or for none when
    /// autovacuum is off. Nothing to do for a backend without a planner.
    async fn refresh_statistics(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Stores new events idempotently: an event whose key (idempotency_scope, source,
    /// external_id) is stored already is not written and answers its stored code. New events
    /// get the next free code of their report day (`model::event_code`; their `code` field is
    /// ignored). One
    /// transaction; concurrent calls with the same events store each once.
    async fn ingest_events(&self, events: &[Event]) -> Result<Vec<Ingested>, StoreError>;

    /// One event with its transitions.
    async fn event(&self, code: &str) -> Result<Option<Event>, StoreError>;

    /// Writes `event`'s new state and its last transition, only if the stored event still has
    /// `steps` transitions (optimistic check). `Ok(false)` when another writer got there first.
    async fn transition_event(&self, event: &Event, steps: usize) -> Result<bool, StoreError>;

    /// The events with these codes, without their transitions, in the order of `codes`;
    /// codes not stored are left out. The records of a listing page the engine chose (the
    /// engine keeps no text columns).
    async fn events_by_codes(&self, codes: &[String]) -> Result<Vec<Event>, StoreError>;

    /// The stored codes of the events with these (source, external_id) keys in the key space
    /// `scope` (`Event::idempotency_scope`), as (source, external_id, code); keys not stored
    /// are left out.
    async fn stored_event_codes(
        &self,
        scope: &str,
        keys: &[(EventSource, String)],
    ) -> Result<Vec<(EventSource, String, String)>, StoreError>;

    /// The highest stored event code starting with `prefix` (`E{yyyymmdd}`), if any.
    async fn last_event_code(&self, prefix: &str) -> Result<Option<String>, StoreError>;

    /// Stores GPS fixes in one transaction (PostGIS: into their day partitions) and answers,
    /// per fix in input order, whether it was new: `false` when a fix of that worker at that
    /// instant was stored already or came earlier in the batch (then nothing is written for
    /// it). Every fix's worker must be stored ([`StoreError::Data`] naming it otherwise).
    async fn insert_fixes(&self, fixes: &[WorkerFix]) -> Result<Vec<bool>, StoreError>;

    /// One worker's stored fixes with `from <= at < to`, oldest first: the raw track. PostGIS
    /// reads only the day partitions of the window, each by its (worker_code, at) key.
    async fn worker_fixes(
        &self,
        worker_code: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<WorkerFix>, StoreError>;

    /// The newest stored fix of each worker among the fixes at or after `since`, and the
    /// alerts not cleared: what the engine's worker board starts from.
    async fn load_worker_state(&self, since: DateTime<Utc>) -> Result<WorkerState, StoreError>;

    /// Stores alerts, replacing the stored alert of the same id (an alert is written when
    /// raised and again when cleared).
    async fn save_alerts(&self, alerts: &[WorkerAlert]) -> Result<(), StoreError>;

    /// The alerts raised in `[from, to)` and those raised earlier still open at `from`,
    /// oldest first.
    async fn worker_alerts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<WorkerAlert>, StoreError>;

    /// Deletes the fixes older than `before` (retention); answers how many were deleted.
    /// PostGIS drops whole day partitions.
    async fn prune_fixes(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Changes made by other writers (PostGIS triggers + NOTIFY), as full records. `None` for a
    /// backend that has no other writers. May be called once.
    fn subscribe(&self) -> Option<mpsc::Receiver<Change>>;
}
