//! Choosing, reading and layering config files (`load`).
//!
//! Without `--config` arguments the default file set is used, looked up in
//! the first directory at or above the working directory that holds an
//! `app-config.yaml` (the walk stops at a directory containing `.git`, or at
//! the filesystem root): `app-config.yaml`, then `app-config.<env>.yaml` for
//! each name in `BACKSTAGE_ENV`, then `app-config.local.yaml`, then
//! `app-config.<env>.local.yaml`. Only `app-config.yaml` is mandatory. With
//! `--config` arguments exactly those files are read, in order. The
//! `APP_CONFIG_*` overrides always form the top layer.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read as _;
use std::path::{Component, Path, PathBuf};

use crate::error::ConfigError;
use crate::layers::Layer;
use crate::reader::Config;
use crate::transform::Transformer;
use crate::{env_overrides, yaml};

/// The largest config file (or `$include`/`$file` target) that is read.
pub const MAX_CONFIG_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// The deepest chain of nested `$include`s that is followed.
pub const MAX_INCLUDE_DEPTH: usize = 32;

/// The context of the environment override layer.
const ENV_CONTEXT: &str = "env";

/// What [`load`] reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// The `--config` values, in command-line order. Empty means the default file set.
    pub config_paths: Vec<PathBuf>,
    /// The working directory: base of relative paths and start of the default-file search.
    pub cwd: PathBuf,
    /// The environment: `APP_CONFIG_*`, `BACKSTAGE_ENV` and substitution variables.
    pub env: BTreeMap<String, String>,
    /// Whether a missing default `app-config.yaml` is tolerated.
    pub allow_missing_default: bool,
    /// Lax mode (`config check --lax`): a `${VAR}` or `$env` whose variable
    /// is unset or empty reads as `x` instead of removing its key.
    pub lax: bool,
}

impl LoadOptions {
    /// Options for the running process: its environment and working directory.
    ///
    /// Variables whose name or value is not valid Unicode are skipped. If the
    /// working directory cannot be determined, `.` is used.
    pub fn from_process(config_paths: Vec<PathBuf>) -> Self {
        LoadOptions {
            config_paths,
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            env: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
            allow_missing_default: false,
            lax: false,
        }
    }
}

/// Loads every layer and returns the layered config.
pub fn load(options: &LoadOptions) -> Result<Config, ConfigError> {
    let files = config_files(options)?;
    let mut layers = Vec::with_capacity(files.len() + 1);
    for path in &files {
        if let Some(layer) = load_file(path, &options.env, options.lax)? {
            layers.push(layer);
        }
    }
    if let Some(data) = env_overrides::read(&options.env)? {
        layers.push(Layer {
            context: ENV_CONTEXT.to_owned(),
            data,
            secret_paths: Default::default(),
        });
    }
    Ok(Config::from_loaded_layers(layers))
}

/// Resolves the list of files to read, lowest priority first.
fn config_files(options: &LoadOptions) -> Result<Vec<PathBuf>, ConfigError> {
    let cwd = normalize_path(&options.cwd);
    if !options.config_paths.is_empty() {
        for arg in &options.config_paths {
            let text = arg.to_string_lossy();
            if looks_like_url(&text) {
                return Err(ConfigError::RemoteNotEnabled {
                    url: text.into_owned(),
                });
            }
        }
        let mut files = Vec::with_capacity(options.config_paths.len());
        for arg in &options.config_paths {
            let path = normalize_path(&cwd.join(arg));
            if !path.is_file() {
                return Err(ConfigError::FileMissing { path });
            }
            files.push(path);
        }
        return Ok(files);
    }

    let root = find_root(&cwd);
    let envs: Vec<&str> = options
        .env
        .get("BACKSTAGE_ENV")
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let mut files = Vec::new();
    let base = root.join("app-config.yaml");
    if base.is_file() {
        files.push(base);
    } else if !options.allow_missing_default {
        return Err(ConfigError::FileMissing { path: base });
    }
    let optional = envs
        .iter()
        .map(|name| format!("app-config.{name}.yaml"))
        .chain(std::iter::once("app-config.local.yaml".to_owned()))
        .chain(
            envs.iter()
                .map(|name| format!("app-config.{name}.local.yaml")),
        );
    for name in optional {
        let path = root.join(name);
        if path.is_file() {
            files.push(path);
        }
    }
    Ok(files)
}

