//! The About card of the overview: description, owner, system, domain, type,
//! lifecycle, tags and links, the view-source and edit links the annotations
//! give, and the refresh button.

use std::sync::Arc;

use async_trait::async_trait;
use greenroom_web::components::{badge, card_with_actions, entity_ref_link};
use greenroom_web::{EntityCard, PageContext, WebExtension};
use maud::{Markup, html};
use serde_json::Value;

use super::{annotation, entity_value_path, relation_targets, str_at, truncate};

/// The annotation with a link to the entity's source in a browser.
const VIEW_URL: &str = "backstage.io/view-url";
/// The annotation with a link that edits the entity's descriptor.
const EDIT_URL: &str = "backstage.io/edit-url";
/// The annotation with the entity's source location, `url:<target>`.
const SOURCE_LOCATION: &str = "backstage.io/source-location";
/// The most links from `metadata.links` listed.
const MAX_LINKS: usize = 30;
/// The most tags listed.
const MAX_TAGS: usize = 50;
/// The longest description shown, in characters.
const MAX_DESCRIPTION_CHARS: usize = 4_000;

pub(super) fn register(web: &WebExtension) {
    web.add_entity_card(Arc::new(AboutCard));
}

/// Whether `url` may be an `href`: web and mail links only, so that no
/// `javascript:` or `data:` URL from a descriptor becomes clickable.
pub(crate) fn is_safe_link(url: &str) -> bool {
    match url::Url::parse(url.trim()) {
        Ok(parsed) => matches!(parsed.scheme(), "http" | "https" | "mailto"),
        Err(_) => false,
    }
}

/// Where "View source" points: the view-url annotation, else the target of a
/// `url:` source location (as Backstage's About card does).
pub(crate) fn view_source_url(entity: &Value) -> Option<&str> {
    annotation(entity, VIEW_URL)
        .or_else(|| annotation(entity, SOURCE_LOCATION).and_then(|l| l.strip_prefix("url:")))
        .filter(|u| is_safe_link(u))
}

/// Where "Edit" points: the edit-url annotation.
pub(crate) fn edit_url(entity: &Value) -> Option<&str> {
    annotation(entity, EDIT_URL).filter(|u| is_safe_link(u))
}

/// The most targets linked in one About field.
const MAX_FIELD_LINKS: usize = 10;

/// Links to the targets of relation `relation` (only those of kind
/// `only_kind` when given), else to the ref written in `spec.<field>` (before
/// the catalog has stitched); short refs default to kind `default_kind`.
fn related(
    entity: &Value,
    relation: &str,
    only_kind: Option<&str>,
    default_kind: &str,
    field: &str,
) -> Option<Markup> {
    let targets: Vec<&str> = relation_targets(entity, relation)
        .into_iter()
        .filter(|t| only_kind.is_none_or(|k| super::kind_of_ref(t).eq_ignore_ascii_case(k)))
        .take(MAX_FIELD_LINKS)
        .collect();
    if !targets.is_empty() {
        return Some(html! {
            @for (i, target) in targets.iter().enumerate() {
                @if i > 0 { ", " }
                (entity_ref_link(target, default_kind))
            }
        });
    }
    str_at(entity, &["spec", field]).map(|r| entity_ref_link(r, default_kind))
}

struct AboutCard;

#[async_trait]
impl EntityCard for AboutCard {
    fn id(&self) -> &str {
        "about"
    }

    fn applies_to(&self, _entity: &Value) -> bool {
        true
    }

    fn order(&self) -> i32 {
        10
    }

    fn wide(&self) -> bool {
        true
    }

