//! Staff write Markdown; the page shows it sanitised.

use maud::{Markup, PreEscaped};
use pulldown_cmark::{html, Event, Options, Parser, Tag, TagEnd};

/// Markdown rendered to HTML, then cleaned of anything but safe markup.
pub fn render(source: &str) -> Markup {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_TABLES);
    let mut unsafe_html = String::new();
    html::push_html(
        &mut unsafe_html,
        Parser::new_ext(source, options).map(image_as_link),
    );
    let clean = ammonia::Builder::default()
        .link_rel(Some("nofollow noopener noreferrer"))
        // A remote image would tell its host who reads the page, the feed
        // or the mail, and when: images are shown as links instead.
        .rm_tags(&["img"])
        .clean(&unsafe_html)
        .to_string();
    PreEscaped(clean)
}

/// `![alt](url)` becomes `[alt](url)`: the reader may follow it, nothing
/// loads by itself.
fn image_as_link(event: Event<'_>) -> Event<'_> {
    match event {
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }),
        Event::End(TagEnd::Image) => Event::End(TagEnd::Link),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_is_rendered_and_scripts_are_removed() {
        let html = render("**Down** <script>alert(1)</script> [x](javascript:alert(1))").0;
        assert!(html.contains("<strong>Down</strong>"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("javascript:"));
    }

    #[test]
    fn remote_images_become_links_and_load_nothing() {
        let html = render(
            "![graph](https://tracker.example.test/p.png) <img src=\"https://tracker.example.test/q.png\">",
        )
        .0;
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("href=\"https://tracker.example.test/p.png\""),
            "{html}"
        );
        assert!(html.contains(">graph</a>"), "{html}");
    }
}
