//! The `catalog` benchmark: a generated catalog of N entities ingested from
//! files by a whole backend, from cold start to fully stitched, then the read
//! endpoints under load on 8 connections, and the process's memory.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use greenroom_backend_defaults::Backend;
use greenroom_backend_test_utils::database::TestPostgres;
use greenroom_config::Config;
use serde_json::{Value, json};

use crate::say;
use greenroom_bench::{generate, load};

/// Which database the catalog stores its state in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Store {
    Sqlite,
    Postgres,
}

/// What sends a benchmark's read load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LoadClient {
    /// The bench's own closed-loop client (`load.rs`), in this process: it
    /// shares the two cores and the runtime with the server it measures.
    Builtin,
    /// `wrk` in its own process: a lighter client, closer to what the
    /// issue's floors were measured with.
    Wrk,
}

pub(crate) struct Options {
    pub(crate) entities: usize,
    /// Backends started on the same database (PostgreSQL for more than one).
    pub(crate) instances: usize,
    pub(crate) store: Store,
    pub(crate) connections: usize,
    pub(crate) requests: usize,
    /// Seconds per endpoint under `wrk`.
    pub(crate) seconds: u64,
    pub(crate) client: LoadClient,
    /// Adds a group with 5k members and measures edit latency after ingest.
    pub(crate) latency: bool,
}

/// Writes the generated catalog as files of 500 documents and a root Location
/// listing them; returns the root file and how many entities beyond the
/// generated ones and the root's two Locations the catalog holds.
pub(crate) fn write_catalog(
    dir: &Path,
    entities: usize,
    latency: bool,
) -> anyhow::Result<(std::path::PathBuf, usize)> {
    let docs = generate::generate_documents(entities, 42);
    // One file's text at a time: joining every file first held a second copy of
    // the catalog, which at 1M was the bench process's peak, not the portal's.
    let mut targets = Vec::with_capacity(docs.len().div_ceil(500));
    for (i, text) in generate::files(&docs, 500).enumerate() {
        let name = format!("part-{i:04}.yaml");
        std::fs::write(dir.join(&name), text)?;
        targets.push(format!("./{name}"));
    }
    drop(docs);
    // With `--latency`: the measured groups and their members, and one
    // Location per file (the last of these takes the place of the root one).
    let extra = if latency {
        let groups = crate::edit_latency::write_groups(dir)?;
        targets.extend(groups.targets);
        groups.entities + targets.len() - 1
    } else {
        0
    };
    let root = dir.join("catalog-info.yaml");
    let text = if latency {
        // One Location entity per file, as a catalog of many repositories has:
        // an edit then refreshes a location of 500 entities, not the root.
        crate::edit_latency::location_documents(&targets)
    } else {
        let listed: Vec<String> = targets.iter().map(|t| format!("    - {t}\n")).collect();
        format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: bench-root\nspec:\n  targets:\n{}",
            listed.concat()
        )
    };
    std::fs::write(&root, text)?;
    Ok((root, extra))
}

/// Resident set size of this process in MiB (0 when `/proc` cannot be read).
pub(crate) fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// The configuration every catalog benchmark starts its backend with: a
/// loopback listener, SQLite files under `dir/data` (or the given PostgreSQL),
/// every built-in kind allowed, and `locations` as file locations.
pub(crate) fn bench_config(
    dir: &Path,
    postgres: Option<&TestPostgres>,
    locations: &[&Path],
) -> anyhow::Result<Config> {
    let database = match postgres {
        Some(pg) => pg.database_config(json!({})),
        None => json!({
            "client": "better-sqlite3",
            "connection": { "directory": dir.join("data").display().to_string() },
        }),
    };
    let locations: Vec<_> = locations
        .iter()
        .map(|target| json!({ "type": "file", "target": target.display().to_string() }))
        .collect();
    Config::from_value(json!({
        "backend": {
            "baseUrl": "http://127.0.0.1",
            "listen": { "host": "127.0.0.1", "port": 0 },
            "database": database,
        },
        "catalog": {
            "rules": [{ "allow": ["Component", "System", "API", "Resource", "Location", "Domain", "Group", "User", "Template"] }],
            "locations": locations,
        },
    }))
    .context("bench config")
}

