//! The local HTTP gateway: an API Gateway (HTTP API) stand-in. It matches each request against the
//! template's `HttpApi` routes, turns it into the same `lambda_http::Request` API Gateway would
//! hand the function (request context with a request id, path and query parameters), calls that
//! function's handler and sends its response back. Unknown paths get a problem+json 404, known
//! paths with another method a 405. On the embedded backend it also serves the blob store's
//! presigned URLs, standing in for S3.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayV2CustomAuthorizerV2Request, ApiGatewayV2httpRequestContext,
    ApiGatewayV2httpRequestContextHttpDescription,
};
use axum::body::{Body as AxumBody, to_bytes};
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response as AxumResponse};
use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use kushim_adapters::blob::embedded::{EmbeddedBlobs, PRESIGN_PATH};
use kushim_adapters::blob::{BlobStore, PutOptions};
use kushim_lambda::Problem;
use kushim_template::Template;
use lambda_http::request::RequestContext;
use lambda_http::{Body as LambdaBody, RequestExt};

use crate::registry::{AuthorizerHandler, Handler, HttpHandler};

/// API Gateway's payload limit.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// What the gateway routes to.
#[derive(Clone)]
pub struct Gateway {
    /// The template whose routes are served.
    pub template: &'static Template,
    /// Handlers by binary name.
    pub handlers: Arc<BTreeMap<String, Handler>>,
    /// The embedded blob stores (one per bucket: evidence, upload staging), whose presigned URLs
    /// the gateway serves. The URLs share one path prefix; each store signs with its own key, so
    /// the store whose signature verifies is the one that issued the URL.
    pub blobs: Vec<Arc<EmbeddedBlobs>>,
    /// Authorizer name → the binary of its function.
    pub authorizers: Arc<BTreeMap<String, String>>,
    /// The HTTP API's CORS configuration.
    pub cors: Arc<Cors>,
}

/// The HTTP API's `CorsConfiguration`, as API Gateway applies it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cors {
    /// Allowed origins (exact match).
    pub origins: Vec<String>,
    /// Allowed methods.
    pub methods: Vec<String>,
    /// Allowed request headers (lowercase).
    pub headers: Vec<String>,
    /// Preflight cache time.
    pub max_age: Option<u64>,
}

fn strings(v: Option<&serde_json::Value>, template: &Template) -> Vec<String> {
    match v {
        Some(serde_json::Value::Array(items)) => items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect(),
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(obj) => match obj.get("Fn::Split").and_then(|s| s.as_array()) {
            // !Split [",", !Ref Param]: the parameter's default, split.
            Some(parts) if parts.len() == 2 => {
                let sep = parts[0].as_str().unwrap_or(",");
                let value = match &parts[1] {
                    serde_json::Value::String(s) => Some(s.clone()),
                    other => other
                        .get("Ref")
                        .and_then(|r| r.as_str())
                        .and_then(|name| template.parameter_defaults.get(name))
                        .and_then(|d| d.as_str().map(str::to_owned)),
                };
                value
                    .map(|v| v.split(sep).map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        },
        None => Vec::new(),
    }
}

impl Cors {
    /// Reads the first HTTP API's CORS configuration; `extra_origins` are added (e.g. a local
    /// dashboard's origin).
    pub fn from_template(template: &Template, extra_origins: &[String]) -> Self {
        let resources = template.raw.get("Resources").and_then(|r| r.as_object());
        let cfg = resources.into_iter().flat_map(|r| r.values()).find_map(|r| {
            (r.get("Type").and_then(|t| t.as_str()) == Some("AWS::Serverless::HttpApi"))
                .then(|| r.pointer("/Properties/CorsConfiguration"))
                .flatten()
        });
        let Some(cfg) = cfg else { return Self::default() };
        let mut origins = strings(cfg.get("AllowOrigins"), template);
        origins.extend(extra_origins.iter().cloned());
        Self {
            origins,
            methods: strings(cfg.get("AllowMethods"), template).into_iter().map(|m| m.to_uppercase()).collect(),
            headers: strings(cfg.get("AllowHeaders"), template).into_iter().map(|h| h.to_lowercase()).collect(),
            max_age: cfg.get("MaxAge").and_then(|m| m.as_u64()),
        }
    }

    fn allows(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o == origin || o == "*")
    }
}

fn preflight(cors: &Cors, headers: &http::HeaderMap) -> Option<AxumResponse> {
    let origin = headers.get("origin")?.to_str().ok()?;
    let method = headers.get("access-control-request-method")?.to_str().ok()?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    if cors.allows(origin) && cors.methods.iter().any(|m| m == method) {
        let h = resp.headers_mut();
        h.insert("access-control-allow-origin", HeaderValue::from_str(origin).ok()?);
        h.insert("access-control-allow-methods", HeaderValue::from_str(&cors.methods.join(",")).ok()?);
        h.insert("access-control-allow-headers", HeaderValue::from_str(&cors.headers.join(",")).ok()?);
        if let Some(age) = cors.max_age {
            h.insert("access-control-max-age", HeaderValue::from(age));
        }
    }
    resp.headers_mut().insert("vary", HeaderValue::from_static("origin"));
    Some(resp)
}

/// The template's HTTP API authorizers, by name, mapped to their functions' binaries.
pub fn authorizers(template: &Template) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(resources) = template.raw.get("Resources").and_then(|r| r.as_object()) else { return out };
    for api in resources.values().filter(|r| r.get("Type").and_then(|t| t.as_str()) == Some("AWS::Serverless::HttpApi"))
    {
        let Some(auths) = api.pointer("/Properties/Auth/Authorizers").and_then(|a| a.as_object()) else { continue };
        for (name, def) in auths {
            let logical = match def.pointer("/FunctionArn/Fn::GetAtt") {
                Some(serde_json::Value::Array(parts)) => parts.first().and_then(|p| p.as_str()).map(str::to_owned),
                Some(serde_json::Value::String(s)) => s.split('.').next().map(str::to_owned),
                _ => None,
            };
            if let Some(f) = logical.and_then(|l| template.function(&l)) {
                out.insert(name.clone(), f.binary.clone());
            }
        }
    }
    out
}

