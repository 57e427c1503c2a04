//! Webhook deliveries: the Statuspage payload
//! (shared/reference/statuspage-v2.md), signed the Standard Webhooks way
//! with the subscriber's secret and POSTed with a time limit. A 2xx answer
//! is delivered; 410 Gone is final; anything else (3xx included) and any
//! network failure is retried on the schedule.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{json, Value};

use super::mailer::SendError;
use crate::domain::{component::Component, Entry, IncidentRecord};
use crate::statuspage::{Ctx, Millis};
use crate::store::ComponentNotice;
use crate::webhook_address::{self, GuardedResolver, NotFound, Refused};
use crate::webhook_secret::sign;

/// How long an endpoint has to answer (the reference's 30 s).
pub const TIMEOUT: Duration = Duration::from_secs(30);

pub struct Webhooks {
    client: reqwest::Client,
    allow_private: bool,
}

impl Webhooks {
    /// A client that dials only addresses the guard allows
    /// (`webhook_address`), through no proxy, following no redirect.
    pub fn new(timeout: Duration, allow_private: bool) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A redirect is an answer that is not a 2xx: a failure (and
            // following one would skip the address check).
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would do the dialling, unchecked.
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver { allow_private }))
            .user_agent(concat!("Candor/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            allow_private,
        })
    }

    /// POSTs `body` to `url`, signed; `id` stays the same on every retry.
    /// The answer must come within `timeout` (at most the client's).
    pub async fn post(
        &self,
        url: &str,
        secret: &str,
        id: &str,
        body: String,
        now: Timestamp,
        timeout: Duration,
    ) -> Result<(), SendError> {
        let timestamp = now.as_second();
        let signature = sign(secret, id, timestamp, &body).ok_or_else(|| SendError {
            permanent: true,
            kind: "secret",
            message: "the subscriber's webhook secret is not valid".into(),
        })?;
        // The resolver checks names; an address in the URL is checked here.
        if !webhook_address::literal_allowed(url, self.allow_private) {
            return Err(SendError::transient("refused_address", Refused.to_string()));
        }
        let answer = self
            .client
            .post(url)
            .timeout(timeout)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                let (kind, message) = failure_kind(&e);
                SendError::transient(kind, message)
            })?;
        let status = answer.status();
        if status.is_success() {
            return Ok(());
        }
        // Only the status: what the endpoint wrote back is not repeated
        // (it could be an internal service's answer).
        Err(SendError {
            permanent: status == reqwest::StatusCode::GONE,
            kind: match status.as_u16() {
                410 => "http_410",
                400..=499 => "http_4xx",
                500..=599 => "http_5xx",
                _ => "http_other",
            },
            message: format!("HTTP {}", status.as_u16()),
        })
    }
}

/// What kind of failure a request met, in a word for `/metrics` and a few
/// fixed words for staff: never the URL, never what the other side said.
fn failure_kind(err: &reqwest::Error) -> (&'static str, &'static str) {
    if err.is_timeout() {
        return ("timeout", "timed out");
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(cause) = source {
        if cause.is::<Refused>() {
            return ("refused_address", "refused: address not allowed");
        }
        if cause.is::<NotFound>() {
            return ("dns", "host not found");
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return ("connect", "connection refused"),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => {
                    return ("reset", "connection reset")
                }
                std::io::ErrorKind::TimedOut => return ("timeout", "timed out"),
                _ => {}
            }
        }
        source = cause.source();
    }
    if err.is_connect() {
        ("connect", "could not connect")
    } else {
        ("other", "the request failed")
    }
}

/// The page as a webhook names it: its id and overall state now.
pub fn page(ctx: &Ctx<'_>, open: &[IncidentRecord]) -> Value {
    let status = ctx.status(open.iter().map(|r| &r.incident));
    json!({
        "id": ctx.page_id,
        "status_indicator": status.indicator,
        "status_description": status.description,
    })
}

/// The payload of an entry, without `meta`: the incident as of that entry
/// (its state right after it, and the updates up to it, newest first), so
/// that a retry hours later says what the first try said.
pub fn entry_payload(ctx: &Ctx<'_>, page: &Value, record: &IncidentRecord, entry: &Entry) -> Value {
    let mut as_of = record.clone();
    as_of.incident.state = entry.state.clone();
    as_of.incident.updated_at = entry.posted_at;
    as_of.incident.last_seq = entry.seq;
    as_of
        .incident
        .eta_history
        .retain(|change| change.changed_at <= entry.posted_at);
    as_of.entries.retain(|e| e.seq <= entry.seq);
    json!({"page": page, "incident": ctx.incident(&as_of)})
}

/// The payload of a component's status change by staff, without `meta`.
pub fn component_payload(
    page: &Value,
    notice: &ComponentNotice,
    component: Option<&Component>,
) -> Value {
    let at = Millis(notice.at);
    json!({
        "page": page,
        "component_update": {
            "id": format!("{}-{}", notice.component_id, notice.at.as_millisecond()),
            "component_id": notice.component_id,
            "created_at": at,
            "old_status": notice.from,
            "new_status": notice.to,
        },
        "component": {
            "id": notice.component_id,
            "name": notice.name,
            "status": notice.to,
            "created_at": component.map(|c| Millis(c.created_at)),
        },
    })
}

/// The payload with its `meta` for one subscriber, as sent.
pub fn body(mut payload: Value, unsubscribe: String, documentation: String) -> String {
    payload["meta"] = json!({"unsubscribe": unsubscribe, "documentation": documentation});
    payload.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook_secret::new_secret;

    #[tokio::test]
    async fn a_receiver_that_never_answers_is_reported_as_timed_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let short = Duration::from_millis(200);
        let post = |hooks: Webhooks, url: String| async move {
            let secret = new_secret();
            hooks
                .post(&url, &secret, "id", "{}".into(), Timestamp::now(), short)
                .await
                .unwrap_err()
                .message
        };
        let strict = || Webhooks::new(TIMEOUT, false).unwrap();
        assert_eq!(
            post(Webhooks::new(TIMEOUT, true).unwrap(), url.clone()).await,
            "timed out"
        );
        // Not allowed: refused before any connection, whether the URL
        // names the address or a name the resolver turns into it.
        assert_eq!(
            post(strict(), url.clone()).await,
            "refused: address not allowed"
        );
        let by_name = url.replace("127.0.0.1", "localhost");
        assert_eq!(
            post(strict(), by_name).await,
            "refused: address not allowed"
        );
        hold.abort();
    }
}
