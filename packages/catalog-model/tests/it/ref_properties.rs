//! Property tests for references: stringify/parse round trips, parsers that never
//! panic, and the fixed length of generated location names.

use greenroom_catalog_model::entity_ref::{
    RefDefaults, parse_entity_ref, split_entity_ref, stringify_entity_ref,
};
use greenroom_catalog_model::location_ref::{
    generated_location_name, parse_location_ref, resolve_url,
};
use greenroom_catalog_model::rules::glob_match;
use proptest::prelude::*;

/// Kinds as the `kind` rule allows them.
fn kind() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9]{0,20}"
}

/// Namespaces as the DNS-label rule allows them.
fn namespace() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,10}(-{1,2}[a-z0-9]{1,10}){0,2}"
}

/// Names as the `metadata.name` rule allows them.
fn name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9]([-A-Za-z0-9_.]{0,30}[A-Za-z0-9])?"
}

proptest! {
    #[test]
    fn stringify_then_parse_round_trips(k in kind(), ns in namespace(), n in name()) {
        let canonical = stringify_entity_ref(&k, Some(&ns), &n);
        let parsed = parse_entity_ref(&canonical, RefDefaults::default())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(parsed.to_canonical(), canonical.clone());
        // The spelled-out form with original casing canonicalises the same way.
        let written = format!("{k}:{ns}/{n}");
        let parsed = parse_entity_ref(&written, RefDefaults::default())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!((parsed.kind.as_str(), parsed.namespace.as_str(), parsed.name.as_str()), (k.as_str(), ns.as_str(), n.as_str()));
        prop_assert_eq!(parsed.to_canonical(), canonical);
    }

    #[test]
    fn defaults_fill_missing_parts(k in kind(), ns in namespace(), n in name()) {
        let parsed = parse_entity_ref(&n, RefDefaults::kind_and_namespace(&k, &ns))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(parsed.to_canonical(), stringify_entity_ref(&k, Some(&ns), &n));
    }

    #[test]
    fn parsers_never_panic(input in "\\PC{0,40}", base in "\\PC{0,40}") {
        let _ = parse_entity_ref(&input, RefDefaults::kind("K"));
        let _ = split_entity_ref(&input);
        let _ = parse_location_ref(&input);
        let _ = resolve_url(&base, &input);
        let _ = resolve_url("https://github.com/o/r/blob/main/x.yaml", &input);
        let _ = glob_match(&input, &base);
    }

    #[test]
    fn parsed_parts_are_never_empty(input in "[a-z:/]{0,12}") {
        if let Ok(r) = parse_entity_ref(&input, RefDefaults::kind("K")) {
            prop_assert!(!r.kind.is_empty() && !r.namespace.is_empty() && !r.name.is_empty());
        }
    }

    #[test]
    fn generated_names_have_a_fixed_shape(t in "\\PC{0,10}", target in "\\PC{0,60}") {
        let generated = generated_location_name(&t, &target);
        // `generated-` (10 characters) and 40 hex digits.
        prop_assert_eq!(generated.len(), 50);
        prop_assert!(generated.starts_with("generated-"));
        prop_assert!(generated[10..].chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }
}
