//! The HTTP server: accepts connections up to a cap, gives each client a
//! bounded time to send its request headers and to start its next request,
//! and stops gracefully (requests in flight finish).
//!
//! `axum::serve` kept a connection that sent half a request for ever, so
//! about a thousand such clients used up the usual 1,024 descriptors and
//! `/healthz` stopped answering (issue 11).

use std::{
    convert::Infallible,
    future::Future,
    io,
    net::SocketAddr,
    pin::pin,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use axum::{body::Body, extract::ConnectInfo, Router};
use futures::FutureExt as _;
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{watch, Semaphore},
};
use tower::ServiceExt as _;

use crate::config::ConnectionLimits;

/// Serves `app` on `listener` until `shutdown` completes, then waits for the
/// requests in flight.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(connection_cap(limits.max_connections)));
    // Dropped to tell every connection to finish; its receivers are held by
    // the connections, so `closed()` says when the last one is gone.
    let (stop_tx, stop_rx) = watch::channel(());
    let (done_tx, done_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown.fuse());
    loop {
        // At the cap, new connections wait in the listen queue until one of
        // ours closes (each client's time is bounded, so one will).
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_error(err).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let (app, stop_rx, done_rx) = (app.clone(), stop_rx.clone(), done_rx.clone());
        tokio::spawn(async move {
            serve_connection(stream, peer, app, limits, stop_rx).await;
            drop((slot, done_rx));
        });
    }
    drop(listener);
    drop(stop_tx);
    drop(stop_rx);
    drop(done_rx);
    done_tx.closed().await;
    Ok(())
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<()>,
) {
    let activity = Arc::new(Activity::new());
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            // Handlers read the peer for the audit log and the per-IP limit.
            request.extensions_mut().insert(ConnectInfo(peer));
            let in_flight = InFlight::start(activity.clone());
            app.clone()
                .oneshot(request.map(Body::new))
                .map(move |response| {
                    drop(in_flight);
                    Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
                })
        })
    };
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    // No timer for hyper: its header timeout armed and dropped a timer on
    // every request (about 3% of a cached page's CPU); the checks below
    // keep both limits with a clock read per request instead.
    let mut connection = pin!(http1::Builder::new().serve_connection(io, service));
    let mut stopping = false;
    let mut idle = IdleWatch::default();
    let mut check = tokio::time::interval(check_period(&limits));
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(error = %err, %peer, "connection ended");
                }
                return;
            }
            _ = stop.changed(), if !stopping => {
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
            _ = check.tick() => {
                match activity.check(&limits, &mut idle) {
                    Verdict::Busy => {}
                    // Half a request: nothing is in flight, close at once.
                    Verdict::HeadTooSlow => {
                        tracing::debug!(%peer, "request headers too slow: connection closed");
                        return;
                    }
                    // Between requests: closes at once; nothing is cut short.
                    Verdict::Idle if !stopping => {
                        stopping = true;
                        connection.as_mut().graceful_shutdown();
                    }
                    Verdict::Idle => {}
                }
            }
        }
    }
}

/// Descriptors kept for what is not a client: the database pool, SMTP and
/// webhook connections, the listener, files.
const RESERVED_DESCRIPTORS: u64 = 128;

/// The configured cap, lowered (with a warning) when the process may not
/// open that many descriptors and the reserve, so that accepting never
/// fails for want of one.
fn connection_cap(configured: usize) -> usize {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes the struct it is given.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0
            || limit.rlim_cur == libc::RLIM_INFINITY
        {
            return configured;
        }
        let room = usize::try_from(limit.rlim_cur.saturating_sub(RESERVED_DESCRIPTORS))
            .unwrap_or(usize::MAX)
            .max(1);
        if configured > room {
            tracing::warn!(
                max_connections = configured,
                descriptors = limit.rlim_cur,
                serving = room,
                "max_connections is more than the descriptor limit allows; raise `ulimit -n`"
            );
            return room;
        }
    }
    configured
}

/// How often a connection checks its time limits: a quarter of the
/// shorter one, so each is kept to within a quarter of itself.
fn check_period(limits: &ConnectionLimits) -> Duration {
    (limits.keep_alive_timeout.min(limits.header_read_timeout) / 4)
        .clamp(Duration::from_millis(100), Duration::from_secs(5))
}

/// What a connection has been doing, told apart without a clock read per
/// byte: requests in flight, a count of moves (bytes or answers), and when
/// the head of the next request started to arrive.
struct Activity {
    started: Instant,
    in_flight: AtomicU64,
    /// Bumped on every read or write that moved bytes, and when an answer
    /// is done.
    moves: AtomicU64,
    /// Milliseconds since `started`, plus one, of the first byte read
    /// while no request was in flight; 0 when none is waiting. A new
    /// connection starts waiting for its first request at once.
    head_since: AtomicU64,
}

