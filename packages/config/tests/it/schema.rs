//! Config schemas: the validator's keywords and error wording, visibility
//! (with `deepVisibility` and conflicts), masking, frontend filtering,
//! secret values and the core schema.

use greenroom_config::{Config, ConfigSchema, SchemaLoadError, Visibility, core_schema};
use serde_json::{Value, json};

fn schema(value: Value) -> ConfigSchema {
    ConfigSchema::from_value("test", value).expect("schema loads")
}

/// Validates `value` against `schema` and compares every error's text.
fn check(case: &str, schema_json: Value, value: Value, expected: &[&str]) {
    let errors: Vec<String> = schema(schema_json)
        .validate(&value)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors, expected, "case {case}");
}

#[test]
fn keywords_and_error_wording() {
    let obj = |props: Value| json!({ "type": "object", "properties": props });
    let rows: Vec<(&str, Value, Value, Vec<&str>)> = vec![
        (
            "S01 required property missing",
            json!({ "type": "object", "properties": { "backend": { "type": "object", "required": ["baseUrl"] } } }),
            json!({ "backend": {} }),
            vec![
                "Config must have required property 'baseUrl' { missingProperty=baseUrl } at /backend",
            ],
        ),
        (
            "S02 wrong type names the pointer",
            obj(
                json!({ "backend": obj(json!({ "listen": obj(json!({ "host": { "type": "string" } })) })) }),
            ),
            json!({ "backend": { "listen": { "host": ["a"] } } }),
            vec!["Config must be string { type=string } at /backend/listen/host"],
        ),
        (
            "S03 union type",
            obj(json!({ "a": { "type": ["string", "object"] } })),
            json!({ "a": [1] }),
            vec!["Config must be string,object { type=string,object } at /a"],
        ),
        (
            "S04 numeric string coerces to number",
            obj(json!({ "port": { "type": "number", "maximum": 65535 } })),
            json!({ "port": "7007" }),
            vec![],
        ),
        (
            "S05 coerced value still checked",
            obj(json!({ "port": { "type": "number", "maximum": 65535 } })),
            json!({ "port": "70000" }),
            vec!["Config must be <= 65535 { comparison=<= limit=65535 } at /port"],
        ),
        (
            "S06 integer rejects a fraction",
            obj(json!({ "n": { "type": "integer" } })),
            json!({ "n": 1.5 }),
            vec!["Config must be integer { type=integer } at /n"],
        ),
        (
            "S07 integer accepts 2.0",
            obj(json!({ "n": { "type": "integer" } })),
            json!({ "n": 2.0 }),
            vec![],
        ),
        (
            "S08 non-numeric string is not a number",
            obj(json!({ "n": { "type": "number" } })),
            json!({ "n": "abc" }),
            vec!["Config must be number { type=number } at /n"],
        ),
        (
            "S09 enum",
            obj(json!({ "client": { "type": "string", "enum": ["pg", "better-sqlite3"] } })),
            json!({ "client": "mysql" }),
            vec![
                "Config must be equal to one of the allowed values { allowedValues=pg,better-sqlite3 } at /client",
            ],
        ),
        (
            "S10 const",
            obj(json!({ "v": { "const": 1 } })),
            json!({ "v": 2 }),
            vec!["Config must be equal to constant { allowedValue=1 } at /v"],
        ),
        (
            "S11 minimum",
            obj(json!({ "v": { "type": "number", "minimum": 1 } })),
            json!({ "v": 0 }),
            vec!["Config must be >= 1 { comparison=>= limit=1 } at /v"],
        ),
        (
            "S12 minLength counts characters",
            obj(json!({ "v": { "type": "string", "minLength": 3 } })),
            json!({ "v": "éé" }),
            vec!["Config must NOT have fewer than 3 characters { limit=3 } at /v"],
        ),
        (
            "S13 additionalProperties false",
            json!({ "type": "object", "properties": { "a": {} }, "additionalProperties": false }),
            json!({ "a": 1, "b": 2 }),
            vec!["Config must NOT have additional properties { additionalProperty=b } at "],
        ),
        (
            "S14 additionalProperties schema",
            json!({ "type": "object", "additionalProperties": { "type": "string" } }),
            json!({ "a": "x", "b": 2 }),
            vec![],
        ),
        (
            "S15 additionalProperties schema rejects an object",
            json!({ "type": "object", "additionalProperties": { "type": "string" } }),
            json!({ "b": {} }),
            vec!["Config must be string { type=string } at /b"],
        ),
        (
            "S16 items",
            obj(
                json!({ "list": { "type": "array", "items": { "type": "object", "required": ["type"] } } }),
            ),
            json!({ "list": [{ "type": "a" }, {}] }),
            vec!["Config must have required property 'type' { missingProperty=type } at /list/1"],
        ),
        (
            "S17 anyOf passes",
            obj(json!({ "v": { "anyOf": [{ "type": "object" }, { "type": "boolean" }] } })),
            json!({ "v": true }),
            vec![],
        ),
        (
            "S18 anyOf fails with the branch errors",
            obj(json!({ "v": { "anyOf": [{ "type": "object" }, { "type": "array" }] } })),
            json!({ "v": 3 }),
            vec![
                "Config must be object { type=object } at /v",
                "Config must be array { type=array } at /v",
                "Config must match a schema in anyOf {  } at /v",
            ],
        ),
        (
            "S19 oneOf with two matches",
            obj(json!({ "v": { "oneOf": [{ "type": "number" }, { "minimum": 0 }] } })),
            json!({ "v": 3 }),
            vec!["Config must match exactly one schema in oneOf { passingSchemas=0,1 } at /v"],
        ),
        (
            "S20 oneOf with one match",
            obj(json!({ "v": { "oneOf": [{ "type": "object" }, { "type": "number" }] } })),
            json!({ "v": 3 }),
            vec![],
        ),
        (
            "S21 allOf reports every part",
            obj(
                json!({ "v": { "allOf": [{ "type": "string" }, { "type": "string", "minLength": 5 }] } }),
            ),
            json!({ "v": "abc" }),
            vec!["Config must NOT have fewer than 5 characters { limit=5 } at /v"],
        ),
        (
            "S22 $ref to definitions",
            json!({
                "type": "object",
                "properties": { "ttl": { "$ref": "#/definitions/duration" } },
                "definitions": { "duration": { "type": ["number", "object"] } }
            }),
            json!({ "ttl": [] }),
            vec!["Config must be number,object { type=number,object } at /ttl"],
        ),
        (
            "S23 description and deprecated do not validate",
            obj(json!({ "v": { "description": "x", "deprecated": "gone" } })),
            json!({ "v": 1 }),
            vec![],
        ),
        (
            "S24 every error is reported",
            json!({ "type": "object", "required": ["a", "b"], "properties": { "c": { "type": "string" } } }),
            json!({ "c": {} }),
            vec![
                "Config must have required property 'a' { missingProperty=a } at ",
                "Config must have required property 'b' { missingProperty=b } at ",
                "Config must be string { type=string } at /c",
            ],
        ),
        (
            "S25 pointer escapes",
            json!({ "type": "object", "additionalProperties": { "type": "string" } }),
            json!({ "a/b~c": 1.5e300 }),
            vec![],
        ),
        (
            "S26 false schema",
            obj(json!({ "v": false })),
            json!({ "v": 1 }),
            vec!["Config boolean schema is false {  } at /v"],
        ),
        (
            "S27 not",
            obj(json!({ "v": { "not": { "type": "string" } } })),
            json!({ "v": "s" }),
            vec!["Config must NOT be valid {  } at /v"],
        ),
    ];
    for (case, schema_json, value, expected) in rows {
        check(case, schema_json, value, &expected);
    }
}

