//! Event operations of the PostGIS store: idempotent multi-row ingest (one `unnest` insert per
//! batch, transitions by binary `COPY`), one event, an optimistically checked transition, and
//! filtered keyset pages that use the event indexes (GiST on geom, btree on area_code and
//! reported_at).
//!
//! Ingest takes a transaction-scoped advisory lock, so concurrent ingests (from this or another
//! gridmap process) assign codes one after the other and see each other's rows; the unique
//! constraint on (source, external_id) with `ON CONFLICT DO NOTHING` still guards against any
//! other writer.

use std::collections::HashMap;

use deadpool_postgres::{Pool, Transaction};
use tokio_postgres::types::ToSql;

use super::copy;
use super::error::{pool_error, query_error, write_error};
use super::read::{self, Filter};
use super::rows::{self, EVENT_COLUMNS};
use super::write::EventColumns;
use crate::model::{Event, EventSource};
use crate::store::event_query::{
    after_clause, code_day_prefix, next_code, overdue_clause, EventQuery, Ingested,
};
use crate::store::StoreError;

/// Key of the advisory lock that serializes event ingest (and so code assignment).
const INGEST_LOCK: i64 = 0x6772_6964_6576_6e74;

const INSERT_EVENTS: &str = "INSERT INTO event (code, source, external_id, title, category, \
     content, reporter_name, reporter_phone, geom, address, area_code, outside_grid, status, level, \
     department, reported_at, deadline, closed_at, evaluation_score, evaluation_comment, updated_at) \
     SELECT t.code, t.source, t.external_id, t.title, t.category, t.content, t.reporter_name, \
     t.reporter_phone, ST_GeomFromEWKB(t.geom), t.address, t.area_code, t.outside_grid, t.status, \
     t.level, t.department, t.reported_at, t.deadline, t.closed_at, t.evaluation_score, \
     t.evaluation_comment, '-infinity'::timestamptz \
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
     $7::text[], $8::text[], $9::bytea[], $10::text[], $11::text[], $12::bool[], $13::text[], \
     $14::text[], $15::text[], $16::timestamptz[], $17::timestamptz[], $18::timestamptz[], \
     $19::int2[], $20::text[]) AS t(code, source, external_id, title, category, content, \
     reporter_name, reporter_phone, geom, address, area_code, outside_grid, status, level, \
     department, reported_at, deadline, closed_at, evaluation_score, evaluation_comment) \
     ON CONFLICT (source, external_id) DO NOTHING RETURNING code";

/// See [`crate::store::Store::ingest_events`].
pub(crate) async fn ingest(pool: &Pool, events: &[Event]) -> Result<Vec<Ingested>, StoreError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let mut client = pool.get().await.map_err(pool_error)?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| query_error("cannot begin a transaction", &e))?;
    tx.execute(
        "SELECT set_config('gridmap.silent', 'on', true), pg_advisory_xact_lock($1)",
        &[&INGEST_LOCK],
    )
    .await
    .map_err(|e| query_error("cannot lock event ingest", &e))?;
    let mut known = stored_codes(&tx, events).await?;
    let mut last: HashMap<String, Option<String>> = HashMap::new();
    let mut outcome = Vec::with_capacity(events.len());
    let mut fresh: Vec<Event> = Vec::new();
    for event in events {
        let key = (event.source.as_str().to_string(), external_key(event));
        if let Some(code) = known.get(&key) {
            outcome.push(Ingested {
                code: code.clone(),
                created: false,
            });
            continue;
        }
        let code = assign_code(&tx, &mut last, event).await?;
        known.insert(key, code.clone());
        let mut new = event.clone();
        new.code = code.clone();
        fresh.push(new);
        outcome.push(Ingested {
            code,
            created: true,
        });
    }
    let inserted = insert(&tx, &fresh).await?;
    if inserted.len() != fresh.len() {
        return Err(StoreError::Query(
            "another writer stored some of these events at the same moment; retry the request"
                .to_string(),
        ));
    }
    let refs: Vec<&Event> = fresh.iter().collect();
    copy::transitions(&tx, &refs).await?;
    tx.commit()
        .await
        .map_err(|e| query_error("cannot commit the events", &e))?;
    Ok(outcome)
}

