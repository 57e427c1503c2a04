//! Staff in the console: accounts made with `candor user create`, as an
//! admin makes them, and a session that acts as a browser does: it keeps
//! its cookies, reads each form off its page (the values it shows, the
//! radio buttons checked, the options selected), changes what a person
//! would change, and sends it with the button they would press.

use std::collections::BTreeMap;

use reqwest::{header, Method};
use scraper::{ElementRef, Html, Selector};

use super::{candor_command, visible_text, TestApp};

/// The password of every test account.
pub const PASSWORD: &str = "correct horse battery";

/// A page as a browser got it.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub html: String,
    /// Where a redirect sends the browser.
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
}

impl Page {
    pub fn text(&self) -> String {
        visible_text(&self.html)
    }

    /// The redirect's target, which must be there.
    pub fn redirect(&self) -> &str {
        assert_eq!(self.status, 303, "expected a redirect: {}", self.text());
        self.location.as_deref().expect("a Location header")
    }
}

/// One browser: its cookies, and what it last read.
pub struct Browser<'a> {
    app: &'a TestApp,
    cookies: BTreeMap<String, String>,
    /// Extra headers on every request (`Sec-Fetch-Site`, say).
    headers: Vec<(String, String)>,
}

impl TestApp {
    /// `candor user create` as an admin runs it: the password on standard
    /// input, or none (then the command prints a set-password link).
    /// Returns what the command printed.
    pub async fn create_user(
        &self,
        email: &str,
        name: &str,
        role: &str,
        password: Option<&str>,
    ) -> String {
        let mut command = tokio::process::Command::from(candor_command(&self.db.dir, &self.db.url));
        command.args(["user", "create", email, "--name", name, "--role", role]);
        command.env("CANDOR_BASE_URL", &self.address);
        if password.is_some() {
            command
                .arg("--password-stdin")
                .stdin(std::process::Stdio::piped());
        }
        command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = command.spawn().expect("run candor user create");
        if let Some(password) = password {
            use tokio::io::AsyncWriteExt;
            let mut stdin = child.stdin.take().expect("stdin");
            stdin
                .write_all(format!("{password}\n").as_bytes())
                .await
                .expect("write the password");
        }
        let output = child
            .wait_with_output()
            .await
            .expect("candor user create ends");
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(
            output.status.success(),
            "candor user create failed: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    /// `candor user ARGS…`: (success, stdout and stderr).
    pub async fn user_command(&self, args: &[&str]) -> (bool, String) {
        let output = tokio::process::Command::from(candor_command(&self.db.dir, &self.db.url))
            .arg("user")
            .args(args)
            .env("CANDOR_BASE_URL", &self.address)
            .output()
            .await
            .expect("run candor user");
        (
            output.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        )
    }

    /// A browser with no cookies yet.
    pub fn browser(&self) -> Browser<'_> {
        Browser {
            app: self,
            cookies: BTreeMap::new(),
            headers: Vec::new(),
        }
    }

    /// An editor, Dana, made and logged in.
    pub async fn editor(&self) -> Browser<'_> {
        self.create_user("dana@acme.test", "Dana (IT Ops)", "editor", Some(PASSWORD))
            .await;
        self.logged_in("dana@acme.test").await
    }

    /// A browser logged in as the user with this address.
    pub async fn logged_in(&self, email: &str) -> Browser<'_> {
        let mut browser = self.browser();
        let page = browser.log_in(email, PASSWORD).await;
        assert_eq!(page.redirect(), "/admin", "{}", page.text());
        browser
    }
}

