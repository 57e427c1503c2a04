//! Where mail goes: an SMTP server, or `.eml` files when none is configured.
//!
//! SMTP uses our own pool of connections opened with `TCP_NODELAY`: lettre
//! 0.11.23 leaves Nagle's algorithm on, which caps a sender at a few hundred
//! mails a second (DESIGN.md §3, SMTP speed). With Nagle off every write is
//! a packet, so writes wait for the next read (`Coalesced`). Where the
//! server announces PIPELINING, a mail's text goes out together with the
//! next mail's MAIL, RCPT and DATA (`Connection::send`): one write and one
//! wait for answers a mail.

use std::{
    io,
    path::PathBuf,
    pin::Pin,
    task::{ready, Context, Poll},
    time::Duration,
};

use async_trait::async_trait;
use lettre::{
    address::Envelope,
    transport::smtp::{
        authentication::{Credentials, Mechanism},
        client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters},
        commands::Ehlo,
        extension::ClientId,
    },
    Address, Message,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    sync::Mutex,
};

/// A failed send: permanent failures are not retried.
#[derive(Debug, Clone)]
pub struct SendError {
    pub permanent: bool,
    /// What went wrong, in one fixed word, for `/metrics` (`connect`,
    /// `timeout`, `rejected`, ...).
    pub kind: &'static str,
    pub message: String,
}

impl SendError {
    pub(super) fn transient(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            permanent: false,
            kind,
            message: message.into(),
        }
    }
}

/// A mail ready to go: its envelope and its bytes, headers and body, lines
/// ending in CRLF (before SMTP's dot-stuffing).
#[derive(Debug, Clone)]
pub struct Formatted {
    pub envelope: Envelope,
    pub bytes: Vec<u8>,
    /// The Message-ID header's value, `<…>`.
    pub message_id: String,
}

impl From<&Message> for Formatted {
    fn from(message: &Message) -> Self {
        Self {
            envelope: message.envelope().clone(),
            bytes: message.formatted(),
            message_id: (message.headers().get_raw("Message-ID"))
                .unwrap_or("<no-id>")
                .to_string(),
        }
    }
}

#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// Sends one mail. `lane` names the sender: each lane has a connection
    /// of its own, so lanes never wait for one another. `next` is the
    /// address the lane mails next, when it knows: a connection may open
    /// that mail along with this one's end. A wrong guess costs a new
    /// connection, never a wrong mail.
    async fn send(
        &self,
        lane: usize,
        mail: &Formatted,
        next: Option<&Address>,
    ) -> Result<(), SendError>;
}

/// Writes each mail as an `.eml` file: what a fresh install would send.
pub struct FileMailer {
    dir: PathBuf,
}

impl FileMailer {
    pub fn new(dir: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }
}

