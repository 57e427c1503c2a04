//! Atom and RSS feeds of every timeline entry: `/feed.atom`, `/feed.rss`, and
//! one Atom feed per component. Each item says what the page says — status,
//! cause, ETA, the promised next update — in the words of `domain::facts`,
//! then the message.
//!
//! A broken promise is said at the instant it breaks, as on the page: while
//! an open incident's update is overdue or its ETA passed, the feed holds a
//! notice from Candor (marked as such, never dressed up as a staff update),
//! dated at the promised time, so the feed's `updated` moves to that instant
//! and readers show it as new. Entries themselves are never changed; the
//! notice goes when the promise is no longer broken (an update, a new ETA,
//! resolving), as the page's "Update overdue" line does. The cached bytes
//! are kept until the next promise breaks (`Until::facts`) or midnight.

use axum::{
    extract::{Path, State},
    http::header,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use jiff::{tz::TimeZone, Timestamp};

use super::{cache::Until, error::PageError, AppState};
use crate::domain::{classify, facts, incident::Promise, ComponentId, Entry, IncidentRecord};
use crate::store::{IncidentFilter, StoreError};
use crate::views::feed as view;

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

async fn not_allowed() -> PageError {
    PageError::NotAllowed("A feed can only be read.")
}

fn failed(err: StoreError) -> PageError {
    PageError::store(&err, "feed")
}

/// One feed item: an entry, or Candor's notice of a broken promise, with
/// what it belongs to, already in words.
struct Item {
    id: String,
    link: String,
    title: String,
    posted_at: Timestamp,
    /// HTML: the facts, then the sanitised message.
    content: String,
    /// Candor's notice, not a staff update: its id names no place on a page.
    notice: bool,
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

/// What an item is made from.
enum Source<'r> {
    Entry(&'r IncidentRecord, &'r Entry),
    /// A promise of an open incident broken by now (DESIGN §1.2, §1.3): the
    /// page says so at the due instant, and so does the feed, as an item of
    /// its own dated at that instant, so that feed readers show it as new.
    Notice(&'r IncidentRecord, facts::Broken),
}

impl Source<'_> {
    /// Newest first; at the same instant a notice after the entries.
    fn order(&self) -> (Timestamp, i64, &str) {
        match self {
            Source::Entry(_, e) => (e.posted_at, e.seq, e.id.as_str()),
            Source::Notice(r, b) => (b.at, i64::MAX, r.incident.id.as_str()),
        }
    }
}

/// The items of recent incidents that `keep` selects, newest first, and
/// until when they are true: the next broken promise, or midnight.
async fn items(
    state: &AppState,
    keep: impl Fn(&IncidentRecord) -> bool,
) -> Result<(Vec<Item>, Until), StoreError> {
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
    let kept: Vec<&IncidentRecord> = records.iter().filter(|r| keep(r)).collect();
    let until = kept
        .iter()
        .fold(Until::dates(now, &state.config.time_zone), |until, r| {
            until.facts(&r.incident, now)
        });
    let mut sources: Vec<Source<'_>> = kept
        .iter()
        .flat_map(|r| r.entries.iter().map(move |e| Source::Entry(r, e)))
        .chain(kept.iter().flat_map(|r| {
            facts::broken_promises(&r.incident, now, &state.config.time_zone)
                .into_iter()
                .map(move |b| Source::Notice(r, b))
        }))
        .collect();
    sources.sort_by(|a, b| b.order().cmp(&a.order()));
    sources.truncate(ITEMS);
    let items = sources
        .into_iter()
        .map(|source| match source {
            Source::Entry(record, entry) => item(state, record, entry, now),
            Source::Notice(record, broken) => notice(state, record, &broken),
        })
        .collect();
    Ok((items, until))
}

fn item(state: &AppState, record: &IncidentRecord, entry: &Entry, now: Timestamp) -> Item {
    let tz: &TimeZone = &state.config.time_zone;
    let link = format!("{}/incidents/{}", state.base_url, record.incident.id);
    let lead = classify::lead(&entry.classes);
    let title = format!(
        "[{}] {} — {}",
        lead.label(),
        entry.state.title,
        entry.state.status.words()
    );
    let content = view::entry(record, entry, now, tz);
    Item {
        id: format!("{link}#entry-{}", entry.id),
        link,
        title,
        posted_at: entry.posted_at,
        content: content.into_string(),
        notice: false,
    }
}

/// Candor's notice that a promise is broken. Its id is the incident and the
/// promise (kind and promised time), so it stays the same item for as long
/// as the promise stays broken; a new promise broken is a new item.
fn notice(state: &AppState, record: &IncidentRecord, broken: &facts::Broken) -> Item {
    let incident = &record.incident;
    let link = format!("{}/incidents/{}", state.base_url, incident.id);
    let kind = match broken.promise {
        Promise::Eta => "eta-passed",
        _ => "update-overdue",
    };
    let content = view::notice(incident, broken);
    Item {
        id: format!("{link}#{kind}-{}", broken.at.as_millisecond()),
        link,
        title: format!(
            "[{}] {} — {}",
            broken.label, incident.state.title, broken.headline
        ),
        posted_at: broken.at,
        content: content.into_string(),
        notice: true,
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

fn atom_response(state: &AppState, feed: Feed, until: Until) -> Response {
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
                // The feed's author (the page) posts the entries; a notice
                // is Candor's own.
                authors: if item.notice {
                    vec![atom::Person {
                        name: "Candor".into(),
                        ..Default::default()
                    }]
                } else {
                    Vec::new()
                },
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
    (until, [(header::CONTENT_TYPE, ATOM)], doc.to_string()).into_response()
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

#[tracing::instrument(skip_all)]
async fn atom(State(state): State<AppState>) -> Result<Response, PageError> {
    let (items, until) = items(&state, |_| true).await.map_err(failed)?;
    let (title, subtitle) = everything(&state);
    let feed = Feed {
        title,
        self_url: format!("{}/feed.atom", state.base_url),
        subtitle,
        items,
    };
    Ok(atom_response(&state, feed, until))
}

#[tracing::instrument(skip_all)]
async fn rss(State(state): State<AppState>) -> Result<Response, PageError> {
    let (items, until) = items(&state, |_| true).await.map_err(failed)?;
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
                    permalink: !item.notice,
                }),
                pub_date: rss_time(item.posted_at),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    Ok((until, [(header::CONTENT_TYPE, RSS)], channel.to_string()).into_response())
}

#[tracing::instrument(skip_all, fields(component = %id))]
async fn component_atom(
    State(state): State<AppState>,
    Path(id): Path<ComponentId>,
) -> Result<Response, PageError> {
    let component = state
        .store
        .get_component(&id)
        .await
        .map_err(|err| match err {
            StoreError::NotFound => {
                PageError::NotFound("There is no component here. It may have a different address.")
            }
            err => failed(err),
        })?;
    let affects = |record: &IncidentRecord| {
        record.incident.state.components.contains_key(&id)
            || record
                .entries
                .iter()
                .any(|e| e.components.iter().any(|c| c.id == id))
    };
    let (items, until) = items(&state, affects).await.map_err(failed)?;
    let feed = Feed {
        title: format!("{} — {}", state.config.page_name, component.name),
        self_url: format!("{}/components/{}/feed.atom", state.base_url, component.id),
        subtitle: format!(
            "Every update to incidents that affect {} on {}.",
            component.name, state.config.page_name
        ),
        items,
    };
    Ok(atom_response(&state, feed, until))
}
