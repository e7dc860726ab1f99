//! `${VAR}` substitution inside config strings.
//!
//! A token is `${...}` or its escape `$${...}`, where the part between the
//! braces holds no `{` or `}`. Tokens are found left to right as a regular
//! expression would (`\$?\$\{[^{}]*\}`), so `${{ parameters.x }}` is never a
//! token and survives untouched. A normal token is replaced by the trimmed
//! value of the named variable; `${NAME:-fallback}` falls back when the
//! variable is unset or empty. When any token resolves to nothing the whole
//! string is undefined, which removes its key.

use std::collections::BTreeMap;

/// Substitutes every `${...}` token of `input` from `env`.
///
/// Returns `None` when a referenced variable is unset (or, with `:-`, when
/// both the variable and the fallback are empty), meaning the whole value is
/// undefined.
pub fn substitute(input: &str, env: &BTreeMap<String, String>) -> Option<String> {
    substitute_with(input, env, false)
}

/// [`substitute`], optionally in lax mode.
///
/// In lax mode (`config check --lax`) an unset or empty variable reads as
/// `x`, as Backstage's CLI does when it checks config without the
/// deployment's environment: the key is kept, so required-property checks
/// do not fail for it.
pub(crate) fn substitute_with(
    input: &str,
    env: &BTreeMap<String, String>,
    lax: bool,
) -> Option<String> {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut undefined = false;
    // `copied` is the byte offset up to which `input` has been copied to `out`.
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        // The escaped form is tried first, as the optional leading `$` of the
        // pattern is greedy; when it fails, the plain form at the same offset.
        let escaped = bytes.get(i + 1) == Some(&b'$') && bytes.get(i + 2) == Some(&b'{');
        let plain = bytes.get(i + 1) == Some(&b'{');
        let inner_start = if escaped {
            i + 3
        } else if plain {
            i + 2
        } else {
            i += 1;
            continue;
        };
        let Some(close) = closing_brace(bytes, inner_start) else {
            i += 1;
            continue;
        };
        out.push_str(&input[copied..i]);
        let inner = &input[inner_start..close];
        if escaped {
            // `$${X}` is emitted as `${X}` without any lookup.
            out.push_str(&input[i + 1..=close]);
        } else {
            match resolve(inner, env, lax) {
                Some(value) => out.push_str(&value),
                None => undefined = true,
            }
        }
        copied = close + 1;
        i = close + 1;
    }
    if undefined {
        return None;
    }
    out.push_str(&input[copied..]);
    Some(out)
}

/// Finds the `}` that closes a token whose body starts at `from`, or `None`
/// when a `{` or the end of the text comes first.
fn closing_brace(bytes: &[u8], from: usize) -> Option<usize> {
    for (offset, b) in bytes.get(from..)?.iter().enumerate() {
        match b {
            b'}' => return Some(from + offset),
            b'{' => return None,
            _ => {}
        }
    }
    None
}

/// Resolves the body of one `${...}` token.
fn resolve(inner: &str, env: &BTreeMap<String, String>, lax: bool) -> Option<String> {
    match inner.find(":-") {
        Some(sep) => {
            let value = lookup_with(env, inner[..sep].trim(), lax).unwrap_or_default();
            let fallback = inner[sep + 2..].trim();
            if !value.is_empty() {
                Some(value)
            } else if !fallback.is_empty() {
                Some(fallback.to_owned())
            } else {
                None
            }
        }
        None => lookup_with(env, inner.trim(), lax),
    }
}

/// Reads a variable, trimmed of surrounding whitespace as Backstage does.
pub(crate) fn lookup(env: &BTreeMap<String, String>, name: &str) -> Option<String> {
    env.get(name).map(|v| v.trim().to_owned())
}

/// The value lax mode puts in place of an unset or empty variable.
pub(crate) const LAX_PLACEHOLDER: &str = "x";

/// [`lookup`], with lax mode's placeholder for unset or empty variables.
pub(crate) fn lookup_with(env: &BTreeMap<String, String>, name: &str, lax: bool) -> Option<String> {
    match lookup(env, name) {
        Some(v) if !lax || !v.is_empty() => Some(v),
        _ if lax => Some(LAX_PLACEHOLDER.to_owned()),
        other => other,
    }
}
