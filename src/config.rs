//! Typed configuration: defaults, then an optional `candor.toml`, then
//! `CANDOR_<KEY>` environment variables (nested keys joined with `__`).

use std::{fmt, path::PathBuf, sync::Arc, time::Duration};

use figment::{
    providers::{Env, Format, Serialized, Toml},
    Figment,
};
use serde::{Deserialize, Serialize};

/// A secret that never shows in logs or `Debug` output.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `sqlite://candor.db` (created when missing) or `postgres://…`.
    pub database_url: String,
    /// Address to listen on; port 0 picks a free port.
    pub listen: String,
    /// Public URL of the page, used in links; defaults to `http://<listen>`.
    pub base_url: Option<String>,
    pub page_name: String,
    /// IANA time zone in which every time is shown.
    pub time_zone: String,
    /// Unset: mail is written as `.eml` files to `mail_dir`.
    pub smtp_url: Option<Secret>,
    pub mail_dir: PathBuf,
    pub mail_from: String,
    /// Accepted as an admin API token in addition to stored tokens.
    pub admin_token: Option<Secret>,
    /// How long after a missed update Candor says so in a system entry; `off` disables.
    pub overdue_grace: String,
    /// How long after resolving the follow-up is due.
    pub follow_up_after: String,
    /// The next update promised by a write through the Statuspage Manage
    /// API that names none (`metadata.candor.next_update_in`), 1m to 7d.
    pub default_next_update: String,
    pub retry_schedule: String,
    /// How long a claimed batch of deliveries is one worker's; after that
    /// (say the process died mid-batch) another may send it again.
    pub delivery_lease: String,
    /// How long Candor waits on the SMTP server (connecting, or one mail)
    /// before it gives up on that connection and retries the mail later.
    pub smtp_timeout: String,
    /// Reverse proxies (addresses or CIDR ranges, comma-separated) whose
    /// `X-Forwarded-For` names the client, for the per-IP subscribe limit
    /// and the audit log; empty: the peer is the client.
    pub trusted_proxies: String,
    /// Public subscribe requests allowed from one IP address (IPv6: one
    /// /64), like `5/1m`; `off` for none.
    pub subscribe_limit_per_ip: String,
    /// Public subscribe requests allowed for one email address, like `3/1h`;
    /// `off` for none.
    pub subscribe_limit_per_address: String,
    /// Readers' "I'm affected" reports allowed from one IP address (IPv6:
    /// one /64), like `10/1m`; `off` for none.
    pub report_limit_per_ip: String,
    /// Console login attempts allowed from one IP address (IPv6: one /64),
    /// like `10/5m`; `off` for none.
    pub login_limit_per_ip: String,
    /// Console login attempts allowed for one account's address, whoever
    /// tries, like `10/15m`; `off` for none.
    pub login_limit_per_address: String,
    /// Who is mailed when readers report a component the page shows as
    /// working (`Ops <ops@example.com>`); unset: nobody, `/api/v1/owed`
    /// lists them.
    pub reports_to: Option<String>,
    /// Whether webhooks may point at loopback, private (10/8, 172.16/12,
    /// 192.168/16, fc00::/7) and shared (100.64/10) addresses, for receivers
    /// on an intranet. Off, only public addresses are POSTed to.
    pub webhook_allow_private: bool,
    /// How long every try to a webhook may fail before Candor stops trying
    /// (quarantine) until staff re-enable it.
    pub webhook_quarantine_after: String,
    /// How long a client may take to send a request's line and headers;
    /// then its connection is closed (slow or stalled clients hold a
    /// descriptor each).
    pub header_read_timeout: String,
    /// How long a kept-alive connection may wait for its next request.
    /// Waiting for a request is waiting for its headers too, so
    /// `header_read_timeout` caps it.
    pub keep_alive_timeout: String,
    /// Connections served at once; more wait in the listen queue until one
    /// closes. With the usual limit of 1,024 descriptors per process this
    /// leaves room for the database, SMTP and webhook connections and files.
    pub max_connections: usize,
    /// How long a handler may take before the client is told 503; a write
    /// still runs to its end.
    pub request_timeout: String,
    /// On SIGTERM, how long Candor may take to stop: to finish the requests
    /// and the mail and webhooks in flight (what is not started is given
    /// back for another instance, or this one after its restart, to send
    /// at once). Past it, what is left is cut short and sent again later.
    pub shutdown_grace: String,
    /// Monitoring alerts: which alert goes to which component, and what
    /// automation promises (`[alerts]`).
    pub alerts: AlertsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://candor.db".into(),
            listen: "127.0.0.1:8080".into(),
            base_url: None,
            page_name: "Status".into(),
            time_zone: "UTC".into(),
            smtp_url: None,
            mail_dir: PathBuf::from("./outbox"),
            mail_from: "status@localhost".into(),
            admin_token: None,
            overdue_grace: "15m".into(),
            follow_up_after: "24h".into(),
            default_next_update: "30m".into(),
            retry_schedule: "30s,2m,10m,30m,2h,6h".into(),
            delivery_lease: "2m".into(),
            smtp_timeout: "60s".into(),
            trusted_proxies: String::new(),
            subscribe_limit_per_ip: "5/1m".into(),
            subscribe_limit_per_address: "3/1h".into(),
            report_limit_per_ip: "10/1m".into(),
            login_limit_per_ip: "10/5m".into(),
            login_limit_per_address: "10/15m".into(),
            reports_to: None,
            webhook_allow_private: false,
            webhook_quarantine_after: "3d".into(),
            header_read_timeout: "10s".into(),
            keep_alive_timeout: "5s".into(),
            max_connections: 768,
            request_timeout: "30s".into(),
            shutdown_grace: "10s".into(),
            alerts: AlertsConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: &'static str, message: String },
}

