//! `greenroom config print` and `greenroom config check`.

use serde_json::Value;

use crate::{greenroom, repo_root, stderr, stdout, temp_dir};

#[test]
fn print_masks_secrets_and_merges_files() {
    let dir = temp_dir("print");
    std::fs::write(
        dir.join("base.yaml"),
        "backend:\n  baseUrl: http://localhost:7007\n  database:\n    client: pg\n    connection:\n      host: db\n      password: hunter2\nlist: [1, 2]\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("prod.yaml"),
        "backend:\n  baseUrl: https://portal.example.net\nlist: [3]\n",
    )
    .expect("write");
    let args = [
        "config",
        "print",
        "--format",
        "json",
        "--config",
        "base.yaml",
        "--config",
        "prod.yaml",
    ];
    let out = greenroom(&dir, &args, None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let printed: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(printed["backend"]["baseUrl"], "https://portal.example.net");
    assert_eq!(printed["backend"]["database"]["connection"]["host"], "db");
    assert_eq!(printed["list"], serde_json::json!([3]));
    assert_ne!(
        printed["backend"]["database"]["connection"]["password"],
        "hunter2"
    );
    assert!(!stdout(&out).contains("hunter2"));

    let mut with = args.to_vec();
    with.push("--with-secrets");
    let out = greenroom(&dir, &with, None);
    assert!(stdout(&out).contains("hunter2"));
}

#[test]
fn check_accepts_the_embedded_defaults() {
    let out = greenroom(&repo_root(), &["config", "check"], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}

#[test]
fn check_names_the_bad_key() {
    let dir = temp_dir("check");
    std::fs::write(
        dir.join("app-config.yaml"),
        "backend:\n  listen:\n    port: not-a-port\n  cache:\n    store: floppy\n",
    )
    .expect("write");
    let out = greenroom(&dir, &["config", "check"], None);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("backend.listen.port"), "{err}");
    assert!(err.contains("backend.cache.store"), "{err}");
}

#[test]
fn check_fails_on_a_missing_config_file() {
    let dir = temp_dir("missing");
    let out = greenroom(&dir, &["config", "check", "--config", "nope.yaml"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
}

/// A config with secrets only the schema knows about, frontend values and
/// ordinary backend values.
const SCHEMA_CONFIG: &str = "\
app:
  title: Portal
  baseUrl: http://localhost:3000
organization:
  name: Acme
backend:
  baseUrl: http://localhost:7007
  listen:
    port: 7007
  database:
    client: pg
    connection: postgres://svc:conn-string-pass@db/portal
  cache:
    store: redis
    connection: redis://cache-user:redis-pass-9@cache:6379
integrations:
  gitlab:
    - host: gitlab.example.net
      apiBaseUrl: https://gitlab.example.net/api/v4
auth:
  providers:
    github:
      development:
        clientId: client-id-1
        clientSecret: provider-secret-7
";

/// Runs `config print --format json` with extra arguments and parses stdout.
fn print_json(dir: &std::path::Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "config", "print", "--format", "json", "--config", "app.yaml",
    ];
    args.extend_from_slice(extra);
    let out = greenroom(dir, &args, None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).expect("JSON")
}

#[test]
fn print_masks_values_the_schema_marks_secret() {
    let dir = temp_dir("print-schema");
    std::fs::write(dir.join("app.yaml"), SCHEMA_CONFIG).expect("write");
    let printed = print_json(&dir, &[]);
    let rows = [
        // Only the schema says these are secret: their key names are innocent.
        (
            "P01 database connection string",
            "/backend/database/connection",
            "***",
        ),
        ("P02 cache connection", "/backend/cache/connection", "***"),
        (
            "P03 provider client secret",
            "/auth/providers/github/development/clientSecret",
            "***",
        ),
        ("P04 backend value kept", "/backend/cache/store", "redis"),
        ("P05 frontend value kept", "/app/title", "Portal"),
        (
            "P06 client id kept",
            "/auth/providers/github/development/clientId",
            "client-id-1",
        ),
    ];
    for (case, pointer, expected) in rows {
        assert_eq!(
            printed.pointer(pointer).and_then(Value::as_str),
            Some(expected),
            "case {case}: {printed}"
        );
    }
    let text = printed.to_string();
    for secret in ["conn-string-pass", "redis-pass-9", "provider-secret-7"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    let with = print_json(&dir, &["--with-secrets"]);
    assert_eq!(
        with["auth"]["providers"]["github"]["development"]["clientSecret"],
        "provider-secret-7"
    );
    assert_eq!(
        with["backend"]["cache"]["connection"],
        "redis://cache-user:redis-pass-9@cache:6379"
    );
}

#[test]
fn print_frontend_shows_only_frontend_values() {
    let dir = temp_dir("print-frontend");
    std::fs::write(dir.join("app.yaml"), SCHEMA_CONFIG).expect("write");
    let printed = print_json(&dir, &["--frontend"]);
    assert_eq!(
        printed,
        serde_json::json!({
            "app": { "title": "Portal", "baseUrl": "http://localhost:3000" },
            "organization": { "name": "Acme" },
            "backend": { "baseUrl": "http://localhost:7007" }
        })
    );
    // Even with --with-secrets, --frontend never shows a secret.
    let printed = print_json(&dir, &["--frontend", "--with-secrets"]);
    assert!(!printed.to_string().contains("provider-secret-7"));
}

/// `(case id, arguments, environment, exit code, stderr fragments)`.
type CheckRow<'a> = (
    &'a str,
    Vec<&'a str>,
    Vec<(&'a str, &'a str)>,
    i32,
    Vec<&'a str>,
);

/// Runs `config check` in `dir` with `env` set and returns (exit code, stderr).
fn run_check(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_greenroom"));
    command
        .arg("config")
        .arg("check")
        .args(args)
        .current_dir(dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("APP_CONFIG_") || key == "BACKSTAGE_ENV" || key.starts_with("GR_TEST_") {
            command.env_remove(key);
        }
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let out = command.output().expect("greenroom runs");
    (out.status.code(), stderr(&out))
}

#[test]
fn check_exit_codes_follow_the_schema() {
    let dir = temp_dir("check-schema");
    let files = [
        ("valid.yaml", "backend:\n  baseUrl: http://localhost:7007\n"),
        ("no-base.yaml", "backend:\n  listen: ':7007'\n"),
        (
            "env-base.yaml",
            "backend:\n  baseUrl: ${GR_TEST_BASE_URL}\n",
        ),
        (
            "bad-client.yaml",
            "backend:\n  baseUrl: http://x\n  database:\n    client: mysql\n  listen:\n    host: [a]\n",
        ),
        (
            "plugin.yaml",
            "backend:\n  baseUrl: http://x\nannouncements:\n  expiry:\n    frequency: [1]\n",
        ),
        (
            "deprecated.yaml",
            "backend:\n  baseUrl: http://x\n  auth:\n    keys:\n      - secret: abcdefgh\n",
        ),
    ];
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("write");
    }
    let rows: Vec<CheckRow<'_>> = vec![
        (
            "K01 valid",
            vec!["--config", "valid.yaml"],
            vec![],
            0,
            vec![],
        ),
        (
            "K02 missing required property names the path",
            vec!["--config", "no-base.yaml"],
            vec![],
            1,
            vec![
                "Config must have required property 'baseUrl' { missingProperty=baseUrl } at /backend",
            ],
        ),
        (
            "K03 unset variable removes the key",
            vec!["--config", "env-base.yaml"],
            vec![],
            1,
            vec!["missingProperty=baseUrl"],
        ),
        (
            "K04 --lax tolerates the unset variable",
            vec!["--lax", "--config", "env-base.yaml"],
            vec![],
            0,
            vec![],
        ),
        (
            "K05 set variable",
            vec!["--config", "env-base.yaml"],
            vec![("GR_TEST_BASE_URL", "http://h")],
            0,
            vec![],
        ),
        (
            "K06 every error is listed with its path",
            vec!["--config", "bad-client.yaml"],
            vec![],
            1,
            vec![
                "allowedValues=better-sqlite3,sqlite3,pg } at /backend/database/client",
                "Config must be string { type=string } at /backend/listen/host",
            ],
        ),
        (
            "K07 --frontend ignores backend-only problems",
            vec!["--frontend", "--config", "bad-client.yaml"],
            vec![],
            0,
            vec![],
        ),
        (
            "K08 --frontend still reports a missing frontend value",
            vec!["--frontend", "--config", "no-base.yaml"],
            vec![],
            1,
            vec!["missingProperty=baseUrl } at /backend"],
        ),
        (
            "K09 --deprecated warns without failing",
            vec!["--deprecated", "--config", "deprecated.yaml"],
            vec![],
            0,
            vec!["'backend.auth.keys' is deprecated"],
        ),
        (
            "K10 a plugin's schema applies too",
            vec!["--config", "plugin.yaml"],
            vec![],
            1,
            vec![
                "Config must be number,string,object { type=number,string,object } at /announcements/expiry/frequency",
            ],
        ),
    ];
    for (case, args, env, code, fragments) in rows {
        let (got, err) = run_check(&dir, &args, &env);
        assert_eq!(got, Some(code), "case {case}: {err}");
        for fragment in fragments {
            assert!(
                err.contains(fragment),
                "case {case}: missing {fragment:?} in {err}"
            );
        }
    }
    let (_, err) = run_check(&dir, &["--config", "deprecated.yaml"], &[]);
    assert!(
        !err.contains("deprecated"),
        "warnings only with --deprecated: {err}"
    );
}

#[test]
fn schema_prints_the_combined_json_schema() {
    let out = greenroom(&repo_root(), &["config", "schema"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let schema: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(schema["$schema"], "https://backstage.io/schema/config-v1");
    let titles: Vec<&str> = schema["allOf"]
        .as_array()
        .expect("allOf")
        .iter()
        .filter_map(|s| s["title"].as_str())
        .collect();
    assert_eq!(
        titles,
        vec!["greenroom-config", "greenroom-plugin-announcements-backend"]
    );
}
