//! The database manager: one lazily opened pool per plugin (spec §4.3–§4.4).
//!
//! [`DatabaseManager::from_config`] validates `backend.database` up front so
//! that a bad value fails start-up naming its key. Each plugin's pool, and on
//! PostgreSQL its database or schema, is created on the plugin's first
//! [`DatabaseService::client`] call and reused afterwards.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use greenroom_backend_plugin_api::BackendError;
use greenroom_backend_plugin_api::services::{Database, DatabaseService};
use greenroom_config::Config;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tokio::sync::OnceCell;

use crate::settings::{
    BaseSettings, DatabaseTarget, PgSslMode, PgTarget, PluginDatabaseSettings, resolve_in_memory,
    resolve_with_base,
};

/// How long SQLite waits for a lock held by another connection.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Pool size for SQLite files when `knexConfig.pool.max` is not set. WAL lets
/// readers run beside the single writer.
const SQLITE_FILE_DEFAULT_MAX: u32 = 4;
/// Rows a SQLite connection's thread may hand over before the reader takes
/// them. SQLite runs each connection on a thread of its own, and with sqlx's
/// default of 50 a batch of 2,000 rows made that thread stop and wait for the
/// reader forty times; a 100k catalog load was about 5 % faster with room for
/// 4,096 (13.77 and 13.70 s against 14.44 and 14.57 s, alternated). At most
/// that many rows are held beyond what the reader has taken.
const SQLITE_ROW_BUFFER: usize = 4096;
/// Prepared statements a SQLite connection keeps. Each is SQLite's compiled
/// program for its text, and a multi-row insert of thousands of values
/// compiles to a large one: with sqlx's default of 100 per connection, the
/// catalog's connections kept some 40 MiB of them after a 100k load (idle RSS
/// 257.0 MiB against 214.3 MiB with 8). The statements a workload repeats are
/// few, and a 100k load was no slower with 16 (18.09 and 18.24 s against
/// 19.85 and 18.56 s, alternated).
const SQLITE_STATEMENT_CACHE: usize = 16;
/// Page size of a SQLite file this backend creates (an existing file keeps the
/// size it was made with). SQLite's 4 KiB default made every commit of a bulk
/// load write and read its dirty pages with a system call each (546k `pwrite`
/// and 594k `pread` calls for a 100k catalog); with 16 KiB pages a 100k load
/// spent 1.3 s less system time and took 0.93 of the wall time (alternated
/// runs; 8 KiB and 32 KiB gave less).
const SQLITE_PAGE_SIZE: u32 = 16_384;
/// Attempts at creating a database or schema before giving up.
const ENSURE_ATTEMPTS: u32 = 3;
/// The maintenance database used to create plugin databases.
const ADMIN_DATABASE: &str = "postgres";
/// How often a `keepalive: true` pool pings its server.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(60);
/// PostgreSQL's `duplicate_database`, `duplicate_schema` and `unique_violation`
/// codes: the forms the "someone else created it first" race takes.
const ALREADY_EXISTS_CODES: [&str; 3] = ["42P04", "42P06", "23505"];

/// Hands each plugin its own database.
pub struct DatabaseManager {
    base: Option<BaseSettings>,
    plugins: Mutex<HashMap<String, Arc<PluginDatabase>>>,
}

impl std::fmt::Debug for DatabaseManager {
    // The base settings hold the raw configuration, passwords included, so
    // only the plugins' (masked) settings are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("DatabaseManager");
        out.field("configured", &self.base.is_some());
        if let Ok(plugins) = self.plugins.lock() {
            out.field("plugins", &*plugins);
        }
        out.finish()
    }
}

impl DatabaseManager {
    /// Validates `backend.database` (and every `backend.database.plugin.<id>`).
    pub fn from_config(config: &Config) -> Result<DatabaseManager, BackendError> {
        let base = BaseSettings::read(config)?;
        if let Some(base) = &base {
            for plugin_id in base.configured_plugins()? {
                resolve_with_base(base, &plugin_id)?;
            }
        }
        Ok(DatabaseManager {
            base,
            plugins: Mutex::new(HashMap::new()),
        })
    }

