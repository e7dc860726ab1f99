//! Test databases (a temporary SQLite file, or a fresh PostgreSQL database
//! dropped afterwards) and a recording task body.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use greenroom_backend_plugin_api::BackendError;
use greenroom_backend_plugin_api::services::{
    Database, Frequency, TaskDefinition, TaskFn, TaskScope,
};
use greenroom_backend_scheduler::{PluginScheduler, SchedulerOptions};
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use tokio_util::sync::CancellationToken;

const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Sqlite,
    Postgres,
}

pub(crate) const KINDS: [Kind; 2] = [Kind::Sqlite, Kind::Postgres];

/// A database of its own for one test; removed when dropped.
#[derive(Debug)]
pub(crate) struct TestDb {
    sqlite_dir: Option<PathBuf>,
    pg_name: Option<String>,
}

fn unique_suffix() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

impl TestDb {
    pub(crate) async fn new(kind: Kind) -> Self {
        match kind {
            Kind::Sqlite => {
                let dir = std::env::temp_dir().join(format!("gr_sched_{}", unique_suffix()));
                std::fs::create_dir_all(&dir).expect("temp dir");
                Self {
                    sqlite_dir: Some(dir),
                    pg_name: None,
                }
            }
            Kind::Postgres => {
                let name = format!("gr_sched_{}", unique_suffix());
                let admin = PgPoolOptions::new()
                    .max_connections(1)
                    .connect(PG_ADMIN_URL)
                    .await
                    .expect("PostgreSQL on 127.0.0.1:5432");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                    .execute(&admin)
                    .await
                    .expect("create database");
                admin.close().await;
                Self {
                    sqlite_dir: None,
                    pg_name: Some(name),
                }
            }
        }
    }

    /// A new pool on this database, as a separate backend instance would open.
    pub(crate) async fn pool(&self) -> Database {
        if let Some(dir) = &self.sqlite_dir {
            let options = SqliteConnectOptions::new()
                .filename(dir.join("plugin.sqlite"))
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options)
                .await
                .expect("sqlite pool");
            return Database::Sqlite(pool);
        }
        let name = self.pg_name.as_deref().expect("postgres database");
        let options = PgConnectOptions::from_str(PG_ADMIN_URL)
            .expect("url")
            .database(name);
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .expect("postgres pool");
        Database::Postgres(pool)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(dir) = &self.sqlite_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some(name) = self.pg_name.take() {
            // Dropping needs async I/O, and Drop may run inside a runtime, so
            // it happens on a thread with a runtime of its own.
            let dropper = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(async move {
                    if let Ok(admin) = PgPoolOptions::new()
                        .max_connections(1)
                        .connect(PG_ADMIN_URL)
                        .await
                    {
                        let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                        let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&admin).await;
                        admin.close().await;
                    }
                });
            });
            let _ = dropper.join();
        }
    }
}

/// Options that make tests quick: workers poll every 50 ms.
pub(crate) fn fast() -> SchedulerOptions {
    SchedulerOptions {
        poll_interval: Duration::from_millis(50),
        shutdown_grace: Duration::from_millis(300),
    }
}

/// A scheduler instance with its own pool and shutdown token.
pub(crate) struct Instance {
    pub(crate) scheduler: Arc<PluginScheduler>,
    pub(crate) shutdown: CancellationToken,
}

pub(crate) async fn instance(db: &TestDb, plugin_id: &str) -> Instance {
    let shutdown = CancellationToken::new();
    let scheduler =
        PluginScheduler::with_options(plugin_id, db.pool().await, shutdown.clone(), fast())
            .await
            .expect("scheduler");
    Instance {
        scheduler: Arc::new(scheduler),
        shutdown,
    }
}

/// One recorded run.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub(crate) instance: usize,
    pub(crate) start: Instant,
    pub(crate) end: Option<Instant>,
    pub(crate) cancelled: bool,
    /// The token the run was given.
    pub(crate) token: CancellationToken,
}

/// What a task body should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Behaviour {
    /// Work for a while, then succeed.
    Work(Duration),
    /// Never finish and ignore cancellation (a hung or crashed run).
    Hang,
    /// Wait for cancellation, then return.
    UntilCancelled,
}

