//! Corrections: history is never rewritten; a correction stands beside
//! what it corrects.

use serde_json::{json, Value};

use crate::helpers::{assert_classes, assert_ts, entries, id_of, unknown_id_like, TestApp};

#[tokio::test]
async fn a_correction_is_a_new_entry_and_the_original_stays_as_it_was() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);
    app.advance_minutes(20);
    let wrong = app
        .post_update(
            &id,
            &json!({"status": "identified", "cause": "Expired relay certificate",
                    "message": "The relay certificate expired.", "next_update_in": 30}),
        )
        .await;
    let wrong_as_stored = entries(&app.incident(&id).await)[0].clone();
    assert_eq!(wrong_as_stored["id"], wrong["id"]);
    app.advance_minutes(22);

    let correction = app
        .correct(
            &id,
            &json!({"corrects": wrong["id"], "message": "The cause given earlier was wrong: it was a DNS change.",
                    "cause": "DNS change"}),
        )
        .await;
    assert_classes(&correction, &["correction"], &[]);
    assert_eq!(correction["corrects"], wrong["id"]);
    assert_eq!(correction["corrected_by"], Value::Null);
    assert_ts(&correction["posted_at"], "2026-03-04T09:42:00Z");
    assert_eq!(correction["cause"], "DNS change");

    let incident = app.incident(&id).await;
    assert_eq!(
        incident["cause"], "DNS change",
        "the incident now carries the corrected cause"
    );
    let all = entries(&incident);
    assert_eq!(all.len(), 3, "opened, update, correction");
    assert_eq!(all[0]["id"], correction["id"], "newest first");

    // The corrected entry is unchanged but for the pointer to its correction.
    let mut after = all[1].clone();
    assert_eq!(after["corrected_by"], correction["id"]);
    after["corrected_by"] = Value::Null;
    assert_eq!(
        after, wrong_as_stored,
        "a corrected entry keeps every field it had"
    );
    assert_eq!(all[1]["cause"], "Expired relay certificate");
    assert_eq!(all[1]["message"], "The relay certificate expired.");

    app.stop().await;
}

#[tokio::test]
async fn a_correction_can_fix_title_impact_and_start() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let opened = app.open_mail_incident(&smtp).await;
    let id = id_of(&opened);
    app.advance_minutes(10);

    let correction = app
        .correct(
            &id,
            &json!({"corrects": opened["entries"][0]["id"],
                    "message": "Only the Berlin office is affected, and it began earlier.",
                    "title": "Delayed outbound email (Berlin)", "impact": "major",
                    "started_at": "2026-03-04T08:15:00Z"}),
        )
        .await;
    assert_classes(&correction, &["correction"], &[]);

    let incident = app.incident(&id).await;
    assert_eq!(incident["title"], "Delayed outbound email (Berlin)");
    assert_eq!(incident["impact"], "major");
    assert_ts(&incident["started_at"], "2026-03-04T08:15:00Z");
    assert_eq!(incident["entries"][1]["corrected_by"], correction["id"]);
    assert_eq!(
        incident["entries"][1]["impact"], "minor",
        "the original entry keeps its impact"
    );

    app.stop().await;
}

#[tokio::test]
async fn a_correction_must_name_an_entry_of_this_incident() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let first = app.open_mail_incident(&smtp).await;
    let second = app.open_mail_incident(&smtp).await;
    let id = id_of(&first);
    let entry_id = first["entries"][0]["id"].clone();
    let entry_id_text = id_of(&json!({"id": entry_id}));
    let missing: Value = match &entry_id {
        Value::Number(n) => json!(n.as_i64().unwrap() + 1_000_000),
        _ => json!(unknown_id_like(&entry_id_text)),
    };
    let before = app.snapshot().await;
    let path = format!("/api/v1/incidents/{id}/corrections");

    let mut problems = Vec::new();
    let cases = [
        (
            "an unknown entry",
            json!({"corrects": missing, "message": "m"}),
            "corrects",
        ),
        (
            "an entry of another incident",
            json!({"corrects": second["entries"][0]["id"], "message": "m"}),
            "corrects",
        ),
        ("no entry", json!({"message": "m"}), "corrects"),
        ("no message", json!({"corrects": entry_id}), "message"),
        (
            "a bad impact",
            json!({"corrects": entry_id, "message": "m", "impact": "apocalyptic"}),
            "impact",
        ),
        (
            "an unknown field",
            json!({"corrects": entry_id, "message": "m", "mood": "sorry"}),
            "mood",
        ),
    ];
    for (what, body, field) in cases {
        let reply = app.admin_post(&path, &body).await;
        if let Err(problem) = reply.check_error(422, "invalid", Some(field)) {
            problems.push(format!("correction with {what}: {problem}"));
        }
    }
    assert!(
        problems.is_empty(),
        "refusals not as promised:\n{}",
        problems.join("\n")
    );
    assert_eq!(
        app.snapshot().await,
        before,
        "refused corrections must change nothing"
    );

    app.stop().await;
}
