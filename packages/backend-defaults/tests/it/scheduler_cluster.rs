//! Two whole backends on one PostgreSQL database, each running the same plugin
//! with one global task every second: the scheduler service wired by the
//! defaults must run each period once, on one instance at a time, and hand a
//! run over to another instance when its lease times out.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use greenroom_backend_defaults::{Backend, RunningBackend};
use greenroom_backend_plugin_api::BackendPlugin;
use greenroom_backend_plugin_api::services::{Frequency, SCHEDULER, TaskDefinition, TaskScope};
use greenroom_backend_test_utils::database::TestPostgres;
use greenroom_config::Config;
use serde_json::json;

/// What the task bodies of both instances record.
#[derive(Default)]
struct Record {
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// (instance, start time) of every run.
    starts: Mutex<Vec<(usize, Instant)>>,
    /// When set, the next run hangs, ignoring cancellation, as a dead instance would.
    hang_next: AtomicBool,
    hung_at: Mutex<Option<(usize, Instant)>>,
}

fn ticker(instance: usize, record: Arc<Record>) -> BackendPlugin {
    BackendPlugin::new("ticker", move |registrar| {
        registrar.register_init(move |env| async move {
            let scheduler = env.get(&SCHEDULER).await?;
            scheduler
                .schedule_task(TaskDefinition {
                    id: "tick".to_owned(),
                    frequency: Frequency::Every(Duration::from_secs(1)),
                    timeout: Duration::from_secs(3),
                    initial_delay: None,
                    scope: TaskScope::Global,
                    run: Arc::new(move |_cancel| {
                        let record = Arc::clone(&record);
                        Box::pin(async move {
                            let now = Instant::now();
                            if record.hang_next.swap(false, Ordering::SeqCst) {
                                *record.hung_at.lock().expect("lock") = Some((instance, now));
                                std::future::pending::<()>().await;
                            }
                            let running = record.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                            record.max_in_flight.fetch_max(running, Ordering::SeqCst);
                            record.starts.lock().expect("lock").push((instance, now));
                            tokio::time::sleep(Duration::from_millis(300)).await;
                            record.in_flight.fetch_sub(1, Ordering::SeqCst);
                            Ok(())
                        })
                    }),
                })
                .await
        });
    })
}

async fn start(pg: &TestPostgres, instance: usize, record: &Arc<Record>) -> RunningBackend {
    let config = json!({
        "backend": {
            "baseUrl": "http://127.0.0.1",
            "listen": { "host": "127.0.0.1", "port": 0 },
            "database": pg.database_config(json!({})),
        }
    });
    let mut backend = Backend::new(Arc::new(Config::from_value(config).expect("config")));
    backend.add(ticker(instance, Arc::clone(record)));
    backend.start().await.expect("backend starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_backends_share_one_global_task() {
    let pg = TestPostgres::new();
    let record = Arc::new(Record::default());
    let first = start(&pg, 1, &record).await;
    let second = start(&pg, 2, &record).await;

    tokio::time::sleep(Duration::from_secs(10)).await;
    let starts = record.starts.lock().expect("lock").clone();
    assert_eq!(
        record.max_in_flight.load(Ordering::SeqCst),
        1,
        "runs never overlap"
    );
    assert!(
        (9..=11).contains(&starts.len()),
        "one run per second for 10 s: {}",
        starts.len()
    );
    for pair in starts.windows(2) {
        let gap = pair[1].1.duration_since(pair[0].1);
        assert!(
            gap >= Duration::from_millis(700),
            "two runs in one period: {gap:?}"
        );
    }

    // An instance whose run hangs keeps the lease until the timeout (3 s); then
    // the task runs again, and nothing runs in between.
    record.hang_next.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(3);
    let (hung_instance, hung_at) = loop {
        if let Some(hung) = *record.hung_at.lock().expect("lock") {
            break hung;
        }
        assert!(Instant::now() < deadline, "the next run did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_secs(6)).await;
    let after: Vec<(usize, Instant)> = record
        .starts
        .lock()
        .expect("lock")
        .iter()
        .copied()
        .filter(|(_, at)| *at > hung_at)
        .collect();
    let (_, resumed_at) = after
        .first()
        .copied()
        .unwrap_or_else(|| panic!("no run after instance {hung_instance} hung"));
    let waited = resumed_at.duration_since(hung_at);
    assert!(
        waited >= Duration::from_millis(2_900) && waited <= Duration::from_millis(5_500),
        "the task resumed {waited:?} after the hang; the timeout is 3 s"
    );

    first.stop().await;
    second.stop().await;
    pg.cleanup().await;
}
