//! The HTTP server: accepts connections up to a cap, gives each client a
//! bounded time to send its request headers and to start its next request,
//! and stops gracefully (requests in flight finish).
//!
//! Stopping loses no request a proxy sent: the connections already in the
//! listen queue are accepted and served before the listener closes (new
//! ones are refused, which a proxy may safely retry elsewhere), and every
//! answer from then on says `Connection: close`, so that a proxy's kept-
//! alive connection ends after an answer, never under a request it is
//! sending. Idle kept-alive connections are left for their client to
//! close, for at most the time the shutdown gives (`Linger`).
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
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    task::Poll,
    time::Duration,
};

use axum::{body::Body, extract::ConnectInfo, Router};
use futures::FutureExt as _;
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::TokioIo;
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{watch, Semaphore},
};
use tower::ServiceExt as _;

use crate::config::ConnectionLimits;

mod activity;

use activity::{check_period, Activity, Connections, InFlight, Signal, Watched};

/// How long, once stopping, idle kept-alive connections are left for their
/// client to close (a proxy closes its idle ones before Candor's
/// `keep_alive_timeout`); zero closes them at once.
pub type Linger = Duration;

/// Serves `app` on `listener` until `shutdown` completes, then waits for the
/// requests in flight.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = Linger>,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(connection_cap(limits.max_connections)));
    let connections = Arc::new(Connections::default());
    // One task keeps every connection's time limits, so that a connection's
    // own task does nothing per request for them.
    let keeper = AbortOnDrop(tokio::spawn(keep_limits(connections.clone(), limits)));
    // Held by the connections, so `closed()` says when the last one is gone.
    let (done_tx, done_rx) = watch::channel(());
    // Set once stopping: every answer then closes its connection.
    let closing = Arc::new(AtomicBool::new(false));
    let mut shutdown = pin!(shutdown.fuse());
    let linger = loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_error(err).await;
                    continue;
                }
            },
            linger = &mut shutdown => break linger,
        };
        // At the cap, the connection that has waited longest for a
        // request's headers makes room (a slow client must not keep a
        // reader out); when every one has a request in flight, the new one
        // waits for the first to close.
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                connections.evict_one();
                tokio::select! {
                    slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
                    linger = &mut shutdown => {
                        closing.store(true, Ordering::Release);
                        spawn_connection(&connections, stream, peer, &app, &closing, (None, done_rx.clone()));
                        break linger;
                    }
                }
            }
        };
        spawn_connection(
            &connections,
            stream,
            peer,
            &app,
            &closing,
            (Some(slot), done_rx.clone()),
        );
    };
    closing.store(true, Ordering::Release);
    // What the kernel already accepted for us may carry a request: served
    // (past the cap), not reset by closing the listener.
    for (stream, peer) in queued_connections(listener) {
        spawn_connection(
            &connections,
            stream,
            peer,
            &app,
            &closing,
            (None, done_rx.clone()),
        );
    }
    drop(done_rx);
    if tokio::time::timeout(linger, done_tx.closed())
        .await
        .is_err()
    {
        connections.stop_all();
        done_tx.closed().await;
    }
    drop(keeper);
    Ok(())
}

/// Serves one connection in a task of its own; `held` (its slot under the
/// cap, and the sender's count of open connections) is let go when it ends.
fn spawn_connection(
    connections: &Arc<Connections>,
    stream: TcpStream,
    peer: SocketAddr,
    app: &Router,
    closing: &Arc<AtomicBool>,
    held: (
        Option<tokio::sync::OwnedSemaphorePermit>,
        watch::Receiver<()>,
    ),
) {
    let registered = connections.add();
    let (app, closing) = (app.clone(), closing.clone());
    tokio::spawn(async move {
        serve_connection(stream, peer, app, registered.activity(), closing).await;
        // Off the list before the slot is free: the next eviction must
        // not pick this one again.
        drop(registered);
        drop(held);
    });
}

/// The connections waiting in the listen queue, accepted without waiting;
/// the listener is closed when they have been taken.
fn queued_connections(listener: TcpListener) -> Vec<(TcpStream, SocketAddr)> {
    let mut queued = Vec::new();
    let Ok(listener) = listener.into_std() else {
        return queued;
    };
    // Still non-blocking (tokio's): `WouldBlock` once the queue is empty.
    while let Ok((stream, peer)) = listener.accept() {
        let stream = stream
            .set_nonblocking(true)
            .and_then(|()| TcpStream::from_std(stream));
        if let Ok(stream) = stream {
            queued.push((stream, peer));
        }
    }
    queued
}

/// Checks every connection's time limits, a few times per limit.
async fn keep_limits(connections: Arc<Connections>, limits: ConnectionLimits) {
    let mut tick = tokio::time::interval(check_period(&limits));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        connections.check_all(&limits);
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    activity: Arc<Activity>,
    closing: Arc<AtomicBool>,
) {
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            // Handlers read the peer for the audit log and the per-IP limit.
            request.extensions_mut().insert(ConnectInfo(peer));
            let in_flight = InFlight::start(activity.clone());
            let closing = closing.clone();
            app.clone()
                .oneshot(request.map(Body::new))
                .map(move |response| {
                    drop(in_flight);
                    let mut response = response.unwrap_or_else(|never| match never {});
                    if closing.load(Ordering::Acquire) {
                        // The client learns with this answer that the
                        // connection ends: it sends nothing more on it.
                        response.headers_mut().insert(
                            hyper::header::CONNECTION,
                            hyper::header::HeaderValue::from_static("close"),
                        );
                    }
                    Ok::<_, Infallible>(response)
                })
        })
    };
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    // No timer for hyper: its header timeout armed and dropped a timer on
    // every request (about 3% of a cached page's CPU); `keep_limits` keeps
    // both limits with a clock read per request instead.
    let mut connection = pin!(http1::Builder::new().serve_connection(io, service));
    let mut stopping = false;
    let ended = std::future::poll_fn(|cx| {
        match activity.signal(cx) {
            Signal::None => {}
            // Half a request: nothing is in flight, close at once.
            Signal::Close => return Poll::Ready(None),
            // Between requests it closes at once; nothing is cut short.
            Signal::Finish => {
                if !std::mem::replace(&mut stopping, true) {
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
        connection.as_mut().poll(cx).map(Some)
    })
    .await;
    match ended {
        Some(Ok(())) => {}
        Some(Err(err)) => tracing::debug!(error = %err, %peer, "connection ended"),
        None => tracing::debug!(%peer, "request headers too slow: connection closed"),
    }
}

/// Descriptors kept for what is not a client: the database pool, SMTP and
/// webhook connections, the listener, files, and the one connection taken
/// beyond the cap while another makes room for it.
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
}
