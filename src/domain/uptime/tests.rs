//! Tests of the uptime bars and percentages.

use std::collections::BTreeMap;

use jiff::SignedDuration;

use super::*;
use crate::domain::{
    incident::IncidentState, Email, Impact, IncidentId, IncidentStatus, Kind, Owner, PersonName,
    Title,
};

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn berlin() -> TimeZone {
    TimeZone::get("Europe/Berlin").unwrap()
}

fn component(created: &str, status: ComponentStatus) -> Component {
    Component {
        id: "mail".into(),
        name: "Email".into(),
        description: None,
        group_id: None,
        position: 1,
        status,
        created_at: t(created),
        updated_at: t(created),
    }
}

fn change(at: &str, from: ComponentStatus, to: ComponentStatus) -> Transition {
    Transition {
        at: t(at),
        from,
        to,
    }
}

fn incident(title: &str, started: &str, resolved: Option<&str>, component: &str) -> Incident {
    Incident {
        id: IncidentId::new(title.to_lowercase().replace(' ', "-")),
        kind: Kind::Incident,
        state: IncidentState {
            title: Title::parse(title).unwrap(),
            impact: Impact::Minor,
            status: if resolved.is_some() {
                IncidentStatus::Resolved
            } else {
                IncidentStatus::Investigating
            },
            owner: Owner {
                name: PersonName::parse("Dana (IT Ops)").unwrap(),
                email: Email::parse("dana@acme.test").unwrap(),
            },
            cause: None,
            eta: None,
            next_update_at: None,
            started_at: t(started),
            resolved_at: resolved.map(t),
            follow_up_at: None,
            components: BTreeMap::from([(component.into(), ComponentStatus::PartialOutage)]),
            overdue_noticed: None,
            follow_up_posted_at: None,
            schedule: None,
        },
        eta_history: Vec::new(),
        created_at: t(started),
        updated_at: t(started),
        last_seq: 1,
    }
}

use ComponentStatus::{MajorOutage as Major, Operational as Up, PartialOutage as Partial};

#[test]
fn ninety_days_in_the_page_zone_today_last() {
    // 00:30 in Berlin on 4 Mar is still 3 Mar in UTC.
    let now = t("2026-03-03T23:30:00Z");
    let c = component("2025-01-01T00:00:00Z", Up);
    let u = of_component(&c, &[], &[], now, &berlin());
    assert_eq!(u.days.len(), 90);
    assert_eq!(u.days.last().unwrap().date, jiff::civil::date(2026, 3, 4));
    assert_eq!(u.days[0].date, jiff::civil::date(2025, 12, 5));
    assert_eq!(window_start(now, &berlin()), t("2025-12-04T23:00:00Z"));
    assert!(u.days.iter().all(|d| d.level() == Level::Operational));
    assert_eq!(u.basis_points, Some(10_000));
    assert_eq!(u.percent().as_deref(), Some("100%"));
    assert_eq!(u.tracked_days, 90);
    // Nothing is down: only midnight changes anything.
    assert_eq!(u.next_change, Some(t("2026-03-04T23:00:00Z")));
}

#[test]
fn minutes_of_partial_and_major_outage_per_day() {
    let now = t("2026-03-04T12:00:00Z");
    let c = component("2025-01-01T00:00:00Z", Up);
    let history = [
        // Down across Berlin midnight of 2/3 March: 30 min each side.
        change("2026-03-02T22:30:00Z", Up, Partial),
        change("2026-03-02T23:30:00Z", Partial, Up),
        // On 4 March: 10 min partial, then 5 min major, 20 s partial.
        change("2026-03-04T08:00:00Z", Up, Partial),
        change("2026-03-04T08:10:00Z", Partial, Major),
        change("2026-03-04T08:15:00Z", Major, Partial),
        change("2026-03-04T08:15:20Z", Partial, Up),
    ];
    let u = of_component(&c, &history, &[], now, &berlin());
    let day = |d: i8| {
        u.days
            .iter()
            .find(|x| x.date == jiff::civil::date(2026, 3, d))
            .unwrap()
    };
    assert_eq!((day(2).partial_minutes, day(2).major_minutes), (30, 0));
    assert_eq!((day(3).partial_minutes, day(3).major_minutes), (30, 0));
    assert_eq!(day(2).level(), Level::Partial);
    assert_eq!((day(4).partial_minutes, day(4).major_minutes), (11, 5));
    assert_eq!(day(4).level(), Level::Major);
    assert_eq!(day(1).level(), Level::Operational);
    // 75 min 20 s down out of 89 days and 13 h.
    let tracked = (89 * 24 + 13) * 3_600_000i64;
    let down = 75 * 60_000 + 20_000;
    let expected = ((tracked - down) as i128 * 10_000 / tracked as i128) as u32;
    assert_eq!(u.basis_points, Some(expected));
    assert_eq!(
        u.percent().unwrap(),
        format!("{}.{:02}%", expected / 100, expected % 100)
    );
}

