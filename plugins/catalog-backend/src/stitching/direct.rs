//! Reads of final entities straight from the database, for the API routes that
//! answer while this instance's in-memory index is still loading.

use greenroom_backend_plugin_api::BackendError;
use greenroom_backend_plugin_api::services::Database;
use sqlx::AssertSqlSafe;

use super::sql::{IN_CHUNK, placeholders};
use crate::db::{adapt, on_pool};
use crate::engine::CatalogEngine;

/// `WHERE` text restricting `final_entities` to `kinds` (lower-case), with its
/// parameters numbered from `$first`, and the values to bind; empty for all kinds.
///
/// A kind is matched as the range of refs that start with `kind:` (`;` is the
/// byte after `:`), which both databases answer from the `entity_ref` index:
/// SQLite compares text by bytes, and PostgreSQL's column uses the "C" collation.
fn kind_ranges(kinds: Option<&[String]>, first: usize) -> (String, Vec<String>) {
    let Some(kinds) = kinds else {
        return (String::new(), Vec::new());
    };
    let mut clauses = Vec::with_capacity(kinds.len());
    let mut binds = Vec::with_capacity(kinds.len() * 2);
    for (i, kind) in kinds.iter().enumerate() {
        let n = first + 2 * i;
        clauses.push(format!("(entity_ref >= ${n} AND entity_ref < ${})", n + 1));
        binds.push(format!("{kind}:"));
        binds.push(format!("{kind};"));
    }
    (format!(" WHERE {}", clauses.join(" OR ")), binds)
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl CatalogEngine {
    /// How many final entities there are, only of `kinds` (lower-case) when given.
    pub async fn count_final_entities(
        &self,
        kinds: Option<&[String]>,
    ) -> Result<u64, BackendError> {
        let (condition, binds) = kind_ranges(kinds, 1);
        let sql = format!("SELECT COUNT(*) FROM final_entities{condition}");
        let (count,): (i64,) = on_pool!(&self.db, |pool| {
            let mut q = sqlx::query_as(AssertSqlSafe(adapt(&pool, sql)));
            for b in &binds {
                q = q.bind(b);
            }
            q.fetch_one(pool).await
        })?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Final entity texts in uid order (by bytes, as the index orders uids),
    /// only of `kinds` when given, skipping `offset` and returning at most `limit`.
    pub async fn final_entities_in_uid_order(
        &self,
        kinds: Option<&[String]>,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<String>, BackendError> {
        let (condition, binds) = kind_ranges(kinds, 1);
        let order = match &self.db {
            Database::Postgres(_) => "entity_id COLLATE \"C\"",
            Database::Sqlite(_) => "entity_id",
        };
        let n = binds.len() + 1;
        let sql = format!(
            "SELECT final_entity FROM final_entities{condition} ORDER BY {order} LIMIT ${n} OFFSET ${}",
            n + 1
        );
        let rows: Vec<(String,)> = on_pool!(&self.db, |pool| {
            let mut q = sqlx::query_as(AssertSqlSafe(adapt(&pool, sql)));
            for b in &binds {
                q = q.bind(b);
            }
            q.bind(to_i64(limit))
                .bind(to_i64(offset))
                .fetch_all(pool)
                .await
        })?;
        Ok(rows.into_iter().map(|(text,)| text).collect())
    }

    /// The texts of the final entities with these canonical refs, those that
    /// exist, in no particular order.
    pub async fn final_entities_by_ref(
        &self,
        refs: &[String],
    ) -> Result<Vec<String>, BackendError> {
        let mut out = Vec::with_capacity(refs.len());
        for chunk in refs.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT final_entity FROM final_entities WHERE entity_ref IN ({})",
                placeholders(1, chunk.len())
            );
            let rows: Vec<(String,)> = on_pool!(&self.db, |pool| {
                let mut q = sqlx::query_as(AssertSqlSafe(adapt(&pool, sql)));
                for r in chunk {
                    q = q.bind(r);
                }
                q.fetch_all(pool).await
            })?;
            out.extend(rows.into_iter().map(|(text,)| text));
        }
        Ok(out)
    }

    /// The text of the final entity with this uid, if there is one.
    pub async fn final_entity_by_uid(&self, uid: &str) -> Result<Option<String>, BackendError> {
        let row: Option<(String,)> = on_pool!(&self.db, |pool| sqlx::query_as(
            "SELECT final_entity FROM final_entities WHERE entity_id = $1"
        )
        .bind(uid)
        .fetch_optional(pool)
        .await)?;
        Ok(row.map(|(text,)| text))
    }
}
