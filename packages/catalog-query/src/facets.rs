//! Entity facets (spec §7.9, §8.9): original-case value counts per requested key.

use std::collections::BTreeMap;

use crate::filter::EntityFilter;
use crate::index::CatalogIndex;

impl CatalogIndex {
    /// Counts search rows per original-case value for each requested facet, over the
    /// entities matching `filter`. Facets keep their requested spelling (duplicates collapse,
    /// first occurrence wins) and are matched case-insensitively; buckets are ordered by
    /// value; null and over-long values are left out; unknown facets give no buckets.
    pub fn facets(
        &self,
        facets: &[String],
        filter: Option<&EntityFilter>,
    ) -> Vec<(String, Vec<(String, u64)>)> {
        let visible = filter.map(|f| self.eval(Some(f)));
        let mut out: Vec<(String, Vec<(String, u64)>)> = Vec::new();
        for facet in facets {
            if out.iter().any(|(name, _)| name == facet) {
                continue;
            }
            let key = facet.to_lowercase();
            let mut buckets: BTreeMap<&str, u64> = BTreeMap::new();
            if let Some(index) = self.keys.get(key.as_str()) {
                for (lower, entry) in &index.values {
                    for (original, holders) in entry.spellings(lower) {
                        let count = holders.count_in(visible.as_ref());
                        if count > 0 {
                            *buckets.entry(original).or_default() += count;
                        }
                    }
                }
                for (id, repeats) in &self.repeated_rows {
                    if visible.as_ref().is_some_and(|v| !v.contains(*id)) {
                        continue;
                    }
                    for (row_key, original, extra) in repeats {
                        if **row_key == *key
                            && let Some(count) = buckets.get_mut(&**original)
                        {
                            *count += extra;
                        }
                    }
                }
            }
            out.push((
                facet.clone(),
                buckets
                    .into_iter()
                    .map(|(value, count)| (value.to_owned(), count))
                    .collect(),
            ));
        }
        out
    }
}
