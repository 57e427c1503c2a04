//! The client's human output: the API's JSON in the page's words ("Cause:
//! not yet known", "Next update by 10:30 CET (in 12 min)"), in the page's
//! time zone.

use std::fmt::Write;

use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::Page;
use crate::domain::facts::{when, when_with_relative};
use crate::domain::{ComponentStatus, EntryClass, Impact, IncidentStatus};

fn named<T: DeserializeOwned>(value: &Value) -> Option<T> {
    serde_json::from_value(value.clone()).ok()
}

fn time(value: &Value) -> Option<Timestamp> {
    value.as_str().and_then(|s| s.parse().ok())
}

fn status_words(value: &Value) -> String {
    named::<IncidentStatus>(value).map_or_else(|| value.to_string(), |s| s.words().to_string())
}

fn component_words(value: &Value) -> String {
    value
        .as_str()
        .and_then(ComponentStatus::parse)
        .map_or_else(|| value.to_string(), |s| s.words().to_lowercase())
}

/// The facts of an incident, one per line, indented by `pad`.
fn facts(out: &mut String, page: &Page, incident: &Value, pad: &str) {
    let now = page.now;
    let impact = named::<Impact>(&incident["impact"]).map_or("", |i| i.words());
    let _ = writeln!(out, "{pad}{} · {impact}", status_words(&incident["status"]));
    let _ = writeln!(
        out,
        "{pad}Owner: {} <{}>",
        incident["owner"]["name"].as_str().unwrap_or(""),
        incident["owner"]["email"].as_str().unwrap_or("")
    );
    match incident["cause"].as_str() {
        Some(cause) => {
            let _ = writeln!(out, "{pad}Cause: {cause}");
        }
        None => {
            let _ = writeln!(out, "{pad}Cause: not yet known");
        }
    }
    let resolved = incident["status"] == "resolved";
    if let Some(at) = time(&incident["resolved_at"]) {
        let _ = writeln!(out, "{pad}Resolved {}", when(at, now, &page.tz));
    }
    if !resolved {
        match time(&incident["eta"]) {
            Some(eta) if eta <= now => {
                let _ = writeln!(
                    out,
                    "{pad}ETA {} passed — no new estimate yet",
                    when(eta, now, &page.tz)
                );
            }
            Some(eta) => {
                let _ = writeln!(out, "{pad}ETA: {}", when_with_relative(eta, now, &page.tz));
            }
            None => {
                let _ = writeln!(out, "{pad}No ETA yet");
            }
        }
        if let Some(next) = time(&incident["next_update_at"]) {
            if next <= now {
                let _ = writeln!(
                    out,
                    "{pad}Update overdue since {}",
                    when(next, now, &page.tz)
                );
            } else {
                let _ = writeln!(
                    out,
                    "{pad}Next update by {}",
                    when_with_relative(next, now, &page.tz)
                );
            }
        }
    }
    let affected: Vec<String> = incident["components"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            format!(
                "{} — {}",
                c["name"].as_str().unwrap_or(""),
                component_words(&c["status"])
            )
        })
        .collect();
    if !affected.is_empty() {
        let _ = writeln!(out, "{pad}Affects: {}", affected.join(", "));
    }
}

/// `candor status`: the banner, what is not working, each open incident.
pub fn status(page: &Page, summary: &Value, open: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {}",
        page.name,
        summary["status"]["description"].as_str().unwrap_or("")
    );
    for component in summary["components"].as_array().into_iter().flatten() {
        if component["status"] != "operational" && component["group"] != true {
            let _ = writeln!(
                out,
                "  {}: {}",
                component["name"].as_str().unwrap_or(""),
                component_words(&component["status"])
            );
        }
    }
    let incidents = open["items"].as_array().cloned().unwrap_or_default();
    if incidents.is_empty() {
        let _ = writeln!(out, "No open incidents.");
    }
    for incident in &incidents {
        let _ = writeln!(
            out,
            "\n{} ({})",
            incident["title"].as_str().unwrap_or(""),
            incident["id"].as_str().unwrap_or("")
        );
        facts(&mut out, page, incident, "  ");
    }
    out
}

/// An incident with its timeline, newest first.
pub fn incident(page: &Page, incident: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({})",
        incident["title"].as_str().unwrap_or(""),
        incident["id"].as_str().unwrap_or("")
    );
    facts(&mut out, page, incident, "");
    let entries = incident["entries"].as_array().cloned().unwrap_or_default();
    if !entries.is_empty() {
        let _ = writeln!(out, "\nTimeline, newest first:");
    }
    for entry in &entries {
        let lead = entry["classes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(named::<EntryClass>)
            .min()
            .unwrap_or(EntryClass::Update);
        let posted =
            time(&entry["posted_at"]).map_or(String::new(), |at| when(at, page.now, &page.tz));
        let _ = writeln!(
            out,
            "  [{}] {posted} by {} (entry {})",
            lead.label(),
            entry["author"].as_str().unwrap_or(""),
            entry["id"].as_str().unwrap_or("")
        );
        for line in entry["message"].as_str().unwrap_or("").lines() {
            let _ = writeln!(out, "    {line}");
        }
    }
    out
}

/// `candor incident list`: one line each.
pub fn incident_list(page: &Page, list: &Value) -> String {
    let mut out = String::new();
    let items = list["items"].as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        let _ = writeln!(out, "No incidents.");
    }
    for incident in &items {
        let started =
            time(&incident["started_at"]).map_or(String::new(), |at| when(at, page.now, &page.tz));
        let _ = writeln!(
            out,
            "{}  {}  {}  since {started}  owner {}",
            incident["id"].as_str().unwrap_or(""),
            status_words(&incident["status"]),
            incident["title"].as_str().unwrap_or(""),
            incident["owner"]["name"].as_str().unwrap_or("")
        );
    }
    out
}

/// `candor component list` or `set`: each component and its status.
pub fn components(value: &Value) -> String {
    let items = match value["items"].as_array() {
        Some(items) => items.clone(),
        None => vec![value.clone()],
    };
    let mut out = String::new();
    for component in &items {
        let _ = writeln!(
            out,
            "{}  {}: {}",
            component["id"].as_str().unwrap_or(""),
            component["name"].as_str().unwrap_or(""),
            component_words(&component["status"])
        );
    }
    out
}
