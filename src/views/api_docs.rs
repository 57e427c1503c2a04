//! `/api/docs`: the admin API's reference, rendered from its OpenAPI
//! document (the one `/api/v1/openapi.json` serves), so the page says what
//! the code does. Plain HTML and the page's own stylesheet: no script, no
//! font or file from elsewhere.

use maud::{html, Markup};
use serde_json::{Map, Value};

use super::{layout::layout, PageContext};

const METHODS: [&str; 5] = ["get", "post", "patch", "put", "delete"];

pub fn page(ctx: &PageContext<'_>, doc: &Value) -> Markup {
    let docs = Docs { doc };
    let base = doc["servers"][0]["url"].as_str().unwrap_or("");
    let tags = tags(doc);
    layout(
        ctx,
        "Admin API reference",
        html! {
            div.api-docs {
                h1 { "Admin API reference" }
                p.lede { (code_spans(doc["info"]["description"].as_str().unwrap_or_default())) }
                p {
                    "The machine-readable description of this page: "
                    a href={ (base) "/openapi.json" } { code { (base) "/openapi.json" } }
                    " (OpenAPI " (doc["openapi"].as_str().unwrap_or_default()) ")."
                }
                nav.api-toc aria-labelledby="contents" {
                    h2 #contents { "Contents" }
                    ul {
                        li { a href="#authentication" { "Authentication" } }
                        li { a href="#idempotency" { "Retrying a POST: Idempotency-Key" } }
                        li { a href="#errors" { "Errors" } }
                        @for (tag, description, operations) in &tags {
                            li {
                                a href={ "#tag-" (tag) } { (capitalised(tag)) }
                                @if !description.is_empty() { " — " (description) }
                                ul {
                                    @for op in operations {
                                        li {
                                            a href={ "#" (op.anchor()) } {
                                                span class={ "method " (op.method) } { (op.method.to_uppercase()) } " "
                                                code { (base) (op.path) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        li { a href="#schemas" { "Objects" } }
                    }
                }
                (docs.authentication())
                (docs.idempotency())
                (docs.errors())
                @for (tag, description, operations) in &tags {
                    section.api-tag aria-labelledby={ "tag-" (tag) } {
                        h2 id={ "tag-" (tag) } { (capitalised(tag)) }
                        @if !description.is_empty() { p { (description) } }
                        @for op in operations { (docs.operation(base, op)) }
                    }
                }
                (docs.schemas())
            }
        },
    )
}

/// One operation of the document.
struct Operation<'a> {
    method: &'a str,
    path: &'a str,
    op: &'a Value,
}

impl Operation<'_> {
    fn anchor(&self) -> String {
        self.op["operationId"]
            .as_str()
            .map_or_else(|| format!("{}-{}", self.method, self.path), str::to_string)
    }
}

/// The tags in the document's order, each with its operations.
fn tags(doc: &Value) -> Vec<(&str, &str, Vec<Operation<'_>>)> {
    let mut tags: Vec<(&str, &str, Vec<Operation<'_>>)> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or_default(),
                t["description"].as_str().unwrap_or_default(),
                Vec::new(),
            )
        })
        .collect();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let tag = op["tags"][0].as_str().unwrap_or("other");
            let at = match tags.iter().position(|(name, _, _)| *name == tag) {
                Some(at) => at,
                None => {
                    tags.push((tag, "", Vec::new()));
                    tags.len() - 1
                }
            };
            tags[at].2.push(Operation { method, path, op });
        }
    }
    tags.retain(|(_, _, ops)| !ops.is_empty());
    tags
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// Text with `code` in backticks, as the document writes it.
fn code_spans(text: &str) -> Markup {
    html! {
        @for (i, part) in text.split('`').enumerate() {
            @if i % 2 == 1 { code { (part) } } @else { (part) }
        }
    }
}

/// Paragraphs of a description (blank lines between them).
fn paragraphs(text: &str) -> Markup {
    html! {
        @for paragraph in text.split("\n\n").filter(|p| !p.trim().is_empty()) {
            p { (code_spans(&paragraph.replace('\n', " "))) }
        }
    }
}

struct Docs<'a> {
    doc: &'a Value,
}

impl<'a> Docs<'a> {
    /// What a `$ref` points to, or the schema itself.
    fn resolve(&self, schema: &'a Value) -> &'a Value {
        match schema["$ref"].as_str() {
            Some(reference) => {
                let mut target = self.doc;
                for part in reference.trim_start_matches("#/").split('/') {
                    target = &target[part];
                }
                target
            }
            None => schema,
        }
    }

    fn authentication(&self) -> Markup {
        let scheme = &self.doc["components"]["securitySchemes"]["bearer"];
        html! {
            section aria-labelledby="authentication" {
                h2 #authentication { "Authentication" }
                p {
                    "Send a token with every request: "
                    code { "Authorization: Bearer <token>" } ". "
                    (code_spans(scheme["description"].as_str().unwrap_or_default()))
                }
                p {
                    "Without a valid token the answer is 401; a token that may not do something "
                    "gets 403. This reference and " code { "openapi.json" } " need no token."
                }
                pre { code { "curl -H \"Authorization: Bearer $TOKEN\" -H \"Content-Type: application/json\" \\\n  -d '{\"name\": \"Outbound mail\"}' " (self.doc["servers"][0]["url"].as_str().unwrap_or_default()) "/components" } }
            }
        }
    }

    fn idempotency(&self) -> Markup {
        let parameter = &self.doc["components"]["parameters"]["IdempotencyKey"];
        html! {
            section aria-labelledby="idempotency" {
                h2 #idempotency { "Retrying a POST: " code { "Idempotency-Key" } }
                p { (code_spans(parameter["description"].as_str().unwrap_or_default())) }
                p { "Every POST below takes it. A client that did not hear the answer to a write (a timeout, a dropped connection) retries with the same key and learns what was done." }
            }
        }
    }

    fn errors(&self) -> Markup {
        let responses = self.doc["components"]["responses"].as_object();
        html! {
            section aria-labelledby="errors" {
                h2 #errors { "Errors" }
                p { "Every error has the same shape, whatever its status:" }
                pre { code { "{\"error\": {\"code\": \"invalid\", \"message\": \"must be in the future\", \"field\": \"next_update_at\"}}" } }
                (self.fields(&self.doc["components"]["schemas"]["ErrorDetail"]))
                p { "The errors any operation may answer, besides its own (each operation lists its statuses):" }
                table.api {
                    thead { tr { th scope="col" { "Status" } th scope="col" { "When" } } }
                    tbody {
                        @for (status, name) in ERROR_STATUSES {
                            @if let Some(response) = responses.and_then(|r| r.get(name)) {
                                tr {
                                    td { (status) }
                                    td { (code_spans(response["description"].as_str().unwrap_or_default())) }
                                }
                            }
                        }
                    }
                }
                p { "A 500 is a bug in Candor: it is logged; please report it." }
            }
        }
    }

    fn operation(&self, base: &str, op: &Operation<'_>) -> Markup {
        let o = op.op;
        let public = o["security"]
            .as_array()
            .is_some_and(|s| s.iter().all(|r| r.as_object().is_some_and(Map::is_empty)));
        let parameters: Vec<&Value> = o["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| self.resolve(p))
            .collect();
        html! {
            div.api-op {
                h3 id=(op.anchor()) {
                    span class={ "method " (op.method) } { (op.method.to_uppercase()) } " "
                    code { (base) (op.path) }
                }
                @if let Some(summary) = o["summary"].as_str() { p.summary { (code_spans(summary)) } }
                @if let Some(description) = o["description"].as_str() { (paragraphs(description)) }
                p.auth {
                    @if public { "Needs no token." } @else { "Needs a token (" a href="#authentication" { "bearer" } ")." }
                }
                @if !parameters.is_empty() {
                    h4 { "Parameters" }
                    table.api {
                        thead { tr {
                            th scope="col" { "Name" } th scope="col" { "In" } th scope="col" { "Type" } th scope="col" { "What" }
                        } }
                        tbody {
                            @for p in &parameters {
                                tr {
                                    td { code { (p["name"].as_str().unwrap_or_default()) }
                                        @if p["required"].as_bool() == Some(true) { " " span.req { "required" } } }
                                    td { (p["in"].as_str().unwrap_or_default()) }
                                    td { (self.type_of(&p["schema"])) }
                                    td { (code_spans(p["description"].as_str().unwrap_or_default())) }
                                }
                            }
                        }
                    }
                }
                @if let Some(body) = o.get("requestBody") {
                    h4 { "Body" }
                    @for (media, content) in body["content"].as_object().into_iter().flatten() {
                        p { code { (media) } ": " (self.type_of(&content["schema"])) }
                        (self.fields(&content["schema"]))
                    }
                }
                h4 { "Responses" }
                ul.responses {
                    @for (status, response) in o["responses"].as_object().into_iter().flatten() {
                        @let response = self.resolve(response);
                        li {
                            strong { (status) } " "
                            (code_spans(response["description"].as_str().unwrap_or_default()))
                            @if let Some(content) = response["content"].as_object() {
                                @for (_, c) in content { " — " (self.type_of(&c["schema"])) }
                            }
                        }
                    }
                }
            }
        }
    }

    /// A table of an object's fields, or nothing for what is not an object.
    fn fields(&self, schema: &Value) -> Markup {
        let mut properties: Vec<(&str, &Value, bool)> = Vec::new();
        let mut closed = false;
        self.collect(schema, &mut properties, &mut closed);
        // What must be sent first.
        properties.sort_by_key(|(_, _, required)| !required);
        if properties.is_empty() {
            return html! {};
        }
        html! {
            table.api {
                thead { tr { th scope="col" { "Field" } th scope="col" { "Type" } th scope="col" { "What" } } }
                tbody {
                    @for (name, property, required) in &properties {
                        tr {
                            td { code { (name) } @if *required { " " span.req { "required" } } }
                            td { (self.type_of(property)) }
                            td { (self.describe(property)) }
                        }
                    }
                }
            }
            @if closed { p.quiet { "Any other field is refused (422)." } }
        }
    }

    /// The properties of an object schema, through `$ref` and `allOf`.
    fn collect(
        &self,
        schema: &'a Value,
        into: &mut Vec<(&'a str, &'a Value, bool)>,
        closed: &mut bool,
    ) {
        let schema = self.resolve(schema);
        for part in schema["allOf"].as_array().into_iter().flatten() {
            self.collect(part, into, closed);
        }
        let required: Vec<&str> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for (name, property) in schema["properties"].as_object().into_iter().flatten() {
            into.push((name, property, required.contains(&name.as_str())));
        }
        if schema["additionalProperties"] == Value::Bool(false) {
            *closed = true;
        }
    }

    /// A property's description, with its bounds, and the rule of a text
    /// type it takes (title, message, …).
    fn describe(&self, property: &Value) -> Markup {
        let inner = self.nullable_inner(property);
        let own = property["description"]
            .as_str()
            .or_else(|| inner.and_then(|i| i["description"].as_str()));
        let target = self.resolve(inner.unwrap_or(property));
        // A text type's rule comes from the type referred to: a plain
        // string's own description is not said twice.
        let rule = (target["type"] == "string"
            && target.get("enum").is_none()
            && !std::ptr::eq(target, property))
        .then(|| target["description"].as_str())
        .flatten()
        .filter(|rule| Some(*rule) != own);
        let description = own.or_else(|| {
            (rule.is_none())
                .then(|| target["description"].as_str())
                .flatten()
        });
        let bounds = [property, target].iter().find_map(|s| {
            match (s["minimum"].as_i64(), s["maximum"].as_i64()) {
                (Some(min), Some(max)) => Some(format!("{min} to {max}")),
                _ => None,
            }
        });
        html! {
            @if let Some(description) = description { (code_spans(description)) " " }
            @if let Some(bounds) = bounds { span.quiet { "(" (bounds) ")" } " " }
            @if let Some(rule) = rule { span.quiet { (code_spans(rule)) } }
        }
    }

    /// `T` of a schema that is "T or null".
    fn nullable_inner(&self, schema: &'a Value) -> Option<&'a Value> {
        let choices = schema["oneOf"].as_array().or(schema["anyOf"].as_array())?;
        let others: Vec<&Value> = choices.iter().filter(|c| c["type"] != "null").collect();
        (others.len() == 1 && others.len() < choices.len()).then(|| others[0])
    }

    /// A schema's type, in words, linking to named objects.
    fn type_of(&self, schema: &Value) -> Markup {
        if let Some(reference) = schema["$ref"].as_str() {
            let name = reference.rsplit('/').next().unwrap_or_default();
            let target = self.resolve(schema);
            if target.get("properties").is_some() || target.get("allOf").is_some() {
                return html! { a href={ "#schema-" (name) } { (name) } };
            }
            return self.type_of(target);
        }
        if let Some(inner) = self.nullable_inner(schema) {
            return html! { (self.type_of(inner)) " or null" };
        }
        if let Some(values) = schema["enum"].as_array() {
            return html! {
                "one of "
                @for (i, value) in values.iter().enumerate() {
                    @if i > 0 { ", " }
                    code { (value.as_str().map_or_else(|| value.to_string(), str::to_string)) }
                }
            };
        }
        let types: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let nullable = types.contains(&"null");
        let main = types.iter().find(|t| **t != "null").copied();
        let word = match main {
            Some("array") => html! { "list of " (self.type_of(&schema["items"])) },
            Some("object") => match &schema["additionalProperties"] {
                Value::Object(_) => {
                    html! { "map of text to " (self.type_of(&schema["additionalProperties"])) }
                }
                _ => html! { "object" },
            },
            Some("string") => match schema["format"].as_str() {
                Some("date-time") => html! { "time (RFC 3339)" },
                Some(format) => html! { "string (" (format) ")" },
                None => html! { "string" },
            },
            Some(other) => html! { (other) },
            None if schema.as_object().is_some_and(Map::is_empty) => html! { "any JSON" },
            None => html! { "object" },
        };
        html! { (word) @if nullable { " or null" } }
    }

    fn schemas(&self) -> Markup {
        let schemas = self.doc["components"]["schemas"].as_object();
        html! {
            section aria-labelledby="schemas" {
                h2 #schemas { "Objects" }
                p { "The objects the operations above take and answer. Times are RFC 3339 in UTC; ids are text." }
                @for (name, schema) in schemas.into_iter().flatten() {
                    @if schema.get("properties").is_some() || schema.get("allOf").is_some() {
                        div.api-schema {
                            h3 id={ "schema-" (name) } { (name) }
                            @if let Some(description) = schema["description"].as_str() { (paragraphs(description)) }
                            (self.fields(schema))
                        }
                    }
                }
            }
        }
    }
}

/// The shared error answers, by status, as `openapi.rs` names them.
const ERROR_STATUSES: [(&str, &str); 9] = [
    ("400", "Malformed"),
    ("401", "Unauthorized"),
    ("403", "Forbidden"),
    ("404", "NotFound"),
    ("409", "Conflict"),
    ("413", "TooLarge"),
    ("415", "UnsupportedMediaType"),
    ("422", "Invalid"),
    ("503", "Unavailable"),
];
