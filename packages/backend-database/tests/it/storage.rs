//! Per-plugin storage through [`DatabaseManager`] on SQLite and PostgreSQL
//! (issue #3's first acceptance point, checklist 33–41): separate databases,
//! schemas or files per plugin, each with its own migrations table.

use std::sync::Arc;

use greenroom_backend_database::{DatabaseManager, Migration, run_migrations};
use greenroom_backend_plugin_api::services::Database;
use greenroom_backend_test_utils::database::{TestDir, TestPostgres};
use greenroom_config::Config;
use serde_json::{Value, json};
use sqlx::AssertSqlSafe;

const NOTES: Migration = Migration::new(
    1,
    "create notes",
    "CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL)",
);

fn manager(config: &Config) -> DatabaseManager {
    DatabaseManager::from_config(config).unwrap()
}

fn sqlite_config(dir: &TestDir) -> Config {
    Config::from_value(json!({ "backend": { "database": {
        "client": "better-sqlite3",
        "connection": { "directory": dir.path().join("data") },
    } } }))
    .unwrap()
}

async fn execute(db: &Database, sql: &str) -> Result<(), sqlx::Error> {
    let sql = sql.to_owned();
    match db {
        Database::Sqlite(pool) => sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(pool)
            .await
            .map(drop),
        Database::Postgres(pool) => sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(pool)
            .await
            .map(drop),
    }
}

async fn strings(db: &Database, sql: &str) -> Vec<String> {
    let sql = sql.to_owned();
    match db {
        Database::Sqlite(pool) => sqlx::query_scalar(AssertSqlSafe(sql)).fetch_all(pool).await,
        Database::Postgres(pool) => sqlx::query_scalar(AssertSqlSafe(sql)).fetch_all(pool).await,
    }
    .unwrap()
}

/// The tables the plugin's connection sees (its own schema on PostgreSQL).
async fn tables(db: &Database) -> Vec<String> {
    let sql = match db {
        Database::Sqlite(_) => "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
        Database::Postgres(_) => {
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name"
        }
    };
    strings(db, sql).await
}

/// Migrates `catalog` and `search`, each in its own table, writes a row in
/// each, and checks neither sees the other's tables or rows.
async fn exercise_two_plugins(manager: &DatabaseManager) -> (Database, Database) {
    let catalog = manager.for_plugin("catalog").client().await.unwrap();
    let search = manager.for_plugin("search").client().await.unwrap();
    run_migrations(&catalog, "catalog_migrations", &[NOTES])
        .await
        .unwrap();
    let search_notes = Migration::new(
        1,
        "create documents",
        "CREATE TABLE documents (id TEXT PRIMARY KEY)",
    );
    run_migrations(&search, "search_migrations", &[search_notes])
        .await
        .unwrap();
    execute(
        &catalog,
        "INSERT INTO notes (id, body) VALUES ('n1', 'catalog only')",
    )
    .await
    .unwrap();
    execute(&search, "INSERT INTO documents (id) VALUES ('d1')")
        .await
        .unwrap();

    assert_eq!(tables(&catalog).await, ["catalog_migrations", "notes"]);
    assert_eq!(tables(&search).await, ["documents", "search_migrations"]);
    // The same plugin gets the same pool back, so it sees its own row.
    let again = manager.for_plugin("catalog").client().await.unwrap();
    assert_eq!(
        strings(&again, "SELECT body FROM notes").await,
        ["catalog only"]
    );
    (catalog, search)
}

