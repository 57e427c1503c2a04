//! Planned maintenance from the console: scheduled with a preview,
//! rescheduled, started, completed and cancelled from forms as a browser
//! sends them, on the admin API's rules, with a real SMTP server receiving
//! what subscribers are told.

use serde_json::json;

use crate::helpers::mailbox::Mailbox;
use crate::helpers::{classes, entries, form_fields, TestApp};

const READER: &str = "reader@example.test";

/// The path of what a post was redirected to, and its id.
fn posted_to(location: &str) -> (String, String) {
    let path = location.split(['?', '#']).next().unwrap().to_string();
    let id = path.trim_start_matches("/admin/incidents/").to_string();
    (path, id)
}

#[tokio::test]
async fn maintenance_is_planned_moved_started_and_completed_from_the_console() {
    let mailbox = Mailbox::start();
    let url = mailbox.url();
    let app =
        TestApp::spawn_with(move |c| c.smtp_url = Some(candor::config::Secret::new(url))).await;
    let vpn = app.create_component("VPN").await;
    app.add_confirmed(READER, &[&vpn]).await;
    let mut dana = app.editor().await;

    // The end before the start: said next to the field, nothing announced.
    let refused = dana
        .submit(
            "/admin/maintenances/new",
            "/admin/maintenances",
            &[
                ("title", "VPN gateway upgrade"),
                ("scheduled_for", "2026-03-04T13:00"),
                ("scheduled_until", "2026-03-04T12:00"),
                ("components", &vpn),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.text());
    assert!(
        refused.text().contains("The maintenance was not posted."),
        "{}",
        refused.text()
    );
    let kept = form_fields(&refused.html, "/admin/maintenances", None);
    assert!(
        kept.contains(&("title".into(), "VPN gateway upgrade".into())),
        "{kept:?}"
    );
    assert!(
        kept.contains(&("components".into(), vpn.clone())),
        "{kept:?}"
    );

    let plan = [
        ("title", "VPN gateway upgrade"),
        ("scheduled_for", "2026-03-04T13:00"),
        ("scheduled_until", "2026-03-04T14:00"),
        ("components", vpn.as_str()),
        ("message", "Connections drop once."),
    ];
    let mut preview_plan = plan.to_vec();
    preview_plan.push(("action", "preview"));
    let preview = dana
        .submit(
            "/admin/maintenances/new",
            "/admin/maintenances",
            &preview_plan,
        )
        .await;
    assert_eq!(preview.status, 200, "{}", preview.text());
    assert!(
        preview
            .text()
            .contains("This will be sent as Planned maintenance."),
        "{}",
        preview.text()
    );
    assert!(
        app.incidents("all").await.is_empty(),
        "a preview announces nothing"
    );

    let posted = dana
        .submit("/admin/maintenances/new", "/admin/maintenances", &plan)
        .await;
    let (path, id) = posted_to(posted.redirect());
    let maintenance = app
        .admin_get(&format!("/api/v1/maintenances/{id}"))
        .await
        .expect(200);
    assert_eq!(maintenance["scheduled_for"], "2026-03-04T12:00:00Z");
    assert_eq!(maintenance["scheduled_until"], "2026-03-04T13:00:00Z");
    assert_eq!(maintenance["remind_before"], json!(["1h"]));
    assert_eq!(maintenance["owner"]["name"], "Dana (IT Ops)");
    assert_eq!(entries(&maintenance)[0]["author"], "Dana (IT Ops)");
    let page = dana.get(&path).await;
    assert!(
        page.text().contains("Maintenance · Planned"),
        "{}",
        page.text()
    );

    // Moved an hour later: bad news, said as such.
    let updates = format!("/admin/maintenances/{id}/updates");
    dana.submit(
        &path,
        &updates,
        &[
            ("scheduled_for", "2026-03-04T14:00"),
            ("scheduled_until", "2026-03-04T15:00"),
            ("message", "The vendor is late."),
        ],
    )
    .await
    .redirect();
    let maintenance = app
        .admin_get(&format!("/api/v1/maintenances/{id}"))
        .await
        .expect(200);
    assert_eq!(maintenance["scheduled_for"], "2026-03-04T13:00:00Z");
    assert_eq!(
        classes(&entries(&maintenance)[0]),
        ["maintenance_rescheduled"]
    );

    // Started, then completed.
    dana.submit(
        &path,
        &updates,
        &[
            ("status", "in_progress"),
            ("message", "The work has begun."),
        ],
    )
    .await
    .redirect();
    assert_eq!(app.component(&vpn).await["status"], "under_maintenance");
    // Once begun, going back is refused in words.
    let back = dana
        .submit(
            &path,
            &updates,
            &[
                ("status", ""),
                ("scheduled_for", "2026-03-04T16:00"),
                ("message", "Later."),
            ],
        )
        .await;
    assert_eq!(back.status, 422, "{}", back.text());
    dana.submit(
        &path,
        &updates,
        &[
            ("status", "completed"),
            ("message", "Done; the VPN is back."),
        ],
    )
    .await
    .redirect();
    let maintenance = app
        .admin_get(&format!("/api/v1/maintenances/{id}"))
        .await
        .expect(200);
    assert_eq!(maintenance["status"], "completed");
    assert_eq!(app.component(&vpn).await["status"], "operational");
    assert!(dana
        .get(&path)
        .await
        .text()
        .contains("This maintenance is over."));

    let mails = mailbox.wait_for(READER, 4).await;
    let subjects: Vec<&str> = mails.iter().map(|m| m.subject.as_str()).collect();
    for (subject, lead) in subjects.iter().zip([
        "[Planned maintenance]",
        "[Rescheduled]",
        "[Maintenance started]",
        "[Completed]",
    ]) {
        assert!(
            subject.starts_with(lead),
            "{lead} leads {subject:?} in {subjects:?}"
        );
    }
}

#[tokio::test]
async fn maintenance_is_cancelled_and_its_entries_corrected_from_the_console() {
    let app = TestApp::spawn().await;
    let mut dana = app.editor().await;
    let posted = dana
        .submit(
            "/admin/maintenances/new",
            "/admin/maintenances",
            &[
                ("title", "Printer firmware"),
                ("scheduled_for", "2026-03-05T09:00"),
                ("scheduled_until", "2026-03-05T10:00"),
            ],
        )
        .await;
    let (path, id) = posted_to(posted.redirect());
    let first = entries(
        &app.admin_get(&format!("/api/v1/maintenances/{id}"))
            .await
            .expect(200),
    )[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    dana.submit_with(
        &path,
        &format!("/admin/incidents/{id}/corrections"),
        ("corrects", &first),
        &[("message", "It is the second floor's printers only.")],
    )
    .await
    .redirect();
    dana.submit(
        &format!("/admin/incidents/{id}"),
        &format!("/admin/maintenances/{id}/updates"),
        &[
            ("status", "cancelled"),
            ("message", "Not needed after all."),
        ],
    )
    .await
    .redirect();
    let maintenance = app
        .admin_get(&format!("/api/v1/maintenances/{id}"))
        .await
        .expect(200);
    assert_eq!(maintenance["status"], "cancelled");
    let all = entries(&maintenance);
    assert_eq!(classes(&all[0]), ["maintenance_cancelled"]);
    assert_eq!(all[1]["corrects"], first.as_str());
}
