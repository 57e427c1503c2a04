//! The admins' console pages: components (added, grouped, ordered, a status
//! set by hand with its reason mailed to subscribers), subscribers (found,
//! added, removed; a webhook's secret shown once), the audit log of every
//! write; and none of them for editors.

use serde_json::json;

use crate::helpers::mailbox::Mailbox;
use crate::helpers::{TestApp, PASSWORD};

const READER: &str = "reader@example.test";

async fn admin(app: &TestApp) -> crate::helpers::Browser<'_> {
    app.create_user(
        "sam@acme.test",
        "Sam (Service desk)",
        "admin",
        Some(PASSWORD),
    )
    .await;
    app.logged_in("sam@acme.test").await
}

#[tokio::test]
async fn editors_reach_none_of_the_admins_pages() {
    let app = TestApp::spawn().await;
    let vpn = app.create_component("VPN").await;
    let mut dana = app.editor().await;
    for path in [
        "/admin/components",
        "/admin/subscribers",
        "/admin/audit",
        "/admin/users",
    ] {
        assert_eq!(dana.get(path).await.status, 403, "{path}");
    }
    let csrf = {
        let page = dana.get("/admin").await;
        crate::helpers::form_fields(&page.html, "/admin/logout", None)
            .into_iter()
            .find(|(k, _)| k == "csrf")
            .unwrap()
            .1
    };
    let page = dana
        .post(
            &format!("/admin/components/{vpn}/status"),
            &[("csrf", &csrf), ("status", "major_outage"), ("reason", "x")],
        )
        .await;
    assert_eq!(page.status, 403);
    assert_eq!(app.component(&vpn).await["status"], "operational");
}

#[tokio::test]
async fn admins_add_group_order_and_set_components_with_a_reason_that_is_mailed() {
    let mailbox = Mailbox::start();
    let url = mailbox.url();
    let app =
        TestApp::spawn_with(move |c| c.smtp_url = Some(candor::config::Secret::new(url))).await;
    app.admin_post(
        "/api/v1/subscribers",
        &json!({"email": READER, "confirmed": true}),
    )
    .await
    .expect(201);
    let mut sam = admin(&app).await;

    let added = sam
        .submit(
            "/admin/components",
            "/admin/components",
            &[("name", "Network"), ("position", "1")],
        )
        .await;
    assert_eq!(added.redirect(), "/admin/components?done=added");
    let network = app.components().await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    sam.submit(
        "/admin/components",
        "/admin/components",
        &[
            ("name", "VPN"),
            ("description", "Remote access"),
            ("group", &network),
            ("position", "2"),
        ],
    )
    .await
    .redirect();
    let vpn = app
        .components()
        .await
        .into_iter()
        .find(|c| c["name"] == "VPN")
        .unwrap();
    assert_eq!(vpn["group_id"], network.as_str());
    let vpn = vpn["id"].as_str().unwrap().to_string();

    // A name left empty is refused next to its form.
    let refused = sam
        .submit(
            "/admin/components",
            &format!("/admin/components/{vpn}"),
            &[("name", "")],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused
            .text()
            .contains("Not saved: name: must not be empty."),
        "{}",
        refused.text()
    );
    sam.submit(
        "/admin/components",
        &format!("/admin/components/{vpn}"),
        &[("name", "VPN gateway")],
    )
    .await
    .redirect();
    assert_eq!(app.component(&vpn).await["name"], "VPN gateway");

    // A status by hand needs a reason, and its subscribers get it.
    let status = format!("/admin/components/{vpn}/status");
    let no_reason = sam
        .submit(
            "/admin/components",
            &status,
            &[("status", "major_outage"), ("reason", "")],
        )
        .await;
    assert_eq!(no_reason.status, 422);
    let same = sam
        .submit(
            "/admin/components",
            &status,
            &[("status", "operational"), ("reason", "Checked")],
        )
        .await;
    assert_eq!(same.status, 422);
    assert!(
        same.text().contains("is operational already"),
        "{}",
        same.text()
    );
    let set = sam
        .submit(
            "/admin/components",
            &status,
            &[
                ("status", "major_outage"),
                ("reason", "The Berlin gateway lost power."),
            ],
        )
        .await;
    assert_eq!(set.redirect(), "/admin/components?done=status");
    assert_eq!(app.component(&vpn).await["status"], "major_outage");
    let mail = &mailbox.wait_for(READER, 1).await[0];
    assert!(
        mail.subject.starts_with("[Worse] VPN gateway"),
        "{}",
        mail.subject
    );
    assert!(
        mail.text.contains("Why: The Berlin gateway lost power."),
        "{}",
        mail.text
    );
    assert!(app.page_text("/").await.contains("VPN gateway"));
}

