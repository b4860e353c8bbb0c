//! How big the synthetic city is: the counts and ranges behind `--scale sample|city`.
//!
//! Household rule (城乡分类): urban grids (codes 1xx) hold 200–500 households, as the national
//! guideline for city communities asks; rural grids (2xx) follow the village rule (a 村民小组 or
//! natural village per grid) and hold fewer. At city scale that gives about 5 000 grids,
//! 1.6 M residents and 150 000 buildings, like Hebi.

use super::hierarchy::StreetKind;

/// Which size to build.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// A few hundred grids and tens of thousands of events: seconds; what `data/` ships and tests use.
    Sample,
    /// About Hebi: ~5 000 grids, ~150 000 buildings, 1.6 M residents, 10 M events over three years.
    City,
}

/// An inclusive range of counts to draw from.
pub type Range = (u32, u32);

/// How many communities (社区) and villages (村) a street of one kind has.
#[derive(Debug, Clone, Copy)]
pub struct CommunityMix {
    pub communities: Range,
    pub villages: Range,
}

/// The counts and ranges of one scale.
#[derive(Debug, Clone, Copy)]
pub struct ScaleParams {
    pub urban_subdistrict: CommunityMix,
    pub county_subdistrict: CommunityMix,
    pub town: CommunityMix,
    pub township: CommunityMix,
    pub grids_per_community: Range,
    pub grids_per_village: Range,
    pub urban_households: Range,
    pub rural_households: Range,
    /// Events over the whole span.
    pub events: u64,
    /// The span of event times, in days before the anchor date.
    pub event_days: u32,
    /// Workers that get a day of patrol fixes, and fixes per worker.
    pub fix_workers: usize,
    pub fixes_per_worker: usize,
}

impl ScaleParams {
    /// The parameters of `scale`.
    pub fn of(scale: Scale) -> ScaleParams {
        match scale {
            Scale::Sample => ScaleParams {
                urban_subdistrict: CommunityMix {
                    communities: (3, 5),
                    villages: (0, 0),
                },
                county_subdistrict: CommunityMix {
                    communities: (2, 3),
                    villages: (1, 2),
                },
                town: CommunityMix {
                    communities: (1, 1),
                    villages: (2, 3),
                },
                township: CommunityMix {
                    communities: (0, 0),
                    villages: (2, 3),
                },
                grids_per_community: (1, 4),
                grids_per_village: (1, 2),
                urban_households: (200, 500),
                rural_households: (20, 60),
                events: 30_000,
                event_days: 90,
                fix_workers: 50,
                fixes_per_worker: 100,
            },
            Scale::City => ScaleParams {
                urban_subdistrict: CommunityMix {
                    communities: (4, 8),
                    villages: (0, 3),
                },
                county_subdistrict: CommunityMix {
                    communities: (3, 6),
                    villages: (8, 16),
                },
                town: CommunityMix {
                    communities: (1, 2),
                    villages: (30, 60),
                },
                township: CommunityMix {
                    communities: (0, 1),
                    villages: (25, 40),
                },
                grids_per_community: (3, 6),
                grids_per_village: (3, 7),
                urban_households: (200, 500),
                rural_households: (35, 95),
                events: 10_000_000,
                event_days: 1096,
                fix_workers: 200,
                fixes_per_worker: 100,
            },
        }
    }

    /// The community mix of a street kind.
    pub fn mix(&self, kind: StreetKind) -> CommunityMix {
        match kind {
            StreetKind::UrbanSubdistrict => self.urban_subdistrict,
            StreetKind::CountySubdistrict => self.county_subdistrict,
            StreetKind::Town => self.town,
            StreetKind::Township => self.township,
        }
    }
}
