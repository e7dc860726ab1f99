//! The two built-in providers (spec §8.3): `catalog.locations` from config, and
//! the store of locations registered through the API (the `locations` table),
//! each emitting generated Location entities; and connecting every provider.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use greenroom_backend_plugin_api::BackendError;
use greenroom_catalog_model::annotations::ANNOTATION_MANAGED_BY_ORIGIN_LOCATION;
use greenroom_catalog_model::entity_ref::{RefDefaults, parse_entity_ref};
use greenroom_catalog_model::location::{LocationSpec, Presence, generated_location_entity};
use greenroom_catalog_model::location_ref::generated_location_name;
use greenroom_config::Config;
use greenroom_plugin_catalog_node::{
    DeferredEntity, EntityMutation, EntityProvider, EntityProviderConnection, RemovedEntity,
};
use serde::Serialize;
use serde_json::Value;

use super::mutations::ProviderConnection;
use super::sql::{Arg, col, exec_pool, fetch_pool, opt};
use crate::engine::CatalogEngine;

/// The provider name (`source_key`) of `catalog.locations`.
pub const CONFIG_PROVIDER_NAME: &str = "ConfigLocationProvider";
/// The provider name (`source_key`) of the registered-location store.
pub const LOCATION_STORE_NAME: &str = "DefaultLocationStore";

/// A location registered through the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocationRow {
    pub id: String,
    #[serde(rename = "type")]
    pub location_type: String,
    pub target: String,
    /// The ref of its generated Location entity, kept across updates.
    #[serde(rename = "entityRef")]
    pub entity_ref: String,
    /// Whether the target must exist; not part of Backstage's wire shape.
    #[serde(skip)]
    pub presence: Presence,
}

/// Reads `catalog.locations` as `(type, target)`, `file` targets made absolute.
pub(crate) fn config_locations(
    config: &Config,
    cwd: &Path,
) -> Result<Vec<(String, String)>, BackendError> {
    let mut out = Vec::new();
    for entry in config
        .get_optional_config_array("catalog.locations")?
        .unwrap_or_default()
    {
        let location_type = entry.get_string("type")?;
        let mut target = entry.get_string("target")?;
        if location_type == "file" {
            let joined = cwd.join(&target);
            target = normalize(&joined).to_string_lossy().into_owned();
        }
        out.push((location_type, target));
    }
    Ok(out)
}

