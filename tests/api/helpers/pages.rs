//! Pages read as a person reads them: the visible text, the `<time>`
//! elements, and assertions that say what the page should (not) show.

use scraper::{ElementRef, Html, Selector};

/// The text a reader sees: the window's title, then the body; no scripts
/// or styles, block elements apart, entities decoded, whitespace collapsed.
pub fn visible_text(html: &str) -> String {
    let document = Html::parse_document(html);
    text_of(document.root_element(), &[])
}

/// Every `<time>` element: its `datetime` attribute (if any) and its text.
pub fn time_elements(html: &str) -> Vec<(Option<String>, String)> {
    let document = Html::parse_document(html);
    let time = Selector::parse("time").expect("a valid selector");
    document
        .select(&time)
        .map(|element| {
            (
                element.attr("datetime").map(str::to_string),
                text_of(element, &[]),
            )
        })
        .collect()
}

/// The visible text with every `<time>` element taken out, to check that no
/// time is shown outside one.
pub fn text_outside_time_elements(html: &str) -> String {
    let document = Html::parse_document(html);
    text_of(document.root_element(), &["time"])
}

/// The text inside `element`, leaving out the elements named in `skip`.
fn text_of(element: ElementRef<'_>, skip: &[&str]) -> String {
    let mut text = String::new();
    push_text(element, skip, &mut text);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn push_text(element: ElementRef<'_>, skip: &[&str], text: &mut String) {
    for child in element.children() {
        if let Some(piece) = child.value().as_text() {
            text.push_str(piece);
        } else if let Some(child) = ElementRef::wrap(child) {
            let name = child.value().name();
            if matches!(name, "script" | "style" | "template") || skip.contains(&name) {
                continue;
            }
            // Words in neighbouring blocks (`<dt>Owner:</dt><dd>Dana</dd>`)
            // are apart on screen, so they are apart in the text too.
            let block = is_block(name);
            if block {
                text.push(' ');
            }
            push_text(child, skip, text);
            if block {
                text.push(' ');
            }
        }
    }
}

fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "br"
            | "li"
            | "ul"
            | "ol"
            | "dl"
            | "dt"
            | "dd"
            | "tr"
            | "td"
            | "th"
            | "table"
            | "thead"
            | "tbody"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "section"
            | "article"
            | "header"
            | "footer"
            | "main"
            | "nav"
            | "aside"
            | "blockquote"
            | "pre"
            | "hr"
            | "figure"
            | "figcaption"
            | "details"
            | "summary"
            | "title"
            | "head"
            | "body"
    )
}

/// `HH:MM` clock readings in a text.
pub fn clock_readings(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    for i in 0..chars.len().saturating_sub(4) {
        let w = &chars[i..i + 5];
        let digit_before = i > 0 && chars[i - 1].is_ascii_digit();
        if !digit_before
            && w[0].is_ascii_digit()
            && w[1].is_ascii_digit()
            && w[2] == ':'
            && w[3].is_ascii_digit()
            && w[4].is_ascii_digit()
        {
            let from = i.saturating_sub(30);
            let to = (i + 30).min(chars.len());
            found.push(chars[from..to].iter().collect());
        }
    }
    found
}

/// Position of `needle` in `text`, or a panic that shows the page.
#[track_caller]
pub fn position(text: &str, needle: &str) -> usize {
    text.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not found on the page: {text}"))
}

#[track_caller]
pub fn assert_shows(text: &str, needle: &str) {
    assert!(
        text.contains(needle),
        "page should show {needle:?}; it shows: {text}"
    );
}

#[track_caller]
pub fn assert_hides(text: &str, needle: &str) {
    assert!(
        !text.contains(needle),
        "page should not show {needle:?}; it shows: {text}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_text_reads_like_a_person() {
        let html = "<dl><dt>Owner:</dt><dd>Dana &amp; co</dd></dl><p>Next update by \
                    <time datetime=\"2026-03-04T09:30:00Z\">10:30 CET</time> (in 12&nbsp;min)</p>";
        assert_eq!(
            visible_text(html),
            "Owner: Dana & co Next update by 10:30 CET (in 12 min)"
        );
        assert_eq!(
            time_elements(html),
            vec![(
                Some("2026-03-04T09:30:00Z".to_string()),
                "10:30 CET".to_string()
            )]
        );
        assert_eq!(
            text_outside_time_elements(html),
            "Owner: Dana & co Next update by (in 12 min)"
        );
        assert_eq!(
            clock_readings("at 10:30 and 123:45"),
            vec!["at 10:30 and 123:45".to_string()]
        );
    }

    #[test]
    fn the_title_and_body_are_read_without_scripts_and_with_entities_decoded() {
        let html = "<!doctype html><html><head><title>Acme IT status</title>\
                    <style>p { color: red }</style></head><body>\
                    <h1>Mail&#32;delays</h1><script>let x = '<p>hidden</p>';</script>\
                    <p>ETA 16:00 &mdash; was&nbsp;14:00 &#x2013; moved&#8230;</p></body></html>";
        assert_eq!(
            visible_text(html),
            "Acme IT status Mail delays ETA 16:00 — was 14:00 – moved…"
        );
        assert_eq!(time_elements(html), Vec::new());
    }
}
