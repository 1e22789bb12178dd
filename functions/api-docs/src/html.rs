//! The docs page: the OpenAPI document rendered on the server as one self-contained HTML page,
//! with no script and no external asset, so it works offline and under a Content-Security-Policy
//! that allows nothing but its own stylesheet. Operations are grouped by tag; each shows its
//! method, path, summary, the access it requires, its parameters, its request body and its
//! responses, and every schema follows with its fields.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kushim_domain::Permission;
use kushim_domain::access::ROLES;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The page's only stylesheet; its hash is the one style the page's CSP allows.
pub const STYLE: &str = "\
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d232a;background:#fafbfc}\
header,main{max-width:72rem;margin:0 auto;padding:0 1.5rem}\
header{padding-top:1.5rem;border-bottom:1px solid #d8dee4}\
h1 small{font-weight:normal;color:#57606a;font-size:.6em}\
h2{margin-top:2.5rem;border-bottom:2px solid #d8dee4}\
nav a{margin-right:1rem}\
article{background:#fff;border:1px solid #d8dee4;border-radius:6px;padding:.25rem 1rem 1rem;margin:1rem 0}\
h3{font-size:1.05rem}\
code{font:13px ui-monospace,monospace;background:#f0f2f4;padding:.05rem .3rem;border-radius:3px}\
.method{display:inline-block;min-width:4.5rem;text-align:center;color:#fff;border-radius:3px;padding:.1rem .4rem;font:bold 13px ui-monospace,monospace}\
.get{background:#1f6feb}.post{background:#1a7f37}.patch{background:#9a6700}.put{background:#8250df}.delete{background:#cf222e}\
.summary{font-weight:600}.access{color:#57606a}\
table{border-collapse:collapse;width:100%;margin:.5rem 0}\
th,td{border:1px solid #d8dee4;padding:.3rem .5rem;text-align:left;vertical-align:top}\
th{background:#f6f8fa}";

/// The Content-Security-Policy the page is served with: its own inline stylesheet and nothing
/// else (no script, no fetch, no frame, no form).
pub fn content_security_policy() -> String {
    let hash = STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )
}

const METHODS: [&str; 8] = ["get", "post", "put", "patch", "delete", "head", "options", "trace"];

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escaped text with `backticked` spans as code.
fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{}</code>", escape(part));
        } else {
            out.push_str(&escape(part));
        }
    }
    out
}

