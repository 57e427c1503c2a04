//! Candor: an outage status page and incident communicator.

pub mod clock;
pub mod config;
pub mod domain;
pub mod store;
