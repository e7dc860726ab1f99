//! The orchestrator: runs one entity through the stages of spec §8.5 (envelope,
//! context, pre-processing, policies, kind validation, location reading,
//! post-processing, `catalog.rules`) and collects what the processors emitted.
//! Also the two in-memory uses of it: validate-entity and the dry run of a location.

use sha1::Digest as _;
use std::collections::{BTreeSet, HashSet, VecDeque};
use std::sync::Arc;

use greenroom_backend_plugin_api::BackendError;
use greenroom_backend_plugin_api::services::Logger;
use greenroom_catalog_model::annotations::{
    ANNOTATION_MANAGED_BY_LOCATION, ANNOTATION_MANAGED_BY_ORIGIN_LOCATION,
};
use greenroom_catalog_model::entity::{
    apply_default_namespace, check_envelope, check_identity_unchanged,
};
use greenroom_catalog_model::entity_ref::entity_ref_of;
use greenroom_catalog_model::kinds::KindSet;
use greenroom_catalog_model::location::{
    LocationSpec, Presence, generated_location_entity, location_entity_targets,
};
use greenroom_catalog_model::location_ref::{LocationRef, parse_location_ref};
use greenroom_catalog_model::problem::ProblemKind;
use greenroom_catalog_model::rules::CatalogRules;
use greenroom_catalog_model::validation::EntityValidator;
use greenroom_plugin_catalog_node::{CatalogProcessor, Emitter, ProcessingContext, ProcessorEmit};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::sql::{Arg, fetch_pool};
use super::texts::{self, ChildText, Unpacker};
use crate::db::{hash_json, hash_json_object};
use crate::engine::CatalogEngine;
use crate::parallel::map_on_cores;

/// A processing error as stored in `refresh_state.errors`, returned by
/// validate-entity and shown in status items, serialized as Backstage
/// serializes errors: `{name, message}`, plus `cause` for a wrapping error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessingErrorBody {
    pub name: String,
    pub message: String,
    /// The error this one wraps, serialized the same way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Box<ProcessingErrorBody>>,
}

impl ProcessingErrorBody {
    fn new(name: &str, message: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            message: message.into(),
            cause: None,
        }
    }

    /// An error wrapping `cause`: as Backstage's error classes do, the message
    /// ends with `; caused by <name>: <message>` of the cause.
    fn wrapping(name: &str, message: &str, cause: Self) -> Self {
        Self {
            name: name.to_owned(),
            message: format!("{message}; caused by {}: {}", cause.name, cause.message),
            cause: Some(Box::new(cause)),
        }
    }
}

/// A child entity emitted by processing, ready to be written.
///
/// The entity is kept as its JSON text, not as a parsed value: a Location of a
/// bulk load emits the whole catalog, and a parsed entity takes several times
/// the memory of its text (a million children held 4 GB more as values). The
/// children of one target share a compressed block of their texts (see
/// [`super::texts`]).
#[derive(Debug, Clone)]
pub(crate) struct Child {
    pub(crate) entity_ref: String,
    /// The annotated entity, serialised: what is stored as its unprocessed entity.
    pub(crate) text: ChildText,
    pub(crate) location_key: String,
    pub(crate) hash: String,
    /// Whether `catalog.rules` allow the child at the parent's origin location;
    /// checked when the child is made, reported (for the first one) at stage 8.
    pub(crate) allowed: bool,
}

/// What the rest of a run needs to turn an emitted entity into a [`Child`].
#[derive(Debug, Clone)]
struct ChildContext {
    logger: Logger,
    /// The origin location, as the annotation's text and parsed (for the rules).
    origin: String,
    origin_ref: LocationRef,
    /// The parent's own canonical ref: a child with it is ignored.
    own_ref: String,
    rules: Arc<CatalogRules>,
}

impl ChildContext {
    /// A child from an annotated entity value.
    fn child(&self, entity_ref: String, entity: &Value, location_key: String) -> Child {
        Child {
            entity_ref,
            hash: hash_json(entity),
            text: ChildText::Plain(entity.to_string()),
            location_key,
            allowed: self.rules.is_allowed(entity, &self.origin_ref),
        }
    }
}

/// An emitted item, or the child (or error) an emitted entity became.
#[derive(Debug)]
enum Emitted {
    Raw(ProcessorEmit),
    Converted(Result<Option<Child>, ProcessingErrorBody>),
}

