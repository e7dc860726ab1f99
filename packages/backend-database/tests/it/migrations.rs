//! Migrations on both dialects: applied once, in order, one transaction
//! each, safe when run concurrently, refusing changed or unknown history.

use greenroom_backend_database::{Migration, checksum, run_migrations};
use greenroom_backend_plugin_api::ErrorName;
use greenroom_backend_plugin_api::services::Database;
use greenroom_backend_test_utils::database::{TestDatabase, TestDatabases};
use sqlx::AssertSqlSafe;

const V1: Migration = Migration::new(
    1,
    "create widgets",
    "CREATE TABLE widgets (id TEXT PRIMARY KEY, size BIGINT NOT NULL);
     CREATE INDEX widgets_size ON widgets (size);",
);
const V2: Migration = Migration::new(
    2,
    "create gadgets",
    "CREATE TABLE gadgets (id TEXT PRIMARY KEY, widget_id TEXT NOT NULL REFERENCES widgets (id))",
);
const V3: Migration = Migration::new(
    3,
    "add colour",
    "ALTER TABLE widgets ADD COLUMN colour TEXT",
);

/// A number from a query, the same way on both dialects.
async fn scalar(db: &Database, sql: &str) -> i64 {
    let sql = sql.to_owned();
    match db {
        Database::Sqlite(pool) => sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(pool).await,
        Database::Postgres(pool) => sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(pool).await,
    }
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

async fn table_exists(db: &Database, table: &str) -> bool {
    let sql = match db {
        Database::Sqlite(_) => {
            format!("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'")
        }
        Database::Postgres(_) => format!(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = '{table}'"
        ),
    };
    scalar(db, &sql).await == 1
}

/// Runs `f` on a fresh database of each kind, cleaning up afterwards.
async fn each_database<F, Fut>(f: F)
where
    F: Fn(TestDatabase) -> Fut,
    Fut: std::future::Future<Output = TestDatabase>,
{
    for kind in TestDatabases::all() {
        let db = TestDatabases::init(kind).await;
        f(db).await.cleanup().await;
    }
}

#[tokio::test]
async fn applies_in_order_and_once() {
    each_database(|t| async move {
        let db = t.database();
        let kind = t.kind().name();
        run_migrations(db, "demo_migrations", &[V1, V2])
            .await
            .unwrap();
        assert!(
            table_exists(db, "widgets").await && table_exists(db, "gadgets").await,
            "{kind}"
        );
        assert_eq!(
            scalar(db, "SELECT COUNT(*) FROM demo_migrations").await,
            2,
            "{kind}"
        );
        let stamp = scalar(
            db,
            "SELECT CAST(SUM(applied_at) AS BIGINT) FROM demo_migrations",
        )
        .await;

        // Re-running is a no-op: nothing re-applied, nothing re-recorded.
        run_migrations(db, "demo_migrations", &[V1, V2])
            .await
            .unwrap();
        assert_eq!(
            scalar(db, "SELECT COUNT(*) FROM demo_migrations").await,
            2,
            "{kind}"
        );
        assert_eq!(
            scalar(
                db,
                "SELECT CAST(SUM(applied_at) AS BIGINT) FROM demo_migrations"
            )
            .await,
            stamp,
            "{kind}"
        );

        // A later release adds a migration: only that one runs.
        run_migrations(db, "demo_migrations", &[V1, V2, V3])
            .await
            .unwrap();
        assert_eq!(
            scalar(db, "SELECT MAX(version) FROM demo_migrations").await,
            3,
            "{kind}"
        );
        execute(
            db,
            "INSERT INTO widgets (id, size, colour) VALUES ('w', 1, 'red')",
        )
        .await
        .unwrap();

        // The recorded checksum is the SQL's.
        let recorded: String = match db {
            Database::Sqlite(p) => {
                sqlx::query_scalar("SELECT checksum FROM demo_migrations WHERE version = 1")
                    .fetch_one(p)
                    .await
            }
            Database::Postgres(p) => {
                sqlx::query_scalar("SELECT checksum FROM demo_migrations WHERE version = 1")
                    .fetch_one(p)
                    .await
            }
        }
        .unwrap();
        assert_eq!(recorded, checksum(V1.sql), "{kind}");
        t
    })
    .await;
}

#[tokio::test]
async fn foreign_keys_are_enforced_by_migrated_schema() {
    each_database(|t| async move {
        let db = t.database();
        run_migrations(db, "demo_migrations", &[V1, V2])
            .await
            .unwrap();
        let orphan = execute(
            db,
            "INSERT INTO gadgets (id, widget_id) VALUES ('g', 'missing')",
        )
        .await;
        assert!(
            orphan.is_err(),
            "{}: an orphan row was accepted",
            t.kind().name()
        );
        t
    })
    .await;
}

#[tokio::test]
async fn separate_tables_keep_separate_histories() {
    each_database(|t| async move {
        let db = t.database();
        run_migrations(db, "one_migrations", &[V1]).await.unwrap();
        let other = Migration::new(
            1,
            "other",
            "CREATE TABLE other_things (id TEXT PRIMARY KEY)",
        );
        run_migrations(db, "two_migrations", &[other])
            .await
            .unwrap();
        assert_eq!(scalar(db, "SELECT COUNT(*) FROM one_migrations").await, 1);
        assert_eq!(scalar(db, "SELECT COUNT(*) FROM two_migrations").await, 1);
        assert!(table_exists(db, "other_things").await);
        t
    })
    .await;
}

#[tokio::test]
async fn a_changed_migration_is_refused() {
    each_database(|t| async move {
        let db = t.database();
        run_migrations(db, "demo_migrations", &[V1]).await.unwrap();
        let edited = Migration::new(
            1,
            "create widgets",
            "CREATE TABLE widgets (id TEXT PRIMARY KEY)",
        );
        let error = run_migrations(db, "demo_migrations", &[edited, V2])
            .await
            .unwrap_err();
        assert_eq!(
            error.name,
            ErrorName::ConflictError,
            "{}: {error}",
            t.kind().name()
        );
        assert!(error.message.contains("checksum"), "{error}");
        // Nothing after the refused history ran.
        assert!(!table_exists(db, "gadgets").await);
        t
    })
    .await;
}

#[tokio::test]
async fn an_unknown_recorded_version_is_refused() {
    each_database(|t| async move {
        let db = t.database();
        run_migrations(db, "demo_migrations", &[V1, V2])
            .await
            .unwrap();
        // An older binary that only knows V1 meets a database migrated further.
        let error = run_migrations(db, "demo_migrations", &[V1])
            .await
            .unwrap_err();
        assert_eq!(
            error.name,
            ErrorName::ConflictError,
            "{}: {error}",
            t.kind().name()
        );
        assert!(error.message.contains("migration 2"), "{error}");
        t
    })
    .await;
}

#[tokio::test]
async fn a_failing_migration_rolls_back_and_is_not_recorded() {
    each_database(|t| async move {
        let db = t.database();
        let broken = Migration::new(
            2,
            "half broken",
            "CREATE TABLE half_done (id TEXT PRIMARY KEY); INSERT INTO no_such_table VALUES (1);",
        );
        let error = run_migrations(db, "demo_migrations", &[V1, broken])
            .await
            .unwrap_err();
        assert!(error.message.contains("half broken"), "{error}");
        assert_eq!(scalar(db, "SELECT COUNT(*) FROM demo_migrations").await, 1);
        assert!(
            !table_exists(db, "half_done").await,
            "{}: partial migration kept",
            t.kind().name()
        );
        // Fixed in the next release, it applies.
        run_migrations(db, "demo_migrations", &[V1, V2])
            .await
            .unwrap();
        assert_eq!(scalar(db, "SELECT COUNT(*) FROM demo_migrations").await, 2);
        t
    })
    .await;
}

#[tokio::test]
async fn dialect_overrides_pick_the_right_sql() {
    each_database(|t| async move {
        let db = t.database();
        let m = Migration::new(1, "per dialect", "CREATE TABLE portable (id TEXT)")
            .with_sqlite("CREATE TABLE lite_only (id TEXT)")
            .with_postgres("CREATE TABLE pg_only (id TEXT)");
        run_migrations(db, "demo_migrations", &[m]).await.unwrap();
        let (present, absent) = if db.is_postgres() {
            ("pg_only", "lite_only")
        } else {
            ("lite_only", "pg_only")
        };
        assert!(table_exists(db, present).await);
        assert!(!table_exists(db, absent).await);
        assert!(!table_exists(db, "portable").await);
        t
    })
    .await;
}

#[tokio::test]
async fn bad_inputs_are_refused_before_touching_the_database() {
    each_database(|t| async move {
        let db = t.database();
        assert!(run_migrations(db, "bad name", &[V1]).await.is_err());
        assert!(
            run_migrations(db, "demo_migrations", &[V2, V1])
                .await
                .is_err()
        );
        assert!(!table_exists(db, "demo_migrations").await);
        t
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_runs_apply_each_version_once() {
    each_database(|t| async move {
        let db = t.database().clone();
        let runs: Vec<_> = (0..4)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(
                    async move { run_migrations(&db, "demo_migrations", &[V1, V2, V3]).await },
                )
            })
            .collect();
        for run in runs {
            run.await.unwrap().unwrap();
        }
        assert_eq!(
            scalar(&db, "SELECT COUNT(*) FROM demo_migrations").await,
            3,
            "{}",
            t.kind().name()
        );
        assert_eq!(
            scalar(&db, "SELECT COUNT(DISTINCT version) FROM demo_migrations").await,
            3
        );
        t
    })
    .await;
}