/// Finds the directory of the default files; see the module doc.
fn find_root(cwd: &Path) -> PathBuf {
    let mut dir = cwd;
    loop {
        if dir.join("app-config.yaml").is_file() || dir.join(".git").exists() {
            return dir.to_path_buf();
        }
        match dir.parent() {
            Some(parent) => dir = parent,
            None => return cwd.to_path_buf(),
        }
    }
}

fn looks_like_url(arg: &str) -> bool {
    let lower = arg.get(..8).unwrap_or(arg).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Reads and transforms one config file. An empty file yields no layer.
fn load_file(
    path: &Path,
    env: &BTreeMap<String, String>,
    lax: bool,
) -> Result<Option<Layer>, ConfigError> {
    let read_failed = |message: String| ConfigError::Read {
        path: path.to_path_buf(),
        message,
    };
    let text = match read_text(path) {
        Ok(text) => text,
        Err(ReadError::NotFound) => {
            return Err(ConfigError::FileMissing {
                path: path.to_path_buf(),
            });
        }
        Err(other) => return Err(read_failed(other.to_string())),
    };
    let parsed = yaml::parse(&text).map_err(|e| ConfigError::Yaml {
        path: path.to_path_buf(),
        line: e.line,
        column: e.column,
        message: e.message,
    })?;
    let Some(value) = parsed else {
        return Ok(None);
    };
    let dir = path.parent().unwrap_or(path);
    let mut transformer = Transformer::new(env, lax);
    let data = transformer
        .transform_root(value, dir)
        .map_err(|e| ConfigError::Transform {
            path: path.to_path_buf(),
            at: e.at,
            detail: e.detail,
        })?;
    match data {
        Some(data @ serde_json::Value::Object(_)) => Ok(Some(Layer {
            context: path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            ),
            data,
            secret_paths: transformer.secret_paths,
        })),
        _ => Err(read_failed("expected object at config root".to_owned())),
    }
}

/// Why a file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReadError {
    NotFound,
    TooLarge(u64),
    NotUtf8,
    Io(String),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::NotFound => f.write_str("file does not exist"),
            ReadError::TooLarge(size) => write!(
                f,
                "file is {size} bytes, larger than the limit of {MAX_CONFIG_FILE_BYTES} bytes"
            ),
            ReadError::NotUtf8 => f.write_str("file is not valid UTF-8"),
            ReadError::Io(message) => f.write_str(message),
        }
    }
}

/// Reads a text file of at most [`MAX_CONFIG_FILE_BYTES`].
pub(crate) fn read_text(path: &Path) -> Result<String, ReadError> {
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ReadError::NotFound,
        _ => ReadError::Io(e.to_string()),
    })?;
    let meta = file.metadata().map_err(|e| ReadError::Io(e.to_string()))?;
    if meta.is_dir() {
        return Err(ReadError::Io("path is a directory".to_owned()));
    }
    if meta.len() > MAX_CONFIG_FILE_BYTES {
        return Err(ReadError::TooLarge(meta.len()));
    }
    // The length is checked again while reading, since the metadata of
    // special files (pipes, /proc) does not tell their size.
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ReadError::Io(e.to_string()))?;
    let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if len > MAX_CONFIG_FILE_BYTES {
        return Err(ReadError::TooLarge(len));
    }
    String::from_utf8(bytes).map_err(|_| ReadError::NotUtf8)
}

/// Makes a path lexically normal: `.` removed and `..` applied, without
/// touching the filesystem (so symlinks are kept, as Node's `resolve` does).
pub(crate) fn normalize_path(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() && !out.has_root() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}
