//! `$text`, `$json` and `$yaml` placeholder substitution (spec §9), reading through
//! a caller-supplied [`PlaceholderReader`] so that this crate does no I/O itself.
//!
//! The traversal, resolvers and error messages follow Backstage. One behaviour
//! deliberately differs, as a Greenroom product decision:
//!
//! **Relative placeholders in `file` locations.** Backstage cannot resolve a
//! relative value against a `file:` base and fails with "could not form a URL".
//! Greenroom resolves it against the directory of the base file instead: `./x` and
//! `x` are siblings of the file, `..` climbs, and a leading `/` is relative to
//! [`PlaceholderContext::file_root`] when one is given (else an absolute path).
//! The result is normalised lexically (no symlinks are followed) and, when a root is
//! given, must stay inside it; otherwise the placeholder fails with
//! "... could not form a URL out of <base> and <value>, path escapes the location root".
//! Absolute URLs in file locations are used verbatim, as in Backstage.

use std::future::Future;
use std::path::{Component, Path, PathBuf};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use serde_json::Value;
use url::Url;

use crate::location_ref::{LocationRef, resolve_url};
use crate::problem::{FieldPath, PathSegment, Problem, ProblemKind};
use crate::yaml::{SingleDocumentError, parse_single};

/// What to read: a URL, or an absolute normalised file path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReadTarget {
    /// `url` or `file`.
    pub location_type: String,
    /// The URL, or the absolute normalised path.
    pub target: String,
}

impl ReadTarget {
    /// The refresh key recorded after a successful read, e.g. `url:<resolved URL>`.
    pub fn refresh_key(&self) -> String {
        format!("{}:{}", self.location_type, self.target)
    }
}

/// Why a placeholder target could not be read. The text is the cause shown to users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    NotAllowed(String),
    #[error("{0}")]
    Other(String),
}

/// Reads placeholder targets; implemented over the URL reader and the file system
/// by the backend, and by in-memory doubles in tests.
pub trait PlaceholderReader {
    /// Reads the whole target as UTF-8 text.
    fn read(&self, target: &ReadTarget) -> impl Future<Output = Result<String, ReadError>> + Send;
}

/// Where the entity came from, for resolving relative placeholder values.
#[derive(Debug, Clone, Copy)]
pub struct PlaceholderContext<'a> {
    /// The entity's `backstage.io/managed-by-location`.
    pub base: &'a LocationRef,
    /// For `file` bases: the directory that relative paths may not leave, and that
    /// a leading `/` is relative to.
    pub file_root: Option<&'a Path>,
}

/// The resolvers built into Backstage.
pub const BUILTIN_RESOLVERS: [&str; 3] = ["text", "json", "yaml"];

/// A placeholder found in an entity, before it is resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaceholderSite {
    /// Where the placeholder object sits in the entity.
    pub path: Vec<PathSegment>,
    /// The resolver name, without the `$`.
    pub key: String,
    /// The placeholder's parameter, e.g. `./README.md`.
    pub value: Value,
}

