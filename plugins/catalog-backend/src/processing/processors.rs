//! The built-in processors: placeholder substitution, location annotations, the
//! built-in kinds (validation and relations), and the `file` and `url` readers.

use std::sync::Arc;

use async_trait::async_trait;
use greenroom_backend_plugin_api::{BackendError, ErrorName};
use greenroom_catalog_model::annotations::{
    ANNOTATION_EDIT_URL, ANNOTATION_MANAGED_BY_LOCATION, ANNOTATION_MANAGED_BY_ORIGIN_LOCATION,
    ANNOTATION_SOURCE_LOCATION, ANNOTATION_VIEW_URL,
};
use greenroom_catalog_model::kinds::{BuiltinKind, KindValidator, KindVerdict};
use greenroom_catalog_model::location::{LocationSpec, Presence};
use greenroom_catalog_model::location_ref::{LocationRef, resolve_url};
use greenroom_catalog_model::placeholder::{
    BUILTIN_RESOLVERS, PlaceholderContext, PlaceholderReader, ReadError, find_placeholder_sites,
    replace_at, resolve_builtin, resolve_placeholder_target,
};
use greenroom_catalog_model::problem::PathSegment;
use greenroom_catalog_model::relations::derive_relations;
use greenroom_catalog_model::yaml::parse_documents;
use greenroom_plugin_catalog_node::{
    CatalogProcessor, Emitter, PlaceholderResolver, PlaceholderResolverParams,
    PlaceholderTargetReader, ProcessingContext, ProcessingError, ProcessorEmit,
};
use serde_json::{Map, Value};

use super::glob;
use super::reader::Reader;

/// Resolves `$text`, `$json` and `$yaml` placeholders (spec §9), relative file
/// values against the entity's own file, never leaving the origin location's folder;
/// and the placeholders of resolvers added by modules, which may also replace
/// the built-in ones.
pub struct PlaceholderProcessor {
    reader: Arc<Reader>,
    resolvers: Vec<(String, Arc<dyn PlaceholderResolver>)>,
}

impl std::fmt::Debug for PlaceholderProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlaceholderProcessor")
            .field(
                "resolvers",
                &self.resolvers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl PlaceholderProcessor {
    /// The processor's name, as `catalog.processorOptions` keys it.
    pub const NAME: &'static str = "PlaceholderProcessor";

    pub fn new(reader: Arc<Reader>) -> Self {
        Self::with_resolvers(reader, Vec::new())
    }

    /// With the resolvers modules added, by key (without `$`).
    pub fn with_resolvers(
        reader: Arc<Reader>,
        resolvers: Vec<(String, Arc<dyn PlaceholderResolver>)>,
    ) -> Self {
        Self { reader, resolvers }
    }

    fn custom(&self, key: &str) -> Option<&Arc<dyn PlaceholderResolver>> {
        self.resolvers
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, r)| r)
    }
}

/// What a module's resolver reads through: the same resolution and reading
/// rules as the built-in `$text`, with every target read kept as a refresh key.
struct TargetReader<'a> {
    reader: &'a Reader,
    context: PlaceholderContext<'a>,
    refresh_keys: std::sync::Mutex<Vec<String>>,
}

#[async_trait]
impl PlaceholderTargetReader for TargetReader<'_> {
    async fn read(&self, value: &str) -> Result<String, String> {
        let target = resolve_placeholder_target(&self.context, value).map_err(|cause| {
            format!(
                "could not form a URL out of {} and {value}, {cause}",
                self.context.base.target
            )
        })?;
        let text = self.reader.read(&target).await.map_err(|e| e.to_string())?;
        self.refresh_keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(target.refresh_key());
        Ok(text)
    }
}

/// The folder relative placeholders of a `file` entity may not leave: the folder of
/// the registered location's file (or the literal part of its pattern).
fn file_root(context: &ProcessingContext) -> Option<std::path::PathBuf> {
    if context.location.location_type != "file" {
        return None;
    }
    let origin = &context.origin_location;
    let root = if origin.location_type == "file" {
        glob::root_of(&origin.target)
    } else {
        glob::root_of(&context.location.target)
    };
    Some(root)
}

