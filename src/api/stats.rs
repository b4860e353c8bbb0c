//! Area statistics for the wall map and analysts: what an area holds (buildings, houses by
//! use, households, residents by registration, care tags; the engine's rollups) and its event
//! figures in a time window (by status and category, open, overdue, closure and on-time rates),
//! for one area, for its base-layer children (JSON, CSV or GeoJSON for choropleths), and as a
//! trend line.
//!
//! - The window is `from`/`to` as on the event listing (`event_params`: RFC 3339 or a China
//!   Standard Time day); an event counts when `from <= reported_at < to`. Without `from`, the
//!   window is the [`DEFAULT_WINDOW_DAYS`] days before `to`; without `to`, it ends now.
//! - Events count for the area their location lies in (its code has the area's prefix, as for
//!   a token's scope). Events outside every area count for no area, so a parent's figures are
//!   the sum of its children's. Areas of other layers (special, business grids) have rollups
//!   but no event figures (`events` is null): an event is placed in the base layer only.
//! - Overdue and on time are judged by the timeliness rules at the service clock's now.
//! - Every answer is scoped: an area outside the caller's jurisdiction is 403.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use geojson::{Feature, FeatureCollection, JsonObject};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::error::{bad_query, ApiError};
use super::event_list::text_cell;
use super::event_params::parse_time;
use super::AppState;
use crate::access::Principal;
use crate::engine::events::{EventFilter, EventTally, SeriesMetric};
use crate::engine::{Rollup, Snapshot};
use crate::model::event_code::{china_day, china_midnight, china_offset};
use crate::model::{scope_prefix, Area, CareCounts, EventStatus, HouseUse, Layer};

/// The window without `from`: this many days before `to`.
pub const DEFAULT_WINDOW_DAYS: i64 = 30;
/// Most buckets one trend line may hold.
pub const MAX_BUCKETS: usize = 1_000;

/// Query of `GET /api/stats/areas/{code}` and `/children`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    /// `/children` only: `json` (default), `csv` or `geojson`.
    pub format: Option<String>,
}

/// Query of `GET /api/stats/timeseries`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesQuery {
    /// An area code (default: the caller's jurisdiction).
    pub area: Option<String>,
    /// `reported` (default) or `closed`.
    pub metric: Option<String>,
    /// `day` (default), `week` (from Monday) or `month`, in China Standard Time.
    pub interval: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The event figures of an area in the window.
#[derive(Debug, Serialize)]
pub struct EventStats {
    pub total: u64,
    /// Counts per status, every status named.
    pub by_status: Map<String, Value>,
    /// Counts per category code, categories without events left out.
    pub by_category: Map<String, Value>,
    pub open: u64,
    pub overdue: u64,
    pub closed: u64,
    pub closed_on_time: u64,
    /// closed / total (null without events).
    pub closure_rate: Option<f64>,
    /// closed_on_time / closed (null without closed events).
    pub on_time_rate: Option<f64>,
}

impl From<EventTally> for EventStats {
    fn from(t: EventTally) -> EventStats {
        let by_status = EventStatus::ALL
            .iter()
            .zip(t.by_status)
            .map(|(s, n)| (s.as_str().to_string(), json!(n)))
            .collect();
        EventStats {
            total: t.total,
            by_status,
            by_category: t
                .by_category
                .iter()
                .map(|(c, n)| (c.clone(), json!(n)))
                .collect(),
            open: t.open,
            overdue: t.overdue,
            closed: t.closed,
            closed_on_time: t.closed_on_time,
            closure_rate: t.closure_rate(),
            on_time_rate: t.on_time_rate(),
        }
    }
}

/// One area's statistics.
#[derive(Debug, Serialize)]
pub struct AreaStats {
    pub code: String,
    pub name: String,
    pub layer: String,
    pub level: &'static str,
    #[serde(flatten)]
    pub rollup: Rollup,
    /// Null for areas outside the base layer.
    pub events: Option<EventStats>,
}

/// The report-time window of a request, and the instant figures are judged at.
#[derive(Debug, Clone, Copy)]
struct Window {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
}

