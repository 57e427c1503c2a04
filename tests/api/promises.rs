//! Kept promises: the owner is reminded when an update is due and again
//! after the grace period, subscribers are told when it is late, a passed
//! ETA and a due follow-up remind the owner. Driven by a moved clock, with
//! a real SMTP server receiving the mail; once in real time (seconds), with
//! two `candor` processes on one database.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use crate::helpers::mailbox::{Mail, Mailbox};
use crate::helpers::{
    classes, entries, id_of, mail_incident, ts, visible_text, TestApp, TestDatabase,
};
use crate::processes::{admin_get, admin_post, client, Process};

const OWNER: &str = "dana@acme.test";
const READER: &str = "reader@example.test";

async fn app_with(mailbox: &Mailbox, grace: &str) -> TestApp {
    let url = mailbox.url();
    let grace = grace.to_string();
    TestApp::spawn_with(move |c| {
        c.smtp_url = Some(candor::config::Secret::new(url));
        c.overdue_grace = grace;
    })
    .await
}

async fn subscribe_reader(app: &TestApp) {
    app.admin_post(
        "/api/v1/subscribers",
        &json!({"email": READER, "confirmed": true}),
    )
    .await
    .expect(201);
}

#[tokio::test]
async fn a_late_update_reminds_the_owner_then_tells_subscribers() {
    let mailbox = Mailbox::start();
    let app = app_with(&mailbox, "15m").await;
    subscribe_reader(&app).await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await); // next update 10:30 CET
    mailbox.wait_for(READER, 1).await;

    app.advance_minutes(29);
    app.run_scheduler().await;
    assert!(
        mailbox.mails_to(OWNER).is_empty(),
        "no reminder before the due time"
    );
    assert!(visible_text(&app.page("/").await.1).contains("Next update by 10:30 CET"));
    let json = app
        .raw(reqwest::Method::GET, "/api/v2/incidents/unresolved.json")
        .send()
        .await;
    assert_eq!(json.body["incidents"][0]["candor"]["overdue"], false);

    // A millisecond before the promise it is kept; at 10:30:00.000 the cached
    // page and JSON say it is broken, with no new post.
    app.clock.advance(SignedDuration::from_millis(59_999));
    assert!(visible_text(&app.page("/").await.1).contains("Next update by 10:30 CET"));
    app.clock.advance(SignedDuration::from_millis(1));
    let json = app
        .raw(reqwest::Method::GET, "/api/v2/incidents/unresolved.json")
        .send()
        .await;
    assert_eq!(json.body["incidents"][0]["candor"]["overdue"], true);
    assert!(visible_text(&app.page("/").await.1).contains("Update overdue since 10:30 CET"));
    app.clock.advance(SignedDuration::from_millis(-60_000));

    app.advance_minutes(1); // 10:30 CET: the promise is due now
    app.run_scheduler().await;
    let reminder = &mailbox.wait_for(OWNER, 1).await[0];
    assert_eq!(
        reminder.subject,
        "[Update overdue] Delayed outbound email — promised for 10:30 CET"
    );
    assert!(reminder.text.contains(&format!("/incidents/{id}")));
    assert_eq!(reminder.header("MIME-Version"), Some("1.0"));
    let content_type = reminder.header("Content-Type").unwrap_or_default();
    assert!(
        content_type.starts_with("text/plain") && content_type.to_lowercase().contains("utf-8"),
        "the owner's reminder is a proper MIME text part: {content_type:?}"
    );
    assert_eq!(app.incident(&id).await["overdue"], true);
    let page = visible_text(&app.page("/").await.1);
    assert!(page.contains("Update overdue since 10:30 CET"), "{page}");
    assert!(!page.contains("Next update by 10:30"), "{page}");
    assert_eq!(
        entries(&app.incident(&id).await).len(),
        1,
        "no entry within the grace"
    );

    app.advance_minutes(15); // 10:45 CET: the grace period is over
    app.run_scheduler().await;
    let incident = app.incident(&id).await;
    let notice = entries(&incident)
        .into_iter()
        .find(|e| classes(e).contains(&"overdue_notice".to_string()))
        .expect("a system entry says the update is late");
    assert_eq!(notice["system"], true);
    assert_eq!(
        notice["message"],
        "The update promised for 10:30 CET is late. Dana (IT Ops) has been reminded. \
         We will post here as soon as we have news."
    );
    let reader = mailbox.wait_for(READER, 2).await;
    assert_eq!(
        reader[1].subject,
        "[Overdue] Delayed outbound email — the 10:30 update is late"
    );
    let owner = mailbox.wait_for(OWNER, 2).await;
    assert!(
        owner[1].subject.starts_with("[Still overdue]"),
        "{}",
        owner[1].subject
    );

    // Running again changes nothing: one notice per broken promise.
    app.advance_minutes(30);
    app.run_scheduler().await;
    let notices = entries(&app.incident(&id).await)
        .iter()
        .filter(|e| classes(e).contains(&"overdue_notice".to_string()))
        .count();
    assert_eq!(notices, 1);

    // A real update clears it.
    app.post_update(
        &id,
        &json!({"next_update_in": 30, "message": "Still on it."}),
    )
    .await;
    assert_eq!(app.incident(&id).await["overdue"], false);
    assert!(!visible_text(&app.page("/").await.1).contains("Update overdue"));
    app.stop().await;
}

