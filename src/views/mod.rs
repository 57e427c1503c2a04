//! HTML views as maud functions. Handlers build the view data, views render.

pub mod affected;
pub mod api_docs;
pub mod badge;
pub mod calendar;
pub mod console;
pub mod error;
pub mod feed;
pub mod history;
pub mod incident;
pub mod index;
pub mod layout;
pub mod live;
pub mod mail;
pub mod maintenance;
pub mod markdown;
pub mod metrics;
pub mod parts;
pub mod subscribe;
pub mod uptime;

use jiff::{tz::TimeZone, Timestamp};

/// What every public page needs to know to render.
pub struct PageContext<'a> {
    pub page_name: &'a str,
    pub now: Timestamp,
    pub tz: &'a TimeZone,
}
