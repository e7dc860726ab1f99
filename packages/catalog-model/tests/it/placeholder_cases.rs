//! Placeholder substitution (§14.12, PH01–PH10) with an in-memory reader that
//! stands in for a remote SCM, plus Greenroom's file-location deviation checked
//! against real files in a temporary directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use greenroom_catalog_model::location_ref::LocationRef;
use greenroom_catalog_model::placeholder::{
    PlaceholderContext, PlaceholderReader, ReadError, ReadTarget, block_on,
    resolve_placeholder_target, substitute,
};
use greenroom_catalog_model::{Problem, ProblemKind};
use serde_json::{Value, json};

const GH_BASE: &str = "https://github.com/acme/r/blob/main/catalog-info.yaml";

/// Serves fixed contents by target and records every target it was asked for.
#[derive(Debug, Default)]
struct MemoryReader {
    files: HashMap<String, String>,
    reads: Mutex<Vec<ReadTarget>>,
}

impl MemoryReader {
    fn with(files: &[(&str, &str)]) -> Self {
        Self {
            files: files
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            reads: Mutex::default(),
        }
    }

    fn reads(&self) -> Vec<String> {
        self.reads
            .lock()
            .expect("reader lock")
            .iter()
            .map(ReadTarget::refresh_key)
            .collect()
    }
}

impl PlaceholderReader for MemoryReader {
    fn read(&self, target: &ReadTarget) -> impl Future<Output = Result<String, ReadError>> + Send {
        self.reads.lock().expect("reader lock").push(target.clone());
        let found = self.files.get(&target.target).cloned().ok_or_else(|| {
            ReadError::NotFound(format!("NotFoundError: {} not found", target.target))
        });
        async move { found }
    }
}

/// Reads real files from disk, refusing anything that is not a `file` target.
#[derive(Debug)]
struct DiskReader;

impl PlaceholderReader for DiskReader {
    fn read(&self, target: &ReadTarget) -> impl Future<Output = Result<String, ReadError>> + Send {
        let result = if target.location_type == "file" {
            std::fs::read_to_string(&target.target)
                .map_err(|e| ReadError::NotFound(format!("{}: {e}", target.target)))
        } else {
            Err(ReadError::NotAllowed(format!(
                "{} is not allowed",
                target.target
            )))
        };
        async move { result }
    }
}

fn entity_with(spec: Value) -> Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "API",
        "metadata": {"name": "a"},
        "spec": spec,
    })
}

/// Runs substitution and returns the outcome together with the targets read.
fn run(
    base: &LocationRef,
    file_root: Option<&Path>,
    reader: &MemoryReader,
    entity: &mut Value,
) -> Result<Vec<String>, Vec<Problem>> {
    let ctx = PlaceholderContext { base, file_root };
    block_on(substitute(entity, &ctx, reader))
}

enum Want {
    /// Substitution succeeds, `spec.definition` becomes this, these targets are read.
    Replaced(Value, &'static [&'static str]),
    /// The entity is left exactly as it was and nothing is read.
    Unchanged,
    /// One placeholder problem at `spec.definition` with this exact message.
    Error(&'static str),
}

fn check(id: &str, base: &str, definition: Value, files: &[(&str, &str)], want: Want) {
    let base = greenroom_catalog_model::location_ref::parse_location_ref(base).expect("base");
    let reader = MemoryReader::with(files);
    let original = entity_with(json!({"definition": definition}));
    let mut entity = original.clone();
    let result = run(&base, None, &reader, &mut entity);
    match want {
        Want::Replaced(expected, reads) => {
            let keys = result.unwrap_or_else(|p| panic!("{id}: unexpected problems {p:?}"));
            assert_eq!(entity["spec"]["definition"], expected, "{id}");
            let reads: Vec<String> = reads.iter().map(|r| format!("url:{r}")).collect();
            assert_eq!(reader.reads(), reads, "{id} reads");
            assert_eq!(keys, reads, "{id} refresh keys");
        }
        Want::Unchanged => {
            assert_eq!(result, Ok(vec![]), "{id}");
            assert_eq!(entity, original, "{id}");
            assert!(reader.reads().is_empty(), "{id} read nothing");
        }
        Want::Error(message) => {
            let problems = result.expect_err(id);
            assert_eq!(problems.len(), 1, "{id}: {problems:?}");
            assert_eq!(problems[0].kind, ProblemKind::Placeholder, "{id}");
            assert_eq!(problems[0].path.to_string(), "spec.definition", "{id}");
            assert_eq!(problems[0].message, message, "{id}");
            assert_eq!(entity, original, "{id}: entity untouched on failure");
        }
    }
}

