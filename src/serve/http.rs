//! HTTP connections served by one single-threaded runtime per core.
//!
//! The rule: one acceptor deals the accepted connections round-robin to as many threads as the
//! machine has cores; each thread runs its own current-thread runtime and keeps every
//! connection it is given for the connection's whole life, as nginx's worker processes do.
//! Handlers run on the thread of their connection and hand heavy work (tile rendering, the
//! GeoPackage store) to that runtime's blocking pool, which has one thread: as many threads do
//! heavy work as there are cores, and they queue rather than oversubscribe them.
//!
//! Why: answering a cached tile is a few microseconds of work, and on tokio's work-stealing
//! runtime a fifth of the CPU of serving cached tiles went to waking idle workers and switching
//! between them. Dealing connections (not requests) keeps the load even without stealing.
//!
//! A client must not hold a connection for nothing (config `header_read_timeout_s`,
//! `idle_timeout_s`, `max_connections`): a request's line and headers must arrive within the
//! header-read timeout of its first byte (a new connection's first request: of the connection's
//! opening), and a connection with no request in progress is closed after the idle timeout; a
//! request being answered is never cut. At most `max_connections` are served at once: the
//! acceptor stops accepting at the cap, so further clients wait in the kernel's listen queue
//! (their connect succeeds, their request is answered once a connection closes) rather than
//! being refused; a full queue makes the kernel refuse them.
//!
//! A request announcing a body over the limit of every route (`Content-Length`) is answered 413
//! before its body is read; one that streams more is refused by the route's extractor.
//!
//! `X-Forwarded-*` headers are removed from the requests of every connection that does not
//! come from a trusted proxy (config `trusted_proxies`), so no handler can be told a made-up
//! host or scheme.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName};
use axum::response::IntoResponse;
use axum::Router;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

use crate::api::error::{ApiError, BODY_LIMIT_BYTES};
use crate::config::{ConnectionLimits, TrustedProxies};

/// How connections are served: their limits and whom to believe forwarded headers from.
#[derive(Debug, Clone, Default)]
pub struct ConnectionRules {
    pub limits: ConnectionLimits,
    pub trusted_proxies: TrustedProxies,
}

/// A connection handed from the acceptor to a serving thread, with its place under the cap
/// (given back when the connection closes).
struct Handoff {
    stream: std::net::TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
}

/// Serves `app` on the connections of `listener` from one thread per core until `shutdown`
/// completes; then stops accepting, lets running requests finish and returns.
pub async fn serve_per_core(
    listener: TcpListener,
    app: Router,
    rules: ConnectionRules,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rules = Arc::new(rules);
    let (stop, stopped) = watch::channel(false);
    let mut lanes = Vec::with_capacity(cores);
    let mut threads = Vec::with_capacity(cores);
    for i in 0..cores {
        let (lane, dealt) = mpsc::unbounded_channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            // One blocking thread per core in all: uncached tiles render there, and with
            // tokio's default (up to 512) sixteen connections rendering at once ran sixteen
            // threads on two cores, 30 % fewer tiles/s than one each.
            .max_blocking_threads(1)
            .build()?;
        let lane_app = app.clone();
        let lane_rules = rules.clone();
        let stopped = stopped.clone();
        let thread = std::thread::Builder::new()
            .name(format!("gridmap-http-{i}"))
            .spawn(move || runtime.block_on(serve_lane(dealt, lane_app, lane_rules, stopped)))?;
        lanes.push(lane);
        threads.push(thread);
    }
    let cap = Arc::new(Semaphore::new(rules.limits.max_connections));
    deal(&listener, &lanes, &cap, shutdown).await;
    drop(listener);
    let _ = stop.send(true);
    drop(lanes);
    tokio::task::spawn_blocking(move || {
        threads.into_iter().try_for_each(|t| {
            t.join()
                .map_err(|_| std::io::Error::other("an HTTP thread panicked"))
        })
    })
    .await
    .map_err(std::io::Error::other)?
}

/// Serves the connections dealt to one thread until `stopped`, then waits for them to end
/// (each finishes its running request and closes).
async fn serve_lane(
    mut dealt: mpsc::UnboundedReceiver<Handoff>,
    app: Router,
    rules: Arc<ConnectionRules>,
    stopped: watch::Receiver<bool>,
) {
    let mut stop_signal = stopped.clone();
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            handoff = dealt.recv() => match handoff {
                Some(handoff) => {
                    connections.spawn(serve_connection(handoff, app.clone(), rules.clone(), stopped.clone()));
                }
                None => break,
            },
            _ = stop_signal.wait_for(|s| *s) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    while connections.join_next().await.is_some() {}
}

