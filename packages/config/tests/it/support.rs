//! Shared helpers: throwaway directories with real files, and option builders.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use greenroom_config::{ConfigError, LoadOptions};

/// A unique directory under the system temp dir, removed on drop.
///
/// The directory holds an empty `.git` folder so that the default-file search
/// never walks up into whatever lies above it.
pub(crate) struct Sandbox {
    pub(crate) root: PathBuf,
}

impl Sandbox {
    pub(crate) fn new(tag: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!(
            "greenroom-config-it-{}-{n}-{}",
            std::process::id(),
            tag.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join(".git")).expect("create sandbox");
        Sandbox { root }
    }

    /// Writes `text` to `rel` (creating parent directories) and returns its path.
    pub(crate) fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(&path, text).expect("write file");
        path
    }

    /// Writes several files.
    pub(crate) fn write_all(&self, files: &[(&str, &str)]) {
        for (rel, text) in files {
            self.write(rel, text);
        }
    }

    /// Options with `cwd` at `cwd_rel` (relative to the root), the given
    /// `--config` values and environment.
    pub(crate) fn options(
        &self,
        cwd_rel: &str,
        configs: &[&str],
        env: &[(&str, &str)],
    ) -> LoadOptions {
        let cwd = if cwd_rel.is_empty() {
            self.root.clone()
        } else {
            self.root.join(cwd_rel)
        };
        std::fs::create_dir_all(&cwd).expect("create cwd");
        LoadOptions {
            config_paths: configs.iter().map(PathBuf::from).collect(),
            cwd,
            env: env_map(env),
            allow_missing_default: false,
            lax: false,
        }
    }

    /// Replaces `{root}` in an expected message with the sandbox path.
    pub(crate) fn expand(&self, text: &str) -> String {
        text.replace("{root}", &self.root.display().to_string())
    }

    pub(crate) fn path(&self) -> &Path {
        &self.root
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

pub(crate) fn env_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Renders a getter result for table comparison: `Ok` values in `Debug`
/// form, errors as their message.
pub(crate) fn show<T: Debug>(result: Result<T, ConfigError>) -> String {
    match result {
        Ok(v) => format!("{v:?}"),
        Err(e) => e.to_string(),
    }
}

/// What a load case expects.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Want {
    /// The merged config, as JSON text.
    Merged(&'static str),
    /// The exact error message; `{root}` stands for the sandbox path.
    Error(&'static str),
    /// A fragment of the error message; `{root}` as above.
    ErrorContains(&'static str),
}

/// One end-to-end load: files to write, where to run, what to expect.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoadCase {
    pub(crate) id: &'static str,
    pub(crate) files: &'static [(&'static str, &'static str)],
    /// The working directory, relative to the sandbox root.
    pub(crate) cwd: &'static str,
    pub(crate) configs: &'static [&'static str],
    pub(crate) env: &'static [(&'static str, &'static str)],
    pub(crate) want: Want,
}

/// Runs one load case in a fresh sandbox.
pub(crate) fn check_load(case: &LoadCase) {
    run_load(
        case.id,
        case.files,
        case.cwd,
        case.configs,
        case.env,
        case.want,
    );
}

/// Writes `files` into a fresh sandbox, loads and compares with `want`.
pub(crate) fn run_load(
    id: &str,
    files: &[(&str, &str)],
    cwd: &str,
    configs: &[&str],
    env: &[(&str, &str)],
    want: Want,
) {
    let sandbox = Sandbox::new(id);
    sandbox.write_all(files);
    let options = sandbox.options(cwd, configs, env);
    let result = greenroom_config::load(&options);
    match (want, result) {
        (Want::Merged(json), Ok(config)) => {
            let want: serde_json::Value =
                serde_json::from_str(json).expect("valid expectation JSON");
            assert_eq!(config.merged(), &want, "{id}: merged config");
        }
        (Want::Error(text), Err(e)) => {
            assert_eq!(e.to_string(), sandbox.expand(text), "{id}: error message");
        }
        (Want::ErrorContains(text), Err(e)) => {
            let fragment = sandbox.expand(text);
            assert!(
                e.to_string().contains(&fragment),
                "{id}: error {:?} should contain {fragment:?}",
                e.to_string()
            );
        }
        (want, got) => panic!("{id}: wanted {want:?}, got {got:?}"),
    }
}
