//! AsyncAPI 2.x and 3.x definitions: the info block, servers, and each channel
//! with its operations (publish/subscribe in 2.x, send/receive in 3.x) and
//! messages, payloads drawn as property lists.

use maud::{Markup, html};
use serde_json::Value;

use super::schema::{Resolver, ref_name, scalar_text};
use super::{info_block, text_of};

/// The most channels one page draws.
const MAX_CHANNELS: usize = 300;
/// The most messages drawn per operation or channel.
const MAX_MESSAGES: usize = 50;

pub(crate) fn render(doc: &Value) -> Result<Markup, String> {
    let version = doc.get("asyncapi").map(scalar_text).unwrap_or_default();
    let v3 = if version.starts_with("3.") {
        true
    } else if version.starts_with("2.") {
        false
    } else {
        return Err(format!(
            "unsupported AsyncAPI version '{version}' (2.x and 3.x are supported)"
        ));
    };
    let resolver = Resolver::new(doc);
    let channels = match doc.get("channels") {
        None | Some(Value::Null) => None,
        Some(Value::Object(channels)) => Some(channels),
        Some(_) => return Err("'channels' is not a mapping".to_owned()),
    };
    let count = channels.map_or(0, |c| c.len());
    Ok(html! {
        div class="api-definition api-asyncapi" {
            (info_block(doc, "AsyncAPI", &version))
            (servers(doc))
            @if count == 0 {
                p class="muted" { "This definition has no channels." }
            }
            @for (id, channel) in channels.into_iter().flatten().take(MAX_CHANNELS) {
                @let channel = resolver.resolve(channel);
                section class="api-channel" aria-label={ "Channel " (id) } {
                    h3 {
                        span class="muted" { "Channel " }
                        code {
                            @if v3 { (channel.get("address").and_then(Value::as_str).unwrap_or(id)) } @else { (id) }
                        }
                    }
                    @if let Some(description) = channel.get("description").and_then(Value::as_str) {
                        p class="api-description" { (description) }
                    }
                    @if v3 {
                        (v3_channel(&resolver, id, channel))
                    } @else {
                        @for action in ["publish", "subscribe"] {
                            @if let Some(operation) = channel.get(action) {
                                (v2_operation(&resolver, action, resolver.resolve(operation)))
                            }
                        }
                    }
                }
            }
            @if count > MAX_CHANNELS {
                p class="muted" { (count - MAX_CHANNELS) " more channels are not shown." }
            }
        }
    })
}