impl Window {
    /// `from`/`to` (see the module documentation); 400 `bad_time` when unreadable or empty.
    fn parse(from: Option<&str>, to: Option<&str>, now: DateTime<Utc>) -> Result<Window, ApiError> {
        let to = to
            .map(|s| parse_time("to", s, true))
            .transpose()?
            .unwrap_or(now);
        let from = from
            .map(|s| parse_time("from", s, false))
            .transpose()?
            .unwrap_or(to - Duration::days(DEFAULT_WINDOW_DAYS));
        if from >= to {
            return Err(ApiError::bad_request(
                "bad_time",
                format!("from {from} must be before to {to}"),
            ));
        }
        Ok(Window { from, to, now })
    }

    /// The events reported in the window.
    fn filter(&self) -> EventFilter {
        let mut filter = EventFilter::at(self.now);
        filter.from = Some(self.from);
        filter.to = Some(self.to);
        filter
    }

    fn json(&self) -> Value {
        json!({"from": self.from, "to": self.to})
    }
}

/// The area `code` when the caller may see it: 403 outside the jurisdiction, 404 unknown.
fn visible_area<'a>(
    snapshot: &'a Snapshot,
    principal: &Principal,
    code: &str,
) -> Result<&'a Area, ApiError> {
    principal.check_scope(code)?;
    snapshot
        .area(code)
        .ok_or_else(|| ApiError::not_found(format!("no area with code {code}")))
}

/// The statistics of `area` with its event figures `tally` (`None` outside the base layer).
fn area_stats(snapshot: &Snapshot, area: &Area, tally: Option<EventTally>) -> AreaStats {
    AreaStats {
        code: area.code.clone(),
        name: area.name.clone(),
        layer: area.layer.as_str().into_owned(),
        level: area.level.as_str(),
        rollup: snapshot.rollup(&area.code).unwrap_or_default(),
        events: tally.map(EventStats::from),
    }
}

/// The event figures of one area in the window (`None` outside the base layer).
fn area_tally(snapshot: &Snapshot, area: &Area, window: &Window) -> Option<EventTally> {
    (area.layer == Layer::Base).then(|| {
        let mut filter = window.filter();
        filter.area_prefixes = vec![scope_prefix(&area.code).to_string()];
        snapshot.events().tally(&filter)
    })
}

/// `GET /api/stats/areas/{code}`: what the area holds and its event figures in the window.
pub async fn area(
    State(state): State<AppState>,
    principal: Principal,
    Path(code): Path<String>,
    query: Result<Query<StatsQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(bad_query)?;
    if q.format.is_some() {
        return Err(ApiError::bad_request(
            "bad_query",
            "format applies to /children only; this answer is JSON",
        ));
    }
    let window = Window::parse(q.from.as_deref(), q.to.as_deref(), state.clock.now())?;
    let snapshot = state.engine.snapshot();
    let area = visible_area(&snapshot, &principal, &code)?;
    let stats = area_stats(&snapshot, area, area_tally(&snapshot, area, &window));
    let mut body = json!(stats);
    body["window"] = window.json();
    body["as_of"] = json!(window.now);
    Ok(Json(body))
}

/// How `/children` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChildrenFormat {
    Json,
    Csv,
    GeoJson,
}

impl ChildrenFormat {
    fn parse(text: Option<&str>) -> Result<ChildrenFormat, ApiError> {
        match text {
            None | Some("json") => Ok(ChildrenFormat::Json),
            Some("csv") => Ok(ChildrenFormat::Csv),
            Some("geojson") => Ok(ChildrenFormat::GeoJson),
            Some(other) => Err(ApiError::bad_request(
                "bad_format",
                format!("format {other:?} is not json, csv or geojson"),
            )),
        }
    }
}

