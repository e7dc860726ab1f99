//! Fixtures for the processing tests: an engine built from config over a fresh
//! database of each kind, descriptor files in a temporary folder, and direct SQL
//! to look at what processing wrote.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use greenroom_backend_plugin_api::services::{Database, Logger};
use greenroom_backend_test_utils::database::{
    TestDatabase, TestDatabaseKind, TestDatabases, TestDir,
};
use greenroom_config::Config;
use greenroom_plugin_catalog_backend::engine::CatalogEngine;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Row};

/// Every kind allowed from every location, so that tests opt into restrictions.
pub(crate) fn allow_all() -> Value {
    json!([{"allow": ["Component", "API", "Resource", "System", "Domain", "Group", "User", "Location", "Template"]}])
}

/// One test's engine, database and descriptor folder.
pub(crate) struct Fixture {
    pub(crate) engine: Arc<CatalogEngine>,
    pub(crate) test_db: TestDatabase,
    pub(crate) dir: TestDir,
}

impl Fixture {
    /// An engine over a fresh database of `kind`, with `catalog` as the
    /// `catalog` config block (rules default to [`allow_all`]) and `reading` as
    /// `backend.reading`. `files` are written first, relative to the folder;
    /// `{dir}` in the catalog block is replaced by the folder's path.
    pub(crate) async fn new(
        kind: TestDatabaseKind,
        files: &[(&str, &str)],
        catalog: Value,
        reading: Value,
    ) -> Fixture {
        let dir = TestDir::new();
        for (name, content) in files {
            write(dir.path(), name, content);
        }
        let text = catalog
            .to_string()
            .replace("{dir}", &dir.path().display().to_string());
        let mut catalog: Value = serde_json::from_str(&text).expect("catalog config");
        if catalog.get("rules").is_none() {
            catalog["rules"] = allow_all();
        }
        let config =
            Config::from_value(json!({"catalog": catalog, "backend": {"reading": reading}}))
                .expect("config");
        let test_db = TestDatabases::init(kind).await;
        let engine = CatalogEngine::new(
            test_db.database().clone(),
            &config,
            Logger::for_plugin("catalog"),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        )
        .await
        .unwrap_or_else(|e| panic!("engine: {e}"));
        engine
            .connect_providers()
            .await
            .unwrap_or_else(|e| panic!("providers: {e}"));
        Fixture {
            engine,
            test_db,
            dir,
        }
    }

    pub(crate) fn db(&self) -> &Database {
        self.test_db.database()
    }

    pub(crate) fn name(&self) -> &'static str {
        self.test_db.kind().name()
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `file:<absolute path>` of a file in the folder.
    pub(crate) fn file_ref(&self, name: &str) -> String {
        format!("file:{}", self.path(name).display())
    }

    pub(crate) fn write(&self, name: &str, content: &str) {
        write(self.dir.path(), name, content);
    }

    pub(crate) async fn run(&self) -> usize {
        self.engine
            .process_pending_until_idle()
            .await
            .unwrap_or_else(|e| panic!("[{}] processing: {e}", self.name()))
    }

    /// Processes until idle, then stitches every queued ref, put-off ones too.
    pub(crate) async fn run_and_stitch(&self) {
        self.run().await;
        self.engine
            .stitch_pending_until_idle()
            .await
            .unwrap_or_else(|e| panic!("[{}] stitching: {e}", self.name()));
    }

    /// Makes every row due and processes until idle.
    pub(crate) async fn rerun(&self) -> usize {
        self.exec("UPDATE refresh_state SET next_update_at = 0")
            .await;
        self.run().await
    }

    pub(crate) async fn cleanup(self) {
        drop(self.engine);
        self.test_db.cleanup().await;
    }

    pub(crate) async fn exec(&self, sql: &str) {
        let sql = sql.to_owned();
        match self.db() {
            Database::Sqlite(pool) => sqlx::query(AssertSqlSafe(sql))
                .execute(pool)
                .await
                .map(drop),
            Database::Postgres(pool) => sqlx::query(AssertSqlSafe(sql))
                .execute(pool)
                .await
                .map(drop),
        }
        .unwrap_or_else(|e| panic!("exec: {e}"));
    }

