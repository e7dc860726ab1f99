//! Table-driven validation cases of catalog-model spec §14.1–§14.8, run through the whole entity validator.
//!
//! Each row changes one field of a minimal valid entity and states whether the
//! result is valid; for invalid rows every reported problem must point at the
//! changed field, so a stray or misplaced problem fails the case too.

use greenroom_catalog_model::entity::{self, check_identity_unchanged};
use greenroom_catalog_model::kinds::{KindSet, KindVerdict, NOT_RECOGNIZED_MESSAGE};
use greenroom_catalog_model::validation::{
    EntityValidator, Validators, is_valid_annotation_key, is_valid_api_version, is_valid_kind,
    is_valid_label_key, validate_entity,
};
use greenroom_catalog_model::{FieldPath, PathSegment, ProblemKind, yaml};
use serde_json::{Value, json};

/// What a row expects from the whole validator.
#[derive(Debug, Clone)]
enum Expect {
    Valid,
    /// Invalid, with every problem at this path.
    At(FieldPath),
    /// Field formats pass, but no kind validator recognises the entity.
    NotRecognized,
}

/// A path from segments; all-digit segments are array indices.
fn p(segments: &[&str]) -> FieldPath {
    FieldPath::from(
        segments
            .iter()
            .map(|s| match s.parse::<usize>() {
                Ok(i) if s.bytes().all(|b| b.is_ascii_digit()) => PathSegment::Index(i),
                _ => PathSegment::Key((*s).to_owned()),
            })
            .collect::<Vec<_>>(),
    )
}

fn yaml(text: &str) -> Value {
    match yaml::parse_value(text) {
        Ok(v) => v,
        Err(e) => panic!("test YAML does not parse: {e:?}\n{text}"),
    }
}

/// The smallest valid `spec` for each built-in kind.
fn minimal_spec(kind: &str) -> Value {
    match kind {
        "API" => json!({"type": "openapi", "lifecycle": "production", "owner": "team-a",
                        "definition": "openapi: 3.0.0"}),
        "Resource" => json!({"type": "database", "owner": "team-a"}),
        "System" | "Domain" => json!({"owner": "team-a"}),
        "Group" => json!({"type": "team", "children": []}),
        "User" => json!({"memberOf": []}),
        "Location" => json!({}),
        "Template" => json!({"type": "service", "steps": [{"action": "fetch:template"}]}),
        _ => json!({"type": "website", "lifecycle": "production", "owner": "team-a"}),
    }
}

fn entity_of(api_version: &str, kind: &str) -> Value {
    json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": "artist-web"},
        "spec": minimal_spec(kind),
    })
}

fn component() -> Value {
    entity_of("backstage.io/v1alpha1", "Component")
}

fn check_with(validator: &EntityValidator, id: &str, entity: &Value, expect: &Expect) {
    let problems = validator.validate(entity);
    match expect {
        Expect::Valid => assert!(
            problems.is_empty(),
            "{id}: expected valid, got {problems:#?}"
        ),
        Expect::At(path) => {
            assert!(
                !problems.is_empty(),
                "{id}: expected a problem at {path}, got none"
            );
            for problem in &problems {
                assert_eq!(
                    &problem.path, path,
                    "{id}: problem at wrong path: {problem:#?}"
                );
            }
        }
        Expect::NotRecognized => {
            assert_eq!(problems.len(), 1, "{id}: {problems:#?}");
            assert_eq!(problems[0].kind, ProblemKind::Kind, "{id}");
            assert_eq!(problems[0].message, NOT_RECOGNIZED_MESSAGE, "{id}");
            assert_eq!(problems[0].path, p(&["kind"]), "{id}");
        }
    }
}

fn check(id: &str, entity: &Value, expect: &Expect) {
    check_with(&EntityValidator::default(), id, entity, expect);
}

