//! The page cache of the public read side (DESIGN.md §3). Every public GET
//! (`/`, incidents, history, `/api/v2/*`, feeds, badges, `embed.js`) is
//! rendered once per state and then served from memory: a strong `ETag`
//! (a hash of the bytes), `Last-Modified`, a short `Cache-Control`, gzip and
//! brotli bodies, `304` on `If-None-Match` / `If-Modified-Since`, and `HEAD`.
//!
//! A rendering is thrown away when
//! - the state changed: `AppState::page_changes` moved (bumped after every
//!   admin write; at once when another instance on the same PostgreSQL
//!   writes, by LISTEN/NOTIFY (`Store::watch_changes`); and whenever the
//!   store's `page_version` moves, the fallback for anything else: it is
//!   asked at most once a second, by one request, while the others are
//!   served);
//! - or time made it untrue: each response carries an [`Until`], the next
//!   instant its words change by themselves (an update becoming overdue, an
//!   ETA passing, "in 12 min" becoming "in 11 min", midnight), checked
//!   against `state.clock` on every request, so it needs no timer.
//!
//! A rendering that fails (the database does not answer, a row cannot be
//! read, the page is too large) never reaches readers while a last good
//! rendering exists: they get those bytes, HTML pages with a notice of when
//! they were last refreshed, and the failure is logged once per state of
//! the pages. A new rendering is tried again every few seconds.
//!
//! The query string is not part of a page: no public page reads one, so
//! `/?x=1` is `/`, and a flood of made-up queries costs no rendering.
//!
//! Compression is done here, once per rendering, rather than by tower-http's
//! `CompressionLayer`: that layer compresses every response again, which
//! would cost far more CPU per request than serving the page itself, and
//! would make the ETag (which must differ per content coding) its problem.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{
    atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering},
    Arc, Mutex, RwLock,
};
use std::time::Instant;

use tower::ServiceExt as _;

use axum::{
    body::{Body, Bytes},
    extract::Request,
    http::{header, HeaderMap, Method, StatusCode},
    response::{IntoResponse, Response},
};
use jiff::Timestamp;

use super::{
    error::{Failure, PageError},
    AppState,
};

mod entry;
mod layer;
mod until;

use entry::{Cached, Stale};
pub use layer::PageCacheLayer;
pub use until::{relative_changes_after, Until};

/// What browsers and proxies may reuse without asking: short, so that news
/// reaches readers within half a minute even from a proxy.
const CACHE_CONTROL: &str = "public, max-age=30";
/// How often the store's `page_version` is asked.
const POLL_MS: u64 = 1_000;
/// Pages kept at most (one per incident read, plus the fixed ones).
const MAX_ENTRIES: usize = 1_024;
/// Larger responses are not kept.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// How long the store's `page_version` is waited for: the reader who asks
/// must not wait for a database that does not answer.
const POLL_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(300);
/// After a failed rendering, the last good one is served for this long
/// before a new rendering is tried (by one reader; the others are served).
const RETRY_FAILED: std::time::Duration =
    std::time::Duration::from_secs(super::error::RETRY_AFTER_SECS as u64);

/// Resets the "someone is asking the store" flag however the asking ends
/// (a client that goes away drops the request's future midway).
struct PollGuard<'a>(&'a AtomicBool);

impl Drop for PollGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// The renderings, and what tells when they are stale.
pub struct PageCache {
    entries: RwLock<HashMap<String, Arc<Cached>>>,
    /// One rendering of a page at a time; others wait for it and take it.
    rendering: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The store's `page_version` when last asked (`i64::MIN`: never).
    seen_version: AtomicI64,
    /// When the store was last asked, in ms since `started` (+ `POLL_MS`,
    /// so that the first request asks).
    last_poll: AtomicU64,
    polling: AtomicBool,
    /// Whether the last poll failed, so that an outage is logged once.
    poll_failing: AtomicBool,
    /// Handler runs so far: what a flood of requests costs (tests read it).
    renders: AtomicU64,
    started: Instant,
}

impl Default for PageCache {
    fn default() -> Self {
        Self {
            entries: RwLock::default(),
            rendering: Mutex::default(),
            seen_version: AtomicI64::new(i64::MIN),
            last_poll: AtomicU64::new(0),
            polling: AtomicBool::new(false),
            poll_failing: AtomicBool::new(false),
            renders: AtomicU64::new(0),
            started: Instant::now(),
        }
    }
}

