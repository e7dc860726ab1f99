//! The key-segment grammar shared by `APP_CONFIG_*` names and reader keys.

/// Whether `segment` is a valid config key segment.
///
/// The grammar is Backstage's `/^[a-z][a-z0-9]*(?:[-_:][a-z0-9]+)*$/i`: a
/// letter first, then letters and digits, with single `-`, `_` or `:`
/// separators that must each be followed by at least one letter or digit.
/// It is written by hand so the crate does not need a regex engine.
pub fn is_valid_key_segment(segment: &str) -> bool {
    let mut chars = segment.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() => {}
        _ => return false,
    }
    // `after_separator` is true right after `-`, `_` or `:`, where another
    // separator or the end of the segment would leave an empty part.
    let mut after_separator = false;
    for c in chars {
        if c.is_ascii_alphanumeric() {
            after_separator = false;
        } else if matches!(c, '-' | '_' | ':') && !after_separator {
            after_separator = true;
        } else {
            return false;
        }
    }
    !after_separator
}
