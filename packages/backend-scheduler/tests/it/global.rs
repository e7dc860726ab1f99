//! Global tasks: one run at a time across instances sharing a database, lease
//! expiry after a crash, triggers, timeouts, shutdown and registration.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use greenroom_backend_plugin_api::ErrorName;
use greenroom_backend_plugin_api::services::{Frequency, SchedulerService, TaskScope};
use greenroom_backend_scheduler::PluginScheduler;
use tokio_util::sync::CancellationToken;

use crate::support::{
    Behaviour, KINDS, Kind, Recorder, TestDb, eventually, instance, lease_row, now_ms, task,
};

const EVERY_SECOND: Duration = Duration::from_secs(1);
const LEASE_TIMEOUT: Duration = Duration::from_secs(2);

/// `count` instances share one global task that runs every second for
/// `seconds`: runs never overlap and each period runs once (checklist 39). Then
/// the instance running the task crashes mid-run, and another takes over once
/// the lease times out (checklist 40).
async fn instances_share_one_task(kind: Kind, count: usize, seconds: u64) {
    let db = TestDb::new(kind).await;
    let mut instances = Vec::new();
    for _ in 0..count {
        instances.push(instance(&db, "demo").await);
    }
    let recorder = Arc::new(Recorder::default());
    let work = Behaviour::Work(Duration::from_millis(200));
    let started = Instant::now();
    for (n, inst) in instances.iter().enumerate() {
        inst.scheduler
            .schedule_task(task(
                "tick",
                Frequency::Every(EVERY_SECOND),
                LEASE_TIMEOUT,
                TaskScope::Global,
                recorder.body(n, work),
            ))
            .await
            .expect("schedule");
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;

    let runs: Vec<_> = recorder
        .runs()
        .into_iter()
        .filter(|r| r.start <= started + Duration::from_secs(seconds))
        .collect();
    let low = usize::try_from(seconds - 1).expect("small");
    let high = usize::try_from(seconds + 1).expect("small");
    assert!(
        (low..=high).contains(&runs.len()),
        "{kind:?}: {} runs in {seconds} s",
        runs.len()
    );
    assert_eq!(
        recorder.max_in_flight.load(Ordering::SeqCst),
        1,
        "{kind:?}: overlap"
    );
    // The next run is due a period after the previous one was claimed, not after
    // its body started, so a body that started late (CI on two loaded cores has
    // delayed one by 204 ms) is followed by a shorter gap. A second run in the
    // same period would start right after the first ended (200 ms of work), so
    // half a period still tells the two apart.
    for pair in runs.windows(2) {
        let gap = pair[1].start.duration_since(pair[0].start);
        assert!(
            gap >= Duration::from_millis(500),
            "{kind:?}: runs {gap:?} apart"
        );
        let end = pair[0].end.expect("previous run ended");
        assert!(end <= pair[1].start, "{kind:?}: runs overlap");
    }

    // Make the next run hang, then crash whichever instance runs it.
    recorder.hang_next.store(true, Ordering::SeqCst);
    let before = recorder.count();
    assert!(
        eventually(Duration::from_secs(3), || recorder.count() > before).await,
        "{kind:?}: no run after hang_next"
    );
    let hung = recorder.runs()[before].clone();
    let crashed = &instances[hung.instance];
    crashed.scheduler.crash_for_test();
    crashed.shutdown.cancel();
    assert!(
        eventually(LEASE_TIMEOUT + Duration::from_secs(2), || recorder.count()
            > before + 1)
        .await,
        "{kind:?}: the surviving instance never took over"
    );
    let takeover = recorder.runs()[before + 1].clone();
    assert_ne!(
        takeover.instance, hung.instance,
        "{kind:?}: crashed instance ran again"
    );
    let waited = takeover.start.duration_since(hung.start);
    assert!(
        waited >= LEASE_TIMEOUT - Duration::from_millis(100),
        "{kind:?}: took over after only {waited:?}, before the lease timed out"
    );
    assert!(
        waited <= LEASE_TIMEOUT + Duration::from_millis(1500),
        "{kind:?}: took over only after {waited:?}"
    );
    assert_eq!(
        recorder.max_in_flight.load(Ordering::SeqCst),
        1,
        "{kind:?}: overlap"
    );

    for inst in &instances {
        inst.shutdown.cancel();
        inst.scheduler.stopped().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acceptance_two_instances_on_postgres() {
    instances_share_one_task(Kind::Postgres, 2, 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acceptance_three_instances_on_sqlite() {
    instances_share_one_task(Kind::Sqlite, 3, 5).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn migrations_are_recorded_once() {
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        let pool = db.pool().await;
        let token = CancellationToken::new();
        // Two instances starting together, then a restart.
        let (one, two) = tokio::join!(
            PluginScheduler::new("demo", db.pool().await, token.clone()),
            PluginScheduler::new("demo", db.pool().await, token.clone()),
        );
        one.expect("first");
        two.expect("second");
        PluginScheduler::new("demo", pool.clone(), token.clone())
            .await
            .expect("restart");
        let sql = "SELECT version FROM backstage_backend_tasks__migrations";
        let versions: Vec<i64> = match &pool {
            greenroom_backend_plugin_api::services::Database::Sqlite(p) => {
                sqlx::query_scalar(sql).fetch_all(p).await.expect("select")
            }
            greenroom_backend_plugin_api::services::Database::Postgres(p) => {
                sqlx::query_scalar(sql).fetch_all(p).await.expect("select")
            }
        };
        assert_eq!(versions, vec![1], "{kind:?}");
        assert_eq!(lease_row(&pool, "none").await, None, "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn registration_keeps_next_run_unless_settings_change() {
    let hour = Duration::from_secs(3600);
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        let pool = db.pool().await;
        let recorder = Arc::new(Recorder::default());
        let body = recorder.body(0, Behaviour::Work(Duration::ZERO));
        let mut def = task(
            "sync",
            Frequency::Every(hour),
            hour,
            TaskScope::Global,
            body,
        );
        def.initial_delay = Some(hour);

        let first = instance(&db, "demo").await;
        let before = now_ms();
        first
            .scheduler
            .schedule_task(def.clone())
            .await
            .expect("schedule");
        let row = lease_row(&pool, "sync").await.expect("row");
        let next = row.next_run_start_at.expect("next run");
        assert!(
            next >= before + 3_600_000 && next <= now_ms() + 3_600_000,
            "{kind:?}"
        );
        assert_eq!(
            row.settings_json,
            r#"{"version":2,"cadence":"PT1H","timeoutAfterDuration":"PT1H","initialDelayDuration":"PT1H"}"#,
            "{kind:?}"
        );

        // Same settings from a restarted instance: the start stays.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let second = instance(&db, "demo").await;
        second
            .scheduler
            .schedule_task(def.clone())
            .await
            .expect("schedule");
        assert_eq!(
            lease_row(&pool, "sync")
                .await
                .expect("row")
                .next_run_start_at,
            Some(next),
            "{kind:?}: same settings moved the start"
        );

        // Changed settings: the earlier start wins.
        let third = instance(&db, "demo").await;
        let mut changed = def.clone();
        changed.frequency = Frequency::Every(Duration::from_secs(1800));
        changed.initial_delay = None;
        let before = now_ms();
        third
            .scheduler
            .schedule_task(changed)
            .await
            .expect("schedule");
        let row = lease_row(&pool, "sync").await.expect("row");
        let moved = row.next_run_start_at.expect("next run");
        assert!(moved >= before && moved <= now_ms(), "{kind:?}: {moved}");
        assert!(row.settings_json.contains("PT30M"), "{kind:?}");

        // A manual task has no start until triggered.
        let fourth = instance(&db, "demo").await;
        let mut manual = def.clone();
        manual.frequency = Frequency::Manual;
        fourth
            .scheduler
            .schedule_task(manual)
            .await
            .expect("schedule");
        let row = lease_row(&pool, "sync").await.expect("row");
        assert_eq!(row.next_run_start_at, None, "{kind:?}");
        assert!(
            row.settings_json.contains(r#""cadence":"manual""#),
            "{kind:?}"
        );

        for inst in [first, second, third, fourth] {
            inst.shutdown.cancel();
            inst.scheduler.stopped().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn trigger_runs_an_idle_task_and_refuses_a_running_one() {
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        let a = instance(&db, "demo").await;
        let b = instance(&db, "demo").await;
        let recorder = Arc::new(Recorder::default());
        let body = recorder.body(0, Behaviour::Work(Duration::from_millis(600)));
        let def = task(
            "manual",
            Frequency::Manual,
            Duration::from_secs(5),
            TaskScope::Global,
            body,
        );
        a.scheduler.schedule_task(def).await.expect("schedule");

        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(recorder.count(), 0, "{kind:?}: manual task ran untriggered");

        // Triggered through the other instance, which never scheduled it.
        b.scheduler.trigger_task("manual").await.expect("trigger");
        assert!(
            eventually(Duration::from_secs(2), || recorder.count() == 1).await,
            "{kind:?}: trigger did not run the task"
        );
        let err = a
            .scheduler
            .trigger_task("manual")
            .await
            .expect_err("running");
        assert_eq!(err.name, ErrorName::ConflictError, "{kind:?}");
        assert_eq!(err.message, "Task manual is currently running", "{kind:?}");

        let err = a.scheduler.trigger_task("nope").await.expect_err("unknown");
        assert_eq!(err.name, ErrorName::NotFoundError, "{kind:?}");

        // Once finished, a manual task goes back to waiting for a trigger.
        let pool = db.pool().await;
        assert!(
            eventually(Duration::from_secs(2), || recorder
                .in_flight
                .load(Ordering::SeqCst)
                == 0)
            .await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        let row = lease_row(&pool, "manual").await.expect("row");
        assert_eq!(row.current_run_ticket, None, "{kind:?}");
        assert_eq!(row.next_run_start_at, None, "{kind:?}");
        assert_eq!(recorder.count(), 1, "{kind:?}");
        a.scheduler
            .trigger_task("manual")
            .await
            .expect("trigger again");
        assert!(
            eventually(Duration::from_secs(2), || recorder.count() == 2).await,
            "{kind:?}"
        );

        for inst in [a, b] {
            inst.shutdown.cancel();
            inst.scheduler.stopped().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_past_its_timeout_is_cancelled_and_released() {
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        let a = instance(&db, "demo").await;
        let recorder = Arc::new(Recorder::default());
        let def = task(
            "slow",
            Frequency::Every(Duration::from_secs(3600)),
            Duration::from_millis(300),
            TaskScope::Global,
            recorder.body(0, Behaviour::Hang),
        );
        let token_seen = Arc::new(std::sync::Mutex::new(None::<CancellationToken>));
        let seen = Arc::clone(&token_seen);
        let inner = def.run.clone();
        let mut def = def;
        def.run = Arc::new(move |token: CancellationToken| {
            *seen.lock().expect("lock") = Some(token.clone());
            inner(token)
        });
        a.scheduler.schedule_task(def).await.expect("schedule");
        assert!(
            eventually(Duration::from_secs(2), || recorder.count() == 1).await,
            "{kind:?}"
        );
        let started = recorder.runs()[0].start;
        assert!(
            eventually(Duration::from_secs(2), || recorder.runs()[0].end.is_some()).await,
            "{kind:?}: the hung run was never stopped"
        );
        let lasted = recorder.runs()[0].end.expect("end").duration_since(started);
        assert!(
            lasted >= Duration::from_millis(250) && lasted < Duration::from_millis(900),
            "{kind:?}: stopped after {lasted:?}"
        );
        let token = token_seen.lock().expect("lock").clone().expect("token");
        assert!(
            token.is_cancelled(),
            "{kind:?}: token not cancelled on timeout"
        );

        let pool = db.pool().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let row = lease_row(&pool, "slow").await.expect("row");
        assert_eq!(row.current_run_ticket, None, "{kind:?}: lease kept");
        let error = row.last_run_error_json.expect("error recorded");
        assert!(error.contains("timed out"), "{kind:?}: {error}");
        a.shutdown.cancel();
        a.scheduler.stopped().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_cancels_runs_and_releases_the_lease() {
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        let a = instance(&db, "demo").await;
        let b = instance(&db, "demo").await;
        let recorder = Arc::new(Recorder::default());
        let def = |n| {
            task(
                "long",
                Frequency::Every(Duration::from_millis(200)),
                Duration::from_secs(30),
                TaskScope::Global,
                recorder.body(n, Behaviour::UntilCancelled),
            )
        };
        a.scheduler.schedule_task(def(0)).await.expect("schedule");
        assert!(
            eventually(Duration::from_secs(2), || recorder.count() == 1).await,
            "{kind:?}"
        );
        // B registers only now, so A holds the lease.
        b.scheduler.schedule_task(def(1)).await.expect("schedule");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            recorder.count(),
            1,
            "{kind:?}: second run while the first holds the lease"
        );

        a.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(3), a.scheduler.stopped())
            .await
            .expect("A stopped");
        let first = recorder.runs()[0].clone();
        assert!(
            first.cancelled,
            "{kind:?}: run did not see the cancellation"
        );
        // The lease was released, so B takes over long before the 30 s timeout.
        assert!(
            eventually(Duration::from_secs(2), || recorder.count() == 2).await,
            "{kind:?}: B did not take over after A shut down"
        );
        assert_eq!(recorder.runs()[1].instance, 1, "{kind:?}");
        assert_eq!(recorder.max_in_flight.load(Ordering::SeqCst), 1, "{kind:?}");
        b.shutdown.cancel();
        b.scheduler.stopped().await;
        let count = recorder.count();
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(recorder.count(), count, "{kind:?}: ran after shutdown");
        let err = b
            .scheduler
            .schedule_task(def(1))
            .await
            .expect_err("after shutdown");
        assert_eq!(err.name, ErrorName::ServiceUnavailableError, "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cron_tasks_run_on_their_pattern() {
    let db = TestDb::new(Kind::Sqlite).await;
    let a = instance(&db, "demo").await;
    let recorder = Arc::new(Recorder::default());
    let def = task(
        "cron",
        Frequency::Cron("*/1 * * * * *".to_owned()),
        Duration::from_secs(5),
        TaskScope::Global,
        recorder.body(0, Behaviour::Work(Duration::ZERO)),
    );
    a.scheduler.schedule_task(def).await.expect("schedule");
    assert!(
        eventually(Duration::from_millis(3500), || recorder.count() >= 2).await,
        "cron task ran {} times",
        recorder.count()
    );
    let runs = recorder.runs();
    let gap = runs[1].start.duration_since(runs[0].start);
    assert!(gap >= Duration::from_millis(800), "cron runs {gap:?} apart");
    a.shutdown.cancel();
    a.scheduler.stopped().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_definitions_are_refused() {
    let db = TestDb::new(Kind::Sqlite).await;
    let a = instance(&db, "demo").await;
    let recorder = Arc::new(Recorder::default());
    let body = recorder.body(0, Behaviour::Work(Duration::ZERO));
    let minute = Duration::from_secs(60);
    let rows: [(&str, Frequency, Duration, ErrorName); 5] = [
        (
            "x",
            Frequency::Cron("* * *".to_owned()),
            minute,
            ErrorName::InputError,
        ),
        (
            "x",
            Frequency::Cron("99 * * * *".to_owned()),
            minute,
            ErrorName::InputError,
        ),
        (
            "x",
            Frequency::Every(Duration::ZERO),
            minute,
            ErrorName::InputError,
        ),
        (
            "x",
            Frequency::Every(minute),
            Duration::ZERO,
            ErrorName::InputError,
        ),
        ("", Frequency::Every(minute), minute, ErrorName::InputError),
    ];
    for (id, frequency, timeout, want) in rows {
        let def = task(
            id,
            frequency.clone(),
            timeout,
            TaskScope::Global,
            body.clone(),
        );
        let err = a.scheduler.schedule_task(def).await.expect_err("refused");
        assert_eq!(err.name, want, "{frequency:?} {timeout:?}: {err}");
    }
    let ok = task(
        "dup",
        Frequency::Every(minute),
        minute,
        TaskScope::Global,
        body.clone(),
    );
    a.scheduler.schedule_task(ok.clone()).await.expect("first");
    let err = a.scheduler.schedule_task(ok).await.expect_err("duplicate");
    assert_eq!(err.name, ErrorName::ConflictError);
    let listed = a.scheduler.scheduled_tasks().await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, "dup");
    assert_eq!(listed[0].scope, TaskScope::Global);
    assert_eq!(listed[0].frequency, Frequency::Every(minute));
    a.shutdown.cancel();
    a.scheduler.stopped().await;
}

/// Checklist 42: a cron frequency sets `next_run_start_at` to the pattern's
/// next occurrence (UTC). Checklist 44: after a run, an interval task's next
/// start is the previous start plus the cadence.
#[tokio::test(flavor = "multi_thread")]
async fn next_run_start_at_follows_the_cadence() {
    const TWO_HOURS_MS: i64 = 7_200_000;
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        let pool = db.pool().await;
        let a = instance(&db, "demo").await;
        let recorder = Arc::new(Recorder::default());
        let cron = task(
            "cron",
            Frequency::Cron("0 */2 * * *".to_owned()),
            Duration::from_secs(60),
            TaskScope::Global,
            recorder.body(0, Behaviour::Work(Duration::ZERO)),
        );
        let before = now_ms();
        a.scheduler.schedule_task(cron).await.expect("schedule");
        let next = lease_row(&pool, "cron")
            .await
            .expect("row")
            .next_run_start_at;
        let want = (before.div_euclid(TWO_HOURS_MS) + 1) * TWO_HOURS_MS;
        assert_eq!(next, Some(want), "42 {kind:?}");

        let hourly = task(
            "hourly",
            Frequency::Every(Duration::from_secs(3600)),
            Duration::from_secs(60),
            TaskScope::Global,
            recorder.body(0, Behaviour::Work(Duration::ZERO)),
        );
        a.scheduler.schedule_task(hourly).await.expect("schedule");
        let first = lease_row(&pool, "hourly")
            .await
            .expect("row")
            .next_run_start_at;
        let first = first.expect("first start");
        assert!(
            eventually(Duration::from_secs(2), || recorder.count() == 1).await,
            "44 {kind:?}"
        );
        let mut released = None;
        for _ in 0..100 {
            let row = lease_row(&pool, "hourly").await.expect("row");
            if row.current_run_ticket.is_none() && row.next_run_start_at != Some(first) {
                released = row.next_run_start_at;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(released, Some(first + 3_600_000), "44 {kind:?}");
        a.shutdown.cancel();
        a.scheduler.stopped().await;
    }
}

/// Checklist 45: a cancel from another instance clears the ticket; the
/// running instance notices, cancels the run's token and stops the run.
#[tokio::test(flavor = "multi_thread")]
async fn cancel_from_another_instance_stops_the_run() {
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        let a = instance(&db, "demo").await;
        let b = instance(&db, "demo").await;
        let recorder = Arc::new(Recorder::default());
        let def = task(
            "long",
            Frequency::Every(Duration::from_secs(3600)),
            Duration::from_secs(30),
            TaskScope::Global,
            recorder.body(0, Behaviour::Hang),
        );
        a.scheduler.schedule_task(def).await.expect("schedule");
        assert!(
            eventually(Duration::from_secs(2), || recorder.count() == 1).await,
            "{kind:?}"
        );
        b.scheduler.cancel_task("long").await.expect("cancel");
        assert!(
            eventually(Duration::from_secs(2), || recorder.runs()[0].end.is_some()).await,
            "45 {kind:?}: the run kept going after its ticket was cleared"
        );
        assert!(recorder.runs()[0].token.is_cancelled(), "45 {kind:?}");
        let row = lease_row(&db.pool().await, "long").await.expect("row");
        assert_eq!(row.current_run_ticket, None, "{kind:?}");
        let error = row.last_run_error_json.expect("error");
        assert!(error.contains("Task was cancelled"), "{kind:?}: {error}");
        let err = b
            .scheduler
            .cancel_task("long")
            .await
            .expect_err("not running");
        assert_eq!(err.name, ErrorName::ConflictError, "{kind:?}");
        for inst in [a, b] {
            inst.shutdown.cancel();
            inst.scheduler.stopped().await;
        }
    }
}
