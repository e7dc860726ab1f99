//! Entity references (§14.9, RF01–RF23), location references (§14.11, LR01–LR06),
//! generated location names and SCM URL resolution.

use greenroom_catalog_model::entity_ref::{
    CompoundRef, EntityRef, RefDefaults, RefError, entity_matches_ref, entity_ref_of,
    parse_compound_ref, parse_entity_ref, stringify_entity_ref,
};
use greenroom_catalog_model::location_ref::{
    LocationRef, LocationRefError, generated_location_name, parse_location_ref, resolve_url,
    source_location,
};
use serde_json::json;

/// Expected outcome of a string or compound reference.
enum Want {
    Ok(&'static str, &'static str, &'static str),
    Err(&'static str),
}

fn check_ref(id: &str, got: Result<EntityRef, RefError>, want: &Want) {
    match (got, want) {
        (Ok(r), Want::Ok(kind, namespace, name)) => {
            assert_eq!(
                (r.kind.as_str(), r.namespace.as_str(), r.name.as_str()),
                (*kind, *namespace, *name),
                "{id}"
            );
        }
        (Err(e), Want::Err(message)) => assert_eq!(e.to_string(), *message, "{id}"),
        (Ok(r), Want::Err(message)) => panic!("{id}: expected error {message:?}, got {r:?}"),
        (Err(e), Want::Ok(..)) => panic!("{id}: expected success, got error {e}"),
    }
}

#[test]
fn string_refs() {
    let none = RefDefaults::default();
    let group_ns1 = RefDefaults::kind_and_namespace("Group", "ns1");
    let group = RefDefaults::kind("Group");
    let x = RefDefaults::kind("X");
    let form = |input: &str| {
        format!("Entity reference \"{input}\" was not on the form [<kind>:][<namespace>/]<name>")
    };
    let rows: Vec<(&str, &str, RefDefaults<'_>, Want)> = vec![
        (
            "RF01",
            "component:default/artist-web",
            none,
            Want::Ok("component", "default", "artist-web"),
        ),
        (
            "RF02",
            "artist-web",
            group_ns1,
            Want::Ok("Group", "ns1", "artist-web"),
        ),
        (
            "RF03",
            "artist-web",
            none,
            Want::Err(
                "Entity reference \"artist-web\" had missing or empty kind (e.g. did not start with \"component:\" or similar)",
            ),
        ),
        (
            "RF04",
            "group:pet-managers",
            none,
            Want::Ok("group", "default", "pet-managers"),
        ),
        (
            "RF05",
            "ns1/pet-managers",
            group,
            Want::Ok("Group", "ns1", "pet-managers"),
        ),
        (
            "RF06",
            "Component:Default/Artist-Web",
            none,
            Want::Ok("Component", "Default", "Artist-Web"),
        ),
        (
            "RF07",
            "",
            none,
            Want::Err("Entity reference must not be empty"),
        ),
        ("RF08", ":b/c", none, Want::Err(leak(form(":b/c")))),
        ("RF09", "a:/c", none, Want::Err(leak(form("a:/c")))),
        ("RF10", "a:b/", none, Want::Err(leak(form("a:b/")))),
        ("RF11", "a:", none, Want::Err(leak(form("a:")))),
        ("RF12", "/c", x, Want::Err(leak(form("/c")))),
        ("RF13", "a:b:c", none, Want::Ok("a", "default", "b:c")),
        ("RF14", "a/b:c", x, Want::Ok("X", "a", "b:c")),
        (
            "RF15",
            "a/b:c",
            none,
            Want::Err(
                "Entity reference \"a/b:c\" had missing or empty kind (e.g. did not start with \"component:\" or similar)",
            ),
        ),
        ("RF16", "a:b/c/d", none, Want::Ok("a", "b", "c/d")),
        (
            "RF17",
            " group:ops",
            none,
            Want::Ok(" group", "default", "ops"),
        ),
        // An empty default namespace falls back to `default` (§4.3).
        (
            "RF02b",
            "x",
            RefDefaults::kind_and_namespace("K", ""),
            Want::Ok("K", "default", "x"),
        ),
    ];
    for (id, input, defaults, want) in &rows {
        check_ref(id, parse_entity_ref(input, *defaults), want);
    }
}

/// Test-only helper: the table holds `&'static str`, and a handful of formatted
/// messages is a negligible leak in a test process.
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

#[test]
fn rf06_canonical_form() {
    let r = parse_entity_ref("Component:Default/Artist-Web", RefDefaults::default())
        .expect("RF06 parses");
    assert_eq!(r.to_canonical(), "component:default/artist-web", "RF06");
    assert_eq!(
        r.to_string(),
        "component:default/artist-web",
        "RF06 Display"
    );
}

#[test]
fn rf17_leading_space_matches_nothing() {
    let entity = json!({"kind": "Group", "metadata": {"name": "ops"}});
    assert!(
        !entity_matches_ref(&entity, " group:ops", RefDefaults::default()),
        "RF17"
    );
    assert!(
        entity_matches_ref(&entity, "group:ops", RefDefaults::default()),
        "RF17 control"
    );
}

#[test]
fn compound_refs() {
    let api = RefDefaults::kind("API");
    let compound = |kind: Option<&str>, namespace: Option<&str>, name: &str| CompoundRef {
        kind: kind.map(str::to_owned),
        namespace: namespace.map(str::to_owned),
        name: name.to_owned(),
    };
    let rows = [
        (
            "RF18",
            compound(None, None, "x"),
            api,
            Want::Ok("API", "default", "x"),
        ),
        (
            "RF19",
            compound(Some(""), None, "x"),
            api,
            Want::Err(
                "Entity reference {\"kind\":\"\",\"name\":\"x\"} had missing or empty kind (e.g. did not start with \"component:\" or similar)",
            ),
        ),
        (
            "RF20",
            compound(Some("Group"), Some(""), "x"),
            RefDefaults::default(),
            Want::Err(
                "Entity reference {\"kind\":\"Group\",\"namespace\":\"\",\"name\":\"x\"} had missing or empty namespace",
            ),
        ),
        (
            "RF20b",
            compound(Some("Group"), None, ""),
            RefDefaults::default(),
            Want::Err(
                "Entity reference {\"kind\":\"Group\",\"name\":\"\"} had missing or empty name",
            ),
        ),
    ];
    for (id, input, defaults, want) in &rows {
        check_ref(id, parse_compound_ref(input, *defaults), want);
    }
}

#[test]
fn stringify_and_compare() {
    assert_eq!(
        stringify_entity_ref("Group", None, "Ops"),
        "group:default/ops",
        "RF21"
    );
    assert_eq!(
        stringify_entity_ref("A", Some("NS"), "B"),
        "a:ns/b",
        "RF21b"
    );
    // Text beyond ASCII is lower-cased per character, as before the ASCII path.
    assert_eq!(
        stringify_entity_ref("Gruppe", Some("ÄRGER"), "ΣTRASSE-Ö"),
        "gruppe:ärger/σtrasse-ö",
        "RF21c"
    );

    let rows = [
        (
            "RF22",
            json!({"kind": "K", "metadata": {"namespace": "ns", "name": "n"}}),
            "k:nS/N",
            true,
        ),
        (
            "RF23",
            json!({"kind": "K", "metadata": {"name": "n"}}),
            "K:deFault/n",
            true,
        ),
        (
            "RF23b",
            json!({"kind": "K", "metadata": {"namespace": "", "name": "n"}}),
            "k:default/n",
            true,
        ),
        (
            "RF22b",
            json!({"kind": "K", "metadata": {"namespace": "ns", "name": "n"}}),
            "k:other/n",
            false,
        ),
        (
            "RF22c",
            json!({"kind": "K", "metadata": {"name": "n"}}),
            "not a: valid/",
            false,
        ),
    ];
    for (id, entity, reference, want) in &rows {
        assert_eq!(
            entity_matches_ref(entity, reference, RefDefaults::default()),
            *want,
            "{id}"
        );
    }

    let own = entity_ref_of(&json!({"kind": "K", "metadata": {"namespace": "", "name": "n"}}));
    assert_eq!(
        own,
        Some(EntityRef::new("K", "default", "n")),
        "empty namespace defaults"
    );
    assert_eq!(
        entity_ref_of(&json!({"kind": "K", "metadata": {}})),
        None,
        "no name"
    );

    let a = EntityRef::new("Component", "Default", "Web");
    assert!(a.same_entity(&EntityRef::new("component", "default", "web")));
    assert!(!a.same_entity(&EntityRef::new("component", "default", "web2")));
}

#[test]
fn location_refs() {
    let hint = |r: &str| LocationRefError::BareUrl(r.to_owned()).to_string();
    let malformed = |r: &str| {
        format!(
            "Unable to parse location reference '{r}', expected '<type>:<target>', e.g. 'url:https://host/path'"
        )
    };
    type Row<'a> = (&'a str, &'a str, Result<(&'a str, &'a str), String>);
    let rows: Vec<Row<'_>> = vec![
        (
            "LR01",
            "url:https://github.com/o/r/blob/main/catalog-info.yaml",
            Ok(("url", "https://github.com/o/r/blob/main/catalog-info.yaml")),
        ),
        (
            "LR02",
            "file:/srv/catalog/all.yaml",
            Ok(("file", "/srv/catalog/all.yaml")),
        ),
        (
            "LR03",
            "https://github.com/o/r",
            Err(hint("https://github.com/o/r")),
        ),
        ("LR03b", "http://x", Err(hint("http://x"))),
        ("LR04", "nocolon", Err(malformed("nocolon"))),
        ("LR05", "url:", Err(malformed("url:"))),
        ("LR05b", " :x", Err(malformed(" :x"))),
        ("LR06", " url : https://x ", Ok(("url", "https://x"))),
    ];
    for (id, input, want) in &rows {
        let got = parse_location_ref(input);
        match (got, want) {
            (Ok(r), Ok((t, target))) => {
                assert_eq!(
                    (r.location_type.as_str(), r.target.as_str()),
                    (*t, *target),
                    "{id}"
                );
            }
            (Err(e), Err(message)) => assert_eq!(&e.to_string(), message, "{id}"),
            (got, want) => panic!("{id}: got {got:?}, want {want:?}"),
        }
    }
    assert!(
        hint("https://github.com/o/r").contains("prefix it with 'url:'"),
        "LR03 hint mentions url:"
    );
    let r = LocationRef::new("url", "https://x/y:z");
    assert_eq!(r.to_string(), "url:https://x/y:z");
    assert_eq!(
        parse_location_ref(&r.to_string()),
        Ok(r),
        "round trip keeps later colons"
    );
}

#[test]
fn generated_name_example() {
    assert_eq!(
        generated_location_name(
            "url",
            "https://github.com/acme/logistics-catalog/blob/main/catalog-info.yaml"
        ),
        "generated-26a97ba8e1eed9b436e69cfae8de6e6c1bee3e67"
    );
}

#[test]
fn source_location_prefers_source_annotation() {
    let both = json!({"metadata": {"annotations": {
        "backstage.io/source-location": "url:https://github.com/o/r/tree/main/",
        "backstage.io/managed-by-location": "url:https://github.com/o/r/blob/main/catalog-info.yaml",
    }}});
    let managed_only = json!({"metadata": {"annotations": {
        "backstage.io/managed-by-location": "file:/srv/x.yaml",
    }}});
    assert_eq!(
        source_location(&both),
        Some(LocationRef::new("url", "https://github.com/o/r/tree/main/"))
    );
    assert_eq!(
        source_location(&managed_only),
        Some(LocationRef::new("file", "/srv/x.yaml"))
    );
    assert_eq!(source_location(&json!({"metadata": {}})), None);
}

#[test]
fn url_resolution() {
    let gh = "https://github.com/acme/r/blob/main/catalog-info.yaml";
    let rows: Vec<(&str, &str, &str, Result<&str, ()>)> = vec![
        (
            "U01 sibling",
            gh,
            "./api.yaml",
            Ok("https://github.com/acme/r/tree/main/api.yaml"),
        ),
        (
            "U02 bare sibling",
            gh,
            "api.yaml",
            Ok("https://github.com/acme/r/tree/main/api.yaml"),
        ),
        (
            "U03 repo root",
            gh,
            "/specs/api.yaml",
            Ok("https://github.com/acme/r/tree/main/specs/api.yaml"),
        ),
        (
            "U04 parent",
            "https://github.com/acme/r/blob/main/sub/catalog-info.yaml",
            "../x.yaml",
            Ok("https://github.com/acme/r/tree/main/x.yaml"),
        ),
        (
            "U05 absolute verbatim",
            gh,
            "https://example.com/a.json?x=1",
            Ok("https://example.com/a.json?x=1"),
        ),
        (
            "U06 query copied",
            "https://ghe.example/acme/r/blob/main/c.yaml?token=t",
            "./a.yaml",
            Ok("https://ghe.example/acme/r/tree/main/a.yaml?token=t"),
        ),
        (
            "U07 gitlab root",
            "https://gitlab.com/g/sub/p/-/blob/main/dir/c.yaml",
            "/specs/a.yaml",
            Ok("https://gitlab.com/g/sub/p/-/blob/main/specs/a.yaml"),
        ),
        (
            "U08 gitlab relative",
            "https://gitlab.com/g/p/-/blob/main/dir/c.yaml",
            "a.yaml",
            Ok("https://gitlab.com/g/p/-/blob/main/dir/a.yaml"),
        ),
        (
            "U09 plain host root",
            "https://files.example/x/y/c.yaml",
            "/a.yaml",
            Ok("https://files.example/a.yaml"),
        ),
        (
            "U10 plain relative",
            "https://files.example/x/y/c.yaml",
            "../a.yaml",
            Ok("https://files.example/x/a.yaml"),
        ),
        (
            "U11 github absolute rewritten",
            gh,
            "https://github.com/o/other/blob/dev/a.yaml",
            Ok("https://github.com/o/other/tree/dev/a.yaml"),
        ),
        ("U12 bad base", "not a url", "./a.yaml", Err(())),
    ];
    for (id, base, target, want) in &rows {
        let got = resolve_url(base, target);
        match (got, want) {
            (Ok(url), Ok(expected)) => assert_eq!(&url, expected, "{id}"),
            (Err(_), Err(())) => {}
            (got, want) => panic!("{id}: got {got:?}, want {want:?}"),
        }
    }
}
