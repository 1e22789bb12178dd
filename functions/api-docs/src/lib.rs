//! `api-docs`: the HTTP API describes itself. `GET /v1/openapi.json` serves the OpenAPI 3.1
//! document merged from every API function's own annotations (`#[utoipa::path]` on each handler,
//! plus the access each function's route table declares), and `GET /v1/docs` serves a
//! self-contained HTML page rendered from that document on the server (no script, no external
//! asset). Both routes are public. The document is built once per process, from code alone: this
//! function reads no table, bucket, queue or secret.

pub mod html;

use kushim_api::{Access, ApiError, Ctx, Response, Route, dispatch};
use kushim_lambda::{Backends, Config, ConfigError};
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request};
use serde_json::Value;
use utoipa::OpenApi as _;
use utoipa::openapi::{InfoBuilder, LicenseBuilder, OpenApi, OpenApiBuilder, Server};

/// How long clients and caches may keep the document and the page.
const CACHE_CONTROL: &str = "public, max-age=300";

/// Everything the handlers need: the document and the page, rendered once.
pub struct State {
    json: String,
    html: String,
    csp: HeaderValue,
    routes: Vec<Route<State>>,
}

impl State {
    /// Builds the merged document and renders the page. The configuration and backends are
    /// unused: the document comes from code alone.
    pub fn new(_config: &Config, _backends: &Backends) -> Result<Self, ConfigError> {
        let doc = serde_json::to_value(document()).expect("an OpenAPI document always serialises to JSON");
        let csp = HeaderValue::from_str(&html::content_security_policy())
            .map_err(|e| ConfigError::Invalid { name: "content-security-policy", reason: e.to_string() })?;
        Ok(Self { json: doc.to_string(), html: html::render(&doc), csp, routes: routes() })
    }
}

/// The function's routes (each must also be in `template.yaml`).
pub fn routes() -> Vec<Route<State>> {
    vec![
        Route {
            method: "GET",
            path: "/v1/openapi.json",
            access: Access::Public,
            handler: |s, c| Box::pin(openapi_json(s, c)),
        },
        Route { method: "GET", path: "/v1/docs", access: Access::Public, handler: |s, c| Box::pin(docs(s, c)) },
    ]
}

/// The Lambda handler.
pub async fn handle(state: &State, req: Request) -> Result<Response, kushim_lambda::Error> {
    Ok(dispatch(&state.routes, state, req, None).await)
}

fn reply(content_type: &'static str, body: &str) -> Response {
    let mut resp = Response::new(Body::Text(body.to_owned()));
    *resp.status_mut() = StatusCode::OK;
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL));
    resp
}

#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    operation_id = "getOpenApiDocument",
    tag = "docs",
    summary = "This API's OpenAPI document",
    description = "The OpenAPI 3.1 description of every route of the Kushim HTTP API, generated from the code \
        that serves them. Needs no credentials.",
    responses((status = 200, description = "The OpenAPI 3.1 document.", body = Object, content_type = "application/json"))
)]
async fn openapi_json(state: &State, _ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    Ok(reply("application/json", &state.json))
}

#[utoipa::path(
    get,
    path = "/v1/docs",
    operation_id = "getDocsPage",
    tag = "docs",
    summary = "This API's documentation page",
    description = "The OpenAPI document rendered as a single HTML page: operations grouped by tag, with their \
        parameters, bodies, responses and the permission each requires, then every schema. Needs no credentials.",
    responses((status = 200, description = "The documentation page.", body = String, content_type = "text/html"))
)]
async fn docs(state: &State, _ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let mut resp = reply("text/html; charset=utf-8", &state.html);
    resp.headers_mut().insert(header::CONTENT_SECURITY_POLICY, state.csp.clone());
    Ok(resp)
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(openapi_json, docs),
    tags((name = "docs", description = "This API's own description: the OpenAPI document and the page rendered from it."))
)]
struct ApiDoc;

/// This function's own part of the document.
fn own() -> OpenApi {
    kushim_api::openapi::document(ApiDoc::openapi(), &routes())
}

/// Each API function's document, by binary.
fn parts() -> Vec<(&'static str, OpenApi)> {
    vec![
        ("api-health", api_health::openapi()),
        ("api-auth", api_auth::openapi()),
        ("api-users", api_users::openapi()),
        ("api-api-keys", api_api_keys::openapi()),
        ("api-tenant", api_tenant::openapi()),
        ("api-audit", api_audit::openapi()),
        ("api-exceptions", api_exceptions::openapi()),
        ("api-checks", api_checks::openapi()),
        ("api-frameworks", api_frameworks::openapi()),
        ("api-controls", api_controls::openapi()),
        ("api-reports", api_reports::openapi()),
        ("api-evidence", api_evidence::openapi()),
        ("api-integrations", api_integrations::openapi()),
        ("api-runs", api_runs::openapi()),
        ("api-exports", api_exports::openapi()),
        ("api-dead-letters", api_dead_letters::openapi()),
        ("api-docs", own()),
    ]
}

const DESCRIPTION: &str = "Kushim's HTTP API: multi-tenant compliance automation.\n\n\
Send credentials as `Authorization: Bearer <credential>`, where the credential is an access token (a JWT \
from sign-up, login, refresh or invitation acceptance) or an API key (`kus_…`). Every operation names the \
access it requires in `x-kushim-access`: `public`, `authenticated`, or a permission scope such as \
`users:read`. The tenant always comes from the credential, never from the request.\n\n\
Request bodies are JSON (`application/json`, at most 64 KiB) and unknown fields are refused. Errors are \
RFC 9457 problems (`application/problem+json`) with a stable `type` URI and the request id. Lists are \
paged with `limit` (1-100, default 25) and the sealed `cursor` each page returns as `next_cursor`. POSTs \
that create something accept an `Idempotency-Key` header.";

