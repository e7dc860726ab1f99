//! [`PluginScheduler`]: one plugin's scheduler on one instance, with a worker
//! loop per task — global tasks coordinated through the lease table, local
//! tasks on plain timers.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use greenroom_backend_plugin_api::BackendError;
use greenroom_backend_plugin_api::services::{
    Database, ScheduledTask, SchedulerService, TaskDefinition, TaskScope,
};
use serde_json::{Map, Value, json};
use tokio::sync::Notify;
use tokio::task::AbortHandle;
use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::{duration_ms, iso_instant, now_ms};
use crate::settings::{Plan, SettingsV2};
use crate::store;

/// The longest task id accepted; ids are primary keys and appear in URLs.
const MAX_TASK_ID_LEN: usize = 255;

/// Tuning knobs; the defaults suit production.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// How often a global task's worker looks at its lease row (jittered by up
    /// to a tenth either way). A worker also wakes exactly when the row says the
    /// next run is due, so this mostly bounds how quickly an expired lease or a
    /// trigger from another instance is noticed. A running global task checks
    /// that it still holds its lease every five poll intervals.
    pub poll_interval: Duration,
    /// How long a run may keep going after shutdown cancelled its token before
    /// it is dropped (never beyond its timeout).
    pub shutdown_grace: Duration,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(2),
        }
    }
}

/// What a task's worker on this instance is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum WorkerStatus {
    #[default]
    InitialWait,
    Idle,
    Running,
}

impl WorkerStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::InitialWait => "initial-wait",
            Self::Idle => "idle",
            Self::Running => "running",
        }
    }
}

/// A run in progress on this instance.
#[derive(Debug, Clone)]
struct RunInfo {
    started_at: i64,
    expires_at: i64,
    token: CancellationToken,
}

/// Per-instance state of one task. Local tasks keep all their state here;
/// global tasks use it only for the worker status and the run token.
#[derive(Debug, Default)]
struct EntryState {
    worker: WorkerStatus,
    running: Option<RunInfo>,
    next_at: Option<i64>,
    last_ended_at: Option<i64>,
    last_error: Option<String>,
    triggered: bool,
}

/// A scheduled task on this instance.
struct TaskEntry {
    def: TaskDefinition,
    plan: Plan,
    settings: SettingsV2,
    state: Mutex<EntryState>,
    /// Wakes the worker early: a trigger, or a cancel of a local run.
    wake: Notify,
}

impl TaskEntry {
    fn state(&self) -> MutexGuard<'_, EntryState> {
        // The state holds plain values, so a panic elsewhere cannot leave it
        // half-updated in a way that matters; keep going with it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set_worker(&self, status: WorkerStatus) {
        self.state().worker = status;
    }
}

/// How a run ended.
enum Ended {
    Finished(Result<(), BackendError>),
    TimedOut,
    /// Shutdown (or a cancel) stopped it and it did not return within the grace period.
    Abandoned,
    /// Another party took the lease away (a cancel, or it expired and another
    /// instance claimed it).
    Lost,
}

struct Inner {
    plugin_id: String,
    db: Database,
    shutdown: CancellationToken,
    options: SchedulerOptions,
    tasks: Mutex<Vec<Arc<TaskEntry>>>,
    tracker: TaskTracker,
    loops: Mutex<Vec<AbortHandle>>,
}

impl Inner {
    fn tasks(&self) -> MutexGuard<'_, Vec<Arc<TaskEntry>>> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn entry(&self, id: &str) -> Option<Arc<TaskEntry>> {
        self.tasks().iter().find(|e| e.def.id == id).cloned()
    }
}

/// One plugin's scheduler on one instance.
///
/// Global tasks run on exactly one instance at a time among all instances
/// sharing the plugin's database: each instance's worker claims a lease row in
/// `backstage_backend_tasks__tasks` with a conditional UPDATE, runs the task,
/// and releases the row with the next start time. Local tasks run on every
/// instance on their own timers. Cancelling the shutdown token given to
/// [`PluginScheduler::new`] stops claiming and cancels runs in progress.
#[derive(Clone)]
pub struct PluginScheduler {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PluginScheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginScheduler")
            .field("plugin_id", &self.inner.plugin_id)
            .field("tasks", &self.inner.tasks().len())
            .finish_non_exhaustive()
    }
}

impl PluginScheduler {
    /// Creates the scheduler for `plugin_id`, running its migrations in `db`.
    pub async fn new(
        plugin_id: &str,
        db: Database,
        shutdown: CancellationToken,
    ) -> Result<Self, BackendError> {
        Self::with_options(plugin_id, db, shutdown, SchedulerOptions::default()).await
    }

