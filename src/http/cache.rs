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
use std::io::Write as _;
use std::sync::{
    atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering},
    Arc, Mutex, RwLock,
};
use std::time::Instant;

use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, IntoResponseParts, Response, ResponseParts},
};
use jiff::{tz::TimeZone, Timestamp};
use sha2::{Digest, Sha256};

use super::{
    error::{Failure, PageError},
    AppState,
};
use crate::domain::{uptime, Incident};

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

/// Until when a rendering says only true things. The cache keeps a response
/// only if its handler adds one (as a response part); `Until::default()`
/// means "until the state changes".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Until(Option<Timestamp>);

impl Until {
    pub fn at(at: Timestamp) -> Self {
        Self(Some(at))
    }

    pub fn instant(self) -> Option<Timestamp> {
        self.0
    }

    /// The earlier of the two.
    pub fn and(self, at: Option<Timestamp>) -> Self {
        match (self.0, at) {
            (Some(a), Some(b)) => Self(Some(a.min(b))),
            (a, b) => Self(a.or(b)),
        }
    }

    /// Times are written relative to today ("10:30 CET" today, "4 Mar 10:30
    /// CET" on another day), so every page with times changes at midnight.
    pub fn dates(now: Timestamp, tz: &TimeZone) -> Self {
        Self(uptime::next_midnight(now, tz))
    }

    /// What is said of an open incident in JSON: `overdue`, `eta_passed`.
    pub fn facts(self, incident: &Incident, now: Timestamp) -> Self {
        self.and(incident.next_change_after(now))
    }

    /// What is said of an open incident in words: the facts, and the
    /// distance to its promised update and ETA ("in 12 min").
    pub fn words(self, incident: &Incident, now: Timestamp) -> Self {
        if incident.is_resolved() {
            return self;
        }
        [incident.state.next_update_at, incident.state.eta]
            .into_iter()
            .flatten()
            .fold(self.facts(incident, now), |until, at| {
                until.and(relative_changes_after(at, now))
            })
    }
}

impl IntoResponseParts for Until {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        res.extensions_mut().insert(self);
        Ok(res)
    }
}

/// The next instant at which `facts::relative(at, now)` ("in 12 min",
/// "7 min ago", shown within two hours) reads differently, to the second.
pub fn relative_changes_after(at: Timestamp, now: Timestamp) -> Option<Timestamp> {
    // Mirrors `facts::relative`: whole minutes of (at − now) in whole
    // seconds, truncated toward zero, shown from −120 to 120.
    const SHOWN_UNTIL: i64 = 121 * 60 - 1;
    let (now_s, d) = (now.as_second(), at.as_second() - now.as_second());
    let delay = if d > SHOWN_UNTIL {
        // Comes into view at "in 2 h 0 min".
        d - SHOWN_UNTIL
    } else if d >= 60 {
        d % 60 + 1
    } else if d > 0 {
        // "now" lasts from 59 s before to 59 s after.
        d + 60
    } else if -d / 60 <= 120 {
        60 * (-d / 60 + 1) + d
    } else {
        return None;
    };
    Timestamp::from_second(now_s + delay).ok()
}

/// The content codings kept for each page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Identity,
    Gzip,
    Brotli,
}

impl Coding {
    fn name(self) -> Option<&'static str> {
        match self {
            Coding::Identity => None,
            Coding::Gzip => Some("gzip"),
            Coding::Brotli => Some("br"),
        }
    }
}

/// Whether `Accept-Encoding` allows `coding` (q > 0, by name or by `*`).
fn accepts(header: &str, coding: &str) -> bool {
    let mut star = false;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .filter_map(|q| q.trim().parse::<f32>().ok())
            .next()
            .unwrap_or(1.0);
        if name.eq_ignore_ascii_case(coding) {
            return q > 0.0;
        }
        if name == "*" {
            star = q > 0.0;
        }
    }
    star
}

/// A rendering in one coding, with the headers of its answers made once,
/// so that serving it is a lookup and two reference-count increments.
#[derive(Clone)]
struct Variant {
    body: Bytes,
    ok: HeaderMap,
    not_modified: HeaderMap,
}

