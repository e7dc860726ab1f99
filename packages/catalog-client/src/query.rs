//! Building request paths and query strings the way Backstage's catalog client
//! does, and parsing entity refs for the path-based routes.

use greenroom_backend_plugin_api::BackendError;

use crate::types::{
    CompoundEntityRef, EntityFilterQuery, FilterValue, GetEntitiesRequest, GetEntityFacetsRequest,
    QueryEntitiesCursorRequest, QueryEntitiesInitialRequest,
};

/// Percent-encodes like JavaScript's `encodeURIComponent`: everything except
/// ASCII letters, digits and `-_.!~*'()`.
pub fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let keep = byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
            );
        if keep {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The value of each `filter=` parameter (not yet encoded as a whole): one per
/// non-empty set, conditions joined by `,`, keys and values encoded so that a
/// `,` or `=` inside them cannot split the condition.
pub fn filter_values(filter: &EntityFilterQuery) -> Vec<String> {
    let mut out = Vec::new();
    for set in filter {
        let mut parts = Vec::new();
        for (key, value) in set {
            match value {
                FilterValue::Exists => parts.push(encode_component(key)),
                FilterValue::AnyOf(values) => {
                    for v in values {
                        parts.push(format!("{}={}", encode_component(key), encode_component(v)));
                    }
                }
            }
        }
        if !parts.is_empty() {
            out.push(parts.join(","));
        }
    }
    out
}

fn join_query(path: &str, params: &[String]) -> String {
    if params.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", params.join("&"))
    }
}

fn fields_param(fields: Option<&Vec<String>>) -> Option<String> {
    let fields = fields?;
    if fields.is_empty() {
        return None;
    }
    let encoded: Vec<String> = fields.iter().map(|f| encode_component(f)).collect();
    Some(format!("fields={}", encoded.join(",")))
}

/// `/entities?…` for a list request. The filter values are already encoded
/// per key and value, so they go into the query as they are.
pub fn get_entities_path(request: &GetEntitiesRequest) -> String {
    let mut params = Vec::new();
    if let Some(filter) = &request.filter {
        for value in filter_values(filter) {
            params.push(format!("filter={value}"));
        }
    }
    params.extend(fields_param(request.fields.as_ref()));
    for directive in request.order.iter().flatten() {
        params.push(format!(
            "order={}:{}",
            directive.order.as_str(),
            encode_component(&directive.field)
        ));
    }
    if let Some(offset) = request.offset {
        params.push(format!("offset={offset}"));
    }
    if let Some(limit) = request.limit {
        params.push(format!("limit={limit}"));
    }
    if let Some(after) = &request.after {
        params.push(format!("after={}", encode_component(after)));
    }
    join_query("/entities", &params)
}

/// `/entities/by-query?…` for a first request sent with `GET`.
pub fn query_entities_initial_path(request: &QueryEntitiesInitialRequest) -> String {
    let mut params = Vec::new();
    params.extend(fields_param(request.fields.as_ref()));
    if let Some(limit) = request.limit {
        params.push(format!("limit={limit}"));
    }
    if let Some(offset) = request.offset {
        params.push(format!("offset={offset}"));
    }
    for directive in request.order_fields.iter().flatten() {
        params.push(format!(
            "orderField={}",
            encode_component(&format!("{},{}", directive.field, directive.order.as_str()))
        ));
    }
    if let Some(filter) = &request.filter {
        for value in filter_values(filter) {
            params.push(format!("filter={value}"));
        }
    }
    if let Some(full_text) = &request.full_text_filter {
        // Backstage's client trims the term and leaves a blank one out.
        let term = full_text.term.trim();
        if !term.is_empty() {
            params.push(format!("fullTextFilterTerm={}", encode_component(term)));
        }
        if let Some(fields) = full_text.fields.as_ref().filter(|f| !f.is_empty()) {
            let encoded: Vec<String> = fields.iter().map(|f| encode_component(f)).collect();
            params.push(format!("fullTextFilterFields={}", encoded.join(",")));
        }
    }
    if let Some(total) = request.total_items {
        let value = match total {
            crate::types::TotalItems::Include => "include",
            crate::types::TotalItems::Exclude => "exclude",
        };
        params.push(format!("totalItems={value}"));
    }
    join_query("/entities/by-query", &params)
}

/// `/entities/by-query?cursor=…` for a follow-up request.
pub fn query_entities_cursor_path(request: &QueryEntitiesCursorRequest) -> String {
    let mut params = vec![format!("cursor={}", encode_component(&request.cursor))];
    if let Some(limit) = request.limit {
        params.push(format!("limit={limit}"));
    }
    params.extend(fields_param(request.fields.as_ref()));
    join_query("/entities/by-query", &params)
}

/// `/entities/by-refs[?filter=…]`.
pub fn by_refs_path(filter: Option<&EntityFilterQuery>) -> String {
    let params: Vec<String> = filter
        .map(filter_values)
        .unwrap_or_default()
        .into_iter()
        .map(|v| format!("filter={v}"))
        .collect();
    join_query("/entities/by-refs", &params)
}

/// `/entity-facets?facet=…&filter=…`.
pub fn facets_path(request: &GetEntityFacetsRequest) -> String {
    let mut params: Vec<String> = request
        .facets
        .iter()
        .map(|f| format!("facet={}", encode_component(f)))
        .collect();
    if let Some(filter) = &request.filter {
        for value in filter_values(filter) {
            params.push(format!("filter={value}"));
        }
    }
    join_query("/entity-facets", &params)
}

/// Parses `kind:[namespace/]name`. As in Backstage's client, the kind is
/// required and the namespace defaults to `default`.
pub fn parse_entity_ref(text: &str) -> Result<CompoundEntityRef, BackendError> {
    let invalid = || {
        BackendError::input(format!(
            "Entity reference \"{text}\" had missing or empty kind (e.g. did not start with \"component:\" or similar)"
        ))
    };
    let (kind, rest) = text.split_once(':').ok_or_else(invalid)?;
    if kind.is_empty() {
        return Err(invalid());
    }
    let (namespace, name) = match rest.split_once('/') {
        Some((namespace, name)) => (namespace, name),
        None => ("default", rest),
    };
    if namespace.is_empty() || name.is_empty() {
        return Err(BackendError::input(format!(
            "Entity reference \"{text}\" was not on the form [<kind>:][<namespace>/]<name>"
        )));
    }
    Ok(CompoundEntityRef {
        kind: kind.to_owned(),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    })
}

/// `/entities/by-name/{kind}/{namespace}/{name}` with each segment encoded.
pub fn entity_by_name_path(entity_ref: &CompoundEntityRef) -> String {
    format!(
        "/entities/by-name/{}/{}/{}",
        encode_component(&entity_ref.kind),
        encode_component(&entity_ref.namespace),
        encode_component(&entity_ref.name)
    )
}

/// `/locations/by-entity/{kind}/{namespace}/{name}` with each segment encoded.
pub fn location_by_entity_path(entity_ref: &CompoundEntityRef) -> String {
    format!(
        "/locations/by-entity/{}/{}/{}",
        encode_component(&entity_ref.kind),
        encode_component(&entity_ref.namespace),
        encode_component(&entity_ref.name)
    )
}