/// Everything one processing run produced.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outcome {
    /// The completed entity (namespace defaulted), when the run succeeded.
    pub(crate) entity: Option<Value>,
    pub(crate) errors: Vec<ProcessingErrorBody>,
    pub(crate) children: Vec<Child>,
    /// `(source, type, target)` canonical refs, deduplicated and sorted.
    pub(crate) relations: Vec<(String, String, String)>,
    pub(crate) refresh_keys: Vec<String>,
}

impl Outcome {
    pub(crate) fn ok(&self) -> bool {
        self.errors.is_empty() && self.entity.is_some()
    }

    fn failed(errors: Vec<ProcessingErrorBody>) -> Self {
        Outcome {
            errors,
            ..Outcome::default()
        }
    }

    /// The result hash: errors, and on success the entity, children, relations,
    /// refresh keys and the current parents (spec §8.4).
    pub(crate) fn result_hash(&self, parents: &[String]) -> String {
        if !self.ok() {
            return hash_json(&json!({ "errors": self.errors }));
        }
        // Each child's own content hash stands for its entity, and one digest
        // of those stands for the list: the same content gives the same hash
        // without copying every child (a Location of a bulk load emits the
        // whole catalog).
        let mut list = sha1::Sha1::default();
        for child in &self.children {
            list.update(child.hash.as_bytes());
            list.update(b"\t");
            list.update(child.location_key.as_bytes());
            list.update(b"\n");
        }
        let children = Value::String(crate::db::sha1_hex(list));
        let errors = json!(self.errors);
        let relations = json!(self.relations);
        let refresh_keys = json!(self.refresh_keys);
        let parents = json!(parents);
        let entity = self.entity.as_ref().unwrap_or(&Value::Null);
        hash_json_object(&mut [
            ("errors", &errors),
            ("entity", entity),
            ("children", &children),
            ("relations", &relations),
            ("refreshKeys", &refresh_keys),
            ("parents", &parents),
        ])
    }
}

/// What a dry run registered: the location as it would be stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DryRunLocation {
    /// `<type>:<target>` (a dry run stores nothing, so there is no row id).
    pub id: String,
    #[serde(rename = "type")]
    pub location_type: String,
    pub target: String,
    #[serde(rename = "entityRef")]
    pub entity_ref: String,
}

/// The result of [`CatalogEngine::dry_run_location`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DryRunResult {
    /// Whether an identical location is already stored.
    pub exists: bool,
    pub location: DryRunLocation,
    /// The processed entities, the generated Location first.
    pub entities: Vec<Value>,
}

/// The most entities a dry run processes, so a huge tree cannot exhaust memory.
const DRY_RUN_LIMIT: usize = 10_000;

fn input(message: impl Into<String>) -> ProcessingErrorBody {
    ProcessingErrorBody::new("InputError", message)
}

fn caused_by(processor: &str, stage: &str, error: &BackendError) -> ProcessingErrorBody {
    caused_by_named(processor, stage, error.name.as_str(), &error.message)
}

/// `InputError: Processor <name> threw an error while <stage>`, wrapping the
/// processor's error.
fn caused_by_named(processor: &str, stage: &str, name: &str, message: &str) -> ProcessingErrorBody {
    ProcessingErrorBody::wrapping(
        "InputError",
        &format!("Processor {processor} threw an error while {stage}"),
        ProcessingErrorBody::new(name, message),
    )
}

fn annotation<'v>(entity: &'v Value, key: &str) -> Option<&'v str> {
    entity
        .get("metadata")?
        .get("annotations")?
        .get(key)?
        .as_str()
}

/// Reads one target of a Location entity: the first processor that handles it
/// wins. Returns what it emitted and the error, if any.
async fn read_target(
    processors: Vec<Arc<dyn CatalogProcessor>>,
    spec: LocationSpec,
    context: ProcessingContext,
) -> (Vec<ProcessorEmit>, Option<ProcessingErrorBody>) {
    let mut emitter = Emitter::default();
    let optional = spec.presence == Presence::Optional;
    for processor in &processors {
        match processor
            .read_location(&spec, optional, &context, &mut emitter)
            .await
        {
            Ok(true) => return (emitter.into_items(), None),
            Ok(false) => {}
            Err(e) => {
                let stage = format!("reading {}:{}", spec.location_type, spec.target);
                return (
                    emitter.into_items(),
                    Some(caused_by(processor.name(), &stage, &e)),
                );
            }
        }
    }
    let error = input(format!(
        "No processor was able to handle reading of {}:{}",
        spec.location_type, spec.target
    ));
    (emitter.into_items(), Some(error))
}

