//! The SVG status badge (`/badge.svg`, `/components/{id}/badge.svg`): a
//! label on grey and the state in words on its colour, readable by screen
//! readers through `role="img"`, `aria-label` and `<title>`.

use maud::{html, Markup, PreEscaped};

use crate::domain::{facts::Overall, ComponentStatus};

/// The page's colours (static/candor.css), for the state's side.
pub fn overall_colour(overall: Overall) -> &'static str {
    match overall {
        Overall::Operational => "#1a7f37",
        Overall::Minor => "#9a6700",
        Overall::Partial => "#bc4c00",
        Overall::Major => "#cf222e",
        Overall::Maintenance => "#0550ae",
    }
}

pub fn status_colour(status: ComponentStatus) -> &'static str {
    match status {
        ComponentStatus::Operational => "#1a7f37",
        ComponentStatus::DegradedPerformance => "#9a6700",
        ComponentStatus::PartialOutage => "#bc4c00",
        ComponentStatus::MajorOutage => "#cf222e",
        ComponentStatus::UnderMaintenance => "#0550ae",
    }
}

/// Roughly how wide `text` is in 11 px Verdana, so the badge fits its words.
fn text_width(text: &str) -> u32 {
    text.chars()
        .map(|c| match c {
            'i' | 'l' | 'j' | 'I' | '!' | '.' | ',' | ':' | ';' | '\'' | '|' => 4,
            ' ' | 'f' | 't' | 'r' | '(' | ')' | '-' => 5,
            'm' | 'w' | 'M' | 'W' => 11,
            c if c.is_uppercase() => 8,
            _ => 7,
        })
        .sum()
}

/// A badge: `label` on grey, `message` on `colour`.
pub fn svg(label: &str, message: &str, colour: &str) -> Markup {
    let left = text_width(label) + 12;
    let right = text_width(message) + 12;
    let width = left + right;
    let text = format!("{label}: {message}");
    html! {
        (PreEscaped("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"))
        svg xmlns="http://www.w3.org/2000/svg" width=(width) height="20"
            viewBox={"0 0 " (width) " 20"} role="img" aria-label=(text) {
            title { (text) }
            linearGradient id="shine" x2="0" y2="100%" {
                stop offset="0" stop-color="#bbb" stop-opacity=".1" {}
                stop offset="1" stop-opacity=".1" {}
            }
            clipPath id="round" {
                rect width=(width) height="20" rx="3" fill="#fff" {}
            }
            g clip-path="url(#round)" {
                rect width=(left) height="20" fill="#555" {}
                rect x=(left) width=(right) height="20" fill=(colour) {}
                rect width=(width) height="20" fill="url(#shine)" {}
            }
            g fill="#fff" text-anchor="middle"
                font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11" {
                text x=(left / 2) y="14" { (label) }
                text x=(left + right / 2) y="14" { (message) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_badge_says_its_state_in_words_and_escapes_names() {
        let svg = svg("R&D <lab>", "Partial outage", "#bc4c00").into_string();
        assert!(svg.starts_with("<?xml"));
        assert!(svg.contains("<title>R&amp;D &lt;lab&gt;: Partial outage</title>"));
        assert!(svg.contains("aria-label=\"R&amp;D &lt;lab&gt;: Partial outage\""));
        assert!(svg.contains("fill=\"#bc4c00\""));
        // XML: no void elements left open.
        assert!(!svg.contains("<stop offset=\"1\" stop-opacity=\".1\">\n"));
        assert!(svg.contains("</stop>"));
    }

    #[test]
    fn longer_words_make_wider_badges() {
        assert!(text_width("All systems operational") > text_width("Major outage"));
    }
}
