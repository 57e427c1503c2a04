//! The HTTP edge: routers, shared state, and the mapping of every failure to
//! a clear answer (JSON for the API, a page for people).

mod affected;
mod alerts;
mod auth;
mod badge;
pub mod cache;
mod calendar;
mod client_ip;
mod components;
mod console;
mod cors;
mod deadline;
mod edge;
pub mod error;
pub mod extract;
mod feeds;
mod health;
mod idempotency;
mod incidents;
mod maintenances;
mod manage;
mod metrics;
pub mod openapi;
mod owed;
pub(crate) mod public;
mod rate_limit;
mod reader_reports;
mod security;
mod statuspage;
mod still_affected;
mod subscribe;
mod subscriber_import;
mod subscribers;

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

use axum::{
    extract::{DefaultBodyLimit, Request, State},
    http::Method,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    Router,
};
use serde::Serialize;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa_axum::router::OpenApiRouter;

use crate::clock::Clock;
use crate::config::Settings;
use crate::links::Links;
use crate::store::Store;
use error::ApiError;

/// What every handler gets: one `Arc`, so each request clones and drops
/// one counter instead of one per field (under load, the fields' counters
/// bounced between the cores on every request).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }

    /// The components as the public sees them: each group as bad as its
    /// worst member (`component::rolled_up`).
    pub async fn shown_components(
        &self,
    ) -> Result<Vec<crate::domain::component::Component>, crate::store::StoreError> {
        let stored = self.store.list_components().await?;
        Ok(crate::domain::component::rolled_up(&stored))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    /// The configuration, parsed at start.
    pub config: Arc<Settings>,
    /// Public URL without a trailing slash.
    pub base_url: Arc<str>,
    pub admin_token_hash: Option<Arc<str>>,
    /// The signed links of subscribers (confirm, unsubscribe, manage,
    /// still affected), read back when they are followed.
    pub links: Arc<Links>,
    /// Wakes the delivery worker when new deliveries are queued.
    pub wake: Arc<tokio::sync::Notify>,
    /// Moves on every change of what the public pages show: after each
    /// admin write, and when the store's `page_version` moves. Whatever
    /// else writes in this process (the scheduler, say) should bump it too,
    /// so that the pages change at once rather than within a second.
    pub page_changes: Arc<AtomicU64>,
    /// The rendered public pages (`cache.rs`).
    pub page_cache: Arc<cache::PageCache>,
    /// What this process counts for `/metrics` (requests, sending errors).
    pub counters: Arc<crate::counters::Counters>,
}

/// Every list the API returns.
#[derive(Serialize, utoipa::ToSchema)]
pub struct List<T> {
    pub items: Vec<T>,
    /// Give it as `cursor` for the next page; `null` on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

impl<T> List<T> {
    pub fn all(items: Vec<T>) -> Self {
        Self {
            items,
            next_cursor: None,
        }
    }
}

/// Every route of the admin API that needs a token, each with its part of
/// the OpenAPI document (`openapi.rs`): a route is added here only through
/// its handler's `#[utoipa::path]`, so the document names every route.
fn admin_api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(components::router())
        .merge(incidents::router())
        .merge(maintenances::router())
        .merge(subscribers::router())
        .merge(owed::router())
        .merge(reader_reports::router())
        // Monitoring alerts (issue 16): its own block, for easy merging.
        .merge(alerts::router())
}

pub fn router(state: AppState) -> Router {
    let (admin, _) = admin_api().split_for_parts();
    let (public_api, _) = openapi::public_api().split_for_parts();
    let admin = admin
        .fallback(api_not_found)
        .method_not_allowed_fallback(api_method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            idempotency::idempotent,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), pages_changed));
    // The document is public: merged after the token's layer.
    let api = public_api
        .merge(admin)
        .method_not_allowed_fallback(api_method_not_allowed);
    // Everything public that only reads is rendered once per state.
    let cached = Router::new()
        .merge(public::router())
        .merge(statuspage::router())
        .merge(feeds::router())
        .merge(badge::router())
        .merge(calendar::router())
        .layer(cache::PageCacheLayer(state.clone()));
    // The Statuspage Manage API v1 (issue 15): its own block, for easy merging.
    let manage = manage::router(state.clone())
        .layer(middleware::from_fn_with_state(state.clone(), pages_changed));
    Router::new()
        .nest("/api/v1", api)
        .merge(openapi::docs_router())
        .merge(manage)
        .merge(cached)
        .merge(subscribe::router())
        .merge(console::router())
        .merge(still_affected::router())
        .merge(affected::router())
        .merge(health::router())
        .merge(metrics::router().layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        )))
        // Each answer says which route it came from, for the counts.
        .route_layer(metrics::RouteLabelLayer)
        // One layer of three (the first is outermost): each `Router::layer`
        // boxes every route again, and each box is cloned per request. The
        // edge also opens each request's span (tower-http's TraceLayer
        // wrapped every future and body once more for it).
        .layer(
            tower::ServiceBuilder::new()
                .layer(edge::EdgeLayer(state.clone()))
                .layer(CatchPanicLayer::custom(|_| {
                    tracing::error!("a handler panicked");
                    ApiError::Internal(anyhow::anyhow!("panic")).into_response()
                }))
                .layer(DefaultBodyLimit::max(extract::BODY_LIMIT)),
        )
        .with_state(state)
}

/// After an admin write that succeeded, the public pages are stale.
/// Bumped after the handler, so the writer's next GET sees the change.
/// A refused request (401, 422, ...) changed nothing, and must not let
/// anyone throw the rendered pages away; a write that committed and still
/// failed is caught by the cache's poll of `page_version` within a second.
async fn pages_changed(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let writes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let response = next.run(request).await;
    if writes && response.status().is_success() {
        state.page_changes.fetch_add(1, Ordering::AcqRel);
    }
    response
}

async fn api_not_found(method: Method) -> Response {
    let _ = method;
    ApiError::NotFound("there is nothing at this path in the API".into()).into_response()
}

async fn api_method_not_allowed() -> Response {
    ApiError::MethodNotAllowed.into_response()
}
