//! Per-file transforms: the `$env`, `$file` and `$include` directives and
//! `${...}` substitution, applied depth-first to a parsed config file.
//!
//! Only the three directive keys are special; an object holding one of them
//! must hold nothing else and is replaced by the directive's result. Every
//! other string goes through [`substitute`]. A result that is undefined
//! removes its key, or drops its element from an array. Included files are
//! transformed relative to their own directory, except for the value at the
//! included root (or fragment target), which is only substituted when it is
//! a string, as upstream does.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::layers::PathSeg;
use crate::load::{MAX_INCLUDE_DEPTH, ReadError, normalize_path, read_text};
use crate::substitute::{lookup_with, substitute_with};
use crate::yaml;

/// The directive keys.
const DIRECTIVES: [&str; 3] = ["$env", "$file", "$include"];

/// A transform failure: the dotted path of the value and what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TransformError {
    pub(crate) at: String,
    pub(crate) detail: String,
}

/// Applies all transforms of one file.
#[derive(Debug)]
pub(crate) struct Transformer<'a> {
    env: &'a BTreeMap<String, String>,
    /// Lax mode: unset variables read as a placeholder instead of removing keys.
    lax: bool,
    /// Output paths of values produced by `$env` and `$file`.
    pub(crate) secret_paths: BTreeSet<Vec<PathSeg>>,
}

/// Where the walk stands: the dotted path for messages (input indices) and
/// the output path for secret tracking (indices after dropped elements).
struct Position<'p> {
    dotted: &'p str,
    out: &'p mut Vec<PathSeg>,
}

impl<'a> Transformer<'a> {
    pub(crate) fn new(env: &'a BTreeMap<String, String>, lax: bool) -> Self {
        Transformer {
            env,
            lax,
            secret_paths: BTreeSet::new(),
        }
    }

    /// Transforms a file's root value. `None` means the root became undefined.
    pub(crate) fn transform_root(
        &mut self,
        value: Value,
        dir: &Path,
    ) -> Result<Option<Value>, TransformError> {
        let mut out = Vec::new();
        self.transform(
            value,
            dir,
            Position {
                dotted: "",
                out: &mut out,
            },
            0,
        )
    }

    fn transform(
        &mut self,
        value: Value,
        dir: &Path,
        pos: Position<'_>,
        depth: usize,
    ) -> Result<Option<Value>, TransformError> {
        match value {
            Value::Object(map) if map.keys().any(|k| DIRECTIVES.contains(&k.as_str())) => {
                self.directive(map, dir, pos, depth)
            }
            Value::String(s) => Ok(substitute_with(&s, self.env, self.lax).map(Value::String)),
            other => self.walk_children(other, dir, pos, depth).map(Some),
        }
    }

