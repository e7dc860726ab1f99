//! Per-plugin databases for Greenroom (spec §4): SQLite files or in-memory
//! databases, PostgreSQL databases or schemas, and per-plugin migrations.
//!
//! [`DatabaseManager`] reads `backend.database` once at start-up and hands
//! each plugin a [`DatabaseService`](greenroom_backend_plugin_api::services::DatabaseService)
//! whose pool opens on first use. [`run_migrations`] applies a plugin's
//! embedded migrations in its own migrations table with one code path for
//! both dialects.

mod manager;
mod migrate;
mod pg_url;
mod settings;

pub use manager::{DatabaseManager, PluginDatabase};
pub use migrate::{Migration, checksum, run_migrations};
pub use settings::{
    APPLICATION_NAME_PREFIX, DEFAULT_PREFIX, DatabaseClient, DatabaseTarget,
    MAX_PG_IDENTIFIER_BYTES, PgSsl, PgSslMode, PgTarget, PluginDatabaseSettings,
    PluginDivisionMode, PoolSettings, resolve_plugin_settings,
};
