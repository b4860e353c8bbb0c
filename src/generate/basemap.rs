//! The synthetic basemap: rivers, reservoirs and main roads drawn roughly where they run
//! through Hebi. [`Basemap::features`] turns it into stored [`BasemapFeature`]s, which
//! `generate_into` writes to the store's `basemap` table like any other layer; codes are
//! numbered per family in the fixed order below (`R001`… roads, `V001`… rivers, `W001`… water),
//! so they are the same for every seed and every run.
//!
//! - 淇河 (Qi river): out of the western Taihang mountains, past 盘石头水库, south-east through
//!   淇滨区 and on into 浚县, where it joins the 卫河.
//! - 卫河 (Wei river): along the south-east through 浚县.
//! - G4 京港澳高速 runs north–south east of the city; G107 north–south through 淇县 and 淇滨区;
//!   S26 鹤濮高速 east–west south of the core; city arterials through 淇滨区 and 山城区.

use geo_types::{Coord, LineString, MultiPolygon, Polygon};
use serde::Serialize;

use crate::model::{BasemapFeature, BasemapGeometry, BasemapKind};

/// Road classes, from highest to lowest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RoadClass {
    Motorway,
    Primary,
    Secondary,
}

/// One road with its name and class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Road {
    pub name: String,
    pub class: RoadClass,
    pub line: LineString<f64>,
}

/// One river as a centre line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct River {
    pub name: String,
    pub line: LineString<f64>,
}

/// A lake or reservoir.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Water {
    pub name: String,
    pub polygon: Polygon<f64>,
}

/// Roads, rivers and water bodies of the city.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Basemap {
    pub roads: Vec<Road>,
    pub rivers: Vec<River>,
    pub water: Vec<Water>,
}

impl RoadClass {
    /// The stored kind of a road of this class.
    pub fn kind(self) -> BasemapKind {
        match self {
            RoadClass::Motorway => BasemapKind::Motorway,
            RoadClass::Primary => BasemapKind::Primary,
            RoadClass::Secondary => BasemapKind::Secondary,
        }
    }
}

impl Basemap {
    /// The basemap as stored features with their stable codes: roads `R001`…, rivers
    /// `V001`…, water `W001`…, numbered in the order of the lists.
    pub fn features(&self) -> Vec<BasemapFeature> {
        let code = |prefix: char, i: usize| format!("{prefix}{:03}", i + 1);
        let roads = self.roads.iter().enumerate().map(|(i, r)| BasemapFeature {
            code: code('R', i),
            kind: r.class.kind(),
            name: r.name.clone(),
            geometry: BasemapGeometry::Line(r.line.clone()),
        });
        let rivers = self.rivers.iter().enumerate().map(|(i, r)| BasemapFeature {
            code: code('V', i),
            kind: BasemapKind::River,
            name: r.name.clone(),
            geometry: BasemapGeometry::Line(r.line.clone()),
        });
        let water = self.water.iter().enumerate().map(|(i, w)| BasemapFeature {
            code: code('W', i),
            kind: BasemapKind::Water,
            name: w.name.clone(),
            geometry: BasemapGeometry::Area(MultiPolygon(vec![w.polygon.clone()])),
        });
        roads.chain(rivers).chain(water).collect()
    }
}

fn line(points: &[(f64, f64)]) -> LineString<f64> {
    points.iter().map(|&(x, y)| Coord { x, y }).collect()
}

fn road(name: &str, class: RoadClass, points: &[(f64, f64)]) -> Road {
    Road {
        name: name.into(),
        class,
        line: line(points),
    }
}

