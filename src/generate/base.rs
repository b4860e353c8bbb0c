//! The base (综治) layer: city → districts → streets → communities/villages → grids → micro-grids,
//! each level an exact tiling of its parent (see `partition`), numbered by the reading-order rule
//! of [`reading_order`].

use std::collections::BTreeSet;

use geo::{BoundingRect, Centroid, Contains, InteriorPoint};
use geo_types::{Coord, Point, Polygon};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::hierarchy::{StreetKind, CITY_CODE, CITY_NAME, CITY_OUTLINE, DISTRICTS, OUTLINE_POINTS};
use super::metric::{M_PER_DEG_LAT_CITY, M_PER_DEG_LON_CITY};
use super::names;
use super::partition::{Arena, PartitionError, VertexId};
use super::random::{in_range, normal, stream, Purpose};
use super::scale::ScaleParams;
use crate::model::Level;

/// Share of dense urban grids (≥ 380 households) that are split into micro-grids.
const MICROGRID_SHARE: f64 = 0.15;
/// How far cuts turn from straight-across, in degrees: street blocks are irregular.
const CUT_JITTER_DEG: f64 = 30.0;

/// One area of the base layer with everything later stages need.
#[derive(Debug, Clone)]
pub struct BaseNode {
    pub code: String,
    pub name: String,
    pub level: Level,
    pub parent: Option<usize>,
    pub children: Vec<usize>,
    /// Final boundary (all shared vertices inserted), lon/lat, counter-clockwise, convex below
    /// the district level.
    pub polygon: Polygon<f64>,
    /// 城乡分类 of communities, grids and micro-grids.
    pub urban_rural: Option<i16>,
    /// Households planned for a grid or micro-grid (0 above the grid level, and for a grid
    /// that is split into micro-grids).
    pub households: u32,
    /// Index into [`DISTRICTS`] (0 for the city).
    pub district: usize,
    pub street_kind: Option<StreetKind>,
    /// Whether the community is a village (村) rather than an urban community (社区).
    pub village: bool,
}

impl BaseNode {
    /// Whether buildings and events are placed in this area directly: a grid without
    /// micro-grids, or a micro-grid.
    pub fn is_leaf_grid(&self) -> bool {
        matches!(self.level, Level::Grid | Level::Microgrid) && self.children.is_empty()
    }
}

/// The base layer; `nodes[0]` is the city, parents come before their children.
#[derive(Debug, Clone)]
pub struct BaseLayer {
    pub nodes: Vec<BaseNode>,
}

impl BaseLayer {
    /// The 15-digit grid a leaf belongs to (itself, or the parent of a micro-grid).
    pub fn grid_of(&self, leaf: usize) -> usize {
        match (self.nodes[leaf].level, self.nodes[leaf].parent) {
            (Level::Microgrid, Some(p)) => p,
            _ => leaf,
        }
    }

    /// The community a grid or micro-grid lies in.
    pub fn community_of(&self, mut i: usize) -> usize {
        while self.nodes[i].level > Level::Community {
            match self.nodes[i].parent {
                Some(p) => i = p,
                None => break,
            }
        }
        i
    }
}

/// The numbering rule for grids (and communities, micro-grids) inside their parent, after
/// GB/T 30428.1 "west→east, then north→south": the parent's bounding box is cut into
/// `k = ceil(sqrt(n))` horizontal bands of equal height (n = number of children); a child
/// belongs to the band holding its centroid, `band = min(k-1, floor((max_y - c.y) / height * k))`;
/// children are numbered by band from north to south, and inside a band by centroid longitude
/// from west to east (ties: northern first, then input order). Returns child indices in order.
pub fn reading_order(parent: &Polygon<f64>, centroids: &[Coord<f64>]) -> Vec<usize> {
    let n = centroids.len();
    let k = (n as f64).sqrt().ceil().max(1.0) as usize;
    let Some(rect) = parent.bounding_rect() else {
        return (0..n).collect();
    };
    let height = rect.height().max(f64::MIN_POSITIVE);
    let band = |c: Coord<f64>| {
        (((rect.max().y - c.y) / height * k as f64).floor().max(0.0) as usize).min(k - 1)
    };
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        let (ca, cb) = (centroids[a], centroids[b]);
        band(ca)
            .cmp(&band(cb))
            .then(ca.x.total_cmp(&cb.x))
            .then(cb.y.total_cmp(&ca.y))
            .then(a.cmp(&b))
    });
    order
}

