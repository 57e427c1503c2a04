//! Pages for people when something is not there or went wrong.

use maud::{html, Markup, DOCTYPE};

/// The page for an HTTP status (`status` is its code: the view needs only
/// the number to choose its heading, not the server's types).
pub fn page(page_name: &str, status: u16, message: &str) -> Markup {
    let heading = match status {
        404 => "Not found",
        405 => "Not allowed",
        429 => "Too many requests",
        500..=599 => "Something went wrong on our side",
        _ => "That did not work",
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (heading) " — " (page_name) }
                link rel="stylesheet" href="/static/candor.css";
            }
            body {
                main {
                    h1 { (heading) }
                    p { (message) }
                    p { a href="/" { "Back to the current status of " (page_name) } }
                }
            }
        }
    }
}