#[test]
fn combined_schemas_all_apply() {
    let a = schema(json!({ "type": "object", "properties": { "a": { "type": "string" } } }));
    let b = schema(json!({ "type": "object", "required": ["b"] }));
    let combined = ConfigSchema::combine(vec![a, b]).expect("combines");
    let errors: Vec<String> = combined
        .validate(&json!({ "a": 1 }))
        .iter()
        .map(ToString::to_string)
        .collect();
    // `1` coerces to the string "1", so only `b` is missing.
    assert_eq!(
        errors,
        vec!["Config must have required property 'b' { missingProperty=b } at "]
    );
    assert_eq!(combined.names(), vec!["test", "test"]);
}

fn load_error(case: &str, schema_json: Value, fragment: &str) {
    match ConfigSchema::from_value("pkg", schema_json) {
        Ok(_) => panic!("case {case}: expected a schema error"),
        Err(e) => assert!(e.to_string().contains(fragment), "case {case}: {e}"),
    }
}

#[test]
fn bad_schemas_are_rejected() {
    load_error(
        "L01 unknown visibility",
        json!({ "properties": { "a": { "visibility": "public" } } }),
        "visibility must be one of frontend, backend, secret",
    );
    load_error(
        "L02 dangling $ref",
        json!({ "properties": { "a": { "$ref": "#/definitions/nope" } } }),
        "can't resolve reference",
    );
    load_error(
        "L03 unknown type",
        json!({ "type": "float" }),
        "unknown type",
    );
    load_error(
        "L04 not a schema",
        json!(3),
        "must be an object or a boolean",
    );
    load_error(
        "L05 conflict inside one schema",
        json!({ "allOf": [
            { "properties": { "a": { "visibility": "frontend" } } },
            { "properties": { "a": { "visibility": "secret" } } }
        ] }),
        "Config schema visibility is both 'frontend' and 'secret' for /a",
    );
    assert!(matches!(
        ConfigSchema::from_json("pkg", "{ nope"),
        Err(SchemaLoadError::Parse { .. })
    ));
}