fn normalize(path: &Path) -> std::path::PathBuf {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(out.components().next_back(), Some(Component::Normal(_))) {
                    out.pop();
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The generated Location entity of a location, as a provider emits it.
fn location_entity(
    location_type: &str,
    target: &str,
    presence: Presence,
    name: Option<&str>,
) -> DeferredEntity {
    let spec = LocationSpec {
        location_type: location_type.to_owned(),
        target: target.to_owned(),
        presence,
    };
    let mut entity = generated_location_entity(&spec);
    if let Some(name) = name
        && let Some(slot) = entity.pointer_mut("/metadata/name")
    {
        *slot = Value::String(name.to_owned());
    }
    DeferredEntity {
        entity,
        location_key: Some(format!("{location_type}:{target}")),
    }
}

/// The name part of a stored `location:default/<name>` ref.
fn name_of(entity_ref: &str) -> Option<&str> {
    entity_ref.rsplit_once('/').map(|(_, name)| name)
}

/// Provides `catalog.locations`: a full mutation of their Location entities.
#[derive(Debug, Clone)]
pub struct ConfigLocationProvider {
    locations: Vec<(String, String)>,
}

impl ConfigLocationProvider {
    /// A provider for `(type, target)` pairs (file targets already absolute).
    pub fn new(locations: Vec<(String, String)>) -> Self {
        Self { locations }
    }

    fn mutation(&self) -> EntityMutation {
        EntityMutation::Full {
            entities: self
                .locations
                .iter()
                .map(|(t, target)| location_entity(t, target, Presence::Required, None))
                .collect(),
        }
    }
}

#[async_trait]
impl EntityProvider for ConfigLocationProvider {
    fn name(&self) -> &str {
        CONFIG_PROVIDER_NAME
    }

    async fn connect(
        &self,
        connection: Arc<dyn EntityProviderConnection>,
    ) -> Result<(), BackendError> {
        connection.apply_mutation(self.mutation()).await
    }
}

/// The store of registered locations; a handle over the engine.
#[derive(Debug, Clone)]
pub struct DefaultLocationStore {
    engine: Arc<CatalogEngine>,
}

impl DefaultLocationStore {
    pub fn new(engine: Arc<CatalogEngine>) -> Self {
        Self { engine }
    }

    pub async fn add_location(
        &self,
        location_type: &str,
        target: &str,
        presence: Option<Presence>,
    ) -> Result<LocationRow, BackendError> {
        self.engine
            .add_location(location_type, target, presence)
            .await
    }

    pub async fn remove_location(&self, id: &str) -> Result<(), BackendError> {
        self.engine.remove_location(id).await
    }

    pub async fn list_locations(&self) -> Result<Vec<LocationRow>, BackendError> {
        self.engine.list_locations().await
    }

    pub async fn get_location(&self, id: &str) -> Result<LocationRow, BackendError> {
        self.engine.get_location(id).await
    }

    pub async fn update_location(
        &self,
        id: &str,
        location_type: &str,
        target: &str,
    ) -> Result<LocationRow, BackendError> {
        self.engine.update_location(id, location_type, target).await
    }

    pub async fn location_by_entity(&self, entity_ref: &str) -> Result<LocationRow, BackendError> {
        self.engine.location_by_entity(entity_ref).await
    }
}

#[async_trait]
impl EntityProvider for DefaultLocationStore {
    fn name(&self) -> &str {
        LOCATION_STORE_NAME
    }

    async fn connect(
        &self,
        connection: Arc<dyn EntityProviderConnection>,
    ) -> Result<(), BackendError> {
        let rows = self.engine.list_locations().await?;
        let entities = rows
            .iter()
            .map(|row| {
                location_entity(
                    &row.location_type,
                    &row.target,
                    row.presence,
                    name_of(&row.entity_ref),
                )
            })
            .collect();
        connection
            .apply_mutation(EntityMutation::Full { entities })
            .await
    }
}

fn row(values: &[Option<String>]) -> LocationRow {
    LocationRow {
        id: col(values, 0),
        location_type: col(values, 1),
        target: col(values, 2),
        entity_ref: col(values, 3),
        presence: match opt(values, 4).as_deref() {
            Some("optional") => Presence::Optional,
            _ => Presence::Required,
        },
    }
}

const COLUMNS: &str = "id, type, target, entity_ref, presence";

impl CatalogEngine {
    /// Connects the providers: the config locations and the location store (each a
    /// full mutation now), then every provider added by modules.
    pub async fn connect_providers(self: &Arc<Self>) -> Result<(), BackendError> {
        let builtin: [Arc<dyn EntityProvider>; 2] = [
            Arc::new(ConfigLocationProvider::new(self.config_locations.clone())),
            Arc::new(DefaultLocationStore::new(self.clone())),
        ];
        for provider in builtin.iter().chain(self.providers.iter()) {
            let connection = Arc::new(ProviderConnection::new(self, provider.name()));
            provider.connect(connection).await?;
        }
        Ok(())
    }

    /// A handle on the registered-location store.
    pub fn location_store(self: &Arc<Self>) -> DefaultLocationStore {
        DefaultLocationStore::new(self.clone())
    }

    /// Registers a location and adds its Location entity (a delta mutation).
    pub async fn add_location(
        &self,
        location_type: &str,
        target: &str,
        presence: Option<Presence>,
    ) -> Result<LocationRow, BackendError> {
        let exists = fetch_pool(
            &self.db,
            "SELECT id FROM locations WHERE type = $1 AND target = $2".to_owned(),
            vec![Arg::from(location_type), Arg::from(target)],
            1,
        )
        .await?;
        if !exists.is_empty() {
            return Err(BackendError::conflict(format!(
                "Location {location_type}:{target} already exists"
            )));
        }
        let row = LocationRow {
            id: uuid::Uuid::new_v4().to_string(),
            location_type: location_type.to_owned(),
            target: target.to_owned(),
            entity_ref: format!(
                "location:default/{}",
                generated_location_name(location_type, target)
            ),
            presence: presence.unwrap_or_default(),
        };
        exec_pool(
            &self.db,
            "INSERT INTO locations (id, type, target, entity_ref, presence) VALUES ($1, $2, $3, $4, $5)"
                .to_owned(),
            vec![
                Arg::from(&row.id),
                Arg::from(&row.location_type),
                Arg::from(&row.target),
                Arg::from(&row.entity_ref),
                Arg::from(row.presence.as_str()),
            ],
        )
        .await
        .map_err(|e| match e.name {
            // A concurrent registration of the same pair hit the unique constraint.
            greenroom_backend_plugin_api::ErrorName::Error => {
                BackendError::conflict(format!("Location {location_type}:{target} already exists"))
            }
            _ => e,
        })?;
        let added = location_entity(
            location_type,
            target,
            row.presence,
            name_of(&row.entity_ref),
        );
        self.apply_mutation(
            LOCATION_STORE_NAME,
            EntityMutation::Delta {
                added: vec![added],
                removed: Vec::new(),
            },
        )
        .await?;
        Ok(row)
    }

    /// Unregisters a location; its Location entity and everything only it
    /// produced are deleted at once.
    pub async fn remove_location(&self, id: &str) -> Result<(), BackendError> {
        let row = self.get_location(id).await?;
        exec_pool(
            &self.db,
            "DELETE FROM locations WHERE id = $1".to_owned(),
            vec![Arg::from(id)],
        )
        .await?;
        self.apply_mutation(
            LOCATION_STORE_NAME,
            EntityMutation::Delta {
                added: Vec::new(),
                removed: vec![RemovedEntity::Ref {
                    entity_ref: row.entity_ref,
                    location_key: Some(format!("{}:{}", row.location_type, row.target)),
                }],
            },
        )
        .await
    }

    /// Every registered location (rows of the legacy type `bootstrap` excluded), by id.
    pub async fn list_locations(&self) -> Result<Vec<LocationRow>, BackendError> {
        let rows = fetch_pool(
            &self.db,
            format!("SELECT {COLUMNS} FROM locations WHERE type <> 'bootstrap' ORDER BY id"),
            Vec::new(),
            5,
        )
        .await?;
        Ok(rows.iter().map(|r| row(r)).collect())
    }

    /// One registered location; `NotFoundError` when the id is unknown.
    pub async fn get_location(&self, id: &str) -> Result<LocationRow, BackendError> {
        let rows = fetch_pool(
            &self.db,
            format!("SELECT {COLUMNS} FROM locations WHERE id = $1"),
            vec![Arg::from(id)],
            5,
        )
        .await?;
        rows.first()
            .map(|r| row(r))
            .ok_or_else(|| BackendError::not_found(format!("Found no location with ID {id}")))
    }

    /// Changes a location's type and target; its Location entity keeps its ref
    /// and is re-emitted with the new spec.
    pub async fn update_location(
        &self,
        id: &str,
        location_type: &str,
        target: &str,
    ) -> Result<LocationRow, BackendError> {
        let current = self.get_location(id).await?;
        let clash = fetch_pool(
            &self.db,
            "SELECT id FROM locations WHERE type = $1 AND target = $2 AND id <> $3".to_owned(),
            vec![Arg::from(location_type), Arg::from(target), Arg::from(id)],
            1,
        )
        .await?;
        if !clash.is_empty() {
            return Err(BackendError::conflict(format!(
                "Location {location_type}:{target} already exists"
            )));
        }
        exec_pool(
            &self.db,
            "UPDATE locations SET type = $1, target = $2 WHERE id = $3".to_owned(),
            vec![Arg::from(location_type), Arg::from(target), Arg::from(id)],
        )
        .await?;
        let added = location_entity(
            location_type,
            target,
            current.presence,
            name_of(&current.entity_ref),
        );
        self.apply_mutation(
            LOCATION_STORE_NAME,
            EntityMutation::Delta {
                added: vec![added],
                removed: Vec::new(),
            },
        )
        .await?;
        Ok(LocationRow {
            location_type: location_type.to_owned(),
            target: target.to_owned(),
            ..current
        })
    }

    /// The registered location an entity came from, through its
    /// `backstage.io/managed-by-origin-location` (spec §7.18).
    pub async fn location_by_entity(&self, entity_ref: &str) -> Result<LocationRow, BackendError> {
        let canonical = parse_entity_ref(entity_ref, RefDefaults::default())
            .map(|r| r.to_canonical())
            .unwrap_or_else(|_| entity_ref.to_lowercase());
        let rows = fetch_pool(
            &self.db,
            "SELECT COALESCE(processed_entity, unprocessed_entity) FROM refresh_state WHERE entity_ref = $1".to_owned(),
            vec![Arg::from(&canonical)],
            1,
        )
        .await?;
        let Some(text) = rows.first().map(|r| col(r, 0)) else {
            return Err(BackendError::not_found(format!(
                "found no entity for ref {canonical}"
            )));
        };
        let entity: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let origin = entity
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(ANNOTATION_MANAGED_BY_ORIGIN_LOCATION))
            .and_then(Value::as_str)
            .and_then(|o| o.split_once(':'));
        let Some((location_type, target)) = origin else {
            return Err(BackendError::not_found(format!(
                "found no origin annotation for ref {canonical}"
            )));
        };
        let rows = fetch_pool(
            &self.db,
            format!("SELECT {COLUMNS} FROM locations WHERE type = $1 AND target = $2"),
            vec![Arg::from(location_type), Arg::from(target)],
            5,
        )
        .await?;
        rows.first().map(|r| row(r)).ok_or_else(|| {
            BackendError::not_found(format!(
                "Found no location with type {location_type} and target {target}"
            ))
        })
    }
}
