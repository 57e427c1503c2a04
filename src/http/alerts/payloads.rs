//! Each monitoring tool's own webhook body, as its documentation and source
//! give it (samples in tests/fixtures/alerts), turned into the domain's
//! `Alert`s. Fields Candor does not read are ignored: the tools add fields
//! over time, and a receiver must not break when they do.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Deserialize;

use super::super::error::ApiError;
use crate::domain::alerts::{Alert, AlertSource, AlertStatus};

/// Prometheus Alertmanager's webhook (`version: "4"`) and Grafana's webhook
/// contact point (`version: "1"`): grouped alerts with labels.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct GroupedBody {
    /// `"4"` from Alertmanager, `"1"` from Grafana.
    version: String,
    alerts: Vec<GroupedAlert>,
}

/// One alert of a group. `candor_component` in its labels names the
/// component (by id or name); `severity` sets the impact.
#[derive(Deserialize, utoipa::ToSchema)]
struct GroupedAlert {
    status: AlertStatus,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(rename = "startsAt")]
    starts_at: Option<String>,
    fingerprint: Option<String>,
}

impl GroupedBody {
    /// The alerts of a body of `source`, whose `version` must be `version`.
    pub fn into_alerts(self, source: AlertSource, version: &str) -> Result<Vec<Alert>, ApiError> {
        if self.version != version {
            return Err(ApiError::invalid(
                "version",
                format!(
                    "{} sends version \"{version}\"; this body says \"{}\"",
                    source.words(),
                    self.version
                ),
            ));
        }
        self.alerts
            .into_iter()
            .enumerate()
            .map(|(i, alert)| {
                // Without a fingerprint (older senders), the labels are the
                // alert's identity, as they are in Alertmanager itself.
                let key = alert
                    .fingerprint
                    .filter(|f| !f.trim().is_empty())
                    .unwrap_or_else(|| {
                        (alert.labels.iter())
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(",")
                    });
                Alert {
                    source,
                    origin: source.words().into(),
                    key,
                    status: alert.status,
                    summary: alert.annotations.get("summary").cloned(),
                    component: alert.labels.get("candor_component").cloned(),
                    severity: alert.labels.get("severity").cloned(),
                    monitor: None,
                    started_at: alert.starts_at.as_deref().and_then(|s| s.parse().ok()),
                    labels: alert.labels,
                }
                .check()
                .map_err(|e| ApiError::invalid(format!("alerts[{i}].{}", e.field), e.message))
            })
            .collect()
    }
}

/// Uptime Kuma's webhook notification: a heartbeat (0 down, 1 up, 2
/// pending, 3 maintenance) of a monitor. Its "Test" button sends both as
/// `null`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct KumaBody {
    heartbeat: Option<KumaHeartbeat>,
    monitor: Option<KumaMonitor>,
    #[allow(dead_code)]
    msg: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
struct KumaHeartbeat {
    /// 0 down, 1 up, 2 pending, 3 maintenance.
    #[schema(minimum = 0, maximum = 3)]
    status: i64,
    /// A number or a string.
    #[serde(rename = "monitorID")]
    #[schema(value_type = Option<Value>)]
    monitor_id: Option<serde_json::Value>,
    /// UTC, as Uptime Kuma writes it: `2024-09-24 23:51:35.527`.
    time: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
struct KumaMonitor {
    /// A number or a string.
    #[schema(value_type = Option<Value>)]
    id: Option<serde_json::Value>,
    name: String,
}

/// Uptime Kuma's form-data variant: one field, `data`, holding the same
/// JSON as its JSON body.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct KumaForm {
    /// Uptime Kuma's JSON body, as text (422 naming `data` when it is not
    /// JSON).
    #[schema(content_media_type = "application/json")]
    data: String,
}

