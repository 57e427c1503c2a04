//! `candor status`, `candor incident …` and `candor component …`: the admin
//! API of a running Candor from a terminal or a script (`CANDOR_URL`,
//! `CANDOR_TOKEN`). Human output in the page's words, or the API's JSON
//! with `--json`; exit codes 0 done, 2 usage, 3 refused by a rule, 4 not
//! authorised, 5 Candor not reachable.

mod api;
mod show;
mod subscribers;

use clap::{Args, Subcommand};
use jiff::{tz::TimeZone, Timestamp};
use serde_json::{json, Map, Value};

use api::Api;
pub use api::Stop;
pub use subscribers::SubscriberCommand;

use crate::domain::when::{typed, Typed};

/// Where the client finds Candor.
#[derive(Args, Clone)]
pub struct Connection {
    /// Candor's address, as its page is reached.
    #[arg(
        long,
        env = "CANDOR_URL",
        global = true,
        default_value = "http://127.0.0.1:8080"
    )]
    pub url: String,
    /// An admin API token (`candor token create NAME` makes one).
    #[arg(
        long,
        env = "CANDOR_TOKEN",
        global = true,
        hide_env_values = true,
        default_value = ""
    )]
    pub token: String,
    /// Print the API's JSON instead of sentences, for scripts.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum IncidentCommand {
    /// Open an incident: subscribers are told at once.
    #[command(
        after_help = "Example:\n  candor incident open \"VPN down\" --component vpn=major_outage --next-update 30m --impact major"
    )]
    Open {
        title: String,
        /// A component and its status: NAME_OR_ID=STATUS (again for more).
        #[arg(long = "component", value_name = "NAME=STATUS")]
        components: Vec<String>,
        /// When the next update comes: 30m, +1h, 16:00 or RFC 3339.
        #[arg(long, default_value = "30m")]
        next_update: String,
        /// none, minor, major or critical.
        #[arg(long, default_value = "minor")]
        impact: String,
        /// investigating, identified or monitoring.
        #[arg(long)]
        status: Option<String>,
        /// "Name <email>": who answers for it (default CANDOR_OWNER).
        #[arg(long, env = "CANDOR_OWNER")]
        owner: Option<String>,
        /// What caused it, if known (left out: "not yet known").
        #[arg(long)]
        cause: Option<String>,
        /// When it should work again: 16:00, +2h or RFC 3339 (left out: no ETA yet).
        #[arg(long)]
        eta: Option<String>,
        #[arg(long)]
        message: Option<String>,
    },
    /// Post an update: only what is given changes.
    #[command(
        after_help = "Example:\n  candor incident update ab12cd34ef56 --status identified --cause \"Expired certificate\" --eta +2h --next-update 30m --message \"Renewing it.\""
    )]
    Update {
        id: String,
        #[arg(long)]
        message: String,
        /// When the next update comes: 30m, +1h, 16:00 or RFC 3339.
        #[arg(long)]
        next_update: String,
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        impact: Option<String>,
        /// The cause found ("unknown" says it is not known after all).
        #[arg(long)]
        cause: Option<String>,
        /// The new ETA: 16:00, +2h or RFC 3339; "none" withdraws it.
        #[arg(long)]
        eta: Option<String>,
        #[arg(long = "component", value_name = "NAME=STATUS")]
        components: Vec<String>,
        /// Hand it over: "Name <email>".
        #[arg(long)]
        owner: Option<String>,
    },
    /// Correct an entry: a new entry that says what was wrong.
    #[command(
        after_help = "Example:\n  candor incident correct ab12cd34ef56 ENTRY_ID --cause \"A DNS change\" --message \"The cause given at 10:20 was wrong.\""
    )]
    Correct {
        id: String,
        entry: String,
        #[arg(long)]
        message: String,
        #[arg(long)]
        cause: Option<String>,
        #[arg(long)]
        title: Option<String>,
    },
    /// Resolve it, promising the follow-up.
    #[command(
        after_help = "Example:\n  candor incident resolve ab12cd34ef56 --message \"The new certificate is in place.\" --follow-up-in 48h"
    )]
    Resolve {
        id: String,
        #[arg(long)]
        message: String,
        /// When the follow-up comes: 24h, 2d (default: the page's setting).
        #[arg(long)]
        follow_up_in: Option<String>,
    },
    /// List incidents, newest first.
    #[command(after_help = "Example:\n  candor incident list --open")]
    List {
        #[arg(long, conflicts_with = "resolved")]
        open: bool,
        #[arg(long)]
        resolved: bool,
    },
    /// Show an incident with its timeline.
    #[command(after_help = "Example:\n  candor incident show ab12cd34ef56")]
    Show { id: String },
}

#[derive(Subcommand)]
pub enum ComponentCommand {
    /// List the components and their status.
    #[command(after_help = "Example:\n  candor component list")]
    List,
    /// Set a component's status by hand: its subscribers are told, with the reason.
    #[command(
        after_help = "Example:\n  candor component set vpn degraded_performance --reason \"The Berlin gateway is slow.\""
    )]
    Set {
        /// The component's name or id.
        component: String,
        /// operational, degraded_performance, partial_outage, major_outage or under_maintenance.
        status: String,
        #[arg(long)]
        reason: String,
    },
}

