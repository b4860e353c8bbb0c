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

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

/// A connection handed from the acceptor to a serving thread.
type Handoff = (std::net::TcpStream, SocketAddr);

/// The connections dealt to one serving thread, as axum's listener.
struct Dealt(mpsc::UnboundedReceiver<Handoff>);

impl axum::serve::Listener for Dealt {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            let Some((stream, addr)) = self.0.recv().await else {
                // The acceptor is gone: no more connections come; shutdown ends the serving.
                return std::future::pending().await;
            };
            match TcpStream::from_std(stream) {
                Ok(stream) => return (stream, addr),
                Err(e) => tracing::warn!(error = %e, %addr, "cannot take over a connection"),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Err(std::io::Error::other(
            "a dealt listener has no address of its own",
        ))
    }
}

/// Serves `app` on the connections of `listener` from one thread per core until `shutdown`
/// completes; then stops accepting, lets running requests finish and returns.
pub async fn serve_per_core(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
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
        let app = app.clone();
        let mut stopped = stopped.clone();
        let thread = std::thread::Builder::new()
            .name(format!("gridmap-http-{i}"))
            .spawn(move || {
                let stop = async move {
                    let _ = stopped.wait_for(|s| *s).await;
                };
                runtime.block_on(async move {
                    axum::serve(Dealt(dealt), app)
                        .with_graceful_shutdown(stop)
                        .await
                })
            })?;
        lanes.push(lane);
        threads.push(thread);
    }
    deal(&listener, &lanes, shutdown).await;
    drop(listener);
    let _ = stop.send(true);
    drop(lanes);
    tokio::task::spawn_blocking(move || {
        threads.into_iter().try_for_each(|t| {
            t.join()
                .map_err(|_| std::io::Error::other("an HTTP thread panicked"))?
        })
    })
    .await
    .map_err(std::io::Error::other)?
}

/// Accepts connections and deals them round-robin to `lanes` until `shutdown` completes.
async fn deal(
    listener: &TcpListener,
    lanes: &[mpsc::UnboundedSender<Handoff>],
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut next = 0usize;
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => accepted,
        };
        match accepted.and_then(|(stream, addr)| handoff(stream, addr)) {
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
fn handoff(stream: TcpStream, addr: SocketAddr) -> std::io::Result<Handoff> {
    stream.set_nodelay(true)?;
    Ok((stream.into_std()?, addr))
}
