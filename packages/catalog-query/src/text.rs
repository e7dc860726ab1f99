//! Full-text matching over one key's distinct values: a flat dictionary of the lower-cased
//! values, built on first use and dropped when the key's set of values changes, searched in
//! one pass instead of value by value.

use memchr::memmem;

/// The distinct lower-cased values of one key, in the key's (sorted) value order, joined into
/// one text with a NUL byte after each value.
///
/// Scanning one contiguous text with a vectorised substring search costs a fraction of
/// walking the value tree and testing each short value on its own, which is what made
/// full-text filters the slowest part of the catalog page.
#[derive(Debug, Default)]
pub(crate) struct TextDict {
    text: String,
    /// The end (exclusive) of each value in `text`; the next value starts one byte later.
    ends: Vec<usize>,
}

impl TextDict {
    /// Joins `values`, which must arrive in the key's value order.
    pub(crate) fn build<'a>(values: impl Iterator<Item = &'a str>) -> Self {
        let mut dict = TextDict::default();
        for value in values {
            dict.text.push_str(value);
            dict.ends.push(dict.text.len());
            dict.text.push('\0');
        }
        dict
    }

    /// Number of values.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    fn start(&self, i: usize) -> usize {
        match i.checked_sub(1).and_then(|prev| self.ends.get(prev)) {
            Some(&end) => end + 1,
            None => 0,
        }
    }

    /// Value `i` of the dictionary.
    pub(crate) fn value(&self, i: usize) -> &str {
        let end = self.ends.get(i).copied().unwrap_or(0);
        self.text.get(self.start(i)..end).unwrap_or_default()
    }

    /// The positions (ascending) of the values that match `%term%` as upstream's SQL `LIKE`
    /// does (see [`like_contains`]); `term` is already lower-cased.
    pub(crate) fn matching(&self, term: &str) -> Vec<usize> {
        if term.contains(['%', '_']) {
            return (0..self.len())
                .filter(|&i| like_contains(self.value(i), term))
                .collect();
        }
        if term.is_empty() {
            return (0..self.len()).collect();
        }
        let finder = memmem::Finder::new(term.as_bytes());
        let bytes = self.text.as_bytes();
        let mut out = Vec::new();
        let mut from = 0;
        while let Some(found) = bytes.get(from..).and_then(|rest| finder.find(rest)) {
            let at = from + found;
            // The value whose span (or trailing separator) holds the match start.
            let i = self.ends.partition_point(|&end| end < at);
            let Some(&end) = self.ends.get(i) else {
                break;
            };
            if at + term.len() <= end && at >= self.start(i) {
                out.push(i);
                // One hit per value is enough: resume at the next value.
                from = end + 1;
            } else {
                // The hit straddles a separator; a genuine one may start just after it.
                from = at + 1;
            }
        }
        out
    }
}

/// Whether `value` matches the SQL pattern `%term%` the way upstream's
/// `value LIKE ?` does: upstream does not escape the term, so `%` in it stands
/// for any run of characters and `_` for any one character.
pub(crate) fn like_contains(value: &str, term: &str) -> bool {
    if !term.contains(['%', '_']) {
        return value.contains(term);
    }
    // Wildcard matching of `%term%` with one point to backtrack to: the latest
    // `%`, retried one character further on each mismatch.
    let pattern: Vec<char> = std::iter::once('%')
        .chain(term.chars())
        .chain(std::iter::once('%'))
        .collect();
    let text: Vec<char> = value.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut retry: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('%') => {
                retry = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '_' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match retry {
                Some((star, from)) => {
                    p = star + 1;
                    t = from + 1;
                    retry = Some((star, from + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '%')
}

#[cfg(test)]
mod tests {
    use super::{TextDict, like_contains};

    #[test]
    fn full_text_terms_match_like_upstream_like_patterns() {
        assert!(like_contains("vessel-tracker", "track"));
        assert!(!like_contains("vessel-tracker", "trace"));
        assert!(like_contains("vessel-tracker", "v_ssel"));
        assert!(like_contains("vessel-tracker", "vessel%tracker"));
        assert!(like_contains("vessel-tracker", "%"));
        assert!(like_contains("vessel-tracker", "_"));
        assert!(like_contains("vessel-tracker", "r_"));
        assert!(!like_contains("vessel-tracker", "er_"));
        assert!(like_contains("vessel-tracker", "s%s%r"));
        assert!(!like_contains("vessel-tracker", "t%v"));
        assert!(like_contains("zweite fassung", "e_f"));
        assert!(!like_contains("", "_"));
        assert!(like_contains("", "%"));
        assert!(like_contains("fåß", "f_ß"));
    }

    #[test]
    fn dictionary_matches_agree_with_matching_each_value() {
        let values = [
            "", "a", "ab", "aba", "b", "ba", "bab", "x\0ab", "åb", "ååb", "abab",
        ];
        let dict = TextDict::build(values.iter().copied());
        for term in [
            "a", "b", "ab", "ba", "aba", "bab", "\0", "b\0", "åb", "å", "x", "abab", "c", "_", "%",
            "a_", "%b", "",
        ] {
            let expected: Vec<usize> = values
                .iter()
                .enumerate()
                .filter(|(_, v)| like_contains(v, term))
                .map(|(i, _)| i)
                .collect();
            assert_eq!(dict.matching(term), expected, "term {term:?}");
        }
        assert_eq!(dict.value(2), "ab");
        assert_eq!(dict.value(0), "");
    }
}
