//! The outbox worker: claims due deliveries with a lease, sends them outside
//! any transaction, then marks each sent, failed (with the next try), or dead.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use lettre::{message::Mailbox, Address};
use tokio::sync::Notify;

use super::email::{self, EntryMail, MailSettings};
use super::mailer::{Mailer, SendError};
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
/// Sent mails are marked in groups of up to this many, at most `MARK_WAIT`
/// after the first of them was sent; with `IN_FLIGHT` this bounds what a
/// crash can send twice.
const MARK_EVERY: usize = 128;
const MARK_WAIT: std::time::Duration = std::time::Duration::from_millis(20);
/// Once every mail of a batch has been started, the batch waits this long
/// for the last ones; mail still being sent then (a relay slow for one
/// address) finishes in the background while the next batch goes out.
const STRAGGLER_WAIT: std::time::Duration = std::time::Duration::from_millis(250);
/// How long a later mail waits for an earlier one to the same recipient
/// that is still being sent, before it is claimed again.
const BUSY_WAIT: SignedDuration = SignedDuration::from_secs(1);

/// Mail recipients that later batches must wait behind.
#[derive(Default)]
pub struct Stragglers {
    state: std::sync::Mutex<Busy>,
    /// Batches finishing in the background: their task, and the task that
    /// sends and marks their mail.
    finishing: std::sync::Mutex<Vec<(tokio::task::JoinHandle<()>, tokio::task::AbortHandle)>>,
}

#[derive(Default)]
struct Busy {
    /// Recipients with a mail being sent now.
    sending: std::collections::HashSet<String>,
    /// Recipients whose last mail failed: the rest wait for its retry.
    behind: HashMap<String, Timestamp>,
}

impl Stragglers {
    fn lock(&self) -> std::sync::MutexGuard<'_, Busy> {
        self.state.lock().expect("stragglers lock")
    }

    fn start(&self, recipient: &str) {
        self.lock().sending.insert(recipient.to_string());
    }

    fn end(&self, recipient: &str, behind: Option<Timestamp>) {
        let mut busy = self.lock();
        busy.sending.remove(recipient);
        if let Some(until) = behind {
            busy.behind.insert(recipient.to_string(), until);
        }
    }
}

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
}

