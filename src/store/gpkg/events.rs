//! Event operations of the embedded store: idempotent ingest, one event, an optimistically
//! checked transition and the events of a listing page by code.
//!
//! Ingest and transitions run on the one writer connection while its lock is held, so the
//! look-up of stored (idempotency_scope, source, external_id) keys, the code assignment and
//! the write cannot interleave with another write of this process; the UNIQUE constraint on
//! that key rejects anything else. Look-ups by code read on a read-only connection.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension};

use super::error::GpkgError;
use super::read::{read_event, read_transitions};
use super::rows::{RowReader, EVENT_COLUMNS};
use super::write;
use crate::model::event_code::{code_day_prefix, next_code};
use crate::model::{Change, Event, EventSource};
use crate::store::event_query::Ingested;

const TRANSITIONS_OF: &str = "SELECT at, from_status, to_status, actor, level, department, note \
     FROM event_transition WHERE event_code = ?1 ORDER BY seq";

/// See [`crate::store::Store::ingest_events`]; runs on the writer connection.
pub fn ingest(conn: &mut Connection, events: &[Event]) -> Result<Vec<Ingested>, GpkgError> {
    let mut known: HashMap<(&str, &'static str, String), String> = HashMap::new();
    let mut last: HashMap<String, Option<String>> = HashMap::new();
    let mut outcome = Vec::with_capacity(events.len());
    let mut fresh = Vec::new();
    for event in events {
        let external = event.external_id.clone().unwrap_or_default();
        let scope = event.idempotency_scope.as_str();
        let key = (scope, event.source.as_str(), external.clone());
        let stored = match known.get(&key) {
            Some(code) => Some(code.clone()),
            None => stored_code(conn, scope, event.source.as_str(), &external)?,
        };
        if let Some(code) = stored {
            outcome.push(Ingested {
                code,
                created: false,
            });
            continue;
        }
        let prefix = code_day_prefix(event.reported_at);
        if !last.contains_key(&prefix) {
            let stored = last_code(conn, &prefix)?;
            last.insert(prefix.clone(), stored);
        }
        let previous = last.get(&prefix).cloned().flatten();
        let code = next_code(&prefix, previous.as_deref()).ok_or_else(|| {
            GpkgError::Integrity(format!(
                "the 999 999 event codes of day {prefix} are used up"
            ))
        })?;
        last.insert(prefix, Some(code.clone()));
        known.insert(key, code.clone());
        let mut new = event.clone();
        new.code = code.clone();
        fresh.push(Change::UpsertEvent(new));
        outcome.push(Ingested {
            code,
            created: true,
        });
    }
    write::apply(conn, &fresh)?;
    Ok(outcome)
}

fn stored_code(
    conn: &Connection,
    scope: &str,
    source: &str,
    external: &str,
) -> Result<Option<String>, GpkgError> {
    conn.prepare_cached(
        "SELECT code FROM event WHERE idempotency_scope = ?1 AND source = ?2 AND external_id = ?3",
    )
    .and_then(|mut s| {
        s.query_row([scope, source, external], |r| r.get(0))
            .optional()
    })
    .map_err(GpkgError::sqlite("looking up a stored event"))
}

/// See [`crate::store::Store::stored_event_codes`].
pub fn stored_codes_of(
    conn: &mut Connection,
    scope: &str,
    keys: &[(EventSource, String)],
) -> Result<Vec<(EventSource, String, String)>, GpkgError> {
    let mut out = Vec::new();
    for (source, external) in keys {
        if let Some(code) = stored_code(conn, scope, source.as_str(), external)? {
            out.push((*source, external.clone(), code));
        }
    }
    Ok(out)
}

/// The highest code `prefix` + 6 digits (a backward scan of the code index that stops at the
/// first match).
pub fn last_code(conn: &Connection, prefix: &str) -> Result<Option<String>, GpkgError> {
    let (low, high) = (format!("{prefix}000000"), format!("{prefix}999999"));
    let digits = format!("{prefix}[0-9][0-9][0-9][0-9][0-9][0-9]");
    conn.prepare_cached(
        "SELECT code FROM event WHERE code >= ?1 AND code <= ?2 AND code GLOB ?3 \
         ORDER BY code DESC LIMIT 1",
    )
    .and_then(|mut s| s.query_row([&low, &high, &digits], |r| r.get(0)).optional())
    .map_err(GpkgError::sqlite("reading the last event code"))
}

/// See [`crate::store::Store::event`].
pub fn one(conn: &mut Connection, code: &str) -> Result<Option<Event>, GpkgError> {
    let sql = format!(
        "SELECT {} FROM event WHERE code = ?1",
        EVENT_COLUMNS.join(", ")
    );
    let mut stmt = conn
        .prepare(&sql)
        .map_err(GpkgError::sqlite("preparing the event query"))?;
    let mut rows = stmt
        .query([code])
        .map_err(GpkgError::sqlite("reading an event"))?;
    let Some(row) = rows.next().map_err(GpkgError::sqlite("reading an event"))? else {
        return Ok(None);
    };
    let mut event = read_event(&RowReader::new(row, "event", 1))?;
    let mut transitions = conn
        .prepare(TRANSITIONS_OF)
        .map_err(GpkgError::sqlite("preparing the transition query"))?;
    event.transitions = read_transitions(&mut transitions, code)?;
    Ok(Some(event))
}

/// See [`crate::store::Store::transition_event`]; runs on the writer connection.
pub fn transition(conn: &mut Connection, event: &Event, steps: usize) -> Result<bool, GpkgError> {
    let stored: Option<i64> = conn
        .query_row(
            "SELECT (SELECT count(*) FROM event_transition t WHERE t.event_code = e.code) \
             FROM event e WHERE e.code = ?1",
            [&event.code],
            |r| r.get(0),
        )
        .optional()
        .map_err(GpkgError::sqlite("checking the event's transitions"))?;
    if stored != i64::try_from(steps).ok() {
        return Ok(false);
    }
    write::apply(conn, &[Change::UpsertEvent(event.clone())])?;
    Ok(true)
}

/// See [`crate::store::Store::events_by_codes`]; runs on a reader connection. The codes go
/// in as one JSON array (no limit on bound parameters) and are looked up by primary key.
pub fn by_codes(conn: &mut Connection, codes: &[String]) -> Result<Vec<Event>, GpkgError> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {} FROM event WHERE code IN (SELECT value FROM json_each(?1))",
        EVENT_COLUMNS.join(", ")
    );
    let list = serde_json::to_string(codes)
        .map_err(|e| GpkgError::Integrity(format!("cannot encode event codes: {e}")))?;
    let mut stmt = conn
        .prepare_cached(&sql)
        .map_err(GpkgError::sqlite("preparing the event look-up"))?;
    let mut rows = stmt
        .query([list])
        .map_err(GpkgError::sqlite("reading events by code"))?;
    let mut found = HashMap::with_capacity(codes.len());
    while let Some(row) = rows
        .next()
        .map_err(GpkgError::sqlite("reading events by code"))?
    {
        let event = read_event(&RowReader::new(row, "event", 1))?;
        found.insert(event.code.clone(), event);
    }
    Ok(codes.iter().filter_map(|c| found.remove(c)).collect())
}