/// Replaces every placeholder in `entity` with the content it names (§9.1–§9.4).
///
/// Returns the refresh keys of the targets read (`url:<resolved>` or
/// `file:<path>`), in document order. On failure every placeholder error is
/// reported, each at the path of its placeholder object, and the entity is left
/// unchanged.
pub async fn substitute<R: PlaceholderReader>(
    entity: &mut Value,
    ctx: &PlaceholderContext<'_>,
    reader: &R,
) -> Result<Vec<String>, Vec<Problem>> {
    let sites = find_placeholder_sites(entity, |key| BUILTIN_RESOLVERS.contains(&key));
    let mut replacements = Vec::with_capacity(sites.len());
    let mut refresh_keys = Vec::new();
    let mut problems = Vec::new();
    for site in sites {
        let path = FieldPath::from(site.path.clone());
        match resolve_builtin(&site, ctx, reader).await {
            Ok((value, key)) => {
                refresh_keys.push(key);
                replacements.push((site.path, value));
            }
            Err(message) => problems.push(Problem::new(ProblemKind::Placeholder, path, message)),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    for (path, value) in replacements {
        replace_at(entity, &path, value);
    }
    Ok(refresh_keys)
}

/// Puts `value` at `path` (a placeholder site's), if the path still exists.
pub fn replace_at(entity: &mut Value, path: &[PathSegment], value: Value) {
    if let Some(slot) = value_at_mut(entity, path) {
        *slot = value;
    }
}

/// Resolves a placeholder value to what should be read, without reading it.
///
/// The error is the cause part of the "could not form a URL" message.
pub fn resolve_placeholder_target(
    ctx: &PlaceholderContext<'_>,
    value: &str,
) -> Result<ReadTarget, String> {
    let base = ctx.base;
    if base.location_type == "url" {
        return resolve_url(&base.target, value).map(|url| ReadTarget {
            location_type: "url".to_owned(),
            target: url,
        });
    }
    if Url::parse(value).is_ok() {
        return Ok(ReadTarget {
            location_type: "url".to_owned(),
            target: value.to_owned(),
        });
    }
    if base.location_type != "file" {
        return Err(format!(
            "relative values are not supported for {} locations",
            base.location_type
        ));
    }
    let base_path = Path::new(&base.target);
    if !base_path.is_absolute() {
        return Err("the base location is not an absolute path".to_owned());
    }
    let root = ctx.file_root.map(normalize);
    let joined = match (value.strip_prefix('/'), &root) {
        (Some(rest), Some(root)) => root.join(rest),
        (Some(_), None) => PathBuf::from(value),
        (None, _) => base_path
            .parent()
            .unwrap_or_else(|| Path::new("/"))
            .join(value),
    };
    let resolved = normalize(&joined);
    if let Some(root) = &root
        && !resolved.starts_with(root)
    {
        return Err("path escapes the location root".to_owned());
    }
    let target = resolved
        .to_str()
        .ok_or_else(|| "the resolved path is not valid UTF-8".to_owned())?
        .to_owned();
    Ok(ReadTarget {
        location_type: "file".to_owned(),
        target,
    })
}

/// Runs a future to completion on the current thread by polling it with a no-op
/// waker, yielding the thread between polls.
///
/// Only for readers that never truly pend (in-memory or blocking file readers):
/// nothing would ever wake a future waiting on real I/O, so this would spin.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::yield_now();
    }
}

