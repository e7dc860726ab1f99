//! The lease table `backstage_backend_tasks__tasks` in the plugin's own
//! database: its migrations and every statement the global-task protocol runs.
//!
//! Each statement is written once, in SQL that SQLite and PostgreSQL both
//! accept (`$n` placeholders, `ON CONFLICT ... DO UPDATE`, BIGINT epoch
//! milliseconds for instants). The [`on_pool`] macro expands one statement for
//! whichever pool the plugin was given.

use greenroom_backend_plugin_api::BackendError;
use greenroom_backend_plugin_api::services::Database;
use sqlx::Row;

use crate::settings::Plan;

/// The bookkeeping table of the scheduler's own migrations.
/// Exported so that tests and tools can find it.
pub const MIGRATIONS_TABLE: &str = "backstage_backend_tasks__migrations";

/// The lease table, one row per global task.
pub const TASKS_TABLE: &str = "backstage_backend_tasks__tasks";

/// Runs `$body` with `$pool` bound to the SQLite or the PostgreSQL pool.
///
/// The body is the same tokens in both arms, so each statement has one text
/// and one set of bindings; only the compiled types differ.
macro_rules! on_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            Database::Sqlite($pool) => $body,
            Database::Postgres($pool) => $body,
        }
    };
}

/// A transaction on either kind of pool.
enum MaybeTx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Like [`on_pool`], for an open transaction.
macro_rules! on_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx {
            MaybeTx::Sqlite($conn) => $body,
            MaybeTx::Postgres($conn) => $body,
        }
    };
}

/// One migration: a version, a name for the log, and its statements.
struct Migration {
    version: i64,
    name: &'static str,
    statements: &'static [&'static str],
}

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "create_tasks_table",
    statements: &["CREATE TABLE IF NOT EXISTS backstage_backend_tasks__tasks (
            id TEXT PRIMARY KEY NOT NULL,
            settings_json TEXT NOT NULL,
            next_run_start_at BIGINT,
            current_run_ticket TEXT,
            current_run_started_at BIGINT,
            current_run_expires_at BIGINT,
            last_run_ended_at BIGINT,
            last_run_error_json TEXT
        )"],
}];

/// An arbitrary fixed key for PostgreSQL's advisory lock, so that instances
/// starting together run the migrations one after the other.
const PG_MIGRATION_LOCK: i64 = 0x6772_7363_6865_6431;

/// Applies the migrations not yet recorded in [`MIGRATIONS_TABLE`].
///
/// The whole run happens in one transaction that first takes a lock (an
/// advisory lock on PostgreSQL, the write lock on SQLite via
/// `BEGIN IMMEDIATE`), so concurrent starts neither race on `CREATE TABLE` nor
/// apply a migration twice.
pub(crate) async fn migrate(db: &Database, now: i64) -> Result<(), BackendError> {
    const CREATE_BOOKKEEPING: &str =
        "CREATE TABLE IF NOT EXISTS backstage_backend_tasks__migrations (
            version BIGINT PRIMARY KEY NOT NULL,
            name TEXT NOT NULL,
            applied_at BIGINT NOT NULL
        )";
    const APPLIED: &str = "SELECT version FROM backstage_backend_tasks__migrations";
    const RECORD: &str = "INSERT INTO backstage_backend_tasks__migrations (version, name, applied_at) VALUES ($1, $2, $3)";

    let mut tx = match db {
        Database::Sqlite(pool) => MaybeTx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
        Database::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(PG_MIGRATION_LOCK)
                .execute(&mut *tx)
                .await?;
            MaybeTx::Postgres(tx)
        }
    };
    on_tx!(&mut tx, |conn| {
        sqlx::query(CREATE_BOOKKEEPING).execute(&mut **conn).await?;
        let applied: Vec<i64> = sqlx::query(APPLIED)
            .fetch_all(&mut **conn)
            .await?
            .iter()
            .map(|row| row.try_get::<i64, _>(0))
            .collect::<Result<_, _>>()?;
        for migration in MIGRATIONS {
            if applied.contains(&migration.version) {
                continue;
            }
            tracing::debug!(
                migration = migration.name,
                "applying scheduler migration {}",
                migration.version
            );
            for statement in migration.statements {
                sqlx::query(*statement).execute(&mut **conn).await?;
            }
            sqlx::query(RECORD)
                .bind(migration.version)
                .bind(migration.name)
                .bind(now)
                .execute(&mut **conn)
                .await?;
        }
    });
    match tx {
        MaybeTx::Sqlite(tx) => tx.commit().await?,
        MaybeTx::Postgres(tx) => tx.commit().await?,
    }
    Ok(())
}