    /// The database service of `plugin_id`; the same instance on every call.
    pub fn for_plugin(&self, plugin_id: &str) -> Arc<dyn DatabaseService> {
        self.plugin_database(plugin_id)
    }

    /// Like [`DatabaseManager::for_plugin`], with access to the resolved settings.
    pub fn plugin_database(&self, plugin_id: &str) -> Arc<PluginDatabase> {
        let mut plugins = match self.plugins.lock() {
            Ok(guard) => guard,
            // A panic elsewhere while holding the lock leaves the map intact.
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(existing) = plugins.get(plugin_id) {
            return Arc::clone(existing);
        }
        let settings = match &self.base {
            None => resolve_in_memory(plugin_id),
            Some(base) => resolve_with_base(base, plugin_id),
        };
        let db = Arc::new(PluginDatabase {
            settings,
            pool: OnceCell::new(),
        });
        plugins.insert(plugin_id.to_owned(), Arc::clone(&db));
        db
    }

    /// Closes every pool opened so far.
    pub async fn close_all(&self) {
        let plugins: Vec<Arc<PluginDatabase>> = match self.plugins.lock() {
            Ok(guard) => guard.values().cloned().collect(),
            Err(poisoned) => poisoned.into_inner().values().cloned().collect(),
        };
        for plugin in plugins {
            if let Some(db) = plugin.pool.get() {
                db.close().await;
            }
        }
    }
}

/// One plugin's database: its settings and its pool, opened on first use.
#[derive(Debug)]
pub struct PluginDatabase {
    settings: Result<PluginDatabaseSettings, BackendError>,
    pool: OnceCell<Database>,
}

impl PluginDatabase {
    /// The resolved settings, or the error that resolving them produced.
    pub fn settings(&self) -> Result<&PluginDatabaseSettings, &BackendError> {
        self.settings.as_ref()
    }
}

#[async_trait]
impl DatabaseService for PluginDatabase {
    async fn client(&self) -> Result<Database, BackendError> {
        let settings = self.settings.as_ref().map_err(Clone::clone)?;
        self.pool.get_or_try_init(|| open(settings)).await.cloned()
    }

    fn skip_migrations(&self) -> bool {
        self.settings.as_ref().is_ok_and(|s| s.skip_migrations)
    }
}

async fn open(settings: &PluginDatabaseSettings) -> Result<Database, BackendError> {
    match &settings.target {
        DatabaseTarget::SqliteMemory => open_sqlite(settings, None).await,
        DatabaseTarget::SqliteFile(path) => open_sqlite(settings, Some(path)).await,
        DatabaseTarget::Postgres(target) => open_postgres(settings, target).await,
    }
}

async fn open_sqlite(
    settings: &PluginDatabaseSettings,
    file: Option<&std::path::PathBuf>,
) -> Result<Database, BackendError> {
    let plugin = &settings.plugin_id;
    let (options, max) = match file {
        None => {
            // sqlx gives each `sqlite::memory:` parse its own named,
            // shared-cache memory database, so plugins never see each other.
            let options = SqliteConnectOptions::from_str("sqlite::memory:")?;
            (options, 1)
        }
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    BackendError::internal(format!(
                        "could not create the SQLite directory {} for plugin '{plugin}': {e}",
                        dir.display()
                    ))
                })?;
            }
            let options = SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .page_size(SQLITE_PAGE_SIZE)
                .journal_mode(SqliteJournalMode::Wal);
            (
                options,
                settings.pool.max.unwrap_or(SQLITE_FILE_DEFAULT_MAX),
            )
        }
    };
    let options = options
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .row_buffer_size(SQLITE_ROW_BUFFER)
        .statement_cache_capacity(SQLITE_STATEMENT_CACHE);
    // A connection to a file or to memory cannot go stale the way a network
    // connection can, so the pool hands it out without pinging it first: the
    // ping was a round trip to the connection's thread at every transaction,
    // and on a busy machine waking that thread took up to 8 ms.
    let mut pool = SqlitePoolOptions::new()
        .test_before_acquire(false)
        .max_connections(max)
        .min_connections(settings.pool.min.unwrap_or(0).min(max));
    if file.is_none() {
        // The in-memory database lives as long as its one connection, so
        // that connection is kept open for the life of the pool.
        pool = pool
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
    } else if let Some(idle) = settings.pool.idle_timeout {
        pool = pool.idle_timeout(idle);
    }
    if let Some(timeout) = settings.pool.acquire_timeout {
        pool = pool.acquire_timeout(timeout);
    }
    let pool = pool.connect_with(options).await.map_err(|e| {
        BackendError::unavailable(format!(
            "could not open the SQLite database of plugin '{plugin}': {e}"
        ))
    })?;
    Ok(Database::Sqlite(pool))
}

