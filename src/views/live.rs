//! What `/static/live.js` reads to keep `/` and an incident page true in an
//! open tab, by the browser's clock. The words stay the server's; the
//! script only swaps text:
//!
//! - an element with `data-live-at` (an RFC 3339 instant) and
//!   `data-live-then` (a sentence) takes that sentence as its text, and the
//!   class `broken`, at that instant: "Next update by 10:30 CET (in 12 min)"
//!   becomes "Update overdue since 10:30 CET — Dana (IT Ops) has been
//!   reminded" (`views::parts::honesty_block` renders both);
//! - a `data-live-rel` span (an RFC 3339 instant) holds the relative time
//!   after a time, " (in 12 min)", rewritten each second from the words in
//!   the closest `data-live-words` ([`words`]).

use std::sync::LazyLock;

use jiff::{SignedDuration, Timestamp};
use maud::{html, Markup};

use super::parts;
use crate::domain::facts::{self, Line, Part};

/// `parts::line`, with the relative time that follows a time (" (in 12
/// min)", as `facts::relative` words it at `now`) in a `data-live-rel` span.
pub fn line(sentence: &Line, now: Timestamp) -> Markup {
    let mut after: Option<Timestamp> = None;
    let parts: Vec<Markup> = sentence
        .0
        .iter()
        .map(|part| {
            let time = after.take();
            match part {
                Part::Time { at, .. } => {
                    after = Some(*at);
                    parts::line(&Line(vec![part.clone()]))
                }
                Part::Text(text) => match time.and_then(|at| Some((at, facts::relative(at, now)?)))
                {
                    Some((at, relative)) if *text == format!(" ({relative})") => {
                        html! { span data-live-rel=(at.to_string()) { (text) } }
                    }
                    _ => html! { (text) },
                },
            }
        })
        .collect();
    html! { @for part in &parts { (part) } }
}

/// `facts::relative`'s words for the script: "near|now|in {m} min|in {h} h
/// {m} min|{m} min ago|{h} h {m} min ago", `near` the most minutes it
/// words. Made once by asking `facts::relative` itself, so that the page
/// says in a minute what the server would then say.
pub fn words() -> &'static str {
    static WORDS: LazyLock<String> = LazyLock::new(|| {
        let now = Timestamp::UNIX_EPOCH;
        let word = |minutes: i64| facts::relative(now + SignedDuration::from_mins(minutes), now);
        let near = (0..=24 * 60)
            .take_while(|m| word(*m).is_some())
            .last()
            .unwrap_or(0);
        // 7 minutes, and 1 hour 7 minutes, with their numbers left open.
        let template = |minutes: i64| {
            word(minutes)
                .unwrap_or_default()
                .replacen('7', "{m}", 1)
                .replacen('1', "{h}", 1)
        };
        [
            near.to_string(),
            word(0).unwrap_or_default(),
            template(7),
            template(67),
            template(-7),
            template(-67),
        ]
        .join("|")
    });
    &WORDS
}
