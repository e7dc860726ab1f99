//! The `catalog-soak` benchmark: whether memory stays bounded under a long mixed load.
//!
//! A generated catalog is ingested as in the `catalog` benchmark; then, for the
//! requested duration, 8 connections send a rotating mix of read requests while a
//! separate task edits one entity in a file of 500 entities, registered as its own
//! location, and refreshes that location every few seconds. The process's
//! resident memory is sampled every two seconds; the report gives it at the start
//! of the load, each minute's lowest and highest sample, and the growth of the
//! lowest from the first minute to the last.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use greenroom_backend_defaults::Backend;
use greenroom_backend_test_utils::database::TestPostgres;
use serde_json::{Value, json};

use crate::catalog::Store;
use crate::say;
use greenroom_bench::{generate, load};

/// Entities per generated file, as in the `catalog` benchmark.
const PER_FILE: usize = 500;

pub(crate) struct Options {
    pub(crate) entities: usize,
    pub(crate) store: Store,
    pub(crate) connections: usize,
    pub(crate) duration: Duration,
    pub(crate) refresh_every: Duration,
}

/// Writes the catalog's files and the root Location; returns the root file and the
/// first part file. The root lists every part but the first, which is registered as a
/// location of its own: that is the location the soak refreshes and edits.
fn write_catalog(dir: &Path, entities: usize) -> anyhow::Result<(PathBuf, PathBuf)> {
    let docs = generate::generate_documents(entities, 42);
    let files = generate::into_files(&docs, PER_FILE);
    let mut listed = String::new();
    for (i, text) in files.iter().enumerate() {
        let name = format!("part-{i:04}.yaml");
        std::fs::write(dir.join(&name), text)?;
        if i > 0 {
            listed.push_str(&format!("    - ./{name}\n"));
        }
    }
    let root = dir.join("catalog-info.yaml");
    std::fs::write(
        &root,
        format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: bench-root\nspec:\n  targets:\n{listed}"
        ),
    )?;
    Ok((root, dir.join("part-0000.yaml")))
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

