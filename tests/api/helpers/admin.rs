//! The admin API in the product's words (`open_incident`, `post_update`,
//! `correct`, ...) and readers of the JSON it returns.

use jiff::Timestamp;
use serde_json::{json, Value};

use super::{at, TestApp};

/// A JSON timestamp field as an instant, so `...:00Z` and `...:00.000Z` compare equal.
pub fn ts(value: &Value) -> Timestamp {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("expected an RFC 3339 timestamp string, got {value}"));
    text.parse()
        .unwrap_or_else(|e| panic!("{text:?} is not an RFC 3339 timestamp: {e}"))
}

pub fn assert_ts(value: &Value, expected: &str) {
    assert_eq!(ts(value), at(expected), "timestamp {value} != {expected}");
}

/// An id as it goes into a path, whether the API uses strings or numbers.
pub fn id_of(value: &Value) -> String {
    match &value["id"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("object has no usable id: {other} in {value}"),
    }
}

/// An id of the same shape as `id` that no object has.
pub fn unknown_id_like(id: &str) -> String {
    if let Ok(n) = id.parse::<i64>() {
        return (n + 1_000_000).to_string();
    }
    // Change the last hex-ish character so the shape (length, alphabet) stays.
    let mut chars: Vec<char> = id.chars().collect();
    let last = chars.last_mut().expect("empty id");
    *last = if *last == '0' { '1' } else { '0' };
    chars.into_iter().collect()
}

impl TestApp {
    pub async fn create_component(&self, name: &str) -> String {
        let body = self
            .admin_post("/api/v1/components", &json!({ "name": name }))
            .await
            .expect(201);
        id_of(&body)
    }

    pub async fn component(&self, id: &str) -> Value {
        self.admin_get(&format!("/api/v1/components/{id}"))
            .await
            .expect(200)
    }

    pub async fn set_component_status(&self, id: &str, status: &str) -> Value {
        self.admin_patch(
            &format!("/api/v1/components/{id}"),
            &json!({ "status": status }),
        )
        .await
        .expect(200)
    }

    pub async fn open_incident(&self, body: &Value) -> Value {
        self.admin_post("/api/v1/incidents", body).await.expect(201)
    }

    pub async fn post_update(&self, incident_id: &str, body: &Value) -> Value {
        self.admin_post(&format!("/api/v1/incidents/{incident_id}/updates"), body)
            .await
            .expect(201)
    }

    pub async fn correct(&self, incident_id: &str, body: &Value) -> Value {
        self.admin_post(
            &format!("/api/v1/incidents/{incident_id}/corrections"),
            body,
        )
        .await
        .expect(201)
    }

    pub async fn incident(&self, id: &str) -> Value {
        self.admin_get(&format!("/api/v1/incidents/{id}"))
            .await
            .expect(200)
    }

    pub async fn incidents(&self, state: &str) -> Vec<Value> {
        let list = self
            .admin_get(&format!("/api/v1/incidents?state={state}"))
            .await
            .expect(200);
        list["items"]
            .as_array()
            .unwrap_or_else(|| panic!("no items array in {list}"))
            .clone()
    }

    pub async fn components(&self) -> Vec<Value> {
        let list = self.admin_get("/api/v1/components").await.expect(200);
        list["items"]
            .as_array()
            .unwrap_or_else(|| panic!("no items array in {list}"))
            .clone()
    }

    /// Everything an admin can read: components, and every incident with all
    /// its entries. Compared before and after a refused request.
    pub async fn snapshot(&self) -> Value {
        let mut incidents = Vec::new();
        for state in ["open", "resolved"] {
            for item in self.incidents(state).await {
                incidents.push(self.incident(&id_of(&item)).await);
            }
        }
        json!({ "components": self.components().await, "incidents": incidents })
    }

    /// Opens the usual incident: delayed mail, nothing known yet, next
    /// update in 30 minutes, the component partly down.
    pub async fn open_mail_incident(&self, component_id: &str) -> Value {
        self.open_incident(&mail_incident(component_id)).await
    }

    /// Posts the usual update to it: the cause is found.
    pub async fn post_cause_found(&self, incident_id: &str) -> Value {
        self.post_update(
            incident_id,
            &json!({"status": "identified", "cause": "Expired relay certificate",
                    "next_update_in": 30, "message": "We found it."}),
        )
        .await
    }

    /// A subscriber added by staff, confirmed (no components: everything).
    pub async fn add_confirmed(&self, email: &str, components: &[&str]) -> Value {
        self.admin_post(
            "/api/v1/subscribers",
            &json!({"email": email, "components": components, "confirmed": true}),
        )
        .await
        .expect(201)
    }

    /// The delivery report of an incident, as staff read it.
    pub async fn deliveries(&self, incident_id: &str) -> Value {
        self.admin_get(&format!("/api/v1/incidents/{incident_id}/deliveries"))
            .await
            .expect(200)
    }
}

/// The body of the usual incident.
pub fn mail_incident(component_id: &str) -> Value {
    json!({
        "title": "Delayed outbound email",
        "impact": "minor",
        "status": "investigating",
        "owner": { "name": "Dana (IT Ops)", "email": "dana@acme.test" },
        "next_update_in": 30,
        "components": { component_id: "partial_outage" },
        "message": "We are looking into delayed outbound email."
    })
}

/// Classes of an entry as strings.
pub fn classes(entry: &Value) -> Vec<String> {
    entry["classes"]
        .as_array()
        .unwrap_or_else(|| panic!("entry has no classes array: {entry}"))
        .iter()
        .map(|c| c.as_str().unwrap_or_default().to_string())
        .collect()
}

#[track_caller]
pub fn assert_classes(entry: &Value, present: &[&str], absent: &[&str]) {
    let got = classes(entry);
    for class in present {
        assert!(
            got.iter().any(|c| c == class),
            "class {class:?} missing from {got:?} in {entry}"
        );
    }
    for class in absent {
        assert!(
            !got.iter().any(|c| c == class),
            "class {class:?} should not be in {got:?} in {entry}"
        );
    }
}

pub fn entries(incident: &Value) -> Vec<Value> {
    incident["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("incident has no entries array: {incident}"))
        .clone()
}
