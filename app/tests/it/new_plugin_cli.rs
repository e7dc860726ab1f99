//! `greenroom new plugin`: the generated plugin builds, passes its own tests on
//! SQLite and PostgreSQL, is lint-clean, and is wired into the app.
//!
//! The command runs in a copy of this workspace (so the real one is untouched),
//! and the copy is built with a target folder of its own under `target/`, which
//! later runs reuse.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{greenroom, repo_root, stderr, stdout, temp_dir};

/// Copies the files git knows about (tracked or new, not ignored) into `to`.
fn copy_workspace(from: &Path, to: &Path) {
    let listed = Command::new("git")
        .args(["ls-files", "-co", "--exclude-standard", "-z"])
        .current_dir(from)
        .output()
        .expect("git lists the workspace");
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    for name in listed.stdout.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        let source = from.join(&name);
        if !source.is_file() {
            continue;
        }
        let target = to.join(&name);
        std::fs::create_dir_all(target.parent().expect("a parent")).expect("mkdir");
        std::fs::copy(&source, &target).expect("copy");
    }
}

fn cargo(workspace: &Path, target_dir: &Path, args: &[&str]) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    // `--offline` goes right after the subcommand, before any `--` that hands the
    // rest to another tool; `cargo fmt` has no network to avoid.
    let mut command = Command::new(cargo);
    command.arg(args[0]);
    if args[0] != "fmt" {
        command.arg("--offline");
    }
    let output = command
        .args(&args[1..])
        .current_dir(workspace)
        .env("CARGO_TARGET_DIR", target_dir)
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_new_plugin_builds_passes_its_tests_and_is_mounted() {
    let root = repo_root();
    let copy = temp_dir("new-plugin");
    copy_workspace(&root, &copy);

    let out = greenroom(&copy, &["new", "plugin", "tide-tables"], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let plugin: PathBuf = copy.join("plugins/tide-tables-backend");
    for file in [
        "Cargo.toml",
        "README.md",
        "src/lib.rs",
        "tests/it/main.rs",
        "migrations/0001_items.sqlite.sql",
        "migrations/0001_items.postgres.sql",
    ] {
        assert!(plugin.join(file).is_file(), "{file} was generated");
    }
    let serve = std::fs::read_to_string(copy.join("app/src/serve.rs")).expect("serve.rs");
    assert!(
        serve.contains("greenroom_plugin_tide_tables_backend::plugin().into(),"),
        "{serve}"
    );

    // Running it again, or with a bad id, changes nothing and says why.
    let again = greenroom(&copy, &["new", "plugin", "tide-tables"], None);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    let bad = greenroom(&copy, &["new", "plugin", "Tide_Tables"], None);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("invalid plugin id"),
        "{}",
        stderr(&bad)
    );

    let target = root.join("target/new-plugin-check");
    cargo(
        &copy,
        &target,
        &["test", "-p", "greenroom-plugin-tide-tables-backend"],
    );
    cargo(
        &copy,
        &target,
        &[
            "clippy",
            "-p",
            "greenroom-plugin-tide-tables-backend",
            "-p",
            "greenroom",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    );
    cargo(
        &copy,
        &target,
        &[
            "fmt",
            "--check",
            "-p",
            "greenroom-plugin-tide-tables-backend",
        ],
    );
}
