//! Checking one descriptor file end to end: YAML, envelope, placeholders, schema, refs.
//!
//! This is the whole of Backstage's per-entity pipeline that can run without a
//! catalog: what `greenroom validate` runs on every file, and what the catalog's
//! file processor will reuse. Unlike Backstage, which stops at the first failing
//! step, every step runs on every document and every problem is reported with the
//! line and column of the field it concerns.

use serde_json::Value;

use crate::entity::check_envelope;
use crate::entity_ref::entity_ref_of;
use crate::location_ref::LocationRef;
use crate::placeholder::{PlaceholderContext, PlaceholderReader, substitute};
use crate::problem::{FieldPath, PathSegment, Problem, ProblemKind};
use crate::relations::{Relation, derive_relations};
use crate::validation::EntityValidator;
use crate::yaml::{Pos, parse_documents};

/// How serious a finding is. Only errors make a descriptor invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

/// One problem found in a descriptor file, placed in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// Where the offending field (or document, for whole-document problems) starts.
    pub pos: Pos,
    /// Zero-based index of the YAML document in the file.
    pub document: usize,
    /// The canonical ref of the entity, when the document got far enough to have one.
    pub entity_ref: Option<String>,
    pub problem: Problem,
}

/// An entity that passed every check, with what was derived from it.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedEntity {
    pub document: usize,
    /// Where the entity's `metadata.name` stands, to point at the entity as a whole.
    pub pos: Pos,
    /// The entity after placeholder substitution and namespace defaulting.
    pub entity: Value,
    pub relations: Vec<Relation>,
    /// Refresh keys registered by placeholder reads (`url:...`, `file:...`).
    pub refresh_keys: Vec<String>,
}

/// The outcome of checking one descriptor file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DescriptorReport {
    pub entities: Vec<CheckedEntity>,
    pub findings: Vec<Finding>,
}

impl DescriptorReport {
    pub fn error_count(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count()
    }

    pub fn warning_count(&self) -> usize {
        self.findings.len() - self.error_count()
    }
}

/// What a descriptor check needs besides the text.
#[derive(Debug)]
pub struct CheckOptions<'a> {
    /// Where the text came from; relative placeholders resolve against it.
    pub location: &'a LocationRef,
    /// For `file` locations, the folder that placeholders may not leave.
    pub file_root: Option<&'a std::path::Path>,
    pub validator: &'a EntityValidator,
    /// Placeholder problems whose message contains this text are reported as
    /// warnings: a reader uses it to say "not checked here" rather than "broken".
    pub unchecked_marker: Option<&'a str>,
}

/// Checks every document of a descriptor file.
pub async fn check_descriptor<R: PlaceholderReader>(
    text: &str,
    options: &CheckOptions<'_>,
    reader: &R,
) -> DescriptorReport {
    let mut report = DescriptorReport::default();
    for parsed in parse_documents(text) {
        let doc = match parsed {
            Ok(doc) => doc,
            Err(e) => {
                report.findings.push(Finding {
                    severity: Severity::Error,
                    pos: e.pos,
                    document: e.index,
                    entity_ref: None,
                    problem: Problem::new(
                        ProblemKind::Syntax,
                        FieldPath::root(),
                        format!("YAML error at {}, {}", options.location, e.message),
                    ),
                });
                continue;
            }
        };
        let place = |problem: Problem, entity_ref: Option<&str>, severity: Severity| Finding {
            severity,
            pos: doc.positions.lookup(&placement_path(&doc.value, &problem)),
            document: doc.index,
            entity_ref: entity_ref.map(str::to_owned),
            problem,
        };
        if !doc.value.is_object() {
            let problem = Problem::new(
                ProblemKind::Envelope,
                FieldPath::root(),
                format!("Expected object at root, got {}", js_typeof(&doc.value)),
            );
            report.findings.push(place(problem, None, Severity::Error));
            continue;
        }
        let envelope = check_envelope(&doc.value);
        if !envelope.is_empty() {
            report.findings.extend(
                envelope
                    .into_iter()
                    .map(|p| place(p, None, Severity::Error)),
            );
            continue;
        }
        let entity_ref = entity_ref_of(&doc.value).map(|r| r.to_string());
        let entity_ref = entity_ref.as_deref();

        let mut entity = doc.value.clone();
        let context = PlaceholderContext {
            base: options.location,
            file_root: options.file_root,
        };
        let mut failed_placeholders: Vec<FieldPath> = Vec::new();
        let mut errors = 0usize;
        let refresh_keys = match substitute(&mut entity, &context, reader).await {
            Ok(keys) => keys,
            Err(problems) => {
                for problem in problems {
                    let severity = match options.unchecked_marker {
                        Some(marker) if problem.message.contains(marker) => Severity::Warning,
                        _ => Severity::Error,
                    };
                    if severity == Severity::Error {
                        errors += 1;
                    }
                    failed_placeholders.push(problem.path.clone());
                    report.findings.push(place(problem, entity_ref, severity));
                }
                Vec::new()
            }
        };

        // A placeholder that could not be read leaves its `{ $text: ... }` object in
        // place; the schema would then complain about the same field a second time.
        let under_failed = |problem: &Problem| {
            failed_placeholders
                .iter()
                .any(|p| starts_with(problem.path.segments(), p.segments()))
        };
        for problem in options.validator.validate(&entity) {
            if !under_failed(&problem) {
                errors += 1;
                report
                    .findings
                    .push(place(problem, entity_ref, Severity::Error));
            }
        }
        let relations = match derive_relations(&entity) {
            Ok(relations) => relations,
            Err(problems) => {
                errors += problems.len();
                report.findings.extend(
                    problems
                        .into_iter()
                        .map(|p| place(p, entity_ref, Severity::Error)),
                );
                Vec::new()
            }
        };
        if errors == 0 {
            crate::entity::apply_default_namespace(&mut entity);
            report.entities.push(CheckedEntity {
                document: doc.index,
                pos: doc
                    .positions
                    .lookup(&FieldPath::keys(&["metadata", "name"])),
                entity,
                relations,
                refresh_keys,
            });
        }
    }
    report.findings.sort_by_key(|f| (f.pos, f.document));
    report
}

/// The path whose position best shows a problem: a placeholder problem is about the
/// `{ $text: ... }` object, but the line a reader wants is the `$text` key's own.
fn placement_path(value: &Value, problem: &Problem) -> FieldPath {
    if problem.kind != ProblemKind::Placeholder {
        return problem.path.clone();
    }
    let mut node = value;
    for segment in problem.path.segments() {
        let next = match segment {
            PathSegment::Key(key) => node.get(key.as_str()),
            PathSegment::Index(i) => node.get(*i),
        };
        match next {
            Some(n) => node = n,
            None => return problem.path.clone(),
        }
    }
    match node.as_object() {
        Some(map) if map.len() == 1 => match map.keys().next() {
            Some(key) if key.starts_with('$') => problem.path.key(key),
            _ => problem.path.clone(),
        },
        _ => problem.path.clone(),
    }
}

fn starts_with(path: &[PathSegment], prefix: &[PathSegment]) -> bool {
    path.len() >= prefix.len() && path[..prefix.len()] == *prefix
}

/// The name JavaScript's `typeof` gives a JSON value, used in Backstage's messages.
fn js_typeof(value: &Value) -> &'static str {
    match value {
        Value::Null | Value::Array(_) | Value::Object(_) => "object",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
    }
}