/// Every key of the configuration, as `CANDOR_<KEY>` reads it (lower case).
const KEYS: &[&str] = &[
    "database_url",
    "listen",
    "base_url",
    "page_name",
    "time_zone",
    "smtp_url",
    "mail_dir",
    "mail_from",
    "admin_token",
    "overdue_grace",
    "follow_up_after",
    "default_next_update",
    "retry_schedule",
    "delivery_lease",
    "smtp_timeout",
    "trusted_proxies",
    "subscribe_limit_per_ip",
    "subscribe_limit_per_address",
    "report_limit_per_ip",
    "login_limit_per_ip",
    "login_limit_per_address",
    "reports_to",
    "webhook_allow_private",
    "webhook_quarantine_after",
    "header_read_timeout",
    "keep_alive_timeout",
    "max_connections",
    "request_timeout",
    "shutdown_grace",
    "alerts",
];

impl Config {
    /// Defaults, then `path` if it exists, then the environment, as written;
    /// `check` turns it into the `Settings` the program runs with.
    pub fn load(path: Option<&std::path::Path>) -> Result<Self, ConfigError> {
        let file = path.unwrap_or_else(|| std::path::Path::new("candor.toml"));
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(file))
            // Only the server's own keys: CANDOR_URL and CANDOR_TOKEN belong
            // to the client commands, CANDOR_TEST_* to the test suite.
            .merge(Env::prefixed("CANDOR_").split("__").filter(|key| {
                let top = key.as_str().split('.').next().unwrap_or_default();
                KEYS.iter().any(|k| k.eq_ignore_ascii_case(top))
            }))
            .extract()
            .map_err(Box::new)?;
        Ok(config)
    }

    /// Parses every setting into its type once, at start, so a bad value
    /// stops the start with its key named and nothing parses it again.
    pub fn check(self) -> Result<Settings, ConfigError> {
        Ok(Settings {
            time_zone: time_zone(&self.time_zone)?,
            mail_from: sender(&self.mail_from, &self.page_name)?,
            overdue_grace: overdue_grace(&self.overdue_grace)?,
            follow_up_after: follow_up_after(&self.follow_up_after)?,
            default_next_update: default_next_update(&self.default_next_update)?,
            retry_schedule: retry_schedule(&self.retry_schedule)?,
            delivery_lease: signed_duration("delivery_lease", &self.delivery_lease)?,
            smtp_timeout: positive_duration("smtp_timeout", &self.smtp_timeout)?,
            trusted_proxies: trusted_proxies(&self.trusted_proxies)?,
            subscribe_limit_per_ip: Rate::parse_setting(
                "subscribe_limit_per_ip",
                &self.subscribe_limit_per_ip,
            )?,
            subscribe_limit_per_address: Rate::parse_setting(
                "subscribe_limit_per_address",
                &self.subscribe_limit_per_address,
            )?,
            report_limit_per_ip: Rate::parse_setting(
                "report_limit_per_ip",
                &self.report_limit_per_ip,
            )?,
            login_limit_per_ip: Rate::parse_setting(
                "login_limit_per_ip",
                &self.login_limit_per_ip,
            )?,
            login_limit_per_address: Rate::parse_setting(
                "login_limit_per_address",
                &self.login_limit_per_address,
            )?,
            reports_to: (self.reports_to.as_deref())
                .map(|to| mailbox("reports_to", to))
                .transpose()?,
            webhook_quarantine_after: signed_duration(
                "webhook_quarantine_after",
                &self.webhook_quarantine_after,
            )?,
            connection_limits: self.connection_limits()?,
            shutdown_grace: positive_duration("shutdown_grace", &self.shutdown_grace)?,
            alerts: self.alerts.check()?,
            time_zone_name: self.time_zone,
            database_url: self.database_url,
            listen: self.listen,
            base_url: self.base_url,
            page_name: self.page_name,
            smtp_url: self.smtp_url,
            mail_dir: self.mail_dir,
            admin_token: self.admin_token,
            webhook_allow_private: self.webhook_allow_private,
        })
    }

    fn connection_limits(&self) -> Result<ConnectionLimits, ConfigError> {
        if self.max_connections == 0 {
            return Err(ConfigError::Invalid {
                key: "max_connections",
                message: "must be at least 1".into(),
            });
        }
        Ok(ConnectionLimits {
            header_read_timeout: positive_duration(
                "header_read_timeout",
                &self.header_read_timeout,
            )?,
            keep_alive_timeout: positive_duration("keep_alive_timeout", &self.keep_alive_timeout)?,
            max_connections: self.max_connections,
            request_timeout: positive_duration("request_timeout", &self.request_timeout)?,
        })
    }
}

