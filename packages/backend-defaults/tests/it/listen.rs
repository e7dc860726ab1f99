//! `backend.listen` forms and errors (checklist 17).

use greenroom_backend_defaults::http::listen::ListenAddress;
use greenroom_config::Config;
use serde_json::{Value, json};

use crate::support::{config, start_error};

/// The expected outcome: `(host, port)` or a fragment of the error message.
type Expected = Result<(&'static str, u16), &'static str>;

/// Reads `backend.listen` from a config holding `listen` (absent when `Null`).
fn check(case: &str, listen: Value, expected: Expected) {
    let backend = if listen.is_null() {
        json!({})
    } else {
        json!({ "listen": listen })
    };
    let config = Config::from_value(json!({ "backend": backend })).expect("config");
    let got = ListenAddress::from_config(&config);
    match (got, expected) {
        (Ok(addr), Ok((host, port))) => {
            assert_eq!((addr.host.as_str(), addr.port), (host, port), "case {case}");
        }
        (Err(e), Err(fragment)) => {
            assert!(e.message.contains(fragment), "case {case}: {}", e.message);
        }
        (got, expected) => panic!("case {case}: got {got:?}, expected {expected:?}"),
    }
}

#[test]
fn c17_listen_forms() {
    let rows: Vec<(&str, Value, Expected)> = vec![
        ("L01 absent", Value::Null, Ok(("", 7007))),
        ("L02 colon port", json!(":7010"), Ok(("", 7010))),
        ("L03 bare port string", json!("7011"), Ok(("", 7011))),
        (
            "L04 host and port",
            json!("127.0.0.1:7012"),
            Ok(("127.0.0.1", 7012)),
        ),
        ("L05 integer prefix", json!("7007abc"), Ok(("", 7007))),
        (
            "L06 object",
            json!({ "host": "0.0.0.0", "port": 7013 }),
            Ok(("0.0.0.0", 7013)),
        ),
        (
            "L07 object numeric string port",
            json!({ "port": "7014" }),
            Ok(("", 7014)),
        ),
        (
            "L08 object without port",
            json!({ "host": "localhost" }),
            Ok(("localhost", 7007)),
        ),
        (
            "L09 not a port",
            json!("abc"),
            Err("Unable to parse listen address abc, expected <port> or <host>:<port>"),
        ),
        (
            "L10 two colons",
            json!("::1:7007"),
            Err("Unable to parse listen address ::1:7007"),
        ),
        (
            "L11 bare number",
            json!(7007),
            Err(
                "Invalid type in config for key 'backend.listen' in 'mock-config', got number, wanted object",
            ),
        ),
        (
            "L12 port out of range",
            json!("70000"),
            Err("Unable to parse listen address 70000"),
        ),
        (
            "L13 object port out of range",
            json!({ "port": 70000 }),
            Err("backend.listen.port"),
        ),
    ];
    for (case, listen, expected) in rows {
        check(case, listen, expected);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn c17_bad_listen_fails_startup() {
    let message = start_error(config(json!({ "backend": { "listen": "abc" } })), vec![]).await;
    assert!(
        message.contains("Unable to parse listen address abc"),
        "{message}"
    );
    assert!(message.contains("backend.listen"), "{message}");
}
