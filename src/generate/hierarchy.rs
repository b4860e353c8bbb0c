//! The fixed part of the synthetic city: Hebi's real district and street codes and names
//! (statistics bureau, 2022; DESIGN.md "Hebi streets and towns"), and the hand-drawn convex
//! district outlines the partition starts from.
//!
//! The outlines share their vertices ([`OUTLINE_POINTS`]) so the districts tile the city from
//! the start: 鹤山区 and 山城区 in the north-west, 淇滨区 in the centre and north-east, 浚县 in
//! the east and south-east, 淇县 in the south and south-west, and the development zone as a
//! small triangle where 淇滨区, 淇县 and 浚县 meet south-east of the 淇滨 core. All coordinates lie
//! inside Hebi's real extent (113.996–114.753°E, 35.445–36.048°N).

/// The city (地级市) code.
pub const CITY_CODE: &str = "410600";
/// The city name.
pub const CITY_NAME: &str = "鹤壁市";
/// The city's management centre (鹤壁市人民政府, 淇滨区).
pub const CITY_CENTER: (f64, f64) = (114.297, 35.748);

/// Hebi's real extent: (min lon, min lat, max lon, max lat).
pub const HEBI_EXTENT: (f64, f64, f64, f64) = (113.996, 35.445, 114.753, 36.048);

/// What kind of township-level unit a street is; it decides how urban its communities are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreetKind {
    /// 街道 in a main urban district (鹤山区, 山城区, 淇滨区, 开发区).
    UrbanSubdistrict,
    /// 街道 of a county seat (浚县, 淇县): urban core with villages around it.
    CountySubdistrict,
    /// 镇
    Town,
    /// 乡
    Township,
}

/// One street/town from the fixed table.
#[derive(Debug, Clone, Copy)]
pub struct StreetDef {
    /// The 3 digits after the county code.
    pub suffix: &'static str,
    pub name: &'static str,
}

/// One district/county: code, name, outline (indices into [`OUTLINE_POINTS`], counter-clockwise),
/// urban core and streets.
#[derive(Debug, Clone, Copy)]
pub struct DistrictDef {
    pub code: &'static str,
    pub name: &'static str,
    pub outline: &'static [usize],
    /// Where the urban streets cluster (and the district government sits).
    pub core: (f64, f64),
    /// Whether the district is a county (its 街道 are county-seat streets).
    pub county: bool,
    pub streets: &'static [StreetDef],
}

impl DistrictDef {
    /// The kind of a street of this district, from its name.
    pub fn street_kind(&self, street: &StreetDef) -> StreetKind {
        if street.name.ends_with("街道") {
            if self.county {
                StreetKind::CountySubdistrict
            } else {
                StreetKind::UrbanSubdistrict
            }
        } else if street.name.ends_with('镇') {
            StreetKind::Town
        } else {
            StreetKind::Township
        }
    }
}

/// The shared vertices of the district outlines (lon, lat).
pub const OUTLINE_POINTS: [(f64, f64); 17] = [
    (113.996, 36.040),   // 0 north-west corner
    (114.170, 36.048),   // 1 north
    (114.300, 36.000),   // 2
    (114.430, 35.930),   // 3 淇滨/浚县 north
    (114.620, 35.900),   // 4 浚县 north
    (114.753, 35.700),   // 5 浚县 east
    (114.650, 35.460),   // 6 浚县 south-east
    (114.400, 35.445),   // 7 浚县/淇县 south
    (114.150, 35.450),   // 8 淇县 south
    (113.996, 35.560),   // 9 淇县 south-west
    (114.000, 35.800),   // 10 山城/淇县 west
    (113.996, 35.905),   // 11 鹤山/山城 west
    (114.190, 35.935),   // 12 鹤山/山城/淇滨
    (114.215, 35.815),   // 13 山城/淇滨/淇县
    (114.3095, 35.7275), // 14 开发区 west
    (114.366, 35.738),   // 15 开发区 north-east
    (114.3575, 35.6530), // 16 开发区 south
];

/// The city outline (indices into [`OUTLINE_POINTS`], counter-clockwise).
pub const CITY_OUTLINE: &[usize] = &[0, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1];

const fn s(suffix: &'static str, name: &'static str) -> StreetDef {
    StreetDef { suffix, name }
}

