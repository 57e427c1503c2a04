//! The Statuspage Manage API v1 (`/v1/pages/{page_id}/…`), for scripts and
//! clients written for Statuspage: their wrapped bodies, object shapes,
//! enum values and timestamps, `Authorization: OAuth <key>` with a Candor
//! API token, and paths with or without `.json`. Every write goes through
//! the same store operations as the admin API, so it is mailed, audited
//! and checked by the same rules; what those rules forbid is refused with
//! 422 saying why (DESIGN.md §1 rule 10).
//!
//! Candor serves one page: any `page_id` names it (a script keeps the id it
//! had), and every object says Candor's own page id (the v2 API's).

mod bodies;
mod components;
mod incidents;
mod shapes;
mod subscribers;

use axum::{
    extract::{Request, State},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::MethodRouter,
    Router,
};
use serde::Deserialize;

use super::{auth, error::ApiError, AppState};
use crate::domain::component::Component;
use crate::statuspage::Ctx;

/// Everything under `/v1`, behind the OAuth token check.
pub fn router(state: AppState) -> Router<AppState> {
    let routes = Router::new()
        .merge(components::router())
        .merge(incidents::router())
        .merge(subscribers::router())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), require_oauth));
    Router::new().nest("/v1", routes)
}

/// `path` and `path.json`, both served by `handler`.
fn both(router: Router<AppState>, path: &str, handler: MethodRouter<AppState>) -> Router<AppState> {
    router
        .route(path, handler.clone())
        .route(&format!("{path}.json"), handler)
}

async fn not_found() -> Response {
    ApiError::NotFound("there is nothing at this path of the Statuspage Manage API".into())
        .into_response()
}

/// `Authorization: OAuth <key>`, the key a Candor API token (`Bearer`
/// works too). An alerts-only token is refused 403, as on the admin API.
async fn require_oauth(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let oauth = |err| match err {
        ApiError::Unauthorized => ApiError::UnauthorizedOAuth,
        other => other,
    };
    let presented = auth::Presented::of(&state, &request, oauth_secret).map_err(oauth)?;
    let (actor, owner) = auth::identify(&state, presented).await.map_err(oauth)?;
    request.extensions_mut().insert(actor);
    request.extensions_mut().insert(owner);
    Ok(next.run(request).await)
}

/// The credentials of `OAuth <key>` or `Bearer <key>`, the scheme in any case.
fn oauth_secret(header: &str) -> Option<&str> {
    let (scheme, secret) = header.trim_start().split_once(' ')?;
    (scheme.eq_ignore_ascii_case("oauth") || scheme.eq_ignore_ascii_case("bearer"))
        .then(|| secret.trim())
}

/// A resource's id in the path, its `.json` suffix taken off.
#[derive(Deserialize)]
struct ItemPath {
    #[allow(dead_code)]
    page_id: String,
    id: String,
}

impl ItemPath {
    fn id(&self) -> &str {
        self.id.strip_suffix(".json").unwrap_or(&self.id)
    }
}

/// Statuspage's `page` (from 1) and `per_page` (also `limit`).
#[derive(Deserialize)]
struct Paging {
    page: Option<usize>,
    per_page: Option<usize>,
    limit: Option<usize>,
    /// Incidents whose name contains this, in any case.
    q: Option<String>,
    /// Subscribers: `active` (the default: pending or confirmed),
    /// `unsubscribed` or `all`.
    state: Option<String>,
}

impl Paging {
    const MAX: usize = 1000;

    fn page(&self) -> Result<(usize, usize), ApiError> {
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.or(self.limit).unwrap_or(100);
        if page == 0 {
            return Err(ApiError::invalid("page", "pages count from 1"));
        }
        if !(1..=Self::MAX).contains(&per_page) {
            return Err(ApiError::invalid("per_page", "must be between 1 and 1000"));
        }
        Ok((page, per_page))
    }
}

fn ctx<'a>(state: &'a AppState, components: &'a [Component]) -> Ctx<'a> {
    Ctx::new(
        &state.config.page_name,
        &state.base_url,
        &state.config.time_zone,
        &state.config.time_zone_name,
        components,
        state.clock.now(),
    )
}

#[cfg(test)]
mod tests {
    use super::oauth_secret;

    #[test]
    fn the_key_comes_as_oauth_or_bearer() {
        for header in ["OAuth abc", "oauth abc", "Bearer  abc "] {
            assert_eq!(oauth_secret(header), Some("abc"), "{header}");
        }
        assert_eq!(oauth_secret("Basic abc"), None);
        assert_eq!(oauth_secret("OAuthabc"), None);
    }
}