#[test]
fn conflicting_visibilities_across_schemas() {
    let a = schema(
        json!({ "properties": { "x": { "properties": { "y": { "visibility": "frontend" } } } } }),
    );
    let b = schema(
        json!({ "properties": { "x": { "properties": { "y": { "visibility": "secret" } } } } }),
    );
    let c = schema(
        json!({ "properties": { "x": { "properties": { "y": { "visibility": "backend" } } } } }),
    );
    let err = ConfigSchema::combine(vec![a.clone(), b]).expect_err("conflict");
    assert_eq!(
        err.to_string(),
        "Config schema visibility is both 'frontend' and 'secret' for /x/y"
    );
    // `backend` is neutral: frontend and backend together make frontend.
    let ok = ConfigSchema::combine(vec![a, c]).expect("no conflict");
    assert_eq!(ok.visibility_of("/x/y"), Visibility::Frontend);
}

#[test]
fn deep_visibility_conflict_is_found_at_validation() {
    let s = schema(json!({ "properties": {
        "x": { "deepVisibility": "secret", "properties": { "y": { "visibility": "frontend" } } }
    } }));
    let errors: Vec<String> = s
        .validate(&json!({ "x": { "y": "v" } }))
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        vec!["Config schema visibility is both 'frontend' and 'secret' for /x/y"]
    );
}

/// The effective visibility of each pointer after processing `value`.
fn visibility_rows(case: &str, schema_json: Value, value: Value, rows: &[(&str, Visibility)]) {
    let report = schema(schema_json).process(&value);
    assert!(report.errors.is_empty(), "case {case}: {:?}", report.errors);
    for (pointer, expected) in rows {
        assert_eq!(
            report.visibility_at(pointer),
            *expected,
            "case {case} at {pointer}"
        );
    }
}

#[test]
fn visibility_inheritance() {
    use Visibility::{Backend, Frontend, Secret};
    visibility_rows(
        "V01 default is backend, explicit applies to its node only",
        json!({ "properties": { "app": { "visibility": "frontend", "properties": { "title": {} } } } }),
        json!({ "app": { "title": "t" } }),
        &[("/app", Frontend), ("/app/title", Backend), ("", Backend)],
    );
    visibility_rows(
        "V02 deepVisibility reaches every descendant",
        json!({ "properties": { "app": { "deepVisibility": "frontend" } } }),
        json!({ "app": { "a": { "b": [1, { "c": 2 }] } } }),
        &[
            ("/app", Frontend),
            ("/app/a/b", Frontend),
            ("/app/a/b/0", Frontend),
            ("/app/a/b/1/c", Frontend),
        ],
    );
    visibility_rows(
        "V03 scalar array elements share the array's visibility",
        json!({ "properties": { "keys": { "type": "array", "visibility": "secret" } } }),
        json!({ "keys": ["k1", { "n": 1 }] }),
        &[
            ("/keys/0", Secret),
            ("/keys/1", Backend),
            ("/keys/1/n", Backend),
        ],
    );
    visibility_rows(
        "V04 additionalProperties maps",
        json!({ "properties": { "auth": { "properties": { "providers": {
            "additionalProperties": { "additionalProperties": { "properties": {
                "clientSecret": { "visibility": "secret" } } } } } } } } }),
        json!({ "auth": { "providers": { "github": { "development": { "clientId": "i", "clientSecret": "s" } } } } }),
        &[
            ("/auth/providers/github/development/clientSecret", Secret),
            ("/auth/providers/github/development/clientId", Backend),
        ],
    );
    visibility_rows(
        "V05 only the matching anyOf branch annotates",
        json!({ "properties": { "c": { "anyOf": [
            { "type": "string", "visibility": "secret" },
            { "type": "object", "properties": { "password": { "visibility": "secret" } } }
        ] } } }),
        json!({ "c": { "host": "h", "password": "p" } }),
        &[
            ("/c", Backend),
            ("/c/host", Backend),
            ("/c/password", Secret),
        ],
    );
    visibility_rows(
        "V06 the string branch marks a connection string",
        json!({ "properties": { "c": { "anyOf": [
            { "type": "string", "visibility": "secret" },
            { "type": "object" }
        ] } } }),
        json!({ "c": "postgres://u:p@h/db" }),
        &[("/c", Secret)],
    );
    visibility_rows(
        "V07 a $ref target's visibility applies",
        json!({ "properties": { "t": { "$ref": "#/definitions/tok" } },
                "definitions": { "tok": { "type": "string", "visibility": "secret" } } }),
        json!({ "t": "abcd" }),
        &[("/t", Secret)],
    );
}

