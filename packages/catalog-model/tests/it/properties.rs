//! Property tests: no input, however malformed, makes parsing or validation panic.

use greenroom_catalog_model::descriptor::{CheckOptions, check_descriptor};
use greenroom_catalog_model::location_ref::LocationRef;
use greenroom_catalog_model::placeholder::{PlaceholderReader, ReadError, ReadTarget, block_on};
use greenroom_catalog_model::relations::derive_relations;
use greenroom_catalog_model::validation::EntityValidator;
use greenroom_catalog_model::yaml::parse_documents;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Answers every read with fixed text, so placeholders in generated input resolve.
struct EchoReader;

impl PlaceholderReader for EchoReader {
    fn read(
        &self,
        target: &ReadTarget,
    ) -> impl std::future::Future<Output = Result<String, ReadError>> + Send {
        let result = if target.target.contains("missing") {
            Err(ReadError::NotFound(target.target.clone()))
        } else {
            Ok("a: [1, 2]\n".to_owned())
        };
        std::future::ready(result)
    }
}

fn check_text(text: &str) {
    let validator = EntityValidator::default();
    let location = LocationRef {
        location_type: "file".to_owned(),
        target: "/catalog/catalog-info.yaml".to_owned(),
    };
    let options = CheckOptions {
        location: &location,
        file_root: Some(std::path::Path::new("/catalog")),
        validator: &validator,
        unchecked_marker: None,
    };
    let report = block_on(check_descriptor(text, &options, &EchoReader));
    // Whatever came out must be self-consistent: a finding always has a real line.
    for finding in &report.findings {
        assert!(finding.pos.line >= 1, "{finding:?}");
    }
}

/// Text made of YAML's structural pieces, so that generated input reaches deep into
/// the parser and the validator instead of failing on the first character.
fn yamlish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("apiVersion: backstage.io/v1alpha1\n".to_owned()),
        Just("kind: Component\n".to_owned()),
        Just("kind: API\n".to_owned()),
        Just("kind: Group\n".to_owned()),
        Just("metadata:\n".to_owned()),
        Just("  name: x\n".to_owned()),
        Just("  namespace: ".to_owned()),
        Just("spec:\n".to_owned()),
        Just("  owner: ".to_owned()),
        Just("  dependsOn: [".to_owned()),
        Just("  definition:\n    $text: ".to_owned()),
        Just("$json: ./missing.json\n".to_owned()),
        Just("  - ".to_owned()),
        Just("---\n".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just(": ".to_owned()),
        Just("\n".to_owned()),
        Just("  ".to_owned()),
        Just("&a ".to_owned()),
        Just("*a".to_owned()),
        Just("<<: ".to_owned()),
        Just("'q".to_owned()),
        Just("\"".to_owned()),
        Just("|\n".to_owned()),
        Just("~".to_owned()),
        Just("!!str ".to_owned()),
        "[a-zA-Z0-9:/._-]{0,12}",
    ];
    prop::collection::vec(token, 0..40).prop_map(|parts| parts.concat())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,20}".prop_map(Value::String),
        "[a-z:/$-]{0,10}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("[a-zA-Z$]{0,8}", inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A valid Component with one field replaced by an arbitrary value.
fn mutated_entity() -> impl Strategy<Value = Value> {
    let fields = prop_oneof![
        Just(vec!["apiVersion"]),
        Just(vec!["kind"]),
        Just(vec!["metadata"]),
        Just(vec!["metadata", "name"]),
        Just(vec!["metadata", "namespace"]),
        Just(vec!["metadata", "labels"]),
        Just(vec!["metadata", "annotations"]),
        Just(vec!["metadata", "tags"]),
        Just(vec!["metadata", "links"]),
        Just(vec!["spec"]),
        Just(vec!["spec", "owner"]),
        Just(vec!["spec", "dependsOn"]),
        Just(vec!["spec", "providesApis"]),
        Just(vec!["spec", "system"]),
        Just(vec!["relations"]),
    ];
    (fields, json_value()).prop_map(|(path, replacement)| {
        let mut entity = json!({
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Component",
            "metadata": {"name": "web", "labels": {"a": "b"}, "tags": ["x"], "links": [{"url": "https://x.io"}]},
            "spec": {"type": "service", "lifecycle": "production", "owner": "team-a", "dependsOn": ["resource:db"]},
        });
        let mut node = &mut entity;
        for key in &path[..path.len() - 1] {
            node = &mut node[*key];
        }
        node[path[path.len() - 1]] = replacement;
        entity
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,200}") {
        check_text(&text);
        let _ = parse_documents(&text);
    }

    #[test]
    fn yaml_shaped_text_never_panics(text in yamlish()) {
        check_text(&text);
    }

    #[test]
    fn arbitrary_json_never_panics(value in json_value()) {
        let validator = EntityValidator::default();
        let _ = validator.validate(&value);
        let _ = derive_relations(&value);
        check_text(&value.to_string());
    }

    #[test]
    fn mutated_entities_never_panic_and_stay_judged(entity in mutated_entity()) {
        let validator = EntityValidator::default();
        let problems = validator.validate(&entity);
        let _ = derive_relations(&entity);
        // `relations` at the root is never allowed in a descriptor.
        if entity.get("relations").is_some() {
            prop_assert!(!problems.is_empty());
        }
        check_text(&entity.to_string());
    }
}
