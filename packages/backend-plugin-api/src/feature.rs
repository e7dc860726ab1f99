//! Features and dependency injection: service references, service factories,
//! plugins, modules and extension points.
//!
//! The shapes follow Backstage's backend system, in Rust terms: a [`ServiceRef`]
//! is a typed key with an id and a scope; a [`ServiceFactory`] is an async
//! constructor for one service; a plugin or module registers exactly one init,
//! which receives an [`InitContext`] to pull the services (and, for modules, the
//! extension points) it needs. The runtime behind [`ServiceResolver`] creates each
//! service at most once per (service, plugin), detects cycles and scope mistakes,
//! and runs a plugin's modules before the plugin.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use crate::error::BackendError;

/// A boxed, sendable future, as trait objects need.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A service instance with its type erased: an `Arc<dyn Any>` that holds an `Arc<T>`.
pub type AnyService = Arc<dyn Any + Send + Sync>;

/// Whether a service has one instance per backend or one per plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceScope {
    Root,
    Plugin,
}

/// A typed reference to a service: its id (e.g. `core.cache`) and scope.
///
/// `T` is what consumers receive inside an `Arc`, usually a trait object such as
/// `dyn CacheService`.
pub struct ServiceRef<T: ?Sized + 'static> {
    id: &'static str,
    scope: ServiceScope,
    marker: PhantomData<fn() -> Box<T>>,
}

impl<T: ?Sized + 'static> ServiceRef<T> {
    /// A reference to a service with one instance per backend.
    pub const fn root(id: &'static str) -> Self {
        Self {
            id,
            scope: ServiceScope::Root,
            marker: PhantomData,
        }
    }

    /// A reference to a service with one instance per plugin.
    pub const fn plugin(id: &'static str) -> Self {
        Self {
            id,
            scope: ServiceScope::Plugin,
            marker: PhantomData,
        }
    }

    pub const fn id(&self) -> &'static str {
        self.id
    }

    pub const fn scope(&self) -> ServiceScope {
        self.scope
    }
}

impl<T: ?Sized> Clone for ServiceRef<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for ServiceRef<T> {}

impl<T: ?Sized> fmt::Debug for ServiceRef<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServiceRef({}, {:?})", self.id, self.scope)
    }
}

/// Resolves services by id for a plugin or for the root. Implemented by the runtime.
pub trait ServiceResolver: Send + Sync {
    /// Returns the instance of service `id` for `plugin_id` (`None` for the root),
    /// creating it on first use. `chain` lists the services being constructed that
    /// led to this request, so that cycles can be reported.
    fn resolve(
        &self,
        id: &'static str,
        scope: ServiceScope,
        plugin_id: Option<String>,
        chain: Vec<&'static str>,
    ) -> BoxFuture<'_, Result<AnyService, BackendError>>;
}

/// What a service factory sees: which plugin it builds for, and a way to get its
/// own dependencies.
#[derive(Clone)]
pub struct ServiceContext {
    resolver: Arc<dyn ServiceResolver>,
    plugin_id: Option<String>,
    chain: Vec<&'static str>,
}

impl fmt::Debug for ServiceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceContext")
            .field("plugin_id", &self.plugin_id)
            .field("chain", &self.chain)
            .finish_non_exhaustive()
    }
}

impl ServiceContext {
    /// Made by the runtime for each factory call and each init.
    pub fn new(
        resolver: Arc<dyn ServiceResolver>,
        plugin_id: Option<String>,
        chain: Vec<&'static str>,
    ) -> Self {
        Self {
            resolver,
            plugin_id,
            chain,
        }
    }

    /// The plugin this context belongs to; `None` for root-scoped factories.
    pub fn plugin_id(&self) -> Option<&str> {
        self.plugin_id.as_deref()
    }

    /// The services under construction that led here, outermost first.
    pub fn chain(&self) -> &[&'static str] {
        &self.chain
    }

    /// Gets a service for this context's plugin (or the root service).
    pub async fn get<T: ?Sized + Send + Sync + 'static>(
        &self,
        service: &ServiceRef<T>,
    ) -> Result<Arc<T>, BackendError> {
        let any = self
            .resolver
            .resolve(
                service.id(),
                service.scope(),
                self.plugin_id.clone(),
                self.chain.clone(),
            )
            .await?;
        any.downcast_ref::<Arc<T>>().cloned().ok_or_else(|| {
            BackendError::internal(format!(
                "service {} was implemented with a different type than its reference declares",
                service.id()
            ))
        })
    }
}

type CreateFn =
    dyn Fn(ServiceContext) -> BoxFuture<'static, Result<AnyService, BackendError>> + Send + Sync;

