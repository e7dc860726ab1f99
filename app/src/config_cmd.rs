//! `greenroom config print` and `greenroom config check`.
//!
//! Both load the configuration exactly as `greenroom serve` will (files, merging,
//! substitutions, `APP_CONFIG_*` overrides). `check` then reads every setting that
//! Greenroom itself understands with its expected type, so a typo in a value
//! fails here, with the key path, instead of at start-up.

use std::path::PathBuf;
use std::process::ExitCode;

use greenroom_catalog_model::rules::CatalogRules;
use greenroom_config::{Config, LoadOptions, load};

use crate::output;

fn load_config(config_paths: Vec<PathBuf>) -> anyhow::Result<Config> {
    let options = LoadOptions::from_process(config_paths);
    Ok(load(&options)?)
}

pub(crate) fn print(
    config_paths: Vec<PathBuf>,
    with_secrets: bool,
    json_output: bool,
) -> anyhow::Result<ExitCode> {
    let config = load_config(config_paths)?;
    let value = if with_secrets {
        config.merged().clone()
    } else {
        config.masked()
    };
    let text = if json_output {
        let mut text = serde_json::to_string_pretty(&value)?;
        text.push('\n');
        text
    } else {
        serde_saphyr::to_string(&value)?
    };
    output::out(&text);
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn check(config_paths: Vec<PathBuf>) -> anyhow::Result<ExitCode> {
    let config = match load_config(config_paths) {
        Ok(config) => config,
        Err(e) => {
            output::error_line(&format!("error: {e:#}"));
            return Ok(ExitCode::from(1));
        }
    };
    let problems = check_known_settings(&config);
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

/// Reads each setting Greenroom understands and collects every failure.
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
