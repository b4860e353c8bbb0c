//! How a tile is sent: its content codings (brotli, gzip, identity) made once for a cached tile
//! or in the asked coding only for an uncached one, and its strong ETag.

use std::io::Write as _;

use bytes::Bytes;

use super::fx_hash::le_words;

/// Brotli quality for cached tiles: compressed once per cached tile, so worth more than the
/// on-the-fly default, but not the slow top levels.
const BROTLI_QUALITY: u32 = 6;
const BROTLI_WINDOW: u32 = 22;

/// A content coding of tile answers (`Content-Encoding`), in order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Brotli,
    Gzip,
    Identity,
}

impl Coding {
    /// The `Content-Encoding` value; `None` for identity.
    pub fn header(self) -> Option<&'static str> {
        match self {
            Coding::Brotli => Some("br"),
            Coding::Gzip => Some("gzip"),
            Coding::Identity => None,
        }
    }
}

/// A tile ready to send: its bytes in every encoding and its ETag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedTile {
    /// Uncompressed MVT; empty for a tile without features.
    pub identity: Bytes,
    /// Empty when the tile is empty or was made for another coding ([`CachedTile::encode_once`]).
    pub gzip: Bytes,
    /// Empty when the tile is empty or was made for another coding ([`CachedTile::encode_once`]).
    pub brotli: Bytes,
    /// Strong ETag (quoted) computed from the uncompressed bytes.
    pub etag: String,
    /// When the cache must stop answering with this tile although nothing it holds was
    /// edited: tiles that carry values judged at render time (an event's overdue flag and
    /// card) go stale as the clock runs. `None`: fresh until an edit invalidates it.
    pub fresh_until: Option<std::time::Instant>,
}

impl CachedTile {
    /// Compresses an encoded tile once in both encodings and computes its ETag (for the cache:
    /// every later request is answered without compressing again).
    pub fn encode(raw: Vec<u8>) -> std::io::Result<CachedTile> {
        let etag = etag_of(&raw);
        let (gzip, brotli) = if raw.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            (gzip(&raw)?, brotli(&raw)?)
        };
        Ok(CachedTile {
            identity: Bytes::from(raw),
            gzip: Bytes::from(gzip),
            brotli: Bytes::from(brotli),
            etag,
            fresh_until: None,
        })
    }

    /// Compresses an encoded tile in `coding` only, for one answer that is not cached (cache
    /// off): compressing in the coding nobody asked for would double the cost of every request.
    pub fn encode_once(raw: Vec<u8>, coding: Coding) -> std::io::Result<CachedTile> {
        let etag = etag_of(&raw);
        let compressed = |wanted: Coding, f: fn(&[u8]) -> std::io::Result<Vec<u8>>| {
            if coding == wanted && !raw.is_empty() {
                f(&raw).map(Bytes::from)
            } else {
                Ok(Bytes::new())
            }
        };
        Ok(CachedTile {
            gzip: compressed(Coding::Gzip, gzip_fast)?,
            brotli: compressed(Coding::Brotli, brotli)?,
            identity: Bytes::from(raw),
            etag,
            fresh_until: None,
        })
    }

    /// The body for a client preferring `coding` and the coding it is in: the preferred form
    /// when the tile holds it, identity otherwise.
    pub fn body(&self, coding: Coding) -> (Coding, Bytes) {
        match coding {
            Coding::Brotli if !self.brotli.is_empty() => (Coding::Brotli, self.brotli.clone()),
            Coding::Gzip if !self.gzip.is_empty() => (Coding::Gzip, self.gzip.clone()),
            _ => (Coding::Identity, self.identity.clone()),
        }
    }

    /// Whether the cache must no longer answer with this tile (see `fresh_until`).
    pub fn is_stale(&self) -> bool {
        self.fresh_until
            .is_some_and(|t| std::time::Instant::now() >= t)
    }

    /// Whether the tile has no feature (answered 204).
    pub fn is_empty(&self) -> bool {
        self.identity.is_empty()
    }

    /// What the tile costs the cache: its bytes in every coding, the ETag and some overhead.
    pub fn weight(&self) -> usize {
        self.identity.len() + self.gzip.len() + self.brotli.len() + self.etag.len() + 64
    }
}

