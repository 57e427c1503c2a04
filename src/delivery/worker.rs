//! The outbox worker: claims due deliveries with a lease, sends them outside
//! any transaction, then marks each sent, failed (with the next try), or dead.

use std::sync::Arc;

use futures::StreamExt;
use jiff::{SignedDuration, Timestamp};
use lettre::message::Mailbox;
use tokio::sync::Notify;

use super::email::{self, MailSettings};
use super::mailer::{Mailer, SendError};
use crate::clock::Clock;
use crate::domain::subscriber::{Channel, SubscriberState};
use crate::store::{ClaimedDelivery, DeliveryKind, Store};

/// How long a claimed batch is ours; after that another worker may take it.
pub const LEASE: SignedDuration = SignedDuration::from_mins(2);
const BATCH: i64 = 512;
const IN_FLIGHT: usize = 32;

pub struct Worker {
    pub store: Arc<dyn Store>,
    pub mailer: Arc<dyn Mailer>,
    pub clock: Arc<dyn Clock>,
    pub settings: MailSettings,
    /// Delay before each retry; past the last one a delivery is dead.
    pub retry_schedule: Vec<SignedDuration>,
    pub wake: Arc<Notify>,
    /// One pass at a time in a process: a pass that returns has finished
    /// what any earlier pass claimed (the batch itself is sent concurrently).
    pub pass: tokio::sync::Mutex<()>,
}

enum Outcome {
    Sent,
    Failed(SendError),
}

impl Worker {
    /// Drains the outbox until stopped; wakes when told of new work, and
    /// polls for retries coming due.
    pub async fn run(self: Arc<Self>) {
        loop {
            match self.drain_once().await {
                Ok(0) => {
                    let _ = tokio::time::timeout(
                        std::time::Duration::from_millis(500),
                        self.wake.notified(),
                    )
                    .await;
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::error!(error = %err, "delivery worker");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Claims one batch and sends it; returns how many were claimed.
    pub async fn drain_once(&self) -> anyhow::Result<usize> {
        let _pass = self.pass.lock().await;
        let now = self.clock.now();
        let claimed = self.store.claim_deliveries(now, now + LEASE, BATCH).await?;
        let count = claimed.len();
        if count == 0 {
            return Ok(0);
        }
        // Each subscriber's mails go out in order (they read as a story);
        // different subscribers are served concurrently.
        let mut groups: Vec<Vec<ClaimedDelivery>> = Vec::new();
        let mut group_of: std::collections::HashMap<String, usize> =
            std::collections::HashMap::new();
        for delivery in claimed {
            let recipient = match (&delivery.subscriber, &delivery.staff_mail) {
                (Some(s), _) => s.id.clone(),
                (None, Some(mail)) => format!("staff:{}", mail.to),
                (None, None) => format!("delivery:{}", delivery.id),
            };
            let index = *group_of.entry(recipient).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[index].push(delivery);
        }
        let outcomes: Vec<(ClaimedDelivery, Outcome)> = futures::stream::iter(groups)
            .map(|group| async move {
                let mut done = Vec::with_capacity(group.len());
                for delivery in group {
                    let outcome = match self.deliver(&delivery).await {
                        Ok(()) => Outcome::Sent,
                        Err(err) => Outcome::Failed(err),
                    };
                    done.push((delivery, outcome));
                }
                done
            })
            .buffer_unordered(IN_FLIGHT)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .flatten()
            .collect();
        let now = self.clock.now();
        let mut sent = Vec::new();
        for (delivery, outcome) in outcomes {
            match outcome {
                Outcome::Sent => sent.push(delivery.id),
                Outcome::Failed(err) => {
                    let retry_at = self.retry_at(&delivery, &err, now);
                    tracing::warn!(
                        delivery = delivery.id,
                        attempts = delivery.attempts,
                        permanent = err.permanent,
                        dead = retry_at.is_none(),
                        error = %err.message,
                        "delivery failed"
                    );
                    self.store
                        .mark_failed(delivery.id, &err.message, retry_at)
                        .await?;
                }
            }
        }
        self.store.mark_sent(&sent, now).await?;
        Ok(count)
    }

    fn retry_at(
        &self,
        delivery: &ClaimedDelivery,
        err: &SendError,
        now: Timestamp,
    ) -> Option<Timestamp> {
        if err.permanent {
            return None;
        }
        let index = usize::try_from(delivery.attempts - 1).unwrap_or(0);
        self.retry_schedule.get(index).map(|delay| now + *delay)
    }

    async fn deliver(&self, delivery: &ClaimedDelivery) -> Result<(), SendError> {
        let permanent = |message: &str| SendError {
            permanent: true,
            message: message.to_string(),
        };
        if delivery.channel != Channel::Email {
            return Err(permanent("webhook delivery is not available yet"));
        }
        if delivery.kind == DeliveryKind::Reminder {
            let mail = delivery
                .staff_mail
                .as_ref()
                .ok_or_else(|| permanent("the reminder has no content"))?;
            let to: Mailbox = mail
                .to
                .parse()
                .map_err(|_| permanent("the owner's address is not a valid mailbox"))?;
            let message = email::staff_mail(&self.settings, mail, delivery.id, to)
                .map_err(|e| permanent(&format!("the mail could not be built: {e}")))?;
            return self.mailer.send(&message).await;
        }
        let subscriber = delivery
            .subscriber
            .as_ref()
            .ok_or_else(|| permanent("the subscriber is missing"))?;
        let to: Mailbox = subscriber
            .address
            .parse()
            .map_err(|_| permanent("the stored address is not a valid mailbox"))?;
        let message = match delivery.kind {
            DeliveryKind::Entry => {
                if subscriber.state != SubscriberState::Confirmed {
                    // Unsubscribed after the entry was posted: nothing to send.
                    return Ok(());
                }
                let entry = delivery
                    .entry
                    .as_ref()
                    .ok_or_else(|| permanent("the entry is missing"))?;
                email::entry_mail(&self.settings, entry, &subscriber.id, to)
            }
            DeliveryKind::Confirmation => {
                if subscriber.state != SubscriberState::Pending {
                    return Ok(());
                }
                let sent_at = delivery.confirm_sent_at.unwrap_or(subscriber.created_at);
                email::confirmation_mail(&self.settings, &subscriber.id, sent_at, delivery.id, to)
            }
            DeliveryKind::Component => {
                if subscriber.state != SubscriberState::Confirmed {
                    return Ok(());
                }
                let notice = delivery
                    .component_notice
                    .as_ref()
                    .ok_or_else(|| permanent("the component change is missing"))?;
                email::component_mail(&self.settings, notice, &subscriber.id, delivery.id, to)
            }
            DeliveryKind::Reminder => unreachable!("handled above"),
        }
        .map_err(|e| permanent(&format!("the mail could not be built: {e}")))?;
        self.mailer.send(&message).await
    }
}
