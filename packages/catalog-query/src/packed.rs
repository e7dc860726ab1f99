//! Entity texts kept as LZ4 blocks in memory, compressed against a dictionary per kind sampled
//! from the texts themselves, and decompressed straight into the caller's buffer on read.
//!
//! The compact JSON texts are most of the index's memory. One entity's text is too short to
//! compress well on its own (LZ4 finds little to repeat inside a kilobyte), but the texts are
//! very alike: the same keys, annotation names, location URLs and relation types. A shared
//! dictionary made of a few representative texts gives LZ4 those repeats, which is what makes
//! compression pay. Decompressing a block is a few hundred nanoseconds, so pages are still
//! served by appending texts, now through [`PackedText::write_to`].
//!
//! Each kind has its own dictionary. Entities of one kind share far more than entities of
//! different kinds, and catalogs are loaded kind by kind (stitching follows the order of the
//! files), so one dictionary sampled from the texts seen so far would know nothing of the
//! kinds still to come.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use lz4_flex::block::{
    compress_into, compress_into_with_dict, decompress_into, decompress_into_with_dict,
    get_maximum_output_size,
};

use crate::error::TextError;

/// The size of a kind's dictionary. LZ4 looks back at most 64 KiB, but every compression
/// hashes the whole dictionary first, so a larger one costs more time per insert than it saves
/// in memory: on the benchmark's entities 8 KiB per kind compresses to 19 % at 4 µs a text,
/// 32 KiB to 18 % at 11 µs.
const DICTIONARY_BYTES: usize = 8 * 1024;
/// How many texts the sample a dictionary is made from holds.
const SAMPLE_SLOTS: usize = 16;
/// The longest prefix of a text that goes into the sample. The start of a text (kind,
/// metadata, annotations) is what entities share; a long tail of relations or an API
/// definition would crowd the others out of the dictionary.
const SAMPLE_TEXT_BYTES: usize = 2 * 1024;
/// How many texts of a kind are seen before its first dictionary is made; later ones are made
/// each time that count doubles, so that a kind's dictionary follows its texts as they change.
const FIRST_DICTIONARY_AT: u64 = SAMPLE_SLOTS as u64;
/// Kinds with a dictionary of their own; texts of further kinds (a catalog with that many is
/// unusual) share one, so that odd input cannot make the samples grow without bound.
const MAX_KINDS: usize = 64;

/// A shared LZ4 dictionary. Every text compressed with it holds it, so a newer dictionary
/// never changes how an older text reads back, and an unused one is freed with its last text.
#[derive(Debug)]
pub(crate) struct Dictionary {
    bytes: Box<[u8]>,
}

/// One stored entity text.
#[derive(Debug)]
pub(crate) enum PackedText {
    /// The text as is: compression would not have saved enough to pay for decompressing it,
    /// or compression is turned off.
    Raw(Box<str>),
    /// An LZ4 block of a text of `len` bytes, compressed against `dictionary` (or none).
    Lz4 {
        block: Box<[u8]>,
        len: u32,
        dictionary: Option<Arc<Dictionary>>,
    },
}

