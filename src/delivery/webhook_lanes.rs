//! Webhook deliveries run outside the batch they were claimed in, one lane
//! per subscriber: an endpoint that takes its full time limit to answer (or
//! never answers) holds only its own lane, never the mail of the batch nor
//! the claim of the next one. Within a lane the subscriber's deliveries go
//! in the order they were posted; after a failure the rest wait for its
//! retry, as mail does.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::{Notify, Semaphore};
use tokio::task::AbortHandle;

use super::mailer::SendError;
use super::webhook::{self, TIMEOUT};
use super::worker::{Hooks, Worker};
use crate::domain::subscriber::SubscriberState;
use crate::domain::DeliveryId;
use crate::store::{Claimed, ClaimedDelivery, News};
use crate::webhook_address::host_of;

/// POSTs in flight at once, over all lanes (each holds a connection).
const IN_FLIGHT: usize = 64;
/// A delivery is started only with at least this much of its lease left,
/// and is given at most what is left: it never runs past its lease, when
/// another claim may send it again.
const LEASE_LEFT: SignedDuration = SignedDuration::from_secs(1);

/// One webhook delivery waiting in its subscriber's lane.
pub struct Job {
    pub delivery: ClaimedDelivery,
    /// The batch's payloads.
    pub hooks: Arc<Hooks>,
    pub leased_until: Timestamp,
}

pub struct WebhookLanes {
    state: std::sync::Mutex<Lanes>,
    /// Told when the last lane ends.
    idle: Notify,
    posts: Semaphore,
}

impl Default for WebhookLanes {
    fn default() -> Self {
        Self {
            state: Default::default(),
            idle: Notify::new(),
            posts: Semaphore::new(IN_FLIGHT),
        }
    }
}

#[derive(Default)]
struct Lanes {
    /// Per subscriber with a lane running: what waits behind its POST.
    lanes: HashMap<String, Lane>,
    /// Per subscriber whose last try failed: its later deliveries wait
    /// for that retry (a claim may bring them after its lane ended).
    behind: HashMap<String, Timestamp>,
    /// Every delivery queued or in flight: a claim after a lease ended may
    /// bring one again.
    ids: HashSet<DeliveryId>,
}

struct Lane {
    queue: VecDeque<Job>,
    task: Option<AbortHandle>,
}

impl Lanes {
    /// Ends a lane, forgetting what still waited in it (its rows keep their
    /// lease, or were given another fate by the caller).
    fn end(&mut self, key: &str) -> Vec<Job> {
        let rest: Vec<Job> = self
            .lanes
            .remove(key)
            .map(|lane| lane.queue.into_iter().collect())
            .unwrap_or_default();
        for job in &rest {
            self.ids.remove(&job.delivery.id);
        }
        rest
    }
}

impl WebhookLanes {
    fn lock(&self) -> std::sync::MutexGuard<'_, Lanes> {
        self.state.lock().expect("webhook lanes lock")
    }

    /// Waits until no lane runs (tests: a drained outbox is a quiet one).
    pub async fn settled(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.lock().lanes.is_empty() {
                return;
            }
            notified.await;
        }
    }

    /// Stops every lane (shutdown): what was in flight keeps its lease and
    /// is sent again once that ends, like after a crash.
    pub fn stop(&self) {
        let mut state = self.lock();
        for lane in state.lanes.values() {
            if let Some(task) = &lane.task {
                task.abort();
            }
        }
        state.lanes.clear();
        state.ids.clear();
        drop(state);
        self.idle.notify_waiters();
    }

    fn end(&self, key: &str) -> Vec<Job> {
        let mut state = self.lock();
        let rest = state.end(key);
        if state.lanes.is_empty() {
            self.idle.notify_waiters();
        }
        rest
    }
}

/// What a lane does after a delivery.
enum Next {
    Go,
    /// Ends the lane; what waited in it keeps its lease (or was given up).
    Stop,
    /// Not tried: its lease ends too soon. As `Stop`, and the row is
    /// left as claimed.
    LeaseEnding,
    /// It failed: the rest wait for its retry.
    WaitUntil(Timestamp),
}

