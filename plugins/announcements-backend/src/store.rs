//! Announcements in the plugin's own database, one SQL text for SQLite and PostgreSQL.

use std::sync::atomic::{AtomicU64, Ordering};

use greenroom_backend_database::{Migration, run_migrations};
use greenroom_backend_plugin_api::BackendError;
use greenroom_backend_plugin_api::services::Database;
use serde_json::{Value, json};
use sqlx::Row;

use greenroom_backend_plugin_api::time;

const MIGRATIONS_TABLE: &str = "announcements_migrations";
const MIGRATIONS: &[Migration] = &[Migration::new(
    1,
    "announcements table",
    include_str!("../migrations/0001_announcements.sql"),
)];

/// Applies this plugin's migrations to its database.
pub(crate) async fn migrate(db: &Database) -> Result<(), BackendError> {
    run_migrations(db, MIGRATIONS_TABLE, MIGRATIONS).await
}

/// One announcement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    pub id: String,
    pub title: String,
    pub body: String,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

impl Announcement {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "title": self.title,
            "body": self.body,
            "createdAt": time::format_rfc3339(self.created_at),
            "expiresAt": self.expires_at.map(time::format_rfc3339),
        })
    }
}

/// A fresh id: the creation time and a process-wide counter, in hex. Unique
/// within an instance; the time and a random start make clashes between
/// instances vanishingly unlikely, and the primary key would refuse one.
pub(crate) fn new_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed =
        std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), 0u8);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:x}-{:x}-{:04x}", time::now_ms(), n, seed & 0xffff)
}

/// Runs the same statement on whichever pool the plugin was given.
macro_rules! on_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            Database::Sqlite($pool) => $body,
            Database::Postgres($pool) => $body,
        }
    };
}

pub(crate) struct Store {
    db: Database,
}

impl Store {
    pub(crate) fn new(db: Database) -> Self {
        Self { db }
    }

    pub(crate) async fn insert(&self, a: &Announcement) -> Result<(), BackendError> {
        const SQL: &str = "INSERT INTO announcements (id, title, body, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)";
        on_pool!(&self.db, |pool| sqlx::query(SQL)
            .bind(&a.id)
            .bind(&a.title)
            .bind(&a.body)
            .bind(a.created_at)
            .bind(a.expires_at)
            .execute(pool)
            .await
            .map(drop))?;
        Ok(())
    }

    /// Every announcement, newest first.
    pub(crate) async fn list(&self) -> Result<Vec<Announcement>, BackendError> {
        const SQL: &str = "SELECT id, title, body, created_at, expires_at FROM announcements ORDER BY created_at DESC, id DESC";
        let announcements = on_pool!(&self.db, |pool| {
            let rows = sqlx::query(SQL).fetch_all(pool).await?;
            rows.iter()
                .map(|row| {
                    Ok::<_, sqlx::Error>(Announcement {
                        id: row.try_get("id")?,
                        title: row.try_get("title")?,
                        body: row.try_get("body")?,
                        created_at: row.try_get("created_at")?,
                        expires_at: row.try_get("expires_at")?,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
        });
        Ok(announcements)
    }

    pub(crate) async fn get(&self, id: &str) -> Result<Option<Announcement>, BackendError> {
        const SQL: &str =
            "SELECT id, title, body, created_at, expires_at FROM announcements WHERE id = $1";
        let found = on_pool!(&self.db, |pool| {
            match sqlx::query(SQL).bind(id).fetch_optional(pool).await? {
                Some(row) => Some(Announcement {
                    id: row.try_get("id")?,
                    title: row.try_get("title")?,
                    body: row.try_get("body")?,
                    created_at: row.try_get("created_at")?,
                    expires_at: row.try_get("expires_at")?,
                }),
                None => None,
            }
        });
        Ok(found)
    }

    /// Deletes one announcement; `false` when there was none with that id.
    pub(crate) async fn delete(&self, id: &str) -> Result<bool, BackendError> {
        const SQL: &str = "DELETE FROM announcements WHERE id = $1";
        let affected = on_pool!(&self.db, |pool| sqlx::query(SQL)
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(affected > 0)
    }

    /// Deletes every announcement that expired at or before `now_ms`.
    pub(crate) async fn delete_expired(&self, now_ms: i64) -> Result<u64, BackendError> {
        const SQL: &str =
            "DELETE FROM announcements WHERE expires_at IS NOT NULL AND expires_at <= $1";
        let affected = on_pool!(&self.db, |pool| sqlx::query(SQL)
            .bind(now_ms)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(affected)
    }
}
