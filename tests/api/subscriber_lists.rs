//! Walking the subscriber list page by page (`next_cursor`) while staff add
//! and remove subscribers: everyone there throughout is listed exactly
//! once, nobody twice, on SQLite and PostgreSQL.

use std::collections::BTreeMap;

use serde_json::json;

use crate::helpers::{id_of, TestApp};

#[tokio::test]
async fn every_subscriber_appears_once_across_pages_while_the_list_changes() {
    let app = TestApp::spawn().await;
    let mut originals = Vec::new();
    for n in 0..120 {
        let added = app
            .admin_post(
                "/api/v1/subscribers",
                &json!({"email": format!("reader{n}@example.test"), "confirmed": true}),
            )
            .await
            .expect(201);
        originals.push(id_of(&added));
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut added_during = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            None => "/api/v1/subscribers?limit=25".to_string(),
            Some(c) => format!("/api/v1/subscribers?limit=25&cursor={c}"),
        };
        let page = app.admin_get(&path).await.expect(200);
        for s in page["items"].as_array().unwrap() {
            *seen
                .entry(s["id"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        pages += 1;
        // Between pages: five new subscribers, and two of the originals
        // removed (one already listed, one not yet).
        for k in 0..5 {
            let added = app
                .admin_post(
                    "/api/v1/subscribers",
                    &json!({"email": format!("late{pages}-{k}@example.test"), "confirmed": true}),
                )
                .await
                .expect(201);
            added_during.push(id_of(&added));
        }
        for id in [
            &originals[pages * 7 % 120],
            &originals[(pages * 13 + 60) % 120],
        ] {
            app.raw(
                reqwest::Method::DELETE,
                &format!("/api/v1/subscribers/{id}"),
            )
            .admin()
            .send()
            .await
            .expect(200);
        }
        cursor = page["next_cursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
        assert!(pages < 50, "the walk does not end");
    }
    for id in &originals {
        assert_eq!(
            seen.get(id),
            Some(&1),
            "{id} was there throughout: listed once"
        );
    }
    assert!(seen.values().all(|&n| n == 1), "nobody twice: {seen:?}");
    for id in &added_during {
        assert!(seen.get(id).is_none_or(|&n| n == 1), "{id} at most once");
    }
}