impl PageCache {
    /// How many times a public page's handler has run since the start.
    pub fn renders(&self) -> u64 {
        self.renders.load(Ordering::Relaxed)
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX) + POLL_MS
    }

    /// Whether the store's `page_version` is to be asked now.
    fn poll_due(&self) -> bool {
        self.elapsed_ms() >= self.last_poll.load(Ordering::Acquire) + POLL_MS
            && !self.polling.load(Ordering::Acquire)
    }

    /// Asks the store for its `page_version` if nobody did within the last
    /// second, and marks every rendering stale if it moved. A store that
    /// does not answer leaves the pages as they are.
    async fn poll(&self, state: &AppState) {
        let now = self.elapsed_ms();
        if now < self.last_poll.load(Ordering::Acquire) + POLL_MS
            || self.polling.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let _guard = PollGuard(&self.polling);
        match tokio::time::timeout(POLL_TIMEOUT, state.store.page_version()).await {
            Ok(Ok(version)) => {
                self.poll_failing.store(false, Ordering::Release);
                if self.seen_version.swap(version, Ordering::AcqRel) != version {
                    state.page_changes.fetch_add(1, Ordering::AcqRel);
                }
            }
            Ok(Err(err)) => {
                if !self.poll_failing.swap(true, Ordering::AcqRel) {
                    tracing::warn!(error = %err, "page cache: page_version");
                }
            }
            Err(_) => {
                if !self.poll_failing.swap(true, Ordering::AcqRel) {
                    tracing::warn!("page cache: page_version does not answer");
                }
            }
        }
        self.last_poll.store(self.elapsed_ms(), Ordering::Release);
    }

    fn lookup(&self, key: &str, generation: u64, now: Timestamp) -> Option<Arc<Cached>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|e| e.fresh(generation, now))
            .cloned()
    }

    fn previous(&self, key: &str) -> Option<Arc<Cached>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.get(key).cloned()
    }

    fn store(&self, key: String, entry: Arc<Cached>, now: Timestamp) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            let generation = entry.generation;
            entries.retain(|_, e| e.fresh(generation, now));
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, entry);
    }

    fn render_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.rendering.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry(key.to_string()).or_default().clone()
    }

    fn release_render_lock(&self, key: &str, lock: Arc<tokio::sync::Mutex<()>>) {
        let mut locks = self.rendering.lock().unwrap_or_else(|e| e.into_inner());
        // Ours and the map's: nobody else waits, so the entry can go.
        if Arc::strong_count(&lock) <= 2 {
            locks.remove(key);
        }
    }
}

/// What is not answered from memory at once (`layer.rs`): the store's
/// `page_version` is due to be asked, or the page is not kept or stale.
async fn serve<S>(state: AppState, request: Request, inner: S) -> Response
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Send,
    S::Future: Send,
{
    let method = request.method().clone();
    let cache = state.page_cache.clone();
    cache.poll(&state).await;
    let generation = state.page_changes.load(Ordering::Acquire);
    let now = state.clock.now();
    if let Some(entry) = cache.lookup(request.uri().path(), generation, now) {
        return entry.respond(&method, request.headers());
    }
    let key = request.uri().path().to_string();

    let request_headers = request.headers().clone();
    let lock = cache.render_lock(&key);
    let guard = lock.clone().lock_owned().await;
    let result = async {
        // Someone else may have rendered it while we waited.
        let generation = state.page_changes.load(Ordering::Acquire);
        let now = state.clock.now();
        if let Some(entry) = cache.lookup(&key, generation, now) {
            return Ok(entry);
        }
        render(&state, &cache, &key, generation, now, request, inner).await
    }
    .await;
    drop(guard);
    cache.release_render_lock(&key, lock);
    match result {
        Ok(entry) => entry.respond(&method, &request_headers),
        Err(response) => response,
    }
}

