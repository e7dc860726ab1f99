//! Greenroom's task scheduler for backend plugins (Backstage's `core.scheduler`).
//!
//! A [`PluginScheduler`] belongs to one plugin on one instance. Tasks run on an
//! interval, on a cron pattern, or only when triggered. Global tasks (the
//! default) run on exactly one instance at a time among all instances that
//! share the plugin's database: the state lives in a lease row per task in
//! `backstage_backend_tasks__tasks`, claimed with one conditional UPDATE and
//! released with the next start time; an instance that dies mid-run loses its
//! claim when the run's timeout passes. Local tasks run on every instance on
//! their own timers. Instants are stored as BIGINT epoch milliseconds and cron
//! patterns are evaluated in UTC.

mod admin;
mod clock;
mod config;
mod scheduler;
mod settings;
mod store;

pub use admin::admin_router;
pub use config::{ConfiguredSchedule, read_schedule};
pub use scheduler::{PluginScheduler, SchedulerOptions};
pub use store::{MIGRATIONS_TABLE, TASKS_TABLE};
