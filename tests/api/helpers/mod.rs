//! The test harness: one Candor per test, on a fresh database, with a clock
//! the test moves. Tests talk to it over HTTP only and read what users see.
//!
//! - `database`: the fresh database (SQLite or PostgreSQL) and its folder;
//! - `app`: Candor started on it, its clock, worker and scheduler;
//! - `client`: HTTP requests and replies, as an API user sees them;
//! - `admin`: the admin API in the product's words (open an incident, post
//!   an update, ...) and readers of what it returns;
//! - `pages`: page text as a person reads it;
//! - `mailbox`: a real SMTP server and the mails it received;
//! - `staff`: console accounts, and a browser that fills in the console's forms.

mod admin;
mod app;
mod client;
mod database;
pub mod mailbox;
mod pages;
mod staff;

pub use admin::*;
pub use app::*;
pub use client::*;
pub use database::*;
pub use pages::*;
pub use staff::*;
