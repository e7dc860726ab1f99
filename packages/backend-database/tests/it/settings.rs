//! Per-plugin resolution (spec §4.2, checklist 33–41), checked as a table.

use greenroom_backend_database::{DatabaseTarget, PluginDatabaseSettings, resolve_plugin_settings};
use greenroom_config::Config;
use serde_json::{Value, json};

/// A compact, comparable view of resolved settings.
fn summary(s: &PluginDatabaseSettings) -> Value {
    let target = match &s.target {
        DatabaseTarget::SqliteMemory => json!("sqlite::memory"),
        DatabaseTarget::SqliteFile(path) => json!(format!("sqlite:{}", path.display())),
        DatabaseTarget::Postgres(pg) => json!({
            "host": pg.host, "port": pg.port, "user": pg.user, "password": pg.password,
            "database": pg.database, "schema": pg.schema,
            "applicationName": pg.application_name,
        }),
    };
    json!({
        "client": format!("{:?}", s.client),
        "target": target,
        "ensureExists": s.ensure_exists,
        "ensureSchemaExists": s.ensure_schema_exists,
        "skipMigrations": s.skip_migrations,
        "role": s.role,
        "knexConfig": s.knex_config,
        "pool": [s.pool.min, s.pool.max],
        "keepalive": s.keepalive,
    })
}

/// Whether every key of `expected` (recursively for objects) matches `actual`.
fn subset(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|av| subset(v, av))),
        _ => expected == actual,
    }
}

struct Row {
    id: &'static str,
    database: Option<Value>,
    plugin: &'static str,
    expected: Value,
}

fn check(row: &Row) {
    let config = match &row.database {
        None => json!({ "backend": { "baseUrl": "http://localhost:7007" } }),
        Some(db) => json!({ "backend": { "database": db } }),
    };
    let config = Config::from_value(config).unwrap();
    let settings = resolve_plugin_settings(&config, row.plugin)
        .unwrap_or_else(|e| panic!("{}: resolution failed: {e}", row.id));
    let actual = summary(&settings);
    assert!(
        subset(&row.expected, &actual),
        "{}: expected {} within {}",
        row.id,
        row.expected,
        actual
    );
}

fn pg_base() -> Value {
    json!({ "client": "pg", "connection": "postgresql://bs:secret@db.internal:5432/postgres" })
}

fn with(base: Value, extra: Value) -> Option<Value> {
    Some(greenroom_config::deep_merge(&base, &extra))
}

