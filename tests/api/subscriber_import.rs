//! Importing a subscriber list (`POST /api/v1/subscribers/import`): good
//! lines added, bad ones reported with their line numbers and never in the
//! way of good ones, addresses already there left as they are, a second run
//! adding nothing, and a run killed midway finished by running it again,
//! with every good address there exactly once; on SQLite and PostgreSQL.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::mailbox::Mailbox;
use crate::helpers::{id_of, TestApp, TestDatabase, ADMIN_TOKEN};
use crate::processes::Process;

impl TestApp {
    async fn import(&self, content_type: &str, body: &str) -> crate::helpers::Reply {
        self.raw(reqwest::Method::POST, "/api/v1/subscribers/import")
            .admin()
            .header("Content-Type", content_type)
            .body(body.as_bytes().to_vec())
            .send()
            .await
    }

    /// Every subscriber, by walking the list.
    async fn all_subscribers(&self, filter: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                None => format!("/api/v1/subscribers?limit=1000{filter}"),
                Some(c) => format!("/api/v1/subscribers?limit=1000{filter}&cursor={c}"),
            };
            let page = self.admin_get(&path).await.expect(200);
            all.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return all,
            }
        }
    }
}

fn refusal_lines(report: &Value) -> Vec<u64> {
    report["refusals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect()
}

fn reason_of(report: &Value, line: u64) -> String {
    report["refusals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["line"] == line)
        .map(|r| r["reason"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("line {line} is not refused: {report}"))
}

#[tokio::test]
async fn a_csv_list_adds_its_good_lines_and_reports_the_bad_ones_by_line() {
    let mailbox = Mailbox::start();
    let app = TestApp::spawn_with_smtp(&mailbox).await;
    let vpn = app.create_component("VPN").await;
    let mail = app.create_component("Outbound mail").await;
    app.add_confirmed("kept@acme.test", &[]).await;
    let gone = app.add_confirmed("gone@acme.test", &[]).await;
    app.raw(
        reqwest::Method::DELETE,
        &format!("/api/v1/subscribers/{}", id_of(&gone)),
    )
    .admin()
    .send()
    .await
    .expect(200);
    app.drain_outbox().await;
    let mails_before = mailbox.count();

    let list = format!(
        "email,components,confirmed\r\n\
         ann@acme.test,VPN,yes\r\n\
         Bo@Acme.test,\"vpn;outbound MAIL\",false\r\n\
         not-an-address,,true\r\n\
         \r\n\
         cy@acme.test,printers,true\r\n\
         dee@acme.test,{mail},1\r\n\
         ed@acme.test,,maybe\r\n\
         ann@acme.test,,true\r\n\
         kept@acme.test,,true\r\n\
         gone@acme.test,,true\r\n\
         fay@acme.test"
    );
    let report = app.import("text/csv", &list).await.expect(200);
    assert_eq!(report["added"], 4, "{report}");
    assert_eq!(
        report["already_there"], 3,
        "ann twice, kept, gone: {report}"
    );
    assert_eq!(report["refused"], 3, "{report}");
    assert_eq!(
        report["lines"], 10,
        "blank line and header not counted: {report}"
    );
    assert_eq!(refusal_lines(&report), vec![4, 6, 8]);
    assert!(reason_of(&report, 4).contains("not-an-address"));
    assert!(reason_of(&report, 6).contains("printers"));
    assert!(reason_of(&report, 8).contains("maybe"));

    let all = app.all_subscribers("").await;
    let by_address = |address: &str| {
        all.iter()
            .find(|s| s["address"] == address)
            .cloned()
            .unwrap_or_else(|| panic!("{address} is not subscribed: {all:?}"))
    };
    let ann = by_address("ann@acme.test");
    assert_eq!(ann["state"], "confirmed");
    assert_eq!(ann["components"], json!([vpn]));
    let bo = by_address("bo@acme.test");
    assert_eq!(bo["state"], "pending", "not opted in: a link is sent");
    let mut both = vec![vpn.clone(), mail.clone()];
    both.sort();
    assert_eq!(bo["components"], json!(both));
    assert_eq!(by_address("dee@acme.test")["components"], json!([mail]));
    assert_eq!(
        by_address("gone@acme.test")["state"],
        "unsubscribed",
        "an import never signs up again someone who left"
    );
    // The last line, with no newline and no other columns, is read too.
    assert_eq!(by_address("fay@acme.test")["state"], "pending");
    assert_eq!(all.len(), 6);

    app.drain_outbox().await;
    let mut sent: Vec<String> = mailbox.mails()[mails_before..]
        .iter()
        .flat_map(|m| m.to.clone())
        .collect();
    sent.sort();
    assert_eq!(
        sent,
        ["bo@acme.test", "fay@acme.test"],
        "a confirmation link to each address not opted in, and to nobody else"
    );
}

#[tokio::test]
async fn running_the_same_import_again_adds_nothing() {
    let app = TestApp::spawn().await;
    let list: String = std::iter::once("email,confirmed\n".to_string())
        .chain((0..12_000).map(|i| format!("reader{i:05}@example.test,true\n")))
        .collect();
    let first = app.import("text/csv", &list).await.expect(200);
    assert_eq!(first["added"], 12_000, "{first}");
    let again = app
        .import("text/csv; charset=utf-8", &list)
        .await
        .expect(200);
    assert_eq!(again["added"], 0, "{again}");
    assert_eq!(again["already_there"], 12_000, "{again}");
    let all = app.all_subscribers("&state=confirmed").await;
    assert_eq!(all.len(), 12_000);
}

#[tokio::test]
async fn json_lines_import_the_same_way() {
    let app = TestApp::spawn().await;
    let vpn = app.create_component("VPN").await;
    let list = "{\"email\": \"ann@acme.test\", \"components\": [\"VPN\"], \"confirmed\": true}\n\
                {\"email\": \"bo@acme.test\", \"components\": \"vpn\"}\n\
                [\"carl@acme.test\"]\n\
                {\"email\": \"dee@acme.test\", \"name\": \"Dee\"}\n";
    let report = app.import("application/x-ndjson", list).await.expect(200);
    assert_eq!(report["added"], 2, "{report}");
    assert_eq!(refusal_lines(&report), vec![3, 4]);
    assert!(reason_of(&report, 4).contains("name"));
    let all = app.all_subscribers(&format!("&component={vpn}")).await;
    assert_eq!(all.len(), 2);
}

#[tokio::test]
async fn a_list_candor_cannot_read_is_refused_whole_and_plainly() {
    let app = TestApp::spawn().await;
    app.import("text/csv", "address_line,name\nann@acme.test,Ann\n")
        .await
        .assert_error(422, "invalid", Some("file"));
    app.import("text/csv", "")
        .await
        .assert_error(422, "invalid", Some("file"));
    let reply = app.import("application/json", "[]").await;
    reply.assert_error(415, "unsupported_media_type", None);
    assert!(reply.expect(415)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("text/csv"));
    // Without a token, nothing is read.
    app.raw(reqwest::Method::POST, "/api/v1/subscribers/import")
        .header("Content-Type", "text/csv")
        .body("email\nann@acme.test\n")
        .send()
        .await
        .assert_error(401, "unauthorized", None);
    // A line too long to be an address is refused; the next one is read.
    let long = format!("email\n{}@acme.test\nbo@acme.test\n", "a".repeat(20_000));
    let report = app.import("text/csv", &long).await.expect(200);
    assert_eq!(refusal_lines(&report), vec![2]);
    assert_eq!(report["added"], 1);
    // Non-UTF-8 bytes refuse their line only.
    let reply = app
        .raw(reqwest::Method::POST, "/api/v1/subscribers/import")
        .admin()
        .header("Content-Type", "text/csv")
        .body(b"email\n\xff\xfe@acme.test\ncy@acme.test\n".to_vec())
        .send()
        .await
        .expect(200);
    assert_eq!(refusal_lines(&reply), vec![2]);
    assert_eq!(reply["added"], 1);
    assert!(app.all_subscribers("").await.len() == 2);
    // An Idempotency-Key is welcome, though an import needs none.
    app.raw(reqwest::Method::POST, "/api/v1/subscribers/import")
        .admin()
        .header("Content-Type", "text/csv")
        .header("Idempotency-Key", "import-1")
        .body(format!("email\n{}", "x@acme.test\n".repeat(10_000)))
        .send()
        .await
        .expect(200);
}

/// Two counts a query over the database gives.
async fn counts(url: &str, sql: &str) -> (i64, i64) {
    use sqlx::Connection as _;
    if url.starts_with("sqlite:") {
        let mut db = sqlx::SqliteConnection::connect(url).await.unwrap();
        let counts = sqlx::query_as(sql).fetch_one(&mut db).await.unwrap();
        db.close().await.unwrap();
        counts
    } else {
        let mut db = sqlx::PgConnection::connect(url).await.unwrap();
        let counts = sqlx::query_as(sql).fetch_one(&mut db).await.unwrap();
        db.close().await.unwrap();
        counts
    }
}

/// The subscribers a database holds: all of them, and distinct addresses.
async fn count_subscribers(url: &str) -> (i64, i64) {
    counts(
        url,
        "SELECT COUNT(*), COUNT(DISTINCT address) FROM subscribers",
    )
    .await
}

const CRASH_LIST: usize = 50_000;

#[tokio::test]
async fn an_import_killed_midway_is_finished_by_running_it_again() {
    let db = TestDatabase::create().await;
    let mailbox = Mailbox::start();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap();
    // Every 1,000th line is bad; a few are pending (sent a link).
    let mut list = String::from("email,confirmed\n");
    let mut good = 0;
    for i in 0..CRASH_LIST {
        if i % 1000 == 999 {
            list.push_str(&format!("broken-{i}\n"));
        } else {
            good += 1;
            let confirmed = i % 5000 != 0;
            list.push_str(&format!("reader{i:06}@example.test,{confirmed}\n"));
        }
    }

    let mut first = Process::start(&db, &mailbox, &[]);
    let url = format!("{}/api/v1/subscribers/import", first.url);
    let upload = tokio::spawn({
        let (client, url, list) = (client.clone(), url.clone(), list.clone());
        async move {
            client
                .post(&url)
                .bearer_auth(ADMIN_TOKEN)
                .header("Content-Type", "text/csv")
                .body(list)
                .send()
                .await
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (count, _) = count_subscribers(&db.url).await;
        if count >= 5_000 {
            break;
        }
        assert!(
            Instant::now() < deadline && !upload.is_finished(),
            "the import did not get going ({count} added):\n{}",
            first.output()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill();
    let (at_kill, distinct) = count_subscribers(&db.url).await;
    assert_eq!(at_kill, distinct);
    assert!(
        (at_kill as usize) < good,
        "the import had finished ({at_kill}) before the kill; make the list longer"
    );
    assert!(upload.await.unwrap().is_err(), "the killed import answered");

    let second = Process::start(&db, &mailbox, &[]);
    let reply = client
        .post(format!("{}/api/v1/subscribers/import", second.url))
        .bearer_auth(ADMIN_TOKEN)
        .header("Content-Type", "text/csv")
        .body(list)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let report: Value = reply.json().await.unwrap();
    assert_eq!(
        report["added"].as_u64().unwrap() as i64,
        good as i64 - at_kill,
        "{report}"
    );
    assert_eq!(
        report["already_there"].as_i64().unwrap(),
        at_kill,
        "{report}"
    );
    assert_eq!(report["refused"], CRASH_LIST / 1000, "{report}");
    assert_eq!(report["refusals"][0]["line"], 1001, "line 1 is the header");
    let (count, distinct) = count_subscribers(&db.url).await;
    assert_eq!(
        (count, distinct),
        (good as i64, good as i64),
        "every good address once"
    );
    // Everyone pending has one confirmation link queued, nobody two.
    let pending = crate::processes::admin_get(
        &client,
        &format!("{}/api/v1/subscribers?state=pending&limit=1000", second.url),
    )
    .await;
    assert_eq!(
        pending["items"].as_array().unwrap().len(),
        CRASH_LIST / 5000,
        "{pending}"
    );
    let (links, linked) = counts(
        &db.url,
        "SELECT COUNT(*), COUNT(DISTINCT subscriber_id) FROM deliveries WHERE kind = 'confirmation'",
    )
    .await;
    assert_eq!((links, linked), (10, 10), "one link each");
    eprintln!("import crash test: killed at {at_kill} of {good} good lines");
    drop(second);
}
