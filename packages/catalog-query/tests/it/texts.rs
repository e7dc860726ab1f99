//! Compressed entity texts: every text reads back byte for byte (whatever its content, size
//! or the dictionary it was compressed with), and pages are the same bytes as without
//! compression.

use std::collections::BTreeMap;
use std::sync::Arc;

use greenroom_catalog_query::{
    CatalogIndex, EntityFilter, IndexedEntity, ListRequest, OrderField, QueryRequest,
};
use serde_json::{Value, json};

use crate::support::entity;

/// A component shaped like a processed catalog entity: annotations, tags, relations.
pub(crate) fn component(i: usize) -> Value {
    let kind = ["service", "website", "library"][i % 3];
    entity(
        "Component",
        &format!("component-{i}"),
        &format!("c-{i:06}"),
        json!({
            "metadata": {
                "description": format!("Component {i} does useful work."),
                "annotations": {
                    "backstage.io/managed-by-location": format!("file:/srv/catalog/part-{:04}.yaml", i / 50),
                    "backstage.io/managed-by-origin-location": "file:/srv/catalog/catalog-info.yaml",
                    "github.com/project-slug": format!("example/component-{i}"),
                },
                "tags": ["rust", format!("team-{}", i % 7)],
            },
            "spec": {"type": kind, "lifecycle": "production", "owner": format!("team-{}", i % 7)},
            "relations": [
                {"type": "ownedBy", "targetRef": format!("group:default/team-{}", i % 7)},
                {"type": "providesApi", "targetRef": format!("api:default/api-{}", i * 31 % 97)},
            ],
        }),
    )
}

/// A user, so that more than one kind (and so more than one dictionary) is involved.
fn user(i: usize) -> Value {
    entity(
        "User",
        &format!("user-{i}"),
        &format!("u-{i:06}"),
        json!({
            "spec": {"profile": {"displayName": format!("User Number {i}"), "email": format!("user-{i}@example.com")}, "memberOf": [format!("team-{}", i % 7)]},
            "relations": [{"type": "memberOf", "targetRef": format!("group:default/team-{}", i % 7)}],
        }),
    )
}

/// Characters that do not repeat: a text made of them cannot shrink.
fn noise(len: usize) -> String {
    let mut state: u64 = 17;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            char::from(b'0' + ((state >> 40) % 75) as u8)
        })
        .collect()
}

/// The text the index is expected to serve for an entity: its compact serialisation.
fn text_of(entity: &Value) -> String {
    entity.to_string()
}

fn written(entity: &IndexedEntity) -> Vec<u8> {
    let mut out = b"[".to_vec();
    entity.write_json(&mut out).expect("readable text");
    out.drain(..1);
    out
}

/// Checks that every entity in `expected` reads back exactly, through every accessor.
fn assert_reads_back(index: &CatalogIndex, expected: &BTreeMap<String, Value>) {
    for (entity_ref, value) in expected {
        let entity = index.get_by_ref(entity_ref).expect(entity_ref);
        let text = text_of(value);
        assert_eq!(written(&entity), text.as_bytes(), "{entity_ref}");
        assert_eq!(
            entity.json().expect("readable"),
            text.as_str(),
            "{entity_ref}"
        );
        assert_eq!(entity.json_len(), text.len(), "{entity_ref}");
        assert_eq!(&entity.entity(), value, "{entity_ref}");
    }
}

fn ref_of(value: &Value) -> String {
    format!(
        "{}:default/{}",
        value["kind"].as_str().unwrap_or_default().to_lowercase(),
        value["metadata"]["name"].as_str().unwrap_or_default()
    )
}

