//! Atom and RSS feeds of every timeline entry: `/feed.atom`, `/feed.rss`, and
//! one Atom feed per component. Each item says what the page says — status,
//! cause, ETA, the promised next update — in the words of `domain::facts`,
//! then the message.

use axum::{
    extract::{Path, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use jiff::{tz::TimeZone, Timestamp};
use maud::html;

use super::{cache::Until, status_page, AppState};
use crate::domain::{classify, facts, Entry};
use crate::store::{IncidentFilter, IncidentRecord, StoreError};
use crate::views::markdown;

/// Entries of this many recent incidents are in a feed…
const INCIDENTS: i64 = 50;
/// …and at most this many entries.
const ITEMS: usize = 200;

const ATOM: &str = "application/atom+xml; charset=utf-8";
const RSS: &str = "application/rss+xml; charset=utf-8";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/feed.atom", get(atom))
        .route("/feed.rss", get(rss))
        .route("/components/{id}/feed.atom", get(component_atom))
        .method_not_allowed_fallback(not_allowed)
}

async fn not_allowed(State(state): State<AppState>) -> Response {
    status_page(
        StatusCode::METHOD_NOT_ALLOWED,
        &state,
        "A feed can only be read.",
    )
}

fn failed(state: &AppState, err: StoreError) -> Response {
    tracing::error!(error = %err, "feed");
    status_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        state,
        "The feed could not be built just now. Please try again in a minute.",
    )
}

/// One feed item: an entry with what it belongs to, already in words.
struct Item {
    id: String,
    link: String,
    title: String,
    posted_at: Timestamp,
    /// HTML: the facts, then the sanitised message.
    content: String,
}

/// What a feed is about, and its items, newest first.
struct Feed {
    title: String,
    self_url: String,
    subtitle: String,
    items: Vec<Item>,
}

impl Feed {
    /// The newest item's time; an empty feed was last changed never, so now.
    fn updated(&self, now: Timestamp) -> Timestamp {
        self.items.first().map_or(now, |i| i.posted_at)
    }
}

/// The entries of recent incidents that `keep` selects, as items, newest first.
async fn items(
    state: &AppState,
    keep: impl Fn(&IncidentRecord) -> bool,
) -> Result<Vec<Item>, StoreError> {
    let records = state
        .store
        .incident_records(&IncidentFilter {
            state: None,
            kind: None,
            before: None,
            limit: INCIDENTS,
        })
        .await?;
    let now = state.clock.now();
    let mut entries: Vec<(&IncidentRecord, &Entry)> = records
        .iter()
        .filter(|r| keep(r))
        .flat_map(|r| r.entries.iter().map(move |e| (r, e)))
        .collect();
    entries
        .sort_by(|a, b| (b.1.posted_at, b.1.seq, &b.1.id).cmp(&(a.1.posted_at, a.1.seq, &a.1.id)));
    entries.truncate(ITEMS);
    Ok(entries
        .into_iter()
        .map(|(record, entry)| item(state, record, entry, now))
        .collect())
}

fn item(state: &AppState, record: &IncidentRecord, entry: &Entry, now: Timestamp) -> Item {
    let tz: &TimeZone = &state.tz;
    let link = format!("{}/incidents/{}", state.base_url, record.incident.id);
    let lead = classify::lead(&entry.classes);
    let title = format!(
        "[{}] {} — {}",
        lead.label(),
        entry.state.title,
        entry.state.status.words()
    );
    let corrected = entry
        .corrects
        .as_deref()
        .and_then(|id| record.entries.iter().find(|e| e.id == id));
    let corrected_by = record.corrected_by(&entry.id);
    let content = html! {
        p {
            "Status: " (entry.state.status.words()) " · " (entry.state.impact.words())
            " · Owner: " (entry.state.owner.name)
        }
        p { (facts::entry_facts(&entry.state, now, tz).to_string()) }
        @if let Some(original) = corrected {
            p { "Corrects the entry of " (facts::when(original.posted_at, now, tz)) "." }
        }
        @if !entry.components.is_empty() {
            ul {
                @for change in &entry.components {
                    li {
                        (change.name) ": " (change.old_status.words().to_lowercase())
                        " → " (change.new_status.words().to_lowercase())
                    }
                }
            }
        }
        (markdown::render(entry.message.as_str()))
        @if let Some(by) = corrected_by {
            p { "Corrected by the entry of " (facts::when(by.posted_at, now, tz)) "." }
        }
        @if entry.system { p { "Posted by Candor." } }
    };
    Item {
        id: format!("{link}#entry-{}", entry.id),
        link,
        title,
        posted_at: entry.posted_at,
        content: content.into_string(),
    }
}

