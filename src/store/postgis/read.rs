//! Reading records back: whole tables for start-up, the rows named by codes for the change
//! feed, and the rows changed since a moment for a listener that reconnects.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, Row};

use super::error::query_error;
use super::rows;
use crate::model::{Area, BasemapFeature, Building, Event, House, Population, Worker};
use crate::store::StoreError;

/// Which rows of a table to read.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Filter<'a> {
    /// Every row.
    All,
    /// The rows with these keys.
    Codes(&'a [String]),
    /// The rows inserted or updated at or after this moment (`updated_at`).
    Since(DateTime<Utc>),
}

/// A table the service reads whole: its name, key column, select list and row decoder.
pub(crate) struct Table<T> {
    pub name: &'static str,
    key: &'static str,
    columns: &'static str,
    decode: fn(&Row) -> Result<T, StoreError>,
}

/// The `area` table.
pub(crate) const AREAS: Table<Area> = Table {
    name: "area",
    key: "code",
    columns: rows::AREA_COLUMNS,
    decode: rows::area,
};
/// The `building` table.
pub(crate) const BUILDINGS: Table<Building> = Table {
    name: "building",
    key: "code",
    columns: rows::BUILDING_COLUMNS,
    decode: rows::building,
};
/// The `house` table.
pub(crate) const HOUSES: Table<House> = Table {
    name: "house",
    key: "code",
    columns: rows::HOUSE_COLUMNS,
    decode: rows::house,
};
/// The `population` table.
pub(crate) const POPULATION: Table<Population> = Table {
    name: "population",
    key: "house_code",
    columns: rows::POPULATION_COLUMNS,
    decode: rows::population,
};
/// The `worker` table.
pub(crate) const WORKERS: Table<Worker> = Table {
    name: "worker",
    key: "code",
    columns: rows::WORKER_COLUMNS,
    decode: rows::worker,
};
/// The `basemap` table.
pub(crate) const BASEMAP: Table<BasemapFeature> = Table {
    name: "basemap",
    key: "code",
    columns: rows::BASEMAP_COLUMNS,
    decode: rows::basemap,
};
/// The `event` table (transitions are attached by [`events`]).
const EVENTS: Table<Event> = Table {
    name: "event",
    key: "code",
    columns: rows::EVENT_COLUMNS,
    decode: rows::event,
};

impl<T> Table<T> {
    /// Reads the rows `filter` selects, streaming so that only decoded records are held.
    pub(crate) async fn select<C: GenericClient + Sync>(
        &self,
        client: &C,
        filter: Filter<'_>,
    ) -> Result<Vec<T>, StoreError> {
        let base = format!("SELECT {} FROM {}", self.columns, self.name);
        match filter {
            Filter::All => self.run(client, &base, &[]).await,
            Filter::Codes(codes) => {
                let sql = format!("{base} WHERE {} = ANY($1)", self.key);
                self.run(client, &sql, &[&codes]).await
            }
            Filter::Since(at) => {
                self.run(client, &format!("{base} WHERE updated_at >= $1"), &[&at])
                    .await
            }
        }
    }

    async fn run<C: GenericClient + Sync>(
        &self,
        client: &C,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<T>, StoreError> {
        let what = format!("cannot read {}", self.name);
        let stream = client
            .query_raw(sql, params.iter().copied())
            .await
            .map_err(|e| query_error(&what, &e))?;
        futures::pin_mut!(stream);
        let mut out = Vec::new();
        while let Some(row) = stream
            .try_next()
            .await
            .map_err(|e| query_error(&what, &e))?
        {
            out.push((self.decode)(&row)?);
        }
        Ok(out)
    }
}

/// Reads events with their transitions (in step order).
pub(crate) async fn events<C: GenericClient + Sync>(
    client: &C,
    filter: Filter<'_>,
) -> Result<Vec<Event>, StoreError> {
    let mut events = EVENTS.select(client, filter).await?;
    attach_transitions(client, &mut events).await?;
    Ok(events)
}

/// Fills in the transitions of `events` with one query.
pub(crate) async fn attach_transitions<C: GenericClient + Sync>(
    client: &C,
    events: &mut [Event],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let codes: Vec<&str> = events.iter().map(|e| e.code.as_str()).collect();
    let sql = format!(
        "SELECT {} FROM event_transition WHERE event_code = ANY($1) ORDER BY event_code, seq",
        rows::TRANSITION_COLUMNS
    );
    let found = client
        .query(&sql, &[&codes])
        .await
        .map_err(|e| query_error("cannot read event transitions", &e))?;
    let index: HashMap<String, usize> = events
        .iter()
        .enumerate()
        .map(|(i, e)| (e.code.clone(), i))
        .collect();
    for row in &found {
        let (code, step) = rows::transition(row)?;
        if let Some(&i) = index.get(&code) {
            events[i].transitions.push(step);
        }
    }
    Ok(())
}