/// What the periodic check concluded.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Busy,
    /// A request's head has been arriving for longer than the header timeout.
    HeadTooSlow,
    /// Nothing moved for the keep-alive timeout.
    Idle,
}

/// The checker's own memory between ticks.
#[derive(Default)]
struct IdleWatch {
    moves: u64,
    /// Since when nothing moved, as far as the ticks can tell.
    still_since: Option<Instant>,
}

impl Activity {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            in_flight: AtomicU64::new(0),
            moves: AtomicU64::new(0),
            head_since: AtomicU64::new(1),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Bytes moved. Read by the check of the same task: a relaxed count.
    fn moved(&self) {
        self.moves.store(
            self.moves.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
    }

    /// Bytes read: the head of a request starts when none is in flight.
    fn read(&self) {
        self.moved();
        if self.in_flight.load(Ordering::Relaxed) == 0
            && self.head_since.load(Ordering::Relaxed) == 0
        {
            self.head_since
                .store(self.now_ms().saturating_add(1), Ordering::Relaxed);
        }
    }

    fn check(&self, limits: &ConnectionLimits, watch: &mut IdleWatch) -> Verdict {
        let now = Instant::now();
        let moves = self.moves.load(Ordering::Relaxed);
        let moved = std::mem::replace(&mut watch.moves, moves) != moves;
        if self.in_flight.load(Ordering::Acquire) > 0 {
            watch.still_since = Some(now);
            return Verdict::Busy;
        }
        // Bytes that trickle in do not extend the header timeout.
        let head_since = self.head_since.load(Ordering::Relaxed);
        if head_since > 0 {
            let waited = self.now_ms().saturating_add(1).saturating_sub(head_since);
            if Duration::from_millis(waited) >= limits.header_read_timeout {
                return Verdict::HeadTooSlow;
            }
        }
        if moved {
            watch.still_since = Some(now);
            return Verdict::Busy;
        }
        // Nothing moved since the last tick: still since then at least.
        let still_since = *watch.still_since.get_or_insert(now);
        if now.duration_since(still_since) >= limits.keep_alive_timeout {
            Verdict::Idle
        } else {
            Verdict::Busy
        }
    }
}

/// One request in flight on a connection, until dropped.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        activity.head_since.store(0, Ordering::Relaxed);
        Self(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.moved();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A client's stream that notes each byte moved, for the idle check.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.read();
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.moved();
        }
        result
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.moved();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// As hyper did: a client that gave up before we accepted is no news; out
/// of descriptors (say), wait a second for some to close.
async fn accept_error(err: io::Error) {
    if matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %err, "cannot accept a connection");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_fits_the_descriptor_limit() {
        assert_eq!(connection_cap(10), 10);
        let most = connection_cap(usize::MAX);
        assert!(most >= 1);
        #[cfg(unix)]
        {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: as above.
            assert_eq!(
                unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
                0
            );
            if limit.rlim_cur != libc::RLIM_INFINITY {
                assert!((most as u64) + RESERVED_DESCRIPTORS <= limit.rlim_cur.max(129));
            }
        }
    }

    fn limits(header: u64, keep_alive: u64) -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(header),
            keep_alive_timeout: Duration::from_secs(keep_alive),
            max_connections: 1,
            request_timeout: Duration::from_secs(30),
        }
    }

    #[test]
    fn checks_come_often_enough_but_not_too_often() {
        assert_eq!(check_period(&limits(10, 1)), Duration::from_millis(250));
        assert_eq!(check_period(&limits(2, 5)), Duration::from_millis(500));
        assert_eq!(check_period(&limits(3600, 3600)), Duration::from_secs(5));
        let tiny = ConnectionLimits {
            keep_alive_timeout: Duration::from_millis(10),
            ..limits(1, 1)
        };
        assert_eq!(check_period(&tiny), Duration::from_millis(100));
    }

    #[test]
    fn a_request_in_flight_is_never_idle_nor_slow() {
        let activity = Activity::new();
        let limits = ConnectionLimits {
            header_read_timeout: Duration::ZERO,
            keep_alive_timeout: Duration::ZERO,
            ..limits(1, 1)
        };
        let mut watch = IdleWatch::default();
        let in_flight = InFlight::start(Arc::new(Activity::new()));
        let busy = &in_flight.0;
        assert_eq!(busy.check(&limits, &mut watch), Verdict::Busy);
        assert_eq!(busy.check(&limits, &mut watch), Verdict::Busy);
        // A fresh connection waits for its first head: past the header
        // timeout it is too slow.
        assert_eq!(activity.check(&limits, &mut watch), Verdict::HeadTooSlow);
    }
}
