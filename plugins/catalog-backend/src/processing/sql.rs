//! Small helpers for the dynamic statements of processing: bind lists, numbered
//! placeholders for multi-row `VALUES` and `IN` lists, and reading text columns,
//! all the same on SQLite and PostgreSQL.

use greenroom_backend_plugin_api::BackendError;
use greenroom_backend_plugin_api::services::Database;
use sqlx::{AssertSqlSafe, Row};

use crate::db::{Tx, on_pool, on_tx};

/// Values per chunk for `IN` lists, and a quarter of the values per chunk of a
/// multi-row insert: at most 8,000 bind values, below SQLite's 32766 and
/// PostgreSQL's 65535 limits. Each statement is a round trip to the
/// database's thread or server, so a processing batch of 2,000 entities
/// (some 15,000 relation rows) is written in few of them.
pub(crate) const CHUNK: usize = 2000;

/// One bound value.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(String),
    OptText(Option<String>),
    Int(i64),
}

impl From<&str> for Arg {
    fn from(s: &str) -> Self {
        Arg::Text(s.to_owned())
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Self {
        Arg::Text(s)
    }
}

impl From<&String> for Arg {
    fn from(s: &String) -> Self {
        Arg::Text(s.clone())
    }
}

impl From<Option<String>> for Arg {
    fn from(s: Option<String>) -> Self {
        Arg::OptText(s)
    }
}

impl From<i64> for Arg {
    fn from(i: i64) -> Self {
        Arg::Int(i)
    }
}

/// `$start, $start+1, ...` for an `IN (...)` list of `n` values.
pub(crate) fn list(start: usize, n: usize) -> String {
    let mut out = String::with_capacity(n * 8);
    push_list(&mut out, start, n);
    out
}

/// `($1, $2), ($3, $4), ...` for `rows` tuples of `cols` values.
pub(crate) fn tuples(start: usize, rows: usize, cols: usize) -> String {
    // Written into one buffer: a bulk load builds these for some 20,000 rows a
    // batch, and a string per placeholder and per tuple made them 3 % of the
    // load's CPU.
    let mut out = String::with_capacity(rows * (cols * 8 + 4));
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        push_list(&mut out, start + r * cols, cols);
        out.push(')');
    }
    out
}

fn push_list(out: &mut String, start: usize, n: usize) {
    for i in 0..n {
        if i > 0 {
            out.push_str(", ");
        }
        out.push('$');
        push_decimal(out, start + i);
    }
}

/// Appends `n` in decimal without going through `fmt`.
fn push_decimal(out: &mut String, n: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        // `rest % 10` is below 10, so the cast cannot truncate.
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for &d in &digits[at..] {
        out.push(char::from(d));
    }
}

macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Arg::Text(s) => query.bind(s),
                Arg::OptText(s) => query.bind(s),
                Arg::Int(i) => query.bind(i),
            };
        }
        query
    }};
}

