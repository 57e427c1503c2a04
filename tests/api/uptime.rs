//! Uptime on `/`: 90 daily bars per component, their days in words, and the
//! share of time without outage, from the component history.

use serde_json::json;

use crate::helpers::{assert_hides, assert_shows, id_of, visible_text, TestApp};

/// The days of the page's bars: (level class, title) of each day, in
/// order. A bar spans the days its `wN` class says (quiet days in a row
/// share one bar and its title).
fn bars(html: &str) -> Vec<(String, String)> {
    html.split("<span class=\"d ")
        .skip(1)
        .flat_map(|rest| {
            let class = rest.split('"').next().unwrap_or_default();
            let (level, width) = class.split_once(" w").expect("a bar has a width");
            let days: usize = width.parse().expect("a width in days");
            let title = rest
                .split("title=\"")
                .nth(1)
                .and_then(|t| t.split('"').next())
                .unwrap_or_default()
                .to_string();
            std::iter::repeat_n((level.to_string(), title), days)
        })
        .collect()
}

/// The bars of one component's row.
fn bars_of(html: &str, name: &str) -> Vec<(String, String)> {
    let row = html
        .split("<div class=\"uptime-row\">")
        .skip(1)
        .find(|row| row.contains(&format!("<span class=\"name\">{name}</span>")))
        .unwrap_or_else(|| panic!("no uptime row for {name}"));
    bars(row)
}

#[tokio::test]
async fn an_outage_shows_as_minutes_on_its_day_with_its_incident() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    app.create_component("VPN").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);
    app.advance_minutes(25);
    app.set_component_status(&smtp, "major_outage").await;
    app.advance_minutes(10);
    app.post_update(
        &id,
        &json!({"status": "resolved", "message": "Mail flows again."}),
    )
    .await;
    app.advance_minutes(5); // 09:40Z: 40 min tracked, 35 of them down.

    let (status, html) = app.page("/").await;
    assert_eq!(status, 200);
    assert_eq!(bars(&html).len(), 2 * 90, "90 bars per component");
    let (smtp_bars, vpn_bars) = (bars_of(&html, "Outbound SMTP"), bars_of(&html, "VPN"));
    assert_eq!(smtp_bars.len(), 90);
    assert_eq!(smtp_bars[89].0, "m", "today had a major outage");
    assert_eq!(smtp_bars[88].0, "n");
    assert!(
        smtp_bars[88].1.ends_with(" – Tue 3 Mar: not tracked yet"),
        "{}",
        smtp_bars[88].1
    );
    // Quiet days share one bar: VPN has one for the days before it
    // existed and one for today.
    let vpn_row = html
        .split("<div class=\"uptime-row\">")
        .skip(1)
        .find(|row| row.contains("<span class=\"name\">VPN</span>"))
        .unwrap();
    assert_eq!(vpn_row.matches("<span class=\"d ").count(), 2, "{vpn_row}");
    assert_eq!(
        vpn_bars[89],
        ("o".to_string(), "Wed 4 Mar: no outage".to_string())
    );

    let text = visible_text(&html);
    assert_shows(&text, "Uptime over the last 90 days");
    assert_shows(&text, "Outbound SMTP 12.50% uptime today");
    assert_shows(&text, "VPN 100% uptime today");
    assert_shows(
        &text,
        "1 day with an outage or an incident \
         Wed 4 Mar: 25 min partial outage, 10 min major outage. Incident: Delayed outbound email",
    );
    assert_shows(&text, "No outages and no incidents in this time.");

    // A month later the day is still there, now beside thirty good ones.
    app.advance_minutes(30 * 24 * 60);
    let text = app.page_text("/").await;
    assert_shows(&text, "Outbound SMTP 99.91% uptime over 31 days");
    // After 90 days it has left the window.
    app.advance_minutes(60 * 24 * 60);
    let html = app.page("/").await.1;
    let text = visible_text(&html);
    assert_shows(&text, "Outbound SMTP 100% uptime over 90 days");
    assert_hides(&text, "Delayed outbound email");
    assert!(bars(&html).iter().all(|(class, _)| class == "o"));
    app.stop().await;
}

#[tokio::test]
async fn an_ongoing_outage_grows_minute_by_minute_without_a_post() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    app.advance_minutes(60);
    app.open_mail_incident(&smtp).await;
    app.clock.advance(jiff::SignedDuration::from_secs(20));
    let text = app.page_text("/").await;
    assert_shows(&text, "Wed 4 Mar: 1 min partial outage");
    // The percentage is of whole minutes: 60 up, none down, yet not 100%.
    assert_shows(&text, "Outbound SMTP 99.99% uptime today");

    app.advance_minutes(1);
    let text = app.page_text("/").await;
    assert_shows(&text, "Wed 4 Mar: 2 min partial outage");
    app.advance_minutes(59);
    let text = app.page_text("/").await;
    assert_shows(&text, "Wed 4 Mar: 1 h 1 min partial outage");
    assert_shows(&text, "Outbound SMTP 50.00% uptime today");
    app.stop().await;
}

#[tokio::test]
async fn bars_have_words_for_those_who_cannot_see_colours() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    app.open_mail_incident(&smtp).await;
    app.advance_minutes(3);
    let html = app.page("/").await.1;
    // The bars are decoration for screen readers; the same facts are text.
    assert!(
        html.contains("class=\"bars\" aria-hidden=\"true\""),
        "{html}"
    );
    assert!(bars(&html).iter().all(|(_, title)| !title.is_empty()));
    let text = visible_text(&html);
    assert_shows(
        &text,
        "no outage, partial outage, major outage, not tracked yet",
    );
    assert_shows(
        &text,
        "Wed 4 Mar: 3 min partial outage. Incident: Delayed outbound email",
    );
    app.stop().await;
}