impl CatalogEngine {
    /// Runs one entity through every stage. Never fails: problems end up in
    /// [`Outcome::errors`], and any error makes the run unsuccessful.
    pub(crate) async fn process_entity(&self, unprocessed: &Value) -> Outcome {
        // 1. Envelope.
        // Backstage's envelope validator throws a TypeError at its first problem.
        if let Some(problem) = check_envelope(unprocessed).into_iter().next() {
            return Outcome::failed(vec![ProcessingErrorBody::wrapping(
                "InputError",
                "Entity envelope failed validation before processing",
                ProcessingErrorBody::new("TypeError", problem.message),
            )]);
        }
        let Some(own_ref) = entity_ref_of(unprocessed).map(|r| r.to_canonical()) else {
            return Outcome::failed(vec![input(
                "Entity envelope failed validation before processing",
            )]);
        };

        // 2. Context.
        let parse = |key: &str| -> Result<LocationRef, ProcessingErrorBody> {
            let raw = annotation(unprocessed, key).ok_or_else(|| {
                input(format!(
                    "Entity {own_ref} does not have the annotation {key}"
                ))
            })?;
            parse_location_ref(raw).map_err(|e| input(e.to_string()))
        };
        let context = match (
            parse(ANNOTATION_MANAGED_BY_LOCATION),
            parse(ANNOTATION_MANAGED_BY_ORIGIN_LOCATION),
        ) {
            (Ok(location), Ok(origin_location)) => ProcessingContext {
                location,
                origin_location,
            },
            (Err(e), _) | (_, Err(e)) => return Outcome::failed(vec![e]),
        };

        let mut emitter = Emitter::default();
        let mut entity = unprocessed.clone();

        // 3. Pre-processing.
        for processor in &self.processors {
            match processor.pre_process(entity, &context, &mut emitter).await {
                Ok(next) => entity = next,
                Err(e) => {
                    return Outcome::failed(vec![caused_by(processor.name(), "preprocessing", &e)]);
                }
            }
        }

        // 4. Policies, and the identity freeze.
        let validator = EntityValidator {
            kinds: KindSet::empty(),
            ..EntityValidator::default()
        };
        // Backstage's policy chain stops at the first problem; the validator
        // lists them in that order, worded as Backstage words them.
        if let Some(problem) = validator
            .validate(&entity)
            .into_iter()
            .find(|p| p.kind != ProblemKind::Kind)
        {
            return Outcome::failed(vec![ProcessingErrorBody::wrapping(
                "InputError",
                &format!("Policy check failed for {own_ref}"),
                ProcessingErrorBody::new("Error", problem.message),
            )]);
        }
        apply_default_namespace(&mut entity);
        if let Err(problem) = check_identity_unchanged(unprocessed, &entity) {
            return Outcome::failed(vec![ProcessingErrorBody::new(
                "ConflictError",
                problem.message,
            )]);
        }

        // 5. Kind validation: every processor is asked; one yes is enough.
        let mut recognized = false;
        for processor in &self.processors {
            match processor.validate_entity_kind(&entity).await {
                Ok(true) => recognized = true,
                Ok(false) => {}
                Err(e) => {
                    let stage = format!("validating the entity {own_ref}");
                    // Kind validators fail with their schema validator's error,
                    // a `TypeError` in Backstage; `BackendError` has no such
                    // name, so a kind validator's plain error stands for it.
                    let cause = match e.name {
                        greenroom_backend_plugin_api::ErrorName::Error => "TypeError",
                        other => other.as_str(),
                    };
                    return Outcome::failed(vec![caused_by_named(
                        processor.name(),
                        &stage,
                        cause,
                        &e.message,
                    )]);
                }
            }
        }
        if !recognized {
            return Outcome::failed(vec![input(format!(
                "No processor recognized the entity {own_ref} as valid, possibly caused by a foreign kind or apiVersion"
            ))]);
        }

        // 6. Location targets. Each target is read on its own task, so that a
        // Location listing many files parses them on every core (a bulk load
        // starts with one such entity, and reading it alone was the longest
        // serial step of the ingest); what they emit is merged in target order.
        // Each task turns the entities it read into children at once, so only
        // their texts outlive the task, not their parsed values.
        let cx = ChildContext {
            logger: self.logger.clone(),
            origin: context.origin_location.to_string(),
            origin_ref: context.origin_location.clone(),
            own_ref: own_ref.clone(),
            rules: Arc::new(self.rules.clone()),
        };
        let mut items: Vec<Emitted> = std::mem::take(&mut emitter)
            .into_items()
            .into_iter()
            .map(Emitted::Raw)
            .collect();
        let mut errors = Vec::new();
        if entity.get("kind").and_then(Value::as_str) == Some("Location") {
            let mut reads = Vec::new();
            for target in location_entity_targets(&entity, &context.location) {
                match target {
                    Ok(spec) => {
                        let (processors, context, cx) =
                            (self.processors.clone(), context.clone(), cx.clone());
                        reads.push(tokio::spawn(async move {
                            let (read, error) = read_target(processors, spec, context).await;
                            let read = read.into_iter().map(Emitted::Raw).collect();
                            let mut read = convert_children(read, &cx).await;
                            let mut texts: Vec<&mut ChildText> = read
                                .iter_mut()
                                .filter_map(|item| match item {
                                    Emitted::Converted(Ok(Some(child))) => Some(&mut child.text),
                                    _ => None,
                                })
                                .collect();
                            texts::pack(&mut texts);
                            (read, error)
                        }));
                    }
                    Err(problem) => errors.push(input(problem.message)),
                }
            }
            for read in reads {
                match read.await {
                    Ok((read, error)) => {
                        items.extend(read);
                        errors.extend(error);
                    }
                    Err(e) => errors.push(input(format!("Reading a location target failed: {e}"))),
                }
            }
        }

        // 7. Post-processing.
        for processor in &self.processors {
            match processor.post_process(entity, &context, &mut emitter).await {
                Ok(next) => entity = next,
                Err(e) => {
                    errors.push(caused_by(processor.name(), "postprocessing", &e));
                    return Outcome::failed(errors);
                }
            }
        }

        // What the processors emitted, in emission order: pre-processing's
        // items, the targets' (converted already), then post-processing's.
        items.extend(emitter.into_items().into_iter().map(Emitted::Raw));
        let items = convert_children(items, &cx).await;
        let mut children = Vec::new();
        let mut relations = BTreeSet::new();
        let mut refresh_keys = Vec::new();
        for item in items {
            let item = match item {
                Emitted::Converted(converted) => {
                    match converted {
                        Ok(Some(child)) => children.push(child),
                        Ok(None) => {}
                        Err(e) => errors.push(e),
                    }
                    continue;
                }
                Emitted::Raw(item) => item,
            };
            match item {
                // `convert_children` has turned every entity into a child.
                ProcessorEmit::Entity { entity, location } => {
                    match child_entity(&cx, entity, &location.to_string()) {
                        Ok(Some(child)) => children.push(child),
                        Ok(None) => {}
                        Err(e) => errors.push(e),
                    }
                }
                ProcessorEmit::Location(spec) => {
                    let mut generated = generated_location_entity(&spec);
                    let own_location = context.location.to_string();
                    if let Some(annotations) = generated
                        .pointer_mut("/metadata/annotations")
                        .and_then(Value::as_object_mut)
                    {
                        mark_managed(annotations, &own_location, &cx.origin);
                    }
                    if let Some(entity_ref) = entity_ref_of(&generated).map(|r| r.to_canonical()) {
                        children.push(cx.child(entity_ref, &generated, own_location));
                    }
                }
                ProcessorEmit::Relation(relation) => {
                    relations.insert(relation.canonical_key());
                }
                ProcessorEmit::Error(error) => {
                    errors.push(ProcessingErrorBody::new(&error.name, error.message))
                }
                ProcessorEmit::RefreshKey(key) => {
                    if !refresh_keys.contains(&key) {
                        refresh_keys.push(key);
                    }
                }
            }
        }

        // 8. catalog.rules, against the origin location.
        if errors.is_empty() {
            // Each child was checked when it was made; the first one refused is
            // reported, as `CatalogRules::check_children` would report it.
            if let Some(refused) = children.iter().find(|c| !c.allowed) {
                let problem = CatalogRules::not_allowed(
                    &refused.entity_ref,
                    &context.location,
                    &context.origin_location,
                );
                let message = problem
                    .message
                    .strip_prefix("NotAllowedError: ")
                    .unwrap_or(&problem.message)
                    .to_owned();
                errors.push(ProcessingErrorBody::new("NotAllowedError", message));
            }
        }
        if !errors.is_empty() {
            return Outcome::failed(errors);
        }
        Outcome {
            entity: Some(entity),
            errors,
            children,
            relations: relations.into_iter().collect(),
            refresh_keys,
        }
    }

