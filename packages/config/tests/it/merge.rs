//! §1.3 merge semantics across layers (checklist items 6 and 7).

use greenroom_config::{Config, deep_merge};
use serde_json::{Value, json};

/// `(case id, layers lowest first, expected merged value)`.
fn cases() -> Vec<(&'static str, Vec<Value>, Value)> {
    vec![
        (
            "M01 objects merge key by key, recursively",
            vec![
                json!({"a": {"b": 1, "c": {"d": 1}}}),
                json!({"a": {"c": {"e": 2}, "f": 3}}),
            ],
            json!({"a": {"b": 1, "c": {"d": 1, "e": 2}, "f": 3}}),
        ),
        (
            "M02 arrays are replaced, never concatenated",
            vec![json!({"l": [1, 2, 3]}), json!({"l": [9]})],
            json!({"l": [9]}),
        ),
        (
            "M03 arrays of objects are replaced too",
            vec![json!({"l": [{"a": 1}, {"b": 2}]}), json!({"l": [{"c": 3}]})],
            json!({"l": [{"c": 3}]}),
        ),
        (
            "M04 scalars are replaced",
            vec![json!({"s": "low", "n": 1}), json!({"s": "high"})],
            json!({"s": "high", "n": 1}),
        ),
        (
            "M05 explicit null hides the lower value",
            vec![json!({"a": {"b": [1]}, "c": 1}), json!({"a": {"b": null}})],
            json!({"a": {}, "c": 1}),
        ),
        (
            "M06 null hides a whole object",
            vec![json!({"a": {"b": 1}}), json!({"a": null})],
            json!({}),
        ),
        (
            "M07 a value above a null comes back",
            vec![
                json!({"a": {"x": 1}}),
                json!({"a": null}),
                json!({"a": {"y": 2}}),
            ],
            json!({"a": {"y": 2}}),
        ),
        (
            "M08 an object replaces a scalar, and the reverse",
            vec![
                json!({"c": ":memory:", "d": {"x": 1}}),
                json!({"c": {"host": "h"}, "d": "s"}),
            ],
            json!({"c": {"host": "h"}, "d": "s"}),
        ),
        (
            "M09 a scalar between two objects cuts the lower one off",
            vec![
                json!({"a": {"x": 1}}),
                json!({"a": 5}),
                json!({"a": {"y": 2}}),
            ],
            json!({"a": {"y": 2}}),
        ),
        (
            "M10 nulls in a single layer are dropped",
            vec![json!({"a": null, "b": {"c": null, "d": 1}})],
            json!({"b": {"d": 1}}),
        ),
        (
            "M11 nulls inside arrays are kept",
            vec![json!({"l": [1, null]})],
            json!({"l": [1, null]}),
        ),
    ]
}

#[test]
fn merge_table() {
    for (id, layers, want) in cases() {
        let named = layers
            .into_iter()
            .enumerate()
            .map(|(i, v)| (format!("layer{i}.yaml"), v));
        let config = Config::from_layers(named).expect("object layers");
        assert_eq!(config.merged(), &want, "{id}");
    }
}

#[test]
fn null_hides_for_readers() {
    let config = Config::from_layers([
        (
            "base.yaml".to_owned(),
            json!({"catalog": {"locations": [{"type": "file"}]}}),
        ),
        (
            "prod.yaml".to_owned(),
            json!({"catalog": {"locations": null}}),
        ),
    ])
    .expect("object layers");
    assert_eq!(
        config
            .get_optional_config_array("catalog.locations")
            .map(|v| v.is_none()),
        Ok(true)
    );
    assert!(!config.has("catalog.locations"));
    assert_eq!(
        config
            .get_config_array("catalog.locations")
            .map(|v| v.len())
            .map_err(|e| e.to_string()),
        Err("Missing required config value at 'catalog.locations' in 'prod.yaml'".to_owned())
    );
}

#[test]
fn deep_merge_table() {
    let rows = [
        (
            "D01 object into object",
            json!({"a": 1}),
            json!({"b": 2}),
            json!({"a": 1, "b": 2}),
        ),
        (
            "D02 scalar over object",
            json!({"a": {"b": 1}}),
            json!({"a": 2}),
            json!({"a": 2}),
        ),
        (
            "D03 null is kept for later layers",
            json!({"a": 1}),
            json!({"a": null}),
            json!({"a": null}),
        ),
        (
            "D04 non-object roots replace",
            json!([1]),
            json!("s"),
            json!("s"),
        ),
    ];
    for (id, lower, higher, want) in rows {
        assert_eq!(deep_merge(&lower, &higher), want, "{id}");
    }
}

#[test]
fn non_object_layers_are_refused() {
    let err = Config::from_layers([("x".to_owned(), json!([1]))]).expect_err("array layer");
    assert_eq!(
        err.to_string(),
        "Config layer 'x' is not an object at its root"
    );
}
