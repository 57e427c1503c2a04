//! Logging in and out, and setting a password through a one-time link.
//!
//! A wrong address, a wrong password, a disabled account and one with no
//! password yet all get the same answer, after the same work (a hash is
//! checked even for an unknown address), so that the login form tells no
//! one which addresses have accounts. Attempts are limited per client
//! network and per address (`login_limit_per_ip`, `_per_address`).

use std::{
    net::SocketAddr,
    sync::{Arc, OnceLock},
};

use axum::{
    body::Bytes,
    extract::{ConnectInfo, Query, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    Extension,
};
use serde::Deserialize;

use super::form::Form;
use super::session::{
    cookie, same_secret, set_cookie, stale_form, Staff, LOGIN_COOKIE, SESSION_COOKIE,
};
use crate::domain::staff::{login_address, Password, SESSION_MAX};
use crate::http::rate_limit::{limiter, retry_after, IpLimit, Limiter, LimiterClock};
use crate::http::{error::PageError, public::page_context, AppState};
use crate::ids::{hash_token, new_token};
use crate::store::{Actor, NewSession};
use crate::views::console::login as view;

/// The limits on login attempts, made from the configuration on first use.
pub struct LoginLimits {
    ip: IpLimit,
    address: Option<Limiter<String>>,
    clock: LimiterClock,
}

impl LoginLimits {
    fn new(state: &AppState) -> Self {
        let clock = LimiterClock(state.clock.clone());
        Self {
            ip: IpLimit::new(state.config.login_limit_per_ip, state.clock.clone()),
            address: (state.config.login_limit_per_address)
                .map(|rate| limiter(rate, clock.clone())),
            clock,
        }
    }

    fn check(
        &self,
        ip: Option<std::net::IpAddr>,
        address: &str,
    ) -> Result<(), std::time::Duration> {
        if let Some(ip) = ip {
            self.ip.check(ip)?;
        }
        if let Some(limiter) = &self.address {
            limiter
                .check_key(&address.to_string())
                .map_err(|not_until| {
                    not_until.wait_time_from(governor::clock::Clock::now(&self.clock))
                })?;
        }
        Ok(())
    }
}

pub type Limits = Extension<Arc<OnceLock<LoginLimits>>>;

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    /// `out`: just logged out; `password`: a password was just set.
    done: Option<String>,
}

/// Only a console path, so that the login page sends no one elsewhere.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(next)
            if next.starts_with("/admin") && !next.starts_with("//") && !next.contains('\\') =>
        {
            next
        }
        _ => "/admin",
    }
}

/// The login page; someone logged in already goes on at once.
pub async fn form(
    State(state): State<AppState>,
    staff: Option<Staff>,
    Query(query): Query<LoginQuery>,
) -> Response {
    let next = safe_next(query.next.as_deref()).to_string();
    if staff.is_some() {
        return see_other(&next);
    }
    let notice = match query.done.as_deref() {
        Some("out") => Some("You are logged out."),
        Some("password") => Some("Your password is set. Log in with it."),
        _ => None,
    };
    login_page(&state, StatusCode::OK, &next, "", None, notice)
}

/// The login page with a fresh login token in its form and its cookie.
fn login_page(
    state: &AppState,
    status: StatusCode,
    next: &str,
    email: &str,
    problem: Option<&str>,
    notice: Option<&str>,
) -> Response {
    let token = new_token();
    let page = view::login_page(&page_context(state), &token, next, email, problem, notice);
    let mut response = (status, page).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state, LOGIN_COOKIE, &token, "/admin", 3600),
    );
    response
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