    /// Transforms the members of an object or the elements of an array, but
    /// not the value itself.
    fn walk_children(
        &mut self,
        value: Value,
        dir: &Path,
        pos: Position<'_>,
        depth: usize,
    ) -> Result<Value, TransformError> {
        match value {
            Value::Object(map) => {
                let mut out = Map::with_capacity(map.len());
                for (key, child) in map {
                    let dotted = format!("{}.{key}", pos.dotted);
                    pos.out.push(PathSeg::Key(key.clone()));
                    let result = self.transform(
                        child,
                        dir,
                        Position {
                            dotted: &dotted,
                            out: pos.out,
                        },
                        depth,
                    );
                    pos.out.pop();
                    if let Some(v) = result? {
                        out.insert(key, v);
                    }
                }
                Ok(Value::Object(out))
            }
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (index, child) in items.into_iter().enumerate() {
                    let dotted = format!("{}[{index}]", pos.dotted);
                    pos.out.push(PathSeg::Index(out.len()));
                    let result = self.transform(
                        child,
                        dir,
                        Position {
                            dotted: &dotted,
                            out: pos.out,
                        },
                        depth,
                    );
                    pos.out.pop();
                    if let Some(v) = result? {
                        out.push(v);
                    }
                }
                Ok(Value::Array(out))
            }
            scalar => Ok(scalar),
        }
    }

    fn directive(
        &mut self,
        map: Map<String, Value>,
        dir: &Path,
        pos: Position<'_>,
        depth: usize,
    ) -> Result<Option<Value>, TransformError> {
        let fail = |detail: String| TransformError {
            at: pos.dotted.to_owned(),
            detail,
        };
        let Some((key, raw)) = map
            .iter()
            .find(|(k, _)| DIRECTIVES.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
        else {
            return Ok(Some(Value::Object(map)));
        };
        if map.len() != 1 {
            return Err(fail(format!(
                "include key {key} should not have adjacent keys"
            )));
        }
        let Value::String(raw) = raw else {
            return Err(fail(format!("{key} include value is not a string")));
        };
        let Some(arg) = substitute_with(&raw, self.env, self.lax) else {
            return Err(fail(format!("{key} substitution value was undefined")));
        };
        match key.as_str() {
            "$env" => {
                let value = lookup_with(self.env, &arg, self.lax);
                if value.is_some() {
                    self.secret_paths.insert(pos.out.clone());
                }
                Ok(value.map(Value::String))
            }
            "$file" => {
                let path = normalize_path(&dir.join(&arg));
                match read_text(&path) {
                    Ok(text) => {
                        self.secret_paths.insert(pos.out.clone());
                        Ok(Some(Value::String(text.trim_end().to_owned())))
                    }
                    Err(ReadError::NotFound) => Err(fail(format!(
                        "failed to read file {arg}, NotFoundError: failed to include \"{}\", file does not exist",
                        path.display()
                    ))),
                    Err(other) => Err(fail(format!("failed to read file {arg}, Error: {other}"))),
                }
            }
            _ => self.include(&arg, dir, pos, depth),
        }
    }

    fn include(
        &mut self,
        arg: &str,
        dir: &Path,
        pos: Position<'_>,
        depth: usize,
    ) -> Result<Option<Value>, TransformError> {
        let fail = |detail: String| TransformError {
            at: pos.dotted.to_owned(),
            detail,
        };
        let (file, fragment) = match arg.split_once('#') {
            Some((file, fragment)) => (file, fragment),
            None => (arg, ""),
        };
        let is_json = match extension(file) {
            Some(".json") => true,
            Some(".yaml" | ".yml") => false,
            _ => {
                return Err(fail(format!(
                    "no configuration parser available for included file {file}"
                )));
            }
        };
        let path = normalize_path(&dir.join(file));
        if depth >= MAX_INCLUDE_DEPTH {
            return Err(fail(format!(
                "failed to include \"{}\", $include nesting is deeper than the limit of {MAX_INCLUDE_DEPTH}",
                path.display()
            )));
        }
        let text = match read_text(&path) {
            Ok(text) => text,
            Err(ReadError::NotFound) => {
                return Err(fail(format!(
                    "failed to include \"{}\", file does not exist",
                    path.display()
                )));
            }
            Err(other) => {
                return Err(fail(format!(
                    "failed to include \"{}\", {other}",
                    path.display()
                )));
            }
        };
        let parsed = if is_json {
            serde_json::from_str::<Value>(&text)
                .map(yaml::normalize_numbers)
                .map_err(|e| e.to_string())
        } else {
            yaml::parse(&text)
                .map(|v| v.unwrap_or(Value::Null))
                .map_err(|e| format!("{} at line {}, column {}", e.message, e.line, e.column))
        };
        let mut value = match parsed {
            Ok(v) => Some(v),
            Err(e) => {
                return Err(fail(format!("failed to parse included file {file}, {e}")));
            }
        };
        if !fragment.is_empty() {
            let parts: Vec<&str> = fragment.split('.').collect();
            for (index, part) in parts.iter().enumerate() {
                value = match value {
                    Some(Value::Object(mut map)) => map.remove(*part),
                    _ => {
                        return Err(fail(format!(
                            "value at '{}' in included file {file} is not an object",
                            parts[..index].join(".")
                        )));
                    }
                };
            }
        }
        let new_dir = path
            .parent()
            .map_or_else(|| dir.to_path_buf(), PathBuf::from);
        match value {
            None => Ok(None),
            Some(Value::String(s)) => {
                Ok(substitute_with(&s, self.env, self.lax).map(Value::String))
            }
            Some(other) => self
                .walk_children(other, &new_dir, pos, depth + 1)
                .map(Some),
        }
    }
}

/// The extension of a path as Node's `extname` reports it: from the last `.`
/// of the last component, unless that dot starts the name.
fn extension(file: &str) -> Option<&str> {
    let name = file.rsplit(['/', '\\']).next().unwrap_or(file);
    let dot = name.rfind('.')?;
    (dot > 0).then(|| &name[dot..])
}
