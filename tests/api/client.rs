//! The `candor` client against a running Candor, as staff and scripts use
//! it: open, update, correct, resolve, list and show incidents, list and set
//! components, the status; its words, its `--json`, and its exit codes.
//! Candor's clock is set to the real time, as the client's is.

use serde_json::Value;

use crate::helpers::mailbox::free_port;
use crate::helpers::{candor_command, TestApp, ADMIN_TOKEN};

/// What a client command printed, and how it ended.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn ok(&self) -> &str {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        &self.stdout
    }

    fn json(&self) -> Value {
        serde_json::from_str(self.ok())
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

async fn candor(app: &TestApp, args: &[&str]) -> Ran {
    candor_with(app, ADMIN_TOKEN, &app.address, args).await
}

async fn candor_with(app: &TestApp, token: &str, url: &str, args: &[&str]) -> Ran {
    let output = tokio::process::Command::from(candor_command(&app.db.dir, &app.db.url))
        .env_remove("CANDOR_DATABASE_URL")
        .env("CANDOR_URL", url)
        .env("CANDOR_TOKEN", token)
        .env("CANDOR_OWNER", "Dana (IT Ops) <dana@acme.test>")
        .args(args)
        .output()
        .await
        .expect("run candor");
    Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into(),
        stderr: String::from_utf8_lossy(&output.stderr).into(),
    }
}

/// Candor whose clock reads the real time, with the component VPN.
async fn app() -> TestApp {
    let app = TestApp::spawn().await;
    app.set_clock(&jiff::Timestamp::now().to_string());
    app.create_component("VPN").await;
    app
}

/// The id in the first line's brackets: "VPN down (ab12cd34ef56)".
fn id_in(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    line.rsplit_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no id in {line:?}"))
        .to_string()
}

#[tokio::test]
async fn an_incident_is_opened_updated_corrected_and_resolved_from_the_command_line() {
    let app = app().await;
    let opened = candor(
        &app,
        &[
            "incident",
            "open",
            "VPN down",
            "--component",
            "vpn=major_outage",
            "--next-update",
            "30m",
            "--impact",
            "major",
        ],
    )
    .await;
    let text = opened.ok();
    for words in [
        "VPN down (",
        "Investigating · Major impact",
        "Owner: Dana (IT Ops) <dana@acme.test>",
        "Cause: not yet known",
        "No ETA yet",
        "Next update by ",
        "Affects: VPN — major outage",
        "[New]",
    ] {
        assert!(text.contains(words), "{words:?} in {text}");
    }
    // Candor's clock was set to the real time when the app started; on a
    // loaded machine the client runs seconds later, by its own clock.
    assert!(
        text.contains("(in 30 min)") || text.contains("(in 29 min)"),
        "the promise in about 30 min: {text}"
    );
    let id = id_in(text);
    let incident = candor(&app, &["incident", "show", &id, "--json"])
        .await
        .json();
    assert_eq!(incident["impact"], "major");
    assert_eq!(incident["owner"]["name"], "Dana (IT Ops)");
    let first_entry = incident["entries"][0]["id"].as_str().unwrap().to_string();

    let updated = candor(
        &app,
        &[
            "incident",
            "update",
            &id,
            "--status",
            "identified",
            "--cause",
            "Expired certificate",
            "--eta",
            "+2h",
            "--next-update",
            "45m",
            "--message",
            "Renewing it.",
        ],
    )
    .await;
    let text = updated.ok();
    assert!(text.contains("Identified · Major impact"), "{text}");
    assert!(text.contains("Cause: Expired certificate"), "{text}");
    assert!(
        text.contains("ETA: ") && text.contains("(in 2 h 0 min)")
            || text.contains("(in 1 h 59 min)"),
        "{text}"
    );
    let incident = app.incident(&id).await;
    let eta: jiff::Timestamp = incident["eta"].as_str().unwrap().parse().unwrap();
    let in_two_hours = app.now() + jiff::SignedDuration::from_hours(2);
    assert!(
        (eta.as_second() - in_two_hours.as_second()).abs() < 60,
        "{eta} vs {in_two_hours}"
    );

    candor(
        &app,
        &[
            "incident",
            "correct",
            &id,
            &first_entry,
            "--cause",
            "A DNS change",
            "--message",
            "The first entry blamed the gateway; it was a DNS change.",
        ],
    )
    .await
    .ok();
    assert_eq!(app.incident(&id).await["cause"], "A DNS change");

    let resolved = candor(
        &app,
        &[
            "incident",
            "resolve",
            &id,
            "--message",
            "Fixed.",
            "--follow-up-in",
            "48h",
        ],
    )
    .await;
    assert!(resolved.ok().contains("Resolved "), "{}", resolved.stdout);
    let incident = app.incident(&id).await;
    assert_eq!(incident["status"], "resolved");
    let follow_up: jiff::Timestamp = incident["follow_up_at"].as_str().unwrap().parse().unwrap();
    let in_two_days = app.now() + jiff::SignedDuration::from_hours(48);
    assert!((follow_up.as_second() - in_two_days.as_second()).abs() < 60);

    let open = candor(&app, &["incident", "list", "--open", "--json"])
        .await
        .json();
    assert_eq!(open["items"].as_array().unwrap().len(), 0);
    let resolved = candor(&app, &["incident", "list", "--resolved"]).await;
    assert!(
        resolved.ok().contains(&format!("{id}  Resolved  VPN down")),
        "{}",
        resolved.stdout
    );
    let status = candor(&app, &["status"]).await;
    assert!(
        status.ok().contains("Acme IT: All Systems Operational"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("No open incidents."),
        "{}",
        status.stdout
    );
}

#[tokio::test]
async fn components_are_listed_and_set_by_name_with_a_reason() {
    let app = app().await;
    let set = candor(
        &app,
        &[
            "component",
            "set",
            "VPN",
            "degraded_performance",
            "--reason",
            "The Berlin gateway is slow.",
        ],
    )
    .await;
    assert!(set.ok().contains("VPN: slow or degraded"), "{}", set.stdout);
    let list = candor(&app, &["component", "list", "--json"]).await.json();
    assert_eq!(list["items"][0]["status"], "degraded_performance");
    let status = candor(&app, &["status"]).await;
    assert!(
        status.ok().contains("  VPN: slow or degraded"),
        "{}",
        status.stdout
    );
}

#[tokio::test]
async fn exit_codes_say_what_went_wrong() {
    let app = app().await;
    // 2: the command itself is wrong.
    let usage = candor(
        &app,
        &["incident", "open", "VPN down", "--next-update", "soon"],
    )
    .await;
    assert_eq!(usage.code, 2, "{}", usage.stderr);
    assert!(
        usage.stderr.contains("--next-update `soon`"),
        "{}",
        usage.stderr
    );
    assert_eq!(candor(&app, &["incident", "frobnicate"]).await.code, 2);
    // 3: Candor refused it, saying why.
    let refused = candor(
        &app,
        &[
            "incident",
            "open",
            "VPN down",
            "--next-update",
            "30m",
            "--eta",
            "2020-01-01T00:00:00Z",
        ],
    )
    .await;
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("refused: eta: must be in the future"),
        "{}",
        refused.stderr
    );
    let unknown = candor(
        &app,
        &[
            "incident",
            "open",
            "VPN down",
            "--component",
            "Printers=major_outage",
        ],
    )
    .await;
    assert_eq!(unknown.code, 3);
    assert!(
        unknown.stderr.contains("there is no component `Printers`"),
        "{}",
        unknown.stderr
    );
    // 4: a token Candor does not know.
    let denied = candor_with(&app, "cnd_wrong", &app.address, &["status"]).await;
    assert_eq!(denied.code, 4, "{}", denied.stderr);
    assert!(
        denied.stderr.contains("not authorised"),
        "{}",
        denied.stderr
    );
    // 5: nothing listens there.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let away = candor_with(&app, ADMIN_TOKEN, &closed, &["status"]).await;
    assert_eq!(away.code, 5, "{}", away.stderr);
    assert!(
        away.stderr.contains("Candor is not reachable at"),
        "{}",
        away.stderr
    );
    assert!(app.incidents("all").await.is_empty(), "nothing was opened");
}

