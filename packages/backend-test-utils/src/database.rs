//! Fresh databases for tests: a SQLite file in a unique temporary directory
//! and a PostgreSQL database with a unique name, both removed afterwards.
//!
//! Every storage test runs against both dialects; the usual shape is
//!
//! ```text
//! for kind in TestDatabases::all() {
//!     let test_db = TestDatabases::init(kind).await;
//!     exercise(test_db.database()).await;
//!     test_db.cleanup().await;
//! }
//! ```
//!
//! PostgreSQL is reached at `GREENROOM_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). The helpers panic with a
//! readable message when a service is unreachable: a test that cannot get
//! its database should fail loudly rather than pass vacuously.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use greenroom_backend_plugin_api::services::Database;
use greenroom_config::Config;
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// The environment variable naming the PostgreSQL server used by tests.
pub const TEST_PG_URL_ENV: &str = "GREENROOM_TEST_PG_URL";
/// The server used when [`TEST_PG_URL_ENV`] is not set.
pub const DEFAULT_TEST_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name no other test (in this or another process) uses: `gr_test_<pid>_<n>_<nanos>`.
pub fn unique_name() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("gr_test_{}_{n}_{nanos}", std::process::id())
}

/// The admin URL of the test PostgreSQL server.
pub fn test_pg_url() -> String {
    std::env::var(TEST_PG_URL_ENV).unwrap_or_else(|_| DEFAULT_TEST_PG_URL.to_owned())
}

fn admin_options() -> PgConnectOptions {
    let url = test_pg_url();
    match PgConnectOptions::from_str(&url) {
        Ok(options) => options,
        Err(e) => panic!("{TEST_PG_URL_ENV}={url} is not a valid PostgreSQL URL: {e}"),
    }
}

async fn admin_connection() -> PgConnection {
    match PgConnection::connect_with(&admin_options()).await {
        Ok(conn) => conn,
        Err(e) => panic!(
            "cannot reach the test PostgreSQL server at {} (set {TEST_PG_URL_ENV}): {e}",
            test_pg_url()
        ),
    }
}

/// Drops `name` (terminating its sessions); missing databases are fine.
async fn drop_database(name: &str) -> Result<(), sqlx::Error> {
    let mut conn = PgConnection::connect_with(&admin_options()).await?;
    let sql = format!(
        "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
        name.replace('"', "\"\"")
    );
    sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await?;
    conn.close().await
}

/// Runs `f` on a private runtime in another thread; usable from `Drop` inside
/// a test's runtime, where blocking on the current runtime is not allowed.
fn block_on_side_thread<F>(f: impl FnOnce() -> F + Send + 'static)
where
    F: std::future::Future<Output = ()>,
{
    let handle = std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            rt.block_on(f());
        }
    });
    // Cleanup is best effort; a failed helper thread only leaves a database behind.
    let _ = handle.join();
}

/// A directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct TestDir {
    path: PathBuf,
}

impl TestDir {
    /// Creates a fresh, empty directory.
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(unique_name());
        if let Err(e) = std::fs::create_dir_all(&path) {
            panic!("cannot create test directory {}: {e}", path.display());
        }
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `backend.database` for SQLite with one file per plugin in this directory.
    pub fn sqlite_database_config(&self) -> Value {
        json!({
            "client": "better-sqlite3",
            "connection": { "directory": self.path.display().to_string() },
        })
    }
}

impl Default for TestDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        // Best effort: a leftover temp dir is harmless and the OS cleans it.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Which database engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TestDatabaseKind {
    /// A SQLite file in a fresh temporary directory.
    Sqlite,
    /// A fresh database on the test PostgreSQL server.
    Postgres,
}

impl TestDatabaseKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// Entry point: the engines every storage test covers, and fresh databases on them.
#[derive(Debug, Clone, Copy)]
pub struct TestDatabases;

impl TestDatabases {
    /// Every engine, SQLite first.
    pub fn all() -> Vec<TestDatabaseKind> {
        vec![TestDatabaseKind::Sqlite, TestDatabaseKind::Postgres]
    }

    /// A fresh, empty database of `kind`.
    ///
    /// # Panics
    /// When the database cannot be created (PostgreSQL unreachable, temp dir
    /// not writable): tests must not silently skip their storage.
    pub async fn init(kind: TestDatabaseKind) -> TestDatabase {
        match kind {
            TestDatabaseKind::Sqlite => {
                let dir = TestDir::new();
                let file = dir.path().join("test.sqlite");
                // The page size the backend gives the files it makes
                // (`SQLITE_PAGE_SIZE` in backend-database), so that the
                // storage tests run on the pages a served catalog has.
                let options = SqliteConnectOptions::new()
                    .filename(&file)
                    .create_if_missing(true)
                    .page_size(16_384)
                    .journal_mode(SqliteJournalMode::Wal)
                    .foreign_keys(true)
                    .busy_timeout(std::time::Duration::from_secs(5));
                let pool = match SqlitePoolOptions::new()
                    .max_connections(4)
                    .connect_with(options)
                    .await
                {
                    Ok(pool) => pool,
                    Err(e) => panic!("cannot open test SQLite file {}: {e}", file.display()),
                };
                TestDatabase {
                    kind,
                    database: Database::Sqlite(pool),
                    pg_name: None,
                    dir: Some(dir),
                    cleaned: false,
                }
            }
            TestDatabaseKind::Postgres => {
                let name = unique_name();
                let mut admin = admin_connection().await;
                let sql = format!("CREATE DATABASE \"{name}\"");
                if let Err(e) = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut admin).await {
                    panic!("cannot create test database {name}: {e}");
                }
                let _ = admin.close().await;
                let options = admin_options().database(&name);
                let pool = match PgPoolOptions::new()
                    .max_connections(5)
                    .connect_with(options)
                    .await
                {
                    Ok(pool) => pool,
                    Err(e) => panic!("cannot connect to test database {name}: {e}"),
                };
                TestDatabase {
                    kind,
                    database: Database::Postgres(pool),
                    pg_name: Some(name),
                    dir: None,
                    cleaned: false,
                }
            }
        }
    }
}

