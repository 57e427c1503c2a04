//! Telling subscribers: mails (in the words of `views::mail`) and webhooks
//! made from entries, sending them, and the worker that drains the outbox
//! with leases and retries.

pub mod claim_floor;
pub mod claims;
pub mod email;
pub mod mail_lanes;
pub mod mailer;
pub mod template;
pub mod thread;
pub mod webhook;
pub mod webhook_lanes;
pub mod worker;
