//! The Atom and RSS feeds: one item per timeline entry, saying what the page
//! says, readable by the crates that parse feeds and (with
//! `CANDOR_FEEDPARSER=1`) by Python's feedparser, as feed readers use it.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{assert_shows, at, entries, id_of, mail_incident, Reply, TestApp};

async fn fetch(app: &TestApp, path: &str, content_type: &str) -> Reply {
    let reply = app.raw(Method::GET, path).send().await;
    assert_eq!(reply.status, 200, "GET {path}: {}", reply.text);
    assert_eq!(reply.content_type(), content_type, "GET {path}");
    reply
}

async fn atom(app: &TestApp, path: &str) -> atom_syndication::Feed {
    let reply = fetch(app, path, "application/atom+xml; charset=utf-8").await;
    atom_syndication::Feed::read_from(reply.text.as_bytes())
        .unwrap_or_else(|e| panic!("{path} is not Atom: {e}\n{}", reply.text))
}

async fn rss(app: &TestApp, path: &str) -> rss::Channel {
    let reply = fetch(app, path, "application/rss+xml; charset=utf-8").await;
    rss::Channel::read_from(reply.text.as_bytes())
        .unwrap_or_else(|e| panic!("{path} is not RSS: {e}\n{}", reply.text))
}

fn atom_time(text: &str) -> jiff::Timestamp {
    text.parse().unwrap()
}

/// The usual mail incident, then the cause and an ETA, then a later ETA.
async fn mail_story(app: &TestApp, component: &str) -> String {
    let id = id_of(&app.open_mail_incident(component).await);
    app.advance_minutes(20);
    app.post_update(
        &id,
        &json!({"status": "identified", "cause": "Expired relay certificate",
                "eta": "2026-03-04T12:00:00Z", "next_update_in": 30,
                "message": "The relay certificate **expired**."}),
    )
    .await;
    app.advance_minutes(10);
    app.post_update(
        &id,
        &json!({"eta": "2026-03-04T13:00:00Z", "next_update_in": 30,
                "message": "Renewal takes longer."}),
    )
    .await;
    id
}

#[tokio::test]
async fn the_atom_feed_has_one_entry_per_update_newest_first() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = mail_story(&app, &smtp).await;
    let entry_ids: Vec<String> = entries(&app.incident(&id).await)
        .iter()
        .map(id_of)
        .collect();

    let feed = atom(&app, "/feed.atom").await;
    assert_eq!(feed.id, format!("{}/feed.atom", app.address));
    assert!(feed.title.value.contains("Acme IT"), "{}", feed.title.value);
    assert_eq!(
        feed.updated
            .to_rfc3339()
            .parse::<jiff::Timestamp>()
            .unwrap(),
        at("2026-03-04T09:30:00Z")
    );
    assert!(feed
        .links
        .iter()
        .any(|l| l.rel == "self" && l.href == format!("{}/feed.atom", app.address)));

    let link = format!("{}/incidents/{id}", app.address);
    let titles: Vec<&str> = feed
        .entries
        .iter()
        .map(|e| e.title.value.as_str())
        .collect();
    assert_eq!(
        titles,
        [
            "[ETA slipped] Delayed outbound email — Identified",
            "[Cause identified] Delayed outbound email — Identified",
            "[New] Delayed outbound email — Investigating",
        ]
    );
    let times = [
        "2026-03-04T09:30:00Z",
        "2026-03-04T09:20:00Z",
        "2026-03-04T09:00:00Z",
    ];
    for ((entry, entry_id), time) in feed.entries.iter().zip(&entry_ids).zip(times) {
        assert_eq!(entry.id, format!("{link}#entry-{entry_id}"));
        assert_eq!(atom_time(&entry.updated.to_rfc3339()), at(time));
        assert_eq!(entry.links.len(), 1);
        assert_eq!(entry.links[0].href, link);
        assert_eq!(entry.links[0].rel, "alternate");
    }

    let content = |i: usize| {
        let content = feed.entries[i].content.as_ref().expect("content");
        assert_eq!(content.content_type.as_deref(), Some("html"));
        crate::helpers::visible_text(content.value.as_deref().unwrap_or(""))
    };
    let opened = content(2);
    for words in [
        "Status: Investigating · Minor impact",
        "Owner: Dana (IT Ops)",
        "Cause: not yet known",
        "No ETA",
        "Next update promised by 10:30 CET",
        "Outbound SMTP: operational → partial outage",
        "We are looking into delayed outbound email.",
    ] {
        assert!(opened.contains(words), "{words:?} not in {opened:?}");
    }
    let identified = content(1);
    for words in [
        "Status: Identified",
        "Cause: Expired relay certificate",
        "ETA: 13:00 CET",
        "The relay certificate expired.",
    ] {
        assert!(
            identified.contains(words),
            "{words:?} not in {identified:?}"
        );
    }
    // Markdown arrives rendered, not as asterisks.
    let raw = feed.entries[1]
        .content
        .as_ref()
        .unwrap()
        .value
        .clone()
        .unwrap();
    assert!(raw.contains("<strong>expired</strong>"), "{raw}");
    let slipped = content(0);
    assert!(slipped.contains("ETA: 14:00 CET"), "{slipped}");
    app.stop().await;
}