/// Serves one connection until the client closes it, it outstays a timeout (see the module
/// doc) or the server stops.
async fn serve_connection(
    handoff: Handoff,
    app: Router,
    rules: Arc<ConnectionRules>,
    mut stopped: watch::Receiver<bool>,
) {
    let Handoff {
        stream,
        peer,
        permit,
    } = handoff;
    let stream = match TcpStream::from_std(stream) {
        Ok(stream) => stream,
        Err(e) => {
            tracing::warn!(error = %e, %peer, "cannot take over a connection");
            return;
        }
    };
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let trusted = rules.trusted_proxies.contains(peer.ip());
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            let busy = activity.request_started();
            if !trusted {
                drop_forwarded_headers(request.headers_mut());
            }
            let answer = (!declares_too_long_a_body(request.headers()))
                .then(|| app.clone().oneshot(request.map(Body::new)));
            async move {
                let response = match answer {
                    Some(answer) => answer.await,
                    None => Ok(ApiError::body_too_large().into_response()),
                };
                drop(busy);
                response
            }
        })
    };
    let connection = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .with_upgrades();
    tokio::pin!(connection);
    let limits = rules.limits;
    let tick = limits.header_read_timeout.min(limits.idle_timeout) / 4;
    let mut stopping = false;
    loop {
        let wake = activity
            .deadline(&limits)
            .map_or(Instant::now() + tick, |d| d.min(Instant::now() + tick));
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(e) = served {
                    tracing::debug!(error = %e, %peer, "connection ended with an error");
                }
                break;
            }
            _ = stopped.wait_for(|s| *s), if !stopping => {
                connection.as_mut().graceful_shutdown();
                stopping = true;
            }
            () = tokio::time::sleep_until(wake.into()) => {
                if activity.deadline(&limits).is_some_and(|d| d <= Instant::now()) {
                    tracing::debug!(%peer, "closing a connection that outstayed its timeout");
                    break;
                }
            }
        }
    }
    drop(permit);
}

/// Whether the request announces a body longer than any route accepts: it is refused before a
/// byte of the body is read (a client waiting for `100 Continue` sends none).
fn declares_too_long_a_body(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|length| length > BODY_LIMIT_BYTES as u64)
}

/// The headers a reverse proxy sets to tell where a request came from and how.
const FORWARDED_HEADERS: [&str; 7] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-forwarded-proto",
    "x-real-ip",
];

/// Removes the headers of [`FORWARDED_HEADERS`] (every value of each).
fn drop_forwarded_headers(headers: &mut HeaderMap) {
    for name in FORWARDED_HEADERS {
        if let axum::http::header::Entry::Occupied(entry) =
            headers.entry(HeaderName::from_static(name))
        {
            entry.remove_entry_mult();
        }
    }
}

/// What one connection is doing, for its timeouts: times are milliseconds since `opened`.
struct Activity {
    opened: Instant,
    /// Requests handed to the router and not answered yet.
    in_flight: AtomicUsize,
    /// When the first byte of a request not yet handed to the router arrived ([`NOT_YET`]:
    /// none arrived since the last request was handed over).
    head_started: AtomicU64,
    /// When the connection last wrote, or finished answering a request.
    last_active: AtomicU64,
}

/// [`Activity::head_started`] when no request is being read.
const NOT_YET: u64 = u64::MAX;

/// A request being answered, as long as this lives.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Activity {
    /// A connection opened now: its first request is timed from now.
    fn new() -> Activity {
        Activity {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            head_started: AtomicU64::new(0),
            last_active: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(NOT_YET - 1)
    }

    fn at(&self, ms: u64) -> Instant {
        self.opened + Duration::from_millis(ms)
    }

    /// Records that the connection was active now.
    fn touch(&self) {
        self.last_active.store(self.now_ms(), Ordering::Relaxed);
    }

    /// Records bytes read: the start of a request head when none is in progress.
    fn read_some(&self) {
        if self.in_flight.load(Ordering::Relaxed) == 0 {
            let now = self.now_ms();
            let _ = self.head_started.compare_exchange(
                NOT_YET,
                now,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    /// Records a request handed to the router; it is answered when the returned guard drops.
    fn request_started(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.head_started.store(NOT_YET, Ordering::Relaxed);
        Busy(self.clone())
    }

    /// When the connection is to be closed if nothing changes: none while a request is being
    /// answered, the header-read deadline while one is being read, else the idle deadline.
    fn deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        match self.head_started.load(Ordering::Relaxed) {
            NOT_YET => {
                Some(self.at(self.last_active.load(Ordering::Relaxed)) + limits.idle_timeout)
            }
            started => Some(self.at(started) + limits.header_read_timeout),
        }
    }
}

/// A connection's stream, reporting its reads and writes to its [`Activity`].
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.read_some();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Accepts connections, each once a place under `cap` is free, and deals them round-robin to
/// `lanes` until `shutdown` completes.
async fn deal(
    listener: &TcpListener,
    lanes: &[mpsc::UnboundedSender<Handoff>],
    cap: &Arc<Semaphore>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut next = 0usize;
    loop {
        let permit = match cap.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                tracing::warn!(
                    "serving max_connections connections: new ones wait until one closes"
                );
                tokio::select! {
                    () = &mut shutdown => return,
                    permit = cap.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => return,
                    },
                }
            }
        };
        let accepted = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => accepted,
        };
        match accepted.and_then(|(stream, peer)| handoff(stream, peer, permit)) {
            Ok(handoff) => {
                let _ = lanes[next % lanes.len()].send(handoff);
                next = next.wrapping_add(1);
            }
            Err(e) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                tracing::warn!(error = %e, "cannot accept a connection");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

/// A connection ready to move to another runtime. Answers are written whole, one write each:
/// they go out at once rather than wait for the client's ACK of the previous one (Nagle), as
/// tile clients keep connections alive.
fn handoff(
    stream: TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
) -> std::io::Result<Handoff> {
    stream.set_nodelay(true)?;
    Ok(Handoff {
        stream: stream.into_std()?,
        peer,
        permit,
    })
}
