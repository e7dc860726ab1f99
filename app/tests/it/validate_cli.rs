//! `greenroom validate`: exit codes, line numbers, formats, inputs.

use serde_json::Value;

use crate::{greenroom, repo_root, stderr, stdout, temp_dir};

/// The one-based line of the line carrying `# mistake: <marker>` in `text`.
fn marker_line(text: &str, marker: &str) -> u64 {
    let needle = format!("# mistake: {marker}");
    let index = text
        .lines()
        .position(|l| l.contains(&needle))
        .unwrap_or_else(|| panic!("marker {marker} is in the fixture"));
    u64::try_from(index).expect("small") + 1
}

#[test]
fn example_catalog_is_valid() {
    let out = greenroom(&repo_root(), &["validate", "examples/"], None);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(!text.contains(": error:"), "{text}");
    // The summary names a realistic number of entities: the example is a whole company.
    let summary = text.lines().last().expect("a summary line");
    let valid: usize = summary
        .split(", ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("summary has an entity count: {summary}"));
    assert!(valid >= 30, "{summary}");
}

#[test]
fn five_mistakes_are_all_reported_at_their_lines() {
    let root = repo_root();
    let fixture = "app/tests/fixtures/five-mistakes/catalog-info.yaml";
    let source = std::fs::read_to_string(root.join(fixture)).expect("fixture exists");
    let out = greenroom(&root, &["validate", "--format", "json", fixture], None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).expect("JSON output");
    let findings = report["findings"].as_array().expect("findings array");
    let errors: Vec<&Value> = findings
        .iter()
        .filter(|f| f["severity"] == "error")
        .collect();
    assert_eq!(errors.len(), 5, "{findings:#?}");
    assert_eq!(report["summary"]["errors"], 5);

    let expect = [
        ("bad-name", "format", "metadata.name"),
        ("missing-lifecycle", "kind", "spec.lifecycle"),
        ("duplicate-key", "syntax", ""),
        ("bad-ref", "reference", "spec.dependsOn.1"),
        ("unreadable-text", "placeholder", "spec.definition"),
    ];
    for (marker, kind, field) in expect {
        let line = marker_line(&source, marker);
        let found = errors
            .iter()
            .find(|f| f["line"] == line)
            .unwrap_or_else(|| {
                panic!("no error at line {line} ({marker}); findings: {findings:#?}")
            });
        assert_eq!(found["kind"], kind, "{marker}: {found}");
        assert_eq!(found["field"], field, "{marker}: {found}");
        assert_eq!(found["file"], fixture);
        assert!(found["column"].as_u64().is_some_and(|c| c >= 1));
    }
    // The three entities without mistakes in their own document still count as valid:
    // none here, since every document has one.
    assert_eq!(report["summary"]["entities"], 0);
}

#[test]
fn text_output_is_path_line_col_error_message() {
    let root = repo_root();
    let fixture = "app/tests/fixtures/five-mistakes/catalog-info.yaml";
    let source = std::fs::read_to_string(root.join(fixture)).expect("fixture exists");
    let out = greenroom(&root, &["validate", fixture], None);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let line = marker_line(&source, "bad-name");
    let prefix = format!("{fixture}:{line}:");
    let row = text
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("a row for line {line}: {text}"));
    assert!(row.contains(": error: "), "{row}");
    assert!(row.contains("metadata.name"), "{row}");
    assert!(
        text.lines().last().is_some_and(|l| l.contains("5 errors")),
        "{text}"
    );
}

#[test]
fn stdin_is_read_with_dash() {
    let good = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: web\nspec:\n  type: website\n  lifecycle: production\n  owner: team-a\n";
    let out = greenroom(&repo_root(), &["validate", "-"], Some(good));
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("1 valid entity"), "{}", stdout(&out));

    let bad = good.replace("name: web", "name: 'no spaces allowed'");
    let out = greenroom(&repo_root(), &["validate", "-"], Some(&bad));
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).starts_with("<stdin>:4:"), "{}", stdout(&out));
}

#[test]
fn directories_skip_non_descriptors_and_honour_ignore_files() {
    let dir = temp_dir("walk");
    std::fs::create_dir_all(dir.join("apis")).expect("mkdir");
    std::fs::create_dir_all(dir.join("skeleton")).expect("mkdir");
    std::fs::write(
        dir.join("catalog-info.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: orders\nspec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n  definition:\n    $text: ./apis/orders.yaml\n",
    )
    .expect("write");
    // An OpenAPI document is YAML but not a descriptor: it must not be checked.
    std::fs::write(
        dir.join("apis/orders.yaml"),
        "openapi: 3.0.0\ninfo: {title: x, version: '1'}\n",
    )
    .expect("write");
    // A template skeleton is not a descriptor either; the ignore file says so.
    std::fs::write(
        dir.join("skeleton/catalog-info.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: ${{ values.name }}\n",
    )
    .expect("write");
    std::fs::write(dir.join(".greenroomignore"), "# skeletons\nskeleton/\n").expect("write");

    let out = greenroom(&dir, &["validate", "."], None);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("1 file checked, 1 valid entity"),
        "{}",
        stdout(&out)
    );

    // Without the ignore file the skeleton is checked and fails.
    std::fs::remove_file(dir.join(".greenroomignore")).expect("rm");
    let out = greenroom(&dir, &["validate", "."], None);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("skeleton/catalog-info.yaml:4:"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn placeholders_may_not_leave_the_validated_folder() {
    let dir = temp_dir("escape");
    std::fs::create_dir_all(dir.join("inner")).expect("mkdir");
    std::fs::write(dir.join("secret.txt"), "outside").expect("write");
    std::fs::write(
        dir.join("inner/catalog-info.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: orders\nspec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n  definition:\n    $text: ../secret.txt\n",
    )
    .expect("write");
    let out = greenroom(&dir, &["validate", "inner"], None);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("inner/catalog-info.yaml:10:"),
        "{}",
        stdout(&out)
    );
    // Validating from the parent folder makes the same file legal.
    let out = greenroom(&dir, &["validate", "."], None);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn missing_path_is_a_usage_error() {
    let out = greenroom(&repo_root(), &["validate", "does/not/exist.yaml"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("does/not/exist.yaml"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_entity_defined_twice_is_an_error_pointing_at_both() {
    let dir = temp_dir("dupes");
    let component = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: NAME\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n";
    std::fs::write(dir.join("a.yaml"), component.replace("NAME", "billing")).expect("write");
    // Refs compare case-insensitively, so `Billing` is the same entity.
    std::fs::write(dir.join("b.yaml"), component.replace("NAME", "Billing")).expect("write");
    let out = greenroom(&dir, &["validate", "."], None);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "b.yaml:4:3: error: Entity component:default/billing is already defined at a.yaml:4:3"
        ),
        "{text}"
    );
    assert!(text.contains("1 valid entity"), "{text}");
}