#[test]
fn per_plugin_resolution() {
    let rows = [
        Row {
            id: "C33",
            database: None,
            plugin: "catalog",
            expected: json!({ "client": "Sqlite", "target": "sqlite::memory", "pool": [1, 1] }),
        },
        Row {
            id: "C34",
            database: Some(pg_base()),
            plugin: "catalog",
            expected: json!({
                "client": "Postgres", "ensureExists": true,
                "target": { "host": "db.internal", "port": 5432, "user": "bs", "password": "secret",
                            "database": "backstage_plugin_catalog", "schema": null,
                            "applicationName": "backstage_plugin_catalog" }
            }),
        },
        Row {
            id: "C35",
            database: with(pg_base(), json!({ "prefix": "bs_" })),
            plugin: "catalog",
            // The application name keeps the literal prefix whatever `prefix` says.
            expected: json!({ "target": { "database": "bs_catalog", "applicationName": "backstage_plugin_catalog" } }),
        },
        Row {
            id: "C36",
            database: with(
                pg_base(),
                json!({ "plugin": { "search": { "connection": { "database": "shared" } } } }),
            ),
            plugin: "search",
            expected: json!({ "target": { "database": "shared", "host": "db.internal", "user": "bs" } }),
        },
        Row {
            id: "C36-other-plugin",
            database: with(
                pg_base(),
                json!({ "plugin": { "search": { "connection": { "database": "shared" } } } }),
            ),
            plugin: "catalog",
            expected: json!({ "target": { "database": "backstage_plugin_catalog" } }),
        },
        Row {
            id: "C36-string-override",
            database: with(
                pg_base(),
                json!({ "plugin": { "search": { "connection": "postgres://other@db2:6543/searchdb" } } }),
            ),
            plugin: "search",
            expected: json!({ "target": { "database": "searchdb", "host": "db2", "port": 6543, "user": "other", "password": "secret" } }),
        },
        Row {
            id: "C37",
            database: with(pg_base(), json!({ "pluginDivisionMode": "schema" })),
            plugin: "catalog",
            expected: json!({ "target": { "database": "postgres", "schema": "catalog" }, "ensureExists": true, "ensureSchemaExists": false }),
        },
        Row {
            id: "C37-schema-prefix",
            database: with(
                pg_base(),
                json!({ "pluginDivisionMode": "schema", "schemaPrefix": "gr_", "ensureSchemaExists": true }),
            ),
            plugin: "catalog",
            expected: json!({ "target": { "schema": "gr_catalog" }, "ensureSchemaExists": true }),
        },
        Row {
            id: "C37-plugin-ensureSchemaExists-ignored",
            database: with(
                pg_base(),
                json!({ "pluginDivisionMode": "schema", "plugin": { "catalog": { "ensureSchemaExists": true } } }),
            ),
            plugin: "catalog",
            expected: json!({ "ensureSchemaExists": false }),
        },
        Row {
            id: "C38",
            database: with(
                pg_base(),
                json!({ "plugin": { "scaffolder": { "client": "better-sqlite3", "connection": ":memory:" } } }),
            ),
            plugin: "scaffolder",
            expected: json!({ "client": "Sqlite", "target": "sqlite::memory" }),
        },
        Row {
            id: "C38-pg-from-sqlite",
            database: Some(
                json!({ "client": "better-sqlite3", "connection": { "directory": "/data" },
                                   "plugin": { "search": { "client": "pg", "connection": { "host": "pg.local" } } } }),
            ),
            plugin: "search",
            expected: json!({ "client": "Postgres", "target": { "host": "pg.local", "user": null, "database": "backstage_plugin_search" } }),
        },
        Row {
            id: "C38-other-sqlite-name",
            // `sqlite3` is another client name than `better-sqlite3`, so the
            // base directory is not inherited either.
            database: Some(
                json!({ "client": "better-sqlite3", "connection": { "directory": "/data" },
                                   "plugin": { "search": { "client": "sqlite3" } } }),
            ),
            plugin: "search",
            expected: json!({ "target": "sqlite::memory" }),
        },
        Row {
            id: "C38-same-client-inherits",
            database: with(
                pg_base(),
                json!({ "plugin": { "search": { "client": "pg", "connection": { "port": 6000 } } } }),
            ),
            plugin: "search",
            expected: json!({ "target": { "host": "db.internal", "port": 6000, "user": "bs" } }),
        },
        Row {
            id: "C39",
            database: with(
                pg_base(),
                json!({ "knexConfig": { "pool": { "min": 0, "max": 10 }, "debug": false },
                                              "plugin": { "catalog": { "knexConfig": { "pool": { "max": 30 } } } } }),
            ),
            plugin: "catalog",
            expected: json!({ "pool": [0, 30], "knexConfig": { "pool": { "min": 0, "max": 30 }, "debug": false } }),
        },
        Row {
            id: "C39-base-only",
            database: with(
                pg_base(),
                json!({ "knexConfig": { "pool": { "min": 0, "max": 10 } },
                                              "plugin": { "catalog": { "knexConfig": { "pool": { "max": 30 } } } } }),
            ),
            plugin: "search",
            expected: json!({ "pool": [0, 10] }),
        },
        Row {
            id: "C40",
            database: Some(
                json!({ "client": "better-sqlite3", "connection": { "directory": "/data/sqlite" } }),
            ),
            plugin: "catalog",
            expected: json!({ "client": "Sqlite", "target": "sqlite:/data/sqlite/catalog.sqlite", "pool": [null, null] }),
        },
        Row {
            id: "C40-plugin-filename",
            database: Some(
                json!({ "client": "sqlite3", "connection": { "directory": "/data/sqlite" },
                                   "plugin": { "auth": { "connection": { "filename": "/secure/auth.db" } } } }),
            ),
            plugin: "auth",
            expected: json!({ "target": "sqlite:/secure/auth.db" }),
        },
        Row {
            id: "C40-plugin-filename-string",
            database: Some(
                json!({ "client": "better-sqlite3", "connection": ":memory:",
                                   "plugin": { "auth": { "connection": "/secure/auth.db" } } }),
            ),
            plugin: "auth",
            expected: json!({ "target": "sqlite:/secure/auth.db" }),
        },
        Row {
            id: "C40-base-memory",
            database: Some(json!({ "client": "better-sqlite3", "connection": ":memory:" })),
            plugin: "catalog",
            expected: json!({ "target": "sqlite::memory", "pool": [1, 1] }),
        },
        Row {
            id: "C41",
            database: with(pg_base(), json!({ "skipMigrations": true })),
            plugin: "catalog",
            expected: json!({ "skipMigrations": true }),
        },
        Row {
            id: "C41-plugin-wins",
            database: with(
                pg_base(),
                json!({ "skipMigrations": true, "plugin": { "catalog": { "skipMigrations": false } } }),
            ),
            plugin: "catalog",
            expected: json!({ "skipMigrations": false }),
        },
        Row {
            id: "C41-plugin-only",
            database: with(
                pg_base(),
                json!({ "plugin": { "catalog": { "skipMigrations": true } } }),
            ),
            plugin: "search",
            expected: json!({ "skipMigrations": false }),
        },
        Row {
            id: "ensureExists-plugin-override",
            database: with(
                pg_base(),
                json!({ "ensureExists": true, "plugin": { "catalog": { "ensureExists": false } } }),
            ),
            plugin: "catalog",
            expected: json!({ "ensureExists": false }),
        },
        Row {
            id: "ensureExists-base",
            database: with(pg_base(), json!({ "ensureExists": false })),
            plugin: "catalog",
            expected: json!({ "ensureExists": false }),
        },
        Row {
            id: "keepalive-default-off",
            database: Some(pg_base()),
            plugin: "catalog",
            expected: json!({ "keepalive": false }),
        },
        Row {
            id: "keepalive-on",
            database: with(pg_base(), json!({ "keepalive": true })),
            plugin: "catalog",
            expected: json!({ "keepalive": true }),
        },
        Row {
            id: "role-base",
            database: with(pg_base(), json!({ "role": "backstage" })),
            plugin: "search",
            expected: json!({ "role": "backstage" }),
        },
        Row {
            id: "role-plugin-wins",
            database: with(
                pg_base(),
                json!({ "role": "backstage", "plugin": { "catalog": { "role": "cat" } } }),
            ),
            plugin: "catalog",
            expected: json!({ "role": "cat" }),
        },
        Row {
            id: "application-name-from-connection",
            database: Some(
                json!({ "client": "pg", "connection": "postgres://h/db?application_name=mine" }),
            ),
            plugin: "catalog",
            expected: json!({ "target": { "applicationName": "mine", "database": "backstage_plugin_catalog" } }),
        },
        Row {
            id: "object-connection-numeric-port",
            database: Some(
                json!({ "client": "pg", "connection": { "host": "h", "port": "5433", "user": "u", "password": 1234 } }),
            ),
            plugin: "catalog",
            expected: json!({ "target": { "host": "h", "port": 5433, "user": "u", "password": "1234" } }),
        },
    ];
    for row in &rows {
        check(row);
    }
}

