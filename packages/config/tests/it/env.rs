//! §1.6 `APP_CONFIG_*` overrides (checklist items 3, 4 and 5).

use greenroom_config::load;

use crate::support::{LoadCase, Sandbox, Want, check_load};

const FILE: &[(&str, &str)] = &[(
    "app-config.yaml",
    "backend:\n  baseUrl: http://file\n  listen:\n    port: 7007\n  list: [1, 2]\n",
)];

const fn case(
    id: &'static str,
    env: &'static [(&'static str, &'static str)],
    want: Want,
) -> LoadCase {
    LoadCase {
        id,
        files: FILE,
        cwd: "",
        configs: &[],
        env,
        want,
    }
}

const CASES: &[LoadCase] = &[
    case(
        "E01 an override beats every file",
        &[("APP_CONFIG_backend_baseUrl", "http://x")],
        Want::Merged(r#"{"backend":{"baseUrl":"http://x","listen":{"port":7007},"list":[1,2]}}"#),
    ),
    case(
        "E02 JSON numbers become numbers",
        &[("APP_CONFIG_backend_listen_port", "7010")],
        Want::Merged(
            r#"{"backend":{"baseUrl":"http://file","listen":{"port":7010},"list":[1,2]}}"#,
        ),
    ),
    case(
        "E03 non-JSON values stay strings",
        &[("APP_CONFIG_backend_listen_port", "abc")],
        Want::Merged(
            r#"{"backend":{"baseUrl":"http://file","listen":{"port":"abc"},"list":[1,2]}}"#,
        ),
    ),
    case(
        "E04 JSON parsing details",
        &[
            ("APP_CONFIG_v_a", "007"),
            ("APP_CONFIG_v_b", " 5 "),
            ("APP_CONFIG_v_c", "true"),
            ("APP_CONFIG_v_d", r#"[{"type":"url","target":"x"}]"#),
            ("APP_CONFIG_v_e", r#"{"k":1.0}"#),
            ("APP_CONFIG_v_f", r#""quoted""#),
            ("APP_CONFIG_v_g", "My Portal"),
        ],
        Want::Merged(
            r#"{"backend":{"baseUrl":"http://file","listen":{"port":7007},"list":[1,2]},"v":{"a":"007","b":5,"c":true,"d":[{"type":"url","target":"x"}],"e":{"k":1},"f":"quoted","g":"My Portal"}}"#,
        ),
    ),
    case(
        "E05 empty values are ignored",
        &[("APP_CONFIG_backend_baseUrl", ""), ("APP_CONFIG_1bad", "")],
        Want::Merged(
            r#"{"backend":{"baseUrl":"http://file","listen":{"port":7007},"list":[1,2]}}"#,
        ),
    ),
    case(
        "E06 null is refused",
        &[("APP_CONFIG_a_b", "null")],
        Want::Error(
            "Failed to parse JSON-serialized config value for key 'a_b', Error: value may not be null",
        ),
    ),
    case(
        "E07 a segment starting with a digit is invalid",
        &[("APP_CONFIG_backend_1abc", "x")],
        Want::Error("Invalid env config key 'backend_1abc'"),
    ),
    case(
        "E08 separators inside a segment are fine",
        &[("APP_CONFIG_a-1_c", "1"), ("APP_CONFIG_my-plugin_a:b", "2")],
        Want::Merged(
            r#"{"backend":{"baseUrl":"http://file","listen":{"port":7007},"list":[1,2]},"a-1":{"c":1},"my-plugin":{"a:b":2}}"#,
        ),
    ),
    case(
        "E09 empty segment",
        &[("APP_CONFIG_a__b", "x")],
        Want::Error("Invalid env config key 'a__b'"),
    ),
    case(
        "E10 trailing underscore",
        &[("APP_CONFIG_a_", "x")],
        Want::Error("Invalid env config key 'a_'"),
    ),
    case(
        "E11 bare prefix",
        &[("APP_CONFIG_", "x")],
        Want::Error("Invalid env config key ''"),
    ),
    case(
        "E12 array index",
        &[("APP_CONFIG_arr_0", "x")],
        Want::Error("Invalid env config key 'arr_0'"),
    ),
    case(
        "E13 dot in the name",
        &[("APP_CONFIG_a.b", "x")],
        Want::Error("Invalid env config key 'a.b'"),
    ),
    case(
        "E14 trailing dash",
        &[("APP_CONFIG_a-", "x")],
        Want::Error("Invalid env config key 'a-'"),
    ),
    case(
        "E15 nesting under a scalar",
        &[("APP_CONFIG_a_b", "1"), ("APP_CONFIG_a_b_c", "2")],
        Want::Error("Could not nest config for key 'a_b_c' under existing value 'a_b'"),
    ),
    case(
        "E16 overriding a value set by another variable",
        &[("APP_CONFIG_a", r#"{"b":1}"#), ("APP_CONFIG_a_b", "2")],
        Want::Error("Refusing to override existing config at key 'a_b'"),
    ),
    case(
        "E17 nesting into a JSON object from another variable",
        &[("APP_CONFIG_a", r#"{"b":1}"#), ("APP_CONFIG_a_c", "2")],
        Want::Merged(
            r#"{"backend":{"baseUrl":"http://file","listen":{"port":7007},"list":[1,2]},"a":{"b":1,"c":2}}"#,
        ),
    ),
    case(
        "E18 case is kept",
        &[("APP_CONFIG_BACKEND_BASEURL", "x")],
        Want::Merged(
            r#"{"backend":{"baseUrl":"http://file","listen":{"port":7007},"list":[1,2]},"BACKEND":{"BASEURL":"x"}}"#,
        ),
    ),
    case(
        "E19 no directives or substitution in overrides",
        &[
            ("APP_CONFIG_x_a", "${HOME}"),
            ("APP_CONFIG_x_b", r#"{"$env":"HOME"}"#),
            ("HOME", "/h"),
        ],
        Want::Merged(
            r#"{"backend":{"baseUrl":"http://file","listen":{"port":7007},"list":[1,2]},"x":{"a":"${HOME}","b":{"$env":"HOME"}}}"#,
        ),
    ),
    case(
        "E20 other variables are ignored",
        &[("app_config_x", "1"), ("MY_APP_CONFIG_x", "1")],
        Want::Merged(
            r#"{"backend":{"baseUrl":"http://file","listen":{"port":7007},"list":[1,2]}}"#,
        ),
    ),
    case(
        "E21 an override array replaces the file array",
        &[("APP_CONFIG_backend_list", "[3]")],
        Want::Merged(r#"{"backend":{"baseUrl":"http://file","listen":{"port":7007},"list":[3]}}"#),
    ),
    case(
        "E22 an override object merges into the file object",
        &[("APP_CONFIG_backend", r#"{"extra":true}"#)],
        Want::Merged(
            r#"{"backend":{"baseUrl":"http://file","listen":{"port":7007},"list":[1,2],"extra":true}}"#,
        ),
    ),
];

#[test]
fn env_override_table() {
    for case in CASES {
        check_load(case);
    }
}

#[test]
fn env_layer_context_is_env() {
    let sandbox = Sandbox::new("env-context");
    sandbox.write_all(FILE);
    let options = sandbox.options("", &[], &[("APP_CONFIG_backend_listen_port", "abc")]);
    let config = load(&options).expect("loads");
    assert_eq!(
        config
            .get_number("backend.listen.port")
            .map_err(|e| e.to_string()),
        Err(
            "Unable to convert config value for key 'backend.listen.port' in 'env' to a number"
                .to_owned()
        )
    );
    // A key that only a file sets still reports that file.
    assert_eq!(
        config.get_number("backend.baseUrl").map_err(|e| e.to_string()),
        Err("Unable to convert config value for key 'backend.baseUrl' in 'app-config.yaml' to a number".to_owned())
    );
    // Missing keys report the highest layer.
    assert_eq!(
        config.get_string("nope").map_err(|e| e.to_string()),
        Err("Missing required config value at 'nope' in 'env'".to_owned())
    );
}

#[test]
fn key_segment_grammar() {
    let rows: &[(&str, bool)] = &[
        ("a", true),
        ("baseUrl", true),
        ("my-plugin", true),
        ("a-1", true),
        ("a:b", true),
        ("a_b-c:d", true),
        ("x9", true),
        ("", false),
        ("1abc", false),
        ("-a", false),
        ("a-", false),
        ("a--b", false),
        ("a.b", false),
        ("a b", false),
        ("é", false),
        ("a$", false),
    ];
    for (segment, want) in rows {
        assert_eq!(
            greenroom_config::is_valid_key_segment(segment),
            *want,
            "{segment:?}"
        );
    }
}