/// Runs a statement in the transaction; returns the rows affected.
pub(crate) async fn exec(tx: &mut Tx, sql: String, args: Vec<Arg>) -> Result<u64, BackendError> {
    let affected = on_tx!(tx, |conn| bind_args!(
        sqlx::query(AssertSqlSafe(crate::db::adapt(&conn, sql))),
        args
    )
    .execute(conn)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(affected)
}

/// Runs a query in the transaction and reads `columns` text columns of every row.
pub(crate) async fn fetch(
    tx: &mut Tx,
    sql: String,
    args: Vec<Arg>,
    columns: usize,
) -> Result<Vec<Vec<Option<String>>>, BackendError> {
    let rows = on_tx!(tx, |conn| {
        let rows = bind_args!(
            sqlx::query(AssertSqlSafe(crate::db::adapt(&conn, sql))),
            args
        )
        .fetch_all(conn)
        .await?;
        rows.iter()
            .map(|row| {
                (0..columns)
                    .map(|i| row.try_get::<Option<String>, _>(i))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
    })?;
    Ok(rows)
}

/// [`exec`] on the pool, outside any transaction.
pub(crate) async fn exec_pool(
    db: &Database,
    sql: String,
    args: Vec<Arg>,
) -> Result<u64, BackendError> {
    let affected = on_pool!(db, |pool| bind_args!(
        sqlx::query(AssertSqlSafe(crate::db::adapt(&pool, sql))),
        args
    )
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(affected)
}

/// [`fetch`] on the pool, outside any transaction.
pub(crate) async fn fetch_pool(
    db: &Database,
    sql: String,
    args: Vec<Arg>,
    columns: usize,
) -> Result<Vec<Vec<Option<String>>>, BackendError> {
    let rows = on_pool!(db, |pool| {
        let rows = bind_args!(
            sqlx::query(AssertSqlSafe(crate::db::adapt(&pool, sql))),
            args
        )
        .fetch_all(pool)
        .await?;
        rows.iter()
            .map(|row| {
                (0..columns)
                    .map(|i| row.try_get::<Option<String>, _>(i))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
    })?;
    Ok(rows)
}

/// Takes column `i` of a fetched row as a string (empty when null).
pub(crate) fn col(row: &[Option<String>], i: usize) -> String {
    row.get(i).cloned().flatten().unwrap_or_default()
}

/// Takes column `i` of a fetched row, keeping null.
pub(crate) fn opt(row: &[Option<String>], i: usize) -> Option<String> {
    row.get(i).cloned().flatten()
}

/// Runs `SELECT <cols> ... WHERE <column> IN (<values>)` in chunks, `sql` holding
/// `{}` where the `IN` list goes; `prefix` args are bound before the list.
pub(crate) async fn fetch_in(
    tx: &mut Tx,
    sql: &str,
    prefix: &[Arg],
    values: &[String],
    columns: usize,
) -> Result<Vec<Vec<Option<String>>>, BackendError> {
    let mut out = Vec::new();
    for chunk in values.chunks(CHUNK) {
        let statement = sql.replacen("{}", &list(prefix.len() + 1, chunk.len()), 1);
        let mut args = prefix.to_vec();
        args.extend(chunk.iter().map(Arg::from));
        out.extend(fetch(tx, statement, args, columns).await?);
    }
    Ok(out)
}

/// Runs a statement with an `IN (<values>)` list in chunks (see [`fetch_in`]).
pub(crate) async fn exec_in(
    tx: &mut Tx,
    sql: &str,
    prefix: &[Arg],
    values: &[String],
) -> Result<u64, BackendError> {
    let mut affected = 0;
    for chunk in values.chunks(CHUNK) {
        let statement = sql.replacen("{}", &list(prefix.len() + 1, chunk.len()), 1);
        let mut args = prefix.to_vec();
        args.extend(chunk.iter().map(Arg::from));
        affected += exec(tx, statement, args).await?;
    }
    Ok(affected)
}

/// Inserts rows of `cols` values each with multi-row `VALUES`, in chunks;
/// `sql` is the statement up to and including `VALUES `, `suffix` follows the tuples.
pub(crate) async fn insert_rows(
    tx: &mut Tx,
    sql: &str,
    suffix: &str,
    cols: usize,
    rows: Vec<Vec<Arg>>,
) -> Result<(), BackendError> {
    let per_chunk = (CHUNK * 4 / cols.max(1)).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Arg>> = rows.by_ref().take(per_chunk).collect();
        let statement = format!("{sql}{} {suffix}", tuples(1, chunk.len(), cols));
        exec(tx, statement, chunk.into_iter().flatten().collect()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{list, tuples};

    #[test]
    fn placeholders_are_numbered_from_start() {
        assert_eq!(list(1, 0), "");
        assert_eq!(list(9, 3), "$9, $10, $11");
        assert_eq!(tuples(1, 2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(tuples(99, 1, 2), "($99, $100)");
        let many = list(1, 2000);
        assert!(many.starts_with("$1, $2, "));
        assert!(many.ends_with(", $1999, $2000"));
        assert_eq!(many.matches('$').count(), 2000);
    }
}
