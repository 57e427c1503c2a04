//! The fan-out between the POST and the mail: the entry's transaction
//! promises the mail to everyone it is for (in groups of subscribers), and
//! the worker turns each group into deliveries later. Staff see the promised
//! mail as pending from the first moment; who gets it is decided as of the
//! moment the entry was posted.

use serde_json::Value;

use crate::helpers::mailbox::Mailbox;
use crate::helpers::{id_of, TestApp};

/// A reader whose copy of the opening failed (the relay was down), with
/// the worker paused: (Candor, the incident's id).
async fn opening_failed_for_a_reader(mailbox: &Mailbox) -> (TestApp, String) {
    let app = TestApp::spawn_with_smtp(mailbox).await;
    app.pause_worker();
    let smtp = app.create_component("Outbound SMTP").await;
    app.add_confirmed("reader@example.test", &[]).await;
    let incident = app.open_mail_incident(&smtp).await;
    app.drain_outbox().await;
    (app, id_of(&incident))
}

#[tokio::test]
async fn mail_not_yet_sent_counts_as_pending_from_the_first_moment() {
    let mailbox = Mailbox::start();
    let app = TestApp::spawn_with_smtp(&mailbox).await;
    app.pause_worker();
    let smtp = app.create_component("Outbound SMTP").await;
    for n in 0..3 {
        app.add_confirmed(&format!("reader{n}@example.test"), &[])
            .await;
    }
    let incident = app.open_mail_incident(&smtp).await;
    let id = id_of(&incident);

    let before = app.deliveries(&id).await;
    assert_eq!(before["totals"]["pending"], 3, "{before}");
    assert_eq!(before["totals"]["sent"], 0, "{before}");
    assert_eq!(before["entries"][0]["pending"], 3, "{before}");
    assert_eq!(mailbox.count(), 0, "nothing is sent while the worker waits");

    app.drain_outbox().await;
    for n in 0..3 {
        mailbox
            .wait_for(&format!("reader{n}@example.test"), 1)
            .await;
    }
    let after = app.deliveries(&id).await;
    assert_eq!(after["totals"]["pending"], 0, "{after}");
    assert_eq!(after["totals"]["sent"], 3, "{after}");
    app.stop().await;
}

/// Subscriber ids are random, so a later subscriber's id often falls among
/// those the entry's group stands for: it must still not get the entry, and
/// one who unsubscribed before the mail went out gets nothing either.
#[tokio::test]
async fn who_gets_an_entry_is_decided_when_it_is_posted() {
    let mailbox = Mailbox::start();
    let app = TestApp::spawn_with_smtp(&mailbox).await;
    app.pause_worker();
    let smtp = app.create_component("Outbound SMTP").await;
    let mut earlier = Vec::new();
    for n in 0..10 {
        earlier.push(
            app.add_confirmed(&format!("early{n}@example.test"), &[])
                .await,
        );
    }
    let ids: Vec<String> = earlier.iter().map(id_of).collect();
    let (low, high) = (ids.iter().min().unwrap(), ids.iter().max().unwrap());
    let incident = app.open_mail_incident(&smtp).await;
    let incident_id = id_of(&incident);

    app.advance_minutes(1);
    let mut newcomer = None;
    for n in 0..40 {
        let added = app
            .add_confirmed(&format!("late{n}@example.test"), &[])
            .await;
        let id = id_of(&added);
        if &id > low && &id < high {
            newcomer = Some(added["address"].as_str().unwrap().to_string());
            break;
        }
    }
    let newcomer = newcomer.expect("a later subscriber whose id lies among the earlier ones");
    app.raw(
        reqwest::Method::DELETE,
        &format!("/api/v1/subscribers/{}", ids[0]),
    )
    .admin()
    .send()
    .await
    .expect(200);

    app.drain_outbox().await;
    for n in 1..10 {
        mailbox.wait_for(&format!("early{n}@example.test"), 1).await;
    }
    app.drain_outbox().await;
    assert_eq!(
        mailbox.mails_to(&newcomer).len(),
        0,
        "{newcomer} joined later"
    );
    assert_eq!(mailbox.mails_to("early0@example.test").len(), 0);
    let sent = app.deliveries(&incident_id).await;
    assert_eq!(sent["totals"]["sent"], 9, "{sent}");
    assert_eq!(sent["totals"]["pending"], 0, "{sent}");

    // The next entry is for them.
    app.post_cause_found(&incident_id).await;
    app.drain_outbox().await;
    assert_eq!(mailbox.wait_for(&newcomer, 1).await.len(), 1);
    app.stop().await;
}

