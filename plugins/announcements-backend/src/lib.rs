//! The announcements backend plugin (`/api/announcements`): short notices that a
//! portal shows its users, such as "the catalog is read-only on Saturday".
//!
//! It exercises the whole backend platform on purpose: announcements live in
//! the plugin's own database (with its own migrations), the list is cached in
//! the plugin's cache namespace, and a global scheduled task deletes expired
//! announcements on exactly one instance at a time.
//!
//! Routes: `GET /announcements`, `POST /announcements`
//! (`{ title, body?, expiresAt? }`, RFC 3339 time), `GET /announcements/{id}` and
//! `DELETE /announcements/{id}`. Config: `announcements.expiry.frequency` and
//! `.timeout` (durations; default every minute, 30 s).

mod store;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use greenroom_backend_plugin_api::duration::{parse_duration, parse_frequency};
use greenroom_backend_plugin_api::http::{ApiError, Json};
use greenroom_backend_plugin_api::services::{
    CACHE, CacheService, DATABASE, Frequency, HTTP_ROUTER, LOGGER, ROOT_CONFIG, SCHEDULER,
    TaskDefinition, TaskScope,
};
use greenroom_backend_plugin_api::time;
use greenroom_backend_plugin_api::{BackendError, BackendPlugin};
use serde::Deserialize;
use serde_json::{Value, json};

pub use store::Announcement;
use store::Store;

/// The plugin id, and so the path under `/api`.
pub const PLUGIN_ID: &str = "announcements";
/// The plugin's config schema (JSON Schema, Backstage flavour): `announcements.expiry`.
pub const CONFIG_SCHEMA: &str = r##"{"type":"object","properties":{"announcements":{"type":"object","properties":{"expiry":{"type":"object","properties":{"frequency":{"type":["number","string","object"]},"timeout":{"type":["number","string","object"]}}}}}}}"##;
/// The id of the scheduled task that deletes expired announcements.
pub const EXPIRY_TASK_ID: &str = "announcements-expire";

/// The list is served from the cache for this long; writes clear it at once.
const LIST_CACHE_TTL: Duration = Duration::from_secs(30);
const LIST_CACHE_KEY: &str = "list";
const MAX_TITLE_CHARS: usize = 200;
const MAX_BODY_CHARS: usize = 10_000;

/// The plugin, to add to a backend.
pub fn plugin() -> BackendPlugin {
    BackendPlugin::new(PLUGIN_ID, |registrar| {
        registrar.register_init(|env| async move {
            let config = env.get(&ROOT_CONFIG).await?;
            let logger = env.get(&LOGGER).await?;
            let database = env.get(&DATABASE).await?;
            let db = database.client().await?;
            if !database.skip_migrations() {
                store::migrate(&db).await?;
            }
            let (frequency, timeout) = expiry_schedule(&config)?;
            let state = Arc::new(AppState {
                store: Store::new(db),
                cache: env.get(&CACHE).await?,
            });

            let task_state = Arc::clone(&state);
            env.get(&SCHEDULER)
                .await?
                .schedule_task(TaskDefinition {
                    id: EXPIRY_TASK_ID.to_owned(),
                    frequency,
                    timeout,
                    initial_delay: None,
                    scope: TaskScope::Global,
                    run: Arc::new(move |_cancel| {
                        let state = Arc::clone(&task_state);
                        let logger = logger.clone();
                        Box::pin(async move {
                            let removed = state.store.delete_expired(time::now_ms()).await?;
                            if removed > 0 {
                                state.cache.delete(LIST_CACHE_KEY).await;
                                logger.info(&format!("deleted {removed} expired announcements"));
                            }
                            Ok(())
                        })
                    }),
                })
                .await?;

            env.get(&HTTP_ROUTER).await?.use_router(router(state));
            Ok(())
        });
    })
}

/// `announcements.expiry`: how often expired announcements are swept.
fn expiry_schedule(
    config: &greenroom_config::Config,
) -> Result<(Frequency, Duration), BackendError> {
    let named = |key: &str, e: &dyn std::fmt::Display| {
        BackendError::config(format!("Invalid config at '{key}': {e}"))
    };
    let frequency = match config.get("announcements.expiry.frequency") {
        Some(value) => {
            parse_frequency(value).map_err(|e| named("announcements.expiry.frequency", &e))?
        }
        None => Frequency::Every(Duration::from_secs(60)),
    };
    let timeout = match config.get("announcements.expiry.timeout") {
        Some(value) => {
            parse_duration(value).map_err(|e| named("announcements.expiry.timeout", &e))?
        }
        None => Duration::from_secs(30),
    };
    Ok((frequency, timeout))
}

struct AppState {
    store: Store,
    cache: Arc<dyn CacheService>,
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/announcements", get(list).post(create))
        .route("/announcements/{id}", get(read).delete(remove))
        .with_state(state)
}

async fn list(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    if let Some(cached) = state.cache.get(LIST_CACHE_KEY).await {
        return Ok(Json(cached));
    }
    let now = time::now_ms();
    let live: Vec<Announcement> = state
        .store
        .list()
        .await?
        .into_iter()
        // An expired announcement is hidden at once, even before the sweep deletes it.
        .filter(|a| a.expires_at.is_none_or(|at| at > now))
        .collect();
    // The cached list must not outlive its first expiring announcement.
    let ttl = live
        .iter()
        .filter_map(|a| a.expires_at)
        .min()
        .map_or(LIST_CACHE_TTL, |at| {
            LIST_CACHE_TTL.min(Duration::from_millis(u64::try_from(at - now).unwrap_or(0)))
        });
    let items: Vec<Value> = live.iter().map(Announcement::to_json).collect();
    let body = json!({ "totalItems": items.len(), "items": items });
    state
        .cache
        .set(LIST_CACHE_KEY, body.clone(), Some(ttl))
        .await;
    Ok(Json(body))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewAnnouncement {
    title: String,
    #[serde(default)]
    body: String,
    expires_at: Option<String>,
}

async fn create(
    State(state): State<Arc<AppState>>,
    Json(input): Json<NewAnnouncement>,
) -> Result<impl IntoResponse, ApiError> {
    let title = input.title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
        return Err(BackendError::input(format!(
            "title must be 1 to {MAX_TITLE_CHARS} characters"
        ))
        .into());
    }
    if input.body.chars().count() > MAX_BODY_CHARS {
        return Err(BackendError::input(format!(
            "body must be at most {MAX_BODY_CHARS} characters"
        ))
        .into());
    }
    let expires_at = match &input.expires_at {
        Some(text) => Some(time::parse_rfc3339(text).ok_or_else(|| {
            BackendError::input(format!(
                "expiresAt must be an RFC 3339 time such as 2026-12-01T09:00:00Z, got '{text}'"
            ))
        })?),
        None => None,
    };
    let announcement = Announcement {
        id: store::new_id(),
        title: title.to_owned(),
        body: input.body,
        created_at: time::now_ms(),
        expires_at,
    };
    state.store.insert(&announcement).await?;
    state.cache.delete(LIST_CACHE_KEY).await;
    Ok((StatusCode::CREATED, Json(announcement.to_json())))
}

async fn read(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    match state.store.get(&id).await? {
        Some(announcement) => Ok(Json(announcement.to_json())),
        None => Err(BackendError::not_found(format!("No announcement with id {id}")).into()),
    }
}

async fn remove(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !state.store.delete(&id).await? {
        return Err(BackendError::not_found(format!("No announcement with id {id}")).into());
    }
    state.cache.delete(LIST_CACHE_KEY).await;
    Ok(StatusCode::NO_CONTENT)
}