    /// `POST /validate-entity` (spec §7.11): runs the entity through the whole
    /// pipeline at `location` (a `url:` location ref) without storing anything.
    pub async fn validate_entity(
        &self,
        mut entity: Value,
        location: &str,
    ) -> Result<(), Vec<ProcessingErrorBody>> {
        let invalid_location = || {
            vec![ProcessingErrorBody::new(
                "TypeError",
                format!(
                    "Invalid location ref {location}, only 'url:<target>' is supported, e.g. url:https://host/path"
                ),
            )]
        };
        match parse_location_ref(location) {
            Ok(parsed) if parsed.location_type == "url" => {}
            _ => return Err(invalid_location()),
        }
        let problems = check_envelope(&entity);
        if !problems.is_empty() {
            return Err(problems
                .into_iter()
                .map(|p| ProcessingErrorBody::new("TypeError", p.message))
                .collect());
        }
        if let Some(metadata) = entity.get_mut("metadata").and_then(Value::as_object_mut) {
            let annotations = metadata
                .entry("annotations")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(annotations) = annotations.as_object_mut() {
                for key in [
                    ANNOTATION_MANAGED_BY_LOCATION,
                    ANNOTATION_MANAGED_BY_ORIGIN_LOCATION,
                ] {
                    annotations
                        .entry(key)
                        .or_insert_with(|| Value::String(location.to_owned()));
                }
            }
        }
        let outcome = self.process_entity(&entity).await;
        if outcome.ok() {
            Ok(())
        } else {
            Err(outcome.errors)
        }
    }