/// Mail sent before fan-outs existed keeps its report through the upgrade.
/// The migration that brought them is undone by hand after the mail went
/// out (back to one range of delivery ids per entry), and a second Candor
/// started on the database runs it again.
#[tokio::test]
async fn the_report_of_mail_sent_before_the_upgrade_survives_it() {
    let mailbox = Mailbox::start();
    let app = TestApp::spawn_with_smtp(&mailbox).await;
    let smtp = app.create_component("Outbound SMTP").await;
    for address in [
        "one@example.test",
        "two@example.test",
        "refuse@example.test",
    ] {
        app.add_confirmed(address, &[]).await;
    }
    let incident = app.open_mail_incident(&smtp).await;
    let id = id_of(&incident);
    app.drain_outbox().await;
    app.pause_worker();
    let before = app.deliveries(&id).await;
    assert_eq!(before["totals"]["sent"], 2, "{before}");
    assert_eq!(before["totals"]["dead"], 1, "{before}");

    let downgrade = "CREATE TABLE entry_deliveries (
            entry_id TEXT PRIMARY KEY REFERENCES entries(id),
            after_id BIGINT NOT NULL,
            last_id  BIGINT NOT NULL);
        INSERT INTO entry_deliveries (entry_id, after_id, last_id)
            SELECT entry_id, MIN(first_delivery) - 1, MAX(last_delivery) FROM fanouts
            WHERE entry_id IS NOT NULL AND first_delivery IS NOT NULL GROUP BY entry_id;
        DROP TABLE fanouts;
        ALTER TABLE deliveries DROP COLUMN fanout_id;
        DROP INDEX deliveries_waiting;
        ALTER TABLE subscribers DROP COLUMN secret;
        ALTER TABLE idempotency DROP COLUMN write_action;
        ALTER TABLE idempotency DROP COLUMN write_target;
        ALTER TABLE idempotency DROP COLUMN write_detail;
        ALTER TABLE subscribers DROP COLUMN failing_since;
        ALTER TABLE subscribers DROP COLUMN last_error;
        ALTER TABLE subscribers DROP COLUMN quarantined_at;
        DROP TABLE reader_reports;
        DROP TABLE reader_limits;
        DROP TABLE reader_report_mails;
        DROP TABLE staff_password_links;
        DROP TABLE staff_sessions;
        DROP TABLE staff_users;
        ALTER TABLE api_tokens DROP COLUMN owner;
        ALTER TABLE api_tokens DROP COLUMN scope;
        DROP TABLE alerts;
        DROP TABLE alert_events;
        DROP INDEX subscribers_by_state_id;
        DROP INDEX subscribers_by_lower_address;
        CREATE INDEX subscribers_by_state ON subscribers (state);
        DELETE FROM _sqlx_migrations WHERE version >= 5;";
    app.run_sql(downgrade).await;

    let (upgraded, _clock) = app.second_instance(None).await;
    let after: Value = app
        .client
        .get(format!(
            "http://{}/api/v1/incidents/{id}/deliveries",
            upgraded.addr
        ))
        .bearer_auth("second")
        .send()
        .await
        .expect("GET deliveries")
        .json()
        .await
        .expect("a report");
    assert_eq!(after["totals"], before["totals"], "{after}");
    assert_eq!(after["entries"], before["entries"], "{after}");
    upgraded.shutdown().await;
    app.stop().await;
}

