//! The real `candor` binary as a child process of a test, for what only
//! separate processes show: a crash (SIGKILL) and several instances on one
//! database. Its output is kept, to be shown when a test fails and read for
//! what it logged.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::helpers::mailbox::Mailbox;
use crate::helpers::{candor_command, TestDatabase, ADMIN_TOKEN};

/// A `candor serve` process, killed when the test ends however it ends.
pub struct Process {
    child: Child,
    /// `http://127.0.0.1:PORT`, as the process said it listens.
    pub url: String,
    output: Arc<Mutex<Vec<String>>>,
}

impl Process {
    /// `candor serve` on `db`, mailing through `mailbox`, with the test's
    /// admin token and `env` on top; returns once it listens. It logs at
    /// `candor=info` whatever the test runner's `RUST_LOG`.
    pub fn start(db: &TestDatabase, mailbox: &Mailbox, env: &[(&str, &str)]) -> Self {
        Self::start_with(db, mailbox, env, None)
    }

    /// As `start`, with the process's descriptor limit (`ulimit -n`) set
    /// to `limit`, as on most machines (1,024) whatever this one allows.
    pub fn start_with_descriptors(
        db: &TestDatabase,
        mailbox: &Mailbox,
        env: &[(&str, &str)],
        limit: u64,
    ) -> Self {
        Self::start_with(db, mailbox, env, Some(limit))
    }

    fn start_with(
        db: &TestDatabase,
        mailbox: &Mailbox,
        env: &[(&str, &str)],
        descriptors: Option<u64>,
    ) -> Self {
        let mut command = candor_command(&db.dir, &db.url);
        if let Some(limit) = descriptors {
            use std::os::unix::process::CommandExt as _;
            // SAFETY: setrlimit is async-signal-safe, and the closure
            // touches nothing else of the parent.
            unsafe {
                command.pre_exec(move || {
                    let limit = libc::rlimit {
                        rlim_cur: limit,
                        rlim_max: limit,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        command
            .env("CANDOR_SMTP_URL", mailbox.url())
            .env("CANDOR_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", "candor=info,warn");
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start candor");
        let output = Arc::new(Mutex::new(Vec::new()));
        collect(child.stdout.take().expect("stdout"), output.clone());
        collect(child.stderr.take().expect("stderr"), output.clone());
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = loop {
            let url = output.lock().unwrap().iter().find_map(|line| {
                line.split_once("Candor listening on ")
                    .map(|(_, url)| url.trim().trim_end_matches('/').to_string())
            });
            if let Some(url) = url {
                break url;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "candor exited with {status} before listening:\n{}",
                    output.lock().unwrap().join("\n")
                );
            }
            assert!(
                Instant::now() < deadline,
                "candor did not say it was listening:\n{}",
                output.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Self { child, url, output }
    }

    /// SIGKILL: no shutdown code runs, leases stay as they were.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL candor");
        self.child.wait().expect("reap candor");
    }

    /// SIGTERM, then waits (up to `limit`) for the process to exit; its
    /// exit status and how long it took. Panics if it is still running then.
    pub async fn terminate(&mut self, limit: Duration) -> (std::process::ExitStatus, Duration) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid");
        let asked = Instant::now();
        // SAFETY: kill only sends a signal to our own child.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0, "SIGTERM");
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for candor") {
                return (status, asked.elapsed());
            }
            assert!(
                asked.elapsed() < limit,
                "candor still ran {limit:?} after SIGTERM:\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Whether the process is still running (it has not exited or crashed).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Everything it wrote so far, stdout and stderr, line by line.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().join("\n")
    }

    /// The lines of its output that contain `needle`.
    pub fn lines_with(&self, needle: &str) -> Vec<String> {
        self.output
            .lock()
            .unwrap()
            .iter()
            .filter(|line| line.contains(needle))
            .cloned()
            .collect()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(stream: impl std::io::Read + Send + 'static, lines: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            match line {
                Ok(line) => lines.lock().unwrap().push(line),
                Err(_) => break,
            }
        }
    });
}

/// An HTTP client for talking to processes: no proxy, a 30 s limit.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// POST with the admin token; the answer must be 201.
pub async fn admin_post(client: &reqwest::Client, url: &str, body: &Value) -> Value {
    let reply = client
        .post(url)
        .bearer_auth(ADMIN_TOKEN)
        .json(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = reply.status().as_u16();
    let text = reply.text().await.expect("response body");
    assert_eq!(status, 201, "POST {url}: {text}");
    serde_json::from_str(&text).expect("JSON body")
}

/// GET with the admin token; the answer must be 200.
pub async fn admin_get(client: &reqwest::Client, url: &str) -> Value {
    let reply = client
        .get(url)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = reply.status().as_u16();
    let text = reply.text().await.expect("response body");
    assert_eq!(status, 200, "GET {url}: {text}");
    serde_json::from_str(&text).expect("JSON body")
}

/// A log line without its terminal colours.
pub fn without_colours(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // An escape sequence: up to its final letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
