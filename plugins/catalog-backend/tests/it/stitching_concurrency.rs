//! Two stitch workers on one database while "processing" keeps changing
//! entities: every final entity ends up matching its rows, and a follower
//! polling the change log concurrently never misses an entry (change-log
//! order is commit order).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use greenroom_backend_plugin_api::services::Database;
use greenroom_backend_test_utils::database::TestDatabases;
use greenroom_plugin_catalog_backend::engine::{CatalogEngine, OrphanStrategy};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::stitching_support::{Fixture, all_finals, entity, replay};

const ENTITIES: usize = 300;
const ROUNDS: usize = 40;
const HUB: &str = "group:default/hub";

/// One "processing" round: new content for a slice of the entities, a new
/// relation from each to the hub, and the stitch requests, in one transaction.
async fn processing_round(db: &Database, round: usize) -> Result<(), sqlx::Error> {
    macro_rules! run {
        ($pool:expr) => {{
            let mut tx = $pool.begin().await?;
            for i in (0..ENTITIES).filter(|i| (i + round) % 3 == 0) {
                let r = format!("component:default/e{i}");
                let id = format!("e{i}");
                let e = entity("Component", &format!("e{i}"), &id, json!({"version": round}));
                sqlx::query("UPDATE refresh_state SET processed_entity = $1 WHERE entity_ref = $2")
                    .bind(e.to_string())
                    .bind(&r)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO relations (originating_entity_id, source_entity_ref, type, target_entity_ref) \
                     VALUES ($1, $2, 'memberOf', $3), ($1, $3, 'hasMember', $2)",
                )
                .bind(&id)
                .bind(&r)
                .bind(HUB)
                .execute(&mut *tx)
                .await?;
            }
            // Stitch requests go last and in ref order, as `enqueue_stitch` does.
            let mut queued: Vec<String> = (0..ENTITIES)
                .filter(|i| (i + round) % 3 == 0)
                .map(|i| format!("component:default/e{i}"))
                .chain([HUB.to_owned()])
                .collect();
            queued.sort();
            for target in &queued {
                sqlx::query(
                    "INSERT INTO stitch_queue (entity_ref, next_stitch_at) VALUES ($1, 0) \
                     ON CONFLICT (entity_ref) DO UPDATE SET next_stitch_at = CASE \
                     WHEN excluded.next_stitch_at < stitch_queue.next_stitch_at \
                     THEN excluded.next_stitch_at ELSE stitch_queue.next_stitch_at END",
                )
                .bind(target)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        }};
    }
    match db {
        Database::Sqlite(pool) => run!(pool),
        Database::Postgres(pool) => run!(pool),
    }
}

async fn seqs_after(db: &Database, last: i64) -> Vec<i64> {
    let rows: Result<Vec<(i64,)>, sqlx::Error> = match db {
        Database::Sqlite(pool) => {
            sqlx::query_as("SELECT seq FROM change_log WHERE seq > $1 ORDER BY seq")
                .bind(last)
                .fetch_all(pool)
                .await
        }
        Database::Postgres(pool) => {
            sqlx::query_as("SELECT seq FROM change_log WHERE seq > $1 ORDER BY seq")
                .bind(last)
                .fetch_all(pool)
                .await
        }
    };
    rows.unwrap_or_else(|e| panic!("follower: {e}"))
        .into_iter()
        .map(|(s,)| s)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_stitch_consistently_and_the_log_follows_commit_order() {
    for kind in TestDatabases::all() {
        let f = Fixture::new(kind).await;
        let db = f.name();
        f.add_entity("hub", HUB, Some(entity("Group", "hub", "hub", json!({}))))
            .await;
        f.add_edge(None, HUB).await;
        for i in 0..ENTITIES {
            let r = format!("component:default/e{i}");
            let id = format!("e{i}");
            f.add_entity(
                &id,
                &r,
                Some(entity(
                    "Component",
                    &format!("e{i}"),
                    &id,
                    json!({"version": 0}),
                )),
            )
            .await;
            f.add_edge(None, &r).await;
        }
        let second = CatalogEngine::for_stitching_tests(f.db().clone(), OrphanStrategy::Keep)
            .await
            .unwrap_or_else(|e| panic!("{db}: {e}"));
        let shutdown = CancellationToken::new();
        let workers = [
            f.engine.start_stitching(shutdown.clone()),
            second.start_stitching(shutdown.clone()),
        ];

        // A follower reading the raw change log the whole time.
        let stop = Arc::new(AtomicBool::new(false));
        let follower = {
            let db_handle = f.db().clone();
            let stop = Arc::clone(&stop);
            tokio::spawn(async move {
                let mut seen: Vec<i64> = Vec::new();
                loop {
                    let done = stop.load(Ordering::SeqCst);
                    let last = seen.last().copied().unwrap_or(0);
                    seen.extend(seqs_after(&db_handle, last).await);
                    if done {
                        return seen;
                    }
                    tokio::time::sleep(Duration::from_millis(3)).await;
                }
            })
        };

        for round in 1..=ROUNDS {
            processing_round(f.db(), round)
                .await
                .unwrap_or_else(|e| panic!("{db}: processing round {round}: {e}"));
            // Back to back, so that rounds land while batches are in flight.
            tokio::task::yield_now().await;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while f.queue_len().await > 0 {
            assert!(Instant::now() < deadline, "{db}: queue never drained");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        shutdown.cancel();
        for worker in workers {
            worker.await.unwrap_or_else(|e| panic!("{db}: worker: {e}"));
        }
        stop.store(true, Ordering::SeqCst);
        let seen = follower
            .await
            .unwrap_or_else(|e| panic!("{db}: follower: {e}"));

        // Every final entity is current: stitching everything again changes nothing.
        let finals = f.all_finals().await;
        assert_eq!(finals.len(), ENTITIES + 1, "{db}");
        for i in 0..ENTITIES {
            let e = f
                .final_entity(&format!("component:default/e{i}"))
                .await
                .unwrap_or_default();
            let expected = (1..=ROUNDS)
                .rev()
                .find(|round| (i + round) % 3 == 0)
                .unwrap_or(0);
            assert_eq!(e["spec"]["version"], json!(expected), "{db}: e{i}");
        }
        let hub = f.final_entity(HUB).await.unwrap_or_default();
        assert_eq!(
            hub["relations"].as_array().map(Vec::len),
            Some(ENTITIES),
            "{db}: every member on the hub"
        );
        let all: Vec<String> = finals.keys().cloned().collect();
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        f.enqueue(&refs).await;
        let again = f.stitch().await;
        assert_eq!(
            (again.claimed, again.written),
            (ENTITIES + 1, 0),
            "{db}: nothing stale"
        );

        // The follower saw every entry, in order, although it read while
        // two workers committed.
        let logged: Vec<i64> = f
            .change_log()
            .await
            .into_iter()
            .map(|(seq, _, _)| seq)
            .collect();
        assert_eq!(seen, logged, "{db}: follower saw the whole log in order");
        assert!(logged.len() > ENTITIES, "{db}: {} entries", logged.len());

        let (_, state) = replay(&f.engine, 0, Vec::new(), 97).await;
        assert_eq!(
            state,
            all_finals(f.db()).await,
            "{db}: replay reproduces final entities"
        );
        drop(second);
        f.cleanup().await;
    }
}