#[test]
fn placeholder_cases() {
    let gh = "url:https://github.com/acme/r/blob/main/catalog-info.yaml";
    check(
        "PH01",
        gh,
        json!({"$text": "./api.yaml"}),
        &[(
            "https://github.com/acme/r/tree/main/api.yaml",
            "openapi: 3.0.0\n",
        )],
        Want::Replaced(
            json!("openapi: 3.0.0\n"),
            &["https://github.com/acme/r/tree/main/api.yaml"],
        ),
    );
    check(
        "PH02",
        gh,
        json!({"$text": "/specs/api.yaml"}),
        &[("https://github.com/acme/r/tree/main/specs/api.yaml", "x")],
        Want::Replaced(
            json!("x"),
            &["https://github.com/acme/r/tree/main/specs/api.yaml"],
        ),
    );
    check(
        "PH03",
        "file:/srv/x/catalog-info.yaml",
        json!({"$json": "https://example.com/a.json"}),
        &[("https://example.com/a.json", "{\"a\": 1}")],
        Want::Replaced(json!({"a": 1}), &["https://example.com/a.json"]),
    );
    check(
        "PH05",
        gh,
        json!({"$json": "./a.json", "x": 1, "y": {"$text": "./b"}}),
        &[],
        Want::Unchanged,
    );
    check(
        "PH06",
        gh,
        json!({"$ref": "#/definitions/a"}),
        &[],
        Want::Unchanged,
    );
    check("PH06b", gh, json!({"$": "x"}), &[], Want::Unchanged);
    check(
        "PH07",
        gh,
        json!({"$text": 42}),
        &[],
        Want::Error(
            "Placeholder $text expected a string value parameter, in the form of an absolute URL or a relative path",
        ),
    );
    check(
        "PH08",
        gh,
        json!({"$yaml": "./two.yaml"}),
        &[(
            "https://github.com/acme/r/tree/main/two.yaml",
            "a: 1\n---\nb: 2\n",
        )],
        Want::Error(
            "Placeholder $yaml expected to find exactly one document of data at ./two.yaml, found 2",
        ),
    );
    check(
        "PH08b",
        gh,
        json!({"$yaml": "./trailing.yaml"}),
        &[(
            "https://github.com/acme/r/tree/main/trailing.yaml",
            "a: 1\n---\n",
        )],
        Want::Error(
            "Placeholder $yaml expected to find exactly one document of data at ./trailing.yaml, found 2",
        ),
    );
    check(
        "PH08c",
        gh,
        json!({"$yaml": "./one.yaml"}),
        &[(
            "https://github.com/acme/r/tree/main/one.yaml",
            "a: [1, yes]\n",
        )],
        Want::Replaced(
            json!({"a": [1, "yes"]}),
            &["https://github.com/acme/r/tree/main/one.yaml"],
        ),
    );
    check(
        "PH09",
        gh,
        json!({"$json": "./a.json"}),
        &[("https://github.com/acme/r/tree/main/a.json", "[1, 2]")],
        Want::Replaced(
            json!([1, 2]),
            &["https://github.com/acme/r/tree/main/a.json"],
        ),
    );
    check(
        "PH10",
        gh,
        json!({"$text": "./t.txt"}),
        &[(
            "https://github.com/acme/r/tree/main/t.txt",
            "$yaml: other.yaml",
        )],
        Want::Replaced(
            json!("$yaml: other.yaml"),
            &["https://github.com/acme/r/tree/main/t.txt"],
        ),
    );
    check(
        "PH10b",
        gh,
        json!({"$json": "./p.json"}),
        &[(
            "https://github.com/acme/r/tree/main/p.json",
            "{\"$text\": \"./x\"}",
        )],
        Want::Replaced(
            json!({"$text": "./x"}),
            &["https://github.com/acme/r/tree/main/p.json"],
        ),
    );
    check(
        "PH-read-error",
        gh,
        json!({"$text": "./missing.yaml"}),
        &[],
        Want::Error(
            "Placeholder $text could not read location ./missing.yaml, NotFoundError: https://github.com/acme/r/tree/main/missing.yaml not found",
        ),
    );
    check(
        "PH-bad-json",
        gh,
        json!({"$json": "./bad.json"}),
        &[("https://github.com/acme/r/tree/main/bad.json", "{")],
        Want::Error(
            "Placeholder $json failed to parse JSON data at ./bad.json, EOF while parsing an object at line 1 column 1",
        ),
    );
}