    async fn render(&self, _page: &PageContext, entity: &Value) -> Result<Markup, String> {
        let description = str_at(entity, &["metadata", "description"]).filter(|d| !d.is_empty());
        let owner = related(entity, "ownedBy", None, "group", "owner");
        let system = related(entity, "partOf", Some("system"), "system", "system");
        let domain = related(entity, "partOf", Some("domain"), "domain", "domain");
        let parent = related(entity, "childOf", Some("group"), "group", "parent");
        let entity_type = str_at(entity, &["spec", "type"]);
        let lifecycle = str_at(entity, &["spec", "lifecycle"]);
        let kind = entity
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_lowercase();
        // Groups and users have no owner or lifecycle; they have a profile.
        let is_party = kind == "group" || kind == "user";
        let display_name = str_at(entity, &["spec", "profile", "displayName"]);
        let email = str_at(entity, &["spec", "profile", "email"]);
        let tags: Vec<&str> = entity
            .get("metadata")
            .and_then(|m| m.get("tags"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .take(MAX_TAGS)
            .collect();
        let links: Vec<(&str, &str)> = entity
            .get("metadata")
            .and_then(|m| m.get("links"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|link| {
                let url = link.get("url").and_then(Value::as_str)?;
                let title = link
                    .get("title")
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                    .unwrap_or(url);
                Some((url, title))
            })
            .take(MAX_LINKS)
            .collect();
        let dash = html! { span class="muted" { "—" } };
        let actions = html! {
            @if let Some(url) = view_source_url(entity) {
                a class="button secondary" href=(url) rel="noopener noreferrer" { "View source" }
            }
            @if let Some(url) = edit_url(entity) {
                a class="button secondary" href=(url) rel="noopener noreferrer" { "Edit" }
            }
            form method="post" action={ (entity_value_path(entity)) "/refresh" } {
                button type="submit" class="secondary" { "Refresh" }
            }
        };
        let body = html! {
            div class="about-description" {
                h3 class="visually-hidden" { "Description" }
                @match description {
                    Some(text) => p { (truncate(text, MAX_DESCRIPTION_CHARS)) },
                    None => p class="muted" { "No description" },
                }
            }
            dl class="fields" {
                @if is_party {
                    @if let Some(name) = display_name {
                        div class="field" { dt { "Display name" } dd { (name) } }
                    }
                    @if let Some(email) = email {
                        div class="field" {
                            dt { "Email" }
                            dd {
                                @let mailto = format!("mailto:{email}");
                                @if is_safe_link(&mailto) { a href=(mailto) { (email) } } @else { (email) }
                            }
                        }
                    }
                } @else {
                    div class="field" { dt { "Owner" } dd { (owner.unwrap_or_else(|| dash.clone())) } }
                }
                @if let Some(system) = system {
                    div class="field" { dt { "System" } dd { (system) } }
                }
                @if let Some(domain) = domain {
                    div class="field" { dt { "Domain" } dd { (domain) } }
                }
                @if let Some(parent) = parent {
                    div class="field" { dt { "Parent" } dd { (parent) } }
                }
                div class="field" { dt { "Type" } dd { @match entity_type { Some(t) => (t), None => (dash) } } }
                @if !is_party || lifecycle.is_some() {
                    div class="field" { dt { "Lifecycle" } dd { @match lifecycle { Some(l) => (l), None => (dash) } } }
                }
                div class="field" {
                    dt { "Tags" }
                    dd {
                        @if tags.is_empty() { (dash) }
                        @for tag in &tags { (badge(tag)) }
                    }
                }
            }
            @if !links.is_empty() {
                h3 class="about-links-title" { "Links" }
                ul class="about-links" {
                    @for (url, title) in &links {
                        li {
                            @if is_safe_link(url) {
                                a href=(url) rel="noopener noreferrer" { (title) }
                            } @else {
                                span { (title) } " " span class="muted" { "(" (url) ")" }
                            }
                        }
                    }
                }
            }
        };
        Ok(card_with_actions("About", actions, body))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_web_and_mail_links_become_hrefs() {
        assert!(is_safe_link("https://example.com/x"));
        assert!(is_safe_link("mailto:team@example.com"));
        assert!(!is_safe_link("javascript:alert(1)"));
        assert!(!is_safe_link(" JavaScript:alert(1)"));
        assert!(!is_safe_link("data:text/html,hi"));
        assert!(!is_safe_link("/relative"));
    }

    #[test]
    fn view_source_prefers_the_view_url_over_the_source_location() {
        let both = json!({"metadata": {"annotations": {
            "backstage.io/view-url": "https://example.com/view",
            "backstage.io/source-location": "url:https://example.com/tree/",
        }}});
        assert_eq!(view_source_url(&both), Some("https://example.com/view"));
        let source = json!({"metadata": {"annotations": {
            "backstage.io/source-location": "url:https://example.com/tree/",
        }}});
        assert_eq!(view_source_url(&source), Some("https://example.com/tree/"));
        let file = json!({"metadata": {"annotations": {
            "backstage.io/source-location": "file:/tmp/x",
        }}});
        assert_eq!(view_source_url(&file), None);
    }
}
