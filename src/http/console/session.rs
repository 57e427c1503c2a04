//! Who is logged in: the session cookie, read back into a `Staff`, and the
//! CSRF token every console form carries.
//!
//! The cookie holds a random secret; the store keeps its SHA-256, so a
//! read of the database gives no one a session. It is `HttpOnly`,
//! `SameSite=Lax` (a link from the owner's reminder mail opens the console
//! logged in; a form on another site posts without it), `Path=/admin`
//! (the public pages, cached for everyone, never see it) and `Secure`
//! when the page is served over https.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, FromRequestParts, OptionalFromRequestParts},
    http::{header, request::Parts, HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Redirect, Response},
};

use super::form::Form;
use crate::domain::staff::{Duty, StaffUser};
use crate::http::{error::PageError, AppState};
use crate::ids::hash_token;
use crate::store::Actor;

pub const SESSION_COOKIE: &str = "candor_session";
/// Before a session exists, the login form's CSRF token is checked against
/// this cookie (a double submit), so that no other site can log a browser
/// in to an account of its choosing.
pub const LOGIN_COOKIE: &str = "candor_login";

/// The person behind a console request.
pub struct Staff {
    pub user: StaffUser,
    /// The token this session's forms carry.
    pub csrf: String,
    /// The SHA-256 of the session's secret, to end it.
    pub session_hash: String,
    /// Who writes, for entries (their name is the author) and the audit log.
    pub actor: Actor,
}

impl Staff {
    /// 403 unless the person's role may do `duty`.
    pub fn may(&self, duty: Duty) -> Result<(), PageError> {
        if self.user.role.may(duty) {
            Ok(())
        } else {
            Err(PageError::Forbidden(
                "Only admins can open this page. Ask an admin if you need it.",
            ))
        }
    }

    /// The form `body` holds, once its CSRF token is this session's and the
    /// person's role may do `duty` (403 otherwise).
    pub fn form(&self, body: &[u8], duty: Duty) -> Result<Form, PageError> {
        let form = Form::parse(body);
        self.check(&form)?;
        self.may(duty)?;
        Ok(form)
    }

    /// 403 unless the form carries this session's CSRF token.
    pub fn check(&self, form: &Form) -> Result<(), PageError> {
        if same_secret(form.get("csrf").unwrap_or(""), &self.csrf) {
            Ok(())
        } else {
            Err(stale_form())
        }
    }
}

pub fn stale_form() -> PageError {
    PageError::Forbidden(
        "This form was sent from a page that is too old, or from another site. \
         Nothing was posted. Go back, reload the page and send the form again.",
    )
}

/// Whether two secrets are equal, taking as long whatever the first
/// difference (their lengths are no secret).
pub fn same_secret(given: &str, expected: &str) -> bool {
    given.len() == expected.len()
        && !expected.is_empty()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The value of cookie `name` in the request, if sent.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// A `Set-Cookie` value for the console: `max_age` seconds, 0 to delete.
pub fn set_cookie(
    state: &AppState,
    name: &str,
    value: &str,
    path: &str,
    max_age: i64,
) -> HeaderValue {
    let secure = if state.base_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
    ))
    .expect("a cookie of letters and digits")
}

/// The client's address, as the audit log records it.
pub fn client_ip(
    parts_extensions: &axum::http::Extensions,
    headers: &HeaderMap,
    state: &AppState,
) -> Option<String> {
    parts_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| {
            crate::http::client_ip::client_ip(addr.ip(), headers, &state.config.trusted_proxies)
                .to_string()
        })
}

/// Where someone not logged in is sent: the login page, which brings them
/// back here after (a GET of this path; a form's content is not kept).
fn to_login(parts: &Parts) -> Response {
    let path = parts.uri.path();
    let back = if parts.method == Method::GET {
        parts.uri.path_and_query().map_or(path, |pq| pq.as_str())
    } else {
        path
    };
    let next: String = form_urlencoded::byte_serialize(back.as_bytes()).collect();
    let mut response = Redirect::to(&format!("/admin/login?next={next}")).into_response();
    // See Other for a GET as for a POST: the login page is read with GET.
    *response.status_mut() = StatusCode::SEE_OTHER;
    response
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match find(parts, state).await? {
            Some(staff) => Ok(staff),
            None => Err(to_login(parts)),
        }
    }
}

impl OptionalFromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Response> {
        find(parts, state).await
    }
}

/// The person whose live session the request's cookie names, if any.
async fn find(parts: &Parts, state: &AppState) -> Result<Option<Staff>, Response> {
    let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let session_hash = hash_token(secret);
    let session = state
        .store
        .session(&session_hash, state.clock.now())
        .await
        .map_err(|e| PageError::store(&e, "console session").into_response())?;
    Ok(session.map(|session| {
        let actor = Actor {
            name: session.user.name.to_string(),
            ip: client_ip(&parts.extensions, &parts.headers, state),
        };
        Staff {
            user: session.user,
            csrf: session.csrf,
            session_hash,
            actor,
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abd", "abc"));
        assert!(!same_secret("ab", "abc"));
        assert!(!same_secret("", ""));
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; candor_session=xyz; b=2"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&headers, "candor"), None);
        assert_eq!(cookie(&headers, "b"), Some("2"));
    }
}