/// The fixed basemap (it does not depend on the seed).
pub fn basemap() -> Basemap {
    use RoadClass::*;
    Basemap {
        roads: vec![
            road(
                "G4京港澳高速",
                Motorway,
                &[
                    (114.405, 36.045),
                    (114.398, 35.900),
                    (114.392, 35.760),
                    (114.385, 35.600),
                    (114.380, 35.450),
                ],
            ),
            road(
                "S26鹤濮高速",
                Motorway,
                &[
                    (114.000, 35.705),
                    (114.150, 35.700),
                    (114.300, 35.690),
                    (114.500, 35.680),
                    (114.750, 35.672),
                ],
            ),
            road(
                "G107国道",
                Primary,
                &[
                    (114.160, 36.040),
                    (114.205, 35.930),
                    (114.240, 35.820),
                    (114.230, 35.700),
                    (114.200, 35.600),
                    (114.180, 35.450),
                ],
            ),
            road(
                "S301省道",
                Primary,
                &[
                    (114.300, 35.760),
                    (114.420, 35.730),
                    (114.550, 35.680),
                    (114.750, 35.650),
                ],
            ),
            road(
                "九州路",
                Secondary,
                &[
                    (114.235, 35.770),
                    (114.275, 35.765),
                    (114.320, 35.760),
                    (114.360, 35.755),
                ],
            ),
            road(
                "淇河路",
                Secondary,
                &[(114.250, 35.735), (114.290, 35.728), (114.330, 35.722)],
            ),
            road(
                "华山路",
                Secondary,
                &[(114.280, 35.820), (114.283, 35.780), (114.287, 35.730)],
            ),
            road(
                "黎阳路",
                Secondary,
                &[(114.255, 35.815), (114.262, 35.770), (114.268, 35.730)],
            ),
            road(
                "长风路",
                Secondary,
                &[(114.130, 35.900), (114.175, 35.895), (114.210, 35.885)],
            ),
            road(
                "红旗街",
                Secondary,
                &[(114.170, 35.930), (114.175, 35.880), (114.185, 35.840)],
            ),
        ],
        rivers: vec![
            River {
                name: "淇河".into(),
                line: line(&[
                    (114.000, 35.870),
                    (114.060, 35.850),
                    (114.110, 35.830),
                    (114.170, 35.790),
                    (114.230, 35.750),
                    (114.290, 35.720),
                    (114.350, 35.690),
                    (114.420, 35.640),
                    (114.480, 35.600),
                ]),
            },
            River {
                name: "卫河".into(),
                line: line(&[
                    (114.250, 35.480),
                    (114.380, 35.530),
                    (114.480, 35.600),
                    (114.560, 35.660),
                    (114.640, 35.740),
                    (114.720, 35.800),
                ]),
            },
        ],
        water: vec![Water {
            name: "盘石头水库".into(),
            polygon: Polygon::new(
                line(&[
                    (114.080, 35.840),
                    (114.105, 35.848),
                    (114.118, 35.838),
                    (114.110, 35.826),
                    (114.088, 35.828),
                    (114.080, 35.840),
                ]),
                vec![],
            ),
        }],
    }
}

#[cfg(test)]
mod tests {
    use geo::Validation;

    use super::*;
    use crate::generate::hierarchy::HEBI_EXTENT;

    #[test]
    fn everything_lies_in_hebi_and_is_valid() {
        let map = basemap();
        assert_eq!(map.rivers.len(), 2);
        let lines = map
            .roads
            .iter()
            .map(|r| &r.line)
            .chain(map.rivers.iter().map(|r| &r.line));
        let rings = map.water.iter().map(|w| w.polygon.exterior());
        for l in lines.chain(rings) {
            assert!(l.is_valid());
            let (x0, y0, x1, y1) = HEBI_EXTENT;
            assert!(l
                .coords()
                .all(|c| (x0..=x1).contains(&c.x) && (y0..=y1).contains(&c.y)));
        }
        assert!(map.water.iter().all(|w| w.polygon.is_valid()));
    }

    #[test]
    fn features_have_stable_unique_codes_and_their_kinds() {
        let features = basemap().features();
        assert_eq!(features.len(), 13);
        assert_eq!(features[0].code, "R001");
        assert_eq!(features[0].kind, BasemapKind::Motorway);
        let river = features.iter().find(|f| f.code == "V001").unwrap();
        assert_eq!(
            (river.kind, river.name.as_str()),
            (BasemapKind::River, "淇河")
        );
        let water = features.iter().find(|f| f.code == "W001").unwrap();
        assert!(matches!(water.geometry, BasemapGeometry::Area(_)));
        let codes: std::collections::HashSet<_> = features.iter().map(|f| &f.code).collect();
        assert_eq!(codes.len(), features.len());
        assert!(features
            .iter()
            .all(|f| crate::model::basemap::valid_code(&f.code)));
    }
}
