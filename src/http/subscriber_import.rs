//! Admin API: `POST /subscribers/import`, a list of subscribers as CSV or
//! JSON lines, read as it arrives and added a chunk (one transaction) at a
//! time, so a list of a million needs no more memory than a chunk. Bad lines
//! are reported with their numbers and never stop good ones; addresses
//! Candor has already are left as they are, so running the same import
//! again (after a crash, say) adds nothing twice.

use std::collections::HashSet;

use axum::{
    body::{Body, Bytes},
    extract::State,
    http::{header::CONTENT_TYPE, HeaderMap},
    Extension, Json,
};
use futures::{Stream, StreamExt};

use super::{
    error::{ApiError, ApiResult},
    AppState,
};
use crate::domain::subscriber_import::{
    self, ComponentNames, Format, Read, Reading, Refusal, Report, LONGEST_LINE,
};
use crate::ids::new_id;
use crate::store::Actor;

/// The largest list one request may carry (about eight million addresses);
/// a larger one is imported in parts.
pub const IMPORT_LIMIT: u64 = 256 * 1024 * 1024;

/// Lines a transaction adds at most: short enough that other writes wait
/// for one chunk at most, long enough that a million lines are quick.
const CHUNK_LINES: usize = 5_000;

/// Import a subscriber list.
///
/// CSV with a header line (`email`, and optionally `components` (ids or
/// names, separated by `;`) and `confirmed`), or JSON lines (one object a
/// line with the same fields). Read as it arrives and added 5,000 lines at
/// a time; bad lines are reported with their numbers and never stop good
/// ones; addresses Candor has already are left as they are, so importing
/// the same list again adds nothing twice (this POST takes no
/// `Idempotency-Key`). At most 256 MiB a request.
#[utoipa::path(post, path = "/subscribers/import", tag = "subscribers",
    request_body(
        description = "The list: CSV (`text/csv`) or JSON lines (`application/x-ndjson`, \
            also `application/jsonl`).",
        content(
            (String = "text/csv"),
            (String = "application/x-ndjson"),
        ),
    ),
    responses((status = 200, description = "What the import did", body = Report)))]