#[test]
fn static_visibility_of_paths() {
    let s = core_schema();
    let rows = [
        ("C01", "/backend/baseUrl", Visibility::Frontend),
        ("C02", "/app/title", Visibility::Frontend),
        ("C03", "/organization/name", Visibility::Frontend),
        (
            "C04",
            "/backend/database/connection/password",
            Visibility::Secret,
        ),
        ("C05", "/backend/auth/keys/0/secret", Visibility::Secret),
        ("C06", "/integrations/github/0/token", Visibility::Secret),
        (
            "C07",
            "/auth/providers/github/development/clientSecret",
            Visibility::Secret,
        ),
        ("C08", "/backend/listen/port", Visibility::Backend),
        ("C09", "/nothing/here", Visibility::Backend),
        (
            "C10",
            "/backend/database/plugin/catalog/connection/password",
            Visibility::Secret,
        ),
    ];
    for (case, pointer, expected) in rows {
        assert_eq!(s.visibility_of(pointer), expected, "case {case} {pointer}");
    }
}

fn sample() -> Value {
    json!({
        "app": { "title": "Portal", "baseUrl": "http://localhost:3000" },
        "organization": { "name": "Acme" },
        "backend": {
            "baseUrl": "http://localhost:7007",
            "listen": { "port": 7007 },
            "database": { "client": "pg", "connection": { "host": "db", "password": "pg-pass-1" } },
            "auth": { "keys": [{ "secret": "legacy-key-1" }] }
        },
        "integrations": { "github": [{ "host": "github.com", "token": "ghp_abcdef" }] },
        "auth": { "providers": { "github": { "development": { "clientId": "cid", "clientSecret": "csecret" } } } },
        "custom": { "opaque": "plain-value", "apiToken": "heuristic-secret" }
    })
}