/// A base area while the partition is being built: a ring of arena vertices.
struct Draft {
    node: BaseNode,
    ring: Vec<VertexId>,
}

struct Builder<'a> {
    params: &'a ScaleParams,
    seed: u64,
    arena: Arena,
    drafts: Vec<Draft>,
}

/// Builds the whole base layer for `params` and `seed`.
pub fn build(params: &ScaleParams, seed: u64) -> Result<BaseLayer, PartitionError> {
    let mut b = Builder {
        params,
        seed,
        arena: Arena::default(),
        drafts: Vec::new(),
    };
    let ids: Vec<VertexId> = OUTLINE_POINTS
        .iter()
        .map(|&(x, y)| b.arena.add(Coord { x, y }))
        .collect();
    let city_ring = CITY_OUTLINE.iter().map(|&i| ids[i]).collect();
    b.push(
        None,
        Level::City,
        CITY_CODE.into(),
        CITY_NAME.into(),
        city_ring,
        0,
    );
    for (d, def) in DISTRICTS.iter().enumerate() {
        let ring = def.outline.iter().map(|&i| ids[i]).collect();
        let di = b.push(
            Some(0),
            Level::District,
            def.code.into(),
            def.name.into(),
            ring,
            d,
        );
        b.split_streets(di)?;
    }
    for street in b.indices(Level::Street) {
        b.split_communities(street)?;
    }
    for community in b.indices(Level::Community) {
        b.split_grids(community)?;
    }
    for grid in b.indices(Level::Grid) {
        b.split_microgrids(grid)?;
    }
    Ok(b.finish())
}

fn jitter(rng: &mut ChaCha8Rng, w: f64, spread: f64) -> f64 {
    w * rng.random_range(1.0 - spread..=1.0 + spread)
}

/// A random point inside `polygon` near `center` (σ metres), or uniform when `sigma_m` is None;
/// `avoid` keeps uniform points at least that many metres from `center`. Falls back to the
/// polygon's interior point.
fn seed_point(
    rng: &mut ChaCha8Rng,
    polygon: &Polygon<f64>,
    center: Coord<f64>,
    sigma_m: Option<f64>,
    avoid_m: f64,
) -> Coord<f64> {
    let Some(rect) = polygon.bounding_rect() else {
        return center;
    };
    for _ in 0..200 {
        let p = match sigma_m {
            Some(s) => Coord {
                x: center.x + normal(rng) * s / M_PER_DEG_LON_CITY,
                y: center.y + normal(rng) * s / M_PER_DEG_LAT_CITY,
            },
            None => Coord {
                x: rng.random_range(rect.min().x..=rect.max().x),
                y: rng.random_range(rect.min().y..=rect.max().y),
            },
        };
        let far = ((p.x - center.x) * M_PER_DEG_LON_CITY)
            .hypot((p.y - center.y) * M_PER_DEG_LAT_CITY)
            >= avoid_m;
        if polygon.contains(&Point::from(p)) && (sigma_m.is_some() || far) {
            return p;
        }
    }
    polygon.interior_point().map(|p| p.0).unwrap_or(center)
}

