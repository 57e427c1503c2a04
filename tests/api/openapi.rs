//! `/api/v1/openapi.json` and `/api/docs`: the admin API's description is
//! public, valid OpenAPI 3.1, names every route the API answers, and is
//! rendered for people.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{visible_text, TestApp};

const METHODS: [&str; 5] = ["get", "post", "patch", "put", "delete"];

/// Every `$ref` in `value` points at something in `doc`.
fn dangling_refs(doc: &Value, value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                let mut target = doc;
                for part in reference.trim_start_matches("#/").split('/') {
                    target = &target[part];
                }
                if target.is_null() {
                    out.push(reference.clone());
                }
            }
            for v in map.values() {
                dangling_refs(doc, v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| dangling_refs(doc, v, out)),
        _ => {}
    }
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                ops.push((method.to_string(), path.clone(), op.clone()));
            }
        }
    }
    ops
}

#[tokio::test]
async fn the_document_is_public_openapi_3_1_and_describes_tokens_errors_and_idempotency() {
    let app = TestApp::spawn().await;
    let reply = app.raw(Method::GET, "/api/v1/openapi.json").send().await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.content_type().starts_with("application/json"));
    let doc = reply.body;
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1.")),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["servers"][0]["url"], "/api/v1");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(doc["security"][0]["bearer"], serde_json::json!([]));

    let mut dangling = Vec::new();
    dangling_refs(&doc, &doc, &mut dangling);
    assert!(dangling.is_empty(), "references to nothing: {dangling:?}");

    // The error shape, as ApiError sends it.
    let detail = &doc["components"]["schemas"]["ErrorDetail"];
    for field in ["code", "message", "field"] {
        assert!(detail["properties"].get(field).is_some(), "{detail}");
    }

    let mut ids = BTreeSet::new();
    for (method, path, op) in operations(&doc) {
        let name = format!("{} {path}", method.to_uppercase());
        assert!(
            ids.insert(op["operationId"].to_string()),
            "{name}: operationId twice"
        );
        assert!(op["summary"].is_string(), "{name}: no summary");
        let responses = op["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{name}: no success answer"
        );
        if path == "/openapi.json" {
            continue;
        }
        for status in ["401", "403", "503"] {
            assert!(
                responses.contains_key(status),
                "{name}: {status} not documented"
            );
        }
        if op.get("requestBody").is_some() {
            for status in ["400", "413", "415", "422"] {
                assert!(
                    responses.contains_key(status),
                    "{name}: {status} not documented"
                );
            }
        }
        let takes_key = op["parameters"].as_array().is_some_and(|ps| {
            ps.iter()
                .any(|p| p["$ref"] == "#/components/parameters/IdempotencyKey")
        });
        // An import is read as it arrives, and adds nothing twice anyway.
        let idempotent = method == "post" && path != "/subscribers/import";
        assert_eq!(takes_key, idempotent, "{name}: Idempotency-Key");
    }
    assert_eq!(
        doc["components"]["parameters"]["IdempotencyKey"]["name"],
        "Idempotency-Key"
    );

    // The OpenAPI Initiative's rules, where the validator is installed (CI
    // installs it from .ci/requirements.txt and sets the variable).
    let required = std::env::var("CANDOR_OPENAPI_VALIDATOR").as_deref() == Ok("1");
    let has_validator = std::process::Command::new("python3")
        .args(["-c", "import openapi_spec_validator"])
        .output()
        .is_ok_and(|o| o.status.success());
    if has_validator {
        let dir = tempfile_dir();
        let file = dir.join("openapi.json");
        std::fs::write(&file, &reply.text).unwrap();
        let output = std::process::Command::new("python3")
            .args(["-m", "openapi_spec_validator"])
            .arg(&file)
            .output()
            .expect("run openapi_spec_validator");
        let report = String::from_utf8_lossy(&output.stdout).to_string()
            + &String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "not valid OpenAPI:\n{report}");
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        assert!(
            !required,
            "CANDOR_OPENAPI_VALIDATOR=1 but openapi_spec_validator is missing"
        );
        eprintln!("openapi-spec-validator not installed: structural checks only");
    }
    app.stop().await;
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "candor-openapi-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The routes the API answers, read from the source: each admin module's
/// `routes!(a, b)` are its handlers; a route added any other way (a
/// `.route(...)` beside them) would be missing from the document, and is
/// refused here.
fn routed_handlers() -> Vec<(String, usize)> {
    let http = concat!(env!("CARGO_MANIFEST_DIR"), "/src/http");
    let mod_rs = std::fs::read_to_string(format!("{http}/mod.rs")).unwrap();
    let admin = mod_rs
        .split("fn admin_api()")
        .nth(1)
        .and_then(|rest| rest.split("\n}\n").next())
        .expect("src/http/mod.rs builds the admin API in admin_api()");
    let modules: Vec<&str> = admin
        .split(".merge(")
        .skip(1)
        .map(|m| m.split("::router()").next().unwrap())
        .collect();
    assert!(modules.len() >= 7, "modules of the admin API: {modules:?}");
    let after_split = mod_rs.split("fn router(").nth(1).expect("router()");
    assert!(
        !after_split.contains(".route("),
        "src/http/mod.rs adds a route beside the documented ones"
    );
    let mut handlers = Vec::new();
    for module in modules {
        let mut files = vec![format!("{http}/{module}.rs")];
        if let Ok(dir) = std::fs::read_dir(format!("{http}/{module}")) {
            files.extend(dir.map(|e| e.unwrap().path().display().to_string()));
        }
        for file in files {
            let source = std::fs::read_to_string(&file).unwrap();
            for bypass in [
                ".route(",
                ".route_service(",
                ".nest_service(",
                "axum::routing",
            ] {
                assert!(
                    !source.contains(bypass),
                    "{file} uses `{bypass}`: add the route with routes!(handler) and a \
                     #[utoipa::path] annotation, so that the OpenAPI document names it"
                );
            }
            for call in source.split("routes!(").skip(1) {
                let list = call.split(')').next().unwrap();
                let count = list.split(',').filter(|h| !h.trim().is_empty()).count();
                handlers.push((format!("{module}: {list}"), count));
            }
        }
    }
    handlers
}

