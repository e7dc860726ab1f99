//! The database helpers create what they promise and remove it afterwards.

use greenroom_backend_plugin_api::services::Database;
use greenroom_backend_test_utils::database::{
    TestDatabaseKind, TestDatabases, TestDir, TestPostgres, unique_name,
};
use serde_json::json;

async fn pg_database_exists(name: &str) -> bool {
    let pg = TestPostgres::new();
    let admin = pg.connect("postgres").await;
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&admin)
        .await
        .unwrap();
    admin.close().await;
    pg.cleanup().await;
    found.is_some()
}

#[test]
fn unique_names_differ() {
    let a = unique_name();
    let b = unique_name();
    assert_ne!(a, b);
    assert!(
        a.starts_with(&format!("gr_test_{}_", std::process::id())),
        "{a}"
    );
}

#[tokio::test]
async fn each_kind_gives_a_fresh_database_that_cleanup_removes() {
    assert_eq!(
        TestDatabases::all(),
        [TestDatabaseKind::Sqlite, TestDatabaseKind::Postgres]
    );
    for kind in TestDatabases::all() {
        let db = TestDatabases::init(kind).await;
        let location = db.location();
        match (kind, db.database()) {
            (TestDatabaseKind::Sqlite, Database::Sqlite(pool)) => {
                let tables: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master")
                    .fetch_one(pool)
                    .await
                    .unwrap();
                assert_eq!(tables, 0);
                assert!(std::path::Path::new(&location).exists());
            }
            (TestDatabaseKind::Postgres, Database::Postgres(pool)) => {
                let name: String = sqlx::query_scalar("SELECT current_database()::text")
                    .fetch_one(pool)
                    .await
                    .unwrap();
                assert_eq!(name, location);
            }
            (kind, _) => panic!("{kind:?} gave the wrong pool type"),
        }
        db.cleanup().await;
        match kind {
            TestDatabaseKind::Sqlite => assert!(!std::path::Path::new(&location).exists()),
            TestDatabaseKind::Postgres => assert!(!pg_database_exists(&location).await),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_without_cleanup_still_removes_the_database() {
    let db = TestDatabases::init(TestDatabaseKind::Postgres).await;
    let name = db.location();
    drop(db);
    assert!(!pg_database_exists(&name).await);
}

#[tokio::test]
async fn postgres_setup_lists_and_drops_its_prefixed_databases() {
    let pg = TestPostgres::new();
    let a = pg.create_database("a").await;
    let b = pg.create_database("b").await;
    assert_eq!(pg.databases().await, [a.clone(), b.clone()]);
    let config = pg.config(json!({ "pluginDivisionMode": "schema" }));
    assert_eq!(
        config.get_string("backend.database.prefix").unwrap(),
        pg.prefix()
    );
    assert_eq!(
        config
            .get_string("backend.database.pluginDivisionMode")
            .unwrap(),
        "schema"
    );
    assert_eq!(config.get_string("backend.database.client").unwrap(), "pg");
    pg.cleanup().await;
    assert!(!pg_database_exists(&a).await);
    assert!(!pg_database_exists(&b).await);
}

#[test]
fn test_dir_is_removed_on_drop() {
    let dir = TestDir::new();
    let path = dir.path().to_path_buf();
    std::fs::write(path.join("f"), "x").unwrap();
    drop(dir);
    assert!(!path.exists());
}