/// [`inline`] text in paragraphs (blank lines separate them).
fn prose(text: &str) -> String {
    text.split("\n\n").map(|para| format!("<p>{}</p>", inline(para))).collect()
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// The last segment of a local `$ref` (`#/components/schemas/UserView` gives `UserView`).
fn ref_name(reference: &str) -> &str {
    reference.rsplit('/').next().unwrap_or(reference)
}

fn schema_link(name: &str) -> String {
    format!("<a href=\"#schema-{0}\">{0}</a>", escape(name))
}

/// A schema's type in a few words, with links to named schemas.
fn type_html(schema: &Value) -> String {
    if let Some(reference) = str_of(schema, "$ref") {
        return schema_link(ref_name(reference));
    }
    for (key, joiner) in [("oneOf", " or "), ("anyOf", " or "), ("allOf", " and ")] {
        if let Some(parts) = schema.get(key).and_then(Value::as_array) {
            return parts.iter().map(type_html).collect::<Vec<_>>().join(joiner);
        }
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let values: Vec<String> = values
            .iter()
            .map(|v| {
                format!("<code>{}</code>", escape(v.as_str().map_or_else(|| v.to_string(), str::to_owned).as_str()))
            })
            .collect();
        return format!("one of {}", values.join(", "));
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if types.is_empty() {
        return if schema.get("properties").is_some() { "object".into() } else { "any".into() };
    }
    let format = str_of(schema, "format").map(|f| format!(" ({})", escape(f))).unwrap_or_default();
    types
        .iter()
        .map(|t| match *t {
            "array" => format!("array of {}", schema.get("items").map_or_else(|| "any".to_owned(), type_html)),
            "null" => "null".to_owned(),
            other => format!("{}{format}", escape(other)),
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Follows a local `$ref` (`#/components/responses/NotFound`) to what it names.
fn resolve<'a>(doc: &'a Value, item: &'a Value) -> &'a Value {
    match str_of(item, "$ref").and_then(|r| r.strip_prefix("#/")) {
        Some(pointer) => doc.pointer(&format!("/{pointer}")).unwrap_or(item),
        None => item,
    }
}

/// Who may call an operation, from its `x-kushim-access` and `security`.
fn access_html(op: &Value) -> String {
    let bearer = op.get("security").and_then(Value::as_array).is_some_and(|s| !s.is_empty());
    let credential = if bearer { " Send a bearer credential (access token or API key)." } else { "" };
    match str_of(op, kushim_api::openapi::ACCESS_EXTENSION) {
        Some("public") => "Public: no credentials needed.".to_owned(),
        Some("authenticated") => format!("Any signed-in caller.{credential}"),
        Some(scope) => {
            let roles: Vec<&str> = match scope.parse::<Permission>() {
                Ok(p) => ROLES.iter().filter(|r| r.allows(p)).map(|r| r.as_str()).collect(),
                Err(_) => Vec::new(),
            };
            format!(
                "Requires permission <code>{}</code> (roles: {}).{credential}",
                escape(scope),
                escape(&roles.join(", "))
            )
        }
        None => format!("Access not recorded.{credential}"),
    }
}

fn content_html(content: Option<&Value>) -> String {
    let Some(content) = content.and_then(Value::as_object) else { return "none".to_owned() };
    content
        .iter()
        .map(|(media, body)| {
            let schema = body.get("schema").map_or_else(|| "any".to_owned(), type_html);
            format!("<code>{}</code> {schema}", escape(media))
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

fn operation_html(doc: &Value, out: &mut String, method: &str, path: &str, op: &Value) {
    let id = str_of(op, "operationId").map_or_else(|| format!("{method}-{path}"), str::to_owned);
    let _ = write!(
        out,
        "<article id=\"op-{id}\"><h3><span class=\"method {method}\">{upper}</span> <code>{path}</code></h3>",
        id = escape(&id),
        method = escape(method),
        upper = escape(&method.to_uppercase()),
        path = escape(path),
    );
    if let Some(summary) = str_of(op, "summary") {
        let _ = write!(out, "<p class=\"summary\">{}</p>", escape(summary));
    }
    if let Some(description) = str_of(op, "description") {
        out.push_str(&prose(description));
    }
    let _ = write!(out, "<p class=\"access\">{}</p>", access_html(op));
    if let Some(params) = op.get("parameters").and_then(Value::as_array).filter(|p| !p.is_empty()) {
        out.push_str("<h4>Parameters</h4><table><tr><th>Name</th><th>In</th><th>Type</th><th>Required</th><th>Description</th></tr>");
        for param in params.iter().map(|p| resolve(doc, p)) {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(str_of(param, "name").unwrap_or_default()),
                escape(str_of(param, "in").unwrap_or_default()),
                param.get("schema").map_or_else(|| "any".to_owned(), type_html),
                if param.get("required").and_then(Value::as_bool).unwrap_or(false) { "yes" } else { "no" },
                inline(str_of(param, "description").unwrap_or_default()),
            );
        }
        out.push_str("</table>");
    }
    if let Some(body) = op.get("requestBody").map(|b| resolve(doc, b)) {
        let _ = write!(out, "<h4>Request body</h4><p>{}</p>", content_html(body.get("content")));
    }
    out.push_str("<h4>Responses</h4><table><tr><th>Status</th><th>Description</th><th>Body</th></tr>");
    for (status, response) in op.get("responses").and_then(Value::as_object).into_iter().flatten() {
        let response = resolve(doc, response);
        let headers = response
            .get("headers")
            .and_then(Value::as_object)
            .map(|h| h.keys().map(|k| format!("<br>Header <code>{}</code>", escape(k))).collect::<String>())
            .unwrap_or_default();
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}{headers}</td></tr>",
            escape(status),
            inline(str_of(response, "description").unwrap_or_default()),
            content_html(response.get("content")),
        );
    }
    out.push_str("</table></article>");
}

fn fields_html(out: &mut String, schema: &Value) {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else { return };
    let required: Vec<&str> =
        schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    out.push_str("<table><tr><th>Field</th><th>Type</th><th>Required</th><th>Description</th></tr>");
    for (name, property) in properties {
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(name),
            type_html(property),
            if required.contains(&name.as_str()) { "yes" } else { "no" },
            inline(str_of(property, "description").unwrap_or_default()),
        );
    }
    out.push_str("</table>");
}

fn schema_html(out: &mut String, name: &str, schema: &Value) {
    let _ = write!(out, "<article id=\"schema-{0}\"><h3>{0}</h3>", escape(name));
    if let Some(description) = str_of(schema, "description") {
        out.push_str(&prose(description));
    }
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        let named: Vec<String> = parts.iter().filter(|p| p.get("$ref").is_some()).map(type_html).collect();
        if !named.is_empty() {
            let _ = write!(out, "<p>Includes every field of {}.</p>", named.join(", "));
        }
        for part in parts {
            fields_html(out, part);
        }
    } else if schema.get("properties").is_some() {
        fields_html(out, schema);
    } else {
        let _ = write!(out, "<p>Type: {}</p>", type_html(schema));
    }
    if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
        out.push_str("<p>Unknown fields are refused.</p>");
    }
    out.push_str("</article>");
}

/// The operations of the document as (tag, method, path, operation), in path order.
fn operations(doc: &Value) -> Vec<(String, &str, &str, &Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                let tag = op["tags"].get(0).and_then(Value::as_str).unwrap_or("other").to_owned();
                ops.push((tag, method, path.as_str(), op));
            }
        }
    }
    ops
}

