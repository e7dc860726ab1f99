//! The cache of decompressed texts: it serves exactly the bytes the index would, never an
//! older version of an entity, keeps within its bound, and keeps the texts read often.

use std::sync::Arc;

use greenroom_catalog_query::{CatalogIndex, HotTexts, IndexedEntity};
use serde_json::{Value, json};

use crate::texts::component;

/// `texts.rs`'s component `i` with another description.
fn rewritten(i: usize, description: &str) -> Value {
    let mut entity = component(i);
    entity["metadata"]["description"] = json!(description);
    entity
}

/// An index of `n` components, enough of them for their texts to be compressed.
fn index_of(n: usize) -> CatalogIndex {
    let mut index = CatalogIndex::new();
    for i in 0..n {
        index.upsert(component(i)).expect("valid entity");
    }
    index
}

fn get(index: &CatalogIndex, i: usize) -> Arc<IndexedEntity> {
    index
        .get_by_ref(&format!("component:default/component-{i}"))
        .expect("indexed")
}

fn direct(entity: &IndexedEntity) -> Vec<u8> {
    let mut out = Vec::new();
    entity.write_json(&mut out).expect("readable text");
    out
}

fn through(hot: &HotTexts, entity: &Arc<IndexedEntity>) -> Vec<u8> {
    // Appended after existing bytes, as a page does.
    let mut out = b"[".to_vec();
    hot.write_json(entity, &mut out).expect("readable text");
    out.split_off(1)
}

#[test]
fn a_text_is_kept_on_its_second_miss_and_served_byte_for_byte() {
    let index = index_of(200);
    let hot = HotTexts::new(1024 * 1024);
    let last = get(&index, 199);
    assert!(last.is_compressed(), "the test needs compressed texts");
    let expected = direct(&last);
    assert_eq!(through(&hot, &last), expected);
    assert_eq!(hot.usage(), (0, 0), "one miss only records the key");
    assert_eq!(through(&hot, &last), expected);
    assert_eq!(
        hot.usage(),
        (expected.len(), 1),
        "the second miss keeps the text"
    );
    assert_eq!(
        through(&hot, &last),
        expected,
        "a hit serves the same bytes"
    );
    assert_eq!(hot.usage(), (expected.len(), 1));
}

#[test]
fn an_updated_entity_is_never_served_its_old_text() {
    let mut index = index_of(200);
    let hot = HotTexts::new(1024 * 1024);
    let old = get(&index, 150);
    let old_text = direct(&old);
    for _ in 0..3 {
        assert_eq!(through(&hot, &old), old_text);
    }
    index
        .upsert(rewritten(150, "Rewritten: it now does other work."))
        .expect("valid entity");
    let new = get(&index, 150);
    let new_text = direct(&new);
    assert_ne!(new_text, old_text);
    for _ in 0..3 {
        assert_eq!(through(&hot, &new), new_text);
    }
    // A page still holding the old entity reads the old text, as it would without the cache.
    assert_eq!(through(&hot, &old), old_text);
    drop(old);
    assert_eq!(through(&hot, &new), new_text);
}

#[test]
fn the_cache_keeps_within_its_bound_and_a_walk_does_not_push_out_what_is_read_often() {
    let index = index_of(2_000);
    let one = direct(&get(&index, 1_999)).len();
    // Room for about 20 texts in each of the 16 shards.
    let bound = 16 * 20 * one;
    let hot = HotTexts::new(bound);
    // A working set larger than the room, read three times over: the cache fills, and never
    // holds more than its bound.
    for round in 0..3 {
        for i in 0..400 {
            let entity = get(&index, i);
            assert_eq!(
                through(&hot, &entity),
                direct(&entity),
                "round {round}, {i}"
            );
            assert!(hot.usage().0 <= bound, "{:?} over {bound}", hot.usage());
        }
    }
    let (bytes, texts) = hot.usage();
    assert!(
        texts > 16 * 10,
        "the cache filled up: {texts} texts, {bytes} bytes"
    );
    // A hot set read again and again, then a walk over every other entity once (a client
    // paging through the whole catalog) with the hot set read between every 50 of them.
    let favourites: Vec<_> = (600..640).map(|i| get(&index, i)).collect();
    for _ in 0..3 {
        for favourite in &favourites {
            through(&hot, favourite);
        }
    }
    for i in 640..2_000 {
        let entity = get(&index, i);
        assert_eq!(through(&hot, &entity), direct(&entity));
        if i % 50 == 0 {
            for favourite in &favourites {
                through(&hot, favourite);
            }
        }
        assert!(hot.usage().0 <= bound, "{:?} over {bound}", hot.usage());
    }
    // Each of the walk's entities was missed once only, so none was kept, and the hot set
    // is still all there: reading it is all hits, which leaves the usage as it is.
    let before = hot.usage();
    for favourite in &favourites {
        assert_eq!(through(&hot, favourite), direct(favourite));
    }
    assert_eq!(hot.usage(), before);
    for i in 640..2_000 {
        let entity = get(&index, i);
        through(&hot, &entity);
    }
    assert_eq!(
        hot.usage(),
        before,
        "a walk longer than the misses remembered is not kept the second time either"
    );
}

#[test]
fn texts_stored_uncompressed_or_a_cache_of_no_room_are_passed_through() {
    let mut index = CatalogIndex::new();
    index.set_text_compression(false);
    for i in 0..100 {
        index.upsert(component(i)).expect("valid entity");
    }
    let hot = HotTexts::new(1024 * 1024);
    let raw = get(&index, 99);
    assert!(!raw.is_compressed());
    for _ in 0..3 {
        assert_eq!(through(&hot, &raw), direct(&raw));
    }
    assert_eq!(hot.usage(), (0, 0));

    let index = index_of(200);
    let none = HotTexts::new(0);
    let entity = get(&index, 199);
    for _ in 0..3 {
        assert_eq!(through(&none, &entity), direct(&entity));
    }
    assert_eq!(none.usage(), (0, 0));
}
