//! What the mails say and how they are built: a missed update is said as
//! missed, a resolved incident shows no ETA, the sender carries the page's
//! name, and every mail is a proper MIME message with its charset.

use serde_json::json;

use crate::helpers::mailbox::{Mail, Mailbox};
use crate::helpers::{id_of, mail_incident, TestApp};

const READER: &str = "reader@example.test";
const OWNER: &str = "dana@acme.test";

async fn app_with(mailbox: &Mailbox, change: impl FnOnce(&mut candor::config::Config)) -> TestApp {
    let url = mailbox.url();
    TestApp::spawn_with(move |c| {
        c.smtp_url = Some(candor::config::Secret::new(url));
        change(c);
    })
    .await
}

/// The mail whose subject starts with `prefix`.
fn with_subject<'a>(mails: &'a [Mail], prefix: &str) -> &'a Mail {
    mails
        .iter()
        .find(|m| m.subject.starts_with(prefix))
        .unwrap_or_else(|| {
            let subjects: Vec<_> = mails.iter().map(|m| &m.subject).collect();
            panic!("no mail {prefix}…: {subjects:?}")
        })
}

#[tokio::test]
async fn the_overdue_mail_says_the_missed_time_as_missed() {
    let mailbox = Mailbox::start();
    let app = app_with(&mailbox, |c| c.overdue_grace = "15m".into()).await;
    app.add_confirmed(READER, &[]).await;
    let smtp = app.create_component("Outbound SMTP").await;
    app.open_mail_incident(&smtp).await; // next update by 10:30 CET
    mailbox.wait_for(READER, 1).await;

    app.advance_minutes(46); // 10:46 CET: past the promise and the grace
    app.run_scheduler().await;
    let mails = mailbox.wait_for(READER, 2).await;
    let overdue = with_subject(&mails, "[Overdue]");
    for body in [&overdue.text, &overdue.html] {
        assert!(
            body.contains("The update promised for 10:30 CET is late"),
            "{body}"
        );
        assert!(body.contains("Update overdue since 10:30 CET"), "{body}");
        assert!(
            !body.contains("Next update by"),
            "a time already missed is not a next update: {body}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn the_resolve_mail_says_when_it_ended_and_how_long_it_lasted_not_an_eta() {
    let mailbox = Mailbox::start();
    let app = app_with(&mailbox, |_| {}).await;
    app.add_confirmed(READER, &[]).await;
    let smtp = app.create_component("Outbound SMTP").await;
    let mut body = mail_incident(&smtp);
    body["eta"] = json!("2026-03-04T11:00:00Z"); // 12:00 CET
    let id = id_of(&app.open_incident(&body).await);
    app.advance_minutes(41);
    app.post_update(
        &id,
        &json!({"status": "resolved", "message": "Mail flows again."}),
    )
    .await;
    let mails = mailbox.wait_for(READER, 2).await;
    let resolved = with_subject(&mails, "[Resolved]");
    for body in [&resolved.text, &resolved.html] {
        assert!(
            body.contains("Resolved at 10:41 CET. It lasted 41 min, from 10:00 CET."),
            "{body}"
        );
        assert!(!body.contains("ETA"), "no ETA once resolved: {body}");
        assert!(!body.contains("12:00"), "no ETA once resolved: {body}");
    }
    // The mail before it still showed the ETA.
    assert!(with_subject(&mails, "[New]")
        .text
        .contains("ETA: 12:00 CET"));
    app.stop().await;
}

#[tokio::test]
async fn mail_comes_from_the_page_name_unless_mail_from_names_a_sender() {
    for (mail_from, expected) in [
        (None, "Acme IT <status@localhost>"),
        (Some("desk@acme.test"), "Acme IT <desk@acme.test>"),
        (
            Some("IT Service Desk <desk@acme.test>"),
            "IT Service Desk <desk@acme.test>",
        ),
    ] {
        let mailbox = Mailbox::start();
        let app = app_with(&mailbox, |c| {
            if let Some(from) = mail_from {
                c.mail_from = from.into();
            }
        })
        .await;
        app.add_confirmed(READER, &[]).await;
        let smtp = app.create_component("Outbound SMTP").await;
        app.open_mail_incident(&smtp).await;
        let reply = app
            .client
            .post(format!("{}/subscribe", app.address))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("email=new%40example.test")
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status().as_u16(), 200);
        let update = &mailbox.wait_for(READER, 1).await[0];
        let confirm = &mailbox.wait_for("new@example.test", 1).await[0];
        for mail in [update, confirm] {
            assert_eq!(mail.header("From"), Some(expected), "{mail_from:?}");
        }
        app.stop().await;
    }
}

/// MIME-Version 1.0, a Content-Type at the top, and every text part with
/// its charset (UTF-8), so no reader's mail program has to guess.
fn assert_proper_mime(mail: &Mail) {
    let raw = mail.raw();
    assert_eq!(
        mail.header("MIME-Version"),
        Some("1.0"),
        "{}: {raw}",
        mail.subject
    );
    assert!(
        mail.header("Content-Type").is_some(),
        "{}: {raw}",
        mail.subject
    );
    let types: Vec<String> = raw
        .lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("content-type:"))
        .map(str::to_ascii_lowercase)
        .collect();
    let text: Vec<&String> = types.iter().filter(|t| t.contains("text/")).collect();
    assert!(!text.is_empty(), "{}: no text part: {raw}", mail.subject);
    for part in text {
        assert!(
            part.contains("charset=utf-8"),
            "{}: {part} without its charset",
            mail.subject
        );
    }
}

#[tokio::test]
async fn every_mail_is_a_proper_mime_message_with_its_charset() {
    let mailbox = Mailbox::start();
    let app = app_with(&mailbox, |c| {
        c.overdue_grace = "15m".into();
        c.page_name = "Acme IT — Zürich".into();
    })
    .await;
    app.add_confirmed(READER, &[]).await;
    let smtp = app.create_component("Outbound SMTP").await;
    // A confirmation mail.
    let reply = app
        .client
        .post(format!("{}/subscribe", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=new%40example.test")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 200);
    // An entry's mail, a component's, Candor's own notice and the owner's
    // reminders.
    app.open_mail_incident(&smtp).await;
    app.set_component_status(&smtp, "major_outage").await;
    app.advance_minutes(46);
    app.run_scheduler().await;

    let mut mails = mailbox.wait_for(READER, 3).await;
    mails.extend(mailbox.wait_for("new@example.test", 1).await);
    mails.extend(mailbox.wait_for(OWNER, 2).await);
    for prefix in [
        "[New]",
        "[Worse]",
        "[Overdue]",
        "Confirm",
        "[Update overdue]",
        "[Still overdue]",
    ] {
        assert_proper_mime(with_subject(&mails, prefix));
    }
    app.stop().await;
}
