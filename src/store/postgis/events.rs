//! Event operations of the PostGIS store: idempotent multi-row ingest (one `unnest` insert per
//! batch, transitions by binary `COPY`), one event, an optimistically checked transition, and
//! the events of a listing page by primary key.
//!
//! Ingest reserves its codes per report day from a counter (`event_code_day`) in a short
//! transaction of its own, so concurrent ingests (from this or another gridmap process) write
//! their rows at the same time; the unique constraint on (idempotency_scope, source,
//! external_id) with `ON CONFLICT DO NOTHING` decides which of two racing ingests of one key
//! stores it.

use std::collections::{BTreeMap, HashMap, HashSet};

use deadpool_postgres::{Client, Pool, Transaction};

use super::copy;
use super::error::{pool_error, query_error, write_error};
use super::read::{self, Filter};
use super::rows::{self, EVENT_COLUMNS};
use super::write::EventColumns;
use crate::model::event_code::{china_day, code_day_prefix, format_code};
use crate::model::{Event, EventSource};
use crate::store::event_query::Ingested;
use crate::store::StoreError;

const INSERT_EVENTS: &str = "INSERT INTO event (code, source, external_id, title, category, \
     content, reporter_name, reporter_phone, geom, address, area_code, outside_grid, status, level, \
     department, reported_at, deadline, closed_at, evaluation_score, evaluation_comment, \
     idempotency_scope, updated_at) \
     SELECT t.code, t.source, t.external_id, t.title, t.category, t.content, t.reporter_name, \
     t.reporter_phone, ST_GeomFromEWKB(t.geom), t.address, t.area_code, t.outside_grid, t.status, \
     t.level, t.department, t.reported_at, t.deadline, t.closed_at, t.evaluation_score, \
     t.evaluation_comment, t.idempotency_scope, '-infinity'::timestamptz \
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
     $7::text[], $8::text[], $9::bytea[], $10::text[], $11::text[], $12::bool[], $13::text[], \
     $14::text[], $15::text[], $16::timestamptz[], $17::timestamptz[], $18::timestamptz[], \
     $19::int2[], $20::text[], $21::text[]) AS t(code, source, external_id, title, category, \
     content, reporter_name, reporter_phone, geom, address, area_code, outside_grid, status, \
     level, department, reported_at, deadline, closed_at, evaluation_score, evaluation_comment, \
     idempotency_scope) \
     ON CONFLICT (idempotency_scope, source, external_id) DO NOTHING RETURNING code";

/// Codes of stored events by (idempotency_scope, source, external_id): the keys are joined to
/// the unique index one by one (a plan on `source = ANY(…) AND external_id = ANY(…)` may scan
/// every event of a source).
const CODES_BY_KEY: &str = "SELECT k.scope, k.source, k.external_id, e.code \
     FROM unnest($1::text[], $2::text[], $3::text[]) AS k(scope, source, external_id) \
     JOIN event e ON e.idempotency_scope = k.scope AND e.source = k.source \
     AND e.external_id = k.external_id";

/// An idempotency key: (idempotency_scope, source, external_id).
type Key = (String, String, String);

fn key_of(event: &Event) -> Key {
    (
        event.idempotency_scope.clone(),
        event.source.as_str().to_string(),
        event.external_id.clone().unwrap_or_default(),
    )
}

/// Reserves codes of report days in a transaction of its own (see `0003_event_code_day.sql`).
const RESERVE_CODES: &str = "SELECT prefix, first_seq FROM gridmap_reserve_event_codes($1, $2)";

/// See [`crate::store::Store::ingest_events`].
///
/// Concurrent ingests overlap: codes are reserved per report day in a short transaction of
/// their own, and the rows go in with `ON CONFLICT (idempotency_scope, source, external_id) DO
/// NOTHING`, in key
/// order so that two batches never wait on each other in a cycle. A key that another ingest
/// stored since the lookup is answered with that ingest's code, read after its commit, so
/// retries stay exactly idempotent; its reserved code stays unused.
pub(crate) async fn ingest(pool: &Pool, events: &[Event]) -> Result<Vec<Ingested>, StoreError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let mut client = pool.get().await.map_err(pool_error)?;
    let keys: Vec<Key> = events.iter().map(key_of).collect();
    let mut known = codes_by_key(&client, &keys).await?;
    let mut fresh = new_events(events, &keys, &known);
    assign_codes(&client, &mut fresh).await?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| query_error("cannot begin a transaction", &e))?;
    tx.execute("SELECT set_config('gridmap.silent', 'on', true)", &[])
        .await
        .map_err(|e| query_error("cannot start a silent transaction", &e))?;
    let inserted = insert(&tx, &fresh).await?;
    let mut created: HashSet<String> = HashSet::with_capacity(inserted.len());
    if inserted.len() != fresh.len() {
        let raced: Vec<Key> = fresh
            .iter()
            .filter(|e| !inserted.contains(&e.code))
            .map(key_of)
            .collect();
        known.extend(codes_by_key(&tx, &raced).await?);
        fresh.retain(|e| inserted.contains(&e.code));
    }
    for event in &fresh {
        let key = key_of(event);
        created.insert(event.code.clone());
        known.insert(key, event.code.clone());
    }
    let refs: Vec<&Event> = fresh.iter().collect();
    copy::transitions(&tx, &refs).await?;
    tx.commit()
        .await
        .map_err(|e| query_error("cannot commit the events", &e))?;
    // A key repeated within the batch is created once, by its first occurrence.
    keys.iter()
        .map(|key| {
            let code = known.get(key).cloned().ok_or_else(|| {
                StoreError::Query(format!("event {key:?} was neither stored nor found"))
            })?;
            let created = created.remove(&code);
            Ok(Ingested { code, created })
        })
        .collect()
}