/// Sets (or with `None` removes) one `metadata` field of a valid Component.
fn with_metadata(field: &str, value: Option<Value>) -> Value {
    let mut e = component();
    if let Some(meta) = e["metadata"].as_object_mut() {
        match value {
            Some(v) => {
                meta.insert(field.to_owned(), v);
            }
            None => {
                meta.remove(field);
            }
        }
    }
    e
}

// ---------------------------------------------------------------- §14.1 metadata.name

#[test]
fn names_14_1() {
    let s = |v: &str| Some(json!(v));
    let rows: Vec<(&str, Option<Value>, bool)> = vec![
        ("N01", s("a"), true),
        ("N02", s("artist-web"), true),
        ("N03", s("CircleciBuildsDumpV2_avro_gcs"), true),
        ("N04", s("9lives"), true),
        ("N05", s("a--b"), true),
        ("N06", s("a..b"), true),
        ("N07", s("x.y_z-1"), true),
        ("N08", s("-abc"), false),
        ("N09", s("abc-"), false),
        ("N10", s("_abc"), false),
        ("N11", s("abc."), false),
        ("N12", s("a b"), false),
        ("N13", s("a/b"), false),
        ("N14", s("a:b"), false),
        ("N15", s(""), false),
        ("N16", Some(json!("a".repeat(63))), true),
        ("N17", Some(json!("a".repeat(64))), false),
        ("N18", s("ümlaut"), false),
        ("N19", Some(yaml("name: 123")["name"].clone()), false),
        ("N20", None, false),
    ];
    for (id, value, valid) in rows {
        let expect = if valid {
            Expect::Valid
        } else {
            Expect::At(p(&["metadata", "name"]))
        };
        check(id, &with_metadata("name", value), &expect);
    }
}

#[test]
fn name_given_as_yaml_number_is_a_schema_problem_n19() {
    let e = yaml(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: 123\n\
         spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n",
    );
    let problems = validate_entity(&e);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(problems[0].kind, ProblemKind::Schema);
    assert_eq!(problems[0].path, p(&["metadata", "name"]));
    assert_eq!(
        problems[0].message,
        "Malformed envelope, /metadata/name must be string"
    );
    // N20: the envelope check agrees.
    assert_eq!(
        entity::check_envelope(&with_metadata("name", None))[0].path,
        p(&["metadata", "name"])
    );
}

#[test]
fn bad_name_message_has_backstage_shape() {
    let problems = validate_entity(&with_metadata("name", Some(json!("-abc"))));
    assert_eq!(problems[0].kind, ProblemKind::Format);
    assert_eq!(
        problems[0].message,
        "\"metadata.name\" is not valid; expected a string that is sequences of [a-zA-Z0-9] \
         separated by any of [-_.], at most 63 characters in total but found \"-abc\". To learn \
         more about catalog file format, visit: https://github.com/backstage/backstage/blob/\
         master/docs/architecture-decisions/adr002-default-catalog-file-format.md"
    );
}

// ------------------------------------------------------------ §14.2 metadata.namespace

#[test]
fn namespaces_14_2() {
    let s = |v: &str| Some(json!(v));
    let rows: Vec<(&str, Option<Value>, bool)> = vec![
        ("S01", None, true),
        ("S02", s("default"), true),
        ("S03", s("team-a"), true),
        ("S04", s("123"), true),
        ("S05", s("Team-A"), false),
        ("S06", s("a--b"), true),
        ("S07", s("a_b"), false),
        ("S08", s("a.b"), false),
        ("S09", s("-a"), false),
        ("S10 (63)", Some(json!("a".repeat(63))), true),
        ("S10 (64)", Some(json!("a".repeat(64))), false),
        ("S11", s(""), false),
        ("explicit null", Some(Value::Null), false),
    ];
    for (id, value, valid) in rows {
        let expect = if valid {
            Expect::Valid
        } else {
            Expect::At(p(&["metadata", "namespace"]))
        };
        check(id, &with_metadata("namespace", value), &expect);
    }
}

#[test]
fn absent_namespace_is_stored_as_default_s01() {
    let mut e = component();
    assert_eq!(entity::namespace(&e), "default");
    entity::apply_default_namespace(&mut e);
    assert_eq!(e["metadata"]["namespace"], json!("default"));
    assert!(validate_entity(&e).is_empty());
}