fn base() -> OpenApi {
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Kushim API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(DESCRIPTION))
                .license(Some(LicenseBuilder::new().name("Apache-2.0").identifier(Some("Apache-2.0")).build()))
                .build(),
        )
        .servers(Some(vec![Server::new("/")]))
        .build()
        .merge_from(kushim_api::openapi::common())
}

/// What merging `part` into `doc` would lose or change: an operation described twice, or a
/// schema, response, security scheme or tag that differs from the one of the same name already
/// merged (utoipa's merge keeps the first silently).
fn clashes(doc: &Value, part: &Value, from: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (path, item) in part["paths"].as_object().into_iter().flatten() {
        for method in item.as_object().into_iter().flat_map(|m| m.keys()) {
            if doc["paths"][path].get(method).is_some() {
                out.push(format!("{from}: {} {path} is described by an earlier function", method.to_uppercase()));
            }
        }
    }
    for section in ["schemas", "responses", "securitySchemes"] {
        for (name, value) in part["components"][section].as_object().into_iter().flatten() {
            if doc["components"][section].get(name).is_some_and(|existing| existing != value) {
                out.push(format!("{from}: components.{section}.{name} differs from the one merged before"));
            }
        }
    }
    let tags = doc["tags"].as_array().cloned().unwrap_or_default();
    for tag in part["tags"].as_array().into_iter().flatten() {
        if tags.iter().any(|t| t["name"] == tag["name"] && t != tag) {
            out.push(format!("{from}: tag {} is described differently by an earlier function", tag["name"]));
        }
    }
    out
}

fn merged() -> (OpenApi, Vec<String>) {
    let mut doc = base();
    let mut conflicts = Vec::new();
    for (from, part) in parts() {
        let (so_far, next) = (serde_json::to_value(&doc), serde_json::to_value(&part));
        if let (Ok(so_far), Ok(next)) = (so_far, next) {
            conflicts.extend(clashes(&so_far, &next, from));
        }
        doc.merge(part);
    }
    (doc, conflicts)
}

/// The whole API's OpenAPI 3.1 document: every API function's operations and schemas, the
/// `bearer` scheme, and each operation's required access.
pub fn document() -> OpenApi {
    merged().0
}

/// What merging the functions' documents lost or changed (an operation described twice, a
/// schema or response defined differently under one name). Empty when nothing was lost; a test
/// keeps it so.
pub fn merge_conflicts() -> Vec<String> {
    merged().1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        let config = Config::from_lookup(Vec::<(String, String)>::new()).unwrap();
        State::new(&config, &Backends::default()).unwrap()
    }

    #[test]
    fn the_functions_documents_merge_without_losing_anything() {
        assert_eq!(merge_conflicts(), Vec::<String>::new());
    }

    #[test]
    fn clashing_parts_are_reported() {
        let doc = serde_json::json!({
            "paths": {"/v1/x": {"get": {}}},
            "components": {"schemas": {"A": {"type": "string"}}},
            "tags": [{"name": "x", "description": "one"}]
        });
        let part = serde_json::json!({
            "paths": {"/v1/x": {"get": {}, "post": {}}},
            "components": {"schemas": {"A": {"type": "integer"}, "B": {}}},
            "tags": [{"name": "x", "description": "two"}]
        });
        assert_eq!(clashes(&doc, &part, "f").len(), 3, "{:?}", clashes(&doc, &part, "f"));
        assert!(clashes(&doc, &doc, "f").iter().all(|c| c.contains("described by an earlier function")));
    }

    #[test]
    fn every_operation_id_is_unique() {
        let doc = serde_json::to_value(document()).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for item in doc["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                let id = op["operationId"].as_str().expect("every operation has an id");
                assert!(seen.insert(id.to_owned()), "operationId {id} is used twice");
            }
        }
    }

    #[tokio::test]
    async fn both_routes_answer_with_their_content_types() {
        let state = state();
        for (route, content_type) in
            [("GET /v1/openapi.json", "application/json"), ("GET /v1/docs", "text/html; charset=utf-8")]
        {
            let req = kushim_test_request(route);
            let resp = handle(&state, req).await.unwrap();
            assert_eq!(resp.status(), 200, "{route}");
            assert_eq!(resp.headers()[header::CONTENT_TYPE], content_type, "{route}");
        }
    }

    #[tokio::test]
    async fn the_page_allows_its_own_stylesheet_and_nothing_else() {
        let resp = handle(&state(), kushim_test_request("GET /v1/docs")).await.unwrap();
        let csp = resp.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.starts_with("default-src 'none'; style-src 'sha256-"), "{csp}");
        assert!(!csp.contains("script-src") && !csp.contains("unsafe"), "{csp}");
    }

    /// A request as API Gateway hands it over for `route_key`.
    fn kushim_test_request(route_key: &str) -> Request {
        use lambda_http::RequestExt;
        use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
        use lambda_http::request::RequestContext;
        let mut ctx = ApiGatewayV2httpRequestContext::default();
        ctx.route_key = Some(route_key.to_owned());
        Request::default().with_request_context(RequestContext::ApiGatewayV2(ctx))
    }
}