/// An implementation of one service. Adding one to a backend replaces the default.
#[derive(Clone)]
pub struct ServiceFactory {
    id: &'static str,
    scope: ServiceScope,
    create: Arc<CreateFn>,
}

impl fmt::Debug for ServiceFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServiceFactory({}, {:?})", self.id, self.scope)
    }
}

impl ServiceFactory {
    /// A factory for `service`. For a plugin-scoped service `create` runs once per
    /// plugin that needs it; for a root-scoped one, once per backend.
    pub fn new<T, F, Fut>(service: ServiceRef<T>, create: F) -> Self
    where
        T: ?Sized + Send + Sync + 'static,
        F: Fn(ServiceContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Arc<T>, BackendError>> + Send + 'static,
    {
        let create = Arc::new(create);
        Self {
            id: service.id(),
            scope: service.scope(),
            create: Arc::new(move |ctx| {
                let create = Arc::clone(&create);
                Box::pin(async move {
                    let instance: Arc<T> = create(ctx).await?;
                    Ok(Arc::new(instance) as AnyService)
                })
            }),
        }
    }

    /// A root-scoped factory that always hands out the same instance.
    pub fn value<T: ?Sized + Send + Sync + 'static>(service: ServiceRef<T>, value: Arc<T>) -> Self {
        Self::new(service, move |_| {
            let value = Arc::clone(&value);
            async move { Ok(value) }
        })
    }

    pub fn id(&self) -> &'static str {
        self.id
    }

    pub fn scope(&self) -> ServiceScope {
        self.scope
    }

    /// Builds an instance. Called by the runtime only.
    pub fn create(
        &self,
        ctx: ServiceContext,
    ) -> BoxFuture<'static, Result<AnyService, BackendError>> {
        (self.create)(ctx)
    }
}

/// A typed reference to an extension point: a registration handle a plugin owns and
/// hands to its modules, e.g. `catalog.processing`.
pub struct ExtensionPointRef<T: ?Sized + 'static> {
    id: &'static str,
    marker: PhantomData<fn() -> Box<T>>,
}

impl<T: ?Sized + 'static> ExtensionPointRef<T> {
    pub const fn new(id: &'static str) -> Self {
        Self {
            id,
            marker: PhantomData,
        }
    }

    pub const fn id(&self) -> &'static str {
        self.id
    }
}

impl<T: ?Sized> Clone for ExtensionPointRef<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for ExtensionPointRef<T> {}

impl<T: ?Sized> fmt::Debug for ExtensionPointRef<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExtensionPointRef({})", self.id)
    }
}

/// An init function, boxed.
pub type InitFn =
    Box<dyn FnOnce(InitContext) -> BoxFuture<'static, Result<(), BackendError>> + Send>;

/// What a plugin's or module's init receives.
#[derive(Debug, Clone)]
pub struct InitContext {
    services: ServiceContext,
    extension_points: Arc<HashMap<&'static str, AnyService>>,
}

impl InitContext {
    /// Made by the runtime: `extension_points` are those of the target plugin, for
    /// modules, and empty for plugins.
    pub fn new(
        services: ServiceContext,
        extension_points: Arc<HashMap<&'static str, AnyService>>,
    ) -> Self {
        Self {
            services,
            extension_points,
        }
    }

    pub fn plugin_id(&self) -> &str {
        self.services.plugin_id().unwrap_or_default()
    }

    /// Gets a service for this plugin.
    pub async fn get<T: ?Sized + Send + Sync + 'static>(
        &self,
        service: &ServiceRef<T>,
    ) -> Result<Arc<T>, BackendError> {
        self.services.get(service).await
    }

    /// Gets an extension point of the plugin this module extends.
    pub fn extension_point<T: ?Sized + Send + Sync + 'static>(
        &self,
        point: &ExtensionPointRef<T>,
    ) -> Result<Arc<T>, BackendError> {
        let any = self.extension_points.get(point.id()).ok_or_else(|| {
            BackendError::internal(format!(
                "extension point {} is not provided by plugin '{}'",
                point.id(),
                self.plugin_id()
            ))
        })?;
        any.downcast_ref::<Arc<T>>().cloned().ok_or_else(|| {
            BackendError::internal(format!(
                "extension point {} was registered with a different type than its reference declares",
                point.id()
            ))
        })
    }
}

/// What a plugin's `register` function uses to declare its init and extension points.
#[derive(Default)]
pub struct PluginRegistrar {
    extension_points: Vec<(&'static str, AnyService)>,
    inits: Vec<InitFn>,
}

impl fmt::Debug for PluginRegistrar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginRegistrar")
            .field(
                "extension_points",
                &self
                    .extension_points
                    .iter()
                    .map(|(id, _)| id)
                    .collect::<Vec<_>>(),
            )
            .field("inits", &self.inits.len())
            .finish()
    }
}