#[test]
fn namespace_predicate_is_pluggable() {
    let validator = EntityValidator {
        validators: Validators {
            namespace: |s| {
                !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            },
            ..Validators::default()
        },
        kinds: KindSet::default(),
    };
    let e = with_metadata("namespace", Some(json!("Team-A")));
    check_with(
        &validator,
        "S05 with a custom predicate",
        &e,
        &Expect::Valid,
    );
}

// ------------------------------------------------------------ §14.3 kind and apiVersion

#[test]
fn kinds_and_api_versions_14_3() {
    let v1 = "backstage.io/v1alpha1";
    let rows: Vec<(&str, &str, String, Expect)> = vec![
        ("K01", v1, "Component".into(), Expect::Valid),
        ("K02", v1, "API".into(), Expect::Valid),
        ("K03", v1, "component".into(), Expect::NotRecognized),
        ("K04", v1, "My-Kind".into(), Expect::At(p(&["kind"]))),
        ("K05", v1, "9Kind".into(), Expect::At(p(&["kind"]))),
        ("K06", v1, "A".repeat(64), Expect::At(p(&["kind"]))),
        ("K07", "acme.io/v1", "Widget".into(), Expect::NotRecognized),
        ("A01", v1, "Component".into(), Expect::Valid),
        (
            "A02",
            "backstage.io/v1beta1",
            "Component".into(),
            Expect::Valid,
        ),
        ("A03", "v1", "Component".into(), Expect::NotRecognized),
        (
            "A04",
            "my-company.net/v1",
            "Component".into(),
            Expect::NotRecognized,
        ),
        (
            "A05",
            "1.0",
            "Component".into(),
            Expect::At(p(&["apiVersion"])),
        ),
        (
            "A06",
            "backstage.io/v1/alpha",
            "Component".into(),
            Expect::At(p(&["apiVersion"])),
        ),
        (
            "A07",
            "Backstage.io/v1alpha1",
            "Component".into(),
            Expect::At(p(&["apiVersion"])),
        ),
        (
            "A08",
            "backstage.io/v1-alpha1",
            "Component".into(),
            Expect::At(p(&["apiVersion"])),
        ),
        (
            "A09",
            "/v1",
            "Component".into(),
            Expect::At(p(&["apiVersion"])),
        ),
        (
            "A10",
            "backstage.io/v2",
            "Component".into(),
            Expect::NotRecognized,
        ),
        (
            "A11",
            "scaffolder.backstage.io/v1beta3",
            "Template".into(),
            Expect::Valid,
        ),
    ];
    for (id, api_version, kind, expect) in rows {
        check(id, &entity_of(api_version, &kind), &expect);
        // The format rules alone agree with the table: "format valid" rows pass them.
        let format_ok = !matches!(expect, Expect::At(_));
        assert_eq!(
            is_valid_api_version(api_version) && is_valid_kind(&kind),
            format_ok,
            "{id}: format predicates"
        );
    }
}

#[test]
fn v1beta1_is_accepted_by_every_backstage_kind_a02() {
    for kind in [
        "Component",
        "API",
        "Resource",
        "System",
        "Domain",
        "Group",
        "User",
        "Location",
    ] {
        for api_version in ["backstage.io/v1alpha1", "backstage.io/v1beta1"] {
            check(
                &format!("A02 {kind} {api_version}"),
                &entity_of(api_version, kind),
                &Expect::Valid,
            );
        }
    }
    // Template only takes the scaffolder apiVersion.
    check(
        "A02 Template",
        &entity_of("backstage.io/v1beta1", "Template"),
        &Expect::NotRecognized,
    );
}

#[test]
fn template_needs_the_scaffolder_module_a11() {
    let core = EntityValidator {
        validators: Validators::default(),
        kinds: KindSet::core(),
    };
    let template = entity_of("scaffolder.backstage.io/v1beta3", "Template");
    check_with(
        &core,
        "A11 without scaffolder",
        &template,
        &Expect::NotRecognized,
    );
}

