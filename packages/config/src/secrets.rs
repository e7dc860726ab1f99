//! Which config values count as secret, and masking them for printing.
//!
//! Greenroom does not collect config schemas yet, so secrecy is decided from
//! two facts about each value:
//!
//! * **Its key name.** A key is secret when its name, compared without case,
//!   is one of [`SECRET_KEY_SUFFIXES`] or ends with one (so `password`,
//!   `clientSecret`, `GH_TOKEN`-style `githubToken`, `privateKey`, `apiKey`
//!   all match). A key named exactly `key` is secret when its nearest
//!   enclosing key is `certificate` (TLS private keys, as in
//!   `backend.https.certificate.key`) or `keys` (entries of key lists such as
//!   `backend.auth.keys`). Override values from `APP_CONFIG_*` variables
//!   follow this same rule.
//! * **Where it came from.** Every value produced by a `$env` or `$file`
//!   directive is secret whatever its key, because those directives exist to
//!   pull credentials and certificates out of the config files.
//!
//! A secret value is replaced by [`MASK`] as a whole, even when it is an
//! object or an array.

use serde_json::{Map, Value};

use crate::layers::{Kids, Origin};

/// What a masked value prints as.
pub const MASK: &str = "***";

/// Lower-case key names (and name endings) that mark a value as secret.
pub const SECRET_KEY_SUFFIXES: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "privatekey",
    "apikey",
    "clientsecret",
    "secretaccesskey",
];

/// Parent key names under which a key named exactly `key` is secret.
const SECRET_KEY_PARENTS: &[&str] = &["certificate", "keys"];

/// Whether a value stored under `name` is secret by name alone.
///
/// `parent` is the nearest enclosing key name, skipping array levels.
pub fn is_secret_key(name: &str, parent: Option<&str>) -> bool {
    let lower = name.to_ascii_lowercase();
    if SECRET_KEY_SUFFIXES.iter().any(|s| lower.ends_with(s)) {
        return true;
    }
    lower == "key"
        && parent.is_some_and(|p| {
            SECRET_KEY_PARENTS
                .iter()
                .any(|candidate| p.eq_ignore_ascii_case(candidate))
        })
}

/// Returns a copy of `value` with every secret value replaced by [`MASK`].
pub(crate) fn mask(value: &Value, origin: &Origin) -> Value {
    mask_node(value, origin, None, None)
}

fn mask_node(value: &Value, origin: &Origin, name: Option<&str>, parent: Option<&str>) -> Value {
    if origin.secret || name.is_some_and(|n| is_secret_key(n, parent)) {
        return Value::String(MASK.to_owned());
    }
    match value {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, v) in map {
                let child = origin.child(k);
                out.insert(k.clone(), mask_node(v, child, Some(k), name.or(parent)));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let child = match &origin.kids {
                        Kids::Seq(kids) => kids.get(i).unwrap_or(origin),
                        _ => origin,
                    };
                    // Array elements keep the array's key as their parent, so
                    // `keys: [{ key: ... }]` is recognised.
                    mask_node(v, child, None, name.or(parent))
                })
                .collect(),
        ),
        other => other.clone(),
    }
}
