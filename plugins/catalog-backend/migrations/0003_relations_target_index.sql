-- Relations are looked up by their source (stitching) and by the entity that
-- produced them (processing, deletion); only the rare deletion of an entity asks
-- for relations aimed at it, and a scan serves that. Keeping a third index on
-- every relation row cost about a third of the relation writes of a bulk load.
DROP INDEX relations_target_entity_ref;