/// The configuration as the program uses it: every value parsed and
/// checked (`Config::check`), each in its own type.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub listen: String,
    pub base_url: Option<String>,
    pub page_name: String,
    pub time_zone: jiff::tz::TimeZone,
    /// The time zone's name as configured (the Statuspage API shows it).
    pub time_zone_name: String,
    pub smtp_url: Option<Secret>,
    pub mail_dir: PathBuf,
    pub mail_from: lettre::message::Mailbox,
    pub admin_token: Option<Secret>,
    /// `None` when the grace period is `off`.
    pub overdue_grace: Option<jiff::SignedDuration>,
    /// At most 30 days, as a follow-up given by hand (`MAX_FOLLOW_UP`).
    pub follow_up_after: jiff::SignedDuration,
    /// What a Statuspage Manage API write promises when it names no next
    /// update (`Config::default_next_update`).
    pub default_next_update: jiff::SignedDuration,
    /// The delays before each retry of a failed delivery.
    pub retry_schedule: Vec<jiff::SignedDuration>,
    /// How long the worker holds a claimed batch before others may take it.
    pub delivery_lease: jiff::SignedDuration,
    /// How long one exchange with the SMTP server may take.
    pub smtp_timeout: Duration,
    /// The trusted proxies: `10.0.0.0/8, 127.0.0.1` (an address alone is
    /// itself only).
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
    /// `None` when the limit is `off`.
    pub subscribe_limit_per_ip: Option<Rate>,
    /// `None` when the limit is `off`.
    pub subscribe_limit_per_address: Option<Rate>,
    /// `None` when the limit is `off`.
    pub report_limit_per_ip: Option<Rate>,
    /// `None` when the limit is `off`.
    pub login_limit_per_ip: Option<Rate>,
    /// `None` when the limit is `off`.
    pub login_limit_per_address: Option<Rate>,
    /// Who is told of readers' reports on a component shown as working.
    pub reports_to: Option<lettre::message::Mailbox>,
    pub webhook_allow_private: bool,
    /// How long a webhook may fail on every try before it is quarantined.
    pub webhook_quarantine_after: jiff::SignedDuration,
    pub connection_limits: ConnectionLimits,
    /// How long a stop may take (`Config::shutdown_grace`).
    pub shutdown_grace: Duration,
    /// The mapping and promises of monitoring alerts.
    pub alerts: crate::domain::alerts::AlertRules,
}

impl Settings {
    /// The public URL without a trailing slash.
    pub fn public_url(&self, bound: std::net::SocketAddr) -> String {
        match &self.base_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{bound}"),
        }
    }
}