#[tokio::test]
async fn sqlite_directory_holds_one_file_per_plugin() {
    let dir = TestDir::new();
    let manager = manager(&sqlite_config(&dir));
    exercise_two_plugins(&manager).await;
    manager.close_all().await;

    // C40: the directory was created and holds `<pluginId>.sqlite` per plugin.
    let mut files: Vec<String> = std::fs::read_dir(dir.path().join("data"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sqlite"))
        .collect();
    files.sort();
    assert_eq!(files, ["catalog.sqlite", "search.sqlite"]);

    // The data survives a restart of the manager.
    let manager = self::manager(&sqlite_config(&dir));
    let catalog = manager.for_plugin("catalog").client().await.unwrap();
    run_migrations(&catalog, "catalog_migrations", &[NOTES])
        .await
        .unwrap();
    assert_eq!(
        strings(&catalog, "SELECT body FROM notes").await,
        ["catalog only"]
    );
    manager.close_all().await;
}

#[tokio::test]
async fn postgres_gives_each_plugin_its_own_database() {
    let pg = TestPostgres::new();
    let manager = manager(&pg.config(json!({})));
    let (catalog, _) = exercise_two_plugins(&manager).await;

    // C34/C35: the databases `<prefix>catalog` and `<prefix>search` were created.
    let expected = [
        format!("{}catalog", pg.prefix()),
        format!("{}search", pg.prefix()),
    ];
    assert_eq!(pg.databases().await, expected);
    let current = strings(&catalog, "SELECT current_database()::text").await;
    assert_eq!(current, [expected[0].clone()]);
    // Spec §4.2 item 6: the application name carries the plugin id.
    let app = strings(&catalog, "SELECT current_setting('application_name')").await;
    assert_eq!(app, ["backstage_plugin_catalog"]);

    // A second manager (another instance) finds the databases and the data.
    let other = self::manager(&pg.config(json!({})));
    let catalog2 = other.for_plugin("catalog").client().await.unwrap();
    run_migrations(&catalog2, "catalog_migrations", &[NOTES])
        .await
        .unwrap();
    assert_eq!(
        strings(&catalog2, "SELECT body FROM notes").await,
        ["catalog only"]
    );

    other.close_all().await;
    manager.close_all().await;
    pg.cleanup().await;
}

#[tokio::test]
async fn postgres_schema_mode_gives_each_plugin_its_own_schema() {
    let pg = TestPostgres::new();
    let base = pg.create_database("base").await;
    let config = pg.config(json!({
        "pluginDivisionMode": "schema",
        "connection": { "database": base },
    }));
    let manager = manager(&config);
    let (catalog, _) = exercise_two_plugins(&manager).await;

    // C37: no per-plugin databases, two schemas in the base database.
    assert_eq!(pg.databases().await, vec![base.clone()]);
    let pool = pg.connect(&base).await;
    let schemas: Vec<String> = sqlx::query_scalar(
        "SELECT schema_name::text FROM information_schema.schemata WHERE schema_name IN ('catalog', 'search') ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(schemas, ["catalog", "search"]);
    let migration_tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_schema::text, table_name::text FROM information_schema.tables WHERE table_name LIKE '%migrations' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        migration_tables,
        [
            ("catalog".to_owned(), "catalog_migrations".to_owned()),
            ("search".to_owned(), "search_migrations".to_owned())
        ]
    );
    assert_eq!(
        strings(&catalog, "SELECT current_schema()::text").await,
        ["catalog"]
    );
    pool.close().await;
    manager.close_all().await;
    pg.cleanup().await;
}

#[tokio::test]
async fn postgres_schema_prefix_names_the_schemas() {
    let pg = TestPostgres::new();
    let base = pg.create_database("base").await;
    let manager = manager(&pg.config(json!({
        "pluginDivisionMode": "schema",
        "schemaPrefix": "gr_",
        "connection": { "database": base },
    })));
    let catalog = manager.for_plugin("catalog").client().await.unwrap();
    assert_eq!(
        strings(&catalog, "SELECT current_schema()::text").await,
        ["gr_catalog"]
    );
    manager.close_all().await;
    pg.cleanup().await;
}

#[tokio::test]
async fn without_database_config_plugins_get_private_memory_databases() {
    // C33
    let manager = manager(&Config::from_value(json!({})).unwrap());
    let (catalog, search) = exercise_two_plugins(&manager).await;
    assert!(!catalog.is_postgres() && !search.is_postgres());
    let Database::Sqlite(pool) = &catalog else {
        unreachable!()
    };
    assert_eq!(pool.options().get_max_connections(), 1);
    manager.close_all().await;
}

#[tokio::test]
async fn explicit_database_override_is_used_and_created() {
    // C36, on a real server: the explicit name is created and used.
    let pg = TestPostgres::new();
    let shared = format!("{}shared", pg.prefix());
    let manager = manager(
        &pg.config(json!({ "plugin": { "search": { "connection": { "database": shared } } } })),
    );
    let search = manager.for_plugin("search").client().await.unwrap();
    assert_eq!(
        strings(&search, "SELECT current_database()::text").await,
        vec![shared.clone()]
    );
    assert_eq!(pg.databases().await, [shared]);
    manager.close_all().await;
    pg.cleanup().await;
}

#[tokio::test]
async fn ensure_exists_false_does_not_create_databases() {
    let pg = TestPostgres::new();
    let manager = manager(&pg.config(json!({ "ensureExists": false })));
    let error = manager.for_plugin("catalog").client().await.unwrap_err();
    assert!(
        error.message.contains(&format!("{}catalog", pg.prefix())),
        "{error}"
    );
    assert!(pg.databases().await.is_empty());
    manager.close_all().await;
    pg.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_start_together_on_one_server() {
    // Two managers (instances) create the same databases and run the same
    // migrations at the same moment: both succeed and each version is recorded once.
    let pg = TestPostgres::new();
    let a = Arc::new(manager(&pg.config(json!({}))));
    let b = Arc::new(manager(&pg.config(json!({}))));
    let start = |m: Arc<DatabaseManager>| {
        tokio::spawn(async move {
            let db = m.for_plugin("catalog").client().await?;
            run_migrations(&db, "catalog_migrations", &[NOTES]).await
        })
    };
    let (ra, rb) = tokio::join!(start(Arc::clone(&a)), start(Arc::clone(&b)));
    ra.unwrap().unwrap();
    rb.unwrap().unwrap();
    let db = a.for_plugin("catalog").client().await.unwrap();
    assert_eq!(
        strings(&db, "SELECT description FROM catalog_migrations").await,
        ["create notes"]
    );
    a.close_all().await;
    b.close_all().await;
    pg.cleanup().await;
}

#[tokio::test]
async fn role_is_set_on_every_connection() {
    let pg = TestPostgres::new();
    let role = format!("{}role", pg.prefix());
    let admin = pg.connect("postgres").await;
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE ROLE \"{role}\" NOLOGIN")))
        .execute(&admin)
        .await
        .unwrap();
    let manager = manager(&pg.config(json!({ "plugin": { "catalog": { "role": role } } })));
    let catalog = manager.for_plugin("catalog").client().await.unwrap();
    let search = manager.for_plugin("search").client().await.unwrap();
    let who = strings(&catalog, "SELECT current_user::text").await;
    let search_who = strings(&search, "SELECT current_user::text").await;
    manager.close_all().await;
    pg.cleanup().await;
    sqlx::raw_sql(AssertSqlSafe(format!("DROP ROLE \"{role}\"")))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    assert_eq!(who, [role]);
    assert_eq!(search_who, ["postgres"]);
}