/// One lease row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TaskRow {
    pub(crate) settings_json: String,
    pub(crate) next_run_start_at: Option<i64>,
    pub(crate) current_run_ticket: Option<String>,
    pub(crate) current_run_started_at: Option<i64>,
    pub(crate) current_run_expires_at: Option<i64>,
    pub(crate) last_run_ended_at: Option<i64>,
    pub(crate) last_run_error_json: Option<String>,
}

impl TaskRow {
    /// Whether a run holds the lease at `now` (an expired lease does not count).
    pub(crate) fn is_running(&self, now: i64) -> bool {
        self.current_run_ticket.is_some() && self.current_run_expires_at.is_some_and(|t| t >= now)
    }

    /// Whether an instance may claim the task at `now`.
    pub(crate) fn is_ready(&self, now: i64) -> bool {
        self.next_run_start_at.is_some_and(|t| t <= now) && !self.is_running(now)
    }
}

/// Registers a task: inserts its row, or updates the settings of an existing one.
///
/// An existing row keeps its next start when the settings are unchanged, so a
/// restarting instance does not disturb the rhythm. When the settings change,
/// the earlier of the old and the new start wins (a manual task has none).
pub(crate) async fn upsert(
    db: &Database,
    id: &str,
    settings_json: &str,
    start: Option<i64>,
) -> Result<(), BackendError> {
    const SQL: &str = "INSERT INTO backstage_backend_tasks__tasks (id, settings_json, next_run_start_at)
        VALUES ($1, $2, $3)
        ON CONFLICT (id) DO UPDATE SET
            next_run_start_at = CASE
                WHEN backstage_backend_tasks__tasks.settings_json = excluded.settings_json
                    THEN COALESCE(backstage_backend_tasks__tasks.next_run_start_at, excluded.next_run_start_at)
                WHEN excluded.next_run_start_at IS NULL THEN NULL
                WHEN backstage_backend_tasks__tasks.next_run_start_at IS NULL THEN excluded.next_run_start_at
                WHEN excluded.next_run_start_at < backstage_backend_tasks__tasks.next_run_start_at
                    THEN excluded.next_run_start_at
                ELSE backstage_backend_tasks__tasks.next_run_start_at
            END,
            settings_json = excluded.settings_json";
    on_pool!(db, |pool| {
        sqlx::query(SQL)
            .bind(id)
            .bind(settings_json)
            .bind(start)
            .execute(pool)
            .await?;
    });
    Ok(())
}

/// Reads one lease row.
pub(crate) async fn find(db: &Database, id: &str) -> Result<Option<TaskRow>, BackendError> {
    const SQL: &str = "SELECT settings_json, next_run_start_at, current_run_ticket,
            current_run_started_at, current_run_expires_at, last_run_ended_at, last_run_error_json
        FROM backstage_backend_tasks__tasks WHERE id = $1";
    let row = on_pool!(db, |pool| {
        match sqlx::query(SQL).bind(id).fetch_optional(pool).await? {
            None => None,
            Some(row) => Some(TaskRow {
                settings_json: row.try_get("settings_json")?,
                next_run_start_at: row.try_get("next_run_start_at")?,
                current_run_ticket: row.try_get("current_run_ticket")?,
                current_run_started_at: row.try_get("current_run_started_at")?,
                current_run_expires_at: row.try_get("current_run_expires_at")?,
                last_run_ended_at: row.try_get("last_run_ended_at")?,
                last_run_error_json: row.try_get("last_run_error_json")?,
            }),
        }
    });
    Ok(row)
}