#[test]
fn custom_kind_validator_recognises_widget_k07() {
    let widget = entity_of("acme.io/v1", "Widget");
    let validator = EntityValidator {
        validators: Validators::default(),
        kinds: KindSet::default().with(|e: &Value| {
            if entity::kind(e) != Some("Widget") {
                KindVerdict::NotMine
            } else if e["spec"]["colour"].is_string() {
                KindVerdict::Valid
            } else {
                KindVerdict::Invalid(vec![greenroom_catalog_model::Problem::new(
                    ProblemKind::Kind,
                    p(&["spec", "colour"]),
                    "spec must have required property 'colour'",
                )])
            }
        }),
    };
    check_with(
        &validator,
        "K07 bad widget",
        &widget,
        &Expect::At(p(&["spec", "colour"])),
    );
    let mut good = widget;
    good["spec"]["colour"] = json!("blue");
    check_with(&validator, "K07 custom", &good, &Expect::Valid);
}

// ---------------------------------------------------------------------- §14.4 labels

fn with_label(key: &str, value: Value) -> Value {
    with_metadata("labels", Some(json!({ key: value })))
}

#[test]
fn label_keys_14_4() {
    let long_prefix = format!("{}.com", "a".repeat(250));
    assert_eq!(long_prefix.len(), 254);
    let l11 = format!("{long_prefix}/a");
    let rows: Vec<(&str, &str, bool)> = vec![
        ("L01", "tier", true),
        ("L02", "example.com/tier", true),
        ("L03", "example.com/Tier_Name.v2", true),
        ("L04", "Example.com/tier", false),
        ("L05", "a/b/c", false),
        ("L06", "example.com/", false),
        ("L07", "/tier", false),
        ("L08", "exa_mple.com/tier", false),
        ("L09", "example..com/tier", false),
        ("L10", "-x.com/tier", false),
        ("L11", &l11, false),
    ];
    for (id, key, valid) in rows {
        let expect = if valid {
            Expect::Valid
        } else {
            Expect::At(p(&["metadata", "labels", key]))
        };
        check(id, &with_label(key, json!("x")), &expect);
        assert_eq!(is_valid_label_key(key), valid, "{id}: predicate");
    }
}

#[test]
fn label_values_14_4() {
    let rows: Vec<(&str, Value, bool)> = vec![
        ("V01", json!(""), true),
        ("V02", json!("production"), true),
        ("V03", json!("v1.2.3"), true),
        ("V04", json!("has space"), false),
        ("V05", json!("-x"), false),
        ("V06", yaml("enabled: true")["enabled"].clone(), false),
        ("null value", Value::Null, false),
    ];
    for (id, value, valid) in rows {
        let expect = if valid {
            Expect::Valid
        } else {
            Expect::At(p(&["metadata", "labels", "tier"]))
        };
        check(id, &with_label("tier", value), &expect);
    }
}

// ----------------------------------------------------------------- §14.5 annotations

#[test]
fn annotations_14_5() {
    let an07 = "line one / with spaces\n".repeat(500)[..10_000].to_owned();
    let rows: Vec<(&str, Value, &str, bool)> = vec![
        (
            "AN01",
            json!({"backstage.io/techdocs-ref": "dir:."}),
            "backstage.io/techdocs-ref",
            true,
        ),
        (
            "AN02",
            json!({"github.com/project-slug": "o/r"}),
            "github.com/project-slug",
            true,
        ),
        ("AN03", json!({"my-annotation": "x"}), "my-annotation", true),
        (
            "AN04",
            json!({"backstage.io/techdocs ref": "x"}),
            "backstage.io/techdocs ref",
            false,
        ),
        ("AN05", json!({"a/b/c": "x"}), "a/b/c", false),
        ("AN06", json!({"note": ""}), "note", true),
        ("AN07", json!({ "note": an07 }), "note", true),
        (
            "AN08",
            yaml("backstage.io/orphan: true"),
            "backstage.io/orphan",
            false,
        ),
        (
            "AN09",
            yaml("github.com/user-id: 123456"),
            "github.com/user-id",
            false,
        ),
        (
            "AN10",
            yaml("github.com/user-id: '123456'"),
            "github.com/user-id",
            true,
        ),
    ];
    for (id, annotations, key, valid) in rows {
        let expect = if valid {
            Expect::Valid
        } else {
            Expect::At(p(&["metadata", "annotations", key]))
        };
        check(
            id,
            &with_metadata("annotations", Some(annotations)),
            &expect,
        );
        if id.len() == 4 && ["AN01", "AN02", "AN03", "AN04", "AN05"].contains(&id) {
            assert_eq!(is_valid_annotation_key(key), valid, "{id}: predicate");
        }
    }
}

