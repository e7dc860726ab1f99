//! §1.3, §1.5 and §1.8 reader semantics and error wordings (checklist item 13).

use greenroom_config::Config;
use serde::Deserialize;
use serde_json::json;

use crate::support::show;

fn fixture() -> Config {
    Config::from_layers([
        (
            "base.yaml".to_owned(),
            json!({
                "a": {
                    "s": "hello", "n": 42, "f": 1.5, "ns": " 7007 ", "bad": "abc", "e": "",
                    "blank": "  ", "hex": "0x1F", "exp": "1e3", "inf": "Infinity", "neg": "-2.5",
                    "arr": ["x", "y"], "badarr": ["x", ""], "numarr": ["x", 1],
                    "objs": [{"k": 1}, {"k": 2}], "mixed": [{"k": 1}, "s"],
                    "yes": "YES", "one": 1, "onef": 1.0, "half": 0.5, "two": 2, "off": " off ", "t": true, "zero": "0",
                    "obj": {"x": 1}
                },
                "shadow": {"deep": 1},
                "lower": "from-base"
            }),
        ),
        (
            "prod.yaml".to_owned(),
            json!({"a": {"s": "world", "server": {"port": "8080"}}, "shadow": null, "top": "p"}),
        ),
    ])
    .expect("object layers")
}

type Row = (&'static str, fn(&Config) -> String, &'static str);

