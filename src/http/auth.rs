//! Bearer tokens for the admin API. Only a token's SHA-256 is stored.

use axum::{
    extract::{ConnectInfo, OriginalUri, Request, State},
    http::{header::AUTHORIZATION, Method},
    middleware::Next,
    response::Response,
};

use super::{error::ApiError, AppState};
use crate::domain::alerts::TokenScope;
use crate::ids::hash_token;
use crate::store::Actor;

/// Checks the token and puts the `Actor` into the request for handlers.
pub async fn require_token(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let secret = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_secret)
        .filter(|s| !s.is_empty())
        .ok_or(ApiError::Unauthorized)?;
    let hash = hash_token(secret);
    let (name, scope) = if state.admin_token_hash.as_deref() == Some(hash.as_str()) {
        ("admin".to_string(), TokenScope::All)
    } else {
        state
            .store
            .authenticate_scoped(&hash, state.clock.now())
            .await?
            .ok_or(ApiError::Unauthorized)?
    };
    check_scope(scope, &request)?;
    let ip = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|ConnectInfo(addr)| {
            super::client_ip::client_ip(addr.ip(), request.headers(), &state.config.trusted_proxies)
                .to_string()
        });
    request.extensions_mut().insert(Actor { name, ip });
    Ok(next.run(request).await)
}

/// A token limited to alerts may post alerts and nothing else: 403 for
/// anything else, before the request reaches a handler.
fn check_scope(scope: TokenScope, request: &Request) -> Result<(), ApiError> {
    let path = request
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| request.uri().path(), |uri| uri.0.path());
    if scope.allows(request.method() == Method::POST, path) {
        return Ok(());
    }
    Err(ApiError::Forbidden(format!(
        "this token may only post alerts (scope `{}`)",
        scope.as_str()
    )))
}

/// The credentials of `Bearer <secret>`: the scheme's name is
/// case-insensitive (RFC 9110 §11.1), so `bearer` and `BEARER` work too.
fn bearer_secret(header: &str) -> Option<&str> {
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
