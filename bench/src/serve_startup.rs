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

fn ready(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let request = "GET /.backstage/health/v1/readiness HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200")
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

pub(crate) fn run(binary: &Path, rounds: usize) -> anyhow::Result<()> {
    let binary = std::fs::canonicalize(binary).with_context(|| {
        format!(
            "{}: build it with cargo build --release -p greenroom",
            binary.display()
        )
    })?;
    let dir = std::env::temp_dir().join(format!("greenroom-bench-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let port = free_port()?;
    std::fs::write(
        dir.join("app-config.yaml"),
        format!(
            "backend:\n  baseUrl: http://127.0.0.1:{port}\n  listen: \"127.0.0.1:{port}\"\n  database:\n    client: better-sqlite3\n    connection:\n      directory: ./data\n  cache:\n    store: memory\n"
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
    for _ in 0..rounds {
        let start = Instant::now();
        let server = spawn(&binary, &dir)?;
        let deadline = start + Duration::from_secs(30);
        loop {
            if ready(port) {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "never became ready");
            std::thread::sleep(Duration::from_millis(1));
        }
        samples.push(start.elapsed());
        server.stop()?;
    }
    let _ = std::fs::remove_dir_all(&dir);

    let ready_median = median(samples);
    let base_median = median(baseline);
    say(&format!(
        "serve-startup: {rounds} rounds on an existing SQLite data directory (median)"
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
    say(&format!(
        "  idle RSS after start              {:.1} MiB",
        idle_rss as f64 / 1024.0
    ));
    Ok(())
}
