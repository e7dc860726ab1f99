//! The import flow's handlers and logic: checking the entered URL, building
//! the preview (analyze, or a dry run of the location), registering the
//! location, and the result page.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use greenroom_backend_plugin_api::{BackendError, ErrorName};
use greenroom_catalog_client::{
    AddLocationRequest, AnalyzeLocationRequest, CatalogApi, GetEntitiesByRefsRequest, LocationSpec,
    ValidateEntityResponse,
};
use greenroom_web::PageContext;
use greenroom_web::components::entity_triplet;
use serde_json::Value;

use super::view;

/// The largest form body read; the forms carry a URL and a bounded list of refs.
const MAX_FORM_BYTES: usize = 64 * 1024;
/// The longest URL accepted.
pub(crate) const MAX_URL_CHARS: usize = 2048;
/// The most locations one import registers (Backstage registers one per file).
const MAX_TARGETS: usize = 10;
/// The most entities listed in a preview and carried to the result page.
pub(crate) const MAX_ENTITIES: usize = 100;
/// The longest entity ref carried through the forms.
const MAX_REF_CHARS: usize = 512;

/// The catalog the pages read and write through.
pub(crate) type CatalogState = State<Arc<dyn CatalogApi>>;
type Catalog = CatalogState;

/// Why a URL cannot be imported; each variant is its own error state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Empty, too long, not a URL or not http(s).
    BadUrl(String),
    /// The host is not in `backend.reading.allow` (and has no integration).
    NotAllowed(String),
    /// The location is registered already.
    Conflict(String),
    /// The descriptor does not validate; one message per problem.
    Invalid(Vec<String>),
    /// The file could not be read (missing, or not a catalog file).
    Unreadable(String),
    /// A repository without a catalog file; the analyzer's suggested entity
    /// (a Component named after the repository) when it made one.
    NothingFound(Option<Value>),
    /// The catalog failed; the message is safe to show.
    Other(String),
}

impl Failure {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::BadUrl(_) | Self::Invalid(_) | Self::Unreadable(_) | Self::NothingFound(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::NotAllowed(_) => StatusCode::FORBIDDEN,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Other(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// Sorts a catalog error into the states the page distinguishes. A dry run
    /// reports processing errors as one `InputError` whose message lists them
    /// as `Name: message`, so the message decides: the URL reader names the
    /// allow-list setting when it refuses a host, and says it was unable to
    /// read when the file is missing or unreachable.
    pub(crate) fn from_backend(error: BackendError) -> Failure {
        match error.name {
            ErrorName::ConflictError => Failure::Conflict(error.message),
            ErrorName::NotAllowedError => Failure::NotAllowed(error.message),
            ErrorName::NotFoundError => Failure::Unreadable(error.message),
            ErrorName::InputError if error.message.contains("backend.reading.allow") => {
                Failure::NotAllowed(error.message)
            }
            ErrorName::InputError
                if error.message.starts_with("NotFoundError")
                    || error.message.contains("Unable to read url") =>
            {
                Failure::Unreadable(error.message)
            }
            ErrorName::InputError => Failure::Invalid(split_messages(&error.message)),
            ErrorName::Error => {
                Failure::Other("The catalog could not handle the request.".to_owned())
            }
            _ => Failure::Other(error.message),
        }
    }
}

/// Splits a dry run's joined message (`A: x, B: y`) at each `, Name: ` where
/// `Name` looks like an error name, keeping commas inside a message.
pub(crate) fn split_messages(joined: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut search = 0;
    while let Some(offset) = joined[search..].find(", ") {
        let at = search + offset;
        let rest = &joined[at + 2..];
        let starts_error = rest
            .split_once(": ")
            .is_some_and(|(name, _)| name.ends_with("Error") && !name.contains(' '));
        if starts_error {
            parts.push(joined[start..at].to_owned());
            start = at + 2;
        }
        search = at + 2;
    }
    parts.push(joined[start..].to_owned());
    parts.retain(|p| !p.trim().is_empty());
    parts
}

/// Checks the entered URL: present, bounded, absolute http(s) with a host.
pub(crate) fn check_url(raw: &str) -> Result<url::Url, Failure> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(Failure::BadUrl(
            "Enter the URL of a catalog-info.yaml file or of a repository.".to_owned(),
        ));
    }
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(Failure::BadUrl(format!(
            "The URL is longer than {MAX_URL_CHARS} characters."
        )));
    }
    let url = url::Url::parse(raw).map_err(|e| {
        Failure::BadUrl(format!(
            "This is not a valid URL ({e}); enter a full address such as https://github.com/org/repo/blob/main/catalog-info.yaml."
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Failure::BadUrl(format!(
            "Only http and https URLs can be imported, not {}.",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Failure::BadUrl("The URL has no host.".to_owned()));
    }
    Ok(url)
}

/// One entity the import would add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PreviewEntity {
    pub(crate) kind: String,
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) title: Option<String>,
}

impl PreviewEntity {
    fn from_value(entity: &Value) -> PreviewEntity {
        let (kind, namespace, name) = entity_triplet(entity);
        PreviewEntity {
            kind: kind.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            title: entity
                .pointer("/metadata/title")
                .and_then(Value::as_str)
                .map(str::to_owned),
        }
    }

    /// The full ref, `kind:namespace/name`, lower-cased kind.
    pub(crate) fn entity_ref(&self) -> String {
        format!(
            "{}:{}/{}",
            self.kind.to_ascii_lowercase(),
            self.namespace,
            self.name
        )
    }
}

/// One location to register and what it yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PreviewFile {
    pub(crate) target: String,
    pub(crate) entities: Vec<PreviewEntity>,
    /// How many entities there were beyond the listed ones.
    pub(crate) more: usize,
}