/// The strong ETag of uncompressed tile bytes: length and a 64-bit FNV-1a hash taken over
/// 8-byte little-endian words (the tail zero-padded), quoted. Stable across processes, so
/// replicas agree. Hashing word by word rather than byte by byte took the ETag from about 3 %
/// of an uncached building tile's time to a few tenths of one.
pub fn etag_of(bytes: &[u8]) -> String {
    let hash = le_words(bytes).fold(0xcbf2_9ce4_8422_2325_u64, |hash, word| {
        (hash ^ word).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("\"{:x}-{hash:016x}\"", bytes.len())
}

/// gzip at the default level, for tiles compressed once and answered many times.
fn gzip(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    gzip_at(raw, flate2::Compression::default())
}

/// gzip at the fastest level, for a tile answered once (cache off): deflate at the default
/// level took about a sixth of an uncached tile's time, the fastest level a third of that, for
/// answers about a tenth larger.
fn gzip_fast(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    gzip_at(raw, flate2::Compression::fast())
}

/// One gzip member (RFC 1952) of `raw` at `level`. The deflate state (about 300 KB that zlib
/// allocates and zeroes) is kept per thread and level and reset between tiles: making it afresh
/// cost as much as compressing a typical tile. flate2 has no gzip writer over a reused
/// [`flate2::Compress`], so the 10-byte header and the CRC-32/size trailer are written here.
fn gzip_at(raw: &[u8], level: flate2::Compression) -> std::io::Result<Vec<u8>> {
    thread_local! {
        static DEFLATERS: std::cell::RefCell<Vec<(u32, flate2::Compress)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    let mut out = Vec::with_capacity(raw.len() / 2 + 64);
    out.extend_from_slice(&HEADER);
    DEFLATERS.with_borrow_mut(|deflaters| {
        let at = match deflaters.iter().position(|(l, _)| *l == level.level()) {
            Some(at) => at,
            None => {
                deflaters.push((level.level(), flate2::Compress::new(level, false)));
                deflaters.len() - 1
            }
        };
        let deflater = &mut deflaters[at].1;
        deflater.reset();
        deflate_all(deflater, raw, &mut out)
    })?;
    let mut crc = flate2::Crc::new();
    crc.update(raw);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&crc.amount().to_le_bytes());
    Ok(out)
}

/// Deflates all of `raw` onto the end of `out`, growing it as needed.
fn deflate_all(
    deflater: &mut flate2::Compress,
    raw: &[u8],
    out: &mut Vec<u8>,
) -> std::io::Result<()> {
    let start = deflater.total_in();
    loop {
        let read = usize::try_from(deflater.total_in() - start).unwrap_or(raw.len());
        out.reserve(raw.len().saturating_sub(read) / 2 + 1024);
        let status = deflater
            .compress_vec(&raw[read..], out, flate2::FlushCompress::Finish)
            .map_err(std::io::Error::other)?;
        if status == flate2::Status::StreamEnd {
            return Ok(());
        }
    }
}

fn brotli(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = brotli::CompressorWriter::new(Vec::new(), 4096, BROTLI_QUALITY, BROTLI_WINDOW);
    enc.write_all(raw)?;
    enc.flush()?;
    Ok(enc.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_tile_has_no_compressed_variants_but_an_etag() {
        let t = CachedTile::encode(Vec::new()).expect("encode");
        assert!(t.is_empty() && t.gzip.is_empty() && t.brotli.is_empty());
        assert_eq!(t.etag, etag_of(&[]));
        assert_ne!(etag_of(b"a"), etag_of(b"b"));
        assert!(etag_of(b"abc").starts_with('"') && etag_of(b"abc").ends_with('"'));
    }

    #[test]
    fn encode_once_compresses_only_the_asked_coding() {
        let raw = vec![7u8; 300];
        let all = CachedTile::encode(raw.clone()).expect("encode");
        for coding in [Coding::Brotli, Coding::Gzip, Coding::Identity] {
            let once = CachedTile::encode_once(raw.clone(), coding).expect("encode");
            assert_eq!(once.etag, all.etag);
            let (sent, body) = once.body(coding);
            assert_eq!(sent, all.body(coding).0);
            if coding == Coding::Gzip {
                // Compressed at the fastest level: other bytes, the same content.
                let mut unzipped = Vec::new();
                std::io::Read::read_to_end(
                    &mut flate2::read::GzDecoder::new(&body[..]),
                    &mut unzipped,
                )
                .expect("gunzip");
                assert_eq!(unzipped, raw);
            } else {
                assert_eq!(body, all.body(coding).1);
            }
            let others = [Coding::Brotli, Coding::Gzip]
                .into_iter()
                .filter(|&c| c != coding);
            for other in others {
                assert_eq!(once.body(other), (Coding::Identity, all.identity.clone()));
            }
        }
        assert_eq!(all.body(Coding::Gzip).0, Coding::Gzip);
        assert_ne!(all.body(Coding::Gzip).1, all.identity);
        let empty = CachedTile::encode_once(Vec::new(), Coding::Gzip).expect("encode");
        assert!(empty.is_empty() && empty.gzip.is_empty());
    }

    #[test]
    fn gzip_members_stay_whole_when_the_deflater_is_reused() {
        let gunzip = |bytes: &[u8]| {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut out)
                .expect("gunzip");
            out
        };
        // Incompressible bytes (an LCG) make the output outgrow its first reservation.
        let mut state = 1u32;
        let noise: Vec<u8> = (0..200_000)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (state >> 24) as u8
            })
            .collect();
        let inputs = [
            vec![1u8; 10],
            noise.clone(),
            b"tile".repeat(5000),
            Vec::new(),
            noise[..777].to_vec(),
        ];
        for round in 0..2 {
            for raw in &inputs {
                for zipped in [gzip(raw), gzip_fast(raw)] {
                    let zipped = zipped.expect("gzip");
                    assert_eq!(gunzip(&zipped), *raw, "round {round}, {} bytes", raw.len());
                }
            }
        }
    }
}