#[async_trait]
impl Mailer for FileMailer {
    async fn send(
        &self,
        _lane: usize,
        mail: &Formatted,
        _next: Option<&Address>,
    ) -> Result<(), SendError> {
        let id = (mail.message_id)
            .trim_matches(|c| c == '<' || c == '>')
            .replace(
                |c: char| !c.is_ascii_alphanumeric() && c != '.' && c != '-',
                "_",
            );
        let path = self.dir.join(format!("{id}.eml"));
        let temporary = self.dir.join(format!(".{id}.eml.tmp"));
        let bytes = &mail.bytes;
        // Written whole, then renamed: a reader never sees half a mail.
        tokio::fs::write(&temporary, bytes).await.map_err(|e| {
            SendError::transient("file", format!("writing {}: {e}", temporary.display()))
        })?;
        tokio::fs::rename(&temporary, &path).await.map_err(|e| {
            SendError::transient("file", format!("renaming to {}: {e}", path.display()))
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    /// Plain SMTP, for a relay on the same host or network.
    None,
    /// STARTTLS required.
    StartTls,
    /// TLS from the first byte (port 465).
    Implicit,
}

/// An SMTP relay reached through a fixed set of reused connections.
pub struct SmtpMailer {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    hello: ClientId,
    slots: Vec<Mutex<Option<Connection>>>,
    /// Connecting, or sending one mail, takes at most this long: a server
    /// that stops answering costs a retry, not a stuck worker.
    timeout: Duration,
}

/// A connection and what its server said it can do.
struct Connection {
    smtp: AsyncSmtpConnection,
    /// The server announced PIPELINING (RFC 2920).
    pipelining: bool,
    /// What is written next, reused from mail to mail.
    words: String,
    stage: Stage,
}

/// Where a connection's conversation is between two mails.
#[derive(Debug, PartialEq)]
enum Stage {
    /// Ready for a mail's MAIL FROM.
    Idle,
    /// MAIL, RCPT and DATA for this envelope went out with the end of the
    /// mail before; their answers are that mail's to read. The server may
    /// be waiting for its text: the connection takes no other mail, and is
    /// closed without QUIT (the server drops a mail it never saw the end of).
    Opening(Envelope),
    /// Of no more use, and not to be closed with QUIT either (the server
    /// may be waiting for a mail's text).
    Lost,
}

impl SmtpMailer {
    /// `smtp://[user:pass@]host[:port][?tls=required]` or `smtps://…`.
    pub fn from_url(text: &str, connections: usize, timeout: Duration) -> anyhow::Result<Self> {
        let url = url::Url::parse(text).map_err(|e| anyhow::anyhow!("smtp_url: {e}"))?;
        let tls_required = url
            .query_pairs()
            .any(|(k, v)| k == "tls" && v == "required");
        let (security, default_port) = match url.scheme() {
            "smtp" if tls_required => (Security::StartTls, 587),
            "smtp" => (Security::None, 25),
            "smtps" => (Security::Implicit, 465),
            other => anyhow::bail!("smtp_url: scheme must be smtp or smtps, not {other}"),
        };
        let host = url
            .host_str()
            .ok_or_else(|| anyhow::anyhow!("smtp_url: no host"))?
            .to_string();
        let credentials = (!url.username().is_empty()).then(|| {
            let decode = |s: &str| percent_decode(s);
            Credentials::new(
                decode(url.username()),
                decode(url.password().unwrap_or_default()),
            )
        });
        Ok(Self {
            port: url.port().unwrap_or(default_port),
            host,
            security,
            credentials,
            hello: ClientId::default(),
            slots: (0..connections.max(1)).map(|_| Mutex::new(None)).collect(),
            timeout,
        })
    }

    async fn connect(&self) -> Result<Connection, SendError> {
        let timeout = self.timeout;
        let mut connection = if self.security == Security::Implicit {
            let tls = TlsParameters::new(self.host.clone())
                .map_err(|e| SendError::transient("tls", e.to_string()))?;
            AsyncSmtpConnection::connect_tokio1(
                (self.host.as_str(), self.port),
                Some(timeout),
                &self.hello,
                Some(tls),
                None,
            )
            .await
            .map_err(|e| {
                SendError::transient("connect", format!("connecting to the SMTP server: {e}"))
            })?
        } else {
            let stream = tokio::time::timeout(
                timeout,
                tokio::net::TcpStream::connect((self.host.as_str(), self.port)),
            )
            .await
            .map_err(|_| {
                SendError::transient("connect", "connecting to the SMTP server timed out")
            })?
            .map_err(|e| {
                SendError::transient("connect", format!("connecting to the SMTP server: {e}"))
            })?;
            stream
                .set_nodelay(true)
                .map_err(|e| SendError::transient("connect", e.to_string()))?;
            AsyncSmtpConnection::connect_with_transport(
                Box::new(Coalesced::new(stream)),
                &self.hello,
            )
            .await
            .map_err(|e| SendError::transient("connect", format!("SMTP greeting: {e}")))?
        };
        if self.security == Security::StartTls {
            let tls = TlsParameters::new(self.host.clone())
                .map_err(|e| SendError::transient("tls", e.to_string()))?;
            connection
                .starttls(tls, &self.hello)
                .await
                .map_err(|e| SendError::transient("tls", format!("STARTTLS: {e}")))?;
        }
        if let Some(credentials) = &self.credentials {
            connection
                .auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(|e| SendError::transient("auth", format!("SMTP authentication: {e}")))?;
        }
        // lettre keeps only the extensions it uses from the EHLO answer; a
        // second EHLO (allowed at any time, RFC 5321 §4.1.4) says whether
        // the server takes commands pipelined.
        let pipelining = connection
            .command(Ehlo::new(self.hello.clone()))
            .await
            .map_err(|e| SendError::transient("connect", format!("SMTP EHLO: {e}")))?
            .message()
            .any(|line| {
                line.split_whitespace()
                    .next()
                    .is_some_and(|word| word.eq_ignore_ascii_case("PIPELINING"))
            });
        Ok(Connection {
            smtp: connection,
            pipelining,
            words: String::new(),
            stage: Stage::Idle,
        })
    }
}

/// MAIL, RCPT and DATA written at once, as RFC 2920 allows when the server
/// announces PIPELINING: one round trip instead of three. Written as
/// lettre's commands write themselves (these carry no parameters), added to
/// `out`, which each connection reuses: lettre's own commands cost an
/// address copied for each and a string grown step by step, mail after mail.
fn pipelined(out: &mut String, envelope: &Envelope) {
    use std::fmt::Write as _;
    let from = envelope.from().map_or("", |from| from.as_ref());
    let _ = write!(out, "MAIL FROM:<{from}>\r\n");
    for to in envelope.to() {
        let _ = write!(out, "RCPT TO:<{to}>\r\n");
    }
    out.push_str("DATA\r\n");
}

impl Connection {
    /// The mail's text, when it can go the short way: the server takes
    /// commands pipelined, and envelope and text are ASCII (anything else
    /// needs parameters lettre's own path works out).
    fn plain<'m>(&self, mail: &'m Formatted) -> Option<&'m str> {
        let ascii = |a: &Address| AsRef::<str>::as_ref(a).is_ascii();
        let envelope = &mail.envelope;
        let ascii_envelope = envelope.from().is_none_or(ascii) && envelope.to().iter().all(ascii);
        (self.pipelining && ascii_envelope)
            .then(|| std::str::from_utf8(&mail.bytes).ok())
            .flatten()
            .filter(|text| text.is_ascii())
    }

    /// Whether this mail can go on this connection: any can, unless the
    /// connection was opened for another (or is lost).
    fn takes(&self, mail: &Formatted) -> bool {
        match &self.stage {
            Stage::Idle => !self.smtp.has_broken(),
            Stage::Opening(opened) => *opened == mail.envelope && self.plain(mail).is_some(),
            Stage::Lost => false,
        }
    }

    /// Closes the connection: with QUIT when it is between mails, simply
    /// dropped when the server may be waiting for a mail's text (it would
    /// take QUIT for text, and never answer).
    async fn close(mut self) {
        if self.stage == Stage::Idle {
            self.smtp.abort().await;
        }
    }

    /// Sends `mail` (the caller checked `takes`). With `next`, the next
    /// mail's MAIL, RCPT and DATA follow this one's text in the same write
    /// (RFC 2920 lets a mail's text open a group): the server answers them
    /// while this mail's answer travels back, and they are read by the next
    /// mail, as its own (a refusal or a slow server is the next mail's, not
    /// this one's).
    async fn send(
        &mut self,
        mail: &Formatted,
        next: Option<&Address>,
    ) -> Result<(), lettre::transport::smtp::Error> {
        let envelope = &mail.envelope;
        let Some(text) = self.plain(mail) else {
            return self.smtp.send(envelope, &mail.bytes).await.map(drop);
        };
        // Every answer of the opening is read, refusals included, so that
        // the connection stays in step; the first refusal is the outcome.
        let (mut outcome, mut unread) = match std::mem::replace(&mut self.stage, Stage::Lost) {
            Stage::Opening(_) => (Ok(()), envelope.to().len() + 2),
            Stage::Idle | Stage::Lost => {
                self.words.clear();
                pipelined(&mut self.words, envelope);
                let first = self.smtp.command(self.words.as_str()).await.map(drop);
                if first.as_ref().is_err_and(|e| e.status().is_none()) {
                    return first; // the connection itself failed
                }
                (first, envelope.to().len() + 1)
            }
        };
        let mut go_ahead = false;
        while unread > 0 {
            let answer = self.smtp.read_response().await.map(drop);
            if answer.as_ref().is_err_and(|e| e.status().is_none()) {
                return answer; // the connection itself failed
            }
            unread -= 1;
            go_ahead = answer.is_ok();
            outcome = outcome.and(answer);
        }
        if let Err(refused) = outcome {
            // As lettre does after a refusal: the connection is closed (and
            // opened afresh for the next mail) rather than put back in step.
            // If DATA went ahead all the same (an envelope with another
            // recipient), the server waits for text: no QUIT then.
            if !go_ahead {
                self.smtp.abort().await;
            }
            return Err(refused);
        }
        dot_stuffed(&mut self.words, text);
        let next = next
            .filter(|to| AsRef::<str>::as_ref(to).is_ascii())
            .and_then(|to| Envelope::new(envelope.from().cloned(), vec![to.clone()]).ok());
        if let Some(next) = &next {
            pipelined(&mut self.words, next);
        }
        let sent = self.smtp.command(self.words.as_str()).await.map(drop);
        if !sent.as_ref().is_err_and(|e| e.status().is_none()) {
            self.stage = next.map_or(Stage::Idle, Stage::Opening);
        }
        sent
    }
}

/// A mail's text as DATA carries it (RFC 5321 §4.5.2), into `data`: a
/// line that starts with `.` gets another, and `.` on a line of its own
/// ends it. What lettre's `message` does a byte at a time, here a search
/// for the few lines that need it.
fn dot_stuffed(data: &mut String, text: &str) {
    data.clear();
    data.reserve(text.len() + 16);
    if text.starts_with('.') {
        data.push('.');
    }
    let mut start = 0;
    for at in memchr::memmem::find_iter(text.as_bytes(), b"\r\n.") {
        data.push_str(&text[start..at + 2]);
        data.push('.');
        start = at + 2;
    }
    data.push_str(&text[start..]);
    data.push_str("\r\n.\r\n");
}

/// A TCP stream that keeps what is written until the next read.
///
/// SMTP is request and answer: lettre flushes after every write and then
/// reads the answer. Sent at once, a mail's body and its closing `.` are two
/// packets (with `TCP_NODELAY`), and each costs a system call here and a
/// wake-up at the server; held until the answer is awaited, they are one.
/// Whatever is held is also sent before shutting down.
#[derive(Debug)]
struct Coalesced {
    stream: TcpStream,
    held: Vec<u8>,
    written: usize,
}

impl Coalesced {
    /// Past this much, writes go out without waiting for a read.
    const HOLD: usize = 64 * 1024;

    fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            held: Vec::with_capacity(8 * 1024),
            written: 0,
        }
    }

    fn poll_send_held(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.held.len() {
            let n = ready!(Pin::new(&mut self.stream).poll_write(cx, &self.held[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.held.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Coalesced {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send_held(cx))?;
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Coalesced {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.held.len() >= Self::HOLD {
            ready!(this.poll_send_held(cx))?;
        }
        this.held.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    /// Held until the next read: every write in SMTP awaits an answer.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send_held(cx))?;
        Pin::new(&mut this.stream).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for Coalesced {
    fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.stream.peer_addr()
    }
}

/// A URL's user or password as written: `%XX` decoded, `+` kept (it is a
/// space only in form data, not in a URL's user information).
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(
        &self,
        lane: usize,
        mail: &Formatted,
        next: Option<&Address>,
    ) -> Result<(), SendError> {
        // Each connection sends one mail at a time; lanes beyond the number
        // of connections share them. A lane whose connection is still busy
        // with a slow mail of an earlier batch (which the worker did not
        // wait for) takes whichever connection frees first instead.
        let own = &self.slots[lane % self.slots.len()];
        let mut slot = match own.try_lock() {
            Ok(slot) => slot,
            Err(_) => {
                futures::future::select_all(self.slots.iter().map(|s| Box::pin(s.lock())))
                    .await
                    .0
            }
        };
        if let Some(other) = slot.take_if(|c| !c.takes(mail)) {
            // Broken, or opened for a mail that did not come (it failed to
            // build, or another lane took the connection).
            let _ = tokio::time::timeout(self.timeout, other.close()).await;
        }
        if slot.is_none() {
            let connected = tokio::time::timeout(self.timeout, self.connect())
                .await
                .map_err(|_| {
                    SendError::transient(
                        "timeout",
                        format!(
                            "the SMTP server did not finish greeting within {} s",
                            self.timeout.as_secs()
                        ),
                    )
                })??;
            *slot = Some(connected);
        }
        let connection = slot.as_mut().expect("connected above");
        let Ok(sent) = tokio::time::timeout(self.timeout, connection.send(mail, next)).await else {
            // Mid-conversation: the connection is of no more use (no QUIT,
            // which would wait on the same silent server).
            *slot = None;
            return Err(SendError::transient(
                "timeout",
                format!(
                    "the SMTP server did not answer within {} s",
                    self.timeout.as_secs()
                ),
            ));
        };
        match sent {
            Ok(_) => Ok(()),
            Err(err) => {
                let permanent = err.is_permanent();
                if !permanent {
                    // The connection's state is unknown: start afresh next time.
                    if let Some(broken) = slot.take() {
                        let _ = tokio::time::timeout(self.timeout, broken.close()).await;
                    }
                }
                Err(SendError {
                    permanent,
                    // A 5xx answer is final; a 4xx one, or a broken
                    // conversation, is tried again.
                    kind: if permanent { "rejected" } else { "deferred" },
                    message: err.to_string(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{dot_stuffed, percent_decode, pipelined};
    use lettre::{
        address::Envelope,
        transport::smtp::commands::{Data, Mail, Rcpt},
    };

    fn stuffed(text: &str) -> String {
        let mut data = String::from("left from the mail before");
        dot_stuffed(&mut data, text);
        data
    }

    #[test]
    fn lines_that_start_with_a_dot_get_another() {
        assert_eq!(stuffed("a\r\nb"), "a\r\nb\r\n.\r\n");
        assert_eq!(
            stuffed(".x\r\n.\r\n..y\r\nz.\r\n"),
            "..x\r\n..\r\n...y\r\nz.\r\n\r\n.\r\n"
        );
        // A bare LF is not a line's end in SMTP: lettre leaves it too.
        assert_eq!(stuffed("a\n.b"), "a\n.b\r\n.\r\n");
    }

    #[test]
    fn the_pipelined_group_is_what_lettre_s_commands_write() {
        let address = |a: &str| a.parse::<lettre::Address>().unwrap();
        for (from, to) in [
            (Some("status@example.test"), vec!["a@example.test"]),
            (None, vec!["a@example.test", "b+x@example.test"]),
        ] {
            let envelope =
                Envelope::new(from.map(address), to.iter().map(|t| address(t)).collect()).unwrap();
            let mut lettre = Mail::new(envelope.from().cloned(), vec![]).to_string();
            for to in envelope.to() {
                lettre.push_str(&Rcpt::new(to.clone(), vec![]).to_string());
            }
            lettre.push_str(&Data.to_string());
            let mut ours = String::from("the mail before\r\n.\r\n");
            pipelined(&mut ours, &envelope);
            assert_eq!(ours, format!("the mail before\r\n.\r\n{lettre}"));
        }
    }

    #[test]
    fn credentials_keep_a_plus_and_decode_escapes() {
        assert_eq!(percent_decode("p%40ss+word"), "p@ss+word");
        assert_eq!(percent_decode("a%2Bb%20c"), "a+b c");
    }
}