/// Subscribers moved to a table kept in id order (the fan-out reads them
/// so) lose nothing on the way: a database from before that change, with
/// subscribers of everything and of one component and a "still affected"
/// report, is upgraded by a second Candor, and every subscriber, choice and
/// report is still there and the next update reaches the same people.
/// SQLite only: PostgreSQL's table was never rebuilt.
#[tokio::test]
async fn subscribers_keep_everything_when_their_table_is_rebuilt_in_id_order() {
    let mailbox = Mailbox::start();
    let app = TestApp::spawn_with_smtp(&mailbox).await;
    if !app.db.url.starts_with("sqlite:") {
        app.stop().await;
        return;
    }
    let smtp = app.create_component("Outbound SMTP").await;
    let web = app.create_component("Website").await;
    app.add_confirmed("everything@example.test", &[]).await;
    let mail_reader = app.add_confirmed("mail@example.test", &[&smtp]).await;
    app.add_confirmed("web@example.test", &[&web]).await;
    let incident = app.open_mail_incident(&smtp).await;
    let incident_id = id_of(&incident);
    app.drain_outbox().await;
    mailbox.wait_for("mail@example.test", 1).await;
    let listed: Value = app.admin_get("/api/v1/subscribers").await.expect(200);

    // Back to the table as it was before: keyed by rowid, in the order the
    // rows were written.
    app.run_sql(&format!(
        "PRAGMA foreign_keys = OFF;
         BEGIN;
         CREATE TABLE subscribers_by_rowid (
             id TEXT PRIMARY KEY, channel TEXT NOT NULL, address TEXT NOT NULL,
             state TEXT NOT NULL, all_components BOOLEAN NOT NULL,
             created_at BIGINT NOT NULL, confirm_sent_at BIGINT, confirmed_at BIGINT,
             unsubscribed_at BIGINT, secret TEXT, failing_since BIGINT,
             last_error TEXT, quarantined_at BIGINT, UNIQUE (channel, address));
         INSERT INTO subscribers_by_rowid SELECT * FROM subscribers;
         DROP TABLE subscribers;
         ALTER TABLE subscribers_by_rowid RENAME TO subscribers;
         CREATE INDEX subscribers_by_state_id ON subscribers (state, id);
         CREATE INDEX subscribers_by_lower_address ON subscribers (lower(address));
         INSERT INTO still_affected (incident_id, subscriber_id, reported_at)
             VALUES ('{incident_id}', '{}', 0);
         DELETE FROM _sqlx_migrations WHERE version >= 16;
         COMMIT;",
        id_of(&mail_reader)
    ))
    .await;
    assert!(!subscribers_kept_in_id_order(&app).await);

    let (upgraded, _clock) = app.second_instance(None).await;
    upgraded.shutdown().await;
    assert!(subscribers_kept_in_id_order(&app).await);
    let relisted: Value = app.admin_get("/api/v1/subscribers").await.expect(200);
    assert_eq!(relisted, listed);
    let reports = app
        .count("SELECT COUNT(*) FROM still_affected a JOIN subscribers s ON s.id = a.subscriber_id")
        .await;
    assert_eq!(reports, 1, "the report still points at its reader");
    let orphans = app
        .count("SELECT COUNT(*) FROM pragma_foreign_key_check")
        .await;
    assert_eq!(orphans, 0, "rows referring to no subscriber");

    app.post_cause_found(&incident_id).await;
    app.drain_outbox().await;
    mailbox.wait_for("everything@example.test", 2).await;
    mailbox.wait_for("mail@example.test", 2).await;
    assert_eq!(mailbox.mails_to("web@example.test").len(), 0);
    app.stop().await;
}

