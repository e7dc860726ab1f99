//! The catalog's database: its migrations, one code path for SQLite and
//! PostgreSQL (through the [`on_pool!`] and [`on_tx!`] macros, which expand the
//! same statement for each dialect), hashing, and the two writes every part of the
//! engine shares: the stitch queue and the change log.

use greenroom_backend_database::{Migration, run_migrations};
use greenroom_backend_plugin_api::BackendError;
use greenroom_backend_plugin_api::services::Database;
use serde_json::Value;
use sha1::Digest as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The catalog's migrations, recorded in its own table.
pub(crate) const MIGRATIONS_TABLE: &str = "catalog_migrations";
const MIGRATIONS: &[Migration] = &[
    Migration::new(
        1,
        "catalog tables",
        include_str!("../migrations/0001_catalog.postgres.sql"),
    )
    .with_sqlite(include_str!("../migrations/0001_catalog.sqlite.sql")),
    Migration::new(
        2,
        "location presence",
        include_str!("../migrations/0002_location_presence.sql"),
    ),
    Migration::new(
        3,
        "no relations target index",
        include_str!("../migrations/0003_relations_target_index.sql"),
    ),
    // PostgreSQL gets its covering index in migration 5.
    Migration::new(4, "covering relations source index", "SELECT 1").with_sqlite(include_str!(
        "../migrations/0004_relations_source_covering.sqlite.sql"
    )),
    // SQLite compares text by its bytes already.
    Migration::new(
        5,
        "byte-order entity refs, a covering relations source index, no relations foreign key",
        include_str!("../migrations/0005_cheaper_writes.postgres.sql"),
    )
    .with_sqlite("SELECT 1"),
    // PostgreSQL dropped the key in migration 5.
    Migration::new(6, "no relations foreign key", "SELECT 1").with_sqlite(include_str!(
        "../migrations/0006_relations_without_foreign_key.sqlite.sql"
    )),
];

/// Applies the catalog's migrations, and puts back the relations index a bulk
/// load set aside if the process stopped before the load ended.
pub(crate) async fn migrate(db: &Database) -> Result<(), BackendError> {
    run_migrations(db, MIGRATIONS_TABLE, MIGRATIONS).await?;
    ensure_relation_index(db).await
}

/// The index on `relations.source_entity_ref`, which only stitching reads. (The
/// definition of migration 4 on SQLite and of migration 5 on PostgreSQL.)
const RELATION_SOURCE_INDEX: &str = "CREATE INDEX IF NOT EXISTS relations_source_entity_ref \
     ON relations (source_entity_ref, type, target_entity_ref)";

/// One row when the relations source index exists, on PostgreSQL.
const PG_SOURCE_INDEX_PRESENT: &str =
    "SELECT 1 FROM pg_class WHERE oid = to_regclass('relations_source_entity_ref')";

/// The advisory lock PostgreSQL instances take to build the relations source
/// index: two `CREATE INDEX IF NOT EXISTS` at once both pass the check, and the
/// second fails on the catalog's unique name.
const RELATION_INDEX_LOCK: i64 = 0x6772_6e72_6d69_6478; // "grnrmidx"

/// How long a PostgreSQL transaction waits for the exclusive lock that dropping
/// the index takes before it gives up and keeps the index (another instance is
/// reading or writing relations then).
const DROP_INDEX_LOCK_TIMEOUT: &str = "SET LOCAL lock_timeout = '1s'";

/// Sets the relations source index aside for a bulk load of new entities;
/// returns whether it did.
///
/// Each relation row lands on a random page of that index (sources are spread
/// over the whole key space), so at 100k entities every processing batch dirtied
/// thousands of index pages, and writing them out was most of each batch's
/// commit. Stitching is held back while a backlog is processed, so nothing needs
/// the index until the backlog ends; building it then, from sorted keys, costs
/// a fraction of keeping it up row by row. It is worth it only when the load is
/// large against what is already stored: the rows still due bring about six
/// relations each, maintained at roughly ten times the cost per row of a
/// rebuild, so the index goes when `due * 50` exceeds the relations stored.
///
/// On PostgreSQL, where a bulk load's relation rows cost the server about twice
/// as much with the index as without it (2.7 s against 1.0 s plus 0.5 s for
/// the build, for 600k rows), the index goes the same way, with two guards for
/// other instances on the same database: the drop waits at most
/// [`DROP_INDEX_LOCK_TIMEOUT`] for its lock, in a savepoint, and keeps the index
/// if it cannot have it; and an instance stitching meanwhile reads relations
/// without the index, which is slower but gives the same rows. There the call
/// also refreshes stale statistics (see [`analyze_edges_if_stale`]).
pub(crate) async fn defer_relation_index(tx: &mut Tx) -> Result<bool, BackendError> {
    defer_relation_index_with(tx, None).await
}

/// [`defer_relation_index`] for a load of `due` entities that are not queued
/// as due rows: new children processed in their parent's write (see
/// `processing::inline`).
pub(crate) async fn defer_relation_index_for(tx: &mut Tx, due: i64) -> Result<bool, BackendError> {
    defer_relation_index_with(tx, Some(due)).await
}

