//! What a Greenroom backend plugin codes against.
//!
//! A backend is assembled from [`BackendFeature`]s: plugins (an id and an init),
//! modules (which extend one plugin through its extension points and are
//! initialised before it) and service factories (implementations of a service
//! that an app may replace). Services are reached through typed
//! [`ServiceRef`]s with root or plugin scope, as in Backstage's backend system;
//! the core services' contracts live in [`services`]. The runtime that resolves
//! them, and the default implementations, live in `greenroom-backend-defaults`.

pub mod duration;
pub mod error;
pub mod feature;
pub mod http;
pub mod services;
pub mod time;

pub use error::{BackendError, ErrorName};
pub use feature::{
    AnyService, BackendFeature, BackendModule, BackendPlugin, BoxFuture, ExtensionPointRef,
    InitContext, ModuleRegistrar, PluginRegistrar, ServiceContext, ServiceFactory, ServiceRef,
    ServiceResolver, ServiceScope,
};