#[test]
fn ssl_settings_are_read_from_both_forms() {
    use greenroom_backend_database::PgSslMode;
    let cases = [
        (
            "ssl-true",
            json!({ "host": "h", "ssl": true }),
            PgSslMode::VerifyFull,
        ),
        (
            "ssl-false",
            json!({ "host": "h", "ssl": false }),
            PgSslMode::Disable,
        ),
        (
            "ssl-no-reject",
            json!({ "host": "h", "ssl": { "rejectUnauthorized": false } }),
            PgSslMode::Require,
        ),
        ("ssl-absent", json!({ "host": "h" }), PgSslMode::Prefer),
        (
            "sslmode-url",
            json!("postgres://h/db?sslmode=verify-ca"),
            PgSslMode::VerifyCa,
        ),
    ];
    for (id, connection, mode) in cases {
        let config = Config::from_value(
            json!({ "backend": { "database": { "client": "pg", "connection": connection } } }),
        )
        .unwrap();
        let settings = resolve_plugin_settings(&config, "catalog").unwrap();
        let DatabaseTarget::Postgres(pg) = settings.target else {
            panic!("{id}: not a PostgreSQL target");
        };
        assert_eq!(pg.ssl.mode, mode, "{id}");
    }
}

#[test]
fn passwords_are_masked_in_debug_output() {
    let config = Config::from_value(json!({ "backend": { "database": pg_base() } })).unwrap();
    let settings = resolve_plugin_settings(&config, "catalog").unwrap();
    let printed = format!("{settings:?}");
    assert!(!printed.contains("secret"), "{printed}");
    assert!(printed.contains("***"), "{printed}");
    let manager = greenroom_backend_database::DatabaseManager::from_config(&config).unwrap();
    manager.plugin_database("catalog");
    let printed = format!("{manager:?}");
    assert!(!printed.contains("secret"), "{printed}");
    assert!(printed.contains("catalog"), "{printed}");
}

#[test]
fn invalid_plugin_ids_are_refused() {
    let config = Config::from_value(json!({})).unwrap();
    for id in ["", "../etc", "a/b", "a.b", "9lives", "x\"y"] {
        assert!(
            resolve_plugin_settings(&config, id).is_err(),
            "{id:?} was accepted"
        );
    }
    assert!(resolve_plugin_settings(&config, "tech-insights").is_ok());
}
