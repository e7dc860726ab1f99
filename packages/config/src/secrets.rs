//! Which config values count as secret, and masking them for printing.
//!
//! A value is secret when a config schema gives it the visibility `secret`
//! (see the `schema` module). As a safety net for the keys no schema
//! describes, two more facts about each value also make it secret:
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

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::layers::{Kids, Origin};
use crate::schema::escape_segment;

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
    mask_with(value, origin, &BTreeSet::new(), &mut |_| {})
}

/// Like [`mask`], and also masks the values at `schema_secrets` (JSON
/// pointers of values a schema marks `secret`). `on_secret` sees every value
/// that gets masked.
pub(crate) fn mask_with(
    value: &Value,
    origin: &Origin,
    schema_secrets: &BTreeSet<String>,
    on_secret: &mut dyn FnMut(&Value),
) -> Value {
    let mut walk = Walk {
        schema_secrets,
        on_secret,
        pointer: String::new(),
    };
    walk.node(value, origin, None, None)
}

struct Walk<'a> {
    schema_secrets: &'a BTreeSet<String>,
    on_secret: &'a mut dyn FnMut(&Value),
    pointer: String,
}

impl Walk<'_> {
    fn node(
        &mut self,
        value: &Value,
        origin: &Origin,
        name: Option<&str>,
        parent: Option<&str>,
    ) -> Value {
        if origin.secret
            || name.is_some_and(|n| is_secret_key(n, parent))
            || self.schema_secrets.contains(&self.pointer)
        {
            (self.on_secret)(value);
            return Value::String(MASK.to_owned());
        }
        let base = self.pointer.len();
        match value {
            Value::Object(map) => {
                let mut out = Map::with_capacity(map.len());
                for (k, v) in map {
                    let child = origin.child(k);
                    self.pointer.push('/');
                    self.pointer.push_str(&escape_segment(k));
                    out.insert(k.clone(), self.node(v, child, Some(k), name.or(parent)));
                    self.pointer.truncate(base);
                }
                Value::Object(out)
            }
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, v) in items.iter().enumerate() {
                    let child = match &origin.kids {
                        Kids::Seq(kids) => kids.get(i).unwrap_or(origin),
                        _ => origin,
                    };
                    self.pointer.push_str(&format!("/{i}"));
                    // Array elements keep the array's key as their parent, so
                    // `keys: [{ key: ... }]` is recognised.
                    out.push(self.node(v, child, None, name.or(parent)));
                    self.pointer.truncate(base);
                }
                Value::Array(out)
            }
            other => other.clone(),
        }
    }
}

/// The scalar values inside `value` (itself included), as text: strings as
/// they are, numbers in JSON form. Booleans and nulls are not secrets.
pub(crate) fn scalar_texts(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Object(map) => map.values().for_each(|v| scalar_texts(v, out)),
        Value::Array(items) => items.iter().for_each(|v| scalar_texts(v, out)),
        Value::Bool(_) | Value::Null => {}
    }
}
