//! What each connection has been doing, and the keeping of its time
//! limits: a request's headers must arrive within `header_read_timeout`,
//! and a connection that moves nothing for `keep_alive_timeout` is closed.
//!
//! The connection's own task only counts (a counter per move, a clock read
//! when a request's head starts); one task checks every connection a few
//! times per limit (`Connections::check_all`) and signals those to close.

use std::{
    collections::HashMap,
    io,
    sync::{
        atomic::{AtomicU64, AtomicU8, Ordering},
        Arc, Mutex,
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use futures::task::AtomicWaker;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
};

use crate::config::ConnectionLimits;

/// How often a connection checks its time limits: a quarter of the
/// shorter one, so each is kept to within a quarter of itself.
pub(super) fn check_period(limits: &ConnectionLimits) -> Duration {
    (limits.keep_alive_timeout.min(limits.header_read_timeout) / 4)
        .clamp(Duration::from_millis(100), Duration::from_secs(5))
}

/// What a connection has been doing, told apart without a clock read per
/// byte: requests in flight, a count of moves (bytes or answers), and when
/// the head of the next request started to arrive.
pub(super) struct Activity {
    started: Instant,
    /// What the keeper asked of the connection (`Signal`), and how it
    /// wakes the connection's task to see it.
    signal: AtomicU8,
    waker: AtomicWaker,
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
pub(super) enum Verdict {
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

const NONE: u8 = 0;
const FINISH: u8 = 1;
const CLOSE: u8 = 2;

/// What the keeper asks of a connection.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Signal {
    None,
    /// Finish the request in flight, if any, and close.
    Finish,
    /// Close now: half a request and nothing in flight.
    Close,
}

impl Activity {
    /// The keeper's signal, seen from the connection's task (which is woken
    /// when it changes).
    pub(super) fn signal(&self, cx: &Context<'_>) -> Signal {
        self.waker.register(cx.waker());
        match self.signal.load(Ordering::Acquire) {
            NONE => Signal::None,
            FINISH => Signal::Finish,
            _ => Signal::Close,
        }
    }

    fn send(&self, signal: u8) {
        if self.signal.fetch_max(signal, Ordering::AcqRel) < signal {
            self.waker.wake();
        }
    }

    /// `started` is the same for every connection (`Connections`), so
    /// that their times compare.
    fn new(started: Instant) -> Self {
        let since_start = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        Self {
            started,
            signal: AtomicU8::new(NONE),
            waker: AtomicWaker::new(),
            in_flight: AtomicU64::new(0),
            moves: AtomicU64::new(0),
            head_since: AtomicU64::new(since_start.saturating_add(1)),
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
pub(super) struct InFlight(Arc<Activity>);

impl InFlight {
    pub(super) fn start(activity: Arc<Activity>) -> Self {
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
pub(super) struct Watched {
    pub(super) inner: TcpStream,
    pub(super) activity: Arc<Activity>,
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

/// Every open connection, for the keeper.
pub(super) struct Connections {
    started: Instant,
    next: AtomicU64,
    open: Mutex<HashMap<u64, (Arc<Activity>, IdleWatch)>>,
}

impl Default for Connections {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            next: AtomicU64::new(0),
            open: Mutex::default(),
        }
    }
}

impl Connections {
    pub(super) fn add(self: &Arc<Self>) -> Registered {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let activity = Arc::new(Activity::new(self.started));
        self.lock()
            .insert(id, (activity.clone(), IdleWatch::default()));
        Registered {
            id,
            activity,
            connections: self.clone(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (Arc<Activity>, IdleWatch)>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Signals each connection past one of its limits.
    pub(super) fn check_all(&self, limits: &ConnectionLimits) {
        for (activity, watch) in self.lock().values_mut() {
            match activity.check(limits, watch) {
                Verdict::Busy => {}
                Verdict::HeadTooSlow => activity.send(CLOSE),
                Verdict::Idle => activity.send(FINISH),
            }
        }
    }

    /// Makes room for a new connection at the cap: closes the one that has
    /// waited longest for a request's headers (half a request, or nothing
    /// yet), or else asks an idle kept-alive one to close. A connection
    /// with a request in flight is never chosen. `false` when none could be.
    pub(super) fn evict_one(&self) -> bool {
        let open = self.lock();
        // Not one already told to go (it may not have gone yet), nor one
        // with a request in flight.
        let candidates = || {
            open.iter().filter(|(_, (a, _))| {
                a.signal.load(Ordering::Acquire) == NONE && a.in_flight.load(Ordering::Acquire) == 0
            })
        };
        let slowest = candidates()
            .filter(|(_, (a, _))| a.head_since.load(Ordering::Relaxed) > 0)
            .min_by_key(|(id, (a, _))| (a.head_since.load(Ordering::Relaxed), **id))
            .map(|(_, (a, _))| a);
        if let Some(activity) = slowest {
            activity.send(CLOSE);
            return true;
        }
        let idle = candidates().map(|(_, (a, _))| a).next();
        if let Some(activity) = idle {
            activity.send(FINISH);
            return true;
        }
        false
    }

    /// Asks every connection to finish what is in flight and close.
    pub(super) fn stop_all(&self) {
        for (activity, _) in self.lock().values() {
            activity.send(FINISH);
        }
    }
}

/// A connection on the list until dropped.
pub(super) struct Registered {
    id: u64,
    activity: Arc<Activity>,
    connections: Arc<Connections>,
}

impl Registered {
    pub(super) fn activity(&self) -> Arc<Activity> {
        self.activity.clone()
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.connections.lock().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let activity = Activity::new(Instant::now());
        let limits = ConnectionLimits {
            header_read_timeout: Duration::ZERO,
            keep_alive_timeout: Duration::ZERO,
            ..limits(1, 1)
        };
        let mut watch = IdleWatch::default();
        let in_flight = InFlight::start(Arc::new(Activity::new(Instant::now())));
        let busy = &in_flight.0;
        assert_eq!(busy.check(&limits, &mut watch), Verdict::Busy);
        assert_eq!(busy.check(&limits, &mut watch), Verdict::Busy);
        // A fresh connection waits for its first head: past the header
        // timeout it is too slow.
        assert_eq!(activity.check(&limits, &mut watch), Verdict::HeadTooSlow);
    }
}