impl PluginRegistrar {
    /// Offers `implementation` to this plugin's modules under `point`.
    pub fn register_extension_point<T: ?Sized + Send + Sync + 'static>(
        &mut self,
        point: ExtensionPointRef<T>,
        implementation: Arc<T>,
    ) {
        self.extension_points
            .push((point.id(), Arc::new(implementation) as AnyService));
    }

    /// Declares the init. Must be called exactly once; the runtime checks.
    pub fn register_init<F, Fut>(&mut self, init: F)
    where
        F: FnOnce(InitContext) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), BackendError>> + Send + 'static,
    {
        self.inits.push(Box::new(move |ctx| Box::pin(init(ctx))));
    }

    /// Takes the registrations apart. Called by the runtime only.
    pub fn into_parts(self) -> (Vec<(&'static str, AnyService)>, Vec<InitFn>) {
        (self.extension_points, self.inits)
    }
}

/// What a module's `register` function uses to declare its init.
#[derive(Default)]
pub struct ModuleRegistrar {
    inits: Vec<InitFn>,
}

impl fmt::Debug for ModuleRegistrar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModuleRegistrar")
            .field("inits", &self.inits.len())
            .finish()
    }
}

impl ModuleRegistrar {
    /// Declares the init. Must be called exactly once; the runtime checks.
    pub fn register_init<F, Fut>(&mut self, init: F)
    where
        F: FnOnce(InitContext) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), BackendError>> + Send + 'static,
    {
        self.inits.push(Box::new(move |ctx| Box::pin(init(ctx))));
    }

    /// Takes the registrations apart. Called by the runtime only.
    pub fn into_inits(self) -> Vec<InitFn> {
        self.inits
    }
}

type PluginRegisterFn = Box<dyn FnOnce(&mut PluginRegistrar) + Send>;
type ModuleRegisterFn = Box<dyn FnOnce(&mut ModuleRegistrar) + Send>;

/// A backend plugin: an id (letters, digits, `-`, `_`) and a register function.
pub struct BackendPlugin {
    id: String,
    register: PluginRegisterFn,
}

impl fmt::Debug for BackendPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BackendPlugin({})", self.id)
    }
}

impl BackendPlugin {
    pub fn new(
        id: impl Into<String>,
        register: impl FnOnce(&mut PluginRegistrar) + Send + 'static,
    ) -> Self {
        Self {
            id: id.into(),
            register: Box::new(register),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Runs the register function. Called by the runtime only.
    pub fn register(self) -> (String, PluginRegistrar) {
        let mut registrar = PluginRegistrar::default();
        (self.register)(&mut registrar);
        (self.id, registrar)
    }
}

/// A module: extends plugin `plugin_id` through its extension points.
pub struct BackendModule {
    plugin_id: String,
    module_id: String,
    register: ModuleRegisterFn,
}

impl fmt::Debug for BackendModule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BackendModule({}/{})", self.plugin_id, self.module_id)
    }
}

impl BackendModule {
    pub fn new(
        plugin_id: impl Into<String>,
        module_id: impl Into<String>,
        register: impl FnOnce(&mut ModuleRegistrar) + Send + 'static,
    ) -> Self {
        Self {
            plugin_id: plugin_id.into(),
            module_id: module_id.into(),
            register: Box::new(register),
        }
    }

    pub fn plugin_id(&self) -> &str {
        &self.plugin_id
    }

    pub fn module_id(&self) -> &str {
        &self.module_id
    }

    /// Runs the register function. Called by the runtime only.
    pub fn register(self) -> (String, String, ModuleRegistrar) {
        let mut registrar = ModuleRegistrar::default();
        (self.register)(&mut registrar);
        (self.plugin_id, self.module_id, registrar)
    }
}

/// Anything that can be added to a backend.
#[derive(Debug)]
pub enum BackendFeature {
    Plugin(BackendPlugin),
    Module(BackendModule),
    Service(ServiceFactory),
}

impl From<BackendPlugin> for BackendFeature {
    fn from(p: BackendPlugin) -> Self {
        Self::Plugin(p)
    }
}

impl From<BackendModule> for BackendFeature {
    fn from(m: BackendModule) -> Self {
        Self::Module(m)
    }
}

impl From<ServiceFactory> for BackendFeature {
    fn from(s: ServiceFactory) -> Self {
        Self::Service(s)
    }
}

/// Whether `id` is a valid plugin or module id: letters, digits, `-` and `_`,
/// starting with a letter.
pub fn is_valid_feature_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