/// Whether the subscribers table is keyed by id (WITHOUT ROWID).
async fn subscribers_kept_in_id_order(app: &TestApp) -> bool {
    app.count(
        "SELECT COUNT(*) FROM sqlite_master \
         WHERE name = 'subscribers' AND sql LIKE '%WITHOUT ROWID%'",
    )
    .await
        == 1
}

/// A retry looks its subscriber up again: whoever unsubscribed while the
/// relay was down is not mailed when it comes back.
#[tokio::test]
async fn a_retry_is_not_sent_to_an_address_that_unsubscribed_meanwhile() {
    let mut mailbox = Mailbox::down(crate::helpers::mailbox::free_port());
    let app = TestApp::spawn_with_smtp(&mailbox).await;
    app.pause_worker();
    let smtp = app.create_component("Outbound SMTP").await;
    let leaving = app.add_confirmed("leaving@example.test", &[]).await;
    app.add_confirmed("staying@example.test", &[]).await;
    let incident = app.open_mail_incident(&smtp).await;
    app.drain_outbox().await;
    let failed = app.deliveries(&id_of(&incident)).await;
    assert_eq!(failed["totals"]["failed"], 2, "{failed}");

    app.raw(
        reqwest::Method::DELETE,
        &format!("/api/v1/subscribers/{}", id_of(&leaving)),
    )
    .admin()
    .send()
    .await
    .expect(200);
    mailbox.up();
    app.advance_minutes(1);
    app.drain_outbox().await;
    mailbox.wait_for("staying@example.test", 1).await;
    assert_eq!(mailbox.mails_to("leaving@example.test").len(), 0);
    app.stop().await;
}

/// Each reader's mail arrives in the order it was posted: an update posted
/// while the mail before it waits for a retry waits behind it, and both go
/// out, in order, when the retry comes.
#[tokio::test]
async fn a_later_entry_waits_behind_an_earlier_mail_that_failed() {
    let mut mailbox = Mailbox::down(crate::helpers::mailbox::free_port());
    let (app, incident_id) = opening_failed_for_a_reader(&mailbox).await;
    mailbox.up();

    app.post_cause_found(&incident_id).await;
    app.drain_outbox().await;
    assert_eq!(
        mailbox.mails_to("reader@example.test").len(),
        0,
        "the update went out before the opening it follows"
    );
    let waiting = app.deliveries(&incident_id).await;
    assert_eq!(waiting["entries"][0]["pending"], 1, "{waiting}");
    assert_eq!(waiting["entries"][1]["failed"], 1, "{waiting}");

    app.advance_minutes(1);
    app.drain_outbox().await;
    let mails = mailbox.wait_for("reader@example.test", 2).await;
    assert!(
        mails[0].subject.starts_with("[New]"),
        "{:?}",
        mails[0].subject
    );
    assert!(
        mails[1].subject.contains("Expired relay certificate"),
        "{:?}",
        mails[1].subject
    );
    let sent = app.deliveries(&incident_id).await;
    assert_eq!(sent["totals"]["sent"], 2, "{sent}");
    app.stop().await;
}

/// When a reader's earlier mail fails again, the mail waiting behind it is
/// not tried (nor counted as failed): it waits for the next retry.
#[tokio::test]
async fn mail_held_behind_a_failure_is_not_tried_before_it() {
    let mut mailbox = Mailbox::down(crate::helpers::mailbox::free_port());
    let (app, incident_id) = opening_failed_for_a_reader(&mailbox).await;
    app.post_cause_found(&incident_id).await;

    // The retry is due: both are taken, the opening fails again.
    app.advance_minutes(1);
    app.drain_outbox().await;
    let held = app.deliveries(&incident_id).await;
    let (update, opening) = (&held["entries"][0], &held["entries"][1]);
    assert_eq!(opening["failed"], 1, "{held}");
    assert_eq!(opening["failures"][0]["attempts"], 2, "{held}");
    assert_eq!(update["pending"], 1, "{held}");
    assert_eq!(update["failed"], 0, "the update was tried: {held}");

    mailbox.up();
    app.advance_minutes(5);
    app.drain_outbox().await;
    let mails = mailbox.wait_for("reader@example.test", 2).await;
    assert!(
        mails[0].subject.starts_with("[New]"),
        "{:?}",
        mails[0].subject
    );
    assert!(
        mails[1].subject.contains("Expired relay certificate"),
        "{:?}",
        mails[1].subject
    );
    app.stop().await;
}