/// One rendering, in every coding.
#[derive(Clone)]
struct Cached {
    generation: u64,
    until: Option<Timestamp>,
    hash: String,
    last_modified: Timestamp,
    /// The clock's time when it was rendered.
    rendered_at: Timestamp,
    /// The handler's headers, to make a stale copy from.
    headers: HeaderMap,
    identity: Variant,
    gzip: Option<Variant>,
    brotli: Option<Variant>,
    /// Set when this is the last good rendering served in place of one
    /// that failed.
    stale: Option<Stale>,
}

/// A last good rendering standing in for one that failed.
#[derive(Clone)]
struct Stale {
    last_good: Arc<Cached>,
    /// The state of the pages when the rendering failed.
    generation: u64,
    /// What failed, as logged.
    failure: Arc<str>,
    /// When a new rendering is tried.
    retry_at: Instant,
}

impl Cached {
    /// `headers` are the handler's (type, CORS, its own Cache-Control).
    fn build(
        generation: u64,
        until: Until,
        headers: HeaderMap,
        identity: Bytes,
        now: Timestamp,
        previous: Option<&Cached>,
    ) -> Self {
        let hash = hex::encode(&Sha256::digest(&identity)[..16]);
        let now = Timestamp::from_second(now.as_second()).unwrap_or(now);
        // The same bytes keep their time; new bytes get a later one, so that
        // `If-Modified-Since` never hides a change made within a second.
        let last_modified = match previous {
            Some(p) if p.hash == hash => p.last_modified,
            Some(p) if p.last_modified >= now => p
                .last_modified
                .checked_add(jiff::SignedDuration::from_secs(1))
                .unwrap_or(now),
            _ => now,
        };
        let mut common = headers.clone();
        if let Ok(value) = HeaderValue::from_str(&http_date(last_modified)) {
            common.insert(header::LAST_MODIFIED, value);
        }
        if !common.contains_key(header::CACHE_CONTROL) {
            common.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static(CACHE_CONTROL),
            );
        }
        vary_on_coding(&mut common);
        let variant = |coding: Coding, body: Bytes| {
            let mut not_modified = common.clone();
            not_modified.remove(header::CONTENT_TYPE);
            not_modified.insert(header::ETAG, etag(&hash, coding));
            let mut ok = not_modified.clone();
            if let Some(value) = common.get(header::CONTENT_TYPE) {
                ok.insert(header::CONTENT_TYPE, value.clone());
            }
            if let Some(name) = coding.name() {
                ok.insert(header::CONTENT_ENCODING, HeaderValue::from_static(name));
            }
            ok.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
            Variant {
                body,
                ok,
                not_modified,
            }
        };
        let smaller = |bytes: Vec<u8>| (bytes.len() < identity.len()).then(|| Bytes::from(bytes));
        let gzip = gzip(&identity)
            .and_then(smaller)
            .map(|b| variant(Coding::Gzip, b));
        let brotli = brotli(&identity)
            .and_then(smaller)
            .map(|b| variant(Coding::Brotli, b));
        Self {
            generation,
            until: until.instant(),
            identity: variant(Coding::Identity, identity),
            hash,
            last_modified,
            rendered_at: now,
            headers,
            gzip,
            brotli,
            stale: None,
        }
    }

    fn fresh(&self, generation: u64, now: Timestamp) -> bool {
        match &self.stale {
            // Until the retry, or at once when the state moved (a write
            // went through, so the database answers again).
            Some(stale) => stale.generation == generation && Instant::now() < stale.retry_at,
            None => self.generation == generation && self.until.is_none_or(|until| now < until),
        }
    }

    fn is_html(&self) -> bool {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"))
    }

    /// Whether the client's `If-None-Match` names this rendering in any
    /// coding (weak comparison, as RFC 9110 asks for this header).
    fn matches(&self, if_none_match: &str) -> bool {
        if_none_match.split(',').any(|tag| {
            let tag = tag.trim();
            let tag = tag.strip_prefix("W/").unwrap_or(tag).trim_matches('"');
            tag == "*"
                || tag
                    .strip_prefix(self.hash.as_str())
                    .is_some_and(|rest| matches!(rest, "" | "-gzip" | "-br"))
        })
    }

    fn not_modified(&self, request: &HeaderMap) -> bool {
        if let Some(tags) = request.get(header::IF_NONE_MATCH) {
            return tags.to_str().is_ok_and(|tags| self.matches(tags));
        }
        request
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_http_date)
            .is_some_and(|since| self.last_modified <= since)
    }

    fn variant(&self, request: &HeaderMap) -> &Variant {
        let accept = request
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if accept.is_empty() {
            return &self.identity;
        }
        match (&self.brotli, &self.gzip) {
            (Some(br), _) if accepts(accept, "br") => br,
            (_, Some(gz)) if accepts(accept, "gzip") => gz,
            _ => &self.identity,
        }
    }

    fn respond(&self, method: &Method, request: &HeaderMap) -> Response {
        let variant = self.variant(request);
        let (status, headers, body) = if self.not_modified(request) {
            (
                StatusCode::NOT_MODIFIED,
                variant.not_modified.clone(),
                Body::empty(),
            )
        } else if method == Method::HEAD {
            (StatusCode::OK, variant.ok.clone(), Body::empty())
        } else {
            (
                StatusCode::OK,
                variant.ok.clone(),
                Body::from(variant.body.clone()),
            )
        };
        let mut response = Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        response
    }
}

