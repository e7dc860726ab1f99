//! The relations graph card: the entity and its direct relations drawn as SVG
//! on the server. The entity sits in the middle, its neighbours in two columns
//! beside it (in a fixed order, so the same entity always draws the same
//! picture); every neighbour is a focusable link to its page and every edge
//! is labelled with its relation types.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use greenroom_web::components::{card, empty_state, entity_path, humanize_ref, split_ref};
use greenroom_web::{EntityCard, PageContext, WebExtension};
use maud::{Markup, html};
use serde_json::Value;

use super::{ref_of, title_of, truncate};

/// The most neighbours drawn; the rest are counted below the graph.
pub(crate) const MAX_NEIGHBOURS: usize = 40;
/// The most relations read from one entity.
const MAX_RELATIONS: usize = 2_000;

const NODE_WIDTH: i64 = 190;
const NODE_HEIGHT: i64 = 30;
const ROW_HEIGHT: i64 = 44;
const WIDTH: i64 = 780;
const PADDING: i64 = 12;
/// The longest node label, in characters.
const NODE_LABEL_CHARS: usize = 26;
/// The longest edge label, in characters.
const EDGE_LABEL_CHARS: usize = 24;

pub(super) fn register(web: &WebExtension) {
    web.add_entity_card(Arc::new(GraphCard));
}

/// One neighbour of the entity: a target ref and every relation type that
/// leads to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Neighbour {
    pub(crate) target: String,
    pub(crate) types: Vec<String>,
}

/// The entity's distinct neighbours, sorted by first relation type and then
/// target, and how many there are in all.
pub(crate) fn neighbours(entity: &Value) -> (Vec<Neighbour>, usize) {
    let mut by_target: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for relation in entity
        .get("relations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .take(MAX_RELATIONS)
    {
        let (Some(kind), Some(target)) = (
            relation.get("type").and_then(Value::as_str),
            relation.get("targetRef").and_then(Value::as_str),
        ) else {
            continue;
        };
        let types = by_target.entry(target.to_owned()).or_default();
        if !types.iter().any(|t| t == kind) {
            types.push(kind.to_owned());
        }
    }
    let mut all: Vec<Neighbour> = by_target
        .into_iter()
        .map(|(target, mut types)| {
            types.sort();
            Neighbour { target, types }
        })
        .collect();
    all.sort_by(|a, b| (&a.types, &a.target).cmp(&(&b.types, &b.target)));
    let total = all.len();
    if total <= MAX_NEIGHBOURS {
        return (all, total);
    }
    // Too many to draw: take the groups of one relation type in turns, so that
    // a rare relation (the owner among a thousand parts) is still drawn.
    let mut groups: Vec<std::collections::VecDeque<Neighbour>> = Vec::new();
    for neighbour in all {
        match groups.last_mut() {
            Some(group) if group.front().is_some_and(|n| n.types == neighbour.types) => {
                group.push_back(neighbour);
            }
            _ => groups.push(std::collections::VecDeque::from([neighbour])),
        }
    }
    let mut picked = Vec::with_capacity(MAX_NEIGHBOURS);
    while picked.len() < MAX_NEIGHBOURS {
        let before = picked.len();
        for group in &mut groups {
            if picked.len() == MAX_NEIGHBOURS {
                break;
            }
            if let Some(neighbour) = group.pop_front() {
                picked.push(neighbour);
            }
        }
        if picked.len() == before {
            break;
        }
    }
    picked.sort_by(|a, b| (&a.types, &a.target).cmp(&(&b.types, &b.target)));
    (picked, total)
}

/// A node's position: the left edge and vertical centre of its box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) x: i64,
    pub(crate) cy: i64,
    /// Whether the node sits left of the entity (its edge leaves from its right side).
    pub(crate) left: bool,
}

