//! The `catalog.service` service (Backstage's `catalogServiceRef`): the catalog's
//! API for other plugins, answered in process by the catalog's own router.
//!
//! The catalog plugin fills a per-backend [`CatalogRouterSlot`] with the router
//! it mounts under `/api/catalog`; every client handed out by
//! [`catalog_service_factory`] reads that slot. Plugins start in parallel, so a
//! caller may ask before the catalog has initialised: its calls wait for the slot,
//! up to a bound, then answer `ServiceUnavailableError`. When the backend has
//! started and no catalog filled the slot (no catalog plugin in this process),
//! calls go over HTTP to wherever the discovery service places the catalog.

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use async_trait::async_trait;
use greenroom_backend_plugin_api::services::{DISCOVERY, ROOT_LIFECYCLE, RootLifecycleService};
use greenroom_backend_plugin_api::{BackendError, InitContext, ServiceFactory, ServiceRef};
use greenroom_catalog_client::{CatalogApi, CatalogClient, CatalogTarget, RouterSource};
use tokio::sync::watch;

/// The catalog's API, in process (plugin-scoped, so that the HTTP fallback can
/// use the calling plugin's discovery).
pub const CATALOG_SERVICE: ServiceRef<dyn CatalogApi> = ServiceRef::plugin("catalog.service");

/// How long a call waits for the catalog to fill its slot by default.
pub const DEFAULT_CATALOG_WAIT: Duration = Duration::from_secs(60);

/// The state of one backend's slot.
#[derive(Debug, Clone)]
enum SlotState {
    /// Nothing yet: the catalog may still be initialising.
    Pending,
    /// The catalog's API router.
    Ready(axum::Router),
    /// The backend started and no catalog filled the slot.
    Absent,
}

/// Where one backend's catalog plugin leaves its API router for in-process callers.
#[derive(Debug)]
pub struct CatalogRouterSlot {
    state: watch::Sender<SlotState>,
}

/// One slot per running backend, keyed by the backend's root lifecycle
/// service: the factory and the catalog plugin both reach that service, and
/// each backend has exactly one. Entries of backends that are gone are pruned.
type SlotRegistry = Vec<(Weak<dyn RootLifecycleService>, Arc<CatalogRouterSlot>)>;
static SLOTS: Mutex<SlotRegistry> = Mutex::new(Vec::new());

impl CatalogRouterSlot {
    /// The slot of the backend `lifecycle` belongs to, created on first use.
    ///
    /// A new slot registers a startup hook (which runs once every plugin has
    /// initialised) that marks it absent when no catalog filled it.
    pub fn for_backend(lifecycle: &Arc<dyn RootLifecycleService>) -> Arc<CatalogRouterSlot> {
        let mut slots = SLOTS.lock().unwrap_or_else(PoisonError::into_inner);
        slots.retain(|(owner, _)| owner.strong_count() > 0);
        if let Some((_, slot)) = slots
            .iter()
            .find(|(owner, _)| std::ptr::addr_eq(owner.as_ptr(), Arc::as_ptr(lifecycle)))
        {
            return Arc::clone(slot);
        }
        let slot = Arc::new(CatalogRouterSlot {
            state: watch::Sender::new(SlotState::Pending),
        });
        slots.push((Arc::downgrade(lifecycle), Arc::clone(&slot)));
        drop(slots);
        let hook_slot = Arc::clone(&slot);
        lifecycle.add_startup_hook(Box::new(move || {
            Box::pin(async move {
                hook_slot.state.send_if_modified(|state| {
                    let pending = matches!(state, SlotState::Pending);
                    if pending {
                        *state = SlotState::Absent;
                    }
                    pending
                });
            })
        }));
        slot
    }

    /// The slot of the backend a plugin's init runs in.
    pub async fn for_init(env: &InitContext) -> Result<Arc<CatalogRouterSlot>, BackendError> {
        Ok(Self::for_backend(&env.get(&ROOT_LIFECYCLE).await?))
    }

    /// Called by the catalog plugin with the router it mounts; wakes every
    /// waiting caller.
    pub fn fill(&self, router: axum::Router) {
        self.state.send_replace(SlotState::Ready(router));
    }

