//! `GET /api/live`: the live stream over a WebSocket (workers' positions, status, alerts and
//! events as they happen), for wall maps and dispatch screens.
//!
//! Protocol (JSON text frames):
//! - Authenticate with `Authorization: Bearer …` or, from a browser, `?token=…`.
//! - The connection subscribes at once to the query's `area` (default: the jurisdiction) and
//!   `kinds` (default: all), `?snapshot=true` asking for the snapshot; a message
//!   `{"type": "subscribe", "area": "410611", "kinds": ["fixes"], "snapshot": true}`
//!   replaces the subscription. The area must be inside the jurisdiction; kinds
//!   default to all. The server answers `subscribed`, then `snapshot` when asked (every worker
//!   in the area as a GeoJSON Feature, and the open alerts): a reconnecting client starts from
//!   the current state, then follows the changes.
//! - The server sends `fix` and `status` (`worker`: a Feature as `GET /api/workers` gives),
//!   `alert`, `event`, `heartbeat` every [`HEARTBEAT`] (with a WebSocket ping), `lagged` when
//!   a slow client's messages were dropped (see `live`), and `error` for a bad message.
//! - A client silent (no frame, no pong) for three heartbeats is disconnected.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{broadcast, Notify};

use super::error::{bad_query, ApiError};
use super::workers::{alert_json, scoped_area, worker_feature};
use super::AppState;
use crate::access::Principal;
use crate::crs::Crs;
use crate::live::{Kind, Outbox, Outgoing, Subscription};

/// How often the server sends a heartbeat (and a ping).
pub const HEARTBEAT: Duration = Duration::from_secs(15);

/// Heartbeats a client may stay silent for before it is disconnected.
const SILENT_HEARTBEATS: i64 = 3;

const CLIENTS_METRIC: &str = "gridmap_live_clients";
const QUEUED_METRIC: &str = "gridmap_live_queued_messages";

/// Query of `GET /api/live`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveQuery {
    /// A bearer token, for browsers (which cannot set headers on a WebSocket).
    pub token: Option<String>,
    /// The area subscribed to at once (default: the jurisdiction).
    pub area: Option<String>,
    /// Comma-separated kinds: fixes, status, alerts, events (default all).
    pub kinds: Option<String>,
    /// Send a snapshot of the current state first.
    pub snapshot: Option<bool>,
}

/// A subscription message from the client.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscribeMessage {
    #[serde(rename = "type")]
    kind: String,
    area: Option<String>,
    kinds: Option<Vec<String>>,
    snapshot: Option<bool>,
}

/// `GET /api/live`: upgrades to the live stream (426 without a WebSocket handshake).
pub async fn live(
    State(state): State<AppState>,
    query: Result<Query<LiveQuery>, QueryRejection>,
    mut parts: Parts,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(bad_query)?;
    let principal = match &q.token {
        Some(token) => state.auth.verify_shared(token)?,
        None => super::auth::bearer(&parts, &state)?,
    };
    let kinds = q
        .kinds
        .as_deref()
        .map(|k| k.split(',').map(|s| s.trim().to_string()).collect());
    let first = subscription(&state, &principal, q.area.as_deref(), kinds)?;
    let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &state)
        .await
        .map_err(|_| ApiError {
            status: StatusCode::UPGRADE_REQUIRED,
            code: "upgrade_required",
            message: "GET /api/live is a WebSocket: connect with a WebSocket client".into(),
        })?;
    let snapshot = q.snapshot.unwrap_or(false);
    Ok(upgrade.on_upgrade(move |socket| async move {
        Client::new(state, principal)
            .run(socket, first, snapshot)
            .await
    }))
}