fn time_zone(name: &str) -> Result<jiff::tz::TimeZone, ConfigError> {
    jiff::tz::TimeZone::get(name).map_err(|e| ConfigError::Invalid {
        key: "time_zone",
        message: e.to_string(),
    })
}

/// The sender of every mail: `mail_from`, shown with the page's name
/// ("Acme IT <status@acme.test>") unless it names a sender of its own, so
/// that readers see whose page writes to them.
fn sender(text: &str, page_name: &str) -> Result<lettre::message::Mailbox, ConfigError> {
    let mailbox: lettre::message::Mailbox = text.parse().map_err(|e| ConfigError::Invalid {
        key: "mail_from",
        message: format!("`{text}` is not an address like `status@example.com`: {e}"),
    })?;
    match mailbox.name.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => Ok(mailbox),
        _ => Ok(lettre::message::Mailbox::new(
            Some(page_name.trim().to_string()).filter(|name| !name.is_empty()),
            mailbox.email,
        )),
    }
}

fn mailbox(key: &'static str, text: &str) -> Result<lettre::message::Mailbox, ConfigError> {
    text.parse().map_err(|e| ConfigError::Invalid {
        key,
        message: format!("`{text}` is not a mailbox like `Status <status@example.com>`: {e}"),
    })
}

fn overdue_grace(text: &str) -> Result<Option<jiff::SignedDuration>, ConfigError> {
    if text.trim() == "off" {
        return Ok(None);
    }
    parse_duration(text)
        .and_then(|d| jiff::SignedDuration::try_from(d).ok())
        .map(Some)
        .ok_or_else(|| ConfigError::Invalid {
            key: "overdue_grace",
            message: format!("`{text}` is not a duration like 15m, or off"),
        })
}

fn follow_up_after(text: &str) -> Result<jiff::SignedDuration, ConfigError> {
    parse_duration(text)
        .filter(|d| *d <= Duration::from_secs(30 * 24 * 3600))
        .and_then(|d| jiff::SignedDuration::try_from(d).ok())
        .ok_or_else(|| ConfigError::Invalid {
            key: "follow_up_after",
            message: format!("`{text}` is not a duration like 24h or 90m of at most 30 days"),
        })
}

fn default_next_update(text: &str) -> Result<jiff::SignedDuration, ConfigError> {
    let duration = signed_duration("default_next_update", text)?;
    if duration < jiff::SignedDuration::from_mins(1)
        || duration > crate::domain::incident::MAX_NEXT_UPDATE
    {
        return Err(ConfigError::Invalid {
            key: "default_next_update",
            message: format!("`{text}` must be between 1m and 7d"),
        });
    }
    Ok(duration)
}

fn retry_schedule(text: &str) -> Result<Vec<jiff::SignedDuration>, ConfigError> {
    text.split(',')
        .map(|part| {
            parse_duration(part)
                .and_then(|d| jiff::SignedDuration::try_from(d).ok())
                .ok_or_else(|| ConfigError::Invalid {
                    key: "retry_schedule",
                    message: format!("`{part}` is not a duration like 30s, 10m or 2h"),
                })
        })
        .collect()
}

fn trusted_proxies(text: &str) -> Result<Arc<[ipnet::IpNet]>, ConfigError> {
    text.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry
                .parse::<ipnet::IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| ConfigError::Invalid {
                    key: "trusted_proxies",
                    message: format!("`{entry}` is not an IP address or a range like 10.0.0.0/8"),
                })
        })
        .collect()
}

/// A positive duration that must also fit a `jiff::SignedDuration`.
fn signed_duration(key: &'static str, text: &str) -> Result<jiff::SignedDuration, ConfigError> {
    let duration = positive_duration(key, text)?;
    jiff::SignedDuration::try_from(duration).map_err(|_| ConfigError::Invalid {
        key,
        message: format!("`{text}` is too long"),
    })
}

