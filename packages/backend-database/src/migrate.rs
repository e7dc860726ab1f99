//! Per-plugin migrations (spec §4.5): ordered SQL scripts recorded in the
//! plugin's own migrations table, applied once each, safe under concurrent
//! start-up.
//!
//! Every migration runs in its own transaction that first takes a lock —
//! `pg_advisory_xact_lock` keyed by the table name on PostgreSQL, `BEGIN
//! IMMEDIATE` (the database write lock) on SQLite — and re-reads the table, so
//! two instances starting together apply each version exactly once. The SQL
//! of each applied version is checksummed; a recorded version whose checksum
//! differs from the embedded one, or that the binary does not know, stops the
//! run instead of letting the schema drift.

use std::time::{SystemTime, UNIX_EPOCH};

use greenroom_backend_plugin_api::BackendError;
use greenroom_backend_plugin_api::services::Database;
use sqlx::{AssertSqlSafe, Postgres, Sqlite, Transaction};

use crate::settings::{MAX_PG_IDENTIFIER_BYTES, is_identifier};

/// One migration. `sql` is used on both dialects unless an override is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// Position in the order; versions must be strictly increasing.
    pub version: i64,
    pub description: &'static str,
    /// Portable SQL (TEXT, BIGINT, BOOLEAN, `ON CONFLICT`, `$n`…); may hold several statements.
    pub sql: &'static str,
    /// Replaces `sql` on SQLite when set.
    pub sqlite_sql: Option<&'static str>,
    /// Replaces `sql` on PostgreSQL when set.
    pub postgres_sql: Option<&'static str>,
}

impl Migration {
    /// A migration with the same SQL for both dialects.
    pub const fn new(version: i64, description: &'static str, sql: &'static str) -> Self {
        Self {
            version,
            description,
            sql,
            sqlite_sql: None,
            postgres_sql: None,
        }
    }

    /// Uses `sql` on SQLite instead of the portable SQL.
    pub const fn with_sqlite(mut self, sql: &'static str) -> Self {
        self.sqlite_sql = Some(sql);
        self
    }

    /// Uses `sql` on PostgreSQL instead of the portable SQL.
    pub const fn with_postgres(mut self, sql: &'static str) -> Self {
        self.postgres_sql = Some(sql);
        self
    }

    /// The SQL run on `db`'s dialect.
    pub fn sql_for(&self, db: &Database) -> &'static str {
        match db {
            Database::Sqlite(_) => self.sqlite_sql.unwrap_or(self.sql),
            Database::Postgres(_) => self.postgres_sql.unwrap_or(self.sql),
        }
    }
}

/// The checksum recorded for a migration's SQL: hex SHA-1.
pub fn checksum(sql: &str) -> String {
    sha1_smol::Sha1::from(sql).digest().to_string()
}

/// The advisory-lock key for a migrations table, stable across processes.
fn lock_key(table: &str) -> i64 {
    let digest = sha1_smol::Sha1::from(format!("greenroom-migrations:{table}")).digest();
    let bytes = digest.bytes();
    let mut key = [0u8; 8];
    key.copy_from_slice(&bytes[..8]);
    i64::from_be_bytes(key)
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A transaction on either dialect, holding the migrations lock.
///
/// The statements below are the same text for both dialects; only the
/// transaction type differs, so each method dispatches at the leaf.
enum LockedTx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl LockedTx {
    async fn begin(db: &Database, table: &str) -> Result<Self, sqlx::Error> {
        match db {
            Database::Sqlite(pool) => {
                // IMMEDIATE takes the write lock now, so a second instance
                // waits (busy timeout) rather than reading a stale table.
                Ok(Self::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?))
            }
            Database::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(lock_key(table))
                    .execute(&mut *tx)
                    .await?;
                Ok(Self::Postgres(tx))
            }
        }
    }

    async fn execute_script(&mut self, sql: String) -> Result<(), sqlx::Error> {
        let script = sqlx::raw_sql(AssertSqlSafe(sql));
        match self {
            Self::Sqlite(tx) => script.execute(&mut **tx).await.map(drop),
            Self::Postgres(tx) => script.execute(&mut **tx).await.map(drop),
        }
    }

    async fn applied(&mut self, table: &str) -> Result<Vec<(i64, String)>, sqlx::Error> {
        let sql = format!("SELECT version, checksum FROM {table} ORDER BY version");
        match self {
            Self::Sqlite(tx) => {
                sqlx::query_as::<_, (i64, String)>(AssertSqlSafe(sql))
                    .fetch_all(&mut **tx)
                    .await
            }
            Self::Postgres(tx) => {
                sqlx::query_as::<_, (i64, String)>(AssertSqlSafe(sql))
                    .fetch_all(&mut **tx)
                    .await
            }
        }
    }

    async fn record(
        &mut self,
        table: &str,
        migration: &Migration,
        checksum: &str,
    ) -> Result<(), sqlx::Error> {
        let sql = format!(
            "INSERT INTO {table} (version, description, checksum, applied_at) VALUES ($1, $2, $3, $4)"
        );
        match self {
            Self::Sqlite(tx) => {
                sqlx::query(AssertSqlSafe(sql))
                    .bind(migration.version)
                    .bind(migration.description)
                    .bind(checksum)
                    .bind(now_millis())
                    .execute(&mut **tx)
                    .await?;
            }
            Self::Postgres(tx) => {
                sqlx::query(AssertSqlSafe(sql))
                    .bind(migration.version)
                    .bind(migration.description)
                    .bind(checksum)
                    .bind(now_millis())
                    .execute(&mut **tx)
                    .await?;
            }
        }
        Ok(())
    }

    async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Self::Sqlite(tx) => tx.commit().await,
            Self::Postgres(tx) => tx.commit().await,
        }
    }
}

