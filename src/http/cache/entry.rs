//! One rendering kept by the cache: its bytes in each content coding, the
//! headers of its answers made once, and the tags and dates that let a
//! client revalidate it.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Instant;

use axum::{
    body::{Body, Bytes},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::Response,
};
use jiff::{tz::TimeZone, Timestamp};
use sha2::{Digest, Sha256};

use super::{Until, CACHE_CONTROL};

/// The content codings kept for each page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Coding {
    Identity,
    Gzip,
    Brotli,
}

impl Coding {
    pub(super) fn name(self) -> Option<&'static str> {
        match self {
            Coding::Identity => None,
            Coding::Gzip => Some("gzip"),
            Coding::Brotli => Some("br"),
        }
    }
}

/// Whether `Accept-Encoding` allows `coding` (q > 0, by name or by `*`).
pub(super) fn accepts(header: &str, coding: &str) -> bool {
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
pub(super) struct Variant {
    pub(super) body: Bytes,
    pub(super) ok: HeaderMap,
    pub(super) not_modified: HeaderMap,
}

/// One rendering, in every coding.
#[derive(Clone)]
pub(super) struct Cached {
    pub(super) generation: u64,
    pub(super) until: Option<Timestamp>,
    pub(super) hash: String,
    pub(super) last_modified: Timestamp,
    /// The clock's time when it was rendered.
    pub(super) rendered_at: Timestamp,
    /// The handler's headers, to make a stale copy from.
    pub(super) headers: HeaderMap,
    pub(super) identity: Variant,
    pub(super) gzip: Option<Variant>,
    pub(super) brotli: Option<Variant>,
    /// Set when this is the last good rendering served in place of one
    /// that failed.
    pub(super) stale: Option<Stale>,
}

/// A last good rendering standing in for one that failed.
#[derive(Clone)]
pub(super) struct Stale {
    pub(super) last_good: Arc<Cached>,
    /// The state of the pages when the rendering failed.
    pub(super) generation: u64,
    /// What failed, as logged.
    pub(super) failure: Arc<str>,
    /// When a new rendering is tried.
    pub(super) retry_at: Instant,
}

impl Cached {
    /// `headers` are the handler's (type, CORS, its own Cache-Control).
    pub(super) fn build(
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

    pub(super) fn fresh(&self, generation: u64, now: Timestamp) -> bool {
        match &self.stale {
            // Until the retry, or at once when the state moved (a write
            // went through, so the database answers again).
            Some(stale) => stale.generation == generation && Instant::now() < stale.retry_at,
            None => self.generation == generation && self.until.is_none_or(|until| now < until),
        }
    }

    pub(super) fn is_html(&self) -> bool {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"))
    }

    /// Whether the client's `If-None-Match` names this rendering in any
    /// coding (weak comparison, as RFC 9110 asks for this header).
    pub(super) fn matches(&self, if_none_match: &str) -> bool {
        if_none_match.split(',').any(|tag| {
            let tag = tag.trim();
            let tag = tag.strip_prefix("W/").unwrap_or(tag).trim_matches('"');
            tag == "*"
                || tag
                    .strip_prefix(self.hash.as_str())
                    .is_some_and(|rest| matches!(rest, "" | "-gzip" | "-br"))
        })
    }

    pub(super) fn not_modified(&self, request: &HeaderMap) -> bool {
        if let Some(tags) = request.get(header::IF_NONE_MATCH) {
            return tags.to_str().is_ok_and(|tags| self.matches(tags));
        }
        request
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_http_date)
            .is_some_and(|since| self.last_modified <= since)
    }

    pub(super) fn variant(&self, request: &HeaderMap) -> &Variant {
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

    pub(super) fn respond(&self, method: &Method, request: &HeaderMap) -> Response {
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
pub(super) fn vary_on_coding(headers: &mut HeaderMap) {
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
pub(super) fn etag(hash: &str, coding: Coding) -> HeaderValue {
    let tag = match coding.name() {
        None => format!("\"{hash}\""),
        Some(name) => format!("\"{hash}-{name}\""),
    };
    HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"\""))
}

pub(super) fn gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 3),
        flate2::Compression::best(),
    );
    encoder.write_all(bytes).ok()?;
    encoder.finish().ok()
}

pub(super) fn brotli(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() / 3);
    // Quality 5 of 11, a window of at least 128 KiB: the brotli crate gives
    // quality 9, and any quality with a window of 64 KiB or less (a hasher
    // it does not have), a 32 MiB hash table, much of it touched for a page
    // of 20 KB: 8 MB more peak RSS at every page built (valgrind's massif).
    // At 5 with this window the table is 1 MiB, and the page (16.7 KB)
    // comes out no larger (1,553 bytes at 5, 1,566 at 9 with the reference
    // encoder). A window no larger than needed keeps the rest small.
    let lgwin = (usize::BITS - bytes.len().max(1).leading_zeros()).clamp(17, 22) as i32;
    let params = brotli::enc::BrotliEncoderParams {
        quality: 5,
        lgwin,
        size_hint: bytes.len(),
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params).ok()?;
    Some(out)
}

pub(super) fn http_date(at: Timestamp) -> String {
    at.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

pub(super) fn parse_http_date(text: &str) -> Option<Timestamp> {
    let text = text.trim().strip_suffix(" GMT")?;
    let dt = jiff::civil::DateTime::strptime("%a, %d %b %Y %H:%M:%S", text).ok()?;
    dt.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp())
}
