//! Public subscription pages: double opt-in, one-click unsubscribe (RFC
//! 8058), and choosing components, all through signed links.

use axum::{
    body::Bytes,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use serde::Deserialize;

use super::{public::page_context, status_page, AppState};
use crate::delivery::email::{CONFIRM, MANAGE, UNSUBSCRIBE};
use crate::domain::{subscriber::Subscriber, Email};
use crate::ids::new_id;
use crate::store::{Actor, StoreError};
use crate::views::subscribe as view;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/subscribe", get(form).post(subscribe))
        .route("/subscribe/confirm", get(confirm))
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
    components: Vec<String>,
}

fn parse_form(body: &[u8]) -> SubscribeForm {
    let mut form = SubscribeForm {
        email: String::new(),
        components: Vec::new(),
    };
    for (key, value) in form_urlencoded::parse(body) {
        match key.as_ref() {
            "email" => form.email = value.chars().take(320).collect(),
            "components" if form.components.len() < 200 => form.components.push(value.into_owned()),
            _ => {}
        }
    }
    form.components.sort();
    form.components.dedup();
    form
}

fn failed(state: &AppState, err: StoreError) -> Response {
    tracing::error!(error = %err, "subscription page");
    status_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        state,
        "That did not work on our side. Please try again in a minute.",
    )
}

fn bad_link(state: &AppState) -> Response {
    status_page(
        StatusCode::BAD_REQUEST,
        state,
        "This link is not valid. Use the link from your latest mail, or subscribe again.",
    )
}

async fn form(State(state): State<AppState>) -> Response {
    let components = match state.store.list_components().await {
        Ok(c) => c,
        Err(e) => return failed(&state, e),
    };
    view::subscribe_page(&page_context(&state), &components, None, "", &[]).into_response()
}

async fn subscribe(State(state): State<AppState>, body: Bytes) -> Response {
    let form = parse_form(&body);
    let components = match state.store.list_components().await {
        Ok(c) => c,
        Err(e) => return failed(&state, e),
    };
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
        return refuse("That is not an email address we can send to. Please check it.");
    };
    if let Some(unknown) = form
        .components
        .iter()
        .find(|id| !components.iter().any(|c| &c.id == *id))
    {
        tracing::info!(component = %unknown, "subscribe refused: unknown component");
        return refuse(
            "One of the chosen components does not exist any more. Please choose again.",
        );
    }
    let now = state.clock.now();
    let subscriber = Subscriber::email(new_id(), &email, form.components.clone(), false, now);
    if let Err(e) = state.store.subscribe(&subscriber, now).await {
        return failed(&state, e);
    }
    state.wake.notify_one();
    // The same answer whether or not the address was known.
    (
        StatusCode::OK,
        view::notice(
            &ctx,
            "Check your inbox",
            &[
                format!(
                    "If {} can receive mail from us, a link to confirm is on its way.",
                    email
                ),
                "Nothing else is sent until you click it. The link works for 7 days.".into(),
            ],
            None,
        ),
    )
        .into_response()
}

fn public_actor() -> Actor {
    Actor {
        name: "subscriber".into(),
        ip: None,
    }
}

async fn confirm(State(state): State<AppState>, Query(query): Query<TokenQuery>) -> Response {
    let Some(subject) = query
        .token
        .as_deref()
        .and_then(|t| state.mail.signer.verify(CONFIRM, t))
    else {
        return bad_link(&state);
    };
    let Some((id, sent_ms)) = subject.split_once(':') else {
        return bad_link(&state);
    };
    let Some(sent_at) = sent_ms
        .parse::<i64>()
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
    else {
        return bad_link(&state);
    };
    let now = state.clock.now();
    let result = state
        .store
        .change_subscriber(id, &public_actor(), now, &|s| s.confirm(sent_at, now))
        .await;
    let ctx = page_context(&state);
    match result {
        Ok(subscriber) => view::notice(
            &ctx,
            "You are subscribed",
            &[format!(
                "Every update about incidents now goes to {}, good news and bad.",
                subscriber.address
            )],
            Some(maud::html! {
                p { a href=(state.mail.manage_url(&subscriber.id)) { "Choose components" } }
            }),
        )
        .into_response(),
        Err(StoreError::Domain(err)) => (
            StatusCode::GONE,
            view::notice(&ctx, "This link no longer works", &[err.message], None),
        )
            .into_response(),
        Err(StoreError::NotFound) => bad_link(&state),
        Err(e) => failed(&state, e),
    }
}

