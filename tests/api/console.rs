//! The staff console as staff use it in a browser: accounts made with
//! `candor user`, logging in and out, what each role may reach, forms that
//! no other site can send, and an incident's whole life posted from forms
//! (filled in as a browser fills them) on the same rules as the API, with
//! a real SMTP server receiving what subscribers are sent.

use serde_json::json;

use crate::helpers::mailbox::Mailbox;
use crate::helpers::{classes, entries, form_fields, id_of, TestApp, PASSWORD};

const READER: &str = "reader@example.test";
const SAME_ANSWER: &str = "That address and password do not match an account that can log in";

async fn app_with_mail(mailbox: &Mailbox) -> TestApp {
    let url = mailbox.url();
    let app =
        TestApp::spawn_with(move |c| c.smtp_url = Some(candor::config::Secret::new(url))).await;
    app.admin_post(
        "/api/v1/subscribers",
        &json!({"email": READER, "confirmed": true}),
    )
    .await
    .expect(201);
    app
}

/// The path of the incident a post was redirected to, and its id.
fn incident_of(location: &str) -> (String, String) {
    let path = location.split(['?', '#']).next().unwrap().to_string();
    let id = path.trim_start_matches("/admin/incidents/").to_string();
    (path, id)
}

#[tokio::test]
async fn staff_log_in_and_out_and_a_logged_out_session_is_dead() {
    let app = TestApp::spawn().await;
    app.create_user("Dana@Acme.test", "Dana (IT Ops)", "editor", Some(PASSWORD))
        .await;
    let mut browser = app.browser();

    let page = browser.get("/admin/incidents/new").await;
    assert_eq!(
        page.redirect(),
        "/admin/login?next=%2Fadmin%2Fincidents%2Fnew"
    );

    // A wrong password and an address with no account get one answer.
    let wrong = browser.log_in("dana@acme.test", "not the password").await;
    let unknown = browser.log_in("nobody@acme.test", PASSWORD).await;
    for page in [&wrong, &unknown] {
        assert_eq!(page.status, 401);
        assert!(page.text().contains(SAME_ANSWER), "{}", page.text());
    }
    assert_eq!(browser.cookie("candor_session"), None);

    // The address in any case; back to where they were going.
    let page = browser
        .submit(
            "/admin/login?next=%2Fadmin%2Fincidents%2Fnew",
            "/admin/login",
            &[("email", "DANA@acme.test"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.redirect(), "/admin/incidents/new");
    let cookie = page
        .set_cookies
        .iter()
        .find(|c| c.starts_with("candor_session="))
        .expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/admin"] {
        assert!(cookie.contains(flag), "{flag} in {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "the page is served over http: {cookie}"
    );
    let dashboard = browser.get("/admin").await;
    assert_eq!(dashboard.status, 200);
    assert!(
        dashboard.text().contains("Dana (IT Ops) · Editor"),
        "{}",
        dashboard.text()
    );

    // Logging out ends the session on the server: its cookie is dead.
    let session = browser.cookie("candor_session").unwrap().to_string();
    let out = browser.submit("/admin", "/admin/logout", &[]).await;
    assert_eq!(out.redirect(), "/admin/login?done=out");
    assert_eq!(browser.cookie("candor_session"), None);
    browser.set_cookie("candor_session", &session);
    assert_eq!(
        browser.get("/admin").await.redirect(),
        "/admin/login?next=%2Fadmin"
    );
    // A login page never sends anyone off the console.
    let page = browser
        .submit(
            "/admin/login?next=https%3A%2F%2Fevil.example",
            "/admin/login",
            &[("email", "dana@acme.test"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.redirect(), "/admin");
}

#[tokio::test]
async fn on_https_the_session_cookie_is_secure() {
    let app = TestApp::spawn_with(|c| c.base_url = Some("https://status.acme.test".into())).await;
    app.create_user("dana@acme.test", "Dana (IT Ops)", "editor", Some(PASSWORD))
        .await;
    let mut browser = app.browser();
    let page = browser.log_in("dana@acme.test", PASSWORD).await;
    let cookie = page
        .set_cookies
        .iter()
        .find(|c| c.starts_with("candor_session="))
        .expect("a session cookie");
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[tokio::test]
async fn forms_without_their_token_or_from_another_site_post_nothing() {
    let app = TestApp::spawn().await;
    let mut dana = app.editor().await;
    let form = dana.get("/admin/incidents/new").await;
    let mut fields = form_fields(&form.html, "/admin/incidents", None);
    fields.retain(|(name, _)| name != "csrf");
    fields.push(("title".into(), "VPN down".into()));
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();

    let without = dana.post("/admin/incidents", &fields).await;
    assert_eq!(without.status, 403);
    assert!(
        without.text().contains("Nothing was posted"),
        "{}",
        without.text()
    );
    let mut wrong = fields.clone();
    wrong.push(("csrf", "cnd_not_this_sessions_token"));
    assert_eq!(dana.post("/admin/incidents", &wrong).await.status, 403);

    // The right token, sent by a page on another site.
    let mut forged = app
        .logged_in("dana@acme.test")
        .await
        .with_header("Sec-Fetch-Site", "cross-site");
    let page = forged
        .submit(
            "/admin/incidents/new",
            "/admin/incidents",
            &[("title", "VPN down")],
        )
        .await;
    assert_eq!(page.status, 403);

    // A login form sent without the cookie its page set.
    let mut stranger = app.browser();
    let page = stranger
        .post(
            "/admin/login",
            &[
                ("csrf", "cnd_x"),
                ("email", "dana@acme.test"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(page.status, 403);
    assert_eq!(stranger.cookie("candor_session"), None);

    assert!(app.incidents("all").await.is_empty(), "nothing was posted");
}

#[tokio::test]
async fn editors_post_but_only_admins_reach_admin_pages() {
    let app = TestApp::spawn().await;
    let mut dana = app.editor().await;
    let page = dana.get("/admin/users").await;
    assert_eq!(page.status, 403);
    assert!(
        page.text().contains("Only admins can open this page"),
        "{}",
        page.text()
    );
    assert!(!dana
        .get("/admin")
        .await
        .html
        .contains("href=\"/admin/users\""));
    assert_eq!(dana.get("/admin/incidents/new").await.status, 200);

    app.create_user(
        "sam@acme.test",
        "Sam (Service desk)",
        "admin",
        Some(PASSWORD),
    )
    .await;
    let mut sam = app.logged_in("sam@acme.test").await;
    let page = sam.get("/admin/users").await;
    assert_eq!(page.status, 200);
    let text = page.text();
    assert!(
        text.contains("Dana (IT Ops) dana@acme.test Editor Can log in"),
        "{text}"
    );
    assert!(
        text.contains("Sam (Service desk) sam@acme.test Admin Can log in"),
        "{text}"
    );
}

#[tokio::test]
async fn a_disabled_user_is_out_at_once() {
    let app = TestApp::spawn().await;
    let mut dana = app.editor().await;
    assert_eq!(dana.get("/admin").await.status, 200);

    let (ok, said) = app.user_command(&["disable", "dana@acme.test"]).await;
    assert!(ok, "{said}");
    assert_eq!(
        dana.get("/admin").await.redirect(),
        "/admin/login?next=%2Fadmin"
    );
    let again = dana.log_in("dana@acme.test", PASSWORD).await;
    assert_eq!(again.status, 401);
    assert!(again.text().contains(SAME_ANSWER));

    let (ok, said) = app.user_command(&["disable", "nobody@acme.test"]).await;
    assert!(!ok);
    assert!(said.contains("there is no user nobody@acme.test"), "{said}");
    // One address, one account.
    let (ok, said) = app
        .user_command(&["create", "dana@acme.test", "--name", "Dana again"])
        .await;
    assert!(!ok);
    assert!(
        said.contains("there is a user with the address dana@acme.test already"),
        "{said}"
    );
}

#[tokio::test]
async fn login_attempts_are_limited_per_network() {
    let app = TestApp::spawn_with(|c| {
        c.login_limit_per_ip = "3/1m".into();
        c.login_limit_per_address = "off".into();
    })
    .await;
    app.create_user("dana@acme.test", "Dana (IT Ops)", "editor", Some(PASSWORD))
        .await;
    let mut browser = app.browser();
    for _ in 0..3 {
        assert_eq!(browser.log_in("dana@acme.test", "guess").await.status, 401);
    }
    let refused = browser.log_in("dana@acme.test", PASSWORD).await;
    assert_eq!(refused.status, 429, "{}", refused.text());
    assert!(refused
        .text()
        .contains("Too many login attempts just now. Try again in 1 minute."));
    assert_eq!(browser.cookie("candor_session"), None);

    app.advance_minutes(1);
    assert_eq!(
        browser.log_in("dana@acme.test", PASSWORD).await.redirect(),
        "/admin"
    );
}

#[tokio::test]
async fn login_attempts_are_limited_per_account_whoever_tries() {
    let app = TestApp::spawn_with(|c| {
        c.login_limit_per_ip = "off".into();
        c.login_limit_per_address = "2/10m".into();
    })
    .await;
    app.create_user("dana@acme.test", "Dana (IT Ops)", "editor", Some(PASSWORD))
        .await;
    app.create_user("sam@acme.test", "Sam", "editor", Some(PASSWORD))
        .await;
    let mut browser = app.browser();
    for _ in 0..2 {
        assert_eq!(browser.log_in("dana@acme.test", "guess").await.status, 401);
    }
    assert_eq!(browser.log_in("Dana@acme.test", PASSWORD).await.status, 429);
    // Another account is not held back.
    assert_eq!(
        app.browser()
            .log_in("sam@acme.test", PASSWORD)
            .await
            .redirect(),
        "/admin"
    );
}

#[tokio::test]
async fn a_user_without_a_password_sets_it_through_a_one_time_link() {
    let app = TestApp::spawn().await;
    let said = app
        .create_user("sam@acme.test", "Sam (Service desk)", "editor", None)
        .await;
    let link = said
        .lines()
        .find(|l| l.contains("/admin/set-password?token="))
        .unwrap_or_else(|| panic!("a link in: {said}"));
    let path = link.trim().trim_start_matches(&app.address).to_string();
    let mut browser = app.browser();
    // No password yet: no way in.
    assert_eq!(browser.log_in("sam@acme.test", "").await.status, 401);

    let page = browser.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(
        page.text()
            .contains("For Sam (Service desk) (sam@acme.test), editor."),
        "{}",
        page.text()
    );
    let short = browser
        .submit(
            &path,
            "/admin/set-password",
            &[("password", "short"), ("again", "short")],
        )
        .await;
    assert_eq!(short.status, 422);
    assert!(short
        .text()
        .contains("The password must be at least 12 characters long."));
    let differ = browser
        .submit(
            &path,
            "/admin/set-password",
            &[("password", PASSWORD), ("again", "correct horse")],
        )
        .await;
    assert_eq!(differ.status, 422);
    assert!(differ.text().contains("The two passwords differ."));
    let set = browser
        .submit(
            &path,
            "/admin/set-password",
            &[("password", PASSWORD), ("again", PASSWORD)],
        )
        .await;
    assert_eq!(set.redirect(), "/admin/login?done=password");

    // Used once, the link is spent.
    let spent = browser.get(&path).await;
    assert_eq!(spent.status, 400);
    assert!(
        spent.text().contains("was used already"),
        "{}",
        spent.text()
    );
    assert_eq!(
        browser.log_in("sam@acme.test", PASSWORD).await.redirect(),
        "/admin"
    );
}

#[tokio::test]
async fn an_incident_opens_from_one_form_and_one_submit() {
    let mailbox = Mailbox::start();
    let app = app_with_mail(&mailbox).await;
    let vpn = app.create_component("VPN").await;
    let mut dana = app.editor().await;

    let posted = dana
        .submit(
            "/admin/incidents/new",
            "/admin/incidents",
            &[
                ("title", "VPN down"),
                (&format!("component.{vpn}"), "major_outage"),
            ],
        )
        .await;
    let (path, id) = incident_of(posted.redirect());
    let page = dana.get(posted.redirect()).await;
    assert!(page.text().contains("Posted as “New”."), "{}", page.text());
    assert_eq!(path, format!("/admin/incidents/{id}"));

    let incident = app.incident(&id).await;
    assert_eq!(
        incident["owner"],
        json!({"name": "Dana (IT Ops)", "email": "dana@acme.test"})
    );
    assert_eq!(incident["cause"], json!(null));
    assert_eq!(incident["eta"], json!(null));
    assert_eq!(incident["impact"], "minor");
    assert_eq!(incident["next_update_at"], "2026-03-04T09:30:00Z");
    assert_eq!(entries(&incident)[0]["author"], "Dana (IT Ops)");
    assert_eq!(app.component(&vpn).await["status"], "major_outage");

    let public = app.page_text(&format!("/incidents/{id}")).await;
    for words in [
        "VPN down",
        "by Dana (IT Ops)",
        "Cause: not yet known",
        "10:30 CET",
        "We are aware of a problem: VPN down.",
    ] {
        assert!(public.contains(words), "{words:?} in {public}");
    }
    let mail = &mailbox.wait_for(READER, 1).await[0];
    assert!(mail.subject.contains("VPN down"), "{}", mail.subject);
}

#[tokio::test]
async fn the_open_form_says_what_is_missing_next_to_each_field_and_keeps_what_was_typed() {
    let app = TestApp::spawn().await;
    let mut dana = app.editor().await;
    let page = dana
        .submit(
            "/admin/incidents/new",
            "/admin/incidents",
            &[
                ("title", ""),
                ("next_update", ""),
                ("cause", "Expired certificate"),
            ],
        )
        .await;
    assert_eq!(page.status, 422);
    let text = page.text();
    assert!(
        text.contains("The incident was not posted. 2 things to fix:"),
        "{text}"
    );
    assert!(text.contains("Title: Must not be empty."), "{text}");
    assert!(
        text.contains("Next update: Say when the next update will come"),
        "{text}"
    );
    // Said next to the field too, and what was typed is still there.
    let fields = form_fields(&page.html, "/admin/incidents", None);
    assert!(
        fields.contains(&("cause".into(), "Expired certificate".into())),
        "{fields:?}"
    );
    assert!(page.html.contains("id=\"title-error\""));
    assert!(page
        .html
        .contains("aria-describedby=\"title-hint title-error\""));

    let past = dana
        .submit(
            "/admin/incidents/new",
            "/admin/incidents",
            &[("title", "VPN down"), ("eta", "2026-03-04T09:30")],
        )
        .await;
    assert_eq!(past.status, 422);
    assert!(
        past.text().contains("ETA: Must be in the future"),
        "{}",
        past.text()
    );
    assert!(app.incidents("all").await.is_empty(), "nothing was posted");
}

#[tokio::test]
async fn a_preview_shows_the_class_the_entry_and_the_subject_and_posts_nothing() {
    let mailbox = Mailbox::start();
    let app = app_with_mail(&mailbox).await;
    let mut dana = app.editor().await;
    let preview = dana
        .submit(
            "/admin/incidents/new",
            "/admin/incidents",
            &[("title", "VPN down"), ("action", "preview")],
        )
        .await;
    assert_eq!(preview.status, 200);
    let text = preview.text();
    assert!(
        text.contains("Preview: nothing is posted yet This will be sent as New."),
        "{text}"
    );
    assert!(
        text.contains("Mail subject: [New] VPN down — investigating, cause not yet known"),
        "{text}"
    );
    assert!(text.contains("Cause: not yet known"), "{text}");
    assert!(app.incidents("all").await.is_empty());

    let posted = dana
        .submit(
            "/admin/incidents/new",
            "/admin/incidents",
            &[("title", "VPN down"), ("eta", "2026-03-04T12:00")],
        )
        .await;
    let (path, id) = incident_of(posted.redirect());
    mailbox.wait_for(READER, 1).await;

    // A later ETA: the preview says it is bad news, before it is sent.
    let preview = dana
        .submit(
            &path,
            &format!("{path}/updates"),
            &[
                ("eta", "2026-03-04T14:00"),
                ("message", "The vendor needs longer."),
                ("action", "preview"),
            ],
        )
        .await;
    assert_eq!(preview.status, 200, "{}", preview.text());
    assert!(
        preview.text().contains("This will be sent as ETA slipped."),
        "{}",
        preview.text()
    );
    assert!(
        preview.text().contains("ETA now 14:00 CET (was 12:00)"),
        "{}",
        preview.text()
    );
    assert_eq!(
        entries(&app.incident(&id).await).len(),
        1,
        "a preview posts nothing"
    );

    let posted = dana
        .submit(
            &path,
            &format!("{path}/updates"),
            &[
                ("eta", "2026-03-04T14:00"),
                ("message", "The vendor needs longer."),
            ],
        )
        .await;
    assert!(posted.redirect().starts_with(&path));
    let latest = entries(&app.incident(&id).await)[0].clone();
    assert_eq!(classes(&latest)[0], "eta_slipped");
    let mails = mailbox.wait_for(READER, 2).await;
    assert!(
        mails[1].subject.starts_with("[ETA slipped]"),
        "{}",
        mails[1].subject
    );
}

#[tokio::test]
async fn an_update_keeps_what_was_not_touched_and_needs_a_message_and_a_promise() {
    let app = TestApp::spawn().await;
    let vpn = app.create_component("VPN").await;
    let mut dana = app.editor().await;
    let posted = dana
        .submit(
            "/admin/incidents/new",
            "/admin/incidents",
            &[
                ("title", "VPN down"),
                ("cause", "Expired certificate"),
                ("eta", "2026-03-04T12:00"),
                (&format!("component.{vpn}"), "partial_outage"),
            ],
        )
        .await;
    let (path, id) = incident_of(posted.redirect());

    let refused = dana
        .submit(
            &path,
            &format!("{path}/updates"),
            &[("next_update", ""), ("message", "")],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused
            .text()
            .contains("The update was not posted. 2 things to fix:"),
        "{}",
        refused.text()
    );
    let past = dana
        .submit(
            &path,
            &format!("{path}/updates"),
            &[
                ("next_update", "at"),
                ("next_update_at", "2026-03-04T09:00"),
                ("message", "Still on it."),
            ],
        )
        .await;
    assert_eq!(past.status, 422);
    assert!(
        past.text().contains("Next update: Must be in the future."),
        "{}",
        past.text()
    );
    assert_eq!(entries(&app.incident(&id).await).len(), 1);

    // Only the message typed: cause, ETA and components stay as they were.
    let posted = dana
        .submit(
            &path,
            &format!("{path}/updates"),
            &[("message", "Still on it."), ("next_update", "60")],
        )
        .await;
    assert!(posted.redirect().starts_with(&path));
    let incident = app.incident(&id).await;
    assert_eq!(incident["cause"], "Expired certificate");
    assert_eq!(incident["eta"], "2026-03-04T11:00:00Z");
    assert_eq!(incident["next_update_at"], "2026-03-04T10:00:00Z");
    assert_eq!(classes(&entries(&incident)[0]), ["update"]);
    assert_eq!(app.component(&vpn).await["status"], "partial_outage");
}

#[tokio::test]
async fn an_incident_lives_its_whole_life_in_the_console() {
    let mailbox = Mailbox::start();
    let app = app_with_mail(&mailbox).await;
    let vpn = app.create_component("VPN").await;
    let mut dana = app.editor().await;
    app.create_user(
        "sam@acme.test",
        "Sam (Service desk)",
        "editor",
        Some(PASSWORD),
    )
    .await;
    let posted = dana
        .submit(
            "/admin/incidents/new",
            "/admin/incidents",
            &[
                ("title", "VPN down"),
                (&format!("component.{vpn}"), "major_outage"),
            ],
        )
        .await;
    let (path, id) = incident_of(posted.redirect());
    let updates = format!("{path}/updates");
    let first_entry = id_of(&entries(&app.incident(&id).await)[0]);

    // The cause is found.
    dana.submit(
        &path,
        &updates,
        &[
            ("status", "identified"),
            ("cause", "Expired certificate"),
            ("message", "Renewing it."),
        ],
    )
    .await
    .redirect();
    // Handed over to Sam.
    let sam_id = {
        let page = dana.get(&path).await;
        let document = scraper::Html::parse_document(&page.html);
        let option = scraper::Selector::parse("#owner option").unwrap();
        document
            .select(&option)
            .find(|o| o.text().collect::<String>().contains("sam@acme.test"))
            .and_then(|o| o.attr("value").map(str::to_string))
            .expect("Sam among the owners")
    };
    dana.submit(
        &path,
        &updates,
        &[("owner", &sam_id), ("message", "Sam takes over.")],
    )
    .await
    .redirect();
    let incident = app.incident(&id).await;
    assert_eq!(incident["owner"]["name"], "Sam (Service desk)");
    assert!(classes(&entries(&incident)[0]).contains(&"owner_changed".to_string()));

    // Resolved, with the follow-up promised in two days.
    let page = dana
        .submit(
            &path,
            &format!("{path}/resolve"),
            &[
                ("message", "The new certificate is in place."),
                ("follow_up", "48"),
            ],
        )
        .await;
    page.redirect();
    let incident = app.incident(&id).await;
    assert_eq!(incident["status"], "resolved");
    assert_eq!(incident["follow_up_at"], "2026-03-06T09:00:00Z");
    assert_eq!(app.component(&vpn).await["status"], "operational");

    // The first entry is corrected: a new entry, the old one kept.
    dana.submit_with(
        &path,
        &format!("{path}/corrections"),
        ("corrects", &first_entry),
        &[
            (
                "message",
                "The first entry said the whole VPN was down; only the Berlin gateway was.",
            ),
            ("title", "VPN down in Berlin"),
        ],
    )
    .await
    .redirect();
    let incident = app.incident(&id).await;
    let correction = &entries(&incident)[0];
    assert_eq!(correction["corrects"], first_entry.as_str());
    assert_eq!(incident["title"], "VPN down in Berlin");
    let public = app.page_text(&format!("/incidents/{id}")).await;
    assert!(public.contains("Corrected by"), "{public}");

    // The follow-up.
    dana.submit(
        &path,
        &format!("{path}/postmortem"),
        &[(
            "message",
            "What happened: the certificate expired unnoticed. What changes: expiry alerts.",
        )],
    )
    .await
    .redirect();
    assert!(app.incident(&id).await["follow_up_posted_at"].is_string());

    // It breaks again: reopened from the same page.
    dana.submit(
        &path,
        &updates,
        &[
            ("status", "investigating"),
            ("message", "It is failing again."),
        ],
    )
    .await
    .redirect();
    let incident = app.incident(&id).await;
    assert_eq!(incident["status"], "investigating");
    assert_eq!(classes(&entries(&incident)[0])[0], "reopened");

    // Every entry reached the subscriber; each one's deliveries are shown.
    let mails = mailbox.wait_for(READER, 7).await;
    assert_eq!(mails.len(), 7);
    app.drain_outbox().await;
    let page = dana.get(&path).await;
    assert!(
        page.text().contains("Deliveries: 1 sent · 0 pending"),
        "{}",
        page.text()
    );
}

#[tokio::test]
async fn the_dashboard_counts_down_to_each_promise() {
    let app = TestApp::spawn().await;
    let mut dana = app.editor().await;
    let dashboard = dana.get("/admin").await;
    assert!(
        dashboard.text().contains("None open."),
        "{}",
        dashboard.text()
    );
    let posted = dana
        .submit(
            "/admin/incidents/new",
            "/admin/incidents",
            &[("title", "VPN down")],
        )
        .await;
    let (path, _) = incident_of(posted.redirect());

    let text = dana.get("/admin").await.text();
    assert!(
        text.contains(
            "VPN down Investigating · Minor impact Dana (IT Ops) next update due in 30 min"
        ),
        "{text}"
    );
    assert!(dana
        .get("/admin")
        .await
        .html
        .contains("data-due=\"2026-03-04T09:30:00Z\""));
    app.advance_minutes(31);
    let text = dana.get("/admin").await.text();
    assert!(
        text.contains("1 open incident is past the promised update. Post one now."),
        "{text}"
    );
    assert!(text.contains("update overdue by 1 min"), "{text}");
    assert!(dana
        .get(&path)
        .await
        .text()
        .contains("update overdue by 1 min"));

    // Resolved: the follow-up is owed.
    dana.submit(&path, &format!("{path}/resolve"), &[("message", "Fixed.")])
        .await
        .redirect();
    let text = dana.get("/admin").await.text();
    assert!(text.contains("Follow-up owed on VPN down"), "{text}");
}

#[tokio::test]
async fn the_owners_reminder_links_to_the_incidents_console_page() {
    let mailbox = Mailbox::start();
    let app = app_with_mail(&mailbox).await;
    let mut dana = app.editor().await;
    let posted = dana
        .submit(
            "/admin/incidents/new",
            "/admin/incidents",
            &[("title", "VPN down")],
        )
        .await;
    let (path, _) = incident_of(posted.redirect());
    app.advance_minutes(31);
    app.run_scheduler().await;
    let reminder = &mailbox.wait_for("dana@acme.test", 1).await[0];
    assert!(
        reminder.subject.starts_with("[Update overdue]"),
        "{}",
        reminder.subject
    );
    let link = format!("{}{path}", app.address);
    assert!(reminder.text.contains(&link), "{link} in {}", reminder.text);
}

#[tokio::test]
async fn resolve_correct_and_follow_up_forms_say_what_is_missing() {
    let app = TestApp::spawn().await;
    let mut dana = app.editor().await;
    let posted = dana
        .submit(
            "/admin/incidents/new",
            "/admin/incidents",
            &[("title", "VPN down")],
        )
        .await;
    let (path, id) = incident_of(posted.redirect());
    let first = id_of(&entries(&app.incident(&id).await)[0]);

    let resolve = dana
        .submit(
            &path,
            &format!("{path}/resolve"),
            &[("message", ""), ("follow_up", "0")],
        )
        .await;
    assert_eq!(resolve.status, 422);
    let text = resolve.text();
    assert!(
        text.contains("The resolution was not posted. 2 things to fix:"),
        "{text}"
    );
    assert!(
        text.contains("Follow-up: Choose when the follow-up will come."),
        "{text}"
    );

    let correct = dana
        .submit_with(
            &path,
            &format!("{path}/corrections"),
            ("corrects", &first),
            &[("message", " ")],
        )
        .await;
    assert_eq!(correct.status, 422);
    assert!(
        correct.text().contains(
            "The correction was not posted. One thing to fix: Message: Must not be empty."
        ),
        "{}",
        correct.text()
    );
    // The correction form that came back is the one under its entry, open.
    assert!(
        correct.html.contains("<details class=\"correct\" open>"),
        "the form is shown open"
    );

    // No follow-up before it is resolved: the rule's words, next to the form.
    let page = dana.get(&path).await;
    let csrf = form_fields(&page.html, &format!("{path}/updates"), None)
        .into_iter()
        .find(|(k, _)| k == "csrf")
        .unwrap()
        .1;
    let early = dana
        .post(
            &format!("{path}/postmortem"),
            &[("csrf", &csrf), ("message", "What happened.")],
        )
        .await;
    assert_eq!(early.status, 422);
    assert!(
        early.text().contains("The follow-up comes after resolving"),
        "{}",
        early.text()
    );
    assert_eq!(
        entries(&app.incident(&id).await).len(),
        1,
        "nothing was posted"
    );
}

#[tokio::test]
async fn an_entrys_failed_deliveries_are_listed_with_why() {
    let mailbox = Mailbox::start();
    let app = app_with_mail(&mailbox).await;
    app.add_confirmed("refuse@example.test", &[]).await;
    let mut dana = app.editor().await;
    let posted = dana
        .submit(
            "/admin/incidents/new",
            "/admin/incidents",
            &[("title", "VPN down")],
        )
        .await;
    let (path, _) = incident_of(posted.redirect());
    mailbox.wait_for(READER, 1).await;
    app.drain_outbox().await;
    let text = dana.get(&path).await.text();
    assert!(
        text.contains("Deliveries: 1 sent · 0 pending · 0 failed, retrying · 1 given up"),
        "{text}"
    );
    assert!(
        text.contains("Why they failed refuse@example.test — given up: "),
        "{text}"
    );
}
