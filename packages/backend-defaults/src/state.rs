//! The runtime state shared by the backend and its default services: the
//! lifecycle phase, the registered hooks, the HTTP server handle and the
//! plugins that were left out after a tolerated boot failure.
//!
//! It is itself provided as a root service ([`BACKEND_STATE`]) so that the
//! default health, lifecycle and HTTP router services can reach it; the
//! runtime always provides it and it cannot be replaced.

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use greenroom_backend_plugin_api::ServiceRef;
use greenroom_backend_plugin_api::services::Hook;
use greenroom_config::Config;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The runtime's own state, as a root service. Always provided by the runtime.
pub const BACKEND_STATE: ServiceRef<BackendState> = ServiceRef::root("greenroom.backendState");

/// Where the backend is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Plugins are initialising; plugin requests are held and readiness is 503.
    Starting,
    /// Every plugin started and the startup hooks ran; readiness is 200.
    Started,
    /// Shutdown began (or startup failed); plugin requests get 503.
    ShuttingDown,
}

/// Hooks registered for one scope (the root, or one plugin).
#[derive(Default)]
struct HookLists {
    startup: Vec<Hook>,
    before_shutdown: Vec<Hook>,
    shutdown: Vec<Hook>,
}

/// The running HTTP server: how to stop it and how to wait until it is gone.
struct ServerHandle {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// Shared state of one backend. See the module documentation.
pub struct BackendState {
    config: Arc<Config>,
    phase: watch::Sender<Phase>,
    root_hooks: Mutex<HookLists>,
    /// Plugin hooks in registration order, tagged with their plugin id.
    plugin_hooks: Mutex<Vec<(String, HookLists)>>,
    server: Mutex<Option<ServerHandle>>,
    local_addr: OnceLock<SocketAddr>,
    disabled_plugins: RwLock<HashSet<String>>,
}

impl fmt::Debug for BackendState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendState")
            .field("phase", &self.phase())
            .field("local_addr", &self.local_addr.get())
            .finish_non_exhaustive()
    }
}

/// Runs the poisoned-lock case as if the lock were fine: the data behind these
/// locks are plain lists that stay consistent even if a holder panicked.
fn relock<T>(result: Result<T, PoisonError<T>>) -> T {
    result.unwrap_or_else(PoisonError::into_inner)
}

impl BackendState {
    /// A fresh state for a backend reading `config`.
    pub fn new(config: Arc<Config>) -> Self {
        Self {
            config,
            phase: watch::Sender::new(Phase::Starting),
            root_hooks: Mutex::default(),
            plugin_hooks: Mutex::default(),
            server: Mutex::default(),
            local_addr: OnceLock::new(),
            disabled_plugins: RwLock::default(),
        }
    }

    /// The configuration the backend was created with.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        *self.phase.borrow()
    }

    /// Moves to `phase`, waking everyone waiting in [`BackendState::wait_while_starting`].
    pub fn set_phase(&self, phase: Phase) {
        self.phase.send_replace(phase);
    }

    /// Waits until the backend leaves [`Phase::Starting`], for at most `timeout`.
    /// Returns the phase reached, or `None` if the time ran out first.
    pub async fn wait_while_starting(&self, timeout: Duration) -> Option<Phase> {
        let mut receiver = self.phase.subscribe();
        let left = receiver.wait_for(|phase| *phase != Phase::Starting);
        match tokio::time::timeout(timeout, left).await {
            Ok(Ok(phase)) => Some(*phase),
            // The sender lives as long as `self`, so a closed channel cannot
            // happen while we borrow `self`; treat it as shutting down anyway.
            Ok(Err(_)) => Some(Phase::ShuttingDown),
            Err(_) => None,
        }
    }

    /// The address the HTTP server is bound to, once it listens.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr.get().copied()
    }

    /// Records the running HTTP server. Called by the root HTTP router.
    pub fn set_server(&self, addr: SocketAddr, stop: CancellationToken, task: JoinHandle<()>) {
        let _ = self.local_addr.set(addr);
        *relock(self.server.lock()) = Some(ServerHandle { stop, task });
    }

    /// Stops accepting connections and waits until in-flight requests finished.
    pub async fn stop_server(&self) {
        let handle = relock(self.server.lock()).take();
        if let Some(handle) = handle {
            handle.stop.cancel();
            if let Err(e) = handle.task.await {
                tracing::error!(error = %e, "the HTTP server task ended abnormally");
            }
        }
    }

    /// Tells the server to stop accepting connections without waiting for it,
    /// for use where no async context is available (such as `Drop`).
    pub fn cancel_server(&self) {
        if let Some(handle) = relock(self.server.lock()).as_ref() {
            handle.stop.cancel();
        }
    }

    /// Leaves `plugin_id` out of the running backend: its routes answer 404.
    pub fn disable_plugin(&self, plugin_id: &str) {
        relock(self.disabled_plugins.write()).insert(plugin_id.to_owned());
    }

    /// Whether `plugin_id` was left out after a tolerated boot failure.
    pub fn is_plugin_disabled(&self, plugin_id: &str) -> bool {
        relock(self.disabled_plugins.read()).contains(plugin_id)
    }

    /// Registers a hook for the root (`plugin_id` `None`) or a plugin.
    pub fn add_hook(&self, plugin_id: Option<&str>, kind: HookKind, hook: Hook) {
        match plugin_id {
            None => relock(self.root_hooks.lock()).push(kind, hook),
            Some(id) => {
                let mut all = relock(self.plugin_hooks.lock());
                match all.iter_mut().find(|(p, _)| p == id) {
                    Some((_, lists)) => lists.push(kind, hook),
                    None => {
                        let mut lists = HookLists::default();
                        lists.push(kind, hook);
                        all.push((id.to_owned(), lists));
                    }
                }
            }
        }
    }

    /// Runs (and removes) every plugin hook of `kind`, then every root hook of `kind`.
    pub async fn run_hooks(&self, kind: HookKind, include_plugins: bool, include_root: bool) {
        if include_plugins {
            let taken: Vec<(String, Vec<Hook>)> = relock(self.plugin_hooks.lock())
                .iter_mut()
                .map(|(id, lists)| (id.clone(), lists.take(kind)))
                .collect();
            for (plugin_id, hooks) in taken {
                for hook in hooks {
                    tracing::debug!(plugin.id = %plugin_id, ?kind, "running plugin hook");
                    hook().await;
                }
            }
        }
        if include_root {
            let hooks = relock(self.root_hooks.lock()).take(kind);
            for hook in hooks {
                hook().await;
            }
        }
    }
}

/// Which list a lifecycle hook belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    Startup,
    BeforeShutdown,
    Shutdown,
}

impl HookLists {
    fn push(&mut self, kind: HookKind, hook: Hook) {
        match kind {
            HookKind::Startup => self.startup.push(hook),
            HookKind::BeforeShutdown => self.before_shutdown.push(hook),
            HookKind::Shutdown => self.shutdown.push(hook),
        }
    }

    fn take(&mut self, kind: HookKind) -> Vec<Hook> {
        std::mem::take(match kind {
            HookKind::Startup => &mut self.startup,
            HookKind::BeforeShutdown => &mut self.before_shutdown,
            HookKind::Shutdown => &mut self.shutdown,
        })
    }
}
