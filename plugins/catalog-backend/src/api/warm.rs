//! Reads answered from the database while this instance's index is still
//! loading: look-ups by ref, uid and refs, and first pages of `by-query` in the
//! default order over the whole catalog or some kinds. Any other read waits
//! for the index.
//!
//! The rows a request needs are put in a small index of their own, so filters,
//! projections and bodies follow exactly the rules of the full index; only the
//! choice of rows (and the total) comes from SQL.

use std::sync::Arc;

use greenroom_backend_plugin_api::http::ApiError;
use greenroom_catalog_query::{
    CatalogIndex, DEFAULT_QUERY_LIMIT, EntityFilter, IndexedEntity, PreparedEntity, QueryPage,
    QueryRequest, uid_order_next_cursor,
};
use serde_json::Value;

use super::ApiState;

/// The largest by-query page the database answers while the index loads.
const MAX_WARM_PAGE: u64 = 1_000;

/// An index over just `texts`; an entity the full index could not hold either
/// is left out here too.
fn small_index(texts: Vec<String>) -> CatalogIndex {
    let mut index = CatalogIndex::new();
    // The texts are few and short-lived: compressing them would be wasted work.
    index.set_text_compression(false);
    for text in texts {
        let Ok(entity) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        if let Ok(prepared) = PreparedEntity::with_text(&entity, text.into_boxed_str()) {
            let _ = index.insert_prepared(prepared);
        }
    }
    index
}

/// The entity with this canonical ref.
pub(crate) async fn by_ref(
    state: &ApiState,
    canonical: &str,
) -> Result<Option<Arc<IndexedEntity>>, ApiError> {
    let texts = state
        .engine
        .final_entities_by_ref(&[canonical.to_owned()])
        .await?;
    Ok(small_index(texts).get_by_ref(canonical))
}

/// The entity with this uid.
pub(crate) async fn by_uid(
    state: &ApiState,
    uid: &str,
) -> Result<Option<Arc<IndexedEntity>>, ApiError> {
    let text = state.engine.final_entity_by_uid(uid).await?;
    Ok(small_index(text.into_iter().collect()).get_by_uid(uid))
}

/// `by-refs`: the entities of `refs` in request order, as the index answers.
pub(crate) async fn by_refs(
    state: &ApiState,
    refs: &[String],
    filter: Option<&EntityFilter>,
) -> Result<Vec<Option<Arc<IndexedEntity>>>, ApiError> {
    let mut canonical: Vec<String> = refs.iter().map(|r| r.to_lowercase()).collect();
    canonical.sort_unstable();
    canonical.dedup();
    let texts = state.engine.final_entities_by_ref(&canonical).await?;
    Ok(small_index(texts).by_refs(refs, filter))
}

/// The kinds (lower-case, sorted, distinct) that `filter` restricts to, when
/// that is all it does; `None` for any other filter.
fn kinds_only(filter: &EntityFilter) -> Option<Vec<String>> {
    let mut kinds = match filter {
        EntityFilter::Key {
            key,
            values: Some(values),
        } if key.eq_ignore_ascii_case("kind") && !values.is_empty() => values
            .iter()
            .map(|v| {
                // A value the ref range could misread is left to the index.
                let plain = !v.is_empty() && v.trim() == v && !v.contains([':', ';']);
                plain.then(|| v.to_lowercase())
            })
            .collect::<Option<Vec<String>>>()?,
        EntityFilter::Any(children) if !children.is_empty() => {
            let mut all = Vec::new();
            for child in children {
                all.extend(kinds_only(child)?);
            }
            all
        }
        EntityFilter::All(children) if children.len() == 1 => kinds_only(&children[0])?,
        _ => return None,
    };
    kinds.sort_unstable();
    kinds.dedup();
    Some(kinds)
}

/// A first `by-query` page in the default order, when the database can give it
/// cheaply: no cursor, order field, full text or authorization filter, a
/// filter on kinds at most, and at most [`MAX_WARM_PAGE`] entities. `None`
/// leaves the request to the index.
pub(crate) async fn query(
    state: &ApiState,
    request: &QueryRequest,
) -> Result<Option<QueryPage>, ApiError> {
    let full_text = request
        .full_text
        .as_ref()
        .is_some_and(|f| !f.term.trim().is_empty());
    if request.cursor.is_some()
        || request.order_field.is_some()
        || request.authorization_filter.is_some()
        || full_text
    {
        return Ok(None);
    }
    let kinds = match &request.filter {
        None => None,
        Some(filter) => match kinds_only(filter) {
            Some(kinds) => Some(kinds),
            None => return Ok(None),
        },
    };
    let total = if request.exclude_total_items {
        0
    } else {
        state.engine.count_final_entities(kinds.as_deref()).await?
    };
    let limit = request.limit.unwrap_or(DEFAULT_QUERY_LIMIT);
    if limit > MAX_WARM_PAGE {
        // A page this large would be a second copy of much of the catalog, made
        // while the loader holds one: the index answers it once loaded.
        return Ok(None);
    }
    let mut page = QueryPage {
        items: Vec::new(),
        total_items: total,
        next_cursor: None,
        prev_cursor: None,
    };
    if limit == 0 {
        return Ok(Some(page));
    }
    // One row past the page tells whether there is a next page.
    let mut texts = state
        .engine
        .final_entities_in_uid_order(
            kinds.as_deref(),
            request.offset.unwrap_or(0),
            limit.saturating_add(1),
        )
        .await?;
    let has_next = texts.len() as u64 > limit;
    texts.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    // The small index walks its entities in uid order, the order of the rows.
    let small = small_index(texts);
    page.items = small
        .query(&QueryRequest {
            limit: Some(limit),
            exclude_total_items: true,
            ..QueryRequest::default()
        })
        .map(|p| p.items)
        .unwrap_or_default();
    if has_next && let (Some(first), Some(last)) = (page.items.first(), page.items.last()) {
        page.next_cursor = Some(uid_order_next_cursor(
            request.filter.as_ref(),
            first.uid(),
            last.uid(),
            total,
        ));
    }
    Ok(Some(page))
}

#[cfg(test)]
mod tests {
    use greenroom_catalog_query::parse_filter_params;

    use super::kinds_only;

    fn kinds(params: &[&str]) -> Option<Vec<String>> {
        let params: Vec<String> = params.iter().map(|p| (*p).to_owned()).collect();
        let filter = parse_filter_params(&params).expect("filter").expect("some");
        kinds_only(&filter)
    }

    #[test]
    fn only_kind_filters_are_answered_from_the_database() {
        assert_eq!(kinds(&["kind=Component"]), Some(vec!["component".into()]));
        assert_eq!(
            kinds(&["kind=API", "kind=component,kind=api"]),
            Some(vec!["api".into(), "component".into()])
        );
        assert_eq!(kinds(&["kind=component,spec.type=service"]), None);
        assert_eq!(kinds(&["kind"]), None, "existence is not a kind list");
        assert_eq!(kinds(&["metadata.name=x"]), None);
        assert_eq!(kinds(&["kind=a:b"]), None);
    }
}
