//! The staff console at `/admin`: server-rendered forms (POST, then a
//! redirect) over the same domain operations as the admin API, so that
//! there is still no way to post without notifying, to edit an entry, or to
//! update an open incident without promising the next update.
//!
//! `session` finds who is logged in and checks each form's CSRF token;
//! `login` begins and ends sessions; `dashboard` and `incidents` are the
//! pages; `components`, `subscribers`, `users` and `audit` are the admins'
//! pages; `form` reads what a form sent, `submit` previews or posts it.

mod alerts;
mod audit;
mod components;
mod dashboard;
mod form;
mod incidents;
mod login;
mod maintenance;
mod session;
mod submit;
mod subscribers;
mod tokens;
mod users;

use axum::{
    http::header,
    response::IntoResponse,
    routing::{get, post},
    Router,
};

use super::AppState;

pub use session::Staff;

pub fn router() -> Router<AppState> {
    // One set of limits per application, made from the configuration on
    // first use.
    let login_limits: std::sync::Arc<std::sync::OnceLock<login::LoginLimits>> = Default::default();
    Router::new()
        .route("/admin", get(dashboard::page))
        .route("/admin/", get(dashboard::page))
        .route(
            "/admin/login",
            get(login::form)
                .post(login::login)
                .layer(axum::Extension(login_limits)),
        )
        .route("/admin/logout", post(login::logout))
        .route(
            "/admin/set-password",
            get(login::password_form).post(login::set_password),
        )
        .route("/admin/incidents/new", get(incidents::new_form))
        .route("/admin/incidents", post(incidents::open))
        .route("/admin/incidents/{id}", get(incidents::page))
        .route("/admin/incidents/{id}/updates", post(incidents::update))
        .route("/admin/incidents/{id}/resolve", post(incidents::resolve))
        .route(
            "/admin/incidents/{id}/corrections",
            post(incidents::correct),
        )
        .route(
            "/admin/incidents/{id}/postmortem",
            post(incidents::postmortem),
        )
        .route("/admin/maintenances/new", get(maintenance::new_form))
        .route("/admin/maintenances", post(maintenance::schedule))
        .route(
            "/admin/maintenances/{id}/updates",
            post(maintenance::update),
        )
        .route("/admin/users", get(users::page))
        .route(
            "/admin/components",
            get(components::page).post(components::add),
        )
        .route("/admin/components/{id}", post(components::change))
        .route(
            "/admin/components/{id}/status",
            post(components::set_status),
        )
        .route(
            "/admin/subscribers",
            get(subscribers::page).post(subscribers::add),
        )
        .route("/admin/subscribers/{id}/remove", post(subscribers::remove))
        .route("/admin/audit", get(audit::page))
        .route("/admin/tokens", get(tokens::page).post(tokens::create))
        .route("/admin/tokens/revoke", post(tokens::revoke))
        // Monitoring alerts (issue 16).
        .route("/admin/alerts", get(alerts::page))
        .route("/static/console.css", get(stylesheet))
        .route("/static/console.js", get(script))
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        crate::views::console::STYLESHEET,
    )
}

async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        crate::views::console::SCRIPT,
    )
}