/// The lane a delivery belongs to.
fn lane_of(delivery: &ClaimedDelivery) -> String {
    match &delivery.what {
        Claimed::Webhook { recipient, .. } => recipient.subscriber_id.to_string(),
        _ => format!("delivery:{}", delivery.id),
    }
}

impl Worker {
    /// Puts claimed webhook deliveries in their subscribers' lanes, starting
    /// a lane where none runs; returns at once.
    pub(super) async fn dispatch_webhooks(self: &Arc<Self>, jobs: Vec<Job>) -> anyhow::Result<()> {
        let now = self.clock.now();
        let mut held: HashMap<Timestamp, Vec<DeliveryId>> = HashMap::new();
        {
            let mut state = self.webhook_lanes.lock();
            state.behind.retain(|_, until| *until > now);
            for job in jobs {
                let key = lane_of(&job.delivery);
                let id = job.delivery.id;
                if state.ids.contains(&id) {
                    // Claimed again while it waits: it holds the new lease.
                    if let Some(queued) = state
                        .lanes
                        .get_mut(&key)
                        .and_then(|lane| lane.queue.iter_mut().find(|j| j.delivery.id == id))
                    {
                        *queued = job;
                    }
                    continue;
                }
                if let Some(until) = state.behind.get(&key) {
                    held.entry(*until).or_default().push(id);
                    continue;
                }
                state.ids.insert(id);
                if let Some(lane) = state.lanes.get_mut(&key) {
                    lane.queue.push_back(job);
                    continue;
                }
                state.lanes.insert(
                    key.clone(),
                    Lane {
                        queue: VecDeque::from([job]),
                        task: None,
                    },
                );
                let task = tokio::spawn(self.clone().run_lane(key.clone()));
                if let Some(lane) = state.lanes.get_mut(&key) {
                    lane.task = Some(task.abort_handle());
                }
            }
        }
        for (until, ids) in held {
            self.store.hold_back(&ids, until).await?;
            self.claims.settled(ids);
        }
        Ok(())
    }

    /// Sends a subscriber's webhooks one after the other until its lane is
    /// empty, or a failure makes the rest wait.
    async fn run_lane(self: Arc<Self>, key: String) {
        loop {
            // A shutdown: what waits in the lane is given back.
            if self.is_stopping() {
                self.webhook_lanes.end(&key);
                return;
            }
            let job = {
                let mut state = self.webhook_lanes.lock();
                match state.lanes.get_mut(&key).and_then(|l| l.queue.pop_front()) {
                    Some(job) => job,
                    None => {
                        drop(state);
                        self.webhook_lanes.end(&key);
                        return;
                    }
                }
            };
            let id = job.delivery.id;
            let next = self.run_job(job).await.unwrap_or_else(|err| {
                // Its row (and those behind it) keep their lease and are
                // claimed again when it ends.
                tracing::error!(error = %err, delivery = id.get(), "webhook lane");
                Next::Stop
            });
            self.webhook_lanes.lock().ids.remove(&id);
            match next {
                Next::Go => {}
                Next::Stop | Next::LeaseEnding => {
                    self.webhook_lanes.end(&key);
                    return;
                }
                Next::WaitUntil(until) => {
                    let rest: Vec<DeliveryId> = {
                        let mut state = self.webhook_lanes.lock();
                        state.behind.insert(key.clone(), until);
                        state.end(&key).iter().map(|j| j.delivery.id).collect()
                    };
                    self.webhook_lanes.end(&key);
                    if !rest.is_empty() {
                        match self.store.hold_back(&rest, until).await {
                            Ok(()) => self.claims.settled(rest),
                            Err(err) => tracing::error!(error = %err, "holding webhooks back"),
                        }
                    }
                    return;
                }
            }
        }
    }

