//! Builds the application from its configuration and runs it.

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context as _;
use axum::Router;
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};

use crate::clock::Clock;
use crate::config::Settings;
use crate::counters::Counters;
use crate::delivery::{
    email::MailSettings,
    mailer::{FileMailer, Mailer, SmtpMailer},
    thread::DeliveryThread,
    webhook::{self, Webhooks},
    worker::{self, Worker},
};
use crate::domain::promises::PromiseRules;
use crate::http::{self, AppState};
use crate::ids::{hash_token, new_id, new_token};
use crate::links::{Links, Signer};
use crate::scheduler::Scheduler;
use crate::server;
use crate::store::{self, Store};

/// A running Candor: where it listens, and how to stop it.
pub struct Running {
    pub addr: SocketAddr,
    pub base_url: String,
    store: Arc<dyn Store>,
    worker: Arc<Worker>,
    /// Where the worker runs (see `DeliveryThread`).
    delivery: DeliveryThread,
    worker_task: JoinHandle<()>,
    scheduler: Arc<Scheduler>,
    scheduler_task: JoinHandle<()>,
    watch_task: JoinHandle<()>,
    memory_task: JoinHandle<()>,
    page_cache: Arc<http::cache::PageCache>,
    /// `Some(linger)` once stopping (`server::Linger`).
    stop: Arc<watch::Sender<Option<server::Linger>>>,
    signal_task: JoinHandle<()>,
    server: JoinHandle<std::io::Result<()>>,
    shutdown_grace: std::time::Duration,
}

impl Running {
    /// Closes every database connection (tests use it to see `/healthz` fail).
    pub async fn close_database(&self) {
        self.store.close().await;
    }

    /// How many times a public page has been rendered (not served from
    /// the page cache) since the start: what a flood of requests cost.
    pub fn page_renders(&self) -> u64 {
        self.page_cache.renders()
    }

    /// Tests: from now on the SQLite file cannot grow, as on a full disk;
    /// `false` gives the space back (PostgreSQL: nothing happens).
    pub async fn simulate_full_disk(&self, full: bool) -> anyhow::Result<()> {
        Ok(self.store.simulate_full_disk(full).await?)
    }

    /// The outbox worker, so tests can drain it instead of waiting.
    pub fn worker(&self) -> Arc<Worker> {
        self.worker.clone()
    }

    /// Stops the background worker for good: from now on nothing is sent
    /// unless a test drains the outbox itself (`worker().drain_once()`).
    pub fn pause_worker(&self) {
        self.worker_task.abort();
    }

    /// The scheduler of timed work, so tests can run it at a moved clock.
    pub fn scheduler(&self) -> Arc<Scheduler> {
        self.scheduler.clone()
    }

    /// Stops as on SIGTERM (`stop`), except that idle kept-alive
    /// connections are closed at once rather than left to their client.
    pub async fn shutdown(self) {
        self.stop.send_replace(Some(server::Linger::ZERO));
        if let Err(err) = self.stop().await {
            tracing::error!(error = %err, "shutdown");
        }
    }

    /// Runs until Ctrl-C or SIGTERM (`candor serve`), then stops.
    pub async fn wait(self) -> anyhow::Result<()> {
        let mut stopping = self.stop.subscribe();
        let _ = stopping.wait_for(Option::is_some).await;
        self.stop().await
    }

    /// The stop, within `shutdown_grace`: no more connections, nor claims
    /// of mail or timed work; the requests, mail and webhooks in flight
    /// finish, and the timed work under way; the deliveries this process
    /// claimed and did not send are given back, due at once.
    async fn stop(self) -> anyhow::Result<()> {
        let started = tokio::time::Instant::now();
        let deadline = started + self.shutdown_grace;
        tracing::info!(grace = ?self.shutdown_grace, "stopping");
        let mut server = self.server;
        let (served, released, ()) = tokio::join!(
            async {
                match tokio::time::timeout_at(deadline, &mut server).await {
                    Ok(result) => Some(result),
                    Err(_) => {
                        tracing::warn!(
                            "shutdown_grace passed with requests in flight: they are cut short"
                        );
                        server.abort();
                        None
                    }
                }
            },
            self.worker.shut_down(self.worker_task, deadline),
            self.scheduler.shut_down(self.scheduler_task, deadline),
        );
        self.signal_task.abort();
        self.memory_task.abort();
        self.watch_task.abort();
        let _ = self.watch_task.await;
        // After the store: connections the pool opened on the delivery
        // thread are registered there.
        self.store.close().await;
        self.delivery.end().await;
        let released = released.context("giving back the unsent deliveries")?;
        tracing::info!(
            deliveries_given_back = released,
            took_ms = started.elapsed().as_millis() as u64,
            "stopped"
        );
        match served {
            Some(result) => result.context("server task")?.context("server"),
            None => Ok(()),
        }
    }
}

