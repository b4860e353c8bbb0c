//! Area codes and the jurisdiction prefix rule.
//!
//! Base codes nest by extension (DESIGN.md "The hierarchy and its codes"): city and district
//! 6 digits (GB/T 2260), street 9, community 12, grid 15 (GB/T 30428.1), micro-grid grid + 2 or 3.
//! Areas of other layers extend the base area they belong to with one upper-case layer letter
//! and pairs of digits per level of their own tree: special grid `410611001001S01` (a school in
//! that community), fire-safety grids `410611001F01` > `410611001F0102` > `410611001F010203`.
//! So "inside my jurisdiction" is always a prefix test on the significant prefix of a code.

use std::sync::OnceLock;

use regex::Regex;

/// Why a code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("code {0:?} is not a valid area code: expected 6 digits (city/district), 9 (street), 12 (community), 15 (grid) or 17–18 (micro-grid), optionally followed by a layer letter and pairs of digits")]
    Format(String),
}

fn code_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^[0-9]{6}(?:(?:[0-9]{3}){0,2}|[0-9]{9}(?:[0-9]{2,3})?)(?:[A-Z][0-9]{2}(?:[0-9]{2})*)?$")
            .expect("static regex")
    })
}

/// Checks the format of an area code (any layer).
///
/// ```
/// use gridmap::model::validate_code;
/// assert!(validate_code("410611001001001").is_ok()); // a grid
/// assert!(validate_code("410611001001S01").is_ok()); // a special grid
/// assert!(validate_code("41061100").is_err()); // 8 digits is no level
/// ```
pub fn validate_code(code: &str) -> Result<(), CodeError> {
    if code_regex().is_match(code) {
        Ok(())
    } else {
        Err(CodeError::Format(code.to_string()))
    }
}

/// The significant prefix of a code for jurisdiction tests: a 6-digit code drops trailing
/// `00` pairs (province 410000 → `41`, city 410600 → `4106`), longer codes are their own prefix.
pub fn scope_prefix(code: &str) -> &str {
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        let mut p = code;
        while p.len() > 2 && p.ends_with("00") {
            p = &p[..p.len() - 2];
        }
        p
    } else {
        code
    }
}

/// Whether `code` lies inside the jurisdiction `scope` (an area code).
///
/// ```
/// use gridmap::model::scope_contains;
/// assert!(scope_contains("410600", "410611001001001")); // the city covers every 4106… code
/// assert!(scope_contains("410611001", "410611001F01")); // a street covers its fire grids
/// assert!(!scope_contains("410611", "410621001")); // 淇滨区 does not cover 浚县
/// ```
pub fn scope_contains(scope: &str, code: &str) -> bool {
    code.starts_with(scope_prefix(scope))
}

/// Whether the jurisdiction `scope` covers the whole city (and so the events outside every
/// area, which belong to no district): its significant prefix has at most 4 characters — a
/// city (`410600` → `4106`), a province (`410000` → `41`) or everything (an empty scope).
///
/// ```
/// use gridmap::model::covers_whole_city;
/// assert!(covers_whole_city("410600"));
/// assert!(!covers_whole_city("410611"));
/// assert!(!covers_whole_city("410611001"));
/// ```
pub fn covers_whole_city(scope: &str) -> bool {
    scope_prefix(scope).len() <= 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        for ok in [
            "410600",
            "410611",
            "410611001",
            "410611001001",
            "410611001001001",
            "41061100100100101",
            "410611001001001001",
            "410611001001S01",
            "410611001F01",
            "410611001F0102",
            "410611001F010203",
            "410671400",
        ] {
            assert_eq!(validate_code(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "41061",
            "4106110",
            "41061100",
            "41061a",
            "410611001001001001x",
            "410611F1",
        ] {
            assert!(validate_code(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prefixes() {
        assert_eq!(scope_prefix("410000"), "41");
        assert_eq!(scope_prefix("410600"), "4106");
        assert_eq!(scope_prefix("410611"), "410611");
        assert_eq!(scope_prefix("410611001"), "410611001");
        assert!(scope_contains("410600", "410611001001001"));
        assert!(scope_contains("410600", "410671400"));
        assert!(!scope_contains("410611", "410621001"));
        assert!(scope_contains("410611001", "410611001F01"));
        assert!(!scope_contains("410611001", "410611002001"));
    }
}