/// Renders a page through its handler and keeps it if it may be kept.
/// `Err` is the handler's own answer when it may not (not a 200, no `Until`).
async fn render<S>(
    state: &AppState,
    cache: &PageCache,
    key: &str,
    generation: u64,
    now: Timestamp,
    request: Request,
    inner: S,
) -> Result<Arc<Cached>, Response>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Send,
    S::Future: Send,
{
    let head = request.method() == Method::HEAD;
    let (mut parts, body) = request.into_parts();
    // The handler always makes the whole body; HEAD drops it below.
    parts.method = Method::GET;
    cache.renders.fetch_add(1, Ordering::Relaxed);
    let response = inner
        .oneshot(Request::from_parts(parts, body))
        .await
        .unwrap_or_else(|never| match never {});
    if response.status().is_server_error() {
        let failure = response.extensions().get::<Failure>().cloned();
        let failure = failure.unwrap_or_else(|| Failure {
            message: format!("answered {}", response.status()).into(),
            unavailable: false,
        });
        return stand_in(state, cache, key, generation, failure).ok_or_else(|| {
            if head {
                without_body(response)
            } else {
                response
            }
        });
    }
    let until = response.extensions().get::<Until>().copied();
    let (Some(until), StatusCode::OK) = (until, response.status()) else {
        return Err(if head {
            without_body(response)
        } else {
            response
        });
    };
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(err) => {
            let failure = Failure {
                message: format!("reading a rendering: {err}").into(),
                unavailable: false,
            };
            return stand_in(state, cache, key, generation, failure.clone())
                .ok_or_else(|| PageError::Internal(failure).into_response());
        }
    };
    let previous = cache.previous(key);
    let headers = kept_headers(parts.headers, state);
    // Compressing a large page takes milliseconds: off the request threads.
    let entry = tokio::task::spawn_blocking(move || {
        Cached::build(generation, until, headers, bytes, now, previous.as_deref())
    })
    .await
    .map_err(|err| {
        // Logged once, by the edge, as every server error.
        PageError::Internal(Failure {
            message: format!("page cache: compressing: {err}").into(),
            unavailable: false,
        })
        .into_response()
    })?;
    let entry = Arc::new(entry);
    cache.store(key.to_string(), entry.clone(), now);
    Ok(entry)
}

/// The handler's headers as a rendering keeps them: without those the
/// cache makes per answer, with the safety headers (made once here rather
/// than on every answer).
fn kept_headers(mut headers: HeaderMap, state: &AppState) -> HeaderMap {
    for name in [
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::ETAG,
        header::LAST_MODIFIED,
        header::DATE,
    ] {
        headers.remove(name);
    }
    super::security::add_to(&mut headers, state);
    headers
}

/// The last good rendering of `key`, kept in place of one that failed, or
/// `None` when there is none. The failure is logged here, once: a stand-in
/// made again for the same failure says nothing new, however often the
/// rendering is tried again (every few seconds, and at each change of the
/// pages' state, of which one write may make two: its notification and
/// the poll of `page_version`).
fn stand_in(
    state: &AppState,
    cache: &PageCache,
    key: &str,
    generation: u64,
    failure: Failure,
) -> Option<Arc<Cached>> {
    let previous = cache.previous(key)?;
    let already_said = previous
        .stale
        .as_ref()
        .is_some_and(|s| s.failure == failure.message);
    if !already_said {
        tracing::warn!(path = key, "page cache: serving the last good rendering");
        failure.log();
    }
    let last_good = match &previous.stale {
        Some(stale) => stale.last_good.clone(),
        None => previous.clone(),
    };
    let stale = Stale {
        last_good: last_good.clone(),
        generation,
        failure: failure.message.clone(),
        retry_at: Instant::now() + RETRY_FAILED,
    };
    let mut entry = match (&previous.stale, last_good.is_html()) {
        // The notice is already in; only the retry moves.
        (Some(_), _) => (*previous).clone(),
        (None, true) => {
            let page = std::str::from_utf8(&last_good.identity.body).ok()?;
            let ctx = super::public::page_context(state);
            let notice = crate::views::layout::stale_notice(&ctx, last_good.rendered_at);
            let marked = crate::views::layout::with_notice(page, &notice)
                .map(Bytes::from)
                .unwrap_or_else(|| last_good.identity.body.clone());
            // Compressing again takes milliseconds, once per failed state.
            Cached::build(
                generation,
                Until::default(),
                last_good.headers.clone(),
                marked,
                ctx.now,
                Some(&last_good),
            )
        }
        (None, false) => (*last_good).clone(),
    };
    entry.stale = Some(stale);
    let entry = Arc::new(entry);
    cache.store(key.to_string(), entry.clone(), state.clock.now());
    Some(entry)
}

fn without_body(response: Response) -> Response {
    let (parts, _) = response.into_parts();
    Response::from_parts(parts, Body::empty())
}

#[cfg(test)]
mod tests;
