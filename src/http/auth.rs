//! Bearer tokens for the admin API. Only a token's SHA-256 is stored.

use axum::{
    extract::{ConnectInfo, OriginalUri, Request, State},
    http::{header::AUTHORIZATION, Method},
    middleware::Next,
    response::Response,
};

use super::{error::ApiError, AppState};
use crate::domain::alerts::TokenScope;
use crate::domain::Owner;
use crate::ids::hash_token;
use crate::store::Actor;

/// Checks the token and puts the `Actor` into the request for handlers.
pub async fn require_token(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let presented = Presented::of(&state, &request, bearer_secret)?;
    let (actor, _) = identify(&state, presented).await?;
    request.extensions_mut().insert(actor);
    Ok(next.run(request).await)
}

/// The person a token speaks for (`candor token create --owner`), for
/// handlers of APIs that have no owner field of their own.
#[derive(Debug, Clone)]
pub struct TokenOwner(pub Option<Owner>);

/// What a request presents of itself to be let in, read before any await
/// (a request's body is not `Sync`).
pub(super) struct Presented {
    secret: String,
    is_post: bool,
    path: String,
    ip: Option<String>,
}

impl Presented {
    /// The secret that `scheme` finds in `Authorization` (401 without one).
    pub(super) fn of(
        state: &AppState,
        request: &Request,
        scheme: fn(&str) -> Option<&str>,
    ) -> Result<Self, ApiError> {
        let secret = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(scheme)
            .filter(|s| !s.is_empty())
            .ok_or(ApiError::Unauthorized)?
            .to_string();
        let path = request
            .extensions()
            .get::<OriginalUri>()
            .map_or_else(|| request.uri().path(), |uri| uri.0.path())
            .to_string();
        let ip = request
            .extensions()
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map(|ConnectInfo(addr)| {
                super::client_ip::client_ip(
                    addr.ip(),
                    request.headers(),
                    &state.config.trusted_proxies,
                )
                .to_string()
            });
        Ok(Self {
            secret,
            is_post: request.method() == Method::POST,
            path,
            ip,
        })
    }
}

/// Who holds the presented token, refused (401, or 403 for a token whose
/// scope does not cover this request) before any handler runs.
pub(super) async fn identify(
    state: &AppState,
    presented: Presented,
) -> Result<(Actor, TokenOwner), ApiError> {
    let hash = hash_token(&presented.secret);
    let (name, scope, owner) = if state.admin_token_hash.as_deref() == Some(hash.as_str()) {
        ("admin".to_string(), TokenScope::All, None)
    } else {
        let holder = state
            .store
            .authenticate_scoped(&hash, state.clock.now())
            .await?
            .ok_or(ApiError::Unauthorized)?;
        (holder.name, holder.scope, holder.owner)
    };
    // A token limited to alerts may post alerts and nothing else: 403 for
    // anything else, before the request reaches a handler.
    if !scope.allows(presented.is_post, &presented.path) {
        return Err(ApiError::Forbidden(format!(
            "this token may only post alerts (scope `{}`)",
            scope.as_str()
        )));
    }
    Ok((
        Actor {
            name,
            ip: presented.ip,
        },
        TokenOwner(owner),
    ))
}

/// The credentials of `Bearer <secret>`: the scheme's name is
/// case-insensitive (RFC 9110 §11.1), so `bearer` and `BEARER` work too.
pub(super) fn bearer_secret(header: &str) -> Option<&str> {
    let (scheme, secret) = header.trim_start().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| secret.trim())
}

#[cfg(test)]
mod tests {
    use super::bearer_secret;

    #[test]
    fn the_scheme_is_case_insensitive() {
        for header in ["Bearer abc", "bearer abc", "BEARER  abc "] {
            assert_eq!(bearer_secret(header), Some("abc"), "{header}");
        }
        assert_eq!(bearer_secret("Basic abc"), None);
        assert_eq!(bearer_secret("Bearerabc"), None);
    }
}