/// `GET /api/stats/areas/{code}/children`: one row per base-layer child, with the parent's
/// own row (the sum of the children's) in the JSON answer.
pub async fn children(
    State(state): State<AppState>,
    principal: Principal,
    Path(code): Path<String>,
    query: Result<Query<StatsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(bad_query)?;
    let format = ChildrenFormat::parse(q.format.as_deref())?;
    let window = Window::parse(q.from.as_deref(), q.to.as_deref(), state.clock.now())?;
    let snapshot = state.engine.snapshot();
    let parent = visible_area(&snapshot, &principal, &code)?;
    let kids: Vec<&Area> = snapshot
        .children(&code)
        .into_iter()
        .filter(|a| a.layer == Layer::Base)
        .collect();
    let prefixes: Vec<String> = kids
        .iter()
        .map(|a| scope_prefix(&a.code).to_string())
        .collect();
    let tallies = if parent.layer == Layer::Base {
        snapshot.events().tally_by_area(&window.filter(), &prefixes)
    } else {
        vec![EventTally::default(); kids.len()]
    };
    let rows: Vec<(&Area, AreaStats)> = kids
        .iter()
        .zip(tallies)
        .map(|(a, t)| (*a, area_stats(&snapshot, a, Some(t))))
        .collect();
    match format {
        ChildrenFormat::Json => {
            let parent_stats =
                area_stats(&snapshot, parent, area_tally(&snapshot, parent, &window));
            let children: Vec<&AreaStats> = rows.iter().map(|(_, s)| s).collect();
            Ok(Json(json!({
                "parent": parent_stats,
                "children": children,
                "window": window.json(),
                "as_of": window.now,
            }))
            .into_response())
        }
        ChildrenFormat::Csv => csv_answer(&rows),
        ChildrenFormat::GeoJson => Ok(Json(geojson_answer(&rows)).into_response()),
    }
}

/// The columns of a flat row (CSV, GeoJSON properties), in order.
pub fn flat_columns() -> Vec<String> {
    let mut columns: Vec<String> = ["code", "name", "level", "buildings", "houses"]
        .iter()
        .map(|c| c.to_string())
        .collect();
    columns.extend(
        HouseUse::ALL
            .iter()
            .map(|u| format!("houses_{}", u.as_str())),
    );
    columns.extend(
        [
            "households",
            "residents",
            "registered",
            "floating",
            "overseas",
        ]
        .map(String::from),
    );
    columns.extend(CareCounts::FIELDS.iter().map(|c| format!("care_{c}")));
    columns.extend(
        [
            "events",
            "events_open",
            "events_overdue",
            "events_closed",
            "events_closed_on_time",
            "closure_rate",
            "on_time_rate",
        ]
        .map(String::from),
    );
    columns.extend(
        EventStatus::ALL
            .iter()
            .map(|s| format!("events_{}", s.as_str())),
    );
    columns
}

/// A row's values in [`flat_columns`] order.
fn flat_values(s: &AreaStats) -> Vec<Value> {
    let r = &s.rollup;
    let care = json!(r.care);
    let by_use = json!(r.houses_by_use);
    let mut values = vec![
        json!(s.code),
        json!(s.name),
        json!(s.level),
        json!(r.buildings),
        json!(r.houses),
    ];
    values.extend(HouseUse::ALL.iter().map(|u| by_use[u.as_str()].clone()));
    values.extend([
        json!(r.households),
        json!(r.residents),
        json!(r.registered),
        json!(r.floating),
        json!(r.overseas),
    ]);
    values.extend(CareCounts::FIELDS.iter().map(|c| care[*c].clone()));
    let e = s.events.as_ref();
    let count = |f: fn(&EventStats) -> u64| json!(e.map_or(0, f));
    values.extend([
        count(|e| e.total),
        count(|e| e.open),
        count(|e| e.overdue),
        count(|e| e.closed),
        count(|e| e.closed_on_time),
        json!(e.and_then(|e| e.closure_rate)),
        json!(e.and_then(|e| e.on_time_rate)),
    ]);
    values.extend(EventStatus::ALL.iter().map(|st| {
        e.and_then(|e| e.by_status.get(st.as_str()).cloned())
            .unwrap_or(json!(0))
    }));
    values
}