/// The first event of each key that is not stored yet, in key order (the lock order of the
/// insert), without a code.
fn new_events(events: &[Event], keys: &[Key], known: &HashMap<Key, String>) -> Vec<Event> {
    let mut seen: HashSet<&Key> = HashSet::new();
    let mut fresh: Vec<(&Key, &Event)> = keys
        .iter()
        .zip(events)
        .filter(|(key, _)| !known.contains_key(*key) && seen.insert(key))
        .collect();
    fresh.sort_by(|a, b| a.0.cmp(b.0));
    fresh.into_iter().map(|(_, e)| e.clone()).collect()
}

/// Gives `events` the next codes of their report days, in their order within each day.
async fn assign_codes(client: &Client, events: &mut [Event]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    // Days in order, so concurrent reservations lock their counters in one order.
    let mut counts: BTreeMap<String, i32> = BTreeMap::new();
    for event in events.iter() {
        *counts
            .entry(code_day_prefix(event.reported_at))
            .or_default() += 1;
    }
    let (prefixes, numbers): (Vec<String>, Vec<i32>) = counts.into_iter().unzip();
    let statement = client
        .prepare_cached(RESERVE_CODES)
        .await
        .map_err(|e| query_error("cannot prepare the code reservation", &e))?;
    let rows = client
        .query(&statement, &[&prefixes, &numbers])
        .await
        .map_err(|e| query_error("cannot reserve event codes (a day has 999 999)", &e))?;
    let mut next: HashMap<String, i32> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    for event in events.iter_mut() {
        let prefix = code_day_prefix(event.reported_at);
        let seq = next.get_mut(&prefix).ok_or_else(|| {
            StoreError::Data(format!("no event code was reserved for day {prefix}"))
        })?;
        let sequence = u32::try_from(*seq).map_err(|_| {
            StoreError::Data(format!(
                "event code sequence {seq} of day {prefix} is negative"
            ))
        })?;
        event.code = format_code(china_day(event.reported_at), sequence);
        *seq += 1;
    }
    Ok(())
}

/// The stored codes of these (idempotency_scope, source, external_id) keys.
async fn codes_by_key<C: deadpool_postgres::GenericClient + Sync>(
    client: &C,
    keys: &[Key],
) -> Result<HashMap<Key, String>, StoreError> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let scopes: Vec<&str> = keys.iter().map(|(s, _, _)| s.as_str()).collect();
    let sources: Vec<&str> = keys.iter().map(|(_, s, _)| s.as_str()).collect();
    let externals: Vec<&str> = keys.iter().map(|(_, _, e)| e.as_str()).collect();
    let statement = client
        .prepare_cached(CODES_BY_KEY)
        .await
        .map_err(|e| query_error("cannot prepare the lookup of stored events", &e))?;
    let found = client
        .query(&statement, &[&scopes, &sources, &externals])
        .await
        .map_err(|e| query_error("cannot look up stored events", &e))?;
    Ok(found
        .iter()
        .map(|r| ((r.get(0), r.get(1), r.get(2)), r.get(3)))
        .collect())
}

/// See [`crate::store::Store::stored_event_codes`].
pub(crate) async fn stored_codes_of(
    pool: &Pool,
    scope: &str,
    keys: &[(EventSource, String)],
) -> Result<Vec<(EventSource, String, String)>, StoreError> {
    let keys: Vec<Key> = keys
        .iter()
        .map(|(s, e)| (scope.to_string(), s.as_str().to_string(), e.clone()))
        .collect();
    let client = pool.get().await.map_err(pool_error)?;
    codes_by_key(&client, &keys)
        .await?
        .into_iter()
        .map(|((_, source, external), code)| {
            let source = EventSource::parse(&source)
                .ok_or_else(|| StoreError::Data(format!("unknown event source {source:?}")))?;
            Ok((source, external, code))
        })
        .collect()
}

