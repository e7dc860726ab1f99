//! Local `$ref` resolution and the rendering of JSON Schema-like schemas
//! (OpenAPI and AsyncAPI payloads) as nested property lists, bounded in depth
//! and in the number of nodes drawn, and safe against reference cycles.

use std::cell::Cell;

use maud::{Markup, html};
use serde_json::{Map, Value};

/// How deep a schema is drawn before the rest is elided. Real APIs rarely
/// nest more than a handful of levels; deeper trees are usually recursion.
pub(crate) const MAX_SCHEMA_DEPTH: usize = 10;
/// How many schema nodes one definition may draw in total, so that a large
/// or cross-referencing definition cannot produce an unbounded page.
pub(crate) const MAX_SCHEMA_NODES: usize = 10_000;
/// How many `$ref` hops one lookup follows before giving up (a ref pointing
/// at a ref pointing at a ref ...).
const MAX_REF_HOPS: usize = 16;

/// A parsed definition with its `$ref` resolver and a node budget.
pub(crate) struct Resolver<'a> {
    root: &'a Value,
    nodes: Cell<usize>,
}

/// The short name of a local ref: its last pointer segment
/// (`#/components/schemas/Pet` → `Pet`).
pub(crate) fn ref_name(reference: &str) -> &str {
    reference.rsplit('/').next().unwrap_or(reference)
}

/// Decodes one JSON pointer segment written in a URI fragment.
fn decode_segment(segment: &str) -> String {
    let decoded =
        url::form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| segment.to_owned());
    decoded.replace("~1", "/").replace("~0", "~")
}

impl<'a> Resolver<'a> {
    pub(crate) fn new(root: &'a Value) -> Resolver<'a> {
        Resolver {
            root,
            nodes: Cell::new(0),
        }
    }

    pub(crate) fn root(&self) -> &'a Value {
        self.root
    }

