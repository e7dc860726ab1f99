-- Stitching reads (type, target) by source: with both in the index, SQLite
-- answers it from the index alone instead of fetching every relation row from
-- wherever its originating entity's processing put it.
DROP INDEX IF EXISTS relations_source_entity_ref;
CREATE INDEX relations_source_entity_ref ON relations (source_entity_ref, type, target_entity_ref);
