//! The default discovery service (§6.6): internal URLs from `backend.listen`
//! and `backend.https`, external URLs from `backend.baseUrl`, both overridable
//! per plugin through `discovery.endpoints`.

use greenroom_backend_plugin_api::BackendError;
use greenroom_backend_plugin_api::services::DiscoveryService;
use greenroom_config::Config;
use serde_json::Value;

use crate::http::listen::ListenAddress;

/// One `discovery.endpoints` entry, already checked.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    internal: Option<String>,
    external: Option<String>,
    plugins: Vec<String>,
}

/// Discovery from configuration, as Backstage's `HostDiscovery`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostDiscovery {
    internal_base: String,
    external_base: String,
    endpoints: Vec<Endpoint>,
}

impl HostDiscovery {
    /// Reads `backend.baseUrl`, `backend.listen`, `backend.https` and
    /// `discovery.endpoints`. `bound_port` replaces a configured port 0 with
    /// the port the server actually got.
    pub fn from_config(config: &Config, bound_port: Option<u16>) -> Result<Self, BackendError> {
        let base_url = config.get_string("backend.baseUrl")?;
        let listen = ListenAddress::from_config(config)?;
        let port = match (listen.port, bound_port) {
            (0, Some(bound)) => bound,
            (port, _) => port,
        };
        let proto = if config.has("backend.https") {
            "https"
        } else {
            "http"
        };
        let host = internal_host(&listen.host);
        Ok(Self {
            internal_base: format!("{proto}://{host}:{port}"),
            external_base: base_url.trim_end_matches('/').to_owned(),
            endpoints: read_endpoints(config)?,
        })
    }

    fn lookup(&self, plugin_id: &str, internal: bool) -> Option<String> {
        let pick = |e: &Endpoint| {
            if internal {
                e.internal.clone()
            } else {
                e.external.clone()
            }
        };
        // An entry naming the plugin wins over a `*` entry; among equals, the
        // later entry wins.
        let exact = self
            .endpoints
            .iter()
            .rev()
            .find(|e| e.plugins.iter().any(|p| p == plugin_id));
        let any = || {
            self.endpoints
                .iter()
                .rev()
                .find(|e| e.plugins.iter().any(|p| p == "*"))
        };
        let target = exact.or_else(any).and_then(pick)?;
        Some(substitute_plugin_id(&target, plugin_id))
    }
}

impl DiscoveryService for HostDiscovery {
    fn base_url(&self, plugin_id: &str) -> Result<String, BackendError> {
        match self.lookup(plugin_id, true) {
            Some(target) if is_srv(&target) => Err(BackendError::new(
                greenroom_backend_plugin_api::ErrorName::NotImplementedError,
                format!(
                    "SRV discovery targets are not supported by Greenroom yet (plugin '{plugin_id}', target {target})"
                ),
            )),
            Some(target) => Ok(target),
            None => Ok(format!(
                "{}/api/{}",
                self.internal_base,
                encode_component(plugin_id)
            )),
        }
    }

    fn external_base_url(&self, plugin_id: &str) -> Result<String, BackendError> {
        Ok(self.lookup(plugin_id, false).unwrap_or_else(|| {
            format!("{}/api/{}", self.external_base, encode_component(plugin_id))
        }))
    }
}

/// How the listen host appears in internal URLs.
fn internal_host(host: &str) -> String {
    match host {
        "" | "::" => "localhost".to_owned(),
        "0.0.0.0" => "127.0.0.1".to_owned(),
        other if other.contains(':') => format!("[{other}]"),
        other => other.to_owned(),
    }
}

fn is_srv(target: &str) -> bool {
    let lower = target.to_ascii_lowercase();
    lower.starts_with("http+srv://") || lower.starts_with("https+srv://")
}

fn read_endpoints(config: &Config) -> Result<Vec<Endpoint>, BackendError> {
    let Some(entries) = config.get_optional_config_array("discovery.endpoints")? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let key = format!("discovery.endpoints[{index}]");
        let plugins = entry.get_string_array("plugins")?;
        let (internal, external) = match entry.get_value("target")? {
            Value::String(_) => {
                let target = entry.get_string("target")?;
                (Some(target.clone()), Some(target))
            }
            Value::Object(_) => (
                entry.get_optional_string("target.internal")?,
                entry.get_optional_string("target.external")?,
            ),
            _ => {
                return Err(BackendError::config(format!(
                    "Invalid type in config for key '{key}.target', wanted string or object"
                )));
            }
        };
        if let Some(external) = &external
            && is_srv(external)
        {
            return Err(BackendError::config(format!(
                "SRV resolution URLs are not supported for external discovery targets, at '{key}.target': {external}"
            )));
        }
        out.push(Endpoint {
            internal,
            external,
            plugins,
        });
    }
    Ok(out)
}

/// Replaces `{{pluginId}}` and `{{ pluginId }}` with the URL-encoded id.
fn substitute_plugin_id(target: &str, plugin_id: &str) -> String {
    let encoded = encode_component(plugin_id);
    target
        .replace("{{pluginId}}", &encoded)
        .replace("{{ pluginId }}", &encoded)
}

/// Percent-encodes as JavaScript's `encodeURIComponent`.
fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let keep = byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
            );
        if keep {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
