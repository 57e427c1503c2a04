//! `GET /api/v1/openapi.json` and `GET /api/docs`: the admin API's OpenAPI
//! 3.1 document, and the same document rendered for people.
//!
//! The operations come from the handlers' own `#[utoipa::path]`
//! annotations and the schemas from their request and response types, and
//! the mounted router is built from the same annotations
//! (`super::admin_api`), so the document cannot drift from the code. What
//! every operation shares, because a layer in front of the handlers does
//! it (the token, the `Idempotency-Key` of a POST, the JSON extractor's
//! refusals, a database that does not answer), is added here in one place,
//! beside the layers it describes.

use std::sync::OnceLock;

use axum::{
    extract::State,
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use serde_json::{json, Map, Value};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{error::ErrorBody, public::page_context, AppState};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Candor admin API",
        description = "Post incidents and maintenance, set component statuses, and manage \
            subscribers of a Candor status page. JSON in and out. Every request but this \
            document's needs a token: `Authorization: Bearer <token>` (make one with \
            `candor token create NAME`). A POST may carry an `Idempotency-Key`: the same key \
            with the same body answers the first response again and does nothing twice. \
            Entries, once posted, are never edited: post a correction.",
        license(name = "MIT", identifier = "MIT"),
    ),
    servers((url = "/api/v1", description = "This Candor")),
    components(schemas(ErrorBody)),
    tags(
        (name = "incidents", description = "Incidents and their timelines"),
        (name = "maintenances", description = "Planned maintenance"),
        (name = "components", description = "The parts of the service readers recognise"),
        (name = "subscribers", description = "Who is told of changes, by mail or webhook"),
        (name = "alerts", description = "Monitoring tools' webhooks"),
        (name = "owed", description = "What staff owe the readers"),
        (name = "reports", description = "Readers' \"I'm affected\" reports"),
        (name = "reference", description = "This document"),
    ),
)]
struct Base;

/// The routes that need no token: this document.
pub fn public_api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(openapi_json))
}

/// The reference page, outside the API.
pub fn docs_router() -> Router<AppState> {
    Router::new().route("/api/docs", get(docs))
}

/// The document as a JSON value, built once.
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let api = OpenApiRouter::with_openapi(Base::openapi())
            .merge(super::admin_api())
            .merge(public_api())
            .into_openapi();
        let mut document = serde_json::to_value(api).expect("the OpenAPI document serialises");
        shared_parts(&mut document);
        add_links(&mut document);
        document
    })
}

fn document_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| serde_json::to_string_pretty(document()).expect("serialises"))
}

/// This document.
///
/// The OpenAPI 3.1 description of the whole admin API. It needs no token:
/// it describes, it reveals no data.
#[utoipa::path(get, path = "/openapi.json", tag = "reference", security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document",
        content_type = "application/json", body = Object)))]
async fn openapi_json() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        document_text(),
    )
        .into_response()
}

async fn docs(State(state): State<AppState>) -> Response {
    crate::views::api_docs::page(&page_context(&state), document()).into_response()
}

/// An error answer of `status`, in the one error shape.
fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    })
}

/// The answers that layers give before (or around) any handler, by name.
fn shared_responses() -> Map<String, Value> {
    let mut responses = Map::new();
    let mut add = |name: &str, description: &str| {
        responses.insert(name.to_string(), error_response(description));
    };
    add(
        "Malformed",
        "The body is not JSON (`malformed_json`), or it has more after its JSON value.",
    );
    add(
        "Unauthorized",
        "No token, or one that is wrong, revoked or expired (`unauthorized`). Send \
         `Authorization: Bearer <token>`.",
    );
    add(
        "Forbidden",
        "The token may not do this: a token scoped to alerts may only post alerts \
         (`forbidden`).",
    );
    add("NotFound", "There is nothing with this id (`not_found`).");
    add(
        "Conflict",
        "A request with this `Idempotency-Key` is still being processed, or the change \
         conflicts with what is stored (`conflict`).",
    );
    add(
        "TooLarge",
        "The body is too large (`payload_too_large`): 64 KiB at most, a subscriber list \
         256 MiB.",
    );
    add(
        "UnsupportedMediaType",
        "The body is not sent as the operation takes it (`unsupported_media_type`): \
         `application/json`; a subscriber list as `text/csv` or JSON lines.",
    );
    add(
        "Invalid",
        "A rule is broken (`invalid`): `field` names the field or parameter at fault and \
         `message` says why (a time that must be in the future, an id that does not exist, \
         a missing or unknown field). Also the same `Idempotency-Key` with another body \
         (`idempotency_key_reused`).",
    );
    add(
        "Unavailable",
        "The database does not answer just now (`unavailable`), or the request took too \
         long (`timeout`; a write may still complete, so retry with the same \
         `Idempotency-Key`). `Retry-After` says when to try again.",
    );
    responses
}