async fn defer_relation_index_with(tx: &mut Tx, due: Option<i64>) -> Result<bool, BackendError> {
    if let Tx::Postgres(conn) = tx {
        analyze_edges_if_stale(conn).await?;
    }
    let present_sql = if tx.is_postgres() {
        PG_SOURCE_INDEX_PRESENT
    } else {
        "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'relations_source_entity_ref'"
    };
    let present: Option<(i32,)> = on_tx!(tx, |conn| sqlx::query_as(present_sql)
        .fetch_optional(conn)
        .await)?;
    if present.is_none() {
        return Ok(false);
    }
    let due = match due {
        Some(due) => due,
        None => {
            let sql = "SELECT COUNT(*) FROM refresh_state WHERE next_update_at <= $1";
            let (due,): (i64,) = on_tx!(tx, |conn| sqlx::query_as(sql)
                .bind(now_ms())
                .fetch_one(conn)
                .await)?;
            due
        }
    };
    // Counted only up to the threshold: a small load into a large catalog
    // (where the index stays) reads as many rows as its own size, not the whole
    // table, each time a full batch asks.
    let threshold = due.saturating_mul(50);
    let sql = "SELECT COUNT(*) FROM (SELECT 1 FROM relations LIMIT $1) AS r";
    let (stored,): (i64,) = on_tx!(tx, |conn| sqlx::query_as(sql)
        .bind(threshold.saturating_add(1))
        .fetch_one(conn)
        .await)?;
    if threshold < stored {
        return Ok(false);
    }
    match tx {
        Tx::Sqlite(conn) => {
            sqlx::query("DROP INDEX relations_source_entity_ref")
                .execute(&mut **conn)
                .await?;
            Ok(true)
        }
        Tx::Postgres(conn) => {
            // In a savepoint, so that a lock timeout leaves the transaction
            // usable; the timeout is set back once the drop is through.
            sqlx::query("SAVEPOINT defer_relation_index")
                .execute(&mut **conn)
                .await?;
            let dropped = async {
                sqlx::query(DROP_INDEX_LOCK_TIMEOUT)
                    .execute(&mut **conn)
                    .await?;
                sqlx::query("DROP INDEX IF EXISTS relations_source_entity_ref")
                    .execute(&mut **conn)
                    .await?;
                sqlx::query("SET LOCAL lock_timeout = DEFAULT")
                    .execute(&mut **conn)
                    .await
            }
            .await;
            match dropped {
                Ok(_) => {
                    sqlx::query("RELEASE SAVEPOINT defer_relation_index")
                        .execute(&mut **conn)
                        .await?;
                    Ok(true)
                }
                Err(_) => {
                    sqlx::query("ROLLBACK TO SAVEPOINT defer_relation_index")
                        .execute(&mut **conn)
                        .await?;
                    Ok(false)
                }
            }
        }
    }
}

/// Refreshes PostgreSQL's statistics of the ownership edges when more than half
/// of the table changed since they were taken, as at the start of a bulk load,
/// whose root just added every edge. Each processing batch looks up the parents
/// of its 2000 entities by target; planned from the statistics of a nearly empty
/// table, that read scanned all 100k edges (15 ms a batch) instead of the index
/// (8 ms). Autovacuum would get there too, but it may be off, and it comes
/// minutes later. Checked at the start of each full batch of new entities; it
/// analyses once per load.
async fn analyze_edges_if_stale(
    conn: &mut sqlx::Transaction<'static, sqlx::Postgres>,
) -> Result<(), BackendError> {
    let stale: Option<(bool,)> = sqlx::query_as(
        "SELECT n_mod_since_analyze > 1000 AND n_mod_since_analyze * 2 > n_live_tup \
         FROM pg_stat_user_tables WHERE relid = 'refresh_state_references'::regclass",
    )
    .fetch_optional(&mut **conn)
    .await?;
    if stale.is_some_and(|(stale,)| stale) {
        sqlx::query("ANALYZE refresh_state_references")
            .execute(&mut **conn)
            .await?;
    }
    Ok(())
}