// ------------------------------------------------------------------------ §14.6 tags

#[test]
fn tags_14_6() {
    let rows: Vec<(&str, String, bool)> = vec![
        ("T01", "java".into(), true),
        ("T02", "c++".into(), true),
        ("T03", "c#".into(), true),
        ("T04", "k8s:prod".into(), true),
        ("T05", "web-frontend".into(), true),
        ("T06", "Java".into(), false),
        ("T07", "my_tag".into(), false),
        ("T08", "a--b".into(), false),
        ("T09", "-java".into(), false),
        ("T10", "dotnet.core".into(), false),
        ("T11", "go lang".into(), false),
        ("T12", String::new(), false),
        ("T13 (63)", "a".repeat(63), true),
        ("T13 (64)", "a".repeat(64), false),
    ];
    for (id, tag, valid) in rows {
        // The case under test sits at index 2 behind two good tags.
        let e = with_metadata("tags", Some(json!(["rust", "web", tag])));
        let expect = if valid {
            Expect::Valid
        } else {
            Expect::At(p(&["metadata", "tags", "2"]))
        };
        check(id, &e, &expect);
    }
    let null_item = with_metadata("tags", Some(json!(["rust", null])));
    check(
        "null tag",
        &null_item,
        &Expect::At(p(&["metadata", "tags", "1"])),
    );
}

// ----------------------------------------------------------------------- §14.7 links

#[test]
fn links_14_7() {
    let rows: Vec<(&str, &str, Option<&str>)> = vec![
        ("LK01", "{url: https://example.com}", None),
        ("LK02", "{url: 'mailto:team@example.com'}", None),
        ("LK03", "{url: not a url}", Some("url")),
        ("LK04", "{url: /relative/path}", Some("url")),
        ("LK05", "{title: Docs}", Some("url")),
        ("LK06", "{url: https://x.io, title: '   '}", Some("title")),
        (
            "LK07",
            "{url: https://x.io, title: 'Docs – Español ✓'}",
            None,
        ),
        ("LK08", "{url: https://x.io, icon: 'my icon'}", None),
        (
            "LK09",
            "{url: https://x.io, icon: dashboard, type: admin-dashboard}",
            None,
        ),
        (
            "null title",
            "{url: https://x.io, title: null}",
            Some("title"),
        ),
        ("blank icon", "{url: https://x.io, icon: ' '}", Some("icon")),
        ("empty type", "{url: https://x.io, type: ''}", Some("type")),
    ];
    for (id, link, bad_field) in rows {
        // The case under test is the second link, after a valid one.
        let links = json!([{"url": "https://backstage.io"}, yaml(link)]);
        let expect = match bad_field {
            None => Expect::Valid,
            Some(field) => Expect::At(p(&["metadata", "links", "1", field])),
        };
        check(id, &with_metadata("links", Some(links)), &expect);
    }
}

// --------------------------------------------------------- §14.8 envelope and kind schemas

const COMPONENT_YAML: &str = "apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: artist-web
spec:
  type: website
  lifecycle: production
  owner: team-a
";