#[tokio::test]
async fn every_client_command_has_help_with_an_example() {
    let app = app().await;
    for args in [
        &["status", "--help"][..],
        &["incident", "open", "--help"],
        &["incident", "update", "--help"],
        &["incident", "correct", "--help"],
        &["incident", "resolve", "--help"],
        &["incident", "list", "--help"],
        &["incident", "show", "--help"],
        &["component", "list", "--help"],
        &["component", "set", "--help"],
        &["subscribers", "import", "--help"],
    ] {
        let help = candor(&app, args).await;
        assert!(help.ok().contains("Example"), "{args:?}: {}", help.stdout);
    }
}

#[tokio::test]
async fn a_subscriber_list_is_imported_from_a_file() {
    let app = app().await;
    let csv = app.db.dir.join("staff.csv");
    std::fs::write(
        &csv,
        "email,components,confirmed\ndana@acme.test,VPN,true\nsam@acme.test,,false\nnobody,,true\n",
    )
    .unwrap();
    let csv = csv.to_str().unwrap();
    let ran = candor(&app, &["subscribers", "import", csv]).await;
    let words = ran.ok();
    assert!(
        words.contains(": 2 added, 0 already there, 1 refused."),
        "{words}"
    );
    assert!(
        words.contains("line 4: email: `nobody` is not a valid email address"),
        "{words}"
    );
    // Again, as a script would: nothing added twice.
    let again = candor(&app, &["subscribers", "import", csv, "--json"])
        .await
        .json();
    assert_eq!(again["added"], 0);
    assert_eq!(again["already_there"], 2);
    assert_eq!(again["refusals"][0]["line"], 4);
    // JSON lines, known by the file's name.
    let jsonl = app.db.dir.join("more.jsonl");
    std::fs::write(
        &jsonl,
        "{\"email\": \"lee@acme.test\", \"confirmed\": true}\n",
    )
    .unwrap();
    let more = candor(
        &app,
        &["subscribers", "import", jsonl.to_str().unwrap(), "--json"],
    )
    .await
    .json();
    assert_eq!(more["added"], 1);
    let listed = app.admin_get("/api/v1/subscribers").await.expect(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 3);
    // 2: no such file; 3: a list Candor cannot read; 4: a wrong token.
    let missing = candor(&app, &["subscribers", "import", "/nonexistent/list.csv"]).await;
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    let headless = app.db.dir.join("headless.csv");
    std::fs::write(&headless, "dana@acme.test\n").unwrap();
    let refused = candor(&app, &["subscribers", "import", headless.to_str().unwrap()]).await;
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("file: the first line must name"),
        "{}",
        refused.stderr
    );
    let denied = candor_with(
        &app,
        "cnd_wrong",
        &app.address,
        &["subscribers", "import", csv],
    )
    .await;
    assert_eq!(denied.code, 4, "{}", denied.stderr);
}