/// Tries to take the lease: succeeds for exactly one instance when the task is
/// due and nobody holds an unexpired lease.
///
/// A single conditional UPDATE decides, so no row locks or `SKIP LOCKED` are
/// needed and the same statement works on SQLite.
pub(crate) async fn claim(
    db: &Database,
    id: &str,
    ticket: &str,
    now: i64,
    expires_at: i64,
) -> Result<bool, BackendError> {
    const SQL: &str = "UPDATE backstage_backend_tasks__tasks
        SET current_run_ticket = $2, current_run_started_at = $3, current_run_expires_at = $4
        WHERE id = $1
            AND next_run_start_at IS NOT NULL AND next_run_start_at <= $3
            AND (current_run_ticket IS NULL OR current_run_expires_at < $3)";
    let affected = on_pool!(db, |pool| {
        sqlx::query(SQL)
            .bind(id)
            .bind(ticket)
            .bind(now)
            .bind(expires_at)
            .execute(pool)
            .await?
            .rows_affected()
    });
    Ok(affected == 1)
}

/// Gives the lease back after a run and sets the next start; `false` when the
/// ticket no longer matches (the lease expired or the run was cancelled).
pub(crate) async fn release(
    db: &Database,
    id: &str,
    ticket: &str,
    next_start: Option<i64>,
    now: i64,
    error_json: Option<&str>,
) -> Result<bool, BackendError> {
    const SQL: &str = "UPDATE backstage_backend_tasks__tasks
        SET next_run_start_at = $3, current_run_ticket = NULL, current_run_started_at = NULL,
            current_run_expires_at = NULL, last_run_ended_at = $4, last_run_error_json = $5
        WHERE id = $1 AND current_run_ticket = $2";
    let affected = on_pool!(db, |pool| {
        sqlx::query(SQL)
            .bind(id)
            .bind(ticket)
            .bind(next_start)
            .bind(now)
            .bind(error_json)
            .execute(pool)
            .await?
            .rows_affected()
    });
    Ok(affected == 1)
}

/// Makes an idle task due now. Unknown: NotFoundError; running: ConflictError.
pub(crate) async fn trigger(db: &Database, id: &str, now: i64) -> Result<(), BackendError> {
    const SQL: &str = "UPDATE backstage_backend_tasks__tasks SET next_run_start_at = $2
        WHERE id = $1 AND (current_run_ticket IS NULL OR current_run_expires_at < $2)";
    let affected = on_pool!(db, |pool| {
        sqlx::query(SQL)
            .bind(id)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
    });
    if affected == 1 {
        return Ok(());
    }
    match find(db, id).await? {
        None => Err(not_found(id)),
        Some(_) => Err(BackendError::conflict(format!(
            "Task {id} is currently running"
        ))),
    }
}

/// Ends a running task's lease; the runner notices the lost ticket and stops.
/// The cancelled run counts as a run: the next start follows the cadence, so
/// that the task does not start again at once. Unknown: NotFoundError; not
/// running: ConflictError.
pub(crate) async fn cancel(
    db: &Database,
    id: &str,
    now: i64,
    error_json: &str,
) -> Result<(), BackendError> {
    const SQL: &str = "UPDATE backstage_backend_tasks__tasks
        SET current_run_ticket = NULL, current_run_started_at = NULL, current_run_expires_at = NULL,
            next_run_start_at = $3, last_run_ended_at = $4, last_run_error_json = $5
        WHERE id = $1 AND current_run_ticket = $2";
    let row = find(db, id).await?.ok_or_else(|| not_found(id))?;
    let ticket = match &row.current_run_ticket {
        Some(ticket) if row.is_running(now) => ticket.clone(),
        _ => return Err(not_running(id)),
    };
    // Settings this version cannot read keep their start as it is.
    let next = match Plan::from_settings_json(&row.settings_json) {
        Some(plan) => plan.next_start(row.next_run_start_at, now),
        None => row.next_run_start_at,
    };
    let affected = on_pool!(db, |pool| {
        sqlx::query(SQL)
            .bind(id)
            .bind(ticket)
            .bind(next)
            .bind(now)
            .bind(error_json)
            .execute(pool)
            .await?
            .rows_affected()
    });
    if affected == 1 {
        Ok(())
    } else {
        // The run ended between the read and the update.
        Err(not_running(id))
    }
}

fn not_running(id: &str) -> BackendError {
    BackendError::conflict(format!("Task {id} is currently not running"))
}

pub(crate) fn not_found(id: &str) -> BackendError {
    BackendError::not_found(format!("Task {id} does not exist"))
}
