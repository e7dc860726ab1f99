//! Config layers and their deep merge, with the origin of every merged value.
//!
//! Layers are merged from lowest to highest priority: objects merge key by
//! key, anything else from a higher layer (scalars, arrays, `null`) replaces
//! the lower value wholesale. Explicit `null`s are removed from objects only
//! after every layer has been merged, so a `null` hides lower layers without
//! ever being seen by readers. Alongside the merged value an [`Origin`] tree
//! records, for every node, the layer it came from (for objects: the highest
//! layer that contributed) and whether it came from a secret source.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// One step of a path inside a layer's data.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PathSeg {
    Key(String),
    Index(usize),
}

/// One source of configuration: a file or the environment overrides.
#[derive(Debug, Clone)]
pub(crate) struct Layer {
    /// File name, or `env`.
    pub(crate) context: String,
    /// The transformed data; always an object.
    pub(crate) data: Value,
    /// Paths inside `data` whose values came from `$env` or `$file`.
    pub(crate) secret_paths: BTreeSet<Vec<PathSeg>>,
}

/// Where a merged value came from. Mirrors the shape of the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    /// Index of the layer (lowest priority is 0).
    pub(crate) layer: usize,
    /// Whether the value came from a `$env` or `$file` directive.
    pub(crate) secret: bool,
    pub(crate) kids: Kids,
}

/// The origins of an object's or array's children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kids {
    Leaf,
    Map(BTreeMap<String, Origin>),
    Seq(Vec<Origin>),
}

impl Origin {
    fn leaf(layer: usize) -> Self {
        Origin {
            layer,
            secret: false,
            kids: Kids::Leaf,
        }
    }

    /// The origin of the child `key`, or this node's own when the tree has
    /// no entry (which only happens if it was built inconsistently).
    pub(crate) fn child(&self, key: &str) -> &Origin {
        match &self.kids {
            Kids::Map(map) => map.get(key).unwrap_or(self),
            _ => self,
        }
    }

    /// The origin of the array element `index`, with the same fallback.
    pub(crate) fn element(&self, index: usize) -> &Origin {
        match &self.kids {
            Kids::Seq(items) => items.get(index).unwrap_or(self),
            _ => self,
        }
    }
}

/// Builds the origin tree of one layer's value.
fn build_origin(
    value: &Value,
    layer: usize,
    secrets: &BTreeSet<Vec<PathSeg>>,
    path: &mut Vec<PathSeg>,
) -> Origin {
    let secret = !secrets.is_empty() && secrets.contains(path.as_slice());
    let kids = match value {
        Value::Object(map) => {
            let mut kids = BTreeMap::new();
            for (k, v) in map {
                path.push(PathSeg::Key(k.clone()));
                kids.insert(k.clone(), build_origin(v, layer, secrets, path));
                path.pop();
            }
            Kids::Map(kids)
        }
        Value::Array(items) => {
            let mut kids = Vec::with_capacity(items.len());
            for (i, v) in items.iter().enumerate() {
                path.push(PathSeg::Index(i));
                kids.push(build_origin(v, layer, secrets, path));
                path.pop();
            }
            Kids::Seq(kids)
        }
        _ => Kids::Leaf,
    };
    Origin {
        layer,
        secret,
        kids,
    }
}

/// Merges `higher` (with its origins) into `lower` in place.
fn merge_node(lower: &mut Value, lower_origin: &mut Origin, higher: Value, higher_origin: Origin) {
    match (lower, higher) {
        (Value::Object(lower_map), Value::Object(higher_map)) => {
            let mut higher_kids = match higher_origin.kids {
                Kids::Map(kids) => kids,
                _ => BTreeMap::new(),
            };
            lower_origin.layer = higher_origin.layer;
            lower_origin.secret = higher_origin.secret;
            if !matches!(lower_origin.kids, Kids::Map(_)) {
                lower_origin.kids = Kids::Map(BTreeMap::new());
            }
            let Kids::Map(lower_kids) = &mut lower_origin.kids else {
                return;
            };
            for (key, value) in higher_map {
                let origin = higher_kids
                    .remove(&key)
                    .unwrap_or_else(|| Origin::leaf(higher_origin.layer));
                match lower_map.get_mut(&key) {
                    Some(existing) => {
                        let existing_origin = lower_kids
                            .entry(key)
                            .or_insert_with(|| Origin::leaf(origin.layer));
                        merge_node(existing, existing_origin, value, origin);
                    }
                    None => {
                        lower_map.insert(key.clone(), value);
                        lower_kids.insert(key, origin);
                    }
                }
            }
        }
        (lower, higher) => {
            *lower = higher;
            *lower_origin = higher_origin;
        }
    }
}

/// Removes `null` members of objects, at any depth, from a value and its origins.
fn strip_nulls(value: &mut Value, origin: &mut Origin) {
    match value {
        Value::Object(map) => {
            // `retain` keeps the order of the remaining keys, which matters
            // when serde_json preserves insertion order.
            map.retain(|k, v| {
                if v.is_null() {
                    if let Kids::Map(kids) = &mut origin.kids {
                        kids.remove(k);
                    }
                    false
                } else {
                    true
                }
            });
            for (k, v) in map.iter_mut() {
                if let Kids::Map(kids) = &mut origin.kids
                    && let Some(o) = kids.get_mut(k)
                {
                    strip_nulls(v, o);
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                if let Kids::Seq(kids) = &mut origin.kids
                    && let Some(o) = kids.get_mut(i)
                {
                    strip_nulls(v, o);
                }
            }
        }
        _ => {}
    }
}

/// Merges all layers (lowest first) into one object and its origin tree.
pub(crate) fn merge_layers(layers: &[Layer]) -> (Value, Origin) {
    let mut merged = Value::Object(Map::new());
    let mut origin = Origin {
        layer: layers.len().saturating_sub(1),
        secret: false,
        kids: Kids::Map(BTreeMap::new()),
    };
    for (index, layer) in layers.iter().enumerate() {
        let layer_origin = build_origin(&layer.data, index, &layer.secret_paths, &mut Vec::new());
        merge_node(&mut merged, &mut origin, layer.data.clone(), layer_origin);
    }
    strip_nulls(&mut merged, &mut origin);
    (merged, origin)
}

/// Deep-merges two values with the layering rule: objects merge key by key,
/// anything else in `higher` replaces `lower`. Explicit `null`s are kept, as
/// they matter when further layers are merged on top.
pub fn deep_merge(lower: &Value, higher: &Value) -> Value {
    let none = BTreeSet::new();
    let mut merged = lower.clone();
    let mut origin = build_origin(lower, 0, &none, &mut Vec::new());
    let higher_origin = build_origin(higher, 1, &none, &mut Vec::new());
    merge_node(&mut merged, &mut origin, higher.clone(), higher_origin);
    merged
}
