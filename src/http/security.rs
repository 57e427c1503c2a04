//! Headers that keep readers safe, and the refusal of cross-site form posts.

use axum::{
    extract::Request,
    http::{header, HeaderMap, HeaderValue, Method},
    response::Response,
};

use super::{error::PageError, AppState};

/// Pages load only Candor's own stylesheet and scripts (files it serves:
/// the subscribe forms' `/static/forms.js` and the live page's
/// `/static/live.js`, which asks only this site: `connect-src 'self'`),
/// never inline code or another site's, so injected markup cannot run; no
/// other site may frame them (click-jacking the subscribe forms):
/// `frame-ancestors`, which every browser with CSP level 2 obeys in place
/// of `X-Frame-Options` (no longer sent: one header more on every page
/// cost a cached page about 2% of its CPU).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// A cross-site POST to a public form, refused before it reaches its
/// handler (with the security headers already on the answer).
pub(super) fn refuse_cross_site(state: &AppState, request: &Request) -> Option<Response> {
    if request.method() != Method::POST || !is_public_form(request.uri().path()) {
        return None;
    }
    let from = cross_site(request, &state.base_url)?;
    tracing::info!(
        from,
        path = request.uri().path(),
        "cross-site form post refused"
    );
    let mut response = PageError::Forbidden(
        "This form can only be sent from this status page. Open the page and send it from there.",
    )
    .page(&state.config.page_name);
    add_headers(&mut response, state);
    Some(response)
}

/// The headers on every answer. An answer from the page cache has them
/// already (they were put on its rendering once): nothing to do then.
pub(super) fn add_headers(response: &mut Response, state: &AppState) {
    let headers = response.headers_mut();
    if !headers.contains_key(header::X_CONTENT_TYPE_OPTIONS) {
        add_to(headers, state);
    }
}

/// Puts the safety headers into `headers` (CSP and framing only for HTML).
pub(super) fn add_to(headers: &mut HeaderMap, state: &AppState) {
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    if html {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    if state.base_url.starts_with("https://") {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
}

/// The forms people post from pages (the last: "I'm affected" on a
/// component or an incident). The one-click unsubscribe (RFC 8058) is
/// posted by mail programs, from no page at all, and stays open.
fn is_public_form(path: &str) -> bool {
    // The console's forms: each also carries its session's CSRF token.
    path.starts_with("/admin/")
        || matches!(
            path,
            "/subscribe" | "/subscribe/confirm" | "/subscription" | "/still-affected"
        )
        || (path.ends_with("/affected")
            && (path.starts_with("/components/") || path.starts_with("/incidents/")))
}

/// Where a cross-site post came from, or `None` for one from this page (or
/// from a client that sends neither header, such as a script).
fn cross_site(request: &Request, base_url: &str) -> Option<String> {
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "cross-site").then(|| site.to_string());
    }
    let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
    (origin != origin_of(base_url)).then(|| origin.to_string())
}

/// `scheme://host[:port]` of a URL, as browsers send it in `Origin`.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..]
        .find('/')
        .map_or(url.len(), |i| after_scheme + i);
    &url[..end]
}

#[cfg(test)]
mod tests {
    use super::origin_of;

    #[test]
    fn origins_are_scheme_host_and_port() {
        assert_eq!(
            origin_of("https://status.acme.test"),
            "https://status.acme.test"
        );
        assert_eq!(
            origin_of("https://status.acme.test/"),
            "https://status.acme.test"
        );
        assert_eq!(
            origin_of("http://127.0.0.1:8080/status"),
            "http://127.0.0.1:8080"
        );
    }
}
