//! §1.2 and §1.4: directives, per-file substitution and transform errors
//! (checklist items 8, 10, 11, 12).

use crate::support::{Want, run_load};

/// One file `c.yaml`, loaded with `--config c.yaml`, plus extra files.
struct Case {
    id: &'static str,
    main: &'static str,
    extra: &'static [(&'static str, &'static str)],
    env: &'static [(&'static str, &'static str)],
    want: Want,
}

fn check(case: &Case) {
    let mut files = vec![("c.yaml", case.main)];
    files.extend_from_slice(case.extra);
    run_load(case.id, &files, "", &["c.yaml"], case.env, case.want);
}

const CASES: &[Case] = &[
    Case {
        id: "T01 $env gives the trimmed value",
        main: "a: { $env: TOKEN }\n",
        extra: &[],
        env: &[("TOKEN", "  s3cret \n")],
        want: Want::Merged(r#"{"a":"s3cret"}"#),
    },
    Case {
        id: "T02 $env of a set-but-empty variable keeps the key",
        main: "a: { $env: EMPTY }\n",
        extra: &[],
        env: &[("EMPTY", "")],
        want: Want::Merged(r#"{"a":""}"#),
    },
    Case {
        id: "T03 $env of an unset variable removes the key",
        main: "a: { $env: UNSET }\nb: 1\n",
        extra: &[],
        env: &[],
        want: Want::Merged(r#"{"b":1}"#),
    },
    Case {
        id: "T04 an undefined array element is dropped",
        main: "l:\n  - one\n  - { $env: UNSET }\n  - ${UNSET}\n  - two\n",
        extra: &[],
        env: &[],
        want: Want::Merged(r#"{"l":["one","two"]}"#),
    },
    Case {
        id: "T05 $file is relative to the containing file, trailing space trimmed",
        main: "tls:\n  cert: { $file: ./certs/tls.crt }\n",
        extra: &[(
            "certs/tls.crt",
            "  -----BEGIN-----\nabc\n-----END-----\n\n  \n",
        )],
        env: &[],
        want: Want::Merged(r#"{"tls":{"cert":"  -----BEGIN-----\nabc\n-----END-----"}}"#),
    },
    Case {
        id: "T06 a missing $file fails loading",
        main: "a:\n  b: { $file: ./nope.txt }\n",
        extra: &[],
        env: &[],
        want: Want::Error(
            r#"Failed to read config file at "{root}/c.yaml", error at .a.b, failed to read file ./nope.txt, NotFoundError: failed to include "{root}/nope.txt", file does not exist"#,
        ),
    },
    Case {
        id: "T07 $include with a fragment",
        main: "db: { $include: ./d.yaml#environments.staging }\n",
        extra: &[(
            "d.yaml",
            "environments:\n  staging:\n    client: pg\n    port: 5432\n  prod:\n    client: other\n",
        )],
        env: &[],
        want: Want::Merged(r#"{"db":{"client":"pg","port":5432}}"#),
    },
    Case {
        id: "T08 $include of a JSON file",
        main: "x: { $include: ./d.json }\n",
        extra: &[("d.json", r#"{"a": [1, 2.0, "s"]}"#)],
        env: &[],
        want: Want::Merged(r#"{"x":{"a":[1,2,"s"]}}"#),
    },
    Case {
        id: "T09 $include of a .yml file, whole document",
        main: "x: { $include: ./d.yml }\n",
        extra: &[("d.yml", "a: 1\n")],
        env: &[],
        want: Want::Merged(r#"{"x":{"a":1}}"#),
    },
    Case {
        id: "T10 unsupported include extension",
        main: "a: { $include: ./d.txt }\n",
        extra: &[("d.txt", "a: 1\n")],
        env: &[],
        want: Want::Error(
            r#"Failed to read config file at "{root}/c.yaml", error at .a, no configuration parser available for included file ./d.txt"#,
        ),
    },
    Case {
        id: "T11 a missing last fragment segment removes the key",
        main: "a: { $include: ./d.yaml#x.nope }\nb: 1\n",
        extra: &[("d.yaml", "x:\n  y: 1\n")],
        env: &[],
        want: Want::Merged(r#"{"b":1}"#),
    },
    Case {
        id: "T12 stepping through a non-object fragment fails",
        main: "a: { $include: ./d.yaml#x.y.z }\n",
        extra: &[("d.yaml", "x:\n  y: 1\n")],
        env: &[],
        want: Want::Error(
            r#"Failed to read config file at "{root}/c.yaml", error at .a, value at 'x.y' in included file ./d.yaml is not an object"#,
        ),
    },
    Case {
        id: "T13 a missing included file fails",
        main: "a: { $include: ./sub/../missing.yaml }\n",
        extra: &[],
        env: &[],
        want: Want::Error(
            r#"Failed to read config file at "{root}/c.yaml", error at .a, failed to include "{root}/missing.yaml", file does not exist"#,
        ),
    },
    Case {
        id: "T14 a directive with adjacent keys fails",
        main: "a:\n  $env: X\n  other: 1\n",
        extra: &[],
        env: &[("X", "x")],
        want: Want::Error(
            r#"Failed to read config file at "{root}/c.yaml", error at .a, include key $env should not have adjacent keys"#,
        ),
    },
    Case {
        id: "T15 $include with adjacent keys fails too",
        main: "a:\n  other: 1\n  $include: ./d.yaml\n",
        extra: &[("d.yaml", "x: 1\n")],
        env: &[],
        want: Want::Error(
            r#"Failed to read config file at "{root}/c.yaml", error at .a, include key $include should not have adjacent keys"#,
        ),
    },
    Case {
        id: "T16 other $-keys are ordinary keys",
        main: "a: { $foo: 1 }\nb: { $bar: x, plain: 2 }\n",
        extra: &[],
        env: &[],
        want: Want::Merged(r#"{"a":{"$foo":1},"b":{"$bar":"x","plain":2}}"#),
    },
    Case {
        id: "T17 a directive value must be a string",
        main: "a: { $file: 1 }\n",
        extra: &[],
        env: &[],
        want: Want::Error(
            r#"Failed to read config file at "{root}/c.yaml", error at .a, $file include value is not a string"#,
        ),
    },
    Case {
        id: "T18 a directive value is substituted first",
        main: "a: { $file: './${NAME}.txt' }\nb: { $env: '${WHICH}' }\n",
        extra: &[("secret.txt", "hidden\n")],
        env: &[("NAME", "secret"), ("WHICH", "VALUE"), ("VALUE", "v")],
        want: Want::Merged(r#"{"a":"hidden","b":"v"}"#),
    },
    Case {
        id: "T19 an undefined directive value fails",
        main: "a: { $env: '${UNSET}' }\n",
        extra: &[],
        env: &[],
        want: Want::Error(
            r#"Failed to read config file at "{root}/c.yaml", error at .a, $env substitution value was undefined"#,
        ),
    },
    Case {
        id: "T20 included files resolve their own paths and directives",
        main: "x: { $include: ./conf/inc.yaml }\n",
        extra: &[
            (
                "conf/inc.yaml",
                "cert: { $file: ./c.txt }\nnested: { $include: ./more.json#k }\nhost: ${HOST}\n",
            ),
            ("conf/c.txt", "CERT\n"),
            ("conf/more.json", r#"{"k": {"v": true}}"#),
        ],
        env: &[("HOST", "h")],
        want: Want::Merged(r#"{"x":{"cert":"CERT","nested":{"v":true},"host":"h"}}"#),
    },
    Case {
        id: "T21 a directive at the included root is not evaluated",
        main: "x: { $include: ./inc.yaml }\ny: { $include: ./frag.yaml#t }\n",
        extra: &[
            ("inc.yaml", "$env: X\n"),
            ("frag.yaml", "t: { $file: ./nope }\n"),
        ],
        env: &[("X", "value")],
        want: Want::Merged(r#"{"x":{"$env":"X"},"y":{"$file":"./nope"}}"#),
    },
    Case {
        id: "T22 a string at the included root is substituted",
        main: "x: { $include: ./s.yaml }\ny: { $include: ./u.yaml }\n",
        extra: &[("s.yaml", "'hello ${WHO}'\n"), ("u.yaml", "'${UNSET}'\n")],
        env: &[("WHO", "world")],
        want: Want::Merged(r#"{"x":"hello world"}"#),
    },
    Case {
        id: "T23 $include depth is bounded",
        main: "x: { $include: ./loop.yaml }\n",
        extra: &[("loop.yaml", "again: { $include: ./loop.yaml }\n")],
        env: &[],
        want: Want::ErrorContains("$include nesting is deeper than the limit of 32"),
    },
    Case {
        id: "T24 error paths use [i] for array indices",
        main: "list:\n  - ok\n  - ${UNSET}\n  - { $file: 1 }\n",
        extra: &[],
        env: &[],
        want: Want::Error(
            r#"Failed to read config file at "{root}/c.yaml", error at .list[2], $file include value is not a string"#,
        ),
    },
    Case {
        id: "T25 directive results are not substituted again",
        main: "a: { $env: X }\n",
        extra: &[],
        env: &[("X", "${Y}")],
        want: Want::Merged(r#"{"a":"${Y}"}"#),
    },
    Case {
        id: "T26 a broken included file names the include",
        main: "a: { $include: ./bad.yaml }\n",
        extra: &[("bad.yaml", "a: [1\n")],
        env: &[],
        want: Want::ErrorContains("error at .a, failed to parse included file ./bad.yaml, "),
    },
    Case {
        id: "T27 a directive at the file root is evaluated",
        main: "$include: ./base.yaml\n",
        extra: &[("base.yaml", "a: 1\n")],
        env: &[],
        want: Want::Merged(r#"{"a":1}"#),
    },
    Case {
        id: "T28 substitution results are strings; unset removes the key",
        main: "port: ${PORT}\nhost: ${HOST}\nurl: http://${HOST}:${PORT}\nkept: 1\n",
        extra: &[],
        env: &[("PORT", "7007")],
        want: Want::Merged(r#"{"port":"7007","kept":1}"#),
    },
    Case {
        id: "T29 the escape is read back literally",
        main: "a: $${VAR}\nb: 'echo $${{ x }}'\nc: '${{ parameters.name }}'\n",
        extra: &[],
        env: &[("VAR", "no")],
        want: Want::Merged(r#"{"a":"${VAR}","b":"echo $${{ x }}","c":"${{ parameters.name }}"}"#),
    },
    Case {
        id: "T30 keys are never substituted",
        main: "'${K}': v\n",
        extra: &[],
        env: &[("K", "k")],
        want: Want::Merged(r#"{"${K}":"v"}"#),
    },
    Case {
        id: "T31 a root that becomes undefined is not an object",
        main: "$env: UNSET\n",
        extra: &[],
        env: &[],
        want: Want::Error(
            r#"Failed to read config file at "{root}/c.yaml", expected object at config root"#,
        ),
    },
    Case {
        id: "T32 a $file that is a directory fails",
        main: "a: { $file: ./dir }\n",
        extra: &[("dir/x", "")],
        env: &[],
        want: Want::ErrorContains("error at .a, failed to read file ./dir, Error: "),
    },
    Case {
        id: "T33 an included null hides nothing but is kept as null",
        main: "a: { $include: ./n.yaml }\nb: 1\n",
        extra: &[("n.yaml", "")],
        env: &[],
        want: Want::Merged(r#"{"b":1}"#),
    },
];

#[test]
fn directives_and_substitution_in_files() {
    for case in CASES {
        check(case);
    }
}