#[test]
fn texts_round_trip_byte_exact_whatever_their_content() {
    let mut index = CatalogIndex::new();
    let mut expected = BTreeMap::new();
    // Enough alike texts first for the kind's dictionary to exist.
    for i in 0..40 {
        let value = component(i);
        expected.insert(ref_of(&value), value.clone());
        index.upsert(value).expect("valid");
    }
    let odd = [
        // Non-ASCII in names, values and keys, and characters JSON escapes.
        entity(
            "Component",
            "größe-日本語",
            "odd-1",
            json!({"metadata": {"description": "Ünïcödé ✓ — 🚀 \"quoted\" \\ back\nline\ttab \u{1}", "annotations": {"ключ/名前": "значение"}}}),
        ),
        // A text that does not compress.
        entity(
            "Component",
            "noise",
            "odd-2",
            json!({"metadata": {"description": noise(3_000)}}),
        ),
        // A large text: far beyond LZ4's 64 KiB window and the dictionary.
        entity(
            "Component",
            "large",
            "odd-3",
            json!({"metadata": {"description": format!("{}{}", "Lorem ipsum dolor sit amet. ".repeat(20_000), noise(50_000))}}),
        ),
        // A tiny one.
        json!({"kind": "Component", "metadata": {"name": "t", "uid": "odd-4"}}),
        // Empty strings and nulls.
        entity(
            "Component",
            "empty",
            "odd-5",
            json!({"metadata": {"description": "", "title": null}, "spec": {}}),
        ),
    ];
    for value in odd {
        expected.insert(ref_of(&value), value.clone());
        index.upsert(value).expect("valid");
    }
    assert_reads_back(&index, &expected);
    let stats = index.text_stats();
    assert_eq!(stats.texts, expected.len());
    assert!(
        stats.compressed < stats.texts,
        "the noise stays raw: {stats:?}"
    );
    assert!(stats.stored_bytes < stats.text_bytes / 2, "{stats:?}");
}

#[test]
fn texts_compressed_under_older_dictionaries_read_back_after_newer_ones() {
    let mut index = CatalogIndex::new();
    let mut expected = BTreeMap::new();
    let mut dictionaries = Vec::new();
    // Dictionaries are remade as each kind's count doubles: several per kind by 600 texts.
    for i in 0..600 {
        for value in [component(i), user(i)] {
            expected.insert(ref_of(&value), value.clone());
            index.upsert(value).expect("valid");
        }
        dictionaries.push(index.text_stats().dictionaries);
        if i == 20 {
            // The first texts are already readable while the dictionaries are young.
            assert_reads_back(&index, &expected);
        }
    }
    let stats = index.text_stats();
    assert!(stats.dictionaries >= 8, "{stats:?}");
    assert!(dictionaries.windows(2).all(|w| w[0] <= w[1]));
    assert_reads_back(&index, &expected);

    // Edits after the dictionaries changed: new texts use the newest dictionary, and the
    // entities' old postings are removed from their (decompressed) old texts.
    for i in (0..600).step_by(3) {
        let mut value = component(i);
        value["spec"]["lifecycle"] = json!("deprecated");
        expected.insert(ref_of(&value), value.clone());
        index.upsert(value).expect("valid");
    }
    for i in (1..600).step_by(3) {
        let value = user(i);
        assert!(index.remove(&ref_of(&value)));
        expected.remove(&ref_of(&value));
    }
    assert_reads_back(&index, &expected);
    let lifecycle = EntityFilter::eq("spec.lifecycle", "deprecated");
    assert_eq!(index.count(Some(&lifecycle)), 200);
    assert_eq!(index.count(Some(&EntityFilter::eq("kind", "user"))), 400);
    let facets = index.facets(&["spec.lifecycle".to_owned()], None);
    assert_eq!(
        facets[0].1,
        vec![
            ("deprecated".to_owned(), 200),
            ("production".to_owned(), 400)
        ]
    );
}

#[test]
fn an_unchanged_text_keeps_its_entity_and_a_changed_one_replaces_it() {
    let mut index = CatalogIndex::new();
    for i in 0..100 {
        index.upsert(component(i)).expect("valid");
    }
    let before = index
        .get_by_ref("component:default/component-7")
        .expect("indexed");
    index.upsert(component(7)).expect("valid");
    let same = index
        .get_by_ref("component:default/component-7")
        .expect("indexed");
    assert!(
        Arc::ptr_eq(&before, &same),
        "an unchanged text is not re-indexed"
    );

    // Same length, different bytes: still a change.
    let mut changed = component(7);
    changed["spec"]["owner"] = json!("team-9");
    assert_eq!(text_of(&changed).len(), text_of(&component(7)).len());
    index.upsert(changed.clone()).expect("valid");
    let after = index
        .get_by_ref("component:default/component-7")
        .expect("indexed");
    assert!(!Arc::ptr_eq(&before, &after));
    assert_eq!(written(&after), text_of(&changed).as_bytes());
    assert_eq!(written(&before), text_of(&component(7)).as_bytes());
}