/// Renders the whole page from an OpenAPI document (as JSON).
pub fn render(doc: &Value) -> String {
    let title = str_of(&doc["info"], "title").unwrap_or("API");
    let version = str_of(&doc["info"], "version").unwrap_or_default();
    let ops = operations(doc);
    // Tags in the document's order, then any an operation uses without declaring.
    let mut tags: Vec<(String, Option<&str>)> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((str_of(t, "name")?.to_owned(), str_of(t, "description"))))
        .collect();
    for (tag, ..) in &ops {
        if !tags.iter().any(|(t, _)| t == tag) {
            tags.push((tag.clone(), None));
        }
    }

    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} {version}</title><style>{STYLE}</style></head><body><header>\
         <h1>{title} <small>{version} · OpenAPI {openapi}</small></h1>",
        title = escape(title),
        version = escape(version),
        openapi = escape(str_of(doc, "openapi").unwrap_or_default()),
    );
    if let Some(description) = str_of(&doc["info"], "description") {
        out.push_str(&prose(description));
    }
    // Relative, so the link also works under an API Gateway stage prefix (`/prod/v1/docs`).
    out.push_str("<p>Machine-readable: <a href=\"openapi.json\">openapi.json</a></p><nav><p>");
    for (tag, _) in &tags {
        let _ = write!(out, "<a href=\"#tag-{0}\">{0}</a>", escape(tag));
    }
    out.push_str("<a href=\"#schemas\">schemas</a></p></nav></header><main>");
    for (tag, description) in &tags {
        let _ = write!(out, "<section id=\"tag-{0}\"><h2>{0}</h2>", escape(tag));
        if let Some(description) = description {
            out.push_str(&prose(description));
        }
        for (_, method, path, op) in ops.iter().filter(|(t, ..)| t == tag) {
            operation_html(doc, &mut out, method, path, op);
        }
        out.push_str("</section>");
    }
    out.push_str("<section id=\"schemas\"><h2>Schemas</h2>");
    for (name, schema) in doc["components"]["schemas"].as_object().into_iter().flatten() {
        schema_html(&mut out, name, schema);
    }
    out.push_str("</section></main></body></html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_from_the_document_is_escaped() {
        let doc = json!({
            "openapi": "3.1.0",
            "info": {"title": "<script>alert(1)</script>", "version": "1\"2"},
            "paths": {"/v1/x/{id}": {"get": {
                "tags": ["x"],
                "summary": "a <b> & c",
                "x-kushim-access": "users:read",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}}}
            }}},
            "components": {"schemas": {"Thing": {"type": "object", "properties": {"n": {"type": ["integer", "null"]}}}}}
        });
        let page = render(&doc);
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("&lt;script&gt;") && page.contains("a &lt;b&gt; &amp; c"));
        assert!(page.contains("<code>/v1/x/{id}</code>"));
        assert!(page.contains("<a href=\"#schema-Thing\">Thing</a>"));
        assert!(page.contains("Requires permission <code>users:read</code> (roles: owner, admin, member)"));
        assert!(page.contains("integer or null"));
    }

    #[test]
    fn the_csp_hash_is_the_stylesheet_s() {
        let csp = content_security_policy();
        let hash = STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
        assert!(csp.contains(&format!("style-src 'sha256-{hash}'")), "{csp}");
    }
}
