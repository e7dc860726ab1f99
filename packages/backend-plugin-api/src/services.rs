//! The core services' contracts and their references (Backstage's `coreServices`).
//!
//! Root-scoped: config, logger root, lifecycle root, HTTP router root, health.
//! Plugin-scoped: logger, lifecycle, HTTP router, database, cache, scheduler,
//! discovery, plugin metadata. The default implementations live in
//! `greenroom-backend-defaults`; an app may replace any of them with a
//! [`crate::ServiceFactory`] for the same reference.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::error::BackendError;
use crate::feature::{BoxFuture, ServiceRef};

/// The merged configuration (root).
pub const ROOT_CONFIG: ServiceRef<greenroom_config::Config> = ServiceRef::root("core.rootConfig");
/// The plugin's identity (plugin); always provided by the runtime.
pub const PLUGIN_METADATA: ServiceRef<PluginMetadata> = ServiceRef::plugin("core.pluginMetadata");
/// A logger whose records carry `plugin.id` (plugin).
pub const LOGGER: ServiceRef<Logger> = ServiceRef::plugin("core.logger");
/// The process logger (root).
pub const ROOT_LOGGER: ServiceRef<Logger> = ServiceRef::root("core.rootLogger");
/// Startup and shutdown hooks for one plugin (plugin).
pub const LIFECYCLE: ServiceRef<dyn LifecycleService> = ServiceRef::plugin("core.lifecycle");
/// Startup, before-shutdown and shutdown hooks for the whole backend (root).
pub const ROOT_LIFECYCLE: ServiceRef<dyn RootLifecycleService> =
    ServiceRef::root("core.rootLifecycle");
/// Routes under `/api/<pluginId>` (plugin).
pub const HTTP_ROUTER: ServiceRef<dyn HttpRouterService> = ServiceRef::plugin("core.httpRouter");
/// Routes at absolute paths (root).
pub const ROOT_HTTP_ROUTER: ServiceRef<dyn RootHttpRouterService> =
    ServiceRef::root("core.rootHttpRouter");
/// Liveness and readiness (root).
pub const ROOT_HEALTH: ServiceRef<dyn RootHealthService> = ServiceRef::root("core.rootHealth");
/// The plugin's own logical database (plugin).
pub const DATABASE: ServiceRef<dyn DatabaseService> = ServiceRef::plugin("core.database");
/// The plugin's own cache namespace (plugin).
pub const CACHE: ServiceRef<dyn CacheService> = ServiceRef::plugin("core.cache");
/// Scheduled tasks, coordinated across instances through the plugin's database (plugin).
pub const SCHEDULER: ServiceRef<dyn SchedulerService> = ServiceRef::plugin("core.scheduler");
/// Base URLs of plugins (plugin).
pub const DISCOVERY: ServiceRef<dyn DiscoveryService> = ServiceRef::plugin("core.discovery");

/// Who a plugin is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginMetadata {
    pub id: String,
}

/// A logger bound to a plugin (or to the root), over `tracing`.
///
/// Every record carries the `plugin.id` field so that one plugin's lines can be
/// picked out of a shared log.
#[derive(Debug, Clone, Default)]
pub struct Logger {
    plugin_id: Option<Arc<str>>,
}

impl Logger {
    pub fn root() -> Self {
        Self { plugin_id: None }
    }

    pub fn for_plugin(plugin_id: &str) -> Self {
        Self {
            plugin_id: Some(Arc::from(plugin_id)),
        }
    }

    pub fn plugin_id(&self) -> Option<&str> {
        self.plugin_id.as_deref()
    }

    pub fn error(&self, message: &str) {
        tracing::error!(plugin.id = self.plugin_id.as_deref(), "{message}");
    }

    pub fn warn(&self, message: &str) {
        tracing::warn!(plugin.id = self.plugin_id.as_deref(), "{message}");
    }

    pub fn info(&self, message: &str) {
        tracing::info!(plugin.id = self.plugin_id.as_deref(), "{message}");
    }

    pub fn debug(&self, message: &str) {
        tracing::debug!(plugin.id = self.plugin_id.as_deref(), "{message}");
    }
}

/// A hook run at startup or shutdown.
pub type Hook = Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>;

/// Startup and shutdown hooks scoped to one plugin.
pub trait LifecycleService: Send + Sync {
    /// Runs after every plugin has initialised.
    fn add_startup_hook(&self, hook: Hook);
    /// Runs on shutdown, before the root shutdown hooks.
    fn add_shutdown_hook(&self, hook: Hook);
}

/// Startup and shutdown hooks for the whole backend.
pub trait RootLifecycleService: LifecycleService {
    /// Runs as soon as a termination signal arrives; shutdown proper waits for it.
    fn add_before_shutdown_hook(&self, hook: Hook);
}

