//! Shared building blocks for pages: cards, tabs, badges, tables with
//! server-side sorting, pagers, filter selects, empty and error states, and
//! links to entity pages. Every component is a function returning `Markup`,
//! works without JavaScript and labels its controls.

use maud::{Markup, html};
use serde_json::Value;

use crate::context::PageContext;

/// A card: a titled panel.
pub fn card(title: &str, body: Markup) -> Markup {
    card_with_actions(title, html! {}, body)
}

/// A card with actions (links or small forms) in its header.
pub fn card_with_actions(title: &str, actions: Markup, body: Markup) -> Markup {
    html! {
        section class="card" aria-label=(title) {
            header class="card-header" {
                h2 { (title) }
                div class="card-actions" { (actions) }
            }
            div class="card-body" { (body) }
        }
    }
}

/// A small label, e.g. a tag or a lifecycle.
pub fn badge(text: &str) -> Markup {
    html! { span class="badge" { (text) } }
}

/// A badge with a tone (`ok`, `warn`, `error`, `info`).
pub fn badge_tone(text: &str, tone: &str) -> Markup {
    html! { span class={ "badge badge-" (tone) } { (text) } }
}

/// Shown where a list or card has nothing to show.
pub fn empty_state(title: &str, hint: Markup) -> Markup {
    html! {
        div class="empty-state" role="status" {
            p class="empty-title" { (title) }
            div class="empty-hint" { (hint) }
        }
    }
}

/// Shown where something failed; `message` is rendered as text.
pub fn error_state(title: &str, message: &str) -> Markup {
    html! {
        div class="error-state" role="alert" {
            p class="error-title" { (title) }
            pre class="error-message" { (message) }
        }
    }
}

/// One tab of a tab bar.
#[derive(Debug, Clone)]
pub struct TabLink {
    pub label: String,
    pub href: String,
    pub active: bool,
}

/// A tab bar of links (each tab is its own URL, so it works without script).
pub fn tabs(label: &str, items: &[TabLink]) -> Markup {
    html! {
        nav class="tabs" aria-label=(label) {
            ul {
                @for item in items {
                    li {
                        @if item.active {
                            a href=(item.href) aria-current="page" { (item.label) }
                        } @else {
                            a href=(item.href) { (item.label) }
                        }
                    }
                }
            }
        }
    }
}

/// A label/value list, e.g. the About card's fields. Empty values show an em dash.
pub fn fields(rows: &[(&str, Markup)]) -> Markup {
    html! {
        dl class="fields" {
            @for (label, value) in rows {
                div class="field" {
                    dt { (label) }
                    dd { (value) }
                }
            }
        }
    }
}

/// A column of a [`Table`]; `sort_key` makes its header a sort link.
#[derive(Debug, Clone)]
pub struct Column {
    pub label: String,
    pub sort_key: Option<String>,
}

impl Column {
    pub fn new(label: impl Into<String>) -> Column {
        Column {
            label: label.into(),
            sort_key: None,
        }
    }

    pub fn sortable(label: impl Into<String>, key: impl Into<String>) -> Column {
        Column {
            label: label.into(),
            sort_key: Some(key.into()),
        }
    }
}

/// The current sort of a table: a key and a direction, read from the query
/// parameter `sort` as `key` (ascending) or `-key` (descending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort {
    pub key: String,
    pub descending: bool,
}

impl Sort {
    /// The sort in `ctx`'s `sort` parameter, or `default`.
    pub fn from_ctx(ctx: &PageContext, default: Sort) -> Sort {
        match ctx.param("sort") {
            Some(value) if !value.is_empty() => match value.strip_prefix('-') {
                Some(key) => Sort {
                    key: key.to_owned(),
                    descending: true,
                },
                None => Sort {
                    key: value.to_owned(),
                    descending: false,
                },
            },
            _ => default,
        }
    }

    fn param(&self) -> String {
        if self.descending {
            format!("-{}", self.key)
        } else {
            self.key.clone()
        }
    }
}

/// A data table with server-side sorting; rows are markup cells.
#[derive(Debug, Clone)]
pub struct Table {
    pub caption: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Markup>>,
}

