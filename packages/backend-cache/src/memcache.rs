//! The `memcache` store: memcached's ASCII protocol (`get`, `set`, `delete`)
//! spoken directly over tokio TCP streams, with a small pool of idle
//! connections per server.
//!
//! With several servers (`connection: host1:11211,host2:11211`) each key goes
//! to one server chosen by a hash of the stored key, as memcached clients do.
//! A connection that saw any error or timeout is dropped rather than reused, so
//! the next operation reconnects by itself once the server is back.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::key::{base64, normalise_key, sha256};
use crate::outage::Outage;
use crate::store::Store;

/// The longest key memcached accepts.
const MAX_KEY_LEN: usize = 250;
/// The longest reply line read before the server is judged to be misbehaving.
const MAX_LINE: u64 = 1024;
/// The largest value read back; memcached's default item limit is 1 MiB.
const MAX_VALUE: usize = 64 * 1024 * 1024;
/// Expiry times above this many seconds are read by memcached as unix times.
const RELATIVE_EXPIRY_LIMIT: u64 = 30 * 24 * 60 * 60;
/// Idle connections kept per server.
const POOL_SIZE: usize = 4;

/// One memcached server address as configured (`host:port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerAddr {
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl fmt::Display for ServerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Reads `host:port[,host:port...]`, with an optional `memcache://` or
/// `memcached://` scheme and IPv6 hosts in brackets.
pub(crate) fn parse_servers(connection: &str) -> Result<Vec<ServerAddr>, String> {
    let mut servers = Vec::new();
    for part in connection.split(',') {
        let part = part.trim();
        let part = part
            .strip_prefix("memcache://")
            .or_else(|| part.strip_prefix("memcached://"))
            .unwrap_or(part)
            .trim_end_matches('/');
        if part.contains('@') {
            return Err(format!(
                "'{part}': credentials are not supported, memcached's text protocol has no authentication"
            ));
        }
        let (host, port) = if let Some(rest) = part.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("'{part}' is not host:port"))?;
            let port = after
                .strip_prefix(':')
                .ok_or_else(|| format!("'{part}' is not host:port"))?;
            (host, port)
        } else {
            part.rsplit_once(':')
                .ok_or_else(|| format!("'{part}' is not host:port"))?
        };
        let host_ok = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
        if !host_ok {
            return Err(format!("'{part}' has an invalid host"));
        }
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("'{part}' has an invalid port"))?;
        servers.push(ServerAddr {
            host: host.to_owned(),
            port,
        });
    }
    Ok(servers)
}

#[derive(Debug, thiserror::Error)]
enum McError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("unexpected reply {0:?}")]
    Protocol(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// What a command expects back.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Value,
    Stored,
    Deleted,
}

#[derive(Debug)]
struct Server {
    addr: ServerAddr,
    idle: Mutex<Vec<BufReader<TcpStream>>>,
    outage: Outage,
}

impl Server {
    async fn connect(&self) -> Result<BufReader<TcpStream>, McError> {
        let stream = TcpStream::connect((self.addr.host.as_str(), self.addr.port)).await?;
        stream.set_nodelay(true)?;
        Ok(BufReader::new(stream))
    }

    fn take_idle(&self) -> Option<BufReader<TcpStream>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    fn give_back(&self, conn: BufReader<TcpStream>) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < POOL_SIZE {
            idle.push(conn);
        }
    }

    /// Sends one request and reads its reply, within `timeout` overall.
    ///
    /// An idle connection may have been closed by a server restart since it was
    /// pooled; when it fails with an I/O error the pool is emptied and the
    /// request is sent once more on a fresh connection. All three commands are
    /// idempotent, so the retry is safe.
    async fn exec(
        &self,
        request: &[u8],
        expect: Expect,
        timeout: Duration,
    ) -> Result<Option<Vec<u8>>, McError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let timed_out = || McError::Timeout(timeout);
        if let Some(conn) = self.take_idle() {
            match tokio::time::timeout_at(deadline, round_trip(conn, request, expect)).await {
                Ok(Ok((conn, reply))) => {
                    self.give_back(conn);
                    return Ok(reply);
                }
                Ok(Err(McError::Io(_))) => {
                    self.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(timed_out()),
            }
        }
        let work = async {
            let conn = self.connect().await?;
            round_trip(conn, request, expect).await
        };
        let (conn, reply) = tokio::time::timeout_at(deadline, work)
            .await
            .map_err(|_| timed_out())??;
        // Only a connection whose reply was read completely is reused.
        self.give_back(conn);
        Ok(reply)
    }
}

