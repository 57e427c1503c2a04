//! Subscribers and mail, against a real SMTP server over TCP: double opt-in,
//! component filters, bad news first in the subject, retries after the
//! server was down, and refusal of header injection.

use serde_json::json;

use crate::helpers::mailbox::{free_port, Mailbox};
use crate::helpers::{id_of, mail_incident, visible_text, TestApp};

async fn subscribe_form(app: &TestApp, body: &str) -> (u16, String) {
    let reply = app
        .client
        .post(format!("{}/subscribe", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string())
        .send()
        .await
        .expect("POST /subscribe");
    let status = reply.status().as_u16();
    (status, reply.text().await.unwrap())
}

#[tokio::test]
async fn subscribe_confirm_then_every_update_arrives() {
    let mailbox = Mailbox::start();
    let app = TestApp::spawn_with_smtp(&mailbox).await;
    let smtp = app.create_component("Outbound SMTP").await;

    let (status, page) = subscribe_form(&app, "email=reader%40example.test").await;
    assert_eq!(status, 200);
    assert!(visible_text(&page).contains("Check your inbox"), "{page}");
    // The same answer for an address that is already there: no enumeration.
    let (status, again) = subscribe_form(&app, "email=reader%40example.test").await;
    assert_eq!(status, 200);
    assert_eq!(visible_text(&again), visible_text(&page));

    let confirmations = mailbox.wait_for("reader@example.test", 1).await;
    assert!(
        confirmations[0].subject.starts_with("Confirm"),
        "{:?}",
        confirmations[0].subject
    );

    // Before the link is clicked, an incident sends nothing to the reader.
    let incident = app.open_mail_incident(&smtp).await;
    let id = id_of(&incident);
    app.drain_outbox().await;
    let before: Vec<String> = mailbox
        .mails_to("reader@example.test")
        .iter()
        .map(|m| m.subject.clone())
        .collect();
    assert!(
        before.iter().all(|s| s.starts_with("Confirm")),
        "{before:?}"
    );

    let link = confirmations[0].link(&format!("{}/subscribe/confirm?token=", app.address));
    let path = link.replacen(&app.address, "", 1);
    // Opening the link (as a mail scanner would) only shows a button.
    let (status, page) = app.page(&path).await;
    assert_eq!(status, 200, "{page}");
    assert!(visible_text(&page).contains("Confirm your subscription"));
    let list = app.admin_get("/api/v1/subscribers").await.expect(200);
    assert_eq!(list["items"][0]["state"], "pending");
    let reply = app.raw(reqwest::Method::POST, &path).send().await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(visible_text(&reply.text).contains("You are subscribed"));

    app.post_update(
        &id,
        &json!({"status": "identified", "cause": "Expired relay certificate",
                "next_update_in": 30, "message": "We found it."}),
    )
    .await;
    let mails = mailbox.wait_for("reader@example.test", 3).await;
    let update = mails.last().unwrap();
    assert_eq!(
        update.subject,
        "[Update] Delayed outbound email — cause identified: Expired relay certificate"
    );
    assert!(update.text.contains("We found it."));
    assert!(update.text.contains("Cause: Expired relay certificate"));
    assert!(update.text.contains("No ETA yet"));
    assert!(
        update.text.contains("Next update by 10:30 CET"),
        "{}",
        update.text
    );
    assert!(update
        .text
        .contains(&format!("{}/incidents/{id}", app.address)));
    assert!(!update.html.is_empty());
    let unsubscribe = update.header("List-Unsubscribe").expect("List-Unsubscribe");
    assert!(unsubscribe.starts_with(&format!("<{}/unsubscribe?token=", app.address)));
    assert_eq!(
        update.header("List-Unsubscribe-Post"),
        Some("List-Unsubscribe=One-Click")
    );
    assert!(update.header("Message-ID").is_some());

    // RFC 8058 one-click: a POST to that URL, then nothing more arrives.
    let url = unsubscribe.trim_matches(|c| c == '<' || c == '>');
    let reply = app
        .client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 200);
    app.post_update(
        &id,
        &json!({"next_update_in": 30, "message": "Still on it."}),
    )
    .await;
    app.drain_outbox().await;
    assert_eq!(mailbox.mails_to("reader@example.test").len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn a_component_choice_filters_what_arrives() {
    let mailbox = Mailbox::start();
    let app = TestApp::spawn_with_smtp(&mailbox).await;
    let mail = app.create_component("Email").await;
    let vpn = app.create_component("VPN").await;
    app.add_confirmed("mail-only@example.test", &[&mail]).await;
    app.add_confirmed("everything@example.test", &[]).await;

    let mut vpn_down = mail_incident(&vpn);
    vpn_down["title"] = json!("VPN down");
    app.open_incident(&vpn_down).await;
    mailbox.wait_for("everything@example.test", 1).await;
    app.open_mail_incident(&mail).await;
    mailbox.wait_for("everything@example.test", 2).await;
    let got = mailbox.wait_for("mail-only@example.test", 1).await;
    app.drain_outbox().await;
    let got_all = mailbox.mails_to("mail-only@example.test");
    assert_eq!(got_all.len(), 1, "{got_all:?}");
    assert!(got[0].subject.contains("Delayed outbound email"));
    app.stop().await;
}

#[tokio::test]
async fn lines_that_start_with_a_dot_arrive_whole_for_every_reader() {
    // SMTP ends a mail at a line holding only `.`, and takes a line's
    // first dot away: Candor doubles it on the way (each reader's copy,
    // the first built whole, the others filled in from it).
    let mailbox = Mailbox::start();
    let app = TestApp::spawn_with_smtp(&mailbox).await;
    let smtp = app.create_component("Outbound SMTP").await;
    let readers = ["ana@example.test", "bo@example.test", "cy@example.test"];
    for reader in readers {
        app.add_confirmed(reader, &[]).await;
    }
    let id = id_of(&app.open_mail_incident(&smtp).await);
    for reader in readers {
        mailbox.wait_for(reader, 1).await;
    }
    app.post_update(
        &id,
        &json!({"next_update_in": 30,
                "message": "Restarted in this order:\n.NET workers\n.\n..hidden queue\nDone."}),
    )
    .await;
    for reader in readers {
        let mails = mailbox.wait_for(reader, 2).await;
        let text = &mails[1].text.replace("\r\n", "\n");
        assert!(
            text.contains("order:\n.NET workers\n.\n..hidden queue\nDone."),
            "{reader}: {text}"
        );
        assert!(text.contains("Unsubscribe: "), "{text}");
    }
    app.stop().await;
}

#[tokio::test]
async fn bad_news_leads_the_subject() {
    let mailbox = Mailbox::start();
    let app = TestApp::spawn_with_smtp(&mailbox).await;
    let smtp = app.create_component("Outbound SMTP").await;
    app.add_confirmed("ops@example.test", &[]).await;
    let incident = app.open_mail_incident(&smtp).await;
    let id = id_of(&incident);
    let steps = [
        json!({"eta": "2026-03-04T13:00:00Z", "next_update_in": 30, "message": "ETA given."}),
        json!({"eta": "2026-03-04T15:00:00Z", "next_update_in": 30, "message": "Later."}),
        json!({"impact": "major", "next_update_in": 30, "message": "Worse than we thought."}),
        json!({"components": {smtp.clone(): "major_outage"}, "next_update_in": 30, "message": "Down."}),
        json!({"eta": null, "next_update_in": 30, "message": "We cannot say."}),
        json!({"status": "resolved", "message": "Fixed."}),
        json!({"status": "investigating", "next_update_in": 30, "message": "It is back."}),
    ];
    let mut entry_ids = Vec::new();
    for step in steps {
        entry_ids.push(id_of(&app.post_update(&id, &step).await));
    }
    app.correct(
        &id,
        &json!({"corrects": entry_ids[0], "message": "The cause was wrong.", "cause": "A DNS change"}),
    )
    .await;
    let mails = mailbox.wait_for("ops@example.test", 9).await;
    let subjects: Vec<&str> = mails.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(
        subjects,
        vec![
            "[New] Delayed outbound email — investigating, cause not yet known",
            "[Update] Delayed outbound email — ETA 14:00 CET",
            "[ETA slipped] Delayed outbound email — ETA now 16:00 CET (was 14:00)",
            "[Severity raised] Delayed outbound email — now major impact",
            "[Worse] Delayed outbound email — Outbound SMTP now major outage",
            "[ETA withdrawn] Delayed outbound email — no ETA for now",
            "[Resolved] Delayed outbound email — resolved at 10:00 CET",
            "[Reopened] Delayed outbound email — the problem is back",
            "[Correction] Delayed outbound email — the cause given earlier was wrong: A DNS change",
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn mail_posted_while_smtp_is_down_arrives_once_after_the_retry() {
    let mut mailbox = Mailbox::down(free_port());
    let app = TestApp::spawn_with_smtp(&mailbox).await;
    let smtp = app.create_component("Outbound SMTP").await;
    for n in 0..3 {
        app.add_confirmed(&format!("reader{n}@example.test"), &[])
            .await;
    }
    let incident = app.open_mail_incident(&smtp).await;
    let id = id_of(&incident);
    app.drain_outbox().await;

    let report = app.deliveries(&id).await;
    assert_eq!(report["totals"]["failed"], 3, "{report}");
    assert_eq!(report["totals"]["sent"], 0);
    let failure = &report["entries"][0]["failures"][0];
    assert!(
        failure["last_error"].as_str().unwrap().contains("SMTP"),
        "{failure}"
    );

    mailbox.up();
    // Not yet due: the first retry comes after 30 s.
    app.drain_outbox().await;
    assert_eq!(mailbox.mails().len(), 0);
    app.advance_minutes(1);
    app.drain_outbox().await;
    for n in 0..3 {
        mailbox
            .wait_for(&format!("reader{n}@example.test"), 1)
            .await;
    }
    app.advance_minutes(60);
    app.drain_outbox().await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // (An hour later the update is overdue, so other mail follows; count the entry's.)
    let news = mailbox
        .mails()
        .iter()
        .filter(|m| m.subject.starts_with("[New]"))
        .count();
    assert_eq!(news, 3, "each mail exactly once");
    let report = app.deliveries(&id).await;
    let opening = report["entries"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(opening["sent"], 3, "{report}");
    assert_eq!(opening["failed"], 0);
    assert_eq!(opening["pending"], 0);
    app.stop().await;
}

#[tokio::test]
async fn header_injection_and_bad_addresses_are_refused() {
    let mailbox = Mailbox::start();
    let app = TestApp::spawn_with_smtp(&mailbox).await;
    let (status, page) = subscribe_form(
        &app,
        "email=a%40example.test%0D%0ABcc%3A+victim%40example.test",
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        visible_text(&page).contains("not an email address"),
        "{page}"
    );
    let (status, _) = subscribe_form(&app, "email=not-an-address").await;
    assert_eq!(status, 422);
    let long = format!("email={}%40example.test", "a".repeat(400));
    assert_eq!(subscribe_form(&app, &long).await.0, 422);

    let smtp = app.create_component("Outbound SMTP").await;
    let mut evil = mail_incident(&smtp);
    evil["title"] = json!("Mail\r\nBcc: victim@example.test");
    app.admin_post("/api/v1/incidents", &evil)
        .await
        .assert_error(422, "invalid", Some("title"));
    let mut evil_owner = mail_incident(&smtp);
    evil_owner["owner"]["name"] = json!("Dana\r\nX-Evil: 1");
    app.admin_post("/api/v1/incidents", &evil_owner)
        .await
        .assert_error(422, "invalid", Some("owner.name"));
    app.admin_post(
        "/api/v1/subscribers",
        &json!({"email": "x@example.test\r\nBcc: y@example.test", "confirmed": true}),
    )
    .await
    .assert_error(422, "invalid", Some("email"));
    app.drain_outbox().await;
    assert_eq!(mailbox.mails().len(), 0);
    app.stop().await;
}

#[tokio::test]
async fn staff_list_add_and_remove_subscribers() {
    let mailbox = Mailbox::start();
    let app = TestApp::spawn_with_smtp(&mailbox).await;
    let added = app.add_confirmed("Ops@Example.test", &[]).await;
    assert_eq!(added["address"], "ops@example.test");
    assert_eq!(added["state"], "confirmed");
    app.admin_post(
        "/api/v1/subscribers",
        &json!({"email": "ops@example.test", "confirmed": true}),
    )
    .await
    .assert_error(409, "conflict", None);
    let pending = app
        .admin_post("/api/v1/subscribers", &json!({"email": "new@example.test"}))
        .await
        .expect(201);
    assert_eq!(pending["state"], "pending");
    mailbox.wait_for("new@example.test", 1).await;

    let list = app.admin_get("/api/v1/subscribers").await.expect(200);
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let removed = app
        .raw(
            reqwest::Method::DELETE,
            &format!("/api/v1/subscribers/{}", id_of(&added)),
        )
        .admin()
        .send()
        .await
        .expect(200);
    assert_eq!(removed["state"], "unsubscribed");
    let smtp = app.create_component("Outbound SMTP").await;
    app.open_mail_incident(&smtp).await;
    app.drain_outbox().await;
    assert_eq!(mailbox.mails_to("ops@example.test").len(), 0);
    app.stop().await;
}

#[tokio::test]
async fn a_component_status_set_by_staff_is_mailed_to_its_subscribers() {
    let mailbox = Mailbox::start();
    let app = TestApp::spawn_with_smtp(&mailbox).await;
    let mail = app.create_component("Email").await;
    let vpn = app.create_component("VPN").await;
    app.add_confirmed("vpn-only@example.test", &[&vpn]).await;
    app.add_confirmed("everything@example.test", &[]).await;

    app.set_component_status(&mail, "major_outage").await;
    let got = mailbox.wait_for("everything@example.test", 1).await;
    assert_eq!(got[0].subject, "[Worse] Email — now major outage");
    assert!(
        got[0].text.contains("it was operational"),
        "{}",
        got[0].text
    );
    app.set_component_status(&mail, "operational").await;
    let got = mailbox.wait_for("everything@example.test", 2).await;
    assert_eq!(got[1].subject, "[Update] Email — now operational");
    app.drain_outbox().await;
    assert!(mailbox.mails_to("vpn-only@example.test").is_empty());
    // A change that changes nothing tells nobody.
    app.set_component_status(&mail, "operational").await;
    app.drain_outbox().await;
    assert_eq!(mailbox.mails_to("everything@example.test").len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn the_manage_link_changes_the_component_choice_without_logging_in() {
    let mailbox = Mailbox::start();
    let app = TestApp::spawn_with_smtp(&mailbox).await;
    let mail = app.create_component("Email").await;
    let vpn = app.create_component("VPN").await;
    app.add_confirmed("reader@example.test", &[]).await;
    app.set_component_status(&vpn, "partial_outage").await;
    let first = &mailbox.wait_for("reader@example.test", 1).await[0];
    let manage = first.link(&format!("{}/subscription?token=", app.address));
    let path = manage.replacen(&app.address, "", 1);
    let (status, page) = app.page(&path).await;
    assert_eq!(status, 200);
    assert!(visible_text(&page).contains("reader@example.test"));

    // Choose Email only; VPN news then stops.
    let reply = app
        .client
        .post(&manage)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("components={mail}"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 200);
    assert!(visible_text(&reply.text().await.unwrap()).contains("Saved"));
    app.set_component_status(&vpn, "operational").await;
    app.set_component_status(&mail, "degraded_performance")
        .await;
    let got = mailbox.wait_for("reader@example.test", 2).await;
    app.drain_outbox().await;
    assert_eq!(mailbox.mails_to("reader@example.test").len(), 2);
    assert!(
        got[1].subject.starts_with("[Worse] Email"),
        "{}",
        got[1].subject
    );

    // A made-up token shows a helpful page, not someone's subscription.
    let (status, page) = app
        .page("/subscription?token=bm9ib2R5.AAAAAAAAAAAAAAAAAAAAAAAA")
        .await;
    assert_eq!(status, 400);
    assert!(visible_text(&page).contains("not valid"));
    app.stop().await;
}

#[tokio::test]
async fn a_confirmation_link_expires_after_seven_days() {
    let mailbox = Mailbox::start();
    let app = TestApp::spawn_with_smtp(&mailbox).await;
    let (status, _) = subscribe_form(&app, "email=late%40example.test").await;
    assert_eq!(status, 200);
    let confirmation = &mailbox.wait_for("late@example.test", 1).await[0];
    let link = confirmation.link(&format!("{}/subscribe/confirm?token=", app.address));
    app.advance_minutes(7 * 24 * 60 + 1);
    let (status, page) = app.page(&link.replacen(&app.address, "", 1)).await;
    assert_eq!(status, 410);
    assert!(visible_text(&page).contains("expired"), "{page}");
    let list = app.admin_get("/api/v1/subscribers").await.expect(200);
    assert_eq!(list["items"][0]["state"], "pending");
    app.stop().await;
}

/// A recipient the relay refuses (550) is dead at once, with the server's
/// words as its last error, and nobody else's mail is held up by it: on a
/// server that takes pipelined commands and on one that does not.
async fn a_refused_recipient_is_dead_and_the_others_arrive(mailbox: Mailbox) {
    let app = TestApp::spawn_with_smtp(&mailbox).await;
    let smtp = app.create_component("Outbound SMTP").await;
    for email in [
        "first@example.test",
        "refused@example.test",
        "last@example.test",
    ] {
        app.add_confirmed(email, &[]).await;
    }
    let id = id_of(&app.open_mail_incident(&smtp).await);
    app.drain_outbox().await;
    for reader in ["first@example.test", "last@example.test"] {
        let mails = mailbox.wait_for(reader, 1).await;
        assert!(
            mails[0].subject.starts_with("[New]"),
            "{:?}",
            mails[0].subject
        );
    }
    let report = app.deliveries(&id).await;
    let opening = &report["entries"][0];
    assert_eq!(opening["sent"], 2, "{report}");
    assert_eq!(opening["dead"], 1, "{report}");
    let failure = &opening["failures"][0];
    assert_eq!(failure["address"], "refused@example.test", "{failure}");
    assert!(
        failure["last_error"]
            .as_str()
            .unwrap()
            .contains("No such user"),
        "{failure}"
    );

    // The connection that saw the refusal is replaced: the next update
    // reaches both readers, and nothing reached the refused address.
    app.post_update(
        &id,
        &json!({"status": "identified", "next_update_in": 30, "message": "Found it."}),
    )
    .await;
    app.drain_outbox().await;
    for reader in ["first@example.test", "last@example.test"] {
        assert_eq!(mailbox.wait_for(reader, 2).await.len(), 2);
    }
    assert!(mailbox.mails_to("refused@example.test").is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_refused_recipient_is_dead_when_commands_are_pipelined() {
    a_refused_recipient_is_dead_and_the_others_arrive(Mailbox::start()).await;
}

#[tokio::test]
async fn a_refused_recipient_is_dead_when_commands_wait_for_answers() {
    a_refused_recipient_is_dead_and_the_others_arrive(Mailbox::start_without_pipelining()).await;
}

/// An SMTP server that greets and answers EHLO (`greets`) or not, then
/// never says another word; it keeps every connection open. Returns its
/// port and how many connections it took.
fn silent_relay(greets: bool) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let port = listener.local_addr().unwrap().port();
    let taken = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = taken.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().expect("the stream");
                if greets {
                    let _ = writer.write_all(b"220 relay.test ESMTP\r\n");
                    let mut lines = std::io::BufReader::new(stream).lines();
                    while let Some(Ok(line)) = lines.next() {
                        if !line.to_ascii_uppercase().starts_with("EHLO") {
                            break; // MAIL FROM and after: silence
                        }
                        let _ = writer.write_all(b"250-relay.test\r\n250 PIPELINING\r\n");
                    }
                    std::thread::park(); // holds the connection open
                } else {
                    let _keep = stream;
                    std::thread::park();
                }
            });
        }
    });
    (port, taken)
}

/// A relay that accepts and then stops answering holds no worker: after
/// `smtp_timeout` the mail is failed (to be retried) with the reason, and
/// the outbox drains.
async fn a_silent_relay_costs_a_retry(greets: bool, reason: &str) {
    let (port, taken) = silent_relay(greets);
    let app = TestApp::spawn_with(move |c| {
        c.smtp_url = Some(candor::config::Secret::new(format!(
            "smtp://127.0.0.1:{port}"
        )));
        c.smtp_timeout = "1s".into();
    })
    .await;
    let smtp = app.create_component("Outbound SMTP").await;
    app.add_confirmed("reader@example.test", &[]).await;
    let id = id_of(&app.open_mail_incident(&smtp).await);

    tokio::time::timeout(std::time::Duration::from_secs(20), app.drain_outbox())
        .await
        .expect("the worker gave up on the silent server within 20 s");
    assert!(
        taken.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "Candor did connect"
    );
    let report = app.deliveries(&id).await;
    let opening = &report["entries"][0];
    assert_eq!(opening["failed"], 1, "{report}");
    let failure = &opening["failures"][0];
    assert!(
        failure["last_error"].as_str().unwrap().contains(reason),
        "{failure}"
    );
    assert!(
        failure["next_attempt_at"].is_string(),
        "retried later: {failure}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_relay_that_never_greets_costs_a_retry_not_a_stuck_worker() {
    a_silent_relay_costs_a_retry(false, "did not finish greeting within 1 s").await;
}

#[tokio::test]
async fn a_relay_that_stops_answering_mid_mail_costs_a_retry_not_a_stuck_worker() {
    a_silent_relay_costs_a_retry(true, "did not answer within 1 s").await;
}

#[tokio::test]
async fn a_link_mailed_before_an_unsubscribe_does_not_confirm_a_new_subscription() {
    let mailbox = Mailbox::start();
    let app = TestApp::spawn_with_smtp(&mailbox).await;
    let (status, _) = subscribe_form(&app, "email=back%40example.test").await;
    assert_eq!(status, 200);
    let first = mailbox.wait_for("back@example.test", 1).await[0]
        .link(&format!("{}/subscribe/confirm?token=", app.address))
        .replacen(&app.address, "", 1);
    app.raw(reqwest::Method::POST, &first)
        .send()
        .await
        .expect(200);
    let unsubscribe = app.admin_get("/api/v1/subscribers").await.expect(200)["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.advance_minutes(10);
    app.raw(
        reqwest::Method::DELETE,
        &format!("/api/v1/subscribers/{unsubscribe}"),
    )
    .admin()
    .send()
    .await;
    app.advance_minutes(10);
    let (status, _) = subscribe_form(&app, "email=back%40example.test").await;
    assert_eq!(status, 200);
    // The old link (from before the unsubscribe) does not confirm.
    let reply = app.raw(reqwest::Method::POST, &first).send().await;
    assert_eq!(reply.status, 410, "{}", reply.text);
    let list = app.admin_get("/api/v1/subscribers").await.expect(200);
    assert_eq!(list["items"][0]["state"], "pending", "{list}");
    app.stop().await;
}

/// A relay slow for one address (a tarpit, greylisting) holds back neither
/// anyone else's mail nor the claim of the next entry's: the slow mail
/// finishes on its own, and that address still gets its mail in order.
#[tokio::test]
async fn a_relay_slow_for_one_address_does_not_delay_anyone_else() {
    let mailbox = Mailbox::start();
    let app = TestApp::spawn_with_smtp(&mailbox).await;
    let smtp = app.create_component("Outbound SMTP").await;
    app.add_confirmed("slow@example.test", &[]).await;
    app.add_confirmed("ops@example.test", &[]).await;
    let id = id_of(&app.open_mail_incident(&smtp).await);
    mailbox.wait_for("ops@example.test", 1).await;

    // The opening's mail to slow@ is still being sent.
    let posted = std::time::Instant::now();
    app.post_cause_found(&id).await;
    mailbox.wait_for("ops@example.test", 2).await;
    let took = posted.elapsed();
    assert!(
        took < std::time::Duration::from_secs(2),
        "the update's mail took {took:?} behind a slow address"
    );

    let slow = mailbox.wait_for("slow@example.test", 1).await;
    assert!(slow[0].subject.starts_with("[New]"), "{}", slow[0].subject);
    // Its next mail waited behind it; it goes once claimed again.
    app.advance_minutes(1);
    let slow = mailbox.wait_for("slow@example.test", 2).await;
    assert!(
        slow[1].subject.contains("cause identified"),
        "{}",
        slow[1].subject
    );
    app.stop().await;
}

/// A lane takes its next recipient before its mail goes (so that the mail
/// can announce it to the relay); a mail that is slow must not hold that
/// recipient back. Twelve slow addresses among twelve others: whatever
/// their (random) order, most lanes take a slow one with another after it.
#[tokio::test]
async fn addresses_a_relay_is_slow_for_delay_no_one_taken_after_them() {
    let mailbox = Mailbox::start();
    let app = TestApp::spawn_with_smtp(&mailbox).await;
    let smtp = app.create_component("Outbound SMTP").await;
    for i in 0..12 {
        app.add_confirmed(&format!("slow{i}@example.test"), &[])
            .await;
        app.add_confirmed(&format!("ops{i}@example.test"), &[])
            .await;
    }
    let posted = std::time::Instant::now();
    app.open_mail_incident(&smtp).await;
    for i in 0..12 {
        mailbox.wait_for(&format!("ops{i}@example.test"), 1).await;
    }
    let took = posted.elapsed();
    assert!(
        took < std::time::Duration::from_secs(3),
        "the last quick address got its mail after {took:?}, behind a slow one"
    );
    mailbox.wait_for("slow11@example.test", 1).await;
    app.stop().await;
}