#[test]
fn a_young_component_has_no_data_before_it_existed() {
    let now = t("2026-03-04T12:00:00Z");
    let c = component("2026-03-02T12:00:00Z", Up);
    let u = of_component(&c, &[], &[], now, &berlin());
    assert_eq!(u.tracked_days, 3);
    assert_eq!(u.days[86].level(), Level::NoData);
    assert_eq!(u.days[87].level(), Level::Operational);

    let unborn = component("2026-03-05T12:00:00Z", Up);
    let u = of_component(&unborn, &[], &[], now, &berlin());
    assert_eq!(u.tracked_days, 0);
    assert_eq!(u.basis_points, None);
    assert_eq!(u.percent(), None);
}

#[test]
fn any_outage_is_never_rounded_to_a_hundred_percent() {
    let now = t("2026-03-04T12:00:00Z");
    let c = component("2025-01-01T00:00:00Z", Up);
    let history = [
        change("2026-03-04T08:00:00Z", Up, Partial),
        change("2026-03-04T08:00:01Z", Partial, Up),
    ];
    let u = of_component(&c, &history, &[], now, &berlin());
    assert_eq!(u.basis_points, Some(9_999));
    assert_eq!(u.percent().as_deref(), Some("99.99%"));
    assert_eq!(u.days.last().unwrap().partial_minutes, 1);
}

#[test]
fn the_status_before_the_window_carries_into_it() {
    let now = t("2026-03-04T12:00:00Z");
    let c = component("2025-01-01T00:00:00Z", Up);
    // Down since long before the window, up at 09:00 UTC today.
    let history = [
        change("2025-06-01T00:00:00Z", Up, Major),
        change("2026-03-04T09:00:00Z", Major, Up),
    ];
    let u = of_component(&c, &history, &[], now, &berlin());
    assert!(u.days[..89].iter().all(|d| d.major_minutes == 24 * 60));
    assert_eq!(u.days[89].major_minutes, 10 * 60);
    // Up only from 09:00 to 12:00 UTC, out of 89 days and 13 hours.
    let tracked = (89 * 24 + 13) * 3_600_000i128;
    let expected = (3 * 3_600_000i128 * 10_000 / tracked) as u32;
    assert_eq!(u.basis_points, Some(expected));
}

