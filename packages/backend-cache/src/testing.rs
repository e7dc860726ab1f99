//! Test helpers for crates that exercise caches against real servers: unique
//! Redis namespaces with clean-up, and private `redis-server` / `memcached`
//! processes on free loopback ports that can be stopped and restarted.
//!
//! Only built with the `testing` feature. Processes are killed when their
//! [`ServerProcess`] is dropped, so a failing test leaves nothing running.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The shared Redis that the local test environment provides.
pub const LOCAL_REDIS_URL: &str = "redis://127.0.0.1:6379";
/// The shared memcached that the local test environment provides.
pub const LOCAL_MEMCACHED: &str = "127.0.0.1:11211";

/// A namespace no other test (in this or another process) uses, such as
/// `gr_test_1234_5f3a_7`.
pub fn unique_namespace() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "gr_test_{}_{nanos:x}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Deletes every key that starts with `prefix` from the Redis at `url`.
///
/// Synchronous so that it can run from a `Drop` guard; see [`RedisCleanup`].
pub fn delete_redis_keys(url: &str, prefix: &str) -> redis::RedisResult<usize> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_connection_with_timeout(Duration::from_secs(2))?;
    let pattern = format!("{}*", escape_glob(prefix));
    let mut cursor: u64 = 0;
    let mut deleted = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query(&mut conn)?;
        if !batch.is_empty() {
            let n: usize = redis::cmd("DEL").arg(&batch).query(&mut conn)?;
            deleted += n;
        }
        if next == 0 {
            return Ok(deleted);
        }
        cursor = next;
    }
}

/// Deletes a test's Redis keys when dropped, also when the test panics.
#[derive(Debug)]
pub struct RedisCleanup {
    url: String,
    prefix: String,
}

impl RedisCleanup {
    /// Guards every key under `prefix` in the Redis at `url`.
    pub fn new(url: &str, prefix: &str) -> Self {
        Self {
            url: url.to_owned(),
            prefix: prefix.to_owned(),
        }
    }
}

impl Drop for RedisCleanup {
    fn drop(&mut self) {
        if let Err(e) = delete_redis_keys(&self.url, &self.prefix) {
            tracing::warn!("could not delete test keys under '{}': {e}", self.prefix);
        }
    }
}

/// Every key in the Redis at `url` that starts with `prefix`, found with SCAN.
pub async fn redis_keys(url: &str, prefix: &str) -> redis::RedisResult<Vec<String>> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let pattern = format!("{}*", escape_glob(prefix));
    let mut cursor: u64 = 0;
    let mut keys = Vec::new();
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await?;
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    keys.sort();
    keys.dedup();
    Ok(keys)
}

fn escape_glob(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Which server a [`ServerProcess`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    Redis,
    Memcached,
}

/// A private `redis-server` or `memcached` on a loopback port, killed on drop.
#[derive(Debug)]
pub struct ServerProcess {
    kind: ServerKind,
    port: u16,
    child: Option<Child>,
}

impl ServerProcess {
    /// Starts `redis-server` without persistence on a free loopback port.
    pub fn redis() -> io::Result<ServerProcess> {
        Self::start(ServerKind::Redis, free_port()?)
    }

    /// Starts `memcached` on a free loopback port.
    pub fn memcached() -> io::Result<ServerProcess> {
        Self::start(ServerKind::Memcached, free_port()?)
    }

    /// Starts a server on `port` and waits until it accepts connections.
    pub fn start(kind: ServerKind, port: u16) -> io::Result<ServerProcess> {
        let mut process = ServerProcess {
            kind,
            port,
            child: None,
        };
        process.restart()?;
        Ok(process)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>` or `127.0.0.1:<port>`, as `backend.cache.connection` takes it.
    pub fn connection(&self) -> String {
        match self.kind {
            ServerKind::Redis => format!("redis://127.0.0.1:{}", self.port),
            ServerKind::Memcached => format!("127.0.0.1:{}", self.port),
        }
    }

    /// Whether the process is running.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills the server (SIGKILL, as in a crash) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Both calls fail only when the process is already gone.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (stopping it first if running).
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop();
        let port = self.port.to_string();
        let mut command = match self.kind {
            ServerKind::Redis => {
                let mut c = Command::new("redis-server");
                c.args([
                    "--port",
                    &port,
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ]);
                c
            }
            ServerKind::Memcached => {
                let mut c = Command::new("memcached");
                c.args(["-l", "127.0.0.1", "-p", &port, "-U", "0", "-u", "root"]);
                c
            }
        };
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.child = Some(command.spawn()?);
        self.wait_until_listening(Duration::from_secs(10))
    }

    fn wait_until_listening(&mut self, limit: Duration) -> io::Result<()> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let started = Instant::now();
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                self.child = None;
                return Err(io::Error::other(format!(
                    "{:?} on port {} exited at start-up with {status}",
                    self.kind, self.port
                )));
            }
            if started.elapsed() > limit {
                self.stop();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "{:?} did not listen on port {} in time",
                        self.kind, self.port
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
