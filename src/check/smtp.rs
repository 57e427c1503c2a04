//! An SMTP conversation that sends no mail: connect, greeting and EHLO,
//! TLS as `smtp_url` asks (`smtps://`, or `?tls=required` for STARTTLS),
//! AUTH when the URL carries credentials, then NOOP and QUIT.

use std::time::Duration;

use lettre::transport::smtp::{
    authentication::{Credentials, Mechanism},
    client::{AsyncSmtpConnection, TlsParameters},
    extension::ClientId,
};
use percent_encoding::percent_decode_str;

use crate::delivery::mailer::SmtpMailer;

/// Where `smtp_url` points, read as the delivery worker reads it.
struct Relay {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
}

#[derive(PartialEq, Eq)]
enum Security {
    Plain,
    StartTls,
    Implicit,
}

/// Talks to the relay `url` names, bounded by `timeout`; on success says
/// which server answered and what was done, in words.
pub async fn probe(url: &str, timeout: Duration) -> anyhow::Result<String> {
    // The worker's own reading of the URL first, so that the check refuses
    // exactly what `candor serve` would.
    SmtpMailer::from_url(url, 1, timeout)?;
    let relay = relay(url)?;
    let address = format!("{}:{}", relay.host, relay.port);
    match tokio::time::timeout(timeout, converse(&relay)).await {
        Ok(Ok(steps)) => Ok(format!("the SMTP server at {address} answered: {steps}")),
        Ok(Err(err)) => Err(anyhow::anyhow!("the SMTP server at {address}: {err}")),
        Err(_) => Err(anyhow::anyhow!(
            "the SMTP server at {address} did not answer within {} s (smtp_timeout)",
            timeout.as_secs()
        )),
    }
}

fn relay(text: &str) -> anyhow::Result<Relay> {
    let url = url::Url::parse(text)?;
    let tls_required = url
        .query_pairs()
        .any(|(k, v)| k == "tls" && v == "required");
    let (security, default_port) = match url.scheme() {
        "smtps" => (Security::Implicit, 465),
        _ if tls_required => (Security::StartTls, 587),
        _ => (Security::Plain, 25),
    };
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    Ok(Relay {
        host: url.host_str().unwrap_or_default().to_string(),
        port: url.port().unwrap_or(default_port),
        credentials: (!url.username().is_empty()).then(|| {
            Credentials::new(
                decode(url.username()),
                decode(url.password().unwrap_or_default()),
            )
        }),
        security,
    })
}

async fn converse(relay: &Relay) -> anyhow::Result<String> {
    let hello = ClientId::default();
    let mut steps = vec!["greeting", "EHLO"];
    let tls = || TlsParameters::new(relay.host.clone());
    let implicit = match relay.security {
        Security::Implicit => {
            steps.insert(0, "TLS");
            Some(tls()?)
        }
        _ => None,
    };
    let address = (relay.host.as_str(), relay.port);
    let mut smtp = AsyncSmtpConnection::connect_tokio1(address, None, &hello, implicit, None)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect: {e}"))?;
    if relay.security == Security::StartTls {
        anyhow::ensure!(
            smtp.can_starttls(),
            "it does not offer STARTTLS, which smtp_url asks for (tls=required)"
        );
        smtp.starttls(tls()?, &hello)
            .await
            .map_err(|e| anyhow::anyhow!("STARTTLS failed: {e}"))?;
        steps.push("STARTTLS");
    }
    if let Some(credentials) = &relay.credentials {
        smtp.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
            .await
            .map_err(|e| anyhow::anyhow!("it refused the user name and password: {e}"))?;
        steps.push("AUTH");
    }
    anyhow::ensure!(smtp.test_connected().await, "it did not answer NOOP");
    steps.push("NOOP");
    smtp.quit()
        .await
        .map_err(|e| anyhow::anyhow!("QUIT failed: {e}"))?;
    steps.push("QUIT");
    Ok(format!(
        "{} ({}); no mail was sent",
        steps.join(", "),
        smtp_name(&smtp)
    ))
}

fn smtp_name(smtp: &AsyncSmtpConnection) -> String {
    format!("it calls itself {}", smtp.server_info().name())
}
