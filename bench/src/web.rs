//! The `web` benchmark: a generated catalog of N entities ingested by a
//! backend that also serves the web UI, then the server time of the catalog's
//! pages (`/catalog` with its facets and total count, filtered by owner,
//! searched, a later cursor page, an entity page, `/search`), one request at
//! a time, against the liveness endpoint as the baseline for what any request
//! costs on loopback.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use greenroom_backend_defaults::Backend;
use greenroom_backend_test_utils::database::TestPostgres;
use serde_json::Value;

use crate::catalog::Store;
use crate::{median, say};
use greenroom_bench::generate;

pub(crate) struct Options {
    pub(crate) entities: usize,
    pub(crate) store: Store,
    /// Requests per measured page; the median is reported.
    pub(crate) rounds: usize,
}

/// Writes the generated catalog as files of 500 documents and a root Location.
fn write_catalog(dir: &Path, entities: usize) -> anyhow::Result<std::path::PathBuf> {
    let docs = generate::generate_documents(entities, 42);
    let files = generate::into_files(&docs, 500);
    let mut listed = String::new();
    for (i, text) in files.iter().enumerate() {
        let name = format!("part-{i:04}.yaml");
        std::fs::write(dir.join(&name), text)?;
        listed.push_str(&format!("    - ./{name}\n"));
    }
    let root = dir.join("catalog-info.yaml");
    std::fs::write(
        &root,
        format!(
            "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: bench-root\nspec:\n  targets:\n{listed}"
        ),
    )?;
    Ok(root)
}

async fn json_at(client: &reqwest::Client, url: &str) -> anyhow::Result<Value> {
    Ok(client.get(url).send().await?.json().await?)
}

/// Whether ingestion is complete: every entity is there and every component
/// has its owner relation stitched (the owner filter depends on it).
async fn ingested(client: &reqwest::Client, base: &str, expected: u64) -> anyhow::Result<bool> {
    let all = json_at(
        client,
        &format!("{base}/api/catalog/entities/by-query?limit=0"),
    )
    .await?;
    if all["totalItems"].as_u64().unwrap_or(0) < expected {
        return Ok(false);
    }
    let components = json_at(
        client,
        &format!("{base}/api/catalog/entities/by-query?limit=0&filter=kind=component"),
    )
    .await?;
    let facets = json_at(
        client,
        &format!("{base}/api/catalog/entity-facets?facet=relations.ownedBy&filter=kind=component"),
    )
    .await?;
    let owned: u64 = facets["facets"]["relations.ownedBy"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["count"].as_u64())
        .sum();
    Ok(owned >= components["totalItems"].as_u64().unwrap_or(u64::MAX))
}

/// The median time of `rounds` sequential GETs cycling through `urls`; every
/// answer must be 200 and (for pages) contain `must_contain`.
async fn time_pages(
    client: &reqwest::Client,
    urls: &[String],
    rounds: usize,
    must_contain: &str,
) -> anyhow::Result<(Duration, usize)> {
    let mut samples = Vec::with_capacity(rounds);
    let mut bytes = 0;
    // Two unmeasured requests warm connections and caches.
    for i in 0..rounds + 2 {
        let url = &urls[i % urls.len()];
        let start = Instant::now();
        let response = client.get(url).send().await?;
        let status = response.status();
        let body = response.text().await?;
        let elapsed = start.elapsed();
        anyhow::ensure!(status.is_success(), "{url} answered {status}");
        anyhow::ensure!(body.contains(must_contain), "{url}: no {must_contain:?}");
        bytes = body.len();
        if i >= 2 {
            samples.push(elapsed);
        }
    }
    Ok((median(samples), bytes))
}

/// The `href` of the pager's next link on a page, unescaped.
fn next_link(body: &str) -> Option<String> {
    let end = body.find("\" rel=\"next\"")?;
    let start = body[..end].rfind("href=\"")? + "href=\"".len();
    Some(body[start..end].replace("&amp;", "&"))
}