/// `[alerts]`: the mapping of monitoring alerts to components, and what
/// automation promises (README, "Monitoring alerts").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// Who is on call: `Name <email>`, the owner of every incident an alert
    /// opens. Unset: alerts are recorded, never published.
    pub owner: Option<String>,
    /// The next update automation promises.
    pub next_update: String,
    /// An alert firing again this soon after it cleared belongs to the same
    /// incident.
    pub flap_window: String,
    /// Labels whose value names a component, in order.
    pub labels: Vec<String>,
    /// A label value or Uptime Kuma monitor name → a component's id or name.
    pub components: std::collections::BTreeMap<String, String>,
    /// A `severity` label's value → `{ status = "...", impact = "..." }`.
    pub severities: std::collections::BTreeMap<String, crate::domain::alerts::Severity>,
    /// For alerts with no severity, or one not listed.
    pub default_severity: crate::domain::alerts::Severity,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        let rules = crate::domain::alerts::AlertRules::default();
        Self {
            owner: None,
            next_update: "15m".into(),
            flap_window: "10m".into(),
            labels: rules.labels,
            components: rules.components,
            severities: rules.severities,
            default_severity: rules.default_severity,
        }
    }
}

impl AlertsConfig {
    fn check(self) -> Result<crate::domain::alerts::AlertRules, ConfigError> {
        let owner = match self.owner.as_deref() {
            None => None,
            Some(text) => {
                // `Dana (IT Ops) <dana@acme.test>`: a person's name as
                // readers see it, which need not be a valid mail phrase.
                let invalid = |message: String| ConfigError::Invalid {
                    key: "alerts.owner",
                    message: format!("`{text}`: {message}; write `Name <email>`"),
                };
                let (name, email) = text
                    .trim()
                    .strip_suffix('>')
                    .and_then(|rest| rest.rsplit_once('<'))
                    .ok_or_else(|| invalid("no <email>".into()))?;
                Some(crate::domain::Owner {
                    name: crate::domain::PersonName::parse(name).map_err(|e| invalid(e.message))?,
                    email: crate::domain::Email::parse(email).map_err(|e| invalid(e.message))?,
                })
            }
        };
        let next_update = signed_duration("alerts.next_update", &self.next_update)?;
        if next_update < jiff::SignedDuration::from_mins(1)
            || next_update > crate::domain::incident::MAX_NEXT_UPDATE
        {
            return Err(ConfigError::Invalid {
                key: "alerts.next_update",
                message: "must be between 1m and 7d".into(),
            });
        }
        Ok(crate::domain::alerts::AlertRules {
            owner,
            next_update,
            flap_window: signed_duration("alerts.flap_window", &self.flap_window)?,
            labels: self.labels,
            components: self.components,
            severities: (self.severities.into_iter())
                .map(|(k, v)| (k.trim().to_lowercase(), v))
                .collect(),
            default_severity: self.default_severity,
        })
    }
}

/// How long clients may take, and how many are served at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub keep_alive_timeout: Duration,
    pub max_connections: usize,
    pub request_timeout: Duration,
}

/// A rate limit: at most `count` requests in any `per`, as `5/1m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: std::num::NonZeroU32,
    pub per: Duration,
}

impl Rate {
    /// `COUNT/DURATION` (`5/1m`, `3/1h`), or `off` for `None`.
    pub fn parse(text: &str) -> Option<Option<Self>> {
        let text = text.trim();
        if text == "off" {
            return Some(None);
        }
        let (count, per) = text.split_once('/')?;
        let count = count.trim().parse().ok()?;
        let per = parse_duration(per).filter(|d| !d.is_zero())?;
        Some(Some(Self { count, per }))
    }

    fn parse_setting(key: &'static str, text: &str) -> Result<Option<Self>, ConfigError> {
        Self::parse(text).ok_or_else(|| ConfigError::Invalid {
            key,
            message: format!("`{text}` is not a limit like 5/1m (five a minute), or off"),
        })
    }
}

/// A setting that must be a duration longer than zero.
fn positive_duration(key: &'static str, text: &str) -> Result<Duration, ConfigError> {
    parse_duration(text)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| ConfigError::Invalid {
            key,
            message: format!("`{text}` is not a duration like 30s or 2m"),
        })
}

