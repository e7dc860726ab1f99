//! HTTPS URL locations, on SQLite and PostgreSQL: a loopback TLS server whose
//! certificate comes from a test CA trusted through `NODE_EXTRA_CA_CERTS` is read
//! and its entity ingested; when the server switches to a self-signed
//! certificate outside the trust set, the next read fails with a certificate
//! error in the Location's `status.items` while the last good entities stay.
//!
//! `NODE_EXTRA_CA_CERTS` is read once per process, at start-up, and the
//! environment cannot be changed safely from inside a running test; so each test
//! writes its certificates, then runs itself again as a child process with the
//! variable set, and the child does the real work.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use greenroom_backend_test_utils::backend::TestBackend;
use greenroom_backend_test_utils::database::{TestDir, TestPostgres};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Set in the child process: the folder with the certificates.
const DIR_ENV: &str = "GREENROOM_TLS_TEST_DIR";

/// Writes a CA (`ca.pem`), a server certificate it signed (`trusted.pem`,
/// `trusted.key`) and a self-signed one (`rogue.pem`, `rogue.key`), both for
/// 127.0.0.1.
fn write_certificates(dir: &Path) {
    let ca_key = KeyPair::generate().expect("a CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Greenroom test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).expect("a CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().expect("a server key");
    let server_params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("params");
    let server_cert = server_params
        .signed_by(&server_key, &issuer)
        .expect("a server certificate");

    let rogue_key = KeyPair::generate().expect("a rogue key");
    let rogue_cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("params")
        .self_signed(&rogue_key)
        .expect("a self-signed certificate");

    let files = [
        ("ca.pem", ca_cert.pem()),
        ("trusted.pem", server_cert.pem()),
        ("trusted.key", server_key.serialize_pem()),
        ("rogue.pem", rogue_cert.pem()),
        ("rogue.key", rogue_key.serialize_pem()),
    ];
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("write a certificate file");
    }
}

/// Runs `test` again in a child process with `NODE_EXTRA_CA_CERTS` set.
fn run_in_child(test: &str) {
    let dir = TestDir::new();
    write_certificates(dir.path());
    let exe = std::env::current_exe().expect("the test binary");
    let status = std::process::Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env("NODE_EXTRA_CA_CERTS", dir.path().join("ca.pem"))
        .env(DIR_ENV, dir.path())
        .status()
        .expect("the child test runs");
    assert!(status.success(), "the child run of {test} failed");
}

/// Which certificate a [`TlsHost`] presents: the CA-signed one, or (once
/// switched) the self-signed one.
#[derive(Debug)]
struct SwitchableCert {
    trusted: Arc<CertifiedKey>,
    rogue: Arc<CertifiedKey>,
    use_rogue: AtomicBool,
}

impl ResolvesServerCert for SwitchableCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(if self.use_rogue.load(Ordering::SeqCst) {
            Arc::clone(&self.rogue)
        } else {
            Arc::clone(&self.trusted)
        })
    }
}

fn certified_key(dir: &Path, name: &str, provider: &CryptoProvider) -> Arc<CertifiedKey> {
    let chain = CertificateDer::pem_file_iter(dir.join(format!("{name}.pem")))
        .expect("a certificate file")
        .collect::<Result<Vec<_>, _>>()
        .expect("certificates");
    let key = PrivateKeyDer::from_pem_file(dir.join(format!("{name}.key"))).expect("a key");
    Arc::new(CertifiedKey::from_der(chain, key, provider).expect("a certified key"))
}