/// Adds `accept-encoding` to `Vary`, in one value: each further value is
/// one more allocation when the headers are copied for an answer.
fn vary_on_coding(headers: &mut HeaderMap) {
    let mut vary: Vec<&str> = headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    vary.push("accept-encoding");
    let joined = vary.join(", ");
    let value = HeaderValue::from_str(&joined)
        .unwrap_or_else(|_| HeaderValue::from_static("accept-encoding"));
    headers.insert(header::VARY, value);
}

/// A strong tag per coding: the same bytes compressed are another
/// representation (RFC 9110 §8.8.3).
fn etag(hash: &str, coding: Coding) -> HeaderValue {
    let tag = match coding.name() {
        None => format!("\"{hash}\""),
        Some(name) => format!("\"{hash}-{name}\""),
    };
    HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"\""))
}

fn gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 3),
        flate2::Compression::best(),
    );
    encoder.write_all(bytes).ok()?;
    encoder.finish().ok()
}

fn brotli(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() / 3);
    // Quality 9 of 11: within a few percent of 11 at a fraction of the time,
    // which matters because the first reader after a change waits for it.
    // A window no larger than the page keeps the encoder's memory small
    // (the default 4 MiB window and its tables would be most of Candor's).
    let lgwin = (usize::BITS - bytes.len().max(1).leading_zeros()).clamp(16, 22) as i32;
    let params = brotli::enc::BrotliEncoderParams {
        quality: 9,
        lgwin,
        size_hint: bytes.len(),
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params).ok()?;
    Some(out)
}

fn http_date(at: Timestamp) -> String {
    at.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn parse_http_date(text: &str) -> Option<Timestamp> {
    let text = text.trim().strip_suffix(" GMT")?;
    let dt = jiff::civil::DateTime::strptime("%a, %d %b %Y %H:%M:%S", text).ok()?;
    dt.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp())
}

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

