-- SQLite only (PostgreSQL dropped it in migration 5). Relations carry no foreign
-- key to their originating entity: SQLite checked it with a look-up in the
-- entities' primary key for every relation row written, and every deletion of
-- entities removes their relations itself. SQLite cannot drop a constraint, so
-- the table is made again without it.
CREATE TABLE relations_without_key (
  originating_entity_id TEXT NOT NULL,
  source_entity_ref TEXT NOT NULL,
  type TEXT NOT NULL,
  target_entity_ref TEXT NOT NULL
);
INSERT INTO relations_without_key (originating_entity_id, source_entity_ref, type, target_entity_ref)
  SELECT originating_entity_id, source_entity_ref, type, target_entity_ref FROM relations;
DROP TABLE relations;
ALTER TABLE relations_without_key RENAME TO relations;
CREATE INDEX relations_originating_entity_id ON relations (originating_entity_id);
CREATE INDEX relations_source_entity_ref ON relations (source_entity_ref, type, target_entity_ref);