/// The layout of `count` neighbours: the first half in the left column, the
/// rest in the right one, each column centred on the entity. Returns the
/// slots, the entity's slot and the drawing's height.
pub(crate) fn layout(count: usize) -> (Vec<Slot>, Slot, i64) {
    let left_count = count.div_ceil(2);
    let right_count = count - left_count;
    let rows = i64::try_from(left_count.max(1)).unwrap_or(1);
    let height = rows * ROW_HEIGHT + 2 * PADDING;
    let middle = height / 2;
    let column = |index: usize, size: usize| -> i64 {
        let index = i64::try_from(index).unwrap_or(0);
        let size = i64::try_from(size).unwrap_or(0);
        middle + (2 * index - (size - 1)) * ROW_HEIGHT / 2
    };
    let mut slots = Vec::with_capacity(count);
    for i in 0..left_count {
        slots.push(Slot {
            x: PADDING,
            cy: column(i, left_count),
            left: true,
        });
    }
    for i in 0..right_count {
        slots.push(Slot {
            x: WIDTH - PADDING - NODE_WIDTH,
            cy: column(i, right_count),
            left: false,
        });
    }
    let centre = Slot {
        x: (WIDTH - NODE_WIDTH) / 2,
        cy: middle,
        left: false,
    };
    (slots, centre, height)
}

/// The graph as SVG markup, and how many neighbours were left out.
pub(crate) fn render_graph(entity: &Value) -> (Markup, usize) {
    let (shown, total) = neighbours(entity);
    let (slots, centre, height) = layout(shown.len());
    let own_ref = ref_of(entity);
    let title = title_of(entity);
    let svg = html! {
        svg class="graph" xmlns="http://www.w3.org/2000/svg" role="group"
            aria-label={ "Relations of " (title) }
            viewBox={ "0 0 " (WIDTH) " " (height) } width=(WIDTH) height=(height) {
            @for (neighbour, slot) in shown.iter().zip(&slots) {
                // Each edge runs from the neighbour's inner side to the
                // entity's facing side; its label sits next to the neighbour.
                @let node_side = if slot.left { slot.x + NODE_WIDTH } else { slot.x };
                @let centre_side = if slot.left { centre.x } else { centre.x + NODE_WIDTH };
                @let label = truncate(&neighbour.types.join(", "), EDGE_LABEL_CHARS);
                g class="edge-group" {
                    line class="edge" x1=(node_side) y1=(slot.cy) x2=(centre_side) y2=(centre.cy) {}
                    @if slot.left {
                        text class="edge-label" x=(node_side + 6) y=(slot.cy - 6) text-anchor="start" { (label) }
                    } @else {
                        text class="edge-label" x=(node_side - 6) y=(slot.cy - 6) text-anchor="end" { (label) }
                    }
                }
            }
            g class="node root" {
                title { (own_ref) }
                rect x=(centre.x) y=(centre.cy - NODE_HEIGHT / 2) width=(NODE_WIDTH) height=(NODE_HEIGHT) rx="6" {}
                text x=(centre.x + NODE_WIDTH / 2) y=(centre.cy) text-anchor="middle" dominant-baseline="central" {
                    (truncate(title, NODE_LABEL_CHARS))
                }
            }
            @for (neighbour, slot) in shown.iter().zip(&slots) {
                @let (kind, namespace, name) = split_ref(&neighbour.target, "");
                @let label = humanize_ref(&neighbour.target, None);
                @let description = format!("{} ({})", neighbour.target, neighbour.types.join(", "));
                g class="node" {
                    a href=(entity_path(kind, namespace, name)) aria-label=(description) {
                        title { (description) }
                        rect x=(slot.x) y=(slot.cy - NODE_HEIGHT / 2) width=(NODE_WIDTH) height=(NODE_HEIGHT) rx="6" {}
                        text x=(slot.x + NODE_WIDTH / 2) y=(slot.cy) text-anchor="middle" dominant-baseline="central" {
                            (truncate(&label, NODE_LABEL_CHARS))
                        }
                    }
                }
            }
        }
    };
    (svg, total - shown.len())
}

struct GraphCard;

#[async_trait]
impl EntityCard for GraphCard {
    fn id(&self) -> &str {
        "relations-graph"
    }

    fn applies_to(&self, _entity: &Value) -> bool {
        true
    }

    fn order(&self) -> i32 {
        20
    }

    fn wide(&self) -> bool {
        true
    }