fn csv_answer(rows: &[(&Area, AreaStats)]) -> Result<Response, ApiError> {
    let failed = |e: csv::Error| ApiError::unavailable(format!("cannot write CSV: {e}"));
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(flat_columns()).map_err(failed)?;
    for (_, stats) in rows {
        let cells = flat_values(stats).into_iter().map(|v| match v {
            Value::String(text) => text_cell(&text),
            Value::Null => String::new(),
            other => other.to_string(),
        });
        writer.write_record(cells).map_err(failed)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| ApiError::unavailable(format!("cannot write CSV: {e}")))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        )],
        bytes,
    )
        .into_response())
}

fn geojson_answer(rows: &[(&Area, AreaStats)]) -> FeatureCollection {
    let columns = flat_columns();
    let features = rows
        .iter()
        .map(|(area, stats)| {
            let props: JsonObject = columns.iter().cloned().zip(flat_values(stats)).collect();
            Feature {
                bbox: None,
                geometry: Some(geojson::Geometry::from(&area.geometry)),
                id: Some(geojson::feature::Id::String(area.code.clone())),
                properties: Some(props),
                foreign_members: None,
            }
        })
        .collect();
    FeatureCollection {
        bbox: None,
        features,
        foreign_members: None,
    }
}

/// The bucket size of a trend line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Day,
    Week,
    Month,
}

impl Interval {
    fn parse(text: Option<&str>) -> Result<Interval, ApiError> {
        match text {
            None | Some("day") => Ok(Interval::Day),
            Some("week") => Ok(Interval::Week),
            Some("month") => Ok(Interval::Month),
            Some(other) => Err(ApiError::bad_request(
                "bad_interval",
                format!("interval {other:?} is not day, week or month"),
            )),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Interval::Day => "day",
            Interval::Week => "week",
            Interval::Month => "month",
        }
    }

    /// The China Standard Time date starting the bucket that holds `day`.
    fn bucket_start(self, day: NaiveDate) -> NaiveDate {
        match self {
            Interval::Day => day,
            Interval::Week => day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
            Interval::Month => day.with_day(1).unwrap_or(day),
        }
    }

    /// The first date of the bucket after the one starting at `start`.
    fn next(self, start: NaiveDate) -> Option<NaiveDate> {
        match self {
            Interval::Day => start.succ_opt(),
            Interval::Week => start.checked_add_signed(Duration::days(7)),
            Interval::Month => start.checked_add_months(chrono::Months::new(1)),
        }
    }
}