/// The middleware in front of every public page.
pub async fn serve(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let method = request.method().clone();
    if !(method == Method::GET || method == Method::HEAD) {
        return next.run(request).await;
    }
    if request.uri().query().is_some() {
        // No public page reads its query: the handler is given none, so
        // the page kept under the path alone is exactly what it renders
        // (a page that comes to read a parameter must put it in the key).
        if let Ok(uri) = request.uri().path().parse() {
            *request.uri_mut() = uri;
        }
    }
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
        render(&state, &cache, &key, generation, now, request, next).await
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
async fn render(
    state: &AppState,
    cache: &PageCache,
    key: &str,
    generation: u64,
    now: Timestamp,
    request: Request,
    next: Next,
) -> Result<Arc<Cached>, Response> {
    let head = request.method() == Method::HEAD;
    let (mut parts, body) = request.into_parts();
    // The handler always makes the whole body; HEAD drops it below.
    parts.method = Method::GET;
    cache.renders.fetch_add(1, Ordering::Relaxed);
    let response = next.run(Request::from_parts(parts, body)).await;
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
    let (mut parts, body) = response.into_parts();
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
    for name in [
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::ETAG,
        header::LAST_MODIFIED,
        header::DATE,
    ] {
        parts.headers.remove(name);
    }
    let previous = cache.previous(key);
    let mut headers = parts.headers;
    // Made once here rather than on every answer from the cache.
    super::security::add_to(&mut headers, state);
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
mod tests {
    use super::*;
    use crate::domain::facts;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// Second by second over five hours around a promised time: the
    /// relative words never change before the instant given, and do at it.
    #[test]
    fn relative_words_change_exactly_when_said() {
        let at = t("2026-03-04T09:30:00.250Z");
        let mut now = t("2026-03-04T06:00:00.700Z");
        let end = t("2026-03-04T12:00:00Z");
        let mut checked = 0;
        while now < end {
            let words = facts::relative(at, now);
            match relative_changes_after(at, now) {
                None => {
                    assert!(now > at, "{now}: words change again later");
                    assert_eq!(words, None);
                    assert_eq!(facts::relative(at, end), None);
                    break;
                }
                Some(next) => {
                    assert!(next > now);
                    let mut probe = now;
                    while probe < next {
                        assert_eq!(facts::relative(at, probe), words, "at {probe}");
                        probe += jiff::SignedDuration::from_millis(500);
                    }
                    assert_ne!(facts::relative(at, next), words, "at {next}");
                    now = next;
                    checked += 1;
                }
            }
        }
        assert!(checked > 200, "only {checked} changes");
    }

    #[test]
    fn accept_encoding_is_read_with_q_values() {
        assert!(accepts("gzip, deflate, br", "br"));
        assert!(accepts("gzip;q=1.0, br;q=0.5", "br"));
        assert!(!accepts("gzip, br;q=0", "br"));
        assert!(!accepts("gzip", "br"));
        assert!(accepts("*", "br"));
        assert!(!accepts("*;q=0", "gzip"));
        assert!(!accepts("", "gzip"));
        assert!(accepts("GZIP", "gzip"));
    }

    #[test]
    fn http_dates_round_trip() {
        let at = t("2026-03-04T09:00:07Z");
        assert_eq!(http_date(at), "Wed, 04 Mar 2026 09:00:07 GMT");
        assert_eq!(parse_http_date(&http_date(at)), Some(at));
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn a_rendering_matches_its_tags_in_every_coding() {
        let page = Bytes::from("<p>All systems operational</p>".repeat(20));
        let cached = Cached::build(
            1,
            Until::default(),
            HeaderMap::new(),
            page.clone(),
            t("2026-03-04T09:00:00Z"),
            None,
        );
        assert!(cached.gzip.is_some() && cached.brotli.is_some());
        for coding in [Coding::Identity, Coding::Gzip, Coding::Brotli] {
            let tag = etag(&cached.hash, coding);
            assert!(cached.matches(tag.to_str().unwrap()));
            assert!(cached.matches(&format!("W/{}", tag.to_str().unwrap())));
        }
        assert!(cached.matches("\"other\", *"));
        assert!(!cached.matches("\"other\""));
        // New bytes within the same second still get a later Last-Modified.
        let changed = Cached::build(
            2,
            Until::default(),
            HeaderMap::new(),
            Bytes::from("<p>Major system outage</p>"),
            t("2026-03-04T09:00:00.500Z"),
            Some(&cached),
        );
        assert!(changed.last_modified > cached.last_modified);
        let same = Cached::build(
            3,
            Until::default(),
            HeaderMap::new(),
            page,
            t("2026-03-04T09:05:00Z"),
            Some(&cached),
        );
        assert_eq!(same.last_modified, cached.last_modified);
        assert_eq!(same.hash, cached.hash);
    }
}
