//! Test fixtures for stitching: an engine over a fresh database of each kind
//! and direct SQL to set up the rows processing would write.

use std::collections::BTreeMap;
use std::sync::Arc;

use greenroom_backend_plugin_api::services::Database;
use greenroom_backend_test_utils::database::{TestDatabase, TestDatabaseKind, TestDatabases};
use greenroom_plugin_catalog_backend::engine::{CatalogEngine, OrphanStrategy};
use serde_json::{Value, json};
use sqlx::AssertSqlSafe;

/// A bind parameter.
#[derive(Debug, Clone)]
pub(crate) enum P {
    S(String),
    N,
    I(i64),
}

pub(crate) fn s(v: &str) -> P {
    P::S(v.to_owned())
}

/// Runs the same code on either pool.
macro_rules! both {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            Database::Sqlite($pool) => $body,
            Database::Postgres($pool) => $body,
        }
    };
}

macro_rules! bind_all {
    ($q:expr, $params:expr) => {{
        let mut q = $q;
        for p in $params {
            q = match p {
                P::S(v) => q.bind(v.clone()),
                P::N => q.bind(None::<String>),
                P::I(v) => q.bind(*v),
            };
        }
        q
    }};
}

/// One test's engine and database.
pub(crate) struct Fixture {
    pub(crate) engine: Arc<CatalogEngine>,
    pub(crate) test_db: TestDatabase,
}

impl Fixture {
    pub(crate) async fn new(kind: TestDatabaseKind) -> Fixture {
        let test_db = TestDatabases::init(kind).await;
        let engine =
            CatalogEngine::for_stitching_tests(test_db.database().clone(), OrphanStrategy::Keep)
                .await
                .unwrap_or_else(|e| panic!("engine: {e}"));
        Fixture { engine, test_db }
    }

    pub(crate) fn db(&self) -> &Database {
        self.test_db.database()
    }

    pub(crate) fn name(&self) -> &'static str {
        self.test_db.kind().name()
    }

    pub(crate) async fn cleanup(self) {
        drop(self.engine);
        self.test_db.cleanup().await;
    }

    pub(crate) async fn exec(&self, sql: &str, params: &[P]) {
        exec(self.db(), sql, params).await;
    }

    /// A `refresh_state` row; `processed` None means "never processed".
    pub(crate) async fn add_entity(&self, id: &str, entity_ref: &str, processed: Option<Value>) {
        let unprocessed = processed.clone().unwrap_or_else(|| json!({}));
        self.exec(
            "INSERT INTO refresh_state (entity_id, entity_ref, unprocessed_entity, unprocessed_hash, \
             processed_entity, result_hash, errors, next_update_at, last_discovery_at) \
             VALUES ($1, $2, $3, 'h', $4, 'r', '[]', $5, 0)",
            &[
                s(id),
                s(entity_ref),
                P::S(unprocessed.to_string()),
                processed.map_or(P::N, |p| P::S(p.to_string())),
                P::I(i64::MAX / 2),
            ],
        )
        .await;
    }

    pub(crate) async fn set_processed(&self, entity_ref: &str, processed: &Value) {
        self.exec(
            "UPDATE refresh_state SET processed_entity = $1 WHERE entity_ref = $2",
            &[P::S(processed.to_string()), s(entity_ref)],
        )
        .await;
    }

    pub(crate) async fn set_errors(&self, entity_ref: &str, errors: &str) {
        self.exec(
            "UPDATE refresh_state SET errors = $1 WHERE entity_ref = $2",
            &[s(errors), s(entity_ref)],
        )
        .await;
    }

    /// A processing edge; `source` None means a provider (`source_key` "provider").
    pub(crate) async fn add_edge(&self, source: Option<&str>, target: &str) {
        let (key, source) = match source {
            Some(r) => (P::N, s(r)),
            None => (s("provider"), P::N),
        };
        self.exec(
            "INSERT INTO refresh_state_references (source_key, source_entity_ref, target_entity_ref) \
             VALUES ($1, $2, $3)",
            &[key, source, s(target)],
        )
        .await;
    }

    pub(crate) async fn remove_edges_to(&self, target: &str) {
        self.exec(
            "DELETE FROM refresh_state_references WHERE target_entity_ref = $1",
            &[s(target)],
        )
        .await;
    }

    pub(crate) async fn add_relation(
        &self,
        origin_id: &str,
        source: &str,
        kind: &str,
        target: &str,
    ) {
        self.exec(
            "INSERT INTO relations (originating_entity_id, source_entity_ref, type, target_entity_ref) \
             VALUES ($1, $2, $3, $4)",
            &[s(origin_id), s(source), s(kind), s(target)],
        )
        .await;
    }

    pub(crate) async fn enqueue(&self, refs: &[&str]) {
        for r in refs {
            self.exec(
                "INSERT INTO stitch_queue (entity_ref, next_stitch_at) VALUES ($1, 0) \
                 ON CONFLICT (entity_ref) DO UPDATE SET next_stitch_at = 0",
                &[s(r)],
            )
            .await;
        }
    }

    pub(crate) async fn stitch(&self) -> greenroom_plugin_catalog_backend::stitching::StitchStats {
        self.engine
            .stitch_pending_until_idle()
            .await
            .unwrap_or_else(|e| panic!("{}: stitch failed: {e}", self.name()))
    }

    /// The final entity of `entity_ref`, parsed.
    pub(crate) async fn final_entity(&self, entity_ref: &str) -> Option<Value> {
        let rows = strings(
            self.db(),
            "SELECT final_entity FROM final_entities WHERE entity_ref = $1",
            &[s(entity_ref)],
        )
        .await;
        rows.first()
            .map(|t| serde_json::from_str(t).unwrap_or(Value::Null))
    }

    /// Every final entity by ref, as stored text.
    pub(crate) async fn all_finals(&self) -> BTreeMap<String, String> {
        all_finals(self.db()).await
    }

    /// `(seq, ref, op)` of the whole change log.
    pub(crate) async fn change_log(&self) -> Vec<(i64, String, String)> {
        both!(self.db(), |pool| sqlx::query_as(
            "SELECT seq, entity_ref, op FROM change_log ORDER BY seq"
        )
        .fetch_all(pool)
        .await)
        .unwrap_or_else(|e| panic!("change log: {e}"))
    }

    pub(crate) async fn log_count(&self, entity_ref: &str) -> usize {
        self.change_log()
            .await
            .iter()
            .filter(|(_, r, _)| r == entity_ref)
            .count()
    }

    pub(crate) async fn queue_len(&self) -> i64 {
        count(self.db(), "SELECT COUNT(*) FROM stitch_queue").await
    }
}