/// Writes a page as the REST layer does: a JSON array of the stored texts.
fn page_bytes(items: &[Arc<IndexedEntity>]) -> Vec<u8> {
    let mut out = b"[".to_vec();
    for (i, entity) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        entity.write_json(&mut out).expect("readable text");
    }
    out.push(b']');
    out
}

#[test]
fn pages_are_the_same_bytes_with_and_without_compression() {
    let mut plain = CatalogIndex::new();
    plain.set_text_compression(false);
    let mut packed = CatalogIndex::new();
    let mut originals = BTreeMap::new();
    for i in 0..400 {
        for value in [component(i), user(i)] {
            originals.insert(
                value["metadata"]["uid"].as_str().map(str::to_owned),
                value.clone(),
            );
            plain.upsert(value.clone()).expect("valid");
            packed.upsert(value).expect("valid");
        }
    }
    let plain_stats = plain.text_stats();
    let packed_stats = packed.text_stats();
    assert_eq!(plain_stats.compressed, 0);
    assert_eq!(plain_stats.stored_bytes, plain_stats.text_bytes);
    // All but a few of the first texts of a kind, compressed before it had a dictionary.
    assert!(packed_stats.compressed > packed_stats.texts * 9 / 10);
    assert_eq!(packed_stats.text_bytes, plain_stats.text_bytes);
    assert!(
        packed_stats.stored_bytes * 3 < packed_stats.text_bytes,
        "{packed_stats:?}"
    );

    let by_name = Some(OrderField {
        field: "metadata.name".to_owned(),
        desc: true,
    });
    let requests = [
        QueryRequest {
            filter: Some(EntityFilter::eq("kind", "component")),
            limit: Some(50),
            ..QueryRequest::default()
        },
        QueryRequest {
            order_field: by_name,
            limit: Some(50),
            offset: Some(120),
            ..QueryRequest::default()
        },
    ];
    for request in requests {
        let (mut a, mut b) = (
            plain.query(&request).expect("query"),
            packed.query(&request).expect("query"),
        );
        for _ in 0..3 {
            assert_eq!(a.items.len(), 50);
            let bytes = page_bytes(&b.items);
            assert_eq!(page_bytes(&a.items), bytes);
            // And the same bytes as the entities' own serialisation.
            let expected: Vec<String> = b
                .items
                .iter()
                .map(|e| text_of(&originals[&Some(e.uid().to_owned())]))
                .collect();
            assert_eq!(bytes, format!("[{}]", expected.join(",")).into_bytes());
            assert_eq!(a.next_cursor, b.next_cursor);
            let next = |cursor: Option<String>| QueryRequest {
                cursor,
                limit: Some(50),
                ..QueryRequest::default()
            };
            a = plain.query(&next(a.next_cursor.clone())).expect("query");
            b = packed.query(&next(b.next_cursor.clone())).expect("query");
        }
    }
    let list = ListRequest {
        filter: Some(EntityFilter::eq("kind", "user")),
        limit: Some(70),
        offset: Some(10),
        ..ListRequest::default()
    };
    assert_eq!(
        page_bytes(&plain.list(&list).expect("list").items),
        page_bytes(&packed.list(&list).expect("list").items)
    );
    let refs: Vec<String> = (0..30)
        .map(|i| format!("user:default/user-{}", i * 13))
        .collect();
    let by_refs = |index: &CatalogIndex| -> Vec<Vec<u8>> {
        index
            .by_refs(&refs, None)
            .iter()
            .flatten()
            .map(|e| written(e))
            .collect()
    };
    let plain_refs = by_refs(&plain);
    let packed_refs = by_refs(&packed);
    assert_eq!(plain_refs.len(), 30);
    assert_eq!(plain_refs, packed_refs);
}
