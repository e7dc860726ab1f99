//! Query-string validation with the messages of Backstage's OpenAPI request
//! validator: every route declares its parameters, and anything else (unknown
//! names, empty values, repeated single values, non-integers, values outside an
//! enum) is answered with a 400 before the handler runs.

use std::collections::HashMap;

use greenroom_backend_plugin_api::BackendError;

/// How a declared query parameter is typed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// May be repeated; every occurrence a string.
    Array,
    /// One string.
    Str,
    /// One integer, at least `min` when given.
    Int { min: Option<i64> },
    /// One of the listed strings.
    Enum(&'static [&'static str]),
}

/// A declared query parameter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Param {
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    pub(crate) required: bool,
}

/// A parameter that may be left out.
pub(crate) const fn opt(name: &'static str, kind: Kind) -> Param {
    Param {
        name,
        kind,
        required: false,
    }
}

/// A parameter the request must carry.
pub(crate) const fn req(name: &'static str, kind: Kind) -> Param {
    Param {
        name,
        kind,
        required: true,
    }
}

/// The validated parameters of one request.
#[derive(Debug, Default)]
pub(crate) struct Query {
    values: HashMap<&'static str, Vec<String>>,
    ints: HashMap<&'static str, i64>,
}

impl Query {
    /// Every value of an array parameter, in order (empty when absent).
    pub(crate) fn all(&self, name: &str) -> &[String] {
        self.values.get(name).map_or(&[], Vec::as_slice)
    }

    /// The value of a single-valued parameter.
    pub(crate) fn one(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    /// The value of an integer parameter.
    pub(crate) fn int(&self, name: &str) -> Option<i64> {
        self.ints.get(name).copied()
    }
}

/// How one occurrence spelled its name: plain `a`, array `a[]` / `a[0]`, or
/// object `a[key]` (which Express's query parser turns into an object).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Plain,
    ArrayItem,
    ObjectKey,
}

fn split_name(name: &str) -> (&str, Shape) {
    match name.find('[') {
        None => (name, Shape::Plain),
        Some(0) => (name, Shape::Plain),
        Some(i) => {
            let (base, rest) = name.split_at(i);
            let inner = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']'));
            match inner {
                Some("") => (base, Shape::ArrayItem),
                Some(index) if index.bytes().all(|b| b.is_ascii_digit()) => {
                    (base, Shape::ArrayItem)
                }
                _ => (base, Shape::ObjectKey),
            }
        }
    }
}

fn input(message: String) -> BackendError {
    BackendError::input(message)
}

/// Bound on the number of query pairs looked at: a longer query string is
/// refused rather than allocating without limit.
const MAX_PAIRS: usize = 1000;

/// Validates the raw query string of a request against the route's parameters.
pub(crate) fn parse_query(raw: Option<&str>, params: &[Param]) -> Result<Query, BackendError> {
    let raw = raw.unwrap_or("");
    let mut seen: Vec<(String, Shape, String)> = Vec::new();
    for (name, value) in url::form_urlencoded::parse(raw.as_bytes()) {
        if seen.len() >= MAX_PAIRS {
            return Err(input(format!(
                "Too many query parameters, at most {MAX_PAIRS} are accepted"
            )));
        }
        let (base, shape) = split_name(&name);
        seen.push((base.to_owned(), shape, value.into_owned()));
    }
    for (name, _, _) in &seen {
        if !params.iter().any(|p| p.name == name) {
            return Err(input(format!("Unknown query parameter '{name}'")));
        }
    }
    let mut query = Query::default();
    for param in params {
        let occurrences: Vec<&(String, Shape, String)> =
            seen.iter().filter(|(n, _, _)| n == param.name).collect();
        if occurrences.is_empty() {
            if param.required {
                return Err(input(format!(
                    "request/query must have required property '{}'",
                    param.name
                )));
            }
            continue;
        }
        let type_name = match param.kind {
            Kind::Int { .. } => "integer",
            Kind::Array | Kind::Str | Kind::Enum(_) => "string",
        };
        if occurrences
            .iter()
            .any(|(_, shape, _)| *shape == Shape::ObjectKey)
        {
            return Err(input(match param.kind {
                // Backstage's validator lets an object through for `fields`;
                // its parser then fails with this internal-looking message.
                Kind::Array if param.name == "fields" => {
                    "req[field][name].split is not a function".to_owned()
                }
                Kind::Array => format!("request/query/{}/0 must be string", param.name),
                _ => format!("request/query/{} must be {type_name}", param.name),
            }));
        }
        if occurrences.iter().any(|(_, _, value)| value.is_empty()) {
            return Err(input(format!(
                "Empty value found for query parameter '{}'",
                param.name
            )));
        }
        let repeated = occurrences.len() > 1
            || occurrences
                .iter()
                .any(|(_, shape, _)| *shape == Shape::ArrayItem);
        if repeated && !matches!(param.kind, Kind::Array) {
            return Err(input(format!(
                "request/query/{} must be {type_name}",
                param.name
            )));
        }
        let values: Vec<String> = occurrences.iter().map(|(_, _, v)| v.clone()).collect();
        match param.kind {
            Kind::Int { min } => {
                let value = parse_int(&values[0]).ok_or_else(|| {
                    input(format!("request/query/{} must be integer", param.name))
                })?;
                if let Some(min) = min
                    && value < min
                {
                    return Err(input(format!(
                        "request/query/{} must be >= {min}",
                        param.name
                    )));
                }
                query.ints.insert(param.name, value);
            }
            Kind::Enum(allowed) => {
                if !allowed.contains(&values[0].as_str()) {
                    return Err(input(format!(
                        "request/query/{} must be equal to one of the allowed values: {}",
                        param.name,
                        allowed.join(", ")
                    )));
                }
            }
            Kind::Array | Kind::Str => {}
        }
        query.values.insert(param.name, values);
    }
    Ok(query)
}