/// Builds the relations source index again if a bulk load set it aside (a
/// no-op when it is there).
///
/// On PostgreSQL the relations table is vacuumed and analysed as well: the rows
/// a backlog added are on pages not yet marked all-visible, and until they are,
/// every relation a stitch reads through the covering index is fetched from the
/// table as well. The vacuum skips pages already marked, so after a small
/// backlog it is short.
pub(crate) async fn restore_relation_index(db: &Database) -> Result<(), BackendError> {
    ensure_relation_index(db).await?;
    if let Database::Postgres(pool) = db {
        sqlx::query("VACUUM (ANALYZE) relations")
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// Builds the relations source index if it is missing; on PostgreSQL under an
/// advisory lock, so that instances ending their loads together build it once.
pub(crate) async fn ensure_relation_index(db: &Database) -> Result<(), BackendError> {
    match db {
        Database::Sqlite(pool) => {
            sqlx::query(RELATION_SOURCE_INDEX).execute(pool).await?;
        }
        Database::Postgres(pool) => {
            let present: Option<(i32,)> = sqlx::query_as(PG_SOURCE_INDEX_PRESENT)
                .fetch_optional(pool)
                .await?;
            if present.is_some() {
                return Ok(());
            }
            let mut tx = pool.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(RELATION_INDEX_LOCK)
                .execute(&mut *tx)
                .await?;
            sqlx::query(RELATION_SOURCE_INDEX).execute(&mut *tx).await?;
            tx.commit().await?;
        }
    }
    Ok(())
}

/// Runs the same code on whichever pool the catalog was given: `$body` is
/// compiled once per dialect with `$pool` bound to that dialect's pool.
macro_rules! on_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            greenroom_backend_plugin_api::services::Database::Sqlite($pool) => $body,
            greenroom_backend_plugin_api::services::Database::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// A transaction on either dialect.
pub(crate) enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Runs the same code inside a transaction of either dialect: `$conn` is bound
/// to `&mut *transaction`, usable as an executor.
macro_rules! on_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx {
            crate::db::Tx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
            crate::db::Tx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}
pub(crate) use on_tx;

/// How every SQLite transaction of the catalog starts. The pragmas are per
/// connection and cheap to repeat, and must come before `BEGIN` (the sync level
/// cannot change inside a transaction); setting them here keeps them on every
/// pooled connection the catalog writes with, and those connections' later
/// reads keep the larger cache.
///
/// * `synchronous = NORMAL`: in WAL mode a commit no longer waits for the disk;
///   the database stays consistent, and a power cut can only lose the last
///   commits, which the catalog redoes from its sources anyway.
/// * `cache_size`: SQLite's default page cache is 2 MB, so at 100k entities
///   nearly every index lookup of a batch became a `pread` (a third of the
///   SQLite time in the profile). 16 MB holds the hot index pages of a batch;
///   the pages are only allocated as they are used, and [`Tx::commit`] gives
///   them back (see [`SQLITE_CACHE_AFTER_COMMIT`]).
///
/// * `wal_autocheckpoint = 0`: SQLite's own checkpoint runs inside the commit
///   that takes the log past a size, so the writer stalls while the log is
///   copied back into the database (100–150 ms every few batches of a bulk
///   load). The catalog checkpoints from another connection instead, on a
///   thread of its own, while the writer goes on (see [`limit_wal`]).
const SQLITE_BEGIN: &str = "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -16384; \
     PRAGMA wal_autocheckpoint = 0; BEGIN IMMEDIATE";

/// Set just before a SQLite commit: the connection's page cache goes back to
/// SQLite's default 2 MB, and the pages the transaction held beyond that are
/// freed as the commit releases them. The pool hands its connections out in
/// turn, so without this every one of them kept a full 16 MB cache for good:
/// in the 10-minute soak the RSS floor rose by ~20 MiB, step by step after each
/// periodic re-processing of the large root Location. The next transaction
/// reads the pages it needs again from the operating system's cache, a few
/// milliseconds against a batch's hundreds.
const SQLITE_CACHE_AFTER_COMMIT: &str = "PRAGMA cache_size = -2000";

impl Tx {
    /// Begins a transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so that two writers queue instead of failing with
    /// "database is locked" when the first upgrades from reading to writing.
    pub(crate) async fn begin(db: &Database) -> Result<Tx, BackendError> {
        Ok(match db {
            Database::Sqlite(pool) => Tx::Sqlite(pool.begin_with(SQLITE_BEGIN).await?),
            Database::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    pub(crate) async fn commit(self) -> Result<(), BackendError> {
        match self {
            Tx::Sqlite(mut tx) => {
                sqlx::query(SQLITE_CACHE_AFTER_COMMIT)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self, Tx::Postgres(_))
    }
}

/// The size past which the write-ahead log is truncated: 256 MiB.
const WAL_TRUNCATE_BYTES: u64 = 256 << 20;

/// How much the log may grow between two background checkpoints: 32 MiB, what
/// SQLite's automatic checkpoint was set to before (8192 pages). Checkpointing
/// more often copies pages that the next batches write again.
const WAL_PASSIVE_BYTES: u64 = 32 << 20;

/// The catalog's bookkeeping of its SQLite write-ahead log (see [`limit_wal`]).
#[derive(Debug, Default)]
pub(crate) struct WalState {
    /// The log's size when the last background checkpoint began.
    mark: AtomicU64,
    /// Whether a background checkpoint is running.
    running: Arc<AtomicBool>,
}

/// Keeps SQLite's write-ahead log copied back into the database and bounded.
/// Writers call this after each batch; it looks at the log file's size only,
/// which costs no statement.
///
/// * Each time the log has grown by [`WAL_PASSIVE_BYTES`], a passive checkpoint
///   runs on a pooled connection, which SQLite runs on a thread of its own: it
///   copies what the log holds into the database while the writer goes on, and
///   readers then look up only what was written after it. (The catalog's
///   transactions switch SQLite's automatic checkpoint off: it ran inside the
///   commit of whichever batch crossed the size, and the writer waited.)
/// * A passive checkpoint cannot start the log over: during an ingest some read
///   is always running (the stitcher plans its next batch while it writes the
///   current one, the index follower polls), and at 100k entities the file grew
///   to 1 GB. Past [`WAL_TRUNCATE_BYTES`] a `TRUNCATE` checkpoint waits for the
///   readers of the moment (milliseconds), copies what is left and empties the
///   file; it holds the write lock meanwhile, so the caller waits for it.
///
/// (Asking SQLite for the log's length is itself a checkpoint, and one after
/// every batch copied each batch's pages into the database again.) Does nothing
/// on PostgreSQL or in memory; a checkpoint that cannot finish is retried later.
pub(crate) async fn limit_wal(db: &Database, state: &WalState) {
    limit_wal_at(db, state, WAL_TRUNCATE_BYTES, WAL_PASSIVE_BYTES).await;
}

/// [`limit_wal`] with the sizes as parameters.
async fn limit_wal_at(db: &Database, state: &WalState, truncate: u64, passive: u64) {
    let Database::Sqlite(pool) = db else {
        return;
    };
    let mut wal = pool.connect_options().get_filename().as_os_str().to_owned();
    wal.push("-wal");
    let size = std::fs::metadata(&wal).map_or(0, |m| m.len());
    if size >= truncate {
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(pool)
            .await;
        state.mark.store(0, Ordering::Relaxed);
        return;
    }
    let mark = state.mark.load(Ordering::Relaxed);
    if size < mark {
        // Emptied since (by a truncation elsewhere, or a fresh file).
        state.mark.store(size, Ordering::Relaxed);
        return;
    }
    if size - mark < passive || state.running.swap(true, Ordering::AcqRel) {
        return;
    }
    state.mark.store(size, Ordering::Relaxed);
    let pool = pool.clone();
    let running = Arc::clone(&state.running);
    tokio::spawn(async move {
        // Failing is harmless: the next look starts another one.
        let _ = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await;
        running.store(false, Ordering::Release);
    });
}

/// Milliseconds since the Unix epoch: the unit of every time column.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// SHA-1 hex of the compact JSON of `value` with every object's keys sorted, as
/// Backstage hashes entities: the same content always gives the same hash,
/// whatever the order its keys were written in.
pub(crate) fn hash_json(value: &Value) -> String {
    HashSink::digest(|sink| write_sorted(value, sink))
}

/// [`hash_json`] of the object whose fields are `fields`, without building it:
/// the result hash of a processed entity covers the entity and its outputs,
/// and putting them in one `Value` copied the whole entity for every hash.
pub(crate) fn hash_json_object(fields: &mut [(&str, &Value)]) -> String {
    HashSink::digest(|sink| write_object(fields, sink))
}

/// The lower-case hex of a SHA-1 digest, as Backstage writes its hashes.
pub(crate) fn sha1_hex(sha: sha1::Sha1) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = sha.finalize();
    let mut out = String::with_capacity(digest.len() * 2);
    for byte in digest.iter() {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

/// Bytes gathered before they are fed to SHA-1: hashing in larger slices is
/// faster than feeding every token on its own.
const HASH_BUFFER: usize = 8192;

/// The compact, key-sorted JSON text of a value, written straight into the hash
/// (hashing every stored and stitched entity was a tenth of a bulk load's CPU
/// while the text was built in a `String` a token at a time).
struct HashSink {
    sha: sha1::Sha1,
    buf: Vec<u8>,
}

impl HashSink {
    /// The SHA-1 hex of what `write` pushes.
    fn digest(write: impl FnOnce(&mut HashSink)) -> String {
        let mut sink = HashSink {
            sha: sha1::Sha1::default(),
            buf: Vec::with_capacity(HASH_BUFFER),
        };
        write(&mut sink);
        sink.flush();
        sha1_hex(sink.sha)
    }

    fn push(&mut self, bytes: &[u8]) {
        if self.buf.len() + bytes.len() > HASH_BUFFER {
            self.flush();
        }
        if bytes.len() > HASH_BUFFER {
            self.sha.update(bytes);
        } else {
            self.buf.extend_from_slice(bytes);
        }
    }

    fn flush(&mut self) {
        self.sha.update(&self.buf);
        self.buf.clear();
    }

    /// A JSON string literal, escaped exactly as `serde_json` writes it.
    fn string(&mut self, s: &str) {
        if self.buf.len() + s.len() + 2 > HASH_BUFFER {
            self.flush();
        }
        // Writing into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut self.buf, s);
    }
}

/// An object of `entries`, its keys sorted, each value written sorted.
fn write_object(entries: &mut [(&str, &Value)], out: &mut HashSink) {
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.push(b"{");
    for (i, (key, value)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(b",");
        }
        out.string(key);
        out.push(b":");
        write_sorted(value, out);
    }
    out.push(b"}");
}

fn write_sorted(value: &Value, out: &mut HashSink) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&str, &Value)> =
                map.iter().map(|(k, v)| (k.as_str(), v)).collect();
            write_object(&mut entries, out);
        }
        Value::Array(items) => {
            out.push(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b",");
                }
                write_sorted(item, out);
            }
            out.push(b"]");
        }
        Value::String(s) => out.string(s),
        Value::Null => out.push(b"null"),
        Value::Bool(true) => out.push(b"true"),
        Value::Bool(false) => out.push(b"false"),
        Value::Number(n) => out.push(n.to_string().as_bytes()),
    }
}