    /// Tries one delivery and records the outcome; a delivery given its
    /// fate is no longer this process's claim.
    async fn run_job(&self, job: Job) -> anyhow::Result<Next> {
        let id = job.delivery.id;
        let next = self.try_job(job).await?;
        if !matches!(next, Next::LeaseEnding) {
            self.claims.settled([id]);
        }
        Ok(next)
    }

    async fn try_job(&self, job: Job) -> anyhow::Result<Next> {
        let delivery = &job.delivery;
        let _permit = self.webhook_lanes.posts.acquire().await?;
        let now = self.clock.now();
        let left = job.leased_until.duration_since(now);
        if left < LEASE_LEFT {
            // Claimable again by now: left, with those behind it (their
            // order), to the next claim.
            return Ok(Next::LeaseEnding);
        }
        let Claimed::Webhook { recipient, .. } = &delivery.what else {
            self.store
                .mark_failed(delivery.id, "the subscriber is missing", None)
                .await?;
            return Ok(Next::Go);
        };
        if let Some(since) = recipient.quarantined_at {
            let why = format!("quarantined since {since}: not tried");
            self.store.mark_failed(delivery.id, &why, None).await?;
            return Ok(Next::Go);
        }
        let timeout = TIMEOUT.min(Duration::try_from(left).unwrap_or(TIMEOUT));
        let err = match self.post_webhook(delivery, &job.hooks, timeout).await {
            Ok(()) => {
                self.store
                    .webhook_sent(delivery.id, &recipient.subscriber_id, self.clock.now())
                    .await?;
                self.counters.sent("webhook", 1);
                return Ok(Next::Go);
            }
            Err(err) => err,
        };
        self.counters.webhook_error(err.kind);
        let now = self.clock.now();
        let retry_at = self.retry_at(delivery, &err, now);
        // The host only: a webhook URL's path often is its secret.
        tracing::warn!(
            delivery = delivery.id.get(),
            host = %host_of(&recipient.address),
            attempts = delivery.attempts,
            dead = retry_at.is_none(),
            error = %err.message,
            "webhook failed"
        );
        let quarantined = self
            .store
            .webhook_failed(
                delivery.id,
                &recipient.subscriber_id,
                &err.message,
                retry_at,
                now,
                self.quarantine_after,
            )
            .await?;
        if let Some(at) = quarantined {
            tracing::warn!(
                subscriber = %recipient.subscriber_id,
                host = %host_of(&recipient.address),
                quarantined_at = %at,
                "webhook quarantined: every try failed for too long"
            );
            // Its open rows are dead now, those in this lane too.
            return Ok(Next::Stop);
        }
        Ok(retry_at.map_or(Next::Go, Next::WaitUntil))
    }

    async fn post_webhook(
        &self,
        delivery: &ClaimedDelivery,
        hooks: &Hooks,
        timeout: Duration,
    ) -> Result<(), SendError> {
        let permanent = |message: &str| SendError {
            permanent: true,
            kind: "unsendable",
            message: message.to_string(),
        };
        let Claimed::Webhook { recipient, news } = &delivery.what else {
            return Err(permanent("the subscriber is missing"));
        };
        if recipient.state != SubscriberState::Confirmed {
            return Ok(());
        }
        let secret = recipient
            .secret
            .as_deref()
            .ok_or_else(|| permanent("the webhook has no signing secret"))?;
        let payload = match news {
            News::Entry(entry) => hooks.entries.get(&entry.id),
            News::Component(_) => hooks.components.get(&delivery.id),
            News::Confirmation { .. } => None,
        }
        .ok_or_else(|| permanent("there is nothing to send to a webhook"))?;
        let body = webhook::body(
            payload.clone(),
            self.settings
                .links
                .unsubscribe_url(&recipient.subscriber_id),
            self.settings.base_url.clone(),
        );
        // The same id on every try, so receivers can drop a repeat.
        let id = format!("{}@{}", delivery.id, self.settings.host);
        self.webhooks
            .post(
                &recipient.address,
                secret,
                &id,
                body,
                self.clock.now(),
                timeout,
            )
            .await
    }
}