impl PackedText {
    /// The length of the text in bytes.
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Raw(text) => text.len(),
            Self::Lz4 { len, .. } => *len as usize,
        }
    }

    /// The bytes held for the text (the block, or the text itself when raw).
    pub(crate) fn stored_len(&self) -> usize {
        match self {
            Self::Raw(text) => text.len(),
            Self::Lz4 { block, .. } => block.len(),
        }
    }

    /// The dictionary the text was compressed with, if any.
    pub(crate) fn dictionary(&self) -> Option<&Arc<Dictionary>> {
        match self {
            Self::Raw(_) => None,
            Self::Lz4 { dictionary, .. } => dictionary.as_ref(),
        }
    }

    /// Appends the text to `out`. On error `out` is left as it was, so that a caller can
    /// answer with an error instead of half a text.
    pub(crate) fn write_to(&self, out: &mut Vec<u8>) -> Result<(), TextError> {
        let (block, len, dictionary) = match self {
            Self::Raw(text) => {
                out.extend_from_slice(text.as_bytes());
                return Ok(());
            }
            Self::Lz4 {
                block,
                len,
                dictionary,
            } => (block, *len as usize, dictionary),
        };
        let start = out.len();
        // Decompressing needs the output as a slice of the final size; zeroing it first costs
        // far less than the decompression and keeps this free of unsafe code.
        out.resize(start + len, 0);
        let target = out.get_mut(start..).unwrap_or_default();
        let written = match dictionary {
            Some(dictionary) => decompress_into_with_dict(block, target, &dictionary.bytes),
            None => decompress_into(block, target),
        };
        match written {
            Ok(written) if written == len => Ok(()),
            Ok(written) => {
                out.truncate(start);
                Err(TextError::Corrupt(format!(
                    "{written} bytes decompressed instead of {len}"
                )))
            }
            Err(e) => {
                out.truncate(start);
                Err(TextError::Corrupt(e.to_string()))
            }
        }
    }

    /// The text: borrowed when stored raw, decompressed into a new string otherwise.
    pub(crate) fn text(&self) -> Result<Cow<'_, str>, TextError> {
        match self {
            Self::Raw(text) => Ok(Cow::Borrowed(text)),
            Self::Lz4 { .. } => {
                let mut bytes = Vec::with_capacity(self.len());
                self.write_to(&mut bytes)?;
                String::from_utf8(bytes)
                    .map(Cow::Owned)
                    .map_err(|_| TextError::NotUtf8)
            }
        }
    }

    /// Whether the stored text is exactly `text`; `scratch` is reused for decompressing.
    pub(crate) fn equals(&self, text: &str, scratch: &mut Vec<u8>) -> bool {
        match self {
            Self::Raw(raw) => raw.as_ref() == text,
            Self::Lz4 { len, .. } => {
                // Most changed entities change length, which needs no decompression to see.
                if *len as usize != text.len() {
                    return false;
                }
                scratch.clear();
                self.write_to(scratch).is_ok() && scratch.as_slice() == text.as_bytes()
            }
        }
    }
}

/// Turns texts into [`PackedText`]s with the dictionary of their kind.
#[derive(Debug)]
pub(crate) struct Packer {
    enabled: bool,
    kinds: HashMap<Box<str>, Sampler>,
    /// Shared by the kinds beyond [`MAX_KINDS`].
    others: Sampler,
    /// Reused output buffer of the compressor.
    out: Vec<u8>,
}

impl Default for Packer {
    fn default() -> Self {
        Self {
            enabled: true,
            kinds: HashMap::new(),
            others: Sampler::default(),
            out: Vec::new(),
        }
    }
}

impl Packer {
    /// Turns compression of texts stored from now on on or off; stored texts are unchanged.
    pub(crate) fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
    }

    /// The dictionaries new texts are compressed with, one per kind seen often enough.
    pub(crate) fn dictionaries(&self) -> impl Iterator<Item = &Arc<Dictionary>> {
        self.kinds
            .values()
            .chain(std::iter::once(&self.others))
            .filter_map(|sampler| sampler.dictionary.as_ref())
    }

    /// Stores `text` of an entity of `kind`, compressed when that saves at least an eighth.
    pub(crate) fn pack(&mut self, kind: &str, text: Box<str>) -> PackedText {
        if !self.enabled {
            return PackedText::Raw(text);
        }
        let sampler = if let Some(sampler) = self.kinds.get_mut(kind) {
            sampler
        } else if self.kinds.len() < MAX_KINDS {
            self.kinds.entry(Box::from(kind)).or_default()
        } else {
            &mut self.others
        };
        sampler.observe(text.as_bytes());
        let Ok(len) = u32::try_from(text.len()) else {
            return PackedText::Raw(text);
        };
        let input = text.as_bytes();
        self.out.clear();
        self.out.resize(get_maximum_output_size(input.len()), 0);
        let compressed = match &sampler.dictionary {
            Some(dictionary) => compress_into_with_dict(input, &mut self.out, &dictionary.bytes),
            None => compress_into(input, &mut self.out),
        };
        match compressed {
            Ok(size) if size <= input.len() - input.len() / 8 => PackedText::Lz4 {
                block: Box::from(self.out.get(..size).unwrap_or_default()),
                len,
                dictionary: sampler.dictionary.clone(),
            },
            // The output buffer is sized for the worst case, so an error cannot happen; a
            // text that does not shrink is kept raw either way.
            _ => PackedText::Raw(text),
        }
    }
}