/// Connects the store, migrates, makes the first token if there is none,
/// binds and serves in a background task.
pub async fn spawn(config: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Running> {
    let limits = config.connection_limits;
    let shutdown_grace = config.shutdown_grace;
    let store = store::connect(&config.database_url)
        .await
        .with_context(|| "cannot open the database (check database_url)".to_string())?;
    ensure_first_token(&config, store.as_ref(), clock.as_ref()).await?;

    let listener = TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let base_url = config.public_url(addr);
    let links = Links::new(base_url.clone(), Signer::new(&store.signing_key().await?));
    let wake = Arc::new(tokio::sync::Notify::new());
    let counters: Arc<Counters> = Arc::default();
    let mut worker = worker(&config, &store, &clock, &base_url, &links, &wake)?;
    worker.counters = counters.clone();
    let worker = Arc::new(worker);
    let delivery = DeliveryThread::start().context("cannot start the delivery thread")?;
    let worker_task = delivery.spawn(worker.clone().run());
    let memory_task = crate::memory::give_back_free_memory();
    let page_changes: Arc<std::sync::atomic::AtomicU64> = Arc::default();
    let scheduler = Arc::new(Scheduler {
        store: store.clone(),
        clock: clock.clone(),
        rules: PromiseRules {
            grace: config.overdue_grace,
            tz: config.time_zone.clone(),
        },
        wake: wake.clone(),
        page_changes: page_changes.clone(),
        pass: tokio::sync::Mutex::new(()),
        pruned_at: std::sync::Mutex::default(),
    });
    let scheduler_task = tokio::spawn(scheduler.clone().run());
    let watch_task = watch_other_instances(store.clone(), page_changes.clone(), wake.clone());
    let page_cache: Arc<http::cache::PageCache> = Arc::default();
    let state = AppState::new(http::Shared {
        store: store.clone(),
        clock,
        base_url: base_url.clone().into(),
        admin_token_hash: config
            .admin_token
            .as_ref()
            .map(|t| hash_token(t.expose()).into()),
        links: Arc::new(links),
        wake,
        page_changes,
        page_cache: page_cache.clone(),
        counters,
        config: Arc::new(config),
    });
    let app: Router = http::router(state);
    let stop = Arc::new(watch::Sender::new(None));
    // On SIGTERM, idle connections are left for their client (a proxy) to
    // close, up to the keep-alive limit: closed by Candor, one could end
    // just as the proxy sends a request on it.
    let linger = limits.keep_alive_timeout.min(shutdown_grace);
    let signal_task = tokio::spawn({
        let stop = stop.clone();
        async move {
            shutdown_signal().await;
            stop.send_if_modified(|stopping| stopping.replace(linger).is_none());
        }
    });
    let mut stopping = stop.subscribe();
    let server = tokio::spawn(server::serve(listener, app, limits, async move {
        match stopping.wait_for(Option::is_some).await {
            Ok(linger) => linger.unwrap_or_default(),
            Err(_) => server::Linger::ZERO,
        }
    }));
    Ok(Running {
        addr,
        base_url,
        store,
        worker,
        delivery,
        worker_task,
        scheduler,
        scheduler_task,
        watch_task,
        memory_task,
        page_cache,
        stop,
        signal_task,
        server,
        shutdown_grace,
    })
}

/// The delivery worker, sending by SMTP or into `mail_dir`.
fn worker(
    config: &Settings,
    store: &Arc<dyn Store>,
    clock: &Arc<dyn Clock>,
    base_url: &str,
    links: &Links,
    wake: &Arc<tokio::sync::Notify>,
) -> anyhow::Result<Worker> {
    let mailer: Arc<dyn Mailer> = match &config.smtp_url {
        Some(url) => Arc::new(SmtpMailer::from_url(
            url.expose(),
            worker::IN_FLIGHT,
            config.smtp_timeout,
        )?),
        None => Arc::new(
            FileMailer::new(config.mail_dir.clone())
                .with_context(|| format!("cannot create mail_dir {}", config.mail_dir.display()))?,
        ),
    };
    Ok(Worker {
        store: store.clone(),
        mailer,
        clock: clock.clone(),
        settings: MailSettings {
            page_name: config.page_name.clone(),
            base_url: base_url.to_string(),
            tz: config.time_zone.clone(),
            from: config.mail_from.clone(),
            links: links.clone(),
            host: url::Url::parse(base_url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_else(|| "candor.invalid".into()),
        },
        webhooks: Webhooks::new(webhook::TIMEOUT, config.webhook_allow_private)?,
        retry_schedule: config.retry_schedule.clone(),
        lease: config.delivery_lease,
        wake: wake.clone(),
        webhook_lanes: Default::default(),
        stragglers: Default::default(),
        quarantine_after: config.webhook_quarantine_after,
        pass: tokio::sync::Mutex::new(()),
        claims: Default::default(),
        floor: Default::default(),
        stopping: Default::default(),
        counters: Default::default(),
    })
}

/// Another instance's write on the same PostgreSQL: this one's pages are
/// rendered anew and its worker looks for mail at once, instead of at the
/// next poll (which stays, should a notification be lost).
fn watch_other_instances(
    store: Arc<dyn Store>,
    page_changes: Arc<std::sync::atomic::AtomicU64>,
    wake: Arc<tokio::sync::Notify>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        store
            .watch_changes(Arc::new(move || {
                page_changes.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                wake.notify_one();
            }))
            .await;
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// On a first start with no token at all, make one and print it once, so a
/// fresh install can be used at once and no default secret exists.
async fn ensure_first_token(
    config: &Settings,
    store: &dyn Store,
    clock: &dyn Clock,
) -> anyhow::Result<()> {
    if config.admin_token.is_some() || store.active_token_count().await? > 0 {
        return Ok(());
    }
    let secret = new_token();
    store
        .create_token(
            &new_id::<String>(),
            "admin",
            &hash_token(&secret),
            clock.now(),
        )
        .await?;
    println!(
        "No admin API token existed, so Candor made one named `admin`. \
         It is shown this once; keep it safe:\n\n    {secret}\n"
    );
    Ok(())
}
