//! What every posting form of the console does with its command: with
//! "Preview", the domain decides it on what the store holds now and
//! nothing is written; with "Post", the store writes it (and its mail);
//! either way a broken rule comes back as the form's problems.

use axum::response::Response;

use super::form::Form;
use super::incidents::{failed, posted, problems_of, see_other};
use super::Staff;
use crate::domain::maintenance::ScheduleMaintenance;
use crate::domain::{Command, Entry, Incident, IncidentId, IncidentRecord, OpenIncident};
use crate::http::{error::PageError, AppState};
use crate::ids::new_id;
use crate::store::{Draft as Unposted, StoreError};
use crate::views::console::incident_form::Preview;
use crate::views::console::Problems;

/// A command from a console form.
pub enum Posting {
    /// A new incident.
    Open(OpenIncident),
    /// New planned maintenance.
    Schedule(ScheduleMaintenance),
    /// An entry on incident (or maintenance) `IncidentId`.
    Entry(IncidentId, Command),
}

/// How it went: posted (the page to go to), or the form to show again,
/// with its problems or its preview.
pub enum Outcome {
    Posted(Response),
    Again(Problems, Option<Box<Preview>>),
}

/// The preview of what a post would be: the mail's subject and the entry.
fn preview_of((incident, entry): (Incident, Entry), state: &AppState) -> Preview {
    Preview {
        subject: crate::views::mail::subject(&entry, &state.config.time_zone),
        record: IncidentRecord {
            incident,
            entries: vec![entry],
        },
    }
}

/// Previews (when the form asks) or posts `posting`.
pub async fn submit(
    state: &AppState,
    staff: &Staff,
    form: &Form,
    posting: Posting,
) -> Result<Outcome, PageError> {
    let write = crate::http::incidents::write(state, &staff.actor, state.clock.now());
    let store = &state.store;
    let refused = |err: StoreError| match err {
        StoreError::Domain(err) => Ok(Outcome::Again(problems_of(&err), None)),
        err => Err(failed(err)),
    };
    if form.get("action") == Some("preview") {
        let unposted = match posting {
            Posting::Open(command) => Unposted::Open(command),
            Posting::Schedule(command) => Unposted::Schedule(command),
            Posting::Entry(id, command) => Unposted::Entry(id, command),
        };
        return match store.preview_entry(&unposted, &write).await {
            Ok(outcome) => Ok(Outcome::Again(
                Problems::new(),
                Some(Box::new(preview_of(outcome, state))),
            )),
            Err(err) => refused(err),
        };
    }
    let written = match &posting {
        Posting::Open(command) => {
            store
                .open_incident(&new_id(), command, &write, &staff.actor)
                .await
        }
        Posting::Schedule(command) => {
            store
                .schedule_maintenance(&new_id(), command, &write, &staff.actor)
                .await
        }
        Posting::Entry(id, command) => store.post_entry(id, command, &write, &staff.actor).await,
    };
    match written {
        Ok((incident, entry)) => {
            posted(state);
            let at = match posting {
                Posting::Entry(..) => format!("#entry-{}", entry.id),
                _ => String::new(),
            };
            Ok(Outcome::Posted(see_other(format!(
                "/admin/incidents/{}?posted={}{at}",
                incident.id, entry.id
            ))))
        }
        Err(err) => refused(err),
    }
}
