//! The live stream's rules, apart from the socket: what a subscription lets through
//! ([`Subscription`]) and the per-client queue that keeps a slow client's memory bounded
//! ([`Outbox`]).
//!
//! Scope: a subscription's area is inside the principal's jurisdiction (checked when it is
//! made), and every message is tested against that area: a worker's fix, status and alerts by
//! the worker's home code, an event by its area code (an event outside every grid only for a
//! whole-city area). Nothing else reaches the client.
//!
//! Slow clients: the latest position per worker replaces the one still queued (a wall map
//! needs where a worker is, not where it was), so positions never queue more than one per
//! worker in scope; other messages (status, alerts, events) queue up to [`OTHER_BACKLOG`],
//! beyond which the oldest are dropped and the client is told how many (`lagged`), so it can
//! ask for a snapshot. A snapshot replaces every queued position: they are older than it, and
//! positions drain after the other messages, so they would move workers back (or show workers
//! of an area the client has just left).
//!
//! Cost: a published batch is rendered to JSON text once ([`render`], kept with the batch),
//! and every client takes the shared texts its subscription lets through: a hundred wall
//! maps cost one rendering, not a hundred.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::api::workers::{alert_json, worker_feature};
use crate::crs::Crs;
use crate::engine::{WorkerRules, WorkerUpdate, WorkerView};
use crate::model::{covers_whole_city, scope_contains, Change, Event};
use crate::write::Published;

/// Status, alert and event messages a client may fall behind by before the oldest go.
pub const OTHER_BACKLOG: usize = 1_024;

/// What a client may subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Worker positions (`fix` messages).
    Fixes,
    /// Workers going online or offline (`status`).
    Status,
    /// Out-of-grid alerts raised and cleared (`alert`).
    Alerts,
    /// Events reported or moved along their loop (`event`).
    Events,
}

impl Kind {
    /// Every kind, the default of a subscription.
    pub const ALL: [Kind; 4] = [Kind::Fixes, Kind::Status, Kind::Alerts, Kind::Events];

    /// The name used in subscriptions.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Fixes => "fixes",
            Kind::Status => "status",
            Kind::Alerts => "alerts",
            Kind::Events => "events",
        }
    }

    /// Inverse of [`Kind::as_str`].
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One client's filter: an area (inside its jurisdiction) and the kinds it wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub area: String,
    pub kinds: Vec<Kind>,
}

/// A message's JSON text as the socket sends it. Cloning it shares the bytes, so a rendered
/// message is one copy however many clients send it.
pub type Text = axum::extract::ws::Utf8Bytes;

/// A message bound for a client, as JSON text: a worker's position (coalesced per worker), a
/// snapshot (which supersedes the queued positions) or anything else.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    Position { worker: Arc<str>, message: Text },
    Snapshot(Text),
    Other(Text),
}

impl Outgoing {
    /// A message other than a position.
    pub fn other(message: &Value) -> Outgoing {
        Outgoing::Other(message.to_string().into())
    }
}

/// Who may see a rendered message: workers by their home code, events by their area code
/// (`None` outside every area: only whole-city subscriptions).
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    kind: Kind,
    owner: Option<String>,
    message: Outgoing,
}

/// Whether a snapshot of the worker board at `shown_version` showed this batch's worker
/// updates already: then they are older than what the client has (a batch still waiting in its
/// queue when it re-subscribed) and sending them would move workers back.
pub fn already_shown(published: &Published, shown_version: u64) -> bool {
    !published.workers.is_empty() && published.board_version <= shown_version
}

/// Every message of a published batch, rendered once for every client.
pub fn render(published: &Published, rules: &WorkerRules) -> Vec<Rendered> {
    let mut out: Vec<Rendered> = published
        .workers
        .iter()
        .map(|update| render_update(update, rules))
        .collect();
    for change in &published.changes {
        if let Change::UpsertEvent(event) = change {
            out.push(Rendered {
                kind: Kind::Events,
                owner: event.area_code.clone(),
                message: Outgoing::other(&event_message(event)),
            });
        }
    }
    out
}