const ROWS: &[Row] = &[
    (
        "R01 higher layer wins",
        |c| show(c.get_string("a.s")),
        r#""world""#,
    ),
    (
        "R02 lower layer still visible",
        |c| show(c.get_string("lower")),
        r#""from-base""#,
    ),
    (
        "R03 missing required names key and top context",
        |c| show(c.get_string("a.missing")),
        "Missing required config value at 'a.missing' in 'prod.yaml'",
    ),
    (
        "R04 missing optional is None",
        |c| show(c.get_optional_string("a.missing")),
        "None",
    ),
    (
        "R05 empty string is a type error",
        |c| show(c.get_string("a.e")),
        "Invalid type in config for key 'a.e' in 'base.yaml', got empty-string, wanted string",
    ),
    (
        "R06 empty string is a type error for optional too",
        |c| show(c.get_optional_string("a.e")),
        "Invalid type in config for key 'a.e' in 'base.yaml', got empty-string, wanted string",
    ),
    (
        "R07 getString does not accept numbers",
        |c| show(c.get_string("a.n")),
        "Invalid type in config for key 'a.n' in 'base.yaml', got number, wanted string",
    ),
    (
        "R08 object where a string is wanted, context of the top object",
        |c| show(c.get_string("a")),
        "Invalid type in config for key 'a' in 'prod.yaml', got object, wanted string",
    ),
    ("R09 number", |c| show(c.get_number("a.n")), "42.0"),
    ("R10 float", |c| show(c.get_number("a.f")), "1.5"),
    (
        "R11 numeric string is trimmed and converted",
        |c| show(c.get_number("a.ns")),
        "7007.0",
    ),
    ("R12 hex string", |c| show(c.get_number("a.hex")), "31.0"),
    (
        "R13 exponent string",
        |c| show(c.get_number("a.exp")),
        "1000.0",
    ),
    (
        "R14 negative string",
        |c| show(c.get_optional_number("a.neg")),
        "Some(-2.5)",
    ),
    (
        "R15 unparsable string",
        |c| show(c.get_number("a.bad")),
        "Unable to convert config value for key 'a.bad' in 'base.yaml' to a number",
    ),
    (
        "R16 blank string",
        |c| show(c.get_number("a.blank")),
        "Unable to convert config value for key 'a.blank' in 'base.yaml' to a number",
    ),
    (
        "R17 empty string",
        |c| show(c.get_optional_number("a.e")),
        "Unable to convert config value for key 'a.e' in 'base.yaml' to a number",
    ),
    (
        "R18 non-finite string",
        |c| show(c.get_number("a.inf")),
        "Unable to convert config value for key 'a.inf' in 'base.yaml' to a number",
    ),
    (
        "R19 object is a type error for numbers",
        |c| show(c.get_number("a.obj")),
        "Invalid type in config for key 'a.obj' in 'base.yaml', got object, wanted number",
    ),
    (
        "R20 numeric string in the top layer",
        |c| show(c.get_number("a.server.port")),
        "8080.0",
    ),
    ("R21 boolean", |c| show(c.get_bool("a.t")), "true"),
    ("R22 YES is true", |c| show(c.get_bool("a.yes")), "true"),
    ("R23 1 is true", |c| show(c.get_bool("a.one")), "true"),
    (
        "R24 ' off ' is false",
        |c| show(c.get_optional_bool("a.off")),
        "Some(false)",
    ),
    ("R25 '0' is false", |c| show(c.get_bool("a.zero")), "false"),
    (
        "R26 2 is not a boolean",
        |c| show(c.get_bool("a.two")),
        "Unable to convert config value for key 'a.two' in 'base.yaml' to a boolean",
    ),
    (
        "R27 other strings are not booleans",
        |c| show(c.get_bool("a.s")),
        "Unable to convert config value for key 'a.s' in 'prod.yaml' to a boolean",
    ),
    (
        "R28 array is a type error for booleans",
        |c| show(c.get_bool("a.arr")),
        "Invalid type in config for key 'a.arr' in 'base.yaml', got array, wanted boolean",
    ),
    (
        "R29 missing optional bool",
        |c| show(c.get_optional_bool("a.nope")),
        "None",
    ),
    (
        "R30 string array",
        |c| show(c.get_string_array("a.arr")),
        r#"["x", "y"]"#,
    ),
    (
        "R31 empty element in a string array",
        |c| show(c.get_string_array("a.badarr")),
        "Invalid type in config for key 'a.badarr[1]' in 'base.yaml', got empty-string, wanted string-array",
    ),
    (
        "R32 number element in a string array",
        |c| show(c.get_optional_string_array("a.numarr")),
        "Invalid type in config for key 'a.numarr[1]' in 'base.yaml', got number, wanted string-array",
    ),
    (
        "R33 string where a string array is wanted",
        |c| show(c.get_string_array("a.s")),
        "Invalid type in config for key 'a.s' in 'prod.yaml', got string, wanted string-array",
    ),
    (
        "R34 sub-config keys",
        |c| show(c.get_config("a.obj").map(|s| s.keys())),
        r#"["x"]"#,
    ),
    (
        "R35 sub-config of a string",
        |c| show(c.get_config("a.s").map(|s| s.keys())),
        "Invalid type in config for key 'a.s' in 'prod.yaml', got string, wanted object",
    ),
    (
        "R36 missing sub-config",
        |c| show(c.get_config("a.nope").map(|s| s.keys())),
        "Missing required config value at 'a.nope' in 'prod.yaml'",
    ),
    (
        "R37 sub-config errors show the full key",
        |c| show(c.get_config("a").and_then(|s| s.get_string("n"))),
        "Invalid type in config for key 'a.n' in 'base.yaml', got number, wanted string",
    ),
    (
        "R38 sub-config missing keys show the full key",
        |c| show(c.get_config("a.obj").and_then(|s| s.get_string("y"))),
        "Missing required config value at 'a.obj.y' in 'base.yaml'",
    ),
    (
        "R39 sub-config merges layers",
        |c| show(c.get_config("a").and_then(|s| s.get_number("server.port"))),
        "8080.0",
    ),
    (
        "R40 config array elements",
        |c| {
            show(c.get_config_array("a.objs").and_then(|items| {
                items
                    .iter()
                    .map(|i| i.get_number("k"))
                    .collect::<Result<Vec<_>, _>>()
            }))
        },
        "[1.0, 2.0]",
    ),
    (
        "R41 config array element keys carry the index",
        |c| {
            show(
                c.get_config_array("a.objs")
                    .and_then(|items| items[1].get_string("k")),
            )
        },
        "Invalid type in config for key 'a.objs[1].k' in 'base.yaml', got number, wanted string",
    ),
    (
        "R42 non-object element in a config array",
        |c| show(c.get_config_array("a.mixed").map(|v| v.len())),
        "Invalid type in config for key 'a.mixed[1]' in 'base.yaml', got string, wanted object-array",
    ),
    (
        "R43 string where a config array is wanted",
        |c| {
            show(
                c.get_optional_config_array("a.s")
                    .map(|v| v.map(|v| v.len())),
            )
        },
        "Invalid type in config for key 'a.s' in 'prod.yaml', got string, wanted object-array",
    ),
    (
        "R44 walking through a string",
        |c| show(c.get_optional_string("a.s.x")),
        "Invalid type in config for key 'a.s' in 'prod.yaml', got string, wanted object",
    ),
    (
        "R45 walking through an array",
        |c| show(c.get_optional_string("a.arr.x")),
        "Invalid type in config for key 'a.arr' in 'base.yaml', got array, wanted object",
    ),
    (
        "R46 empty segment",
        |c| show(c.get_string("a..s")),
        "Invalid config key 'a..s'",
    ),
    (
        "R47 digit-first segment",
        |c| show(c.get_optional_string("a.1x")),
        "Invalid config key 'a.1x'",
    ),
    (
        "R48 blank in segment",
        |c| show(c.get_number("a.b c")),
        "Invalid config key 'a.b c'",
    ),
    (
        "R49 trailing dot",
        |c| show(c.get_bool("a.")),
        "Invalid config key 'a.'",
    ),
    (
        "R50 null hides the lower object",
        |c| show(c.get_optional_config("shadow").map(|v| v.is_some())),
        "false",
    ),
    (
        "R51 null is missing for required getters",
        |c| show(c.get_config("shadow").map(|v| v.keys())),
        "Missing required config value at 'shadow' in 'prod.yaml'",
    ),
    (
        "R52 has",
        |c| {
            format!(
                "{} {} {} {}",
                c.has("a.s"),
                c.has("a.nope"),
                c.has("shadow"),
                c.has("a..b")
            )
        },
        "true false false false",
    ),
    (
        "R53 root keys",
        |c| format!("{:?}", c.keys()),
        r#"["a", "lower", "top"]"#,
    ),
    (
        "R54 generic get",
        |c| format!("{:?}", c.get("a.obj")),
        r#"Some(Object {"x": Number(1)})"#,
    ),
    (
        "R55 generic required get",
        |c| show(c.get_value("a.nope")),
        "Missing required config value at 'a.nope' in 'prod.yaml'",
    ),
    (
        "R56 empty key is the whole view",
        |c| {
            show(
                c.get_config("a")
                    .map(|s| s.get("").is_some_and(|v| v.is_object())),
            )
        },
        "true",
    ),
    (
        "R57 typed read",
        |c| show(c.get_typed::<u16>("a.n")),
        "Some(42)",
    ),
    (
        "R58 typed read of a missing key",
        |c| show(c.get_typed::<u16>("a.nope")),
        "None",
    ),
    (
        "R59 typed read error names key, context and reason",
        |c| show(c.get_typed::<u16>("a.s")),
        "Invalid config value at 'a.s' in 'prod.yaml': invalid type: string \"world\", expected u16",
    ),
    (
        "R60 typed struct",
        |c| show(c.get_typed::<Server>("a.server")),
        r#"Some(Server { port: "8080" })"#,
    ),
    (
        "R61 sub-view prefix",
        |c| {
            show(
                c.get_config_array("a.objs")
                    .map(|v| v[0].prefix().to_owned()),
            )
        },
        r#""a.objs[0]""#,
    ),
];

#[derive(Debug, Deserialize)]
#[expect(dead_code, reason = "the field is read through Debug output only")]
struct Server {
    port: String,
}

#[test]
fn reader_table() {
    let config = fixture();
    for (id, run, want) in ROWS {
        assert_eq!(run(&config), *want, "{id}");
    }
}