/// What a created object's id leads to: the operations that take it as
/// `{id}`, as OpenAPI links (clients and testing tools follow them).
const LINKS: [(&str, &str, &[&str]); 4] = [
    (
        "/incidents",
        "201",
        &[
            "get-incidents-id",
            "post-incidents-id-updates",
            "post-incidents-id-corrections",
            "post-incidents-id-postmortem",
            "get-incidents-id-deliveries",
        ],
    ),
    (
        "/maintenances",
        "201",
        &[
            "get-maintenances-id",
            "post-maintenances-id-updates",
            "post-maintenances-id-corrections",
        ],
    ),
    (
        "/components",
        "201",
        &["get-components-id", "patch-components-id"],
    ),
    (
        "/subscribers",
        "201",
        &[
            "get-subscribers-id",
            "delete-subscribers-id",
            "post-subscribers-id-enable",
        ],
    ),
];

fn add_links(document: &mut Value) {
    for (path, status, targets) in LINKS {
        let response = &mut document["paths"][path]["post"]["responses"][status];
        assert!(response.is_object(), "POST {path} answers {status}");
        let links: Map<String, Value> = targets
            .iter()
            .map(|target| {
                (
                    target.to_string(),
                    json!({"operationId": target, "parameters": {"id": "$response.body#/id"}}),
                )
            })
            .collect();
        response["links"] = Value::Object(links);
    }
}

/// Adds what the layers in front of the handlers do to every operation:
/// the bearer scheme, the shared error answers, and `Idempotency-Key` on
/// every POST.
fn shared_parts(document: &mut Value) {
    let components = document["components"]
        .as_object_mut()
        .expect("the document has components");
    components.insert(
        "securitySchemes".into(),
        json!({"bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token: `candor token create NAME` prints one \
                (`--scope alerts` for one that may only post alerts); the first start \
                prints one too. Only its hash is stored."
        }}),
    );
    components.insert("responses".into(), Value::Object(shared_responses()));
    components.insert(
        "parameters".into(),
        json!({"IdempotencyKey": {
            "name": "Idempotency-Key",
            "in": "header",
            "required": false,
            "description": "Any text of 1 to 255 characters, new for each distinct write. \
                Retried with the same key and the same body within 24 hours, the request \
                answers the first response again (with `Idempotent-Replayed: true`) and \
                does nothing twice; with another body it is refused (422).",
            "schema": {"type": "string", "minLength": 1, "maxLength": 255}
        }}),
    );
    document["security"] = json!([{"bearer": []}]);
    let paths = document["paths"]
        .as_object_mut()
        .expect("the document has paths");
    for (path, item) in paths.iter_mut() {
        let has_id = path.contains('{');
        for (method, operation) in item.as_object_mut().expect("a path item").iter_mut() {
            // Unique, and readable as an anchor: `post-incidents-id-updates`.
            let words: Vec<&str> = path
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|w| !w.is_empty())
                .collect();
            operation["operationId"] = json!(format!("{method}-{}", words.join("-")));
            let public = operation
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|s| s.iter().all(|r| r.as_object().is_some_and(Map::is_empty)));
            if public {
                continue;
            }
            let has_body = operation.get("requestBody").is_some();
            let has_query = operation["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
            let post = method == "post";
            let responses = operation["responses"]
                .as_object_mut()
                .expect("an operation has responses");
            let mut refer = |status: &str, name: &str| {
                responses
                    .entry(status)
                    .or_insert_with(|| json!({"$ref": format!("#/components/responses/{name}")}));
            };
            refer("401", "Unauthorized");
            refer("403", "Forbidden");
            refer("503", "Unavailable");
            if has_id {
                refer("404", "NotFound");
            }
            if has_body {
                refer("400", "Malformed");
                refer("413", "TooLarge");
                refer("415", "UnsupportedMediaType");
            }
            if has_body || has_query || post {
                refer("422", "Invalid");
            }
            if post || method == "patch" {
                refer("409", "Conflict");
            }
            // An import is read as it arrives, never kept whole: the
            // idempotency layer leaves it alone (importing again adds
            // nothing twice).
            if post && path != "/subscribers/import" {
                // The idempotency layer reads the whole body of any POST.
                refer("413", "TooLarge");
                let parameters = operation
                    .as_object_mut()
                    .expect("an operation")
                    .entry("parameters")
                    .or_insert_with(|| json!([]));
                parameters
                    .as_array_mut()
                    .expect("parameters are a list")
                    .push(json!({"$ref": "#/components/parameters/IdempotencyKey"}));
            }
        }
    }
}