async fn round_trip(
    mut conn: BufReader<TcpStream>,
    request: &[u8],
    expect: Expect,
) -> Result<(BufReader<TcpStream>, Option<Vec<u8>>), McError> {
    conn.get_mut().write_all(request).await?;
    let reply = read_reply(&mut conn, expect).await?;
    Ok((conn, reply))
}

async fn read_line(conn: &mut BufReader<TcpStream>) -> Result<String, McError> {
    let mut line = Vec::new();
    (&mut *conn)
        .take(MAX_LINE)
        .read_until(b'\n', &mut line)
        .await?;
    if line.is_empty() {
        return Err(McError::Io(std::io::ErrorKind::UnexpectedEof.into()));
    }
    let Some(body) = line.strip_suffix(b"\r\n") else {
        return Err(McError::Protocol(
            String::from_utf8_lossy(&line).into_owned(),
        ));
    };
    Ok(String::from_utf8_lossy(body).into_owned())
}

async fn read_reply(
    conn: &mut BufReader<TcpStream>,
    expect: Expect,
) -> Result<Option<Vec<u8>>, McError> {
    let line = read_line(conn).await?;
    match (expect, line.as_str()) {
        (Expect::Value, "END") => Ok(None),
        (Expect::Value, header) if header.starts_with("VALUE ") => {
            // VALUE <key> <flags> <bytes> [<cas>]
            let len = header
                .split(' ')
                .nth(3)
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|n| *n <= MAX_VALUE)
                .ok_or_else(|| McError::Protocol(header.to_owned()))?;
            let mut data = vec![0u8; len + 2];
            conn.read_exact(&mut data).await?;
            if !data.ends_with(b"\r\n") {
                return Err(McError::Protocol("value not terminated by CRLF".to_owned()));
            }
            data.truncate(len);
            let end = read_line(conn).await?;
            if end != "END" {
                return Err(McError::Protocol(end));
            }
            Ok(Some(data))
        }
        (Expect::Stored, "STORED") | (Expect::Deleted, "DELETED" | "NOT_FOUND") => Ok(None),
        (_, other) => Err(McError::Protocol(other.to_owned())),
    }
}

/// The `exptime` field for a TTL: whole seconds rounded up, or an absolute
/// unix time beyond memcached's 30-day relative limit.
fn exptime(ttl: Option<Duration>, now: SystemTime) -> u64 {
    let Some(ttl) = ttl else { return 0 };
    let secs = ttl.as_millis().div_ceil(1000).max(1);
    let secs = u64::try_from(secs).unwrap_or(u64::MAX);
    if secs <= RELATIVE_EXPIRY_LIMIT {
        return secs;
    }
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    // memcached reads the field as a signed 32-bit number.
    now.saturating_add(secs).min(i32::MAX as u64)
}

/// One or more memcached servers.
#[derive(Debug)]
pub(crate) struct MemcacheStore {
    servers: Vec<Server>,
    timeout: Duration,
}

impl MemcacheStore {
    pub(crate) fn new(addrs: Vec<ServerAddr>, timeout: Duration) -> Self {
        let servers = addrs
            .into_iter()
            .map(|addr| Server {
                outage: Outage::new(format!("memcache {addr}")),
                addr,
                idle: Mutex::new(Vec::new()),
            })
            .collect();
        Self { servers, timeout }
    }

