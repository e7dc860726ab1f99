//! The default root health service: liveness is always ok while HTTP is
//! served; readiness follows the backend's phase (§3.5).

use std::sync::Arc;

use greenroom_backend_plugin_api::services::{HealthResponse, RootHealthService};
use serde_json::json;

use crate::state::{BackendState, Phase};

/// `core.rootHealth` as Backstage answers it.
#[derive(Debug)]
pub struct DefaultRootHealth {
    state: Arc<BackendState>,
}

impl DefaultRootHealth {
    pub fn new(state: Arc<BackendState>) -> Self {
        Self { state }
    }
}

impl RootHealthService for DefaultRootHealth {
    fn liveness(&self) -> HealthResponse {
        HealthResponse {
            status: 200,
            payload: json!({ "status": "ok" }),
        }
    }

    fn readiness(&self) -> HealthResponse {
        match self.state.phase() {
            Phase::Started => HealthResponse {
                status: 200,
                payload: json!({ "status": "ok" }),
            },
            // Backstage uses the same text before startup and during shutdown.
            Phase::Starting | Phase::ShuttingDown => HealthResponse {
                status: 503,
                payload: json!({ "message": "Backend has not started yet", "status": "error" }),
            },
        }
    }
}
