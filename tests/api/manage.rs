//! The Statuspage Manage API v1 under `/v1/pages/{page_id}/`: a real
//! third-party Statuspage client (the `statuspageio` package, pinned in
//! tests/statuspage_client/requirements.txt) driven through a whole outage,
//! with Candor's state read through its own admin API after every call;
//! and what it refuses, its paths, pages and tokens.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use crate::helpers::{
    candor_command, entries, id_of, mailbox::Mailbox, Reply, TestApp, ADMIN_TOKEN,
};

/// A page id a script written for Statuspage would have: Candor takes any.
const PAGE: &str = "kctbh9vrtdwd";

/// Runs `candor token create NAME [--owner OWNER] [--scope SCOPE]`; its secret.
async fn token(app: &TestApp, name: &str, extra: &[&str]) -> String {
    let output = tokio::process::Command::from(candor_command(&app.db.dir, &app.db.url))
        .args(["token", "create", name])
        .args(extra)
        .output()
        .await
        .expect("run candor token create");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.lines().last().unwrap().trim().to_string()
}

impl TestApp {
    /// A Manage API request with `Authorization: OAuth <key>`.
    async fn v1(&self, method: Method, path: &str, key: &str, body: Option<Value>) -> Reply {
        let request = self
            .raw(method, &format!("/v1/pages/{PAGE}{path}"))
            .header("Authorization", &format!("OAuth {key}"));
        match body {
            Some(body) => request.json(&body).send().await,
            None => request.send().await,
        }
    }
}

// ---------------------------------------------------------------------------
// The real client.