    async fn render(&self, _page: &PageContext, entity: &Value) -> Result<Markup, String> {
        let (shown, _) = neighbours(entity);
        if shown.is_empty() {
            return Ok(card(
                "Relations",
                empty_state(
                    "No relations",
                    html! { "This entity has no relations to other entities." },
                ),
            ));
        }
        let (svg, more) = render_graph(entity);
        Ok(card(
            "Relations",
            html! {
                div class="graph-wrap" { (svg) }
                @if more > 0 {
                    p class="muted graph-more" {
                        "and " (more) " more; "
                        a href={ (super::entity_value_path(entity)) "/inspect" } { "see every relation in Inspect" }
                    }
                }
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn neighbours_merge_relation_types_and_sort_deterministically() {
        let entity = json!({"kind": "Component", "metadata": {"name": "web"}, "relations": [
            {"type": "ownedBy", "targetRef": "group:default/team-a"},
            {"type": "dependsOn", "targetRef": "resource:default/db"},
            {"type": "apiProvidedBy", "targetRef": "group:default/team-a"},
            {"type": "dependsOn", "targetRef": "component:default/auth"},
            {"type": "dependsOn", "targetRef": "component:default/auth"},
        ]});
        let (shown, total) = neighbours(&entity);
        assert_eq!(total, 3);
        let targets: Vec<&str> = shown.iter().map(|n| n.target.as_str()).collect();
        assert_eq!(
            targets,
            [
                "group:default/team-a",
                "component:default/auth",
                "resource:default/db"
            ]
        );
        assert_eq!(shown[0].types, ["apiProvidedBy", "ownedBy"]);
    }

    #[test]
    fn the_graph_is_bounded_and_every_node_links_to_its_page() {
        let relations: Vec<Value> = (0..55)
            .map(|i| json!({"type": "hasPart", "targetRef": format!("component:default/c{i:02}")}))
            .collect();
        let entity = json!({"kind": "System", "metadata": {"name": "big"}, "relations": relations});
        let (svg, more) = render_graph(&entity);
        let svg = svg.into_string();
        assert_eq!(more, 15);
        assert_eq!(svg.matches("<a href=").count(), MAX_NEIGHBOURS);
        assert!(svg.contains(r#"<a href="/catalog/default/component/c00""#));
        assert!(!svg.contains("c40"), "the 41st neighbour is left out");
        assert_eq!(svg, render_graph(&entity).0.into_string(), "deterministic");
    }

    #[test]
    fn a_rare_relation_is_drawn_among_many_common_ones() {
        let mut relations: Vec<Value> = (0..100)
            .map(|i| json!({"type": "hasPart", "targetRef": format!("component:default/c{i:03}")}))
            .collect();
        relations.push(json!({"type": "ownedBy", "targetRef": "group:default/team-a"}));
        let entity = json!({"kind": "System", "metadata": {"name": "big"}, "relations": relations});
        let (shown, total) = neighbours(&entity);
        assert_eq!((shown.len(), total), (MAX_NEIGHBOURS, 101));
        assert!(shown.iter().any(|n| n.target == "group:default/team-a"));
        assert_eq!(shown[0].target, "component:default/c000");
    }

    #[test]
    fn edges_join_the_facing_sides_of_the_boxes() {
        let entity = json!({"kind": "Component", "metadata": {"name": "web"}, "relations": [
            {"type": "dependsOn", "targetRef": "component:default/a"},
            {"type": "ownedBy", "targetRef": "group:default/b"},
        ]});
        let svg = render_graph(&entity).0.into_string();
        let (slots, centre, _) = layout(2);
        let left = format!(
            r#"x1="{}" y1="{}" x2="{}" y2="{}""#,
            slots[0].x + NODE_WIDTH,
            slots[0].cy,
            centre.x,
            centre.cy
        );
        let right = format!(
            r#"x1="{}" y1="{}" x2="{}" y2="{}""#,
            slots[1].x,
            slots[1].cy,
            centre.x + NODE_WIDTH,
            centre.cy
        );
        assert!(svg.contains(&left), "{svg}");
        assert!(svg.contains(&right), "{svg}");
    }

    #[test]
    fn columns_are_centred_on_the_entity() {
        let (slots, centre, height) = layout(3);
        assert_eq!(slots.iter().filter(|s| s.left).count(), 2);
        assert_eq!(slots[2].cy, centre.cy, "a lone right node sits level");
        assert_eq!(slots[0].cy + slots[1].cy, 2 * centre.cy);
        assert!(slots.iter().all(|s| s.cy > 0 && s.cy < height));
        let (none, _, empty_height) = layout(0);
        assert!(none.is_empty() && empty_height > 0);
    }
}
