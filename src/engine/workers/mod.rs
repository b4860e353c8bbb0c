//! Grid workers on the ground (社区员GPS定位): the registry, each worker's latest fix, the
//! grid it lies in, online/offline and the out-of-grid alerts, and the index of positions for
//! dispatch. The board is live state patched by every batch of new fixes and by the clock's
//! ticks; it is not part of the snapshot, as positions change many times a second.
//!
//! Rules:
//! - The latest fix is the one with the latest time: an older fix arriving late is stored
//!   (for tracks) but never moves a worker backwards.
//! - A worker is online while its latest fix is younger than `offline_after`.
//! - A worker is outside when its latest fix lies more than `tolerance_m` outside its home
//!   area (`geofence`). Outside since `t` (the first fix outside), it is alerted at
//!   `t + dwell` if it has not come back by then: on the fix that shows it, or on the tick of
//!   the clock when no fix comes. The alert is cleared by the first fix back inside.
//! - Everything runs off indexes: the grid at a fix is an R-tree look-up, the home area a
//!   hash look-up, the workers due to go offline or to be alerted sit in queues ordered by
//!   time, so no tick or fix scans the grids or the workers.

pub mod geofence;
mod nearest;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Duration, Utc};

use super::Snapshot;
use crate::model::{AlertKind, Worker, WorkerAlert, WorkerFix, WorkerState};
pub use nearest::PositionIndex;

/// The thresholds of status and alerts (config `[workers]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkerRules {
    /// A worker without a fix for this long is offline (default 10 minutes).
    pub offline_after: Duration,
    /// How far outside the home area a fix may lie before it counts as outside (default 50 m):
    /// GPS error near a border is not leaving the grid.
    pub tolerance_m: f64,
    /// How long a worker may stay outside before the alert (default 5 minutes).
    pub dwell: Duration,
}

impl Default for WorkerRules {
    fn default() -> WorkerRules {
        WorkerRules {
            offline_after: Duration::minutes(10),
            tolerance_m: 50.0,
            dwell: Duration::minutes(5),
        }
    }
}

/// Whether a worker has reported lately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerStatus {
    Online,
    Offline,
}

impl WorkerStatus {
    /// The text form used in JSON and query parameters.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerStatus::Online => "online",
            WorkerStatus::Offline => "offline",
        }
    }
}

/// One worker as the board shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerView {
    /// The registry record, shared by the copies of the view the live stream sends.
    pub worker: Arc<Worker>,
    pub status: WorkerStatus,
    /// The latest fix, if any.
    pub fix: Option<WorkerFix>,
    /// The base grid the latest fix lies in.
    pub grid: Option<String>,
    /// Metres outside the home area at the latest fix (0 inside); `None` without a fix or
    /// without a home area geometry.
    pub outside_m: Option<f64>,
    /// The open alert, if any.
    pub alert: Option<WorkerAlert>,
}

impl WorkerView {
    /// Whether the latest fix lies in the home area, within the tolerance.
    pub fn inside_home(&self, rules: &WorkerRules) -> Option<bool> {
        self.outside_m.map(|d| d <= rules.tolerance_m)
    }
}

/// What changed on the board, for the live stream.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkerUpdate {
    /// A newer fix moved the worker (the view after it).
    Moved(WorkerView),
    /// The worker went online or offline (the view after it).
    Status(WorkerView),
    /// An alert was raised or cleared (`cleared_at` set).
    Alert(WorkerAlert),
}

/// Workers ordered by when something falls due for them (going offline, an alert).
type TimeQueue = BTreeSet<(DateTime<Utc>, Arc<str>)>;

/// A worker and its live state.
#[derive(Debug, Clone)]
struct Live {
    /// The worker's code, shared by its entries in the time queues.
    key: Arc<str>,
    view: WorkerView,
    /// When the worker's run of fixes outside the home area began.
    outside_since: Option<DateTime<Utc>>,
}

/// The registry and the live state of every worker.
#[derive(Debug, Default)]
pub struct WorkerBoard {
    rules: WorkerRules,
    live: HashMap<String, Live>,
    by_device: HashMap<String, String>,
    /// The latest positions for nearest-worker queries, built by the first query after a move.
    positions: OnceLock<PositionIndex>,
    /// (when it goes offline, code) of every online worker.
    going_offline: TimeQueue,
    /// (when its alert is due, code) of every worker outside without an alert.
    alert_due: TimeQueue,
    /// How many batches of fixes and ticks of the clock the board has taken: a view read
    /// with version `v` already shows every update published with a version up to `v`.
    version: u64,
}

impl WorkerBoard {
    /// A board of these workers, none of them seen yet.
    pub fn new(rules: WorkerRules, workers: Vec<Worker>) -> WorkerBoard {
        let mut board = WorkerBoard {
            rules,
            ..WorkerBoard::default()
        };
        for worker in workers {
            board.upsert_worker(worker);
        }
        board
    }

