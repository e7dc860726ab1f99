//! Backstage-compatible `app-config` loading and reading for Greenroom.
//!
//! The crate turns a set of YAML files plus `APP_CONFIG_*` environment
//! variables into a layered [`Config`], following the rules of the backend
//! platform spec (§1):
//!
//! 1. [`load`] picks the files (the default `app-config*.yaml` set, or the
//!    `--config` arguments in order), reads each one, applies the `$env`,
//!    `$file` and `$include` directives and `${VAR}` substitution, and turns
//!    each file into one layer tagged with its file name.
//! 2. `APP_CONFIG_*` variables become one more layer, tagged `env`, with the
//!    highest priority.
//! 3. Layers are deep-merged: objects merge key by key, scalars and arrays
//!    from a higher layer replace lower ones, and an explicit `null` hides
//!    whatever lower layers say.
//! 4. [`Config`] reads typed values with Backstage's conversion rules and
//!    error wordings, and [`Config::masked`] prints the result with secrets
//!    hidden (see the `secrets` module for the rule).
//! 5. [`ConfigSchema`] validates the merged config against the JSON schemas
//!    packages declare and tells each value's visibility (`frontend`,
//!    `backend` or `secret`), which drives masking, frontend filtering and
//!    log redaction.
//!
//! Nothing reads the real process environment except
//! [`LoadOptions::from_process`]; everything else works on the injected
//! environment map, which keeps tests hermetic.

mod env_overrides;
mod error;
mod key;
mod layers;
mod load;
mod reader;
mod schema;
mod secrets;
mod substitute;
mod transform;
mod yaml;

pub use error::ConfigError;
pub use key::is_valid_key_segment;
pub use layers::deep_merge;
pub use load::{LoadOptions, MAX_CONFIG_FILE_BYTES, MAX_INCLUDE_DEPTH, load};
pub use reader::{Config, MIN_REDACTED_CHARS};
pub use schema::{
    CONFIG_SCHEMA_ID, ConfigSchema, Deprecation, MAX_SCHEMA_DEPTH, SchemaError, SchemaLoadError,
    SchemaReport, Visibility, core_schema,
};
pub use secrets::{MASK, SECRET_KEY_SUFFIXES, is_secret_key};
pub use substitute::substitute;
