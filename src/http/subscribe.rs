//! Public subscription pages: double opt-in, one-click unsubscribe (RFC
//! 8058), and choosing components, all through signed links.

use std::{
    net::{IpAddr, SocketAddr},
    sync::{
        atomic::{AtomicU32, Ordering},
        Arc, OnceLock,
    },
    time::Duration,
};

use axum::{
    body::Bytes,
    extract::{ConnectInfo, Query, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Extension, Router,
};
use maud::Markup;
use serde::Deserialize;

use super::rate_limit::{limiter, network, Limiter, LimiterClock};
use super::{error::PageError, public::page_context, AppState};
use crate::domain::{
    subscriber::{Subscriber, SubscriberChange},
    ComponentId, Email, SubscriberId,
};
use crate::ids::new_id;
use crate::store::{Actor, StoreError};
use crate::views::subscribe as view;

pub fn router() -> Router<AppState> {
    // One set of limits per application (so per test app too), made from
    // the configuration on first use.
    let limits: Arc<OnceLock<SubscribeLimits>> = Arc::default();
    Router::new()
        .route(
            "/subscribe",
            get(form).post(subscribe).layer(Extension(limits)),
        )
        // Only the POST confirms: mail scanners that open every link in a
        // mail must not subscribe anyone who did not ask.
        .route("/subscribe/confirm", get(confirm_page).post(confirm))
        .route("/unsubscribe", get(unsubscribe_page).post(unsubscribe))
        .route("/subscription", get(manage).post(save_choice))
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// `email=…&components=a&components=b` (repeated keys, so parsed by hand).
struct SubscribeForm {
    email: String,
    components: Vec<ComponentId>,
}

fn parse_form(body: &[u8]) -> SubscribeForm {
    let mut form = SubscribeForm {
        email: String::new(),
        components: Vec::new(),
    };
    for (key, value) in form_urlencoded::parse(body) {
        match key.as_ref() {
            "email" => form.email = value.chars().take(320).collect(),
            "components" if form.components.len() < 200 => {
                form.components.push(ComponentId::new(value))
            }
            _ => {}
        }
    }
    form.components.sort();
    form.components.dedup();
    form
}

fn failed(err: StoreError) -> PageError {
    PageError::store(&err, "subscription page")
}

fn bad_link() -> PageError {
    PageError::BadLink(
        "This link is not valid. Use the link from your latest mail, or subscribe again.",
    )
}

#[tracing::instrument(skip_all)]
async fn form(State(state): State<AppState>) -> Result<Markup, PageError> {
    let components = state.store.list_components().await.map_err(failed)?;
    Ok(view::subscribe_page(
        &page_context(&state),
        &components,
        None,
        "",
        &[],
    ))
}

#[tracing::instrument(skip_all)]
async fn subscribe(
    State(state): State<AppState>,
    Extension(limits): Extension<Arc<OnceLock<SubscribeLimits>>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let limits = limits.get_or_init(|| SubscribeLimits::new(&state));
    if let Some(Extension(ConnectInfo(peer))) = peer {
        let ip = super::client_ip::client_ip(peer.ip(), &headers, &state.config.trusted_proxies);
        if let Err(wait) = limits.check_ip(ip) {
            tracing::info!(ip = %ip, "subscribe refused: too many requests from this address");
            return Ok(too_many(
                &state,
                wait,
                "Too many subscription requests came from your network just now.",
            ));
        }
    }
    let form = parse_form(&body);
    let components = state.store.list_components().await.map_err(failed)?;
    let ctx = page_context(&state);
    let refuse = |problem: &str| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            view::subscribe_page(
                &ctx,
                &components,
                Some(problem),
                &form.email,
                &form.components,
            ),
        )
            .into_response()
    };
    let Ok(email) = Email::parse(&form.email) else {
        tracing::info!("subscribe refused: not an email address");
        return Ok(refuse(
            "That is not an email address we can send to. Please check it.",
        ));
    };
    if let Some(unknown) = form
        .components
        .iter()
        .find(|id| !components.iter().any(|c| &c.id == *id))
    {
        tracing::info!(component = %unknown, "subscribe refused: unknown component");
        return Ok(refuse(
            "One of the chosen components does not exist any more. Please choose again.",
        ));
    }
    if let Err(wait) = limits.check_address(&email) {
        tracing::info!("subscribe refused: too many requests for one email address");
        return Ok(too_many(
            &state,
            wait,
            "Too many subscription requests were made for this address just now.",
        ));
    }
    let now = state.clock.now();
    let subscriber = Subscriber::email(new_id(), &email, form.components.clone(), false, now);
    state
        .store
        .subscribe(&subscriber, now)
        .await
        .map_err(failed)?;
    state.wake.notify_one();
    // The same answer whether or not the address was known.
    Ok(check_your_inbox(&ctx, &email).into_response())
}