#[tracing::instrument(skip_all)]
pub async fn import(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Report>> {
    let media = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let format = Format::from_media_type(media).ok_or(ApiError::UnsupportedMediaType(
        "send the list as text/csv (a header line first: email, components, confirmed) \
         or as application/x-ndjson (one JSON object a line)",
    ))?;
    let names = ComponentNames::new(&state.store.list_components().await?);
    let mut reading = Reading::new(format);
    let mut report = Report::default();
    let mut lines = Lines::new(body.into_data_stream());
    while let Some(batch) = lines.next_batch(CHUNK_LINES).await? {
        let now = state.clock.now();
        let mut chunk = Vec::with_capacity(batch.len());
        let mut addresses = HashSet::with_capacity(batch.len());
        for (number, text) in batch {
            let line = match text {
                Ok(text) => match reading
                    .line(number, &text)
                    .map_err(|e| ApiError::invalid(e.field, e.message))?
                {
                    Read::Header => continue,
                    Read::Line(line) => line,
                    Read::Refused(refusal) => {
                        report.lines += 1;
                        report.refuse(refusal);
                        continue;
                    }
                },
                Err(refusal) => {
                    report.lines += 1;
                    report.refuse(refusal);
                    continue;
                }
            };
            report.lines += 1;
            match subscriber_import::subscriber(line, &names, new_id(), now) {
                Ok(subscriber) if addresses.insert(subscriber.address.clone()) => {
                    chunk.push(subscriber)
                }
                Ok(_) => report.already_there += 1,
                Err(refusal) => report.refuse(refusal),
            }
        }
        if chunk.is_empty() {
            continue;
        }
        let added = state.store.import_subscribers(&chunk, &actor, now).await?;
        report.added += added;
        report.already_there += chunk.len() as u64 - added;
        state.wake.notify_one();
    }
    if format == Format::Csv && lines.at.number == 0 {
        return Err(ApiError::invalid(
            "file",
            "the list is empty: a CSV list begins with a header line (email, components, confirmed)",
        ));
    }
    tracing::info!(
        added = report.added,
        already_there = report.already_there,
        refused = report.refused,
        "subscribers imported"
    );
    Ok(Json(report))
}

/// The lines of a body as they arrive, numbered from 1; blank lines are
/// skipped (but counted), and a line that is not UTF-8 or longer than
/// `LONGEST_LINE` comes as its refusal.
struct Lines<S> {
    stream: S,
    buffer: Vec<u8>,
    at: Place,
    /// Bytes read so far.
    read: u64,
    ended: bool,
}

/// Where the reading is.
#[derive(Default)]
struct Place {
    /// The number of the last line taken.
    number: u64,
    /// Skipping the rest of a line found too long.
    skipping: bool,
}

type LineText = Result<String, Refusal>;

impl<S> Lines<S>
where
    S: Stream<Item = Result<Bytes, axum::Error>> + Unpin,
{
    fn new(stream: S) -> Self {
        Lines {
            stream,
            buffer: Vec::new(),
            at: Place::default(),
            read: 0,
            ended: false,
        }
    }

    /// Up to `most` more lines; `None` when the body has ended.
    async fn next_batch(&mut self, most: usize) -> ApiResult<Option<Vec<(u64, LineText)>>> {
        let mut batch = Vec::new();
        loop {
            let mut start = 0;
            while batch.len() < most {
                let Some(end) = self.buffer[start..].iter().position(|&b| b == b'\n') else {
                    break;
                };
                let line = &self.buffer[start..start + end];
                start += end + 1;
                self.at.take(line, &mut batch);
            }
            self.buffer.drain(..start);
            if batch.len() >= most {
                return Ok(Some(batch));
            }
            if self.buffer.len() > LONGEST_LINE && !self.at.skipping {
                self.at.number += 1;
                batch.push(too_long(self.at.number));
                self.at.skipping = true;
            }
            if self.at.skipping {
                self.buffer.clear();
            }
            if self.ended {
                if !self.buffer.is_empty() {
                    self.at.take(&self.buffer, &mut batch);
                    self.buffer.clear();
                }
                return Ok((!batch.is_empty()).then_some(batch));
            }
            match self.stream.next().await {
                Some(Ok(bytes)) => {
                    self.read += bytes.len() as u64;
                    if self.read > IMPORT_LIMIT {
                        return Err(ApiError::TooLarge(IMPORT_LIMIT as usize));
                    }
                    self.buffer.extend_from_slice(&bytes);
                }
                Some(Err(err)) => {
                    return Err(ApiError::invalid(
                        "file",
                        format!(
                            "the list broke off after line {}: {err}; the lines before it are \
                         imported, and running the import again adds nothing twice",
                            self.at.number
                        ),
                    ))
                }
                None => self.ended = true,
            }
        }
    }
}

fn too_long(number: u64) -> (u64, LineText) {
    let refusal = Refusal::new(number, format!("longer than {LONGEST_LINE} bytes"));
    (number, Err(refusal))
}

impl Place {
    /// One line's bytes (without its newline), as the next line.
    fn take(&mut self, line: &[u8], batch: &mut Vec<(u64, LineText)>) {
        if self.skipping {
            // The end of a line already refused as too long.
            self.skipping = false;
            return;
        }
        self.number += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > LONGEST_LINE {
            batch.push(too_long(self.number));
            return;
        }
        match std::str::from_utf8(line) {
            Ok(text) if text.trim().is_empty() => {}
            Ok(text) => batch.push((self.number, Ok(text.to_string()))),
            Err(_) => batch.push((
                self.number,
                Err(Refusal::new(self.number, "not UTF-8 text")),
            )),
        }
    }
}