    /// Every row of a query, every column read as optional text.
    pub(crate) async fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let sql = sql.to_owned();
        macro_rules! read {
            ($pool:expr) => {
                sqlx::query(AssertSqlSafe(sql))
                    .fetch_all($pool)
                    .await
                    .map(|rows| {
                        rows.iter()
                            .map(|r| {
                                (0..r.columns().len())
                                    .map(|i| r.try_get::<Option<String>, _>(i).unwrap_or(None))
                                    .collect()
                            })
                            .collect()
                    })
            };
        }
        match self.db() {
            Database::Sqlite(pool) => read!(pool),
            Database::Postgres(pool) => read!(pool),
        }
        .unwrap_or_else(|e| panic!("query: {e}"))
    }

    /// The first column of every row, nulls as empty strings.
    pub(crate) async fn column(&self, sql: &str) -> Vec<String> {
        self.rows(sql)
            .await
            .into_iter()
            .map(|r| r.into_iter().next().flatten().unwrap_or_default())
            .collect()
    }

    /// The entity refs in `refresh_state`, sorted.
    pub(crate) async fn refs(&self) -> Vec<String> {
        self.column("SELECT entity_ref FROM refresh_state ORDER BY entity_ref")
            .await
    }

    /// The stored processed entity of `entity_ref`, if any.
    pub(crate) async fn processed(&self, entity_ref: &str) -> Option<Value> {
        let rows = self
            .column(&format!(
                "SELECT processed_entity FROM refresh_state WHERE entity_ref = '{entity_ref}'"
            ))
            .await;
        rows.first()
            .filter(|t| !t.is_empty())
            .map(|t| serde_json::from_str(t).expect("processed JSON"))
    }

    /// The stored errors of `entity_ref` (`[]` when none).
    pub(crate) async fn errors(&self, entity_ref: &str) -> Vec<Value> {
        let rows = self
            .column(&format!(
                "SELECT errors FROM refresh_state WHERE entity_ref = '{entity_ref}'"
            ))
            .await;
        let text = rows.first().cloned().unwrap_or_default();
        serde_json::from_str::<Vec<Value>>(&text).unwrap_or_default()
    }

    /// The parent→child edges, as `parent -> child`, sorted.
    pub(crate) async fn edges(&self) -> Vec<String> {
        let rows = self
            .rows("SELECT COALESCE(source_entity_ref, 'provider:' || source_key), target_entity_ref FROM refresh_state_references")
            .await;
        let mut out: Vec<String> = rows
            .into_iter()
            .map(|r| {
                format!(
                    "{} -> {}",
                    r[0].clone().unwrap_or_default(),
                    r[1].clone().unwrap_or_default()
                )
            })
            .collect();
        out.sort();
        out
    }

    /// `source type target` of every relation row, sorted.
    pub(crate) async fn relations(&self) -> Vec<String> {
        let rows = self
            .rows("SELECT source_entity_ref, type, target_entity_ref FROM relations")
            .await;
        let mut out: Vec<String> = rows
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .map(Option::unwrap_or_default)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        out.sort();
        out
    }
}

fn write(dir: &Path, name: &str, content: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create folder");
    }
    std::fs::write(&path, content).expect("write file");
}

/// The generated Location entity ref of `<type>:<target>`.
pub(crate) fn generated_ref(location_type: &str, target: &str) -> String {
    format!(
        "location:default/{}",
        greenroom_catalog_model::location_ref::generated_location_name(location_type, target)
    )
}

/// A component descriptor.
pub(crate) fn component(name: &str, owner: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: service\n  lifecycle: production\n  owner: {owner}\n"
    )
}

/// A group descriptor.
pub(crate) fn group(name: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: {name}\nspec:\n  type: team\n  children: []\n"
    )
}

/// A Location descriptor with the given targets.
pub(crate) fn location(name: &str, targets: &[&str]) -> String {
    let list: String = targets.iter().map(|t| format!("    - {t}\n")).collect();
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: {name}\nspec:\n  type: file\n  targets:\n{list}"
    )
}

/// Each kind of database in turn.
pub(crate) fn kinds() -> Vec<TestDatabaseKind> {
    TestDatabases::all()
}
