//! A real SMTP server for the tests: `tests/smtp_sink.py` (aiosmtpd) on a
//! loopback port the test picks, read back as the mails a subscriber gets.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

pub struct Mailbox {
    pub port: u16,
    /// How long the server holds each mail before it accepts it.
    delay_ms: u64,
    /// Record headers only (no bodies), for thousands of mails.
    headers_only: bool,
    /// Whether the server announces PIPELINING.
    pipelining: bool,
    dir: PathBuf,
    child: Option<Child>,
}

/// One received mail, decoded.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub headers: Vec<(String, String)>,
    /// Where the mail as it came over the wire is kept (`raw`).
    eml: PathBuf,
}

impl Mail {
    /// The mail as it came over the wire: its headers and every MIME part.
    pub fn raw(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.eml).expect("the raw mail")).into_owned()
    }

    /// When the SMTP server wrote it down: the mail's arrival, for timing.
    pub fn received_at(&self) -> std::time::SystemTime {
        std::fs::metadata(&self.eml)
            .and_then(|m| m.modified())
            .expect("the raw mail's time")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first link in the text body that starts with `prefix`.
    pub fn link(&self, prefix: &str) -> String {
        self.text
            .split_whitespace()
            .find(|w| w.starts_with(prefix))
            .unwrap_or_else(|| panic!("no link {prefix}… in mail:\n{}", self.text))
            .to_string()
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// The SMTP server is Python's aiosmtpd: install it once if it is missing,
/// so that `cargo test` alone works on a fresh machine.
fn ensure_aiosmtpd() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let present = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !present {
            let requirements = concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/requirements.txt");
            eprintln!("installing the test SMTP server: pip install -r {requirements}");
            let installed = Command::new("python3")
                .args(["-m", "pip", "install", "--quiet", "-r", requirements])
                .status()
                .is_ok_and(|s| s.success());
            assert!(
                installed,
                "could not install aiosmtpd; run: pip install -r .ci/requirements.txt"
            );
        }
    });
}

impl Mailbox {
    /// An SMTP server on a fresh port.
    pub fn start() -> Self {
        Self::start_on_a_free_port(|_| {})
    }

    /// Starts a server on a fresh port, set up by `configure`. Another
    /// process may take a free port between our look and the server's
    /// bind, so a port found taken is given up for another.
    fn start_on_a_free_port(configure: impl Fn(&mut Self)) -> Self {
        for _ in 0..5 {
            let mut mailbox = Self::down(free_port());
            configure(&mut mailbox);
            if mailbox.try_up() {
                return mailbox;
            }
        }
        panic!("the SMTP sink did not start on five free ports (is aiosmtpd installed?)");
    }

    /// An SMTP server for thousands of mails: it takes `delay_ms` to accept
    /// each one, like a slow relay, and records only envelopes and headers
    /// (`text` and `html` stay empty).
    pub fn start_bulk(delay_ms: u64) -> Self {
        Self::start_on_a_free_port(|mailbox| {
            mailbox.delay_ms = delay_ms;
            mailbox.headers_only = true;
        })
    }

    /// An SMTP server that does not announce PIPELINING: Candor then sends
    /// each command and waits for its answer.
    pub fn start_without_pipelining() -> Self {
        Self::start_on_a_free_port(|mailbox| mailbox.pipelining = false)
    }

    /// A mailbox whose server is not running yet: mail to it fails.
    pub fn down(port: u16) -> Self {
        let dir = std::env::temp_dir().join(format!("candor-mail-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).expect("mail folder");
        Self {
            port,
            delay_ms: 0,
            headers_only: false,
            pipelining: true,
            dir,
            child: None,
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on the same port.
    pub fn up(&mut self) {
        assert!(
            self.try_up(),
            "the SMTP sink did not start on port {} (is aiosmtpd installed?)",
            self.port
        );
    }

    /// Starts the server; false when it did not come up (its port taken).
    fn try_up(&mut self) -> bool {
        ensure_aiosmtpd();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(self.port.to_string())
            .arg(&self.dir)
            .arg(self.delay_ms.to_string())
            .args(self.headers_only.then_some("--headers-only"))
            .args((!self.pipelining).then_some("--no-pipelining"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs tests/smtp_sink.py (pip install aiosmtpd)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the SMTP sink says it is ready");
        if !line.starts_with("ready") {
            let _ = child.kill();
            let _ = child.wait();
            return false;
        }
        self.child = Some(child);
        true
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// How many mails arrived so far (cheap: no mail is read).
    pub fn count(&self) -> usize {
        std::fs::read_dir(&self.dir)
            .expect("mail folder")
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .count()
    }

    /// Every mail received so far, in order.
    pub fn mails(&self) -> Vec<Mail> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .expect("mail folder")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|path| {
                let v: Value =
                    serde_json::from_slice(&std::fs::read(path).expect("mail file")).expect("json");
                Mail {
                    to: v["rcpt_tos"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|t| t.as_str().unwrap().to_string())
                        .collect(),
                    subject: v["subject"].as_str().unwrap_or_default().to_string(),
                    text: v["text"].as_str().unwrap_or_default().to_string(),
                    html: v["html"].as_str().unwrap_or_default().to_string(),
                    headers: v["headers"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|h| (h[0].as_str().unwrap().into(), h[1].as_str().unwrap().into()))
                        .collect(),
                    eml: path.with_extension("eml"),
                }
            })
            .collect()
    }

    pub fn mails_to(&self, address: &str) -> Vec<Mail> {
        self.mails()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == address))
            .collect()
    }

    /// Waits (up to 20 s) until `address` has received `n` mails.
    pub async fn wait_for(&self, address: &str, n: usize) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mails = self.mails_to(address);
            if mails.len() >= n {
                return mails;
            }
            assert!(
                Instant::now() < deadline,
                "{address} got {} mails, expected {n}: {:?}",
                mails.len(),
                mails.iter().map(|m| &m.subject).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