#[test]
fn ph04_file_base_resolves_relative_to_the_file() {
    // Greenroom deviation: Backstage fails here; we read the sibling file.
    let base = LocationRef::new("file", "/srv/x/catalog-info.yaml");
    let reader = MemoryReader::with(&[("/srv/x/api.yaml", "spec text")]);
    let mut entity = entity_with(json!({"definition": {"$text": "./api.yaml"}}));
    let keys = run(&base, Some(Path::new("/srv/x")), &reader, &mut entity).expect("PH04");
    assert_eq!(entity["spec"]["definition"], "spec text", "PH04");
    assert_eq!(
        keys,
        vec!["file:/srv/x/api.yaml".to_owned()],
        "PH04 refresh key"
    );

    let escape = |value: &str, root: Option<&Path>| {
        let ctx = PlaceholderContext {
            base: &base,
            file_root: root,
        };
        resolve_placeholder_target(&ctx, value)
    };
    let root = Some(Path::new("/srv/x"));
    let file = |p: &str| {
        Ok(ReadTarget {
            location_type: "file".into(),
            target: p.into(),
        })
    };
    type Row<'a> = (
        &'a str,
        &'a str,
        Option<&'a Path>,
        Result<ReadTarget, String>,
    );
    let rows: Vec<Row<'_>> = vec![
        ("PH04 sibling", "api.yaml", root, file("/srv/x/api.yaml")),
        (
            "PH04 nested",
            "./a/../b/./c.yaml",
            root,
            file("/srv/x/b/c.yaml"),
        ),
        (
            "PH04 root-relative",
            "/specs/a.yaml",
            root,
            file("/srv/x/specs/a.yaml"),
        ),
        (
            "PH04 absolute without root",
            "/specs/a.yaml",
            None,
            file("/specs/a.yaml"),
        ),
        (
            "PH04 escape",
            "../../etc/passwd",
            root,
            Err("path escapes the location root".into()),
        ),
        (
            "PH04 escape via root",
            "/../y/a.yaml",
            root,
            Err("path escapes the location root".into()),
        ),
        (
            "PH04 sibling-prefix dir",
            "../xy/a.yaml",
            root,
            Err("path escapes the location root".into()),
        ),
        (
            "PH04 climb without root",
            "../../etc/passwd",
            None,
            file("/etc/passwd"),
        ),
        (
            "PH03 absolute url",
            "https://example.com/a.json",
            root,
            Ok(ReadTarget {
                location_type: "url".into(),
                target: "https://example.com/a.json".into(),
            }),
        ),
    ];
    for (id, value, root, want) in rows {
        assert_eq!(escape(value, root), want, "{id}");
    }

    let reader = MemoryReader::with(&[]);
    let mut entity = entity_with(json!({"definition": {"$text": "../../etc/passwd"}}));
    let problems = run(&base, root, &reader, &mut entity).expect_err("PH04 escape refused");
    assert_eq!(
        problems[0].message,
        "Placeholder $text could not form a URL out of /srv/x/catalog-info.yaml and ../../etc/passwd, path escapes the location root",
        "PH04 escape message"
    );
    assert!(reader.reads().is_empty(), "PH04 escape reads nothing");
}

#[test]
fn every_placeholder_error_is_reported_and_paths_are_exact() {
    let base = LocationRef::new("url", GH_BASE);
    let reader = MemoryReader::with(&[("https://github.com/acme/r/tree/main/ok.txt", "ok")]);
    let mut entity = json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "c", "description": {"$text": "./ok.txt"}},
        "spec": {
            "a": {"$text": 1},
            "list": [{"x": {"$json": "./missing.json"}}, {"$yaml": "./ok.txt"}],
        },
    });
    let problems = run(&base, None, &reader, &mut entity).expect_err("two errors");
    let paths: Vec<String> = problems.iter().map(|p| p.path.to_string()).collect();
    assert_eq!(paths, vec!["spec.a", "spec.list.0.x"]);
    // The `$yaml` of `ok.txt` ("ok") is a valid one-document YAML stream.
    assert_eq!(
        reader.reads().len(),
        3,
        "all readable placeholders were attempted"
    );
}

