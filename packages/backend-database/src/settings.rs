//! Resolving one plugin's database settings from `backend.database` (spec §4.1–§4.2).
//!
//! Resolution is a pure function of the configuration and the plugin id, so
//! the precedence rules (plugin value, then base value, then default) can be
//! tested without a database. Every problem is reported as a configuration
//! error whose message names the offending key.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use greenroom_backend_plugin_api::BackendError;
use greenroom_config::Config;
use serde_json::{Map, Value};

use crate::pg_url::parse_pg_url;

/// The database-name prefix when `backend.database.prefix` is not set.
pub const DEFAULT_PREFIX: &str = "backstage_plugin_";
/// The prefix of `application_name` on PostgreSQL connections, independent of `prefix`.
pub const APPLICATION_NAME_PREFIX: &str = "backstage_plugin_";
/// The longest identifier PostgreSQL keeps without truncating it.
pub const MAX_PG_IDENTIFIER_BYTES: usize = 63;

const DATABASE_KEY: &str = "backend.database";

/// Which driver a plugin's database uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseClient {
    Sqlite,
    Postgres,
}

/// How plugins are separated on PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PluginDivisionMode {
    /// One database per plugin (the default).
    #[default]
    Database,
    /// One schema per plugin inside the base database.
    Schema,
}

/// Where a plugin's data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    /// A private in-memory SQLite database.
    SqliteMemory,
    /// A SQLite file (its directory is created when missing).
    SqliteFile(PathBuf),
    /// A PostgreSQL database, and a schema in schema mode.
    Postgres(Box<PgTarget>),
}

/// TLS settings for PostgreSQL, after `ssl` / `sslmode` were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PgSslMode {
    Disable,
    /// TLS when the server offers it (the driver's default).
    #[default]
    Prefer,
    /// TLS without certificate checks (`rejectUnauthorized: false`).
    Require,
    VerifyCa,
    /// TLS with certificate and host name checks (`ssl: true`).
    VerifyFull,
}

/// PostgreSQL TLS: a mode plus optional PEM material.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct PgSsl {
    pub mode: PgSslMode,
    pub ca: Option<String>,
    pub cert: Option<String>,
    pub key: Option<String>,
}

impl fmt::Debug for PgSsl {
    // The client key is a secret; only whether one is set is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgSsl")
            .field("mode", &self.mode)
            .field("ca", &self.ca.is_some())
            .field("cert", &self.cert.is_some())
            .field("key", &self.key.as_ref().map(|_| "***"))
            .finish()
    }
}

/// A resolved PostgreSQL connection for one plugin.
#[derive(Clone, PartialEq, Eq)]
pub struct PgTarget {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub password: Option<String>,
    /// The database this plugin's pool connects to.
    pub database: String,
    /// The plugin's schema in schema mode; every connection's `search_path`.
    pub schema: Option<String>,
    pub ssl: PgSsl,
    pub application_name: String,
}

impl fmt::Debug for PgTarget {
    // The password must never reach a log line, so it is masked here.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("database", &self.database)
            .field("schema", &self.schema)
            .field("ssl", &self.ssl.mode)
            .field("application_name", &self.application_name)
            .finish()
    }
}

/// Pool sizing taken from `knexConfig.pool`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolSettings {
    pub min: Option<u32>,
    pub max: Option<u32>,
    pub acquire_timeout: Option<Duration>,
    pub idle_timeout: Option<Duration>,
}

/// Everything needed to open one plugin's database.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginDatabaseSettings {
    pub plugin_id: String,
    pub client: DatabaseClient,
    pub target: DatabaseTarget,
    pub ensure_exists: bool,
    pub ensure_schema_exists: bool,
    pub skip_migrations: bool,
    pub role: Option<String>,
    /// Base `knexConfig` deep-merged with the plugin's (plugin wins).
    pub knex_config: Value,
    pub pool: PoolSettings,
    pub keepalive: bool,
}

