//! OpenAPI 2.0 (Swagger) and 3.x definitions rendered as Backstage's API tab
//! shows them: the info block, servers, and operations grouped by tag, each
//! with its parameters, request body and responses (schemas as property
//! lists, local `$ref`s resolved).

use maud::{Markup, html};
use serde_json::{Map, Value};

use super::schema::{Resolver, ref_name, scalar_text};
use super::{info_block, text_of};

/// The HTTP methods an OpenAPI path item may hold, in the order shown.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];
/// The most operations one page draws; the rest are counted, not drawn.
const MAX_OPERATIONS: usize = 500;
/// The most parameters shown per operation.
const MAX_PARAMETERS: usize = 100;

/// Whether the document claims to be OpenAPI/Swagger at all.
pub(crate) fn is_openapi(doc: &Value) -> bool {
    doc.get("openapi").is_some() || doc.get("swagger").is_some()
}

/// One operation, flattened from its path item.
struct Operation<'a> {
    method: &'static str,
    path: &'a str,
    op: &'a Map<String, Value>,
    path_parameters: Option<&'a Value>,
}

/// Renders an OpenAPI document. `Err` names why it is not one we can draw.
pub(crate) fn render(doc: &Value) -> Result<Markup, String> {
    let version = doc
        .get("openapi")
        .or_else(|| doc.get("swagger"))
        .map(scalar_text)
        .unwrap_or_default();
    let swagger2 = doc.get("swagger").is_some();
    if !(version.starts_with("3.") || (swagger2 && version.starts_with('2'))) {
        return Err(format!(
            "unsupported OpenAPI version '{version}' (2.0 and 3.x are supported)"
        ));
    }
    let paths = match doc.get("paths") {
        None | Some(Value::Null) => None,
        Some(Value::Object(paths)) => Some(paths),
        Some(_) => return Err("'paths' is not a mapping".to_owned()),
    };
    let resolver = Resolver::new(doc);

    let mut operations = Vec::new();
    for (path, item) in paths.into_iter().flatten() {
        let item = resolver.resolve(item);
        let Value::Object(item_map) = item else {
            continue;
        };
        for method in METHODS {
            if let Some(Value::Object(op)) = item_map.get(method) {
                operations.push(Operation {
                    method,
                    path,
                    op,
                    path_parameters: item_map.get("parameters"),
                });
            }
        }
    }
    let total = operations.len();
    operations.truncate(MAX_OPERATIONS);

    // Group by the operation's first tag, in the order the document's `tags`
    // list gives, then in order of appearance; untagged ones last.
    let mut groups: Vec<(String, Option<&str>, Vec<&Operation<'_>>)> = Vec::new();
    if let Some(Value::Array(tags)) = doc.get("tags") {
        for tag in tags {
            if let Some(name) = tag.get("name").and_then(Value::as_str)
                && !groups.iter().any(|(n, _, _)| n == name)
            {
                groups.push((
                    name.to_owned(),
                    tag.get("description").and_then(Value::as_str),
                    Vec::new(),
                ));
            }
        }
    }
    let mut untagged = Vec::new();
    for operation in &operations {
        match operation
            .op
            .get("tags")
            .and_then(|t| t.get(0))
            .and_then(Value::as_str)
        {
            Some(tag) => match groups.iter_mut().find(|(n, _, _)| n == tag) {
                Some((_, _, ops)) => ops.push(operation),
                None => groups.push((tag.to_owned(), None, vec![operation])),
            },
            None => untagged.push(operation),
        }
    }
    if !untagged.is_empty() {
        groups.push(("default".to_owned(), None, untagged));
    }

    let servers = servers(doc, swagger2);
    Ok(html! {
        div class="api-definition api-openapi" {
            (info_block(doc, if swagger2 { "Swagger" } else { "OpenAPI" }, &version))
            @if !servers.is_empty() {
                section class="api-servers" aria-label="Servers" {
                    h3 { "Servers" }
                    ul {
                        @for (url, description) in &servers {
                            li { code { (url) } @if let Some(d) = description { " — " (d) } }
                        }
                    }
                }
            }
            @if operations.is_empty() {
                p class="muted" { "This definition has no operations." }
            } @else {
                // An index of in-page links, so that a long definition can be
                // crossed by keyboard without scrolling through every schema.
                nav class="api-index" aria-label="Operations" {
                    h3 { "Operations" }
                    ul {
                        @for (_, _, ops) in &groups {
                            @for operation in ops {
                                li {
                                    a href={ "#" (operation_id(operation)) } {
                                        span class={ "api-method api-method-" (operation.method) } { (operation.method.to_ascii_uppercase()) }
                                        " " code { (operation.path) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @for (tag, description, ops) in &groups {
                @if !ops.is_empty() {
                    section class="api-tag" aria-label=(tag) {
                        h3 { (tag) }
                        @if let Some(description) = description {
                            p class="api-description" { (description) }
                        }
                        @for operation in ops {
                            (render_operation(&resolver, operation, swagger2))
                        }
                    }
                }
            }
            @if total > MAX_OPERATIONS {
                p class="muted" { (total - MAX_OPERATIONS) " more operations are not shown." }
            }
        }
    })
}

/// The server URLs: 3.x `servers`, 2.0 `schemes` + `host` + `basePath`.
fn servers(doc: &Value, swagger2: bool) -> Vec<(String, Option<String>)> {
    if swagger2 {
        let Some(host) = doc.get("host").and_then(Value::as_str) else {
            return Vec::new();
        };
        let base = doc.get("basePath").and_then(Value::as_str).unwrap_or("");
        let schemes: Vec<&str> = match doc.get("schemes") {
            Some(Value::Array(s)) => s.iter().filter_map(Value::as_str).collect(),
            _ => vec!["https"],
        };
        return schemes
            .iter()
            .take(10)
            .map(|scheme| (format!("{scheme}://{host}{base}"), None))
            .collect();
    }
    match doc.get("servers") {
        Some(Value::Array(servers)) => servers
            .iter()
            .take(50)
            .filter_map(|s| {
                let url = s.get("url").and_then(Value::as_str)?;
                Some((url.to_owned(), text_of(s, "description")))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A stable HTML id for an operation, for in-page links.
fn operation_id(operation: &Operation<'_>) -> String {
    let raw = match operation.op.get("operationId").and_then(Value::as_str) {
        Some(id) => id.to_owned(),
        None => format!("{}-{}", operation.method, operation.path),
    };
    let cleaned: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(120)
        .collect();
    format!("op-{cleaned}")
}

fn render_operation(resolver: &Resolver<'_>, operation: &Operation<'_>, swagger2: bool) -> Markup {
    let op = operation.op;
    let parameters = merged_parameters(resolver, operation);
    let (body_parameters, parameters): (Vec<&Value>, Vec<&Value>) = parameters
        .into_iter()
        .partition(|p| swagger2 && p.get("in").and_then(Value::as_str) == Some("body"));
    let deprecated = op.get("deprecated").and_then(Value::as_bool) == Some(true);
    html! {
        article class="api-op" id=(operation_id(operation)) {
            h4 class="api-op-title" {
                span class={ "api-method api-method-" (operation.method) } { (operation.method.to_ascii_uppercase()) }
                " "
                code class="api-path" { (operation.path) }
                @if let Some(summary) = op.get("summary").and_then(Value::as_str) {
                    " " span class="api-op-summary" { (summary) }
                }
                @if deprecated { " " span class="badge badge-warn" { "deprecated" } }
            }
            @if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                p class="muted api-op-id" { "Operation " code { (id) } }
            }
            @if let Some(description) = op.get("description").and_then(Value::as_str) {
                p class="api-description" { (description) }
            }
            @if !parameters.is_empty() {
                h5 { "Parameters" }
                div class="table-wrap" {
                    table class="data-table api-params" {
                        caption class="visually-hidden" { "Parameters of " (operation.method.to_ascii_uppercase()) " " (operation.path) }
                        thead { tr {
                            th scope="col" { "Name" }
                            th scope="col" { "In" }
                            th scope="col" { "Required" }
                            th scope="col" { "Type" }
                            th scope="col" { "Description" }
                        } }
                        tbody {
                            @for parameter in &parameters {
                                (parameter_row(resolver, parameter, swagger2))
                            }
                        }
                    }
                }
            }
            @if swagger2 {
                @for parameter in &body_parameters {
                    h5 { "Request body" @if parameter.get("required").and_then(Value::as_bool) == Some(true) { " " span class="badge badge-warn" { "required" } } }
                    @if let Some(description) = parameter.get("description").and_then(Value::as_str) {
                        p class="api-description" { (description) }
                    }
                    @if let Some(schema) = parameter.get("schema") {
                        (media_block(resolver, &consumes(resolver, op), schema))
                    }
                }
            } @else if let Some(body) = op.get("requestBody") {
                (request_body(resolver, body))
            }
            @if let Some(Value::Object(responses)) = op.get("responses") {
                h5 { "Responses" }
                dl class="api-responses" {
                    @for (status, response) in responses.iter().take(60) {
                        (response_entry(resolver, status, response, swagger2, op))
                    }
                }
            }
        }
    }
}

/// Path-level parameters overridden by operation-level ones with the same
/// name and location, as OpenAPI specifies; each resolved through `$ref`.
fn merged_parameters<'a>(resolver: &Resolver<'a>, operation: &Operation<'a>) -> Vec<&'a Value> {
    let mut out: Vec<&'a Value> = Vec::new();
    let key = |p: &Value| {
        (
            p.get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            p.get("in").and_then(Value::as_str).unwrap_or("").to_owned(),
        )
    };
    let lists = [operation.path_parameters, operation.op.get("parameters")];
    for list in lists.into_iter().flatten() {
        let Value::Array(items) = list else { continue };
        for item in items.iter().take(MAX_PARAMETERS) {
            let parameter = resolver.resolve(item);
            if !parameter.is_object() {
                continue;
            }
            let k = key(parameter);
            match out.iter().position(|p| key(p) == k) {
                Some(i) => out[i] = parameter,
                None => out.push(parameter),
            }
        }
    }
    out
}

fn parameter_row(resolver: &Resolver<'_>, parameter: &Value, swagger2: bool) -> Markup {
    let name = parameter.get("name").map(scalar_text).unwrap_or_default();
    let location = parameter.get("in").map(scalar_text).unwrap_or_default();
    let required = parameter.get("required").and_then(Value::as_bool) == Some(true);
    let kind = if swagger2 && parameter.get("schema").is_none() {
        resolver.type_label(parameter)
    } else {
        match parameter.get("schema") {
            Some(schema) => resolver.type_label(schema),
            None => parameter
                .get("content")
                .and_then(Value::as_object)
                .and_then(|c| c.values().next())
                .and_then(|m| m.get("schema"))
                .map_or_else(String::new, |s| resolver.type_label(s)),
        }
    };
    let enum_values = parameter
        .get("schema")
        .map(|s| resolver.resolve(s))
        .unwrap_or(parameter)
        .get("enum")
        .and_then(Value::as_array);
    html! {
        tr {
            td { code { (name) } }
            td { (location) }
            td { @if required { "yes" } @else { "no" } }
            td { code { (kind) } }
            td {
                @if let Some(description) = parameter.get("description").and_then(Value::as_str) {
                    (description)
                }
                @if let Some(values) = enum_values {
                    span class="api-enum" {
                        " One of: "
                        @for (i, value) in values.iter().take(30).enumerate() {
                            @if i > 0 { ", " }
                            code { (scalar_text(value)) }
                        }
                    }
                }
            }
        }
    }
}

fn consumes(resolver: &Resolver<'_>, op: &Map<String, Value>) -> String {
    let list = op
        .get("consumes")
        .or_else(|| resolver.root().get("consumes"));
    match list {
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .take(5)
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    }
}

fn produces(resolver: &Resolver<'_>, op: &Map<String, Value>) -> String {
    let list = op
        .get("produces")
        .or_else(|| resolver.root().get("produces"));
    match list {
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .take(5)
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    }
}

/// A 3.x request body: description, required, and a schema per media type.
fn request_body(resolver: &Resolver<'_>, body: &Value) -> Markup {
    let (resolved, reference) = match resolver.deref(body) {
        Ok(found) => found,
        Err(reference) => {
            return html! {
                h5 { "Request body" }
                p class="api-unresolved" { "Unresolved reference " code { (reference) } }
            };
        }
    };
    let required = resolved.get("required").and_then(Value::as_bool) == Some(true);
    html! {
        h5 {
            "Request body"
            @if let Some(reference) = reference { " " span class="muted" { "(" (ref_name(reference)) ")" } }
            @if required { " " span class="badge badge-warn" { "required" } }
        }
        @if let Some(description) = resolved.get("description").and_then(Value::as_str) {
            p class="api-description" { (description) }
        }
        (content_blocks(resolver, resolved.get("content")))
    }
}

/// One schema per media type of a 3.x `content` map.
fn content_blocks(resolver: &Resolver<'_>, content: Option<&Value>) -> Markup {
    html! {
        @if let Some(Value::Object(content)) = content {
            @for (media, entry) in content.iter().take(10) {
                @if let Some(schema) = entry.get("schema") {
                    (media_block(resolver, media, schema))
                } @else {
                    p class="api-media" { code { (media) } }
                }
            }
        }
    }
}

fn media_block(resolver: &Resolver<'_>, media: &str, schema: &Value) -> Markup {
    html! {
        div class="api-media" {
            p class="api-media-type" {
                @if !media.is_empty() { code { (media) } " " }
                span class="muted" { (resolver.type_label(schema)) }
            }
            (resolver.schema_after_label(schema))
        }
    }
}

fn response_entry(
    resolver: &Resolver<'_>,
    status: &str,
    response: &Value,
    swagger2: bool,
    op: &Map<String, Value>,
) -> Markup {
    let tone = match status.chars().next() {
        Some('2') => "ok",
        Some('3') => "info",
        Some('4') | Some('5') => "error",
        _ => "info",
    };
    let resolved = resolver.deref(response);
    html! {
        div class="api-response" {
            dt { span class={ "badge badge-" (tone) } { (status) } }
            dd {
                @match resolved {
                    Err(reference) => p class="api-unresolved" { "Unresolved reference " code { (reference) } },
                    Ok((response, _)) => {
                        @if let Some(description) = response.get("description").and_then(Value::as_str) {
                            p class="api-description" { (description) }
                        }
                        @if swagger2 {
                            @if let Some(schema) = response.get("schema") {
                                (media_block(resolver, &produces(resolver, op), schema))
                            }
                        } @else {
                            (content_blocks(resolver, response.get("content")))
                        }
                    }
                }
            }
        }
    }
}
