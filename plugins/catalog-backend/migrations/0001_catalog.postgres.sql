-- The catalog's tables (PostgreSQL). Names follow Backstage's so that its
-- documentation reads true; every time is milliseconds since the Unix epoch.

-- Locations registered through the API (config locations are not stored).
CREATE TABLE locations (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  target TEXT NOT NULL,
  entity_ref TEXT NOT NULL,
  UNIQUE (type, target)
);

-- One row per known entity: the work queue of the processing loop.
CREATE TABLE refresh_state (
  entity_id TEXT PRIMARY KEY,
  entity_ref TEXT NOT NULL UNIQUE,
  unprocessed_entity TEXT NOT NULL,
  unprocessed_hash TEXT NOT NULL,
  processed_entity TEXT,
  result_hash TEXT,
  cache TEXT,
  errors TEXT,
  location_key TEXT,
  next_update_at BIGINT NOT NULL,
  last_discovery_at BIGINT NOT NULL
);
CREATE INDEX refresh_state_next_update_at ON refresh_state (next_update_at);

-- Ownership edges of the processing graph: provider -> root, parent -> child.
CREATE TABLE refresh_state_references (
  id BIGSERIAL PRIMARY KEY,
  source_key TEXT,
  source_entity_ref TEXT,
  target_entity_ref TEXT NOT NULL
);
CREATE INDEX refresh_state_references_source_key ON refresh_state_references (source_key);
CREATE INDEX refresh_state_references_source_entity_ref ON refresh_state_references (source_entity_ref);
CREATE INDEX refresh_state_references_target_entity_ref ON refresh_state_references (target_entity_ref);

-- Relation edges, with the entity whose processing produced them.
CREATE TABLE relations (
  originating_entity_id TEXT NOT NULL REFERENCES refresh_state (entity_id) ON DELETE CASCADE,
  source_entity_ref TEXT NOT NULL,
  type TEXT NOT NULL,
  target_entity_ref TEXT NOT NULL
);
CREATE INDEX relations_originating_entity_id ON relations (originating_entity_id);
CREATE INDEX relations_source_entity_ref ON relations (source_entity_ref);
CREATE INDEX relations_target_entity_ref ON relations (target_entity_ref);

-- Keys (such as url:<target>) whose refresh reprocesses an entity.
CREATE TABLE refresh_keys (
  entity_id TEXT NOT NULL REFERENCES refresh_state (entity_id) ON DELETE CASCADE,
  key TEXT NOT NULL
);
CREATE INDEX refresh_keys_entity_id ON refresh_keys (entity_id);
CREATE INDEX refresh_keys_key ON refresh_keys (key);

-- Entity refs waiting to be stitched; one row per ref, so work is deduplicated.
CREATE TABLE stitch_queue (
  entity_ref TEXT PRIMARY KEY,
  next_stitch_at BIGINT NOT NULL,
  stitch_ticket TEXT
);
CREATE INDEX stitch_queue_next_stitch_at ON stitch_queue (next_stitch_at);

-- The stitched entities served by the API.
CREATE TABLE final_entities (
  entity_id TEXT PRIMARY KEY REFERENCES refresh_state (entity_id) ON DELETE CASCADE,
  entity_ref TEXT NOT NULL UNIQUE,
  hash TEXT NOT NULL,
  final_entity TEXT NOT NULL,
  last_updated_at BIGINT NOT NULL
);

-- Every change to a final entity, in commit order: what in-memory indexes follow.
CREATE TABLE change_log (
  seq BIGSERIAL PRIMARY KEY,
  entity_ref TEXT NOT NULL,
  entity_id TEXT,
  op TEXT NOT NULL,
  hash TEXT,
  changed_at BIGINT NOT NULL
);
