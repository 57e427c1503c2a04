//! "I'm affected": the button on every component and open incident, the
//! pages a reader gets after pressing it, and the mail that tells staff of
//! reports on a component the page shows as working.
//!
//! The button is on every component of `/`, a thousand times on a large
//! page: one short form (126 bytes with a 12-character id), a short class
//! name, no attribute it can do without (`type="submit"` is for validators).

use jiff::{tz::TimeZone, Timestamp};
use maud::{html, Markup};

use super::{layout::layout, PageContext};
use crate::domain::facts::when;
use crate::domain::reader_report::ReadersAffected;
use crate::domain::{ComponentId, Incident};

/// The button on a component.
pub fn component_button(id: &ComponentId) -> Markup {
    html! { form.af method="post" action={"/components/" (id) "/affected"} { button type="submit" { "I’m affected" } } }
}

/// The button on an incident, while it is open.
pub fn incident_button(incident: &Incident) -> Markup {
    html! {
        @if crate::domain::reader_report::takes_reports(incident) {
            form.af method="post" action={"/incidents/" (incident.id) "/affected"} { button type="submit" { "I’m affected" } }
        }
    }
}

/// What was reported, for the answer page.
pub enum Reported<'a> {
    /// `staff_mailed`: staff are mailed of reports the page does not show
    /// yet (`reports_to` is set); the same for every reader.
    Component {
        name: &'a str,
        staff_mailed: bool,
    },
    Incident {
        id: &'a str,
        title: &'a str,
    },
}

/// The answer to a report, the same whether it was counted or not: a
/// reader learns nothing of what others reported.
pub fn thanks(ctx: &PageContext<'_>, reported: &Reported<'_>) -> Markup {
    let heading = "Thank you — we have your report";
    layout(
        ctx,
        heading,
        html! {
            h1 { (heading) }
            @match reported {
                Reported::Component { name, staff_mailed } => {
                    p { "You told us that " strong { (name) } " does not work for you." }
                    @if *staff_mailed {
                        p { "Staff see every report, and are mailed at once when readers report a problem this page does not show yet." }
                    } @else {
                        p { "Staff see every report." }
                    }
                    p { "What we find will be on this page: a new incident, or an update to one already open." }
                }
                Reported::Incident { id, title } => {
                    p { "You told us that " strong { (title) } " affects you." }
                    p { "The people working on it see how many readers are affected. The next update says what we know and when we will say more." }
                    p { a href={"/incidents/" (id)} { "Follow the incident" } }
                }
            }
            p.quiet { "One report an hour counts; there is no need to send it again." }
            p { a href="/" { "Back to the current status" } }
        },
    )
}

/// 429: too many reports from one network just now.
pub fn too_many(ctx: &PageContext<'_>, minutes: u64) -> Markup {
    let heading = "Too many requests";
    let when = if minutes <= 1 {
        "in a minute".to_string()
    } else {
        format!("in {minutes} minutes")
    };
    layout(
        ctx,
        heading,
        html! {
            h1 { (heading) }
            p { "Too many reports came from your network just now." }
            p { "Please try again " (when) ". Reports already sent are kept." }
            p { a href="/" { "Back to the current status" } }
        },
    )
}

/// The mail to staff: (subject, text). Times read as they did when Candor
/// decided to tell (`decided_at`).
pub fn staff_mail(
    report: &ReadersAffected,
    decided_at: Timestamp,
    tz: &TimeZone,
    base_url: &str,
) -> (String, String) {
    let reports = match report.count {
        1 => "1 report".to_string(),
        n => format!("{n} reports"),
    };
    let since = when(report.since, decided_at, tz);
    let latest = when(report.last, decided_at, tz);
    (
        format!(
            "[Readers affected] {} — {reports} since {since}, shown as operational",
            report.name
        ),
        format!(
            "Readers say {name} does not work for them: {reports} since {since}, the latest at {latest}.\n\n\
             The page shows {name} as operational, and no open incident names it. \
             This may be the first sign of an outage no monitor caught.\n\n\
             If it is, open an incident now, even with nothing known yet but what is broken: \
             readers then see that someone is on it.\n\
             {base_url}/\n\n\
             Counts per component and incident: GET {base_url}/api/v1/reports\n\
             Candor writes about {name} at most once an hour while reports come in.\n",
            name = report.name,
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_component_button_is_one_short_form() {
        let html = component_button(&ComponentId::new("kf5za5e22ytt")).into_string();
        assert_eq!(
            html,
            "<form class=\"af\" method=\"post\" action=\"/components/kf5za5e22ytt/affected\">\
             <button type=\"submit\">I’m affected</button></form>"
        );
        assert!(html.len() <= 126, "{} bytes", html.len());
    }

    #[test]
    fn staff_are_told_how_many_and_since_when() {
        let report = ReadersAffected {
            component_id: ComponentId::new("c1"),
            name: "Outbound mail".into(),
            count: 3,
            since: "2026-03-04T09:12:00Z".parse().unwrap(),
            last: "2026-03-04T09:40:00Z".parse().unwrap(),
        };
        let tz = TimeZone::get("Europe/Berlin").unwrap();
        let now = "2026-03-04T09:41:00Z".parse().unwrap();
        let (subject, text) = staff_mail(&report, now, &tz, "https://status.acme.test");
        assert_eq!(
            subject,
            "[Readers affected] Outbound mail — 3 reports since 10:12 CET, shown as operational"
        );
        assert!(text.contains("the latest at 10:40 CET"), "{text}");
        assert!(
            text.contains("https://status.acme.test/api/v1/reports"),
            "{text}"
        );
    }
}
