//! TODO: location_ref