    /// The router once filled; `None` after `wait`, or when the backend started
    /// without a catalog.
    async fn wait(&self, wait: Duration) -> Option<SlotState> {
        let mut receiver = self.state.subscribe();
        let found = tokio::time::timeout(
            wait,
            receiver.wait_for(|state| !matches!(state, SlotState::Pending)),
        )
        .await;
        match found {
            Ok(Ok(state)) => Some(state.clone()),
            _ => None,
        }
    }
}

/// What one plugin's in-process client reads: the backend's slot, and where
/// the catalog is over HTTP should the slot stay empty.
struct SlotSource {
    slot: Arc<CatalogRouterSlot>,
    fallback_url: Option<String>,
    wait: Duration,
}

#[async_trait]
impl RouterSource for SlotSource {
    async fn target(&self) -> Result<CatalogTarget, BackendError> {
        match self.slot.wait(self.wait).await {
            Some(SlotState::Ready(router)) => Ok(CatalogTarget::Router(router)),
            Some(SlotState::Absent) => match &self.fallback_url {
                Some(url) => Ok(CatalogTarget::Url(url.clone())),
                None => Err(BackendError::unavailable(
                    "The catalog is not installed in this backend and discovery has no URL for it",
                )),
            },
            Some(SlotState::Pending) | None => Err(BackendError::unavailable(format!(
                "The catalog did not become available within {} s",
                self.wait.as_secs_f64()
            ))),
        }
    }
}

/// The factory for [`CATALOG_SERVICE`]: in-process clients over the catalog's
/// router, each call waiting up to [`DEFAULT_CATALOG_WAIT`] for the catalog.
pub fn catalog_service_factory() -> ServiceFactory {
    catalog_service_factory_with_wait(DEFAULT_CATALOG_WAIT)
}

/// Like [`catalog_service_factory`], with another bound on the wait.
pub fn catalog_service_factory_with_wait(wait: Duration) -> ServiceFactory {
    ServiceFactory::new(CATALOG_SERVICE, move |ctx| async move {
        let slot = CatalogRouterSlot::for_backend(&ctx.get(&ROOT_LIFECYCLE).await?);
        // Discovery is only needed for the fallback; a backend without it still
        // gets the in-process client.
        let fallback_url = match ctx.get(&DISCOVERY).await {
            Ok(discovery) => discovery.base_url("catalog").ok(),
            Err(_) => None,
        };
        let source = SlotSource {
            slot,
            fallback_url,
            wait,
        };
        let client: Arc<dyn CatalogApi> = Arc::new(CatalogClient::in_process(Arc::new(source)));
        Ok(client)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(slot: &Arc<CatalogRouterSlot>, fallback: Option<&str>) -> SlotSource {
        SlotSource {
            slot: Arc::clone(slot),
            fallback_url: fallback.map(str::to_owned),
            wait: Duration::from_millis(50),
        }
    }

    fn pending() -> Arc<CatalogRouterSlot> {
        Arc::new(CatalogRouterSlot {
            state: watch::Sender::new(SlotState::Pending),
        })
    }

    #[tokio::test]
    async fn an_empty_slot_answers_unavailable_after_the_wait() {
        let error = source(&pending(), Some("http://x"))
            .target()
            .await
            .unwrap_err();
        assert_eq!(
            error.name,
            greenroom_backend_plugin_api::ErrorName::ServiceUnavailableError
        );
    }

    #[tokio::test]
    async fn a_waiting_call_gets_the_router_once_filled() {
        let slot = pending();
        let waiting = {
            let source = SlotSource {
                wait: Duration::from_secs(30),
                ..source(&slot, None)
            };
            tokio::spawn(async move { source.target().await })
        };
        slot.fill(axum::Router::new());
        let target = waiting.await.expect("joined").expect("a target");
        assert!(matches!(target, CatalogTarget::Router(_)));
    }

    #[tokio::test]
    async fn an_absent_catalog_goes_to_discovery_or_is_unavailable() {
        let slot = pending();
        slot.state.send_replace(SlotState::Absent);
        let target = source(&slot, Some("http://cat/api/catalog")).target().await;
        assert!(matches!(target, Ok(CatalogTarget::Url(u)) if u == "http://cat/api/catalog"));
        let error = source(&slot, None).target().await.unwrap_err();
        assert!(error.message.contains("not installed"), "{}", error.message);
    }
}
