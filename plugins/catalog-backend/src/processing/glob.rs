//! Glob expansion of `file` location targets: `*` and `?` within one path
//! segment, `**` across any number of segments, matched case-sensitively as file
//! systems do. The walk is bounded in depth and in entries visited.

use std::path::{Component, Path, PathBuf};

/// The most directory entries one expansion looks at.
const MAX_ENTRIES: usize = 200_000;
/// The deepest folder one expansion descends into.
const MAX_DEPTH: usize = 32;

/// Whether the target is a pattern rather than a plain path.
pub(crate) fn is_glob(target: &str) -> bool {
    target.contains(['*', '?'])
}

/// The folder a target (plain or pattern) lives under: the literal part before the
/// first segment with a wildcard, or the file's parent folder.
pub(crate) fn root_of(target: &str) -> PathBuf {
    let path = Path::new(target);
    if !is_glob(target) {
        return path.parent().map(Path::to_path_buf).unwrap_or_default();
    }
    let mut base = PathBuf::new();
    for component in path.components() {
        if is_glob(&component.as_os_str().to_string_lossy()) {
            break;
        }
        base.push(component.as_os_str());
    }
    base
}

/// Every file matching the absolute pattern, sorted.
pub(crate) fn expand(pattern: &str) -> Vec<PathBuf> {
    let base = root_of(pattern);
    let rest: Vec<String> = Path::new(pattern)
        .strip_prefix(&base)
        .map(|p| {
            p.components()
                .filter_map(|c| match c {
                    Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let mut found = Vec::new();
    let mut visited = 0usize;
    let mut stack: Vec<(PathBuf, Vec<String>, usize)> = vec![(base, Vec::new(), 0)];
    while let Some((dir, rel, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            visited += 1;
            if visited > MAX_ENTRIES {
                break;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let mut child_rel = rel.clone();
            child_rel.push(name);
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            if file_type.is_dir() {
                // Symlinked folders are not followed, so a link cycle cannot loop.
                if depth < MAX_DEPTH && could_match_below(&rest, &child_rel) {
                    stack.push((entry.path(), child_rel, depth + 1));
                }
            } else if (file_type.is_file() || file_type.is_symlink()) && matches(&rest, &child_rel)
            {
                found.push(entry.path());
            }
        }
    }
    found.sort();
    found
}

/// Whether the path segments match the pattern segments.
pub(crate) fn matches(pattern: &[String], path: &[String]) -> bool {
    match (pattern.first(), path.first()) {
        (None, None) => true,
        (Some(p), _) if p == "**" => {
            matches(&pattern[1..], path) || (!path.is_empty() && matches(pattern, &path[1..]))
        }
        (Some(p), Some(s)) => {
            segment_matches(p.as_bytes(), s.as_bytes()) && matches(&pattern[1..], &path[1..])
        }
        _ => false,
    }
}

/// Whether some path below the folder `path` could still match.
fn could_match_below(pattern: &[String], path: &[String]) -> bool {
    let mut p = 0;
    for segment in path {
        match pattern.get(p) {
            Some(s) if s == "**" => return true,
            Some(s) if segment_matches(s.as_bytes(), segment.as_bytes()) => p += 1,
            _ => return false,
        }
    }
    p < pattern.len()
}

/// One segment against one name: `*` any run, `?` one character.
fn segment_matches(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(b'?') => {
                p += 1;
                t += 1;
            }
            Some(c) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|c| *c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(s: &str) -> Vec<String> {
        s.split('/').map(str::to_owned).collect()
    }

    #[test]
    fn patterns_match_like_shell_globs() {
        let rows = [
            ("*.yaml", "a.yaml", true),
            ("*.yaml", "sub/a.yaml", false),
            ("**/*.yaml", "a.yaml", true),
            ("**/*.yaml", "x/y/a.yaml", true),
            ("x/**/c?.yaml", "x/a/b/c1.yaml", true),
            ("x/**/c?.yaml", "x/c12.yaml", false),
            ("*.YAML", "a.yaml", false),
        ];
        for (pattern, path, expected) in rows {
            assert_eq!(
                matches(&segs(pattern), &segs(path)),
                expected,
                "{pattern} vs {path}"
            );
        }
    }

    #[test]
    fn roots_stop_at_the_first_wildcard() {
        assert_eq!(root_of("/srv/cat/**/x.yaml"), PathBuf::from("/srv/cat"));
        assert_eq!(root_of("/srv/cat/all.yaml"), PathBuf::from("/srv/cat"));
    }
}