/// Checks that every instance serves each entity once and the same final JSON:
/// the count, the number of distinct refs, and a SHA-1 over the sorted entities.
async fn compare_instances(
    client: &reqwest::Client,
    bases: &[String],
    expected: u64,
) -> anyhow::Result<()> {
    // Restitches of relation peers may still be in flight when the counts first
    // match; give the instances a moment to agree.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut sums = Vec::with_capacity(bases.len());
        for base in bases {
            let body: Value = client
                .get(format!("{base}/api/catalog/entities"))
                .send()
                .await?
                .json()
                .await?;
            let mut texts: Vec<String> = body
                .as_array()
                .map(|items| items.iter().map(Value::to_string).collect())
                .unwrap_or_default();
            texts.sort();
            let refs: std::collections::BTreeSet<String> = body
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .map(|e| {
                            format!(
                                "{}:{}/{}",
                                e["kind"].as_str().unwrap_or_default().to_lowercase(),
                                e["metadata"]["namespace"].as_str().unwrap_or_default(),
                                e["metadata"]["name"].as_str().unwrap_or_default()
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let digest = sha1_smol::Sha1::from(texts.concat()).digest().to_string();
            sums.push((texts.len() as u64, refs.len() as u64, digest));
        }
        let agree = sums.windows(2).all(|w| w[0] == w[1]);
        if agree || Instant::now() > deadline {
            for (i, (count, distinct, digest)) in sums.iter().enumerate() {
                say(&format!(
                    "  instance {i}: {count} entities, {distinct} distinct refs, sha1 {digest}"
                ));
            }
            anyhow::ensure!(agree, "the instances serve different catalogs");
            anyhow::ensure!(
                sums[0].0 == expected && sums[0].1 == expected,
                "expected {expected} entities, each once"
            );
            say("  instances agree: no duplicate, no lost entity, identical final JSON");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A read-only look at the catalog's own tables, to tell when ingestion is
/// really over: the API serving every entity is not enough, since relation
/// peers may still be waiting in the stitch queue.
pub(crate) enum Tables {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// What is still pending, and how much stitching was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    /// Entities never processed.
    unprocessed: i64,
    /// Refs waiting in the stitch queue.
    queued: i64,
    /// Change-log entries: one per final entity written.
    changes: i64,
}

impl Tables {
    async fn open(dir: &Path, postgres: Option<&TestPostgres>) -> anyhow::Result<Tables> {
        Ok(match postgres {
            Some(pg) => Tables::Postgres(pg.connect(&format!("{}catalog", pg.prefix())).await),
            None => {
                let options = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(dir.join("data").join("catalog.sqlite"))
                    .read_only(true);
                Tables::Sqlite(
                    sqlx::sqlite::SqlitePoolOptions::new()
                        .max_connections(1)
                        .connect_with(options)
                        .await?,
                )
            }
        })
    }

    async fn pending(&self) -> anyhow::Result<Pending> {
        const SQL: &str = "SELECT \
            (SELECT COUNT(*) FROM refresh_state WHERE result_hash IS NULL), \
            (SELECT COUNT(*) FROM stitch_queue), \
            (SELECT COUNT(*) FROM change_log)";
        let (unprocessed, queued, changes): (i64, i64, i64) = match self {
            Tables::Sqlite(pool) => sqlx::query_as(SQL).fetch_one(pool).await?,
            Tables::Postgres(pool) => sqlx::query_as(SQL).fetch_one(pool).await?,
        };
        Ok(Pending {
            unprocessed,
            queued,
            changes,
        })
    }

    /// How many refs were written once, twice, three times or more.
    async fn write_histogram(&self) -> anyhow::Result<Vec<(i64, i64)>> {
        const SQL: &str = "SELECT LEAST_N, COUNT(*) FROM (SELECT CASE WHEN COUNT(*) > 3 THEN 4 \
            ELSE COUNT(*) END AS LEAST_N FROM change_log GROUP BY entity_ref) AS t \
            GROUP BY LEAST_N ORDER BY LEAST_N";
        Ok(match self {
            Tables::Sqlite(pool) => sqlx::query_as(SQL).fetch_all(pool).await?,
            Tables::Postgres(pool) => sqlx::query_as(SQL).fetch_all(pool).await?,
        })
    }

    /// Change-log entries for one ref (how often its final entity was
    /// written) and when the last one was written, in epoch milliseconds.
    pub(crate) async fn changes_of(&self, entity_ref: &str) -> anyhow::Result<(i64, Option<i64>)> {
        const SQL: &str = "SELECT COUNT(*), MAX(changed_at) FROM change_log WHERE entity_ref = $1";
        Ok(match self {
            Tables::Sqlite(pool) => sqlx::query_as(SQL).bind(entity_ref).fetch_one(pool).await?,
            Tables::Postgres(pool) => sqlx::query_as(SQL).bind(entity_ref).fetch_one(pool).await?,
        })
    }

    async fn close(self) {
        match self {
            Tables::Sqlite(pool) => pool.close().await,
            Tables::Postgres(pool) => pool.close().await,
        }
    }
}

async fn total_items(client: &reqwest::Client, base: &str) -> anyhow::Result<u64> {
    let body: Value = client
        .get(format!("{base}/api/catalog/entities/by-query?limit=0"))
        .send()
        .await?
        .json()
        .await?;
    Ok(body["totalItems"].as_u64().unwrap_or(0))
}

pub(crate) async fn run(options: Options) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("greenroom-bench-catalog-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("catalog"))?;
    let (root, extra) = write_catalog(&dir.join("catalog"), options.entities, options.latency)?;
    let postgres = (options.store == Store::Postgres).then(TestPostgres::new);
    let config = bench_config(&dir, postgres.as_ref(), &[&root])?;
    // Every generated entity, the root Location, the generated Location of
    // the configured location, and what `--latency` adds.
    let expected = (options.entities + 2 + extra) as u64;

    let config = Arc::new(config);
    let started = Instant::now();
    let mut running = Vec::with_capacity(options.instances.max(1));
    for _ in 0..options.instances.max(1) {
        let mut backend = Backend::new(Arc::clone(&config));
        backend.add(greenroom_plugin_catalog_backend::plugin());
        running.push(backend.start().await.map_err(|e| anyhow::anyhow!("{e}"))?);
    }
    let bases: Vec<String> = running
        .iter()
        .map(|r| r.local_addr().map(|a| format!("http://{a}")))
        .collect::<Option<_>>()
        .context("no address")?;
    let base = bases[0].clone();
    let client = reqwest::Client::new();
    let deadline = started + Duration::from_secs(900);
    // With GREENROOM_BENCH_PROGRESS set, the ingest's timeline is printed twice a second:
    // rows never processed, refs waiting to be stitched, final entities written.
    let progress = std::env::var_os("GREENROOM_BENCH_PROGRESS").is_some();
    let mut progress_tables = None;
    let mut last_progress = Instant::now();
    for instance_base in &bases {
        loop {
            if total_items(&client, instance_base).await? >= expected {
                break;
            }
            if progress && last_progress.elapsed() >= Duration::from_millis(500) {
                last_progress = Instant::now();
                if progress_tables.is_none() {
                    progress_tables = Tables::open(&dir, postgres.as_ref()).await.ok();
                }
                if let Some(t) = &progress_tables
                    && let Ok(p) = t.pending().await
                {
                    say(&format!(
                        "  {:>6.1} s  unprocessed {:>7}  queued {:>7}  changes {:>7}",
                        started.elapsed().as_secs_f64(),
                        p.unprocessed,
                        p.queued,
                        p.changes
                    ));
                }
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "not fully stitched within 15 minutes"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let served = started.elapsed();
    // Fully stitched: every entity processed and nothing left to stitch.
    let tables = Tables::open(&dir, postgres.as_ref()).await?;
    let pending = loop {
        let pending = tables.pending().await?;
        if pending.unprocessed == 0 && pending.queued == 0 {
            break pending;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "not fully stitched within 15 minutes: {pending:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let ingest = started.elapsed();
    let store = match options.store {
        Store::Sqlite => "SQLite",
        Store::Postgres => "PostgreSQL",
    };
    say(&format!(
        "catalog: {} entities from {} files on {store}, {} instance(s)",
        options.entities,
        options.entities.div_ceil(500),
        bases.len()
    ));
    say(&format!(
        "  cold start to all served       {:>8.2} s",
        served.as_secs_f64()
    ));
    say(&format!(
        "  cold start to fully stitched   {:>8.2} s   {:>9.0} entities/s",
        ingest.as_secs_f64(),
        expected as f64 / ingest.as_secs_f64()
    ));
    say(&format!(
        "  final entities written         {:>8}     {:>9.2} per entity",
        pending.changes,
        pending.changes as f64 / expected as f64
    ));
    let histogram: Vec<String> = tables
        .write_histogram()
        .await?
        .iter()
        .map(|(times, refs)| format!("{refs} refs {times}{}x", if *times > 3 { "+" } else { "" }))
        .collect();
    say(&format!(
        "  written per ref                {}",
        histogram.join(", ")
    ));
    say(&format!(
        "  RSS after ingest               {:>8.1} MiB",
        rss_mib()
    ));
    if options.latency {
        let catalog_dir = dir.join("catalog");
        crate::edit_latency::edit_row(&client, &base, &catalog_dir).await?;
        crate::edit_latency::group_rows(&client, &base, &catalog_dir, &tables).await?;
    }
    tables.close().await;
    if bases.len() > 1 {
        compare_instances(&client, &bases, expected).await?;
    }

    if options.requests > 0 {
        let c = options.connections;
        let n = options.requests;
        let names: Vec<String> = (0..1000)
            .map(|i| {
                format!(
                    "{base}/api/catalog/entities/by-name/component/default/component-{}",
                    i * 37 % (options.entities / 3).max(1)
                )
            })
            .collect();
        let kind_page = vec![format!(
            "{base}/api/catalog/entities/by-query?filter=kind=component&limit=50"
        )];
        let owned_by: Vec<String> = (0..20)
            .map(|t| format!("{base}/api/catalog/entities/by-query?filter=relations.ownedBy=group:default/team-{t}&limit=50"))
            .collect();
        let facets = vec![format!("{base}/api/catalog/entity-facets?facet=kind")];
        // The three facets #6 names, asked for in one request as the catalog page does.
        let facets3 = vec![format!(
            "{base}/api/catalog/entity-facets?facet=kind&facet=spec.type&facet=metadata.tags"
        )];
        // Cursor pages: walk the component pages once to collect their cursors.
        let mut cursors = Vec::new();
        let mut url = kind_page[0].clone();
        for _ in 0..100 {
            let body: Value = client.get(&url).send().await?.json().await?;
            match body["pageInfo"]["nextCursor"].as_str() {
                Some(cursor) => {
                    url = format!("{base}/api/catalog/entities/by-query?limit=50&cursor={cursor}");
                    cursors.push(url.clone());
                }
                None => break,
            }
        }
        let health = vec![format!("{base}/.backstage/health/v1/liveness")];
        let client_kind = options.client;
        let seconds = options.seconds;
        let measure = |urls: Vec<String>| async move {
            match client_kind {
                LoadClient::Builtin => load::run(&urls, c, n).await,
                LoadClient::Wrk => load::run_wrk(&urls, c, seconds).await,
            }
        };
        let baseline = measure(health).await?;
        say(&match client_kind {
            LoadClient::Builtin => {
                format!("  load: {n} requests per row on {c} connections (p50, p99, requests/s)")
            }
            LoadClient::Wrk => format!(
                "  load: wrk, {seconds} s per row on {c} connections, 2 threads (p50, p99, requests/s)"
            ),
        });
        let row = |label: &str, r: &load::LoadResult| {
            say(&format!(
                "  {label:<28} p50 {:>7.3} ms  p99 {:>7.3} ms  {:>8.0} req/s  {:>5.2}x baseline p50",
                r.p50.as_secs_f64() * 1e3,
                r.p99.as_secs_f64() * 1e3,
                r.requests_per_second,
                r.p50.as_secs_f64() / baseline.p50.as_secs_f64()
            ));
        };
        row("baseline: liveness", &baseline);
        row("by-name", &measure(names).await?);
        row("kind filter, page of 50", &measure(kind_page).await?);
        row("relations.ownedBy, page 50", &measure(owned_by).await?);
        row("facets: kind", &measure(facets).await?);
        row("facets: kind, type, tags", &measure(facets3).await?);
        if !cursors.is_empty() {
            row("cursor pages of 50", &measure(cursors).await?);
        }
        say(&format!(
            "  RSS after load                 {:>8.1} MiB",
            rss_mib()
        ));
    }

    for instance in running {
        instance.stop().await;
    }
    if let Some(pg) = postgres {
        pg.cleanup().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
