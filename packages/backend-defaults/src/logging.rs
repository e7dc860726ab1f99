//! Process-wide logging over `tracing`: readable text by default, JSON lines
//! when `backend.logger.format: json` (a Greenroom key) or `LOG_FORMAT=json`;
//! the level from `LOG_LEVEL`, else `backend.logger.level`, else `info`.
//!
//! Every secret config value (schema visibility `secret`, plus the values the
//! key-name and `$env`/`$file` rules mask) is replaced by `***` in the log
//! output: the subscriber writes through a [`RedactingMakeWriter`], which
//! rewrites each formatted record before it reaches standard output.

use std::borrow::Cow;
use std::io::{self, Write};
use std::sync::Arc;

use greenroom_backend_plugin_api::BackendError;
use greenroom_config::{Config, ConfigSchema, MASK, MIN_REDACTED_CHARS, core_schema};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// A record larger than this is written out in pieces; a secret that spans
/// two pieces would then escape redaction, so the limit is far above any
/// sensible log line.
const MAX_BUFFERED_BYTES: usize = 1024 * 1024;

/// Installs the global subscriber, redacting the secrets that Greenroom's
/// core config schema (and the key-name rules) find in `config`.
///
/// Calling it again keeps the first one, so tests may call it freely. Bad
/// settings are errors naming the key.
pub fn init_logging(config: &Config) -> Result<(), BackendError> {
    init_logging_with_schema(config, &core_schema())
}

/// [`init_logging`] with the app's combined schema (core and plugins), so
/// that values the plugins' schemas mark `secret` are redacted too.
pub fn init_logging_with_schema(
    config: &Config,
    schema: &ConfigSchema,
) -> Result<(), BackendError> {
    let level = match std::env::var("LOG_LEVEL") {
        Ok(level) if !level.trim().is_empty() => level,
        _ => config
            .get_optional_string("backend.logger.level")?
            .unwrap_or_else(|| "info".to_owned()),
    };
    let level = level.trim().to_ascii_lowercase();
    if !matches!(
        level.as_str(),
        "error" | "warn" | "info" | "debug" | "trace"
    ) {
        return Err(BackendError::config(format!(
            "Invalid log level '{level}' in config for key 'backend.logger.level' (or LOG_LEVEL), expected one of error, warn, info, debug, trace"
        )));
    }
    let json = match std::env::var("LOG_FORMAT") {
        Ok(format) if !format.trim().is_empty() => format.trim().eq_ignore_ascii_case("json"),
        _ => match config
            .get_optional_string("backend.logger.format")?
            .as_deref()
        {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => {
                return Err(BackendError::config(format!(
                    "Invalid log format '{other}' in config for key 'backend.logger.format', expected text or json"
                )));
            }
        },
    };
    let filter = EnvFilter::new(&level);
    // Colours only for a terminal: escape codes in a log file or a pipe are noise.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let redactor = Redactor::new(config.secret_values(Some(schema)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(RedactingMakeWriter::new(std::io::stdout, redactor));
    // `try_init` fails only when a subscriber is already installed, which is
    // the idempotence promised above.
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
    Ok(())
}

/// Replaces a fixed set of secret strings with `***`.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// The byte strings to replace, longest first, so that a secret that
    /// contains another is replaced whole.
    needles: Vec<Vec<u8>>,
    /// Which bytes start some needle; a cheap filter before comparing.
    starts: Box<[bool]>,
}

impl Redactor {
    /// A redactor for `secrets`. Secrets shorter than
    /// [`MIN_REDACTED_CHARS`] are ignored, as replacing them would garble
    /// unrelated text. Each secret is also matched in the escaped forms it
    /// takes inside JSON strings and `Debug` output.
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Redactor {
        let mut needles: Vec<Vec<u8>> = Vec::new();
        for secret in secrets {
            if secret.chars().count() < MIN_REDACTED_CHARS {
                continue;
            }
            let json = serde_json::to_string(&secret).unwrap_or_default();
            let debug = format!("{secret:?}");
            for escaped in [json, debug] {
                if let Some(inner) = escaped.strip_prefix('"').and_then(|s| s.strip_suffix('"'))
                    && inner != secret
                {
                    needles.push(inner.as_bytes().to_vec());
                }
            }
            needles.push(secret.into_bytes());
        }
        needles.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        needles.dedup();
        let mut starts = vec![false; 256];
        for needle in &needles {
            if let Some(&first) = needle.first() {
                starts[usize::from(first)] = true;
            }
        }
        Redactor {
            needles,
            starts: starts.into_boxed_slice(),
        }
    }

    /// Whether there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// `text` with every secret replaced by `***`; borrowed when nothing
    /// matched.
    pub fn redact<'a>(&self, text: &'a [u8]) -> Cow<'a, [u8]> {
        if self.needles.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out: Option<Vec<u8>> = None;
        let mut copied = 0;
        let mut i = 0;
        while i < text.len() {
            let hit = self.starts[usize::from(text[i])]
                .then(|| {
                    self.needles
                        .iter()
                        .find(|n| text[i..].starts_with(n))
                        .map(Vec::len)
                })
                .flatten();
            match hit {
                Some(len) => {
                    let buf = out.get_or_insert_with(|| Vec::with_capacity(text.len()));
                    buf.extend_from_slice(&text[copied..i]);
                    buf.extend_from_slice(MASK.as_bytes());
                    i += len;
                    copied = i;
                }
                None => i += 1,
            }
        }
        match out {
            Some(mut buf) => {
                buf.extend_from_slice(&text[copied..]);
                Cow::Owned(buf)
            }
            None => Cow::Borrowed(text),
        }
    }
}

/// A [`MakeWriter`] whose writers redact secrets from what they write.
///
/// The formatting layer makes one writer per record and drops it after
/// writing, so each writer buffers its record and redacts it as a whole
/// (on flush or drop): a secret is found even if the record arrives in
/// several `write` calls. With no secrets, bytes pass straight through.
#[derive(Debug, Clone)]
pub struct RedactingMakeWriter<M> {
    inner: M,
    redactor: Arc<Redactor>,
}

impl<M> RedactingMakeWriter<M> {
    /// Wraps `inner`, redacting with `redactor`.
    pub fn new(inner: M, redactor: Redactor) -> Self {
        RedactingMakeWriter {
            inner,
            redactor: Arc::new(redactor),
        }
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for RedactingMakeWriter<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter {
            inner: self.inner.make_writer(),
            redactor: Arc::clone(&self.redactor),
            buf: Vec::new(),
        }
    }
}

/// The writer of [`RedactingMakeWriter`]: buffers one record, then writes
/// it redacted.
#[derive(Debug)]
pub struct RedactingWriter<W: Write> {
    inner: W,
    redactor: Arc<Redactor>,
    buf: Vec<u8>,
}

impl<W: Write> RedactingWriter<W> {
    fn write_out(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.buf);
        let result = self.inner.write_all(&self.redactor.redact(&buf));
        // Keep the allocation for the next record.
        self.buf = buf;
        self.buf.clear();
        result
    }
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.redactor.is_empty() {
            return self.inner.write(bytes);
        }
        self.buf.extend_from_slice(bytes);
        if self.buf.len() > MAX_BUFFERED_BYTES {
            self.write_out()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_out()?;
        self.inner.flush()
    }
}

impl<W: Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        // Nobody is left to report a failed log write to.
        let _ = self.write_out();
        let _ = self.inner.flush();
    }
}
