//! Who may write: the admin API wants a Bearer token; the page does not.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{candor_command, mail_incident, TestApp};

#[tokio::test]
async fn the_admin_api_refuses_a_missing_or_wrong_token() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let before = app.snapshot().await;
    let body = mail_incident(&smtp);

    let mut problems = Vec::new();
    let attempts: [(&str, Option<&str>); 5] = [
        ("no token", None),
        ("a wrong token", Some("Bearer not-the-token")),
        ("an empty token", Some("Bearer ")),
        ("the token without Bearer", Some("test-admin-token")),
        ("Basic auth", Some("Basic dGVzdDp0ZXN0LWFkbWluLXRva2Vu")),
    ];
    for (what, authorization) in attempts {
        for (method, path) in [
            (Method::GET, "/api/v1/components"),
            (Method::GET, "/api/v1/incidents?state=open"),
            (Method::POST, "/api/v1/incidents"),
            (Method::POST, "/api/v1/components"),
        ] {
            let mut request = app.raw(method.clone(), path).json(&body);
            if let Some(value) = authorization {
                request = request.header("Authorization", value);
            }
            let reply = request.send().await;
            if let Err(problem) = reply.check_error(401, "unauthorized", None) {
                problems.push(format!("{method} {path} with {what}: {problem}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "not refused as promised:\n{}",
        problems.join("\n")
    );
    assert_eq!(
        app.snapshot().await,
        before,
        "nothing is written without a token"
    );

    app.stop().await;
}

#[tokio::test]
async fn the_public_page_needs_no_token() {
    let app = TestApp::spawn().await;
    let (status, _) = app.page("/").await;
    assert_eq!(status, 200);
    let (status, _) = app.page("/history").await;
    assert_eq!(status, 200);
    app.stop().await;
}

#[tokio::test]
async fn a_token_made_on_the_command_line_works_until_revoked() {
    let app = TestApp::spawn().await;

    // `candor token create` against the same database the app is using.
    // Awaited, not blocking: Candor runs on this test's own runtime, and
    // a write of its (the scheduler's, say) must be able to finish while
    // the command waits for the database.
    let output = tokio::process::Command::from(candor_command(&app.db.dir, &app.db.url))
        .args(["token", "create", "ops-bot"])
        .output()
        .await
        .expect("run candor token create");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "candor token create failed: {}\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let secret = stdout
        .lines()
        .map(str::trim)
        .rev()
        .find(|l| !l.is_empty())
        .unwrap_or_default()
        .to_string();
    assert!(
        secret.starts_with("cnd_"),
        "the last line should be the secret; stdout: {stdout}"
    );
    assert!(
        secret.len() > 20,
        "a secret should be long enough to be secret: {secret}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains(&secret),
        "the secret goes to stdout only, not to the logs"
    );

    let reply = app
        .raw(Method::GET, "/api/v1/components")
        .token(&secret)
        .send()
        .await;
    assert_eq!(
        reply.status, 200,
        "the new token is accepted: {}",
        reply.text
    );
    let created = app
        .raw(Method::POST, "/api/v1/components")
        .token(&secret)
        .json(&json!({"name": "Made by ops-bot"}))
        .send()
        .await;
    assert_eq!(
        created.status, 201,
        "the new token may write: {}",
        created.text
    );

    // Awaited, not blocking: Candor runs on this test's own runtime, and
    // a write of its (the scheduler's, say) must be able to finish while
    // the command waits for the database.
    let output = tokio::process::Command::from(candor_command(&app.db.dir, &app.db.url))
        .args(["token", "revoke", "ops-bot"])
        .output()
        .await
        .expect("run candor token revoke");
    assert!(
        output.status.success(),
        "candor token revoke failed: {}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    app.raw(Method::GET, "/api/v1/components")
        .token(&secret)
        .send()
        .await
        .assert_error(401, "unauthorized", None);
    app.raw(Method::POST, "/api/v1/components")
        .token(&secret)
        .json(&json!({"name": "After revoking"}))
        .send()
        .await
        .assert_error(401, "unauthorized", None);
    let names: Vec<_> = app
        .components()
        .await
        .iter()
        .map(|c| c["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("Made by ops-bot")]);

    app.stop().await;
}
