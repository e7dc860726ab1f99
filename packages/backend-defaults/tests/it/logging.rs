//! `init_logging`: settings are checked and repeated calls are harmless.

use greenroom_backend_defaults::init_logging;
use greenroom_config::Config;
use serde_json::{Value, json};

fn check(case: &str, logger: Value, expected_error: Option<&str>) {
    let config = Config::from_value(json!({ "backend": { "logger": logger } })).expect("config");
    let got = init_logging(&config).err().map(|e| e.message);
    match expected_error {
        None => assert_eq!(got, None, "case {case}"),
        Some(fragment) => {
            let message = got.unwrap_or_else(|| panic!("case {case}: expected an error"));
            assert!(message.contains(fragment), "case {case}: {message}");
        }
    }
}

#[test]
fn logging_settings() {
    // The environment overrides configuration; these rows are about the
    // configuration, so they only hold when the environment is silent.
    let env_level = std::env::var("LOG_LEVEL").is_ok_and(|v| !v.trim().is_empty());
    let env_format = std::env::var("LOG_FORMAT").is_ok_and(|v| !v.trim().is_empty());
    check("G01 defaults", json!({}), None);
    check("G02 again, idempotent", json!({}), None);
    check("G03 text format", json!({ "format": "text" }), None);
    if !env_format {
        check(
            "G04 bad format",
            json!({ "format": "xml" }),
            Some("backend.logger.format"),
        );
    }
    if !env_level {
        check(
            "G05 bad level",
            json!({ "level": "loud" }),
            Some("backend.logger.level"),
        );
        check("G06 debug level", json!({ "level": "debug" }), None);
    }
}