/// What happened to a final entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeOp {
    Upsert,
    Delete,
}

impl ChangeOp {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Upsert => "upsert",
            Self::Delete => "delete",
        }
    }
}

/// One change-log entry to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChangeLogEntry {
    pub(crate) entity_ref: String,
    pub(crate) entity_id: Option<String>,
    pub(crate) op: ChangeOp,
    pub(crate) hash: Option<String>,
}

/// The advisory-lock key that orders change-log writers on PostgreSQL.
const CHANGE_LOG_LOCK: i64 = 0x6772_6565_6e72_6f6f; // "greenroo"

/// Appends entries to the change log, inside the caller's transaction.
///
/// On PostgreSQL sequence numbers are handed out at insert but become visible at
/// commit, so two concurrent writers could commit out of order and a follower
/// reading `seq > last` would skip one. A transaction-scoped advisory lock makes
/// writers of the change log take turns until they commit, so commit order is
/// sequence order. Take it last in a transaction, to hold it briefly. SQLite has
/// one writer at a time already.
pub(crate) async fn append_change_log(
    tx: &mut Tx,
    entries: &[ChangeLogEntry],
) -> Result<(), BackendError> {
    if entries.is_empty() {
        return Ok(());
    }
    if let Tx::Postgres(tx) = tx {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(CHANGE_LOG_LOCK)
            .execute(&mut **tx)
            .await?;
    }
    // Multi-row inserts (five parameters a row), chunked well under either
    // database's bind limit: a stitch batch logs a thousand entries at once.
    const CHUNK: usize = 500;
    let now = now_ms();
    for chunk in entries.chunks(CHUNK) {
        let mut sql = String::from(
            "INSERT INTO change_log (entity_ref, entity_id, op, hash, changed_at) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = i * 5;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5
            ));
        }
        on_tx!(tx, |conn| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(crate::db::adapt(&conn, sql)));
            for entry in chunk {
                q = q
                    .bind(&entry.entity_ref)
                    .bind(&entry.entity_id)
                    .bind(entry.op.as_str())
                    .bind(&entry.hash)
                    .bind(now);
            }
            q.execute(conn).await.map(drop)
        })?;
    }
    Ok(())
}