/// What a subscriber is told after asking, whether or not the address
/// was known already.
fn check_your_inbox(ctx: &crate::views::PageContext<'_>, email: &Email) -> Markup {
    view::notice(
        ctx,
        "Check your inbox",
        &[
            format!(
                "If {} can receive mail from us, a link to confirm is on its way.",
                email
            ),
            "Nothing else is sent until you click it. The link works for 7 days.".into(),
        ],
        None,
    )
}

/// The readable 429 page, with `Retry-After`.
fn too_many(state: &AppState, wait: Duration, what: &str) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let minutes = seconds.div_ceil(60).max(1);
    let when = if minutes == 1 {
        "in a minute".to_string()
    } else {
        format!("in {minutes} minutes")
    };
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, seconds.max(1).to_string())],
        view::notice(
            &page_context(state),
            "Too many requests",
            &[
                what.to_string(),
                format!("Please try again {when}. A confirmation link already sent still works."),
            ],
            None,
        ),
    )
        .into_response()
}

/// Limits on `POST /subscribe`, per client IP and per email address, so the
/// form cannot be used to flood someone's inbox with confirmation mails or
/// to fill the subscriber table.
///
/// `governor`'s keyed limiters are used directly rather than through
/// `tower_governor` (DESIGN §7 names it): the per-address limit needs the
/// parsed form body, which a tower layer's key extractor never sees; the
/// refusal must be our own page; and both limits then share one mechanism
/// that runs on the app's `Clock`, so tests move time instead of sleeping.
pub(super) struct SubscribeLimits {
    ip: Option<Limiter<IpAddr>>,
    address: Option<Limiter<String>>,
    clock: LimiterClock,
    checks: AtomicU32,
}

impl SubscribeLimits {
    fn new(state: &AppState) -> Self {
        let clock = LimiterClock(state.clock.clone());
        let config = &state.config;
        Self {
            ip: (config.subscribe_limit_per_ip).map(|rate| limiter(rate, clock.clone())),
            address: (config.subscribe_limit_per_address).map(|rate| limiter(rate, clock.clone())),
            clock,
            checks: AtomicU32::new(0),
        }
    }

    /// One key per network (`rate_limit::network`).
    fn check_ip(&self, ip: IpAddr) -> Result<(), Duration> {
        self.check(self.ip.as_ref(), &network(ip))
    }

    /// Case does not make another address here.
    fn check_address(&self, email: &Email) -> Result<(), Duration> {
        self.check(self.address.as_ref(), &email.as_str().to_lowercase())
    }

    fn check<K: std::hash::Hash + Eq + Clone>(
        &self,
        limiter: Option<&Limiter<K>>,
        key: &K,
    ) -> Result<(), Duration> {
        let Some(limiter) = limiter else {
            return Ok(());
        };
        // Now and then, forget keys whose limit has fully recovered.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            if let Some(ip) = &self.ip {
                ip.retain_recent();
            }
            if let Some(address) = &self.address {
                address.retain_recent();
            }
        }
        limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(governor::clock::Clock::now(&self.clock)))
    }
}

fn public_actor() -> Actor {
    Actor {
        name: "subscriber".into(),
        ip: None,
    }
}

/// The subscriber and when their confirmation link was made, from a link.
fn confirm_link(state: &AppState, token: Option<&str>) -> Option<(SubscriberId, jiff::Timestamp)> {
    state.links.verify_confirm(token?)
}

/// Opening the link shows a button; it changes nothing.
#[tracing::instrument(skip_all)]
async fn confirm_page(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
) -> Result<Response, PageError> {
    let (_, sent_at) = confirm_link(&state, query.token.as_deref()).ok_or_else(bad_link)?;
    let ctx = page_context(&state);
    if let Err(err) = crate::domain::subscriber::check_link_age(sent_at, state.clock.now()) {
        return Ok(link_expired(&ctx, err.message));
    }
    Ok(view::confirm_prompt(&ctx, query.token.as_deref().unwrap_or_default()).into_response())
}