impl Table {
    /// Renders the table; sortable headers link to the same page with `sort`
    /// changed (and the cursor dropped, since a new order starts a new walk).
    pub fn render(&self, ctx: &PageContext, sort: Option<&Sort>) -> Markup {
        html! {
            div class="table-wrap" {
                table class="data-table" {
                    caption class="visually-hidden" { (self.caption) }
                    thead {
                        tr {
                            @for column in &self.columns {
                                @match (&column.sort_key, sort) {
                                    (Some(key), Some(current)) => {
                                        @let active = &current.key == key;
                                        @let next = Sort { key: key.clone(), descending: active && !current.descending };
                                        th scope="col" aria-sort=(if !active { "none" } else if current.descending { "descending" } else { "ascending" }) {
                                            a href=(ctx.url_with_all(&[("sort", Some(&next.param())), ("cursor", None)])) {
                                                (column.label)
                                                @if active {
                                                    span aria-hidden="true" { (if current.descending { " ▼" } else { " ▲" }) }
                                                }
                                            }
                                        }
                                    }
                                    _ => th scope="col" { (column.label) },
                                }
                            }
                        }
                    }
                    tbody {
                        @for row in &self.rows {
                            tr {
                                @for cell in row { td { (cell) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Previous/next links and a summary ("1–50 of 1234").
pub fn pager(summary: &str, prev: Option<String>, next: Option<String>) -> Markup {
    html! {
        nav class="pager" aria-label="Pagination" {
            span class="pager-summary" { (summary) }
            @if let Some(prev) = prev {
                a class="button" href=(prev) rel="prev" { "Previous page" }
            } @else {
                span class="button disabled" aria-disabled="true" { "Previous page" }
            }
            @if let Some(next) = next {
                a class="button" href=(next) rel="next" { "Next page" }
            } @else {
                span class="button disabled" aria-disabled="true" { "Next page" }
            }
        }
    }
}

/// One choice of a [`select`]: a value, its label and an optional count.
#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub count: Option<u64>,
}

/// A labelled `<select>` inside a GET filter form; the script submits the
/// form on change, and without script the form's button does.
pub fn select(name: &str, label: &str, choices: &[Choice], selected: Option<&str>) -> Markup {
    let id = format!("filter-{name}");
    html! {
        div class="filter" {
            label for=(id) { (label) }
            select id=(id) name=(name) data-autosubmit {
                @for choice in choices {
                    @let text = match choice.count {
                        Some(count) => format!("{} ({count})", choice.label),
                        None => choice.label.clone(),
                    };
                    @if Some(choice.value.as_str()) == selected {
                        option value=(choice.value) selected { (text) }
                    } @else {
                        option value=(choice.value) { (text) }
                    }
                }
            }
        }
    }
}

/// Percent-encodes one path segment.
pub fn encode_segment(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// The path of an entity's page: `/catalog/<namespace>/<kind>/<name>`, with
/// namespace and kind lower-cased as Backstage's routes write them.
pub fn entity_path(kind: &str, namespace: &str, name: &str) -> String {
    format!(
        "/catalog/{}/{}/{}",
        encode_segment(&namespace.to_ascii_lowercase()),
        encode_segment(&kind.to_ascii_lowercase()),
        encode_segment(name)
    )
}

/// `kind`, `namespace` (default `default`) and `name` of an entity value.
pub fn entity_triplet(entity: &Value) -> (&str, &str, &str) {
    let kind = entity
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let metadata = entity.get("metadata");
    let namespace = metadata
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str)
        .unwrap_or("default");
    let name = metadata
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    (kind, namespace, name)
}

/// The page path of an entity value.
pub fn entity_value_path(entity: &Value) -> String {
    let (kind, namespace, name) = entity_triplet(entity);
    entity_path(kind, namespace, name)
}

/// Splits a full entity ref `kind:namespace/name` (namespace and kind optional,
/// defaulting to `default` and `default_kind`) into its parts.
pub fn split_ref<'a>(entity_ref: &'a str, default_kind: &'a str) -> (&'a str, &'a str, &'a str) {
    let (kind, rest) = match entity_ref.split_once(':') {
        Some((kind, rest)) => (kind, rest),
        None => (default_kind, entity_ref),
    };
    let (namespace, name) = match rest.split_once('/') {
        Some((namespace, name)) => (namespace, name),
        None => ("default", rest),
    };
    (kind, namespace, name)
}

/// A ref written the short way Backstage shows it: the kind is dropped when
/// it equals `context_kind`, the namespace when it is `default`.
pub fn humanize_ref(entity_ref: &str, context_kind: Option<&str>) -> String {
    let (kind, namespace, name) = split_ref(entity_ref, "");
    let show_kind = !kind.is_empty() && context_kind.is_none_or(|k| !k.eq_ignore_ascii_case(kind));
    let mut out = String::new();
    if show_kind {
        out.push_str(&kind.to_ascii_lowercase());
        out.push(':');
    }
    if namespace != "default" {
        out.push_str(namespace);
        out.push('/');
    }
    out.push_str(name);
    out
}

/// A link to the entity `entity_ref` (a full or short ref), labelled with
/// its humanized ref.
pub fn entity_ref_link(entity_ref: &str, default_kind: &str) -> Markup {
    let (kind, namespace, name) = split_ref(entity_ref, default_kind);
    html! {
        a href=(entity_path(kind, namespace, name)) { (humanize_ref(entity_ref, Some(default_kind))) }
    }
}
