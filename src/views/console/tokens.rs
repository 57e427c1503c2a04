//! `/admin/tokens` (admins): the admin API's tokens, one made with its
//! secret shown once, one revoked at once.

use maud::{html, Markup};

use super::{csrf, layout, Console};
use crate::views::parts;

/// An active token, as the page lists it (never its secret: only its hash
/// is kept).
pub struct TokenRow<'a> {
    pub name: &'a str,
    /// `all`, or `alerts` for a token that may only post alerts.
    pub scope: &'a str,
    /// The person it speaks for (`candor token create --owner`), if any.
    pub owner: Option<&'a str>,
    pub created_at: jiff::Timestamp,
    pub last_used_at: Option<jiff::Timestamp>,
}

pub struct TokensPage<'a> {
    pub tokens: &'a [TokenRow<'a>],
    /// A new token's name and secret, shown this once.
    pub created: Option<(&'a str, &'a str)>,
    pub notice: Option<&'a str>,
    pub problem: Option<&'a str>,
}

pub fn page(c: &Console<'_>, p: &TokensPage<'_>) -> Markup {
    layout(
        c,
        "API tokens",
        html! {
            h1 { "API tokens" }
            @if let Some(notice) = p.notice { p.notice role="status" { (notice) } }
            @if let Some((name, secret)) = p.created {
                p.notice role="status" {
                    "Token \u{201c}" (name) "\u{201d} made. Its secret, shown this once (only its hash is kept; copy it now): "
                    span.secret { (secret) }
                }
            }
            @if p.tokens.is_empty() {
                p { "No active tokens." }
            } @else {
                table.board {
                    thead { tr { th { "Name" } th { "May" } th { "Speaks for" } th { "Made" } th { "Last used" } th { "Revoke" } } }
                    tbody {
                        @for t in p.tokens {
                            tr {
                                td { (t.name) }
                                td data-label="May" { @if t.scope == "alerts" { "post alerts only" } @else { "everything" } }
                                td data-label="Speaks for" { @match t.owner { Some(owner) => (owner), None => "nobody" } }
                                td data-label="Made" { (parts::when(&c.page, t.created_at)) }
                                td data-label="Last used" { @match t.last_used_at { Some(at) => (parts::when(&c.page, at)), None => "never" } }
                                td {
                                    form.inline method="post" action="/admin/tokens/revoke" {
                                        (csrf(c))
                                        input type="hidden" name="name" value=(t.name);
                                        button.secondary type="submit" { "Revoke " span.visually-hidden { (t.name) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section.console-panel aria-labelledby="new-token" {
                h2 #new-token { "Make a token" }
                @if let Some(problem) = p.problem { p.problem role="alert" { "Not made: " (problem) } }
                form.console-form method="post" action="/admin/tokens" {
                    (csrf(c))
                    div.field {
                        label for="token-name" { "Name (what uses it: \u{201c}alertmanager\u{201d}, \u{201c}deploy script\u{201d})" }
                        input #token-name type="text" name="name" required maxlength="100";
                    }
                    div.field {
                        label for="token-owner" { "Owner named on what it opens, when it cannot say (optional, e.g. \u{201c}Dana (IT Ops) <dana@acme.test>\u{201d}; Statuspage scripts need one)" }
                        input #token-owner type="text" name="owner" maxlength="200";
                    }
                    fieldset {
                        legend { "It may" }
                        div.choices-row {
                            label.choice { input type="radio" name="scope" value="all" checked; "use the whole admin API" }
                            label.choice { input type="radio" name="scope" value="alerts"; "post monitoring alerts only" }
                        }
                    }
                    div.actions { button type="submit" { "Make token" } }
                }
            }
        },
    )
}
