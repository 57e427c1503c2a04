//! Pages for people when something is not there or went wrong, in the
//! site's frame so that the way back is where it always is.

use maud::{html, Markup};

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
    super::layout::frame(
        page_name,
        None,
        heading,
        html! {
            h1 { (heading) }
            p { (message) }
            p { a href="/" { "Back to the current status of " (page_name) } }
        },
    )
}