pub(crate) async fn exec(db: &Database, sql: &str, params: &[P]) {
    both!(db, |pool| bind_all!(
        sqlx::query(AssertSqlSafe(sql.to_owned())),
        params
    )
    .execute(pool)
    .await
    .map(drop))
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

pub(crate) async fn strings(db: &Database, sql: &str, params: &[P]) -> Vec<String> {
    let rows: Vec<(String,)> = both!(db, |pool| bind_all!(
        sqlx::query_as(AssertSqlSafe(sql.to_owned())),
        params
    )
    .fetch_all(pool)
    .await)
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.into_iter().map(|(v,)| v).collect()
}

pub(crate) async fn count(db: &Database, sql: &str) -> i64 {
    let row: (i64,) = both!(db, |pool| sqlx::query_as(AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool)
        .await)
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
    row.0
}

pub(crate) async fn all_finals(db: &Database) -> BTreeMap<String, String> {
    let rows: Vec<(String, String)> = both!(db, |pool| sqlx::query_as(
        "SELECT entity_ref, final_entity FROM final_entities"
    )
    .fetch_all(pool)
    .await)
    .unwrap_or_else(|e| panic!("finals: {e}"));
    rows.into_iter().collect()
}

/// A minimal processed entity of `kind` named `name` with `extra` merged into `spec`.
pub(crate) fn entity(kind: &str, name: &str, uid: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "default", "uid": uid},
        "spec": spec,
    })
}

/// The ref of the entity in a final entity's JSON text.
pub(crate) fn ref_of(text: &str) -> String {
    let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    format!(
        "{}:{}/{}",
        v["kind"].as_str().unwrap_or("").to_lowercase(),
        v["metadata"]["namespace"].as_str().unwrap_or(""),
        v["metadata"]["name"].as_str().unwrap_or("")
    )
}

/// Rebuilds the set of final entities from a snapshot plus the change feed,
/// as an in-memory index does, reading `page` changes at a time.
pub(crate) async fn replay(
    engine: &CatalogEngine,
    seq: i64,
    snapshot: Vec<String>,
    page: usize,
) -> (i64, BTreeMap<String, String>) {
    let mut state: BTreeMap<String, String> =
        snapshot.into_iter().map(|t| (ref_of(&t), t)).collect();
    let mut seq = seq;
    loop {
        let changes = engine
            .changes_since(seq, page)
            .await
            .unwrap_or_else(|e| panic!("changes_since: {e}"));
        let Some(last) = changes.last() else {
            return (seq, state);
        };
        let mut previous = seq;
        for change in &changes {
            assert!(
                change.seq > previous,
                "seqs increase: {} after {previous}",
                change.seq
            );
            previous = change.seq;
        }
        seq = last.seq;
        for change in changes {
            match change.final_entity {
                Some(text) => state.insert(change.entity_ref, text),
                None => state.remove(&change.entity_ref),
            };
        }
    }
}
