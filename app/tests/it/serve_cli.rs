//! `greenroom serve`: starts, becomes ready, exits 0 on SIGTERM; bad config exits 1.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::temp_dir;

/// Kills the server if a test ends before it exited, so no process is left behind.
struct ServerGuard(Child);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl ServerGuard {
    /// Waits up to `limit` for the process to exit.
    fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.0.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts `greenroom serve --config <dir>/app-config.yaml` holding `yaml`;
/// output goes to files in `dir`.
fn spawn_serve(dir: &Path, yaml: &str) -> ServerGuard {
    let config = dir.join("app-config.yaml");
    std::fs::write(&config, yaml).expect("config written");
    let mut command = Command::new(env!("CARGO_BIN_EXE_greenroom"));
    command
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(File::create(dir.join("stdout.log")).expect("stdout file"))
        .stderr(File::create(dir.join("stderr.log")).expect("stderr file"));
    for (key, _) in std::env::vars() {
        if key.starts_with("APP_CONFIG_") || key == "BACKSTAGE_ENV" || key.starts_with("LOG_") {
            command.env_remove(key);
        }
    }
    ServerGuard(command.spawn().expect("greenroom starts"))
}

/// The status code of `GET path`, or `None` when nothing answers.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split(' ').nth(1)?.parse().ok()
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

#[test]
fn serve_becomes_ready_and_exits_zero_on_sigterm() {
    let dir = temp_dir("serve-ok");
    let port = free_port();
    let mut server = spawn_serve(
        &dir,
        &format!("backend:\n  baseUrl: http://localhost:{port}\n  listen: \"127.0.0.1:{port}\"\n"),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut ready = None;
    while Instant::now() < deadline && ready != Some(200) {
        ready = http_status(port, "/.backstage/health/v1/readiness");
        assert!(
            matches!(server.0.try_wait(), Ok(None)),
            "server exited early: {}",
            read(&dir, "stderr.log")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        ready,
        Some(200),
        "readiness; stderr: {}",
        read(&dir, "stderr.log")
    );
    assert_eq!(
        http_status(port, "/.backstage/health/v1/liveness"),
        Some(200)
    );
    assert_eq!(http_status(port, "/api/nothing"), Some(404));

    let killed = Command::new("kill")
        .arg("-TERM")
        .arg(server.0.id().to_string())
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("server exits after SIGTERM");
    assert_eq!(
        status.code(),
        Some(0),
        "stderr: {}",
        read(&dir, "stderr.log")
    );
    let log = read(&dir, "stdout.log");
    assert!(
        log.contains(&format!("listening on 127.0.0.1:{port}")),
        "{log}"
    );
    assert!(log.contains("received SIGTERM"), "{log}");
}

#[test]
fn serve_fails_with_exit_one_on_bad_config() {
    // (case, config text, fragment expected on stderr)
    let rows = [
        (
            "B01 bad listen address",
            "backend:\n  baseUrl: http://localhost:7007\n  listen: abc\n",
            "backend.listen",
        ),
        (
            "B02 bare number listen",
            "backend:\n  baseUrl: http://localhost:7007\n  listen: 7007\n",
            "backend.listen",
        ),
        (
            "B03 bad log level",
            "backend:\n  baseUrl: http://localhost:7007\n  logger:\n    level: loud\n",
            "backend.logger.level",
        ),
        (
            "B04 unknown cache store",
            "backend:\n  baseUrl: http://localhost:7007\n  listen: \"127.0.0.1:0\"\n  cache:\n    store: floppy\n",
            "backend.cache.store",
        ),
        (
            "B05 bad database connection string",
            "backend:\n  baseUrl: http://localhost:7007\n  listen: \"127.0.0.1:0\"\n  database:\n    client: pg\n    connection: 'postgres://[::1'\n",
            "backend.database.connection",
        ),
        (
            "B06 bad cache duration",
            "backend:\n  baseUrl: http://localhost:7007\n  listen: \"127.0.0.1:0\"\n  cache:\n    defaultTtl: soon\n",
            "backend.cache.defaultTtl",
        ),
        (
            "B07 bad task frequency",
            "backend:\n  baseUrl: http://localhost:7007\n  listen: \"127.0.0.1:0\"\nannouncements:\n  expiry:\n    frequency: { fortnights: 1 }\n",
            "announcements.expiry.frequency",
        ),
        (
            "B09 missing backend.baseUrl",
            "backend:\n  listen: \"127.0.0.1:0\"\n",
            "missingProperty=baseUrl",
        ),
        (
            "B08 unknown database client",
            "backend:\n  baseUrl: http://localhost:7007\n  listen: \"127.0.0.1:0\"\n  database:\n    client: oracle\n",
            "backend.database.client",
        ),
    ];
    for (case, yaml, fragment) in rows {
        let dir = temp_dir("serve-bad");
        let mut server = spawn_serve(&dir, yaml);
        let status = server
            .wait_exit(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("case {case}: server exits"));
        let stderr = read(&dir, "stderr.log");
        assert_eq!(status.code(), Some(1), "case {case}: {stderr}");
        // A schema error names the key as a JSON pointer, a settings check in dotted form.
        let pointer = format!("/{}", fragment.replace('.', "/"));
        assert!(
            stderr.contains(fragment) || stderr.contains(&pointer),
            "case {case}: {stderr}"
        );
    }
}

/// Waits until readiness answers 200, failing the test if the server exits first.
fn wait_ready(server: &mut ServerGuard, dir: &Path, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if http_status(port, "/.backstage/health/v1/readiness") == Some(200) {
            return;
        }
        assert!(
            matches!(server.0.try_wait(), Ok(None)),
            "server exited early: {}",
            read(dir, "stderr.log")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("not ready in time: {}", read(dir, "stderr.log"));
}

#[test]
fn sigterm_lets_a_slow_in_flight_request_finish_then_exits_zero() {
    let dir = temp_dir("serve-inflight");
    let port = free_port();
    let mut server = spawn_serve(
        &dir,
        &format!("backend:\n  baseUrl: http://localhost:{port}\n  listen: \"127.0.0.1:{port}\"\n"),
    );
    wait_ready(&mut server, &dir, port);

    // A client that sends its request body slowly keeps the request in flight
    // across the signal: half the body, SIGTERM, a pause, then the rest.
    let body = r#"{"title":"Sent slowly across a shutdown"}"#;
    let (first, second) = body.split_at(body.len() / 2);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout set");
    write!(
        stream,
        "POST /api/announcements/announcements HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{first}",
        body.len()
    )
    .expect("first half sent");
    stream.flush().expect("flushed");
    std::thread::sleep(Duration::from_millis(200));

    let killed = Command::new("kill")
        .arg("-TERM")
        .arg(server.0.id().to_string())
        .status()
        .expect("kill runs");
    assert!(killed.success());
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        matches!(server.0.try_wait(), Ok(None)),
        "the server must wait for the request in flight"
    );

    stream
        .write_all(second.as_bytes())
        .expect("second half sent");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response read");
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    assert!(
        response.contains("Sent slowly across a shutdown"),
        "{response}"
    );

    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("server exits after the request");
    assert_eq!(
        status.code(),
        Some(0),
        "stderr: {}",
        read(&dir, "stderr.log")
    );
    // New connections are refused once shutdown has begun.
    assert_eq!(http_status(port, "/.backstage/health/v1/liveness"), None);
}