/// On a page of thousands, an update reaches everyone it is for exactly
/// once, and only them: the worker walks the list a step at a time (500
/// subscribers found, or 5,000 read, a step), so an update for a component
/// three readers follow walks past thousands who are not told, to readers
/// whose ids lie beyond the first 5,000. Staff see every promised mail as
/// pending from the first moment.
#[tokio::test]
async fn an_update_reaches_everyone_it_is_for_once_on_a_page_of_thousands() {
    let mailbox = Mailbox::start();
    let app = TestApp::spawn_with_smtp(&mailbox).await;
    app.pause_worker();
    app.create_component("Status page").await;
    let relay = app.create_component("Outbound mail").await;
    let vpn = app.create_component("VPN").await;
    let mut csv = String::from("email,components,confirmed\n");
    for n in 0..6_000 {
        csv.push_str(&format!("page{n}@bulk.test,Status page,true\n"));
    }
    for n in 0..1_200 {
        csv.push_str(&format!("mail{n}@bulk.test,Outbound mail,true\n"));
    }
    let report = app
        .raw(reqwest::Method::POST, "/api/v1/subscribers/import")
        .admin()
        .header("Content-Type", "text/csv")
        .body(csv.into_bytes())
        .send()
        .await
        .expect(200);
    assert_eq!(report["added"], 7_200, "{report}");
    // Readers of the VPN whose ids come after the first 5,000 (ids are
    // random: those that do not are removed again).
    let mut ids = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app
            .admin_get(&format!("/api/v1/subscribers?limit=1000&cursor={cursor}"))
            .await
            .expect(200);
        ids.extend(page["items"].as_array().unwrap().iter().map(id_of));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    ids.sort();
    let beyond = ids[5_000].clone();
    let mut readers = Vec::new();
    for n in 0.. {
        let address = format!("vpn{n}@bulk.test");
        let added = app.add_confirmed(&address, &[vpn.as_str()]).await;
        if id_of(&added) > beyond {
            readers.push(address);
            if readers.len() == 3 {
                break;
            }
        } else {
            let path = format!("/api/v1/subscribers/{}", id_of(&added));
            app.raw(reqwest::Method::DELETE, &path)
                .admin()
                .send()
                .await
                .expect(200);
        }
    }

    let few = id_of(&app.open_mail_incident(&vpn).await);
    let many = id_of(&app.open_mail_incident(&relay).await);
    let waiting = app.deliveries(&few).await;
    assert_eq!(waiting["totals"]["pending"], 3, "{waiting}");
    let waiting = app.deliveries(&many).await;
    assert_eq!(waiting["totals"]["pending"], 1_200, "{waiting}");

    app.drain_outbox().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while mailbox.count() < 1_203 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut told = std::collections::BTreeMap::<String, usize>::new();
    for mail in mailbox.mails() {
        for to in mail.to {
            *told.entry(to).or_default() += 1;
        }
    }
    for reader in &readers {
        assert_eq!(told.get(reader), Some(&1), "{reader}");
    }
    assert_eq!(told.len(), 1_203, "who was told");
    assert!(told.values().all(|&n| n == 1), "each once");
    assert!(told
        .keys()
        .all(|to| to.starts_with("mail") || to.starts_with("vpn")));
    for (id, sent) in [(few, 3), (many, 1_200)] {
        let done = app.deliveries(&id).await;
        assert_eq!(done["totals"]["sent"], sent, "{done}");
        assert_eq!(done["totals"]["pending"], 0, "{done}");
    }
    app.stop().await;
}