/// The six districts/counties with their real streets and towns.
pub const DISTRICTS: [DistrictDef; 6] = [
    DistrictDef {
        code: "410602",
        name: "鹤山区",
        outline: &[0, 11, 12, 1],
        core: (114.155, 35.955),
        county: false,
        streets: &[
            s("001", "中山北路街道"),
            s("002", "中山路街道"),
            s("003", "新华街街道"),
            s("004", "鹤山街街道"),
            s("005", "九矿广场街道"),
            s("100", "鹤壁集镇"),
            s("201", "姬家山乡"),
        ],
    },
    DistrictDef {
        code: "410603",
        name: "山城区",
        outline: &[11, 10, 13, 12],
        core: (114.175, 35.885),
        county: false,
        streets: &[
            s("001", "红旗街街道"),
            s("002", "长风中路街道"),
            s("003", "山城路街道"),
            s("004", "汤河桥街道"),
            s("005", "鹿楼街道"),
            s("006", "宝山街道"),
            s("007", "大胡街道"),
            s("100", "石林镇"),
        ],
    },
    DistrictDef {
        code: "410611",
        name: "淇滨区",
        outline: &[12, 13, 14, 15, 3, 2, 1],
        core: (114.275, 35.790),
        county: false,
        streets: &[
            s("001", "金山街道"),
            s("002", "九州路街道"),
            s("003", "黎阳路街道"),
            s("004", "长江路街道"),
            s("005", "泰山路街道"),
            s("566", "天山路街道"),
            s("100", "大赉店镇"),
            s("101", "钜桥镇"),
            s("200", "上峪乡"),
            s("201", "大河涧乡"),
        ],
    },
    DistrictDef {
        code: "410621",
        name: "浚县",
        outline: &[3, 15, 16, 7, 6, 5, 4],
        core: (114.550, 35.670),
        county: true,
        streets: &[
            s("001", "卫溪街道"),
            s("002", "浚州街道"),
            s("003", "黎阳街道"),
            s("004", "伾山街道"),
            s("101", "善堂镇"),
            s("102", "屯子镇"),
            s("104", "新镇镇"),
            s("105", "小河镇"),
            s("107", "卫贤镇"),
            s("108", "王庄镇"),
            s("109", "白寺镇"),
        ],
    },
    DistrictDef {
        code: "410622",
        name: "淇县",
        outline: &[10, 9, 8, 7, 16, 14, 13],
        core: (114.200, 35.605),
        county: true,
        streets: &[
            s("001", "朝歌街道"),
            s("002", "桥盟街道"),
            s("003", "卫都街道"),
            s("004", "灵山街道"),
            s("101", "高村镇"),
            s("102", "北阳镇"),
            s("103", "西岗镇"),
            s("104", "庙口镇"),
            s("202", "黄洞乡"),
        ],
    },
    DistrictDef {
        code: "410671",
        name: "鹤壁经济技术开发区",
        outline: &[14, 16, 15],
        core: (114.344, 35.706),
        county: false,
        streets: &[
            s("400", "龙岗街道"),
            s("401", "渤海路街道"),
            s("402", "海河路街道"),
        ],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    fn cross(o: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
        (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
    }

    #[test]
    fn outlines_are_convex_and_counter_clockwise() {
        for d in &DISTRICTS {
            let n = d.outline.len();
            for i in 0..n {
                let [a, b, c] = [0, 1, 2].map(|k| OUTLINE_POINTS[d.outline[(i + k) % n]]);
                assert!(cross(a, b, c) > 0.0, "{} turns right at {:?}", d.name, b);
            }
        }
    }

    #[test]
    fn every_city_edge_belongs_to_one_district_and_inner_edges_to_two() {
        let edges = |ring: &[usize]| -> Vec<(usize, usize)> {
            (0..ring.len())
                .map(|i| (ring[i], ring[(i + 1) % ring.len()]))
                .collect()
        };
        let district_edges: Vec<(usize, usize)> =
            DISTRICTS.iter().flat_map(|d| edges(d.outline)).collect();
        for (a, b) in &district_edges {
            let reverse = district_edges.contains(&(*b, *a));
            let on_city = edges(CITY_OUTLINE).contains(&(*a, *b));
            assert!(reverse != on_city, "edge {a}-{b}");
        }
    }

    #[test]
    fn points_and_cores_lie_in_the_extent() {
        let (x0, y0, x1, y1) = HEBI_EXTENT;
        for (x, y) in OUTLINE_POINTS
            .iter()
            .copied()
            .chain(DISTRICTS.iter().map(|d| d.core))
        {
            assert!((x0..=x1).contains(&x) && (y0..=y1).contains(&y), "{x},{y}");
        }
    }

    #[test]
    fn street_table_matches_design() {
        let count: usize = DISTRICTS.iter().map(|d| d.streets.len()).sum();
        assert_eq!(count, 48);
        let d = &DISTRICTS[3];
        assert_eq!(d.street_kind(&d.streets[0]), StreetKind::CountySubdistrict);
        assert_eq!(d.street_kind(&d.streets[4]), StreetKind::Town);
        assert_eq!(
            DISTRICTS[2].street_kind(&DISTRICTS[2].streets[8]),
            StreetKind::Township
        );
    }
}