    /// The dry run of `POST /locations?dryRun=true` (spec §7.12): the generated
    /// Location entity and everything reachable from it are processed in memory;
    /// nothing is written. Any processing error, or one ref emitted twice, is an
    /// `InputError`.
    pub async fn dry_run_location(
        &self,
        location_type: &str,
        target: &str,
    ) -> Result<DryRunResult, BackendError> {
        let spec = LocationSpec {
            location_type: location_type.to_owned(),
            target: target.to_owned(),
            presence: Presence::Required,
        };
        let root = generated_location_entity(&spec);
        let root_ref = entity_ref_of(&root)
            .map(|r| r.to_canonical())
            .ok_or_else(|| BackendError::internal("generated location has no ref"))?;
        let exists = !fetch_pool(
            &self.db,
            "SELECT id FROM locations WHERE type = $1 AND target = $2".to_owned(),
            vec![Arg::from(location_type), Arg::from(target)],
            1,
        )
        .await?
        .is_empty();

        let mut seen: HashSet<String> = HashSet::from([root_ref.clone()]);
        let mut unpacker = Unpacker::default();
        let mut queue = VecDeque::from([root]);
        let mut entities = Vec::new();
        while let Some(entity) = queue.pop_front() {
            if entities.len() >= DRY_RUN_LIMIT {
                return Err(BackendError::input(format!(
                    "Location {location_type}:{target} yields more than {DRY_RUN_LIMIT} entities"
                )));
            }
            let outcome = self.process_entity(&entity).await;
            if !outcome.ok() {
                let messages: Vec<String> = outcome
                    .errors
                    .iter()
                    .map(|e| format!("{}: {}", e.name, e.message))
                    .collect();
                return Err(BackendError::input(messages.join(", ")));
            }
            for child in outcome.children {
                if !seen.insert(child.entity_ref.clone()) {
                    return Err(BackendError::input(format!(
                        "Duplicate nested entity: {}",
                        child.entity_ref
                    )));
                }
                let entity = serde_json::from_str(&unpacker.text(&child.text)?)
                    .map_err(|e| BackendError::internal(format!("{}: {e}", child.entity_ref)))?;
                queue.push_back(entity);
            }
            if let Some(done) = outcome.entity {
                entities.push(done);
            }
        }
        Ok(DryRunResult {
            exists,
            location: DryRunLocation {
                id: format!("{location_type}:{target}"),
                location_type: location_type.to_owned(),
                target: target.to_owned(),
                entity_ref: root_ref,
            },
            entities,
        })
    }
}

