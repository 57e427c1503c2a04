use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::{parts, PageContext};

pub const STYLESHEET: &str = include_str!("../../static/candor.css");

pub const FAVICON: &str = include_str!("../../static/favicon.svg");

/// The frame of every page.
pub fn layout(ctx: &PageContext<'_>, title: &str, body: Markup) -> Markup {
    frame(
        ctx.page_name,
        Some(ctx.tz.iana_name().unwrap_or("UTC")),
        title,
        body,
    )
}

/// The frame around a page's `body`: the head, the site's header with its
/// navigation, the footer. `zone` is the time zone the page's times are in,
/// when it shows any.
pub fn frame(page_name: &str, zone: Option<&str>, title: &str, body: Markup) -> Markup {
    let full_title = if title.is_empty() {
        page_name.to_string()
    } else {
        format!("{title} — {page_name}")
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (full_title) }
                link rel="stylesheet" href="/static/candor.css";
                link rel="icon" href="/static/favicon.svg" type="image/svg+xml";
                link rel="alternate" type="application/atom+xml" href="/feed.atom"
                    title={ (page_name) " — incidents (Atom)" };
                link rel="alternate" type="application/rss+xml" href="/feed.rss"
                    title={ (page_name) " — incidents (RSS)" };
            }
            body {
                header.site {
                    a.home href="/" { (page_name) }
                    nav aria-label="Main" {
                        a href="/" { "Current status" }
                        " "
                        a href="/history" { "Past incidents" }
                    }
                }
                main { (body) }
                footer.site {
                    p {
                        @if let Some(zone) = zone { "Times are shown in " (zone) ". " }
                        "Every change to an incident is kept: corrections are added, never edited in."
                    }
                }
            }
        }
    }
}

/// Said at the top of a page served from its last good rendering, because
/// a new one could not be made (the database does not answer, say).
pub fn stale_notice(ctx: &PageContext<'_>, since: jiff::Timestamp) -> Markup {
    html! {
        p.stale role="status" {
            "This page could not be refreshed since " (parts::when(ctx, since)) ". "
            "What it shows may be out of date; it will be refreshed as soon as possible."
        }
    }
}

/// `page` (made by `layout`) with `notice` first in its main part.
pub fn with_notice(page: &str, notice: &Markup) -> Option<String> {
    const MAIN: &str = "<main>";
    let at = page.find(MAIN)? + MAIN.len();
    let notice = &notice.0;
    let mut marked = String::with_capacity(page.len() + notice.len());
    marked.push_str(&page[..at]);
    marked.push_str(notice);
    marked.push_str(&page[at..]);
    Some(marked)
}

/// `layout` for a page readers keep open during an outage (`/`, an
/// incident), its head ending with the script that keeps it current in an
/// open tab (`views::live` holds the markup it reads) and, for browsers
/// without JavaScript, a reload every minute.
pub fn live_layout(ctx: &PageContext<'_>, title: &str, body: Markup) -> Markup {
    let live = html! {
        script src="/static/live.js" defer {}
        noscript { meta http-equiv="refresh" content="60"; }
    };
    let page = layout(ctx, title, body).into_string();
    // The head's end is there once: text in the page is escaped.
    PreEscaped(page.replacen("</head>", &format!("{}</head>", live.0), 1))
}