impl KumaBody {
    /// The alert, or none: the Test button, and the heartbeats that are not
    /// news (pending, maintenance).
    pub fn into_alerts(self) -> Result<Vec<Alert>, ApiError> {
        let (Some(heartbeat), Some(monitor)) = (self.heartbeat, self.monitor) else {
            return Ok(Vec::new());
        };
        let status = match heartbeat.status {
            0 => AlertStatus::Firing,
            1 => AlertStatus::Resolved,
            2 | 3 => return Ok(Vec::new()),
            _ => {
                return Err(ApiError::invalid(
                    "heartbeat.status",
                    "Uptime Kuma's statuses are 0 (down), 1 (up), 2 (pending), 3 (maintenance)",
                ))
            }
        };
        let id = monitor.id.or(heartbeat.monitor_id).map(|id| match id {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        });
        let source = AlertSource::UptimeKuma;
        let alert = Alert {
            source,
            origin: source.words().into(),
            key: format!("monitor-{}", id.unwrap_or_else(|| monitor.name.clone())),
            status,
            summary: None,
            labels: BTreeMap::new(),
            component: None,
            monitor: Some(monitor.name),
            severity: None,
            // Uptime Kuma writes UTC as `2024-09-24 23:51:35.527`.
            started_at: heartbeat
                .time
                .and_then(|t| format!("{}Z", t.trim().replace(' ', "T")).parse().ok())
                .filter(|_| status == AlertStatus::Firing),
        }
        .check()?;
        Ok(vec![alert])
    }
}

/// `POST /api/v1/alerts`: a small shape for any other tool or script.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenericBody {
    /// The tool's name, shown as the source ("nagios").
    source: String,
    /// The alert's identity within the tool: a later alert with the same
    /// key clears or renews it.
    key: String,
    status: AlertStatus,
    /// The component it concerns, by id or name.
    component: Option<String>,
    /// What is wrong, in a few words.
    summary: Option<String>,
    /// `critical`, `major`, `warning`, … (sets the impact).
    severity: Option<String>,
    started_at: Option<Timestamp>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

impl TryFrom<GenericBody> for Alert {
    type Error = ApiError;
    fn try_from(body: GenericBody) -> Result<Alert, ApiError> {
        // Keys are the tool's own: two tools may both say `disk-full`.
        let key = format!("{}/{}", body.source.trim(), body.key.trim());
        if body.key.trim().is_empty() {
            return Err(ApiError::invalid("key", "an alert needs a key"));
        }
        Ok(Alert {
            source: AlertSource::Generic,
            origin: body.source,
            key,
            status: body.status,
            summary: body.summary,
            component: body.component,
            monitor: None,
            severity: body.severity,
            started_at: body.started_at,
            labels: body.labels,
        }
        .check()?)
    }
}

/// The value of form field `name` in a `multipart/form-data` body (Uptime
/// Kuma's form-data variant sends one field, `data`, holding its JSON).
pub fn form_field<'a>(body: &'a [u8], content_type: &str, name: &str) -> Option<&'a [u8]> {
    let boundary = content_type.split(';').find_map(|param| {
        let (key, value) = param.trim().split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"'))
    })?;
    let delimiter = format!("--{boundary}");
    let text = std::str::from_utf8(body).ok()?;
    let wanted = format!("name=\"{name}\"");
    for part in text.split(delimiter.as_str()).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let part = part.strip_prefix("\r\n").unwrap_or(part);
        let (headers, content) = part.split_once("\r\n\r\n")?;
        let named = headers.lines().any(|line| {
            line.to_ascii_lowercase().starts_with("content-disposition") && line.contains(&wanted)
        });
        if named {
            return Some(content.strip_suffix("\r\n").unwrap_or(content).as_bytes());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::form_field;

    #[test]
    fn a_form_field_is_found_by_name() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nno\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n{\"a\":1}\r\n--XyZ--\r\n";
        let ct = "multipart/form-data; boundary=XyZ";
        assert_eq!(
            form_field(body.as_bytes(), ct, "data"),
            Some(&b"{\"a\":1}"[..])
        );
        assert_eq!(form_field(body.as_bytes(), ct, "missing"), None);
        assert_eq!(
            form_field(body.as_bytes(), "multipart/form-data", "data"),
            None
        );
    }
}
