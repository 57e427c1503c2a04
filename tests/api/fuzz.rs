//! The admin API under random bodies: no answer is a server error, and
//! everything it accepts (201) reads back through the API, the page, the
//! Statuspage JSON and the feeds.
//!
//! Runs for `CANDOR_FUZZ_SECS` seconds (5 by default; CI gives it a minute)
//! and prints how many requests it made. A failure prints the request.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::helpers::{id_of, TestApp};

/// Text as clients send it: plain, empty, blank, control and invisible
/// characters, bidi overrides, line breaks of every kind, very long.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        24 => "[A-Za-z][A-Za-z0-9 ().,-]{0,30}",
        // Plain text with one odd character inside: what slips through.
        6 => ("[A-Za-z]{1,8}", proptest::sample::select(&[
            "\r", "\n", "\r\n", "\t", "\u{85}", "\u{a0}", "\u{2028}", "\u{200b}", "\u{202e}",
            "\u{2066}", "\u{feff}", "\u{0}", "\u{1b}", "😀", "<b>", "&amp;", "\\",
        ][..]), "[A-Za-z]{1,8}").prop_map(|(a, odd, b)| format!("{a}{odd}{b}")),
        2 => "(?s)[ a-z\\r\\n\\t\\x00-\\x1f\\x7f\\u{85}\\u{a0}\\u{200b}-\\u{200f}\\u{2028}\\u{2029}\\u{202a}-\\u{202e}\\u{2066}-\\u{2069}\\u{feff}é中😀<>&\"'`*_#\\[\\]()!]{0,24}",
        1 => any::<String>(),
        1 => (0usize..25_000).prop_map(|n| "x".repeat(n)),
        1 => Just(String::new()),
        1 => Just("   ".to_string()),
    ]
    .boxed()
}

/// A JSON value of the wrong kind, for any field.
fn wrong() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        Just(json!([])),
        Just(json!({})),
        Just(json!({"nested": [1, "two", null]})),
    ]
    .boxed()
}

fn timestamp() -> BoxedStrategy<Value> {
    prop_oneof![
        // Around the tests' START (2026-03-04T09:00Z), past and future.
        4 => (-20_000i64..600_000).prop_map(|mins| {
            let at = "2026-03-04T09:00:00Z".parse::<jiff::Timestamp>().unwrap()
                + jiff::SignedDuration::from_mins(mins);
            Value::from(at.to_string())
        }),
        1 => Just(Value::from("9999-12-30T00:00:00Z")),
        1 => Just(Value::from("0001-01-01T00:00:00Z")),
        1 => Just(Value::from("2026-03-04 10:00")),
        1 => text().prop_map(Value::from),
        1 => wrong(),
    ]
    .boxed()
}

fn one_of(options: &'static [&'static str]) -> BoxedStrategy<Value> {
    prop_oneof![
        30 => proptest::sample::select(options).prop_map(Value::from),
        1 => text().prop_map(Value::from),
        1 => wrong(),
    ]
    .boxed()
}

const IMPACTS: &[&str] = &["none", "minor", "major", "critical"];
const STATUSES: &[&str] = &["investigating", "identified", "monitoring", "resolved"];
const COMPONENT_STATUSES: &[&str] = &[
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
];

/// An id: one that exists (picked when the request is made), or not.
#[derive(Debug, Clone)]
enum Id {
    Known(usize),
    Made(String),
}

fn id() -> BoxedStrategy<Id> {
    prop_oneof![
        5 => any::<usize>().prop_map(Id::Known),
        1 => "[a-z0-9]{0,14}".prop_map(Id::Made),
    ]
    .boxed()
}

/// A field of a body: a value, left out, or of the wrong kind.
#[derive(Debug, Clone)]
enum Field {
    Value(Value),
    Id(Id),
    /// Component id -> status.
    Components(Vec<(Id, Value)>),
    Ids(Vec<Id>),
}

fn field(value: BoxedStrategy<Value>) -> BoxedStrategy<Option<Field>> {
    prop_oneof![
        30 => value.prop_map(|v| Some(Field::Value(v))),
        1 => Just(None),
        1 => wrong().prop_map(|v| Some(Field::Value(v))),
    ]
    .boxed()
}

/// A field that is usually left out (an ETA, a start time).
fn rarely(value: BoxedStrategy<Value>) -> BoxedStrategy<Option<Field>> {
    prop_oneof![
        3 => Just(None),
        1 => field(value),
    ]
    .boxed()
}

#[derive(Debug, Clone)]
enum Target {
    Components,
    Incidents,
    Updates(Id),
    Corrections(Id),
    Postmortem(Id),
    Subscribers,
    ComponentPatch(Id),
}

