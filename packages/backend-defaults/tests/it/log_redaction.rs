//! Log redaction (checklist 14): secret config values become `***` in the
//! log output, through the writer `init_logging` installs.

use std::io::Write;
use std::sync::{Arc, Mutex};

use greenroom_backend_defaults::logging::{RedactingMakeWriter, Redactor};
use greenroom_config::{Config, core_schema};
use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;

/// Collects everything written, for inspection.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

struct SinkWriter(Arc<Mutex<Vec<u8>>>);

impl Write for SinkWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("sink lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Sink {
    type Writer = SinkWriter;
    fn make_writer(&'a self) -> SinkWriter {
        SinkWriter(Arc::clone(&self.0))
    }
}

impl Sink {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("sink lock")).into_owned()
    }
}

fn check(case: &str, secrets: &[&str], input: &str, expected: &str) {
    let redactor = Redactor::new(secrets.iter().map(|s| (*s).to_owned()));
    let got = redactor.redact(input.as_bytes());
    assert_eq!(String::from_utf8_lossy(&got), expected, "case {case}");
}

#[test]
fn redactor_rows() {
    check("R01 plain", &["hunter22"], "pw=hunter22 ok", "pw=*** ok");
    check(
        "R02 every occurrence",
        &["s3cret"],
        "s3cret s3cret",
        "*** ***",
    );
    check("R03 nothing to do", &["s3cret"], "all clear", "all clear");
    check(
        "R04 short values are left alone",
        &["abc"],
        "abc abc",
        "abc abc",
    );
    check(
        "R05 longest first",
        &["token", "token-extended"],
        "a token-extended b token",
        "a *** b ***",
    );
    check(
        "R06 JSON-escaped form",
        &["pa\"ss\\word"],
        r#"{"msg":"pa\"ss\\word"}"#,
        r#"{"msg":"***"}"#,
    );
    check(
        "R07 multibyte text around it",
        &["sécret"],
        "é sécret é",
        "é *** é",
    );
    check("R08 empty set", &[], "hunter22", "hunter22");
}

#[test]
fn the_writer_redacts_each_record_even_when_split() {
    let sink = Sink::default();
    let make = RedactingMakeWriter::new(sink.clone(), Redactor::new(["hunter22".to_owned()]));
    {
        let mut writer = make.make_writer();
        // One record written in pieces that split the secret.
        writer.write_all(b"login pw=hun").expect("write");
        writer.write_all(b"ter22 done\n").expect("write");
    }
    assert_eq!(sink.text(), "login pw=*** done\n");
}

#[test]
fn a_logged_secret_from_the_config_is_masked() {
    let config = Config::from_value(json!({
        "backend": {
            "baseUrl": "http://localhost:7007",
            "database": { "client": "pg", "connection": "postgres://u:conn-pass-42@db/x" }
        },
        "integrations": { "github": [{ "host": "github.com", "token": "ghp_supersecret" }] },
        "custom": { "apiPassword": "heuristic-pass" }
    }))
    .expect("config");
    let secrets = config.secret_values(Some(&core_schema()));
    let sink = Sink::default();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(RedactingMakeWriter::new(
            sink.clone(),
            Redactor::new(secrets),
        ))
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(
            token = "ghp_supersecret",
            "connecting with postgres://u:conn-pass-42@db/x and heuristic-pass at http://localhost:7007"
        );
    });
    let text = sink.text();
    for secret in ["ghp_supersecret", "conn-pass-42", "heuristic-pass"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    assert!(text.contains("***"), "{text}");
    // Values that are not secret stay readable.
    assert!(text.contains("http://localhost:7007"), "{text}");
}