impl Builder<'_> {
    fn push(
        &mut self,
        parent: Option<usize>,
        level: Level,
        code: String,
        name: String,
        ring: Vec<VertexId>,
        district: usize,
    ) -> usize {
        let i = self.drafts.len();
        self.drafts.push(Draft {
            node: BaseNode {
                code,
                name,
                level,
                parent,
                children: Vec::new(),
                polygon: Polygon::new(Vec::<Coord<f64>>::new().into(), vec![]),
                urban_rural: None,
                households: 0,
                district,
                street_kind: None,
                village: false,
            },
            ring,
        });
        if let Some(p) = parent {
            self.drafts[p].node.children.push(i);
        }
        i
    }

    fn indices(&self, level: Level) -> Vec<usize> {
        (0..self.drafts.len())
            .filter(|&i| self.drafts[i].node.level == level)
            .collect()
    }

    fn current_polygon(&self, i: usize) -> Polygon<f64> {
        self.arena.polygon(&self.drafts[i].ring)
    }

    /// Streets of a district: 街道 small and clustered round the urban core, towns large and
    /// outside it.
    fn split_streets(&mut self, di: usize) -> Result<(), PartitionError> {
        let d = self.drafts[di].node.district;
        let def = &DISTRICTS[d];
        let mut rng = stream(self.seed, Purpose::Streets, d as u64);
        let polygon = self.current_polygon(di);
        let core = Coord {
            x: def.core.0,
            y: def.core.1,
        };
        let mut weights = Vec::new();
        let mut seeds = Vec::new();
        for street in def.streets {
            let (w, sigma, avoid) = match def.street_kind(street) {
                StreetKind::UrbanSubdistrict => (0.35, Some(2_500.0), 0.0),
                StreetKind::CountySubdistrict => (0.8, Some(3_000.0), 0.0),
                StreetKind::Town => (4.0, None, 7_000.0),
                StreetKind::Township => (5.0, None, 9_000.0),
            };
            weights.push(jitter(&mut rng, w, 0.2));
            seeds.push(seed_point(&mut rng, &polygon, core, sigma, avoid));
        }
        let ring = self.drafts[di].ring.clone();
        let pieces =
            self.arena
                .partition(&ring, &weights, Some(&seeds), CUT_JITTER_DEG, &mut rng)?;
        for (street, piece) in def.streets.iter().zip(pieces) {
            let code = format!("{}{}", def.code, street.suffix);
            let si = self.push(Some(di), Level::Street, code, street.name.into(), piece, d);
            self.drafts[si].node.street_kind = Some(def.street_kind(street));
        }
        Ok(())
    }

    /// Communities (社区) round the street's seat and villages (村) spread over the rest.
    fn split_communities(&mut self, si: usize) -> Result<(), PartitionError> {
        let kind = self.drafts[si].node.street_kind.unwrap_or(StreetKind::Town);
        let district = self.drafts[si].node.district;
        let mut rng = stream(self.seed, Purpose::Communities, si as u64);
        let mix = self.params.mix(kind);
        let mut n_comm = in_range(&mut rng, mix.communities);
        let n_vill = in_range(&mut rng, mix.villages);
        if n_comm + n_vill == 0 {
            n_comm = 1;
        }
        let polygon = self.current_polygon(si);
        let seat = polygon
            .centroid()
            .map(|p| p.0)
            .unwrap_or(Coord { x: 0.0, y: 0.0 });
        let spread =
            (geo::Area::unsigned_area(&polygon) * M_PER_DEG_LAT_CITY * M_PER_DEG_LON_CITY).sqrt();
        let mut plans = Vec::new();
        for c in 0..n_comm + n_vill {
            let village = c >= n_comm;
            let (w, seed) = if village {
                (5.0, seed_point(&mut rng, &polygon, seat, None, 0.0))
            } else {
                (
                    1.0,
                    seed_point(&mut rng, &polygon, seat, Some(spread * 0.15), 0.0),
                )
            };
            let class = urban_rural(&mut rng, kind, district, village, c == n_comm);
            plans.push((jitter(&mut rng, w, 0.25), seed, village, class));
        }
        let weights: Vec<f64> = plans.iter().map(|p| p.0).collect();
        let seeds: Vec<Coord<f64>> = plans.iter().map(|p| p.1).collect();
        let ring = self.drafts[si].ring.clone();
        let pieces =
            self.arena
                .partition(&ring, &weights, Some(&seeds), CUT_JITTER_DEG, &mut rng)?;
        for ((_, _, village, class), piece) in plans.into_iter().zip(pieces) {
            let ci = self.push(
                Some(si),
                Level::Community,
                String::new(),
                String::new(),
                piece,
                district,
            );
            let node = &mut self.drafts[ci].node;
            node.village = village;
            node.urban_rural = Some(class);
            node.street_kind = Some(kind);
        }
        Ok(())
    }

    /// Grids of a community: about equal blocks, each with its planned households.
    fn split_grids(&mut self, ci: usize) -> Result<(), PartitionError> {
        let mut rng = stream(self.seed, Purpose::Grids, ci as u64);
        let node = &self.drafts[ci].node;
        let (village, class, district, kind) = (
            node.village,
            node.urban_rural,
            node.district,
            node.street_kind,
        );
        let range = if village {
            self.params.grids_per_village
        } else {
            self.params.grids_per_community
        };
        let n = in_range(&mut rng, range).max(1) as usize;
        let weights: Vec<f64> = (0..n).map(|_| jitter(&mut rng, 1.0, 0.25)).collect();
        let ring = self.drafts[ci].ring.clone();
        let pieces = self
            .arena
            .partition(&ring, &weights, None, CUT_JITTER_DEG, &mut rng)?;
        let households = if class.unwrap_or(220) < 200 {
            self.params.urban_households
        } else {
            self.params.rural_households
        };
        for piece in pieces {
            let gi = self.push(
                Some(ci),
                Level::Grid,
                String::new(),
                String::new(),
                piece,
                district,
            );
            let node = &mut self.drafts[gi].node;
            node.urban_rural = class;
            node.households = in_range(&mut rng, households);
            node.street_kind = kind;
            node.village = village;
        }
        Ok(())
    }

    /// A share of the dense urban grids is split into 2–4 micro-grids sharing its households.
    fn split_microgrids(&mut self, gi: usize) -> Result<(), PartitionError> {
        let mut rng = stream(self.seed, Purpose::Grids, (1 << 40) | gi as u64);
        let node = &self.drafts[gi].node;
        let dense = node.households >= 380 && node.urban_rural == Some(111);
        if !dense || !rng.random_bool(MICROGRID_SHARE) {
            return Ok(());
        }
        let (class, district, kind, households) = (
            node.urban_rural,
            node.district,
            node.street_kind,
            node.households,
        );
        let n = rng.random_range(2..=4usize);
        let ring = self.drafts[gi].ring.clone();
        let pieces = self
            .arena
            .partition(&ring, &vec![1.0; n], None, CUT_JITTER_DEG, &mut rng)?;
        for piece in pieces {
            let mi = self.push(
                Some(gi),
                Level::Microgrid,
                String::new(),
                String::new(),
                piece,
                district,
            );
            let node = &mut self.drafts[mi].node;
            node.urban_rural = class;
            node.households = households / n as u32;
            node.street_kind = kind;
        }
        self.drafts[gi].node.households = 0;
        Ok(())
    }

    /// Final polygons, then codes and names in reading order.
    fn finish(self) -> BaseLayer {
        let arena = self.arena;
        let mut nodes: Vec<BaseNode> = self
            .drafts
            .into_iter()
            .map(|d| BaseNode {
                polygon: arena.polygon(&d.ring),
                ..d.node
            })
            .collect();
        let streets: Vec<usize> = (0..nodes.len())
            .filter(|&i| nodes[i].level == Level::Street)
            .collect();
        for si in streets {
            name_communities(&mut nodes, si, self.seed);
        }
        BaseLayer { nodes }
    }
}