#[tracing::instrument(skip_all)]
pub async fn login(
    State(state): State<AppState>,
    Extension(limits): Limits,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body);
    let next = safe_next(form.get("next")).to_string();
    let typed_email = form.text("email");
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if !same_secret(form.get("csrf").unwrap_or(""), expected) {
        return Err(stale_form());
    }
    let ip = peer.map(|Extension(ConnectInfo(addr))| {
        crate::http::client_ip::client_ip(addr.ip(), &headers, &state.config.trusted_proxies)
    });
    let limits = limits.get_or_init(|| LoginLimits::new(&state));
    let address = typed_email.to_lowercase();
    if let Err(wait) = limits.check(ip, &address) {
        let (seconds, minutes) = retry_after(wait);
        tracing::info!(ip = ?ip, "console login refused: too many attempts");
        let problem = format!(
            "Too many login attempts just now. Try again in {minutes} minute{}.",
            if minutes == 1 { "" } else { "s" }
        );
        let mut response = login_page(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            &next,
            &typed_email,
            Some(&problem),
            None,
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, seconds.into());
        return Ok(response);
    }
    let found = match login_address(&typed_email) {
        Ok(email) => state
            .store
            .staff_login(&email)
            .await
            .map_err(|e| PageError::store(&e, "console login"))?,
        Err(_) => None,
    };
    let stored = found
        .as_ref()
        .filter(|(user, _)| !user.disabled)
        .and_then(|(_, hash)| hash.clone());
    let typed = form.get("password").unwrap_or("").to_string();
    let matches =
        tokio::task::spawn_blocking(move || crate::passwords::verify(&typed, stored.as_deref()))
            .await
            .unwrap_or(false);
    let user = match (found, matches) {
        (Some((user, _)), true) => user,
        _ => {
            tracing::info!(ip = ?ip, "console login refused: wrong address or password");
            return Ok(login_page(
                &state,
                StatusCode::UNAUTHORIZED,
                &next,
                &typed_email,
                Some("That address and password do not match an account that can log in. Check both and try again."),
                None,
            ));
        }
    };
    let secret = new_token();
    let session = NewSession {
        id_hash: hash_token(&secret),
        user_id: user.id.clone(),
        csrf: new_token(),
        now: state.clock.now(),
    };
    let actor = Actor {
        name: user.name.to_string(),
        ip: ip.map(|ip| ip.to_string()),
    };
    state
        .store
        .start_session(&session, &actor)
        .await
        .map_err(|e| PageError::store(&e, "console login"))?;
    let mut response = see_other(&next);
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(
            &state,
            SESSION_COOKIE,
            &secret,
            "/admin",
            SESSION_MAX.as_secs(),
        ),
    );
    headers.append(
        header::SET_COOKIE,
        set_cookie(&state, LOGIN_COOKIE, "", "/admin", 0),
    );
    Ok(response)
}

#[tracing::instrument(skip_all)]
pub async fn logout(
    State(state): State<AppState>,
    staff: Staff,
    body: Bytes,
) -> Result<Response, PageError> {
    staff.check(&Form::parse(&body))?;
    state
        .store
        .end_session(&staff.session_hash, state.clock.now(), &staff.actor)
        .await
        .map_err(|e| PageError::store(&e, "console logout"))?;
    let mut response = see_other("/admin/login?done=out");
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, SESSION_COOKIE, "", "/admin", 0),
    );
    Ok(response)
}

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

fn dead_link() -> PageError {
    PageError::BadLink(
        "This link to set a password is not valid: it was used already, it expired (links work for 72 hours), \
         or the account is disabled. Ask an admin for a new one (candor user password-link).",
    )
}

/// The form to set a password, from a one-time link.
pub async fn password_form(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
) -> Result<Response, PageError> {
    let token = query.token.unwrap_or_default();
    let user = state
        .store
        .password_link_user(&hash_token(&token), state.clock.now())
        .await
        .map_err(|e| PageError::store(&e, "set password"))?
        .ok_or_else(dead_link)?;
    Ok(view::password_page(&page_context(&state), &user, &token, None).into_response())
}

#[tracing::instrument(skip_all)]
pub async fn set_password(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body);
    let token = form.get("token").unwrap_or("").to_string();
    let hash = hash_token(&token);
    let now = state.clock.now();
    let user = state
        .store
        .password_link_user(&hash, now)
        .await
        .map_err(|e| PageError::store(&e, "set password"))?
        .ok_or_else(dead_link)?;
    let typed = form.get("password").unwrap_or("");
    let problem = match Password::parse(typed) {
        Err(e) => Some(format!("The password {}.", e.message)),
        Ok(_) if form.get("again").unwrap_or("") != typed => {
            Some("The two passwords differ. Type the same password twice.".to_string())
        }
        Ok(password) => {
            let hashed = tokio::task::spawn_blocking(move || crate::passwords::hash(&password))
                .await
                .map_err(|e| {
                    PageError::Internal(crate::http::error::Failure {
                        message: e.to_string().into(),
                        unavailable: false,
                    })
                })?
                .map_err(|e| {
                    PageError::Internal(crate::http::error::Failure {
                        message: e.to_string().into(),
                        unavailable: false,
                    })
                })?;
            match state.store.use_password_link(&hash, &hashed, now).await {
                Ok(_) => return Ok(see_other("/admin/login?done=password")),
                Err(crate::store::StoreError::NotFound) => return Err(dead_link()),
                Err(e) => return Err(PageError::store(&e, "set password")),
            }
        }
    };
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        view::password_page(&page_context(&state), &user, &token, problem.as_deref()),
    )
        .into_response())
}
