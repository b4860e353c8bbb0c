//! Where each area's events lie: per area (by dictionary index), the box of every row ever
//! added with it. Boxes grow as rows arrive and never shrink, so they always cover the area's
//! live rows. A query for some areas (a jurisdiction, the statistics of a grid) need then look
//! only inside the union of their boxes: the blocks elsewhere are skipped. Boundaries alone
//! would not do: an event keeps its area code when the area's boundary moves.

use super::world::{WorldPoint, WorldRect};

/// Boxes of the rows of each area, by dictionary index; `None` for an area without rows.
#[derive(Debug, Clone, Default)]
pub(super) struct AreaExtents(Vec<Option<WorldRect>>);

impl AreaExtents {
    /// Grows the box of `area` to hold `at`.
    pub fn grow(&mut self, area: u32, at: WorldPoint) {
        let i = area as usize;
        if i >= self.0.len() {
            self.0.resize(i + 1, None);
        }
        let here = WorldRect::at(at);
        self.0[i] = Some(self.0[i].map_or(here, |r| r.union(&here)));
    }

    /// The union of the boxes of the areas `keep` marks (by dictionary index); `None` when
    /// none of them has rows.
    pub fn union_of(&self, keep: &[bool]) -> Option<WorldRect> {
        self.0
            .iter()
            .zip(keep)
            .filter_map(|(r, &k)| if k { *r } else { None })
            .reduce(|a, b| a.union(&b))
    }

    pub fn resident_bytes(&self) -> usize {
        self.0.capacity() * std::mem::size_of::<Option<WorldRect>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(x: u32, y: u32) -> WorldPoint {
        WorldPoint { x, y }
    }

    #[test]
    fn no_rows_no_box() {
        let e = AreaExtents::default();
        assert_eq!(e.union_of(&[]), None);
        assert_eq!(e.union_of(&[true, true]), None);
    }

    #[test]
    fn boxes_grow_and_unite_only_the_kept_areas() {
        let mut e = AreaExtents::default();
        e.grow(2, p(10, 10));
        e.grow(2, p(20, 5));
        e.grow(0, p(100, 100));
        assert_eq!(
            e.union_of(&[false, false, true]),
            Some(WorldRect {
                x0: 10,
                y0: 5,
                x1: 20,
                y1: 10
            })
        );
        assert_eq!(
            e.union_of(&[true, true, true]),
            Some(WorldRect {
                x0: 10,
                y0: 5,
                x1: 100,
                y1: 100
            })
        );
        assert_eq!(e.union_of(&[false, true]), None);
    }
}
