//! Location references (`<type>:<target>`, spec §4.6), the names of generated
//! Location entities (§10.2), an entity's source location, and the SCM-style URL
//! resolution used for placeholders and relative targets (§9.2).

use std::fmt;

use serde_json::Value;
use url::Url;

/// Annotation holding the location of the file an entity was read from.
pub const ANNOTATION_MANAGED_BY_LOCATION: &str = "backstage.io/managed-by-location";
/// Annotation holding the registered root location an entity came through.
pub const ANNOTATION_MANAGED_BY_ORIGIN_LOCATION: &str = "backstage.io/managed-by-origin-location";
/// Annotation pointing at the entity's source code, when it differs from the file.
pub const ANNOTATION_SOURCE_LOCATION: &str = "backstage.io/source-location";

/// A parsed `<type>:<target>` location reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LocationRef {
    /// `url`, `file`, or a custom type.
    pub location_type: String,
    /// The URL, path or other target; may itself contain colons.
    pub target: String,
}

impl LocationRef {
    /// Builds a location reference from its parts, without checking them.
    pub fn new(location_type: impl Into<String>, target: impl Into<String>) -> Self {
        Self {
            location_type: location_type.into(),
            target: target.into(),
        }
    }
}

impl fmt::Display for LocationRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.location_type, self.target)
    }
}

/// Why a location reference could not be parsed or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationRefError {
    #[error(
        "Unable to parse location reference '{0}', expected '<type>:<target>', e.g. 'url:https://host/path'"
    )]
    Malformed(String),
    #[error("Invalid location reference '{0}', please prefix it with 'url:', e.g. 'url:{0}'")]
    BareUrl(String),
    #[error("Unable to stringify location reference, empty type or target")]
    EmptyPart,
}

/// Parses `<type>:<target>`, splitting at the first colon and trimming both halves.
pub fn parse_location_ref(input: &str) -> Result<LocationRef, LocationRefError> {
    let Some((location_type, target)) = input.split_once(':') else {
        return Err(LocationRefError::Malformed(input.to_owned()));
    };
    let (location_type, target) = (location_type.trim(), target.trim());
    if location_type.is_empty() || target.is_empty() {
        return Err(LocationRefError::Malformed(input.to_owned()));
    }
    // A bare URL splits into `https` and `//host/...`; tell the author how to fix it.
    if location_type == "http" || location_type == "https" {
        return Err(LocationRefError::BareUrl(input.to_owned()));
    }
    Ok(LocationRef::new(location_type, target))
}

/// Writes `type:target`, refusing empty parts.
pub fn stringify_location_ref(
    location_type: &str,
    target: &str,
) -> Result<String, LocationRefError> {
    if location_type.is_empty() || target.is_empty() {
        return Err(LocationRefError::EmptyPart);
    }
    Ok(format!("{location_type}:{target}"))
}

/// The `metadata.name` of the Location entity generated for a registered location:
/// `generated-` followed by the lower-case hex SHA-1 of `type:target`.
pub fn generated_location_name(location_type: &str, target: &str) -> String {
    let digest = sha1_smol::Sha1::from(format!("{location_type}:{target}"))
        .digest()
        .to_string();
    format!("generated-{digest}")
}

/// The entity's source location: `backstage.io/source-location` when present,
/// else `backstage.io/managed-by-location`. `None` when neither parses.
pub fn source_location(entity: &Value) -> Option<LocationRef> {
    let annotations = entity.get("metadata")?.get("annotations")?;
    let raw = annotations
        .get(ANNOTATION_SOURCE_LOCATION)
        .or_else(|| annotations.get(ANNOTATION_MANAGED_BY_LOCATION))?
        .as_str()?;
    parse_location_ref(raw).ok()
}