/// Queues entity refs for stitching, no earlier than `at`; a ref already queued
/// keeps one row (the earlier time wins), which is what deduplicates stitching.
pub(crate) async fn enqueue_stitch(
    tx: &mut Tx,
    refs: &[String],
    at: i64,
) -> Result<(), BackendError> {
    // Sorted and deduplicated: rows are locked in ref order, as the stitcher
    // locks them, so that the two never deadlock on PostgreSQL (and one
    // statement may not touch a row twice).
    let mut refs: Vec<&String> = refs.iter().collect();
    refs.sort_unstable();
    refs.dedup();
    for chunk in refs.chunks(STITCH_CHUNK) {
        let tuples: Vec<String> = (0..chunk.len())
            .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
            .collect();
        // A ref already queued keeps the earlier of its two times. The condition is
        // on the update rather than in it, so that a row that already has the
        // earlier time is left as it is instead of written again with the same
        // value: during a bulk load every batch queues the groups and systems
        // that most earlier batches queued already.
        let sql = format!(
            "INSERT INTO stitch_queue (entity_ref, next_stitch_at) VALUES {} \
             ON CONFLICT (entity_ref) DO UPDATE SET next_stitch_at = excluded.next_stitch_at \
             WHERE excluded.next_stitch_at < stitch_queue.next_stitch_at",
            tuples.join(", ")
        );
        on_tx!(tx, |conn| {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(adapt(&conn, sql)));
            for entity_ref in chunk {
                query = query.bind(*entity_ref).bind(at);
            }
            query.execute(conn).await.map(drop)
        })?;
    }
    Ok(())
}

/// Refs queued per statement: 2000 rows of two values, well under both
/// dialects' bind limits (fewer statements, fewer round trips per batch).
const STITCH_CHUNK: usize = 2000;

/// The SQL text for the executor it runs on. SQLite looks a numbered parameter
/// (`$7`) up by name with a linear scan, which makes a statement with thousands
/// of them quadratic to bind; anonymous `?` parameters bind in constant time. So
/// on SQLite a statement whose placeholders read `$1, $2, ...` in textual order
/// (every multi-row insert and `IN` list here) is rewritten with `?`. Any other
/// statement, and every statement on PostgreSQL, is left as written.
pub(crate) fn adapt<E: Dialect>(_executor: &E, sql: String) -> String {
    if E::SQLITE { positional(sql) } else { sql }
}

/// Which dialect an executor speaks.
pub(crate) trait Dialect {
    const SQLITE: bool;
}

impl Dialect for &sqlx::SqlitePool {
    const SQLITE: bool = true;
}

impl Dialect for &mut sqlx::SqliteConnection {
    const SQLITE: bool = true;
}

impl Dialect for &sqlx::PgPool {
    const SQLITE: bool = false;
}

impl Dialect for &mut sqlx::PgConnection {
    const SQLITE: bool = false;
}