#[test]
fn envelope_and_kind_schemas_14_8() {
    let rows: Vec<(&str, String, Expect)> = vec![
        (
            "E01",
            format!("{COMPONENT_YAML}relations: []\n"),
            Expect::At(p(&["relations"])),
        ),
        (
            "E02",
            format!("{COMPONENT_YAML}status: {{}}\n"),
            Expect::At(p(&["status"])),
        ),
        (
            "E03",
            format!("{COMPONENT_YAML}owner: x\n"),
            Expect::At(p(&["owner"])),
        ),
        (
            "E04",
            COMPONENT_YAML.replace(
                "  name: artist-web",
                "  name: artist-web\n  costCenter: '42'",
            ),
            Expect::Valid,
        ),
        (
            "E05",
            format!("{COMPONENT_YAML}  tier: gold\n"),
            Expect::Valid,
        ),
        (
            "E06",
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: a\n".into(),
            Expect::At(p(&["spec"])),
        ),
        (
            "E07",
            COMPONENT_YAML.replace("  lifecycle: production\n", ""),
            Expect::At(p(&["spec", "lifecycle"])),
        ),
        (
            // The result of substituting `definition: {$json: ./openapi.json}`.
            "E08",
            "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: a\nspec:\n  \
             type: openapi\n  lifecycle: production\n  owner: team-a\n  definition:\n    \
             openapi: 3.0.0\n    info: {title: A}\n"
                .into(),
            Expect::At(p(&["spec", "definition"])),
        ),
        (
            "E09 (no children)",
            "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: g\nspec:\n  \
             type: team\n"
                .into(),
            Expect::At(p(&["spec", "children"])),
        ),
        (
            "E09 (children: [])",
            "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: g\nspec:\n  \
             type: team\n  children: []\n"
                .into(),
            Expect::Valid,
        ),
        (
            "E10 (no memberOf)",
            "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: u\nspec: {}\n"
                .into(),
            Expect::At(p(&["spec", "memberOf"])),
        ),
        (
            "E10 (memberOf: [])",
            "apiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: u\nspec:\n  \
             memberOf: []\n"
                .into(),
            Expect::Valid,
        ),
        (
            "E11",
            "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: l\nspec: {}\n"
                .into(),
            Expect::Valid,
        ),
        (
            "E12",
            "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: t\n\
             spec:\n  type: service\n"
                .into(),
            Expect::At(p(&["spec", "steps"])),
        ),
        (
            "E13",
            "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: t\n\
             spec:\n  type: service\n  steps:\n    - id: fetch\n      name: Fetch\n"
                .into(),
            Expect::At(p(&["spec", "steps", "0", "action"])),
        ),
    ];
    for (id, text, expect) in rows {
        check(id, &yaml(&text), &expect);
    }
}

#[test]
fn foreign_root_fields_are_named_e01_e02() {
    for (field, value) in [("relations", json!([])), ("status", json!({}))] {
        let mut e = component();
        e[field] = value;
        let problems = validate_entity(&e);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert_eq!(problems[0].message, format!("Unknown field {field}"));
    }
    // The schema policy runs first: a `status` that is not even an object is
    // reported as such, before the field itself is refused.
    // E03: any other root field is an additional property of the root object.
    let mut e = component();
    e["owner"] = json!("x");
    let problems = validate_entity(&e);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(problems[0].path, p(&["owner"]));
    assert_eq!(
        problems[0].message,
        "Malformed envelope, <root> must NOT have additional properties"
    );
    let mut e = component();
    e["status"] = json!([]);
    let messages: Vec<String> = validate_entity(&e).into_iter().map(|p| p.message).collect();
    assert_eq!(
        messages,
        [
            "Malformed envelope, /status must be object",
            "Unknown field status"
        ]
    );
}

#[test]
fn unknown_keys_are_kept_e04_e05() {
    let mut e = yaml(&format!("{COMPONENT_YAML}  tier: gold\n"));
    e["metadata"]["costCenter"] = json!("42");
    let before = e.clone();
    assert!(validate_entity(&e).is_empty());
    entity::apply_default_namespace(&mut e);
    assert_eq!(
        e["metadata"]["costCenter"],
        before["metadata"]["costCenter"]
    );
    assert_eq!(e["spec"]["tier"], json!("gold"));
}

