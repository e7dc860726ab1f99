//! backend-cache (being written).
