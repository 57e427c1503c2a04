//! Staff write Markdown; the page shows it sanitised.

use maud::{Markup, PreEscaped};
use pulldown_cmark::{html, Options, Parser};

/// Markdown rendered to HTML, then cleaned of anything but safe markup.
pub fn render(source: &str) -> Markup {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_TABLES);
    let mut unsafe_html = String::new();
    html::push_html(&mut unsafe_html, Parser::new_ext(source, options));
    let clean = ammonia::Builder::default()
        .link_rel(Some("nofollow noopener noreferrer"))
        .clean(&unsafe_html)
        .to_string();
    PreEscaped(clean)
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
}