/// `sql` with `$1, $2, ...` replaced by `?` when they appear exactly in that order
/// outside quoted strings; unchanged otherwise.
fn positional(sql: String) -> String {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut expected = 1u64;
    let mut i = 0;
    let mut last = 0;
    let mut quoted = false;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\'' {
            quoted = !quoted;
        } else if b == b'$' && !quoted {
            let start = i + 1;
            let mut end = start;
            while end < bytes.len() && bytes[end].is_ascii_digit() {
                end += 1;
            }
            if end > start {
                match sql[start..end].parse::<u64>() {
                    Ok(n) if n == expected => {
                        out.push_str(&sql[last..i]);
                        out.push('?');
                        last = end;
                        expected += 1;
                        i = end;
                        continue;
                    }
                    _ => return sql,
                }
            }
        }
        i += 1;
    }
    out.push_str(&sql[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use greenroom_backend_test_utils::database::{TestDatabaseKind, TestDatabases};
    use serde_json::json;

    fn wal_size(db: &Database) -> u64 {
        let Database::Sqlite(pool) = db else {
            return 0;
        };
        let mut wal = pool.connect_options().get_filename().as_os_str().to_owned();
        wal.push("-wal");
        std::fs::metadata(&wal).map_or(0, |m| m.len())
    }

    /// The size of the database file itself (what checkpoints copy the log into).
    fn main_size(db: &Database) -> u64 {
        let Database::Sqlite(pool) = db else {
            return 0;
        };
        std::fs::metadata(pool.connect_options().get_filename()).map_or(0, |m| m.len())
    }

    /// Writes about 2 MB through catalog transactions (whose pragmas switch the
    /// automatic checkpoint off, so it all stays in the log).
    async fn write_two_megabytes(db: &Database) {
        let mut tx = Tx::begin(db).await.expect("begin");
        if let Tx::Sqlite(conn) = &mut tx {
            sqlx::query("CREATE TABLE IF NOT EXISTS filler (body TEXT NOT NULL)")
                .execute(&mut **conn)
                .await
                .expect("create");
            for _ in 0..64 {
                sqlx::query("INSERT INTO filler (body) VALUES ($1)")
                    .bind("x".repeat(32 * 1024))
                    .execute(&mut **conn)
                    .await
                    .expect("insert");
            }
        }
        tx.commit().await.expect("commit");
    }

    #[tokio::test]
    async fn the_wal_is_emptied_only_past_its_limit() {
        let test = TestDatabases::init(TestDatabaseKind::Sqlite).await;
        let db = test.database();
        let state = WalState::default();
        write_two_megabytes(db).await;
        let written = wal_size(db);
        assert!(
            written >= 2 << 20,
            "log of {written} bytes after 2 MB written"
        );
        let before = main_size(db);
        assert!(before < 1 << 20, "nothing checkpointed yet: {before} bytes");

        // Below both sizes nothing happens: looking costs no checkpoint.
        limit_wal_at(db, &state, written + 1, written + 1).await;
        assert!(!state.running.load(Ordering::Acquire));
        assert_eq!(wal_size(db), written);
        assert_eq!(main_size(db), before);

        // Past the passive size a checkpoint runs in the background: the call
        // returns at once, the database file receives the rows, the log stays.
        limit_wal_at(db, &state, written + 1, 1 << 20).await;
        while state.running.load(Ordering::Acquire) {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert!(main_size(db) >= 2 << 20, "{} bytes", main_size(db));
        assert_eq!(wal_size(db), written);
        assert_eq!(state.mark.load(Ordering::Relaxed), written);
        // And not again until the log has grown by that much once more.
        let copied = main_size(db);
        limit_wal_at(db, &state, written + 1, 1 << 20).await;
        assert!(!state.running.load(Ordering::Acquire));

        // At the truncation size the log is checkpointed and emptied, and the rows stay.
        limit_wal_at(db, &state, written, 1 << 20).await;
        assert_eq!(wal_size(db), 0);
        assert_eq!(state.mark.load(Ordering::Relaxed), 0);
        assert!(main_size(db) >= copied);
        let Database::Sqlite(pool) = db else {
            unreachable!("a SQLite test database");
        };
        let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM filler")
            .fetch_one(pool)
            .await
            .expect("count");
        assert_eq!(rows, 64);

        // The log grows again from nothing, and the default sizes leave a small one be.
        write_two_megabytes(db).await;
        let again = wal_size(db);
        assert!(again > 0 && again < WAL_PASSIVE_BYTES);
        limit_wal(db, &state).await;
        assert!(!state.running.load(Ordering::Acquire));
        assert_eq!(wal_size(db), again);
        test.cleanup().await;
    }

    /// Runs `sql` on either database; true when it succeeded.
    async fn try_exec(db: &Database, sql: &str) -> bool {
        match db {
            Database::Sqlite(pool) => sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(pool)
                .await
                .is_ok(),
            Database::Postgres(pool) => sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(pool)
                .await
                .is_ok(),
        }
    }

    #[tokio::test]
    async fn relations_lose_their_foreign_key_and_keep_their_rows() {
        for kind in [TestDatabaseKind::Sqlite, TestDatabaseKind::Postgres] {
            let test = TestDatabases::init(kind).await;
            let db = test.database();
            // The schema before migrations 5 and 6: a relation needs its entity.
            run_migrations(db, MIGRATIONS_TABLE, &MIGRATIONS[..4])
                .await
                .expect("migrations 1-4");
            let (on_sqlite, orphan) = (
                !db.is_postgres(),
                "INSERT INTO relations (originating_entity_id, source_entity_ref, type, target_entity_ref) \
                 VALUES ('nobody', 'component:default/x', 'ownedBy', 'group:default/y')",
            );
            if on_sqlite {
                // Foreign keys are checked on the catalog's connections.
                assert!(try_exec(db, "PRAGMA foreign_keys = ON").await);
            }
            assert!(
                try_exec(
                    db,
                    "INSERT INTO refresh_state (entity_id, entity_ref, unprocessed_entity, unprocessed_hash, \
                     next_update_at, last_discovery_at) VALUES ('e1', 'component:default/a', '{}', 'h', 0, 0)"
                )
                .await
            );
            assert!(
                try_exec(
                    db,
                    "INSERT INTO relations (originating_entity_id, source_entity_ref, type, target_entity_ref) \
                     VALUES ('e1', 'component:default/a', 'ownedBy', 'group:default/t')"
                )
                .await
            );
            assert!(
                !try_exec(db, orphan).await,
                "{kind:?}: the key holds before"
            );

            migrate(db).await.expect("every migration");
            assert!(try_exec(db, orphan).await, "{kind:?}: no key after");
            let count = |sql: &'static str| async move {
                match db {
                    Database::Sqlite(pool) => {
                        sqlx::query_as::<_, (i64,)>(sql).fetch_one(pool).await
                    }
                    Database::Postgres(pool) => {
                        sqlx::query_as::<_, (i64,)>(sql).fetch_one(pool).await
                    }
                }
                .expect("count")
                .0
            };
            assert_eq!(
                count(
                    "SELECT COUNT(*) FROM relations WHERE originating_entity_id = 'e1' \
                       AND target_entity_ref = 'group:default/t'"
                )
                .await,
                1,
                "{kind:?}: the stored relation stays"
            );
            if on_sqlite {
                assert_eq!(
                    count(
                        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name IN \
                           ('relations_originating_entity_id', 'relations_source_entity_ref')"
                    )
                    .await,
                    2,
                    "both indexes are made again"
                );
            }
            test.cleanup().await;
        }
    }

    #[test]
    fn numbered_placeholders_become_positional_only_in_order() {
        let cases = [
            (
                "INSERT INTO t VALUES ($1, $2), ($3, $4)",
                "INSERT INTO t VALUES (?, ?), (?, ?)",
            ),
            (
                "SELECT * FROM t WHERE a = $1 AND b IN ($2, $3)",
                "SELECT * FROM t WHERE a = ? AND b IN (?, ?)",
            ),
            (
                "SELECT * FROM t WHERE a = $1 OR b = $1",
                "SELECT * FROM t WHERE a = $1 OR b = $1",
            ),
            (
                "SELECT * FROM t WHERE a = $2 AND b = $1",
                "SELECT * FROM t WHERE a = $2 AND b = $1",
            ),
            (
                "SELECT '$1' FROM t WHERE a = $1",
                "SELECT '$1' FROM t WHERE a = ?",
            ),
            ("SELECT 1", "SELECT 1"),
        ];
        for (input, expected) in cases {
            assert_eq!(positional(input.to_owned()), expected, "{input}");
        }
    }

    #[test]
    fn hashes_ignore_key_order() {
        let a = json!({"b": 1, "a": {"y": [1, {"q": 2, "p": 1}], "x": null}});
        let b = json!({"a": {"x": null, "y": [1, {"p": 1, "q": 2}]}, "b": 1});
        assert_eq!(hash_json(&a), hash_json(&b));
        assert_ne!(hash_json(&a), hash_json(&json!({"b": 2})));
        assert_eq!(hash_json(&json!({})).len(), 40);
    }

    #[test]
    fn an_object_hashed_by_its_fields_hashes_as_the_object() {
        let entity = json!({"kind": "Component", "metadata": {"name": "a", "tags": ["x"]}});
        let relations = json!([["component:default/a", "ownedBy", "group:default/t"]]);
        let empty = json!([]);
        let children = json!("da39a3ee");
        let whole = json!({
            "errors": empty, "entity": entity, "children": children,
            "relations": relations, "refreshKeys": empty, "parents": ["entity:location:default/r"],
        });
        let parents = json!(["entity:location:default/r"]);
        let mut fields = [
            ("relations", &relations),
            ("entity", &entity),
            ("errors", &empty),
            ("children", &children),
            ("refreshKeys", &empty),
            ("parents", &parents),
        ];
        assert_eq!(hash_json_object(&mut fields), hash_json(&whole));
        let mut fewer = [("entity", &entity)];
        assert_ne!(hash_json_object(&mut fewer), hash_json(&whole));
    }

    /// Whether the relations source index exists, and its definition.
    async fn source_index(db: &Database) -> Option<String> {
        on_pool!(db, |pool| {
            let sql = if db.is_postgres() {
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'relations_source_entity_ref'"
            } else {
                "SELECT sql FROM sqlite_master WHERE name = 'relations_source_entity_ref'"
            };
            sqlx::query_as::<_, (String,)>(sql)
                .fetch_optional(pool)
                .await
                .expect("schema")
                .map(|(sql,)| sql)
        })
    }

    async fn add_states(db: &Database, from: usize, to: usize, relations_each: usize) {
        for i in from..to {
            let id = format!("id-{i}");
            let entity_ref = format!("component:default/c{i}");
            on_pool!(db, |pool| {
                sqlx::query(
                    "INSERT INTO refresh_state (entity_id, entity_ref, unprocessed_entity, \
                     unprocessed_hash, next_update_at, last_discovery_at) VALUES ($1, $2, '{}', 'h', 0, 0)",
                )
                .bind(&id)
                .bind(&entity_ref)
                .execute(pool)
                .await
                .expect("state");
                for r in 0..relations_each {
                    sqlx::query(
                        "INSERT INTO relations (originating_entity_id, source_entity_ref, type, \
                         target_entity_ref) VALUES ($1, $2, 'ownedBy', $3)",
                    )
                    .bind(&id)
                    .bind(&entity_ref)
                    .bind(format!("group:default/g{r}"))
                    .execute(pool)
                    .await
                    .expect("relation");
                }
            });
        }
    }

    /// Asks for the source index to be set aside in a transaction of its own;
    /// returns whether it was.
    async fn defer_in_own_transaction(db: &Database) -> bool {
        let mut tx = Tx::begin(db).await.expect("begin");
        let deferred = defer_relation_index(&mut tx).await.expect("defer");
        tx.commit().await.expect("commit");
        deferred
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_source_index_goes_only_for_a_load_large_against_what_is_stored() {
        for kind in [TestDatabaseKind::Sqlite, TestDatabaseKind::Postgres] {
            let test = TestDatabases::init(kind).await;
            let db = test.database();
            let name = kind.name();
            migrate(db).await.expect("migrate");
            let covering = source_index(db).await.expect("index after migrations");
            assert!(
                covering.contains("type") && covering.contains("target_entity_ref"),
                "[{name}] {covering}"
            );

            // Two rows due, 150 relations stored: 2 * 50 < 150, the index stays.
            add_states(db, 0, 2, 75).await;
            assert!(!defer_in_own_transaction(db).await, "[{name}]");
            assert!(source_index(db).await.is_some(), "[{name}]");

            // Four rows due against 150 relations: the index goes, once.
            add_states(db, 2, 4, 0).await;
            let mut tx = Tx::begin(db).await.expect("begin");
            assert!(
                defer_relation_index(&mut tx).await.expect("defer"),
                "[{name}]"
            );
            assert!(
                !defer_relation_index(&mut tx).await.expect("defer again"),
                "[{name}]"
            );
            tx.commit().await.expect("commit");
            assert_eq!(source_index(db).await, None, "[{name}]");

            // The end of the backlog, or the next start after a crash, builds it again.
            restore_relation_index(db).await.expect("restore");
            assert_eq!(source_index(db).await, Some(covering.clone()), "[{name}]");
            assert!(defer_in_own_transaction(db).await, "[{name}]");
            migrate(db).await.expect("migrate again");
            assert_eq!(source_index(db).await, Some(covering.clone()), "[{name}]");

            if let Database::Postgres(pool) = db {
                // Another instance reading relations in an open transaction holds
                // a lock the drop needs: the drop gives up after its timeout, the
                // index stays, and the transaction that asked goes on.
                let mut reader = pool.begin().await.expect("reader");
                sqlx::query("SELECT COUNT(*) FROM relations")
                    .execute(&mut *reader)
                    .await
                    .expect("read");
                let mut tx = Tx::begin(db).await.expect("begin");
                assert!(
                    !defer_relation_index(&mut tx).await.expect("defer"),
                    "[{name}]"
                );
                let Tx::Postgres(conn) = &mut tx else {
                    unreachable!("a PostgreSQL transaction");
                };
                let (timeout,): (String,) = sqlx::query_as("SHOW lock_timeout")
                    .fetch_one(&mut **conn)
                    .await
                    .expect("usable after the timeout");
                assert_eq!(
                    timeout, "0",
                    "[{name}] the timeout does not outlive the drop"
                );
                tx.commit().await.expect("commit");
                reader.commit().await.expect("reader commit");
                assert_eq!(source_index(db).await, Some(covering.clone()), "[{name}]");

                // Two instances ending their loads together build the index once.
                assert!(defer_in_own_transaction(db).await, "[{name}]");
                let (a, b) = tokio::join!(restore_relation_index(db), restore_relation_index(db));
                a.expect("first restore");
                b.expect("second restore");
                assert_eq!(source_index(db).await, Some(covering.clone()), "[{name}]");
            }
            test.cleanup().await;
        }
    }

    #[test]
    fn hashes_the_sorted_compact_text() {
        // The digest of the sorted compact JSON text, computed outside Rust; a
        // string longer than the hash buffer takes the unbuffered path.
        let long = "x".repeat(9000);
        let value = json!({"b": {"c": "é\"q", "a": long}, "a": [1, "x\n", null, true, 2.5, -3]});
        assert_eq!(
            hash_json(&value),
            "225302d24e0d29242ac68351d0ceabf69050279d"
        );
    }
}
