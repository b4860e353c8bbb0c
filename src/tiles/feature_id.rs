//! Stable MVT feature ids from area and building codes.
//!
//! The rule: an all-digit code of at most 18 digits is its own id (it is below 2^63, so the id
//! reads back as the code in any client). Any other code (special grids `…S01`, fire grids
//! `…F0102`) gets the 64-bit FNV-1a hash of its UTF-8 bytes with the top bit set, so the two
//! kinds never collide. The id depends on the code only: it survives restarts, re-imports and
//! zoom changes, which feature-state styling in MapLibre relies on.

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
const HASHED: u64 = 1 << 63;

/// The feature id of a code (see the module rule).
pub fn feature_id(code: &str) -> u64 {
    if (1..=18).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(id) = code.parse::<u64>() {
            return id;
        }
    }
    HASHED | fnv1a64(code.as_bytes())
}

/// 64-bit FNV-1a.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_code_is_hashed() {
        assert_eq!(feature_id(""), HASHED | FNV_OFFSET);
    }

    #[test]
    fn digit_codes_are_their_own_id() {
        assert_eq!(feature_id("410611"), 410_611);
        assert_eq!(feature_id("410611001001001"), 410_611_001_001_001);
        assert_eq!(feature_id("410611001001001001"), 410_611_001_001_001_001);
    }

    #[test]
    fn codes_with_letters_or_too_long_are_hashed_with_the_top_bit() {
        let id = feature_id("410611001001S01");
        assert!(id & HASHED != 0);
        assert_ne!(id, feature_id("410611001001S02"));
        assert!(feature_id("4106110010010010011") & HASHED != 0);
    }

    #[test]
    fn fnv1a_matches_the_reference_vector() {
        // FNV-1a 64 of "a" from the reference test suite.
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