/// Checks and annotates one emitted entity (spec §2 A.2–A.4). `Ok(None)` for an
/// entity that is the parent itself (ignored, as Backstage does).
fn child_entity(
    cx: &ChildContext,
    mut child: Value,
    location: &str,
) -> Result<Option<Child>, ProcessingErrorBody> {
    let (logger, origin, parent_ref) = (&cx.logger, cx.origin.as_str(), cx.own_ref.as_str());
    let problems = check_envelope(&child);
    if !problems.is_empty() {
        let causes: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        return Err(input(format!(
            "Entity at {location} failed envelope validation; caused by {}",
            causes.join("; ")
        )));
    }
    let Some(entity_ref) = entity_ref_of(&child).map(|r| r.to_canonical()) else {
        return Err(input(format!("Entity at {location} has no kind or name")));
    };
    if entity_ref == parent_ref {
        logger.warn(&format!(
            "Entity {entity_ref} at {location} emitted itself; ignored"
        ));
        return Ok(None);
    }
    let Some(metadata) = child.get_mut("metadata").and_then(Value::as_object_mut) else {
        return Err(input(format!(
            "Entity {entity_ref} at {location} has no metadata object"
        )));
    };
    let annotations = metadata
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(annotations) = annotations.as_object_mut() else {
        return Err(input(format!(
            "metadata.annotations must be a valid object, in entity {entity_ref} at {location}"
        )));
    };
    mark_managed(annotations, location, origin);
    Ok(Some(cx.child(entity_ref, &child, location.to_owned())))
}

/// Sets the two annotations that say which location manages an emitted entity.
fn mark_managed(annotations: &mut Map<String, Value>, location: &str, origin: &str) {
    annotations.insert(
        ANNOTATION_MANAGED_BY_LOCATION.to_owned(),
        Value::String(location.to_owned()),
    );
    annotations.insert(
        ANNOTATION_MANAGED_BY_ORIGIN_LOCATION.to_owned(),
        Value::String(origin.to_owned()),
    );
}

/// Emitted entities past which their checks, annotations and hashes run on blocking
/// threads: a Location of a bulk load emits the whole catalog (100k entities took
/// seconds of one async worker, during which that worker served nothing else).
const PARALLEL_CHILDREN: usize = 512;

/// Turns every emitted entity among `items` into a child (or an error) with
/// [`child_entity`], keeping the items' order, so errors keep theirs. Past
/// [`PARALLEL_CHILDREN`] entities the work runs on blocking threads, in as many
/// parts as there are cores; below, in place.
async fn convert_children(items: Vec<Emitted>, cx: &ChildContext) -> Vec<Emitted> {
    let count = items
        .iter()
        .filter(|i| matches!(i, Emitted::Raw(ProcessorEmit::Entity { .. })))
        .count();
    if count <= PARALLEL_CHILDREN {
        return items
            .into_iter()
            .map(|item| match item {
                Emitted::Raw(ProcessorEmit::Entity { entity, location }) => {
                    Emitted::Converted(child_entity(cx, entity, &location.to_string()))
                }
                other => other,
            })
            .collect();
    }
    // The entities go to the blocking threads; a hole is left where each was.
    let mut rest = Vec::with_capacity(items.len());
    let mut work = Vec::with_capacity(count);
    for item in items {
        match item {
            Emitted::Raw(ProcessorEmit::Entity { entity, location }) => {
                work.push((entity, location.to_string()));
                rest.push(None);
            }
            other => rest.push(Some(other)),
        }
    }
    let part_cx = cx.clone();
    let converted = map_on_cores(work, move |(entity, location): (Value, String)| {
        child_entity(&part_cx, entity, &location)
    })
    .await
    // A part that panicked fails the whole run rather than losing children.
    .unwrap_or_else(|e| vec![Err(input(format!("Checking emitted entities failed: {e}")))]);
    // After a panic the one error fills the first hole, and the others stay empty.
    let mut converted = converted.into_iter();
    rest.into_iter()
        .filter_map(|item| match item {
            Some(other) => Some(other),
            None => converted.next().map(Emitted::Converted),
        })
        .collect()
}