#[tokio::test]
async fn the_rss_feed_says_the_same() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = mail_story(&app, &smtp).await;
    let entry_ids: Vec<String> = entries(&app.incident(&id).await)
        .iter()
        .map(id_of)
        .collect();

    let channel = rss(&app, "/feed.rss").await;
    assert!(channel.title.contains("Acme IT"), "{}", channel.title);
    assert_eq!(channel.link, format!("{}/", app.address));
    assert!(!channel.description.is_empty());
    let link = format!("{}/incidents/{id}", app.address);
    let times = [
        "2026-03-04T09:30:00Z",
        "2026-03-04T09:20:00Z",
        "2026-03-04T09:00:00Z",
    ];
    assert_eq!(channel.items.len(), 3);
    for ((item, entry_id), time) in channel.items.iter().zip(&entry_ids).zip(times) {
        let guid = item.guid.as_ref().expect("guid");
        assert_eq!(guid.value, format!("{link}#entry-{entry_id}"));
        assert_eq!(item.link.as_deref(), Some(link.as_str()));
        let date = item.pub_date.as_deref().expect("pubDate");
        let date = jiff::fmt::rfc2822::parse(date)
            .unwrap_or_else(|e| panic!("pubDate {date:?}: {e}"))
            .timestamp();
        assert_eq!(date, at(time));
    }
    assert_eq!(
        channel.items[0].title.as_deref(),
        Some("[ETA slipped] Delayed outbound email — Identified")
    );
    let description = crate::helpers::visible_text(
        channel.items[2]
            .description
            .as_deref()
            .expect("description"),
    );
    assert!(
        description.contains("Cause: not yet known"),
        "{description}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_component_feed_has_only_the_incidents_that_affect_it() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let vpn = app.create_component("VPN").await;
    let quiet = app.create_component("Printers").await;
    let mail = id_of(&app.open_mail_incident(&smtp).await);
    app.advance_minutes(1);
    let mut body = mail_incident(&vpn);
    body["title"] = json!("VPN drops");
    let vpn_incident = id_of(&app.open_incident(&body).await);
    app.advance_minutes(1);
    // A later update that touches VPN too puts the mail incident in its feed.
    app.post_update(
        &mail,
        &json!({"components": {vpn.clone(): "degraded_performance"},
                "next_update_in": 30, "message": "VPN is slow as well."}),
    )
    .await;

    let feed = atom(&app, &format!("/components/{smtp}/feed.atom")).await;
    assert!(
        feed.title.value.contains("Outbound SMTP"),
        "{}",
        feed.title.value
    );
    assert_eq!(
        feed.id,
        format!("{}/components/{smtp}/feed.atom", app.address)
    );
    assert_eq!(feed.entries.len(), 2);
    assert!(feed
        .entries
        .iter()
        .all(|e| e.id.contains(&format!("/incidents/{mail}#"))));

    let feed = atom(&app, &format!("/components/{vpn}/feed.atom")).await;
    assert_eq!(feed.entries.len(), 3);
    assert!(feed.entries[1].id.contains(&vpn_incident));

    let feed = atom(&app, &format!("/components/{quiet}/feed.atom")).await;
    assert!(feed.entries.is_empty());
    // An empty feed is still a valid one, last changed now.
    assert_eq!(atom_time(&feed.updated.to_rfc3339()), app.now());

    let (status, html) = app
        .page(&format!(
            "/components/{}/feed.atom",
            crate::helpers::unknown_id_like(&smtp)
        ))
        .await;
    assert_eq!(status, 404);
    assert!(html.contains("<html"), "{html}");
    app.stop().await;
}

