//! Small helpers for building set-based SQL: placeholder lists and chunking
//! under the bind-parameter limits of SQLite (32766) and PostgreSQL (65535).

use greenroom_backend_plugin_api::BackendError;
use sqlx::AssertSqlSafe;

use crate::db::{Tx, on_tx};

/// Refs per `IN (...)` list: far below either database's bind limit.
pub(crate) const IN_CHUNK: usize = 2000;

/// `$start, $start+1, …` for `count` parameters.
pub(crate) fn placeholders(start: usize, count: usize) -> String {
    crate::processing::sql::list(start, count)
}

/// `($1, $2, …), ($n+1, …), …`: `rows` tuples of `width` parameters each.
pub(crate) fn value_tuples(rows: usize, width: usize) -> String {
    crate::processing::sql::tuples(1, rows, width)
}

/// Runs `template` (whose `{list}` becomes `$1, …, $n`) once per chunk of
/// `values` inside `tx`, collecting `(String, String)` rows.
pub(crate) async fn tx_pairs(
    tx: &mut Tx,
    template: &str,
    values: &[String],
) -> Result<Vec<(String, String)>, BackendError> {
    let mut out = Vec::new();
    for chunk in values.chunks(IN_CHUNK) {
        let sql = template.replace("{list}", &placeholders(1, chunk.len()));
        let rows: Vec<(String, String)> = on_tx!(tx, |conn| {
            let mut q = sqlx::query_as(AssertSqlSafe(crate::db::adapt(&conn, sql)));
            for v in chunk {
                q = q.bind(v);
            }
            q.fetch_all(conn).await
        })?;
        out.extend(rows);
    }
    Ok(out)
}

/// Like [`tx_pairs`], for one-column rows.
pub(crate) async fn tx_singles(
    tx: &mut Tx,
    template: &str,
    values: &[String],
) -> Result<Vec<String>, BackendError> {
    let mut out = Vec::new();
    for chunk in values.chunks(IN_CHUNK) {
        let sql = template.replace("{list}", &placeholders(1, chunk.len()));
        let rows: Vec<(String,)> = on_tx!(tx, |conn| {
            let mut q = sqlx::query_as(AssertSqlSafe(crate::db::adapt(&conn, sql)));
            for v in chunk {
                q = q.bind(v);
            }
            q.fetch_all(conn).await
        })?;
        out.extend(rows.into_iter().map(|(v,)| v));
    }
    Ok(out)
}

/// Like [`tx_pairs`], for statements without rows; returns the rows affected.
pub(crate) async fn tx_exec(
    tx: &mut Tx,
    template: &str,
    values: &[String],
) -> Result<u64, BackendError> {
    let mut affected = 0;
    for chunk in values.chunks(IN_CHUNK) {
        let sql = template.replace("{list}", &placeholders(1, chunk.len()));
        affected += on_tx!(tx, |conn| {
            let mut q = sqlx::query(AssertSqlSafe(crate::db::adapt(&conn, sql)));
            for v in chunk {
                q = q.bind(v);
            }
            q.execute(conn).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_lists() {
        assert_eq!(placeholders(3, 3), "$3, $4, $5");
        assert_eq!(placeholders(1, 0), "");
        assert_eq!(value_tuples(2, 2), "($1, $2), ($3, $4)");
    }
}
