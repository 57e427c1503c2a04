//! Candor's black-box tests: each test starts Candor on a fresh database,
//! talks to it over HTTP only, and checks what its users see.
//!
//! `cargo test` runs them on SQLite; with
//! `CANDOR_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test` they
//! run on PostgreSQL, each test in a database of its own.

mod affected;
mod alerts;
mod auth;
mod backup;
mod badge;
mod browser;
mod cache;
mod cli;
mod client;
mod components;
mod connections;
mod console;
mod console_admin;
mod console_maintenance;
mod corrections;
mod crash;
mod errors;
mod fanout;
mod feeds;
mod forms;
mod fuzz;
mod health;
mod helpers;
mod idempotency;
mod incidents;
mod live;
mod logs;
mod mail;
mod mail_words;
mod maintenance;
mod manage;
mod metrics;
mod openapi;
mod outage;
mod overdue;
mod page_dump;
mod pages;
mod processes;
mod promises;
mod rate_limit;
mod reader;
mod security;
mod shutdown;
mod smtp_pipelining;
mod statuspage;
mod stored_text;
mod subscriber_import;
mod subscriber_lists;
mod two_instances;
mod uptime;
mod webhooks;
