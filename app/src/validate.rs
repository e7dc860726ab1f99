//! `greenroom validate`: finds descriptor files, checks them, and reports each problem.
//!
//! Files named on the command line are always checked. Inside directories only
//! `*.yaml` / `*.yml` files that look like descriptors are checked (a top-level
//! `apiVersion:` or `kind:` line), so OpenAPI documents and other YAML living next
//! to `catalog-info.yaml` are left alone. Hidden directories, `node_modules` and
//! `target` are skipped, and a `.greenroomignore` file in any directory lists
//! paths (relative to it, `*` and `**` globs, a trailing `/` for directories) to
//! skip, such as template skeletons whose `${{ }}` expressions are not descriptors.

use std::fmt::Write as _;
use std::future::Future;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use std::collections::HashMap;

use greenroom_catalog_model::descriptor::{
    CheckOptions, DescriptorReport, Finding, Severity, check_descriptor,
};
use greenroom_catalog_model::entity_ref::entity_ref_of;
use greenroom_catalog_model::location_ref::LocationRef;
use greenroom_catalog_model::placeholder::{PlaceholderReader, ReadError, ReadTarget, block_on};
use greenroom_catalog_model::validation::EntityValidator;
use greenroom_catalog_model::yaml::Pos;
use greenroom_catalog_model::{FieldPath, Problem, ProblemKind};
use serde_json::json;

use crate::output;

/// The largest descriptor or placeholder file `validate` reads.
const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Placeholder problems carrying this text are reported as warnings: `validate`
/// runs offline, so a `$text` that points at a URL is not checked, not broken.
const URL_UNCHECKED: &str = "URL targets are not read by greenroom validate";

/// Reads placeholder targets from the local filesystem only.
#[derive(Debug)]
struct LocalReader;

impl PlaceholderReader for LocalReader {
    fn read(&self, target: &ReadTarget) -> impl Future<Output = Result<String, ReadError>> + Send {
        let result = match target.location_type.as_str() {
            "file" => read_text_file(Path::new(&target.target)).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => {
                    ReadError::NotFound(format!("file {} does not exist", target.target))
                }
                _ => ReadError::Other(format!("{}: {e}", target.target)),
            }),
            "url" => Err(ReadError::NotAllowed(URL_UNCHECKED.to_owned())),
            other => Err(ReadError::NotAllowed(format!(
                "location type {other} cannot be read here"
            ))),
        };
        std::future::ready(result)
    }
}

fn read_text_file(path: &Path) -> std::io::Result<String> {
    let file = std::fs::File::open(path)?;
    let mut text = String::new();
    let read = file.take(MAX_FILE_BYTES + 1).read_to_string(&mut text)?;
    if read as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "file is larger than the limit of {MAX_FILE_BYTES} bytes"
        )));
    }
    Ok(text)
}

/// One file to check, with the name to print and the folder its placeholders must stay in.
struct Input {
    display: String,
    /// The absolute path, or `None` for standard input.
    path: Option<PathBuf>,
    root: PathBuf,
}