/// A decimal integer as the validator coerces it: optional sign, digits only.
/// Values beyond `i64` saturate, which every caller treats as "very large".
fn parse_int(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut value: i64 = 0;
    for b in digits.bytes() {
        value = value.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    Some(if negative { -value } else { value })
}

/// The query string of a `link: rel="next"` header: the request's own pairs
/// without `offset`, and `after` set to the next cursor (in place of the first
/// `after`, else appended), re-encoded as a browser's `URLSearchParams` would.
pub(crate) fn next_page_query(raw: Option<&str>, after: &str) -> String {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut placed = false;
    for (name, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        if name == "offset" {
            continue;
        }
        if name == "after" {
            if !placed {
                pairs.push(("after".to_owned(), after.to_owned()));
                placed = true;
            }
            continue;
        }
        pairs.push((name.into_owned(), value.into_owned()));
    }
    if !placed {
        pairs.push(("after".to_owned(), after.to_owned()));
    }
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in &pairs {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: &[Param] = &[
        opt("filter", Kind::Array),
        opt("fields", Kind::Array),
        opt("limit", Kind::Int { min: Some(0) }),
        opt("cursor", Kind::Str),
        opt("totalItems", Kind::Enum(&["include", "exclude"])),
    ];

    #[test]
    fn validation_messages() {
        let rows: &[(&str, &str, Option<&str>)] = &[
            (
                "P01 ok",
                "filter=a&filter=b&limit=2&totalItems=exclude",
                None,
            ),
            ("P02 unknown", "x=1", Some("Unknown query parameter 'x'")),
            (
                "P03 empty",
                "cursor=",
                Some("Empty value found for query parameter 'cursor'"),
            ),
            (
                "P04 empty array item",
                "filter=a&filter=",
                Some("Empty value found for query parameter 'filter'"),
            ),
            (
                "P05 repeated single",
                "limit=1&limit=2",
                Some("request/query/limit must be integer"),
            ),
            (
                "P06 not integer",
                "limit=asdf",
                Some("request/query/limit must be integer"),
            ),
            (
                "P07 minimum",
                "limit=-1",
                Some("request/query/limit must be >= 0"),
            ),
            (
                "P08 enum",
                "totalItems=all",
                Some(
                    "request/query/totalItems must be equal to one of the allowed values: include, exclude",
                ),
            ),
            (
                "P09 object filter",
                "filter[a]=b",
                Some("request/query/filter/0 must be string"),
            ),
            (
                "P10 object fields",
                "fields[a]=b",
                Some("req[field][name].split is not a function"),
            ),
            ("P11 bracket array", "filter[]=a&filter[1]=b", None),
            (
                "P12 repeated string",
                "cursor=a&cursor=b",
                Some("request/query/cursor must be string"),
            ),
            (
                "P13 no value",
                "limit",
                Some("Empty value found for query parameter 'limit'"),
            ),
        ];
        for (id, raw, expected) in rows {
            let got = parse_query(Some(raw), PARAMS).err().map(|e| e.message);
            assert_eq!(got.as_deref(), *expected, "{id}");
        }
        let q = parse_query(
            Some("filter=kind%3Dcomponent,a=b&filter=x+y&limit=007"),
            PARAMS,
        )
        .unwrap();
        assert_eq!(q.all("filter"), ["kind=component,a=b", "x y"]);
        assert_eq!(q.int("limit"), Some(7));
        let missing = parse_query(None, &[req("facet", Kind::Array)]).unwrap_err();
        assert_eq!(
            missing.message,
            "request/query must have required property 'facet'"
        );
    }

    #[test]
    fn next_page_links() {
        assert_eq!(
            next_page_query(Some("limit=2"), "eyJ="),
            "limit=2&after=eyJ%3D"
        );
        assert_eq!(
            next_page_query(Some("after=old&limit=2&offset=4&filter=kind=api"), "new"),
            "after=new&limit=2&filter=kind%3Dapi"
        );
    }
}
