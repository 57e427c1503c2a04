//! `candor backup PATH` while Candor serves and writes: the copy is a
//! working Candor database holding every entry acknowledged before the
//! backup began. On PostgreSQL the command says to use pg_dump.

use serde_json::json;

use crate::helpers::{candor_command, id_of, mail_incident, TestApp};

/// Runs `candor backup <path>` against the app's database.
async fn backup(app: &TestApp, path: &std::path::Path) -> (bool, String) {
    let mut command = tokio::process::Command::from(candor_command(&app.db.dir, &app.db.url));
    let output = command
        .arg("backup")
        .arg(path)
        .kill_on_drop(true)
        .output()
        .await
        .expect("run candor backup");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test]
async fn a_backup_taken_during_writes_restores_every_acknowledged_entry() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let path = app.db.dir.join("backup.db");
    if app.db.url.starts_with("postgres") {
        let (passed, text) = backup(&app, &path).await;
        assert!(!passed, "{text}");
        assert!(text.contains("pg_dump"), "{text}");
        app.stop().await;
        return;
    }

    // Acknowledged before the backup: 20 incidents with 3 entries each.
    let mut acknowledged = Vec::new();
    for n in 0..20 {
        let mut body = mail_incident(&smtp);
        body["title"] = json!(format!("Incident {n}"));
        let id = id_of(&app.open_incident(&body).await);
        for m in 0..2 {
            app.post_update(
                &id,
                &json!({"message": format!("Update {m}"), "next_update_in": 30}),
            )
            .await;
        }
        acknowledged.push(id);
    }
    // Writes go on while the backup runs.
    let writer = async {
        let mut during = 0;
        for n in 0..30 {
            let mut body = mail_incident(&smtp);
            body["title"] = json!(format!("During {n}"));
            app.open_incident(&body).await;
            during += 1;
        }
        during
    };
    let ((passed, text), during) = tokio::join!(backup(&app, &path), writer);
    assert!(passed, "{text}");
    assert!(text.contains("Backed up to"), "{text}");
    assert_eq!(during, 30);
    // A second run never overwrites it.
    let (again, text) = backup(&app, &path).await;
    assert!(!again && text.contains("exists already"), "{text}");

    // A Candor on the copy.
    let url = format!("sqlite://{}", path.display());
    let restored = TestApp::spawn_with(move |c| c.database_url = url).await;
    for id in &acknowledged {
        let incident = restored.incident(id).await;
        assert_eq!(
            incident["entries"].as_array().unwrap().len(),
            3,
            "{incident}"
        );
    }
    // And it works: a new write on it.
    let more = mail_incident(&smtp);
    restored.open_incident(&more).await;
    restored.stop().await;
    app.stop().await;
}
