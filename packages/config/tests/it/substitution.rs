//! §1.5 `${...}` substitution on strings (checklist items 8 and 9).

use greenroom_config::substitute;

use crate::support::env_map;

/// `(case id, input, expected output or None for undefined)`.
const CASES: &[(&str, &str, Option<&str>)] = &[
    ("S01 whole string", "${A}", Some("alpha")),
    ("S02 inside text", "x-${A}-y", Some("x-alpha-y")),
    ("S03 blanks inside braces", "${ A }", Some("alpha")),
    ("S04 value is trimmed", "[${PADDED}]", Some("[p]")),
    ("S05 unset makes the string undefined", "x ${UNSET} y", None),
    (
        "S06 set-but-empty inserts nothing",
        "a${EMPTY}b",
        Some("ab"),
    ),
    ("S07 fallback when unset", "${UNSET:-fb}", Some("fb")),
    ("S08 fallback when empty", "${EMPTY:-fb}", Some("fb")),
    ("S09 fallback unused when set", "${A:-fb}", Some("alpha")),
    ("S10 fallback is trimmed", "${UNSET:-  fb  }", Some("fb")),
    ("S11 empty fallback is undefined", "${UNSET:-}", None),
    ("S12 escape is literal", "$${A}", Some("${A}")),
    (
        "S13 scaffolder braces survive",
        "${{ parameters.x }}",
        Some("${{ parameters.x }}"),
    ),
    (
        "S14 escaped double braces keep both dollars",
        "$${{ x }}",
        Some("$${{ x }}"),
    ),
    ("S15 any unset token undefines all", "${A}${UNSET}", None),
    (
        "S16 stray dollars and open tokens",
        "$ $x ${open",
        Some("$ $x ${open"),
    ),
    ("S17 double dollar without brace", "a$$b", Some("a$$b")),
    ("S18 adjacent tokens", "${A}${B}", Some("alphabeta")),
    ("S19 triple dollar", "$$${A}", Some("$${A}")),
    ("S20 non-ASCII around tokens", "é${A}ü", Some("éalphaü")),
    ("S21 no tokens", "plain", Some("plain")),
    (
        "S22 escaped and plain together",
        "$${A} ${A}",
        Some("${A} alpha"),
    ),
    (
        "S23 fallback with colon-dash text",
        "${UNSET:-a:-b}",
        Some("a:-b"),
    ),
    ("S24 empty name is unset", "${}", None),
    (
        "S25 nested brace ends the attempt",
        "${A${B}}",
        Some("${Abeta}"),
    ),
];

#[test]
fn substitution_table() {
    let env = env_map(&[
        ("A", "alpha"),
        ("B", "beta"),
        ("PADDED", "  p \t"),
        ("EMPTY", ""),
    ]);
    for (id, input, want) in CASES {
        assert_eq!(
            substitute(input, &env).as_deref(),
            *want,
            "{id}: substitute({input:?})"
        );
    }
}

/// Lax mode (`config check --lax`): unset or empty variables read as `x`,
/// so keys survive; set variables are used as usual.
#[test]
fn lax_mode_keeps_keys_with_unset_variables() {
    use crate::support::Sandbox;
    use greenroom_config::load;

    let sandbox = Sandbox::new("lax");
    sandbox.write(
        "app-config.yaml",
        "backend:\n  baseUrl: http://${HOST}:7007\n  token: ${UNSET_TOKEN}\n  port: ${PORT:-7007}\n  key:\n    $env: UNSET_KEY\n  empty: ${EMPTY}\n",
    );
    let rows: [(&str, bool, &str, Option<&str>); 8] = [
        ("X01 strict drops the key", false, "backend.token", None),
        ("X02 lax keeps it as x", true, "backend.token", Some("x")),
        (
            "X03 lax uses set variables",
            true,
            "backend.baseUrl",
            Some("http://h:7007"),
        ),
        ("X04 lax $env", true, "backend.key", Some("x")),
        ("X05 strict $env unset", false, "backend.key", None),
        (
            "X06 lax placeholder wins over the fallback",
            true,
            "backend.port",
            Some("x"),
        ),
        ("X07 strict fallback", false, "backend.port", Some("7007")),
        ("X08 lax empty reads as x", true, "backend.empty", Some("x")),
    ];
    for (case, lax, key, expected) in rows {
        let mut options = sandbox.options("", &[], &[("HOST", "h"), ("EMPTY", "")]);
        options.lax = lax;
        let config = load(&options).expect("loads");
        assert_eq!(
            config.get(key).and_then(|v| v.as_str()),
            expected,
            "case {case}"
        );
    }
}