/// The location the entity was read from (`backstage.io/managed-by-location`).
pub fn managed_by_location(entity: &Value) -> Option<LocationRef> {
    let raw = entity
        .get("metadata")?
        .get("annotations")?
        .get(ANNOTATION_MANAGED_BY_LOCATION)?
        .as_str()?;
    parse_location_ref(raw).ok()
}

/// Resolves `target` against the file URL `base` the way Backstage's SCM
/// integrations do (§9.2). The error is a short cause for the caller's message.
///
/// * An absolute URL is returned as written.
/// * A value starting with `/` is placed under the repository root of `base`:
///   `https://host/owner/repo/(blob|tree|edit)/ref` for GitHub-style URLs,
///   everything up to `/-/(blob|tree)/ref` for GitLab-style URLs, else the host root.
/// * Anything else is resolved per RFC 3986 against `base`.
/// * In the two relative cases the base's query string replaces the result's.
/// * When `base` is a GitHub-style URL (host `github.com`, or a path shaped
///   `/owner/repo/blob/ref/...`), the integration rewrites a `blob`/`tree`/`edit`
///   segment of the result to `tree`; GitHub redirects such URLs to the file. As in
///   Backstage this post-processing also applies to absolute values.
pub fn resolve_url(base: &str, target: &str) -> Result<String, String> {
    let base_url = Url::parse(base).map_err(|e| format!("invalid base URL: {e}"))?;
    let github = is_github_style(&base_url);
    if let Ok(mut absolute) = Url::parse(target) {
        if github && rewrite_github_segment(&mut absolute) {
            return Ok(absolute.to_string());
        }
        return Ok(target.to_owned());
    }
    let mut resolved = if target.starts_with('/') {
        let root = repository_root_path(&base_url);
        let mut updated = base_url.clone();
        updated.set_path(&format!("{root}{target}"));
        updated
    } else {
        base_url
            .join(target)
            .map_err(|e| format!("invalid relative URL: {e}"))?
    };
    resolved.set_query(base_url.query());
    if github {
        rewrite_github_segment(&mut resolved);
    }
    Ok(resolved.to_string())
}

/// Whether the URL belongs to GitHub or has GitHub's `/owner/repo/blob/ref/` shape.
fn is_github_style(url: &Url) -> bool {
    if url.host_str() == Some("github.com") {
        return true;
    }
    let segments: Vec<&str> = url.path_segments().map_or_else(Vec::new, Iterator::collect);
    segments.len() >= 4 && segments[2] == "blob" && segments[0] != "-" && segments[1] != "-"
}

/// Rewrites `/owner/repo/(blob|tree|edit)/` to `/owner/repo/tree/`. Returns whether
/// the URL had that shape.
fn rewrite_github_segment(url: &mut Url) -> bool {
    let Some(segments) = url.path_segments() else {
        return false;
    };
    let mut segments: Vec<String> = segments.map(str::to_owned).collect();
    if segments.len() < 4 || !matches!(segments[2].as_str(), "blob" | "tree" | "edit") {
        return false;
    }
    segments[2] = "tree".to_owned();
    let path = format!("/{}", segments.join("/"));
    url.set_path(&path);
    true
}

/// The path of the repository root inside `base`, without a trailing slash; empty
/// for the host root.
fn repository_root_path(base: &Url) -> String {
    let segments: Vec<&str> = base
        .path_segments()
        .map_or_else(Vec::new, Iterator::collect);
    // GitLab: `/group/sub/project/-/blob/<ref>/<file path>`.
    if let Some(dash) = segments.iter().position(|s| *s == "-")
        && dash >= 1
        && segments.len() > dash + 2
        && matches!(segments[dash + 1], "blob" | "tree")
    {
        return format!("/{}", segments[..dash + 3].join("/"));
    }
    // GitHub and look-alikes: `/owner/repo/<blob|tree|edit>/<ref>/<file path>`.
    if segments.len() >= 4 && matches!(segments[2], "blob" | "tree" | "edit") {
        return format!("/{}", segments[..4].join("/"));
    }
    String::new()
}
