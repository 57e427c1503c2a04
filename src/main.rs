use clap::Parser;
use tracing_subscriber::filter::{ParseError, Targets};

fn main() -> std::process::ExitCode {
    tune_malloc();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts")
        .block_on(run())
}

/// glibc's malloc, set for a process that mostly waits on sockets:
///
/// - Two arenas, not eight per core: each thread that allocates (tokio's
///   workers, its blocking threads, a thread per SQLite connection) kept
///   free memory of its own (about 1 MB less at peak under
///   `benches/http.sh`, throughput unchanged).
/// - Blocks of 128 KiB or more always mapped apart and unmapped when freed,
///   and free memory above 128 KiB at the top of the heap given back: by
///   default glibc raises both thresholds after the first large block is
///   freed, and from then on a page's compression buffers (over 1 MB while
///   a page is built) grew the heap for good, each time beside different
///   connections' buffers. Serving the page at 256 connections for 10 s:
///   peak RSS 17.8 -> 16.9 MB (medians of 6), the worst run 20.6 -> 19.2 MB,
///   requests a second the same (`benches/page_memory.sh`).
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets malloc parameters; it is called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 * 1024);
    }
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