pub(crate) fn run(paths: &[PathBuf], json_output: bool) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let mut inputs = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            inputs.push(Input {
                display: "<stdin>".to_owned(),
                path: None,
                root: cwd.clone(),
            });
            continue;
        }
        let absolute = normalize(&cwd.join(path));
        let meta = std::fs::metadata(&absolute)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(&absolute, &absolute, &mut Vec::new(), &mut found)
                .with_context(|| format!("{}: cannot list", path.display()))?;
            found.sort();
            for file in found {
                let relative = file.strip_prefix(&absolute).unwrap_or(&file);
                let shown = if path.as_os_str() == "." {
                    relative.to_path_buf()
                } else {
                    path.join(relative)
                };
                inputs.push(Input {
                    display: shown.display().to_string(),
                    path: Some(file),
                    root: absolute.clone(),
                });
            }
        } else {
            let root = if absolute.starts_with(&cwd) {
                cwd.clone()
            } else {
                absolute
                    .parent()
                    .map_or_else(|| cwd.clone(), Path::to_path_buf)
            };
            inputs.push(Input {
                display: path.display().to_string(),
                path: Some(absolute),
                root,
            });
        }
    }

    let validator = EntityValidator::default();
    let mut results: Vec<(String, DescriptorReport)> = Vec::new();
    for input in &inputs {
        let (text, location) = match &input.path {
            None => {
                let mut text = String::new();
                std::io::stdin()
                    .take(MAX_FILE_BYTES + 1)
                    .read_to_string(&mut text)
                    .context("cannot read standard input")?;
                let stdin_path = input.root.join("<stdin>");
                (text, file_location(&stdin_path))
            }
            Some(path) => (
                read_text_file(path).with_context(|| format!("{}: cannot read", input.display))?,
                file_location(path),
            ),
        };
        let options = CheckOptions {
            location: &location,
            file_root: Some(&input.root),
            validator: &validator,
            unchecked_marker: Some(URL_UNCHECKED),
        };
        let report = block_on(check_descriptor(&text, &options, &LocalReader));
        results.push((input.display.clone(), report));
    }

    report_duplicates(&mut results);
    let entities: usize = results.iter().map(|(_, r)| r.entities.len()).sum();
    let errors: usize = results.iter().map(|(_, r)| r.error_count()).sum();
    let warnings: usize = results.iter().map(|(_, r)| r.warning_count()).sum();
    if json_output {
        output::out(&render_json(
            &results,
            inputs.len(),
            entities,
            errors,
            warnings,
        ));
    } else {
        output::out(&render_text(
            &results,
            inputs.len(),
            entities,
            errors,
            warnings,
        ));
    }
    Ok(if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Marks every entity defined a second time (same kind, namespace and name, compared
/// case-insensitively) as an error: the catalog would keep only one of them and
/// report the other as a conflict.
fn report_duplicates(results: &mut [(String, DescriptorReport)]) {
    let mut first_seen: HashMap<String, (String, Pos)> = HashMap::new();
    for (display, report) in results.iter_mut() {
        let mut kept = Vec::with_capacity(report.entities.len());
        for checked in std::mem::take(&mut report.entities) {
            let Some(entity_ref) = entity_ref_of(&checked.entity).map(|r| r.to_string()) else {
                kept.push(checked);
                continue;
            };
            match first_seen.get(&entity_ref) {
                Some((first_file, first_pos)) => report.findings.push(Finding {
                    severity: Severity::Error,
                    pos: checked.pos,
                    document: checked.document,
                    entity_ref: Some(entity_ref.clone()),
                    problem: Problem::new(
                        ProblemKind::Envelope,
                        FieldPath::keys(&["metadata", "name"]),
                        format!(
                            "Entity {entity_ref} is already defined at {first_file}:{}:{}",
                            first_pos.line, first_pos.column
                        ),
                    ),
                }),
                None => {
                    first_seen.insert(entity_ref, (display.clone(), checked.pos));
                    kept.push(checked);
                }
            }
        }
        report.entities = kept;
        report.findings.sort_by_key(|f| (f.pos, f.document));
    }
}

fn file_location(path: &Path) -> LocationRef {
    LocationRef {
        location_type: "file".to_owned(),
        target: path.display().to_string(),
    }
}

fn render_text(
    results: &[(String, DescriptorReport)],
    files: usize,
    entities: usize,
    errors: usize,
    warnings: usize,
) -> String {
    let mut out = String::new();
    for (display, report) in results {
        for f in &report.findings {
            let _ = write!(
                out,
                "{display}:{}:{}: {}: {}",
                f.pos.line,
                f.pos.column,
                f.severity.as_str(),
                f.problem.message
            );
            if let Some(entity) = &f.entity_ref {
                let _ = write!(out, " [{entity}]");
            }
            out.push('\n');
        }
    }
    let _ = writeln!(
        out,
        "{files} {} checked, {entities} valid {}: {errors} {}, {warnings} {}",
        plural(files, "file", "files"),
        plural(entities, "entity", "entities"),
        plural(errors, "error", "errors"),
        plural(warnings, "warning", "warnings"),
    );
    out
}

fn render_json(
    results: &[(String, DescriptorReport)],
    files: usize,
    entities: usize,
    errors: usize,
    warnings: usize,
) -> String {
    let findings: Vec<_> = results
        .iter()
        .flat_map(|(display, report)| {
            report.findings.iter().map(move |f| {
                json!({
                    "file": display,
                    "line": f.pos.line,
                    "column": f.pos.column,
                    "severity": f.severity.as_str(),
                    "kind": f.problem.kind.as_str(),
                    "field": f.problem.path.to_string(),
                    "document": f.document,
                    "entity": f.entity_ref,
                    "message": f.problem.message,
                })
            })
        })
        .collect();
    let body = json!({
        "findings": findings,
        "summary": { "files": files, "entities": entities, "errors": errors, "warnings": warnings },
    });
    let mut text = serde_json::to_string_pretty(&body).unwrap_or_default();
    text.push('\n');
    text
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// Removes `.` and `..` components without touching the filesystem.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Ignore patterns from `.greenroomignore` files, each tied to the folder it was found in.
struct IgnoreRule {
    base: PathBuf,
    pattern: Vec<String>,
    dir_only: bool,
}

fn walk(
    root: &Path,
    dir: &Path,
    rules: &mut Vec<IgnoreRule>,
    found: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    let rules_before = rules.len();
    let ignore_file = dir.join(".greenroomignore");
    if let Ok(text) = read_text_file(&ignore_file) {
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let dir_only = line.ends_with('/');
            let pattern = line
                .trim_matches('/')
                .split('/')
                .map(str::to_owned)
                .collect();
            rules.push(IgnoreRule {
                base: dir.to_path_buf(),
                pattern,
                dir_only,
            });
        }
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let file_type = entry.file_type()?;
        let is_dir = file_type.is_dir();
        if is_ignored(rules, &path, is_dir) {
            continue;
        }
        if is_dir {
            if name.starts_with('.') || name == "node_modules" || name == "target" {
                continue;
            }
            walk(root, &path, rules, found)?;
        } else if file_type.is_file()
            && (name.ends_with(".yaml") || name.ends_with(".yml"))
            && read_text_file(&path).is_ok_and(|t| looks_like_descriptor(&t))
        {
            found.push(path);
        }
    }
    rules.truncate(rules_before);
    let _ = root;
    Ok(())
}

fn is_ignored(rules: &[IgnoreRule], path: &Path, is_dir: bool) -> bool {
    rules.iter().any(|rule| {
        if rule.dir_only && !is_dir {
            return false;
        }
        let Ok(relative) = path.strip_prefix(&rule.base) else {
            return false;
        };
        let segments: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        glob_segments(&rule.pattern, &segments)
    })
}

/// Matches path segments against pattern segments, where `**` spans any number
/// of segments and `*` / `?` work within one segment.
fn glob_segments(pattern: &[String], segments: &[String]) -> bool {
    match pattern.split_first() {
        None => segments.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=segments.len()).any(|skip| glob_segments(rest, &segments[skip..]))
        }
        Some((first, rest)) => match segments.split_first() {
            Some((segment, remaining)) => {
                glob_segment(first.as_bytes(), segment.as_bytes()) && glob_segments(rest, remaining)
            }
            None => false,
        },
    }
}

