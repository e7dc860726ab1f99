//! `Config::masked` and the secret-key rule.

use greenroom_config::{Config, is_secret_key, load};
use serde_json::json;

use crate::support::Sandbox;

#[test]
fn secret_key_names() {
    let rows: &[(&str, Option<&str>, bool)] = &[
        ("password", None, true),
        ("PASSWORD", None, true),
        ("dbPassword", None, true),
        ("clientSecret", None, true),
        ("secret", Some("keys"), true),
        ("githubToken", None, true),
        ("token", None, true),
        ("privateKey", None, true),
        ("apiKey", None, true),
        ("secretAccessKey", None, true),
        ("key", Some("certificate"), true),
        ("key", Some("keys"), true),
        ("key", Some("metadata"), false),
        ("key", None, false),
        ("baseUrl", None, false),
        ("tokenUrl", None, false),
        ("privateKeyFile", None, false),
        ("keyId", Some("keys"), false),
    ];
    for (name, parent, want) in rows {
        assert_eq!(
            is_secret_key(name, *parent),
            *want,
            "is_secret_key({name:?}, {parent:?})"
        );
    }
}

#[test]
fn masking_by_key_name() {
    let config = Config::from_value(json!({
        "backend": {
            "baseUrl": "http://x",
            "database": {"connection": {"host": "h", "password": "pw"}},
            "https": {"certificate": {"cert": "CERT", "key": "KEY"}},
            "auth": {"keys": [{"secret": "s1"}, {"key": "k", "keyId": "id"}]}
        },
        "auth": {"providers": {"github": {"development": {"clientId": "id", "clientSecret": {"nested": 1}}}}},
        "integrations": {"github": [{"host": "github.com", "token": "t"}]},
        "metadata": {"key": "visible"}
    }))
    .expect("object");
    assert_eq!(
        config.masked(),
        json!({
            "backend": {
                "baseUrl": "http://x",
                "database": {"connection": {"host": "h", "password": "***"}},
                "https": {"certificate": {"cert": "CERT", "key": "***"}},
                "auth": {"keys": [{"secret": "***"}, {"key": "***", "keyId": "id"}]}
            },
            "auth": {"providers": {"github": {"development": {"clientId": "id", "clientSecret": "***"}}}},
            "integrations": {"github": [{"host": "github.com", "token": "***"}]},
            "metadata": {"key": "visible"}
        })
    );
    // The merged view itself is untouched.
    assert_eq!(
        config.get_string("backend.database.connection.password"),
        Ok("pw".to_owned())
    );
}

#[test]
fn masking_by_origin() {
    let sandbox = Sandbox::new("mask-origin");
    sandbox.write(
        "app-config.yaml",
        "db:\n  host: { $env: DB_HOST }\n  user: ${DB_USER}\n  ca: { $file: ./ca.pem }\n\
         list:\n  - ${UNSET}\n  - { $env: DB_HOST }\n  - plain\n\
         shadowed: { $env: DB_HOST }\n",
    );
    sandbox.write("ca.pem", "PEM\n");
    sandbox.write("app-config.local.yaml", "shadowed: overridden\n");
    let options = sandbox.options(
        "",
        &[],
        &[
            ("DB_HOST", "db.internal"),
            ("DB_USER", "app"),
            ("APP_CONFIG_backend_database_connection_password", "pw"),
            ("APP_CONFIG_app_title", "Portal"),
        ],
    );
    let config = load(&options).expect("loads");
    assert_eq!(
        config.masked(),
        json!({
            "db": {"host": "***", "user": "app", "ca": "***"},
            "list": ["***", "plain"],
            "shadowed": "overridden",
            "backend": {"database": {"connection": {"password": "***"}}},
            "app": {"title": "Portal"}
        })
    );
    assert_eq!(config.get_string("db.host"), Ok("db.internal".to_owned()));
}