/// How the preview was made, as Backstage's import distinguishes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// A catalog file URL, previewed by a dry run of the location.
    Location,
    /// A repository URL with catalog files found by analyze.
    Repository,
}

/// What the import would add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Preview {
    pub(crate) url: String,
    pub(crate) method: Method,
    pub(crate) files: Vec<PreviewFile>,
}

/// Whether the URL names a catalog file rather than a repository or folder
/// (Backstage's import decides the same way, by the extension).
fn is_catalog_file(url: &url::Url) -> bool {
    let path = url.path().to_ascii_lowercase();
    path.ends_with(".yaml") || path.ends_with(".yml")
}

/// A dry run of registering `target`: what processing would yield, without
/// storing anything. The generated Location entity for the target itself is
/// left out, since it is bookkeeping rather than something the user adds.
async fn dry_run(catalog: &dyn CatalogApi, target: &str) -> Result<PreviewFile, Failure> {
    let response = catalog
        .add_location(AddLocationRequest {
            location_type: Some("url".to_owned()),
            target: target.to_owned(),
            dry_run: true,
        })
        .await
        .map_err(Failure::from_backend)?;
    if response.exists == Some(true) {
        return Err(Failure::Conflict(format!(
            "The location {target} is already registered."
        )));
    }
    let root = response.location.entity_ref.clone();
    let entities: Vec<PreviewEntity> = response
        .entities
        .iter()
        .map(PreviewEntity::from_value)
        .filter(|e| root.as_deref() != Some(e.entity_ref().as_str()))
        .collect();
    Ok(bounded_file(target.to_owned(), entities))
}

fn bounded_file(target: String, mut entities: Vec<PreviewEntity>) -> PreviewFile {
    let more = entities.len().saturating_sub(MAX_ENTITIES);
    entities.truncate(MAX_ENTITIES);
    PreviewFile {
        target,
        entities,
        more,
    }
}

