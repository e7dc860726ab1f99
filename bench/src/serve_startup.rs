//! The `serve-startup` benchmark: how fast `greenroom serve` becomes ready, and
//! how much memory it holds while idle.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::{median, say};

/// Kills the server if the benchmark stops early, so nothing is left running.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl Server {
    fn stop(mut self) -> anyhow::Result<()> {
        let pid = self.0.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(status) = self.0.try_wait()? {
                anyhow::ensure!(status.success(), "server exited with {status}");
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        bail!("server did not stop within 10 s of SIGTERM")
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// One plain HTTP/1.1 GET on loopback: the status line's code and the body,
/// or `None` while nothing listens on the port.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let code = response.get(9..12)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Some((code, body))
}

fn ready(port: u16) -> bool {
    matches!(get(port, READINESS), Some((200, _)))
}

const READINESS: &str = "/.backstage/health/v1/readiness";
/// The catalog request timed after each start: one page with its total, which
/// the catalog can only answer once it knows every entity. While the index
/// loads, the database answers it.
const FIRST_PAGE: &str = "/api/catalog/entities/by-query?limit=1";
/// The same page ordered by name, which only the loaded index answers: its time
/// is the time until every read is served from memory.
const SORTED_PAGE: &str = "/api/catalog/entities/by-query?limit=1&orderField=metadata.name,asc";

/// `totalItems` of a catalog answer when it is a 200 (chunked bodies are
/// searched as they are: the number is on one line).
fn total_items(port: u16, path: &str) -> Option<u64> {
    let (code, body) = get(port, path)?;
    if code != 200 {
        return None;
    }
    let at = body.find("\"totalItems\":")? + "\"totalItems\":".len();
    let digits: String = body[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Polls `path` every millisecond until its `totalItems` reaches `expected`.
fn wait_for_total(
    port: u16,
    path: &str,
    expected: u64,
    deadline: Instant,
    what: &str,
) -> anyhow::Result<()> {
    while total_items(port, path).is_none_or(|total| total < expected) {
        anyhow::ensure!(
            Instant::now() < deadline,
            "{what} never answered with every entity"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

fn spawn(binary: &Path, dir: &Path) -> anyhow::Result<Server> {
    let child = Command::new(binary)
        .args(["serve", "--config", "app-config.yaml"])
        .current_dir(dir)
        .env("LOG_LEVEL", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    Ok(Server(child))
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmRSS in /proc status")
}

pub(crate) fn run(binary: &Path, rounds: usize, entities: usize) -> anyhow::Result<()> {
    let binary = std::fs::canonicalize(binary).with_context(|| {
        format!(
            "{}: build it with cargo build --release -p greenroom",
            binary.display()
        )
    })?;
    let dir = std::env::temp_dir().join(format!("greenroom-bench-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let port = free_port()?;
    // With entities: the bench's generated catalog, listed by one root Location.
    let (catalog, expected) = if entities > 0 {
        std::fs::create_dir_all(dir.join("catalog"))?;
        let (root, extra) = crate::catalog::write_catalog(&dir.join("catalog"), entities, false)?;
        let catalog = format!(
            "catalog:\n  rules:\n    - allow: [Component, System, API, Resource, Location, Domain, Group, User, Template]\n  locations:\n    - type: file\n      target: {}\n",
            root.display()
        );
        // Every generated entity, the root Location and the configured location's
        // generated one.
        (catalog, (entities + 2 + extra) as u64)
    } else {
        (String::new(), 0)
    };
    std::fs::write(
        dir.join("app-config.yaml"),
        format!(
            "backend:\n  baseUrl: http://127.0.0.1:{port}\n  listen: \"127.0.0.1:{port}\"\n  database:\n    client: better-sqlite3\n    connection:\n      directory: ./data\n  cache:\n    store: memory\n{catalog}"
        ),
    )?;

    // The first start creates the data directory and runs migrations; it is not timed.
    let first = spawn(&binary, &dir)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready(port) {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the first start never became ready"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    if entities > 0 {
        // The first start ingests the catalog; the timed starts find it stored.
        let deadline = Instant::now() + Duration::from_secs(900);
        while total_items(port, FIRST_PAGE).unwrap_or(0) < expected {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the catalog was not ingested within 15 minutes"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        // Relation peers may still be waiting in the stitch queue.
        std::thread::sleep(Duration::from_secs(10));
    }
    std::thread::sleep(Duration::from_secs(1));
    let idle_rss = rss_kib(first.0.id())?;
    first.stop()?;

    let mut baseline = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        let status = Command::new(&binary)
            .arg("--version")
            .stdout(Stdio::null())
            .status()?;
        baseline.push(start.elapsed());
        anyhow::ensure!(status.success(), "--version failed");
    }

    let mut samples = Vec::with_capacity(rounds);
    let mut first_pages = Vec::with_capacity(rounds);
    let mut sorted_pages = Vec::with_capacity(rounds);
    let mut restarted_rss = None;
    for _ in 0..rounds {
        let start = Instant::now();
        let server = spawn(&binary, &dir)?;
        let deadline = start + Duration::from_secs(120);
        loop {
            if ready(port) {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "never became ready");
            std::thread::sleep(Duration::from_millis(1));
        }
        samples.push(start.elapsed());
        if entities > 0 {
            // The first catalog answer that counts every stored entity, then
            // the first one that needs the loaded index.
            wait_for_total(port, FIRST_PAGE, expected, deadline, "the catalog")?;
            first_pages.push(start.elapsed());
            wait_for_total(port, SORTED_PAGE, expected, deadline, "the index")?;
            sorted_pages.push(start.elapsed());
            if first_pages.len() == rounds {
                // The last start settles before its memory is read: the configured
                // root Location is processed again after the start.
                std::thread::sleep(Duration::from_secs(15));
                restarted_rss = Some(rss_kib(server.0.id())?);
            }
        }
        server.stop()?;
    }
    if std::env::var_os("GREENROOM_BENCH_KEEP").is_some() {
        say(&format!("  data directory kept: {}", dir.display()));
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }

    let ready_median = median(samples);
    let base_median = median(baseline);
    say(&format!(
        "serve-startup: {rounds} rounds on an existing SQLite data directory with {entities} generated entities (median)"
    ));
    say(&format!(
        "  baseline  greenroom --version       median {:>8.1} ms",
        base_median.as_secs_f64() * 1e3
    ));
    say(&format!(
        "  measured  serve to first ready 200  median {:>8.1} ms",
        ready_median.as_secs_f64() * 1e3
    ));
    say(&format!(
        "  ratio     ready / process start     {:.1}x",
        ready_median.as_secs_f64() / base_median.as_secs_f64()
    ));
    if !first_pages.is_empty() {
        let page_median = median(first_pages);
        say(&format!(
            "  measured  serve to first full page  median {:>8.1} ms   ({expected} entities)",
            page_median.as_secs_f64() * 1e3
        ));
        say(&format!(
            "  ratio     first page / process start {:.1}x",
            page_median.as_secs_f64() / base_median.as_secs_f64()
        ));
        let sorted_median = median(sorted_pages);
        say(&format!(
            "  measured  serve to first page by name (index loaded) median {:>8.1} ms",
            sorted_median.as_secs_f64() * 1e3
        ));
    }
    if let Some(rss) = restarted_rss {
        say(&format!(
            "  RSS 15 s after the last start     {:.1} MiB",
            rss as f64 / 1024.0
        ));
    }
    say(&format!(
        "  idle RSS after start              {:.1} MiB",
        idle_rss as f64 / 1024.0
    ));
    Ok(())
}
