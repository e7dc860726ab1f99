//! A small closed-loop HTTP load generator for loopback benchmarks.
//!
//! `connections` tasks each own one keep-alive connection and send requests
//! back to back until the shared request budget is spent; every latency is
//! recorded. Bounded in count by construction, and only ever pointed at
//! 127.0.0.1 by the benchmarks that use it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What one load run measured.
#[derive(Debug, Clone)]
pub struct LoadResult {
    pub requests: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub requests_per_second: f64,
}

/// Sends `requests` GETs spread over `urls` (round robin) on `connections`
/// connections; every answer must be 200.
pub async fn run(
    urls: &[String],
    connections: usize,
    requests: usize,
) -> anyhow::Result<LoadResult> {
    anyhow::ensure!(!urls.is_empty(), "no URLs to load");
    let urls = Arc::new(urls.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections.max(1) {
        let urls = Arc::clone(&urls);
        let next = Arc::clone(&next);
        tasks.push(tokio::spawn(async move {
            // More than one idle connection: a connection goes back to the
            // pool a moment after its body is read, and a next request sent in
            // that moment opens a new one. With room for a single idle
            // connection the extra one was closed again, so large answers (a
            // page of 50 entities) churned through thousands of connections per
            // run and the figure measured connection set-up, not the catalog.
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(connections.max(1))
                .timeout(Duration::from_secs(30))
                .build()?;
            let mut latencies = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= requests {
                    break;
                }
                let url = &urls[n % urls.len()];
                let start = Instant::now();
                let response = client.get(url).send().await?;
                let status = response.status();
                let _ = response.bytes().await?;
                latencies.push(start.elapsed());
                anyhow::ensure!(status.is_success(), "{url} answered {status}");
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::with_capacity(requests);
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies.get(i).copied().unwrap_or_default()
    };
    Ok(LoadResult {
        requests: latencies.len(),
        p50: at(0.50),
        p99: at(0.99),
        requests_per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
    })
}