    /// The thresholds in force.
    pub fn rules(&self) -> &WorkerRules {
        &self.rules
    }

    /// How many fix batches and clock ticks the board has taken: the views read now show
    /// every update published with this version or an earlier one.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Number of registered workers.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Whether no worker is registered.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Adds or replaces a worker's record, keeping its live state.
    pub fn upsert_worker(&mut self, worker: Worker) {
        if let Some(old) = self.live.get(&worker.code) {
            if let Some(device) = &old.view.worker.device {
                self.by_device.remove(device);
            }
        }
        if let Some(device) = &worker.device {
            self.by_device.insert(device.clone(), worker.code.clone());
        }
        match self.live.get_mut(&worker.code) {
            Some(live) => live.view.worker = Arc::new(worker),
            None => {
                let code = worker.code.clone();
                let view = WorkerView {
                    worker: Arc::new(worker),
                    status: WorkerStatus::Offline,
                    fix: None,
                    grid: None,
                    outside_m: None,
                    alert: None,
                };
                self.live.insert(
                    code.clone(),
                    Live {
                        key: Arc::from(code),
                        view,
                        outside_since: None,
                    },
                );
            }
        }
    }

    /// Removes a worker and everything the board keeps of it.
    pub fn remove_worker(&mut self, code: &str) {
        let Some(live) = self.live.remove(code) else {
            return;
        };
        if let Some(device) = &live.view.worker.device {
            self.by_device.remove(device);
        }
        self.positions.take();
        if let Some(fix) = &live.view.fix {
            self.going_offline
                .remove(&(fix.at + self.rules.offline_after, live.key.clone()));
        }
        if let Some(since) = live.outside_since {
            self.alert_due
                .remove(&(since + self.rules.dwell, live.key.clone()));
        }
    }

    /// Starts from the stored state (the latest fixes and the open alerts): what the board
    /// knew before the process restarted. Answers the alerts this changed (raised or cleared
    /// on the rules in force), which the caller stores.
    pub fn restore(
        &mut self,
        state: WorkerState,
        areas: &Snapshot,
        now: DateTime<Utc>,
    ) -> Vec<WorkerAlert> {
        for alert in state.open_alerts {
            if let Some(live) = self.live.get_mut(&alert.worker_code) {
                live.view.alert = Some(alert);
            }
        }
        let mut updates = Vec::new();
        for fix in state.latest {
            self.place(fix, areas, now, &mut updates);
        }
        updates
            .into_iter()
            .filter_map(|u| match u {
                WorkerUpdate::Alert(alert) => Some(alert),
                _ => None,
            })
            .collect()
    }

    /// Takes a batch of newly stored fixes; answers what changed.
    pub fn apply_fixes(
        &mut self,
        fixes: Vec<WorkerFix>,
        areas: &Snapshot,
        now: DateTime<Utc>,
    ) -> Vec<WorkerUpdate> {
        self.version += 1;
        let mut updates = Vec::new();
        for fix in fixes {
            self.place(fix, areas, now, &mut updates);
        }
        updates
    }

