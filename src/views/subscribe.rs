//! Pages of the subscription: the form, its answers, and the manage page.

use maud::{html, Markup};

use super::{layout::layout, PageContext};
use crate::domain::component::{grouped, Component};
use crate::domain::ComponentId;

/// Components offered as check boxes at the foot of `/` at most.
pub const CHOICES_AT_MOST: usize = 50;

/// The script that ticks a group's components with it (`/static/forms.js`).
/// The forms work without it: the server counts a group as all of its
/// components.
pub const FORMS_SCRIPT: &str = include_str!("../../static/forms.js");

/// Said beside the choices, so that a reader without the script knows what
/// ticking a group does.
const GROUP_RULE: &str = "Choosing a group includes every component in it, also those added later.";

/// The subscribe form, shown on `/subscribe` and at the foot of `/`: the
/// address, then the choices, then the button, in the order a keyboard
/// reaches them.
pub fn form(components: &[Component], chosen: &[ComponentId], email: &str) -> Markup {
    html! {
        form.subscribe method="post" action="/subscribe" {
            p.field {
                label for="email" { "Email address" }
                input #email type="email" name="email" required autocomplete="email" value=(email);
            }
            (choices(components, chosen))
            p.actions { button type="submit" { "Get every update" } }
            p.quiet { "We send a link to confirm first. Every mail has a one-click unsubscribe." }
        }
        (script_for(components))
    }
}

/// The script, where there is a group for it to work on.
fn script_for(components: &[Component]) -> Markup {
    let any_group = components.iter().any(|c| {
        c.group_id
            .as_ref()
            .is_some_and(|g| components.iter().any(|o| &o.id == g))
    });
    html! {
        @if any_group { script src="/static/forms.js" defer {} }
    }
}

/// The components to choose from: each group in a fieldset of its own (its
/// name as the legend, a box for the whole group, its members below), the
/// components in no group in a list after them.
fn choices(components: &[Component], chosen: &[ComponentId]) -> Markup {
    let grouped = grouped(components);
    let (groups, alone): (Vec<_>, Vec<_>) =
        grouped.iter().partition(|(_, members)| !members.is_empty());
    html! {
        @if !components.is_empty() {
            fieldset.choices {
                legend { "Only these components (none chosen: all of them)" }
                @if !groups.is_empty() { p.hint { (GROUP_RULE) } }
                @for (group, members) in &groups {
                    @let whole = chosen.contains(&group.id);
                    @let all_members = members.iter().all(|m| chosen.contains(&m.id));
                    fieldset.group {
                        legend { (group.name) }
                        label.choice.whole {
                            input type="checkbox" name="components" value=(group.id) data-group
                                checked[whole || all_members];
                            "Everything in " (group.name)
                        }
                        ul.members {
                            @for member in members {
                                li { (choice(member, whole || chosen.contains(&member.id))) }
                            }
                        }
                    }
                }
                @if !alone.is_empty() {
                    @if groups.is_empty() {
                        ul.alone { @for (c, _) in &alone { li { (choice(c, chosen.contains(&c.id))) } } }
                    } @else {
                        fieldset.group {
                            legend { "Other components" }
                            ul.alone { @for (c, _) in &alone { li { (choice(c, chosen.contains(&c.id))) } } }
                        }
                    }
                }
            }
        }
    }
}

/// One component's box, inside its label.
fn choice(component: &Component, checked: bool) -> Markup {
    html! {
        label.choice {
            input type="checkbox" name="components" value=(component.id) checked[checked];
            (component.name)
        }
    }
}

pub fn subscribe_page(
    ctx: &PageContext<'_>,
    components: &[Component],
    problem: Option<&str>,
    email: &str,
    chosen: &[ComponentId],
) -> Markup {
    layout(
        ctx,
        "Subscribe",
        html! {
            h1 { "Get told of every incident" }
            p { "Every update, good news and bad, by email: when something breaks, what we know, when it will be fixed and when we will say more." }
            @if let Some(problem) = problem { p.problem role="alert" { (problem) } }
            (form(components, chosen, email))
        },
    )
}

/// A short answer page: a heading and what happens next.
pub fn notice(
    ctx: &PageContext<'_>,
    heading: &str,
    lines: &[String],
    extra: Option<Markup>,
) -> Markup {
    layout(
        ctx,
        heading,
        html! {
            h1 { (heading) }
            @for line in lines { p { (line) } }
            @if let Some(extra) = extra { (extra) }
            p { a href="/" { "Back to the current status" } }
        },
    )
}

/// A confirmed subscription, with the link to choose components.
pub fn subscribed(ctx: &PageContext<'_>, address: &str, manage_url: &str) -> Markup {
    notice(
        ctx,
        "You are subscribed",
        &[format!(
            "Every update about incidents now goes to {address}, good news and bad."
        )],
        Some(html! {
            p { a href=(manage_url) { "Choose components" } }
        }),
    )
}

/// What the link in a confirmation mail opens: one button. Opening the
/// link alone (as mail scanners do) subscribes nobody.
pub fn confirm_prompt(ctx: &PageContext<'_>, token: &str) -> Markup {
    layout(
        ctx,
        "Confirm your subscription",
        html! {
            h1 { "Confirm your subscription" }
            p { "Confirm, and every update about incidents comes to you by mail, good news and bad." }
            form method="post" action={"/subscribe/confirm?token=" (token)} {
                button type="submit" { "Confirm" }
            }
        },
    )
}

pub fn unsubscribe_confirm(ctx: &PageContext<'_>, token: &str) -> Markup {
    layout(
        ctx,
        "Unsubscribe",
        html! {
            h1 { "Stop the incident mails?" }
            form method="post" action={"/unsubscribe?token=" (token)} {
                button type="submit" { "Unsubscribe" }
            }
        },
    )
}

pub fn manage_page(
    ctx: &PageContext<'_>,
    token: &str,
    unsubscribe_token: &str,
    address: &str,
    components: &[Component],
    chosen: &[ComponentId],
    saved: bool,
) -> Markup {
    layout(
        ctx,
        "Your subscription",
        html! {
            h1 { "Your subscription" }
            p { "Mail goes to " strong { (address) } "." }
            @if saved { p role="status" { "Saved." } }
            form.subscribe method="post" action={"/subscription?token=" (token)} {
                (choices(components, chosen))
                p.actions { button type="submit" { "Save" } }
            }
            (script_for(components))
            p { a href={"/unsubscribe?token=" (unsubscribe_token)} { "Unsubscribe from everything" } }
        },
    )
}

pub fn still_affected_confirm(ctx: &PageContext<'_>, token: &str, title: &str) -> Markup {
    layout(
        ctx,
        "Still affected?",
        html! {
            h1 { "Still affected by “" (title) "”?" }
            p { "We marked it resolved. If it still does not work for you, tell us: the owner of the incident is told at once." }
            form method="post" action={"/still-affected?token=" (token)} {
                button type="submit" { "Yes, I am still affected" }
            }
        },
    )
}
