//! "I'm affected": a reader's one-button report on a component or an open
//! incident (`domain::reader_report`). No login: the reader is known only
//! by a keyed hash of their network (`Links::reader_key`), counted once an
//! hour per subject, and each network is rate limited
//! (`report_limit_per_ip`). Every report gets the same thanks, counted or
//! not.

use std::{
    net::{IpAddr, SocketAddr},
    sync::{Arc, OnceLock},
};

use axum::{
    extract::{rejection::PathRejection, ConnectInfo, Path, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
    Extension, Router,
};

use super::rate_limit::{network, retry_after, IpLimit};
use super::{client_ip::client_ip, error::PageError, public::page_context, AppState};
use crate::domain::reader_report::{ReportOutcome, Subject};
use crate::domain::{ComponentId, IncidentId};
use crate::store::{ReaderReport, StoreError};
use crate::views::affected::{self as view, Reported};

pub fn router() -> Router<AppState> {
    // One limit per application (so per test app too), made from the
    // configuration on first use.
    let limit: Arc<OnceLock<IpLimit>> = Arc::default();
    Router::new()
        .route(
            "/components/{id}/affected",
            post(component).get(only_posted),
        )
        .route("/incidents/{id}/affected", post(incident).get(only_posted))
        .layer(Extension(limit))
}

/// Opening the button's address gets a page, not a bare 405.
async fn only_posted() -> PageError {
    PageError::NotAllowed(
        "Use the “I’m affected” button on the status page to tell us something does not work for you.",
    )
}

/// The connection's peer, when served over TCP.
type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

#[tracing::instrument(skip_all)]
async fn component(
    State(state): State<AppState>,
    Extension(limit): Extension<Arc<OnceLock<IpLimit>>>,
    peer: Peer,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, PageError> {
    let Ok(Path(id)) = id else {
        return Err(unknown_component());
    };
    let subject = Subject::Component(ComponentId::new(id));
    report(&state, &limit, peer, &headers, subject).await
}

#[tracing::instrument(skip_all)]
async fn incident(
    State(state): State<AppState>,
    Extension(limit): Extension<Arc<OnceLock<IpLimit>>>,
    peer: Peer,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, PageError> {
    let Ok(Path(id)) = id else {
        return Err(unknown_incident());
    };
    let subject = Subject::Incident(IncidentId::new(id));
    report(&state, &limit, peer, &headers, subject).await
}

fn unknown_component() -> PageError {
    PageError::NotFound(
        "There is no such component. Use the “I’m affected” button on the status page.",
    )
}

fn unknown_incident() -> PageError {
    PageError::NotFound(
        "There is no such incident. Use the “I’m affected” button on the status page.",
    )
}

/// Limits, records, and thanks.
async fn report(
    state: &AppState,
    limit: &OnceLock<IpLimit>,
    peer: Peer,
    headers: &HeaderMap,
    subject: Subject,
) -> Result<Response, PageError> {
    let limit =
        limit.get_or_init(|| IpLimit::new(state.config.report_limit_per_ip, state.clock.clone()));
    // Without a peer address (never over TCP) every such reader is one.
    let peer = peer.map_or(IpAddr::from([0, 0, 0, 0]), |Extension(ConnectInfo(p))| {
        p.ip()
    });
    let ip = client_ip(peer, headers, &state.config.trusted_proxies);
    if let Err(wait) = limit.check(ip) {
        tracing::info!("report refused: too many requests from this network");
        let (seconds, minutes) = retry_after(wait);
        return Ok((
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, seconds.to_string())],
            view::too_many(&page_context(state), minutes),
        )
            .into_response());
    }
    let report = ReaderReport {
        reader: state.links.reader_key(network(ip)),
        tell: state.config.reports_to.as_ref().map(|to| to.to_string()),
        subject,
    };
    let outcome = state
        .store
        .report_affected(&report, state.clock.now())
        .await
        .map_err(|err| match (err, &report.subject) {
            (StoreError::NotFound, Subject::Component(_)) => unknown_component(),
            (StoreError::NotFound, Subject::Incident(_)) => unknown_incident(),
            (err, _) => PageError::store(&err, "reader report"),
        })?;
    let ReportOutcome::Taken {
        name,
        counted,
        staff_told,
    } = outcome
    else {
        return Err(PageError::Gone(
            "This incident is resolved, or the planned work has not begun. If something does \
             not work for you, use “I’m affected” on the component on the status page: staff \
             see it at once.",
        ));
    };
    tracing::info!(counted, staff_told, "reader report");
    if staff_told {
        state.wake.notify_one();
    }
    let reported = match &report.subject {
        Subject::Component(_) => Reported::Component {
            name: &name,
            staff_mailed: report.tell.is_some(),
        },
        Subject::Incident(id) => Reported::Incident {
            id: id.as_str(),
            title: &name,
        },
    };
    Ok(view::thanks(&page_context(state), &reported).into_response())
}