#[tokio::test]
async fn admins_find_add_and_remove_subscribers() {
    let app = TestApp::spawn_with(|c| c.webhook_allow_private = false).await;
    let mut sam = admin(&app).await;
    let added = sam
        .submit(
            "/admin/subscribers",
            "/admin/subscribers",
            &[("address", "ops@example.test"), ("confirmed", "on")],
        )
        .await;
    assert_eq!(added.redirect(), "/admin/subscribers?done=added");
    sam.submit(
        "/admin/subscribers",
        "/admin/subscribers",
        &[("address", "other@example.test")],
    )
    .await
    .redirect();
    let bad = sam
        .submit(
            "/admin/subscribers",
            "/admin/subscribers",
            &[("address", "not an address")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(
        bad.text()
            .contains("Not added: the address is not a valid email address."),
        "{}",
        bad.text()
    );
    // A webhook to this machine is refused when it is added.
    let local = sam
        .submit(
            "/admin/subscribers",
            "/admin/subscribers",
            &[("kind", "webhook"), ("address", "http://127.0.0.1:9/hook")],
        )
        .await;
    assert_eq!(local.status, 422, "{}", local.text());

    let found = sam.get("/admin/subscribers?q=OPS").await.text();
    assert!(
        found.contains("ops@example.test Email Confirmed All"),
        "{found}"
    );
    assert!(!found.contains("other@example.test"), "{found}");
    let subscribers = app
        .admin_get("/api/v1/subscribers?address=ops")
        .await
        .expect(200);
    let id = subscribers["items"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(subscribers["items"].as_array().unwrap().len(), 1);

    let removed = sam
        .submit(
            "/admin/subscribers?q=ops",
            &format!("/admin/subscribers/{id}/remove"),
            &[],
        )
        .await;
    assert_eq!(removed.redirect(), "/admin/subscribers?done=removed");
    let one = app
        .admin_get(&format!("/api/v1/subscribers/{id}"))
        .await
        .expect(200);
    assert_eq!(one["state"], "unsubscribed");
}

#[tokio::test]
async fn a_webhooks_secret_is_shown_once_when_it_is_added() {
    let app = TestApp::spawn_with(|c| c.webhook_allow_private = true).await;
    let mut sam = admin(&app).await;
    let added = sam
        .submit(
            "/admin/subscribers",
            "/admin/subscribers",
            &[("kind", "webhook"), ("address", "http://127.0.0.1:9/hook")],
        )
        .await;
    assert_eq!(added.status, 200, "{}", added.text());
    let text = added.text();
    assert!(text.contains("signing secret, shown this once"), "{text}");
    assert!(text.contains("whsec_"), "{text}");
    let again = sam.get("/admin/subscribers").await.text();
    assert!(again.contains("http://127.0.0.1:9/hook Webhook"), "{again}");
    assert!(!again.contains("whsec_"), "shown once only: {again}");
}

#[tokio::test]
async fn the_audit_log_says_who_did_what_from_where() {
    let app = TestApp::spawn().await;
    let mut dana = app.editor().await;
    dana.submit(
        "/admin/incidents/new",
        "/admin/incidents",
        &[("title", "VPN down")],
    )
    .await
    .redirect();
    let mut sam = admin(&app).await;
    let text = sam.get("/admin/audit").await.text();
    for words in [
        "Dana (IT Ops) 127.0.0.1 incident.open",
        "Dana (IT Ops) 127.0.0.1 user.login",
        "cli — user.create dana@acme.test",
    ] {
        assert!(text.contains(words), "{words:?} in {text}");
    }
}

#[tokio::test]
async fn admins_make_and_revoke_api_tokens_whose_secret_is_shown_once() {
    let app = TestApp::spawn().await;
    let mut sam = admin(&app).await;
    let made = sam
        .submit(
            "/admin/tokens",
            "/admin/tokens",
            &[("name", "deploy script")],
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.text());
    let text = made.text();
    let secret = text
        .split_whitespace()
        .find(|w| w.starts_with("cnd_"))
        .unwrap_or_else(|| panic!("a secret in {text}"))
        .to_string();
    assert!(text.contains("deploy script everything"), "{text}");
    // On a phone the table has no header row: each value says what it is.
    let row = scraper::Html::parse_document(&made.html);
    let labels: Vec<&str> = row
        .select(&scraper::Selector::parse("table.board td[data-label]").unwrap())
        .filter_map(|td| td.value().attr("data-label"))
        .collect();
    assert_eq!(labels, ["May", "Speaks for", "Made", "Last used"]);
    assert!(
        !sam.get("/admin/tokens").await.text().contains(&secret),
        "shown once only"
    );
    app.raw(reqwest::Method::GET, "/api/v1/components")
        .token(&secret)
        .send()
        .await
        .expect(200);

    let twice = sam
        .submit(
            "/admin/tokens",
            "/admin/tokens",
            &[("name", "deploy script")],
        )
        .await;
    assert_eq!(twice.status, 422);
    assert!(twice.text().contains("exists already"), "{}", twice.text());
    let blank = sam
        .submit("/admin/tokens", "/admin/tokens", &[("name", " ")])
        .await;
    assert_eq!(blank.status, 422);

    // A token for the monitoring may post alerts and nothing else.
    let alerts = sam
        .submit(
            "/admin/tokens",
            "/admin/tokens",
            &[("name", "alertmanager"), ("scope", "alerts")],
        )
        .await;
    let alerts_secret = alerts
        .text()
        .split_whitespace()
        .find(|w| w.starts_with("cnd_"))
        .unwrap()
        .to_string();
    assert_eq!(
        app.raw(reqwest::Method::GET, "/api/v1/components")
            .token(&alerts_secret)
            .send()
            .await
            .status,
        403
    );

    // A token for a Statuspage script names the owner of what it opens.
    let scripted = sam
        .submit(
            "/admin/tokens",
            "/admin/tokens",
            &[
                ("name", "old statuspage script"),
                ("owner", "Dana (IT Ops) <dana@acme.test>"),
            ],
        )
        .await;
    assert_eq!(scripted.status, 200, "{}", scripted.text());
    assert!(
        scripted
            .text()
            .contains("old statuspage script everything Dana (IT Ops) <dana@acme.test>"),
        "{}",
        scripted.text()
    );
    let no_mailbox = sam
        .submit(
            "/admin/tokens",
            "/admin/tokens",
            &[("name", "another script"), ("owner", "Dana")],
        )
        .await;
    assert_eq!(no_mailbox.status, 422);
    assert!(
        no_mailbox.text().contains("Not made: owner:"),
        "{}",
        no_mailbox.text()
    );

    let revoked = sam
        .submit_with(
            "/admin/tokens",
            "/admin/tokens/revoke",
            ("name", "deploy script"),
            &[],
        )
        .await;
    assert_eq!(revoked.redirect(), "/admin/tokens?done=revoked");
    assert_eq!(
        app.raw(reqwest::Method::GET, "/api/v1/components")
            .token(&secret)
            .send()
            .await
            .status,
        401
    );
    let audit = sam.get("/admin/audit").await.text();
    assert!(
        audit.contains("Sam (Service desk) 127.0.0.1 token.revoke deploy script"),
        "{audit}"
    );
    assert!(
        audit.contains("Sam (Service desk) 127.0.0.1 token.create alertmanager"),
        "{audit}"
    );
}