/// Shared record of every run of a task, across instances.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    pub(crate) runs: Mutex<Vec<Run>>,
    pub(crate) in_flight: AtomicUsize,
    pub(crate) max_in_flight: AtomicUsize,
    pub(crate) hang_next: AtomicBool,
}

/// Marks a run finished even when its future is dropped mid-way.
struct RunGuard {
    recorder: Arc<Recorder>,
    index: usize,
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        self.recorder.in_flight.fetch_sub(1, Ordering::SeqCst);
        if let Some(run) = self.recorder.runs.lock().expect("lock").get_mut(self.index) {
            run.end = Some(Instant::now());
        }
    }
}

impl Recorder {
    pub(crate) fn runs(&self) -> Vec<Run> {
        self.runs.lock().expect("lock").clone()
    }

    pub(crate) fn count(&self) -> usize {
        self.runs.lock().expect("lock").len()
    }

    /// A task body for `instance` that records its runs and behaves as told
    /// (unless `hang_next` is set, which makes the next run hang).
    pub(crate) fn body(self: &Arc<Self>, instance: usize, behaviour: Behaviour) -> TaskFn {
        let recorder = Arc::clone(self);
        Arc::new(move |token: CancellationToken| {
            let recorder = Arc::clone(&recorder);
            Box::pin(async move {
                let now_in_flight = recorder.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                recorder
                    .max_in_flight
                    .fetch_max(now_in_flight, Ordering::SeqCst);
                let index = {
                    let mut runs = recorder.runs.lock().expect("lock");
                    runs.push(Run {
                        instance,
                        start: Instant::now(),
                        end: None,
                        cancelled: false,
                        token: token.clone(),
                    });
                    runs.len() - 1
                };
                let _guard = RunGuard {
                    recorder: Arc::clone(&recorder),
                    index,
                };
                let behaviour = if recorder.hang_next.swap(false, Ordering::SeqCst) {
                    Behaviour::Hang
                } else {
                    behaviour
                };
                match behaviour {
                    Behaviour::Work(d) => tokio::time::sleep(d).await,
                    Behaviour::Hang => std::future::pending::<()>().await,
                    Behaviour::UntilCancelled => {
                        token.cancelled().await;
                        if let Some(run) = recorder.runs.lock().expect("lock").get_mut(index) {
                            run.cancelled = true;
                        }
                    }
                }
                Ok::<(), BackendError>(())
            })
        })
    }
}

pub(crate) fn task(
    id: &str,
    frequency: Frequency,
    timeout: Duration,
    scope: TaskScope,
    run: TaskFn,
) -> TaskDefinition {
    TaskDefinition {
        id: id.to_owned(),
        frequency,
        timeout,
        initial_delay: None,
        scope,
        run,
    }
}

/// Polls `condition` every 10 ms until it holds or `within` passes.
pub(crate) async fn eventually(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    condition()
}

/// The lease row of a task, read with plain SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeaseRow {
    pub(crate) settings_json: String,
    pub(crate) next_run_start_at: Option<i64>,
    pub(crate) current_run_ticket: Option<String>,
    pub(crate) last_run_error_json: Option<String>,
}

pub(crate) async fn lease_row(db: &Database, id: &str) -> Option<LeaseRow> {
    const SQL: &str =
        "SELECT settings_json, next_run_start_at, current_run_ticket, last_run_error_json
        FROM backstage_backend_tasks__tasks WHERE id = $1";
    macro_rules! read {
        ($pool:expr) => {
            sqlx::query(SQL)
                .bind(id)
                .fetch_optional($pool)
                .await
                .expect("select")
                .map(|row| LeaseRow {
                    settings_json: row.get("settings_json"),
                    next_run_start_at: row.get("next_run_start_at"),
                    current_run_ticket: row.get("current_run_ticket"),
                    last_run_error_json: row.get("last_run_error_json"),
                })
        };
    }
    match db {
        Database::Sqlite(pool) => read!(pool),
        Database::Postgres(pool) => read!(pool),
    }
}

pub(crate) fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock");
    i64::try_from(d.as_millis()).expect("ms")
}
