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
/// (this one, the tile ETag) read.
pub fn le_words(bytes: &[u8]) -> impl Iterator<Item = u64> + '_ {
    bytes.chunks(8).map(|chunk| {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        u64::from_le_bytes(word)
    })
}
