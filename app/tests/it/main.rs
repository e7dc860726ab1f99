//! End-to-end tests of the `greenroom` binary, run as a child process.

mod config_cli;
mod new_plugin_cli;
mod serve_cli;
mod validate_cli;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Runs `greenroom` with `args` in `cwd`, feeding `stdin`, with a clean `APP_CONFIG_` environment.
pub(crate) fn greenroom(cwd: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_greenroom"));
    command.args(args).current_dir(cwd);
    for (key, _) in std::env::vars() {
        if key.starts_with("APP_CONFIG_") || key == "BACKSTAGE_ENV" {
            command.env_remove(key);
        }
    }
    command.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("greenroom starts");
    if let Some(text) = stdin {
        use std::io::Write;
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(text.as_bytes())
            .expect("stdin accepts input");
    }
    child.wait_with_output().expect("greenroom finishes")
}

/// The repository root (the workspace folder).
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("app/ has a parent")
        .to_path_buf()
}

/// A fresh, empty temporary directory for one test, removed with everything in
/// it when the guard is dropped (also when the test fails).
pub(crate) fn temp_dir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!(
        "greenroom-app-it-{}-{name}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir can be created");
    TempDir(dir)
}

/// See [`temp_dir`].
pub(crate) struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