/// What the client was asked.
pub enum Asked {
    Status,
    Incident(IncidentCommand),
    Component(ComponentCommand),
    Subscribers(SubscriberCommand),
}

/// Runs a client command; `Stop` carries the exit code when it fails.
pub async fn run(connection: &Connection, asked: Asked) -> Result<(), Stop> {
    let api = Api::new(&connection.url, &connection.token)?;
    let page = Page::read(&api).await?;
    let out = match asked {
        Asked::Status => status(&api, &page, connection.json).await?,
        Asked::Incident(command) => incident(&api, &page, command, connection.json).await?,
        Asked::Component(command) => component(&api, command, connection.json).await?,
        Asked::Subscribers(command) => subscribers::run(&api, command, connection.json).await?,
    };
    print!("{out}");
    Ok(())
}

/// What the client needs to know of the page: its zone, and now.
pub struct Page {
    pub name: String,
    pub tz: TimeZone,
    pub now: Timestamp,
}

impl Page {
    async fn read(api: &Api) -> Result<Self, Stop> {
        let summary = api.get("/api/v2/summary.json").await?;
        let zone = summary["page"]["time_zone"].as_str().unwrap_or("UTC");
        Ok(Self {
            name: summary["page"]["name"]
                .as_str()
                .unwrap_or("Status")
                .to_string(),
            tz: TimeZone::get(zone).unwrap_or(TimeZone::UTC),
            now: Timestamp::now(),
        })
    }

    /// A time as typed, or why not (a usage error naming the option).
    fn time(&self, option: &str, raw: &str) -> Result<Typed, Stop> {
        typed(raw, &self.tz, self.now).map_err(|why| {
            Stop::usage(format!(
                "--{option} `{raw}` {why}: write 30m, +2h, 16:00 or 2026-03-04T16:00:00Z"
            ))
        })
    }

    /// An instant: a span is counted from now.
    fn instant(&self, option: &str, raw: &str) -> Result<Timestamp, Stop> {
        Ok(match self.time(option, raw)? {
            Typed::At(at) => at,
            Typed::In(span) => self.now + span,
        })
    }
}

/// `next_update_in` (whole minutes, rounded up) or `next_update_at`.
fn next_update(page: &Page, raw: &str, body: &mut Map<String, Value>) -> Result<(), Stop> {
    match page.time("next-update", raw)? {
        Typed::In(span) => {
            let minutes = (span.as_secs() + 59) / 60;
            body.insert("next_update_in".into(), json!(minutes));
        }
        Typed::At(at) => {
            body.insert("next_update_at".into(), json!(at.to_string()));
        }
    }
    Ok(())
}

/// "Dana (IT Ops) <dana@acme.test>" as the API's owner.
fn owner(raw: &str) -> Result<Value, Stop> {
    let bad = || {
        Stop::usage(format!(
            "--owner `{raw}` is not like \"Dana (IT Ops) <dana@acme.test>\""
        ))
    };
    let (name, rest) = raw.rsplit_once('<').ok_or_else(bad)?;
    let email = rest.strip_suffix('>').ok_or_else(bad)?;
    Ok(json!({"name": name.trim(), "email": email.trim()}))
}

/// `NAME_OR_ID=STATUS` pairs as the API's components map.
async fn components(api: &Api, pairs: &[String]) -> Result<Map<String, Value>, Stop> {
    let mut map = Map::new();
    if pairs.is_empty() {
        return Ok(map);
    }
    let known = api.get("/api/v1/components").await?;
    for pair in pairs {
        let (name, status) = pair
            .split_once('=')
            .ok_or_else(|| Stop::usage(format!("--component `{pair}` is not NAME=STATUS")))?;
        map.insert(component_id(&known, name)?, json!(status.trim()));
    }
    Ok(map)
}