/// Builds the preview for an entered URL, or says why it cannot be imported.
pub(crate) async fn preview(catalog: &dyn CatalogApi, raw: &str) -> Result<Preview, Failure> {
    let url = check_url(raw)?;
    let entered = url.to_string();
    if is_catalog_file(&url) {
        let file = dry_run(catalog, &entered).await?;
        return Ok(Preview {
            url: entered,
            method: Method::Location,
            files: vec![file],
        });
    }

    let analysis = catalog
        .analyze_location(AnalyzeLocationRequest {
            location: LocationSpec {
                location_type: "url".to_owned(),
                target: entered.clone(),
            },
            catalog_filename: None,
        })
        .await
        .map_err(Failure::from_backend)?;
    if analysis.existing_entity_files.is_empty() {
        // No catalog file where analyze looks: the URL may still be a
        // location the reader understands (a folder or a raw file without
        // the extension), which a dry run tells.
        return match dry_run(catalog, &entered).await {
            Ok(file) => Ok(Preview {
                url: entered,
                method: Method::Location,
                files: vec![file],
            }),
            Err(failure @ (Failure::NotAllowed(_) | Failure::Conflict(_))) => Err(failure),
            Err(_) => Err(Failure::NothingFound(
                analysis
                    .generate_entities
                    .into_iter()
                    .next()
                    .map(|g| g.entity),
            )),
        };
    }

    let mut files: Vec<(String, bool, Vec<Value>)> = Vec::new();
    for existing in analysis.existing_entity_files {
        let target = existing.location.target;
        match files.iter_mut().find(|(t, _, _)| *t == target) {
            Some((_, registered, entities)) => {
                *registered &= existing.is_registered;
                entities.push(existing.entity);
            }
            None => files.push((target, existing.is_registered, vec![existing.entity])),
        }
    }
    files.truncate(MAX_TARGETS);
    if files.iter().all(|(_, registered, _)| *registered) {
        let targets: Vec<&str> = files.iter().map(|(t, _, _)| t.as_str()).collect();
        return Err(Failure::Conflict(format!(
            "The location {} is already registered.",
            targets.join(", ")
        )));
    }
    // Check every entity as the catalog would process it, so that a broken
    // descriptor is reported before anything is registered.
    let mut problems = Vec::new();
    let mut preview_files = Vec::new();
    for (target, registered, entities) in files {
        if registered {
            continue;
        }
        let location_ref = format!("url:{target}");
        for entity in entities.iter().take(MAX_ENTITIES) {
            let label = PreviewEntity::from_value(entity).entity_ref();
            match catalog.validate_entity(entity, &location_ref).await {
                Ok(ValidateEntityResponse::Valid) => {}
                Ok(ValidateEntityResponse::Invalid(errors)) => problems.extend(
                    errors
                        .into_iter()
                        .map(|e| format!("{label}: {}: {}", e.name, e.message)),
                ),
                Err(e) if e.name == ErrorName::InputError => {
                    problems.push(format!("{label}: {}", e.message));
                }
                Err(e) => return Err(Failure::from_backend(e)),
            }
        }
        let listed = entities.iter().map(PreviewEntity::from_value).collect();
        preview_files.push(bounded_file(target, listed));
    }
    if !problems.is_empty() {
        return Err(Failure::Invalid(problems));
    }
    Ok(Preview {
        url: entered,
        method: Method::Repository,
        files: preview_files,
    })
}

