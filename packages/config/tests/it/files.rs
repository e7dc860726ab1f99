//! §1.1 file selection and precedence, §1.2 parsing, checklist items 1–2.

use greenroom_config::{ConfigError, MAX_CONFIG_FILE_BYTES, load};

use crate::support::{LoadCase, Sandbox, Want, check_load};

const BASE: (&str, &str) = (
    "app-config.yaml",
    "app:\n  title: base\n  port: 1\nonly: base\n",
);
const LOCAL: (&str, &str) = ("app-config.local.yaml", "app:\n  title: local\n");

const CASES: &[LoadCase] = &[
    LoadCase {
        id: "F01 default set: local wins, base kept",
        files: &[BASE, LOCAL],
        cwd: "",
        configs: &[],
        env: &[],
        want: Want::Merged(r#"{"app":{"title":"local","port":1},"only":"base"}"#),
    },
    LoadCase {
        id: "F02 BACKSTAGE_ENV order: base < env < local < env.local",
        files: &[
            (
                "app-config.yaml",
                "a: base\nb: base\nc: base\nd: base\ne: base\n",
            ),
            (
                "app-config.production.yaml",
                "b: prod\nc: prod\nd: prod\ne: prod\n",
            ),
            (
                "app-config.staging.yaml",
                "c: staging\nd: staging\ne: staging\n",
            ),
            ("app-config.local.yaml", "d: local\ne: local\n"),
            ("app-config.production.local.yaml", "e: prod-local\n"),
        ],
        cwd: "",
        configs: &[],
        env: &[("BACKSTAGE_ENV", "production, staging")],
        want: Want::Merged(r#"{"a":"base","b":"prod","c":"staging","d":"local","e":"prod-local"}"#),
    },
    LoadCase {
        id: "F03 env-named files are ignored without BACKSTAGE_ENV",
        files: &[BASE, ("app-config.production.yaml", "only: prod\n")],
        cwd: "",
        configs: &[],
        env: &[],
        want: Want::Merged(r#"{"app":{"title":"base","port":1},"only":"base"}"#),
    },
    LoadCase {
        id: "F04 missing app-config.yaml fails even with a local file",
        files: &[LOCAL],
        cwd: "",
        configs: &[],
        env: &[],
        want: Want::Error(r#"Config file "{root}/app-config.yaml" does not exist"#),
    },
    LoadCase {
        id: "F05 --config replaces the default set; later wins",
        files: &[
            BASE,
            LOCAL,
            ("one.yaml", "app:\n  title: one\n  port: 2\n"),
            ("two.yaml", "app:\n  title: two\n"),
        ],
        cwd: "",
        configs: &["one.yaml", "two.yaml"],
        env: &[],
        want: Want::Merged(r#"{"app":{"title":"two","port":2}}"#),
    },
    LoadCase {
        id: "F06 --config order matters",
        files: &[("one.yaml", "x: one\n"), ("two.yaml", "x: two\n")],
        cwd: "",
        configs: &["two.yaml", "one.yaml"],
        env: &[],
        want: Want::Merged(r#"{"x":"one"}"#),
    },
    LoadCase {
        id: "F07 relative --config resolves against cwd",
        files: &[("conf/c.yaml", "x: 1\n")],
        cwd: "sub/dir",
        configs: &["../../conf/c.yaml"],
        env: &[],
        want: Want::Merged(r#"{"x":1}"#),
    },
    LoadCase {
        id: "F08 missing --config names the absolute path",
        files: &[BASE],
        cwd: "sub",
        configs: &["../nope.yaml"],
        env: &[],
        want: Want::Error(r#"Config file "{root}/nope.yaml" does not exist"#),
    },
    LoadCase {
        id: "F09 URL argument needs remote config",
        files: &[BASE],
        cwd: "",
        configs: &["app-config.yaml", "https://example.com/app-config.yaml"],
        env: &[],
        want: Want::Error(
            "Config argument \"https://example.com/app-config.yaml\" looks like a URL but remote configuration is not enabled. Enable it by passing the `remote` option",
        ),
    },
    LoadCase {
        id: "F10 default files are found by walking up from cwd",
        files: &[BASE, LOCAL],
        cwd: "packages/backend",
        configs: &[],
        env: &[],
        want: Want::Merged(r#"{"app":{"title":"local","port":1},"only":"base"}"#),
    },
    LoadCase {
        id: "F11 the walk stops at a .git directory",
        files: &[BASE, ("repo/.git/HEAD", "ref\n")],
        cwd: "repo/packages/backend",
        configs: &[],
        env: &[],
        want: Want::Error(r#"Config file "{root}/repo/app-config.yaml" does not exist"#),
    },
    LoadCase {
        id: "F12 an empty file contributes nothing",
        files: &[("one.yaml", "x: 1\n"), ("empty.yaml", "# only a comment\n")],
        cwd: "",
        configs: &["one.yaml", "empty.yaml"],
        env: &[],
        want: Want::Merged(r#"{"x":1}"#),
    },
    LoadCase {
        id: "F13 top level must be an object",
        files: &[("list.yaml", "- a\n- b\n")],
        cwd: "",
        configs: &["list.yaml"],
        env: &[],
        want: Want::Error(
            r#"Failed to read config file at "{root}/list.yaml", expected object at config root"#,
        ),
    },
    LoadCase {
        id: "F14 a scalar root is not an object either",
        files: &[("s.yaml", "just text\n")],
        cwd: "",
        configs: &["s.yaml"],
        env: &[],
        want: Want::Error(
            r#"Failed to read config file at "{root}/s.yaml", expected object at config root"#,
        ),
    },
    LoadCase {
        id: "F15 YAML syntax errors name file, line and column",
        files: &[("bad.yaml", "a: 1\nb: [1, 2\n")],
        cwd: "",
        configs: &["bad.yaml"],
        env: &[],
        want: Want::ErrorContains(
            r#"Failed to read config file at "{root}/bad.yaml", invalid YAML at line "#,
        ),
    },
    LoadCase {
        id: "F16 duplicate keys are errors",
        files: &[("dup.yaml", "a: 1\na: 2\n")],
        cwd: "",
        configs: &["dup.yaml"],
        env: &[],
        want: Want::ErrorContains(
            r#"Failed to read config file at "{root}/dup.yaml", invalid YAML at line 2"#,
        ),
    },
    LoadCase {
        id: "F17 YAML 1.2 scalars as Backstage reads them",
        files: &[(
            "y.yaml",
            "a: yes\nb: on\nc: 1_000\nd: 1e3\ne: 1.5\nf: true\ng: '7'\nh: 0x1F\nbase: &b {x: 1}\nother:\n  <<: *b\n",
        )],
        cwd: "",
        configs: &["y.yaml"],
        env: &[],
        want: Want::Merged(
            r#"{"a":"yes","b":"on","c":"1_000","d":1000,"e":1.5,"f":true,"g":"7","h":31,"base":{"x":1},"other":{"<<":{"x":1}}}"#,
        ),
    },
    LoadCase {
        id: "F18 JSON is accepted as YAML",
        files: &[("c.json.yaml", r#"{"a": {"b": [1, "x"]}}"#)],
        cwd: "",
        configs: &["c.json.yaml"],
        env: &[],
        want: Want::Merged(r#"{"a":{"b":[1,"x"]}}"#),
    },
];

#[test]
fn file_selection_and_parsing() {
    for case in CASES {
        check_load(case);
    }
}

#[test]
fn layer_contexts_are_file_names_in_priority_order() {
    let sandbox = Sandbox::new("contexts");
    sandbox.write_all(&[BASE, LOCAL, ("app-config.production.yaml", "x: 1\n")]);
    let options = sandbox.options(
        "",
        &[],
        &[("BACKSTAGE_ENV", "production"), ("APP_CONFIG_y", "2")],
    );
    let config = load(&options).expect("loads");
    assert_eq!(
        config.contexts(),
        [
            "app-config.yaml",
            "app-config.production.yaml",
            "app-config.local.yaml",
            "env"
        ]
    );
}

#[test]
fn allow_missing_default_loads_the_rest() {
    let sandbox = Sandbox::new("allow-missing");
    sandbox.write_all(&[LOCAL]);
    let mut options = sandbox.options("", &[], &[]);
    options.allow_missing_default = true;
    let config = load(&options).expect("loads without app-config.yaml");
    assert_eq!(
        config.merged(),
        &serde_json::json!({"app": {"title": "local"}})
    );

    // Nothing at all is an empty config whose missing keys name `mock-config`.
    let empty = Sandbox::new("allow-missing-empty");
    let mut options = empty.options("", &[], &[]);
    options.allow_missing_default = true;
    let config = load(&options).expect("loads nothing");
    assert_eq!(config.merged(), &serde_json::json!({}));
    assert_eq!(
        config.get_string("a").map_err(|e| e.to_string()),
        Err("Missing required config value at 'a' in 'mock-config'".to_owned())
    );
}

#[test]
fn oversized_files_are_refused() {
    let sandbox = Sandbox::new("oversized");
    let big = format!(
        "a: \"{}\"\n",
        "x".repeat(usize::try_from(MAX_CONFIG_FILE_BYTES).unwrap_or(0))
    );
    let path = sandbox.write("big.yaml", &big);
    let options = sandbox.options("", &["big.yaml"], &[]);
    match load(&options) {
        Err(ConfigError::Read { path: p, message }) => {
            assert_eq!(p, path);
            assert!(
                message.contains("larger than the limit of 4194304 bytes"),
                "{message}"
            );
        }
        other => panic!("expected a size error, got {other:?}"),
    }
}

#[test]
fn yaml_errors_carry_a_position() {
    let sandbox = Sandbox::new("yaml-pos");
    sandbox.write("bad.yaml", "a: 1\nb:\n  c: [1\n");
    match load(&sandbox.options("", &["bad.yaml"], &[])) {
        Err(ConfigError::Yaml { line, column, .. }) => {
            assert!(line >= 3, "line {line}");
            assert!(column >= 1, "column {column}");
        }
        other => panic!("expected a YAML error, got {other:?}"),
    }
    assert!(sandbox.path().exists());
}
