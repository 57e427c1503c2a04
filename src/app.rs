//! Builds the application from its configuration and runs it.

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context as _;
use axum::Router;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

use crate::clock::Clock;
use crate::config::Settings;
use crate::delivery::{
    email::MailSettings,
    mailer::{FileMailer, Mailer, SmtpMailer},
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
    worker_task: JoinHandle<()>,
    scheduler: Arc<Scheduler>,
    scheduler_task: JoinHandle<()>,
    watch_task: JoinHandle<()>,
    page_cache: Arc<http::cache::PageCache>,
    stop: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
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

    /// Stops accepting, lets requests in flight finish, closes the database.
    /// Deliveries in flight keep their lease and are sent after a restart.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.server.await;
        self.worker_task.abort();
        self.worker.stop_in_flight();
        self.scheduler_task.abort();
        self.watch_task.abort();
        let _ = self.worker_task.await;
        let _ = self.scheduler_task.await;
        let _ = self.watch_task.await;
        self.store.close().await;
    }

    /// Runs until the server stops (Ctrl-C or SIGTERM in `candor serve`).
    pub async fn wait(self) -> anyhow::Result<()> {
        let result = self.server.await.context("server task")?;
        self.worker_task.abort();
        self.worker.stop_in_flight();
        self.scheduler_task.abort();
        self.watch_task.abort();
        self.store.close().await;
        result.context("server")
    }
}

/// Connects the store, migrates, makes the first token if there is none,
/// binds and serves in a background task.
pub async fn spawn(config: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Running> {
    let limits = config.connection_limits;
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
    let worker = Arc::new(worker(&config, &store, &clock, &base_url, &links, &wake)?);
    let worker_task = tokio::spawn(worker.clone().run());
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
        config: Arc::new(config),
    });
    let app: Router = http::router(state);
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(listener, app, limits, async move {
        tokio::select! {
            _ = stopped => {}
            _ = shutdown_signal() => {}
        }
    }));
    Ok(Running {
        addr,
        base_url,
        store,
        worker,
        worker_task,
        scheduler,
        scheduler_task,
        watch_task,
        page_cache,
        stop,
        server,
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
