use clap::Parser;
use tracing_subscriber::filter::{ParseError, Targets};

fn main() -> std::process::ExitCode {
    candor::memory::tune();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts")
        .block_on(run())
}

async fn run() -> std::process::ExitCode {
    let json = match init_logs() {
        Ok(json) => json,
        Err(err) => {
            eprintln!("candor: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match candor::cli::run(candor::cli::Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // The client's own exit codes: 3 refused, 4 not authorised, 5 not
        // reachable (README, "The candor client").
        Err(err) if err.downcast_ref::<candor::cli::client::Stop>().is_some() => {
            let stop = err
                .downcast_ref::<candor::cli::client::Stop>()
                .expect("checked");
            eprintln!("candor: {stop}");
            std::process::ExitCode::from(stop.code)
        }
        // In JSON, the reason it stopped is a log line like the others, for
        // the collector that reads them.
        Err(err) if json => {
            tracing::error!(error = format!("{err:#}"), "candor stopped");
            std::process::ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("candor: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr, filtered by `RUST_LOG` (default `candor=info,warn`):
/// lines for people, or with `CANDOR_LOG_FORMAT=json` one JSON object per
/// line (`timestamp`, `level`, `target`, `fields`, `span`, `spans`) for a
/// log collector. Says whether the logs are JSON.
fn init_logs() -> Result<bool, String> {
    use tracing_subscriber::prelude::*;
    let json = match std::env::var("CANDOR_LOG_FORMAT").as_deref() {
        Err(std::env::VarError::NotPresent) | Ok("" | "text") => false,
        Ok("json") => true,
        Ok(other) => {
            return Err(format!(
                "CANDOR_LOG_FORMAT is `{other}`; it may be `text` (the default) or `json`"
            ))
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err("CANDOR_LOG_FORMAT may be `text` (the default) or `json`".into())
        }
    };
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = if json {
        logs.json().boxed()
    } else {
        logs.boxed()
    };
    let (filter, not_understood) = log_filter();
    tracing_subscriber::registry()
        .with(logs)
        .with(filter)
        .init();
    if let Some((rust_log, err)) = not_understood {
        tracing::warn!(
            rust_log,
            error = %err,
            "RUST_LOG is not understood; logging {DEFAULT_LOGS}"
        );
    }
    Ok(json)
}

/// What `RUST_LOG` lets through: targets and levels, as in
/// `candor=debug,warn`. A filter by target, not tracing's `EnvFilter`:
/// its span and field matching brought a regular expression engine into
/// the binary (450 kB of its 14.9 MB of machine code).
/// One it does not understand is the default, and is returned to be said.
fn log_filter() -> (Targets, Option<(String, ParseError)>) {
    let default = || DEFAULT_LOGS.parse().expect("the default log filter parses");
    match std::env::var("RUST_LOG") {
        Ok(text) if !text.trim().is_empty() => match text.parse() {
            Ok(filter) => (filter, None),
            Err(err) => (default(), Some((text, err))),
        },
        _ => (default(), None),
    }
}

const DEFAULT_LOGS: &str = "candor=info,warn";