#[tokio::test]
async fn pool_sizes_come_from_knex_config() {
    // C39 on live pools: base min/max merged with the plugin's max.
    let dir = TestDir::new();
    let pg = TestPostgres::new();
    let knex = json!({
        "knexConfig": { "pool": { "min": 0, "max": 3 } },
        "plugin": { "catalog": { "knexConfig": { "pool": { "max": 7 } } } },
    });
    let sqlite = {
        let mut db =
            json!({ "client": "better-sqlite3", "connection": { "directory": dir.path() } });
        db = greenroom_config::deep_merge(&db, &knex);
        Config::from_value(json!({ "backend": { "database": db } })).unwrap()
    };
    for config in [sqlite, pg.config(knex.clone())] {
        let manager = manager(&config);
        let catalog = manager.for_plugin("catalog").client().await.unwrap();
        let search = manager.for_plugin("search").client().await.unwrap();
        assert_eq!(max_connections(&catalog), 7);
        assert_eq!(max_connections(&search), 3);
        manager.close_all().await;
    }
    pg.cleanup().await;
}

fn max_connections(db: &Database) -> u32 {
    match db {
        Database::Sqlite(p) => p.options().get_max_connections(),
        Database::Postgres(p) => p.options().get_max_connections(),
    }
}

#[tokio::test]
async fn sqlite_connections_enforce_foreign_keys_and_use_wal() {
    for config in [
        Value::Null,
        json!({ "client": "better-sqlite3", "connection": ":memory:" }),
    ] {
        let config = if config.is_null() {
            json!({})
        } else {
            json!({ "backend": { "database": config } })
        };
        let manager = manager(&Config::from_value(config).unwrap());
        let db = manager.for_plugin("catalog").client().await.unwrap();
        assert_eq!(
            strings(
                &db,
                "SELECT CAST(foreign_keys AS TEXT) FROM pragma_foreign_keys"
            )
            .await,
            ["1"]
        );
        manager.close_all().await;
    }
    let dir = TestDir::new();
    let manager = manager(&sqlite_config(&dir));
    let db = manager.for_plugin("catalog").client().await.unwrap();
    assert_eq!(
        strings(
            &db,
            "SELECT CAST(foreign_keys AS TEXT) FROM pragma_foreign_keys"
        )
        .await,
        ["1"]
    );
    assert_eq!(
        strings(&db, "SELECT journal_mode FROM pragma_journal_mode").await,
        ["wal"]
    );
    // A new file is made with 16 KiB pages (see `SQLITE_PAGE_SIZE`).
    assert_eq!(
        strings(&db, "SELECT CAST(page_size AS TEXT) FROM pragma_page_size").await,
        ["16384"]
    );
    manager.close_all().await;
}