#[tokio::test]
async fn an_update_in_time_cancels_the_reminders() {
    let mailbox = Mailbox::start();
    let app = app_with(&mailbox, "15m").await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);
    app.advance_minutes(20);
    app.post_update(&id, &json!({"next_update_in": 60, "message": "Progress."}))
        .await;
    app.advance_minutes(30); // the first promise's time: it was kept
    app.run_scheduler().await;
    app.advance_minutes(20);
    app.run_scheduler().await;
    assert!(mailbox.mails_to(OWNER).is_empty());
    assert_eq!(entries(&app.incident(&id).await).len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn with_the_grace_off_no_system_entry_is_posted() {
    let mailbox = Mailbox::start();
    let app = app_with(&mailbox, "off").await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);
    app.advance_minutes(30);
    app.run_scheduler().await;
    mailbox.wait_for(OWNER, 1).await;
    app.advance_minutes(120);
    app.run_scheduler().await;
    assert_eq!(entries(&app.incident(&id).await).len(), 1);
    assert_eq!(mailbox.mails_to(OWNER).len(), 1);
    assert!(visible_text(&app.page("/").await.1).contains("Update overdue since 10:30 CET"));
    app.stop().await;
}

#[tokio::test]
async fn a_passed_eta_is_said_and_the_owner_reminded() {
    let mailbox = Mailbox::start();
    let app = app_with(&mailbox, "15m").await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);
    app.post_update(
        &id,
        &json!({"eta": "2026-03-04T09:20:00Z", "next_update_in": 60, "message": "ETA 10:20."}),
    )
    .await;
    app.advance_minutes(19);
    app.run_scheduler().await;
    assert!(mailbox.mails_to(OWNER).is_empty());
    app.advance_minutes(1);
    app.run_scheduler().await;
    let reminder = &mailbox.wait_for(OWNER, 1).await[0];
    assert_eq!(
        reminder.subject,
        "[ETA passed] Delayed outbound email — 10:20 CET"
    );
    assert_eq!(app.incident(&id).await["eta_passed"], true);
    let page = visible_text(&app.page(&format!("/incidents/{id}")).await.1);
    assert!(
        page.contains("ETA 10:20 CET passed — no new estimate yet"),
        "{page}"
    );
    app.stop().await;
}

#[tokio::test]
async fn resolving_promises_a_follow_up_and_the_owner_is_reminded() {
    let mailbox = Mailbox::start();
    let app = app_with(&mailbox, "15m").await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);
    app.post_update(&id, &json!({"status": "resolved", "message": "Fixed."}))
        .await;
    let incident = app.incident(&id).await;
    assert_eq!(incident["follow_up_at"], "2026-03-05T09:00:00Z");
    app.advance_minutes(24 * 60 - 1);
    app.run_scheduler().await;
    assert!(mailbox.mails_to(OWNER).is_empty());
    app.advance_minutes(1);
    app.run_scheduler().await;
    let reminder = &mailbox.wait_for(OWNER, 1).await[0];
    assert_eq!(reminder.subject, "[Follow-up due] Delayed outbound email");
    app.stop().await;
}