    /// Like [`PluginScheduler::new`], with chosen [`SchedulerOptions`].
    pub async fn with_options(
        plugin_id: &str,
        db: Database,
        shutdown: CancellationToken,
        options: SchedulerOptions,
    ) -> Result<Self, BackendError> {
        store::migrate(&db, now_ms()).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                plugin_id: plugin_id.to_owned(),
                db,
                shutdown,
                options,
                tasks: Mutex::new(Vec::new()),
                tracker: TaskTracker::new(),
                loops: Mutex::new(Vec::new()),
            }),
        })
    }

    /// The plugin this scheduler belongs to.
    pub fn plugin_id(&self) -> &str {
        &self.inner.plugin_id
    }

    /// Waits until every worker loop has ended; call after cancelling the
    /// shutdown token to know that no run is left in progress.
    pub async fn stopped(&self) {
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
    }

    /// Stops every worker loop on the spot, dropping runs in progress without
    /// releasing their leases — what a crashed process leaves behind. Only for
    /// tests of lease expiry.
    #[doc(hidden)]
    pub fn crash_for_test(&self) {
        let handles = std::mem::take(
            &mut *self
                .inner
                .loops
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for handle in handles {
            handle.abort();
        }
    }

    /// Stops a running task (`POST …/tasks/:id/cancel`). Unknown: NotFoundError;
    /// not running: ConflictError.
    pub async fn cancel_task(&self, id: &str) -> Result<(), BackendError> {
        match self.inner.entry(id) {
            Some(entry) if entry.def.scope == TaskScope::Local => {
                let token = entry.state().running.as_ref().map(|r| r.token.clone());
                match token {
                    Some(token) => {
                        token.cancel();
                        Ok(())
                    }
                    None => Err(BackendError::conflict(format!(
                        "Task {id} is currently not running"
                    ))),
                }
            }
            _ => {
                let error = error_json(&BackendError::internal("Task was cancelled"));
                store::cancel(&self.inner.db, id, now_ms(), &error).await
            }
        }
    }

    /// The body of `GET …/.backstage/scheduler/v1/tasks`: every task scheduled
    /// on this instance with its lease state and this instance's worker state.
    pub async fn describe_tasks(&self) -> Result<Value, BackendError> {
        let entries: Vec<Arc<TaskEntry>> = self.inner.tasks().clone();
        let now = now_ms();
        let mut tasks = Vec::with_capacity(entries.len());
        for entry in entries {
            let (task_state, scope) = match entry.def.scope {
                TaskScope::Global => {
                    let row = store::find(&self.inner.db, &entry.def.id).await?;
                    (row.map(|row| global_task_state(&row, now)), "global")
                }
                TaskScope::Local => (Some(local_task_state(&entry.state())), "local"),
            };
            tasks.push(json!({
                "taskId": entry.def.id,
                "pluginId": self.inner.plugin_id,
                "scope": scope,
                "settings": entry.settings.to_value(),
                "taskState": task_state,
                "workerState": { "status": entry.state().worker.as_str() },
            }));
        }
        Ok(json!({ "tasks": tasks }))
    }

    fn spawn_loop(&self, entry: Arc<TaskEntry>) {
        let inner = Arc::clone(&self.inner);
        let handle = match entry.def.scope {
            TaskScope::Global => self.inner.tracker.spawn(global_loop(inner, entry)),
            TaskScope::Local => self.inner.tracker.spawn(local_loop(inner, entry)),
        };
        self.inner
            .loops
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(handle.abort_handle());
    }
}

#[async_trait]
impl SchedulerService for PluginScheduler {
    async fn schedule_task(&self, task: TaskDefinition) -> Result<(), BackendError> {
        let id = task.id.clone();
        if id.trim().is_empty() || id.len() > MAX_TASK_ID_LEN {
            return Err(BackendError::input(format!(
                "Invalid task id '{id}': it must be between 1 and {MAX_TASK_ID_LEN} characters"
            )));
        }
        if task.timeout.is_zero() {
            return Err(BackendError::input(format!(
                "Invalid schedule for task {id}: timeout must be longer than zero"
            )));
        }
        if self.inner.shutdown.is_cancelled() {
            return Err(BackendError::unavailable(format!(
                "Cannot schedule task {id}: the scheduler is shutting down"
            )));
        }
        let plan = Plan::from_frequency(&task.frequency, task.timeout)
            .map_err(|e| BackendError::input(format!("Invalid schedule for task {id}: {e}")))?;
        let settings = SettingsV2::from_definition(&task);
        let initial_delay = task.initial_delay;
        let scope = task.scope;
        let entry = Arc::new(TaskEntry {
            def: task,
            plan,
            settings,
            state: Mutex::new(EntryState::default()),
            wake: Notify::new(),
        });
        {
            let mut tasks = self.inner.tasks();
            if tasks.iter().any(|e| e.def.id == id) {
                return Err(BackendError::conflict(format!(
                    "Task {id} is already scheduled"
                )));
            }
            tasks.push(Arc::clone(&entry));
        }
        if scope == TaskScope::Global {
            let start = entry.plan.first_start(now_ms(), initial_delay);
            let stored = store::upsert(&self.inner.db, &id, &entry.settings.to_json(), start).await;
            if let Err(e) = stored {
                self.inner.tasks().retain(|e| e.def.id != id);
                return Err(e);
            }
        }
        tracing::debug!(plugin.id = %self.inner.plugin_id, task.id = %id, "task scheduled");
        self.spawn_loop(entry);
        Ok(())
    }