/// Who may call a path without credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthPolicyAllow {
    Unauthenticated,
    UserCookie,
}

/// An exception to the credentials barrier for a path prefix of a plugin's router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthPolicy {
    pub path: String,
    pub allow: AuthPolicyAllow,
}

/// A plugin's routes, mounted at `/api/<pluginId>`.
pub trait HttpRouterService: Send + Sync {
    /// Adds handlers; paths are relative to `/api/<pluginId>`.
    fn use_router(&self, router: axum::Router);
    /// Lets requests to `policy.path` (a prefix) through without credentials.
    fn add_auth_policy(&self, policy: AuthPolicy);
}

/// Routes at absolute paths.
pub trait RootHttpRouterService: Send + Sync {
    /// Mounts `router` at `path`; fails when `path` overlaps an existing mount.
    fn use_router(&self, path: &str, router: axum::Router) -> Result<(), BackendError>;
}

/// A health answer: an HTTP status and a JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthResponse {
    pub status: u16,
    pub payload: Value,
}

/// Liveness and readiness, served at `/.backstage/health/v1/*`.
pub trait RootHealthService: Send + Sync {
    fn liveness(&self) -> HealthResponse;
    fn readiness(&self) -> HealthResponse;
}

/// A connection pool to the plugin's own database, SQLite or PostgreSQL.
///
/// Queries are written once (sea-query or portable SQL with `$n` placeholders)
/// and run on whichever pool the configuration chose.
#[derive(Debug, Clone)]
pub enum Database {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Database {
    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }

    /// Closes the pool; pending connections finish first.
    pub async fn close(&self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

/// The plugin's own logical database.
#[async_trait]
pub trait DatabaseService: Send + Sync {
    /// The pool for this plugin's database, created (and the database or schema
    /// ensured) on first call.
    async fn client(&self) -> Result<Database, BackendError>;
    /// Whether the operator asked plugins not to run their migrations.
    fn skip_migrations(&self) -> bool;
}

/// The plugin's own cache namespace. Failures of the store read as misses: the
/// cache never fails its caller.
#[async_trait]
pub trait CacheService: Send + Sync {
    async fn get(&self, key: &str) -> Option<Value>;
    /// Stores `value` for `ttl`, or for the default TTL when `None`.
    async fn set(&self, key: &str, value: Value, ttl: Option<Duration>);
    async fn delete(&self, key: &str);
    /// The same namespace with another default TTL.
    fn with_default_ttl(&self, ttl: Option<Duration>) -> Arc<dyn CacheService>;
}

/// How often a task runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frequency {
    Every(Duration),
    /// A five- or six-field cron expression.
    Cron(String),
    /// Only when triggered.
    Manual,
}

/// Whether a task runs on one instance at a time (`Global`) or on each (`Local`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TaskScope {
    #[default]
    Global,
    Local,
}

/// The body of a task; it should stop early when the token is cancelled.
pub type TaskFn =
    Arc<dyn Fn(CancellationToken) -> BoxFuture<'static, Result<(), BackendError>> + Send + Sync>;

/// A task to schedule.
#[derive(Clone)]
pub struct TaskDefinition {
    pub id: String,
    pub frequency: Frequency,
    pub timeout: Duration,
    pub initial_delay: Option<Duration>,
    pub scope: TaskScope,
    pub run: TaskFn,
}

impl std::fmt::Debug for TaskDefinition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskDefinition")
            .field("id", &self.id)
            .field("frequency", &self.frequency)
            .field("timeout", &self.timeout)
            .field("initial_delay", &self.initial_delay)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// A scheduled task as listed by the scheduler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledTask {
    pub id: String,
    pub scope: TaskScope,
    pub frequency: Frequency,
    pub timeout: Duration,
}

/// Distributed task scheduling.
#[async_trait]
pub trait SchedulerService: Send + Sync {
    async fn schedule_task(&self, task: TaskDefinition) -> Result<(), BackendError>;
    /// Runs a task now (or as soon as its current run ends). Unknown id: NotFoundError;
    /// a task already running: ConflictError.
    async fn trigger_task(&self, id: &str) -> Result<(), BackendError>;
    async fn scheduled_tasks(&self) -> Vec<ScheduledTask>;
}

/// Where plugins live.
pub trait DiscoveryService: Send + Sync {
    /// The URL other backends use, e.g. `http://localhost:7007/api/catalog`.
    fn base_url(&self, plugin_id: &str) -> Result<String, BackendError>;
    /// The URL browsers use, from `backend.baseUrl`.
    fn external_base_url(&self, plugin_id: &str) -> Result<String, BackendError>;
}