/// The edges of the whole buckets covering `[from, to)`: from the start of the bucket holding
/// `from` to the end of the bucket holding the last second before `to`. 400
/// `too_many_buckets` past [`MAX_BUCKETS`].
pub fn bucket_edges(
    interval: Interval,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>, ApiError> {
    let last = china_day(to - Duration::seconds(1));
    let mut day = interval.bucket_start(china_day(from));
    let mut edges = Vec::new();
    while day <= last {
        if edges.len() > MAX_BUCKETS {
            return Err(ApiError::bad_request(
                "too_many_buckets",
                format!(
                    "the window holds more than {MAX_BUCKETS} {}s; use a longer interval or a shorter window",
                    interval.as_str()
                ),
            ));
        }
        edges.extend(china_midnight(day));
        day = match interval.next(day) {
            Some(next) => next,
            None => break,
        };
    }
    edges.extend(china_midnight(day));
    Ok(edges)
}

/// `GET /api/stats/timeseries`: events reported (or closed) per day, week or month in an area.
pub async fn timeseries(
    State(state): State<AppState>,
    principal: Principal,
    query: Result<Query<SeriesQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(bad_query)?;
    let metric = match q.metric.as_deref() {
        None => SeriesMetric::Reported,
        Some(m) => SeriesMetric::parse(m).ok_or_else(|| {
            ApiError::bad_request(
                "bad_metric",
                format!(
                    "metric {m:?} is not one of {}",
                    SeriesMetric::NAMES.join(", ")
                ),
            )
        })?,
    };
    let interval = Interval::parse(q.interval.as_deref())?;
    let window = Window::parse(q.from.as_deref(), q.to.as_deref(), state.clock.now())?;
    let code = q.area.unwrap_or_else(|| principal.scope.clone());
    let snapshot = state.engine.snapshot();
    let area = visible_area(&snapshot, &principal, &code)?;
    if area.layer != Layer::Base {
        return Err(ApiError::bad_request(
            "bad_area",
            format!("{code} is not a base-layer area; events are placed in the base layer only"),
        ));
    }
    let edges = bucket_edges(interval, window.from, window.to)?;
    let mut filter = EventFilter::at(window.now);
    filter.area_prefixes = vec![scope_prefix(&code).to_string()];
    let counts = snapshot.events().series(&filter, metric, &edges);
    let china = china_offset();
    let points: Vec<Value> = edges
        .windows(2)
        .zip(counts)
        .map(|(w, n)| {
            json!({
                "start": w[0].with_timezone(&china).to_rfc3339(),
                "end": w[1].with_timezone(&china).to_rfc3339(),
                "value": n,
            })
        })
        .collect();
    Ok(Json(json!({
        "area": code,
        "metric": SeriesMetric::NAMES[usize::from(metric == SeriesMetric::Closed)],
        "interval": interval.as_str(),
        "points": points,
        "as_of": window.now,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn buckets_are_whole_china_days_weeks_and_months() {
        let days = bucket_edges(
            Interval::Day,
            at("2026-10-01T03:00:00+08:00"),
            at("2026-10-03T00:00:00+08:00"),
        )
        .expect("days");
        assert_eq!(
            days,
            vec![
                at("2026-10-01T00:00:00+08:00"),
                at("2026-10-02T00:00:00+08:00"),
                at("2026-10-03T00:00:00+08:00"),
            ],
            "a window ending at midnight ends with that day's bucket"
        );
        let weeks = bucket_edges(
            Interval::Week,
            at("2026-10-01T00:00:00+08:00"),
            at("2026-10-06T00:00:01+08:00"),
        )
        .expect("weeks");
        assert_eq!(
            weeks,
            vec![
                at("2026-09-28T00:00:00+08:00"),
                at("2026-10-05T00:00:00+08:00"),
                at("2026-10-12T00:00:00+08:00"),
            ],
            "weeks start on Monday"
        );
        let months = bucket_edges(
            Interval::Month,
            at("2026-01-31T23:00:00+08:00"),
            at("2026-03-01T00:00:00+08:00"),
        )
        .expect("months");
        assert_eq!(
            months,
            vec![
                at("2026-01-01T00:00:00+08:00"),
                at("2026-02-01T00:00:00+08:00"),
                at("2026-03-01T00:00:00+08:00"),
            ]
        );
    }

    #[test]
    fn too_many_buckets_are_refused() {
        let e = bucket_edges(
            Interval::Day,
            at("2020-01-01T00:00:00Z"),
            at("2026-01-01T00:00:00Z"),
        )
        .expect_err("six years of days");
        assert_eq!(e.code, "too_many_buckets");
        assert!(bucket_edges(
            Interval::Month,
            at("2020-01-01T00:00:00Z"),
            at("2026-01-01T00:00:00Z")
        )
        .is_ok());
    }

    #[test]
    fn flat_rows_name_every_value() {
        let area = Area {
            parent_code: Some("410611".into()),
            ..Area::bare(
                "410611001",
                "=金山街道",
                crate::model::Level::Street,
                geo_types::MultiPolygon(vec![]),
            )
        };
        let stats = AreaStats {
            code: area.code.clone(),
            name: area.name.clone(),
            layer: "base".into(),
            level: "street",
            rollup: Rollup::default(),
            events: Some(EventTally::default().into()),
        };
        assert_eq!(flat_columns().len(), flat_values(&stats).len());
        let csv = csv_answer(&[(&area, stats)]).expect("csv");
        assert_eq!(csv.status(), axum::http::StatusCode::OK);
    }
}