/// The highest code `prefix` + 6 digits (a backward scan of the primary key that stops at the
/// first match).
pub(crate) async fn last_code<C: deadpool_postgres::GenericClient + Sync>(
    client: &C,
    prefix: &str,
) -> Result<Option<String>, StoreError> {
    let (low, high) = (format!("{prefix}000000"), format!("{prefix}999999"));
    let row = client
        .query_opt(
            "SELECT code FROM event WHERE code >= $1 AND code <= $2 AND code ~ '^E[0-9]{14}$' \
             ORDER BY code DESC LIMIT 1",
            &[&low, &high],
        )
        .await
        .map_err(|e| query_error("cannot read the last event code", &e))?;
    Ok(row.map(|r| r.get(0)))
}

/// Inserts `events` in one statement, in their order; returns the codes actually inserted.
async fn insert(tx: &Transaction<'_>, events: &[Event]) -> Result<HashSet<String>, StoreError> {
    if events.is_empty() {
        return Ok(HashSet::new());
    }
    let refs: Vec<&Event> = events.iter().collect();
    let columns = EventColumns::new(&refs)?;
    let statement = tx
        .prepare_cached(INSERT_EVENTS)
        .await
        .map_err(|e| query_error("cannot prepare the event insert", &e))?;
    let rows = tx
        .query(&statement, &columns.params())
        .await
        .map_err(|e| write_error("event", &e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// See [`crate::store::Store::event`].
pub(crate) async fn one(pool: &Pool, code: &str) -> Result<Option<Event>, StoreError> {
    let client = pool.get().await.map_err(pool_error)?;
    let codes = [code.to_string()];
    let mut found = read::events(&**client, Filter::Codes(&codes)).await?;
    Ok(found.pop())
}

/// See [`crate::store::Store::transition_event`].
pub(crate) async fn transition(
    pool: &Pool,
    event: &Event,
    steps: usize,
) -> Result<bool, StoreError> {
    let Some(step) = event.transitions.last() else {
        return Err(StoreError::Data(format!(
            "event {} has no transition to write",
            event.code
        )));
    };
    let seq = i32::try_from(steps + 1)
        .map_err(|_| StoreError::Data(format!("event {} has too many transitions", event.code)))?;
    let mut client = pool.get().await.map_err(pool_error)?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| query_error("cannot begin a transaction", &e))?;
    tx.execute("SELECT set_config('gridmap.silent', 'on', true)", &[])
        .await
        .map_err(|e| query_error("cannot start a silent transaction", &e))?;
    let current = tx
        .query_opt(
            "SELECT (SELECT count(*) FROM event_transition t WHERE t.event_code = e.code) \
             FROM event e WHERE e.code = $1 FOR UPDATE",
            &[&event.code],
        )
        .await
        .map_err(|e| query_error("cannot lock the event", &e))?;
    let stored_steps: Option<i64> = current.map(|r| r.get(0));
    if stored_steps != Some(i64::from(seq) - 1) {
        return Ok(false);
    }
    tx.execute(
        "UPDATE event SET status = $2, level = $3, department = $4, deadline = $5, \
         closed_at = $6, evaluation_score = $7, evaluation_comment = $8 WHERE code = $1",
        &[
            &event.code,
            &event.status.as_str(),
            &event.level.as_str(),
            &event.department,
            &event.deadline,
            &event.closed_at,
            &event.evaluation.as_ref().map(|v| v.score),
            &event.evaluation.as_ref().and_then(|v| v.comment.clone()),
        ],
    )
    .await
    .map_err(|e| write_error("event", &e))?;
    tx.execute(
        "INSERT INTO event_transition (event_code, seq, at, from_status, to_status, actor, level, \
         department, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &event.code,
            &seq,
            &step.at,
            &step.from.map(|s| s.as_str()),
            &step.to.as_str(),
            &step.actor,
            &step.level.as_str(),
            &step.department,
            &step.note,
        ],
    )
    .await
    .map_err(|e| write_error("event transition", &e))?;
    tx.commit()
        .await
        .map_err(|e| query_error("cannot commit the transition", &e))?;
    Ok(true)
}

/// See [`crate::store::Store::events_by_codes`]: one look-up by primary key.
pub(crate) async fn by_codes(pool: &Pool, codes: &[String]) -> Result<Vec<Event>, StoreError> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    let client = pool.get().await.map_err(pool_error)?;
    let statement = client
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM event WHERE code = ANY($1)"
        ))
        .await
        .map_err(|e| query_error("cannot prepare the event look-up", &e))?;
    let found = client
        .query(&statement, &[&codes])
        .await
        .map_err(|e| query_error("cannot read events by code", &e))?;
    let mut by_code = HashMap::with_capacity(found.len());
    for row in &found {
        let event = rows::event(row)?;
        by_code.insert(event.code.clone(), event);
    }
    Ok(codes.iter().filter_map(|c| by_code.remove(c)).collect())
}
