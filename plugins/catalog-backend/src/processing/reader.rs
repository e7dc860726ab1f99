//! Reading location and placeholder targets: local files (bounded in size) and
//! HTTP(S) URLs on hosts allowed by `backend.reading.allow` (bounded in size and
//! time, redirects only to allowed hosts).

use std::path::{Path, PathBuf};
use std::time::Duration;

use greenroom_catalog_model::placeholder::{PlaceholderReader, ReadError, ReadTarget};
use url::Url;

/// The largest file a location or placeholder may read (the YAML parser's own limit).
pub const MAX_FILE_BYTES: u64 = greenroom_catalog_model::yaml::MAX_DOCUMENT_BYTES as u64;
/// The largest response body a URL read accepts.
pub const MAX_URL_BYTES: usize = 10 * 1024 * 1024;
/// How long one URL read may take, connection included.
pub const URL_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads files and allowed URLs.
#[derive(Debug, Clone)]
pub struct Reader {
    client: reqwest::Client,
    allow: Vec<(String, Vec<String>)>,
    cwd: PathBuf,
}

impl Reader {
    /// A reader for the hosts of `allow` (`(host, path prefixes)`, the host
    /// optionally `*.`-prefixed or carrying a port); relative file paths resolve
    /// against `cwd`.
    pub fn new(allow: Vec<(String, Vec<String>)>, cwd: PathBuf) -> Reader {
        let redirect_allow = allow.clone();
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 5 {
                attempt.error("too many redirects")
            } else if is_allowed(&redirect_allow, attempt.url()) {
                attempt.follow()
            } else {
                attempt.error("redirect to a host that is not allowed")
            }
        });
        let client = reqwest::Client::builder()
            .timeout(URL_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .redirect(policy)
            .build()
            .unwrap_or_default();
        Reader { client, allow, cwd }
    }

    /// The absolute form of a file target.
    pub fn absolute(&self, target: &str) -> PathBuf {
        let path = Path::new(target);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.cwd.join(path)
        }
    }

    /// Reads a whole file as UTF-8 text.
    pub async fn read_file(&self, path: &Path) -> Result<String, ReadError> {
        let meta = match tokio::fs::metadata(path).await {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ReadError::NotFound(format!(
                    "file {} does not exist",
                    path.display()
                )));
            }
            Err(e) => return Err(ReadError::Other(e.to_string())),
        };
        if !meta.is_file() {
            return Err(ReadError::NotFound(format!(
                "file {} does not exist",
                path.display()
            )));
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(ReadError::Other(format!(
                "file {} is {} bytes, more than the limit of {MAX_FILE_BYTES} bytes",
                path.display(),
                meta.len()
            )));
        }
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|e| ReadError::Other(e.to_string()))?;
        String::from_utf8(bytes)
            .map_err(|_| ReadError::Other(format!("file {} is not valid UTF-8", path.display())))
    }

    /// Reads a URL as UTF-8 text: `NotFound` on 404, `NotAllowed` when the host is
    /// not on the allow-list.
    pub async fn read_url(&self, target: &str) -> Result<String, ReadError> {
        let url = Url::parse(target)
            .map_err(|e| ReadError::Other(format!("invalid URL {target}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || !is_allowed(&self.allow, &url) {
            return Err(ReadError::NotAllowed(format!(
                "Reading from '{target}' is not allowed. You may need to configure an integration for the target host, or add it to the configured list of allowed hosts at 'backend.reading.allow'"
            )));
        }
        let mut response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| ReadError::Other(format!("could not read {target}, {e}")))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(ReadError::NotFound(format!("{target} could not be found")));
        }
        if !status.is_success() {
            return Err(ReadError::Other(format!(
                "could not read {target}, {status}"
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| ReadError::Other(format!("could not read {target}, {e}")))?
        {
            if body.len() + chunk.len() > MAX_URL_BYTES {
                return Err(ReadError::Other(format!(
                    "{target} is larger than the limit of {MAX_URL_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body)
            .map_err(|_| ReadError::Other(format!("{target} is not valid UTF-8")))
    }
}

/// Whether `backend.reading.allow` covers the URL: the host (with the port when the
/// URL names one) equals an entry, or ends with a `*.`-entry's suffix, and the path
/// starts with one of the entry's prefixes when it lists any.
fn is_allowed(allow: &[(String, Vec<String>)], url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    allow.iter().any(|(allowed, paths)| {
        let host_ok = match allowed.strip_prefix('*') {
            Some(suffix) if suffix.starts_with('.') => host.ends_with(suffix),
            _ => host.eq_ignore_ascii_case(allowed),
        };
        host_ok && (paths.is_empty() || paths.iter().any(|p| url.path().starts_with(p.as_str())))
    })
}

impl PlaceholderReader for Reader {
    fn read(&self, target: &ReadTarget) -> impl Future<Output = Result<String, ReadError>> + Send {
        let target = target.clone();
        async move {
            match target.location_type.as_str() {
                "file" => self.read_file(Path::new(&target.target)).await,
                "url" => self.read_url(&target.target).await,
                other => Err(ReadError::NotAllowed(format!(
                    "cannot read {other} targets"
                ))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_matches_hosts_ports_wildcards_and_paths() {
        let allow = vec![
            ("example.com".to_owned(), vec![]),
            ("*.corp.net".to_owned(), vec!["/docs/".to_owned()]),
            ("127.0.0.1:8080".to_owned(), vec![]),
        ];
        let rows = [
            ("https://example.com/x", true),
            ("https://sub.example.com/x", false),
            ("https://a.corp.net/docs/x", true),
            ("https://a.corp.net/other", false),
            ("https://corp.net/docs/x", false),
            ("http://127.0.0.1:8080/x", true),
            ("http://127.0.0.1:9090/x", false),
        ];
        for (url, expected) in rows {
            let parsed = Url::parse(url).expect("test URL");
            assert_eq!(is_allowed(&allow, &parsed), expected, "{url}");
        }
    }
}
