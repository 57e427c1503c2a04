//! `/admin/audit` (admins): every write, newest first: when, who, from
//! where, what, and on what.

use maud::{html, Markup};

use super::{layout, Console};
use crate::views::parts;

/// One write, as the page lists it.
pub struct AuditRow<'a> {
    pub at: jiff::Timestamp,
    pub actor: &'a str,
    pub ip: Option<&'a str>,
    pub action: &'a str,
    pub target: &'a str,
    pub detail: &'a str,
}

/// How much of a write's detail the page shows.
const DETAIL_SHOWN: usize = 300;

pub fn page(c: &Console<'_>, rows: &[AuditRow<'_>], older: Option<i64>) -> Markup {
    layout(
        c,
        "Audit log",
        html! {
            h1 { "Audit log" }
            p.quiet { "Every write, by whom and from where. Nothing here can be changed." }
            table.board {
                thead { tr { th { "When" } th { "Who" } th { "From" } th { "What" } th { "On" } th { "Detail" } } }
                tbody {
                    @for row in rows {
                        tr {
                            td { (parts::when(&c.page, row.at)) }
                            td data-label="Who" { (row.actor) }
                            td data-label="From" { (row.ip.unwrap_or("—")) }
                            td { (row.action) }
                            td data-label="On" { (row.target) }
                            td.detail {
                                @if row.detail.chars().count() > DETAIL_SHOWN {
                                    (row.detail.chars().take(DETAIL_SHOWN).collect::<String>()) "…"
                                } @else { (row.detail) }
                            }
                        }
                    }
                }
            }
            @if let Some(before) = older { p { a href={ "/admin/audit?before=" (before) } { "Older" } } }
        },
    )
}
