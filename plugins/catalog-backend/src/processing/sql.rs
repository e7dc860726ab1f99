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
        text_rows(&rows, columns)
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
        text_rows(&rows, columns)
    })?;
    Ok(rows)
}

/// The first `columns` columns of every row, as text that may be null.
fn text_rows<R: Row>(rows: &[R], columns: usize) -> Result<Vec<Vec<Option<String>>>, sqlx::Error>
where
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    rows.iter()
        .map(|row| {
            (0..columns)
                .map(|i| row.try_get::<Option<String>, _>(i))
                .collect()
        })
        .collect()
}

/// Takes column `i` of a fetched row as a string (empty when null).
pub(crate) fn col(row: &[Option<String>], i: usize) -> String {
    row.get(i).cloned().flatten().unwrap_or_default()
}

/// Takes column `i` of a fetched row, keeping null.
pub(crate) fn opt(row: &[Option<String>], i: usize) -> Option<String> {
    row.get(i).cloned().flatten()
}

/// The statement and arguments of each chunk of `values`: `sql` with its `{}`
/// replaced by the chunk's placeholders, numbered after `prefix`, which is
/// bound first.
fn chunk_statements<'a>(
    sql: &'a str,
    prefix: &'a [Arg],
    values: &'a [String],
) -> impl Iterator<Item = (String, Vec<Arg>)> + 'a {
    values.chunks(CHUNK).map(move |chunk| {
        let statement = sql.replacen("{}", &list(prefix.len() + 1, chunk.len()), 1);
        let mut args = prefix.to_vec();
        args.extend(chunk.iter().map(Arg::from));
        (statement, args)
    })
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
    for (statement, args) in chunk_statements(sql, prefix, values) {
        out.extend(fetch(tx, statement, args, columns).await?);
    }
    Ok(out)
}

/// [`fetch_in`] on the pool, outside any transaction: for reads that need no
/// write lock (a SQLite transaction here takes the database's only one).
pub(crate) async fn fetch_in_pool(
    db: &Database,
    sql: &str,
    prefix: &[Arg],
    values: &[String],
    columns: usize,
) -> Result<Vec<Vec<Option<String>>>, BackendError> {
    let mut out = Vec::new();
    for (statement, args) in chunk_statements(sql, prefix, values) {
        out.extend(fetch_pool(db, statement, args, columns).await?);
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
    for (statement, args) in chunk_statements(sql, prefix, values) {
        affected += exec(tx, statement, args).await?;
    }
    Ok(affected)
}

/// Inserts rows of `cols` values each with multi-row `VALUES`, in chunks;
/// `sql` is the statement up to and including `VALUES `, `suffix` follows the tuples.
/// On PostgreSQL an insert without a suffix (no conflict clause) is sent as one
/// `COPY` instead (see [`copy_rows`]).
pub(crate) async fn insert_rows(
    tx: &mut Tx,
    sql: &str,
    suffix: &str,
    cols: usize,
    rows: Vec<Vec<Arg>>,
) -> Result<(), BackendError> {
    if suffix.is_empty()
        && let Tx::Postgres(conn) = tx
    {
        return copy_rows(conn, sql, rows).await;
    }
    let per_chunk = (CHUNK * 4 / cols.max(1)).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Arg>> = rows.by_ref().take(per_chunk).collect();
        let statement = format!("{sql}{} {suffix}", tuples(1, chunk.len(), cols));
        exec(tx, statement, chunk.into_iter().flatten().collect()).await?;
    }
    Ok(())
}

/// Bytes of COPY data sent to the server at a time.
const COPY_SEND: usize = 256 * 1024;

/// A plain multi-row insert (`INSERT INTO t (a, b) VALUES `) done with
/// PostgreSQL's `COPY … FROM STDIN` instead: the server parses no statement and
/// binds no parameters, which made the relation rows of a bulk load its most
/// expensive statement. Only inserts without a conflict clause come here,
/// since `COPY` has none.
async fn copy_rows(
    conn: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    insert: &str,
    rows: Vec<Vec<Arg>>,
) -> Result<(), BackendError> {
    if rows.is_empty() {
        return Ok(());
    }
    let target = copy_target(insert)
        .ok_or_else(|| BackendError::internal(format!("not a plain insert statement: {insert}")))?;
    let mut copy = conn
        .copy_in_raw(&format!("COPY {target} FROM STDIN"))
        .await?;
    let mut buf = Vec::with_capacity(COPY_SEND + 4096);
    for row in &rows {
        copy_line(row, &mut buf);
        if buf.len() >= COPY_SEND {
            copy.send(std::mem::take(&mut buf)).await?;
            buf.reserve(COPY_SEND + 4096);
        }
    }
    if !buf.is_empty() {
        copy.send(buf).await?;
    }
    copy.finish().await?;
    Ok(())
}