    async fn trigger_task(&self, id: &str) -> Result<(), BackendError> {
        match self.inner.entry(id) {
            Some(entry) if entry.def.scope == TaskScope::Local => {
                let mut state = entry.state();
                if state.running.is_some() {
                    return Err(BackendError::conflict(format!(
                        "Task {id} is currently running"
                    )));
                }
                state.triggered = true;
                drop(state);
                entry.wake.notify_one();
                Ok(())
            }
            local_entry => {
                store::trigger(&self.inner.db, id, now_ms()).await?;
                // Our own worker need not wait for its next poll.
                if let Some(entry) = local_entry {
                    entry.wake.notify_one();
                }
                Ok(())
            }
        }
    }

    async fn scheduled_tasks(&self) -> Vec<ScheduledTask> {
        self.inner
            .tasks()
            .iter()
            .map(|e| ScheduledTask {
                id: e.def.id.clone(),
                scope: e.def.scope,
                frequency: e.def.frequency.clone(),
                timeout: e.def.timeout,
            })
            .collect()
    }
}

fn global_task_state(row: &store::TaskRow, now: i64) -> Value {
    let mut state = Map::new();
    if row.is_running(now) {
        state.insert("status".into(), json!("running"));
        if let Some(t) = row.current_run_started_at {
            state.insert("startedAt".into(), json!(iso_instant(t)));
        }
        if let Some(t) = row.current_run_expires_at {
            state.insert("timesOutAt".into(), json!(iso_instant(t)));
        }
    } else {
        state.insert("status".into(), json!("idle"));
        if let Some(t) = row.next_run_start_at {
            state.insert("startsAt".into(), json!(iso_instant(t)));
        }
    }
    if let Some(e) = &row.last_run_error_json {
        state.insert("lastRunError".into(), json!(e));
    }
    if let Some(t) = row.last_run_ended_at {
        state.insert("lastRunEndedAt".into(), json!(iso_instant(t)));
    }
    Value::Object(state)
}

fn local_task_state(entry: &EntryState) -> Value {
    let mut state = Map::new();
    if let Some(run) = &entry.running {
        state.insert("status".into(), json!("running"));
        state.insert("startedAt".into(), json!(iso_instant(run.started_at)));
        state.insert("timesOutAt".into(), json!(iso_instant(run.expires_at)));
    } else {
        state.insert("status".into(), json!("idle"));
        if let Some(t) = entry.next_at {
            state.insert("startsAt".into(), json!(iso_instant(t)));
        }
    }
    if let Some(e) = &entry.last_error {
        state.insert("lastRunError".into(), json!(e));
    }
    if let Some(t) = entry.last_ended_at {
        state.insert("lastRunEndedAt".into(), json!(iso_instant(t)));
    }
    Value::Object(state)
}

/// A failed run's error as stored in `last_run_error_json`.
fn error_json(error: &BackendError) -> String {
    json!({ "name": error.name.as_str(), "message": error.message }).to_string()
}

/// 64 fresh pseudo-random bits, from the standard library's randomly keyed
/// hasher mixed with the clock, the process id and a counter.
fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    hasher.finish()
}