#[test]
fn the_core_schema_accepts_a_full_config() {
    let errors = core_schema().validate(&sample());
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn core_schema_rejections() {
    let rows: Vec<(&str, Value, &str)> = vec![
        (
            "K01 backend without baseUrl",
            json!({ "backend": {} }),
            "Config must have required property 'baseUrl' { missingProperty=baseUrl } at /backend",
        ),
        (
            "K02 no backend",
            json!({}),
            "Config must have required property 'backend' { missingProperty=backend } at ",
        ),
        (
            "K03 bad database client",
            json!({ "backend": { "baseUrl": "u", "database": { "client": "mysql" } } }),
            "Config must be equal to one of the allowed values { allowedValues=better-sqlite3,sqlite3,pg } at /backend/database/client",
        ),
        (
            "K04 bad cache store",
            json!({ "backend": { "baseUrl": "u", "cache": { "store": "floppy" } } }),
            "at /backend/cache/store",
        ),
        (
            "K05 listen as an array",
            json!({ "backend": { "baseUrl": "u", "listen": [] } }),
            "Config must be string,object { type=string,object } at /backend/listen",
        ),
        (
            "K06 location without target",
            json!({ "backend": { "baseUrl": "u" }, "catalog": { "locations": [{ "type": "url" }] } }),
            "missingProperty=target } at /catalog/locations/0",
        ),
    ];
    for (case, value, fragment) in rows {
        let errors: Vec<String> = core_schema()
            .validate(&value)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(
            errors.iter().any(|e| e.contains(fragment)),
            "case {case}: {errors:?}"
        );
    }
}

#[test]
fn masking_by_schema_and_heuristics() {
    let config = Config::from_value(sample()).expect("config");
    let schema = core_schema();
    let masked = config.masked_with_schema(Some(&schema));
    let rows = [
        (
            "M01 schema secret",
            "/backend/database/connection/password",
            json!("***"),
        ),
        (
            "M02 schema secret in array",
            "/integrations/github/0/token",
            json!("***"),
        ),
        (
            "M03 provider map",
            "/auth/providers/github/development/clientSecret",
            json!("***"),
        ),
        ("M04 key heuristic", "/custom/apiToken", json!("***")),
        ("M05 plain kept", "/custom/opaque", json!("plain-value")),
        (
            "M06 frontend kept",
            "/backend/baseUrl",
            json!("http://localhost:7007"),
        ),
        (
            "M07 legacy key",
            "/backend/auth/keys/0/secret",
            json!("***"),
        ),
    ];
    for (case, pointer, expected) in rows {
        assert_eq!(masked.pointer(pointer), Some(&expected), "case {case}");
    }
    // A secret that only the schema knows about.
    let only_schema = Config::from_value(json!({
        "backend": { "baseUrl": "u", "cache": { "connection": "redis://u:pw@h" } }
    }))
    .expect("config");
    assert_eq!(
        only_schema.masked_with_schema(Some(&schema))["backend"]["cache"]["connection"],
        "***"
    );
    assert_eq!(
        only_schema.masked_with_schema(None)["backend"]["cache"]["connection"],
        "redis://u:pw@h"
    );
}

#[test]
fn frontend_filtering() {
    let report = core_schema().process(&sample());
    assert_eq!(
        report.frontend_only(&sample()),
        json!({
            "app": { "title": "Portal", "baseUrl": "http://localhost:3000" },
            "organization": { "name": "Acme" },
            "backend": { "baseUrl": "http://localhost:7007" }
        })
    );
}

#[test]
fn secret_values_for_redaction() {
    let mut value = sample();
    value["backend"]["https"] = json!({ "certificate": { "key": "abc" } });
    let config = Config::from_value(value).expect("config");
    let secrets = config.secret_values(Some(&core_schema()));
    for expected in [
        "pg-pass-1",
        "legacy-key-1",
        "ghp_abcdef",
        "csecret",
        "heuristic-secret",
    ] {
        assert!(
            secrets.iter().any(|s| s == expected),
            "{expected} in {secrets:?}"
        );
    }
    // Too short to redact safely, and never a non-secret.
    assert!(
        !secrets.iter().any(|s| s == "abc" || s == "plain-value"),
        "{secrets:?}"
    );
    // Longest first, so a secret containing another is replaced whole.
    let lengths: Vec<usize> = secrets.iter().map(String::len).collect();
    let mut sorted = lengths.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(lengths, sorted);
}

#[test]
fn deprecated_keys_are_reported() {
    let value = json!({ "backend": { "baseUrl": "u", "auth": { "keys": [{ "secret": "abcd" }] },
                                     "cache": { "useRedisSets": true } } });
    let report = core_schema().process(&value);
    let keys: Vec<&str> = report.deprecations.iter().map(|d| d.key.as_str()).collect();
    assert_eq!(
        keys,
        vec!["backend.auth.keys", "backend.cache.useRedisSets"]
    );
    assert!(
        report.deprecations[0]
            .description
            .contains("externalAccess")
    );
}

#[test]
fn deep_nesting_does_not_overflow() {
    let mut value = json!("leaf");
    for _ in 0..500 {
        value = json!({ "a": value });
    }
    let s = schema(
        json!({ "$ref": "#/definitions/node", "definitions": { "node": {
        "type": ["object", "string"], "additionalProperties": { "$ref": "#/definitions/node" } } } }),
    );
    let errors = s.validate(&value);
    assert!(
        errors
            .iter()
            .any(|e| e.to_string().contains("must not nest deeper")),
        "{errors:?}"
    );
}
