//! The catalog's read model: an in-memory index of final entities and Backstage's query language over it.
