//! `candor check`: reads the configuration, reaches the database and the
//! SMTP server as `candor serve` would, and says what it found, without
//! starting the server and without changing anything (no migration, no
//! file or folder made, no mail sent). Fails when anything would stop
//! Candor or its mail.

mod smtp;

use std::path::Path;
use std::time::Duration;

use crate::config::{parse_duration, Config};
use crate::store::schema::{self, Inspection, Migrations};

/// What the check found, printed as it goes.
#[derive(Default)]
struct Report {
    problems: usize,
}

impl Report {
    fn ok(&mut self, subject: &str, text: impl std::fmt::Display) {
        println!("{subject}: {text}");
    }

    fn problem(&mut self, subject: &str, text: impl std::fmt::Display) {
        self.problems += 1;
        println!("{subject}: PROBLEM: {text}");
    }

    fn finish(self) -> anyhow::Result<()> {
        match self.problems {
            0 => {
                println!("Everything Candor needs is in order.");
                Ok(())
            }
            1 => anyhow::bail!("candor check found 1 problem (above)"),
            n => anyhow::bail!("candor check found {n} problems (above)"),
        }
    }
}

/// Runs every check; an error when any found a problem.
pub async fn run(path: Option<&Path>) -> anyhow::Result<()> {
    let mut report = Report::default();
    let Some(config) = configuration(&mut report, path) else {
        return report.finish();
    };
    database(&mut report, &config.database_url).await;
    mail(&mut report, &config).await;
    report.finish()
}

/// The configuration as `candor serve` reads it, and every setting parsed.
fn configuration(report: &mut Report, path: Option<&Path>) -> Option<Config> {
    let file = path.unwrap_or_else(|| Path::new("candor.toml"));
    let source = if file.is_file() {
        format!("read {} and the CANDOR_* variables", file.display())
    } else if path.is_some() {
        report.problem(
            "Configuration",
            format!(
                "{} does not exist (Candor would start on the defaults)",
                file.display()
            ),
        );
        return None;
    } else {
        "no candor.toml here: the defaults and the CANDOR_* variables".to_string()
    };
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(err) => {
            report.problem("Configuration", err);
            return None;
        }
    };
    match config.clone().check() {
        Ok(_) => report.ok("Configuration", format!("{source}; every setting is valid")),
        Err(err) => report.problem("Configuration", format!("{source}; {err}")),
    }
    Some(config)
}

async fn database(report: &mut Report, url: &str) {
    let shown = without_password(url);
    match schema::inspect(url).await {
        Err(err) => report.problem("Database", format!("cannot use {shown}: {err}")),
        Ok(Inspection::Missing(file)) => {
            match writable_folder(file.parent().unwrap_or(Path::new(".")), false) {
                Ok(()) => report.ok(
                    "Database",
                    format!(
                        "{} does not exist yet; Candor makes it on its first start",
                        file.display()
                    ),
                ),
                Err(why) => report.problem(
                    "Database",
                    format!("{} cannot be made: {why}", file.display()),
                ),
            }
        }
        Ok(Inspection::Found { server, migrations }) => {
            let text = format!("{server} at {shown} answers; {}", schema_state(&migrations));
            if migrations.unknown.is_empty()
                && migrations.changed.is_empty()
                && migrations.failed.is_empty()
            {
                report.ok("Database", text)
            } else {
                report.problem("Database", text)
            }
        }
    }
}

/// The migration state in words.
fn schema_state(m: &Migrations) -> String {
    let list = |versions: &[i64]| {
        versions
            .iter()
            .map(|v| format!("{v:04}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut words = vec![format!("{} of {} migrations applied", m.applied, m.known)];
    if m.pending.is_empty() {
        words.push("the schema is up to date".into());
    } else {
        words.push(format!(
            "to apply: {} (the next start or `candor migrate` applies them)",
            list(&m.pending)
        ));
    }
    if !m.unknown.is_empty() {
        words.push(format!(
            "applied but unknown to this Candor: {} (a newer Candor upgraded this database; \
             this one refuses to start on it)",
            list(&m.unknown)
        ));
    }
    if !m.changed.is_empty() {
        words.push(format!(
            "applied with another text than this Candor's: {} (it refuses to start)",
            list(&m.changed)
        ));
    }
    if !m.failed.is_empty() {
        words.push(format!(
            "failed midway: {} (repair the schema by hand)",
            list(&m.failed)
        ));
    }
    words.join("; ")
}

async fn mail(report: &mut Report, config: &Config) {
    match &config.smtp_url {
        Some(url) => {
            let timeout = parse_duration(&config.smtp_timeout)
                .filter(|d| !d.is_zero())
                .unwrap_or(Duration::from_secs(60));
            match smtp::probe(url.expose(), timeout).await {
                Ok(text) => report.ok("Mail", text),
                Err(err) => report.problem("Mail", format!("{err:#}")),
            }
        }
        None => {
            let dir = &config.mail_dir;
            let text = format!(
                "no smtp_url: mail is written as .eml files to {}, and nobody receives it",
                dir.display()
            );
            match writable_folder(dir, true) {
                Ok(()) => report.ok("Mail", text),
                Err(why) => report.problem("Mail", format!("{text}; it cannot be made: {why}")),
            }
        }
    }
}

/// Whether Candor can make files in `folder`: it exists (or, when Candor
/// makes it with its parents, its nearest existing parent does) and is not
/// read-only.
fn writable_folder(folder: &Path, made_when_missing: bool) -> Result<(), String> {
    let folder = if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    };
    let existing = match folder
        .ancestors()
        .find(|p| p.as_os_str().is_empty() || p.is_dir())
    {
        Some(p) if p == folder || made_when_missing => p,
        _ => return Err(format!("{} does not exist", folder.display())),
    };
    let existing = if existing.as_os_str().is_empty() {
        Path::new(".")
    } else {
        existing
    };
    match std::fs::metadata(existing) {
        Ok(meta) if meta.permissions().readonly() => {
            Err(format!("{} is read-only", existing.display()))
        }
        Ok(_) => Ok(()),
        Err(err) => Err(format!("{}: {err}", existing.display())),
    }
}

/// The database URL as it may be printed: its password replaced.
fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}
