//! Event operations of the embedded store: idempotent ingest, one event, an optimistically
//! checked transition and filtered keyset pages.
//!
//! Ingest and transitions run on the one writer connection while its lock is held, so the
//! look-up of stored (idempotency_scope, source, external_id) keys, the code assignment and
//! the write cannot interleave with another write of this process; the UNIQUE constraint on
//! that key rejects anything else. Pages read on a read-only connection and use the R-tree for `bbox`.

use std::collections::HashMap;

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension};

use super::error::GpkgError;
use super::read::{read_event, read_transitions};
use super::rows::{time_text, RowReader, EVENT_COLUMNS};
use super::write;
use crate::model::event_code::{code_day_prefix, next_code};
use crate::model::{Change, Event, EventSource};
use crate::store::event_query::{after_clause, overdue_clause, EventQuery, Ingested};

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

/// Positional parameters of a query being built.
#[derive(Default)]
struct Binds(Vec<Value>);

impl Binds {
    /// Adds a value and returns its placeholder.
    fn bind(&mut self, value: Value) -> String {
        self.0.push(value);
        format!("?{}", self.0.len())
    }

    fn text(&mut self, value: String) -> String {
        self.bind(Value::Text(value))
    }

    /// `column IN (…)` for a non-empty list.
    fn any_of(&mut self, column: &str, values: Vec<&str>) -> Option<String> {
        if values.is_empty() {
            return None;
        }
        let marks: Vec<String> = values
            .into_iter()
            .map(|v| self.text(v.to_string()))
            .collect();
        Some(format!("{column} IN ({})", marks.join(", ")))
    }
}

/// The WHERE clauses of `q` (scope first) with their parameters.
fn clauses(q: &EventQuery, b: &mut Binds) -> Vec<String> {
    let mut out = vec![format!(
        "area_code GLOB {}",
        b.text(format!("{}*", q.scope_prefix))
    )];
    if let Some(area) = &q.area_prefix {
        out.push(format!("area_code GLOB {}", b.text(format!("{area}*"))));
    }
    if let Some([w, s, e, n]) = q.bbox {
        let (w, s, e, n) = (
            b.bind(Value::Real(w)),
            b.bind(Value::Real(s)),
            b.bind(Value::Real(e)),
            b.bind(Value::Real(n)),
        );
        out.push(format!(
            "fid IN (SELECT id FROM rtree_event_geom WHERE maxx >= {w} AND minx <= {e} \
             AND maxy >= {s} AND miny <= {n})"
        ));
    }
    if let Some(from) = q.from {
        out.push(format!("reported_at >= {}", b.text(time_text(&from))));
    }
    if let Some(to) = q.to {
        out.push(format!("reported_at < {}", b.text(time_text(&to))));
    }
    out.extend(b.any_of("status", q.statuses.iter().map(|s| s.as_str()).collect()));
    out.extend(b.any_of("source", q.sources.iter().map(|s| s.as_str()).collect()));
    out.extend(b.any_of("level", q.levels.iter().map(|s| s.as_str()).collect()));
    if !q.categories.is_empty() {
        let globs: Vec<String> = q
            .categories
            .iter()
            .map(|c| format!("category GLOB {}", b.text(format!("{c}*"))))
            .collect();
        out.push(format!("({})", globs.join(" OR ")));
    }
    if let Some(overdue) = q.overdue {
        let now = b.text(time_text(&q.now));
        out.push(overdue_clause(overdue, &now));
    }
    if let Some((at, code)) = &q.after {
        let (at, code) = (b.text(time_text(at)), b.text(code.clone()));
        out.push(after_clause(&at, &code));
    }
    out
}

/// See [`crate::store::Store::query_events`]; runs on a reader connection.
pub fn query(conn: &mut Connection, q: &EventQuery) -> Result<Vec<Event>, GpkgError> {
    let mut b = Binds::default();
    let clauses = clauses(q, &mut b);
    let limit = b.bind(Value::Integer(i64::try_from(q.limit).unwrap_or(i64::MAX)));
    let sql = format!(
        "SELECT {} FROM event WHERE {} ORDER BY reported_at DESC, code DESC LIMIT {limit}",
        EVENT_COLUMNS.join(", "),
        clauses.join(" AND ")
    );
    let mut stmt = conn
        .prepare(&sql)
        .map_err(GpkgError::sqlite("preparing the event listing"))?;
    let mut rows = stmt
        .query(rusqlite::params_from_iter(b.0.iter()))
        .map_err(GpkgError::sqlite("listing events"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(GpkgError::sqlite("listing events"))? {
        out.push(read_event(&RowReader::new(row, "event", 1))?);
    }
    Ok(out)
}