fn glob_segment(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| glob_segment(rest, &text[skip..])),
        Some((b'?', rest)) => !text.is_empty() && glob_segment(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && glob_segment(rest, &text[1..]),
    }
}

/// Whether a YAML file holds catalog descriptors rather than other YAML.
fn looks_like_descriptor(text: &str) -> bool {
    text.lines()
        .any(|line| line.starts_with("apiVersion:") || line.starts_with("kind:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(p: &str) -> Vec<String> {
        p.split('/').map(str::to_owned).collect()
    }

    #[test]
    fn ignore_globs_match_segments() {
        assert!(glob_segments(
            &pat("templates/*/skeleton"),
            &pat("templates/a/skeleton")
        ));
        assert!(!glob_segments(
            &pat("templates/*/skeleton"),
            &pat("templates/a/b/skeleton")
        ));
        assert!(glob_segments(
            &pat("**/skeleton"),
            &pat("templates/a/b/skeleton")
        ));
        assert!(glob_segments(&pat("*.yaml"), &pat("x.yaml")));
        assert!(!glob_segments(&pat("*.yaml"), &pat("x.yml")));
    }

    #[test]
    fn descriptor_detection_needs_a_top_level_key() {
        assert!(looks_like_descriptor("# c\napiVersion: v1\n"));
        assert!(!looks_like_descriptor(
            "openapi: 3.0.0\ncomponents:\n  kind: x\n"
        ));
    }
}
