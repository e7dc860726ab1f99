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
    let _ = std::fs::remove_dir_all(&dir);
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
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_fails_on_a_missing_config_file() {
    let dir = temp_dir("missing");
    let out = greenroom(&dir, &["config", "check", "--config", "nope.yaml"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    let _ = std::fs::remove_dir_all(&dir);
}
