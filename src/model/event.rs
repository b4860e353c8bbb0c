//! Events (事件): what grid workers and residents report, and the seven-step loop they follow.

use chrono::{DateTime, Utc};
use geo_types::Point;
use serde::{Deserialize, Serialize};

/// Where an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventSource {
    Patrol,
    Hotline,
    Wechat,
    App,
    Video,
}

impl EventSource {
    /// All sources.
    pub const ALL: [EventSource; 5] = [
        EventSource::Patrol,
        EventSource::Hotline,
        EventSource::Wechat,
        EventSource::App,
        EventSource::Video,
    ];
    /// The stable text form used in SQL and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            EventSource::Patrol => "patrol",
            EventSource::Hotline => "hotline",
            EventSource::Wechat => "wechat",
            EventSource::App => "app",
            EventSource::Video => "video",
        }
    }
    /// Inverse of [`EventSource::as_str`].
    pub fn parse(s: &str) -> Option<EventSource> {
        EventSource::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// The seven steps: 上报 → 立案 → 派遣 → 处置 → 反馈 → 结案 → 评价.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventStatus {
    Reported,
    Registered,
    Dispatched,
    Handling,
    Feedback,
    Closed,
    Evaluated,
}

impl EventStatus {
    /// All statuses in loop order.
    pub const ALL: [EventStatus; 7] = [
        EventStatus::Reported,
        EventStatus::Registered,
        EventStatus::Dispatched,
        EventStatus::Handling,
        EventStatus::Feedback,
        EventStatus::Closed,
        EventStatus::Evaluated,
    ];
    /// The stable text form used in SQL and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Reported => "reported",
            EventStatus::Registered => "registered",
            EventStatus::Dispatched => "dispatched",
            EventStatus::Handling => "handling",
            EventStatus::Feedback => "feedback",
            EventStatus::Closed => "closed",
            EventStatus::Evaluated => "evaluated",
        }
    }
    /// Inverse of [`EventStatus::as_str`].
    pub fn parse(s: &str) -> Option<EventStatus> {
        EventStatus::ALL.into_iter().find(|v| v.as_str() == s)
    }
    /// The one "open" rule: an event is open (its deadline runs, it can be escalated, it can
    /// become overdue) until 结案 closed; closed and evaluated events are archived. Every
    /// other place that decides "open" (the engine's packed status, SQL) derives from this.
    ///
    /// ```
    /// use gridmap::model::EventStatus;
    /// assert!(EventStatus::Feedback.is_open());
    /// assert!(!EventStatus::Closed.is_open());
    /// assert!(!EventStatus::Evaluated.is_open());
    /// ```
    pub const fn is_open(self) -> bool {
        !matches!(self, EventStatus::Closed | EventStatus::Evaluated)
    }
}

/// The level that currently handles an event (逐级上报 climbs these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HandlingLevel {
    Community,
    Street,
    District,
    City,
}

impl HandlingLevel {
    /// All levels from the bottom up.
    pub const ALL: [HandlingLevel; 4] = [
        HandlingLevel::Community,
        HandlingLevel::Street,
        HandlingLevel::District,
        HandlingLevel::City,
    ];
    /// The stable text form used in SQL and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            HandlingLevel::Community => "community",
            HandlingLevel::Street => "street",
            HandlingLevel::District => "district",
            HandlingLevel::City => "city",
        }
    }
    /// Inverse of [`HandlingLevel::as_str`].
    pub fn parse(s: &str) -> Option<HandlingLevel> {
        HandlingLevel::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// The resident's evaluation of a closed event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    /// 1 (very dissatisfied) … 5 (very satisfied).
    pub score: i16,
    pub comment: Option<String>,
}

/// One step of an event's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub at: DateTime<Utc>,
    pub from: Option<EventStatus>,
    pub to: EventStatus,
    /// Who made the step (a worker code or a user id).
    pub actor: String,
    pub level: HandlingLevel,
    pub department: Option<String>,
    pub note: Option<String>,
}

/// One event with its current state and its log of transitions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub code: String,
    /// The id the source system gave it; (idempotency_scope, source, external_id) is unique, so
    /// retries are idempotent.
    pub external_id: Option<String>,
    /// The key space of `(source, external_id)`: the jurisdiction (an area code) of whoever
    /// posted the event — the token's scope for `POST /api/events`, the city (the root base
    /// area) for imports and generated data. Two jurisdictions may use the same key for two
    /// different events; a poster never meets another jurisdiction's key. Empty for rows other
    /// systems wrote without one.
    pub idempotency_scope: String,
    pub title: String,
    /// GB/T 30428.2-style category code (major 2 digits + minor 2 digits, e.g. `0102`) or a 综治 key.
    pub category: String,
    pub source: EventSource,
    pub content: String,
    pub reporter_name: Option<String>,
    pub reporter_phone: Option<String>,
    /// Longitude/latitude, storage CRS.
    pub location: Point<f64>,
    pub address: Option<String>,
    /// The deepest base area containing the location (a grid when inside the grid layer).
    pub area_code: Option<String>,
    pub outside_grid: bool,
    pub status: EventStatus,
    pub level: HandlingLevel,
    pub department: Option<String>,
    pub reported_at: DateTime<Utc>,
    pub deadline: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub evaluation: Option<Evaluation>,
    pub transitions: Vec<Transition>,
}