/// The pinned client in a virtual environment under target/, made once
/// and kept while the pins are the same; `None` (said loudly) only when
/// there is no python3 at all.
fn client_python() -> Option<PathBuf> {
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!(
            "\n\n*** SKIPPED: python3 is missing, so the Statuspage client test cannot run. \
             Install python3 (with venv) to run it. ***\n\n"
        );
        return None;
    }
    // One test of this process makes it; the others wait for it.
    static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _making = MAKING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/statuspage_client");
    let pins = std::fs::read_to_string(here.join("requirements.txt")).expect("the pins");
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("statuspage-venv");
    let python = venv.join("bin/python");
    let marker = venv.join("installed-requirements.txt");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(pins.as_str()) {
        return Some(python);
    }
    // Made aside and moved into place, so that two runs at once cannot
    // use a half-made one.
    let aside = venv.with_extension(format!("new-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&aside);
    let run = |command: &mut std::process::Command, what: &str| {
        let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            output.status.success(),
            "{what} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    };
    run(
        std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(&aside),
        "python3 -m venv",
    );
    run(
        std::process::Command::new(aside.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(here.join("requirements.txt")),
        "pip install the pinned Statuspage client",
    );
    std::fs::write(aside.join("installed-requirements.txt"), &pins).expect("mark the venv");
    let _ = std::fs::remove_dir_all(&venv);
    if std::fs::rename(&aside, &venv).is_err() {
        // Another run moved its own in first: use that one.
        let _ = std::fs::remove_dir_all(&aside);
    }
    Some(python)
}

/// A client, driven one call at a time by a driver script in
/// tests/statuspage_client/.
struct Client {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Client {
    /// `statuspageio`, through its services (driver.py).
    fn start(python: &Path, base_url: &str, key: &str) -> Self {
        Self::driver(python, "driver.py", &[base_url, key, PAGE])
    }

    /// `atlassian-statuspage`, through its generated APIs (strict_driver.py).
    fn strict(python: &Path, base_url: &str, key: &str) -> Self {
        Self::driver(python, "strict_driver.py", &[base_url, key])
    }

    fn driver(python: &Path, script: &str, args: &[&str]) -> Self {
        let driver = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/statuspage_client")
            .join(script);
        let mut child = tokio::process::Command::new(python)
            .arg(driver)
            .args(args)
            // Only the test's own server is ever asked.
            .env("NO_PROXY", "*")
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the Statuspage client driver");
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self {
            child,
            stdin,
            lines,
        }
    }

    /// One call of the client's services: what it returned, or panics.
    async fn ok(&mut self, call: &str, args: Value, kwargs: Value) -> Value {
        let reply = self.call(call, args, kwargs).await;
        match reply.get("ok") {
            Some(value) => value.clone(),
            None => panic!("{call} raised: {reply}"),
        }
    }

    /// One call that the client must raise on: (its exception, status, body).
    async fn raises(&mut self, call: &str, args: Value, kwargs: Value) -> (String, u16, Value) {
        let reply = self.call(call, args, kwargs).await;
        assert!(reply.get("ok").is_none(), "{call} did not raise: {reply}");
        (
            reply["error"].as_str().unwrap().to_string(),
            reply["status"].as_u64().unwrap() as u16,
            reply["body"].clone(),
        )
    }

    async fn call(&mut self, call: &str, args: Value, kwargs: Value) -> Value {
        self.send(json!({"call": call, "args": args, "kwargs": kwargs}))
            .await
    }

    /// One call of a generated API (`IncidentsApi`…): the model it read.
    async fn api(&mut self, api: &str, call: &str, args: Value) -> Value {
        let reply = self
            .send(json!({"api": api, "call": call, "args": args}))
            .await;
        match reply.get("ok") {
            Some(value) => value.clone(),
            None => panic!("{api}.{call} raised: {reply}"),
        }
    }

    async fn send(&mut self, request: Value) -> Value {
        let call = request["call"].as_str().unwrap_or_default().to_string();
        let call = call.as_str();
        let line = request.to_string() + "\n";
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
        let answer =
            tokio::time::timeout(std::time::Duration::from_secs(60), self.lines.next_line())
                .await
                .unwrap_or_else(|_| panic!("{call}: the client did not answer"))
                .unwrap()
                .unwrap_or_else(|| panic!("{call}: the client driver stopped"));
        serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{call}: {e}: {answer}"))
    }

    async fn stop(mut self) {
        drop(self.stdin);
        let _ = self.child.wait().await;
    }
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(id_of)
        .collect()
}

#[tokio::test]
async fn a_statuspage_client_runs_an_outage_on_candor() {
    let Some(python) = client_python() else {
        return;
    };
    let app = TestApp::spawn().await;
    let key = token(
        &app,
        "runbooks",
        &["--owner", "Dana (IT Ops) <dana@acme.test>"],
    )
    .await;
    let mut client = Client::start(&python, &app.address, &key);

    // A component, listed, then down.
    let vpn = client
        .ok(
            "components.create",
            json!([]),
            json!({"name": "VPN", "description": "Remote access", "status": "operational"}),
        )
        .await;
    let vpn_id = id_of(&vpn);
    assert_eq!(vpn["page_id"], "acme-it", "{vpn}");
    assert_eq!(vpn["created_at"], "2026-03-04T09:00:00.000Z", "{vpn}");
    let stored = app.component(&vpn_id).await;
    assert_eq!(stored["name"], "VPN");
    assert_eq!(stored["description"], "Remote access");
    assert_eq!(stored["status"], "operational");

    let listed = client.ok("components.list", json!([]), json!({})).await;
    assert_eq!(ids(&listed), [vpn_id.as_str()]);
    let read = client
        .ok("components.get", json!([vpn_id]), json!({}))
        .await;
    assert_eq!(read["name"], "VPN");

    let down = client
        .ok(
            "components.update",
            json!([vpn_id]),
            json!({"status": "major_outage"}),
        )
        .await;
    assert_eq!(down["status"], "major_outage");
    assert_eq!(app.component(&vpn_id).await["status"], "major_outage");

    // Open an incident on it: the owner is the token's, the next update
    // the one the metadata promised.
    let opened = client
        .ok(
            "incidents.create",
            json!([]),
            json!({
                "name": "VPN down",
                "status": "investigating",
                "body": "Nobody can connect to the VPN. We are looking into it.",
                "impact_override": "major",
                "component_ids": [vpn_id],
                "metadata": {"candor": {"next_update_in": 20}},
            }),
        )
        .await;
    let incident_id = id_of(&opened);
    assert_eq!(opened["status"], "investigating");
    assert_eq!(opened["impact"], "major");
    let facts = &opened["metadata"]["candor"];
    assert_eq!(facts["owner_from"], "token", "{opened}");
    assert_eq!(facts["next_update_from"], "metadata", "{opened}");
    assert_eq!(facts["cause_text"], "not yet known");
    assert_eq!(facts["eta_text"], "no ETA yet");
    let incident = app.incident(&incident_id).await;
    assert_eq!(incident["title"], "VPN down");
    assert_eq!(incident["status"], "investigating");
    assert_eq!(incident["impact"], "major");
    assert_eq!(
        incident["owner"],
        json!({"name": "Dana (IT Ops)", "email": "dana@acme.test"})
    );
    assert_eq!(incident["cause"], Value::Null);
    assert_eq!(incident["next_update_at"], "2026-03-04T09:20:00Z");
    assert_eq!(
        incident["components"],
        json!([{"id": vpn_id, "name": "VPN", "status": "major_outage"}])
    );
    assert_eq!(entries(&incident).len(), 1);

    // An update: a new entry, the cause from the metadata, the next update
    // from `default_next_update`.
    app.advance_minutes(10);
    let updated = client
        .ok(
            "incidents.update",
            json!([incident_id]),
            json!({
                "status": "identified",
                "body": "The gateway's certificate expired. We are renewing it.",
                "metadata": {"candor": {"cause": "Expired gateway certificate"}},
            }),
        )
        .await;
    assert_eq!(updated["status"], "identified");
    assert_eq!(
        updated["metadata"]["candor"]["next_update_from"],
        "default_next_update"
    );
    assert_eq!(updated["incident_updates"].as_array().unwrap().len(), 2);
    let incident = app.incident(&incident_id).await;
    assert_eq!(incident["status"], "identified");
    assert_eq!(incident["cause"], "Expired gateway certificate");
    assert_eq!(incident["next_update_at"], "2026-03-04T09:40:00Z");
    let timeline = entries(&incident);
    assert_eq!(timeline.len(), 2);
    assert_eq!(
        timeline[0]["message"],
        "The gateway's certificate expired. We are renewing it."
    );

    let unresolved = client
        .ok("incidents.list_unresolved", json!([]), json!({}))
        .await;
    assert_eq!(ids(&unresolved), [incident_id.as_str()]);

    // A posted entry cannot be edited through the client either.
    let first_entry = id_of(&timeline[1]);
    let (error, status, body) = client
        .raises(
            "incidents.update_previous",
            json!([incident_id, first_entry]),
            json!({"body": "Nothing happened."}),
        )
        .await;
    assert_eq!((error.as_str(), status), ("ResourceError", 422), "{body}");
    assert_eq!(
        body["error"]["message"],
        "posted entries are never edited; post a correction"
    );
    assert_eq!(entries(&app.incident(&incident_id).await).len(), 2);

    // Resolved.
    app.advance_minutes(15);
    let resolved = client
        .ok(
            "incidents.update",
            json!([incident_id]),
            json!({"status": "resolved", "body": "The new certificate is in place."}),
        )
        .await;
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["resolved_at"], "2026-03-04T09:25:00.000Z");
    let incident = app.incident(&incident_id).await;
    assert_eq!(incident["status"], "resolved");
    assert_eq!(incident["resolved_at"], "2026-03-04T09:25:00Z");
    assert_eq!(entries(&incident).len(), 3);

    // Listed.
    let all = client.ok("incidents.list", json!([]), json!({})).await;
    assert_eq!(ids(&all), [incident_id.as_str()]);
    assert_eq!(all[0]["status"], "resolved");
    assert_eq!(all[0]["incident_updates"].as_array().unwrap().len(), 3);
    let unresolved = client
        .ok("incidents.list_unresolved", json!([]), json!({}))
        .await;
    assert_eq!(unresolved, json!([]));

    // Subscribe, listed, unsubscribe.
    let subscriber = client
        .ok(
            "subscribers.create",
            json!([]),
            json!({"email": "ops@example.test", "skip_confirmation_notification": true}),
        )
        .await;
    let subscriber_id = id_of(&subscriber);
    assert_eq!(subscriber["mode"], "email");
    assert_eq!(subscriber["skip_confirmation_notification"], true);
    let stored = app
        .admin_get(&format!("/api/v1/subscribers/{subscriber_id}"))
        .await
        .expect(200);
    assert_eq!(stored["address"], "ops@example.test");
    assert_eq!(stored["state"], "confirmed");
    let listed = client.ok("subscribers.list", json!([]), json!({})).await;
    assert_eq!(ids(&listed), [subscriber_id.as_str()]);
    let status = client
        .ok("subscribers.delete", json!([subscriber_id]), json!({}))
        .await;
    assert_eq!(status, 200);
    let stored = app
        .admin_get(&format!("/api/v1/subscribers/{subscriber_id}"))
        .await
        .expect(200);
    assert_eq!(stored["state"], "unsubscribed");

    // A component a timeline names stays; one nobody used goes.
    let (error, status, body) = client
        .raises("components.delete", json!([vpn_id]), json!({}))
        .await;
    assert_eq!((error.as_str(), status), ("RequestError", 409), "{body}");
    assert_eq!(app.component(&vpn_id).await["name"], "VPN");
    let spare = client
        .ok("components.create", json!([]), json!({"name": "Spare"}))
        .await;
    let status = client
        .ok("components.delete", json!([id_of(&spare)]), json!({}))
        .await;
    assert_eq!(status, 204);
    app.admin_get(&format!("/api/v1/components/{}", id_of(&spare)))
        .await
        .assert_error(404, "not_found", None);

    // Maintenance through the same calls.
    let planned = client
        .ok(
            "incidents.create_scheduled",
            json!([]),
            json!({
                "name": "VPN gateway firmware",
                "status": "scheduled",
                "scheduled_for": "2026-03-05T20:00:00Z",
                "scheduled_until": "2026-03-05T22:00:00Z",
                "scheduled_remind_prior": true,
                "scheduled_auto_completed": true,
                "body": "The VPN will be down for up to two hours.",
                "component_ids": [vpn_id],
            }),
        )
        .await;
    let planned_id = id_of(&planned);
    assert_eq!(planned["status"], "scheduled");
    assert_eq!(planned["impact"], "maintenance");
    assert_eq!(planned["scheduled_for"], "2026-03-05T20:00:00.000Z");
    let maintenance = app
        .admin_get(&format!("/api/v1/maintenances/{planned_id}"))
        .await
        .expect(200);
    assert_eq!(maintenance["status"], "scheduled");
    assert_eq!(maintenance["auto_complete"], true);
    assert_eq!(maintenance["remind_before"], json!(["1h"]));
    assert_eq!(maintenance["owner"]["name"], "Dana (IT Ops)");
    for (call, holds) in [
        ("incidents.list_upcoming", true),
        ("incidents.list_scheduled", true),
        ("incidents.list_active_maintenance", false),
        ("incidents.list_unresolved", false),
    ] {
        let listed = client.ok(call, json!([]), json!({})).await;
        assert_eq!(
            ids(&listed).contains(&planned_id),
            holds,
            "{call}: {listed}"
        );
    }

    client.stop().await;
    app.stop().await;
}

/// A client generated from Statuspage's own OpenAPI document checks the
/// enum values and types of every answer it reads: each call below would
/// raise on a shape Statuspage does not have.
#[tokio::test]
async fn a_client_generated_from_statuspages_openapi_document_reads_every_answer() {
    let Some(python) = client_python() else {
        return;
    };
    let app = TestApp::spawn().await;
    let key = token(
        &app,
        "generated",
        &["--owner", "Dana (IT Ops) <dana@acme.test>"],
    )
    .await;
    let mut client = Client::strict(&python, &app.address, &key);

    let vpn = client
        .api(
            "ComponentsApi",
            "post_pages_page_id_components",
            json!([{"component": {"name": "VPN", "status": "operational"}}, PAGE]),
        )
        .await;
    let vpn_id = id_of(&vpn);
    assert_eq!(app.component(&vpn_id).await["status"], "operational");
    let listed = client
        .api(
            "ComponentsApi",
            "get_pages_page_id_components",
            json!([PAGE]),
        )
        .await;
    assert_eq!(ids(&listed), [vpn_id.as_str()]);

    let opened = client
        .api(
            "IncidentsApi",
            "post_pages_page_id_incidents",
            json!([{"incident": {
                "name": "VPN down", "status": "investigating", "body": "Nobody can connect.",
                "impact_override": "critical", "components": {vpn_id.clone(): "major_outage"},
            }}, PAGE]),
        )
        .await;
    let id = id_of(&opened);
    assert_eq!(opened["impact"], "critical");
    assert_eq!(opened["components"][0]["status"], "major_outage");
    assert_eq!(opened["incident_updates"][0]["status"], "investigating");
    let incident = app.incident(&id).await;
    assert_eq!(incident["impact"], "critical");
    assert_eq!(incident["owner"]["name"], "Dana (IT Ops)");
    assert_eq!(app.component(&vpn_id).await["status"], "major_outage");

    let read = client
        .api(
            "IncidentsApi",
            "get_pages_page_id_incidents_incident_id",
            json!([PAGE, id]),
        )
        .await;
    assert_eq!(read["name"], "VPN down");
    let unresolved = client
        .api(
            "IncidentsApi",
            "get_pages_page_id_incidents_unresolved",
            json!([PAGE]),
        )
        .await;
    assert_eq!(ids(&unresolved), [id.as_str()]);

    let monitoring = client
        .api(
            "IncidentsApi",
            "patch_pages_page_id_incidents_incident_id",
            json!([{"incident": {"status": "monitoring", "body": "A fix is in.",
                    "components": {vpn_id.clone(): "operational"}}}, PAGE, id]),
        )
        .await;
    assert_eq!(monitoring["status"], "monitoring");
    assert!(monitoring["monitoring_at"].is_string(), "{monitoring}");
    let incident = app.incident(&id).await;
    assert_eq!(incident["status"], "monitoring");
    assert_eq!(entries(&incident).len(), 2);
    assert_eq!(app.component(&vpn_id).await["status"], "operational");

    let resolved = client
        .api(
            "IncidentsApi",
            "put_pages_page_id_incidents_incident_id",
            json!([{"incident": {"status": "resolved", "body": "Fixed."}}, PAGE, id]),
        )
        .await;
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(app.incident(&id).await["status"], "resolved");

    // Later, so that "newest first" has one answer.
    app.advance_minutes(5);
    let planned = client
        .api(
            "IncidentsApi",
            "post_pages_page_id_incidents",
            json!([{"incident": {
                "name": "Firmware", "status": "scheduled",
                "scheduled_for": "2026-03-05T20:00:00Z", "scheduled_until": "2026-03-05T21:00:00Z",
                "scheduled_auto_completed": true, "component_ids": [vpn_id],
            }}, PAGE]),
        )
        .await;
    assert_eq!(planned["impact"], "maintenance");
    assert_eq!(planned["scheduled_auto_completed"], true);
    let planned_id = id_of(&planned);
    assert_eq!(
        app.admin_get(&format!("/api/v1/maintenances/{planned_id}"))
            .await
            .expect(200)["status"],
        "scheduled"
    );
    let upcoming = client
        .api(
            "IncidentsApi",
            "get_pages_page_id_incidents_upcoming",
            json!([PAGE]),
        )
        .await;
    assert_eq!(ids(&upcoming), [planned_id.as_str()]);
    let all = client
        .api("IncidentsApi", "get_pages_page_id_incidents", json!([PAGE]))
        .await;
    assert_eq!(ids(&all), [planned_id.as_str(), id.as_str()]);

    let subscriber = client
        .api(
            "SubscribersApi",
            "post_pages_page_id_subscribers",
            json!([{"subscriber": {"email": "ops@example.test", "component_ids": [vpn_id],
                    "skip_confirmation_notification": true}}, PAGE]),
        )
        .await;
    let subscriber_id = id_of(&subscriber);
    let stored = app
        .admin_get(&format!("/api/v1/subscribers/{subscriber_id}"))
        .await
        .expect(200);
    assert_eq!(stored["state"], "confirmed");
    assert_eq!(stored["components"], json!([vpn_id]));
    let listed = client
        .api(
            "SubscribersApi",
            "get_pages_page_id_subscribers",
            json!([PAGE]),
        )
        .await;
    assert_eq!(ids(&listed), [subscriber_id.as_str()]);
    client
        .api(
            "SubscribersApi",
            "delete_pages_page_id_subscribers_subscriber_id",
            json!([PAGE, subscriber_id]),
        )
        .await;
    assert_eq!(
        app.admin_get(&format!("/api/v1/subscribers/{subscriber_id}"))
            .await
            .expect(200)["state"],
        "unsubscribed"
    );

    // Its refusals come back as the client's ApiException with the reason.
    let refused = client
        .send(json!({"api": "IncidentUpdatesApi",
            "call": "patch_pages_page_id_incidents_incident_id_incident_updates_incident_update_id",
            "args": [{"incident_update": {"body": "Edited."}}, PAGE, id,
                     id_of(&entries(&app.incident(&id).await)[0])]}))
        .await;
    assert_eq!(refused["status"], 422, "{refused}");
    assert_eq!(
        refused["body"]["error"]["message"],
        "posted entries are never edited; post a correction"
    );
    client.stop().await;
    app.stop().await;
}

// ---------------------------------------------------------------------------
// Over plain HTTP.

async fn open_vpn_incident(app: &TestApp, key: &str) -> (String, String) {
    let vpn = app.create_component("VPN").await;
    let opened = app
        .v1(
            Method::POST,
            "/incidents",
            key,
            Some(json!({"incident": {
                "name": "VPN down", "status": "investigating", "body": "Looking into it.",
                "components": {vpn.clone(): "major_outage"},
                "metadata": {"candor": {"owner": "Dana <dana@acme.test>"}},
            }})),
        )
        .await
        .expect(201);
    (vpn, id_of(&opened))
}

#[tokio::test]
async fn quiet_updates_and_edits_of_posted_entries_are_refused() {
    let app = TestApp::spawn().await;
    let (_, incident) = open_vpn_incident(&app, ADMIN_TOKEN).await;
    {
        let reply = app
            .v1(
                Method::POST,
                "/incidents.json",
                ADMIN_TOKEN,
                Some(json!({"incident": {
                    "name": "Quiet", "body": "x", "deliver_notifications": false,
                    "metadata": {"candor": {"owner": "Dana <dana@acme.test>"}}}})),
            )
            .await;
        reply.assert_error(422, "invalid", Some("incident.deliver_notifications"));
        assert_eq!(
            reply.body["error"]["message"],
            "Candor notifies subscribers of every change; there is no quiet update"
        );
    }
    for method in [Method::PATCH, Method::PUT] {
        let reply = app
            .v1(
                method,
                &format!("/incidents/{incident}"),
                ADMIN_TOKEN,
                Some(json!({"incident": {
                    "status": "identified", "body": "Shh.", "deliver_notifications": false}})),
            )
            .await;
        reply.assert_error(422, "invalid", Some("incident.deliver_notifications"));
    }
    let entry = id_of(&entries(&app.incident(&incident).await)[0]);
    for path in [
        format!("/incidents/{incident}/incident_updates/{entry}"),
        format!("/incidents/{incident}/incident_updates/{entry}.json"),
    ] {
        let reply = app
            .v1(
                Method::PATCH,
                &path,
                ADMIN_TOKEN,
                Some(json!({"incident_update": {"body": "It never happened."}})),
            )
            .await;
        reply.assert_error(422, "invalid", Some("incident_update"));
        assert_eq!(
            reply.body["error"]["message"],
            "posted entries are never edited; post a correction"
        );
    }
    // Nothing was posted or changed, and only one incident exists.
    let stored = app.incident(&incident).await;
    assert_eq!(entries(&stored).len(), 1);
    assert_eq!(entries(&stored)[0]["message"], "Looking into it.");
    assert_eq!(stored["status"], "investigating");
    assert_eq!(app.incidents("all").await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn paths_answer_with_or_without_json() {
    let app = TestApp::spawn().await;
    let (vpn, incident) = open_vpn_incident(&app, ADMIN_TOKEN).await;
    for (plain, suffixed) in [
        ("/components".to_string(), "/components.json".to_string()),
        (
            format!("/components/{vpn}"),
            format!("/components/{vpn}.json"),
        ),
        ("/incidents".to_string(), "/incidents.json".to_string()),
        (
            "/incidents/unresolved".to_string(),
            "/incidents/unresolved.json".to_string(),
        ),
        (
            format!("/incidents/{incident}"),
            format!("/incidents/{incident}.json"),
        ),
        ("/subscribers".to_string(), "/subscribers.json".to_string()),
    ] {
        let a = app
            .v1(Method::GET, &plain, ADMIN_TOKEN, None)
            .await
            .expect(200);
        let b = app
            .v1(Method::GET, &suffixed, ADMIN_TOKEN, None)
            .await
            .expect(200);
        assert_eq!(a, b, "{plain} and {suffixed}");
    }
    let read = app
        .v1(
            Method::GET,
            &format!("/components/{vpn}.json"),
            ADMIN_TOKEN,
            None,
        )
        .await
        .expect(200);
    assert_eq!(read["id"], vpn.as_str());
    assert_eq!(read["status"], "major_outage");
    app.v1(Method::GET, "/nothing-here.json", ADMIN_TOKEN, None)
        .await
        .assert_error(404, "not_found", None);
    app.stop().await;
}

#[tokio::test]
async fn components_are_listed_a_page_at_a_time() {
    let app = TestApp::spawn().await;
    let mut made = Vec::new();
    for n in 0..5 {
        let reply = app
            .v1(
                Method::POST,
                "/components",
                ADMIN_TOKEN,
                Some(json!({"component": {"name": format!("Service {n}"), "position": n}})),
            )
            .await
            .expect(201);
        made.push(id_of(&reply));
    }
    let mut seen = Vec::new();
    for (page, size) in [(1, 2), (2, 2), (3, 1), (4, 0)] {
        let listed = app
            .v1(
                Method::GET,
                &format!("/components?page={page}&per_page=2"),
                ADMIN_TOKEN,
                None,
            )
            .await
            .expect(200);
        assert_eq!(
            listed.as_array().unwrap().len(),
            size,
            "page {page}: {listed}"
        );
        seen.extend(ids(&listed));
    }
    assert_eq!(seen, made);
    app.v1(Method::GET, "/components?page=0", ADMIN_TOKEN, None)
        .await
        .assert_error(422, "invalid", Some("page"));
    app.v1(Method::GET, "/components?per_page=5000", ADMIN_TOKEN, None)
        .await
        .assert_error(422, "invalid", Some("per_page"));
    app.stop().await;
}

#[tokio::test]
async fn a_component_an_incident_named_cannot_be_deleted() {
    let app = TestApp::spawn().await;
    let (vpn, _) = open_vpn_incident(&app, ADMIN_TOKEN).await;
    let reply = app
        .v1(
            Method::DELETE,
            &format!("/components/{vpn}"),
            ADMIN_TOKEN,
            None,
        )
        .await;
    reply.assert_error(409, "conflict", None);
    let message = reply.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("timelines are never rewritten"),
        "{message}"
    );
    assert_eq!(app.component(&vpn).await["name"], "VPN");

    // A group with members, and one a subscriber chose, stay too.
    let group = app.create_component("Network").await;
    let member = app
        .admin_post(
            "/api/v1/components",
            &json!({"name": "Wi-Fi", "group_id": group}),
        )
        .await
        .expect(201);
    let reply = app
        .v1(
            Method::DELETE,
            &format!("/components/{group}.json"),
            ADMIN_TOKEN,
            None,
        )
        .await;
    reply.assert_error(409, "conflict", None);
    assert!(reply.text.contains("group with members"), "{}", reply.text);
    let printer = app.create_component("Printers").await;
    app.add_confirmed("ops@example.test", &[printer.as_str()])
        .await;
    app.v1(
        Method::DELETE,
        &format!("/components/{printer}"),
        ADMIN_TOKEN,
        None,
    )
    .await
    .assert_error(409, "conflict", None);

    // One nobody used goes, with its manual history.
    let member = id_of(&member);
    app.set_component_status(&member, "degraded_performance")
        .await;
    let reply = app
        .v1(
            Method::DELETE,
            &format!("/components/{member}"),
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    app.admin_get(&format!("/api/v1/components/{member}"))
        .await
        .assert_error(404, "not_found", None);
    app.v1(
        Method::DELETE,
        &format!("/components/{member}"),
        ADMIN_TOKEN,
        None,
    )
    .await
    .assert_error(404, "not_found", None);
    app.stop().await;
}

#[tokio::test]
async fn an_alerts_only_token_is_refused_and_a_wrong_key_is_not_let_in() {
    let app = TestApp::spawn().await;
    let alerts = token(&app, "alertmanager", &["--scope", "alerts"]).await;
    for (method, path) in [
        (Method::GET, "/components"),
        (Method::POST, "/components.json"),
        (Method::GET, "/incidents"),
        (Method::POST, "/incidents"),
        (Method::GET, "/subscribers"),
    ] {
        app.v1(method, path, &alerts, Some(json!({})))
            .await
            .assert_error(403, "forbidden", None);
    }
    app.v1(Method::GET, "/components", "cnd_wrong", None)
        .await
        .assert_error(401, "unauthorized", None);
    let anonymous = app
        .raw(Method::GET, &format!("/v1/pages/{PAGE}/components"))
        .send()
        .await;
    anonymous.assert_error(401, "unauthorized", None);
    // In the words of the API being called.
    let said = anonymous.expect(401)["error"]["message"].to_string();
    assert!(said.contains("Authorization: OAuth <key>"), "{said}");
    // `Bearer` works as well as `OAuth`, as on the admin API.
    app.raw(Method::GET, &format!("/v1/pages/{PAGE}/components"))
        .admin()
        .send()
        .await
        .expect(200);
    app.stop().await;
}

#[tokio::test]
async fn the_owner_comes_from_the_token_or_the_metadata_and_is_never_guessed() {
    let app = TestApp::spawn().await;
    let anonymous = token(&app, "cron", &[]).await;
    let owned = token(&app, "oncall", &["--owner", "Sam Rivera <sam@acme.test>"]).await;
    let open = |owner: Option<&str>| {
        let mut incident = json!({"name": "Printers offline", "body": "Nothing prints."});
        if let Some(owner) = owner {
            incident["metadata"] = json!({"candor": {"owner": owner}});
        }
        json!({ "incident": incident })
    };

    // A token that speaks for nobody, and no owner named: refused.
    app.v1(Method::POST, "/incidents", &anonymous, Some(open(None)))
        .await
        .assert_error(422, "invalid", Some("incident.metadata.candor.owner"));
    assert!(app.incidents("all").await.is_empty());

    let by_token = app
        .v1(Method::POST, "/incidents", &owned, Some(open(None)))
        .await
        .expect(201);
    assert_eq!(by_token["metadata"]["candor"]["owner_from"], "token");
    assert_eq!(
        app.incident(&id_of(&by_token)).await["owner"],
        json!({"name": "Sam Rivera", "email": "sam@acme.test"})
    );

    let named = app
        .v1(
            Method::POST,
            "/incidents",
            &anonymous,
            Some(open(Some("Dana (IT Ops) <dana@acme.test>"))),
        )
        .await
        .expect(201);
    assert_eq!(named["metadata"]["candor"]["owner_from"], "metadata");
    assert_eq!(named["metadata"]["candor"]["owner"], "Dana (IT Ops)");
    assert_eq!(
        app.incident(&id_of(&named)).await["owner"]["email"],
        "dana@acme.test"
    );

    // What a token's owner does not look like is refused when it is made.
    let output = tokio::process::Command::from(candor_command(&app.db.dir, &app.db.url))
        .args(["token", "create", "bad", "--owner", "just a name"])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--owner"));
    app.stop().await;
}

#[tokio::test]
async fn the_next_update_comes_from_the_metadata_or_default_next_update() {
    let app = TestApp::spawn_with(|config| config.default_next_update = "45m".into()).await;
    let vpn = app.create_component("VPN").await;
    let opened = app
        .v1(
            Method::POST,
            "/incidents",
            ADMIN_TOKEN,
            Some(json!({"incident": {
                "name": "VPN slow", "body": "Slow.", "component_ids": [vpn],
                "metadata": {"candor": {"owner": "Dana <dana@acme.test>"}}}})),
        )
        .await
        .expect(201);
    let facts = &opened["metadata"]["candor"];
    assert_eq!(facts["next_update_from"], "default_next_update");
    assert_eq!(facts["next_update_at"], "2026-03-04T09:45:00.000Z");
    let id = id_of(&opened);
    let incident = app.incident(&id).await;
    assert_eq!(incident["next_update_at"], "2026-03-04T09:45:00Z");
    // A component named by id alone keeps the status it has.
    assert_eq!(incident["components"][0]["status"], "operational");

    let updated = app
        .v1(
            Method::PATCH,
            &format!("/incidents/{id}.json"),
            ADMIN_TOKEN,
            Some(json!({"incident": {
                "status": "monitoring", "body": "A fix is in.",
                "metadata": {"candor": {"next_update_in": "2h", "eta": "2026-03-04T12:00:00Z"}}}})),
        )
        .await
        .expect(200);
    let facts = &updated["metadata"]["candor"];
    assert_eq!(facts["next_update_from"], "metadata");
    assert_eq!(facts["eta"], "2026-03-04T12:00:00.000Z");
    let incident = app.incident(&id).await;
    assert_eq!(incident["next_update_at"], "2026-03-04T11:00:00Z");
    assert_eq!(incident["eta"], "2026-03-04T12:00:00Z");

    // A promise the rules forbid is refused as on the admin API.
    app.v1(
        Method::PATCH,
        &format!("/incidents/{id}"),
        ADMIN_TOKEN,
        Some(json!({"incident": {"body": "Later.",
            "metadata": {"candor": {"next_update_in": 20000}}}})),
    )
    .await
    .assert_error(422, "invalid", Some("next_update_at"));
    // A change without words is refused: every change is an entry.
    app.v1(
        Method::PATCH,
        &format!("/incidents/{id}"),
        ADMIN_TOKEN,
        Some(json!({"incident": {"status": "resolved"}})),
    )
    .await
    .assert_error(422, "invalid", Some("incident.body"));
    assert_eq!(entries(&app.incident(&id).await).len(), 2);

    // Resolved needs no promise; a later status other than resolved
    // reopens it, with a promise again.
    let update = |status: &str, body: &str| json!({"incident": {"status": status, "body": body}});
    app.v1(
        Method::PATCH,
        &format!("/incidents/{id}"),
        ADMIN_TOKEN,
        Some(update("resolved", "Fixed.")),
    )
    .await
    .expect(200);
    assert_eq!(app.incident(&id).await["next_update_at"], Value::Null);
    let reopened = app
        .v1(
            Method::PUT,
            &format!("/incidents/{id}"),
            ADMIN_TOKEN,
            Some(update("investigating", "It is back.")),
        )
        .await
        .expect(200);
    assert_eq!(
        reopened["metadata"]["candor"]["next_update_from"],
        "default_next_update"
    );
    let incident = app.incident(&id).await;
    assert_eq!(incident["status"], "investigating");
    assert_eq!(incident["next_update_at"], "2026-03-04T09:45:00Z");
    assert!(
        crate::helpers::classes(&entries(&incident)[0]).contains(&"reopened".to_string()),
        "{incident}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_status_change_through_the_manage_api_is_mailed_like_any_other() {
    let mailbox = Mailbox::start();
    let app = TestApp::spawn_with_smtp(&mailbox).await;
    let vpn = app.create_component("VPN").await;
    app.add_confirmed("ops@example.test", &[vpn.as_str()]).await;
    app.drain_outbox().await;
    let before = mailbox.mails_to("ops@example.test").len();
    app.v1(
        Method::PATCH,
        &format!("/components/{vpn}.json"),
        ADMIN_TOKEN,
        Some(json!({"component": {"status": "partial_outage"}})),
    )
    .await
    .expect(200);
    assert_eq!(app.component(&vpn).await["status"], "partial_outage");
    app.drain_outbox().await;
    let mails = mailbox.wait_for("ops@example.test", before + 1).await;
    let mail = mails.last().unwrap();
    assert!(
        mail.header("Subject").unwrap_or_default().contains("VPN"),
        "{}",
        mail.raw()
    );
    app.stop().await;
}
