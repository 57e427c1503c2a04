//! Real clients against Candor, in CI: the npm Statuspage widget and
//! Candor's `embed.js` in headless Chromium on another origin, and the npm
//! `statuspage.io` client (tests/browser/). They need Node, Debian's
//! `chromium` and `npm ci` in tests/browser, so they run only with
//! `CANDOR_BROWSER=1`.

use std::{path::Path, time::Duration};

use serde_json::json;

use crate::helpers::TestApp;

fn enabled() -> bool {
    let on = std::env::var("CANDOR_BROWSER").is_ok_and(|v| v == "1");
    if !on {
        eprintln!("skipped: set CANDOR_BROWSER=1 to run the browser and client tests");
    }
    on
}

/// Runs `node tests/browser/<script> <url>` and fails with its output
/// unless it exits 0.
async fn node(script: &str, url: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "run `npm ci` in {} first",
        dir.display()
    );
    let run = tokio::process::Command::new("node")
        .arg(script)
        .arg(url)
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
        "node {script} {url} failed ({}):\n{stdout}\n{stderr}",
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
    app
}

#[tokio::test]
async fn the_statuspage_widget_and_embed_js_render_on_another_site() {
    if !enabled() {
        return;
    }
    let app = with_an_open_incident().await;
    node("widget.mjs", &app.address).await;
    app.stop().await;
}

#[tokio::test]
async fn the_statuspage_io_client_reads_every_path_it_knows() {
    if !enabled() {
        return;
    }
    let app = with_an_open_incident().await;
    node("client.mjs", &app.address).await;
    app.stop().await;
}