/// A run ticket: a random UUID (version 4 layout).
fn new_ticket() -> String {
    let hi = random_u64();
    let lo = random_u64();
    let hi = (hi & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
    let lo = (lo & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

/// `base` moved by up to a tenth either way, so that instances started
/// together do not poll in lock-step.
fn jittered(base: Duration) -> Duration {
    let fraction = (random_u64() % 2001) as f64 / 10_000.0 - 0.1;
    base.mul_f64(1.0 + fraction)
}

fn ms_to_duration(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// Waits out the task's initial delay; `false` when shutdown came first.
async fn initial_wait(inner: &Inner, entry: &TaskEntry) -> bool {
    entry.set_worker(WorkerStatus::InitialWait);
    if let Some(delay) = entry.def.initial_delay {
        tokio::select! {
            () = inner.shutdown.cancelled() => return false,
            () = sleep(delay) => {}
        }
    }
    entry.set_worker(WorkerStatus::Idle);
    !inner.shutdown.is_cancelled()
}

/// The worker of a global task on this instance: poll the lease row, claim it
/// when due, run, release.
async fn global_loop(inner: Arc<Inner>, entry: Arc<TaskEntry>) {
    let id = entry.def.id.as_str();
    if !initial_wait(&inner, &entry).await {
        return;
    }
    let poll = inner.options.poll_interval;
    loop {
        if inner.shutdown.is_cancelled() {
            return;
        }
        let mut pause = jittered(poll);
        match store::find(&inner.db, id).await {
            Ok(None) => {
                tracing::info!(plugin.id = %inner.plugin_id, task.id = %id, "task is no longer registered; its worker stops");
                return;
            }
            Ok(Some(row)) => {
                let Some(plan) = Plan::from_settings_json(&row.settings_json) else {
                    tracing::warn!(plugin.id = %inner.plugin_id, task.id = %id, "task settings were written by a version this instance does not understand; its worker stops");
                    return;
                };
                let now = now_ms();
                if row.is_ready(now) {
                    let ticket = new_ticket();
                    let expires = now.saturating_add(duration_ms(plan.timeout));
                    match store::claim(&inner.db, id, &ticket, now, expires).await {
                        Ok(true) => {
                            if row.current_run_ticket.is_some() {
                                tracing::warn!(plugin.id = %inner.plugin_id, task.id = %id, "Task timed out and was lost: {id}");
                            }
                            run_global(&inner, &entry, &plan, row.next_run_start_at, &ticket, now)
                                .await;
                            continue;
                        }
                        Ok(false) => {}
                        Err(e) => {
                            tracing::warn!(plugin.id = %inner.plugin_id, task.id = %id, "could not claim task: {e}");
                        }
                    }
                } else if !row.is_running(now)
                    && let Some(next) = row.next_run_start_at
                {
                    // Wake up when the run is due rather than at the next poll,
                    // with a little jitter so instances do not collide exactly.
                    let until = ms_to_duration(next - now);
                    if until < pause {
                        pause = until + jittered(Duration::from_millis(5));
                    }
                }
            }
            Err(e) => {
                tracing::warn!(plugin.id = %inner.plugin_id, task.id = %id, "could not read task state: {e}");
            }
        }
        tokio::select! {
            () = inner.shutdown.cancelled() => return,
            () = entry.wake.notified() => {}
            () = sleep(pause) => {}
        }
    }
}

/// Runs a claimed global task and releases its lease.
async fn run_global(
    inner: &Inner,
    entry: &TaskEntry,
    plan: &Plan,
    scheduled: Option<i64>,
    ticket: &str,
    started_at: i64,
) {
    let id = entry.def.id.as_str();
    let token = inner.shutdown.child_token();
    {
        let mut state = entry.state();
        state.worker = WorkerStatus::Running;
        state.running = Some(RunInfo {
            started_at,
            expires_at: started_at.saturating_add(duration_ms(plan.timeout)),
            token: token.clone(),
        });
    }
    let ended = execute(inner, entry, token, plan.timeout, Some(ticket)).await;
    {
        let mut state = entry.state();
        state.worker = WorkerStatus::Idle;
        state.running = None;
    }
    let error = match ended {
        Ended::Finished(Ok(())) => None,
        Ended::Finished(Err(e)) => {
            tracing::warn!(plugin.id = %inner.plugin_id, task.id = %id, "task run failed: {e}");
            Some(error_json(&e))
        }
        Ended::TimedOut => Some(error_json(&BackendError::internal(format!(
            "Task {id} timed out"
        )))),
        Ended::Abandoned => Some(error_json(&BackendError::internal(format!(
            "Task {id} was aborted by shutdown"
        )))),
        Ended::Lost => {
            tracing::warn!(plugin.id = %inner.plugin_id, task.id = %id, "task run stopped: its claim was cancelled or expired");
            return;
        }
    };
    let now = now_ms();
    let next = plan.next_start(scheduled, now);
    match store::release(&inner.db, id, ticket, next, now, error.as_deref()).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(plugin.id = %inner.plugin_id, task.id = %id, "task run ended after its claim expired; another instance may have taken over");
        }
        Err(e) => {
            tracing::warn!(plugin.id = %inner.plugin_id, task.id = %id, "could not release task: {e}");
        }
    }
}

/// Drives one run to its end. The run's token is cancelled when the timeout
/// passes (the run is then dropped), on shutdown or a cancel (the run gets
/// [`SchedulerOptions::shutdown_grace`] to return), or — for a global run —
/// when its lease is no longer ours (the run is dropped at once, since another
/// instance may already be running the task).
async fn execute(
    inner: &Inner,
    entry: &TaskEntry,
    token: CancellationToken,
    timeout: Duration,
    lease: Option<&str>,
) -> Ended {
    let mut run = (entry.def.run)(token.clone());
    let started = Instant::now();
    let deadline = started + timeout;
    let check_every = (inner.options.poll_interval * 5).max(Duration::from_millis(10));
    let mut next_check = started + check_every;
    let mut grace_until: Option<Instant> = None;
    loop {
        let grace_at = grace_until.unwrap_or(deadline);
        tokio::select! {
            biased;
            result = &mut run => return Ended::Finished(result),
            () = sleep_until(deadline) => {
                token.cancel();
                return Ended::TimedOut;
            }
            () = sleep_until(grace_at), if grace_until.is_some() => return Ended::Abandoned,
            () = token.cancelled(), if grace_until.is_none() => {
                grace_until = Some((Instant::now() + inner.options.shutdown_grace).min(deadline));
            }
            () = sleep_until(next_check), if lease.is_some() => {
                next_check = Instant::now() + check_every;
                match store::find(&inner.db, &entry.def.id).await {
                    Ok(Some(row)) if row.current_run_ticket.as_deref() == lease => {}
                    Ok(_) => {
                        token.cancel();
                        return Ended::Lost;
                    }
                    // A transient database error does not prove the lease lost.
                    Err(e) => tracing::warn!(plugin.id = %inner.plugin_id, task.id = %entry.def.id, "could not check task lease: {e}"),
                }
            }
        }
    }
}

/// The worker of a local task: timers on this instance only.
async fn local_loop(inner: Arc<Inner>, entry: Arc<TaskEntry>) {
    let id = entry.def.id.as_str();
    if !initial_wait(&inner, &entry).await {
        return;
    }
    let mut next = entry.plan.first_start(now_ms(), None);
    entry.state().next_at = next;
    loop {
        let wait = next.map(|n| ms_to_duration(n - now_ms()));
        tokio::select! {
            () = inner.shutdown.cancelled() => return,
            () = entry.wake.notified() => {}
            () = sleep(wait.unwrap_or_default()), if wait.is_some() => {}
        }
        if inner.shutdown.is_cancelled() {
            return;
        }
        let now = now_ms();
        let triggered = std::mem::take(&mut entry.state().triggered);
        let due = next.is_some_and(|n| n <= now);
        if !triggered && !due {
            continue;
        }
        let scheduled = if triggered { Some(now) } else { next };
        let token = inner.shutdown.child_token();
        {
            let mut state = entry.state();
            state.worker = WorkerStatus::Running;
            state.running = Some(RunInfo {
                started_at: now,
                expires_at: now.saturating_add(duration_ms(entry.def.timeout)),
                token: token.clone(),
            });
        }
        let ended = execute(&inner, &entry, token, entry.def.timeout, None).await;
        let ended_at = now_ms();
        let error = match ended {
            Ended::Finished(Ok(())) => None,
            Ended::Finished(Err(e)) => {
                tracing::warn!(plugin.id = %inner.plugin_id, task.id = %id, "task run failed: {e}");
                Some(error_json(&e))
            }
            Ended::TimedOut => Some(error_json(&BackendError::internal(format!(
                "Task {id} timed out"
            )))),
            Ended::Abandoned | Ended::Lost => Some(error_json(&BackendError::internal(format!(
                "Task {id} was aborted"
            )))),
        };
        next = entry.plan.next_start(scheduled, ended_at);
        let mut state = entry.state();
        state.worker = WorkerStatus::Idle;
        state.running = None;
        state.last_ended_at = Some(ended_at);
        state.last_error = error;
        state.next_at = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_are_uuid_shaped_and_distinct() {
        let a = new_ticket();
        let b = new_ticket();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.as_bytes()[14], b'4', "{a}");
        assert!(a.chars().all(|c| c == '-' || c.is_ascii_hexdigit()), "{a}");
    }

    #[test]
    fn jitter_stays_within_a_tenth() {
        for _ in 0..200 {
            let d = jittered(Duration::from_millis(1000));
            assert!(
                (Duration::from_millis(900)..=Duration::from_millis(1100)).contains(&d),
                "{d:?}"
            );
        }
    }
}
