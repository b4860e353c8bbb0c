//! Grid workers and their GPS fixes.

use chrono::{DateTime, Utc};
use geo_types::Point;
use serde::{Deserialize, Serialize};

/// A worker's role on the ground.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerRole {
    /// 网格长
    GridLeader,
    /// 网格员
    GridWorker,
    /// 专职网格员
    FullTime,
    /// 民警
    Police,
    /// 城管队员
    UrbanManagement,
    /// 消防网格员
    FireSafety,
}

impl WorkerRole {
    /// All roles.
    pub const ALL: [WorkerRole; 6] = [
        WorkerRole::GridLeader,
        WorkerRole::GridWorker,
        WorkerRole::FullTime,
        WorkerRole::Police,
        WorkerRole::UrbanManagement,
        WorkerRole::FireSafety,
    ];
    /// The stable text form used in SQL and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerRole::GridLeader => "grid_leader",
            WorkerRole::GridWorker => "grid_worker",
            WorkerRole::FullTime => "full_time",
            WorkerRole::Police => "police",
            WorkerRole::UrbanManagement => "urban_management",
            WorkerRole::FireSafety => "fire_safety",
        }
    }
    /// Inverse of [`WorkerRole::as_str`].
    pub fn parse(s: &str) -> Option<WorkerRole> {
        WorkerRole::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// One grid worker. `home_code` is the grid (or org area) the worker is responsible for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Worker {
    pub code: String,
    pub name: String,
    pub phone: Option<String>,
    pub role: WorkerRole,
    pub home_code: String,
    pub device: Option<String>,
}

/// One GPS fix from a worker's phone, already converted to the storage CRS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerFix {
    pub worker_code: String,
    pub at: DateTime<Utc>,
    pub position: Point<f64>,
    pub accuracy_m: Option<f32>,
    pub speed_mps: Option<f32>,
    pub heading_deg: Option<f32>,
    /// The CRS the device reported in (`wgs84`, `gcj02`, `bd09`).
    pub source_crs: String,
}

/// What an alert about a worker is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The worker stayed outside the home area beyond the tolerance for longer than the dwell
    /// time (离岗/越界).
    OutOfGrid,
}

impl AlertKind {
    /// The stable text form used in SQL and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::OutOfGrid => "out_of_grid",
        }
    }

    /// Inverse of [`AlertKind::as_str`].
    pub fn parse(s: &str) -> Option<AlertKind> {
        (s == "out_of_grid").then_some(AlertKind::OutOfGrid)
    }
}

/// An alert about a worker: raised when a rule is broken, cleared when it holds again. Kept
/// in the store so that the command center can look back at them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerAlert {
    /// `{worker_code}@{raised_at in Unix milliseconds}`: one alert of a worker per instant.
    pub id: String,
    pub worker_code: String,
    pub kind: AlertKind,
    /// The worker's home area when the alert was raised (scopes who may see it).
    pub home_code: String,
    pub raised_at: DateTime<Utc>,
    pub cleared_at: Option<DateTime<Utc>>,
    /// Where the worker was when the alert was raised.
    pub position: Point<f64>,
    /// How far outside the home area the worker was then, in metres.
    pub distance_m: f64,
}

impl WorkerAlert {
    /// The id of the alert of `worker_code` raised at `raised_at`.
    pub fn id_of(worker_code: &str, raised_at: DateTime<Utc>) -> String {
        format!("{worker_code}@{}", raised_at.timestamp_millis())
    }
}

/// What the engine needs of the stored fixes and alerts at start-up.
#[derive(Debug, Clone, Default)]
pub struct WorkerState {
    /// The newest stored fix of each worker that has one in the look-back window.
    pub latest: Vec<WorkerFix>,
    /// Alerts not cleared yet.
    pub open_alerts: Vec<WorkerAlert>,
}
