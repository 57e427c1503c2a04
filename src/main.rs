use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("candor=info,warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match candor::cli::run(candor::cli::Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("candor: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