fn atom_time(at: Timestamp) -> atom_syndication::FixedDateTime {
    atom_syndication::FixedDateTime::parse_from_rfc3339(&at.to_string()).unwrap_or_default()
}

fn rss_time(at: Timestamp) -> Option<String> {
    jiff::fmt::rfc2822::to_string(&at.to_zoned(TimeZone::UTC)).ok()
}

fn atom_link(href: &str, rel: &str, mime_type: Option<&str>) -> atom_syndication::Link {
    atom_syndication::Link {
        href: href.to_string(),
        rel: rel.to_string(),
        mime_type: mime_type.map(str::to_string),
        ..Default::default()
    }
}

fn atom_response(state: &AppState, feed: Feed) -> Response {
    use atom_syndication as atom;
    let now = state.clock.now();
    let home = format!("{}/", state.base_url);
    let doc = atom::Feed {
        title: atom::Text::plain(&feed.title),
        id: feed.self_url.clone(),
        updated: atom_time(feed.updated(now)),
        authors: vec![atom::Person {
            name: state.config.page_name.clone(),
            uri: Some(home.clone()),
            ..Default::default()
        }],
        links: vec![
            atom_link(&feed.self_url, "self", Some("application/atom+xml")),
            atom_link(&home, "alternate", Some("text/html")),
        ],
        subtitle: Some(atom::Text::plain(&feed.subtitle)),
        lang: Some("en".into()),
        entries: feed
            .items
            .into_iter()
            .map(|item| atom::Entry {
                title: atom::Text::plain(item.title),
                id: item.id,
                updated: atom_time(item.posted_at),
                published: Some(atom_time(item.posted_at)),
                links: vec![atom_link(&item.link, "alternate", Some("text/html"))],
                content: Some(atom::Content {
                    content_type: Some("html".into()),
                    value: Some(item.content),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    // Item texts write dates relative to today.
    (
        Until::dates(now, &state.tz),
        [(header::CONTENT_TYPE, ATOM)],
        doc.to_string(),
    )
        .into_response()
}

fn everything(state: &AppState) -> (String, String) {
    (
        format!("{} — incidents", state.config.page_name),
        format!(
            "Every update to every incident on {}, as it is posted.",
            state.config.page_name
        ),
    )
}

async fn atom(State(state): State<AppState>) -> Response {
    let items = match items(&state, |_| true).await {
        Ok(items) => items,
        Err(err) => return failed(&state, err),
    };
    let (title, subtitle) = everything(&state);
    let feed = Feed {
        title,
        self_url: format!("{}/feed.atom", state.base_url),
        subtitle,
        items,
    };
    atom_response(&state, feed)
}

async fn rss(State(state): State<AppState>) -> Response {
    let items = match items(&state, |_| true).await {
        Ok(items) => items,
        Err(err) => return failed(&state, err),
    };
    let (title, description) = everything(&state);
    let self_url = format!("{}/feed.rss", state.base_url);
    let updated = items.first().map_or(state.clock.now(), |i| i.posted_at);
    let channel = rss::Channel {
        title,
        link: format!("{}/", state.base_url),
        description,
        language: Some("en".into()),
        last_build_date: rss_time(updated),
        atom_ext: Some(rss::extension::atom::AtomExtension {
            links: vec![atom_link(&self_url, "self", Some("application/rss+xml"))],
        }),
        items: items
            .into_iter()
            .map(|item| rss::Item {
                title: Some(item.title),
                link: Some(item.link),
                description: Some(item.content),
                guid: Some(rss::Guid {
                    value: item.id,
                    permalink: true,
                }),
                pub_date: rss_time(item.posted_at),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    (
        Until::dates(state.clock.now(), &state.tz),
        [(header::CONTENT_TYPE, RSS)],
        channel.to_string(),
    )
        .into_response()
}

async fn component_atom(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let component = match state.store.get_component(&id).await {
        Ok(component) => component,
        Err(StoreError::NotFound) => {
            return status_page(
                StatusCode::NOT_FOUND,
                &state,
                "There is no component here. It may have a different address.",
            )
        }
        Err(err) => return failed(&state, err),
    };
    let affects = |record: &IncidentRecord| {
        record.incident.state.components.contains_key(&id)
            || record
                .entries
                .iter()
                .any(|e| e.components.iter().any(|c| c.id == id))
    };
    let items = match items(&state, affects).await {
        Ok(items) => items,
        Err(err) => return failed(&state, err),
    };
    let feed = Feed {
        title: format!("{} — {}", state.config.page_name, component.name),
        self_url: format!("{}/components/{}/feed.atom", state.base_url, component.id),
        subtitle: format!(
            "Every update to incidents that affect {} on {}.",
            component.name, state.config.page_name
        ),
        items,
    };
    atom_response(&state, feed)
}
