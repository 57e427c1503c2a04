//! Subscribers: who is told of every change, and how they opt in and out.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::{ComponentId, DomainError, Email, SubscriberId, WebhookUrl};

/// How long a confirmation link stays valid.
pub const CONFIRM_WINDOW: SignedDuration = SignedDuration::from_hours(7 * 24);

/// A confirmation link works for `CONFIRM_WINDOW` after it was mailed.
pub fn check_link_age(link_sent_at: Timestamp, now: Timestamp) -> Result<(), DomainError> {
    if now.duration_since(link_sent_at) > CONFIRM_WINDOW {
        return Err(DomainError::new(
            "token",
            "this confirmation link has expired; subscribe again to get a new one",
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubscriberState {
    Pending,
    Confirmed,
    Unsubscribed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Webhook,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Subscriber {
    pub id: SubscriberId,
    pub channel: Channel,
    pub address: String,
    pub state: SubscriberState,
    /// Component ids; empty means every component.
    pub components: Vec<ComponentId>,
    pub created_at: Timestamp,
    pub confirmed_at: Option<Timestamp>,
    /// When the address last unsubscribed; kept when it subscribes again,
    /// so that a link mailed before then cannot confirm it.
    pub unsubscribed_at: Option<Timestamp>,
    /// Webhooks: since when every try has failed (none once one succeeds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<Timestamp>,
    /// Webhooks: the kind of the last failure ("HTTP 500", "timed out").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Webhooks: when Candor stopped trying, until staff re-enable it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantined_at: Option<Timestamp>,
}

impl Subscriber {
    /// A new email subscriber: pending until the link is clicked, unless
    /// staff added the address and chose to skip the confirmation.
    pub fn email(
        id: SubscriberId,
        email: &Email,
        components: Vec<ComponentId>,
        confirmed: bool,
        now: Timestamp,
    ) -> Subscriber {
        Subscriber {
            id,
            channel: Channel::Email,
            address: email.as_str().to_ascii_lowercase(),
            state: if confirmed {
                SubscriberState::Confirmed
            } else {
                SubscriberState::Pending
            },
            components,
            created_at: now,
            confirmed_at: confirmed.then_some(now),
            unsubscribed_at: None,
            failing_since: None,
            last_error: None,
            quarantined_at: None,
        }
    }

    /// A webhook subscriber, added by staff: confirmed at once (there is
    /// nobody to click a link).
    pub fn webhook(
        id: SubscriberId,
        url: &WebhookUrl,
        components: Vec<ComponentId>,
        now: Timestamp,
    ) -> Subscriber {
        Subscriber {
            id,
            channel: Channel::Webhook,
            address: url.as_str().to_string(),
            state: SubscriberState::Confirmed,
            components,
            created_at: now,
            confirmed_at: Some(now),
            unsubscribed_at: None,
            failing_since: None,
            last_error: None,
            quarantined_at: None,
        }
    }

    /// Clicking the link: only within the window, and never revives an
    /// address that has unsubscribed since.
    pub fn confirm(&mut self, link_sent_at: Timestamp, now: Timestamp) -> Result<(), DomainError> {
        check_link_age(link_sent_at, now)?;
        if self
            .unsubscribed_at
            .is_some_and(|left| link_sent_at <= left)
        {
            return Err(DomainError::new(
                "token",
                "this link was sent before the address unsubscribed; use the newest link we sent",
            ));
        }
        match self.state {
            SubscriberState::Confirmed => Ok(()),
            SubscriberState::Unsubscribed => Err(DomainError::new(
                "token",
                "this address has unsubscribed since; subscribe again to get a new link",
            )),
            SubscriberState::Pending => {
                self.state = SubscriberState::Confirmed;
                self.confirmed_at = Some(now);
                Ok(())
            }
        }
    }

    /// The public form again for a known address: a confirmed one needs
    /// nothing (false); any other is pending with the new choice, and needs
    /// a new confirmation link (true).
    pub fn subscribe_again(&mut self, components: Vec<ComponentId>) -> bool {
        if self.state == SubscriberState::Confirmed {
            return false;
        }
        self.state = SubscriberState::Pending;
        self.components = components;
        true
    }

    pub fn unsubscribe(&mut self, now: Timestamp) {
        if self.state != SubscriberState::Unsubscribed {
            self.state = SubscriberState::Unsubscribed;
            self.unsubscribed_at = Some(now);
        }
    }

    /// Staff re-enable a quarantined webhook: it is tried again from the
    /// next change on (what it missed stays missed), with a clean record.
    pub fn enable(&mut self) {
        self.quarantined_at = None;
        self.failing_since = None;
        self.last_error = None;
    }

    /// Makes `change` at `now`, or refuses it.
    pub fn apply(&mut self, change: &SubscriberChange, now: Timestamp) -> Result<(), DomainError> {
        match change {
            SubscriberChange::Confirm { link_sent_at } => self.confirm(*link_sent_at, now)?,
            SubscriberChange::Unsubscribe => self.unsubscribe(now),
            SubscriberChange::Components(chosen) => self.components = chosen.clone(),
            SubscriberChange::Enable => self.enable(),
        }
        Ok(())
    }

    /// Whether news about these components is for this subscriber.
    pub fn wants(&self, affected: &[ComponentId]) -> bool {
        self.components.is_empty()
            || affected.is_empty()
            || self.components.iter().any(|c| affected.contains(c))
    }
}

/// A change to a subscriber, made by the store in its transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriberChange {
    /// The confirmation link, made at `link_sent_at`, was used.
    Confirm {
        link_sent_at: Timestamp,
    },
    Unsubscribe,
    /// Another choice of components (empty: all).
    Components(Vec<ComponentId>),
    /// Staff re-enable a quarantined webhook.
    Enable,
}

/// Whether a webhook whose every try has failed since `failing_since` is
/// quarantined by a failure at `now`: once that has lasted `after`.
pub fn quarantine_due(failing_since: Timestamp, now: Timestamp, after: SignedDuration) -> bool {
    now.duration_since(failing_since) >= after
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn pending() -> Subscriber {
        let email = Email::parse("Ops@Example.test").unwrap();
        Subscriber::email(
            "s1".into(),
            &email,
            vec!["smtp".into()],
            false,
            t("2026-03-04T09:00:00Z"),
        )
    }

    #[test]
    fn confirmation_expires_after_seven_days() {
        let mut s = pending();
        let sent = t("2026-03-04T09:00:00Z");
        assert!(s.clone().confirm(sent, t("2026-03-11T09:00:01Z")).is_err());
        s.confirm(sent, t("2026-03-11T09:00:00Z")).unwrap();
        assert_eq!(s.state, SubscriberState::Confirmed);
        assert_eq!(s.address, "ops@example.test");
    }

    #[test]
    fn a_change_is_made_by_the_rule_of_its_kind() {
        let sent = t("2026-03-04T09:00:00Z");
        let mut s = pending();
        let late = SubscriberChange::Confirm { link_sent_at: sent };
        assert!(s.clone().apply(&late, t("2026-03-12T09:00:00Z")).is_err());
        s.apply(&late, t("2026-03-05T09:00:00Z")).unwrap();
        assert_eq!(s.state, SubscriberState::Confirmed);
        s.apply(&SubscriberChange::Components(vec![]), sent)
            .unwrap();
        assert!(s.components.is_empty());
        s.apply(&SubscriberChange::Unsubscribe, t("2026-03-06T09:00:00Z"))
            .unwrap();
        assert_eq!(s.state, SubscriberState::Unsubscribed);
        assert!(s.apply(&late, t("2026-03-06T10:00:00Z")).is_err());
    }

    #[test]
    fn an_unsubscribed_address_is_not_revived_by_an_old_link() {
        let mut s = pending();
        s.unsubscribe(t("2026-03-04T10:00:00Z"));
        assert!(s
            .confirm(t("2026-03-04T09:00:00Z"), t("2026-03-04T11:00:00Z"))
            .is_err());
    }

    #[test]
    fn a_link_from_before_an_unsubscribe_does_not_confirm_a_new_subscription() {
        let mut s = pending();
        s.confirm(t("2026-03-04T09:00:00Z"), t("2026-03-04T09:01:00Z"))
            .unwrap();
        s.unsubscribe(t("2026-03-04T10:00:00Z"));
        assert!(s.subscribe_again(Vec::new()));
        assert_eq!(s.state, SubscriberState::Pending);
        assert!(s
            .clone()
            .confirm(t("2026-03-04T09:00:00Z"), t("2026-03-04T11:00:00Z"))
            .is_err());
        s.confirm(t("2026-03-04T10:30:00Z"), t("2026-03-04T11:00:00Z"))
            .unwrap();
        assert_eq!(s.state, SubscriberState::Confirmed);
    }

    #[test]
    fn webhook_urls_are_absolute_http_without_credentials() {
        let ok = WebhookUrl::parse(" https://hooks.example.test/candor?x=1 ").unwrap();
        assert_eq!(ok.as_str(), "https://hooks.example.test/candor?x=1");
        for bad in [
            "hooks.example.test/candor",
            "ftp://hooks.example.test/",
            "https://user:pw@hooks.example.test/",
            "mailto:ops@example.test",
        ] {
            let err = WebhookUrl::parse(bad).unwrap_err();
            assert_eq!(err.field, "webhook", "{bad}");
        }
        let long = format!("https://hooks.example.test/{}", "a".repeat(2000));
        assert!(WebhookUrl::parse(&long).is_err());
    }

    #[test]
    fn a_webhook_is_quarantined_after_failing_that_long_and_enabled_clean() {
        let after = SignedDuration::from_hours(72);
        let since = t("2026-03-04T09:00:00Z");
        assert!(!quarantine_due(since, t("2026-03-07T08:59:59Z"), after));
        assert!(quarantine_due(since, t("2026-03-07T09:00:00Z"), after));
        let mut s = pending();
        s.failing_since = Some(since);
        s.last_error = Some("HTTP 500".into());
        s.quarantined_at = Some(t("2026-03-07T09:00:00Z"));
        s.enable();
        assert_eq!(
            (s.failing_since, s.last_error, s.quarantined_at),
            (None, None, None)
        );
    }

    #[test]
    fn component_filters_match() {
        let s = pending();
        assert!(s.wants(&["smtp".into(), "vpn".into()]));
        assert!(!s.wants(&["vpn".into()]));
        assert!(s.wants(&[]));
        let all = Subscriber {
            components: vec![],
            ..s
        };
        assert!(all.wants(&["vpn".into()]));
    }
}
