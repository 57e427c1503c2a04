use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    cap_malloc_arenas();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts")
        .block_on(run())
}

/// glibc gives each thread that allocates an arena of its own, up to eight
/// per core: tokio's workers, its blocking threads and a thread per SQLite
/// connection each kept free memory of their own. Two arenas are plenty for
/// a process that mostly waits on sockets (about 1 MB less at peak under
/// `benches/http.sh`, throughput unchanged).
fn cap_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a malloc parameter; it is called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
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
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("candor=info,warn"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match std::env::var("CANDOR_LOG_FORMAT").as_deref() {
        Err(std::env::VarError::NotPresent) | Ok("" | "text") => {
            logs.init();
            Ok(false)
        }
        Ok("json") => {
            logs.json().init();
            Ok(true)
        }
        Ok(other) => Err(format!(
            "CANDOR_LOG_FORMAT is `{other}`; it may be `text` (the default) or `json`"
        )),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err("CANDOR_LOG_FORMAT may be `text` (the default) or `json`".into())
        }
    }
}