/// A loopback HTTPS server answering `GET /catalog-info.yaml` with `body` and
/// 404 otherwise; one connection per request, so every read makes a new
/// handshake.
struct TlsHost {
    /// `https://127.0.0.1:<port>/catalog-info.yaml`.
    url: String,
    /// `127.0.0.1:<port>`.
    host: String,
    cert: Arc<SwitchableCert>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsHost {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_tls(dir: &Path, body: String) -> TlsHost {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cert = Arc::new(SwitchableCert {
        trusted: certified_key(dir, "trusted", &provider),
        rogue: certified_key(dir, "rogue", &provider),
        use_rogue: AtomicBool::new(false),
    });
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_cert_resolver(Arc::clone(&cert) as Arc<dyn ResolvesServerCert>);
    // No session resumption: a resumed session skips the certificate, and the
    // switch to the untrusted one must be seen by the next read.
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("an address");
    let body = Arc::new(body);
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let body = Arc::clone(&body);
            tokio::spawn(async move {
                // A client that does not trust the certificate ends here.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut chunk = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&chunk[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request);
                let path = text.split_whitespace().nth(1).unwrap_or_default();
                let (status, body) = if path == "/catalog-info.yaml" {
                    ("200 OK", body.as_str())
                } else {
                    ("404 Not Found", "")
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/yaml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    TlsHost {
        url: format!("https://{addr}/catalog-info.yaml"),
        host: addr.to_string(),
        cert,
        task,
    }
}

fn component(name: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
    )
}

/// Polls `check` every 100 ms for up to 20 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn get(client: &reqwest::Client, url: &str) -> Value {
    let response = client.get(url).send().await.expect("answered");
    response.json().await.unwrap_or(Value::Null)
}

async fn post(client: &reqwest::Client, url: &str, body: Value) -> u16 {
    let response = client.post(url).json(&body).send().await.expect("answered");
    response.status().as_u16()
}

async fn run(dir: PathBuf, database: Value, name: &str) {
    let host = serve_tls(&dir, component("secure")).await;
    let config = json!({
        "backend": {
            "database": database,
            "reading": { "allow": [{ "host": host.host }] },
        },
        "catalog": {
            "rules": [{ "allow": ["Component", "Location"] }],
            "locations": [{ "type": "url", "target": host.url }],
        },
    });
    let backend = TestBackend::start(
        config,
        vec![greenroom_plugin_catalog_backend::plugin().into()],
    )
    .await
    .unwrap_or_else(|e| panic!("{name}: backend starts: {e}"));
    let client = reqwest::Client::new();
    let api = |path: &str| backend.url(&format!("/api/catalog{path}"));

    // Read over HTTPS, trusted through the extra CA.
    eventually("the HTTPS location is ingested", || async {
        get(&client, &api("/entities/by-name/component/default/secure")).await["kind"]
            == "Component"
    })
    .await;
    let secure = get(&client, &api("/entities/by-name/component/default/secure")).await;
    assert_eq!(
        secure["metadata"]["annotations"]["backstage.io/managed-by-location"],
        json!(format!("url:{}", host.url)),
        "{name}"
    );
    let target = host.url.clone();
    let find_location = || async {
        let locations = get(&client, &api("/entities?filter=kind=location")).await;
        locations
            .as_array()
            .into_iter()
            .flatten()
            .find(|l| l["spec"]["target"] == json!(target))
            .cloned()
    };
    let location = find_location().await.expect("the Location entity");
    assert_eq!(
        location["status"]["items"],
        Value::Null,
        "{name}: {location}"
    );
    let location_ref = format!(
        "location:default/{}",
        location["metadata"]["name"].as_str().expect("a name")
    );

    // The server now presents a self-signed certificate outside the trust set.
    host.cert.use_rogue.store(true, Ordering::SeqCst);
    let status = post(
        &client,
        &api("/refresh"),
        json!({ "entityRef": location_ref }),
    )
    .await;
    assert_eq!(status, 200, "{name}");
    eventually("the untrusted certificate shows as an error", || async {
        find_location().await.is_some_and(|l| {
            l["status"]["items"]
                .as_array()
                .is_some_and(|i| !i.is_empty())
        })
    })
    .await;
    let location = find_location().await.expect("the Location entity");
    let message = location["status"]["items"][0]["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains(&host.url) && message.contains("UnknownIssuer"),
        "{name}: {location}"
    );
    // The last good entities stay served.
    assert_eq!(
        get(&client, &api("/entities/by-name/component/default/secure")).await["metadata"]["uid"],
        secure["metadata"]["uid"],
        "{name}"
    );

    backend.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn https_url_location_with_node_extra_ca_certs_on_sqlite() {
    let Some(dir) = std::env::var_os(DIR_ENV) else {
        run_in_child("https_url_location_with_node_extra_ca_certs_on_sqlite");
        return;
    };
    let data = TestDir::new();
    run(PathBuf::from(dir), data.sqlite_database_config(), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn https_url_location_with_node_extra_ca_certs_on_postgres() {
    let Some(dir) = std::env::var_os(DIR_ENV) else {
        run_in_child("https_url_location_with_node_extra_ca_certs_on_postgres");
        return;
    };
    let pg = TestPostgres::new();
    run(
        PathBuf::from(dir),
        pg.database_config(json!({})),
        "postgres",
    )
    .await;
    pg.cleanup().await;
}