fn servers(doc: &Value) -> Markup {
    html! {
        @if let Some(Value::Object(servers)) = doc.get("servers") {
            @if !servers.is_empty() {
                section class="api-servers" aria-label="Servers" {
                    h3 { "Servers" }
                    ul {
                        @for (name, server) in servers.iter().take(50) {
                            @let url = server.get("url").or_else(|| server.get("host")).and_then(Value::as_str).unwrap_or("");
                            @let path = server.get("pathname").and_then(Value::as_str).unwrap_or("");
                            li {
                                strong { (name) } " "
                                code { (url) (path) }
                                @if let Some(protocol) = server.get("protocol").and_then(Value::as_str) {
                                    " " span class="badge" { (protocol) }
                                }
                                @if let Some(description) = text_of(server, "description") {
                                    " — " (description)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn operation_header(action: &str, operation: &Value) -> Markup {
    html! {
        h4 class="api-op-title" {
            span class={ "api-method api-action-" (action) } { (action.to_ascii_uppercase()) }
            @if let Some(id) = operation.get("operationId").and_then(Value::as_str) {
                " " code { (id) }
            }
            @if let Some(summary) = operation.get("summary").and_then(Value::as_str) {
                " " span class="api-op-summary" { (summary) }
            }
        }
        @if let Some(description) = operation.get("description").and_then(Value::as_str) {
            p class="api-description" { (description) }
        }
    }
}

/// A 2.x operation: its message is one message, a `$ref`, or `oneOf` several.
fn v2_operation(resolver: &Resolver<'_>, action: &str, operation: &Value) -> Markup {
    let mut messages: Vec<&Value> = Vec::new();
    if let Some(message) = operation.get("message") {
        match resolver.resolve(message).get("oneOf") {
            Some(Value::Array(list)) => messages.extend(list.iter().take(MAX_MESSAGES)),
            _ => messages.push(message),
        }
    }
    html! {
        article class="api-op" {
            (operation_header(action, operation))
            @for message in messages {
                (message_block(resolver, message))
            }
        }
    }
}

/// A 3.x channel: its messages, and the operations of the document whose
/// `channel` refers to it.
fn v3_channel(resolver: &Resolver<'_>, id: &str, channel: &Value) -> Markup {
    let own_ref = format!("#/channels/{}", id.replace('~', "~0").replace('/', "~1"));
    let operations: Vec<(&String, &Value)> = match resolver.root().get("operations") {
        Some(Value::Object(ops)) => ops
            .iter()
            .filter(|(_, op)| {
                op.get("channel")
                    .and_then(|c| c.get("$ref"))
                    .and_then(Value::as_str)
                    == Some(own_ref.as_str())
            })
            .collect(),
        _ => Vec::new(),
    };
    html! {
        @for (op_id, operation) in &operations {
            @let action = operation.get("action").and_then(Value::as_str).unwrap_or("operation");
            article class="api-op" {
                (operation_header(action, operation))
                @if operation.get("operationId").is_none() {
                    p class="muted api-op-id" { "Operation " code { (op_id) } }
                }
                @if let Some(Value::Array(refs)) = operation.get("messages") {
                    p class="muted" {
                        "Messages: "
                        @for (i, message) in refs.iter().take(MAX_MESSAGES).enumerate() {
                            @if i > 0 { ", " }
                            code { (message.get("$ref").and_then(Value::as_str).map(ref_name).unwrap_or("inline")) }
                        }
                    }
                }
            }
        }
        @if let Some(Value::Object(messages)) = channel.get("messages") {
            @if !messages.is_empty() {
                h4 { "Messages" }
                @for (_, message) in messages.iter().take(MAX_MESSAGES) {
                    (message_block(resolver, message))
                }
            }
        }
    }
}

fn message_block(resolver: &Resolver<'_>, message: &Value) -> Markup {
    let (resolved, reference) = match resolver.deref(message) {
        Ok(found) => found,
        Err(reference) => {
            return html! { p class="api-unresolved" { "Unresolved reference " code { (reference) } } };
        }
    };
    let name = resolved
        .get("name")
        .and_then(Value::as_str)
        .or_else(|| reference.map(ref_name))
        .unwrap_or("message");
    html! {
        div class="api-message" {
            h5 {
                span class="muted" { "Message " }
                code { (name) }
                @if let Some(title) = resolved.get("title").and_then(Value::as_str) {
                    " " (title)
                }
                @if let Some(content_type) = resolved.get("contentType").and_then(Value::as_str) {
                    " " span class="badge" { (content_type) }
                }
            }
            @if let Some(summary) = resolved.get("summary").and_then(Value::as_str) {
                p class="api-op-summary" { (summary) }
            }
            @if let Some(description) = resolved.get("description").and_then(Value::as_str) {
                p class="api-description" { (description) }
            }
            @if let Some(headers) = resolved.get("headers") {
                p class="muted" { "Headers" }
                (resolver.schema(headers))
            }
            @if let Some(payload) = resolved.get("payload") {
                p class="muted" { "Payload " code { (resolver.type_label(payload_schema(payload))) } }
                (resolver.schema_after_label(payload_schema(payload)))
            }
        }
    }
}

/// A 3.x payload may be a multi-format schema (`{schemaFormat, schema}`).
fn payload_schema(payload: &Value) -> &Value {
    match (payload.get("schemaFormat"), payload.get("schema")) {
        (Some(_), Some(schema)) => schema,
        _ => payload,
    }
}