#[tokio::test]
async fn still_affected_reports_reach_the_owner_once_per_subscriber() {
    let mailbox = Mailbox::start();
    let app = app_with(&mailbox, "15m").await;
    subscribe_reader(&app).await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);
    app.post_update(&id, &json!({"status": "resolved", "message": "Fixed."}))
        .await;
    let mails = mailbox.wait_for(READER, 2).await;
    let resolved = &mails[1];
    assert!(
        resolved.subject.starts_with("[Resolved]"),
        "{}",
        resolved.subject
    );
    let link = resolved.link(&format!("{}/still-affected?token=", app.address));
    let path = link.replacen(&app.address, "", 1);

    let (status, page) = app.page(&path).await;
    assert_eq!(status, 200);
    assert!(visible_text(&page).contains("Still affected"), "{page}");
    for _ in 0..2 {
        let reply = app
            .client
            .post(&link)
            .header("content-type", "application/x-www-form-urlencoded")
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status().as_u16(), 200);
    }
    app.drain_outbox().await;
    let owner = mailbox.wait_for(OWNER, 1).await;
    assert_eq!(owner.len(), 1, "one report per subscriber: {owner:?}");
    assert_eq!(
        owner[0].subject,
        "[Still affected] Delayed outbound email — 1 subscriber says it is not fixed"
    );
    let incident = app.incident(&id).await;
    assert_eq!(incident["still_affected"]["total"], 1);
    assert_eq!(incident["still_affected"]["unanswered"], 1);
    let owed = app.admin_get("/api/v1/owed").await.expect(200);
    assert_eq!(owed["still_affected"][0]["incident_id"], id.as_str());

    // A forged or altered link is refused.
    let (status, _) = app.page(&format!("{path}x")).await;
    assert_eq!(status, 400);
    let (status, _) = app.page("/still-affected?token=abc.def").await;
    assert_eq!(status, 400);

    // An answer from the owner settles the report.
    app.advance_minutes(5);
    app.post_update(
        &id,
        &json!({"status": "investigating", "next_update_in": 30, "message": "Looking again."}),
    )
    .await;
    let owed = app.admin_get("/api/v1/owed").await.expect(200);
    assert!(
        owed["still_affected"].as_array().unwrap().is_empty(),
        "{owed}"
    );
    app.stop().await;
}

/// Reminders are queued as what the owner is told and worded when sent;
/// one an older Candor queued holds the words it wrote then, and is still
/// sent as written.
#[tokio::test]
async fn a_reminder_queued_by_an_older_candor_is_sent_as_it_was_written() {
    let mailbox = Mailbox::start();
    let app = app_with(&mailbox, "15m").await;
    app.run_sql(
        r#"INSERT INTO deliveries (kind, entry_id, subscriber_id, address, payload, channel,
             state, attempts, next_attempt_at, created_at)
           VALUES ('reminder', NULL, NULL, 'dana@acme.test',
             '{"to": "dana@acme.test", "subject": "[Follow-up due] Mail delays",
               "text": "Dana, post the follow-up on \"Mail delays\"."}',
             'email', 'pending', 0, 0, 0)"#,
    )
    .await;
    app.drain_outbox().await;
    let mail = &mailbox.wait_for(OWNER, 1).await[0];
    assert_eq!(mail.subject, "[Follow-up due] Mail delays");
    assert!(
        mail.text
            .contains("Dana, post the follow-up on \"Mail delays\"."),
        "{}",
        mail.text
    );
    app.stop().await;
}

#[tokio::test]
async fn the_follow_up_is_owed_until_posted_and_is_mailed_like_any_entry() {
    let mailbox = Mailbox::start();
    let app = app_with(&mailbox, "15m").await;
    subscribe_reader(&app).await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);
    app.admin_post(
        &format!("/api/v1/incidents/{id}/postmortem"),
        &json!({"message": "Too early."}),
    )
    .await
    .assert_error(422, "invalid", Some("status"));

    app.post_update(&id, &json!({"status": "resolved", "message": "Fixed."}))
        .await;
    let owed = app.admin_get("/api/v1/owed").await.expect(200);
    assert_eq!(owed["follow_ups"][0]["incident_id"], id.as_str());
    assert_eq!(owed["follow_ups"][0]["due"], false);
    app.advance_minutes(23 * 60);
    assert_eq!(app.incident(&id).await["owes_follow_up"], true);

    let entry = app
        .admin_post(
            &format!("/api/v1/incidents/{id}/postmortem"),
            &json!({"message": "An expired certificate. We now renew them automatically."}),
        )
        .await
        .expect(201);
    assert_eq!(classes(&entry), vec!["postmortem"]);
    let owed = app.admin_get("/api/v1/owed").await.expect(200);
    assert!(owed["follow_ups"].as_array().unwrap().is_empty(), "{owed}");
    assert_eq!(app.incident(&id).await["owes_follow_up"], false);
    let mails = mailbox.wait_for(READER, 3).await;
    assert_eq!(
        mails[2].subject,
        "[Postmortem] Delayed outbound email — what happened and what we are changing"
    );
    // No reminder is sent for a follow-up already posted.
    app.advance_minutes(2 * 60);
    app.run_scheduler().await;
    assert!(mailbox.mails_to(OWNER).is_empty());
    app.stop().await;
}