#[async_trait]
impl CatalogProcessor for PlaceholderProcessor {
    fn name(&self) -> &str {
        Self::NAME
    }

    async fn pre_process(
        &self,
        mut entity: Value,
        context: &ProcessingContext,
        emit: &mut Emitter,
    ) -> Result<Value, BackendError> {
        let root = file_root(context);
        let placeholder_context = PlaceholderContext {
            base: &context.location,
            file_root: root.as_deref(),
        };
        let sites = find_placeholder_sites(&entity, |key| {
            BUILTIN_RESOLVERS.contains(&key) || self.custom(key).is_some()
        });
        // As with the built-in substitution: every placeholder is tried and
        // every error reported, and the entity changes only when all succeed.
        let mut replacements: Vec<(Vec<PathSegment>, Value)> = Vec::with_capacity(sites.len());
        let mut refresh_keys = Vec::new();
        let mut problems = Vec::new();
        for site in sites {
            match self.custom(&site.key) {
                Some(resolver) => {
                    let reader = TargetReader {
                        reader: self.reader.as_ref(),
                        context: placeholder_context,
                        refresh_keys: std::sync::Mutex::new(Vec::new()),
                    };
                    let resolved = resolver
                        .resolve(PlaceholderResolverParams {
                            key: &site.key,
                            value: &site.value,
                            base: &context.location,
                            reader: &reader,
                        })
                        .await;
                    match resolved {
                        Ok(value) => {
                            refresh_keys.extend(
                                reader
                                    .refresh_keys
                                    .into_inner()
                                    .unwrap_or_else(std::sync::PoisonError::into_inner),
                            );
                            replacements.push((site.path, value));
                        }
                        Err(message) => problems.push(message),
                    }
                }
                None => {
                    match resolve_builtin(&site, &placeholder_context, self.reader.as_ref()).await {
                        Ok((value, key)) => {
                            refresh_keys.push(key);
                            replacements.push((site.path, value));
                        }
                        Err(message) => problems.push(message),
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Err(BackendError::internal(problems.join("; ")));
        }
        for (path, value) in replacements {
            replace_at(&mut entity, &path, value);
        }
        for key in refresh_keys {
            emit.emit(ProcessorEmit::RefreshKey(key));
        }
        Ok(entity)
    }
}

/// Adds the location annotations (spec §7.2 of the model): both managed-by
/// annotations, and for GitHub-style `url` locations `view-url`, `edit-url` and
/// `source-location`. Values already in the entity win.
#[derive(Debug, Default)]
pub struct AnnotateLocationEntityProcessor;

/// The `edit-url` and `source-location` of a GitHub-style file URL
/// (`/<owner>/<repo>/(blob|tree)/<ref>/<path>`); `None` for other URLs.
fn scm_annotations(target: &str) -> Option<(Option<String>, String)> {
    let url = url::Url::parse(target).ok()?;
    let segments: Vec<&str> = url.path_segments()?.collect();
    if segments.len() < 5 || !matches!(segments[2], "blob" | "tree") {
        return None;
    }
    let source = resolve_url(target, "./").ok()?;
    // A commit hash pins the file: there is nothing to edit (spec §8.5 step 3).
    let is_commit = segments[3].len() == 40 && segments[3].bytes().all(|b| b.is_ascii_hexdigit());
    let edit = (!is_commit).then(|| {
        let mut edit = url.clone();
        let mut parts: Vec<&str> = segments.clone();
        parts[2] = "edit";
        edit.set_path(&parts.join("/"));
        edit.to_string()
    });
    Some((edit, format!("url:{source}")))
}

#[async_trait]
impl CatalogProcessor for AnnotateLocationEntityProcessor {
    fn name(&self) -> &str {
        "AnnotateLocationEntityProcessor"
    }

    async fn pre_process(
        &self,
        mut entity: Value,
        context: &ProcessingContext,
        _emit: &mut Emitter,
    ) -> Result<Value, BackendError> {
        let mut defaults: Vec<(&str, String)> = vec![
            (ANNOTATION_MANAGED_BY_LOCATION, context.location.to_string()),
            (
                ANNOTATION_MANAGED_BY_ORIGIN_LOCATION,
                context.origin_location.to_string(),
            ),
        ];
        if context.location.location_type == "url" {
            defaults.push((ANNOTATION_VIEW_URL, context.location.target.clone()));
            if let Some((edit, source)) = scm_annotations(&context.location.target) {
                if let Some(edit) = edit {
                    defaults.push((ANNOTATION_EDIT_URL, edit));
                }
                defaults.push((ANNOTATION_SOURCE_LOCATION, source));
            }
        }
        let Some(metadata) = entity.get_mut("metadata").and_then(Value::as_object_mut) else {
            return Ok(entity);
        };
        let annotations = metadata
            .entry("annotations")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(annotations) = annotations.as_object_mut() {
            for (key, value) in defaults {
                if !value.is_empty() && !annotations.contains_key(key) {
                    annotations.insert(key.to_owned(), Value::String(value));
                }
            }
        }
        Ok(entity)
    }
}

/// Validates the nine built-in kinds and emits the relations of their `spec` fields.
#[derive(Debug, Default)]
pub struct BuiltinKindsEntityProcessor;

impl BuiltinKindsEntityProcessor {
    pub fn new() -> Self {
        Self
    }
}

#[async_trait]
impl CatalogProcessor for BuiltinKindsEntityProcessor {
    fn name(&self) -> &str {
        "BuiltinKindsEntityProcessor"
    }

    async fn validate_entity_kind(&self, entity: &Value) -> Result<bool, BackendError> {
        for kind in BuiltinKind::ALL {
            match kind.check(entity) {
                KindVerdict::NotMine => {}
                KindVerdict::Valid => return Ok(true),
                KindVerdict::Invalid(problems) => {
                    // Backstage's kind validators report the first problem of
                    // the schema only; the orchestrator names it a TypeError.
                    let first = problems.first().map(|p| p.message.as_str());
                    return Err(BackendError::new(
                        ErrorName::Error,
                        first.unwrap_or("Unknown error"),
                    ));
                }
            }
        }
        Ok(false)
    }

    async fn post_process(
        &self,
        entity: Value,
        _context: &ProcessingContext,
        emit: &mut Emitter,
    ) -> Result<Value, BackendError> {
        match derive_relations(&entity) {
            Ok(relations) => {
                for relation in relations {
                    emit.emit(ProcessorEmit::Relation(relation));
                }
                Ok(entity)
            }
            // Backstage stops at the first reference it cannot parse, and
            // its reference parser throws a plain `Error`.
            Err(problems) => Err(BackendError::internal(
                problems
                    .first()
                    .map_or("Unknown error", |p| p.message.as_str()),
            )),
        }
    }
}

/// Emits every document of a descriptor as an entity read from `location`, and
/// every broken document as an error.
pub(crate) fn emit_documents(text: &str, location: &LocationRef, emit: &mut Emitter) {
    for parsed in parse_documents(text) {
        match parsed {
            Ok(document) if document.value.is_object() => emit.emit(ProcessorEmit::Entity {
                entity: document.value,
                location: location.clone(),
            }),
            Ok(document) => {
                let kind = match document.value {
                    Value::Bool(_) => "boolean",
                    Value::Number(_) => "number",
                    Value::String(_) => "string",
                    _ => "object",
                };
                emit.emit(error(
                    "InputError",
                    format!("Expected object at root, got {kind}"),
                    location,
                ));
            }
            Err(e) => emit.emit(error(
                "InputError",
                format!("YAML error at {location}, {}", e.message),
                location,
            )),
        }
    }
}

fn error(name: &str, message: String, location: &LocationRef) -> ProcessorEmit {
    ProcessorEmit::Error(ProcessingError {
        name: name.to_owned(),
        message,
        location: location.clone(),
    })
}

/// Reads `file` targets: plain paths or glob patterns, each matched file parsed as
/// a multi-document descriptor, with refresh key `file:<path>`.
#[derive(Debug)]
pub struct FileReaderProcessor {
    reader: Arc<Reader>,
}

impl FileReaderProcessor {
    pub fn new(reader: Arc<Reader>) -> Self {
        Self { reader }
    }
}

#[async_trait]
impl CatalogProcessor for FileReaderProcessor {
    fn name(&self) -> &str {
        "FileReaderProcessor"
    }

    async fn read_location(
        &self,
        location: &LocationSpec,
        optional: bool,
        _context: &ProcessingContext,
        emit: &mut Emitter,
    ) -> Result<bool, BackendError> {
        if location.location_type != "file" {
            return Ok(false);
        }
        let target = self
            .reader
            .absolute(&location.target)
            .to_string_lossy()
            .into_owned();
        let files = if glob::is_glob(&target) {
            let pattern = target.clone();
            tokio::task::spawn_blocking(move || glob::expand(&pattern))
                .await
                .map_err(|e| BackendError::internal(format!("file search failed: {e}")))?
        } else {
            vec![std::path::PathBuf::from(&target)]
        };
        let here = location.location_ref();
        let mut read_any = false;
        for file in files {
            let file_ref = LocationRef::new("file", file.to_string_lossy());
            match self.reader.read_file(&file).await {
                Ok(text) => {
                    read_any = true;
                    emit.emit(ProcessorEmit::RefreshKey(file_ref.to_string()));
                    emit_documents(&text, &file_ref, emit);
                }
                Err(ReadError::NotFound(_)) => {}
                Err(e) => emit.emit(error(
                    "Error",
                    format!("file {} could not be read, {e}", location.target),
                    &here,
                )),
            }
        }
        if !read_any && !optional && !emit.has_errors() {
            emit.emit(error(
                "NotFoundError",
                format!("file {} does not exist", location.target),
                &here,
            ));
        }
        Ok(true)
    }
}

/// Reads `url` targets over HTTP(S) from hosts allowed by `backend.reading.allow`,
/// with refresh key `url:<target>`.
#[derive(Debug)]
pub struct UrlReaderProcessor {
    reader: Arc<Reader>,
}

impl UrlReaderProcessor {
    pub fn new(reader: Arc<Reader>) -> Self {
        Self { reader }
    }
}

#[async_trait]
impl CatalogProcessor for UrlReaderProcessor {
    fn name(&self) -> &str {
        "UrlReaderProcessor"
    }

    async fn read_location(
        &self,
        location: &LocationSpec,
        optional: bool,
        _context: &ProcessingContext,
        emit: &mut Emitter,
    ) -> Result<bool, BackendError> {
        if location.location_type != "url" {
            return Ok(false);
        }
        let here = location.location_ref();
        match self.reader.read_url(&location.target).await {
            Ok(text) => {
                emit_documents(&text, &here, emit);
                emit.emit(ProcessorEmit::RefreshKey(here.to_string()));
            }
            Err(ReadError::NotFound(_)) if optional || location.presence == Presence::Optional => {}
            Err(ReadError::NotFound(_)) => emit.emit(error(
                "NotFoundError",
                format!(
                    "Unable to read url, no matching files found for {}",
                    location.target
                ),
                &here,
            )),
            Err(e) => {
                let mut message = format!("Unable to read url, {e}");
                if message.len() > 5000 {
                    let mut cut = 5000;
                    while !message.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    message.truncate(cut);
                }
                emit.emit(error("Error", message, &here));
            }
        }
        Ok(true)
    }
}