fn subscriber_id(state: &AppState, purpose: &str, token: Option<&str>) -> Option<String> {
    token.and_then(|t| state.mail.signer.verify(purpose, t))
}

async fn unsubscribe_page(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
) -> Response {
    let token = query.token.unwrap_or_default();
    if subscriber_id(&state, UNSUBSCRIBE, Some(&token)).is_none() {
        return bad_link(&state);
    }
    view::unsubscribe_confirm(&page_context(&state), &token).into_response()
}

/// RFC 8058 one-click: a POST to the List-Unsubscribe URL, any body.
async fn unsubscribe(State(state): State<AppState>, Query(query): Query<TokenQuery>) -> Response {
    let Some(id) = subscriber_id(&state, UNSUBSCRIBE, query.token.as_deref()) else {
        return bad_link(&state);
    };
    let now = state.clock.now();
    let result = state
        .store
        .change_subscriber(&id, &public_actor(), now, &|s| {
            s.unsubscribe(now);
            Ok(())
        })
        .await;
    match result {
        Ok(subscriber) => view::notice(
            &page_context(&state),
            "You are unsubscribed",
            &[format!(
                "No more incident mail goes to {}.",
                subscriber.address
            )],
            None,
        )
        .into_response(),
        Err(StoreError::NotFound) => bad_link(&state),
        Err(e) => failed(&state, e),
    }
}

async fn manage(State(state): State<AppState>, Query(query): Query<TokenQuery>) -> Response {
    let token = query.token.unwrap_or_default();
    let Some(id) = subscriber_id(&state, MANAGE, Some(&token)) else {
        return bad_link(&state);
    };
    let (subscriber, components) = match (
        state.store.get_subscriber(&id).await,
        state.store.list_components().await,
    ) {
        (Ok(s), Ok(c)) => (s, c),
        (Err(StoreError::NotFound), _) => return bad_link(&state),
        (Err(e), _) | (_, Err(e)) => return failed(&state, e),
    };
    view::manage_page(
        &page_context(&state),
        &token,
        &state.mail.signer.sign(UNSUBSCRIBE, &id),
        &subscriber.address,
        &components,
        &subscriber.components,
        false,
    )
    .into_response()
}

async fn save_choice(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
    body: Bytes,
) -> Response {
    let token = query.token.unwrap_or_default();
    let Some(id) = subscriber_id(&state, MANAGE, Some(&token)) else {
        return bad_link(&state);
    };
    let chosen = parse_form(&body).components;
    let now = state.clock.now();
    let result = state
        .store
        .change_subscriber(&id, &public_actor(), now, &|s| {
            s.components = chosen.clone();
            Ok(())
        })
        .await;
    let components = match state.store.list_components().await {
        Ok(c) => c,
        Err(e) => return failed(&state, e),
    };
    match result {
        Ok(subscriber) => view::manage_page(
            &page_context(&state),
            &token,
            &state.mail.signer.sign(UNSUBSCRIBE, &id),
            &subscriber.address,
            &components,
            &subscriber.components,
            true,
        )
        .into_response(),
        Err(StoreError::Domain(_)) => (
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
            .into_response(),
        Err(StoreError::NotFound) => bad_link(&state),
        Err(e) => failed(&state, e),
    }
}