fn render_update(update: &WorkerUpdate, rules: &WorkerRules) -> Rendered {
    match update {
        WorkerUpdate::Moved(view) => Rendered {
            kind: Kind::Fixes,
            owner: Some(view.worker.home_code.clone()),
            message: Outgoing::Position {
                worker: Arc::from(view.worker.code.as_str()),
                message: json!({"type": "fix", "worker": feature(view, rules)})
                    .to_string()
                    .into(),
            },
        },
        WorkerUpdate::Status(view) => Rendered {
            kind: Kind::Status,
            owner: Some(view.worker.home_code.clone()),
            message: Outgoing::other(&json!({"type": "status", "worker": feature(view, rules)})),
        },
        WorkerUpdate::Alert(alert) => Rendered {
            kind: Kind::Alerts,
            owner: Some(alert.home_code.clone()),
            message: Outgoing::other(&json!({"type": "alert", "alert": alert_json(alert)})),
        },
    }
}

impl Subscription {
    /// The subscription's messages among a batch's rendered ones.
    pub fn messages<'a>(&'a self, rendered: &'a [Rendered]) -> impl Iterator<Item = Outgoing> + 'a {
        rendered
            .iter()
            .filter(|r| self.wants(r.kind) && self.owns(r.owner.as_deref()))
            .map(|r| r.message.clone())
    }

    /// Whether the subscription takes this kind.
    pub fn wants(&self, kind: Kind) -> bool {
        self.kinds.contains(&kind)
    }

    /// Whether a worker is in the subscription's area (by its home code).
    pub fn covers(&self, view: &WorkerView) -> bool {
        scope_contains(&self.area, &view.worker.home_code)
    }

    fn owns(&self, owner: Option<&str>) -> bool {
        match owner {
            Some(code) => scope_contains(&self.area, code),
            None => covers_whole_city(&self.area),
        }
    }
}

fn feature(view: &WorkerView, rules: &WorkerRules) -> Value {
    worker_feature(view, rules, Crs::Wgs84, None)
}

/// An event as the live stream tells of it.
fn event_message(event: &Event) -> Value {
    json!({
        "type": "event",
        "event": {
            "code": event.code,
            "title": event.title,
            "category": event.category,
            "status": event.status,
            "area_code": event.area_code,
            "lon": event.location.x(),
            "lat": event.location.y(),
            "reported_at": event.reported_at,
        }
    })
}

/// The messages waiting for one client (see the module doc for the bounds).
#[derive(Debug, Default)]
pub struct Outbox {
    positions: HashMap<Arc<str>, Text>,
    /// Workers with a queued position, in the order their first queued position came.
    order: VecDeque<Arc<str>>,
    others: VecDeque<Text>,
    dropped: usize,
}

impl Outbox {
    /// Queues a message, replacing a queued position of the same worker; a snapshot replaces
    /// them all.
    pub fn push(&mut self, message: Outgoing) {
        match message {
            Outgoing::Position { worker, message } => {
                if self.positions.insert(worker.clone(), message).is_none() {
                    self.order.push_back(worker);
                }
            }
            Outgoing::Snapshot(message) => {
                self.positions.clear();
                self.order.clear();
                self.push(Outgoing::Other(message));
            }
            Outgoing::Other(message) => {
                if self.others.len() == OTHER_BACKLOG {
                    self.others.pop_front();
                    self.dropped += 1;
                }
                self.others.push_back(message);
            }
        }
    }