/// Reads an `application/x-www-form-urlencoded` body; `None` when it is
/// larger than any form of these pages.
fn read_form(body: &str) -> Option<Vec<(String, String)>> {
    if body.len() > MAX_FORM_BYTES {
        return None;
    }
    Some(
        url::form_urlencoded::parse(body.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    )
}

fn too_large() -> Response {
    (StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.").into_response()
}

fn values<'a>(form: &'a [(String, String)], key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    form.iter()
        .filter(move |(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// `GET /catalog-import`: the URL form, pre-filled from `?url=`.
pub(crate) async fn form_page(ctx: PageContext) -> Response {
    let url = ctx.param("url").unwrap_or_default().to_owned();
    view::form_page(&ctx, StatusCode::OK, &url, None)
}

/// `POST /catalog-import/analyze`: the preview, or the form with an error.
/// Nothing is stored by this step, so its answer is rendered directly.
pub(crate) async fn analyze(ctx: PageContext, State(catalog): Catalog, body: String) -> Response {
    let Some(form) = read_form(&body) else {
        return too_large();
    };
    let url = values(&form, "url").next().unwrap_or_default().to_owned();
    match preview(catalog.as_ref(), &url).await {
        Ok(preview) => view::preview_page(&ctx, &preview),
        Err(failure) => view::form_page(&ctx, failure.status(), &url, Some(&failure)),
    }
}

/// `POST /catalog-import/register`: registers the previewed locations and
/// redirects to the result page.
pub(crate) async fn register(ctx: PageContext, State(catalog): Catalog, body: String) -> Response {
    let Some(form) = read_form(&body) else {
        return too_large();
    };
    let url = values(&form, "url").next().unwrap_or_default().to_owned();
    let targets: Vec<&str> = values(&form, "target").take(MAX_TARGETS).collect();
    if targets.is_empty() {
        let failure = Failure::BadUrl("Nothing to import: analyze a URL first.".to_owned());
        return view::form_page(&ctx, failure.status(), &url, Some(&failure));
    }
    let mut location_ids = Vec::new();
    for target in &targets {
        // Only URLs are registered from this page, as in Backstage.
        if let Err(failure) = check_url(target) {
            return view::form_page(&ctx, failure.status(), &url, Some(&failure));
        }
        let added = catalog
            .add_location(AddLocationRequest {
                location_type: Some("url".to_owned()),
                target: (*target).to_owned(),
                dry_run: false,
            })
            .await;
        match added {
            Ok(response) => location_ids.push(response.location.id),
            Err(error) => {
                let failure = Failure::from_backend(error);
                return view::form_page(&ctx, failure.status(), &url, Some(&failure));
            }
        }
    }
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for id in &location_ids {
        query.append_pair("location", id);
    }
    for entity_ref in values(&form, "entity")
        .filter(|r| r.len() <= MAX_REF_CHARS)
        .take(MAX_ENTITIES)
    {
        query.append_pair("entity", entity_ref);
    }
    Redirect::to(&format!("{}?{}", super::DONE_PATH, query.finish())).into_response()
}

/// One registered location on the result page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Registered {
    pub(crate) id: String,
    pub(crate) target: Option<String>,
}

/// One entity on the result page and whether the catalog serves it yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Added {
    pub(crate) entity_ref: String,
    pub(crate) kind: String,
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) ready: bool,
}

/// `GET /catalog-import/done?location=..&entity=..`: what was registered,
/// with links to the new entities.
pub(crate) async fn done(ctx: PageContext, State(catalog): Catalog) -> Response {
    let mut locations = Vec::new();
    for id in ctx.params("location").iter().take(MAX_TARGETS) {
        if id.len() > MAX_REF_CHARS {
            continue;
        }
        // A location removed since (or an id that never was) still shows by id.
        let target = catalog
            .get_location_by_id(id)
            .await
            .ok()
            .flatten()
            .map(|l| l.target);
        locations.push(Registered {
            id: id.clone(),
            target,
        });
    }
    let mut added: Vec<Added> = ctx
        .params("entity")
        .iter()
        .take(MAX_ENTITIES)
        .filter(|r| r.len() <= MAX_REF_CHARS)
        .filter_map(|entity_ref| {
            let (kind, rest) = entity_ref.split_once(':')?;
            let (namespace, name) = rest.split_once('/')?;
            if kind.is_empty() || namespace.is_empty() || name.is_empty() {
                return None;
            }
            Some(Added {
                entity_ref: entity_ref.clone(),
                kind: kind.to_owned(),
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                ready: false,
            })
        })
        .collect();
    if !added.is_empty() {
        let request = GetEntitiesByRefsRequest {
            entity_refs: added.iter().map(|a| a.entity_ref.clone()).collect(),
            fields: Some(vec!["kind".to_owned(), "metadata.name".to_owned()]),
            filter: None,
        };
        // Processing runs in the background; an entity not served yet is
        // still linked, marked as on its way.
        if let Ok(found) = catalog.get_entities_by_refs(request).await {
            for (entry, item) in added.iter_mut().zip(found.items) {
                entry.ready = item.is_some();
            }
        }
    }
    view::done_page(&ctx, &locations, &added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_dry_run_messages_split_at_error_names_only() {
        assert_eq!(
            split_messages("InputError: a, b and c, NotFoundError: gone, sadly"),
            vec!["InputError: a, b and c", "NotFoundError: gone, sadly"]
        );
        assert_eq!(split_messages("just one"), vec!["just one"]);
    }

    #[test]
    fn urls_are_checked_before_the_catalog_is_asked() {
        assert!(matches!(check_url("  "), Err(Failure::BadUrl(_))));
        assert!(matches!(check_url("not a url"), Err(Failure::BadUrl(_))));
        assert!(matches!(
            check_url("ftp://x/y.yaml"),
            Err(Failure::BadUrl(_))
        ));
        assert!(matches!(
            check_url(&format!("https://x/{}", "a".repeat(MAX_URL_CHARS))),
            Err(Failure::BadUrl(_))
        ));
        assert!(check_url("https://github.com/org/repo").is_ok());
    }
}
