//! processing (being written).
