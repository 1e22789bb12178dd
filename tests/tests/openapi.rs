//! The OpenAPI document checked against the template and the code: every HTTP route the template
//! declares has an operation and every operation a route; non-public operations require the
//! `bearer` scheme and public ones nothing; each operation records the access its function's route
//! table enforces; the document is OpenAPI 3.1 and structurally sound (every `$ref` resolves, every
//! error is a problem+json response); and the local platform serves it and the docs page over HTTP.

use std::collections::{BTreeMap, BTreeSet};

use kushim::registry::declared_routes;
use kushim::{BackendChoice, Platform, PlatformOptions};
use kushim_api::openapi::{ACCESS_EXTENSION, BEARER, access_label};
use serde_json::{Value, json};

const METHODS: [&str; 8] = ["get", "post", "put", "patch", "delete", "head", "options", "trace"];

fn document() -> Value {
    serde_json::to_value(api_docs::document()).expect("the document serialises")
}

/// Every operation of the document by (METHOD, path).
fn operations(doc: &Value) -> BTreeMap<(String, String), Value> {
    let mut out = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                out.insert((method.to_uppercase(), path.clone()), op.clone());
            }
        }
    }
    out
}

/// Every HTTP route of the template as (METHOD, path), with whether it is public.
fn template_routes() -> BTreeMap<(String, String), bool> {
    kushim_template::bundled()
        .routes()
        .into_iter()
        .map(|(_, r)| ((r.method.clone(), r.path.clone()), r.auth.is_none()))
        .collect()
}

fn listed(keys: &BTreeSet<&(String, String)>) -> String {
    keys.iter().map(|(m, p)| format!("\n  {m} {p}")).collect()
}

#[test]
fn every_template_route_has_an_operation_and_every_operation_a_template_route() {
    let doc = document();
    let documented: BTreeSet<(String, String)> = operations(&doc).into_keys().collect();
    let routes = template_routes();
    let declared: BTreeSet<(String, String)> = routes.keys().cloned().collect();
    let undocumented: BTreeSet<&(String, String)> = declared.difference(&documented).collect();
    let undeclared: BTreeSet<&(String, String)> = documented.difference(&declared).collect();
    assert!(
        undocumented.is_empty(),
        "template.yaml routes without an OpenAPI operation (add #[utoipa::path] to the handler and list it in its \
         crate's #[openapi(paths(...))]):{}",
        listed(&undocumented)
    );
    assert!(
        undeclared.is_empty(),
        "OpenAPI operations without a template.yaml route (add the HttpApi event or drop the operation):{}",
        listed(&undeclared)
    );
}

#[test]
fn non_public_operations_require_bearer_and_public_operations_require_nothing() {
    let doc = document();
    let scheme = &doc["components"]["securitySchemes"][BEARER];
    assert_eq!((scheme["type"].as_str(), scheme["scheme"].as_str()), (Some("http"), Some("bearer")), "{scheme}");
    let ops = operations(&doc);
    for ((method, path), public) in template_routes() {
        let Some(op) = ops.get(&(method.clone(), path.clone())) else { continue }; // reported by the test above
        let security = op.get("security");
        if public {
            assert!(
                security.is_none_or(|s| s == &json!([])),
                "{method} {path} is public in template.yaml but its operation requires {security:?}"
            );
        } else {
            assert_eq!(
                security,
                Some(&json!([{ BEARER: [] }])),
                "{method} {path} goes through the authorizer in template.yaml; its operation must require `{BEARER}`"
            );
        }
    }
}

#[test]
fn each_operation_records_the_access_its_route_table_enforces() {
    let ops = operations(&document());
    for r in declared_routes() {
        // A route without an operation is reported by the first test.
        let Some(op) = ops.get(&(r.method.to_owned(), r.path.to_owned())) else { continue };
        assert_eq!(
            op[ACCESS_EXTENSION].as_str(),
            Some(access_label(r.access)),
            "{} {} ({}): {ACCESS_EXTENSION} does not match the route table",
            r.method,
            r.path,
            r.binary
        );
    }
}

