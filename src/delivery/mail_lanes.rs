//! Mail of a claimed batch, sent in lanes: each recipient's mail in order,
//! different recipients at once, mail marked sent as it goes, and the
//! recipients that later batches must wait behind.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::Notify;

use super::mailer::SendError;
use super::worker::{mailed_to, Prepared, Worker, IN_FLIGHT};
use crate::domain::DeliveryId;
use crate::store::{Claimed, ClaimedDelivery};

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
/// A mail still being sent after this long is slow: the recipient its lane
/// took to follow it is sent beside it instead (`send_group`). Far above a
/// mail's usual time (a millisecond or two on a local relay).
const SLOW_MAIL: std::time::Duration = std::time::Duration::from_millis(250);

/// Mail recipients that later batches must wait behind.
#[derive(Default)]
pub struct Stragglers {
    state: std::sync::Mutex<Busy>,
    /// Batches finishing in the background: their task, and the task that
    /// sends and marks their mail.
    pub(super) finishing:
        std::sync::Mutex<Vec<(tokio::task::JoinHandle<()>, tokio::task::AbortHandle)>>,
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

/// One recipient's claimed mail, in order.
pub(super) type Group = (String, Vec<ClaimedDelivery>);

/// Each recipient's claimed mail, in the order first seen.
pub(super) type Groups = VecDeque<Group>;

/// What the lanes sending one batch of mail share.
pub(super) struct MailBatch {
    pub(super) prepared: Prepared,
    /// Recipients not yet taken by a lane.
    pub(super) groups: std::sync::Mutex<Groups>,
    /// Told when every group has been taken by a lane.
    pub(super) all_started: Notify,
    /// Mail that failed for now or for good, and when to try again.
    pub(super) failures: std::sync::Mutex<Vec<(ClaimedDelivery, SendError, Option<Timestamp>)>>,
    /// Mail held back behind an earlier one to the same address that
    /// failed: (delivery, when that one is retried).
    pub(super) held: std::sync::Mutex<Vec<(DeliveryId, Timestamp)>>,
}

impl Worker {
    /// The batch's mail by recipient, in order. Each recipient's mails go
    /// out in order (they read as a story); different recipients are served
    /// concurrently. A recipient whose mail from an earlier batch is still
    /// being sent, or waits for its retry, gets this batch's mail after it:
    /// it is held back here, to be claimed again then.
    pub(super) async fn by_recipient(
        &self,
        claimed: Vec<ClaimedDelivery>,
    ) -> anyhow::Result<Groups> {
        let now = self.clock.now();
        let mut waiting: HashMap<Timestamp, Vec<DeliveryId>> = HashMap::new();
        let mut groups: Groups = VecDeque::new();
        let mut group_of: HashMap<String, usize> = HashMap::new();
        {
            let mut busy = self.stragglers.lock();
            busy.behind.retain(|_, until| *until > now);
            for delivery in claimed {
                let recipient = match &delivery.what {
                    Claimed::Mail { recipient, .. } => recipient.subscriber_id.to_string(),
                    Claimed::Staff { to, .. } => format!("staff:{to}"),
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
            self.claims.settled(ids);
        }
        Ok(groups)
    }

    /// `IN_FLIGHT` lanes, each taking the next recipient's mail until none
    /// is left. They take turns in one task: each mail is filled in from
    /// its entry's template, so sending (waiting on the SMTP server) is
    /// most of a lane's time, and one thread woken for many answers at once
    /// costs less than two woken for fewer (beside a task per core, same
    /// run, 100,000 subscribers: CPU per mail 0.93x on SQLite, 0.86x on
    /// PostgreSQL; mails a second 1.06x and 1.11x).
    pub(super) fn start_lanes(
        self: &Arc<Self>,
        batch: &Arc<MailBatch>,
        sent: tokio::sync::mpsc::UnboundedSender<DeliveryId>,
    ) -> tokio::task::JoinSet<()> {
        let lanes = futures::stream::FuturesUnordered::new();
        for lane in 0..IN_FLIGHT {
            lanes.push(self.clone().lane(lane, batch.clone(), sent.clone()));
        }
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(async move {
            use futures::StreamExt;
            lanes.collect::<Vec<()>>().await;
        });
        // The last lane gone closes the channel: marking then ends.
        tasks
    }

    /// One lane: sends recipient after recipient, each one's mail in order.
    async fn lane(
        self: Arc<Self>,
        lane: usize,
        batch: Arc<MailBatch>,
        sent: tokio::sync::mpsc::UnboundedSender<DeliveryId>,
    ) {
        let mut taken: Option<Group> = None;
        loop {
            // A shutdown: the mail not started is given back.
            if self.is_stopping() {
                if let Some((recipient, _)) = taken {
                    self.stragglers.end(&recipient, None);
                }
                return;
            }
            let Some((recipient, group)) = taken.take().or_else(|| self.take(&batch)) else {
                return;
            };
            self.send_group(lane, &batch, &sent, recipient, group, Some(&mut taken))
                .await;
        }
    }

    /// The next recipient's mail, now this lane's to send.
    fn take(&self, batch: &MailBatch) -> Option<Group> {
        let taken = batch.groups.lock().expect("groups lock").pop_front();
        match &taken {
            Some((recipient, _)) => self.stragglers.start(recipient),
            None => batch.all_started.notify_one(),
        }
        taken
    }

    /// Sends one recipient's mail, in order. With `taken`, the lane takes
    /// its next recipient before the last mail to this one goes, so that
    /// the mail can announce the next (see `Mailer::send`); should that
    /// mail be slow (a relay slow for one address), the next recipient's
    /// mail goes out beside it, on another connection, rather than behind.
    async fn send_group(
        &self,
        lane: usize,
        batch: &MailBatch,
        sent: &tokio::sync::mpsc::UnboundedSender<DeliveryId>,
        recipient: String,
        group: Vec<ClaimedDelivery>,
        mut taken: Option<&mut Option<Group>>,
    ) {
        // Once a mail fails for now, the rest of this
        // recipient's wait for its retry, to stay in order.
        let mut behind: Option<Timestamp> = None;
        let mut group = group.into_iter().peekable();
        while let Some(delivery) = group.next() {
            if self.is_stopping() {
                break;
            }
            if let Some(until) = behind {
                batch
                    .held
                    .lock()
                    .expect("held lock")
                    .push((delivery.id, until));
                continue;
            }
            let next = match (group.peek(), taken.as_deref_mut()) {
                (Some(next), _) => mailed_to(next),
                (None, Some(taken)) => {
                    if taken.is_none() && !self.is_stopping() {
                        *taken = self.take(batch);
                    }
                    (taken.as_ref()).and_then(|(_, group)| group.first().and_then(mailed_to))
                }
                (None, None) => None,
            };
            let delivering = self.deliver(lane, &delivery, &batch.prepared, next);
            let outcome = match taken.as_deref_mut().filter(|taken| taken.is_some()) {
                None => delivering.await,
                Some(taken) => {
                    tokio::pin!(delivering);
                    tokio::select! {
                        biased;
                        outcome = &mut delivering => outcome,
                        () = tokio::time::sleep(SLOW_MAIL) => {
                            let (recipient, group) = taken.take().expect("taken above");
                            // This lane's connection is busy: the mail
                            // beside takes whichever is free.
                            let beside =
                                Box::pin(self.send_group(lane, batch, sent, recipient, group, None));
                            tokio::join!(delivering, beside).0
                        }
                    }
                }
            };
            match outcome {
                Ok(()) => {
                    let _ = sent.send(delivery.id);
                }
                Err(err) => {
                    self.counters.smtp_error(err.kind);
                    let retry_at = self.retry_at(&delivery, &err, self.clock.now());
                    behind = retry_at;
                    (batch.failures.lock().expect("failures lock")).push((delivery, err, retry_at));
                }
            }
        }
        self.stragglers.end(&recipient, behind);
    }

    /// Waits for the lanes while marking what they sent, then records the
    /// failures and the mail held back behind them.
    pub(super) async fn finish(
        self: Arc<Self>,
        batch: Arc<MailBatch>,
        mut tasks: tokio::task::JoinSet<()>,
        sent: tokio::sync::mpsc::UnboundedReceiver<DeliveryId>,
    ) -> anyhow::Result<()> {
        let sending = async {
            let mut outcome = Ok(());
            while let Some(task) = tasks.join_next().await {
                if let Err(err) = task {
                    outcome = Err(anyhow::anyhow!("a sending task failed: {err}"));
                }
            }
            outcome
        };
        let (sent, marked) = tokio::join!(sending, self.mark_sent(sent));
        marked?;
        sent?;
        let failures = std::mem::take(&mut *batch.failures.lock().expect("failures lock"));
        for (delivery, err, retry_at) in failures {
            tracing::warn!(
                delivery = delivery.id.get(),
                attempts = delivery.attempts,
                permanent = err.permanent,
                dead = retry_at.is_none(),
                error = %err.message,
                "delivery failed"
            );
            self.store
                .mark_failed(delivery.id, &err.message, retry_at)
                .await?;
            self.claims.settled([delivery.id]);
        }
        let held = std::mem::take(&mut *batch.held.lock().expect("held lock"));
        let mut by_time: HashMap<Timestamp, Vec<DeliveryId>> = HashMap::new();
        for (id, until) in held {
            by_time.entry(until).or_default().push(id);
        }
        for (until, ids) in by_time {
            self.store.hold_back(&ids, until).await?;
            self.claims.settled(ids);
        }
        anyhow::Ok(())
    }

    /// Marks mail sent as the lanes report it, until the last lane is gone.
    async fn mark_sent(
        &self,
        mut sent: tokio::sync::mpsc::UnboundedReceiver<DeliveryId>,
    ) -> anyhow::Result<()> {
        let mut ids = Vec::with_capacity(MARK_EVERY);
        loop {
            // The first mail sent, then more for a moment: one update
            // for many mails (each update is a write transaction).
            let mut open = sent.recv_many(&mut ids, MARK_EVERY).await > 0;
            let until = tokio::time::Instant::now() + MARK_WAIT;
            while open && ids.len() < MARK_EVERY {
                let more = MARK_EVERY - ids.len();
                match tokio::time::timeout_at(until, sent.recv_many(&mut ids, more)).await {
                    Ok(received) => open = received > 0,
                    Err(_) => break,
                }
            }
            if !ids.is_empty() {
                self.store.mark_sent(&ids, self.clock.now()).await?;
                self.counters.sent("email", ids.len() as u64);
                self.claims.settled(ids.drain(..));
            }
            if !open {
                return Ok(());
            }
        }
    }

    /// The batch's end, or once every mail has been started and
    /// `STRAGGLER_WAIT` has passed, the batch's end left to the background.
    pub(super) async fn wait_for_all_but_stragglers(
        &self,
        mut finish: tokio::task::JoinHandle<anyhow::Result<()>>,
        batch: &MailBatch,
    ) -> anyhow::Result<()> {
        let stragglers_only = async {
            batch.all_started.notified().await;
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
}
