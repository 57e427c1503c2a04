//! Pages of the subscription: the form, its answers, and the manage page.

use maud::{html, Markup};

use super::{layout::layout, PageContext};
use crate::domain::component::Component;
use crate::domain::ComponentId;

/// Components offered as check boxes at the foot of `/` at most.
pub const CHOICES_AT_MOST: usize = 50;

/// The subscribe form, shown on `/subscribe` and at the foot of `/`.
pub fn form(components: &[Component], chosen: &[ComponentId], email: &str) -> Markup {
    html! {
        form.subscribe method="post" action="/subscribe" {
            p {
                label for="email" { "Email address" }
                " "
                input #email type="email" name="email" required autocomplete="email" value=(email);
                " "
                button type="submit" { "Get every update" }
            }
            @if !components.is_empty() {
                fieldset {
                    legend { "Only these components (none chosen: all of them)" }
                    @for c in components {
                        label.choice {
                            input type="checkbox" name="components" value=(c.id) checked[chosen.contains(&c.id)];
                            " " (c.name)
                        }
                        " "
                    }
                }
            }
            p.quiet { "We send a link to confirm first. Every mail has a one-click unsubscribe." }
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
            form method="post" action={"/subscription?token=" (token)} {
                fieldset {
                    legend { "Only these components (none chosen: all of them)" }
                    @for c in components {
                        label.choice {
                            input type="checkbox" name="components" value=(c.id) checked[chosen.contains(&c.id)];
                            " " (c.name)
                        }
                        " "
                    }
                }
                p { button type="submit" { "Save" } }
            }
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
