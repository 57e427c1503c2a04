//! The subscribe and manage forms as a reader meets them: a label for every
//! control, each group in a fieldset with a box for the whole group and its
//! components below, the components in no group in a list of their own,
//! the keyboard going from the address to the choices to the button, and
//! a group's box meaning every component in it (also without the script).

use reqwest::Method;
use scraper::{ElementRef, Html, Selector};
use serde_json::json;

use crate::helpers::mailbox::Mailbox;
use crate::helpers::{id_of, mail_incident, visible_text, TestApp};

/// The components of these tests: the group Email with two members, VPN
/// on its own.
struct Components {
    email: String,
    smtp: String,
    webmail: String,
    vpn: String,
}

async fn components(app: &TestApp) -> Components {
    let email = app.create_component("Email").await;
    let member =
        |name: &str, position: i64| json!({"name": name, "group_id": email, "position": position});
    let smtp = id_of(
        &app.admin_post("/api/v1/components", &member("Outbound SMTP", 1))
            .await
            .expect(201),
    );
    let webmail = id_of(
        &app.admin_post("/api/v1/components", &member("Webmail", 2))
            .await
            .expect(201),
    );
    let vpn = app.create_component("VPN").await;
    Components {
        email,
        smtp,
        webmail,
        vpn,
    }
}

fn select<'a>(scope: ElementRef<'a>, css: &str) -> Vec<ElementRef<'a>> {
    let selector = Selector::parse(css).unwrap_or_else(|e| panic!("selector {css}: {e:?}"));
    scope.select(&selector).collect()
}

