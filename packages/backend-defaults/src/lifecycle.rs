//! The default lifecycle services: hooks registered by plugins and by root
//! services, kept in the [`BackendState`] so the runtime can run them in
//! Backstage's order (plugin hooks before root hooks).

use std::sync::Arc;

use greenroom_backend_plugin_api::services::{Hook, LifecycleService, RootLifecycleService};

use crate::state::{BackendState, HookKind};

/// `core.rootLifecycle`: hooks for the whole backend.
#[derive(Debug)]
pub struct DefaultRootLifecycle {
    state: Arc<BackendState>,
}

impl DefaultRootLifecycle {
    pub fn new(state: Arc<BackendState>) -> Self {
        Self { state }
    }
}

impl LifecycleService for DefaultRootLifecycle {
    fn add_startup_hook(&self, hook: Hook) {
        self.state.add_hook(None, HookKind::Startup, hook);
    }

    fn add_shutdown_hook(&self, hook: Hook) {
        self.state.add_hook(None, HookKind::Shutdown, hook);
    }
}

impl RootLifecycleService for DefaultRootLifecycle {
    fn add_before_shutdown_hook(&self, hook: Hook) {
        self.state.add_hook(None, HookKind::BeforeShutdown, hook);
    }
}

/// `core.lifecycle`: hooks of one plugin, run before the root hooks.
#[derive(Debug)]
pub struct DefaultPluginLifecycle {
    plugin_id: String,
    state: Arc<BackendState>,
}

impl DefaultPluginLifecycle {
    pub fn new(plugin_id: impl Into<String>, state: Arc<BackendState>) -> Self {
        Self {
            plugin_id: plugin_id.into(),
            state,
        }
    }
}

impl LifecycleService for DefaultPluginLifecycle {
    fn add_startup_hook(&self, hook: Hook) {
        self.state
            .add_hook(Some(&self.plugin_id), HookKind::Startup, hook);
    }

    fn add_shutdown_hook(&self, hook: Hook) {
        self.state
            .add_hook(Some(&self.plugin_id), HookKind::Shutdown, hook);
    }
}
