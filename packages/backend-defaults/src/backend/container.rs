//! The dependency injection container: one instance per (service, plugin),
//! created on first request, with scope checks, cycle detection and errors
//! that name the services involved.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use greenroom_backend_plugin_api::services::{PLUGIN_METADATA, PluginMetadata};
use greenroom_backend_plugin_api::{
    AnyService, BackendError, BoxFuture, ServiceContext, ServiceFactory, ServiceResolver,
    ServiceScope,
};
use tokio::sync::OnceCell;

use crate::state::{BACKEND_STATE, BackendState};

/// Instances are keyed by service id and plugin (`None` for root services).
type InstanceKey = (&'static str, Option<String>);

/// Resolves services for the runtime. See the module documentation.
pub(crate) struct Container {
    this: Weak<Container>,
    factories: HashMap<&'static str, ServiceFactory>,
    state: Arc<BackendState>,
    instances: Mutex<HashMap<InstanceKey, Arc<OnceCell<AnyService>>>>,
}

impl std::fmt::Debug for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ids: Vec<_> = self.factories.keys().collect();
        ids.sort();
        f.debug_struct("Container")
            .field("factories", &ids)
            .finish_non_exhaustive()
    }
}

impl Container {
    pub(crate) fn new(
        factories: HashMap<&'static str, ServiceFactory>,
        state: Arc<BackendState>,
    ) -> Arc<Self> {
        Arc::new_cyclic(|this| Self {
            this: this.clone(),
            factories,
            state,
            instances: Mutex::default(),
        })
    }

    /// A context for a plugin's (or module's) init, or for the root.
    pub(crate) fn context(&self, plugin_id: Option<&str>) -> Result<ServiceContext, BackendError> {
        Ok(ServiceContext::new(
            self.resolver()?,
            plugin_id.map(str::to_owned),
            Vec::new(),
        ))
    }

    fn resolver(&self) -> Result<Arc<dyn ServiceResolver>, BackendError> {
        let this: Arc<Container> = self
            .this
            .upgrade()
            .ok_or_else(|| BackendError::internal("the backend has been dropped"))?;
        Ok(this)
    }

    /// The ids of root-scoped factories, in a stable order.
    pub(crate) fn root_service_ids(&self) -> Vec<&'static str> {
        let mut ids: Vec<&'static str> = self
            .factories
            .values()
            .filter(|f| f.scope() == ServiceScope::Root)
            .map(ServiceFactory::id)
            .collect();
        ids.sort_unstable();
        ids
    }

    pub(crate) fn has_factory(&self, id: &str) -> bool {
        self.factories.contains_key(id)
    }

    async fn resolve_inner(
        &self,
        id: &'static str,
        scope: ServiceScope,
        plugin_id: Option<String>,
        chain: Vec<&'static str>,
    ) -> Result<AnyService, BackendError> {
        if chain.contains(&id) {
            let mut names: Vec<&str> = chain.iter().skip_while(|c| **c != id).copied().collect();
            names.push(id);
            return Err(BackendError::internal(format!(
                "Circular dependency detected: {}",
                names.join(" -> ")
            )));
        }
        if id == BACKEND_STATE.id() {
            return Ok(Arc::new(Arc::clone(&self.state)) as AnyService);
        }
        if id == PLUGIN_METADATA.id() {
            let Some(plugin) = plugin_id else {
                return Err(root_needs_plugin(&chain, id));
            };
            return Ok(Arc::new(Arc::new(PluginMetadata { id: plugin })) as AnyService);
        }
        let Some(factory) = self.factories.get(id) else {
            return Err(missing(&chain, plugin_id.as_deref(), id));
        };
        if factory.scope() != scope {
            return Err(BackendError::internal(format!(
                "Service '{id}' is implemented with {:?} scope but was requested with {:?} scope",
                factory.scope(),
                scope
            )));
        }
        let owner = match factory.scope() {
            ServiceScope::Root => None,
            ServiceScope::Plugin => match plugin_id {
                Some(plugin) => Some(plugin),
                None => return Err(root_needs_plugin(&chain, id)),
            },
        };
        let cell = {
            let mut instances = self
                .instances
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            Arc::clone(instances.entry((id, owner.clone())).or_default())
        };
        let mut next_chain = chain;
        next_chain.push(id);
        let context = ServiceContext::new(self.resolver()?, owner, next_chain);
        let instance = cell.get_or_try_init(|| factory.create(context)).await?;
        Ok(Arc::clone(instance))
    }
}

impl ServiceResolver for Container {
    fn resolve(
        &self,
        id: &'static str,
        scope: ServiceScope,
        plugin_id: Option<String>,
        chain: Vec<&'static str>,
    ) -> BoxFuture<'_, Result<AnyService, BackendError>> {
        Box::pin(self.resolve_inner(id, scope, plugin_id, chain))
    }
}

fn root_needs_plugin(chain: &[&'static str], id: &str) -> BackendError {
    match chain.last() {
        Some(requester) => BackendError::internal(format!(
            "Failed to instantiate 'root' scoped service '{requester}' because it depends on 'plugin' scoped service '{id}'"
        )),
        None => BackendError::internal(format!(
            "The 'plugin' scoped service '{id}' cannot be used outside a plugin"
        )),
    }
}

fn missing(chain: &[&'static str], plugin_id: Option<&str>, id: &str) -> BackendError {
    match (chain.last(), plugin_id) {
        (Some(requester), _) => BackendError::internal(format!(
            "Failed to instantiate service '{requester}' because the following dependent services are missing: serviceRef{{{id}}}"
        )),
        (None, Some(plugin)) => BackendError::internal(format!(
            "Service or extension point dependencies of plugin '{plugin}' are missing for the following ref(s): serviceRef{{{id}}}"
        )),
        (None, None) => BackendError::internal(format!(
            "No implementation is available for serviceRef{{{id}}}"
        )),
    }
}
