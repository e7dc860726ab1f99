//! backend-scheduler (being written).