/// `t (a, b)` from `INSERT INTO t (a, b) VALUES `.
fn copy_target(insert: &str) -> Option<&str> {
    let rest = insert.trim().strip_prefix("INSERT INTO ")?;
    Some(rest.strip_suffix("VALUES")?.trim())
}

/// One row in COPY's text format: tab-separated, `\N` for null, and the
/// format's escapes for backslash, tab, newline and carriage return.
fn copy_line(row: &[Arg], buf: &mut Vec<u8>) {
    for (i, arg) in row.iter().enumerate() {
        if i > 0 {
            buf.push(b'\t');
        }
        match arg {
            Arg::Text(text) | Arg::OptText(Some(text)) => copy_escape(text, buf),
            Arg::OptText(None) => buf.extend_from_slice(b"\\N"),
            Arg::Int(n) => buf.extend_from_slice(n.to_string().as_bytes()),
        }
    }
    buf.push(b'\n');
}

fn copy_escape(text: &str, buf: &mut Vec<u8>) {
    for &b in text.as_bytes() {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            _ => buf.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Arg, copy_line, copy_target, insert_rows, list, tuples};
    use crate::db::{Tx, migrate, on_pool};
    use greenroom_backend_test_utils::database::TestDatabases;
    use sqlx::Row;

    #[test]
    fn copy_lines_escape_what_the_text_format_reserves() {
        let mut buf = Vec::new();
        copy_line(
            &[
                Arg::Text("a\tb\\c\nd\re".to_owned()),
                Arg::OptText(None),
                Arg::Int(-42),
                Arg::OptText(Some("é".to_owned())),
            ],
            &mut buf,
        );
        assert_eq!(buf, "a\\tb\\\\c\\nd\\re\t\\N\t-42\té\n".as_bytes());
        assert_eq!(
            copy_target("INSERT INTO relations (a, b) VALUES "),
            Some("relations (a, b)")
        );
        assert_eq!(copy_target("UPDATE relations SET a = 1"), None);
    }

    /// Plain inserts go through `COPY` on PostgreSQL and a multi-row `VALUES`
    /// on SQLite; both must store exactly what was given, in more rows than
    /// one chunk or one send holds.
    #[tokio::test]
    async fn plain_inserts_store_every_row_as_given() {
        for kind in TestDatabases::all() {
            let test = TestDatabases::init(kind).await;
            let db = test.database();
            migrate(db).await.expect("migrate");
            let awkward = "tab\there, line\nbreak, back\\slash, cr\r, quote' \"é\"";
            let rows: Vec<Vec<Arg>> = (0..5000)
                .map(|i| {
                    vec![
                        Arg::Text(format!("id-{i}")),
                        Arg::Text(format!("component:default/c{i} {awkward}")),
                        Arg::Text("ownedBy".to_owned()),
                        Arg::Text(format!("group:default/g{}", i % 7)),
                    ]
                })
                .collect();
            let mut tx = Tx::begin(db).await.expect("begin");
            insert_rows(
                &mut tx,
                "INSERT INTO relations (originating_entity_id, source_entity_ref, type, target_entity_ref) VALUES ",
                "",
                4,
                rows,
            )
            .await
            .expect("insert");
            // A null goes in as SQL NULL, not as text.
            insert_rows(
                &mut tx,
                "INSERT INTO refresh_state_references (source_key, source_entity_ref, target_entity_ref) VALUES ",
                "",
                3,
                vec![vec![
                    Arg::OptText(Some("provider".to_owned())),
                    Arg::OptText(None),
                    Arg::Text("component:default/c1".to_owned()),
                ]],
            )
            .await
            .expect("insert reference");
            tx.commit().await.expect("commit");

            let stored = on_pool!(db, |pool| {
                sqlx::query(
                "SELECT originating_entity_id, source_entity_ref, target_entity_ref FROM relations"
            )
            .fetch_all(pool)
            .await
            .expect("read")
            .iter()
            .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1), r.get::<String, _>(2)))
            .collect::<Vec<_>>()
            });
            assert_eq!(stored.len(), 5000, "{}", kind.name());
            let nulls: i64 = on_pool!(db, |pool| sqlx::query(
                "SELECT COUNT(*) FROM refresh_state_references \
                 WHERE source_key = 'provider' AND source_entity_ref IS NULL"
            )
            .fetch_one(pool)
            .await
            .expect("count")
            .get(0));
            assert_eq!(nulls, 1, "{}", kind.name());
            for (id, source, target) in stored {
                let i: usize = id
                    .strip_prefix("id-")
                    .and_then(|n| n.parse().ok())
                    .expect("id");
                assert_eq!(
                    source,
                    format!("component:default/c{i} {awkward}"),
                    "{}",
                    kind.name()
                );
                assert_eq!(
                    target,
                    format!("group:default/g{}", i % 7),
                    "{}",
                    kind.name()
                );
            }
        }
    }

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