impl<'a> Browser<'a> {
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.into(), value.into());
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        form: Option<&[(String, String)]>,
    ) -> Page {
        // Where Candor listens, whatever its base_url says.
        let origin = self.app.local_address();
        let url = format!("{origin}{path}");
        let mut request = self.app.client.request(method.clone(), &url);
        if !self.cookies.is_empty() {
            let cookies: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request = request.header(header::COOKIE, cookies.join("; "));
        }
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        if let Some(form) = form {
            let body: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish();
            request = request
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url} failed: {e}"));
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim_start_matches(&origin).to_string());
        let set_cookies: Vec<String> = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect();
        for cookie in &set_cookies {
            let pair = cookie.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() || cookie.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.into(), value.into());
                }
            }
        }
        let html = response.text().await.expect("read the page");
        Page {
            status,
            html,
            location,
            set_cookies,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        self.send(Method::GET, path, None).await
    }

    /// Posts exactly these fields (no token added).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let fields: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.send(Method::POST, path, Some(&fields)).await
    }

    /// Logs in through the login page, as a person does.
    pub async fn log_in(&mut self, email: &str, password: &str) -> Page {
        self.submit(
            "/admin/login",
            "/admin/login",
            &[("email", email), ("password", password)],
        )
        .await
    }

    /// Opens `page`, fills in the form that posts to `action` with
    /// `changes` (a field name and its new value; a radio button or a
    /// select takes the value given), and sends it with the button named
    /// `action` valued `post` if it has one, unless `changes` names it.
    pub async fn submit(&mut self, page: &str, action: &str, changes: &[(&str, &str)]) -> Page {
        let shown = self.get(page).await;
        assert_eq!(shown.status, 200, "GET {page}: {}", shown.text());
        let mut fields = form_fields(&shown.html, action, None);
        change(&mut fields, changes);
        self.send(Method::POST, action, Some(&fields)).await
    }

    /// Like `submit`, for the form that holds the hidden field
    /// `name=value` (one of several forms posting to one path: "Correct
    /// this entry" under each entry, say).
    pub async fn submit_with(
        &mut self,
        page: &str,
        action: &str,
        hidden: (&str, &str),
        changes: &[(&str, &str)],
    ) -> Page {
        let shown = self.get(page).await;
        assert_eq!(shown.status, 200, "GET {page}: {}", shown.text());
        let mut fields = form_fields(&shown.html, action, Some(hidden));
        change(&mut fields, changes);
        self.send(Method::POST, action, Some(&fields)).await
    }
}

fn change(fields: &mut Vec<(String, String)>, changes: &[(&str, &str)]) {
    for (name, value) in changes {
        fields.retain(|(n, _)| n != name);
        fields.push((name.to_string(), value.to_string()));
    }
}

/// What a browser sends for the form that POSTs to `action` (with the hidden
/// field `hidden`, if given): every named field's value as the page shows
/// it, and the default button's name and value.
pub fn form_fields(
    html: &str,
    action: &str,
    hidden: Option<(&str, &str)>,
) -> Vec<(String, String)> {
    let document = Html::parse_document(html);
    let forms = Selector::parse("form").unwrap();
    let form = document
        .select(&forms)
        .filter(|f| f.attr("action") == Some(action) && f.attr("method") == Some("post"))
        .find(|f| match hidden {
            None => true,
            Some((name, value)) => fields_of(*f).iter().any(|(n, v)| n == name && v == value),
        })
        .unwrap_or_else(|| {
            panic!(
                "no form posting to {action} on the page:\n{}",
                visible_text(html)
            )
        });
    let mut fields = fields_of(form);
    let buttons = Selector::parse("button[name]").unwrap();
    if let Some(button) = form.select(&buttons).next() {
        fields.push((
            button.attr("name").unwrap().to_string(),
            button.attr("value").unwrap_or("").to_string(),
        ));
    }
    fields
}

fn fields_of(form: ElementRef<'_>) -> Vec<(String, String)> {
    let controls = Selector::parse("input[name], select[name], textarea[name]").unwrap();
    let options = Selector::parse("option").unwrap();
    let mut fields = Vec::new();
    for control in form.select(&controls) {
        let name = control.attr("name").unwrap().to_string();
        match control.value().name() {
            "input" => {
                let kind = control.attr("type").unwrap_or("text");
                if matches!(kind, "radio" | "checkbox") && control.attr("checked").is_none() {
                    continue;
                }
                let default = if matches!(kind, "radio" | "checkbox") {
                    "on"
                } else {
                    ""
                };
                fields.push((name, control.attr("value").unwrap_or(default).to_string()));
            }
            "select" => {
                let all: Vec<_> = control.select(&options).collect();
                let chosen = all
                    .iter()
                    .find(|o| o.attr("selected").is_some())
                    .or(all.first());
                if let Some(option) = chosen {
                    let value = option
                        .attr("value")
                        .map(str::to_string)
                        .unwrap_or_else(|| option.text().collect());
                    fields.push((name, value));
                }
            }
            _ => fields.push((name, control.text().collect())),
        }
    }
    fields
}
