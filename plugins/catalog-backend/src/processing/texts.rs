//! The texts of emitted children, kept compressed in blocks until they are written.
//!
//! A Location of a bulk load emits the whole catalog, and a refresh of it emits
//! it again, mostly unchanged. The children of one target file look alike, so
//! LZ4 over their joined texts takes about a tenth of their size (one by one, it
//! takes three quarters). A text is unpacked only when its row is written; an
//! unchanged child's never is.

use std::sync::Arc;

use greenroom_backend_plugin_api::BackendError;

/// Children packed together from here on; fewer are kept as they are.
pub(crate) const PACK_FROM: usize = 16;

/// A child's JSON text, as it is or inside a compressed block.
#[derive(Debug, Clone)]
pub(crate) enum ChildText {
    Plain(String),
    Packed {
        block: Arc<[u8]>,
        start: usize,
        len: usize,
    },
}

/// Replaces the texts of `texts` with slices of one compressed block of all of
/// them, when there are at least [`PACK_FROM`].
pub(crate) fn pack(texts: &mut [&mut ChildText]) {
    if texts.len() < PACK_FROM {
        return;
    }
    let mut joined = String::new();
    let mut spans = Vec::with_capacity(texts.len());
    for text in texts.iter() {
        let ChildText::Plain(plain) = &**text else {
            return;
        };
        spans.push((joined.len(), plain.len()));
        joined.push_str(plain);
    }
    let block: Arc<[u8]> = lz4_flex::compress_prepend_size(joined.as_bytes()).into();
    for (text, (start, len)) in texts.iter_mut().zip(spans) {
        **text = ChildText::Packed {
            block: Arc::clone(&block),
            start,
            len,
        };
    }
}

/// Unpacks child texts, keeping the last block it unpacked: children written
/// one after another mostly share one.
#[derive(Debug, Default)]
pub(crate) struct Unpacker {
    last: Option<(Arc<[u8]>, String)>,
}

impl Unpacker {
    /// The text of `text`, owned.
    pub(crate) fn text(&mut self, text: &ChildText) -> Result<String, BackendError> {
        let (block, start, len) = match text {
            ChildText::Plain(plain) => return Ok(plain.clone()),
            ChildText::Packed { block, start, len } => (block, *start, *len),
        };
        let cached = self
            .last
            .as_ref()
            .is_some_and(|(last, _)| Arc::ptr_eq(last, block));
        if !cached {
            let bytes = lz4_flex::decompress_size_prepended(block)
                .map_err(|e| BackendError::internal(format!("unpacking emitted entities: {e}")))?;
            let joined = String::from_utf8(bytes)
                .map_err(|e| BackendError::internal(format!("unpacking emitted entities: {e}")))?;
            self.last = Some((Arc::clone(block), joined));
        }
        self.last
            .as_ref()
            .and_then(|(_, joined)| joined.get(start..start + len))
            .map(str::to_owned)
            .ok_or_else(|| BackendError::internal("an emitted entity lies outside its block"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_texts_read_back_as_they_were() {
        let originals: Vec<String> = (0..40)
            .map(|i| {
                format!(
                    "{{\"kind\":\"Component\",\"metadata\":{{\"name\":\"c-{i}\",\"é\":\"ü\"}}}}"
                )
            })
            .collect();
        let mut texts: Vec<ChildText> = originals.iter().cloned().map(ChildText::Plain).collect();
        let mut refs: Vec<&mut ChildText> = texts.iter_mut().collect();
        pack(&mut refs);
        assert!(texts.iter().all(|t| matches!(t, ChildText::Packed { .. })));
        let mut unpacker = Unpacker::default();
        // In order, out of order, and again: each read gives the original.
        for i in (0..40).chain((0..40).rev()).chain([7, 3, 39]) {
            assert_eq!(unpacker.text(&texts[i]).expect("unpacks"), originals[i]);
        }
    }

    #[test]
    fn few_texts_stay_plain() {
        let mut texts: Vec<ChildText> = (0..PACK_FROM - 1)
            .map(|i| ChildText::Plain(format!("{{\"n\":{i}}}")))
            .collect();
        let mut refs: Vec<&mut ChildText> = texts.iter_mut().collect();
        pack(&mut refs);
        assert!(texts.iter().all(|t| matches!(t, ChildText::Plain(_))));
    }
}
