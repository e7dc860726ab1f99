//! `greenroom serve`: loads the configuration, starts the backend with the
//! app's plugins, and shuts it down gracefully on SIGTERM or SIGINT.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use greenroom_backend_defaults::Backend;
use greenroom_backend_defaults::logging::init_logging_with_schema;
use greenroom_backend_plugin_api::BackendFeature;
use greenroom_config::{LoadOptions, load};

use crate::output;

/// The features the app installs: the app's plugin list, like Backstage's
/// `packages/backend/src/index.ts`. `greenroom new plugin` adds lines here.
pub(crate) fn app_features() -> Vec<BackendFeature> {
    vec![
        greenroom_plugin_catalog_backend::plugin().into(),
        greenroom_plugin_catalog_backend::catalog_service_factory().into(),
        greenroom_plugin_announcements_backend::plugin().into(),
        // The web UI: the app shell plugin and the catalog's pages as its module.
        greenroom_web::plugin().into(),
        greenroom_plugin_catalog::module().into(),
        // greenroom:new-plugin (generated plugins are added above this line)
    ]
}

/// Runs the server until a termination signal; exit code 1 on start-up errors.
pub(crate) fn run(config_paths: Vec<PathBuf>) -> anyhow::Result<ExitCode> {
    let config = match load(&LoadOptions::from_process(config_paths)) {
        Ok(config) => config,
        Err(e) => return Ok(fail(&e.to_string())),
    };
    // The schema of the core and of every plugin decides which values are secret
    // (redacted from logs) and which settings are required; a config that fails
    // it does not start, as in Backstage.
    let schema = crate::config_cmd::app_schema()?;
    let problems = schema.validate(config.merged());
    if !problems.is_empty() {
        let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
        return Ok(fail(&format!(
            "Config validation failed, {}",
            listed.join("; ")
        )));
    }
    if let Err(e) = init_logging_with_schema(&config, &schema) {
        return Ok(fail(&e.message));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(Arc::new(config)))
}

async fn serve(config: Arc<greenroom_config::Config>) -> anyhow::Result<ExitCode> {
    // Signal handlers are installed before start-up so that a signal arriving
    // at any point from here on leads to a graceful shutdown rather than the
    // default action of killing the process.
    let mut signals = Signals::install()?;
    let mut backend = Backend::new(config);
    for feature in app_features() {
        backend.add(feature);
    }
    let running = match backend.start().await {
        Ok(running) => running,
        Err(e) => return Ok(fail(&format!("start-up failed: {}", e.message))),
    };
    match running.local_addr() {
        Some(addr) => tracing::info!(%addr, "listening on {addr}"),
        None => tracing::info!("backend started"),
    }
    signals.wait().await;
    running.stop().await;
    Ok(ExitCode::SUCCESS)
}

fn fail(message: &str) -> ExitCode {
    output::error_line(&format!("greenroom serve: {message}"));
    ExitCode::from(1)
}

/// SIGTERM and SIGINT, caught from installation on.
#[cfg(unix)]
struct Signals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn install() -> anyhow::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    async fn wait(&mut self) {
        tokio::select! {
            _ = self.terminate.recv() => tracing::info!("received SIGTERM"),
            _ = self.interrupt.recv() => tracing::info!("received SIGINT"),
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn install() -> anyhow::Result<Self> {
        Ok(Self)
    }

    async fn wait(&mut self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}