#[tokio::test]
async fn owed_lists_overdue_updates_and_passed_etas() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);
    app.post_update(
        &id,
        &json!({"eta": "2026-03-04T09:40:00Z", "next_update_in": 30, "message": "ETA."}),
    )
    .await;
    let owed = app.admin_get("/api/v1/owed").await.expect(200);
    assert!(owed["overdue_updates"].as_array().unwrap().is_empty());
    app.advance_minutes(45);
    let owed = app.admin_get("/api/v1/owed").await.expect(200);
    assert_eq!(owed["overdue_updates"][0]["incident_id"], id.as_str());
    assert_eq!(owed["overdue_updates"][0]["owner"], "Dana (IT Ops)");
    assert_eq!(owed["passed_etas"][0]["incident_id"], id.as_str());
    app.stop().await;
}

/// Two instances on one database (as behind a load balancer), both running
/// their scheduler and worker at once: each promise is acted on once.
#[tokio::test]
async fn timed_work_runs_once_with_two_instances() {
    let mailbox = Mailbox::start();
    let app = app_with(&mailbox, "15m").await;
    subscribe_reader(&app).await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);
    // Sent and marked before the clock jumps past its lease.
    app.drain_outbox().await;
    mailbox.wait_for(READER, 1).await;

    let (second, clock) = app.second_instance(Some(mailbox.url())).await;

    let (scheduler, worker) = (second.scheduler(), second.worker());
    for minutes in [30, 15, 30] {
        app.advance_minutes(minutes);
        clock.set(app.now());
        let (_, b) = tokio::join!(app.run_scheduler(), scheduler.run_due());
        b.expect("the second scheduler runs");
        let (_, b) = tokio::join!(app.drain_outbox(), worker.drain_once());
        b.expect("the second worker drains");
    }
    app.drain_outbox().await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let notices = entries(&app.incident(&id).await)
        .iter()
        .filter(|e| classes(e).contains(&"overdue_notice".to_string()))
        .count();
    assert_eq!(notices, 1, "one system entry");
    let owner: Vec<String> = mailbox
        .mails_to(OWNER)
        .iter()
        .map(|m| m.subject.clone())
        .collect();
    assert_eq!(
        owner.len(),
        2,
        "one reminder at the due time, one after the grace: {owner:?}"
    );
    let reader: Vec<String> = mailbox
        .mails_to(READER)
        .iter()
        .map(|m| m.subject.clone())
        .collect();
    assert_eq!(
        reader.len(),
        2,
        "[New] and [Overdue], each once: {reader:?}"
    );
    second.shutdown().await;
    app.stop().await;
}