fn validate(table: &str, migrations: &[Migration]) -> Result<(), BackendError> {
    if !is_identifier(table) || table.len() > MAX_PG_IDENTIFIER_BYTES {
        return Err(BackendError::internal(format!(
            "invalid migrations table name \"{table}\": use letters, digits and underscores, at most {MAX_PG_IDENTIFIER_BYTES} bytes"
        )));
    }
    for pair in migrations.windows(2) {
        if let [a, b] = pair
            && a.version >= b.version
        {
            return Err(BackendError::internal(format!(
                "migrations for table {table} must have strictly increasing versions, got {} before {}",
                a.version, b.version
            )));
        }
    }
    Ok(())
}

/// Checks the recorded versions against the embedded ones.
fn check_applied(
    db: &Database,
    table: &str,
    migrations: &[Migration],
    applied: &[(i64, String)],
) -> Result<(), BackendError> {
    for (version, recorded) in applied {
        match migrations.iter().find(|m| m.version == *version) {
            None => {
                return Err(BackendError::conflict(format!(
                    "migration {version} is recorded in {table} but unknown to this version of the plugin; refusing to run against a newer schema"
                )));
            }
            Some(m) if checksum(m.sql_for(db)) != *recorded => {
                return Err(BackendError::conflict(format!(
                    "migration {version} ({}) recorded in {table} has a different checksum than the embedded one; it was changed after being applied",
                    m.description
                )));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn db_error(table: &str, e: sqlx::Error) -> BackendError {
    BackendError::internal(format!("migrations of {table} failed: {e}"))
}

/// Applies the missing `migrations` to `db`, recording them in `table`.
///
/// Re-running is a no-op; concurrent runs apply each version once.
pub async fn run_migrations(
    db: &Database,
    table: &str,
    migrations: &[Migration],
) -> Result<(), BackendError> {
    validate(table, migrations)?;
    let create = format!(
        "CREATE TABLE IF NOT EXISTS {table} (\
         version BIGINT PRIMARY KEY, \
         description TEXT NOT NULL, \
         checksum TEXT NOT NULL, \
         applied_at BIGINT NOT NULL)"
    );

    // First pass: make sure the table exists and what it records is ours.
    let mut tx = LockedTx::begin(db, table)
        .await
        .map_err(|e| db_error(table, e))?;
    tx.execute_script(create)
        .await
        .map_err(|e| db_error(table, e))?;
    let applied = tx.applied(table).await.map_err(|e| db_error(table, e))?;
    tx.commit().await.map_err(|e| db_error(table, e))?;
    check_applied(db, table, migrations, &applied)?;

    for migration in migrations {
        if applied.iter().any(|(v, _)| *v == migration.version) {
            continue;
        }
        let sql = migration.sql_for(db);
        let sum = checksum(sql);
        let mut tx = LockedTx::begin(db, table)
            .await
            .map_err(|e| db_error(table, e))?;
        // Another instance may have applied it since the first pass.
        let now_applied = tx.applied(table).await.map_err(|e| db_error(table, e))?;
        check_applied(db, table, migrations, &now_applied)?;
        if now_applied.iter().any(|(v, _)| *v == migration.version) {
            tx.commit().await.map_err(|e| db_error(table, e))?;
            continue;
        }
        tx.execute_script(sql.to_owned()).await.map_err(|e| {
            BackendError::internal(format!(
                "migration {} ({}) of {table} failed: {e}",
                migration.version, migration.description
            ))
        })?;
        tx.record(table, migration, &sum)
            .await
            .map_err(|e| db_error(table, e))?;
        tx.commit().await.map_err(|e| db_error(table, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_differ_per_table() {
        assert_ne!(
            lock_key("catalog_migrations"),
            lock_key("search_migrations")
        );
        assert_eq!(lock_key("a"), lock_key("a"));
    }

    #[test]
    fn validate_refuses_bad_tables_and_orders() {
        let m = |v| Migration::new(v, "m", "SELECT 1");
        assert!(validate("ok_table", &[m(1), m(2)]).is_ok());
        assert!(validate("bad-table", &[m(1)]).is_err());
        assert!(validate("t; DROP", &[m(1)]).is_err());
        assert!(validate("t", &[m(2), m(1)]).is_err());
        assert!(validate("t", &[m(1), m(1)]).is_err());
    }
}