/// Parses `90s`, `15m`, `24h`, `7d` (one number, one unit).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_proxies_are_addresses_and_ranges() {
        let mut config = Config {
            trusted_proxies: "10.0.0.0/8, 127.0.0.1,::1".into(),
            ..Config::default()
        };
        let nets = config.clone().check().unwrap().trusted_proxies;
        assert_eq!(nets.len(), 3);
        assert!(nets[0].contains(&"10.1.2.3".parse::<std::net::IpAddr>().unwrap()));
        assert_eq!(nets[1].to_string(), "127.0.0.1/32");
        config.trusted_proxies = "10.0.0.0/8, proxy.local".into();
        assert!(config.clone().check().is_err());
        config.trusted_proxies = String::new();
        assert!(config.check().unwrap().trusted_proxies.is_empty());
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("24h"), Some(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("15"), None);
        assert_eq!(parse_duration("m"), None);
        assert_eq!(parse_duration("5w"), None);
    }

    #[test]
    fn rates_parse_as_count_per_duration() {
        let rate = Rate::parse("5/1m").flatten().expect("a rate");
        assert_eq!((rate.count.get(), rate.per), (5, Duration::from_secs(60)));
        assert_eq!(Rate::parse(" off "), Some(None));
        for bad in ["5", "0/1m", "5/0m", "5/m", "-1/1h", "five/1m"] {
            assert_eq!(Rate::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn defaults_are_valid() {
        let settings = Config::default()
            .check()
            .expect("the defaults pass validation");
        assert_eq!(settings.delivery_lease, jiff::SignedDuration::from_mins(2));
        assert_eq!(
            settings.default_next_update,
            jiff::SignedDuration::from_mins(30)
        );
    }

    #[test]
    fn the_default_next_update_is_a_promise_of_1m_to_7d() {
        for bad in ["30s", "8d", "soon"] {
            let config = Config {
                default_next_update: bad.into(),
                ..Config::default()
            };
            let err = config.check().expect_err(bad).to_string();
            assert!(err.contains("default_next_update"), "{err}");
        }
    }

    #[test]
    fn webhook_settings_default_to_public_receivers_and_three_days() {
        let mut config = Config::default();
        assert!(!config.webhook_allow_private);
        assert_eq!(
            config.clone().check().unwrap().webhook_quarantine_after,
            jiff::SignedDuration::from_hours(72)
        );
        config.webhook_quarantine_after = "12h".into();
        assert_eq!(
            config.clone().check().unwrap().webhook_quarantine_after,
            jiff::SignedDuration::from_hours(12)
        );
        for bad in ["0d", "3", "soon", "off"] {
            config.webhook_quarantine_after = bad.into();
            assert!(config.clone().check().is_err(), "{bad}");
        }
    }

    #[test]
    fn connection_limits_parse_and_refuse_zero() {
        let limits = Config::default().check().unwrap().connection_limits;
        assert_eq!(limits.header_read_timeout, Duration::from_secs(10));
        assert_eq!(limits.keep_alive_timeout, Duration::from_secs(5));
        assert_eq!(limits.request_timeout, Duration::from_secs(30));
        assert!(limits.max_connections < 1024);
        for change in [
            |c: &mut Config| c.max_connections = 0,
            |c: &mut Config| c.header_read_timeout = "0s".into(),
            |c: &mut Config| c.keep_alive_timeout = "soon".into(),
            |c: &mut Config| c.request_timeout = "30".into(),
        ] {
            let mut config = Config::default();
            change(&mut config);
            assert!(config.clone().check().is_err(), "{config:?}");
        }
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail returns its own error type
    fn private_webhooks_are_allowed_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("CANDOR_WEBHOOK_ALLOW_PRIVATE", "true");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert!(config.webhook_allow_private);
            Ok(())
        });
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let config = Config {
            admin_token: Some(Secret::new("hunter2")),
            ..Config::default()
        };
        assert!(!format!("{config:?}").contains("hunter2"));
        let settings = config.check().unwrap();
        assert!(!format!("{settings:?}").contains("hunter2"));
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail returns its own error type
    fn environment_sets_known_keys_and_ignores_client_ones() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("CANDOR_DATABASE_URL", "sqlite://elsewhere.db");
            jail.set_env("CANDOR_TOKEN", "client-only");
            jail.set_env("CANDOR_URL", "http://example.test");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(config.database_url, "sqlite://elsewhere.db");
            Ok(())
        });
    }

    #[test]
    fn bad_time_zone_is_refused() {
        let config = Config {
            time_zone: "Mars/Olympus".into(),
            ..Config::default()
        };
        assert!(config.check().is_err());
    }

    #[test]
    fn a_bad_value_is_reported_with_its_key() {
        let config = Config {
            retry_schedule: "30s,soon".into(),
            ..Config::default()
        };
        let message = config.check().unwrap_err().to_string();
        assert!(message.contains("`retry_schedule`"), "{message}");
        assert!(message.contains("`soon`"), "{message}");
    }
}