impl Worker {
    /// Drains the outbox until stopped; wakes when told of new work, and
    /// polls for retries coming due.
    pub async fn run(self: Arc<Self>) {
        loop {
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
        let (claimed, claimed_at) = self.claim_due_by(None).await?;
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

    /// Stops the mail and webhooks still in flight (shutdown); they keep
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
        let (mut batch, mut claimed_at) = self.claim_due_by(None).await?;
        while !batch.is_empty() {
            total += batch.len();
            // Only what was due when the batch in flight was claimed: its
            // own rows are leased past that moment, even if sending it
            // outlasts the lease or the clock jumps, so they are not taken
            // (and sent) twice.
            let leased_until = claimed_at + self.lease;
            let (next, sent) = tokio::join!(
                self.claim_due_by(Some(claimed_at)),
                self.send(batch, leased_until)
            );
            // On an error the next batch stays leased; it is sent once its
            // lease ends, like the batch of a process that died.
            sent?;
            (batch, claimed_at) = next?;
        }
        Ok(total)
    }

    /// Claims a batch of what is due by `due_by` (at the latest now); also
    /// returns when it was claimed.
    async fn claim_due_by(
        &self,
        due_by: Option<Timestamp>,
    ) -> anyhow::Result<(Vec<ClaimedDelivery>, Timestamp)> {
        let now = self.clock.now();
        let due_by = due_by.map_or(now, |at| at.min(now));
        let batch = self
            .store
            .claim_deliveries(due_by, now + self.lease, BATCH)
            .await?;
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
            let payloads = Arc::new(self.prepare_webhooks(&hooks).await?);
            let jobs = hooks
                .into_iter()
                .map(|delivery| Job {
                    delivery,
                    hooks: payloads.clone(),
                    leased_until,
                })
                .collect();
            self.dispatch_webhooks(jobs).await?;
        }
        if claimed.is_empty() {
            return Ok(());
        }
        // Each entry's words are worked out once for the whole batch (for
        // mail; webhooks have their payloads below).
        let mut prepared: HashMap<EntryId, EntryMail> = HashMap::new();
        for delivery in &claimed {
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
        let prepared = Arc::new(Prepared { mails: prepared });
        // Each recipient's mails go out in order (they read as a story);
        // different recipients are served concurrently.
        // A recipient whose mail from an earlier batch is still being sent,
        // or waits for its retry, gets this batch's mail after it.
        let now = self.clock.now();
        let mut waiting: HashMap<Timestamp, Vec<DeliveryId>> = HashMap::new();
        let mut groups: VecDeque<(String, Vec<ClaimedDelivery>)> = VecDeque::new();
        let mut group_of: HashMap<String, usize> = HashMap::new();
        {
            let mut busy = self.stragglers.lock();
            busy.behind.retain(|_, until| *until > now);
            for delivery in claimed {
                let recipient = match &delivery.what {
                    Claimed::Mail { recipient, .. } => recipient.subscriber_id.to_string(),
                    Claimed::Staff(mail) => format!("staff:{}", mail.to),
                    _ => format!("delivery:{}", delivery.id),
                };
                let wait = if busy.sending.contains(&recipient) {
                    Some(now + BUSY_WAIT)
                } else {
                    busy.behind.get(&recipient).copied()
                };
                if let Some(until) = wait {
                    waiting.entry(until).or_default().push(delivery.id);
                    continue;
                }
                let index = *group_of.entry(recipient.clone()).or_insert_with(|| {
                    groups.push_back((recipient, Vec::new()));
                    groups.len() - 1
                });
                groups[index].1.push(delivery);
            }
        }
        for (until, ids) in waiting {
            self.store.hold_back(&ids, until).await?;
        }
        let groups = Arc::new(std::sync::Mutex::new(groups));
        // Told when every group has been taken by a lane.
        let all_started = Arc::new(Notify::new());
        let (sent_tx, mut sent_rx) = tokio::sync::mpsc::unbounded_channel::<DeliveryId>();
        let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
        // Mail held back behind an earlier one to the same address that
        // failed: (delivery, when that one is retried).
        let held = Arc::new(std::sync::Mutex::new(Vec::new()));
        // Lanes run in one task per core (rendering a mail costs about as
        // much as sending it); within a task they take turns, which is
        // cheaper than a task per lane waking across threads.
        let shards = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 4);
        let per_shard = IN_FLIGHT.div_ceil(shards);
        let mut tasks = tokio::task::JoinSet::new();
        for shard in 0..shards {
            let lanes = futures::stream::FuturesUnordered::new();
            for lane in shard * per_shard..((shard + 1) * per_shard).min(IN_FLIGHT) {
                let (worker, groups, prepared, sent_tx, failures, held, all_started) = (
                    self.clone(),
                    groups.clone(),
                    prepared.clone(),
                    sent_tx.clone(),
                    failures.clone(),
                    held.clone(),
                    all_started.clone(),
                );
                lanes.push(async move {
                    loop {
                        let Some((recipient, group)) =
                            groups.lock().expect("groups lock").pop_front()
                        else {
                            all_started.notify_one();
                            return;
                        };
                        worker.stragglers.start(&recipient);
                        // Once a mail fails for now, the rest of this
                        // recipient's wait for its retry, to stay in order.
                        let mut behind: Option<Timestamp> = None;
                        for delivery in group {
                            if let Some(until) = behind {
                                held.lock().expect("held lock").push((delivery.id, until));
                                continue;
                            }
                            match worker.deliver(lane, &delivery, &prepared).await {
                                Ok(()) => {
                                    let _ = sent_tx.send(delivery.id);
                                }
                                Err(err) => {
                                    let retry_at =
                                        worker.retry_at(&delivery, &err, worker.clock.now());
                                    behind = retry_at;
                                    failures
                                        .lock()
                                        .expect("failures lock")
                                        .push((delivery, err, retry_at));
                                }
                            }
                        }
                        worker.stragglers.end(&recipient, behind);
                    }
                });
            }
            tasks.spawn(async move {
                use futures::StreamExt;
                lanes.collect::<Vec<()>>().await;
            });
        }
        // The last lane gone closes the channel: marking then ends.
        drop(sent_tx);
        let worker = self.clone();
        let finish = async move {
            let sending = async {
                let mut outcome = Ok(());
                while let Some(task) = tasks.join_next().await {
                    if let Err(err) = task {
                        outcome = Err(anyhow::anyhow!("a sending task failed: {err}"));
                    }
                }
                outcome
            };
            let marking = async {
                let mut ids = Vec::with_capacity(MARK_EVERY);
                loop {
                    // The first mail sent, then more for a moment: one update
                    // for many mails (each update is a write transaction).
                    let mut open = sent_rx.recv_many(&mut ids, MARK_EVERY).await > 0;
                    let until = tokio::time::Instant::now() + MARK_WAIT;
                    while open && ids.len() < MARK_EVERY {
                        let more = MARK_EVERY - ids.len();
                        match tokio::time::timeout_at(until, sent_rx.recv_many(&mut ids, more))
                            .await
                        {
                            Ok(received) => open = received > 0,
                            Err(_) => break,
                        }
                    }
                    if !ids.is_empty() {
                        worker.store.mark_sent(&ids, worker.clock.now()).await?;
                        ids.clear();
                    }
                    if !open {
                        return anyhow::Ok(());
                    }
                }
            };
            let (sent, marked) = tokio::join!(sending, marking);
            marked?;
            sent?;
            let failures = std::mem::take(&mut *failures.lock().expect("failures lock"));
            for (delivery, err, retry_at) in failures {
                tracing::warn!(
                    delivery = delivery.id.get(),
                    attempts = delivery.attempts,
                    permanent = err.permanent,
                    dead = retry_at.is_none(),
                    error = %err.message,
                    "delivery failed"
                );
                worker
                    .store
                    .mark_failed(delivery.id, &err.message, retry_at)
                    .await?;
            }
            let held = std::mem::take(&mut *held.lock().expect("held lock"));
            let mut by_time: HashMap<Timestamp, Vec<DeliveryId>> = HashMap::new();
            for (id, until) in held {
                by_time.entry(until).or_default().push(id);
            }
            for (until, ids) in by_time {
                worker.store.hold_back(&ids, until).await?;
            }
            anyhow::Ok(())
        };
        let mut finish = tokio::spawn(finish);
        let stragglers_only = async {
            all_started.notified().await;
            tokio::time::sleep(STRAGGLER_WAIT).await;
        };
        tokio::select! {
            done = &mut finish => {
                done.map_err(|err| anyhow::anyhow!("a batch failed: {err}"))?
            }
            _ = stragglers_only => {
                // The rest is a few slow mails: they finish on their own,
                // and later mail to their recipients waits behind them.
                let sending = finish.abort_handle();
                let task = tokio::spawn(async move {
                    match finish.await {
                        Ok(Ok(())) => {}
                        Ok(Err(err)) => tracing::error!(error = %err, "finishing a batch"),
                        Err(err) if err.is_cancelled() => {}
                        Err(err) => tracing::error!(error = %err, "finishing a batch"),
                    }
                });
                let mut finishing = self.stragglers.finishing.lock().expect("finishing");
                finishing.retain(|(task, _)| !task.is_finished());
                finishing.push((task, sending));
                Ok(())
            }
        }
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

    async fn deliver(
        &self,
        lane: usize,
        delivery: &ClaimedDelivery,
        prepared: &Prepared,
    ) -> Result<(), SendError> {
        let permanent = |message: &str| SendError {
            permanent: true,
            message: message.to_string(),
        };
        let (subscriber, news) = match &delivery.what {
            Claimed::Mail { recipient, news } => (recipient, news),
            Claimed::Staff(mail) => {
                let to: Mailbox = mail
                    .to
                    .parse()
                    .map_err(|_| permanent("the owner's address is not a valid mailbox"))?;
                let message = email::staff_mail(&self.settings, mail, delivery.id, to)
                    .map_err(|e| permanent(&format!("the mail could not be built: {e}")))?;
                return self.mailer.send(lane, &message).await;
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
        let message = match news {
            News::Entry(entry) => {
                if subscriber.state != SubscriberState::Confirmed {
                    // Unsubscribed after the entry was posted: nothing to send.
                    return Ok(());
                }
                let mail = (prepared.mails.get(&entry.id))
                    .ok_or_else(|| permanent("the entry is missing"))?;
                mail.to(&self.settings, &subscriber.subscriber_id, to)
            }
            News::Confirmation { link_made_at } => {
                if subscriber.state != SubscriberState::Pending {
                    return Ok(());
                }
                email::confirmation_mail(
                    &self.settings,
                    &subscriber.subscriber_id,
                    *link_made_at,
                    delivery.id,
                    to,
                )
            }
            News::Component(notice) => {
                if subscriber.state != SubscriberState::Confirmed {
                    return Ok(());
                }
                email::component_mail(
                    &self.settings,
                    notice,
                    &subscriber.subscriber_id,
                    delivery.id,
                    to,
                )
            }
        }
        .map_err(|e| permanent(&format!("the mail could not be built: {e}")))?;
        self.mailer.send(lane, &message).await
    }
}

/// What a batch's mails are made from, worked out once per batch.
struct Prepared {
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
