//! The outbox worker: claims due deliveries with a lease, sends them outside
//! any transaction, then marks each sent, failed (with the next try), or dead.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use lettre::{message::Mailbox, Address};
use tokio::sync::Notify;

use super::claim_floor::{self, ClaimFloor};
use super::claims::Claims;
use super::email::{self, EntryMail, MailSettings};
use super::mail_lanes::{MailBatch, Stragglers};
use super::mailer::{Formatted, Mailer, SendError};
use super::webhook::{self, Webhooks};
use super::webhook_lanes::{Job, WebhookLanes};
use crate::clock::Clock;
use crate::domain::subscriber::SubscriberState;
use crate::domain::{DeliveryId, EntryId};
use crate::statuspage::Ctx;
use crate::store::{Claimed, ClaimedDelivery, News, Store};

/// The default lease (config `delivery_lease`): how long a claimed batch is
/// ours; after that another worker may take it.
pub const LEASE: SignedDuration = SignedDuration::from_mins(2);
/// Deliveries claimed at once (due rows first, then fan-outs expanded while
/// the batch has room). Mails are marked sent as they go, so a crash sends
/// again far fewer than this (those in flight and not yet marked).
pub const BATCH: i64 = 512;
/// Mails being sent at once: each on an SMTP connection of its own.
pub const IN_FLIGHT: usize = 32;
pub struct Worker {
    pub store: Arc<dyn Store>,
    pub mailer: Arc<dyn Mailer>,
    pub clock: Arc<dyn Clock>,
    pub settings: MailSettings,
    pub webhooks: Webhooks,
    /// Delay before each retry; past the last one a delivery is dead.
    pub retry_schedule: Vec<SignedDuration>,
    /// How long a claimed batch is ours (`LEASE` unless configured); after
    /// a crash its unsent rows wait this long before they are sent again.
    pub lease: SignedDuration,
    pub wake: Arc<Notify>,
    /// Webhooks in flight, one lane per subscriber, outside any batch.
    pub webhook_lanes: WebhookLanes,
    /// Mail of earlier batches still being sent, or waiting for a retry.
    pub stragglers: Stragglers,
    /// How long a webhook may fail on every try before it is quarantined.
    pub quarantine_after: SignedDuration,
    /// One pass at a time in a process: a pass that returns has finished
    /// what any earlier pass claimed (the batch itself is sent concurrently).
    pub pass: tokio::sync::Mutex<()>,
    /// What this process claimed and has not settled: given back at a
    /// shutdown (`shut_down`).
    pub claims: Claims,
    /// Where claims during a pass start looking (see `ClaimFloor`).
    pub floor: ClaimFloor,
    /// Set by `shut_down`: claim nothing more, start no other mail.
    pub stopping: AtomicBool,
    /// Where SMTP and webhook errors are counted for `/metrics`.
    pub counters: Arc<crate::counters::Counters>,
}

