//! Owners' mail in the outbox: a reminder is queued as what the owner is
//! told (`OwnerReminder`, with its incident's id), and its words are
//! written when it is sent, by whoever sends it. Rows an older Candor
//! queued hold the words it wrote then (`{to, subject, text}`); they are
//! still read and sent as they are. Staff are told the same way when
//! readers report a component the page shows as working
//! (`ReadersAffected`, to `reports_to`).

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::deliveries::DeliveryRow;
use super::incidents::incident;
use super::query::{Conn, Sql};
use super::repair::log_once;
use super::stored::ms;
use super::{Claimed, Result, StaffMessage, StoreError};
use crate::domain::promises::OwnerReminder;
use crate::domain::reader_report::ReadersAffected;
use crate::domain::{DeliveryId, Incident, IncidentId};

/// A reminder as its delivery row holds it.
#[derive(Debug, Serialize, Deserialize)]
struct QueuedReminder {
    incident_id: IncidentId,
    /// When Candor decided to remind: the reminder's times read as of then.
    decided_at: jiff::Timestamp,
    reminder: OwnerReminder,
}

/// Readers' reports on a component as the delivery row holds them.
#[derive(Debug, Serialize, Deserialize)]
struct QueuedReadersAffected {
    decided_at: jiff::Timestamp,
    readers_affected: ReadersAffected,
}

/// What a reminder row's payload may hold.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Payload {
    Reminder(QueuedReminder),
    ReadersAffected(QueuedReadersAffected),
    /// Written by an older Candor when it queued the mail.
    Written {
        subject: String,
        text: String,
    },
}

/// Queues a reminder to the incident's owner, in the caller's transaction.
pub(crate) async fn queue_reminder<C: Conn>(
    conn: &mut C,
    incident: &Incident,
    reminder: OwnerReminder,
    now: jiff::Timestamp,
) -> Result<()> {
    let payload = QueuedReminder {
        incident_id: incident.id.clone(),
        decided_at: now,
        reminder,
    };
    conn.execute(
        Sql::new(
            "INSERT INTO deliveries (kind, entry_id, subscriber_id, address, payload, channel, \
             state, attempts, next_attempt_at, created_at) \
             VALUES ('reminder', NULL, NULL, $1, $2, 'email', 'pending', 0, $3, $3)",
        )
        .bind(incident.state.owner.email.as_str())
        .bind(serde_json::to_string(&payload)?)
        .bind(ms(now)),
    )
    .await?;
    Ok(())
}

/// Queues the mail telling staff (`to`) of readers' reports on a component
/// the page shows as working, in the caller's transaction.
pub(crate) async fn queue_readers_affected<C: Conn>(
    conn: &mut C,
    to: &str,
    readers_affected: ReadersAffected,
    now: jiff::Timestamp,
) -> Result<()> {
    let payload = QueuedReadersAffected {
        decided_at: now,
        readers_affected,
    };
    conn.execute(
        Sql::new(
            "INSERT INTO deliveries (kind, entry_id, subscriber_id, address, payload, channel, \
             state, attempts, next_attempt_at, created_at) \
             VALUES ('reminder', NULL, NULL, $1, $2, 'email', 'pending', 0, $3, $3)",
        )
        .bind(to)
        .bind(serde_json::to_string(&payload)?)
        .bind(ms(now)),
    )
    .await?;
    Ok(())
}

/// Step 5 of a claim (`deliveries::claim_deliveries`): what each reminder
/// row among `rows` says, with its incident (each read once). A row that
/// cannot be read is given up with the reason.
pub(crate) async fn claimed_reminders<C: Conn>(
    conn: &mut C,
    rows: &[(DeliveryRow, bool)],
) -> Result<HashMap<DeliveryId, Claimed>> {
    let mut payloads = Vec::new();
    for (row, _) in rows.iter().filter(|(row, _)| row.is_reminder()) {
        let payload = match row.payload.as_deref() {
            None => Err("the reminder has no content"),
            Some(text) => serde_json::from_str::<Payload>(text).map_err(|err| {
                log_once(
                    "reminder",
                    &row.id.to_string(),
                    &format!("cannot be read: {err}"),
                );
                "the reminder cannot be read"
            }),
        };
        payloads.push((row.id, row.address.clone(), payload));
    }
    let wanted: BTreeSet<&IncidentId> = (payloads.iter())
        .filter_map(|(_, _, payload)| match payload {
            Ok(Payload::Reminder(queued)) => Some(&queued.incident_id),
            _ => None,
        })
        .collect();
    let mut incidents = HashMap::new();
    for id in wanted {
        match incident(conn, id).await {
            Ok(found) => {
                incidents.insert(id.clone(), found);
            }
            Err(StoreError::NotFound) => {}
            Err(err) => return Err(err),
        }
    }
    let mut claimed = HashMap::new();
    for (id, address, payload) in payloads {
        claimed.insert(id, claimed_reminder(address, payload, &incidents));
    }
    Ok(claimed)
}

