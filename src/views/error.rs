//! Pages for people when something is not there or went wrong.

use axum::http::StatusCode;
use maud::{html, Markup, DOCTYPE};

pub fn page(page_name: &str, status: StatusCode, message: &str) -> Markup {
    let heading = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::METHOD_NOT_ALLOWED => "Not allowed",
        StatusCode::TOO_MANY_REQUESTS => "Too many requests",
        s if s.is_server_error() => "Something went wrong on our side",
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
