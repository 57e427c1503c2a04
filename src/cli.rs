//! The `candor` command line: the server's own commands here, and the
//! client of a running Candor's admin API in `client`.

pub mod client;

use std::{path::PathBuf, sync::Arc};

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::ids::{hash_token, new_id, new_token};
use crate::store::{self, StoreError};

#[derive(Parser)]
#[command(
    name = "candor",
    version,
    about = "An honest status page and incident communicator"
)]
pub struct Cli {
    /// Configuration file (default: ./candor.toml when it exists).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve the status page and the API (the default).
    Serve,
    /// Bring the database schema up to date, then exit.
    Migrate,
    /// Check the configuration, the database and the SMTP server, say what
    /// was found, and exit (non-zero on any problem); changes nothing.
    Check,
    /// Copy the running SQLite database, consistent as of one instant, into
    /// a new file (PostgreSQL: use pg_dump). Candor may go on serving.
    Backup {
        /// The new file; it must not exist yet.
        path: PathBuf,
    },
    /// Manage admin API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage the staff who log in to the console at /admin.
    #[command(subcommand)]
    User(UserCommand),
    /// What a running Candor's page says now: the banner, components not
    /// working, open incidents with their promises (needs CANDOR_URL and
    /// CANDOR_TOKEN).
    #[command(
        after_help = "Example:\n  CANDOR_URL=https://status.acme.test CANDOR_TOKEN=cnd_… candor status\n\nExit codes: 0 done, 2 usage, 3 refused by a rule, 4 not authorised, 5 Candor not reachable."
    )]
    Status {
        #[command(flatten)]
        connection: client::Connection,
    },
    /// Open, update, correct, resolve, list and show incidents on a running
    /// Candor (needs CANDOR_URL and CANDOR_TOKEN).
    #[command(
        after_help = "Exit codes: 0 done, 2 usage, 3 refused by a rule, 4 not authorised, 5 Candor not reachable."
    )]
    Incident {
        #[command(flatten)]
        connection: client::Connection,
        #[command(subcommand)]
        command: client::IncidentCommand,
    },
    /// List components, or set one's status by hand, on a running Candor.
    #[command(
        after_help = "Exit codes: 0 done, 2 usage, 3 refused by a rule, 4 not authorised, 5 Candor not reachable."
    )]
    Component {
        #[command(flatten)]
        connection: client::Connection,
        #[command(subcommand)]
        command: client::ComponentCommand,
    },
    /// Import a list of subscribers into a running Candor (CSV or JSON
    /// lines); running it again adds nothing twice.
    #[command(
        after_help = "Exit codes: 0 done, 2 usage, 3 refused by a rule, 4 not authorised, 5 Candor not reachable."
    )]
    Subscribers {
        #[command(flatten)]
        connection: client::Connection,
        #[command(subcommand)]
        command: client::SubscriberCommand,
    },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a console user. With --password-stdin the password is the
    /// first line read from standard input; without it, a one-time link to
    /// set it is printed (valid for 72 hours).
    #[command(
        after_help = "Example:\n  candor user create dana@acme.test --name \"Dana (IT Ops)\" --role editor\n  printf '%s\\n' \"$PASSWORD\" | candor user create sam@acme.test --name Sam --role admin --password-stdin"
    )]
    Create {
        email: String,
        /// The name shown on what they post: "Dana (IT Ops)".
        #[arg(long)]
        name: String,
        /// editor (incidents and maintenance) or admin (also components,
        /// subscribers, tokens and users).
        #[arg(long, default_value = "editor")]
        role: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Print a new one-time link to set the user's password (a forgotten
    /// one, say); the old password works until the link is used.
    PasswordLink { email: String },
    /// Disable a user: their sessions end at once and they cannot log in.
    Disable { email: String },
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token; its secret is printed once and only its hash is kept.
    Create {
        name: String,
        /// `alerts`: the token may post monitoring alerts and nothing else.
        #[arg(long, default_value = "all", value_parser = ["all", "alerts"])]
        scope: String,
    },
    /// Revoke the active token with this name.
    Revoke { name: String },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // The client's commands read no server configuration.
    let cli = match cli.command {
        Some(Command::Status { connection }) => {
            return Ok(client::run(&connection, client::Asked::Status).await?)
        }
        Some(Command::Incident {
            connection,
            command,
        }) => return Ok(client::run(&connection, client::Asked::Incident(command)).await?),
        Some(Command::Component {
            connection,
            command,
        }) => return Ok(client::run(&connection, client::Asked::Component(command)).await?),
        Some(Command::Subscribers {
            connection,
            command,
        }) => return Ok(client::run(&connection, client::Asked::Subscribers(command)).await?),
        command => Cli { command, ..cli },
    };
    if matches!(cli.command, Some(Command::Check)) {
        // Reports a bad setting among its findings instead of stopping at it.
        return crate::check::run(cli.config.as_deref()).await;
    }
    let config = Config::load(cli.config.as_deref())?.check()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let running = crate::app::spawn(config, clock).await?;
            println!("Candor listening on {}", running.base_url);
            running.wait().await
        }
        Command::Check
        | Command::Status { .. }
        | Command::Incident { .. }
        | Command::Component { .. }
        | Command::Subscribers { .. } => {
            unreachable!("handled above")
        }
        Command::Migrate => {
            store::connect(&config.database_url).await?;
            println!("The database is up to date.");
            Ok(())
        }
        Command::Backup { path } => backup(&config.database_url, &path).await,
        Command::Token(TokenCommand::Create { name, scope }) => {
            let scope = crate::domain::alerts::TokenScope::parse(&scope)
                .map_err(|e| anyhow::anyhow!(e.message))?;
            let name = name.trim().to_string();
            anyhow::ensure!(
                !name.is_empty() && name.len() <= 100 && !name.chars().any(char::is_control),
                "a token name is 1 to 100 visible characters"
            );
            let store = store::connect(&config.database_url).await?;
            let secret = new_token();
            store
                .create_scoped_token(
                    &new_id::<String>(),
                    &name,
                    &hash_token(&secret),
                    scope,
                    clock.now(),
                    &crate::store::Actor {
                        name: "cli".into(),
                        ip: None,
                    },
                )
                .await
                .map_err(|e| match e {
                    StoreError::Conflict(m) => anyhow::anyhow!(m),
                    e => anyhow::Error::new(e),
                })?;
            let limited = match scope {
                crate::domain::alerts::TokenScope::Alerts => " (it may only post alerts)",
                crate::domain::alerts::TokenScope::All => "",
            };
            println!(
                "Created token `{name}`{limited}. It is shown this once; keep it safe:\n{secret}"
            );
            Ok(())
        }
        Command::User(command) => user(&config, clock.now(), command).await,
        Command::Token(TokenCommand::Revoke { name }) => {
            let store = store::connect(&config.database_url).await?;
            store
                .revoke_token(
                    &name,
                    clock.now(),
                    &crate::store::Actor {
                        name: "cli".into(),
                        ip: None,
                    },
                )
                .await
                .map_err(|e| match e {
                    StoreError::NotFound => {
                        anyhow::anyhow!("there is no active token named `{name}`")
                    }
                    e => anyhow::Error::new(e),
                })
                .context("revoking the token")?;
            println!("Revoked token `{name}`.");
            Ok(())
        }
    }
}

