//! GraphQL SDL highlighted on the server: the text split into tokens, each
//! wrapped in a span whose class says what it is (keyword, type name, field
//! name, argument, directive, comment, string). The text itself is escaped
//! by maud like any other data.

use maud::{Markup, html};

/// What a token is, as its CSS class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Keyword,
    Type,
    Field,
    Argument,
    Directive,
    Comment,
    String,
    Number,
    Punctuation,
    Plain,
}

impl Class {
    fn css(self) -> &'static str {
        match self {
            Class::Keyword => "gql-keyword",
            Class::Type => "gql-type",
            Class::Field => "gql-field",
            Class::Argument => "gql-arg",
            Class::Directive => "gql-directive",
            Class::Comment => "gql-comment",
            Class::String => "gql-string",
            Class::Number => "gql-number",
            Class::Punctuation => "gql-punct",
            Class::Plain => "",
        }
    }
}

const KEYWORDS: [&str; 16] = [
    "type",
    "interface",
    "union",
    "enum",
    "input",
    "scalar",
    "schema",
    "extend",
    "directive",
    "implements",
    "query",
    "mutation",
    "subscription",
    "fragment",
    "on",
    "repeatable",
];

/// Keywords after which the next name is a type being declared.
const DECLARING: [&str; 9] = [
    "type",
    "interface",
    "union",
    "enum",
    "input",
    "scalar",
    "implements",
    "on",
    "extend",
];

/// Splits SDL into classified tokens. Never fails: anything unexpected is
/// kept as plain text, so the output always reproduces the input exactly.
pub(crate) fn tokenize(text: &str) -> Vec<(Class, &str)> {
    let bytes = text.as_bytes();
    let mut tokens: Vec<(Class, &str)> = Vec::new();
    let mut i = 0;
    // Brace and parenthesis depth decide whether a name is a field or an argument.
    let mut braces = 0usize;
    let mut parens = 0usize;
    // The keyword seen last (for names that follow it) and whether the block
    // being read is an enum body, whose names are values, not fields.
    let mut previous_keyword: Option<&str> = None;
    let mut block_is_enum = false;
    let mut pending_enum = false;
    // After `:` (or `=`/`|` in a union, `&` in implements) a name is a type.
    let mut expect_type = false;
    while i < bytes.len() {
        let start = i;
        let c = bytes[i];
        let class;
        if c == b'#' {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            class = Class::Comment;
        } else if c == b'"' {
            if bytes[i..].starts_with(b"\"\"\"") {
                i += 3;
                loop {
                    if i >= bytes.len() {
                        break;
                    }
                    // Byte comparisons: `i` may sit inside a multi-byte character here.
                    if bytes[i..].starts_with(b"\\\"\"\"") {
                        i += 4;
                    } else if bytes[i..].starts_with(b"\"\"\"") {
                        i += 3;
                        break;
                    } else {
                        i += 1;
                    }
                }
            } else {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i = (i + 1).min(bytes.len());
            }
            class = Class::String;
        } else if c.is_ascii_alphabetic() || c == b'_' || c == b'@' || c == b'$' || c >= 0x80 {
            // GraphQL names are ASCII, but a name with other letters is kept
            // whole (bytes >= 0x80 are never ASCII, so the token still ends
            // on a character boundary).
            i += 1;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] >= 0x80)
            {
                i += 1;
            }
            let word = &text[start..i];
            class = if c == b'@' {
                Class::Directive
            } else if c == b'$' {
                Class::Argument
            } else if KEYWORDS.contains(&word) && !expect_type && !followed_by_colon(text, i) {
                previous_keyword = Some(word);
                if word == "enum" {
                    pending_enum = true;
                }
                Class::Keyword
            } else if expect_type
                || previous_keyword.is_some_and(|k| DECLARING.contains(&k))
                || is_builtin_scalar(word)
            {
                previous_keyword = None;
                expect_type = false;
                Class::Type
            } else if parens > 0 {
                Class::Argument
            } else if braces > 0 && !block_is_enum {
                Class::Field
            } else {
                Class::Plain
            };
        } else if c.is_ascii_digit()
            || (c == b'-' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            i += 1;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                i += 1;
            }
            class = Class::Number;
        } else if c.is_ascii_whitespace() || c == b',' {
            while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b',') {
                i += 1;
            }
            class = Class::Plain;
        } else {
            // One character of punctuation (or any other UTF-8 character).
            i += text[i..].chars().next().map_or(1, char::len_utf8);
            match c {
                b'{' => {
                    braces += 1;
                    block_is_enum = pending_enum;
                    pending_enum = false;
                    previous_keyword = None;
                    expect_type = false;
                }
                b'}' => {
                    braces = braces.saturating_sub(1);
                    block_is_enum = false;
                    expect_type = false;
                }
                b'(' => {
                    parens += 1;
                    expect_type = false;
                }
                b')' => {
                    parens = parens.saturating_sub(1);
                    expect_type = false;
                }
                b':' => expect_type = true,
                b'=' if braces == 0 => {
                    // `union X = A | B`: names after `=` are types; in
                    // argument defaults (`= 10`) they are values.
                    expect_type = parens == 0;
                    previous_keyword = None;
                }
                b'|' | b'&' => expect_type = true,
                // `[`, `]` and `!` wrap a type without ending the wait for it.
                _ => {}
            }
            class = Class::Punctuation;
        }
        tokens.push((class, &text[start..i]));
    }
    tokens
}

/// Whether the next non-blank character after `at` is `:` (a field called
/// like a keyword, such as `type: String`).
fn followed_by_colon(text: &str, at: usize) -> bool {
    text[at..]
        .chars()
        .find(|c| !c.is_whitespace())
        .is_some_and(|c| c == ':' || c == '(')
}

fn is_builtin_scalar(word: &str) -> bool {
    matches!(word, "String" | "Int" | "Float" | "Boolean" | "ID")
}

/// The SDL as highlighted markup in `<pre class="code">`.
pub(crate) fn render(text: &str) -> Markup {
    let tokens = tokenize(text);
    html! {
        pre class="code graphql" {
            code {
                @for (class, token) in tokens {
                    @if class == Class::Plain || class == Class::Punctuation {
                        (token)
                    } @else {
                        span class=(class.css()) { (token) }
                    }
                }
            }
        }
    }
}