#[derive(Debug, Clone)]
struct Case {
    target: Target,
    fields: Vec<(&'static str, Option<Field>)>,
    /// Bytes after the JSON, or a body that is not JSON at all.
    tail: Option<String>,
}

fn owner() -> BoxedStrategy<Value> {
    (
        text(),
        prop_oneof![
            20 => Just("dana@acme.test".to_string()),
            1 => "[a-z\"(),\\[\\]@.0-9 ]{0,20}",
            1 => text(),
        ],
    )
        .prop_map(|(name, email)| json!({"name": name, "email": email}))
        .boxed()
}

fn components() -> BoxedStrategy<Option<Field>> {
    prop::collection::vec((id(), one_of(COMPONENT_STATUSES)), 0..4)
        .prop_map(|pairs| Some(Field::Components(pairs)))
        .boxed()
}

fn next_update() -> BoxedStrategy<Option<Field>> {
    field(
        prop_oneof![
            20 => (1i64..10_080).prop_map(Value::from),
            2 => (-5i64..20_000).prop_map(Value::from),
            1 => Just(json!(30.5)),
            1 => Just(json!("30")),
        ]
        .boxed(),
    )
}

fn case() -> impl Strategy<Value = Case> {
    let tail = prop_oneof![
        40 => Just(None),
        1 => Just(Some(" garbage".to_string())),
        1 => Just(Some(String::new())),
    ];
    let component = (
        field(text().prop_map(Value::from).boxed()),
        field(text().prop_map(Value::from).boxed()),
        prop::option::of(id()),
        field(any::<i64>().prop_map(Value::from).boxed()),
        field(one_of(COMPONENT_STATUSES)),
    );
    let incident = (
        field(text().prop_map(Value::from).boxed()),
        field(one_of(IMPACTS)),
        field(one_of(STATUSES)),
        field(owner()),
        rarely(text().prop_map(Value::from).boxed()),
        rarely(timestamp()),
        next_update(),
        rarely(timestamp()),
        components(),
        field(text().prop_map(Value::from).boxed()),
        rarely(timestamp()),
    );
    (
        0..7u8,
        id(),
        component,
        incident,
        rarely(timestamp()),
        prop::collection::vec(id(), 0..3),
        tail,
    )
        .prop_map(|(kind, target_id, c, i, follow_up, ids, tail)| {
            let incident_fields = vec![
                ("title", i.0),
                ("impact", i.1),
                ("status", i.2),
                ("owner", i.3),
                ("cause", i.4),
                ("eta", i.5),
                ("next_update_in", i.6),
                ("next_update_at", i.7),
                ("components", i.8),
                ("message", i.9),
                ("started_at", i.10),
            ];
            let (target, fields) = match kind {
                0 => (
                    Target::Components,
                    vec![
                        ("name", c.0),
                        ("description", c.1),
                        ("group_id", c.2.map(Field::Id)),
                        ("position", c.3),
                    ],
                ),
                1 => (Target::Incidents, incident_fields),
                2 => {
                    let mut fields = incident_fields;
                    fields.push(("follow_up_at", follow_up));
                    (Target::Updates(target_id), fields)
                }
                3 => (
                    Target::Corrections(target_id),
                    vec![
                        ("corrects", Some(Field::Id(Id::Known(ids.len())))),
                        ("message", incident_fields[9].1.clone()),
                        ("cause", incident_fields[4].1.clone()),
                        ("eta", incident_fields[5].1.clone()),
                    ],
                ),
                4 => (
                    Target::Postmortem(target_id),
                    vec![("message", incident_fields[9].1.clone())],
                ),
                5 => (
                    Target::Subscribers,
                    vec![
                        (
                            "email",
                            incident_fields[3].1.clone().map(|f| match f {
                                Field::Value(v) => Field::Value(v["email"].clone()),
                                other => other,
                            }),
                        ),
                        ("components", Some(Field::Ids(ids))),
                        ("confirmed", Some(Field::Value(json!(kind % 2 == 1)))),
                    ],
                ),
                _ => (
                    Target::ComponentPatch(target_id),
                    vec![
                        ("name", c.0),
                        ("group_id", c.2.map(Field::Id)),
                        ("status", c.4),
                    ],
                ),
            };
            Case {
                target,
                fields,
                tail,
            }
        })
}

/// What exists so far, for `Id::Known` to pick from.
#[derive(Default)]
struct Known {
    components: Vec<String>,
    incidents: Vec<String>,
    entries: Vec<String>,
}

fn pick(list: &[String], id: &Id) -> String {
    match id {
        Id::Known(i) if !list.is_empty() => list[i % list.len()].clone(),
        Id::Known(_) => "nothing-yet".into(),
        Id::Made(made) => made.clone(),
    }
}

impl Case {
    fn request(&self, known: &Known) -> (Method, String, String) {
        let mut body = Map::new();
        for (name, field) in &self.fields {
            let value = match field {
                None => continue,
                Some(Field::Value(v)) => v.clone(),
                Some(Field::Id(id)) => {
                    let list = if *name == "corrects" {
                        &known.entries
                    } else {
                        &known.components
                    };
                    Value::from(pick(list, id))
                }
                Some(Field::Components(pairs)) => Value::Object(
                    pairs
                        .iter()
                        .map(|(id, status)| (pick(&known.components, id), status.clone()))
                        .collect(),
                ),
                Some(Field::Ids(ids)) => ids
                    .iter()
                    .map(|id| Value::from(pick(&known.components, id)))
                    .collect(),
            };
            body.insert((*name).to_string(), value);
        }
        let (method, path) = match &self.target {
            Target::Components => (Method::POST, "/api/v1/components".to_string()),
            Target::Incidents => (Method::POST, "/api/v1/incidents".to_string()),
            Target::Updates(id) => (
                Method::POST,
                format!("/api/v1/incidents/{}/updates", pick(&known.incidents, id)),
            ),
            Target::Corrections(id) => (
                Method::POST,
                format!(
                    "/api/v1/incidents/{}/corrections",
                    pick(&known.incidents, id)
                ),
            ),
            Target::Postmortem(id) => (
                Method::POST,
                format!(
                    "/api/v1/incidents/{}/postmortem",
                    pick(&known.incidents, id)
                ),
            ),
            Target::Subscribers => (Method::POST, "/api/v1/subscribers".to_string()),
            Target::ComponentPatch(id) => (
                Method::PATCH,
                format!("/api/v1/components/{}", pick(&known.components, id)),
            ),
        };
        let mut text = Value::Object(body).to_string();
        if let Some(tail) = &self.tail {
            text.push_str(tail);
        }
        (method, path, text)
    }
}

#[test]
fn random_admin_bodies_never_break_candor() {
    let seconds: u64 = std::env::var("CANDOR_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = runtime.block_on(TestApp::spawn());
    let mut known = Known::default();
    let mut runner = TestRunner::default();
    let strategy = case();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (mut cases, mut created) = (0u64, 0u64);
    while Instant::now() < deadline {
        let case = strategy.new_tree(&mut runner).unwrap().current();
        let (method, path, body) = case.request(&known);
        runtime.block_on(async {
            let reply = app
                .raw(method.clone(), &path)
                .admin()
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await;
            assert!(
                reply.status < 500,
                "{method} {path} answered {}: {}\nbody sent: {body}",
                reply.status,
                reply.text
            );
            if reply.status == 201 {
                created += 1;
                // A one-line field is stored as it was sent, but for the
                // blanks around it: nothing is changed on the way in.
                let sent: Value = serde_json::from_str(&body).unwrap_or_default();
                for one_line in ["title", "name"] {
                    if let (Some(sent), Some(got)) =
                        (sent[one_line].as_str(), reply.body[one_line].as_str())
                    {
                        assert_eq!(got, sent.trim(), "{method} {path}: the {one_line} changed");
                    }
                }
                // The pages are read after every few writes: a full page of
                // many components costs more than the write.
                read_back(&app, &path, &reply.body, &mut known, created % 4 == 1).await;
            }
        });
        cases += 1;
    }
    // Every page still renders with all of it.
    runtime.block_on(async {
        for page in [
            "/",
            "/history",
            "/api/v2/summary.json",
            "/feed.atom",
            "/feed.rss",
        ] {
            let (status, text) = app.page(page).await;
            assert_eq!(status, 200, "{page}: {text}");
        }
    });
    eprintln!(
        "fuzz: {cases} requests in {seconds} s, {created} created, {} components, {} incidents, {} entries",
        known.components.len(),
        known.incidents.len(),
        known.entries.len()
    );
    runtime.block_on(app.stop());
}

/// What a 201 created can be read through the API and every public view.
async fn read_back(app: &TestApp, path: &str, created: &Value, known: &mut Known, pages: bool) {
    let id = id_of(created);
    let read = if path == "/api/v1/components" {
        known.components.push(id.clone());
        format!("/api/v1/components/{id}")
    } else if path == "/api/v1/incidents" {
        known.incidents.push(id.clone());
        if let Some(first) = created["entries"][0]["id"].as_str() {
            known.entries.push(first.to_string());
        }
        format!("/api/v1/incidents/{id}")
    } else if path == "/api/v1/subscribers" {
        format!("/api/v1/subscribers/{id}")
    } else {
        known.entries.push(id.clone());
        let incident = path
            .trim_start_matches("/api/v1/incidents/")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        format!("/api/v1/incidents/{incident}")
    };
    let reply = app.admin_get(&read).await;
    assert_eq!(reply.status, 200, "{read}: {}", reply.text);
    if !pages {
        return;
    }
    for page in ["/", "/api/v2/summary.json", "/feed.atom"] {
        let (status, text) = app.page(page).await;
        assert_eq!(status, 200, "after {path} made {id}, {page}: {text}");
    }
    if path == "/api/v1/incidents" {
        let (status, text) = app.page(&format!("/incidents/{id}")).await;
        assert_eq!(status, 200, "/incidents/{id}: {text}");
    }
}