/// `candor user …`.
async fn user(
    config: &crate::config::Settings,
    now: jiff::Timestamp,
    command: UserCommand,
) -> anyhow::Result<()> {
    use crate::domain::staff::{login_address, Password, Role, StaffUser};
    let actor = crate::store::Actor {
        name: "cli".into(),
        ip: None,
    };
    let refused = |e: crate::domain::DomainError| anyhow::anyhow!("{}: {}", e.field, e.message);
    let store = store::connect(&config.database_url).await?;
    match command {
        UserCommand::Create {
            email,
            name,
            role,
            password_stdin,
        } => {
            let user = StaffUser {
                id: new_id(),
                email: login_address(&email).map_err(refused)?,
                name: crate::domain::PersonName::parse(&name)
                    .map_err(|e| refused(crate::domain::DomainError::new("name", e.message)))?,
                role: Role::parse(&role).map_err(refused)?,
                disabled: false,
            };
            let hash = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .context("reading the password from standard input")?;
                let typed = line.strip_suffix('\n').unwrap_or(&line);
                let typed = typed.strip_suffix('\r').unwrap_or(typed);
                Some(crate::passwords::hash(
                    &Password::parse(typed).map_err(refused)?,
                )?)
            } else {
                None
            };
            store
                .create_staff_user(&user, hash.as_deref(), now, &actor)
                .await
                .map_err(|e| match e {
                    StoreError::Conflict(m) => anyhow::anyhow!(m),
                    e => anyhow::Error::new(e),
                })?;
            println!(
                "Created {} {} <{}>.",
                user.role.as_str(),
                user.name,
                user.email
            );
            if hash.is_none() {
                print_password_link(config, &*store, &user.email, now).await?;
            }
            Ok(())
        }
        UserCommand::PasswordLink { email } => {
            let email = login_address(&email).map_err(refused)?;
            print_password_link(config, &*store, &email, now).await
        }
        UserCommand::Disable { email } => {
            let email = login_address(&email).map_err(refused)?;
            store
                .disable_staff_user(&email, now, &actor)
                .await
                .map_err(|e| match e {
                    StoreError::NotFound => anyhow::anyhow!("there is no user {email}"),
                    e => anyhow::Error::new(e),
                })?;
            println!("Disabled {email}: their sessions have ended and they cannot log in.");
            Ok(())
        }
    }
}

/// Makes a one-time set-password link and prints it, once.
async fn print_password_link(
    config: &crate::config::Settings,
    store: &dyn store::Store,
    email: &crate::domain::Email,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    let secret = new_token();
    let expires_at = now
        .checked_add(crate::domain::staff::PASSWORD_LINK_LIFETIME)
        .context("the link's expiry")?;
    store
        .create_password_link(email, &hash_token(&secret), expires_at)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => anyhow::anyhow!("there is no enabled user {email}"),
            e => anyhow::Error::new(e),
        })?;
    let base = match &config.base_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => format!("http://{}", config.listen),
    };
    println!(
        "To set the password, open this link within 72 hours (it works once; it is shown this once):\n{base}/admin/set-password?token={secret}"
    );
    Ok(())
}

/// `candor backup PATH`: the copy, and how to put it back.
async fn backup(database_url: &str, path: &std::path::Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        !path.exists(),
        "{} exists already; name a new file, so that no backup is overwritten",
        path.display()
    );
    let target = path
        .to_str()
        .context("the backup's path is not valid UTF-8")?;
    let store = store::connect(database_url).await?;
    store.backup(target).await.map_err(|e| match e {
        StoreError::Conflict(m) => anyhow::anyhow!(m),
        e => anyhow::Error::new(e),
    })?;
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    println!(
        "Backed up to {} ({size} bytes), consistent as of the moment it began.\n\
         To restore: stop Candor, move the database file aside (with its -wal and -shm\n\
         files), copy this file in its place, and start Candor.",
        path.display()
    );
    Ok(())
}
