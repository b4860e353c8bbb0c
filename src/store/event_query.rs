//! The event operations every store answers besides `apply`: idempotent ingest, one event,
//! a transition under an optimistic check, events by code, and the last code of a day. The
//! code format lives in `model::event_code`; listings are the engine's (`engine::events`).

/// What ingest did with one event, in input order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    /// The stored code (newly assigned, or the one a previous post got).
    pub code: String,
    /// `false` when the key (idempotency_scope, source, external_id) was already stored and
    /// nothing was written.
    pub created: bool,
}