impl PluginDatabaseSettings {
    /// The in-memory SQLite settings used when `backend.database` is absent.
    fn in_memory(plugin_id: &str) -> Self {
        Self {
            plugin_id: plugin_id.to_owned(),
            client: DatabaseClient::Sqlite,
            target: DatabaseTarget::SqliteMemory,
            ensure_exists: true,
            ensure_schema_exists: false,
            skip_migrations: false,
            role: None,
            knex_config: Value::Object(Map::new()),
            pool: PoolSettings {
                min: Some(1),
                max: Some(1),
                ..PoolSettings::default()
            },
            keepalive: false,
        }
    }
}

/// A configuration error naming `key`.
pub(crate) fn config_error(key: &str, detail: impl fmt::Display) -> BackendError {
    BackendError::config(format!("Invalid config at '{key}': {detail}"))
}

/// The validated base (`backend.database.*`) settings.
#[derive(Debug, Clone)]
pub(crate) struct BaseSettings {
    view: Config,
    client_name: String,
    client: DatabaseClient,
    prefix: String,
    mode: PluginDivisionMode,
    schema_prefix: String,
    ensure_exists: Option<bool>,
    ensure_schema_exists: bool,
    skip_migrations: Option<bool>,
    role: Option<String>,
    keepalive: bool,
    sqlite: SqliteFields,
    pg: PgFields,
}

impl BaseSettings {
    /// Reads and validates `backend.database`; `None` when the section is absent.
    pub(crate) fn read(config: &Config) -> Result<Option<Self>, BackendError> {
        let Some(view) = config.get_optional_config(DATABASE_KEY)? else {
            return Ok(None);
        };
        let client_name = view.get_string("client")?;
        let client = parse_client(&client_name, &format!("{DATABASE_KEY}.client"))?;
        let prefix = view
            .get_optional_string("prefix")?
            .unwrap_or_else(|| DEFAULT_PREFIX.to_owned());
        let mode = match view.get_optional_string("pluginDivisionMode")?.as_deref() {
            None | Some("database") => PluginDivisionMode::Database,
            Some("schema") => PluginDivisionMode::Schema,
            Some(other) => {
                return Err(config_error(
                    &format!("{DATABASE_KEY}.pluginDivisionMode"),
                    format!(
                        "unknown plugin division mode \"{other}\", expected database or schema"
                    ),
                ));
            }
        };
        let schema_prefix = view
            .get_optional_string("schemaPrefix")?
            .unwrap_or_default();
        if !schema_prefix.is_empty() && !is_identifier(&schema_prefix) {
            return Err(config_error(
                &format!("{DATABASE_KEY}.schemaPrefix"),
                format!(
                    "Invalid schemaPrefix \"{schema_prefix}\". Schema prefix must start with a letter or underscore and contain only letters, numbers, and underscores."
                ),
            ));
        }
        let connection_key = format!("{DATABASE_KEY}.connection");
        let connection = view.get_optional_value("connection")?.cloned();
        let (sqlite, pg) = match client {
            DatabaseClient::Sqlite => {
                let fields = SqliteFields::read(connection.as_ref(), &connection_key)?;
                // A shared file would put every plugin's tables in one database,
                // which defeats per-plugin isolation; only ':memory:' is allowed.
                if fields.filename.as_deref().is_some_and(|f| f != ":memory:") {
                    return Err(config_error(
                        &format!("{connection_key}.filename"),
                        "a base-level SQLite filename is not supported because every plugin would share one file; set connection.directory, or backend.database.plugin.<pluginId>.connection.filename",
                    ));
                }
                (fields, PgFields::default())
            }
            DatabaseClient::Postgres => (
                SqliteFields::default(),
                PgFields::read(connection.as_ref(), &connection_key)?,
            ),
        };
        let base = Self {
            client_name,
            client,
            prefix,
            mode,
            schema_prefix,
            ensure_exists: view.get_optional_bool("ensureExists")?,
            ensure_schema_exists: view
                .get_optional_bool("ensureSchemaExists")?
                .unwrap_or(false),
            skip_migrations: view.get_optional_bool("skipMigrations")?,
            role: view.get_optional_string("role")?,
            keepalive: view.get_optional_bool("keepalive")?.unwrap_or(false),
            sqlite,
            pg,
            view,
        };
        // The pool numbers and knexConfig shape are checked here too, so that
        // a bad base value fails start-up rather than the first plugin's use.
        view_object(&base.view, "knexConfig")?;
        read_pool(None, &base.view)?;
        Ok(Some(base))
    }

