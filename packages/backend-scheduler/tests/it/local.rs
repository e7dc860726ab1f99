//! Local tasks: timers on each instance, initial delay, triggers, timeouts,
//! cancellation and shutdown.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use greenroom_backend_plugin_api::ErrorName;
use greenroom_backend_plugin_api::services::{Frequency, SchedulerService, TaskScope};

use crate::support::{Behaviour, Kind, Recorder, TestDb, eventually, instance, lease_row, task};

#[tokio::test(flavor = "multi_thread")]
async fn local_tasks_run_on_every_instance_without_a_lease() {
    let db = TestDb::new(Kind::Sqlite).await;
    let a = instance(&db, "demo").await;
    let b = instance(&db, "demo").await;
    let recorders = [Arc::new(Recorder::default()), Arc::new(Recorder::default())];
    for (n, inst) in [&a, &b].into_iter().enumerate() {
        let def = task(
            "local",
            Frequency::Every(Duration::from_millis(300)),
            Duration::from_secs(5),
            TaskScope::Local,
            recorders[n].body(n, Behaviour::Work(Duration::from_millis(100))),
        );
        inst.scheduler.schedule_task(def).await.expect("schedule");
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    for (n, recorder) in recorders.iter().enumerate() {
        let count = recorder.count();
        assert!((3..=5).contains(&count), "instance {n}: {count} runs");
        assert_eq!(
            recorder.max_in_flight.load(Ordering::SeqCst),
            1,
            "instance {n}"
        );
    }
    // Both ran at the same time: nothing coordinates local tasks.
    let first_a = recorders[0].runs()[0].start;
    let first_b = recorders[1].runs()[0].start;
    let apart = if first_a > first_b {
        first_a - first_b
    } else {
        first_b - first_a
    };
    assert!(
        apart < Duration::from_millis(100),
        "first runs {apart:?} apart"
    );
    assert_eq!(
        lease_row(&db.pool().await, "local").await,
        None,
        "local task wrote a lease"
    );
    for inst in [a, b] {
        inst.shutdown.cancel();
        inst.scheduler.stopped().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn initial_delay_postpones_the_first_run() {
    for scope in [TaskScope::Local, TaskScope::Global] {
        let db = TestDb::new(Kind::Sqlite).await;
        let a = instance(&db, "demo").await;
        let recorder = Arc::new(Recorder::default());
        let mut def = task(
            "delayed",
            Frequency::Every(Duration::from_secs(600)),
            Duration::from_secs(5),
            scope,
            recorder.body(0, Behaviour::Work(Duration::ZERO)),
        );
        def.initial_delay = Some(Duration::from_millis(500));
        let scheduled = Instant::now();
        a.scheduler.schedule_task(def).await.expect("schedule");
        assert!(
            eventually(Duration::from_secs(2), || recorder.count() == 1).await,
            "{scope:?}: never ran"
        );
        let waited = recorder.runs()[0].start.duration_since(scheduled);
        assert!(
            waited >= Duration::from_millis(480) && waited < Duration::from_millis(1000),
            "{scope:?}: first run after {waited:?}"
        );
        a.shutdown.cancel();
        a.scheduler.stopped().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn local_trigger_cancel_and_conflicts() {
    let db = TestDb::new(Kind::Sqlite).await;
    let a = instance(&db, "demo").await;
    let recorder = Arc::new(Recorder::default());
    let def = task(
        "manual",
        Frequency::Manual,
        Duration::from_secs(10),
        TaskScope::Local,
        recorder.body(0, Behaviour::UntilCancelled),
    );
    a.scheduler.schedule_task(def).await.expect("schedule");
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(recorder.count(), 0, "manual task ran untriggered");
    let err = a.scheduler.cancel_task("manual").await.expect_err("idle");
    assert_eq!(err.name, ErrorName::ConflictError);

    a.scheduler.trigger_task("manual").await.expect("trigger");
    assert!(eventually(Duration::from_secs(1), || recorder.count() == 1).await);
    let err = a
        .scheduler
        .trigger_task("manual")
        .await
        .expect_err("running");
    assert_eq!(err.name, ErrorName::ConflictError);
    assert_eq!(err.message, "Task manual is currently running");

    a.scheduler.cancel_task("manual").await.expect("cancel");
    assert!(
        eventually(Duration::from_secs(1), || recorder
            .in_flight
            .load(Ordering::SeqCst)
            == 0)
        .await,
        "cancel did not stop the run"
    );
    assert!(recorder.runs()[0].cancelled);
    tokio::time::sleep(Duration::from_millis(50)).await;
    a.scheduler
        .trigger_task("manual")
        .await
        .expect("trigger again");
    assert!(eventually(Duration::from_secs(1), || recorder.count() == 2).await);
    a.shutdown.cancel();
    a.scheduler.stopped().await;
    assert!(
        recorder.runs()[1].cancelled,
        "shutdown did not cancel the local run"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn local_runs_time_out_and_shutdown_stops_them() {
    let db = TestDb::new(Kind::Sqlite).await;
    let a = instance(&db, "demo").await;
    let recorder = Arc::new(Recorder::default());
    let def = task(
        "hangs",
        Frequency::Every(Duration::from_millis(400)),
        Duration::from_millis(200),
        TaskScope::Local,
        recorder.body(0, Behaviour::Hang),
    );
    a.scheduler.schedule_task(def).await.expect("schedule");
    assert!(eventually(Duration::from_secs(2), || recorder.count() >= 2).await);
    let runs = recorder.runs();
    let lasted = runs[0].end.expect("ended").duration_since(runs[0].start);
    assert!(
        lasted >= Duration::from_millis(180) && lasted < Duration::from_millis(600),
        "timed out after {lasted:?}"
    );
    // Interval tasks keep their rhythm: the second run starts one period
    // after the first, not one period after the first ended.
    let gap = runs[1].start.duration_since(runs[0].start);
    assert!(
        gap >= Duration::from_millis(380) && gap < Duration::from_millis(700),
        "runs {gap:?} apart"
    );
    a.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(2), a.scheduler.stopped())
        .await
        .expect("stopped after shutdown");
    let count = recorder.count();
    assert_eq!(recorder.in_flight.load(Ordering::SeqCst), 0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(recorder.count(), count, "ran after shutdown");
}