/// The same with two real `candor serve` processes on one database
/// (PostgreSQL with `CANDOR_TEST_DATABASE_URL`, else one SQLite file) and
/// one SMTP server, in real time: both run their scheduler and delivery
/// worker the whole time, and each promise is still acted on once. The
/// promised update is a few seconds ahead (the API takes any future
/// `next_update_at`) and the grace period is 2 s, so it takes seconds.
#[tokio::test]
async fn timed_work_runs_once_with_two_processes() {
    const GRACE_SECS: i64 = 2;
    let db = TestDatabase::create().await;
    let mailbox = Mailbox::start();
    let env = [("CANDOR_OVERDUE_GRACE", "2s")];
    // One after the other, so that only the first migrates the database.
    let mut a = Process::start(&db, &mailbox, &env);
    let mut b = Process::start(&db, &mailbox, &env);
    let client = client();

    admin_post(
        &client,
        &format!("{}/api/v1/subscribers", b.url),
        &json!({"email": READER, "confirmed": true}),
    )
    .await;
    let component = admin_post(
        &client,
        &format!("{}/api/v1/components", a.url),
        &json!({"name": "Outbound SMTP"}),
    )
    .await;
    let due = Timestamp::from_millisecond(Timestamp::now().as_millisecond() + 3_000).unwrap();
    let mut body = mail_incident(&id_of(&component));
    body.as_object_mut().unwrap().remove("next_update_in");
    body["next_update_at"] = json!(due.to_string());
    let incident = admin_post(&client, &format!("{}/api/v1/incidents", a.url), &body).await;
    let id = id_of(&incident);
    assert_eq!(ts(&incident["next_update_at"]), due);

    // The reminder at the due time, the system entry after the grace (with
    // the second reminder and the subscribers' mail), then a while longer
    // with both processes looking for work (schedulers every 250 ms, workers
    // every 500 ms), so that a second run would have time to show.
    let outputs = |a: &Process, b: &Process| format!("A:\n{}\n\nB:\n{}", a.output(), b.output());
    mailbox.wait_for(OWNER, 2).await;
    mailbox.wait_for(READER, 2).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        a.is_running() && b.is_running(),
        "both processes ran throughout:\n{}",
        outputs(&a, &b)
    );

    let incident = admin_get(&client, &format!("{}/api/v1/incidents/{id}", b.url)).await;
    let notices: Vec<_> = entries(&incident)
        .into_iter()
        .filter(|e| classes(e).contains(&"overdue_notice".to_string()))
        .collect();
    assert_eq!(
        notices.len(),
        1,
        "one system entry: {incident}\n{}",
        outputs(&a, &b)
    );
    assert_eq!(notices[0]["system"], true);
    let posted = ts(&notices[0]["posted_at"]);
    let after_grace = due + SignedDuration::from_secs(GRACE_SECS);
    assert!(
        posted >= after_grace && posted < after_grace + SignedDuration::from_secs(5),
        "the notice at {posted}, the grace ended at {after_grace}"
    );

    // The first reminder left at the due time, before the grace ended
    // (`Date` is whole seconds).
    let sent = |mail: &Mail| {
        let date = mail.header("Date").expect("a Date header");
        jiff::fmt::rfc2822::parse(date)
            .unwrap_or_else(|e| panic!("Date {date:?}: {e}"))
            .timestamp()
    };
    let reminders = mailbox.mails_to(OWNER);
    let whole = |at: Timestamp| Timestamp::from_second(at.as_second()).unwrap();
    assert!(
        sent(&reminders[0]) >= whole(due) && sent(&reminders[0]) <= whole(after_grace),
        "the first reminder at {}, due at {due}",
        sent(&reminders[0])
    );
    assert!(sent(&reminders[1]) >= whole(after_grace));

    let subjects = |mails: Vec<Mail>| mails.into_iter().map(|m| m.subject).collect::<Vec<_>>();
    let owner = subjects(reminders);
    assert_eq!(
        owner.len(),
        2,
        "one reminder at the due time, one after the grace: {owner:?}\n{}",
        outputs(&a, &b)
    );
    assert!(owner[0].starts_with("[Update overdue] "), "{owner:?}");
    assert!(owner[1].starts_with("[Still overdue] "), "{owner:?}");
    let reader = subjects(mailbox.mails_to(READER));
    assert_eq!(
        reader.len(),
        2,
        "[New] and [Overdue], each once: {reader:?}"
    );
    assert!(reader[0].starts_with("[New] "), "{reader:?}");
    assert!(
        reader[1].starts_with("[Overdue] Delayed outbound email — the ")
            && reader[1].ends_with(" update is late"),
        "{reader:?}"
    );

    // Each job ran in exactly one of the two processes.
    let done: Vec<String> = [&a, &b]
        .iter()
        .flat_map(|p| p.lines_with("timed work done"))
        .collect();
    assert_eq!(done.len(), 2, "{done:#?}\n{}", outputs(&a, &b));
    assert_eq!(
        done.iter().filter(|l| l.contains("NextUpdate")).count(),
        1,
        "{done:#?}"
    );
    assert_eq!(
        done.iter().filter(|l| l.contains("OverdueNotice")).count(),
        1,
        "{done:#?}"
    );
    eprintln!(
        "two processes: A ran {} job(s), B ran {}",
        a.lines_with("timed work done").len(),
        b.lines_with("timed work done").len()
    );
}