#[tokio::test]
async fn skip_migrations_reaches_the_plugin() {
    // C41
    let config = Config::from_value(json!({ "backend": { "database": {
        "client": "better-sqlite3",
        "connection": ":memory:",
        "skipMigrations": true,
        "plugin": { "search": { "skipMigrations": false } },
    } } }))
    .unwrap();
    let manager = manager(&config);
    assert!(manager.for_plugin("catalog").skip_migrations());
    assert!(!manager.for_plugin("search").skip_migrations());
    let default = self::manager(&Config::from_value(json!({})).unwrap());
    assert!(!default.for_plugin("catalog").skip_migrations());
}

#[tokio::test]
async fn an_invalid_plugin_id_fails_on_use() {
    let manager = manager(&Config::from_value(json!({})).unwrap());
    let error = manager.for_plugin("../escape").client().await.unwrap_err();
    assert!(error.message.contains("../escape"), "{error}");
}

#[tokio::test]
async fn plugin_sqlite_file_override_on_a_postgres_base() {
    // C38 on live storage: a SQLite plugin beside PostgreSQL ones.
    let dir = TestDir::new();
    let file = dir.path().join("nested").join("auth.db");
    let pg = TestPostgres::new();
    let manager = manager(&pg.config(json!({
        "plugin": { "auth": { "client": "better-sqlite3", "connection": { "filename": file } } }
    })));
    let auth = manager.for_plugin("auth").client().await.unwrap();
    assert!(!auth.is_postgres());
    run_migrations(&auth, "auth_migrations", &[NOTES])
        .await
        .unwrap();
    assert!(file.exists());
    assert!(pg.databases().await.is_empty());
    manager.close_all().await;
    pg.cleanup().await;
}

#[tokio::test]
async fn keepalive_pools_work_and_close_promptly() {
    let pg = TestPostgres::new();
    let manager = manager(&pg.config(json!({ "keepalive": true })));
    let catalog = manager.for_plugin("catalog").client().await.unwrap();
    assert_eq!(strings(&catalog, "SELECT 'up'").await, ["up"]);
    // The keep-alive task must not hold the pool open on shutdown.
    tokio::time::timeout(std::time::Duration::from_secs(5), manager.close_all())
        .await
        .unwrap();
    assert!(matches!(&catalog, Database::Postgres(p) if p.is_closed()));
    pg.cleanup().await;
}
