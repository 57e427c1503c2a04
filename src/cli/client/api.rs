//! The admin API of a running Candor, as the client calls it, and what each
//! failure means for the exit code.

use std::fmt;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Why a client command stopped, and the exit code that says so (README,
/// "The candor client"): 2 usage, 3 refused by a rule, 4 not authorised,
/// 5 Candor not reachable, 1 anything else.
#[derive(Debug)]
pub struct Stop {
    pub code: u8,
    pub message: String,
}

impl Stop {
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Stop {}

/// Where Candor is, and the token to call it with.
pub struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    pub fn new(url: &str, token: &str) -> Result<Self, Stop> {
        let base = url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Stop::usage(format!(
                "the URL `{url}` is not Candor's address (http://… or https://…); set CANDOR_URL or --url"
            )));
        }
        if token.is_empty() {
            return Err(Stop::usage(
                "no API token: set CANDOR_TOKEN or --token (candor token create NAME makes one)",
            ));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Stop {
                code: 1,
                message: e.to_string(),
            })?;
        Ok(Self {
            base,
            token: token.to_string(),
            http,
        })
    }

    pub async fn get(&self, path: &str) -> Result<Value, Stop> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, Stop> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Result<Value, Stop> {
        self.call(Method::PATCH, path, Some(body)).await
    }

    /// POSTs a file's bytes as `content_type`, allowing `limit` for the
    /// answer (a long list takes minutes).
    pub async fn upload(
        &self,
        path: &str,
        content_type: &str,
        bytes: Vec<u8>,
        limit: Duration,
    ) -> Result<Value, Stop> {
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .timeout(limit)
            .header("Content-Type", content_type)
            .body(bytes);
        self.send(request).await
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, Stop> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url);
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        self.send(request).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, Stop> {
        let request = request.header("Authorization", format!("Bearer {}", self.token));
        let response = request.send().await.map_err(|e| Stop {
            code: 5,
            message: format!(
                "Candor is not reachable at {}: {}",
                self.base,
                root_cause(&e)
            ),
        })?;
        let status = response.status();
        let text = response.text().await.map_err(|e| Stop {
            code: 5,
            message: format!("Candor's answer broke off: {e}"),
        })?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        let error = &value["error"];
        let said = match (error["field"].as_str(), error["message"].as_str()) {
            (Some(field), Some(message)) => format!("{field}: {message}"),
            (None, Some(message)) => message.to_string(),
            _ => format!("HTTP {status}"),
        };
        let code = match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => 4,
            StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::BAD_GATEWAY
            | StatusCode::GATEWAY_TIMEOUT => 5,
            s if s.is_client_error() => 3,
            _ => 1,
        };
        let message = match code {
            4 => format!("not authorised: {said} (check CANDOR_TOKEN)"),
            5 => format!("Candor cannot answer just now: {said}"),
            3 => format!("refused: {said}"),
            _ => format!("Candor failed: {said}"),
        };
        Err(Stop { code, message })
    }
}

/// The innermost reason of a failed request ("Connection refused").
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
