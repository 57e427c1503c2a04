//! HTTP as an API user sees it: a request with any method, headers and
//! body, and the reply with its status, headers, text and JSON.

use reqwest::{header::HeaderMap, Method};
use serde_json::Value;

use super::{visible_text, TestApp, ADMIN_TOKEN};

/// One HTTP answer, as a user of the API sees it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    /// The body as JSON, or `Null` when it is not JSON.
    pub body: Value,
}

impl Reply {
    pub fn content_type(&self) -> String {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    }

    /// Panics unless the status is `status`; returns the JSON body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        self.body.clone()
    }

    /// Checks the one error shape every refusal uses.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str, field: Option<&str>) {
        if let Err(problem) = self.check_error(status, code, field) {
            panic!("{problem}");
        }
    }

    /// Like `assert_error`, but says what is wrong instead of panicking,
    /// so a table of cases can report every mismatch at once.
    pub fn check_error(&self, status: u16, code: &str, field: Option<&str>) -> Result<(), String> {
        let mut problems = Vec::new();
        if self.status != status {
            problems.push(format!("status {} (wanted {status})", self.status));
        }
        if !self.content_type().starts_with("application/json") {
            problems.push(format!(
                "content-type {:?} (wanted application/json)",
                self.content_type()
            ));
        }
        let error = &self.body["error"];
        if !error.is_object() {
            problems.push("no {\"error\": {...}} object".to_string());
        } else {
            if error["code"] != code {
                problems.push(format!("code {} (wanted {code:?})", error["code"]));
            }
            match error["message"].as_str() {
                Some(m) if !m.trim().is_empty() => {}
                _ => problems.push(format!(
                    "message {} (wanted a non-empty string)",
                    error["message"]
                )),
            }
            match (error.get("field"), field) {
                (None, _) => {
                    problems.push("no \"field\" key (wanted a string or null)".to_string())
                }
                (Some(Value::Null), None) => {}
                (Some(Value::String(got)), Some(want)) if field_matches(got, want) => {}
                (Some(got), want) => problems.push(format!("field {got} (wanted {want:?})")),
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!("{}; body: {}", problems.join(", "), self.text))
        }
    }
}

/// `want` is a field name, or `parent.*` for the parent or any field inside it.
fn field_matches(got: &str, want: &str) -> bool {
    match want.strip_suffix(".*") {
        Some(parent) => got == parent || got.starts_with(&format!("{parent}.")),
        None => got == want,
    }
}

/// A request with whatever method, headers and body a test needs.
pub struct RawRequest<'a> {
    app: &'a TestApp,
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl RawRequest<'_> {
    pub fn admin(self) -> Self {
        self.token(ADMIN_TOKEN)
    }
    pub fn token(self, token: &str) -> Self {
        self.header("Authorization", &format!("Bearer {token}"))
    }
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }
    pub fn json(self, value: &Value) -> Self {
        self.header("Content-Type", "application/json")
            .body(serde_json::to_vec(value).expect("serialise test JSON"))
    }
    pub async fn send(self) -> Reply {
        let url = format!("{}{}", self.app.address, self.path);
        let mut request = self.app.client.request(self.method.clone(), &url);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        if let Some(body) = self.body {
            request = request.body(body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{} {url} failed: {e}", self.method));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("read the response body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            text,
            body,
        }
    }
}

impl TestApp {
    pub fn raw(&self, method: Method, path: &str) -> RawRequest<'_> {
        RawRequest {
            app: self,
            method,
            path: path.to_string(),
            headers: Vec::new(),
            body: None,
        }
    }

    pub async fn admin_get(&self, path: &str) -> Reply {
        self.raw(Method::GET, path).admin().send().await
    }

    pub async fn admin_post(&self, path: &str, body: &Value) -> Reply {
        self.raw(Method::POST, path).admin().json(body).send().await
    }

    pub async fn admin_post_with_key(&self, path: &str, key: &str, body: &Value) -> Reply {
        self.raw(Method::POST, path)
            .admin()
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
    }

    pub async fn admin_patch(&self, path: &str, body: &Value) -> Reply {
        self.raw(Method::PATCH, path)
            .admin()
            .json(body)
            .send()
            .await
    }

    /// A public page: status and HTML.
    pub async fn page(&self, path: &str) -> (u16, String) {
        let reply = self.raw(Method::GET, path).send().await;
        (reply.status, reply.text)
    }

    /// A public page that must be there; returns its visible text.
    pub async fn page_text(&self, path: &str) -> String {
        let (status, html) = self.page(path).await;
        assert_eq!(status, 200, "GET {path}: {html}");
        visible_text(&html)
    }
}