/// The id of the component named (or numbered) `name`.
fn component_id(known: &Value, name: &str) -> Result<String, Stop> {
    let name = name.trim();
    let items = known["items"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .find(|c| c["id"] == name)
        .or_else(|| {
            items.iter().find(|c| {
                c["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
        })
        .and_then(|c| c["id"].as_str().map(str::to_string))
        .ok_or_else(|| Stop {
            code: 3,
            message: format!(
                "refused: there is no component `{name}` (candor component list shows them)"
            ),
        })
}

async fn status(api: &Api, page: &Page, json_out: bool) -> Result<String, Stop> {
    let summary = api.get("/api/v2/summary.json").await?;
    let open = api.get("/api/v1/incidents?state=open").await?;
    if json_out {
        return Ok(format!(
            "{}\n",
            json!({"summary": summary, "open_incidents": open["items"]})
        ));
    }
    Ok(show::status(page, &summary, &open))
}

async fn incident(
    api: &Api,
    page: &Page,
    command: IncidentCommand,
    json_out: bool,
) -> Result<String, Stop> {
    let (value, words): (Value, fn(&Page, &Value) -> String) = match command {
        IncidentCommand::Open {
            title,
            components: pairs,
            next_update: next,
            impact,
            status,
            owner: who,
            cause,
            eta,
            message,
        } => {
            let who = who.ok_or_else(|| {
                Stop::usage(
                    "say who owns it: --owner \"Dana (IT Ops) <dana@acme.test>\" or CANDOR_OWNER",
                )
            })?;
            let mut body = Map::new();
            body.insert("title".into(), json!(title));
            body.insert("impact".into(), json!(impact));
            body.insert("owner".into(), owner(&who)?);
            body.insert(
                "components".into(),
                Value::Object(components(api, &pairs).await?),
            );
            next_update(page, &next, &mut body)?;
            if let Some(status) = status {
                body.insert("status".into(), json!(status));
            }
            if let Some(cause) = cause {
                body.insert("cause".into(), json!(cause));
            }
            if let Some(eta) = eta {
                body.insert("eta".into(), json!(page.instant("eta", &eta)?.to_string()));
            }
            if let Some(message) = message {
                body.insert("message".into(), json!(message));
            }
            (
                api.post("/api/v1/incidents", &Value::Object(body)).await?,
                show::incident,
            )
        }
        IncidentCommand::Update {
            id,
            message,
            next_update: next,
            status,
            impact,
            cause,
            eta,
            components: pairs,
            owner: who,
        } => {
            let mut body = Map::new();
            body.insert("message".into(), json!(message));
            next_update(page, &next, &mut body)?;
            if let Some(status) = status {
                body.insert("status".into(), json!(status));
            }
            if let Some(impact) = impact {
                body.insert("impact".into(), json!(impact));
            }
            match cause.as_deref() {
                None => {}
                Some("unknown") => {
                    body.insert("cause".into(), Value::Null);
                }
                Some(cause) => {
                    body.insert("cause".into(), json!(cause));
                }
            }
            match eta.as_deref() {
                None => {}
                Some("none") => {
                    body.insert("eta".into(), Value::Null);
                }
                Some(eta) => {
                    body.insert("eta".into(), json!(page.instant("eta", eta)?.to_string()));
                }
            }
            if !pairs.is_empty() {
                body.insert(
                    "components".into(),
                    Value::Object(components(api, &pairs).await?),
                );
            }
            if let Some(who) = who {
                body.insert("owner".into(), owner(&who)?);
            }
            api.post(
                &format!("/api/v1/incidents/{id}/updates"),
                &Value::Object(body),
            )
            .await?;
            (
                api.get(&format!("/api/v1/incidents/{id}")).await?,
                show::incident,
            )
        }
        IncidentCommand::Correct {
            id,
            entry,
            message,
            cause,
            title,
        } => {
            let mut body = Map::new();
            body.insert("corrects".into(), json!(entry));
            body.insert("message".into(), json!(message));
            if let Some(cause) = cause {
                body.insert("cause".into(), json!(cause));
            }
            if let Some(title) = title {
                body.insert("title".into(), json!(title));
            }
            api.post(
                &format!("/api/v1/incidents/{id}/corrections"),
                &Value::Object(body),
            )
            .await?;
            (
                api.get(&format!("/api/v1/incidents/{id}")).await?,
                show::incident,
            )
        }
        IncidentCommand::Resolve {
            id,
            message,
            follow_up_in,
        } => {
            let mut body = Map::new();
            body.insert("status".into(), json!("resolved"));
            body.insert("message".into(), json!(message));
            if let Some(after) = follow_up_in {
                let at = match page.time("follow-up-in", &after)? {
                    Typed::In(span) => page.now + span,
                    Typed::At(_) => {
                        return Err(Stop::usage(format!(
                            "--follow-up-in `{after}` is a time; give how long from now: 24h, 2d"
                        )))
                    }
                };
                body.insert("follow_up_at".into(), json!(at.to_string()));
            }
            api.post(
                &format!("/api/v1/incidents/{id}/updates"),
                &Value::Object(body),
            )
            .await?;
            (
                api.get(&format!("/api/v1/incidents/{id}")).await?,
                show::incident,
            )
        }
        IncidentCommand::List { open, resolved } => {
            let state = if open {
                "open"
            } else if resolved {
                "resolved"
            } else {
                "all"
            };
            (
                api.get(&format!("/api/v1/incidents?state={state}&limit=50"))
                    .await?,
                show::incident_list,
            )
        }
        IncidentCommand::Show { id } => (
            api.get(&format!("/api/v1/incidents/{id}")).await?,
            show::incident,
        ),
    };
    Ok(if json_out {
        format!("{value}\n")
    } else {
        words(page, &value)
    })
}

async fn component(api: &Api, command: ComponentCommand, json_out: bool) -> Result<String, Stop> {
    let value = match command {
        ComponentCommand::List => api.get("/api/v1/components").await?,
        ComponentCommand::Set {
            component,
            status,
            reason,
        } => {
            let known = api.get("/api/v1/components").await?;
            let id = component_id(&known, &component)?;
            api.patch(
                &format!("/api/v1/components/{id}"),
                &json!({"status": status, "reason": reason}),
            )
            .await?
        }
    };
    Ok(if json_out {
        format!("{value}\n")
    } else {
        show::components(&value)
    })
}
