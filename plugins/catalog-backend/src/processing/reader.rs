//! Reading location and placeholder targets: local files (bounded in size) and
//! HTTP(S) URLs on hosts allowed by `backend.reading.allow` (bounded in size and
//! time, redirects only to allowed hosts).
//!
//! HTTPS goes through rustls with the ring provider. The trusted roots are the
//! Mozilla set (webpki-roots) plus the PEM certificates of the file named by
//! `NODE_EXTRA_CA_CERTS`, which Backstage users set for their internal CAs; the
//! file is read once per process.

use std::error::Error as StdError;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{Request, StatusCode, header};
use greenroom_catalog_model::placeholder::{PlaceholderReader, ReadError, ReadTarget};
use http_body_util::{BodyExt, Empty};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use url::Url;

/// The largest file a location or placeholder may read (the YAML parser's own limit).
pub const MAX_FILE_BYTES: u64 = greenroom_catalog_model::yaml::MAX_DOCUMENT_BYTES as u64;
/// The largest response body a URL read accepts.
pub const MAX_URL_BYTES: usize = 10 * 1024 * 1024;
/// How long one URL read may take, connection and redirects included.
pub const URL_TIMEOUT: Duration = Duration::from_secs(30);
/// How many redirects one URL read follows.
const MAX_REDIRECTS: usize = 5;
/// The environment variable naming a PEM file of extra trusted CA certificates.
pub(crate) const EXTRA_CA_CERTS_ENV: &str = "NODE_EXTRA_CA_CERTS";
/// The largest `NODE_EXTRA_CA_CERTS` file read.
const MAX_CA_FILE_BYTES: u64 = 4 * 1024 * 1024;

type HttpClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// Reads files and allowed URLs.
#[derive(Debug, Clone)]
pub struct Reader {
    /// An error when no TLS configuration could be built; URL reads then fail
    /// with that reason.
    client: Result<HttpClient, String>,
    allow: Vec<(String, Vec<String>)>,
    cwd: PathBuf,
}

impl Reader {
    /// A reader for the hosts of `allow` (`(host, path prefixes)`, the host
    /// optionally `*.`-prefixed or carrying a port); relative file paths resolve
    /// against `cwd`.
    pub fn new(allow: Vec<(String, Vec<String>)>, cwd: PathBuf) -> Reader {
        let client = tls_config().map(|tls| {
            let mut http = HttpConnector::new();
            // The connector also takes https URLs; the scheme decides.
            http.enforce_http(false);
            http.set_connect_timeout(Some(Duration::from_secs(10)));
            let connector = hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(tls)
                .https_or_http()
                .enable_http1()
                .wrap_connector(http);
            Client::builder(TokioExecutor::new()).build(connector)
        });
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
        let client = self
            .client
            .as_ref()
            .map_err(|e| ReadError::Other(format!("could not read {target}, {e}")))?;
        match tokio::time::timeout(URL_TIMEOUT, self.fetch(client, url, target)).await {
            Ok(result) => result,
            Err(_) => Err(ReadError::Other(format!(
                "could not read {target}, no answer within {} s",
                URL_TIMEOUT.as_secs()
            ))),
        }
    }

    /// One GET, following redirects to allowed hosts only.
    async fn fetch(
        &self,
        client: &HttpClient,
        mut url: Url,
        target: &str,
    ) -> Result<String, ReadError> {
        let fail = |reason: String| ReadError::Other(format!("could not read {target}, {reason}"));
        for _ in 0..=MAX_REDIRECTS {
            let request = Request::get(url.as_str())
                .header(header::USER_AGENT, "greenroom-catalog")
                .body(Empty::new())
                .map_err(|e| fail(e.to_string()))?;
            let response = client
                .request(request)
                .await
                .map_err(|e| fail(error_chain(&e)))?;
            let status = response.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let location = response
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| fail(format!("{status} without a Location header")))?;
                let next = url
                    .join(location)
                    .map_err(|e| fail(format!("invalid redirect to {location}: {e}")))?;
                if !matches!(next.scheme(), "http" | "https") || !is_allowed(&self.allow, &next) {
                    return Err(fail(format!(
                        "redirect to {next}, a host that is not allowed"
                    )));
                }
                url = next;
                continue;
            }
            if status == StatusCode::NOT_FOUND {
                return Err(ReadError::NotFound(format!("{target} could not be found")));
            }
            if !status.is_success() {
                return Err(fail(status.to_string()));
            }
            let mut body = response.into_body();
            let mut bytes = Vec::new();
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| fail(error_chain(&e)))?;
                if let Ok(chunk) = frame.into_data() {
                    if bytes.len() + chunk.len() > MAX_URL_BYTES {
                        return Err(ReadError::Other(format!(
                            "{target} is larger than the limit of {MAX_URL_BYTES} bytes"
                        )));
                    }
                    bytes.extend_from_slice(&chunk);
                }
            }
            return String::from_utf8(bytes)
                .map_err(|_| ReadError::Other(format!("{target} is not valid UTF-8")));
        }
        Err(fail(format!("more than {MAX_REDIRECTS} redirects")))
    }
}

/// An error and its causes, outermost first: the client's own message
/// ("client error (Connect)") says little, the innermost one (such as
/// "invalid peer certificate: UnknownIssuer") says what went wrong.
fn error_chain(error: &(dyn StdError + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// The TLS settings of every URL read: the ring provider, TLS 1.2 and 1.3, the
/// Mozilla roots and the `NODE_EXTRA_CA_CERTS` certificates.
fn tls_config() -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let (added, ignored) = roots.add_parsable_certificates(extra_ca_certificates().iter().cloned());
    if ignored > 0 {
        tracing::warn!(
            added,
            ignored,
            "some certificates of {EXTRA_CA_CERTS_ENV} are not valid CA certificates and are ignored"
        );
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS is not available: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// The certificates of the `NODE_EXTRA_CA_CERTS` file, read on first use and
/// kept for the life of the process, as Node does. A missing or unreadable file
/// is logged and leaves the extra set empty.
fn extra_ca_certificates() -> &'static [CertificateDer<'static>] {
    static CERTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    CERTS.get_or_init(|| {
        let Some(path) = std::env::var_os(EXTRA_CA_CERTS_ENV) else {
            return Vec::new();
        };
        match read_pem_certificates(Path::new(&path)) {
            Ok(certs) => {
                tracing::info!(
                    count = certs.len(),
                    "trusting the extra CA certificates of {EXTRA_CA_CERTS_ENV}"
                );
                certs
            }
            Err(e) => {
                tracing::warn!("ignoring {EXTRA_CA_CERTS_ENV}: {e}");
                Vec::new()
            }
        }
    })
}

/// Every `CERTIFICATE` block of a PEM file.
fn read_pem_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > MAX_CA_FILE_BYTES {
        return Err(format!(
            "{} is larger than {MAX_CA_FILE_BYTES} bytes",
            path.display()
        ));
    }
    let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{} is not a valid PEM file: {e}", path.display()))
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