/// Samples the resident set every two seconds until `stop`; returns each minute's
/// lowest and highest sample (a last, partial minute included).
async fn sample_rss(stop: Arc<AtomicBool>) -> Vec<(f64, f64)> {
    let mut minutes: Vec<(f64, f64)> = Vec::new();
    let started = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let rss = crate::catalog::rss_mib();
        let minute = usize::try_from(started.elapsed().as_secs() / 60).unwrap_or(usize::MAX);
        match minutes.get_mut(minute) {
            Some((floor, top)) => {
                *floor = floor.min(rss);
                *top = top.max(rss);
            }
            None => minutes.push((rss, rss)),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    minutes
}

/// The read mix: look-ups, filtered pages, ordered pages, projections, full text and
/// facets, interleaved so that every slice of the load exercises all of them.
fn mixed_urls(base: &str, entities: usize) -> Vec<String> {
    let api = format!("{base}/api/catalog");
    let components = (entities / 3).max(1);
    let mut urls = Vec::new();
    for i in 0..200 {
        let team = i % 20;
        let component = i * 37 % components;
        urls.push(format!(
            "{api}/entities/by-name/component/default/component-{component}"
        ));
        urls.push(format!(
            "{api}/entities/by-query?filter=kind=component&limit=50"
        ));
        urls.push(format!(
            "{api}/entities/by-query?filter=relations.ownedBy=group:default/team-{team}&limit=50"
        ));
        urls.push(format!(
            "{api}/entity-facets?facet=kind&facet=spec.type&facet=metadata.tags"
        ));
        urls.push(format!(
            "{api}/entities/by-query?filter=kind=api&orderField=metadata.name,asc&limit=20&offset={}",
            i * 5
        ));
        urls.push(format!(
            "{api}/entities?filter=kind=system&fields=metadata.name,spec.owner&limit=50&offset={}",
            i % 10 * 50
        ));
        urls.push(format!(
            "{api}/entities/by-query?fullTextFilterTerm=component-{component}&fullTextFilterFields=metadata.name&limit=10"
        ));
        urls.push(format!(
            "{api}/entities/by-query?filter=spec.owner=team-{team}&orderField=metadata.title,desc&limit=25"
        ));
    }
    urls
}

/// What the refresher saw: how many refreshes it sent, and how long each edit took to
/// show in the API (`None` when it did not within the interval).
#[derive(Debug, Default)]
struct RefreshLog {
    refreshes: usize,
    visible_after: Vec<Option<Duration>>,
}

/// The ref of the Location entity generated for the registered location of `part`.
async fn location_of(client: &reqwest::Client, base: &str, part: &Path) -> anyhow::Result<String> {
    let body: Value = client
        .get(format!("{base}/api/catalog/entities?filter=kind=location"))
        .send()
        .await?
        .json()
        .await?;
    let target = part.display().to_string();
    body.as_array()
        .into_iter()
        .flatten()
        .find(|e| e["spec"]["target"].as_str() == Some(target.as_str()))
        .and_then(|e| e["metadata"]["name"].as_str())
        .map(|name| format!("location:default/{name}"))
        .context("no Location entity for the refreshed part")
}

/// Every `every`: rewrites the organisation group's title in `part`, refreshes the
/// part's location, and polls the group until the new title shows (or the next round
/// is due).
async fn refresher(
    base: String,
    part: PathBuf,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<RefreshLog> {
    let client = reqwest::Client::new();
    let location = location_of(&client, &base, &part).await?;
    let original = std::fs::read_to_string(&part)?;
    let mut log = RefreshLog::default();
    let group = format!("{base}/api/catalog/entities/by-name/group/default/org");
    let mut round = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        round += 1;
        let title = format!("The Organisation, edit {round}");
        std::fs::write(
            &part,
            original.replacen("title: The Organisation", &format!("title: {title}"), 1),
        )?;
        let status = client
            .post(format!("{base}/api/catalog/refresh"))
            .json(&json!({ "entityRef": location }))
            .send()
            .await?
            .status();
        anyhow::ensure!(status.is_success(), "refresh answered {status}");
        log.refreshes += 1;
        let mut seen = None;
        while started.elapsed() < every && !stop.load(Ordering::Relaxed) {
            if seen.is_none() {
                let body: Value = client.get(&group).send().await?.json().await?;
                if body["metadata"]["title"].as_str() == Some(title.as_str()) {
                    seen = Some(started.elapsed());
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        log.visible_after.push(seen);
    }
    std::fs::write(&part, original)?;
    Ok(log)
}

pub(crate) async fn run(options: Options) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("greenroom-bench-soak-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("catalog"))?;
    let (root, part) = write_catalog(&dir.join("catalog"), options.entities)?;
    let postgres = (options.store == Store::Postgres).then(TestPostgres::new);
    let config = crate::catalog::bench_config(&dir, postgres.as_ref(), &[&root, &part])?;
    // The generated entities, the root Location and the two generated Locations of
    // the configured locations.
    let expected = (options.entities + 3) as u64;

    let started = Instant::now();
    let mut backend = Backend::new(Arc::new(config));
    backend.add(greenroom_plugin_catalog_backend::plugin());
    let running = backend.start().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let base = running
        .local_addr()
        .map(|a| format!("http://{a}"))
        .context("no address")?;
    let client = reqwest::Client::new();
    while total_items(&client, &base).await? < expected {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(900),
            "not fully stitched within 15 minutes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let store = match options.store {
        Store::Sqlite => "SQLite",
        Store::Postgres => "PostgreSQL",
    };
    say(&format!(
        "catalog-soak: {} entities on {store}; {:.0} s of mixed reads on {} connections, a location of {PER_FILE} entities edited and refreshed every {:.0} s",
        options.entities,
        options.duration.as_secs_f64(),
        options.connections,
        options.refresh_every.as_secs_f64()
    ));
    say(&format!(
        "  fully stitched after           {:>8.2} s",
        started.elapsed().as_secs_f64()
    ));
    let start_rss = crate::catalog::rss_mib();
    say(&format!(
        "  RSS at start of load           {start_rss:>8.1} MiB"
    ));

    let urls = mixed_urls(&base, options.entities);
    let stop = Arc::new(AtomicBool::new(false));
    let refreshes = tokio::spawn(refresher(
        base.clone(),
        part,
        options.refresh_every,
        Arc::clone(&stop),
    ));
    let load_started = Instant::now();
    let sampler = tokio::spawn(sample_rss(Arc::clone(&stop)));
    let mut requests = 0usize;
    let mut p99s = Vec::new();
    while load_started.elapsed() < options.duration {
        // Slices of a few thousand requests keep the clock checks frequent.
        let result = load::run(&urls, options.connections, 4_000).await?;
        requests += result.requests;
        p99s.push(result.p99);
    }
    stop.store(true, Ordering::Relaxed);
    let log = refreshes.await??;
    let elapsed = load_started.elapsed();
    let end_rss = crate::catalog::rss_mib();
    let minutes = sampler.await?;
    p99s.sort();
    let visible: Vec<Duration> = log.visible_after.iter().filter_map(|d| *d).collect();
    let median_visible = (!visible.is_empty()).then(|| crate::median(visible.clone()));
    say(&format!(
        "  load: {requests} requests in {:.0} s, {:.0} req/s; median slice p99 {:.3} ms",
        elapsed.as_secs_f64(),
        requests as f64 / elapsed.as_secs_f64(),
        p99s.get(p99s.len() / 2)
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    ));
    say(&format!(
        "  refreshes: {}, edit visible in {} of them, median {}",
        log.refreshes,
        visible.len(),
        median_visible.map_or("-".to_owned(), |d| format!(
            "{:.0} ms after the refresh",
            d.as_secs_f64() * 1e3
        ))
    ));
    // Transient peaks (a large location re-processed, a burst of pages in flight) come
    // and go; what must not grow is the floor the process returns to, minute by minute.
    for (i, (floor, top)) in minutes.iter().enumerate() {
        say(&format!(
            "  minute {:>3}: RSS floor {floor:>8.1} MiB, top {top:>8.1} MiB",
            i + 1
        ));
    }
    say(&format!(
        "  RSS at end of load             {end_rss:>8.1} MiB"
    ));
    let peak = minutes.iter().map(|(_, top)| *top).fold(end_rss, f64::max);
    say(&format!("  RSS peak                       {peak:>8.1} MiB"));
    // A trailing partial minute has too few samples to show its floor.
    let complete = usize::try_from(elapsed.as_secs() / 60)
        .unwrap_or(usize::MAX)
        .min(minutes.len());
    if let (Some((first, _)), Some((last, _))) = (minutes.first(), minutes[..complete].last()) {
        say(&format!(
            "  RSS floor growth, minute 1 to minute {complete}: {:+.1} %",
            (last / first - 1.0) * 100.0
        ));
    }

    running.stop().await;
    if let Some(pg) = postgres {
        pg.cleanup().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
