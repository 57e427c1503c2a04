//! Identifiers, one type per kind of thing, so that one cannot be passed
//! where another is meant. Each is the text it was made from: in JSON a
//! plain string, in the database a TEXT column, in a URL a path segment.
//! Any text is accepted (an unknown id is a 404, not a malformed request);
//! new ones are made outside the domain, which reads no randomness.

use std::borrow::Borrow;
use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        /// As its text, so that logs read as before the id had a type.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        /// Maps and sets keyed by the id can be searched by its text.
        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// An incident's (or a maintenance's) id.
    IncidentId
);
id_type!(
    /// A timeline entry's id.
    EntryId
);
id_type!(
    /// A component's (or a component group's) id.
    ComponentId
);
id_type!(
    /// A subscriber's id.
    SubscriberId
);

/// A delivery's id (a row of the outbox): a number the database counts,
/// in JSON a number too.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct DeliveryId(i64);

impl DeliveryId {
    pub const fn new(id: i64) -> Self {
        Self(id)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Debug for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_its_text_in_json() {
        let id = EntryId::new("abc");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"abc\"");
        let back: EntryId = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(back, id);
        assert_eq!(id.to_string(), "abc");
        let map = std::collections::BTreeMap::from([(ComponentId::new("c1"), 1)]);
        assert_eq!(serde_json::to_string(&map).unwrap(), r#"{"c1":1}"#);
        assert_eq!(map.get("c1"), Some(&1));
        let delivery = DeliveryId::new(7);
        assert_eq!(serde_json::to_string(&delivery).unwrap(), "7");
        assert_eq!(delivery.to_string(), "7");
    }
}