#[tokio::test]
async fn the_feeds_hold_at_most_two_hundred_items() {
    let app = TestApp::spawn().await;
    let id = id_of(
        &app.open_incident(&{
            let mut body = mail_incident("unused");
            body["components"] = json!({});
            body
        })
        .await,
    );
    for n in 1..=200 {
        app.advance_minutes(1);
        app.post_update(
            &id,
            &json!({"next_update_in": 30, "message": format!("Update {n}.")}),
        )
        .await;
    }
    let feed = atom(&app, "/feed.atom").await;
    assert_eq!(feed.entries.len(), 200);
    let newest = feed.entries[0]
        .content
        .as_ref()
        .unwrap()
        .value
        .clone()
        .unwrap();
    assert!(newest.contains("Update 200."), "{newest}");
    assert_eq!(rss(&app, "/feed.rss").await.items.len(), 200);
    app.stop().await;
}

#[tokio::test]
async fn pages_point_feed_readers_to_the_feeds() {
    let app = TestApp::spawn().await;
    let (status, html) = app.page("/").await;
    assert_eq!(status, 200);
    for wanted in [
        r#"<link rel="alternate" type="application/atom+xml" href="/feed.atom""#,
        r#"<link rel="alternate" type="application/rss+xml" href="/feed.rss""#,
    ] {
        assert!(html.contains(wanted), "{wanted} not in {html}");
    }
    app.stop().await;
}

/// What a feed reader keeps of an item: its id, title, time and text.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    id: String,
    title: String,
    at: jiff::Timestamp,
    text: String,
}

/// The feed's `updated` (Atom) and its items, as a reader sees them.
async fn atom_seen(app: &TestApp, path: &str) -> (jiff::Timestamp, Vec<Seen>) {
    let feed = atom(app, path).await;
    let items = feed
        .entries
        .iter()
        .map(|e| Seen {
            id: e.id.clone(),
            title: e.title.value.clone(),
            at: atom_time(&e.updated.to_rfc3339()),
            text: crate::helpers::visible_text(
                e.content
                    .as_ref()
                    .and_then(|c| c.value.as_deref())
                    .unwrap_or(""),
            ),
        })
        .collect();
    (atom_time(&feed.updated.to_rfc3339()), items)
}

/// `lastBuildDate` (RSS) and its items, as a reader sees them.
async fn rss_seen(app: &TestApp) -> (jiff::Timestamp, Vec<Seen>) {
    let rfc2822 = |text: &str| {
        jiff::fmt::rfc2822::parse(text)
            .unwrap_or_else(|e| panic!("{text:?}: {e}"))
            .timestamp()
    };
    let channel = rss(app, "/feed.rss").await;
    let items = channel
        .items
        .iter()
        .map(|i| Seen {
            id: i.guid.as_ref().expect("guid").value.clone(),
            title: i.title.clone().unwrap_or_default(),
            at: rfc2822(i.pub_date.as_deref().expect("pubDate")),
            text: crate::helpers::visible_text(i.description.as_deref().unwrap_or("")),
        })
        .collect();
    let built = rfc2822(channel.last_build_date.as_deref().expect("lastBuildDate"));
    (built, items)
}

/// Every feed that shows the incident (the whole Atom, the RSS, the
/// component's Atom), each as (its `updated`, its items).
async fn all_feeds(app: &TestApp, component: &str) -> Vec<(jiff::Timestamp, Vec<Seen>)> {
    vec![
        atom_seen(app, "/feed.atom").await,
        rss_seen(app).await,
        atom_seen(app, &format!("/components/{component}/feed.atom")).await,
    ]
}

