//! Property tests: merging with an empty layer changes nothing, and loading
//! arbitrary text never panics.

use greenroom_config::{Config, deep_merge, load};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::support::Sandbox;

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-z$ {}]{0,8}".prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn object() -> impl Strategy<Value = Value> {
    prop::collection::btree_map("[a-z]{1,4}", value(), 0..5)
        .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>()))
}

/// Pieces that make the generated text look like (often broken) config YAML.
const PIECES: &[&str] = &[
    "a",
    "b:",
    ": ",
    "\n",
    "  ",
    "- ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "'",
    "\"",
    "#",
    "&x ",
    "*x",
    "<<: ",
    "null",
    "~",
    "1e3",
    "0x1F",
    "yes",
    "$env: X",
    "$file: ./f",
    "$include: ./c.yaml",
    "$include: ./c.yaml#a.b",
    "${X}",
    "$${X}",
    "${X:-y}",
    "---\n",
    "...\n",
    "|\n",
    ">-\n",
    "\t",
    "!!str ",
    "? ",
    "%YAML 1.2\n",
    "é",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn merging_an_empty_layer_is_identity(x in object()) {
        let empty = json!({});
        prop_assert_eq!(deep_merge(&x, &empty), x.clone());
        prop_assert_eq!(deep_merge(&empty, &x), x.clone());
        let alone = Config::from_layers([("x".to_owned(), x.clone())]).expect("object");
        let with_empty_above = Config::from_layers([("x".to_owned(), x.clone()), ("e".to_owned(), json!({}))]).expect("object");
        let with_empty_below = Config::from_layers([("e".to_owned(), json!({})), ("x".to_owned(), x)]).expect("object");
        prop_assert_eq!(alone.merged(), with_empty_above.merged());
        prop_assert_eq!(alone.merged(), with_empty_below.merged());
    }

    #[test]
    fn load_never_panics_on_yamlish_text(pieces in prop::collection::vec(prop::sample::select(PIECES), 0..40)) {
        let sandbox = Sandbox::new("prop-yamlish");
        sandbox.write("c.yaml", &pieces.concat());
        sandbox.write("f", "file text\n");
        let options = sandbox.options("", &["c.yaml"], &[("X", "x"), ("APP_CONFIG_a", "1")]);
        let _ = load(&options);
    }

    #[test]
    fn load_never_panics_on_arbitrary_text(text in "\\PC{0,200}") {
        let sandbox = Sandbox::new("prop-text");
        sandbox.write("c.yaml", &text);
        let options = sandbox.options("", &["c.yaml"], &[]);
        let _ = load(&options);
    }
}