/// Collects the placeholders of §9.1 in document order: single-key objects whose
/// key is `$` followed by a name `is_resolver` accepts (the built-in ones, or
/// those a catalog module added). An explicit stack keeps deeply nested input
/// from exhausting the call stack.
pub fn find_placeholder_sites(
    root: &Value,
    is_resolver: impl Fn(&str) -> bool,
) -> Vec<PlaceholderSite> {
    let mut sites = Vec::new();
    let mut stack: Vec<(Vec<PathSegment>, &Value)> = vec![(Vec::new(), root)];
    while let Some((path, value)) = stack.pop() {
        match value {
            Value::Array(items) => {
                // Reversed so that popping visits elements in order.
                for (i, item) in items.iter().enumerate().rev() {
                    let mut child = path.clone();
                    child.push(PathSegment::Index(i));
                    stack.push((child, item));
                }
            }
            Value::Object(map) => {
                let has_dollar_key = map.keys().any(|k| k.starts_with('$'));
                if !has_dollar_key {
                    for (k, v) in map.iter().rev() {
                        let mut child = path.clone();
                        child.push(PathSegment::Key(k.clone()));
                        stack.push((child, v));
                    }
                    continue;
                }
                // Objects mixing a `$` key with others are left alone entirely, as
                // are single `$` keys without a resolver (e.g. JSON Schema `$ref`).
                if map.len() != 1 {
                    continue;
                }
                if let Some((k, v)) = map.iter().next() {
                    let name = k.strip_prefix('$').unwrap_or(k);
                    if is_resolver(name) {
                        sites.push(PlaceholderSite {
                            path,
                            key: name.to_owned(),
                            value: v.clone(),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    sites
}

/// Resolves, reads and parses one placeholder with the built-in resolver of its
/// key (`text` for any key that is not `json` or `yaml`); the error is the full
/// message. The `String` is the refresh key of the target read.
pub async fn resolve_builtin<R: PlaceholderReader>(
    site: &PlaceholderSite,
    ctx: &PlaceholderContext<'_>,
    reader: &R,
) -> Result<(Value, String), String> {
    let key = &site.key;
    let Value::String(value) = &site.value else {
        return Err(format!(
            "Placeholder ${key} expected a string value parameter, in the form of an absolute URL or a relative path"
        ));
    };
    let target = resolve_placeholder_target(ctx, value).map_err(|cause| {
        format!(
            "Placeholder ${key} could not form a URL out of {} and {value}, {cause}",
            ctx.base.target
        )
    })?;
    let content = reader
        .read(&target)
        .await
        .map_err(|e| format!("Placeholder ${key} could not read location {value}, {e}"))?;
    let parsed = match key.as_str() {
        "json" => serde_json::from_str(&content).map_err(|e| {
            format!("Placeholder ${key} failed to parse JSON data at {value}, {e}")
        })?,
        "yaml" => parse_single(&content).map_err(|e| match e {
            SingleDocumentError::Count(n) => format!(
                "Placeholder ${key} expected to find exactly one document of data at {value}, found {n}"
            ),
            SingleDocumentError::Invalid(msg) => {
                format!("Placeholder ${key} found an error in the data at {value}, {msg}")
            }
        })?,
        _ => Value::String(content),
    };
    Ok((parsed, target.refresh_key()))
}

/// The value at `path`, if the path still exists.
fn value_at_mut<'v>(mut value: &'v mut Value, path: &[PathSegment]) -> Option<&'v mut Value> {
    for segment in path {
        value = match segment {
            PathSegment::Key(k) => value.get_mut(k.as_str())?,
            PathSegment::Index(i) => value.get_mut(*i)?,
        };
    }
    Some(value)
}

/// Lexical normalisation: drops `.`, resolves `..` against earlier parts and never
/// climbs above the root of an absolute path.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                // `..` at the root stays at the root; a relative path keeps it.
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The refusal message of the same-repository guard.
pub const SAME_REPOSITORY_MESSAGE: &str =
    "Placeholder may only reference files from the same repository as the entity";

/// The same-repository guard of §9.2, checked before a placeholder read.
///
/// `integration_hosts` are the hosts of the configured SCM integrations. The
/// caller applies this (e.g. in its reader) because [`PlaceholderContext`] does
/// not know the integrations. Azure's download-URL identity check is not
/// modelled; Azure URLs are compared like any other repository URL.
pub fn check_same_repository(
    base: &str,
    resolved: &str,
    integration_hosts: &[&str],
) -> Result<(), &'static str> {
    let (Ok(base_url), Ok(resolved_url)) = (Url::parse(base), Url::parse(resolved)) else {
        // A `file:` path base or an unparsable value has no host to compare.
        return Ok(());
    };
    let resolved_host = resolved_url.host_str().unwrap_or("");
    let base_host = base_url.host_str().unwrap_or("");
    let on_integration = integration_hosts.contains(&resolved_host);
    if on_integration && resolved_host != base_host {
        return Err(SAME_REPOSITORY_MESSAGE);
    }
    if !matches!(base_url.scheme(), "http" | "https") {
        return Ok(());
    }
    let (Some(base_repo), Some(resolved_repo)) =
        (repository_of(&base_url), repository_of(&resolved_url))
    else {
        return Ok(());
    };
    if base_repo.suspicious() || resolved_repo.suspicious() {
        return Err(SAME_REPOSITORY_MESSAGE);
    }
    let has_file = base_repo.has_file_path || resolved_repo.has_file_path;
    if has_file
        && (on_integration || resolved_host == base_host)
        && (resolved_host != base_host
            || base_repo.owner != resolved_repo.owner
            || base_repo.repo != resolved_repo.repo)
    {
        return Err(SAME_REPOSITORY_MESSAGE);
    }
    Ok(())
}

/// Owner and repository of a repository URL, as git URL parsers split them.
struct RepoParts {
    owner: String,
    repo: String,
    has_file_path: bool,
}

impl RepoParts {
    /// Encoded characters or `..` segments could make two different strings name
    /// the same repository, so such URLs are refused outright.
    fn suspicious(&self) -> bool {
        [&self.owner, &self.repo]
            .iter()
            .any(|part| part.contains('%') || part.split('/').any(|s| s == ".."))
    }
}

fn repository_of(url: &Url) -> Option<RepoParts> {
    let segments: Vec<&str> = url.path_segments()?.filter(|s| !s.is_empty()).collect();
    // GitLab: `<group>/<subgroups...>/<project>/-/(blob|tree)/<ref>/<path>`.
    if let Some(dash) = segments.iter().position(|s| *s == "-")
        && dash >= 2
    {
        return Some(RepoParts {
            owner: segments[..dash - 1].join("/"),
            repo: segments[dash - 1].to_owned(),
            has_file_path: segments.len() > dash + 3,
        });
    }
    if segments.len() < 2 {
        return None;
    }
    // GitHub-like: `<owner>/<repo>/(blob|tree|edit|src)/<ref>/<path>`.
    let has_file_path =
        segments.len() > 4 && matches!(segments[2], "blob" | "tree" | "edit" | "src" | "raw");
    Some(RepoParts {
        owner: segments[0].to_owned(),
        repo: segments[1].trim_end_matches(".git").to_owned(),
        has_file_path,
    })
}