#[test]
fn substitutes_everywhere_in_document_order() {
    let base = LocationRef::new("url", GH_BASE);
    let reader = MemoryReader::with(&[
        ("https://github.com/acme/r/tree/main/a.txt", "A"),
        ("https://github.com/acme/r/tree/main/b.json", "{\"n\": 2.5}"),
    ]);
    let mut entity = json!({
        "metadata": {"name": "c", "description": {"$text": "a.txt"}},
        "spec": {"items": [{"$json": "b.json"}, {"keep": {"$ref": "#/x"}}]},
    });
    let keys = run(&base, None, &reader, &mut entity).expect("substitution");
    assert_eq!(
        entity,
        json!({
            "metadata": {"name": "c", "description": "A"},
            "spec": {"items": [{"n": 2.5}, {"keep": {"$ref": "#/x"}}]},
        })
    );
    assert_eq!(
        keys,
        vec![
            "url:https://github.com/acme/r/tree/main/a.txt",
            "url:https://github.com/acme/r/tree/main/b.json",
        ]
    );
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!(
            "greenroom-placeholder-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn real_files_in_a_temp_dir() {
    let tmp = TempDir::new("files");
    let root = tmp.0.canonicalize().expect("canonical temp dir");
    std::fs::create_dir_all(root.join("apis")).expect("mkdir");
    std::fs::write(
        root.join("apis/openapi.yaml"),
        "openapi: 3.0.0\ninfo: {title: t}\n",
    )
    .expect("write");
    std::fs::write(root.join("schema.json"), "{\"type\": \"object\"}").expect("write");
    std::fs::write(root.join("readme.txt"), "hello\n").expect("write");

    let catalog = root.join("catalog-info.yaml");
    let base = LocationRef::new("file", catalog.to_str().expect("utf-8 temp path"));
    let ctx = PlaceholderContext {
        base: &base,
        file_root: Some(&root),
    };

    let mut entity = entity_with(json!({
        "definition": {"$yaml": "./apis/openapi.yaml"},
        "schema": {"$json": "/schema.json"},
        "readme": {"$text": "apis/../readme.txt"},
    }));
    let keys = block_on(substitute(&mut entity, &ctx, &DiskReader)).expect("real files");
    assert_eq!(
        entity["spec"]["definition"],
        json!({"openapi": "3.0.0", "info": {"title": "t"}})
    );
    assert_eq!(entity["spec"]["schema"], json!({"type": "object"}));
    assert_eq!(entity["spec"]["readme"], "hello\n");
    // Refresh keys come in document order: entities keep their keys' order.
    assert_eq!(
        keys,
        vec![
            format!("file:{}", root.join("apis/openapi.yaml").display()),
            format!("file:{}", root.join("schema.json").display()),
            format!("file:{}", root.join("readme.txt").display()),
        ]
    );

    let mut escaping = entity_with(json!({"definition": {"$text": "../outside.txt"}}));
    let problems = block_on(substitute(&mut escaping, &ctx, &DiskReader)).expect_err("escape");
    assert!(
        problems[0]
            .message
            .ends_with("path escapes the location root"),
        "{problems:?}"
    );
    assert_eq!(
        escaping["spec"]["definition"],
        json!({"$text": "../outside.txt"})
    );

    let mut missing = entity_with(json!({"definition": {"$text": "./nope.txt"}}));
    let problems = block_on(substitute(&mut missing, &ctx, &DiskReader)).expect_err("missing");
    assert!(
        problems[0]
            .message
            .starts_with("Placeholder $text could not read location ./nope.txt, "),
        "{problems:?}"
    );
}

#[test]
fn same_repository_guard() {
    use greenroom_catalog_model::placeholder::{SAME_REPOSITORY_MESSAGE, check_same_repository};
    let hosts = ["github.com", "gitlab.com"];
    let refused = Err(SAME_REPOSITORY_MESSAGE);
    let rows = [
        (
            "SR01 same repo",
            GH_BASE,
            "https://github.com/acme/r/tree/main/api.yaml",
            Ok(()),
        ),
        (
            "SR02 other repo",
            GH_BASE,
            "https://github.com/acme/other/tree/main/api.yaml",
            refused,
        ),
        (
            "SR03 other owner",
            GH_BASE,
            "https://github.com/evil/r/tree/main/api.yaml",
            refused,
        ),
        (
            "SR04 other integration host",
            GH_BASE,
            "https://gitlab.com/acme/r/-/blob/main/a.yaml",
            refused,
        ),
        (
            "SR05 non-integration host",
            GH_BASE,
            "https://example.com/a.json",
            Ok(()),
        ),
        (
            "SR06 encoded owner",
            GH_BASE,
            "https://github.com/acme%2fx/r/tree/main/a.yaml",
            refused,
        ),
        (
            "SR07 gitlab subgroups",
            "https://gitlab.com/g/sub/p/-/blob/main/c.yaml",
            "https://gitlab.com/g/sub/p/-/blob/main/specs/a.yaml",
            Ok(()),
        ),
        (
            "SR08 gitlab other project",
            "https://gitlab.com/g/sub/p/-/blob/main/c.yaml",
            "https://gitlab.com/g/sub/q/-/blob/main/a.yaml",
            refused,
        ),
        (
            "SR09 file base",
            "/srv/x/catalog-info.yaml",
            "https://github.com/evil/r/tree/main/a",
            Ok(()),
        ),
    ];
    for (id, base, resolved, want) in rows {
        assert_eq!(check_same_repository(base, resolved, &hosts), want, "{id}");
    }
}