#[test]
fn the_tooltip_incidents_are_those_open_that_day() {
    let now = t("2026-03-04T12:00:00Z");
    let c = component("2025-01-01T00:00:00Z", Up);
    let incidents = [
        incident(
            "Mail delays",
            "2026-03-02T10:00:00Z",
            Some("2026-03-03T09:00:00Z"),
            "mail",
        ),
        incident("Mail down", "2026-03-04T08:00:00Z", None, "mail"),
        incident("VPN drops", "2026-03-03T08:00:00Z", None, "vpn"),
    ];
    let u = of_component(&c, &[], &incidents, now, &berlin());
    let titles = |i: usize| {
        u.days[i]
            .incidents
            .iter()
            .map(|x| x.state.title.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(titles(87), ["Mail delays"]); // 2 March
    assert_eq!(titles(88), ["Mail delays"]); // 3 March
    assert_eq!(titles(89), ["Mail down"]); // today
    assert!(titles(86).is_empty());
}

#[test]
fn next_change_follows_the_ongoing_outage_minute_by_minute() {
    let c = component("2025-01-01T00:00:00Z", Up);
    let history = [change("2026-03-04T08:00:00Z", Up, Partial)];
    // 20 s into the outage: "1 min" until 08:01:00.001, then "2 min".
    let now = t("2026-03-04T08:00:20Z");
    let u = of_component(&c, &history, &[], now, &berlin());
    assert_eq!(u.days.last().unwrap().partial_minutes, 1);
    assert_eq!(u.next_change, Some(t("2026-03-04T08:01:00.001Z")));
    let later = of_component(&c, &history, &[], t("2026-03-04T08:01:00.001Z"), &berlin());
    assert_eq!(later.days.last().unwrap().partial_minutes, 2);
}

/// A young component in an outage: the percentage would move every few
/// milliseconds if it were exact to the millisecond; it moves once a
/// minute, so pages are re-rendered at most twice a minute for it.
#[test]
fn a_young_outage_changes_the_page_at_most_twice_a_minute() {
    let c = component("2026-03-04T09:00:00Z", Up);
    let history = [change("2026-03-04T09:00:10Z", Up, Partial)];
    let mut now = t("2026-03-04T09:00:30Z");
    let end = t("2026-03-04T09:10:30Z");
    let mut renders = 0;
    while now < end {
        now = of_component(&c, &history, &[], now, &berlin())
            .next_change
            .unwrap();
        renders += 1;
    }
    assert!(renders <= 21, "{renders} renders in 10 minutes");
    let u = of_component(&c, &history, &[], end, &berlin());
    // 10 whole minutes tracked by 09:10, of which 9 min 50 s down.
    assert_eq!(u.basis_points, Some(166));
}

/// Whatever `next_change` says, nothing shown changes before it, and
/// something does at it (or it is midnight).
#[test]
fn next_change_is_exact_for_the_percentage() {
    let tz = berlin();
    // A young component, so that the percentage moves quickly.
    let c = component("2026-03-04T06:00:00Z", Up);
    for history in [
        vec![change("2026-03-04T08:00:00Z", Up, Major)],
        vec![
            change("2026-03-04T08:00:00Z", Up, Major),
            change("2026-03-04T08:30:00Z", Major, Up),
        ],
    ] {
        let mut now = t("2026-03-04T09:00:00Z");
        for _ in 0..50 {
            let u = of_component(&c, &history, &[], now, &tz);
            let next = u.next_change.unwrap();
            let just_before = next - SignedDuration::from_millis(1);
            if just_before > now {
                let before = of_component(&c, &history, &[], just_before, &tz);
                assert_eq!(before.basis_points, u.basis_points, "at {just_before}");
                assert_eq!(before.days, u.days, "at {just_before}");
            }
            let after = of_component(&c, &history, &[], next, &tz);
            assert!(
                after.basis_points != u.basis_points
                    || after.days != u.days
                    || Some(next) == next_midnight(now, &tz),
                "nothing changed at {next}"
            );
            now = next;
        }
    }
}

/// A group is down whenever one of its members is, as badly as the worst
/// of them, and lists their incidents: "Email: 100%" above "Outbound SMTP:
/// 98%" would hide the outage.
#[test]
fn a_group_is_down_whenever_a_member_is() {
    let now = t("2026-03-04T12:00:00Z");
    let mut group = component("2025-01-01T00:00:00Z", Up);
    group.id = "email".into();
    let mut smtp = component("2025-01-01T00:00:00Z", Up);
    smtp.id = "smtp".into();
    smtp.group_id = Some("email".into());
    let mut webmail = component("2025-01-01T00:00:00Z", Up);
    webmail.id = "webmail".into();
    webmail.group_id = Some("email".into());
    // Overlapping: SMTP partial 08:00–09:00, webmail major 08:30–08:40
    // and partial again 10:00–10:15.
    let smtp_history = [
        change("2026-03-04T08:00:00Z", Up, Partial),
        change("2026-03-04T09:00:00Z", Partial, Up),
    ];
    let webmail_history = [
        change("2026-03-04T08:30:00Z", Up, Major),
        change("2026-03-04T08:40:00Z", Major, Up),
        change("2026-03-04T10:00:00Z", Up, Partial),
        change("2026-03-04T10:15:00Z", Partial, Up),
    ];
    let transitions = |id: &ComponentId| -> &[Transition] {
        match id.as_str() {
            "smtp" => &smtp_history,
            "webmail" => &webmail_history,
            _ => &[],
        }
    };
    let incidents = [incident(
        "Webmail down",
        "2026-03-04T08:30:00Z",
        Some("2026-03-04T08:40:00Z"),
        "webmail",
    )];
    let u = of_group(
        &group,
        &[&smtp, &webmail],
        transitions,
        &incidents,
        now,
        &berlin(),
    );
    let today = u.days.last().unwrap();
    assert_eq!(today.major_minutes, 10);
    assert_eq!(today.partial_minutes, 50 + 15);
    assert_eq!(today.level(), Level::Major);
    assert_eq!(today.incidents.len(), 1);
    assert!(u.basis_points.unwrap() < 10_000);
    // The group alone, without its members, shows none of it.
    let alone = of_component(&group, &[], &incidents, now, &berlin());
    assert_eq!(alone.days.last().unwrap().level(), Level::Operational);
}
