//! Candor: an outage status page and incident communicator.

pub mod app;
pub mod check;
pub mod cli;
pub mod clock;
pub mod config;
pub mod counters;
pub mod delivery;
pub mod domain;
pub mod http;
pub mod ids;
pub mod links;
pub mod memory;
pub mod passwords;
pub mod scheduler;
pub mod server;
pub mod statuspage;
pub mod store;
pub mod views;
pub mod webhook_address;
pub mod webhook_secret;