impl Worker {
    /// Drains the outbox until stopped; wakes when told of new work, and
    /// polls for retries coming due.
    pub async fn run(self: Arc<Self>) {
        while !self.is_stopping() {
            match self.drain().await {
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

    /// Claims one batch and sends it, webhooks included (they are waited
    /// for here, unlike in `run`); returns how many were claimed.
    pub async fn drain_once(self: &Arc<Self>) -> anyhow::Result<usize> {
        let _pass = self.pass.lock().await;
        let (claimed, claimed_at) = self.claim_due_by(None, false).await?;
        let count = claimed.len();
        if count > 0 {
            self.send(claimed, claimed_at + self.lease).await?;
        }
        let finishing = std::mem::take(&mut *self.stragglers.finishing.lock().expect("finishing"));
        for (task, _) in finishing {
            let _ = task.await;
        }
        self.webhook_lanes.settled().await;
        Ok(count)
    }

    /// Whether a shutdown has begun: nothing more is claimed, and lanes
    /// start no other mail or webhook.
    pub(super) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Stops for a shutdown: nothing more is claimed, the mail and webhooks
    /// being sent finish (until `deadline`, when what is left is cut
    /// short) and are marked, and whatever this process claimed and did not
    /// send is given back, due at once, for another instance or this one
    /// after its restart. `task` is the one running `run`. Returns how
    /// many deliveries were given back.
    pub async fn shut_down(
        &self,
        mut task: tokio::task::JoinHandle<()>,
        deadline: tokio::time::Instant,
    ) -> anyhow::Result<u64> {
        self.stopping.store(true, Ordering::Release);
        self.wake.notify_one();
        // The pass under way ends after the mail it started.
        let ran = tokio::time::timeout_at(deadline, &mut task).await.is_ok();
        let settled = ran
            && tokio::time::timeout_at(deadline, async {
                // Batches that were finishing in the background.
                loop {
                    let finishing =
                        std::mem::take(&mut *self.stragglers.finishing.lock().expect("finishing"));
                    if finishing.is_empty() {
                        break;
                    }
                    for (task, _) in finishing {
                        let _ = task.await;
                    }
                }
                self.webhook_lanes.settled().await;
            })
            .await
            .is_ok();
        if !settled {
            tracing::warn!(
                "shutdown_grace passed with mail or webhooks still being sent: they are cut short"
            );
            if !ran {
                task.abort();
                let _ = task.await;
            }
            self.stop_in_flight();
        }
        let claims = self.claims.take();
        if claims.is_empty() {
            return Ok(0);
        }
        Ok(self.store.release_deliveries(&claims).await?)
    }

    /// Stops the mail and webhooks still in flight at once; they keep
    /// their lease and go out again once it ends, as after a crash.
    pub fn stop_in_flight(&self) {
        self.webhook_lanes.stop();
        let finishing = std::mem::take(&mut *self.stragglers.finishing.lock().expect("finishing"));
        for (task, sending) in finishing {
            sending.abort();
            task.abort();
        }
    }

    /// Sends everything due, claiming the next batch while the current one
    /// is being sent, so the database's time hides behind the SMTP server's.
    /// Batches go out one after the other, except for a batch's last slow
    /// mails (`STRAGGLER_WAIT`) and its webhooks, which finish on their own;
    /// later mail to those recipients waits behind them, so each
    /// recipient's mails keep their order.
    async fn drain(self: &Arc<Self>) -> anyhow::Result<usize> {
        let _pass = self.pass.lock().await;
        let mut total = 0;
        // A pass's first claim looks at every open delivery; later ones
        // start at the oldest (see `ClaimFloor`).
        self.floor.forget();
        let (mut batch, mut claimed_at) = self.claim_due_by(None, false).await?;
        // A shutdown stops after the batch in flight; the next one, claimed
        // meanwhile, is given back.
        while !batch.is_empty() && !self.is_stopping() {
            total += batch.len();
            // Only what was due when the batch in flight was claimed: its
            // own rows are leased past that moment, even if sending it
            // outlasts the lease or the clock jumps, so they are not taken
            // (and sent) twice.
            let leased_until = claimed_at + self.lease;
            let (next, sent) = tokio::join!(
                self.claim_due_by(Some(claimed_at), true),
                self.send(batch, leased_until)
            );
            // On an error the next batch stays leased; it is sent once its
            // lease ends, like the batch of a process that died.
            sent?;
            (batch, claimed_at) = next?;
        }
        Ok(total)
    }

    /// Claims a batch of what is due by `due_by` (at the latest now), from
    /// the floor on (`from_floor`) or among all open deliveries; also
    /// returns when it was claimed.
    async fn claim_due_by(
        &self,
        due_by: Option<Timestamp>,
        from_floor: bool,
    ) -> anyhow::Result<(Vec<ClaimedDelivery>, Timestamp)> {
        let now = self.clock.now();
        if self.is_stopping() {
            return Ok((Vec::new(), now));
        }
        let from = match (from_floor, self.floor.fresh(now)) {
            (false, _) => claim_floor::EVERYTHING,
            (true, Some(floor)) => floor,
            (true, None) => {
                let at = tokio::time::Instant::now();
                let floor = self.store.claim_floor(ClaimFloor::horizon(now)).await?;
                self.floor.looked_up(floor, now, at);
                floor
            }
        };
        let due_by = due_by.map_or(now, |at| at.min(now));
        let batch = self
            .store
            .claim_deliveries(due_by, now + self.lease, BATCH, from)
            .await?;
        (self.claims).claimed(batch.iter().map(|d| d.id), now + self.lease, now);
        Ok((batch, now))
    }

    /// Sends a claimed batch. Mails are marked sent moments after the server
    /// took them (see `MARK_EVERY`), while others are still being sent, so
    /// a crash sends again only the few mails between those two moments.
    /// Webhooks go to their lanes and are not waited for.
    async fn send(
        self: &Arc<Self>,
        claimed: Vec<ClaimedDelivery>,
        leased_until: Timestamp,
    ) -> anyhow::Result<()> {
        let (hooks, claimed): (Vec<_>, Vec<_>) = claimed
            .into_iter()
            .partition(|d| matches!(d.what, Claimed::Webhook { .. }));
        if !hooks.is_empty() {
            self.send_webhooks(hooks, leased_until).await?;
        }
        if claimed.is_empty() {
            return Ok(());
        }
        let batch = Arc::new(MailBatch {
            prepared: self.prepare_mails(&claimed),
            groups: std::sync::Mutex::new(self.by_recipient(claimed).await?),
            all_started: Notify::new(),
            failures: Default::default(),
            held: Default::default(),
        });
        let (sent_tx, sent_rx) = tokio::sync::mpsc::unbounded_channel::<DeliveryId>();
        let tasks = self.start_lanes(&batch, sent_tx);
        let finish = tokio::spawn(self.clone().finish(batch.clone(), tasks, sent_rx));
        self.wait_for_all_but_stragglers(finish, &batch).await
    }

    async fn send_webhooks(
        self: &Arc<Self>,
        hooks: Vec<ClaimedDelivery>,
        leased_until: Timestamp,
    ) -> anyhow::Result<()> {
        let payloads = Arc::new(self.prepare_webhooks(&hooks).await?);
        let jobs = hooks
            .into_iter()
            .map(|delivery| Job {
                delivery,
                hooks: payloads.clone(),
                leased_until,
            })
            .collect();
        self.dispatch_webhooks(jobs).await
    }

    /// Each entry's words, worked out once for the whole batch (for mail;
    /// webhooks have their payloads in `prepare_webhooks`).
    fn prepare_mails(&self, claimed: &[ClaimedDelivery]) -> Prepared {
        let mut prepared: HashMap<EntryId, EntryMail> = HashMap::new();
        for delivery in claimed {
            if let Claimed::Mail {
                news: News::Entry(entry),
                ..
            } = &delivery.what
            {
                if !prepared.contains_key(&entry.id) {
                    prepared.insert(entry.id.clone(), EntryMail::new(&self.settings, entry));
                }
            }
        }
        Prepared { mails: prepared }
    }

    /// The webhook payloads of a batch, without their per-subscriber
    /// `meta`: one per entry, one per component change. The page's state is
    /// read once for the batch.
    async fn prepare_webhooks(&self, webhooks: &[ClaimedDelivery]) -> anyhow::Result<Hooks> {
        let mut hooks = Hooks::default();
        let components = self.store.list_components().await?;
        let mut open = self.store.open_incident_records().await?;
        open.retain(|r| r.incident.kind == crate::domain::Kind::Incident);
        let settings = &self.settings;
        let ctx = Ctx::new(
            &settings.page_name,
            &settings.base_url,
            &settings.tz,
            settings.tz.iana_name().unwrap_or("UTC"),
            &components,
            self.clock.now(),
        );
        let page = webhook::page(&ctx, &open);
        for delivery in webhooks {
            let Claimed::Webhook { news, .. } = &delivery.what else {
                continue;
            };
            match news {
                News::Entry(entry) if !hooks.entries.contains_key(&entry.id) => {
                    let record = self.store.get_incident(&entry.incident_id).await?;
                    let payload = webhook::entry_payload(&ctx, &page, &record, entry);
                    hooks.entries.insert(entry.id.clone(), payload);
                }
                News::Component(notice) => {
                    let component = components.iter().find(|c| c.id == notice.component_id);
                    let payload = webhook::component_payload(&page, notice, component);
                    hooks.components.insert(delivery.id, payload);
                }
                _ => {}
            }
        }
        Ok(hooks)
    }

    pub(super) fn retry_at(
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

    /// Sends one claimed delivery's mail; `next` is where the lane's next
    /// mail goes (see `Mailer::send`).
    pub(super) async fn deliver(
        &self,
        lane: usize,
        delivery: &ClaimedDelivery,
        prepared: &Prepared,
        next: Option<Address>,
    ) -> Result<(), SendError> {
        let next = next.as_ref();
        let permanent = |message: &str| SendError {
            permanent: true,
            kind: "unsendable",
            message: message.to_string(),
        };
        let (subscriber, news) = match &delivery.what {
            Claimed::Mail { recipient, news } => (recipient, news),
            Claimed::Staff { to, mail } => {
                let to: Mailbox = to
                    .parse()
                    .map_err(|_| permanent("the owner's address is not a valid mailbox"))?;
                let message = email::staff_mail(&self.settings, mail, delivery.id, to)
                    .map_err(|e| permanent(&format!("the mail could not be built: {e}")))?;
                return self.mailer.send(lane, &(&message).into(), next).await;
            }
            Claimed::Unsendable(why) => return Err(permanent(why)),
            Claimed::Webhook { .. } => return Err(permanent("a webhook is not sent as mail")),
        };
        let to = Mailbox::new(
            None,
            subscriber
                .address
                .parse::<Address>()
                .map_err(|_| permanent("the stored address is not a valid mailbox"))?,
        );
        let mail: Result<Formatted, _> = match news {
            // Unsubscribed after the entry was posted (say): nothing to send.
            _ if !still_wanted(news, subscriber.state) => return Ok(()),
            News::Entry(entry) => {
                let mail = (prepared.mails.get(&entry.id))
                    .ok_or_else(|| permanent("the entry is missing"))?;
                mail.to(&self.settings, &subscriber.subscriber_id, to)
            }
            News::Confirmation { link_made_at } => email::confirmation_mail(
                &self.settings,
                &subscriber.subscriber_id,
                *link_made_at,
                delivery.id,
                to,
            )
            .map(|message| (&message).into()),
            News::Component(notice) => email::component_mail(
                &self.settings,
                notice,
                &subscriber.subscriber_id,
                delivery.id,
                to,
            )
            .map(|message| (&message).into()),
        };
        let mail = mail.map_err(|e| permanent(&format!("the mail could not be built: {e}")))?;
        self.mailer.send(lane, &mail, next).await
    }
}

/// Whether a subscriber in this state still gets this news: what was
/// posted while they were confirmed, a confirmation link while pending.
fn still_wanted(news: &News, state: SubscriberState) -> bool {
    match news {
        News::Entry(_) | News::Component(_) => state == SubscriberState::Confirmed,
        News::Confirmation { .. } => state == SubscriberState::Pending,
    }
}

/// The address a claimed delivery will be mailed to, if it will be.
pub(super) fn mailed_to(delivery: &ClaimedDelivery) -> Option<Address> {
    match &delivery.what {
        Claimed::Mail { recipient, news } if still_wanted(news, recipient.state) => {
            recipient.address.parse().ok()
        }
        Claimed::Staff { to, .. } => to.parse::<Mailbox>().ok().map(|to| to.email),
        _ => None,
    }
}

/// What a batch's mails are made from, worked out once per batch.
pub(super) struct Prepared {
    /// Per entry id.
    mails: HashMap<EntryId, EntryMail>,
}

/// A batch's webhook payloads, without their per-subscriber `meta`.
#[derive(Default)]
pub struct Hooks {
    /// Per entry id.
    pub entries: HashMap<EntryId, serde_json::Value>,
    /// Per delivery id.
    pub components: HashMap<DeliveryId, serde_json::Value>,
}
