//! The Backstage catalog entity model, as a pure library: no I/O except through traits.
//!
//! It owns everything that can be decided from an entity's own text: YAML parsing
//! with positions ([`yaml`]), the envelope and field rules ([`entity`],
//! [`validation`]), the nine built-in kinds ([`kinds`]), entity and location
//! references ([`entity_ref`], [`location_ref`]), relation derivation
//! ([`relations`]), placeholder substitution through a reader trait
//! ([`placeholder`]), `catalog.rules` ([`rules`]) and the well-known annotations
//! ([`annotations`]). [`descriptor`] ties them together for one descriptor file.

pub mod annotations;
pub mod descriptor;
pub mod entity;
pub mod entity_ref;
pub mod kinds;
pub mod location;
pub mod location_ref;
pub mod placeholder;
pub mod problem;
pub mod relations;
pub mod rules;
pub mod validation;
pub mod yaml;

pub use problem::{FieldPath, PathSegment, Problem, ProblemKind};