    /// The value a local ref (`#/...`) points at; `None` for remote refs and
    /// for pointers that lead nowhere.
    pub(crate) fn pointer(&self, reference: &str) -> Option<&'a Value> {
        let fragment = reference.strip_prefix('#')?;
        if fragment.is_empty() {
            return Some(self.root);
        }
        let mut node = self.root;
        for raw in fragment.strip_prefix('/')?.split('/') {
            let segment = decode_segment(raw);
            node = match node {
                Value::Object(map) => map.get(&segment)?,
                Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// Follows `$ref`s from `value` until a non-ref value. Returns the value
    /// and the first ref followed (for labels), or the unresolvable ref as the
    /// error.
    pub(crate) fn deref(&self, value: &'a Value) -> Result<(&'a Value, Option<&'a str>), String> {
        let mut current = value;
        let mut first = None;
        for _ in 0..MAX_REF_HOPS {
            match current.get("$ref").and_then(Value::as_str) {
                Some(reference) => {
                    first.get_or_insert(reference);
                    current = self
                        .pointer(reference)
                        .ok_or_else(|| reference.to_owned())?;
                }
                None => return Ok((current, first)),
            }
        }
        Err(first.unwrap_or_default().to_owned())
    }

    /// Like [`Resolver::deref`], but an unresolvable ref yields the original value.
    pub(crate) fn resolve(&self, value: &'a Value) -> &'a Value {
        self.deref(value).map_or(value, |(v, _)| v)
    }

    fn take_node(&self) -> bool {
        let used = self.nodes.get();
        if used >= MAX_SCHEMA_NODES {
            return false;
        }
        self.nodes.set(used + 1);
        true
    }

    /// A schema as a nested property list.
    pub(crate) fn schema(&self, schema: &'a Value) -> Markup {
        let mut stack = Vec::new();
        html! {
            div class="api-schema" { (self.node(schema, &mut stack, 0, true)) }
        }
    }

    /// A schema whose type label the caller has already shown.
    pub(crate) fn schema_after_label(&self, schema: &'a Value) -> Markup {
        let mut stack = Vec::new();
        html! {
            div class="api-schema" { (self.node(schema, &mut stack, 0, false)) }
        }
    }

    /// A one-line type label of a schema: `string (date-time)`, `array of Pet`,
    /// `Pet`, `object`.
    pub(crate) fn type_label(&self, schema: &'a Value) -> String {
        self.label(schema, 0)
    }

    fn label(&self, schema: &'a Value, depth: usize) -> String {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            return ref_name(reference).to_owned();
        }
        if depth > 4 {
            return "…".to_owned();
        }
        let kind = match schema.get("type") {
            Some(Value::String(t)) => t.clone(),
            Some(Value::Array(types)) => types
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" | "),
            _ => {
                if schema.get("properties").is_some() {
                    "object".to_owned()
                } else if schema.get("items").is_some() {
                    "array".to_owned()
                } else if schema.get("allOf").is_some() {
                    "all of".to_owned()
                } else if schema.get("oneOf").is_some() {
                    "one of".to_owned()
                } else if schema.get("anyOf").is_some() {
                    "any of".to_owned()
                } else {
                    String::new()
                }
            }
        };
        let mut out = if kind == "array" {
            match schema.get("items") {
                Some(items) if items.is_object() => {
                    format!("array of {}", self.label(items, depth + 1))
                }
                _ => kind,
            }
        } else {
            kind
        };
        if let Some(format) = schema.get("format").and_then(Value::as_str) {
            out = if out.is_empty() {
                format.to_owned()
            } else {
                format!("{out} ({format})")
            };
        }
        if out.is_empty() {
            "any".to_owned()
        } else {
            out
        }
    }

    /// Draws one schema node; `show_type` is false where the caller already
    /// printed the node's type (a property's line).
    fn node(
        &self,
        schema: &'a Value,
        stack: &mut Vec<&'a str>,
        depth: usize,
        show_type: bool,
    ) -> Markup {
        if !self.take_node() {
            return html! { p class="muted" { "… (more of this schema is not shown)" } };
        }
        let Value::Object(map) = schema else {
            // `true`/`false` schemas and other non-objects: shown as they are.
            return html! { code { (schema.to_string()) } };
        };
        if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
            let name = ref_name(reference);
            if stack.contains(&reference) {
                return html! { p class="api-schema-ref muted" { "↻ " code { (name) } " (circular reference, shown above)" } };
            }
            if depth >= MAX_SCHEMA_DEPTH {
                return html! { p class="api-schema-ref muted" { code { (name) } " (nested too deep to show)" } };
            }
            return match self.pointer(reference) {
                Some(target) => {
                    stack.push(reference);
                    // The label shown so far was the ref's name; the target's own
                    // type is news.
                    let inner = self.node(target, stack, depth + 1, true);
                    stack.pop();
                    html! {
                        div class="api-schema-named" {
                            p class="api-schema-ref" { span class="muted" { "Schema " } code { (name) } }
                            (inner)
                        }
                    }
                }
                None => html! {
                    p class="api-schema-ref api-unresolved" { "Unresolved reference " code { (reference) } }
                },
            };
        }
        if depth >= MAX_SCHEMA_DEPTH {
            return html! { p class="muted" { "… (nested too deep to show)" } };
        }
        html! {
            (self.facts(schema, map, show_type))
            @if let Some(Value::Object(properties)) = map.get("properties") {
                @let required = required_names(map);
                ul class="api-props" {
                    @for (name, property) in properties {
                        li {
                            (self.property_line(name, property, required.contains(&name.as_str())))
                            @if has_children(self.resolve_shallow(property)) || self.is_dangling(property) {
                                (self.children(property, stack, depth + 1))
                            }
                        }
                    }
                }
            }
            @if let Some(items) = map.get("items").filter(|i| i.is_object()) {
                @if has_children(self.resolve_shallow(items)) || items.get("$ref").is_some() {
                    div class="api-schema-items" {
                        (self.node(items, stack, depth + 1, false))
                    }
                }
            }
            @if let Some(extra) = map.get("additionalProperties").filter(|e| e.is_object()) {
                div class="api-schema-items" {
                    p class="muted" { "Additional properties: " code { (self.label(extra, 0)) } }
                    @if has_children(self.resolve_shallow(extra)) {
                        (self.node(extra, stack, depth + 1, false))
                    }
                }
            }
            @for (key, title) in [("allOf", "All of"), ("oneOf", "One of"), ("anyOf", "Any of")] {
                @if let Some(Value::Array(parts)) = map.get(key) {
                    div class="api-schema-combined" {
                        p class="muted" { (title) }
                        ol {
                            @for part in parts.iter().take(50) {
                                li { (self.node(part, stack, depth + 1, true)) }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The schema a property points at, one `$ref` deep, for deciding whether
    /// it has children worth a nested list.
    fn resolve_shallow(&self, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => self.pointer(reference).unwrap_or(value),
            None => value,
        }
    }

    /// Whether `value` is a `$ref` that points nowhere (shown, so that the
    /// reader sees what is missing).
    fn is_dangling(&self, value: &'a Value) -> bool {
        value
            .get("$ref")
            .and_then(Value::as_str)
            .is_some_and(|reference| self.pointer(reference).is_none())
    }

    fn children(&self, property: &'a Value, stack: &mut Vec<&'a str>, depth: usize) -> Markup {
        html! { div class="api-schema-nested" { (self.node(property, stack, depth, false)) } }
    }

    fn property_line(&self, name: &str, property: &'a Value, required: bool) -> Markup {
        let description = property
            .get("description")
            .or_else(|| self.resolve_shallow(property).get("description"))
            .and_then(Value::as_str);
        html! {
            span class="api-prop" {
                code class="api-prop-name" { (name) }
                " "
                span class="api-prop-type" { (self.label(property, 0)) }
                @if required { " " span class="badge badge-warn" { "required" } }
                @if property.get("deprecated").and_then(Value::as_bool) == Some(true) {
                    " " span class="badge" { "deprecated" }
                }
            }
            @if let Some(description) = description {
                span class="api-prop-description" { " — " (description) }
            }
            (enum_line(property))
        }
    }

    /// The type and description of a schema object itself (not of its
    /// properties).
    fn facts(&self, schema: &'a Value, map: &Map<String, Value>, show_type: bool) -> Markup {
        let combined =
            map.contains_key("allOf") || map.contains_key("oneOf") || map.contains_key("anyOf");
        html! {
            @if show_type && !map.contains_key("properties") && !combined {
                p class="api-schema-type" { "Type: " code { (self.label(schema, 0)) } (enum_line(schema)) }
            }
            @if let Some(description) = map.get("description").and_then(Value::as_str) {
                p class="api-schema-description" { (description) }
            }
        }
    }
}

fn required_names(map: &Map<String, Value>) -> Vec<&str> {
    match map.get("required") {
        Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn has_children(schema: &Value) -> bool {
    schema.get("properties").is_some()
        || schema.get("allOf").is_some()
        || schema.get("oneOf").is_some()
        || schema.get("anyOf").is_some()
        || schema
            .get("items")
            .is_some_and(|i| i.get("properties").is_some() || i.get("$ref").is_some())
        || schema
            .get("additionalProperties")
            .is_some_and(Value::is_object)
}

fn enum_line(property: &Value) -> Markup {
    html! {
        @if let Some(Value::Array(values)) = property.get("enum") {
            span class="api-enum" {
                " One of: "
                @for (i, value) in values.iter().take(30).enumerate() {
                    @if i > 0 { ", " }
                    code { (scalar_text(value)) }
                }
                @if values.len() > 30 { ", …" }
            }
        }
    }
}

/// A scalar as text: strings without quotes, anything else as JSON.
pub(crate) fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
