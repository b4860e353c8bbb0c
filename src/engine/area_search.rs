//! Finding areas by what a person types into the wall map's search box: a code (or its start)
//! or part of a name.
//!
//! The rule: a query of digits matches codes that start with it; any other query matches names
//! that contain it (ASCII letters case-insensitively). Hits are ranked by how well they match
//! (an exact name or code, then a name or code that starts with the query, then a name that
//! contains it), then from the top of the hierarchy down (a district before its grids), then by
//! layer and code. A linear pass over the areas: a city holds some thousands, and a pass costs
//! well under a millisecond.

use super::area_index::AreaIndex;
use crate::model::Area;

/// How well an area matches; lower is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Exact,
    Prefix,
    Inside,
}

/// The query as it is matched.
enum Needle {
    CodePrefix(String),
    NamePart(String),
}

impl Needle {
    fn of(query: &str) -> Option<Needle> {
        let q = query.trim();
        if q.is_empty() {
            return None;
        }
        Some(if q.chars().all(|c| c.is_ascii_digit()) {
            Needle::CodePrefix(q.to_string())
        } else {
            Needle::NamePart(q.to_lowercase())
        })
    }

    fn rank(&self, area: &Area) -> Option<Rank> {
        match self {
            Needle::CodePrefix(p) if area.code == *p => Some(Rank::Exact),
            Needle::CodePrefix(p) => area.code.starts_with(p.as_str()).then_some(Rank::Prefix),
            Needle::NamePart(part) => {
                let name = area.name.to_lowercase();
                if name == *part {
                    Some(Rank::Exact)
                } else if name.starts_with(part.as_str()) {
                    Some(Rank::Prefix)
                } else {
                    name.contains(part.as_str()).then_some(Rank::Inside)
                }
            }
        }
    }
}

/// At most `limit` areas matching `query` among those `visible` lets through, best first; none
/// for a blank query.
pub fn search<'a>(
    index: &'a AreaIndex,
    query: &str,
    visible: impl Fn(&Area) -> bool,
    limit: usize,
) -> Vec<&'a Area> {
    let Some(needle) = Needle::of(query) else {
        return Vec::new();
    };
    let mut hits: Vec<(Rank, &Area)> = index
        .areas()
        .filter_map(|a| Some((needle.rank(a)?, a)))
        .filter(|(_, a)| visible(a))
        .collect();
    hits.sort_by(|(ra, a), (rb, b)| {
        (ra, a.level, &a.layer, &a.code).cmp(&(rb, b.level, &b.layer, &b.code))
    });
    hits.into_iter().take(limit).map(|(_, a)| a).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Level;
    use geo_types::{polygon, MultiPolygon};

    fn area(code: &str, name: &str, level: Level) -> Area {
        let square = polygon![(x: 114.0, y: 35.0), (x: 114.1, y: 35.0), (x: 114.1, y: 35.1), (x: 114.0, y: 35.1)];
        Area::bare(code, name, level, MultiPolygon(vec![square]))
    }

    fn index() -> AreaIndex {
        AreaIndex::new(vec![
            area("410602", "鹤山区", Level::District),
            area("410602001", "中山北路街道", Level::Street),
            area("410602002", "中山路街道", Level::Street),
            area("410602001001", "鹤山社区", Level::Community),
            area("410611", "淇滨区", Level::District),
            area("410611001001", "Jinshan Garden", Level::Community),
        ])
    }

    fn codes(hits: Vec<&Area>) -> Vec<&str> {
        hits.into_iter().map(|a| a.code.as_str()).collect()
    }

    #[test]
    fn a_blank_query_finds_nothing() {
        let i = index();
        assert!(search(&i, "", |_| true, 10).is_empty());
        assert!(search(&i, "   ", |_| true, 10).is_empty());
    }

    #[test]
    fn digits_match_code_prefixes_exact_first() {
        let i = index();
        assert_eq!(
            codes(search(&i, "410602", |_| true, 10)),
            ["410602", "410602001", "410602002", "410602001001"]
        );
        assert_eq!(
            codes(search(&i, "4106020010", |_| true, 10)),
            ["410602001001"]
        );
        assert!(search(&i, "999", |_| true, 10).is_empty());
    }

    #[test]
    fn names_rank_exact_then_start_then_inside_and_higher_levels_first() {
        let i = index();
        assert_eq!(
            codes(search(&i, "鹤山", |_| true, 10)),
            ["410602", "410602001001"]
        );
        assert_eq!(
            codes(search(&i, "中山", |_| true, 10)),
            ["410602001", "410602002"]
        );
        assert_eq!(codes(search(&i, "山", |_| true, 10)).len(), 4);
        assert_eq!(codes(search(&i, "jinSHAN", |_| true, 10)), ["410611001001"]);
    }

    #[test]
    fn the_filter_and_the_limit_apply() {
        let i = index();
        let in_410611 = |a: &Area| a.code.starts_with("410611");
        assert!(search(&i, "鹤山", in_410611, 10).is_empty());
        assert_eq!(codes(search(&i, "4106", |_| true, 2)), ["410602", "410611"]);
    }
}