/// 410: a confirmation link past its age, or already used up.
fn link_expired(ctx: &crate::views::PageContext<'_>, why: String) -> Response {
    (
        StatusCode::GONE,
        view::notice(ctx, "This link no longer works", &[why], None),
    )
        .into_response()
}

#[tracing::instrument(skip_all)]
async fn confirm(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
) -> Result<Response, PageError> {
    let (id, sent_at) = confirm_link(&state, query.token.as_deref()).ok_or_else(bad_link)?;
    let now = state.clock.now();
    let result = state
        .store
        .change_subscriber(
            &id,
            &public_actor(),
            now,
            &SubscriberChange::Confirm {
                link_sent_at: sent_at,
            },
        )
        .await;
    let ctx = page_context(&state);
    match result {
        Ok(subscriber) => Ok(view::subscribed(
            &ctx,
            &subscriber.address,
            &state.links.manage_url(&subscriber.id),
        )
        .into_response()),
        Err(StoreError::Domain(err)) => Ok(link_expired(&ctx, err.message)),
        Err(e) => Err(link_or_store(e)),
    }
}

#[tracing::instrument(skip_all)]
async fn unsubscribe_page(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
) -> Result<Markup, PageError> {
    let token = query.token.unwrap_or_default();
    state
        .links
        .verify_unsubscribe(&token)
        .ok_or_else(bad_link)?;
    Ok(view::unsubscribe_confirm(&page_context(&state), &token))
}

/// RFC 8058 one-click: a POST to the List-Unsubscribe URL, any body.
#[tracing::instrument(skip_all)]
async fn unsubscribe(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
) -> Result<Markup, PageError> {
    let id = query
        .token
        .as_deref()
        .and_then(|t| state.links.verify_unsubscribe(t))
        .ok_or_else(bad_link)?;
    let now = state.clock.now();
    let subscriber = state
        .store
        .change_subscriber(&id, &public_actor(), now, &SubscriberChange::Unsubscribe)
        .await
        .map_err(link_or_store)?;
    Ok(view::notice(
        &page_context(&state),
        "You are unsubscribed",
        &[format!(
            "No more incident mail goes to {}.",
            subscriber.address
        )],
        None,
    ))
}

/// A subscriber a valid link names but the store does not know (deleted by
/// staff): the link is as good as invalid.
fn link_or_store(err: StoreError) -> PageError {
    match err {
        StoreError::NotFound => bad_link(),
        err => failed(err),
    }
}

#[tracing::instrument(skip_all)]
async fn manage(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
) -> Result<Markup, PageError> {
    let token = query.token.unwrap_or_default();
    let id = state.links.verify_manage(&token).ok_or_else(bad_link)?;
    let (subscriber, components) = match (
        state.store.get_subscriber(&id).await,
        state.store.list_components().await,
    ) {
        (Ok(s), Ok(c)) => (s, c),
        (Err(StoreError::NotFound), _) => return Err(bad_link()),
        (Err(e), _) | (_, Err(e)) => return Err(failed(e)),
    };
    Ok(view::manage_page(
        &page_context(&state),
        &token,
        &state.links.unsubscribe_token(&id),
        &subscriber.address,
        &components,
        &subscriber.components,
        false,
    ))
}

#[tracing::instrument(skip_all)]
async fn save_choice(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
    body: Bytes,
) -> Result<Response, PageError> {
    let token = query.token.unwrap_or_default();
    let id = state.links.verify_manage(&token).ok_or_else(bad_link)?;
    let chosen = parse_form(&body).components;
    let now = state.clock.now();
    let result = state
        .store
        .change_subscriber(
            &id,
            &public_actor(),
            now,
            &SubscriberChange::Components(chosen),
        )
        .await;
    let components = state.store.list_components().await.map_err(failed)?;
    match result {
        Ok(subscriber) => Ok(view::manage_page(
            &page_context(&state),
            &token,
            &state.links.unsubscribe_token(&id),
            &subscriber.address,
            &components,
            &subscriber.components,
            true,
        )
        .into_response()),
        Err(StoreError::Domain(_)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            view::notice(
                &page_context(&state),
                "That did not work",
                &[
                    "One of the chosen components does not exist any more. Please choose again."
                        .into(),
                ],
                None,
            ),
        )
            .into_response()),
        Err(e) => Err(link_or_store(e)),
    }
}
