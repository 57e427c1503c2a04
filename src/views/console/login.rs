//! The login page and the page that sets a password from a one-time link.

use maud::{html, Markup};

use super::frame;
use crate::domain::staff::{StaffUser, PASSWORD_MIN};
use crate::views::PageContext;

pub fn login_page(
    ctx: &PageContext<'_>,
    token: &str,
    next: &str,
    email: &str,
    problem: Option<&str>,
    notice: Option<&str>,
) -> Markup {
    frame(
        ctx.page_name,
        "Log in",
        html! {},
        html! {
            h1 { "Log in to post updates" }
            @if let Some(notice) = notice { p.notice role="status" { (notice) } }
            @if let Some(problem) = problem { p.problem role="alert" { (problem) } }
            form.console-form method="post" action="/admin/login" {
                input type="hidden" name="csrf" value=(token);
                input type="hidden" name="next" value=(next);
                p.field {
                    label for="email" { "Email address" }
                    input #email type="text" inputmode="email" name="email" required
                        autocomplete="username" autocapitalize="none" spellcheck="false"
                        value=(email) autofocus[email.is_empty()];
                }
                p.field {
                    label for="password" { "Password" }
                    input #password type="password" name="password" required
                        autocomplete="current-password" autofocus[!email.is_empty()];
                }
                p.actions { button type="submit" { "Log in" } }
            }
            p.quiet { "No account, or forgot the password? An admin can make you one, or a new link to set it." }
        },
    )
}

pub fn password_page(
    ctx: &PageContext<'_>,
    user: &StaffUser,
    token: &str,
    problem: Option<&str>,
) -> Markup {
    frame(
        ctx.page_name,
        "Set your password",
        html! {},
        html! {
            h1 { "Set your password" }
            p { "For " strong { (user.name) } " (" (user.email) "), " (user.role.words().to_lowercase()) "." }
            @if let Some(problem) = problem { p.problem role="alert" { (problem) } }
            form.console-form method="post" action="/admin/set-password" {
                input type="hidden" name="token" value=(token);
                // For password managers: the account this password is for.
                input type="hidden" name="username" autocomplete="username" value=(user.email);
                p.field {
                    label for="password" { "New password" }
                    input #password type="password" name="password" required minlength=(PASSWORD_MIN)
                        autocomplete="new-password" aria-describedby="password-hint";
                    span.hint #password-hint { "At least " (PASSWORD_MIN) " characters. A few unrelated words are easy to type and hard to guess." }
                }
                p.field {
                    label for="again" { "The same password again" }
                    input #again type="password" name="again" required minlength=(PASSWORD_MIN) autocomplete="new-password";
                }
                p.actions { button type="submit" { "Set password" } }
            }
        },
    )
}