/// Quotes a PostgreSQL identifier.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn pg_options(target: &PgTarget, database: &str) -> Result<PgConnectOptions, BackendError> {
    let mut options = PgConnectOptions::new_without_pgpass().database(database);
    if let Some(host) = &target.host {
        // node-postgres treats a host that starts with '/' as a socket directory.
        options = if host.starts_with('/') {
            options.socket(host)
        } else {
            options.host(host)
        };
    }
    if let Some(port) = target.port {
        options = options.port(port);
    }
    if let Some(user) = &target.user {
        options = options.username(user);
    }
    if let Some(password) = &target.password {
        options = options.password(password);
    }
    options = options.ssl_mode(match target.ssl.mode {
        PgSslMode::Disable => sqlx::postgres::PgSslMode::Disable,
        PgSslMode::Prefer => sqlx::postgres::PgSslMode::Prefer,
        PgSslMode::Require => sqlx::postgres::PgSslMode::Require,
        PgSslMode::VerifyCa => sqlx::postgres::PgSslMode::VerifyCa,
        PgSslMode::VerifyFull => sqlx::postgres::PgSslMode::VerifyFull,
    });
    if let Some(ca) = &target.ssl.ca {
        options = options.ssl_root_cert_from_pem(ca.as_bytes().to_vec());
    }
    if let Some(cert) = &target.ssl.cert {
        options = options.ssl_client_cert_from_pem(cert.as_bytes());
    }
    if let Some(key) = &target.ssl.key {
        options = options.ssl_client_key_from_pem(key.as_bytes());
    }
    Ok(options.application_name(&target.application_name))
}

fn is_already_exists(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|code| ALREADY_EXISTS_CODES.contains(&code.as_ref()))
}

/// Creates the plugin's database when it is missing, tolerating a concurrent creator.
async fn ensure_database(target: &PgTarget, plugin: &str) -> Result<(), BackendError> {
    let mut last_error = None;
    for attempt in 0..ENSURE_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
        }
        match try_ensure_database(target).await {
            Ok(()) => return Ok(()),
            Err(e) if is_already_exists(&e) => return Ok(()),
            Err(e) => last_error = Some(e),
        }
    }
    Err(BackendError::unavailable(format!(
        "could not ensure database \"{}\" for plugin '{plugin}' exists: {}",
        target.database,
        last_error.map_or_else(String::new, |e| e.to_string())
    )))
}

async fn try_ensure_database(target: &PgTarget) -> Result<(), sqlx::Error> {
    let options = pg_options(target, ADMIN_DATABASE)
        .map_err(|e| sqlx::Error::Configuration(e.message.into()))?;
    let mut conn = PgConnection::connect_with(&options).await?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&target.database)
        .fetch_optional(&mut conn)
        .await?;
    if exists.is_none() {
        let sql = format!("CREATE DATABASE {}", quote_ident(&target.database));
        sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await?;
    }
    conn.close().await
}