    /// Moves the clock to `now`: workers whose latest fix grew too old go offline, workers
    /// outside past the dwell time get their alert.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<WorkerUpdate> {
        self.version += 1;
        let mut updates = Vec::new();
        while let Some((at, code)) = pop_due(&mut self.going_offline, now) {
            if let Some(live) = self.live.get_mut(&*code) {
                live.view.status = WorkerStatus::Offline;
                updates.push(WorkerUpdate::Status(live.view.clone()));
            }
            tracing::trace!(%code, %at, "worker offline");
        }
        while let Some((due, code)) = pop_due(&mut self.alert_due, now) {
            if let Some(live) = self.live.get_mut(&*code) {
                if let Some(alert) = raise(live, due) {
                    updates.push(WorkerUpdate::Alert(alert));
                }
            }
        }
        updates
    }

    /// A worker's view.
    pub fn view(&self, code: &str) -> Option<&WorkerView> {
        self.live.get(code).map(|l| &l.view)
    }

    /// The code of the worker carrying this device.
    pub fn code_of_device(&self, device: &str) -> Option<&str> {
        self.by_device.get(device).map(String::as_str)
    }

    /// Every worker `keep` lets through, in code order.
    pub fn views(&self, mut keep: impl FnMut(&WorkerView) -> bool) -> Vec<&WorkerView> {
        let mut found: Vec<&WorkerView> = self
            .live
            .values()
            .map(|l| &l.view)
            .filter(|v| keep(v))
            .collect();
        found.sort_unstable_by(|a, b| a.worker.code.cmp(&b.worker.code));
        found
    }

    /// The `k` workers nearest to a point among those `keep` lets through, nearest first,
    /// with their distance in metres (on the sphere).
    pub fn nearest(
        &self,
        lon: f64,
        lat: f64,
        k: usize,
        mut keep: impl FnMut(&WorkerView) -> bool,
    ) -> Vec<(&WorkerView, f64)> {
        self.positions
            .get_or_init(|| self.index_positions())
            .nearest(lon, lat, k, |code| self.view(code).is_some_and(&mut keep))
            .into_iter()
            .filter_map(|(code, d)| Some((self.view(&code)?, d)))
            .collect()
    }

    /// The index of every worker's latest position.
    fn index_positions(&self) -> PositionIndex {
        PositionIndex::build(self.live.iter().filter_map(|(code, live)| {
            let (lon, lat) = lon_lat(live.view.fix.as_ref()?);
            Some((code.as_str(), lon, lat))
        }))
    }

    /// Records a fix: moves the worker when it is newer than the latest one.
    fn place(
        &mut self,
        fix: WorkerFix,
        areas: &Snapshot,
        now: DateTime<Utc>,
        updates: &mut Vec<WorkerUpdate>,
    ) {
        let rules = self.rules;
        let Some(live) = self.live.get_mut(&fix.worker_code) else {
            return;
        };
        let previous = live.view.fix.as_ref().map(|f| f.at);
        if previous.is_some_and(|at| at >= fix.at) {
            return;
        }
        if let Some(at) = previous {
            self.going_offline
                .remove(&(at + rules.offline_after, live.key.clone()));
        }
        self.positions.take();
        let was = live.view.status;
        let online = fix.at + rules.offline_after > now;
        live.view.status = if online {
            self.going_offline
                .insert((fix.at + rules.offline_after, live.key.clone()));
            WorkerStatus::Online
        } else {
            WorkerStatus::Offline
        };
        let (x, y) = lon_lat(&fix);
        live.view.grid = areas.grid_at(x, y).map(|a| a.code.clone());
        live.view.outside_m = areas
            .indexed_area(&live.view.worker.home_code)
            .and_then(|home| {
                geofence::distance_outside_m(&home.prepared, &home.area.geometry, fix.position.0)
            });
        let at = fix.at;
        live.view.fix = Some(fix);
        // The geofence first, so the views published carry the alert as it stands after the fix.
        let outside = live.view.inside_home(&rules) == Some(false);
        let alert = follow_geofence(live, &mut self.alert_due, &rules, outside, at);
        updates.push(WorkerUpdate::Moved(live.view.clone()));
        if live.view.status != was {
            updates.push(WorkerUpdate::Status(live.view.clone()));
        }
        updates.extend(alert.map(WorkerUpdate::Alert));
    }
}

/// Moves the out-of-grid state of a worker whose latest fix (at `at`) is `outside` or not;
/// answers the alert raised or cleared.
fn follow_geofence(
    live: &mut Live,
    alert_due: &mut TimeQueue,
    rules: &WorkerRules,
    outside: bool,
    at: DateTime<Utc>,
) -> Option<WorkerAlert> {
    let code = live.key.clone();
    if !outside {
        if let Some(since) = live.outside_since.take() {
            alert_due.remove(&(since + rules.dwell, code));
        }
        let mut cleared = live.view.alert.take()?;
        cleared.cleared_at = Some(at.max(cleared.raised_at));
        return Some(cleared);
    }
    let since = *live.outside_since.get_or_insert(at);
    if live.view.alert.is_some() {
        return None;
    }
    let due = since + rules.dwell;
    if at >= due {
        alert_due.remove(&(due, code));
        raise(live, due)
    } else {
        alert_due.insert((due, code));
        None
    }
}

/// Raises the out-of-grid alert of a worker still outside without one, dated `due`.
fn raise(live: &mut Live, due: DateTime<Utc>) -> Option<WorkerAlert> {
    if live.view.alert.is_some() || live.outside_since.is_none() {
        return None;
    }
    let fix = live.view.fix.as_ref()?;
    let alert = WorkerAlert {
        id: WorkerAlert::id_of(&live.view.worker.code, due),
        worker_code: live.view.worker.code.clone(),
        kind: AlertKind::OutOfGrid,
        home_code: live.view.worker.home_code.clone(),
        raised_at: due,
        cleared_at: None,
        position: fix.position,
        distance_m: live.view.outside_m.unwrap_or(0.0),
    };
    live.view.alert = Some(alert.clone());
    Some(alert)
}

/// Takes the first entry of a time queue if it is due at `now`.
fn pop_due(queue: &mut TimeQueue, now: DateTime<Utc>) -> Option<(DateTime<Utc>, Arc<str>)> {
    if queue.first()?.0 <= now {
        queue.pop_first()
    } else {
        None
    }
}

fn lon_lat(fix: &WorkerFix) -> (f64, f64) {
    (fix.position.x(), fix.position.y())
}

#[cfg(test)]
mod tests;
