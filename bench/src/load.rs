//! A small closed-loop HTTP load generator for loopback benchmarks.
//!
//! `connections` tasks each own one keep-alive connection and send requests
//! back to back until the shared request budget is spent; every latency is
//! recorded. Bounded in count by construction, and only ever pointed at
//! 127.0.0.1 by the benchmarks that use it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;

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

/// Runs `wrk` for `seconds` on `connections` connections and two threads, its
/// requests spread over `urls` (round robin, per thread) by a generated Lua
/// script; every answer must be 2xx and no socket may fail. All `urls` share
/// one origin, which must be on loopback.
pub async fn run_wrk(
    urls: &[String],
    connections: usize,
    seconds: u64,
) -> anyhow::Result<LoadResult> {
    let first = urls.first().context("no URLs to load")?;
    let origin_end = first
        .match_indices('/')
        .nth(2)
        .map_or(first.len(), |(at, _)| at);
    let origin = first[..origin_end].to_owned();
    anyhow::ensure!(
        origin.starts_with("http://127.0.0.1:"),
        "wrk is only pointed at loopback, not {origin}"
    );
    let mut script = String::from("local paths = {\n");
    for url in urls {
        let path = url
            .strip_prefix(&origin)
            .with_context(|| format!("{url} is not on {origin}"))?;
        anyhow::ensure!(!path.contains("]==]"), "unexpected path {path}");
        script.push_str(&format!("  [==[{path}]==],\n"));
    }
    script.push_str(
        "}\nlocal i = 0\nrequest = function()\n  i = i + 1\n  return wrk.format(\"GET\", paths[(i % #paths) + 1])\nend\n",
    );
    let file = std::env::temp_dir().join(format!("greenroom-bench-wrk-{}.lua", std::process::id()));
    std::fs::write(&file, script)?;
    let output = tokio::task::spawn_blocking({
        let file = file.clone();
        move || {
            std::process::Command::new("wrk")
                .args(["-t2", &format!("-c{}", connections.max(2))])
                .arg(format!("-d{seconds}s"))
                .args(["--latency", "-s"])
                .arg(&file)
                .arg(&origin)
                .output()
        }
    })
    .await?
    .context("cannot run wrk (apt-get install wrk)");
    let _ = std::fs::remove_file(&file);
    let output = output?;
    let text = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(output.status.success(), "wrk failed: {text}");
    parse_wrk(&text)
}

/// Reads the median, the 99th percentile and the rate from `wrk --latency`'s
/// report; a report of failed sockets or non-2xx answers is an error.
fn parse_wrk(text: &str) -> anyhow::Result<LoadResult> {
    anyhow::ensure!(
        !text.contains("Non-2xx") && !text.contains("Socket errors"),
        "wrk saw failed requests:\n{text}"
    );
    let field = |label: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .map(str::trim)
            .with_context(|| format!("no '{label}' in wrk's report:\n{text}"))
    };
    let duration = |label: &str| -> anyhow::Result<Duration> {
        let value = field(label)?;
        let (number, scale) = if let Some(v) = value.strip_suffix("us") {
            (v, 1e-6)
        } else if let Some(v) = value.strip_suffix("ms") {
            (v, 1e-3)
        } else if let Some(v) = value.strip_suffix('s') {
            (v, 1.0)
        } else {
            anyhow::bail!("unreadable duration '{value}'")
        };
        Ok(Duration::from_secs_f64(number.parse::<f64>()? * scale))
    };
    let requests: usize = text
        .lines()
        .find_map(|l| l.trim().split_once(" requests in "))
        .and_then(|(n, _)| n.trim().parse().ok())
        .context("no request count in wrk's report")?;
    Ok(LoadResult {
        requests,
        p50: duration("50%")?,
        p99: duration("99%")?,
        requests_per_second: field("Requests/sec:")?.parse()?,
    })
}
