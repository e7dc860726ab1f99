//! backend-database (being written).
