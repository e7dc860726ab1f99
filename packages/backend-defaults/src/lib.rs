//! backend-defaults (being written).