/// One reminder row, from its address, its payload and the incidents read.
fn claimed_reminder(
    address: Option<String>,
    payload: std::result::Result<Payload, &'static str>,
    incidents: &HashMap<IncidentId, Incident>,
) -> Claimed {
    let Some(to) = address else {
        return Claimed::Unsendable("the reminder has no address");
    };
    let mail = match payload {
        Err(why) => return Claimed::Unsendable(why),
        Ok(Payload::Written { subject, text, .. }) => StaffMessage::Written { subject, text },
        Ok(Payload::ReadersAffected(queued)) => StaffMessage::ReadersAffected {
            report: queued.readers_affected,
            decided_at: queued.decided_at,
        },
        Ok(Payload::Reminder(queued)) => match incidents.get(&queued.incident_id) {
            None => return Claimed::Unsendable("the incident is missing"),
            Some(incident) => StaffMessage::Reminder {
                incident: Box::new(incident.clone()),
                reminder: queued.reminder,
                decided_at: queued.decided_at,
            },
        },
    };
    Claimed::Staff { to, mail }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reminder_an_older_candor_wrote_reads_as_its_words() {
        let old =
            r#"{"to": "dana@acme.test", "subject": "[Follow-up due] Mail", "text": "Post it."}"#;
        let payload = serde_json::from_str::<Payload>(old).unwrap();
        let claimed = claimed_reminder(Some("dana@acme.test".into()), Ok(payload), &HashMap::new());
        match claimed {
            Claimed::Staff {
                to,
                mail: StaffMessage::Written { subject, text },
            } => {
                assert_eq!(to, "dana@acme.test");
                assert_eq!(subject, "[Follow-up due] Mail");
                assert_eq!(text, "Post it.");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_queued_reminder_reads_back_as_what_the_owner_is_told() {
        let queued = QueuedReminder {
            incident_id: "inc".into(),
            decided_at: "2026-03-04T09:30:00Z".parse().unwrap(),
            reminder: OwnerReminder::StillAffected { count: 3 },
        };
        let text = serde_json::to_string(&queued).unwrap();
        match serde_json::from_str::<Payload>(&text).unwrap() {
            Payload::Reminder(back) => {
                assert_eq!(back.reminder, queued.reminder);
                assert_eq!(back.incident_id, queued.incident_id);
                assert_eq!(back.decided_at, queued.decided_at);
            }
            other => panic!("{other:?}"),
        }
        let overdue = QueuedReminder {
            reminder: OwnerReminder::UpdateOverdue {
                promised: queued.decided_at,
                grace: Some(jiff::SignedDuration::from_mins(15)),
            },
            ..queued
        };
        let text = serde_json::to_string(&overdue).unwrap();
        match serde_json::from_str::<Payload>(&text).unwrap() {
            Payload::Reminder(back) => assert_eq!(back.reminder, overdue.reminder),
            other => panic!("{other:?}"),
        }
        // Its incident gone, it is given up rather than sent without words.
        let payload = serde_json::from_str::<Payload>(&text).unwrap();
        let claimed = claimed_reminder(Some("d@acme.test".into()), Ok(payload), &HashMap::new());
        assert!(matches!(claimed, Claimed::Unsendable(_)));
    }

    #[test]
    fn readers_reports_queued_read_back_as_what_staff_are_told() {
        let queued = QueuedReadersAffected {
            decided_at: "2026-03-04T09:30:00Z".parse().unwrap(),
            readers_affected: ReadersAffected {
                component_id: "c1".into(),
                name: "Outbound mail".into(),
                count: 3,
                since: "2026-03-04T09:00:00Z".parse().unwrap(),
                last: "2026-03-04T09:29:00Z".parse().unwrap(),
            },
        };
        let text = serde_json::to_string(&queued).unwrap();
        let payload = serde_json::from_str::<Payload>(&text).unwrap();
        let claimed = claimed_reminder(Some("ops@acme.test".into()), Ok(payload), &HashMap::new());
        match claimed {
            Claimed::Staff {
                to,
                mail: StaffMessage::ReadersAffected { report, decided_at },
            } => {
                assert_eq!(to, "ops@acme.test");
                assert_eq!(report, queued.readers_affected);
                assert_eq!(decided_at, queued.decided_at);
            }
            other => panic!("{other:?}"),
        }
    }
}
