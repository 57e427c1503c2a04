//! Pages read as a person reads them: the visible text, the `<time>`
//! elements, and assertions that say what the page should (not) show.

/// The text a reader sees: tags removed (block tags become spaces),
/// entities decoded, whitespace collapsed.
pub fn visible_text(html: &str) -> String {
    let html = remove_elements(html, "script");
    let html = remove_elements(&html, "style");
    let mut text = String::with_capacity(html.len());
    let mut rest = html.as_str();
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            rest = "";
            break;
        };
        let tag = &rest[open + 1..open + close];
        if is_block_tag(tag) {
            text.push(' ');
        }
        rest = &rest[open + close + 1..];
    }
    text.push_str(rest);
    let text = decode_entities(&text);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_block_tag(tag: &str) -> bool {
    let name: String = tag
        .trim_start_matches('/')
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    matches!(
        name.as_str(),
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
            | "title"
            | "body"
            | "head"
            | "html"
            | "figure"
            | "figcaption"
            | "details"
            | "summary"
    )
}

fn remove_elements(html: &str, name: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let open = format!("<{name}");
    let close = format!("</{name}>");
    let mut out = String::new();
    let mut at = 0;
    while let Some(start) = lower[at..].find(&open).map(|i| i + at) {
        out.push_str(&html[at..start]);
        match lower[start..].find(&close) {
            Some(end) => at = start + end + close.len(),
            None => {
                at = html.len();
                break;
            }
        }
    }
    out.push_str(&html[at.min(html.len())..]);
    out
}

pub fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        // `;` is ASCII, so its byte position is a char boundary.
        let Some(semi) = rest.bytes().take(12).position(|b| b == b';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            "mdash" => Some('—'),
            "ndash" => Some('–'),
            "middot" => Some('·'),
            "hellip" => Some('…'),
            _ if entity.starts_with("#x") || entity.starts_with("#X") => {
                u32::from_str_radix(&entity[2..], 16)
                    .ok()
                    .and_then(char::from_u32)
            }
            _ if entity.starts_with('#') => entity[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Every `<time>` element: its `datetime` attribute (if any) and its text.
pub fn time_elements(html: &str) -> Vec<(Option<String>, String)> {
    let lower = html.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(start) = lower[at..].find("<time").map(|i| i + at) {
        let after = lower.as_bytes().get(start + 5).copied().unwrap_or(b'>');
        if !(after == b'>' || after.is_ascii_whitespace()) {
            at = start + 5;
            continue;
        }
        let Some(tag_end) = lower[start..].find('>').map(|i| i + start) else {
            break;
        };
        let tag = &html[start..tag_end];
        let datetime = attribute(tag, "datetime");
        let Some(close) = lower[tag_end..].find("</time>").map(|i| i + tag_end) else {
            break;
        };
        found.push((datetime, visible_text(&html[tag_end + 1..close])));
        at = close + 7;
    }
    found
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(name).map(|i| i + from) {
        let before_ok = i > 0 && lower.as_bytes()[i - 1].is_ascii_whitespace();
        let rest = &tag[i + name.len()..];
        let rest_trim = rest.trim_start();
        if before_ok && rest_trim.starts_with('=') {
            let value = rest_trim[1..].trim_start();
            return Some(match value.chars().next() {
                Some(q @ ('"' | '\'')) => value[1..].split(q).next().unwrap_or("").to_string(),
                _ => value
                    .split(|c: char| c.is_whitespace() || c == '>')
                    .next()
                    .unwrap_or("")
                    .to_string(),
            });
        }
        from = i + name.len();
    }
    None
}

/// The visible text with every `<time>` element taken out, to check that no
/// time is shown outside one.
pub fn text_outside_time_elements(html: &str) -> String {
    visible_text(&remove_elements(html, "time"))
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
}
