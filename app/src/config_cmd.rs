//! `greenroom config print`, `greenroom config check` and `greenroom config schema`.
//!
//! All load the configuration exactly as `greenroom serve` will (files, merging,
//! substitutions, `APP_CONFIG_*` overrides) and use the schemas that Greenroom's
//! core and its plugins declare ([`app_schema`]). `print` masks the values the
//! schemas mark `secret` (and those the key-name and `$env`/`$file` rules catch)
//! and can show only the `frontend` values. `check` validates the config against
//! the schemas and also reads every setting that Greenroom itself understands with
//! its expected type, so a typo in a value fails here, with the key path, instead
//! of at start-up.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use greenroom_catalog_model::rules::CatalogRules;
use greenroom_config::{
    Config, ConfigSchema, LoadOptions, SchemaError, Visibility, core_schema, load,
};

use crate::output;

/// How `config print` and `config check` load the configuration.
#[derive(Debug, Clone, Default)]
pub(crate) struct LoadArgs {
    /// The `--config` files, in order.
    pub(crate) config_paths: Vec<PathBuf>,
    /// `--lax`: unset environment variables read as `x` instead of removing keys.
    pub(crate) lax: bool,
}

/// The combined config schema of the app: the core keys and every plugin's own.
pub(crate) fn app_schema() -> anyhow::Result<ConfigSchema> {
    let plugins = [(
        "greenroom-plugin-announcements-backend",
        greenroom_plugin_announcements_backend::CONFIG_SCHEMA,
    )];
    let mut schemas = vec![core_schema()];
    for (name, json) in plugins {
        schemas.push(ConfigSchema::from_json(name, json)?);
    }
    Ok(ConfigSchema::combine(schemas)?)
}

fn load_config(args: &LoadArgs) -> anyhow::Result<Config> {
    let mut options = LoadOptions::from_process(args.config_paths.clone());
    options.lax = args.lax;
    Ok(load(&options)?)
}

/// What `config print` shows.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PrintArgs {
    /// `--with-secrets`: show secret values instead of `***`.
    pub(crate) with_secrets: bool,
    /// `--frontend`: only the values marked `frontend`.
    pub(crate) frontend: bool,
    /// `--format json`.
    pub(crate) json: bool,
}

pub(crate) fn print(load_args: &LoadArgs, args: PrintArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(load_args)?;
    let schema = app_schema()?;
    let value = if args.frontend {
        // Frontend values are never secret (a path cannot be both), so no
        // masking is needed on top of the filter.
        schema
            .process(config.merged())
            .frontend_only(config.merged())
    } else if args.with_secrets {
        config.merged().clone()
    } else {
        config.masked_with_schema(Some(&schema))
    };
    let text = if args.json {
        let mut text = serde_json::to_string_pretty(&value)?;
        text.push('\n');
        text
    } else {
        serde_saphyr::to_string(&value)?
    };
    output::out(&text);
    Ok(ExitCode::SUCCESS)
}

/// What `config check` looks at.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CheckArgs {
    /// `--frontend`: only report problems with values marked `frontend`.
    pub(crate) frontend: bool,
    /// `--deprecated`: warn about deprecated keys the config sets.
    pub(crate) deprecated: bool,
}

pub(crate) fn check(load_args: &LoadArgs, args: CheckArgs) -> anyhow::Result<ExitCode> {
    let config = match load_config(load_args) {
        Ok(config) => config,
        Err(e) => {
            output::error_line(&format!("error: {e:#}"));
            return Ok(ExitCode::from(1));
        }
    };
    let schema = app_schema()?;
    let report = schema.process(config.merged());
    let mut problems: Vec<String> = report
        .errors
        .iter()
        .filter(|e| !args.frontend || frontend_relevant(&schema, e))
        .map(ToString::to_string)
        .collect();
    if !args.frontend {
        problems.extend(check_known_settings(&config));
    }
    if args.deprecated {
        for deprecation in &report.deprecations {
            let mut line = format!(
                "warning: The configuration key '{}' is deprecated and may be removed soon.",
                deprecation.key
            );
            if !deprecation.description.is_empty() {
                line.push(' ');
                line.push_str(&deprecation.description);
            }
            output::error_line(&line);
        }
    }
    for problem in &problems {
        output::error_line(&format!("error: {problem}"));
    }
    if problems.is_empty() {
        output::out("configuration is valid\n");
        Ok(ExitCode::SUCCESS)
    } else {
        output::out(&format!(
            "{} configuration {}\n",
            problems.len(),
            if problems.len() == 1 {
                "error"
            } else {
                "errors"
            }
        ));
        Ok(ExitCode::from(1))
    }
}