fn external_key(event: &Event) -> String {
    event.external_id.clone().unwrap_or_default()
}

/// Codes of already stored events with the (source, external_id) of `events`.
async fn stored_codes(
    tx: &Transaction<'_>,
    events: &[Event],
) -> Result<HashMap<(String, String), String>, StoreError> {
    let keys: Vec<(String, String)> = events
        .iter()
        .map(|e| (e.source.as_str().to_string(), external_key(e)))
        .collect();
    codes_by_key(&**tx, &keys).await
}

/// The stored codes of these (source, external_id) keys. Sources and ids travel as two lists
/// so the unique index answers (`= ANY` on both columns); pairs are matched here.
async fn codes_by_key<C: tokio_postgres::GenericClient + Sync>(
    client: &C,
    keys: &[(String, String)],
) -> Result<HashMap<(String, String), String>, StoreError> {
    let mut sources: Vec<&str> = keys.iter().map(|(s, _)| s.as_str()).collect();
    sources.sort_unstable();
    sources.dedup();
    let externals: Vec<&str> = keys.iter().map(|(_, e)| e.as_str()).collect();
    let found = client
        .query(
            "SELECT source, external_id, code FROM event \
             WHERE source = ANY($1) AND external_id = ANY($2)",
            &[&sources, &externals],
        )
        .await
        .map_err(|e| query_error("cannot look up stored events", &e))?;
    let wanted: std::collections::HashSet<&(String, String)> = keys.iter().collect();
    Ok(found
        .iter()
        .map(|r| ((r.get(0), r.get(1)), r.get(2)))
        .filter(|(key, _)| wanted.contains(key))
        .collect())
}

/// See [`crate::store::Store::stored_event_codes`].
pub(crate) async fn stored_codes_of(
    pool: &Pool,
    keys: &[(EventSource, String)],
) -> Result<Vec<(EventSource, String, String)>, StoreError> {
    let keys: Vec<(String, String)> = keys
        .iter()
        .map(|(s, e)| (s.as_str().to_string(), e.clone()))
        .collect();
    let client = pool.get().await.map_err(pool_error)?;
    codes_by_key(&**client, &keys)
        .await?
        .into_iter()
        .map(|((source, external), code)| {
            let source = EventSource::parse(&source)
                .ok_or_else(|| StoreError::Data(format!("unknown event source {source:?}")))?;
            Ok((source, external, code))
        })
        .collect()
}