pub(crate) async fn run(options: Options) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("greenroom-bench-web-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("catalog"))?;
    let root = write_catalog(&dir.join("catalog"), options.entities)?;
    let postgres = (options.store == Store::Postgres).then(TestPostgres::new);
    let config = crate::catalog::bench_config(&dir, postgres.as_ref(), &[&root])?;
    // Every generated entity, the root Location and the generated Location of
    // the configured location.
    let expected = (options.entities + 2) as u64;

    let started = Instant::now();
    let mut backend = Backend::new(Arc::new(config));
    backend.add(greenroom_plugin_catalog_backend::plugin());
    backend.add(greenroom_plugin_catalog_backend::catalog_service_factory());
    backend.add(greenroom_web::plugin());
    backend.add(greenroom_plugin_catalog::module());
    let running = backend.start().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let base = running
        .local_addr()
        .map(|a| format!("http://{a}"))
        .context("no address")?;
    let client = reqwest::Client::new();
    let deadline = started + Duration::from_secs(1800);
    while !ingested(&client, &base, expected).await? {
        anyhow::ensure!(Instant::now() < deadline, "not ingested within 30 minutes");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let store = match options.store {
        Store::Sqlite => "SQLite",
        Store::Postgres => "PostgreSQL",
    };
    say(&format!(
        "web: {} entities on {store}, ingested in {:.1} s; {} requests per page, one at a time (median)",
        options.entities,
        started.elapsed().as_secs_f64(),
        options.rounds
    ));

    let rounds = options.rounds.max(1);
    let components = options.entities / 3;
    let first = client
        .get(format!("{base}/catalog"))
        .send()
        .await?
        .text()
        .await?;
    let second = next_link(&first).context("the first /catalog page has a next link")?;
    let cases: Vec<(&str, Vec<String>, &str)> = vec![
        (
            "baseline: liveness",
            vec![format!("{base}/.backstage/health/v1/liveness")],
            "ok",
        ),
        (
            "/catalog (Component, 20 rows, total)",
            vec![format!("{base}/catalog")],
            "1–20 of ",
        ),
        (
            "/catalog?owner=team-N",
            (0..20)
                .map(|t| format!("{base}/catalog?owner=team-{t}"))
                .collect(),
            " of ",
        ),
        (
            "/catalog?q=component-N (text)",
            (0..20)
                .map(|i| format!("{base}/catalog?q=component-{}", i * 131 % components.max(1)))
                .collect(),
            " of ",
        ),
        (
            "/catalog?sort=-type&lifecycle=production",
            vec![format!("{base}/catalog?sort=-type&lifecycle=production")],
            " of ",
        ),
        (
            "/catalog second page (cursor)",
            vec![format!("{base}{second}")],
            "21–40 of ",
        ),
        (
            "  API: entity-facets kind",
            vec![format!("{base}/api/catalog/entity-facets?facet=kind")],
            "facets",
        ),
        (
            "  API: entity-facets x5 for kind=component",
            vec![format!(
                "{base}/api/catalog/entity-facets?facet=spec.type&facet=relations.ownedBy&facet=spec.lifecycle&facet=metadata.tags&facet=metadata.namespace&filter=kind=component"
            )],
            "facets",
        ),
        (
            "  API: by-query kind=component by name, 20",
            vec![format!(
                "{base}/api/catalog/entities/by-query?filter=kind=component&limit=20&orderField=metadata.name,asc&fields=kind,metadata,spec.type,spec.owner,spec.system,spec.lifecycle,relations"
            )],
            "totalItems",
        ),
        (
            "  API: by-query kind=component unordered, 20",
            vec![format!(
                "{base}/api/catalog/entities/by-query?filter=kind=component&limit=20"
            )],
            "totalItems",
        ),
        (
            "/catalog/default/component/N",
            (0..20)
                .map(|i| {
                    format!(
                        "{base}/catalog/default/component/component-{}",
                        i * 37 % components.max(1)
                    )
                })
                .collect(),
            "component-",
        ),
        (
            "/search?q=component-N",
            (0..20)
                .map(|i| format!("{base}/search?q=component-{}", i * 53 % components.max(1)))
                .collect(),
            " of ",
        ),
    ];
    let mut baseline = Duration::ZERO;
    for (label, urls, must_contain) in &cases {
        let (time, bytes) = time_pages(&client, urls, rounds, must_contain).await?;
        if baseline.is_zero() {
            baseline = time;
        }
        say(&format!(
            "  {label:<42} {:>8.2} ms   {:>8.2} ms over baseline   {:>7} bytes",
            time.as_secs_f64() * 1000.0,
            time.saturating_sub(baseline).as_secs_f64() * 1000.0,
            bytes
        ));
    }
    running.stop().await;
    if let Some(pg) = postgres {
        pg.cleanup().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