    /// The ids listed under `backend.database.plugin`.
    pub(crate) fn configured_plugins(&self) -> Result<Vec<String>, BackendError> {
        Ok(self
            .view
            .get_optional_config("plugin")?
            .map(|plugins| plugins.keys())
            .unwrap_or_default())
    }
}

/// Resolves the settings of `plugin_id` from the whole configuration.
///
/// This is the function [`crate::DatabaseManager`] uses; it is public so the
/// precedence rules can be checked directly.
pub fn resolve_plugin_settings(
    config: &Config,
    plugin_id: &str,
) -> Result<PluginDatabaseSettings, BackendError> {
    match BaseSettings::read(config)? {
        None => resolve_in_memory(plugin_id),
        Some(base) => resolve_with_base(&base, plugin_id),
    }
}

/// The settings of `plugin_id` when `backend.database` is absent.
pub(crate) fn resolve_in_memory(plugin_id: &str) -> Result<PluginDatabaseSettings, BackendError> {
    validate_plugin_id(plugin_id)?;
    Ok(PluginDatabaseSettings::in_memory(plugin_id))
}

/// Resolves `plugin_id` against already validated base settings.
pub(crate) fn resolve_with_base(
    base: &BaseSettings,
    plugin_id: &str,
) -> Result<PluginDatabaseSettings, BackendError> {
    validate_plugin_id(plugin_id)?;
    let plugin_key = format!("{DATABASE_KEY}.plugin.{plugin_id}");
    let plugin = base
        .view
        .get_optional_config(&format!("plugin.{plugin_id}"))?;
    let plugin_client_name = match &plugin {
        Some(p) => p.get_optional_string("client")?,
        None => None,
    };
    let (client_name, client) = match &plugin_client_name {
        Some(name) => (
            name.clone(),
            parse_client(name, &format!("{plugin_key}.client"))?,
        ),
        None => (base.client_name.clone(), base.client),
    };
    // Backstage compares the client names as written: a plugin that names a
    // different client starts from an empty connection.
    let inherit = client_name == base.client_name;
    let plugin_connection = match &plugin {
        Some(p) => p.get_optional_value("connection")?.cloned(),
        None => None,
    };
    let connection_key = format!("{plugin_key}.connection");

    let target = match client {
        DatabaseClient::Sqlite => {
            let own = SqliteFields::read(plugin_connection.as_ref(), &connection_key)?;
            let mut merged = if inherit {
                base.sqlite.clone()
            } else {
                SqliteFields::default()
            };
            merged.overlay(own);
            sqlite_target(&merged, plugin_id)?
        }
        DatabaseClient::Postgres => {
            let own = PgFields::read(plugin_connection.as_ref(), &connection_key)?;
            let explicit_database = own.database.clone();
            let mut merged = if inherit {
                base.pg.clone()
            } else {
                PgFields::default()
            };
            merged.overlay(own);
            DatabaseTarget::Postgres(Box::new(pg_target(
                base,
                merged,
                explicit_database,
                plugin_id,
            )?))
        }
    };

    let plugin_bool = |key: &str| -> Result<Option<bool>, BackendError> {
        match &plugin {
            Some(p) => Ok(p.get_optional_bool(key)?),
            None => Ok(None),
        }
    };
    let role = match &plugin {
        Some(p) => p.get_optional_string("role")?,
        None => None,
    }
    .or_else(|| base.role.clone());

    let base_knex = view_object(&base.view, "knexConfig")?;
    let plugin_knex = match &plugin {
        Some(p) => view_object(p, "knexConfig")?,
        None => Value::Object(Map::new()),
    };
    let knex_config = greenroom_config::deep_merge(&base_knex, &plugin_knex);

    let mut pool = read_pool(plugin.as_ref(), &base.view)?;
    if target == DatabaseTarget::SqliteMemory {
        // Each connection to a private in-memory database would see its own
        // empty database, so the pool holds exactly one connection.
        pool.min = Some(1);
        pool.max = Some(1);
    }

    Ok(PluginDatabaseSettings {
        plugin_id: plugin_id.to_owned(),
        client,
        target,
        ensure_exists: plugin_bool("ensureExists")?
            .or(base.ensure_exists)
            .unwrap_or(true),
        // A per-plugin value has no effect upstream, so only the base counts.
        ensure_schema_exists: base.ensure_schema_exists,
        skip_migrations: plugin_bool("skipMigrations")?
            .or(base.skip_migrations)
            .unwrap_or(false),
        role,
        knex_config,
        pool,
        keepalive: base.keepalive,
    })
}