/// The axum router.
pub fn router(gateway: Gateway) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(gateway)
}

fn problem(p: Problem, request_id: &str) -> AxumResponse {
    let mut p = p;
    p.request_id = Some(request_id.to_owned());
    to_axum(p.into_response())
}

fn to_axum(resp: lambda_http::Response<LambdaBody>) -> AxumResponse {
    let (parts, body) = resp.into_parts();
    let body = match body {
        LambdaBody::Empty => AxumBody::empty(),
        LambdaBody::Text(t) => AxumBody::from(t),
        LambdaBody::Binary(b) => AxumBody::from(b),
        _ => AxumBody::empty(),
    };
    AxumResponse::from_parts(parts, body)
}

async fn handle(
    State(gw): State<Gateway>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: axum::extract::Request,
) -> AxumResponse {
    let request_id = uuid::Uuid::new_v4().to_string();
    if req.method() == http::Method::OPTIONS
        && let Some(resp) = preflight(&gw.cors, req.headers())
    {
        return resp;
    }
    let origin = req.headers().get("origin").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let cors = gw.cors.clone();
    let mut resp = dispatch(gw, peer, req, &request_id).await;
    if let Some(origin) = origin.filter(|o| cors.allows(o))
        && let Ok(v) = HeaderValue::from_str(&origin)
    {
        resp.headers_mut().insert("access-control-allow-origin", v);
        resp.headers_mut().insert("vary", HeaderValue::from_static("origin"));
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("apigw-requestid", v);
    }
    resp
}

