//! Small helpers for building set-based SQL: placeholder lists and chunking
//! under the bind-parameter limits of SQLite (32766) and PostgreSQL (65535),
//! in the shapes stitching reads; the chunked statements themselves are
//! `processing::sql`'s.

use greenroom_backend_plugin_api::BackendError;

use crate::db::Tx;
use crate::processing::sql::{col, exec_in, fetch_in};

/// Refs per `IN (...)` list: far below either database's bind limit (the
/// chunk the processing helpers use too).
pub(crate) const IN_CHUNK: usize = crate::processing::sql::CHUNK;

/// `$start, $start+1, …` for `count` parameters.
pub(crate) fn placeholders(start: usize, count: usize) -> String {
    crate::processing::sql::list(start, count)
}

/// `($1, $2, …), ($n+1, …), …`: `rows` tuples of `width` parameters each.
pub(crate) fn value_tuples(rows: usize, width: usize) -> String {
    crate::processing::sql::tuples(1, rows, width)
}

/// Runs `template` (whose `{}` becomes the `IN` list) once per chunk of
/// `values` inside `tx`, collecting two-column rows.
pub(crate) async fn tx_pairs(
    tx: &mut Tx,
    template: &str,
    values: &[String],
) -> Result<Vec<(String, String)>, BackendError> {
    Ok(fetch_in(tx, template, &[], values, 2)
        .await?
        .iter()
        .map(|row| (col(row, 0), col(row, 1)))
        .collect())
}

/// Like [`tx_pairs`], for one-column rows.
pub(crate) async fn tx_singles(
    tx: &mut Tx,
    template: &str,
    values: &[String],
) -> Result<Vec<String>, BackendError> {
    Ok(fetch_in(tx, template, &[], values, 1)
        .await?
        .iter()
        .map(|row| col(row, 0))
        .collect())
}

/// Like [`tx_pairs`], for statements without rows; returns the rows affected.
pub(crate) async fn tx_exec(
    tx: &mut Tx,
    template: &str,
    values: &[String],
) -> Result<u64, BackendError> {
    exec_in(tx, template, &[], values).await
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