#[test]
fn definition_must_be_a_string_after_substitution_e08() {
    let mut api = entity_of("backstage.io/v1alpha1", "API");
    api["spec"]["definition"] = json!({"openapi": "3.0.0"});
    let problems = validate_entity(&api);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(problems[0].kind, ProblemKind::Kind);
    assert_eq!(problems[0].path, p(&["spec", "definition"]));
    assert_eq!(
        problems[0].message,
        "/spec/definition must be string - type: string"
    );
}

#[test]
fn identity_change_is_fatal_e14() {
    let before = component();
    let rows: Vec<(&str, Value, Option<FieldPath>)> = vec![
        (
            "E14 name changed",
            with_metadata("name", Some(json!("other"))),
            Some(p(&["metadata", "name"])),
        ),
        (
            "E14 case only",
            with_metadata("name", Some(json!("Artist-Web"))),
            None,
        ),
        (
            "E14 namespace defaulted",
            with_metadata("namespace", Some(json!("default"))),
            None,
        ),
        (
            "E14 namespace changed",
            with_metadata("namespace", Some(json!("ops"))),
            Some(p(&["metadata", "namespace"])),
        ),
        (
            "E14 kind changed",
            entity_of("backstage.io/v1alpha1", "Resource"),
            Some(p(&["kind"])),
        ),
        (
            "E14 spec changed",
            {
                let mut e = component();
                e["spec"]["owner"] = json!("team-b");
                e
            },
            None,
        ),
    ];
    for (id, after, expected) in rows {
        match (check_identity_unchanged(&before, &after), expected) {
            (Ok(()), None) => {}
            (Err(problem), Some(path)) => {
                assert_eq!(problem.path, path, "{id}");
                assert!(
                    problem.message.contains("changed during processing"),
                    "{id}"
                );
            }
            (got, want) => panic!("{id}: got {got:?}, wanted a problem at {want:?}"),
        }
    }
}

// ------------------------------------------------------------- reporting all problems

#[test]
fn every_problem_is_reported_with_its_path() {
    let e = yaml(
        "apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: -bad
  namespace: Team-A
  labels: {'Example.com/tier': ok, tier: has space}
  annotations: {backstage.io/orphan: true}
  tags: [java, Java]
  links: [{url: nope}]
spec:
  type: service
  owner: ''
status: {}
",
    );
    let paths: Vec<String> = validate_entity(&e)
        .iter()
        .map(|problem| problem.path.to_string())
        .collect();
    let mut sorted = paths.clone();
    sorted.sort();
    let mut expected = vec![
        "metadata.name",
        "metadata.namespace",
        "metadata.labels.Example.com/tier",
        "metadata.labels.tier",
        "metadata.annotations.backstage.io/orphan",
        "metadata.tags.1",
        "metadata.links.0.url",
        "status",
        "spec.lifecycle",
        "spec.owner",
    ];
    expected.sort_unstable();
    assert_eq!(sorted, expected, "{paths:#?}");
    // Kind problems come after the policy problems, as in Backstage's pipeline.
    assert!(paths.last().is_some_and(|last| last.starts_with("spec.")));
}

#[test]
fn broken_header_skips_kind_validation() {
    let e = json!({"kind": "Component", "metadata": {"name": "a"}, "spec": "nope"});
    let problems = validate_entity(&e);
    let paths: Vec<String> = problems
        .iter()
        .map(|problem| problem.path.to_string())
        .collect();
    assert_eq!(paths, ["apiVersion", "spec"], "{problems:#?}");
    assert!(validate_entity(&json!("text"))[0].path.is_root());
}

#[test]
fn non_object_spec_is_reported_once() {
    let mut e = component();
    e["spec"] = json!([1]);
    let problems = validate_entity(&e);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(problems[0].path, p(&["spec"]));
}