/// One kind's dictionary and the sample it is made from: a uniform sample of the kind's texts
/// seen so far (reservoir sampling), from which a new dictionary is made each time the number
/// of texts seen doubles.
#[derive(Debug)]
struct Sampler {
    dictionary: Option<Arc<Dictionary>>,
    sample: Vec<Box<[u8]>>,
    /// Texts offered to the sample so far.
    seen: u64,
    /// The `seen` count at which the next dictionary is made.
    next_dictionary_at: u64,
    /// State of the generator that picks sample slots; fixed, so that a given sequence of
    /// inserts always yields the same dictionaries.
    random: u64,
}

impl Default for Sampler {
    fn default() -> Self {
        Self {
            dictionary: None,
            sample: Vec::with_capacity(SAMPLE_SLOTS),
            seen: 0,
            next_dictionary_at: FIRST_DICTIONARY_AT,
            random: 0x9e37_79b9_7f4a_7c15,
        }
    }
}

impl Sampler {
    /// Offers a text to the sample and makes a new dictionary when it is time.
    fn observe(&mut self, text: &[u8]) {
        self.seen += 1;
        let prefix = || Box::from(text.get(..SAMPLE_TEXT_BYTES).unwrap_or(text));
        if self.sample.len() < SAMPLE_SLOTS {
            self.sample.push(prefix());
        } else {
            // Algorithm R: the text replaces a random slot with probability slots / seen.
            let slot = self.next_random() % self.seen;
            if let Some(entry) = usize::try_from(slot)
                .ok()
                .and_then(|slot| self.sample.get_mut(slot))
            {
                *entry = prefix();
            }
        }
        if self.seen >= self.next_dictionary_at {
            self.next_dictionary_at = self.next_dictionary_at.saturating_mul(2);
            self.make_dictionary();
        }
    }

    /// Builds a dictionary from the sample, whole texts until the size is reached.
    fn make_dictionary(&mut self) {
        let mut bytes = Vec::with_capacity(DICTIONARY_BYTES);
        for text in &self.sample {
            if bytes.len() + text.len() <= DICTIONARY_BYTES {
                bytes.extend_from_slice(text);
            }
        }
        self.dictionary = Some(Arc::new(Dictionary {
            bytes: bytes.into_boxed_slice(),
        }));
    }

    /// A 64-bit linear congruential step; the high bits are well mixed enough to pick slots.
    fn next_random(&mut self) -> u64 {
        self.random = self
            .random
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.random >> 33
    }
}