/// One test's private database; call [`TestDatabase::cleanup`] at the end.
///
/// Dropping it without cleanup still removes the database, from a helper
/// thread, so a failing test leaves nothing behind.
#[derive(Debug)]
pub struct TestDatabase {
    kind: TestDatabaseKind,
    database: Database,
    pg_name: Option<String>,
    dir: Option<TestDir>,
    cleaned: bool,
}

impl TestDatabase {
    pub fn kind(&self) -> TestDatabaseKind {
        self.kind
    }

    /// The pool to test against.
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// The PostgreSQL database name, or the SQLite file's directory.
    pub fn location(&self) -> String {
        match (&self.pg_name, &self.dir) {
            (Some(name), _) => name.clone(),
            (None, Some(dir)) => dir.path().display().to_string(),
            (None, None) => String::new(),
        }
    }

    /// Closes the pool and removes the database.
    pub async fn cleanup(mut self) {
        self.cleaned = true;
        self.database.close().await;
        if let Some(name) = self.pg_name.take() {
            let _ = drop_database(&name).await;
        }
        self.dir.take();
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        if let Some(name) = self.pg_name.take() {
            block_on_side_thread(move || async move {
                let _ = drop_database(&name).await;
            });
        }
    }
}

/// A PostgreSQL setup for a whole backend: a unique database-name prefix, so
/// that database managers create their per-plugin
/// databases under it, and a cleanup that drops every database with it.
#[derive(Debug)]
pub struct TestPostgres {
    prefix: String,
    cleaned: bool,
}

impl TestPostgres {
    /// A fresh prefix `gr_test_<pid>_<n>_<nanos>_`.
    pub fn new() -> Self {
        Self {
            prefix: format!("{}_", unique_name()),
            cleaned: false,
        }
    }

    /// The prefix every database of this setup starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The server's connection as a `backend.database.connection` object.
    pub fn connection(&self) -> Value {
        let options = admin_options();
        let mut connection = json!({
            "host": options.get_host(),
            "port": options.get_port(),
            "user": options.get_username(),
        });
        // The password is not readable back from the options, so it is
        // taken from the URL itself.
        if let Ok(url) = url::Url::parse(&test_pg_url())
            && let Some(password) = url.password()
        {
            connection["password"] = Value::String(password.to_owned());
        }
        connection
    }

    /// `backend.database` for this server: client `pg`, the unique prefix,
    /// with `extra` merged over it (e.g. `pluginDivisionMode`, `plugin`).
    pub fn database_config(&self, extra: Value) -> Value {
        let base = json!({
            "client": "pg",
            "connection": self.connection(),
            "prefix": self.prefix,
        });
        greenroom_config::deep_merge(&base, &extra)
    }

    /// A whole configuration with `backend.database` from [`TestPostgres::database_config`].
    pub fn config(&self, extra: Value) -> Config {
        let value = json!({
            "backend": {
                "baseUrl": "http://localhost:7007",
                "database": self.database_config(extra),
            }
        });
        match Config::from_value(value) {
            Ok(config) => config,
            Err(e) => panic!("test config is invalid: {e}"),
        }
    }

    /// Creates the database `<prefix><suffix>` (e.g. a base database for
    /// schema mode) and returns its name.
    pub async fn create_database(&self, suffix: &str) -> String {
        let name = format!("{}{suffix}", self.prefix);
        let mut admin = admin_connection().await;
        let sql = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
        if let Err(e) = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut admin).await {
            panic!("cannot create test database {name}: {e}");
        }
        let _ = admin.close().await;
        name
    }

    /// The names of the databases that start with the prefix, sorted.
    pub async fn databases(&self) -> Vec<String> {
        let mut admin = admin_connection().await;
        let names: Vec<String> = match sqlx::query_scalar(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY datname",
        )
        .bind(&self.prefix)
        .fetch_all(&mut admin)
        .await
        {
            Ok(names) => names,
            Err(e) => panic!("cannot list databases: {e}"),
        };
        let _ = admin.close().await;
        names
    }

    /// A pool on database `name` of this server.
    pub async fn connect(&self, name: &str) -> sqlx::PgPool {
        match PgPoolOptions::new()
            .max_connections(2)
            .connect_with(admin_options().database(name))
            .await
        {
            Ok(pool) => pool,
            Err(e) => panic!("cannot connect to {name}: {e}"),
        }
    }

    /// Drops every database that starts with the prefix.
    pub async fn cleanup(mut self) {
        self.cleaned = true;
        drop_prefixed(&self.prefix).await;
    }
}

impl Default for TestPostgres {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        let prefix = self.prefix.clone();
        block_on_side_thread(move || async move { drop_prefixed(&prefix).await });
    }
}

async fn drop_prefixed(prefix: &str) {
    let Ok(mut admin) = PgConnection::connect_with(&admin_options()).await else {
        return;
    };
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE starts_with(datname, $1)")
            .bind(prefix)
            .fetch_all(&mut admin)
            .await
            .unwrap_or_default();
    let _ = admin.close().await;
    for name in names {
        let _ = drop_database(&name).await;
    }
}