/// 城乡分类 of a new community: 111 main urban, 112 urban fringe, 121 town centre, 122 town
/// fringe, 123 special (industrial parks of the development zone), 210 township centre, 220
/// village.
fn urban_rural(
    rng: &mut ChaCha8Rng,
    kind: StreetKind,
    district: usize,
    village: bool,
    first_village: bool,
) -> i16 {
    let dev_zone = DISTRICTS[district].code == "410671";
    match (kind, village) {
        (StreetKind::UrbanSubdistrict, false) if dev_zone && rng.random_bool(0.3) => 123,
        (StreetKind::UrbanSubdistrict | StreetKind::CountySubdistrict, false)
            if rng.random_bool(0.15) =>
        {
            112
        }
        (StreetKind::UrbanSubdistrict | StreetKind::CountySubdistrict, false) => 111,
        (StreetKind::Town | StreetKind::Township, false) => 121,
        (StreetKind::Township, true) if first_village => 210,
        (StreetKind::UrbanSubdistrict | StreetKind::CountySubdistrict | StreetKind::Town, true)
            if rng.random_bool(0.04) =>
        {
            122
        }
        (_, true) => 220,
    }
}

fn centroid_of(p: &Polygon<f64>) -> Coord<f64> {
    p.centroid()
        .map(|c| c.0)
        .unwrap_or(Coord { x: 0.0, y: 0.0 })
}

