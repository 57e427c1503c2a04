//! Real clients against Candor, in CI: the npm Statuspage widget and
//! Candor's `embed.js` in headless Chromium on another origin, and the npm
//! `statuspage.io` client (tests/browser/). They need Node, Debian's
//! `chromium` and `npm ci` in tests/browser, so they run only with
//! `CANDOR_BROWSER=1`. Also every public page in Chromium under Candor's
//! Content-Security-Policy, with its forms sent as a person sends them.

use std::{path::Path, time::Duration};

use serde_json::json;

use crate::helpers::mailbox::Mailbox;
use crate::helpers::{id_of, mail_incident, TestApp, PASSWORD};

fn enabled() -> bool {
    let on = std::env::var("CANDOR_BROWSER").is_ok_and(|v| v == "1");
    if !on {
        eprintln!("skipped: set CANDOR_BROWSER=1 to run the browser and client tests");
    }
    on
}

/// Runs `node tests/browser/<script> <args…>` and fails with its output
/// unless it exits 0.
async fn node(script: &str, args: &[&str]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "run `npm ci` in {} first",
        dir.display()
    );
    let run = tokio::process::Command::new("node")
        .arg(script)
        .args(args)
        .current_dir(&dir)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .unwrap_or_else(|_| panic!("node {script} took more than 120 s"))
        .unwrap_or_else(|e| panic!("cannot run node: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(
        output.status.success(),
        "node {script} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
}

/// Candor with an open incident: a component down, the banner not green.
async fn with_an_open_incident() -> TestApp {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    app.create_component("VPN").await;
    let mut body = crate::helpers::mail_incident(&smtp);
    body["components"] = json!({ smtp: "major_outage" });
    body["impact"] = json!("major");
    app.open_incident(&body).await;
    // And planned work, so that the clients read a maintenance too.
    let vpn = app
        .components()
        .await
        .into_iter()
        .find(|c| c["name"] == "VPN")
        .unwrap();
    app.admin_post(
        "/api/v1/maintenances",
        &json!({"title": "VPN gateway upgrade", "scheduled_for": "2026-03-05T20:00:00Z",
                "scheduled_until": "2026-03-05T21:00:00Z", "components": [id_of(&vpn)],
                "owner": {"name": "Dana (IT Ops)", "email": "dana@acme.test"}}),
    )
    .await
    .expect(201);
    app
}

#[tokio::test]
async fn the_statuspage_widget_and_embed_js_render_on_another_site() {
    if !enabled() {
        return;
    }
    let app = with_an_open_incident().await;
    node("widget.mjs", &[&app.address]).await;
    app.stop().await;
}

#[tokio::test]
async fn the_statuspage_io_client_reads_every_path_it_knows() {
    if !enabled() {
        return;
    }
    let app = with_an_open_incident().await;
    node("client.mjs", &[&app.address]).await;
    app.stop().await;
}

/// Every kind of public page with real content, as a plan for the scripts
/// that visit them (tests/browser/csp.mjs, axe.mjs): components in a group
/// and one outside it, a reader's manage link and a pending confirmation
/// link, a resolved incident and an open one whose message has a link and
/// an image in Markdown.
async fn every_public_page(app: &TestApp, mailbox: &Mailbox) -> serde_json::Value {
    // Components in a group, and one outside it.
    let email = app.create_component("Email").await;
    let child = |name: &str| json!({"name": name, "group_id": email});
    let smtp = id_of(
        &app.admin_post("/api/v1/components", &child("Outbound SMTP"))
            .await
            .expect(201),
    );
    let webmail = id_of(
        &app.admin_post("/api/v1/components", &child("Webmail"))
            .await
            .expect(201),
    );
    let vpn = app.create_component("VPN").await;

    // A reader whose mails carry the manage link, and one who has only
    // asked to subscribe (the confirmation link).
    app.add_confirmed("reader@example.test", &[]).await;
    let asked = app
        .client
        .post(format!("{}/subscribe", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=pending%40example.test")
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status().as_u16(), 200);

    // A resolved incident, and an open one whose message has a link and an
    // image in Markdown.
    let mut vpn_body = mail_incident(&vpn);
    vpn_body["title"] = json!("VPN logins failing");
    vpn_body["components"] = json!({ vpn: "partial_outage" });
    let old = app.open_incident(&vpn_body).await;
    app.post_update(
        &id_of(&old),
        &json!({"status": "resolved", "message": "Logins work again."}),
    )
    .await;
    let mut body = mail_incident(&smtp);
    body["impact"] = json!("major");
    body["components"] = json!({ smtp.clone(): "major_outage" });
    body["message"] = json!(
        "Outbound mail is **queued**, not lost. See [the relay's status](https://relay.example.test/status).\n\n\
         ![Queue length](https://graphs.example.test/queue.png)"
    );
    let open = app.open_incident(&body).await;
    // Some time on the clock, so that today's uptime bars have something
    // to show (the promised update, due in 30 minutes, is not late yet).
    app.advance_minutes(20);

    let prefix = |path: &str| format!("{}{path}", app.address);
    let manage = mailbox.wait_for("reader@example.test", 1).await[0]
        .link(&prefix("/subscription?token="))
        .replacen(&app.address, "", 1);
    let confirm = mailbox.wait_for("pending@example.test", 1).await[0]
        .link(&prefix("/subscribe/confirm?token="))
        .replacen(&app.address, "", 1);
    let screenshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    json!({
        "incident": format!("/incidents/{}", id_of(&open)),
        "confirm": confirm,
        "manage": manage,
        "email": "browser@example.test",
        "screenshots": screenshots,
        // The browser's clock is set to Candor's: the live script counts
        // down from what Candor's page says.
        "now": app.now().to_string(),
        // The group Email and its components (what the manage form's
        // script ticks together).
        "group": [email, smtp, webmail],
    })
}

/// What tests/browser/csp.mjs visits and sends: every kind of public page,
/// each with real content, at a desktop and a phone size. The policy must
/// block nothing the pages use (the live page's script loads and asks
/// `summary.json`), and same-origin form posts must pass the
/// cross-site guard. Screenshots of `/` and an incident go to
/// target/screenshots/ for a person to look at.
#[tokio::test]
async fn every_public_page_works_in_chromium_under_its_content_security_policy() {
    if !enabled() {
        return;
    }
    let mailbox = Mailbox::start();
    let app = TestApp::spawn_with_smtp(&mailbox).await;
    let plan = every_public_page(&app, &mailbox).await;
    node("csp.mjs", &[&app.address, &plan.to_string()]).await;

    // What the browser sent reached Candor: a new address waits for its
    // confirmation mail, the confirm button confirmed, the manage form saved.
    let asked = mailbox.wait_for("browser@example.test", 1).await;
    assert!(
        asked[0].subject.starts_with("Confirm"),
        "{}",
        asked[0].subject
    );
    let list = app.admin_get("/api/v1/subscribers").await.expect(200);
    let state = |address: &str| {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["address"] == address)
            .unwrap_or_else(|| panic!("no subscriber {address}: {list}"))
            .clone()
    };
    assert_eq!(state("browser@example.test")["state"], "pending");
    assert_eq!(state("pending@example.test")["state"], "confirmed");
    // The manage form ticked the group Email, and its script its components.
    let reader = state("reader@example.test");
    let mut chosen: Vec<String> = reader["components"]
        .as_array()
        .unwrap_or_else(|| panic!("{reader}"))
        .iter()
        .map(|c| c.as_str().unwrap_or_default().to_string())
        .collect();
    chosen.sort();
    let mut group: Vec<String> = plan["group"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    group.sort();
    assert_eq!(chosen, group, "{reader}");
    app.stop().await;
}

/// tests/browser/axe.mjs: axe-core finds nothing on any public page (`/`,
/// an incident, `/history`, `/subscribe`, the confirm and manage pages, the
/// 404 page), at a desktop and a phone size.
#[tokio::test]
async fn every_public_page_is_clean_under_axe_at_a_desktop_and_a_phone_size() {
    if !enabled() {
        return;
    }
    let mailbox = Mailbox::start();
    let app = TestApp::spawn_with_smtp(&mailbox).await;
    let plan = every_public_page(&app, &mailbox).await;
    node("axe.mjs", &[&app.address, &plan.to_string()]).await;
    app.stop().await;
}

/// tests/browser/live.mjs `post`: `/` and the incident page, open in
/// Chromium, show an update posted through the admin API within 2 s,
/// without a reload.
#[tokio::test]
async fn an_update_posted_shows_on_open_pages_within_two_seconds_without_a_reload() {
    if !enabled() {
        return;
    }
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let incident = id_of(&app.open_mail_incident(&smtp).await);
    let plan = json!({
        "incident": format!("/incidents/{incident}"),
        "token": crate::helpers::ADMIN_TOKEN,
    });
    node("live.mjs", &["post", &app.address, &plan.to_string()]).await;
    // The update the browser's page showed is the one Candor keeps.
    let kept = app.incident(&incident).await;
    assert_eq!(crate::helpers::entries(&kept).len(), 2, "{kept}");
    app.stop().await;
}

/// tests/browser/live.mjs `clock`: with Chromium's clock set to Candor's,
/// "(in 30 min)" ticks to "(in 29 min)", and "Next update by 10:30 CET"
/// turns into "Update overdue since 10:30 CET — Dana (IT Ops) has been
/// reminded" at the promised second (not a millisecond before), as the
/// passed ETA does at its own; Candor's clock does not move meanwhile.
#[tokio::test]
async fn the_countdown_turns_overdue_at_the_promised_second() {
    if !enabled() {
        return;
    }
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let mut body = mail_incident(&smtp);
    body["eta"] = json!((app.now() + jiff::SignedDuration::from_mins(45)).to_string());
    let incident = app.open_incident(&body).await;
    let plan = json!({
        "paths": ["/", format!("/incidents/{}", id_of(&incident))],
        "now": app.now().to_string(),
        "next_update_at": incident["next_update_at"],
        "eta": incident["eta"],
        "before": "Next update by 10:30 CET (in 30 min)",
        "ticked": "Next update by 10:30 CET (in 29 min)",
        "overdue": "Update overdue since 10:30 CET — Dana (IT Ops) has been reminded",
        "eta_before": "ETA: 10:45 CET",
        "eta_passed": "ETA 10:45 CET passed — no new estimate yet",
    });
    node("live.mjs", &["clock", &app.address, &plan.to_string()]).await;
    app.stop().await;
}

/// tests/browser/fold.mjs: on a 390×844 phone, the worst open incident's
/// heading is on the first screen of `/`, next to a minor incident with a
/// long timeline, whichever of the two was opened first.
#[tokio::test]
async fn the_worst_open_incident_is_above_the_fold_on_a_phone() {
    if !enabled() {
        return;
    }
    for major_first in [false, true] {
        let app = TestApp::spawn().await;
        let mut ids = Vec::new();
        for name in ["SAP", "VPN", "Outbound SMTP", "Wi-Fi", "Printing"] {
            ids.push(app.create_component(name).await);
        }
        if major_first {
            open_major_vpn_incident(&app, &ids[1]).await;
            app.advance_minutes(5);
        }
        let mut minor = mail_incident(&ids[0]);
        minor["title"] = json!("SAP reports are slow");
        minor["components"] = json!({ &ids[0]: "degraded_performance" });
        let sap = id_of(&app.open_incident(&minor).await);
        for step in 1..=3 {
            app.advance_minutes(10);
            app.post_update(
                &sap,
                &json!({"message": format!(
                    "Update {step}: month-end reports still take several minutes to build. \
                     We are watching the database server and will say more at the next update."),
                    "next_update_in": 30}),
            )
            .await;
        }
        if !major_first {
            open_major_vpn_incident(&app, &ids[1]).await;
        }
        let plan = json!({"heading": "VPN down for everyone", "fold": 844});
        node("fold.mjs", &[&app.address, &plan.to_string()]).await;
        app.stop().await;
    }
}

async fn open_major_vpn_incident(app: &TestApp, vpn: &str) {
    let mut major = mail_incident(vpn);
    major["title"] = json!("VPN down for everyone");
    major["impact"] = json!("major");
    major["components"] = json!({ vpn: "major_outage" });
    app.open_incident(&major).await;
}

/// The console by keyboard only, in Chromium: log in, open an incident,
/// slip its ETA after a preview that says so, correct an entry, resolve;
/// the public page shows each step (checked by the script), and the
/// subscriber's mail each entry (checked here). axe on every console page;
/// screenshots at 1280×900 and 390×844 in `target/console-shots`.
#[tokio::test]
async fn staff_post_an_incidents_life_from_the_console_by_keyboard() {
    if !enabled() {
        return;
    }
    let mailbox = Mailbox::start();
    let url = mailbox.url();
    let app =
        TestApp::spawn_with(move |c| c.smtp_url = Some(candor::config::Secret::new(url))).await;
    app.admin_post(
        "/api/v1/subscribers",
        &json!({"email": "reader@example.test", "confirmed": true}),
    )
    .await
    .expect(201);
    let vpn = app.create_component("VPN").await;
    app.create_component("Mail").await;
    app.create_user("dana@acme.test", "Dana (IT Ops)", "admin", Some(PASSWORD))
        .await;
    let said = app
        .create_user("sam@acme.test", "Sam (Service desk)", "editor", None)
        .await;
    let password_link = said
        .lines()
        .find_map(|l| l.trim().strip_prefix(app.address.as_str()))
        .expect("a set-password link")
        .to_string();
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console-shots");
    let plan = json!({
        "password_link": password_link,
        "email": "dana@acme.test",
        "password": PASSWORD,
        "now": app.now().to_string(),
        "component": vpn,
        "shots": shots,
    });
    node("console.mjs", &[&app.address, &plan.to_string()]).await;
    let mails = mailbox.wait_for("reader@example.test", 4).await;
    let subjects: Vec<&str> = mails.iter().map(|m| m.subject.as_str()).collect();
    for (mail, lead) in
        subjects
            .iter()
            .zip(["[New]", "[ETA slipped]", "[Correction]", "[Resolved]"])
    {
        assert!(
            mail.starts_with(lead),
            "{lead} leads {mail:?} ({subjects:?})"
        );
    }
    assert_eq!(mails.len(), 4, "{subjects:?}");
}

/// The console's live parts in Chromium: the promised update counts down
/// and turns overdue at its second; an entry's deliveries go from pending
/// to sent on the open page, without a reload, when the worker sends them.
#[tokio::test]
async fn the_console_counts_down_and_shows_deliveries_as_they_move() {
    if !enabled() {
        return;
    }
    let mailbox = Mailbox::start();
    let url = mailbox.url();
    let app =
        TestApp::spawn_with(move |c| c.smtp_url = Some(candor::config::Secret::new(url))).await;
    app.admin_post(
        "/api/v1/subscribers",
        &json!({"email": "reader@example.test", "confirmed": true}),
    )
    .await
    .expect(201);
    app.create_user("dana@acme.test", "Dana (IT Ops)", "editor", Some(PASSWORD))
        .await;
    app.pause_worker();
    let smtp = app.create_component("Outbound SMTP").await;
    let incident = app.open_incident(&mail_incident(&smtp)).await;
    let next_update: jiff::Timestamp = incident["next_update_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let ready = app.db.dir.join("ready");
    let plan = json!({
        "email": "dana@acme.test",
        "password": PASSWORD,
        "incident": id_of(&incident),
        "entry": incident["entries"][0]["id"],
        "at": (next_update - jiff::SignedDuration::from_secs(2)).to_string(),
        "ready": ready,
    });
    let address = app.address.clone();
    let script = tokio::spawn(async move {
        node("console_live.mjs", &[&address, &plan.to_string()]).await;
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while !ready.exists() && !script.is_finished() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.drain_outbox().await;
    script.await.expect("the script passes");
    mailbox.wait_for("reader@example.test", 1).await;
}
