//! The per-file pipeline: every document checked, every problem placed in the text.

use std::collections::HashMap;

use greenroom_catalog_model::ProblemKind;
use greenroom_catalog_model::descriptor::{
    CheckOptions, DescriptorReport, Severity, check_descriptor,
};
use greenroom_catalog_model::location_ref::LocationRef;
use greenroom_catalog_model::placeholder::{PlaceholderReader, ReadError, ReadTarget, block_on};
use greenroom_catalog_model::validation::EntityValidator;

/// Files held in memory, standing in for the reader the caller plugs in.
struct MapReader(HashMap<String, String>);

impl PlaceholderReader for MapReader {
    fn read(
        &self,
        target: &ReadTarget,
    ) -> impl std::future::Future<Output = Result<String, ReadError>> + Send {
        std::future::ready(
            self.0
                .get(&target.target)
                .cloned()
                .ok_or_else(|| ReadError::NotFound(format!("{} does not exist", target.target))),
        )
    }
}

fn check(text: &str, files: &[(&str, &str)]) -> DescriptorReport {
    let reader = MapReader(
        files
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    );
    let validator = EntityValidator::default();
    let location = LocationRef {
        location_type: "file".to_owned(),
        target: "/repo/catalog-info.yaml".to_owned(),
    };
    let options = CheckOptions {
        location: &location,
        file_root: Some(std::path::Path::new("/repo")),
        validator: &validator,
        unchecked_marker: Some("SKIPPED"),
    };
    block_on(check_descriptor(text, &options, &reader))
}

const COMPONENT: &str = "apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: web
spec:
  type: website
  lifecycle: production
  owner: team-a
";

#[test]
fn a_valid_component_yields_one_entity_with_relations_and_default_namespace() {
    let report = check(COMPONENT, &[]);
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert_eq!(report.entities.len(), 1);
    let entity = &report.entities[0];
    assert_eq!(entity.entity["metadata"]["namespace"], "default");
    assert_eq!(entity.relations.len(), 2, "ownedBy and its reverse ownerOf");
}

#[test]
fn problems_point_at_the_offending_line_and_column() {
    let text = COMPONENT.replace("  name: web", "  name: web\n  tags: [ok, Not-Ok]");
    let report = check(&text, &[]);
    assert_eq!(report.error_count(), 1, "{:?}", report.findings);
    let finding = &report.findings[0];
    assert_eq!(finding.problem.kind, ProblemKind::Format);
    assert_eq!(finding.pos.line, 5);
    assert_eq!(finding.problem.path.to_string(), "metadata.tags.1");
    assert_eq!(finding.entity_ref.as_deref(), Some("component:default/web"));
    assert!(
        report.entities.is_empty(),
        "an invalid entity is not emitted"
    );
}

#[test]
fn one_broken_document_does_not_hide_the_others() {
    let text = format!(
        "{COMPONENT}---\nkey: [unclosed\n---\n{}",
        COMPONENT.replace("web", "api-gw")
    );
    let report = check(&text, &[]);
    assert_eq!(report.entities.len(), 2);
    assert_eq!(report.error_count(), 1);
    assert_eq!(report.findings[0].problem.kind, ProblemKind::Syntax);
    assert!(
        report.findings[0].pos.line >= 10,
        "{:?}",
        report.findings[0]
    );
}

#[test]
fn non_object_documents_and_bad_envelopes_are_reported() {
    let report = check("- a\n- b\n---\nkind: Component\nmetadata: {}\n", &[]);
    let messages: Vec<&str> = report
        .findings
        .iter()
        .map(|f| f.problem.message.as_str())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("Expected object at root, got object")),
        "{messages:?}"
    );
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.problem.kind == ProblemKind::Envelope && f.pos.line >= 4)
    );
}

#[test]
fn placeholders_are_substituted_and_their_failures_not_reported_twice() {
    let api = "apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: orders
spec:
  type: openapi
  lifecycle: production
  owner: team-a
  definition:
    $text: ./openapi.yaml
";
    let report = check(api, &[("/repo/openapi.yaml", "openapi: 3.0.0\n")]);
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert_eq!(
        report.entities[0].entity["spec"]["definition"],
        "openapi: 3.0.0\n"
    );

    let report = check(api, &[]);
    assert_eq!(
        report.error_count(),
        1,
        "only the read failure: {:?}",
        report.findings
    );
    assert_eq!(report.findings[0].problem.kind, ProblemKind::Placeholder);
    assert_eq!(report.findings[0].pos.line, 10, "the `$text` line");
}

#[test]
fn unchecked_reads_are_warnings_not_errors() {
    struct Skip;
    impl PlaceholderReader for Skip {
        fn read(
            &self,
            _target: &ReadTarget,
        ) -> impl std::future::Future<Output = Result<String, ReadError>> + Send {
            std::future::ready(Err(ReadError::NotAllowed("SKIPPED".to_owned())))
        }
    }
    let api = "apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: orders
spec:
  type: openapi
  lifecycle: production
  owner: team-a
  definition:
    $text: https://example.com/openapi.yaml
";
    let validator = EntityValidator::default();
    let location = LocationRef {
        location_type: "file".to_owned(),
        target: "/repo/catalog-info.yaml".to_owned(),
    };
    let options = CheckOptions {
        location: &location,
        file_root: None,
        validator: &validator,
        unchecked_marker: Some("SKIPPED"),
    };
    let report = block_on(check_descriptor(api, &options, &Skip));
    assert_eq!(report.error_count(), 0, "{:?}", report.findings);
    assert_eq!(report.warning_count(), 1);
    assert_eq!(report.findings[0].severity, Severity::Warning);
}

#[test]
fn bad_references_are_placed_on_their_array_item() {
    let text = COMPONENT.replace(
        "  owner: team-a\n",
        "  owner: team-a\n  dependsOn:\n    - resource:db\n    - cache\n",
    );
    let report = check(&text, &[]);
    assert_eq!(report.error_count(), 1, "{:?}", report.findings);
    assert_eq!(report.findings[0].problem.kind, ProblemKind::Reference);
    assert_eq!(report.findings[0].pos.line, 11);
}
