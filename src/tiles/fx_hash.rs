//! FxHash as in rustc-hash 2 (one add and multiply per word), for the short-lived maps of
//! cutting tiles: a layer's tag values (hashed once per tag) and the vertices of the rings
//! simplified together (hashed a few times per vertex), where SipHash was measurably slow,
//! and the per-zoom simplified area layers (looked up for every area of every tile).
//! Written here rather than added as a crate for these few lines; flood resistance is not
//! needed for maps that live for one tile or one simplified layer, keyed by codes from the
//! store, not by clients.

use std::hash::{BuildHasherDefault, Hasher};

/// Builds [`FxHasher`]s, for `HashMap<K, V, FxBuild>`.
pub type FxBuild = BuildHasherDefault<FxHasher>;

/// The hasher; see the module.
#[derive(Default)]
pub struct FxHasher(u64);

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = self
            .0
            .wrapping_add(word)
            .wrapping_mul(0xf135_7aea_2e62_a9c5);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        le_words(bytes).for_each(|word| self.add(word));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
    }
}

/// `bytes` as 8-byte little-endian words, the last one zero-padded: what word-wise hashes
/// (this one, the tile ETag) read. Whole words are read as such and the short tail byte by
/// byte: copying each chunk into a padded word called the C library's memcpy for every word
/// (a few per cent of an uncached tile, hashing its tag values).
pub fn le_words(bytes: &[u8]) -> impl Iterator<Item = u64> + '_ {
    let words = bytes.chunks_exact(8);
    let tail = words.remainder();
    words
        .map(|word| {
            let mut le = [0u8; 8];
            le.copy_from_slice(word);
            u64::from_le_bytes(le)
        })
        .chain((!tail.is_empty()).then(|| {
            tail.iter()
                .rev()
                .fold(0u64, |word, &b| (word << 8) | u64::from(b))
        }))
}

#[cfg(test)]
mod tests {
    use super::le_words;

    #[test]
    fn words_are_little_endian_and_the_tail_is_zero_padded() {
        let words: Vec<u64> = le_words(b"0123456789").collect();
        assert_eq!(
            words,
            [
                u64::from_le_bytes(*b"01234567"),
                u64::from_le_bytes(*b"89\0\0\0\0\0\0")
            ]
        );
        assert_eq!(le_words(b"").count(), 0);
        assert_eq!(le_words(b"abcdefgh").count(), 1);
    }
}
