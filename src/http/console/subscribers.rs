//! `/admin/subscribers` (admins): find, add and remove subscribers, by the
//! same rules as the admin API (a webhook's address is checked before it
//! is added; its signing secret is shown once).

use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::incidents::{console, see_other};
use super::Staff;
use crate::domain::staff::Duty;
use crate::domain::subscriber::{Subscriber, SubscriberChange};
use crate::domain::{ComponentId, Email, SubscriberId, WebhookUrl};
use crate::http::{error::PageError, AppState};
use crate::ids::new_id;
use crate::store::StoreError;
use crate::views::console::subscribers::{self as view, SubscribersPage};

/// Subscribers shown on one page.
const PAGE: i64 = 50;

fn failed(err: StoreError) -> PageError {
    match err {
        StoreError::NotFound => {
            PageError::NotFound("There is no such subscriber. Reload the subscribers page.")
        }
        err => PageError::store(&err, "console subscribers"),
    }
}

#[derive(Deserialize)]
pub struct PageQuery {
    q: Option<String>,
    after: Option<SubscriberId>,
    done: Option<String>,
}

/// What the page shows besides the list.
#[derive(Default)]
struct Said<'a> {
    notice: Option<&'a str>,
    problem: Option<&'a str>,
    secret: Option<&'a str>,
}

async fn render(
    state: &AppState,
    staff: &Staff,
    search: &str,
    after: Option<&SubscriberId>,
    said: Said<'_>,
) -> Result<Response, PageError> {
    let prefix = Some(search).filter(|s| !s.is_empty());
    let mut subscribers = state
        .store
        .list_subscribers(&crate::store::SubscriberFilter {
            after,
            limit: PAGE + 1,
            prefix,
            ..Default::default()
        })
        .await
        .map_err(failed)?;
    let next = if subscribers.len() as i64 > PAGE {
        subscribers.truncate(PAGE as usize);
        subscribers.last().map(|s| s.id.to_string())
    } else {
        None
    };
    let components = state.store.list_components().await.map_err(failed)?;
    let status = if said.problem.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = view::page(
        &console(state, staff),
        &SubscribersPage {
            subscribers: &subscribers,
            components: &components,
            search,
            next: next.as_deref(),
            notice: said.notice,
            problem: said.problem,
            secret: said.secret,
        },
    );
    Ok((status, page).into_response())
}

pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<PageQuery>,
) -> Result<Response, PageError> {
    staff.may(Duty::Administer)?;
    let notice = match query.done.as_deref() {
        Some("added") => Some("Added."),
        Some("removed") => Some("Removed: it gets nothing more; what it was sent stays on record."),
        _ => None,
    };
    let search = query.q.unwrap_or_default();
    render(
        &state,
        &staff,
        search.trim(),
        query.after.as_ref(),
        Said {
            notice,
            ..Said::default()
        },
    )
    .await
}

#[tracing::instrument(skip_all)]
pub async fn add(
    State(state): State<AppState>,
    staff: Staff,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = staff.form(&body, Duty::Administer)?;
    let now = state.clock.now();
    let mut components: Vec<ComponentId> = form
        .with_prefix("components")
        .filter(|(rest, _)| rest.is_empty())
        .map(|(_, id)| ComponentId::new(id))
        .collect();
    components.sort();
    components.dedup();
    let address = form.text("address");
    let (state, staff) = (&state, &staff);
    let refuse = |problem: String| async move {
        render(
            state,
            staff,
            "",
            None,
            Said {
                problem: Some(&problem),
                ..Said::default()
            },
        )
        .await
    };
    let (subscriber, secret) = match form.get("kind") {
        Some("webhook") => {
            let url = match WebhookUrl::parse(&address) {
                Ok(url) => url,
                Err(e) => return refuse(format!("the URL {}.", e.message)).await,
            };
            if let Err(why) =
                crate::webhook_address::check_new(url.as_str(), state.config.webhook_allow_private)
                    .await
            {
                return refuse(format!("{why}.")).await;
            }
            (
                Subscriber::webhook(new_id(), &url, components, now),
                Some(crate::webhook_secret::new_secret()),
            )
        }
        _ => match Email::parse(&address) {
            Ok(email) => (
                Subscriber::email(
                    new_id(),
                    &email,
                    components,
                    form.get("confirmed") == Some("on"),
                    now,
                ),
                None,
            ),
            Err(e) => return refuse(format!("the address {}.", e.message)).await,
        },
    };
    match state
        .store
        .add_subscriber(&subscriber, secret.as_deref(), &staff.actor)
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(message))
        | Err(StoreError::Domain(crate::domain::DomainError { message, .. })) => {
            return refuse(format!("{message}.")).await;
        }
        Err(err) => return Err(failed(err)),
    }
    state.wake.notify_one();
    match secret {
        // The secret is shown on this answer, never put in a URL.
        Some(secret) => {
            render(
                state,
                staff,
                "",
                None,
                Said {
                    notice: Some("Added."),
                    secret: Some(&secret),
                    ..Said::default()
                },
            )
            .await
        }
        None => Ok(see_other("/admin/subscribers?done=added".into())),
    }
}

#[tracing::instrument(skip_all, fields(subscriber = %id))]
pub async fn remove(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<SubscriberId>,
    body: Bytes,
) -> Result<Response, PageError> {
    staff.form(&body, Duty::Administer)?;
    state
        .store
        .change_subscriber(
            &id,
            &staff.actor,
            state.clock.now(),
            &SubscriberChange::Unsubscribe,
        )
        .await
        .map_err(failed)?;
    Ok(see_other("/admin/subscribers?done=removed".into()))
}