fn nothing_broken(feeds: &[(jiff::Timestamp, Vec<Seen>)], updated: &str) {
    for (n, (at, items)) in feeds.iter().enumerate() {
        assert_eq!(*at, crate::helpers::at(updated), "feed {n}: updated");
        for item in items {
            for words in ["overdue", "passed", "notice from Candor"] {
                assert!(
                    !item.text.contains(words) && !item.title.contains(words),
                    "feed {n} says {words:?} too early: {item:?}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_late_update_is_in_the_feeds_at_the_promised_instant() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await); // next update by 10:30 CET
    let link = format!("{}/incidents/{id}", app.address);

    // A millisecond before, the promise is kept: every feed (now cached) says
    // what the opening said, last changed at 10:00.
    app.set_clock("2026-03-04T09:29:59.999Z");
    nothing_broken(&all_feeds(&app, &smtp).await, "2026-03-04T09:00:00Z");

    // At 10:30:00.000, with no post, every feed has Candor's notice on top,
    // dated at the broken promise, and the feed itself moved to that instant.
    app.set_clock("2026-03-04T09:30:00Z");
    let notice_id = format!(
        "{link}#update-overdue-{}",
        at("2026-03-04T09:30:00Z").as_millisecond()
    );
    for (n, (updated, items)) in all_feeds(&app, &smtp).await.into_iter().enumerate() {
        assert_eq!(updated, at("2026-03-04T09:30:00Z"), "feed {n}: updated");
        assert_eq!(items.len(), 2, "feed {n}: the opening and the notice");
        let notice = &items[0];
        assert_eq!(notice.id, notice_id, "feed {n}");
        assert_eq!(notice.at, at("2026-03-04T09:30:00Z"), "feed {n}");
        assert_eq!(
            notice.title, "[Update overdue] Delayed outbound email — promised for 10:30 CET",
            "feed {n}"
        );
        for words in [
            // The page's own sentence.
            "Update overdue since 10:30 CET — Dana (IT Ops) has been reminded.",
            "Status: Investigating · Minor impact · Owner: Dana (IT Ops)",
            "This is a notice from Candor, not an update from staff.",
        ] {
            assert!(
                notice.text.contains(words),
                "feed {n}: {words:?} not in {notice:?}"
            );
        }
        // The opening entry itself is untouched.
        assert!(
            items[1].title.starts_with("[New] "),
            "feed {n}: {:?}",
            items[1]
        );
        assert!(items[1].text.contains("Next update promised by 10:30 CET"));
        assert_eq!(items[1].at, at("2026-03-04T09:00:00Z"));
    }
    // The page says the same at the same instant.
    assert_shows(&app.page_text("/").await, "Update overdue since 10:30 CET");
    // In RSS the notice's guid is an id, not a page address.
    let channel = rss(&app, "/feed.rss").await;
    assert!(!channel.items[0].guid.as_ref().unwrap().permalink);
    assert!(channel.items[1].guid.as_ref().unwrap().permalink);
    // In Atom it is signed by Candor, not by the page's staff.
    let feed = atom(&app, "/feed.atom").await;
    assert_eq!(feed.entries[0].authors[0].name, "Candor");
    assert!(feed.entries[1].authors.is_empty());

    // Later it is the same item (a reader shows it once), with the same date.
    app.run_scheduler().await; // the owner is reminded
    app.advance_minutes(16);
    app.run_scheduler().await; // the grace is over: Candor's system entry
    let (updated, items) = atom_seen(&app, "/feed.atom").await;
    assert_eq!(updated, at("2026-03-04T09:46:00Z"));
    assert!(items[0].title.starts_with("[Overdue] "), "{:?}", items[0]);
    assert!(items[0]
        .text
        .contains("The update promised for 10:30 CET is late."));
    assert_eq!(items[1].id, notice_id);
    assert_eq!(items[1].at, at("2026-03-04T09:30:00Z"));

    // A real update keeps the promise again: the notice is gone from every
    // feed, the update is on top, and no entry was rewritten.
    app.advance_minutes(4);
    app.post_update(
        &id,
        &json!({"next_update_in": 30, "message": "Still on it."}),
    )
    .await;
    for (n, (updated, items)) in all_feeds(&app, &smtp).await.into_iter().enumerate() {
        assert_eq!(updated, at("2026-03-04T09:50:00Z"), "feed {n}: updated");
        assert_eq!(items.len(), 3, "feed {n}: {items:?}");
        assert!(
            items.iter().all(|i| i.id != notice_id),
            "feed {n}: {items:?}"
        );
        assert!(items[0].text.contains("Still on it."), "feed {n}");
        assert!(items[0].text.contains("Next update promised by 11:20 CET"));
        assert!(
            !items[0].text.contains("overdue"),
            "feed {n}: {:?}",
            items[0]
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_passed_eta_is_in_the_feeds_at_the_instant_it_passes() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let mut body = mail_incident(&smtp);
    body["eta"] = json!("2026-03-04T09:20:00Z");
    body["next_update_in"] = json!(60);
    let id = id_of(&app.open_incident(&body).await);
    let link = format!("{}/incidents/{id}", app.address);

    app.set_clock("2026-03-04T09:19:59.999Z");
    nothing_broken(&all_feeds(&app, &smtp).await, "2026-03-04T09:00:00Z");

    app.set_clock("2026-03-04T09:20:00Z");
    let notice_id = format!(
        "{link}#eta-passed-{}",
        at("2026-03-04T09:20:00Z").as_millisecond()
    );
    for (n, (updated, items)) in all_feeds(&app, &smtp).await.into_iter().enumerate() {
        assert_eq!(updated, at("2026-03-04T09:20:00Z"), "feed {n}: updated");
        let notice = &items[0];
        assert_eq!(notice.id, notice_id, "feed {n}");
        assert_eq!(
            notice.title, "[ETA passed] Delayed outbound email — 10:20 CET, no new estimate yet",
            "feed {n}"
        );
        assert!(
            notice
                .text
                .contains("ETA 10:20 CET passed — no new estimate yet."),
            "feed {n}: {notice:?}"
        );
        assert!(notice.text.contains("not an update from staff"));
        assert!(
            !notice.text.contains("overdue"),
            "the update is not due yet"
        );
    }

    // At 11:00 the update is late too: two notices, the later on top.
    app.set_clock("2026-03-04T10:00:00Z");
    let (updated, items) = atom_seen(&app, "/feed.atom").await;
    assert_eq!(updated, at("2026-03-04T10:00:00Z"));
    assert!(items[0].title.starts_with("[Update overdue] "), "{items:?}");
    assert_eq!(items[1].id, notice_id);

    // A new ETA (and the update with it) ends both.
    app.advance_minutes(5);
    app.post_update(
        &id,
        &json!({"eta": "2026-03-04T12:00:00Z", "next_update_in": 30,
                "message": "New estimate."}),
    )
    .await;
    for (n, (updated, items)) in all_feeds(&app, &smtp).await.into_iter().enumerate() {
        assert_eq!(updated, at("2026-03-04T10:05:00Z"), "feed {n}: updated");
        assert_eq!(items.len(), 2, "feed {n}: {items:?}");
        assert!(
            items[0].title.starts_with("[ETA slipped] "),
            "feed {n}: {:?}",
            items[0]
        );
        assert!(items.iter().all(|i| !i.text.contains("notice from Candor")));
    }
    app.stop().await;
}

/// Feed readers are not Rust: with `CANDOR_FEEDPARSER=1` (CI sets it, after
/// `pip install feedparser`) Python's feedparser reads every feed and must
/// find it well-formed with an id, title, date and link on every item.
#[tokio::test]
async fn feedparser_reads_every_feed() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    mail_story(&app, &smtp).await;
    let mut body = mail_incident(&smtp);
    body["title"] = json!("Ampersands & <angle> brackets — and “quotes”");
    body["message"] = json!("A message with <b>markup</b> & entities.");
    let other = id_of(&app.open_incident(&body).await);
    app.post_update(
        &other,
        &json!({"status": "resolved", "message": "Fixed & done."}),
    )
    .await;
    // The mail story's update (promised for 11:00 CET) is late, and its ETA
    // passed: Candor's notices are read too.
    app.set_clock("2026-03-04T13:05:00Z");

    if std::env::var("CANDOR_FEEDPARSER").as_deref() != Ok("1") {
        eprintln!("feedparser check skipped: set CANDOR_FEEDPARSER=1 to run it");
        app.stop().await;
        return;
    }
    let urls = [
        format!("{}/feed.atom", app.address),
        format!("{}/feed.rss", app.address),
        format!("{}/components/{smtp}/feed.atom", app.address),
    ];
    // tokio's Command: the server runs on this test's runtime and must keep
    // answering while the script fetches.
    let output = tokio::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/feeds_parse.py"))
        .args(&urls)
        .output()
        .await
        .expect("run python3 tests/feeds_parse.py");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "feedparser refused a feed:\n{report}"
    );
    eprintln!("{report}");
    app.stop().await;
}