impl Dictionary {
    /// The dictionary's size in bytes.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity_text(i: usize) -> String {
        format!(
            r#"{{"apiVersion":"backstage.io/v1alpha1","kind":"Component","metadata":{{"name":"component-{i}","annotations":{{"backstage.io/managed-by-location":"file:/catalog/part-{}.yaml"}},"namespace":"default","uid":"uid-{i:08}"}},"spec":{{"type":"service","owner":"team-{}"}},"relations":[{{"type":"ownedBy","targetRef":"group:default/team-{}"}}]}}"#,
            i / 500,
            i % 37,
            i % 37
        )
    }

    #[test]
    fn texts_round_trip_through_every_dictionary_generation() {
        let mut packer = Packer::default();
        let texts: Vec<String> = (0..300).map(entity_text).collect();
        let packed: Vec<PackedText> = texts
            .iter()
            .map(|t| packer.pack("component", Box::from(t.as_str())))
            .collect();
        let dictionaries: std::collections::HashSet<Option<*const Dictionary>> = packed
            .iter()
            .map(|p| p.dictionary().map(Arc::as_ptr))
            .collect();
        assert!(
            dictionaries.len() >= 3,
            "no dictionary, then at least two: {dictionaries:?}"
        );
        for (text, packed) in texts.iter().zip(&packed) {
            let mut out = b"prefix".to_vec();
            packed.write_to(&mut out).expect("readable");
            assert_eq!(&out[6..], text.as_bytes());
            assert_eq!(packed.text().expect("readable"), text.as_str());
            assert_eq!(packed.len(), text.len());
        }
        let last = packed.last().expect("texts");
        assert!(matches!(last, PackedText::Lz4 { .. }));
        assert!(
            last.stored_len() * 3 < last.len(),
            "a dictionary makes alike texts shrink: {} of {}",
            last.stored_len(),
            last.len()
        );
    }

    #[test]
    fn a_damaged_block_is_an_error_and_leaves_the_output_alone() {
        let mut packer = Packer::default();
        for i in 0..100 {
            packer.pack("component", Box::from(entity_text(i).as_str()));
        }
        let text = entity_text(1000);
        let PackedText::Lz4 {
            block,
            len,
            dictionary,
        } = packer.pack("component", Box::from(text.as_str()))
        else {
            panic!("an entity text compresses");
        };
        let damaged = [
            // Cut short.
            PackedText::Lz4 {
                block: Box::from(&block[..block.len() / 2]),
                len,
                dictionary: dictionary.clone(),
            },
            // Read against no dictionary.
            PackedText::Lz4 {
                block: block.clone(),
                len,
                dictionary: None,
            },
            // Recorded as longer than it is.
            PackedText::Lz4 {
                block: block.clone(),
                len: len + 10,
                dictionary: dictionary.clone(),
            },
            // Recorded as shorter than it is.
            PackedText::Lz4 {
                block,
                len: len - 10,
                dictionary,
            },
        ];
        for packed in &damaged {
            let mut out = b"kept".to_vec();
            assert!(packed.write_to(&mut out).is_err(), "{packed:?}");
            assert_eq!(out, b"kept");
            assert!(packed.text().is_err());
            assert!(!packed.equals(&text, &mut Vec::new()));
        }
    }

    #[test]
    fn arbitrary_blocks_never_panic() {
        let dictionary = Some(Arc::new(Dictionary {
            bytes: Box::from(entity_text(1).as_bytes()),
        }));
        let mut state: u64 = 1;
        for round in 0..2_000u32 {
            let bytes: Vec<u8> = (0..(round % 97))
                .map(|_| {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    (state >> 56) as u8
                })
                .collect();
            for dictionary in [None, dictionary.clone()] {
                let packed = PackedText::Lz4 {
                    block: Box::from(bytes.as_slice()),
                    len: round % 300,
                    dictionary,
                };
                let mut out = Vec::new();
                // Either answer is fine; what matters is that there is one.
                let _ = packed.write_to(&mut out);
                let _ = packed.text();
            }
        }
    }

    #[test]
    fn texts_that_do_not_shrink_stay_raw_and_disabled_packing_stores_raw() {
        let mut packer = Packer::default();
        let noise: String = (0..64u32)
            .map(|i| char::from(b'!' + ((i * 7919 + 13) % 90) as u8))
            .collect();
        assert!(matches!(
            packer.pack("component", Box::from(noise.as_str())),
            PackedText::Raw(_)
        ));
        packer.set_enabled(false);
        let text = entity_text(5);
        let packed = packer.pack("component", Box::from(text.as_str()));
        assert!(matches!(&packed, PackedText::Raw(t) if t.as_ref() == text));
        assert!(matches!(packed.text(), Ok(Cow::Borrowed(_))));
    }

    #[test]
    fn each_kind_gets_its_own_dictionary_and_kinds_beyond_the_limit_share_one() {
        let mut packer = Packer::default();
        for kind in 0..MAX_KINDS + 5 {
            for i in 0..FIRST_DICTIONARY_AT as usize {
                let text = entity_text(i).replace("Component", &format!("Kind{kind}"));
                let packed = packer.pack(&format!("kind{kind}"), Box::from(text.as_str()));
                assert_eq!(packed.text().expect("readable"), text.as_str());
            }
        }
        assert_eq!(packer.kinds.len(), MAX_KINDS);
        assert_eq!(packer.dictionaries().count(), MAX_KINDS + 1);
    }
}
