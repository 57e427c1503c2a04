//! `candor subscribers import FILE`: a list of subscribers sent to a running
//! Candor's import, and its report in words (or as JSON).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;
use serde_json::Value;

use super::api::{Api, Stop};

/// How long the client waits for a list to be imported (Candor gives an
/// import as long).
const IMPORT_WAIT: Duration = Duration::from_secs(15 * 60);

#[derive(Subcommand)]
pub enum SubscriberCommand {
    /// Import subscribers from a CSV file (a header line first: `email`, and
    /// optionally `components`, names or ids separated by `;`, and
    /// `confirmed`) or a JSON lines file (`.jsonl`, `.ndjson`). Addresses
    /// not confirmed are sent a link to confirm; addresses Candor has are
    /// left as they are, so running it again adds nothing twice.
    #[command(
        after_help = "Example:\n  candor subscribers import staff.csv\n\n  staff.csv:\n    email,components,confirmed\n    dana@acme.test,VPN;Outbound mail,true\n    sam@acme.test,,false"
    )]
    Import {
        /// The file; `-` reads standard input.
        file: PathBuf,
        /// csv or jsonl (default: by the file's name, else csv).
        #[arg(long, value_parser = ["csv", "jsonl"])]
        format: Option<String>,
    },
}

pub async fn run(api: &Api, command: SubscriberCommand, json: bool) -> Result<String, Stop> {
    let SubscriberCommand::Import { file, format } = command;
    let bytes = if file.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)
            .map_err(|e| Stop::usage(format!("cannot read standard input: {e}")))?;
        bytes
    } else {
        std::fs::read(&file)
            .map_err(|e| Stop::usage(format!("cannot read {}: {e}", file.display())))?
    };
    let named = file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let jsonl = match format.as_deref() {
        Some(f) => f == "jsonl",
        None => matches!(named.as_deref(), Some("jsonl" | "ndjson")),
    };
    let content_type = if jsonl {
        "application/x-ndjson"
    } else {
        "text/csv"
    };
    let report = api
        .upload(
            "/api/v1/subscribers/import",
            content_type,
            bytes,
            IMPORT_WAIT,
        )
        .await?;
    if json {
        return Ok(format!("{report}\n"));
    }
    Ok(words(&file.display().to_string(), &report))
}

/// The report as sentences: the counts, then each refused line.
fn words(file: &str, report: &Value) -> String {
    let count = |key: &str| report[key].as_u64().unwrap_or(0);
    let mut out = format!(
        "Imported {file}: {} added, {} already there, {} refused.\n",
        count("added"),
        count("already_there"),
        count("refused"),
    );
    let refusals = report["refusals"].as_array().cloned().unwrap_or_default();
    for refusal in &refusals {
        let _ = writeln!(
            out,
            "  line {}: {}",
            refusal["line"],
            refusal["reason"].as_str().unwrap_or("")
        );
    }
    let unlisted = count("refused").saturating_sub(refusals.len() as u64);
    if unlisted > 0 {
        let _ = writeln!(
            out,
            "  … and {unlisted} more lines refused (the first 1,000 are listed)."
        );
    }
    out
}