async fn dispatch(gw: Gateway, peer: SocketAddr, req: axum::extract::Request, request_id: &str) -> AxumResponse {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    if let (false, Some(rest)) = (gw.blobs.is_empty(), path.strip_prefix(PRESIGN_PATH)) {
        return serve_presigned(&gw.blobs, &method, rest, req).await;
    }
    let Some(found) = gw.template.match_route(&method, &path) else {
        let known_path = gw.template.routes().iter().any(|(_, r)| {
            ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"].iter().any(|m| r.matches(m, &path).is_some())
        });
        let p = if known_path { Problem::method_not_allowed() } else { Problem::not_found() };
        return problem(p.detail(format!("no route for {method} {path}")), request_id);
    };
    let authorizer = match &found.route.auth {
        None => None,
        Some(name) => match gw.authorizers.get(name).and_then(|binary| gw.handlers.get(binary)) {
            Some(Handler::Authorizer(a)) => Some(a.clone()),
            _ => {
                tracing::error!(authorizer = %name, "route names an authorizer this build does not have");
                return problem(Problem::internal(), request_id);
            }
        },
    };
    let Some(Handler::Http(handler)) = gw.handlers.get(&found.function.binary) else {
        tracing::error!(binary = %found.function.binary, "route has no HTTP handler");
        return problem(Problem::internal(), request_id);
    };
    let route_key = format!("{} {}", found.route.method, found.route.path);
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            let p = Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "Payload too large")
                .detail("request bodies are limited to 10 MiB");
            return problem(p, request_id);
        }
    };
    let mut lambda_req = to_lambda_request(parts, bytes, found.params, &route_key, peer, request_id);
    if let Some(authorizer) = authorizer {
        match authorize(&authorizer, &lambda_req, &route_key).await {
            Ok(Some(fields)) => {
                if let Some(RequestContext::ApiGatewayV2(ctx)) = lambda_req.request_context_ref().cloned() {
                    let mut ctx = ctx;
                    let mut auth = ApiGatewayRequestAuthorizer::default();
                    auth.fields = fields;
                    ctx.authorizer = Some(auth);
                    lambda_req = lambda_req.with_request_context(RequestContext::ApiGatewayV2(ctx));
                }
            }
            Ok(None) => {
                let p = Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden")
                    .detail("the authorizer denied the request");
                return problem(p, request_id);
            }
            Err(e) => {
                tracing::error!(request_id, error = %e, "authorizer failed");
                return problem(Problem::internal(), request_id);
            }
        }
    }
    call(handler, lambda_req, request_id).await
}

fn to_lambda_request(
    parts: http::request::Parts,
    bytes: Bytes,
    params: BTreeMap<String, String>,
    route_key: &str,
    peer: SocketAddr,
    request_id: &str,
) -> lambda_http::Request {
    let body = if bytes.is_empty() {
        LambdaBody::Empty
    } else {
        match String::from_utf8(bytes.to_vec()) {
            Ok(text) => LambdaBody::Text(text),
            Err(_) => LambdaBody::Binary(bytes.to_vec()),
        }
    };
    let query: std::collections::HashMap<String, Vec<String>> = parts
        .uri
        .query()
        .map(|q| {
            let mut map: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
            for (k, v) in form_pairs(q) {
                map.entry(k).or_default().push(v);
            }
            map
        })
        .unwrap_or_default();
    let mut http_desc = ApiGatewayV2httpRequestContextHttpDescription::default();
    http_desc.method = parts.method.clone();
    http_desc.path = Some(parts.uri.path().to_owned());
    http_desc.protocol = Some("HTTP/1.1".into());
    http_desc.source_ip = Some(peer.ip().to_string());
    http_desc.user_agent = parts.headers.get("user-agent").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut ctx = ApiGatewayV2httpRequestContext::default();
    ctx.route_key = Some(route_key.to_owned());
    ctx.account_id = Some("000000000000".into());
    ctx.stage = Some("$default".into());
    ctx.request_id = Some(request_id.to_owned());
    ctx.apiid = Some("local".into());
    ctx.time_epoch = chrono::Utc::now().timestamp_millis();
    ctx.http = http_desc;
    let path_params: std::collections::HashMap<String, String> = params.into_iter().collect();
    http::Request::from_parts(parts, body)
        .with_request_context(RequestContext::ApiGatewayV2(ctx))
        .with_path_parameters(path_params)
        .with_query_string_parameters(query)
}

/// Runs the route's authorizer as API Gateway would: `Some(context)` when it allows the request.
async fn authorize(
    authorizer: &AuthorizerHandler,
    req: &lambda_http::Request,
    route_key: &str,
) -> Result<Option<std::collections::HashMap<String, serde_json::Value>>, String> {
    let mut event = ApiGatewayV2CustomAuthorizerV2Request::default();
    event.version = Some("2.0".into());
    event.type_ = Some("REQUEST".into());
    event.route_key = Some(route_key.to_owned());
    event.raw_path = Some(req.uri().path().to_owned());
    event.raw_query_string = req.uri().query().map(str::to_owned);
    event.headers = req.headers().clone();
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() {
        event.request_context = ctx.clone();
    }
    let mut context = lambda_runtime::Context::default();
    context.request_id = uuid::Uuid::new_v4().to_string();
    let resp = authorizer(lambda_runtime::LambdaEvent::new(event, context)).await.map_err(|e| e.to_string())?;
    Ok(resp.is_authorized.then_some(resp.context))
}