fn text(element: ElementRef<'_>) -> String {
    element
        .text()
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The words that label `control`: a `<label for>` naming its id, or the
/// `<label>` around it.
fn label_of(document: &Html, control: ElementRef<'_>) -> Option<String> {
    if let Some(id) = control.value().id() {
        let by_for = select(document.root_element(), &format!("label[for='{id}']"));
        if let Some(label) = by_for.first() {
            return Some(text(*label));
        }
    }
    control
        .ancestors()
        .filter_map(ElementRef::wrap)
        .find(|e| e.value().name() == "label")
        .map(text)
}

/// Checks one form (`form_css` picks it) on a page, as a reader and a
/// keyboard meet it; `with_email` says whether it asks for an address.
fn check_form(html: &str, form_css: &str, c: &Components, with_email: bool, submit: &str) {
    let document = Html::parse_document(html);
    let forms = select(document.root_element(), form_css);
    assert_eq!(forms.len(), 1, "one form {form_css}: {html}");
    let form = forms[0];

    // Every control has a label (or, for a button, its words).
    let controls = select(form, "input, select, textarea, button");
    for control in &controls {
        let kind = control.value().attr("type").unwrap_or_default();
        if control.value().name() == "button" {
            assert!(!text(*control).is_empty(), "a button without words");
            continue;
        }
        if kind == "hidden" {
            continue;
        }
        let label = label_of(&document, *control)
            .unwrap_or_else(|| panic!("a control without a label: {:?}", control.value()));
        assert!(!label.is_empty(), "an empty label: {:?}", control.value());
    }

    // The keyboard follows the page: the address, the choices, the button
    // last; and nothing on the page reorders it.
    let order: Vec<String> = controls
        .iter()
        .map(|e| {
            e.value()
                .attr("value")
                .filter(|_| e.value().attr("type") == Some("checkbox"))
                .map(str::to_string)
                .unwrap_or_else(|| e.value().name().to_string())
        })
        .collect();
    let mut expected = Vec::new();
    if with_email {
        expected.push("input".to_string());
    }
    expected.extend([&c.email, &c.smtp, &c.webmail, &c.vpn].map(|s| s.to_string()));
    expected.push("button".into());
    assert_eq!(order, expected, "controls in page order");
    let last = controls.last().unwrap();
    assert_eq!(text(*last), submit);
    for element in select(document.root_element(), "[tabindex]") {
        let tabindex: i64 = element.value().attr("tabindex").unwrap().parse().unwrap();
        assert!(tabindex <= 0, "a positive tabindex: {:?}", element.value());
    }

    // The group in a fieldset named after it: a box for the whole group,
    // then its members, indented in a list of their own.
    let groups: Vec<_> = select(form, "fieldset fieldset")
        .into_iter()
        .filter(|f| {
            select(*f, "legend")
                .first()
                .is_some_and(|l| text(*l) == "Email")
        })
        .collect();
    assert_eq!(groups.len(), 1, "a fieldset with the legend Email");
    let boxes: Vec<String> = select(groups[0], "input[type=checkbox]")
        .iter()
        .map(|e| e.value().attr("value").unwrap().to_string())
        .collect();
    assert_eq!(boxes, [c.email.as_str(), &c.smtp, &c.webmail]);
    let whole = select(groups[0], "input[type=checkbox]")[0];
    assert_eq!(
        label_of(&document, whole).as_deref(),
        Some("Everything in Email")
    );
    let members = select(groups[0], "ul input[type=checkbox]");
    assert_eq!(
        members.len(),
        2,
        "the members in a list below the group's box"
    );
    // VPN, in no group, is in a list of its own outside the group.
    let vpn = select(form, &format!("input[value='{}']", c.vpn))[0];
    let vpn_list = vpn
        .ancestors()
        .filter_map(ElementRef::wrap)
        .find(|e| e.value().name() == "ul")
        .expect("VPN in a list");
    assert!(!vpn_list.ancestors().any(|a| a.id() == groups[0].id()));

    // Without the script, the page says what a group's box means.
    assert!(
        visible_text(html).contains("Choosing a group includes every component in it"),
        "{html}"
    );
    let scripts: Vec<_> = select(document.root_element(), "script")
        .iter()
        .map(|s| (s.value().attr("src").map(str::to_string), text(*s)))
        .collect();
    assert!(
        scripts.contains(&(Some("/static/forms.js".into()), String::new())),
        "the forms' script, as a file: {scripts:?}"
    );
    assert!(
        scripts
            .iter()
            .all(|(src, body)| src.is_some() && body.is_empty()),
        "no inline script: {scripts:?}"
    );
}

#[tokio::test]
async fn the_forms_label_every_control_and_show_groups_with_their_components() {
    let mailbox = Mailbox::start();
    let app = TestApp::spawn_with_smtp(&mailbox).await;
    let c = components(&app).await;

    let (status, page) = app.page("/subscribe").await;
    assert_eq!(status, 200);
    check_form(&page, "main form", &c, true, "Get every update");
    let (_, index) = app.page("/").await;
    check_form(&index, "form.subscribe", &c, true, "Get every update");

    app.add_confirmed("reader@example.test", &[]).await;
    app.set_component_status(&c.vpn, "partial_outage").await;
    let mail = &mailbox.wait_for("reader@example.test", 1).await[0];
    let manage = mail
        .link(&format!("{}/subscription?token=", app.address))
        .replacen(&app.address, "", 1);
    let (status, page) = app.page(&manage).await;
    assert_eq!(status, 200);
    check_form(&page, "main form", &c, false, "Save");

    // The script is served from this origin, and the policy runs it and
    // nothing else: no inline script, no other site.
    let script = app.raw(Method::GET, "/static/forms.js").send().await;
    assert_eq!(script.status, 200);
    assert!(script.content_type().starts_with("text/javascript"));
    assert!(script.text.contains("indeterminate"));
    let reply = app.raw(Method::GET, "/subscribe").send().await;
    let csp = reply.headers["content-security-policy"].to_str().unwrap();
    let script_src: Vec<&str> = csp
        .split(';')
        .map(str::trim)
        .filter(|d| d.starts_with("script-src"))
        .collect();
    assert_eq!(script_src, ["script-src 'self'"], "{csp}");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    app.stop().await;
}

/// The manage page shows what a group covers: its members ticked with it.
#[tokio::test]
async fn a_chosen_group_shows_its_components_chosen_on_the_manage_page() {
    let mailbox = Mailbox::start();
    let app = TestApp::spawn_with_smtp(&mailbox).await;
    let c = components(&app).await;
    app.add_confirmed("reader@example.test", &[&c.email]).await;
    app.set_component_status(&c.smtp, "partial_outage").await;
    let mail = &mailbox.wait_for("reader@example.test", 1).await[0];
    let manage = mail
        .link(&format!("{}/subscription?token=", app.address))
        .replacen(&app.address, "", 1);
    let (_, page) = app.page(&manage).await;
    let document = Html::parse_document(&page);
    let ticked: Vec<String> = select(document.root_element(), "input[checked]")
        .iter()
        .map(|e| e.value().attr("value").unwrap().to_string())
        .collect();
    assert_eq!(ticked, [c.email.as_str(), &c.smtp, &c.webmail]);
    app.stop().await;
}

async fn post_form(app: &TestApp, path: &str, body: String) -> (u16, String) {
    let reply = app
        .client
        .post(format!("{}{path}", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("POST a form");
    let status = reply.status().as_u16();
    (status, reply.text().await.unwrap())
}

/// Ticking only the group (as the form sends it without its script) is a
/// subscription to every component in it: incidents on a member, and on a
/// member added after subscribing, reach the reader; others do not.
#[tokio::test]
async fn subscribing_to_a_group_brings_news_of_every_component_in_it() {
    let mailbox = Mailbox::start();
    let app = TestApp::spawn_with_smtp(&mailbox).await;
    let c = components(&app).await;
    let reader = "group@example.test";
    let (status, page) = post_form(
        &app,
        "/subscribe",
        format!("email=group%40example.test&components={}", c.email),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let confirm = mailbox.wait_for(reader, 1).await[0]
        .link(&format!("{}/subscribe/confirm?token=", app.address))
        .replacen(&app.address, "", 1);
    let (status, page) = post_form(&app, &confirm, String::new()).await;
    assert_eq!(status, 200, "{page}");
    app.add_confirmed("vpn-only@example.test", &[&c.vpn]).await;

    // An incident on a member of the group.
    let mut body = mail_incident(&c.smtp);
    body["components"] = json!({ c.smtp.clone(): "major_outage" });
    app.open_incident(&body).await;
    let got = mailbox.wait_for(reader, 2).await;
    assert!(
        got[1].subject.contains("Delayed outbound email"),
        "{}",
        got[1].subject
    );

    // A component that joins the group later is covered too.
    let calendar = id_of(
        &app.admin_post(
            "/api/v1/components",
            &json!({"name": "Calendar", "group_id": c.email}),
        )
        .await
        .expect(201),
    );
    app.set_component_status(&calendar, "degraded_performance")
        .await;
    let got = mailbox.wait_for(reader, 3).await;
    assert_eq!(got[2].subject, "[Worse] Calendar — now slow or degraded");

    // Outside the group, nothing: VPN news goes to VPN's subscriber only.
    app.set_component_status(&c.vpn, "major_outage").await;
    mailbox.wait_for("vpn-only@example.test", 1).await;
    app.drain_outbox().await;
    let subjects: Vec<String> = mailbox
        .mails_to(reader)
        .iter()
        .map(|m| m.subject.clone())
        .collect();
    assert_eq!(subjects.len(), 3, "{subjects:?}");
    assert!(
        mailbox.mails_to("vpn-only@example.test").len() == 1,
        "the VPN reader got the group's news"
    );
    app.stop().await;
}
