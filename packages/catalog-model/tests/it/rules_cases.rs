//! `catalog.rules` (§14.13, CR01–CR06), configuration errors, location matchers
//! and the glob matcher used by `pattern`.

use std::path::Path;

use greenroom_catalog_model::ProblemKind;
use greenroom_catalog_model::location_ref::LocationRef;
use greenroom_catalog_model::rules::{CatalogRules, RulesError, glob_match};
use greenroom_catalog_model::yaml::parse_value;
use serde_json::{Value, json};

const ROOT_URL: &str = "https://github.com/acme/org/blob/main/org.yaml";

fn entity(kind: &str, name: &str, spec_type: Option<&str>) -> Value {
    let mut e = json!({"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": {"name": name}, "spec": {}});
    if let Some(t) = spec_type {
        e["spec"]["type"] = json!(t);
    }
    e
}

/// Builds rules from a YAML `catalog:` block.
fn rules(config: &str) -> CatalogRules {
    try_rules(config).unwrap_or_else(|e| panic!("config error: {e}"))
}

fn try_rules(config: &str) -> Result<CatalogRules, RulesError> {
    let value = parse_value(config).expect("test config is YAML");
    let catalog = value.get("catalog");
    CatalogRules::from_config(
        catalog.and_then(|c| c.get("rules")),
        catalog.and_then(|c| c.get("locations")),
        Path::new("/srv/backend"),
    )
}

fn check(id: &str, rules: &CatalogRules, entity: &Value, origin: &LocationRef, want: bool) {
    assert_eq!(rules.is_allowed(entity, origin), want, "{id}");
}

#[test]
fn catalog_rule_cases() {
    let url = LocationRef::new("url", ROOT_URL);
    let default = CatalogRules::default();
    assert_eq!(rules("other: 1"), default, "absent rules give the default");

    check("CR01", &default, &entity("Group", "g", None), &url, false);
    check(
        "CR01b",
        &default,
        &entity("Component", "c", None),
        &url,
        true,
    );
    check(
        "CR01c",
        &default,
        &entity("Location", "l", None),
        &url,
        true,
    );

    let lower_kind = rules("catalog:\n  rules:\n    - allow: [component]\n");
    check(
        "CR02",
        &lower_kind,
        &entity("Component", "c", None),
        &url,
        true,
    );
    check("CR02b", &lower_kind, &entity("API", "a", None), &url, false);

    let empty = rules("catalog:\n  rules: []\n");
    for kind in ["Component", "API", "Location", "Group"] {
        check(
            &format!("CR03 {kind}"),
            &empty,
            &entity(kind, "x", None),
            &url,
            false,
        );
    }

    let typed = rules(
        "catalog:\n  rules:\n    - allow:\n        - kind: Resource\n          spec.type: database\n",
    );
    check(
        "CR04",
        &typed,
        &entity("Resource", "db", Some("Database")),
        &url,
        true,
    );
    check(
        "CR04b",
        &typed,
        &entity("resource", "db", Some("database")),
        &url,
        true,
    );
    check(
        "CR04c",
        &typed,
        &entity("Resource", "cache", Some("redis")),
        &url,
        false,
    );
    check(
        "CR04d",
        &typed,
        &entity("Resource", "untyped", None),
        &url,
        false,
    );
}

#[test]
fn cr05_rules_use_the_origin_location() {
    let config = format!(
        "catalog:\n  rules: []\n  locations:\n    - type: url\n      target: {ROOT_URL}\n      rules:\n        - allow: [Group]\n"
    );
    let rules = rules(&config);
    let origin = LocationRef::new("url", ROOT_URL);
    let nested = LocationRef::new(
        "url",
        "https://github.com/acme/org/tree/main/teams/contractors.yaml",
    );
    let group = entity("Group", "contractors", None);
    check("CR05", &rules, &group, &origin, true);
    // The file the group actually sits in is not a configured location.
    check("CR05 nested file", &rules, &group, &nested, false);
    assert_eq!(
        rules.check_children(&[group], &nested, &origin),
        Ok(()),
        "CR05 children"
    );
}

#[test]
fn cr06_one_disallowed_child_fails_the_batch() {
    let rules = CatalogRules::default();
    let location = LocationRef::new("url", "https://github.com/acme/r/tree/main/all.yaml");
    let origin = LocationRef::new("url", ROOT_URL);
    let children = vec![
        entity("Component", "a", None),
        entity("Component", "b", None),
        json!({"kind": "User", "metadata": {"name": "Jdoe", "namespace": "people"}}),
        entity("Component", "c", None),
    ];
    let problem = rules
        .check_children(&children, &location, &origin)
        .expect_err("CR06");
    assert_eq!(problem.kind, ProblemKind::Rules, "CR06");
    assert_eq!(
        problem.message,
        format!(
            "NotAllowedError: Entity user:people/jdoe at url:https://github.com/acme/r/tree/main/all.yaml, originated at url:{ROOT_URL}, is not of an allowed kind for that location"
        ),
        "CR06"
    );
    assert_eq!(
        rules.check_children(&children[..2], &location, &origin),
        Ok(()),
        "CR06 control"
    );
}