fn validate_plugin_id(plugin_id: &str) -> Result<(), BackendError> {
    // Plugin ids become config keys, file names and SQL identifiers, so they
    // follow the config key grammar (no dots, slashes or quotes).
    if greenroom_config::is_valid_key_segment(plugin_id) {
        Ok(())
    } else {
        Err(BackendError::config(format!(
            "Invalid plugin id \"{plugin_id}\" for a database: it must start with a letter and contain only letters, digits and single '-', '_' or ':' separators"
        )))
    }
}

fn parse_client(name: &str, key: &str) -> Result<DatabaseClient, BackendError> {
    match name {
        "better-sqlite3" | "sqlite3" => Ok(DatabaseClient::Sqlite),
        "pg" => Ok(DatabaseClient::Postgres),
        "mysql" | "mysql2" => Err(config_error(
            key,
            format!(
                "database client \"{name}\" is not supported; use better-sqlite3, sqlite3 or pg"
            ),
        )),
        other => Err(config_error(
            key,
            format!(
                "unknown database client \"{other}\", expected one of better-sqlite3, sqlite3, pg"
            ),
        )),
    }
}

/// Whether `s` matches `^[a-zA-Z_][a-zA-Z0-9_]*$`.
pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The object at `key` of `view`, or an empty object when absent.
fn view_object(view: &Config, key: &str) -> Result<Value, BackendError> {
    Ok(view
        .get_optional_config(key)?
        .map(|c| c.merged().clone())
        .unwrap_or_else(|| Value::Object(Map::new())))
}

/// Reads `knexConfig.pool.*`, the plugin's value winning over the base's.
fn read_pool(plugin: Option<&Config>, base: &Config) -> Result<PoolSettings, BackendError> {
    let number = |name: &str, at_least: u64| -> Result<Option<u64>, BackendError> {
        let key = format!("knexConfig.pool.{name}");
        for view in plugin.into_iter().chain(std::iter::once(base)) {
            if let Some(n) = view.get_optional_number(&key)? {
                let full = if view.prefix().is_empty() {
                    key.clone()
                } else {
                    format!("{}.{key}", view.prefix())
                };
                if !(n.is_finite() && n.fract() == 0.0 && n >= at_least as f64 && n <= 1e9) {
                    return Err(config_error(
                        &full,
                        format!("expected a whole number of at least {at_least}, got {n}"),
                    ));
                }
                // The range check above makes this conversion exact.
                return Ok(Some(n as u64));
            }
        }
        Ok(None)
    };
    let to_u32 = |n: Option<u64>| n.map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    let pool = PoolSettings {
        min: to_u32(number("min", 0)?),
        max: to_u32(number("max", 1)?),
        acquire_timeout: number("acquireTimeoutMillis", 1)?.map(Duration::from_millis),
        idle_timeout: number("idleTimeoutMillis", 1)?.map(Duration::from_millis),
    };
    if let (Some(min), Some(max)) = (pool.min, pool.max)
        && min > max
    {
        let key = match plugin {
            Some(p) => format!("{}.knexConfig.pool.min", p.prefix()),
            None => format!("{}.knexConfig.pool.min", base.prefix()),
        };
        return Err(config_error(
            &key,
            format!("pool min ({min}) is larger than pool max ({max})"),
        ));
    }
    Ok(pool)
}

