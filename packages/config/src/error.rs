//! The error type of the config crate, carrying Backstage's message wordings.

use std::path::PathBuf;

/// Everything that can go wrong while loading or reading configuration.
///
/// The `Display` texts follow Backstage's wordings so that messages read the
/// same to operators who know the original.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A mandatory config file (the default `app-config.yaml` or a `--config`
    /// argument) is not there.
    #[error("Config file \"{}\" does not exist", path.display())]
    FileMissing {
        /// Absolute path of the missing file.
        path: PathBuf,
    },

    /// A `--config` argument is an http(s) URL; remote config is not supported.
    #[error(
        "Config argument \"{url}\" looks like a URL but remote configuration is not enabled. Enable it by passing the `remote` option"
    )]
    RemoteNotEnabled {
        /// The argument as given.
        url: String,
    },

    /// A config file could not be read or is not an object at its root.
    #[error("Failed to read config file at \"{}\", {message}", path.display())]
    Read {
        /// Absolute path of the config file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },

    /// A config file is not valid YAML.
    #[error(
        "Failed to read config file at \"{}\", invalid YAML at line {line}, column {column}: {message}",
        path.display()
    )]
    Yaml {
        /// Absolute path of the config file.
        path: PathBuf,
        /// One-based line of the error.
        line: u64,
        /// One-based column of the error.
        column: u64,
        /// The parser's explanation.
        message: String,
    },

    /// A directive or substitution inside a config file failed.
    #[error("Failed to read config file at \"{}\", error at {at}, {detail}", path.display())]
    Transform {
        /// Absolute path of the top-level config file being loaded.
        path: PathBuf,
        /// Dotted path of the failing value, such as `.backend.https[0]`.
        at: String,
        /// What went wrong.
        detail: String,
    },

    /// An `APP_CONFIG_` variable name has an invalid segment.
    #[error("Invalid env config key '{key}'")]
    InvalidEnvKey {
        /// The variable name without the `APP_CONFIG_` prefix.
        key: String,
    },

    /// An `APP_CONFIG_` variable would nest under a non-object set by another.
    #[error("Could not nest config for key '{key}' under existing value '{existing}'")]
    EnvNestConflict {
        /// The variable name without the prefix.
        key: String,
        /// The shorter name that already holds a non-object.
        existing: String,
    },

    /// An `APP_CONFIG_` variable would replace a value set by another.
    #[error("Refusing to override existing config at key '{key}'")]
    EnvOverrideConflict {
        /// The variable name without the prefix.
        key: String,
    },

    /// An `APP_CONFIG_` value is JSON `null`.
    #[error("Failed to parse JSON-serialized config value for key '{key}', Error: {reason}")]
    EnvValue {
        /// The variable name without the prefix.
        key: String,
        /// Why the value was refused.
        reason: String,
    },

    /// A layer handed to [`crate::Config::from_layers`] is not an object.
    #[error("Config layer '{context}' is not an object at its root")]
    LayerNotObject {
        /// The layer's context.
        context: String,
    },

    /// A required value is absent.
    #[error("Missing required config value at '{key}' in '{context}'")]
    Missing {
        /// Full dotted key.
        key: String,
        /// Context of the highest-priority layer of the view.
        context: String,
    },

    /// A value has the wrong type for the getter.
    #[error("Invalid type in config for key '{key}' in '{context}', got {got}, wanted {wanted}")]
    InvalidType {
        /// Full dotted key, with `[i]` for array elements.
        key: String,
        /// Context of the layer the value came from.
        context: String,
        /// Type name of the value found (`string`, `empty-string`, `object`, ...).
        got: &'static str,
        /// What the getter wanted (`string`, `number`, `string-array`, ...).
        wanted: &'static str,
    },

    /// A string could not be converted to a number or boolean.
    #[error("Unable to convert config value for key '{key}' in '{context}' to a {wanted}")]
    Convert {
        /// Full dotted key.
        key: String,
        /// Context of the layer the value came from.
        context: String,
        /// `number` or `boolean`.
        wanted: &'static str,
    },

    /// A key passed to a reader has an invalid segment.
    #[error("Invalid config key '{key}'")]
    InvalidKey {
        /// The key as passed.
        key: String,
    },

    /// [`crate::Config::get_typed`] could not deserialize the value.
    #[error("Invalid config value at '{key}' in '{context}': {reason}")]
    Deserialize {
        /// Full dotted key.
        key: String,
        /// Context of the layer the value came from.
        context: String,
        /// serde's explanation.
        reason: String,
    },
}