#[tokio::test]
async fn every_route_of_the_admin_api_is_in_the_document_and_answers() {
    let app = TestApp::spawn().await;
    let doc = app
        .raw(Method::GET, "/api/v1/openapi.json")
        .send()
        .await
        .expect(200);
    let ops = operations(&doc);

    // Every handler routed in the source is one operation of the document
    // (plus the document itself).
    let routed: usize = routed_handlers().iter().map(|(_, n)| n).sum();
    assert_eq!(
        ops.len(),
        routed + 1,
        "operations in the document vs handlers routed: {:?}",
        routed_handlers()
    );

    // And every operation of the document reaches a handler: not the API's
    // "nothing at this path", not "method not allowed".
    for (method, path, _) in &ops {
        let concrete = path.replace("{id}", "no-such-id");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let mut request = app
            .raw(method.clone(), &format!("/api/v1{concrete}"))
            .admin();
        if method != Method::GET && method != Method::DELETE {
            request = request.json(&serde_json::json!({}));
        }
        let reply = request.send().await;
        assert_ne!(reply.status, 405, "{method} {path}: {}", reply.text);
        assert!(
            !(reply.status == 404
                && reply
                    .text
                    .contains("there is nothing at this path in the API")),
            "{method} {path} is in the document but not routed: {}",
            reply.text
        );
        assert!(reply.status < 500, "{method} {path}: {}", reply.text);
    }
    app.stop().await;
}

#[tokio::test]
async fn the_reference_page_shows_every_operation_its_fields_and_how_to_authenticate() {
    let app = TestApp::spawn().await;
    let doc = app
        .raw(Method::GET, "/api/v1/openapi.json")
        .send()
        .await
        .expect(200);
    let (status, html) = app.page("/api/docs").await;
    assert_eq!(status, 200);
    let text = visible_text(&html);
    for (method, path, op) in operations(&doc) {
        let heading = format!("{} /api/v1{path}", method.to_uppercase());
        assert!(text.contains(&heading), "{heading} missing from the page");
        let summary = op["summary"].as_str().unwrap();
        assert!(text.contains(summary), "{summary} missing from the page");
    }
    for words in [
        "Authorization: Bearer <token>",
        "Idempotency-Key",
        "candor token create NAME",
        r#"{"error": {"code": "invalid""#,
        "next_update_in",
        "1 to 10080",
        "time (RFC 3339)",
        "one of investigating, identified",
        "Any other field is refused (422).",
    ] {
        assert!(text.contains(words), "{words:?} missing from the page");
    }
    // The open body's title is marked required; its cause is not.
    let dom = scraper::Html::parse_document(&html);
    let rows = scraper::Selector::parse("#schema-OpenBody ~ table tr").unwrap();
    let row_of = |field: &str| {
        dom.select(&rows)
            .map(|r| r.text().collect::<String>())
            .find(|t| t.starts_with(field))
            .unwrap_or_else(|| panic!("no row for {field}"))
    };
    assert!(row_of("title").contains("required"), "{}", row_of("title"));
    assert!(!row_of("cause").contains("required"), "{}", row_of("cause"));
    // No script and nothing from elsewhere.
    assert!(
        !html.contains("<script"),
        "the reference page runs no script"
    );
    for outside in [r#"src="http"#, r#"href="http"#, "@import", "url("] {
        assert!(!html.contains(outside), "{outside} in the page");
    }
    app.stop().await;
}