    /// Everything queued, oldest first: a `lagged` notice if messages were dropped, the other
    /// messages, then the latest position of each worker.
    pub fn drain(&mut self) -> Vec<Text> {
        let mut out = Vec::with_capacity(self.len() + 1);
        if self.dropped > 0 {
            let lagged = json!({"type": "lagged", "dropped": self.dropped});
            out.push(lagged.to_string().into());
            self.dropped = 0;
        }
        out.extend(self.others.drain(..));
        for worker in self.order.drain(..) {
            out.extend(self.positions.remove(&worker));
        }
        out
    }

    /// Messages queued.
    pub fn len(&self) -> usize {
        self.positions.len() + self.others.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position(worker: &str, n: u32) -> Outgoing {
        Outgoing::Position {
            worker: worker.into(),
            message: json!({"worker": worker, "n": n}).to_string().into(),
        }
    }

    fn text(value: Value) -> Text {
        value.to_string().into()
    }

    fn worker_batch(board_version: u64) -> Published {
        let alert = crate::model::WorkerAlert {
            id: "w1@0".into(),
            worker_code: "w1".into(),
            kind: crate::model::AlertKind::OutOfGrid,
            home_code: "410611001001001".into(),
            raised_at: chrono::DateTime::UNIX_EPOCH,
            cleared_at: None,
            position: geo_types::Point::new(114.3, 35.7),
            distance_m: 80.0,
        };
        Published {
            changes: Vec::new(),
            extents: Default::default(),
            workers: vec![WorkerUpdate::Alert(alert)],
            board_version,
            rendered: Default::default(),
        }
    }

    #[test]
    fn worker_batches_up_to_the_snapshot_s_version_were_shown_by_it() {
        assert!(already_shown(&worker_batch(6), 7));
        assert!(already_shown(&worker_batch(7), 7));
        assert!(!already_shown(&worker_batch(8), 7));
        assert!(!already_shown(&worker_batch(1), 0), "no snapshot taken");
        let events = Published {
            workers: Vec::new(),
            ..worker_batch(0)
        };
        assert!(!already_shown(&events, 7), "events are not in a snapshot");
    }

    #[test]
    fn an_empty_outbox_drains_nothing() {
        assert!(Outbox::default().drain().is_empty());
    }

    #[test]
    fn positions_coalesce_to_the_latest_per_worker() {
        let mut outbox = Outbox::default();
        for n in 0..1000 {
            outbox.push(position("a", n));
            outbox.push(position("b", n));
        }
        assert_eq!(outbox.len(), 2);
        let drained = outbox.drain();
        assert_eq!(
            drained,
            vec![
                text(json!({"worker": "a", "n": 999})),
                text(json!({"worker": "b", "n": 999}))
            ]
        );
        assert!(outbox.is_empty());
    }

    #[test]
    fn a_snapshot_replaces_the_queued_positions() {
        let mut outbox = Outbox::default();
        outbox.push(position("a", 1));
        outbox.push(Outgoing::other(&json!("subscribed")));
        outbox.push(Outgoing::Snapshot(text(json!("snapshot"))));
        outbox.push(position("b", 2));
        assert_eq!(
            outbox.drain(),
            vec![
                text(json!("subscribed")),
                text(json!("snapshot")),
                text(json!({"worker": "b", "n": 2}))
            ]
        );
    }

    #[test]
    fn other_messages_keep_the_newest_backlog_and_say_how_many_went() {
        let mut outbox = Outbox::default();
        for n in 0..OTHER_BACKLOG + 10 {
            outbox.push(Outgoing::other(&json!(n)));
        }
        assert_eq!(outbox.len(), OTHER_BACKLOG);
        let drained = outbox.drain();
        assert_eq!(drained[0], text(json!({"type": "lagged", "dropped": 10})));
        assert_eq!(drained[1], text(json!(10)));
        assert_eq!(drained.last(), Some(&text(json!(OTHER_BACKLOG + 9))));
    }

    #[test]
    fn kinds_parse_by_name() {
        assert_eq!(Kind::parse("alerts"), Some(Kind::Alerts));
        assert_eq!(Kind::parse("alert"), None);
    }
}
