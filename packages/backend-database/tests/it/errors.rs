//! Start-up validation: a bad `backend.database` fails `from_config` with a
//! message naming the key (issue #3 acceptance, spec §4.1).

use greenroom_backend_database::DatabaseManager;
use greenroom_backend_plugin_api::ErrorName;
use greenroom_config::Config;
use serde_json::{Value, json};

struct Row {
    id: &'static str,
    database: Value,
    /// Substrings the message must contain; the first is the key.
    needles: &'static [&'static str],
}

fn check(row: &Row) {
    let config = Config::from_value(json!({ "backend": { "database": row.database } })).unwrap();
    let error = match DatabaseManager::from_config(&config) {
        Ok(_) => panic!("{}: config was accepted", row.id),
        Err(e) => e,
    };
    assert_eq!(error.name, ErrorName::InputError, "{}: {error}", row.id);
    for needle in row.needles {
        assert!(
            error.message.contains(needle),
            "{}: message {:?} lacks {needle:?}",
            row.id,
            error.message
        );
    }
}

#[test]
fn bad_config_fails_naming_the_key() {
    let rows = [
        Row {
            id: "unknown-client",
            database: json!({ "client": "oracle" }),
            needles: &["'backend.database.client'", "oracle"],
        },
        Row {
            id: "missing-client",
            database: json!({ "connection": ":memory:" }),
            needles: &["backend.database.client"],
        },
        Row {
            id: "mysql-unsupported",
            database: json!({ "client": "mysql2" }),
            needles: &["'backend.database.client'", "not supported"],
        },
        Row {
            id: "client-not-string",
            database: json!({ "client": 7 }),
            needles: &["backend.database.client"],
        },
        Row {
            id: "bad-connection-string",
            database: json!({ "client": "pg", "connection": "not a url" }),
            needles: &["'backend.database.connection'"],
        },
        Row {
            id: "bad-connection-scheme",
            database: json!({ "client": "pg", "connection": "mysql://h/db" }),
            needles: &["'backend.database.connection'", "postgres://"],
        },
        Row {
            id: "bad-connection-port",
            database: json!({ "client": "pg", "connection": "postgres://h:70000/db" }),
            needles: &["'backend.database.connection'"],
        },
        Row {
            id: "bad-connection-type",
            database: json!({ "client": "pg", "connection": 5 }),
            needles: &["'backend.database.connection'"],
        },
        Row {
            id: "bad-object-port",
            database: json!({ "client": "pg", "connection": { "port": "abc" } }),
            needles: &["'backend.database.connection.port'"],
        },
        Row {
            id: "bad-ssl",
            database: json!({ "client": "pg", "connection": { "ssl": 3 } }),
            needles: &["'backend.database.connection.ssl'"],
        },
        Row {
            id: "bad-sslmode",
            database: json!({ "client": "pg", "connection": "postgres://h/db?sslmode=maybe" }),
            needles: &["'backend.database.connection'", "sslmode"],
        },
        Row {
            id: "cloud-credentials",
            database: json!({ "client": "pg", "connection": { "type": "azure" } }),
            needles: &["'backend.database.connection.type'", "azure"],
        },
        Row {
            id: "C40-base-filename",
            database: json!({ "client": "better-sqlite3", "connection": { "filename": "/data/all.sqlite" } }),
            needles: &["'backend.database.connection.filename'"],
        },
        Row {
            id: "C40-base-filename-string",
            database: json!({ "client": "sqlite3", "connection": "/data/all.sqlite" }),
            needles: &["'backend.database.connection.filename'"],
        },
        Row {
            id: "schema-prefix",
            database: json!({ "client": "pg", "pluginDivisionMode": "schema", "schemaPrefix": "1bad-" }),
            needles: &[
                "'backend.database.schemaPrefix'",
                "Invalid schemaPrefix \"1bad-\". Schema prefix must start with a letter or underscore and contain only letters, numbers, and underscores.",
            ],
        },
        Row {
            id: "division-mode",
            database: json!({ "client": "pg", "pluginDivisionMode": "tables" }),
            needles: &["'backend.database.pluginDivisionMode'", "tables"],
        },
        Row {
            id: "ensure-exists-type",
            database: json!({ "client": "pg", "ensureExists": "maybe" }),
            needles: &["backend.database.ensureExists"],
        },
        Row {
            id: "pool-max-zero",
            database: json!({ "client": "pg", "knexConfig": { "pool": { "max": 0 } } }),
            needles: &["'backend.database.knexConfig.pool.max'"],
        },
        Row {
            id: "pool-min-over-max",
            database: json!({ "client": "pg", "knexConfig": { "pool": { "min": 5, "max": 2 } } }),
            needles: &["'backend.database.knexConfig.pool.min'"],
        },
        Row {
            id: "knex-not-object",
            database: json!({ "client": "pg", "knexConfig": "fast" }),
            needles: &["backend.database.knexConfig"],
        },
        Row {
            id: "plugin-client",
            database: json!({ "client": "pg", "plugin": { "catalog": { "client": "oracle" } } }),
            needles: &["'backend.database.plugin.catalog.client'"],
        },
        Row {
            id: "plugin-connection",
            database: json!({ "client": "pg", "plugin": { "catalog": { "connection": "::" } } }),
            needles: &["'backend.database.plugin.catalog.connection'"],
        },
        Row {
            id: "plugin-pool",
            database: json!({ "client": "pg", "plugin": { "catalog": { "knexConfig": { "pool": { "max": "lots" } } } } }),
            needles: &["backend.database.plugin.catalog.knexConfig.pool.max"],
        },
        Row {
            id: "plugin-skip-type",
            database: json!({ "client": "pg", "plugin": { "catalog": { "skipMigrations": [] } } }),
            needles: &["backend.database.plugin.catalog.skipMigrations"],
        },
        Row {
            id: "database-name-too-long",
            database: json!({ "client": "pg", "prefix": "p".repeat(60), "plugin": { "catalog": {} } }),
            needles: &["'backend.database.prefix'", "63"],
        },
    ];
    for row in &rows {
        check(row);
    }
}

#[test]
fn valid_configs_are_accepted() {
    for database in [
        json!({ "client": "better-sqlite3", "connection": ":memory:" }),
        json!({ "client": "sqlite3", "connection": { "directory": "/tmp/x" } }),
        json!({ "client": "pg", "connection": "postgresql://u:p@h:5432/db" }),
        json!({ "client": "pg", "pluginDivisionMode": "schema", "schemaPrefix": "_gr1" }),
        json!({ "client": "pg", "plugin": { "auth": { "client": "better-sqlite3", "connection": { "filename": "/x/auth.db" } } } }),
    ] {
        let config = Config::from_value(json!({ "backend": { "database": database } })).unwrap();
        if let Err(e) = DatabaseManager::from_config(&config) {
            panic!("{database} was refused: {e}");
        }
    }
    assert!(DatabaseManager::from_config(&Config::from_value(json!({})).unwrap()).is_ok());
}