/// The next code of the event's report day, continuing after the highest stored one.
async fn assign_code(
    tx: &Transaction<'_>,
    last: &mut HashMap<String, Option<String>>,
    event: &Event,
) -> Result<String, StoreError> {
    let prefix = code_day_prefix(event.reported_at);
    if !last.contains_key(&prefix) {
        let stored = last_code(tx, &prefix).await?;
        last.insert(prefix.clone(), stored);
    }
    let previous = last.get(&prefix).cloned().flatten();
    let code = next_code(&prefix, previous.as_deref()).ok_or_else(|| {
        StoreError::Data(format!(
            "the 999 999 event codes of day {prefix} are used up"
        ))
    })?;
    last.insert(prefix, Some(code.clone()));
    Ok(code)
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

/// Inserts `events` in one statement; returns the codes actually inserted.
async fn insert(tx: &Transaction<'_>, events: &[Event]) -> Result<Vec<String>, StoreError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let refs: Vec<&Event> = events.iter().collect();
    let columns = EventColumns::new(&refs)?;
    let rows = tx
        .query(INSERT_EVENTS, &columns.params())
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

/// The smallest string above every string starting with `prefix` (letters and digits only),
/// or `None` when there is none to give.
fn prefix_upper(prefix: &str) -> Option<String> {
    let last = prefix.chars().last()?;
    let next = match last {
        '0'..='8' | 'A'..='Y' | 'a'..='y' => char::from(u8::try_from(last).ok()? + 1),
        _ => return None,
    };
    Some(format!("{}{next}", &prefix[..prefix.len() - 1]))
}

/// See [`crate::store::Store::query_events`].
pub(crate) async fn query(pool: &Pool, q: &EventQuery) -> Result<Vec<Event>, StoreError> {
    let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
    let mut clauses: Vec<String> = Vec::new();
    let mut bind = |value: Box<dyn ToSql + Sync + Send>| {
        params.push(value);
        format!("${}", params.len())
    };
    for prefix in std::iter::once(&q.scope_prefix).chain(&q.area_prefix) {
        let like = bind(Box::new(format!("{prefix}%")));
        clauses.push(format!("area_code LIKE {like}"));
        // The same prefix as a range, which the btree on area_code serves in any collation.
        if let Some(upper) = prefix_upper(prefix) {
            let (low, high) = (bind(Box::new(prefix.clone())), bind(Box::new(upper)));
            clauses.push(format!("area_code >= {low} AND area_code < {high}"));
        }
    }
    if let Some([w, s, e, n]) = q.bbox {
        let (w, s, e, n) = (
            bind(Box::new(w)),
            bind(Box::new(s)),
            bind(Box::new(e)),
            bind(Box::new(n)),
        );
        clauses.push(format!("geom && ST_MakeEnvelope({w}, {s}, {e}, {n}, 4490)"));
    }
    if let Some(from) = q.from {
        clauses.push(format!("reported_at >= {}", bind(Box::new(from))));
    }
    if let Some(to) = q.to {
        clauses.push(format!("reported_at < {}", bind(Box::new(to))));
    }
    let texts = |v: Vec<&str>| -> Vec<String> { v.into_iter().map(String::from).collect() };
    if !q.statuses.is_empty() {
        let list = texts(q.statuses.iter().map(|s| s.as_str()).collect());
        clauses.push(format!("status = ANY({})", bind(Box::new(list))));
    }
    if !q.categories.is_empty() {
        let patterns: Vec<String> = q.categories.iter().map(|c| format!("{c}%")).collect();
        clauses.push(format!("category LIKE ANY({})", bind(Box::new(patterns))));
    }
    if !q.sources.is_empty() {
        let list = texts(q.sources.iter().map(|s| s.as_str()).collect());
        clauses.push(format!("source = ANY({})", bind(Box::new(list))));
    }
    if !q.levels.is_empty() {
        let list = texts(q.levels.iter().map(|s| s.as_str()).collect());
        clauses.push(format!("level = ANY({})", bind(Box::new(list))));
    }
    if let Some(overdue) = q.overdue {
        let now = bind(Box::new(q.now));
        clauses.push(overdue_clause(overdue, &now));
    }
    if let Some((at, code)) = &q.after {
        let (at, code) = (bind(Box::new(*at)), bind(Box::new(code.clone())));
        clauses.push(after_clause(&at, &code));
    }
    let limit = bind(Box::new(i64::try_from(q.limit).unwrap_or(i64::MAX)));
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM event WHERE {} ORDER BY reported_at DESC, code DESC LIMIT {limit}",
        clauses.join(" AND ")
    );
    let client = pool.get().await.map_err(pool_error)?;
    let refs: Vec<&(dyn ToSql + Sync)> = params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let found = client
        .query(&sql, &refs)
        .await
        .map_err(|e| query_error("cannot query events", &e))?;
    found.iter().map(rows::event).collect()
}

#[cfg(test)]
mod tests {
    use super::prefix_upper;

    #[test]
    fn prefix_ranges() {
        assert_eq!(prefix_upper("4106").as_deref(), Some("4107"));
        assert_eq!(prefix_upper("410611001F0").as_deref(), Some("410611001F1"));
        assert_eq!(prefix_upper("41069"), None);
        assert_eq!(prefix_upper(""), None);
    }
}