/// Creates the plugin's schema when it is missing, tolerating a concurrent creator.
async fn ensure_schema(
    options: &PgConnectOptions,
    schema: &str,
    role: Option<&str>,
    plugin: &str,
) -> Result<(), BackendError> {
    let mut sql = format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(schema));
    if let Some(role) = role {
        sql.push_str(" AUTHORIZATION ");
        sql.push_str(&quote_ident(role));
    }
    let mut last_error = None;
    for attempt in 0..ENSURE_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
        }
        let result = async {
            let mut conn = PgConnection::connect_with(options).await?;
            sqlx::raw_sql(AssertSqlSafe(sql.clone()))
                .execute(&mut conn)
                .await?;
            conn.close().await
        }
        .await;
        match result {
            Ok(()) => return Ok(()),
            Err(e) if is_already_exists(&e) => return Ok(()),
            Err(e) => last_error = Some(e),
        }
    }
    Err(BackendError::unavailable(format!(
        "could not ensure schema \"{schema}\" for plugin '{plugin}' exists: {}",
        last_error.map_or_else(String::new, |e| e.to_string())
    )))
}

async fn open_postgres(
    settings: &PluginDatabaseSettings,
    target: &PgTarget,
) -> Result<Database, BackendError> {
    let plugin = &settings.plugin_id;
    let options = pg_options(target, &target.database)?;
    match &target.schema {
        None if settings.ensure_exists => ensure_database(target, plugin).await?,
        Some(schema) if settings.ensure_exists || settings.ensure_schema_exists => {
            ensure_schema(&options, schema, settings.role.as_deref(), plugin).await?;
        }
        _ => {}
    }

    // Statements every new pooled connection runs before use.
    let mut setup = String::new();
    if let Some(role) = &settings.role {
        setup.push_str(&format!("SET ROLE {};", quote_ident(role)));
    }
    if let Some(schema) = &target.schema {
        setup.push_str(&format!("SET search_path TO {};", quote_ident(schema)));
    }
    let setup: Arc<str> = Arc::from(setup);

    let mut pool = PgPoolOptions::new();
    if let Some(max) = settings.pool.max {
        pool = pool.max_connections(max);
    }
    if let Some(min) = settings.pool.min {
        pool = pool.min_connections(min);
    }
    if let Some(timeout) = settings.pool.acquire_timeout {
        pool = pool.acquire_timeout(timeout);
    }
    if let Some(idle) = settings.pool.idle_timeout {
        pool = pool.idle_timeout(idle);
    }
    if !setup.is_empty() {
        pool = pool.after_connect(move |conn, _meta| {
            let setup = Arc::clone(&setup);
            Box::pin(async move {
                sqlx::raw_sql(AssertSqlSafe(setup)).execute(conn).await?;
                Ok(())
            })
        });
    }
    let pool = pool.connect_with(options).await.map_err(|e| {
        BackendError::unavailable(format!(
            "could not connect to database \"{}\" for plugin '{plugin}': {e}",
            target.database
        ))
    })?;
    if settings.keepalive {
        spawn_keepalive(pool.clone(), plugin.clone());
    }
    Ok(Database::Postgres(pool))
}

/// Pings the pool every [`KEEPALIVE_INTERVAL`] until it is closed, warning
/// once when the server stops answering and once more when it is back.
fn spawn_keepalive(pool: sqlx::PgPool, plugin: String) {
    tokio::spawn(async move {
        let mut failing = false;
        loop {
            tokio::select! {
                () = pool.close_event() => return,
                () = tokio::time::sleep(KEEPALIVE_INTERVAL) => {}
            }
            match sqlx::query("SELECT 1").execute(&pool).await {
                Ok(_) if failing => {
                    failing = false;
                    tracing::info!(plugin.id = %plugin, "database keep-alive succeeded again");
                }
                Ok(_) => {}
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(plugin.id = %plugin, "database keep-alive failed: {e}");
                }
                Err(_) => {}
            }
        }
    });
}