async fn call(handler: &HttpHandler, req: lambda_http::Request, request_id: &str) -> AxumResponse {
    match tokio::spawn(handler(req)).await {
        Ok(Ok(resp)) => to_axum(resp),
        Ok(Err(e)) => {
            tracing::error!(request_id, error = %e, "handler failed");
            problem(Problem::internal(), request_id)
        }
        Err(e) => {
            tracing::error!(request_id, error = %e, "handler panicked");
            problem(Problem::internal(), request_id)
        }
    }
}

fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = if bytes[i] == b'%' {
            bytes
                .get(i + 1)
                .and_then(|h| hex(*h))
                .zip(bytes.get(i + 2).and_then(|l| hex(*l)))
                .map(|(h, l)| (h << 4) | l)
        } else {
            None
        };
        match (decoded, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
                continue;
            }
            (None, b'+') => out.push(b' '),
            (None, b) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn form_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

async fn serve_presigned(
    stores: &[Arc<EmbeddedBlobs>],
    method: &str,
    rest: &str,
    req: axum::extract::Request,
) -> AxumResponse {
    let key = rest.split('/').map(percent_decode).collect::<Vec<_>>().join("/");
    let query = req.uri().query().map(form_pairs).unwrap_or_default();
    // The first store's refusal is reported when none of them issued the URL.
    let mut refusal = None;
    let mut issued = None;
    for store in stores {
        match store.verify_presigned(method, &key, &query) {
            Ok(grant) => {
                issued = Some((store.as_ref(), grant));
                break;
            }
            Err(e) => {
                refusal.get_or_insert(e);
            }
        }
    }
    let Some((blobs, grant)) = issued else {
        let why = refusal.map_or_else(|| "presigned URL refused".to_owned(), |e| e.to_string());
        return (StatusCode::FORBIDDEN, why).into_response();
    };
    match method {
        "GET" => match blobs.get(&grant.key, grant.version_id.as_deref()).await {
            Ok(blob) => {
                let mut resp = AxumResponse::new(AxumBody::from(blob.bytes));
                if let Some(ct) = blob.meta.content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
                    resp.headers_mut().insert("content-type", ct);
                }
                resp
            }
            Err(e) => (StatusCode::NOT_FOUND, e.code().to_owned()).into_response(),
        },
        _ => {
            let declared =
                req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            if grant.content_type.as_deref().is_some_and(|ct| ct != declared) {
                return (StatusCode::FORBIDDEN, "content-type does not match the signed one").into_response();
            }
            let bytes = match to_bytes(req.into_body(), 25 * 1024 * 1024 + 1).await {
                Ok(b) => b,
                Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "too large").into_response(),
            };
            let Some(sha256) = grant.sha256 else { return StatusCode::FORBIDDEN.into_response() };
            let options = PutOptions { content_type: declared, sha256, retention: None, if_absent: false };
            match blobs.put(&grant.key, bytes, options).await {
                Ok(meta) => {
                    let mut resp = StatusCode::OK.into_response();
                    if let Ok(v) = HeaderValue::from_str(&meta.version_id) {
                        resp.headers_mut().insert("x-amz-version-id", v);
                    }
                    resp
                }
                Err(e) => (StatusCode::BAD_REQUEST, e.code().to_owned()).into_response(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_comes_from_the_template() {
        let cors = Cors::from_template(kushim_template::bundled(), &["http://localhost:5173".into()]);
        assert!(cors.allows("https://app.example.com"), "{cors:?}");
        assert!(cors.allows("http://localhost:5173"));
        assert!(!cors.allows("https://evil.example"));
        assert!(cors.methods.contains(&"PATCH".to_owned()));
        assert!(cors.headers.contains(&"idempotency-key".to_owned()));
        let mut h = http::HeaderMap::new();
        h.insert("origin", HeaderValue::from_static("https://evil.example"));
        h.insert("access-control-request-method", HeaderValue::from_static("POST"));
        let denied = preflight(&cors, &h).unwrap();
        assert!(!denied.headers().contains_key("access-control-allow-origin"));
        h.insert("origin", HeaderValue::from_static("https://app.example.com"));
        let allowed = preflight(&cors, &h).unwrap();
        assert_eq!(allowed.headers()["access-control-allow-origin"], "https://app.example.com");
    }

    #[test]
    fn query_strings_are_decoded() {
        assert_eq!(
            form_pairs("a=1&b=x%20y&c=&d=a+b"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), "".into()),
                ("d".into(), "a b".into())
            ]
        );
        assert_eq!(percent_decode("%2Fa%zz"), "/a%zz");
    }
}