/// Whether a schema error matters to the frontend, following Backstage: an
/// object or array in the wrong place always does (it may hide frontend
/// values); a missing property does when the schema marks it `frontend`;
/// anything else when the value itself is marked `frontend`.
fn frontend_relevant(schema: &ConfigSchema, error: &SchemaError) -> bool {
    match error {
        SchemaError::Invalid {
            keyword: "type",
            params,
            ..
        } if params == "type=object" || params == "type=array" => true,
        SchemaError::Invalid {
            keyword: "required",
            path,
            params,
            ..
        } => {
            let missing = params.strip_prefix("missingProperty=").unwrap_or(params);
            schema.visibility_of(&format!("{path}/{missing}")) == Visibility::Frontend
        }
        other => schema.visibility_of(other.path()) == Visibility::Frontend,
    }
}

/// `config schema`: the combined schema as one JSON Schema document.
pub(crate) fn print_schema(json: bool) -> anyhow::Result<ExitCode> {
    let schema = app_schema()?.to_json();
    let text = if json {
        let mut text = serde_json::to_string_pretty(&schema)?;
        text.push('\n');
        text
    } else {
        serde_saphyr::to_string(&schema).context("the schema could not be written as YAML")?
    };
    output::out(&text);
    Ok(ExitCode::SUCCESS)
}

/// Reads each setting Greenroom understands and collects every failure.
///
/// These complement the schema: they apply the reader's conversion rules (a
/// port must parse as a number, `listen` may not be a bare number) and check
/// the catalog rules, which a JSON schema cannot express.
pub(crate) fn check_known_settings(config: &Config) -> Vec<String> {
    let mut problems = Vec::new();
    let mut note = |result: Result<(), String>| {
        if let Err(e) = result {
            problems.push(e);
        }
    };
    note(
        config
            .get_optional_string("app.baseUrl")
            .map(drop)
            .map_err(|e| e.to_string()),
    );
    note(
        config
            .get_optional_string("backend.baseUrl")
            .map(drop)
            .map_err(|e| e.to_string()),
    );
    note(check_listen(config));
    note(check_one_of(
        config,
        "backend.database.client",
        &["better-sqlite3", "sqlite3", "pg"],
    ));
    note(check_one_of(
        config,
        "backend.cache.store",
        &["memory", "redis", "valkey", "memcache", "infinispan"],
    ));
    note(check_locations(config));
    note(check_rules(config));
    problems
}

fn check_listen(config: &Config) -> Result<(), String> {
    match config.get("backend.listen") {
        None | Some(serde_json::Value::String(_)) => config
            .get_optional_string("backend.listen")
            .map(drop)
            .map_err(|e| e.to_string()),
        Some(_) => {
            config
                .get_optional_number("backend.listen.port")
                .map_err(|e| e.to_string())?;
            config
                .get_optional_string("backend.listen.host")
                .map(drop)
                .map_err(|e| e.to_string())
        }
    }
}

fn check_one_of(config: &Config, key: &str, allowed: &[&str]) -> Result<(), String> {
    match config.get_optional_string(key).map_err(|e| e.to_string())? {
        Some(value) if !allowed.contains(&value.as_str()) => Err(format!(
            "Invalid value for config key '{key}': '{value}', expected one of {}",
            allowed.join(", ")
        )),
        _ => Ok(()),
    }
}

fn check_locations(config: &Config) -> Result<(), String> {
    let Some(locations) = config
        .get_optional_config_array("catalog.locations")
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    for location in &locations {
        location.get_string("type").map_err(|e| e.to_string())?;
        location.get_string("target").map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn check_rules(config: &Config) -> Result<(), String> {
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    CatalogRules::from_config(
        config.get("catalog.rules"),
        config.get("catalog.locations"),
        &cwd,
    )
    .map(drop)
    .map_err(|e| format!("Invalid catalog.rules: {e}"))
}
