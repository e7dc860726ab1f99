-- PostgreSQL only. Entity refs are compared by their bytes: they are keys, never
-- shown in a collated order, and the database's locale collation made every index
-- comparison on them a locale string comparison.
ALTER TABLE refresh_state ALTER COLUMN entity_ref TYPE TEXT COLLATE "C";
ALTER TABLE refresh_state_references
  ALTER COLUMN source_entity_ref TYPE TEXT COLLATE "C",
  ALTER COLUMN target_entity_ref TYPE TEXT COLLATE "C";
ALTER TABLE relations
  ALTER COLUMN source_entity_ref TYPE TEXT COLLATE "C",
  ALTER COLUMN target_entity_ref TYPE TEXT COLLATE "C";
ALTER TABLE stitch_queue ALTER COLUMN entity_ref TYPE TEXT COLLATE "C";
ALTER TABLE final_entities ALTER COLUMN entity_ref TYPE TEXT COLLATE "C";
ALTER TABLE change_log ALTER COLUMN entity_ref TYPE TEXT COLLATE "C";
-- Stitching reads (type, target) by source, as on SQLite (migration 4): with both
-- in the index, and the table's pages marked all-visible by the vacuum that ends a
-- bulk load, the read is answered from the index alone.
DROP INDEX IF EXISTS relations_source_entity_ref;
CREATE INDEX relations_source_entity_ref ON relations (source_entity_ref, type, target_entity_ref);
-- Relations carry no foreign key to their originating entity: checking one cost
-- as much as the rest of a relation row's insert. Every deletion of entities
-- removes their relations itself, after the entities, and a processing write
-- adds relations only for the entities its update found (and locked).
ALTER TABLE relations DROP CONSTRAINT IF EXISTS relations_originating_entity_id_fkey;
