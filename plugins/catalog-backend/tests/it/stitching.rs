//! Stitching over real databases (SQLite and PostgreSQL): final entity
//! assembly, the change feed, deletion by uid, orphan cleanup, ancestry and
//! refresh. Rows are written with SQL the way processing writes them.

use greenroom_backend_plugin_api::ErrorName;
use greenroom_backend_test_utils::database::TestDatabases;
use serde_json::{Value, json};

use crate::stitching_support::{Fixture, P, entity, replay, s, strings};

const C: &str = "component:default/c";
const G: &str = "group:default/team-a";
const REJECTED: &str = "https://backstage.io/annotation-rejected-for-security-reasons";

fn relations(e: &Option<Value>) -> Vec<(String, String)> {
    e.as_ref()
        .and_then(|e| e["relations"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|r| {
            (
                r["type"].as_str().unwrap_or("").to_owned(),
                r["targetRef"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

fn etag(e: &Option<Value>) -> String {
    e.as_ref()
        .and_then(|e| e["metadata"]["etag"].as_str())
        .unwrap_or("")
        .to_owned()
}

fn orphan(e: &Option<Value>) -> Option<String> {
    e.as_ref()
        .and_then(|e| e["metadata"]["annotations"]["backstage.io/orphan"].as_str())
        .map(str::to_owned)
}

/// Checklist 42, 43: relations on both ends, sorted by type then target,
/// deduplicated, including targets that do not exist.
#[tokio::test]
async fn relations_on_both_ends_sorted() {
    for kind in TestDatabases::all() {
        let f = Fixture::new(kind).await;
        let db = f.name();
        f.add_entity(
            "c",
            C,
            Some(entity("Component", "c", "c", json!({"owner": "team-a"}))),
        )
        .await;
        f.add_entity("g", G, Some(entity("Group", "team-a", "g", json!({}))))
            .await;
        f.add_edge(None, C).await;
        f.add_edge(None, G).await;
        for (source, kind, target) in [
            (C, "ownedBy", G),
            (G, "ownerOf", C),
            (C, "dependsOn", "component:default/x"),
            (C, "dependsOn", "component:default/b"),
            (C, "dependsOn", "component:default/b"),
            (C, "apiProvidedBy", "api:default/z"),
        ] {
            f.add_relation("c", source, kind, target).await;
        }
        f.enqueue(&[C, G]).await;
        let stats = f.stitch().await;
        assert_eq!((stats.claimed, stats.written), (2, 2), "{db}");
        let c = f.final_entity(C).await;
        assert_eq!(
            relations(&c),
            pairs(&[
                ("apiProvidedBy", "api:default/z"),
                ("dependsOn", "component:default/b"),
                ("dependsOn", "component:default/x"),
                ("ownedBy", G),
            ]),
            "{db}: component"
        );
        assert_eq!(
            relations(&f.final_entity(G).await),
            pairs(&[("ownerOf", C)]),
            "{db}: group"
        );
        let c = c.unwrap_or_default();
        assert_eq!(c["metadata"]["uid"], json!("c"), "{db}");
        assert_eq!(c["spec"]["owner"], json!("team-a"), "{db}");
        assert_eq!(orphan(&Some(c)), None, "{db}: has a parent");
        // Nothing changed: a second stitch writes nothing.
        f.enqueue(&[C, G]).await;
        let stats = f.stitch().await;
        assert_eq!(
            (stats.claimed, stats.written, stats.unchanged),
            (2, 0, 2),
            "{db}"
        );
        assert_eq!(f.change_log().await.len(), 2, "{db}");
        assert_eq!(f.queue_len().await, 0, "{db}");
        f.cleanup().await;
    }
}

/// One step of the visible-change table: a change applied to the rows, and
/// what the stitched entity shows afterwards.
struct Step {
    id: &'static str,
    change: fn(&Fixture) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>>,
    written: bool,
    orphan: bool,
    status_messages: &'static [&'static str],
    name_spec: &'static str,
}

/// Checklist 40, 44, 46: every visible change (content, relation, error,
/// orphan state) changes the etag; the uid stays; errors keep the last good
/// content and clear again; the orphan annotation comes and goes.
#[tokio::test]
async fn visible_changes_change_the_etag() {
    let steps: Vec<Step> = vec![
        Step {
            id: "V1 first stitch",
            change: |_| Box::pin(async {}),
            written: true,
            orphan: false,
            status_messages: &[],
            name_spec: "v1",
        },
        Step {
            id: "V2 content edit",
            change: |f| {
                Box::pin(async move {
                    f.set_processed(C, &entity("Component", "c", "c", json!({"v": "v2"})))
                        .await;
                })
            },
            written: true,
            orphan: false,
            status_messages: &[],
            name_spec: "v2",
        },
        Step {
            id: "V3 new relation",
            change: |f| Box::pin(f.add_relation("c", C, "ownedBy", G)),
            written: true,
            orphan: false,
            status_messages: &[],
            name_spec: "v2",
        },
        Step {
            id: "V4 processing error keeps content",
            change: |f| {
                Box::pin(f.set_errors(
                    C,
                    r#"[{"name":"InputError","message":"Policy check failed"},{"name":"NotFoundError","message":"gone"}]"#,
                ))
            },
            written: true,
            orphan: false,
            status_messages: &["InputError: Policy check failed", "NotFoundError: gone"],
            name_spec: "v2",
        },
        Step {
            id: "V5 same error again writes nothing",
            change: |_| Box::pin(async {}),
            written: false,
            orphan: false,
            status_messages: &["InputError: Policy check failed", "NotFoundError: gone"],
            name_spec: "v2",
        },
        Step {
            id: "V6 error fixed",
            change: |f| Box::pin(f.set_errors(C, "[]")),
            written: true,
            orphan: false,
            status_messages: &[],
            name_spec: "v2",
        },
        Step {
            id: "V7 orphaned",
            change: |f| Box::pin(f.remove_edges_to(C)),
            written: true,
            orphan: true,
            status_messages: &[],
            name_spec: "v2",
        },
        Step {
            id: "V8 claimed again",
            change: |f| Box::pin(f.add_edge(Some("location:default/l"), C)),
            written: true,
            orphan: false,
            status_messages: &[],
            name_spec: "v2",
        },
    ];
    for kind in TestDatabases::all() {
        let f = Fixture::new(kind).await;
        let db = f.name();
        f.add_entity(
            "c",
            C,
            Some(entity("Component", "c", "c", json!({"v": "v1"}))),
        )
        .await;
        f.add_edge(None, C).await;
        let mut etags: Vec<String> = Vec::new();
        for step in &steps {
            let id = step.id;
            (step.change)(&f).await;
            f.enqueue(&[C]).await;
            let stats = f.stitch().await;
            assert_eq!(stats.written == 1, step.written, "{db} {id}: written");
            let e = f.final_entity(C).await;
            let tag = etag(&e);
            assert_eq!(tag.len(), 40, "{db} {id}: etag {tag}");
            if step.written {
                // The etag is content-addressed: it differs from the previous
                // one (a return to an earlier state may bring an earlier etag back).
                assert_ne!(etags.last(), Some(&tag), "{db} {id}: etag changed");
            } else {
                assert_eq!(etags.last(), Some(&tag), "{db} {id}: etag unchanged");
            }
            etags.push(tag);
            let e = e.unwrap_or_default();
            assert_eq!(e["metadata"]["uid"], json!("c"), "{db} {id}: uid stable");
            assert_eq!(e["spec"]["v"], json!(step.name_spec), "{db} {id}: content");
            assert_eq!(
                orphan(&Some(e.clone())).is_some(),
                step.orphan,
                "{db} {id}: orphan"
            );
            let messages: Vec<&str> = e["status"]["items"]
                .as_array()
                .map(|items| items.iter().filter_map(|i| i["message"].as_str()).collect())
                .unwrap_or_default();
            assert_eq!(messages, step.status_messages, "{db} {id}: status");
            if let Some(first) = e["status"]["items"].get(0) {
                assert_eq!(
                    first["type"],
                    json!("backstage.io/catalog-processing"),
                    "{db} {id}"
                );
                assert_eq!(first["level"], json!("error"), "{db} {id}");
                assert_eq!(
                    first["error"],
                    json!({"name": "InputError", "message": "Policy check failed"}),
                    "{db} {id}"
                );
            } else {
                assert!(
                    e.get("status").is_none(),
                    "{db} {id}: no status without errors"
                );
            }
        }
        let log = f.change_log().await;
        assert_eq!(
            log.len(),
            steps.iter().filter(|s| s.written).count(),
            "{db}: one log entry per write"
        );
        assert!(
            log.iter().all(|(_, r, op)| r == C && op == "upsert"),
            "{db}"
        );
        f.cleanup().await;
    }
}

/// Checklist 45, 47: an entity that never processed is invisible; a
/// `javascript:` view/edit URL is rejected; a refresh_state row that vanished
/// takes its final entity with it.
#[tokio::test]
async fn invisible_unprocessed_and_script_urls() {
    for kind in TestDatabases::all() {
        let f = Fixture::new(kind).await;
        let db = f.name();
        f.add_entity("n", "component:default/never", None).await;
        f.set_errors(
            "component:default/never",
            r#"[{"name":"InputError","message":"bad"}]"#,
        )
        .await;
        let mut e = entity("Component", "js", "js", json!({}));
        e["metadata"]["annotations"] = json!({
            "backstage.io/view-url": "  JavaScript:alert(1)",
            "backstage.io/edit-url": "java\tscript:alert(2)",
            "backstage.io/source-location": "url:https://example.com/x/",
        });
        f.add_entity("js", "component:default/js", Some(e)).await;
        f.add_edge(None, "component:default/js").await;
        f.enqueue(&[
            "component:default/never",
            "component:default/js",
            "component:default/nobody",
        ])
        .await;
        let stats = f.stitch().await;
        assert_eq!((stats.claimed, stats.written), (3, 1), "{db}");
        assert_eq!(
            f.final_entity("component:default/never").await,
            None,
            "{db}: never processed"
        );
        let js = f
            .final_entity("component:default/js")
            .await
            .unwrap_or_default();
        let annotations = &js["metadata"]["annotations"];
        assert_eq!(
            annotations["backstage.io/view-url"],
            json!(REJECTED),
            "{db}"
        );
        assert_eq!(
            annotations["backstage.io/edit-url"],
            json!(REJECTED),
            "{db}"
        );
        assert_eq!(
            annotations["backstage.io/source-location"],
            json!("url:https://example.com/x/"),
            "{db}"
        );
        assert_eq!(f.queue_len().await, 0, "{db}");
        f.cleanup().await;
    }
}

/// A hub (a group with many members) is stitched once per batch however many
/// members changed, and carries every member relation.
#[tokio::test]
async fn hub_entity_stitched_once_per_batch() {
    const MEMBERS: usize = 600;
    for kind in TestDatabases::all() {
        let f = Fixture::new(kind).await;
        let db = f.name();
        f.add_entity("g", G, Some(entity("Group", "team-a", "g", json!({}))))
            .await;
        f.add_edge(None, G).await;
        let mut refs = Vec::new();
        for i in 0..MEMBERS {
            let user = format!("user:default/u{i:04}");
            let id = format!("u{i}");
            f.add_entity(
                &id,
                &user,
                Some(entity("User", &format!("u{i:04}"), &id, json!({}))),
            )
            .await;
            f.add_edge(None, &user).await;
            f.add_relation(&id, &user, "memberOf", G).await;
            f.add_relation(&id, G, "hasMember", &user).await;
            refs.push(user);
        }
        // Processing queues the hub once per member it touched.
        for user in &refs {
            f.enqueue(&[user.as_str(), G]).await;
        }
        let stats = f.stitch().await;
        assert_eq!(stats.written, MEMBERS + 1, "{db}");
        assert_eq!(f.log_count(G).await, 1, "{db}: hub written once");
        let hub = f.final_entity(G).await;
        let rels = relations(&hub);
        assert_eq!(rels.len(), MEMBERS, "{db}");
        assert_eq!(
            rels.first().map(|r| r.1.as_str()),
            Some("user:default/u0000"),
            "{db}"
        );
        let mut sorted = rels.clone();
        sorted.sort();
        assert_eq!(rels, sorted, "{db}: sorted");

        // A second wave touching a tenth of the members stitches the hub once more.
        for (i, user) in refs.iter().enumerate().filter(|(i, _)| i % 10 == 0) {
            f.add_relation(&format!("u{i}"), user, "ownerOf", "component:default/c")
                .await;
            f.enqueue(&[user.as_str(), G]).await;
        }
        let stats = f.stitch().await;
        assert_eq!(stats.written, MEMBERS / 10, "{db}: only members changed");
        assert_eq!(stats.unchanged, 1, "{db}: hub unchanged");
        assert_eq!(f.log_count(G).await, 1, "{db}");
        f.cleanup().await;
    }
}

/// Checklist 33, 34 (storage side): deleting by uid removes the entity,
/// forces its parent to reprocess, restitches relation peers and orphans its
/// children; an unknown uid is fine.
#[tokio::test]
async fn delete_by_uid() {
    const P_REF: &str = "location:default/p";
    const D: &str = "component:default/d";
    for kind in TestDatabases::all() {
        let f = Fixture::new(kind).await;
        let db = f.name();
        f.add_entity("p", P_REF, Some(entity("Location", "p", "p", json!({}))))
            .await;
        f.add_entity("c", C, Some(entity("Component", "c", "c", json!({}))))
            .await;
        f.add_entity("g", G, Some(entity("Group", "team-a", "g", json!({}))))
            .await;
        f.add_entity("d", D, Some(entity("Component", "d", "d", json!({}))))
            .await;
        f.add_edge(None, P_REF).await;
        f.add_edge(Some(P_REF), C).await;
        f.add_edge(None, G).await;
        f.add_edge(Some(C), D).await;
        f.add_relation("c", C, "ownedBy", G).await;
        f.add_relation("c", G, "ownerOf", C).await;
        f.add_relation("d", D, "dependsOn", C).await;
        f.enqueue(&[P_REF, C, G, D]).await;
        f.stitch().await;
        assert_eq!(
            relations(&f.final_entity(G).await),
            pairs(&[("ownerOf", C)]),
            "{db}"
        );

        f.engine
            .delete_entity_by_uid("does-not-exist")
            .await
            .unwrap_or_else(|e| panic!("{db}: {e}"));
        f.engine
            .delete_entity_by_uid("c")
            .await
            .unwrap_or_else(|e| panic!("{db}: {e}"));
        assert_eq!(f.final_entity(C).await, None, "{db}: gone at once");
        let parent = strings(
            f.db(),
            "SELECT result_hash FROM refresh_state WHERE entity_ref = $1 AND next_update_at <= $2",
            &[s(P_REF), P::I(i64::MAX / 4)],
        )
        .await;
        assert_eq!(
            parent,
            vec!["child-was-deleted".to_owned()],
            "{db}: parent reprocesses"
        );
        let edges = strings(
            f.db(),
            "SELECT target_entity_ref FROM refresh_state_references WHERE source_entity_ref = $1 \
             OR target_entity_ref = $1",
            &[s(C)],
        )
        .await;
        assert!(
            edges.is_empty(),
            "{db}: edges of the deleted entity go: {edges:?}"
        );
        // Neither database has a foreign key to cascade this (migrations 5 and
        // 6): the deletion itself removes what the entity's processing wrote.
        let written = strings(
            f.db(),
            "SELECT type FROM relations WHERE originating_entity_id = $1",
            &[s("c")],
        )
        .await;
        assert!(
            written.is_empty(),
            "{db}: relations of the deleted entity go: {written:?}"
        );
        let stats = f.stitch().await;
        assert!(stats.claimed >= 2, "{db}: peers queued ({stats:?})");
        assert_eq!(
            relations(&f.final_entity(G).await),
            vec![],
            "{db}: peer restitched"
        );
        assert_eq!(
            orphan(&f.final_entity(D).await).as_deref(),
            Some("true"),
            "{db}: child orphaned"
        );
        assert_eq!(
            relations(&f.final_entity(D).await),
            pairs(&[("dependsOn", C)]),
            "{db}: relations to a missing target stay"
        );
        let deletes: Vec<String> = f
            .change_log()
            .await
            .into_iter()
            .filter(|(_, _, op)| op == "delete")
            .map(|(_, r, _)| r)
            .collect();
        assert_eq!(deletes, vec![C.to_owned()], "{db}");
        f.cleanup().await;
    }
}

/// Checklist 46 (`orphanStrategy: delete`), 55: orphan cleanup deletes whole
/// orphaned subtrees, keeps entities with a parent, and restitches the
/// entities that had relations with the deleted ones.
#[tokio::test]
async fn orphan_cleanup_deletes_subtrees() {
    const R: &str = "location:default/root";
    const A: &str = "location:default/a";
    const B: &str = "component:default/b";
    const X: &str = "component:default/x";
    const K: &str = "component:default/kept";
    for kind in TestDatabases::all() {
        let f = Fixture::new(kind).await;
        let db = f.name();
        for (id, r, k, name) in [
            ("r", R, "Location", "root"),
            ("a", A, "Location", "a"),
            ("b", B, "Component", "b"),
            ("x", X, "Component", "x"),
            ("k", K, "Component", "kept"),
            ("g", G, "Group", "team-a"),
        ] {
            f.add_entity(id, r, Some(entity(k, name, id, json!({}))))
                .await;
        }
        f.add_edge(None, R).await;
        f.add_edge(None, G).await;
        f.add_edge(Some(R), A).await;
        f.add_edge(Some(A), B).await;
        f.add_edge(Some(B), X).await;
        // K is a child of both A and R: it stays once A is gone.
        f.add_edge(Some(A), K).await;
        f.add_edge(Some(R), K).await;
        f.add_relation("x", X, "ownedBy", G).await;
        f.add_relation("x", G, "ownerOf", X).await;
        f.enqueue(&[R, A, B, X, K, G]).await;
        f.stitch().await;
        assert_eq!(
            f.engine.delete_orphans().await.unwrap_or(99),
            0,
            "{db}: no orphans yet"
        );

        // R stops emitting A.
        f.exec(
            "DELETE FROM refresh_state_references WHERE source_entity_ref = $1 AND target_entity_ref = $2",
            &[s(R), s(A)],
        )
        .await;
        let deleted = f
            .engine
            .delete_orphans()
            .await
            .unwrap_or_else(|e| panic!("{db}: {e}"));
        assert_eq!(deleted, 3, "{db}: A, B and X");
        let finals: Vec<String> = f.all_finals().await.into_keys().collect();
        assert_eq!(
            finals,
            vec![K.to_owned(), G.to_owned(), R.to_owned()],
            "{db}"
        );
        f.stitch().await;
        assert_eq!(
            relations(&f.final_entity(G).await),
            vec![],
            "{db}: peer restitched"
        );
        assert_eq!(
            orphan(&f.final_entity(K).await),
            None,
            "{db}: K kept its other parent"
        );
        let mut deletes: Vec<String> = f
            .change_log()
            .await
            .into_iter()
            .filter(|(_, _, op)| op == "delete")
            .map(|(_, r, _)| r)
            .collect();
        deletes.sort();
        assert_eq!(
            deletes,
            vec![B.to_owned(), X.to_owned(), A.to_owned()],
            "{db}"
        );
        assert_eq!(
            f.engine.delete_orphans().await.unwrap_or(99),
            0,
            "{db}: idempotent"
        );
        f.cleanup().await;
    }
}

/// Snapshot + change feed reproduce the final entities exactly, whatever
/// point the snapshot was taken at and whatever page size the follower reads.
#[tokio::test]
async fn change_feed_replays_to_final_entities() {
    for kind in TestDatabases::all() {
        let f = Fixture::new(kind).await;
        let db = f.name();
        let (seq0, snap0) = f.engine.final_entities_snapshot().await.unwrap_or_default();
        assert_eq!((seq0, snap0.len()), (0, 0), "{db}: empty");
        let mut snapshots = vec![(seq0, snap0)];
        for round in 0..4 {
            for i in 0..30 {
                let r = format!("component:default/e{i}");
                let id = format!("e{i}");
                let e = entity("Component", &format!("e{i}"), &id, json!({"round": round}));
                if round == 0 {
                    f.add_entity(&id, &r, Some(e)).await;
                    f.add_edge(None, &r).await;
                } else if i % (round + 1) == 0 {
                    f.set_processed(&r, &e).await;
                }
                f.enqueue(&[r.as_str()]).await;
            }
            f.stitch().await;
            if round == 2 {
                for i in 0..5 {
                    f.engine
                        .delete_entity_by_uid(&format!("e{i}"))
                        .await
                        .unwrap_or_else(|e| panic!("{db}: {e}"));
                }
                f.remove_edges_to("component:default/e7").await;
                f.engine
                    .delete_orphans()
                    .await
                    .unwrap_or_else(|e| panic!("{db}: {e}"));
            }
            snapshots.push(f.engine.final_entities_snapshot().await.unwrap_or_default());
        }
        let expected = f.all_finals().await;
        assert_eq!(expected.len(), 24, "{db}: 30 - 5 deleted - 1 orphan");
        let log = f.change_log().await;
        assert!(
            log.windows(2).all(|w| w[0].0 < w[1].0),
            "{db}: seq increases"
        );
        for (n, (seq, snapshot)) in snapshots.into_iter().enumerate() {
            for page in [1, 7, 1000] {
                let (last, state) = replay(&f.engine, seq, snapshot.clone(), page).await;
                assert_eq!(state, expected, "{db}: snapshot {n}, page {page}");
                assert_eq!(
                    last,
                    log.last().map_or(0, |l| l.0),
                    "{db}: snapshot {n}, page {page}"
                );
            }
        }
        // A ref changed several times in one page appears once, at its latest seq.
        let all = f.engine.changes_since(0, 10_000).await.unwrap_or_default();
        let refs: std::collections::BTreeSet<&str> =
            all.iter().map(|c| c.entity_ref.as_str()).collect();
        assert_eq!(all.len(), refs.len(), "{db}: collapsed");
        assert_eq!(all.last().map(|c| c.seq), log.last().map(|l| l.0), "{db}");
        // A page that read as many rows as it asked for says more may follow,
        // though collapsing left it shorter; one that read fewer does not.
        assert!(all.len() < log.len(), "{db}: some ref changed twice");
        let (items, more) = f.engine.change_page(0, log.len()).await.unwrap_or_default();
        assert_eq!((items.len(), more), (all.len(), true), "{db}");
        let (items, more) = f
            .engine
            .change_page(0, log.len() + 1)
            .await
            .unwrap_or_default();
        assert_eq!((items.len(), more), (all.len(), false), "{db}");
        f.cleanup().await;
    }
}

/// Checklist 37 and spec §7.8: the processing ancestry, each ancestor once,
/// parents listed only when they are final entities, provider roots with [].
#[tokio::test]
async fn ancestry_walks_the_processing_graph() {
    const GEN: &str = "location:default/generated-1";
    const ROOT: &str = "location:default/acme-root";
    const SIDE: &str = "location:default/side";
    const HIDDEN: &str = "location:default/hidden";
    for kind in TestDatabases::all() {
        let f = Fixture::new(kind).await;
        let db = f.name();
        for (id, r, name) in [
            ("gen", GEN, "generated-1"),
            ("root", ROOT, "acme-root"),
            ("side", SIDE, "side"),
        ] {
            f.add_entity(id, r, Some(entity("Location", name, id, json!({}))))
                .await;
        }
        f.add_entity("hidden", HIDDEN, None).await;
        f.add_entity("c", C, Some(entity("Component", "c", "c", json!({}))))
            .await;
        f.add_edge(None, GEN).await;
        f.add_edge(Some(GEN), ROOT).await;
        f.add_edge(Some(GEN), SIDE).await;
        f.add_edge(Some(ROOT), C).await;
        f.add_edge(Some(SIDE), C).await;
        f.add_edge(Some(HIDDEN), C).await;
        f.enqueue(&[GEN, ROOT, SIDE, C]).await;
        f.stitch().await;

        let answer = f
            .engine
            .ancestry("Component:Default/C")
            .await
            .unwrap_or_else(|e| panic!("{db}: {e}"));
        assert_eq!(answer.root_entity_ref, C, "{db}");
        let got: Vec<(String, Vec<String>)> = answer
            .items
            .iter()
            .map(|i| {
                (
                    i.entity["metadata"]["name"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned(),
                    i.parent_entity_refs.clone(),
                )
            })
            .collect();
        let want = vec![
            ("c".to_owned(), vec![ROOT.to_owned(), SIDE.to_owned()]),
            ("side".to_owned(), vec![GEN.to_owned()]),
            ("generated-1".to_owned(), vec![]),
            ("acme-root".to_owned(), vec![GEN.to_owned()]),
        ];
        assert_eq!(got, want, "{db}");
        let wire = serde_json::to_value(&answer).unwrap_or_default();
        assert_eq!(wire["rootEntityRef"], json!(C), "{db}");
        assert_eq!(wire["items"][2]["parentEntityRefs"], json!([]), "{db}");

        for missing in ["component:default/ghost", "location:default/hidden"] {
            match f.engine.ancestry(missing).await {
                Err(e) => {
                    assert_eq!(e.name, ErrorName::NotFoundError, "{db} {missing}");
                    assert_eq!(e.message, format!("No such entity {missing}"), "{db}");
                }
                Ok(a) => panic!("{db} {missing}: found {a:?}"),
            }
        }
        f.cleanup().await;
    }
}

/// Spec §7.10: refresh moves the entity and its nearest Location ancestor to
/// the front of the processing queue; unknown, orphaned and broken chains are 404.
#[tokio::test]
async fn refresh_schedules_entity_and_location_ancestor() {
    const L: &str = "location:default/l";
    const M: &str = "component:default/middle";
    const O: &str = "component:default/orphan";
    const B: &str = "component:default/broken";
    type Case = (
        &'static str,
        &'static str,
        Result<&'static [&'static str], String>,
    );
    let cases: Vec<Case> = vec![
        ("R1 below a location", C, Ok(&[C, L])),
        ("R2 the location itself", L, Ok(&[L])),
        (
            "R3 unknown",
            "component:default/ghost",
            Err("Entity component:default/ghost not found".to_owned()),
        ),
        ("R4 orphan", O, Err(format!("Entity {O} not found"))),
        (
            "R5 broken chain",
            B,
            Err(format!(
                "Entity {B} has a broken parent reference chain at component:default/nowhere"
            )),
        ),
    ];
    for kind in TestDatabases::all() {
        let f = Fixture::new(kind).await;
        let db = f.name();
        for (id, r) in [("l", L), ("m", M), ("c", C), ("o", O), ("b", B)] {
            f.add_entity(id, r, Some(entity("Component", id, id, json!({}))))
                .await;
        }
        f.add_edge(None, L).await;
        f.add_edge(Some(L), M).await;
        f.add_edge(Some(M), C).await;
        f.add_edge(Some("component:default/nowhere"), B).await;
        for (id, target, expected) in &cases {
            f.exec(
                "UPDATE refresh_state SET next_update_at = $1",
                &[P::I(i64::MAX / 2)],
            )
            .await;
            let result = f.engine.refresh_entity(&target.to_uppercase()).await;
            match (result, expected) {
                (Ok(()), Ok(refs)) => {
                    let mut due = strings(
                        f.db(),
                        "SELECT entity_ref FROM refresh_state WHERE next_update_at < $1",
                        &[P::I(i64::MAX / 4)],
                    )
                    .await;
                    due.sort();
                    let mut want: Vec<String> = refs.iter().map(|r| (*r).to_owned()).collect();
                    want.sort();
                    assert_eq!(due, want, "{db} {id}");
                }
                (Err(e), Err(message)) => {
                    assert_eq!(e.name, ErrorName::NotFoundError, "{db} {id}");
                    assert_eq!(&e.message, message, "{db} {id}");
                }
                (got, _) => panic!("{db} {id}: unexpected {got:?}"),
            }
        }
        f.cleanup().await;
    }
}