/// SQLite connection fields of one layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SqliteFields {
    filename: Option<String>,
    directory: Option<String>,
}

impl SqliteFields {
    /// Reads a SQLite connection: a string is a file name (or `:memory:`).
    fn read(value: Option<&Value>, key: &str) -> Result<Self, BackendError> {
        match value {
            None => Ok(Self::default()),
            Some(Value::String(s)) if s.is_empty() => Err(config_error(
                key,
                "expected ':memory:', a file name or an object",
            )),
            Some(Value::String(s)) => Ok(Self {
                filename: Some(s.clone()),
                directory: None,
            }),
            Some(Value::Object(map)) => Ok(Self {
                filename: optional_string(map, "filename", key)?,
                directory: optional_string(map, "directory", key)?,
            }),
            Some(_) => Err(config_error(
                key,
                "expected ':memory:', a file name or an object",
            )),
        }
    }

    fn overlay(&mut self, higher: Self) {
        if higher.filename.is_some() {
            self.filename = higher.filename;
        }
        if higher.directory.is_some() {
            self.directory = higher.directory;
        }
    }
}

fn sqlite_target(fields: &SqliteFields, plugin_id: &str) -> Result<DatabaseTarget, BackendError> {
    Ok(match (&fields.filename, &fields.directory) {
        (Some(f), _) if f == ":memory:" => DatabaseTarget::SqliteMemory,
        (Some(f), _) => DatabaseTarget::SqliteFile(PathBuf::from(f)),
        (None, Some(dir)) => {
            DatabaseTarget::SqliteFile(PathBuf::from(dir).join(format!("{plugin_id}.sqlite")))
        }
        (None, None) => DatabaseTarget::SqliteMemory,
    })
}

/// PostgreSQL connection fields of one layer, before merging.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PgFields {
    pub(crate) host: Option<String>,
    pub(crate) port: Option<u16>,
    pub(crate) user: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) database: Option<String>,
    pub(crate) ssl: Option<PgSsl>,
    pub(crate) application_name: Option<String>,
}

impl PgFields {
    /// Reads a PostgreSQL connection: a URL string or an object.
    fn read(value: Option<&Value>, key: &str) -> Result<Self, BackendError> {
        match value {
            None => Ok(Self::default()),
            Some(Value::String(s)) => parse_pg_url(s).map_err(|detail| config_error(key, detail)),
            Some(Value::Object(map)) => Self::from_object(map, key),
            Some(_) => Err(config_error(
                key,
                "expected a connection string or an object",
            )),
        }
    }

