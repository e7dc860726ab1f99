//! The processing routes that are neither entity reads nor locations:
//! refresh, validate-entity and analyze-location.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use greenroom_backend_plugin_api::BackendError;
use greenroom_backend_plugin_api::http::ApiError;
use greenroom_plugin_catalog_node::{AnalyzeRequest, CatalogAnalysisExtension};
use serde_json::{Value, json};

use super::body::{self, ObjectSchema, Schema};
use super::params::parse_query;
use super::{ApiState, input_error, json_value};

type Handler = Result<Response, ApiError>;

const REFRESH_BODY: Schema = Schema::Object(&ObjectSchema {
    properties: &[
        ("entityRef", Schema::String),
        ("authorizationToken", Schema::String),
    ],
    required: &["entityRef"],
    additional: true,
});

/// `POST /refresh`: 200 with an empty body once the entity is scheduled.
pub(crate) async fn refresh(
    State(state): State<Arc<ApiState>>,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Handler {
    parse_query(uri.query(), &[])?;
    let body = body::read_json(&headers, &bytes)?.unwrap_or_else(|| json!({}));
    body::check(&body, &REFRESH_BODY)?;
    let entity_ref = body
        .get("entityRef")
        .and_then(Value::as_str)
        .unwrap_or_default();
    state.engine.refresh_entity(entity_ref).await?;
    Ok(StatusCode::OK.into_response())
}

const VALIDATE_BODY: Schema = Schema::Object(&ObjectSchema {
    properties: &[
        (
            "entity",
            Schema::Object(&ObjectSchema {
                properties: &[],
                required: &[],
                additional: true,
            }),
        ),
        ("location", Schema::String),
    ],
    required: &["location", "entity"],
    additional: true,
});

/// `POST /validate-entity`: 200 with an empty body, or 400 `{errors: [...]}`.
/// Malformed requests get the standard error body; processing failures the
/// special one.
pub(crate) async fn validate_entity(
    State(state): State<Arc<ApiState>>,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Handler {
    parse_query(uri.query(), &[])?;
    let body = body::read_json(&headers, &bytes)?.unwrap_or_else(|| json!({}));
    body::check(&body, &VALIDATE_BODY)?;
    let entity = body.get("entity").cloned().unwrap_or(Value::Null);
    let location = body
        .get("location")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // Backstage checks the envelope first and then the location ref, and reports
    // only the first problem, worded as its schema validator and ref parser
    // word them; clients compare these messages.
    if let Some(message) = envelope_problem(&entity).or_else(|| location_ref_problem(location)) {
        return Ok(json_value(
            StatusCode::BAD_REQUEST,
            &json!({ "errors": [{ "name": "TypeError", "message": message }] }),
        ));
    }
    match state.engine.validate_entity(entity, location).await {
        Ok(()) => Ok(StatusCode::OK.into_response()),
        Err(errors) => {
            let errors = serde_json::to_value(&errors).unwrap_or(Value::Array(Vec::new()));
            Ok(json_value(
                StatusCode::BAD_REQUEST,
                &json!({ "errors": errors }),
            ))
        }
    }
}

/// The first problem Backstage's entity envelope schema (`EntityEnvelope`)
/// reports for `entity`, in its validator's words: required keys first, then
/// each property in schema order.
fn envelope_problem(entity: &Value) -> Option<String> {
    let Some(root) = entity.as_object() else {
        return Some("<root> must be object - type: object".to_owned());
    };
    for key in ["apiVersion", "kind", "metadata"] {
        if !root.contains_key(key) {
            return Some(format!(
                "<root> must have required property '{key}' - missingProperty: {key}"
            ));
        }
    }
    let non_empty_string = |value: &Value, path: &str| match value {
        Value::String(s) if s.is_empty() => Some(format!(
            "{path} must NOT have fewer than 1 characters - limit: 1"
        )),
        Value::String(_) => None,
        _ => Some(format!("{path} must be string - type: string")),
    };
    for key in ["apiVersion", "kind"] {
        if let Some(problem) = root
            .get(key)
            .and_then(|v| non_empty_string(v, &format!("/{key}")))
        {
            return Some(problem);
        }
    }
    let Some(metadata) = root.get("metadata").and_then(Value::as_object) else {
        return Some("/metadata must be object - type: object".to_owned());
    };
    if !metadata.contains_key("name") {
        return Some(
            "/metadata must have required property 'name' - missingProperty: name".to_owned(),
        );
    }
    for key in ["name", "namespace"] {
        if let Some(problem) = metadata
            .get(key)
            .and_then(|v| non_empty_string(v, &format!("/metadata/{key}")))
        {
            return Some(problem);
        }
    }
    None
}

/// Whether `target` starts with a `javascript:` scheme, allowing the control
/// characters and whitespace browsers ignore there (Backstage refuses such
/// location refs).
fn is_script_target(target: &str) -> bool {
    let rest = target.trim_start_matches(|c: char| c <= '\u{1f}' || c == ' ');
    let mut chars = rest
        .chars()
        .filter(|c| !matches!(c, '\r' | '\n' | '\t'))
        .map(|c| c.to_ascii_lowercase());
    "javascript:".chars().all(|want| chars.next() == Some(want))
}

/// The problem Backstage's location ref parser, and then the validate-entity
/// route (which takes `url` refs only), report for `location`.
fn location_ref_problem(location: &str) -> Option<String> {
    let malformed = || {
        format!(
            "Unable to parse location ref '{location}', expected '<type>:<target>', e.g. 'url:https://host/path'"
        )
    };
    let Some((location_type, target)) = location.split_once(':') else {
        return Some(malformed());
    };
    let (location_type, target) = (location_type.trim(), target.trim());
    if location_type.is_empty() || target.is_empty() {
        return Some(malformed());
    }
    if location_type == "http" || location_type == "https" {
        return Some(format!(
            "Invalid location ref '{location}', please prefix it with 'url:', e.g. 'url:{location}'"
        ));
    }
    if is_script_target(target) {
        return Some(format!(
            "Invalid location ref '{location}', target is a javascript: URL"
        ));
    }
    if location_type != "url" {
        return Some(format!(
            "Invalid location ref {location}, only 'url:<target>' is supported, e.g. url:https://host/path"
        ));
    }
    None
}

const ANALYZE_BODY: Schema = Schema::Object(&ObjectSchema {
    properties: &[
        (
            "location",
            Schema::Object(&ObjectSchema {
                properties: &[("type", Schema::String), ("target", Schema::String)],
                required: &["type", "target"],
                additional: false,
            }),
        ),
        ("catalogFilename", Schema::String),
    ],
    required: &["location"],
    additional: true,
});

/// The slug annotation prefix of well-known SCM hosts.
fn slug_prefix(host: &str) -> Option<&'static str> {
    match host {
        "github.com" => Some("github.com"),
        "gitlab.com" => Some("gitlab.com"),
        "bitbucket.org" => Some("bitbucket.org"),
        "dev.azure.com" => Some("dev.azure.com"),
        _ => None,
    }
}

/// `POST /analyze-location`: the first location analyzer a module added that
/// supports the URL, when it finds something; otherwise Backstage's default
/// analyzer: a catalog file
/// at the repository root is reported under `existingEntityFiles`; otherwise a
/// Component named after the repository is suggested.
pub(crate) async fn analyze_location(
    State(state): State<Arc<ApiState>>,
    analysis: Option<Extension<Arc<CatalogAnalysisExtension>>>,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Handler {
    parse_query(uri.query(), &[])?;
    let body = body::read_json(&headers, &bytes)?.unwrap_or_else(|| json!({}));
    body::check(&body, &ANALYZE_BODY)?;
    let location_type = body
        .pointer("/location/type")
        .and_then(Value::as_str)
        .unwrap_or("url");
    let target = body
        .pointer("/location/target")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let filename = body
        .get("catalogFilename")
        .and_then(Value::as_str)
        .unwrap_or("catalog-info.yaml");
    let url = url::Url::parse(target)
        .map_err(|_| input_error("The given location.target is not a URL"))?;

    // A module's analyzer for this kind of URL goes first.
    if let Some(analyzer) = analysis.and_then(|Extension(a)| a.analyzer_for(target)) {
        let request = AnalyzeRequest {
            url: target.to_owned(),
            catalog_filename: body
                .get("catalogFilename")
                .and_then(Value::as_str)
                .map(str::to_owned),
        };
        let found = analyzer.analyze(&request).await?;
        if !found.existing_entity_files.is_empty() || !found.generate_entities.is_empty() {
            let answer = serde_json::to_value(&found).map_err(|e| {
                ApiError(BackendError::internal(format!(
                    "analyzer {} gave an answer that cannot be serialised: {e}",
                    analyzer.name()
                )))
            })?;
            return Ok(json_value(StatusCode::OK, &answer));
        }
    }
    let segments: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|p| !p.is_empty()).collect())
        .unwrap_or_default();
    let owner = segments.first().copied().unwrap_or_default();
    let repo = segments
        .get(1)
        .copied()
        .unwrap_or(owner)
        .trim_end_matches(".git");

    // An existing catalog file: registered already, or readable at the root.
    // The authority keeps an explicit port: self-hosted forges often run on one.
    let authority = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let file_target = format!(
        "{}://{authority}/{owner}/{repo}/blob/HEAD/{filename}",
        url.scheme(),
    );
    let reader = crate::processing::Reader::new(
        state.engine.settings.reading_allow.clone(),
        state.engine.settings.cwd.clone(),
    );
    if let Ok(text) = reader.read_url(&file_target).await {
        let registered = state.engine.list_locations().await?;
        let is_registered = registered
            .iter()
            .any(|l| l.location_type == location_type && l.target == file_target);
        let files: Vec<Value> = greenroom_catalog_model::yaml::parse_documents(&text)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|d| d.value.is_object())
            .map(|d| {
                let entity = d.value;
                json!({
                    "location": { "type": location_type, "target": file_target },
                    "isRegistered": is_registered,
                    "entity": entity,
                })
            })
            .collect();
        if !files.is_empty() {
            return Ok(json_value(
                StatusCode::OK,
                &json!({ "existingEntityFiles": files, "generateEntities": [] }),
            ));
        }
    }

    let mut metadata = json!({ "name": repo });
    if let Some(prefix) = url.host_str().and_then(slug_prefix) {
        metadata["annotations"] =
            json!({ format!("{prefix}/project-slug"): format!("{owner}/{repo}") });
    }
    let entity = json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": metadata,
        "spec": { "type": "other", "lifecycle": "unknown" },
    });
    Ok(json_value(
        StatusCode::OK,
        &json!({
            "existingEntityFiles": [],
            "generateEntities": [{ "entity": entity, "fields": [] }],
        }),
    ))
}