#[test]
fn the_document_is_openapi_3_1_for_this_build() {
    let doc = document();
    let version = doc["openapi"].as_str().expect("openapi is a string");
    assert!(version.starts_with("3.1."), "openapi: {version}");
    assert_eq!(doc["info"]["title"], "Kushim API");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["servers"], json!([{ "url": "/" }]));
    assert_eq!(api_docs::merge_conflicts(), Vec::<String>::new());
}

fn collect_refs<'a>(value: &'a Value, at: String, out: &mut Vec<(String, &'a str)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push((at.clone(), r)),
                    _ => collect_refs(v, format!("{at}/{k}"), out),
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                collect_refs(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_ref_resolves_within_the_document() {
    let doc = document();
    let mut refs = Vec::new();
    collect_refs(&doc, String::new(), &mut refs);
    assert!(refs.len() > 50, "suspiciously few $refs: {}", refs.len());
    let dangling: Vec<String> = refs
        .iter()
        .filter(|(_, r)| r.strip_prefix('#').and_then(|pointer| doc.pointer(pointer)).is_none())
        .map(|(at, r)| format!("\n  {at}: {r}"))
        .collect();
    assert!(dangling.is_empty(), "$refs that do not resolve within the document:{}", dangling.concat());
}

/// Follows a local `$ref`.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
        Some(pointer) => doc.pointer(pointer).expect("checked by every_ref_resolves_within_the_document"),
        None => v,
    }
}

#[test]
fn every_operation_is_described_and_every_error_is_a_problem() {
    let doc = document();
    let tags: BTreeSet<&str> =
        doc["tags"].as_array().expect("tags").iter().filter_map(|t| t["name"].as_str()).collect();
    for ((method, path), op) in operations(&doc) {
        let name = format!("{method} {path}");
        assert!(op["operationId"].is_string(), "{name} has no operationId");
        assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()), "{name} has no summary");
        let tag = op["tags"][0].as_str().unwrap_or_default();
        assert!(tags.contains(tag), "{name} has tag {tag:?}, which the document does not describe");
        for param in op["parameters"].as_array().into_iter().flatten() {
            if param["in"] == "path" {
                assert!(path.contains(&format!("{{{}}}", param["name"].as_str().unwrap())), "{name}: {param}");
            }
        }
        let path_params = path.matches('{').count();
        let documented_path_params =
            op["parameters"].as_array().into_iter().flatten().filter(|p| p["in"] == "path").count();
        assert_eq!(path_params, documented_path_params, "{name} must describe each of its path parameters");
        if let Some(body) = op.get("requestBody") {
            let body = resolve(&doc, body);
            assert!(body["content"].get("application/json").is_some(), "{name}: request body must be JSON: {body}");
        }
        let responses = op["responses"].as_object().expect("responses");
        assert!(responses.keys().any(|s| s.starts_with('2')), "{name} has no success response");
        for (status, response) in responses {
            if status.starts_with('4') {
                let response = resolve(&doc, response);
                let schema = &response["content"]["application/problem+json"]["schema"];
                assert_eq!(schema["$ref"], "#/components/schemas/Problem", "{name} {status} must be a problem");
            }
        }
    }
}

async fn start(dir: &std::path::Path) -> Platform {
    Platform::start(PlatformOptions {
        port: 0,
        data_dir: dir.to_path_buf(),
        backend: BackendChoice::Embedded,
        schedules: false,
        cors_origins: Vec::new(),
        paused_consumers: Vec::new(),
    })
    .await
    .expect("platform starts")
}

#[tokio::test]
async fn the_platform_serves_the_document_and_the_docs_page() {
    let dir = tempfile::tempdir().unwrap();
    let platform = start(dir.path()).await;
    let http = reqwest::Client::new();

    let resp = http.get(format!("{}/v1/openapi.json", platform.url)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/json"), "{content_type}");
    let served: Value = resp.json().await.expect("the document is JSON");
    assert_eq!(served, document(), "the served document differs from the generated one");

    let resp = http.get(format!("{}/v1/docs", platform.url)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let page = resp.text().await.unwrap();
    assert!(!page.contains("<script"), "the page must not need a script");
    for (method, path) in template_routes().keys() {
        assert!(page.contains(&format!("<code>{path}</code>")), "the docs page does not show {method} {path}");
    }
    assert_eq!(platform.permissions.violations(), Vec::<String>::new(), "ungranted IAM actions");
    platform.shutdown().await;
}