/// A subscription checked against the principal: the area inside its jurisdiction and known,
/// the kinds known.
fn subscription(
    state: &AppState,
    principal: &Principal,
    area: Option<&str>,
    kinds: Option<Vec<String>>,
) -> Result<Subscription, ApiError> {
    let area = scoped_area(state, principal, area)?;
    let kinds = match kinds {
        None => Kind::ALL.to_vec(),
        Some(names) => names
            .iter()
            .map(|name| {
                Kind::parse(name).ok_or_else(|| {
                    ApiError::bad_request(
                        "bad_kinds",
                        format!("unknown kind {name:?}: use fixes, status, alerts, events"),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(Subscription { area, kinds })
}

/// One connected client: its subscription, its outbox, and when it was last heard from.
struct Client {
    state: AppState,
    principal: Arc<Principal>,
    subscription: Mutex<Option<Subscription>>,
    outbox: Mutex<Outbox>,
    wake: Notify,
    heard_at: AtomicI64,
    /// The board version the last snapshot showed: worker updates published up to it are
    /// older than what the client has (they may still wait in its broadcast queue after a
    /// re-subscribe) and are dropped, so no stale position or status follows a snapshot.
    shown_version: AtomicU64,
}

impl Client {
    fn new(state: AppState, principal: Arc<Principal>) -> Arc<Client> {
        Arc::new(Client {
            state,
            principal,
            subscription: Mutex::new(None),
            outbox: Mutex::new(Outbox::default()),
            wake: Notify::new(),
            heard_at: AtomicI64::new(now_s()),
            shown_version: AtomicU64::new(0),
        })
    }

    /// Serves the client until it leaves, goes silent or its socket fails.
    async fn run(self: Arc<Client>, socket: WebSocket, first: Subscription, snapshot: bool) {
        metrics::gauge!(CLIENTS_METRIC).increment(1.0);
        let published = self.state.writes.subscribe();
        self.subscribe(first, snapshot);
        let (sink, stream) = socket.split();
        let pump = tokio::spawn(self.clone().pump(published, stream));
        self.write(sink).await;
        pump.abort();
        let left = self.lock_outbox().len();
        metrics::gauge!(QUEUED_METRIC).decrement(left as f64);
        metrics::gauge!(CLIENTS_METRIC).decrement(1.0);
    }

    /// Moves published batches and the client's own messages into the outbox; never waits
    /// for the socket, so a slow client cannot hold up the broadcast.
    async fn pump(
        self: Arc<Client>,
        mut published: broadcast::Receiver<Arc<crate::write::Published>>,
        mut stream: futures::stream::SplitStream<WebSocket>,
    ) {
        loop {
            tokio::select! {
                batch = published.recv() => match batch {
                    Ok(batch) => self.take(&batch),
                    Err(broadcast::error::RecvError::Lagged(missed)) => self.resync(missed),
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                frame = stream.next() => match frame {
                    Some(Ok(frame)) => {
                        self.heard_at.store(now_s(), Ordering::Relaxed);
                        if !self.receive(frame) {
                            break;
                        }
                    }
                    _ => break,
                },
            }
        }
        // The writer ends when the pump does.
        self.heard_at.store(i64::MIN, Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// Sends what the outbox holds whenever it is woken, and heartbeats.
    async fn write(&self, mut sink: futures::stream::SplitSink<WebSocket, Message>) {
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.tick().await;
        loop {
            tokio::select! {
                () = self.wake.notified() => {}
                _ = heartbeat.tick() => {
                    let silent = now_s().saturating_sub(self.heard_at.load(Ordering::Relaxed));
                    if silent > SILENT_HEARTBEATS * HEARTBEAT.as_secs() as i64 {
                        break;
                    }
                    let beat = json!({"type": "heartbeat", "at": self.state.clock.now()});
                    self.push(Outgoing::other(&beat));
                    if sink.send(Message::Ping(Default::default())).await.is_err() {
                        break;
                    }
                }
            }
            if self.heard_at.load(Ordering::Relaxed) == i64::MIN {
                break;
            }
            let messages = self.lock_outbox().drain();
            metrics::gauge!(QUEUED_METRIC).decrement(messages.len() as f64);
            // One flush for all: a batch of fixes is a few hundred messages, and a flush per
            // message was a write to the socket (and a wake-up of the client) per message.
            for message in messages {
                if sink.feed(Message::Text(message)).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
        let _ = sink.close().await;
    }

    /// The subscription's messages of a published batch.
    fn take(&self, batch: &crate::write::Published) {
        if crate::live::already_shown(batch, self.shown_version.load(Ordering::Relaxed)) {
            return;
        }
        let subscription = self.lock_subscription().clone();
        let Some(subscription) = subscription else {
            return;
        };
        let rendered = batch.rendered.get_or_init(|| {
            let rules = *self.state.engine.workers().rules();
            crate::live::render(batch, &rules)
        });
        if self.push_all(subscription.messages(rendered)) {
            self.wake.notify_one();
        }
    }

    /// After missing batches: says so and sends the current state again.
    fn resync(&self, missed: u64) {
        self.push(Outgoing::other(
            &json!({"type": "lagged", "dropped": missed}),
        ));
        let subscription = self.lock_subscription().clone();
        if let Some(subscription) = subscription {
            self.push(Outgoing::Snapshot(
                self.snapshot(&subscription).to_string().into(),
            ));
        }
        self.wake.notify_one();
    }

    /// Handles a frame from the client; `false` when it closed.
    fn receive(&self, frame: Message) -> bool {
        match frame {
            Message::Text(text) => {
                if let Err(e) = self.resubscribe(text.as_str()) {
                    let error = json!({"type": "error", "code": e.code, "message": e.message});
                    self.push(Outgoing::other(&error));
                    self.wake.notify_one();
                }
                true
            }
            Message::Close(_) => false,
            _ => true,
        }
    }

    fn resubscribe(&self, text: &str) -> Result<(), ApiError> {
        let message: SubscribeMessage = serde_json::from_str(text)
            .map_err(|e| ApiError::bad_request("bad_message", e.to_string()))?;
        if message.kind != "subscribe" {
            return Err(ApiError::bad_request(
                "bad_message",
                format!("unknown message type {:?}: send subscribe", message.kind),
            ));
        }
        let subscription = subscription(
            &self.state,
            &self.principal,
            message.area.as_deref(),
            message.kinds,
        )?;
        self.subscribe(subscription, message.snapshot.unwrap_or(false));
        Ok(())
    }

    /// Replaces the subscription, confirms it and sends the snapshot when asked.
    fn subscribe(&self, subscription: Subscription, snapshot: bool) {
        let kinds: Vec<&str> = subscription.kinds.iter().map(|k| k.as_str()).collect();
        self.push(Outgoing::other(
            &json!({"type": "subscribed", "area": subscription.area, "kinds": kinds}),
        ));
        if snapshot {
            self.push(Outgoing::Snapshot(
                self.snapshot(&subscription).to_string().into(),
            ));
        }
        *self.lock_subscription() = Some(subscription);
        self.wake.notify_one();
    }

    /// Every worker in the subscription's area and the open alerts, now; remembers the board
    /// version it shows.
    fn snapshot(&self, subscription: &Subscription) -> Value {
        let board = self.state.engine.workers();
        self.shown_version.store(board.version(), Ordering::Relaxed);
        let rules = *board.rules();
        let views = board.views(|v| subscription.covers(v));
        let alerts: Vec<Value> = views
            .iter()
            .filter_map(|v| v.alert.as_ref())
            .map(alert_json)
            .collect();
        let workers: Vec<Value> = views
            .into_iter()
            .map(|v| worker_feature(v, &rules, Crs::Wgs84, None))
            .collect();
        json!({
            "type": "snapshot",
            "at": self.state.clock.now(),
            "workers": {"type": "FeatureCollection", "features": workers},
            "alerts": alerts,
        })
    }

    fn push(&self, message: Outgoing) {
        self.push_all(std::iter::once(message));
    }

    /// Queues messages under one lock and one gauge update (a batch is hundreds of messages
    /// for each client); answers whether there were any.
    fn push_all(&self, messages: impl Iterator<Item = Outgoing>) -> bool {
        let mut outbox = self.lock_outbox();
        let before = outbox.len();
        let mut any = false;
        for message in messages {
            outbox.push(message);
            any = true;
        }
        let grown = outbox.len() as f64 - before as f64;
        drop(outbox);
        if grown != 0.0 {
            metrics::gauge!(QUEUED_METRIC).increment(grown);
        }
        any
    }

    fn lock_outbox(&self) -> std::sync::MutexGuard<'_, Outbox> {
        self.outbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_subscription(&self) -> std::sync::MutexGuard<'_, Option<Subscription>> {
        self.subscription
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