#[test]
fn location_matchers() {
    let config = "catalog:
  rules:
    - allow: [Component]
      locations:
        - type: url
          pattern: https://github.com/acme/*/blob/main/catalog-info.yaml
        - type: file
          exact: /srv/catalog/resources.yaml
        - type: url
          exact: https://github.com/acme/exact/blob/main/a%20b.yaml
  locations:
    - type: file
      target: ./local/../org.yaml
      rules:
        - allow: [User]
";
    let rules = rules(config);
    let component = entity("Component", "c", None);
    let user = entity("User", "u", None);
    let rows: Vec<(&str, &Value, LocationRef, bool)> = vec![
        (
            "pattern",
            &component,
            LocationRef::new(
                "url",
                "https://github.com/acme/web/blob/main/catalog-info.yaml",
            ),
            true,
        ),
        (
            "pattern nocase",
            &component,
            LocationRef::new(
                "url",
                "https://GitHub.com/Acme/Web/blob/main/Catalog-Info.yaml",
            ),
            true,
        ),
        (
            "pattern dot repo",
            &component,
            LocationRef::new(
                "url",
                "https://github.com/acme/.github/blob/main/catalog-info.yaml",
            ),
            true,
        ),
        (
            "pattern star no slash",
            &component,
            LocationRef::new(
                "url",
                "https://github.com/acme/a/b/blob/main/catalog-info.yaml",
            ),
            false,
        ),
        (
            "pattern wrong type",
            &component,
            LocationRef::new(
                "file",
                "https://github.com/acme/web/blob/main/catalog-info.yaml",
            ),
            false,
        ),
        (
            "file exact",
            &component,
            LocationRef::new("file", "/srv/catalog/resources.yaml"),
            true,
        ),
        (
            "file exact other",
            &component,
            LocationRef::new("file", "/srv/catalog/other.yaml"),
            false,
        ),
        (
            "url exact encoded",
            &component,
            LocationRef::new("url", "https://github.com/acme/exact/blob/main/a b.yaml"),
            true,
        ),
        (
            "url exact dot smuggling",
            &component,
            LocationRef::new(
                "url",
                "https://github.com/acme/exact/blob/x/%2e%2e/main/a%20b.yaml",
            ),
            true,
        ),
        (
            "url exact encoded slash",
            &component,
            LocationRef::new(
                "url",
                "https://github.com/acme/exact%2fblob/main/a%20b.yaml",
            ),
            true,
        ),
        (
            "url unparsable",
            &component,
            LocationRef::new("url", "not a url"),
            false,
        ),
        (
            "per-location file made absolute",
            &user,
            LocationRef::new("file", "/srv/backend/org.yaml"),
            true,
        ),
        (
            "per-location other file",
            &user,
            LocationRef::new("file", "/srv/backend/local/org.yaml"),
            false,
        ),
    ];
    for (id, entity, location, want) in &rows {
        check(id, &rules, entity, location, *want);
    }
}

#[test]
fn config_errors() {
    let both = "catalog:
  rules:
    - allow: [Component]
      locations:
        - type: url
          exact: https://x/a.yaml
          pattern: https://x/*.yaml
";
    assert_eq!(
        try_rules(both),
        Err(RulesError::ExactAndPattern(
            "catalog.rules[0].locations[0]".into()
        ))
    );
    let rows = [
        (
            "rules not a list",
            "catalog:\n  rules: {allow: [A]}\n",
            "catalog.rules",
        ),
        (
            "allow missing",
            "catalog:\n  rules:\n    - locations: []\n",
            "catalog.rules[0].allow",
        ),
        (
            "allow entry number",
            "catalog:\n  rules:\n    - allow: [1]\n",
            "catalog.rules[0].allow[0]",
        ),
        (
            "allow object without kind",
            "catalog:\n  rules:\n    - allow: [{spec.type: x}]\n",
            "catalog.rules[0].allow[0].kind",
        ),
        (
            "matcher without type",
            "catalog:\n  rules:\n    - allow: [A]\n      locations: [{exact: x}]\n",
            "catalog.rules[0].locations[0].type",
        ),
        (
            "location rules without target",
            "catalog:\n  locations:\n    - type: url\n      rules: [{allow: [User]}]\n",
            "catalog.locations[0].target",
        ),
    ];
    for (id, config, path) in rows {
        match try_rules(config) {
            Err(RulesError::Invalid { path: got, .. }) => assert_eq!(got, path, "{id}"),
            other => panic!("{id}: expected an invalid-config error, got {other:?}"),
        }
    }
    // Locations without rules add nothing and need no validation of their rules.
    let plain = rules("catalog:\n  locations:\n    - type: url\n      target: https://x/a.yaml\n");
    assert_eq!(plain, CatalogRules::default());
}

#[test]
fn glob_matcher() {
    let rows = [
        ("G01", "*.yaml", "a.yaml", true),
        ("G02", "*.yaml", ".hidden.yaml", true),
        ("G03", "*.yaml", "dir/a.yaml", false),
        ("G04", "**/*.yaml", "a/b/c.yaml", true),
        ("G05", "**/*.yaml", "c.yaml", true),
        ("G06", "a/**/z", "a/z", true),
        ("G07", "a/**/z", "a/b/c/z", true),
        ("G08", "a/**/z", "a/b/c/y", false),
        ("G09", "?.txt", "a.txt", true),
        ("G10", "?.txt", "ab.txt", false),
        ("G11", "[a-c]x", "Bx", true),
        ("G12", "[!a-c]x", "dx", true),
        ("G13", "[!a-c]x", "ax", false),
        ("G14", "A*B*C", "axxbyyc", true),
        ("G15", "a*b", "a/b", false),
        ("G16", "\\*", "*", true),
        ("G17", "\\*", "a", false),
        ("G18", "[abc", "[abc", true),
        ("G19", "**", "any/thing/at/all", true),
        ("G20", "https://h/**", "https://h/x/y", true),
    ];
    for (id, pattern, text, want) in rows {
        assert_eq!(glob_match(pattern, text), want, "{id}: {pattern} vs {text}");
    }
}