    fn stored_key(namespace: &str, key: &str) -> String {
        let full = format!("{namespace}:{}", normalise_key(key));
        if full.len() <= MAX_KEY_LEN {
            full
        } else {
            // A long plugin id could push the key past memcached's limit.
            base64(&sha256(full.as_bytes()))
        }
    }

    fn server_for(&self, stored_key: &str) -> Option<&Server> {
        // FNV-1a: stable across processes, so every instance picks the same server.
        let hash = stored_key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let index = usize::try_from(hash % self.servers.len().max(1) as u64).unwrap_or(0);
        self.servers.get(index)
    }

    async fn call(&self, key: &str, request: Vec<u8>, expect: Expect) -> Option<Vec<u8>> {
        let server = self.server_for(key)?;
        match server.exec(&request, expect, self.timeout).await {
            Ok(reply) => {
                server.outage.succeeded();
                reply
            }
            Err(e) => {
                server.outage.failed(&e);
                None
            }
        }
    }
}

#[async_trait]
impl Store for MemcacheStore {
    fn namespace(&self, plugin_id: &str) -> String {
        plugin_id.to_owned()
    }

    async fn get(&self, namespace: &str, key: &str) -> Option<String> {
        let key = Self::stored_key(namespace, key);
        let request = format!("get {key}\r\n").into_bytes();
        let data = self.call(&key, request, Expect::Value).await?;
        String::from_utf8(data).ok()
    }

    async fn set(&self, namespace: &str, key: &str, text: String, ttl: Option<Duration>) {
        let key = Self::stored_key(namespace, key);
        let exptime = exptime(ttl, SystemTime::now());
        let mut request = format!("set {key} 0 {exptime} {}\r\n", text.len()).into_bytes();
        request.extend_from_slice(text.as_bytes());
        request.extend_from_slice(b"\r\n");
        self.call(&key, request, Expect::Stored).await;
    }

    async fn delete(&self, namespace: &str, key: &str) {
        let key = Self::stored_key(namespace, key);
        let request = format!("delete {key}\r\n").into_bytes();
        self.call(&key, request, Expect::Deleted).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exptime_rounds_up_and_switches_to_absolute_after_30_days() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let rows = [
            (None, 0),
            (Some(Duration::from_millis(1)), 1),
            (Some(Duration::from_millis(1000)), 1),
            (Some(Duration::from_millis(1001)), 2),
            (
                Some(Duration::from_secs(RELATIVE_EXPIRY_LIMIT)),
                RELATIVE_EXPIRY_LIMIT,
            ),
            (
                Some(Duration::from_secs(RELATIVE_EXPIRY_LIMIT + 1)),
                1_700_000_000 + RELATIVE_EXPIRY_LIMIT + 1,
            ),
            (Some(Duration::from_secs(u64::MAX / 4)), i32::MAX as u64),
        ];
        for (ttl, expected) in rows {
            assert_eq!(exptime(ttl, now), expected, "{ttl:?}");
        }
    }

    #[test]
    fn server_lists() {
        let ok = [
            ("127.0.0.1:11211", vec![("127.0.0.1", 11211)]),
            ("memcache://cache:11211/", vec![("cache", 11211)]),
            ("a:1, b:2", vec![("a", 1), ("b", 2)]),
            ("[::1]:11211", vec![("::1", 11211)]),
        ];
        for (input, expected) in ok {
            let got = parse_servers(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            let got: Vec<_> = got.iter().map(|s| (s.host.as_str(), s.port)).collect();
            assert_eq!(got, expected, "{input}");
        }
        for bad in [
            "",
            "host",
            "host:",
            "host:0",
            "host:99999",
            "a b:1",
            "u:p@h:1",
            "h:1,",
        ] {
            assert!(parse_servers(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn long_namespaces_still_give_valid_keys() {
        let key = MemcacheStore::stored_key(&"p".repeat(300), "k");
        assert!(key.len() <= MAX_KEY_LEN);
        assert!(key.bytes().all(|b| b > b' ' && b != 0x7f), "{key}");
        assert_eq!(MemcacheStore::stored_key("p", "k"), "p:aw==");
    }
}