    fn from_object(map: &Map<String, Value>, key: &str) -> Result<Self, BackendError> {
        match optional_string(map, "type", key)?.as_deref() {
            None | Some("default") => {}
            Some(other) => {
                return Err(config_error(
                    &format!("{key}.type"),
                    format!(
                        "connection type \"{other}\" is not supported; only \"default\" (static credentials) is"
                    ),
                ));
            }
        }
        let port = match map.get("port") {
            None | Some(Value::Null) => None,
            Some(v) => Some(parse_port(v).ok_or_else(|| {
                config_error(
                    &format!("{key}.port"),
                    format!("expected a port number between 1 and 65535, got {v}"),
                )
            })?),
        };
        let ssl = match map.get("ssl") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(true)) => Some(PgSsl {
                mode: PgSslMode::VerifyFull,
                ..PgSsl::default()
            }),
            Some(Value::Bool(false)) => Some(PgSsl {
                mode: PgSslMode::Disable,
                ..PgSsl::default()
            }),
            Some(Value::Object(ssl)) => {
                let ssl_key = format!("{key}.ssl");
                let reject = match ssl.get("rejectUnauthorized") {
                    None | Some(Value::Null) => true,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => {
                        return Err(config_error(
                            &format!("{ssl_key}.rejectUnauthorized"),
                            "expected a boolean",
                        ));
                    }
                };
                Some(PgSsl {
                    mode: if reject {
                        PgSslMode::VerifyFull
                    } else {
                        PgSslMode::Require
                    },
                    ca: optional_string(ssl, "ca", &ssl_key)?,
                    cert: optional_string(ssl, "cert", &ssl_key)?,
                    key: optional_string(ssl, "key", &ssl_key)?,
                })
            }
            Some(Value::String(mode)) => Some(PgSsl {
                mode: crate::pg_url::parse_ssl_mode(mode)
                    .map_err(|detail| config_error(&format!("{key}.ssl"), detail))?,
                ..PgSsl::default()
            }),
            Some(_) => {
                return Err(config_error(
                    &format!("{key}.ssl"),
                    "expected a boolean or an object",
                ));
            }
        };
        Ok(Self {
            host: optional_string(map, "host", key)?,
            port,
            user: optional_string(map, "user", key)?,
            password: optional_string(map, "password", key)?,
            database: optional_string(map, "database", key)?,
            ssl,
            application_name: optional_string(map, "application_name", key)?,
        })
    }

    fn overlay(&mut self, higher: Self) {
        let Self {
            host,
            port,
            user,
            password,
            database,
            ssl,
            application_name,
        } = higher;
        if host.is_some() {
            self.host = host;
        }
        if port.is_some() {
            self.port = port;
        }
        if user.is_some() {
            self.user = user;
        }
        if password.is_some() {
            self.password = password;
        }
        if database.is_some() {
            self.database = database;
        }
        if ssl.is_some() {
            self.ssl = ssl;
        }
        if application_name.is_some() {
            self.application_name = application_name;
        }
    }
}

fn parse_port(v: &Value) -> Option<u16> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::String(s) => s.trim().parse::<u16>().ok(),
        _ => None,
    }
    .filter(|p| *p != 0)
}

fn optional_string(
    map: &Map<String, Value>,
    name: &str,
    key: &str,
) -> Result<Option<String>, BackendError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        // pg accepts a numeric password or user written as a YAML number.
        Some(Value::Number(n)) if matches!(name, "password" | "user" | "database") => {
            Ok(Some(n.to_string()))
        }
        Some(_) => Err(config_error(&format!("{key}.{name}"), "expected a string")),
    }
}

fn pg_target(
    base: &BaseSettings,
    merged: PgFields,
    explicit_database: Option<String>,
    plugin_id: &str,
) -> Result<PgTarget, BackendError> {
    let (database, schema) = match base.mode {
        PluginDivisionMode::Database => (
            explicit_database.unwrap_or_else(|| format!("{}{plugin_id}", base.prefix)),
            None,
        ),
        PluginDivisionMode::Schema => (
            merged
                .database
                .clone()
                .unwrap_or_else(|| "postgres".to_owned()),
            Some(format!("{}{plugin_id}", base.schema_prefix)),
        ),
    };
    if database.is_empty() || database.len() > MAX_PG_IDENTIFIER_BYTES {
        return Err(config_error(
            &format!("{DATABASE_KEY}.prefix"),
            format!(
                "the database name \"{database}\" for plugin '{plugin_id}' must be 1 to {MAX_PG_IDENTIFIER_BYTES} bytes long"
            ),
        ));
    }
    if let Some(schema) = &schema
        && schema.len() > MAX_PG_IDENTIFIER_BYTES
    {
        return Err(config_error(
            &format!("{DATABASE_KEY}.schemaPrefix"),
            format!(
                "the schema name \"{schema}\" for plugin '{plugin_id}' is longer than {MAX_PG_IDENTIFIER_BYTES} bytes"
            ),
        ));
    }
    Ok(PgTarget {
        host: merged.host,
        port: merged.port,
        user: merged.user,
        password: merged.password,
        database,
        schema,
        ssl: merged.ssl.unwrap_or_default(),
        application_name: merged
            .application_name
            .unwrap_or_else(|| format!("{APPLICATION_NAME_PREFIX}{plugin_id}")),
    })
}