/// Codes and names below a street: 社区 numbered 001…, 村 200… (the statistics bureau's
/// 居委会/村委会 ranges), grids 001… and micro-grids 01…, all in [`reading_order`].
fn name_communities(nodes: &mut [BaseNode], si: usize, seed: u64) {
    let mut rng = stream(seed, Purpose::Areas, si as u64);
    let mut used = BTreeSet::new();
    let street_code = nodes[si].code.clone();
    let children = nodes[si].children.clone();
    for village in [false, true] {
        let group: Vec<usize> = children
            .iter()
            .copied()
            .filter(|&c| nodes[c].village == village)
            .collect();
        let centroids: Vec<Coord<f64>> = group
            .iter()
            .map(|&c| centroid_of(&nodes[c].polygon))
            .collect();
        let first = if village { 200 } else { 1 };
        for (n, k) in reading_order(&nodes[si].polygon, &centroids)
            .into_iter()
            .enumerate()
        {
            let c = group[k];
            nodes[c].code = format!("{street_code}{:03}", first + n);
            nodes[c].name = if village {
                names::village(&mut rng, &mut used)
            } else {
                names::community(&mut rng, &mut used)
            };
            number_children(nodes, c, 3);
        }
    }
}

/// Numbers the children of `parent` (grids: 3 digits, micro-grids: 2) and names them.
fn number_children(nodes: &mut [BaseNode], parent: usize, digits: usize) {
    let children = nodes[parent].children.clone();
    let centroids: Vec<Coord<f64>> = children
        .iter()
        .map(|&c| centroid_of(&nodes[c].polygon))
        .collect();
    for (n, k) in reading_order(&nodes[parent].polygon, &centroids)
        .into_iter()
        .enumerate()
    {
        let c = children[k];
        let number = n as u32 + 1;
        nodes[c].code = format!("{}{:0digits$}", nodes[parent].code, number);
        nodes[c].name = if digits == 3 {
            format!(
                "{}第{}网格",
                nodes[parent].name,
                names::chinese_number(number)
            )
        } else {
            format!("{}{}号微网格", nodes[parent].name, number)
        };
        if !nodes[c].children.is_empty() {
            number_children(nodes, c, 2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square() -> Polygon<f64> {
        Polygon::new(
            vec![(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0), (0.0, 0.0)].into(),
            vec![],
        )
    }

    #[test]
    fn reading_order_of_nothing_and_one() {
        assert!(reading_order(&square(), &[]).is_empty());
        assert_eq!(
            reading_order(&square(), &[Coord { x: 1.0, y: 1.0 }]),
            vec![0]
        );
    }

    #[test]
    fn reading_order_is_rows_north_to_south_then_west_to_east() {
        // 4 children → 2 bands of height 2.
        let c = [
            Coord { x: 3.0, y: 1.0 }, // south-east
            Coord { x: 1.0, y: 3.5 }, // north-west
            Coord { x: 1.0, y: 0.5 }, // south-west
            Coord { x: 3.0, y: 2.5 }, // north-east (lower than the north-west one, same band)
        ];
        assert_eq!(reading_order(&square(), &c), vec![1, 3, 2, 0]);
    }

    #[test]
    fn centroid_on_the_bottom_edge_stays_in_the_last_band() {
        let c = [Coord { x: 1.0, y: 0.0 }, Coord { x: 0.0, y: 4.0 }];
        assert_eq!(reading_order(&square(), &c), vec![1, 0]);
    }
}
