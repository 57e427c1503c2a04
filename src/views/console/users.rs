//! `/admin/users`: who can log in to the console, and as what.

use maud::{html, Markup};

use super::{layout, Console};
use crate::domain::staff::StaffUser;

pub fn page(c: &Console<'_>, users: &[StaffUser]) -> Markup {
    layout(
        c,
        "Users",
        html! {
            h1 { "Users" }
            table.board {
                thead { tr { th { "Name" } th { "Address" } th { "Role" } th { "State" } } }
                tbody {
                    @for user in users {
                        tr {
                            td { (user.name) }
                            td { (user.email) }
                            td { (user.role.words()) }
                            td { @if user.disabled { "Disabled" } @else { "Can log in" } }
                        }
                    }
                }
            }
            p.hint {
                "Editors post incidents and maintenance; admins also manage components, subscribers, tokens and users. "
                "Add one with " code { "candor user create EMAIL --name \"Dana (IT Ops)\" --role editor" } ", "
                "end one's access at once with " code { "candor user disable EMAIL" } "."
            }
        },
    )
}
