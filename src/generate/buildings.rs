//! Buildings, houses and population of the whole city, grid by grid, plus the special sites
//! (schools, hospitals, markets) that become special grids.
//!
//! Building codes are the community code + 5 digits, numbered through the community's grids in
//! code order. A building's `grid_code` is the 15-digit base grid whose plot holds it; since
//! the footprint lies inside that grid with a margin, the grid also contains the footprint's
//! interior point.

use rand::Rng;

use super::base::BaseLayer;
use super::hierarchy::DISTRICTS;
use super::layout::{lay_out, Layout, PlacedBuilding, Style};
use super::names::{self, SiteKind};
use super::population::{houses, population};
use super::random::{stream, Purpose};
use crate::model::{Building, House, Population};

/// A special site laid out inside a community: becomes a special grid.
#[derive(Debug, Clone)]
pub struct Site {
    pub kind: SiteKind,
    /// Index of the community in the base layer.
    pub community: usize,
    pub name: String,
    pub polygon: geo_types::Polygon<f64>,
}

/// Everything placed on the ground.
#[derive(Debug, Clone, Default)]
pub struct Built {
    pub buildings: Vec<Building>,
    pub houses: Vec<House>,
    pub population: Vec<Population>,
    pub sites: Vec<Site>,
}

/// Which sites a community asks for: schools, clinics and markets, more in urban communities
/// and town centres.
fn wanted_sites(class: i16, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<SiteKind> {
    let (school, hospital, market) = match class {
        111 | 112 => (0.35, 0.12, 0.22),
        121 | 210 => (0.5, 0.3, 0.6),
        123 => (0.05, 0.05, 0.1),
        _ => (0.10, 0.02, 0.06),
    };
    [
        (SiteKind::School, school),
        (SiteKind::Hospital, hospital),
        (SiteKind::Market, market),
    ]
    .into_iter()
    .filter(|&(_, p)| rng.random_bool(p))
    .map(|(k, _)| k)
    .collect()
}

fn style_of(base: &BaseLayer, leaf: usize) -> Style {
    let node = &base.nodes[leaf];
    let class = node.urban_rural.unwrap_or(220);
    let old_district = matches!(DISTRICTS[node.district].code, "410602" | "410603");
    match class {
        123 => Style::Industrial,
        _ if class >= 200 || node.village => Style::Village,
        _ => Style::Urban {
            old_share: if old_district { 0.45 } else { 0.15 },
        },
    }
}

/// Lays out every leaf grid of every community and derives houses and population.
pub fn build(base: &BaseLayer, seed: u64) -> Built {
    let mut built = Built::default();
    let communities: Vec<usize> = (0..base.nodes.len())
        .filter(|&i| base.nodes[i].level == crate::model::Level::Community)
        .collect();
    for ci in communities {
        build_community(base, ci, seed, &mut built);
    }
    built
}

/// The leaves (grids without micro-grids, and micro-grids) of a community in code order.
fn leaves(base: &BaseLayer, ci: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut stack = vec![ci];
    while let Some(i) = stack.pop() {
        if base.nodes[i].is_leaf_grid() {
            out.push(i);
        }
        stack.extend(base.nodes[i].children.iter().copied());
    }
    out.sort_by(|&a, &b| base.nodes[a].code.cmp(&base.nodes[b].code));
    out
}

fn build_community(base: &BaseLayer, ci: usize, seed: u64, built: &mut Built) {
    let community = &base.nodes[ci];
    let mut rng = stream(seed, Purpose::Buildings, ci as u64);
    let leaves = leaves(base, ci);
    if leaves.is_empty() {
        return;
    }
    let mut sites: Vec<(usize, SiteKind)> = Vec::new();
    for kind in wanted_sites(community.urban_rural.unwrap_or(220), &mut rng) {
        sites.push((leaves[rng.random_range(0..leaves.len())], kind));
    }
    let mut number = 0u32;
    for &leaf in &leaves {
        let node = &base.nodes[leaf];
        let mut leaf_rng = stream(seed, Purpose::Buildings, (1 << 40) | leaf as u64);
        let site = sites
            .iter()
            .find(|(l, _)| *l == leaf)
            .map(|&(_, kind)| kind);
        let layout = lay_out(
            &node.polygon,
            node.households,
            style_of(base, leaf),
            site,
            &mut leaf_rng,
        );
        if let (Some(kind), Some(polygon)) = (site, layout.site.clone()) {
            let n = built.sites.iter().filter(|s| s.community == ci).count() as u32 + 1;
            built.sites.push(Site {
                kind,
                community: ci,
                name: names::site(kind, &community.name, n),
                polygon,
            });
        }
        let grid_code = base.nodes[base.grid_of(leaf)].code.clone();
        for placed in &layout.buildings {
            number += 1;
            let code = format!("{}{:05}", community.code, number);
            let building = building(
                base,
                ci,
                &layout,
                placed,
                &code,
                number,
                &grid_code,
                &built.sites,
            );
            for house in houses(&code, placed, community.village, &mut leaf_rng) {
                if let Some(p) = population(&house, community.village, &mut leaf_rng) {
                    built.population.push(p);
                }
                built.houses.push(house);
            }
            built.buildings.push(building);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn building(
    base: &BaseLayer,
    ci: usize,
    layout: &Layout,
    placed: &PlacedBuilding,
    code: &str,
    number: u32,
    grid_code: &str,
    sites: &[Site],
) -> Building {
    let community = &base.nodes[ci];
    let street = community.parent.map(|s| &base.nodes[s]);
    let district = street.and_then(|s| s.parent).map(|d| &base.nodes[d]);
    let place = format!(
        "鹤壁市{}{}{}",
        district.map(|d| d.name.as_str()).unwrap_or(""),
        street.map(|s| s.name.as_str()).unwrap_or(""),
        community.name
    );
    let compound = placed.compound.map(|c| layout.compounds[c].0.clone());
    let name = match (&compound, placed.on_site) {
        (_, true) => sites
            .iter()
            .rev()
            .find(|s| s.community == ci)
            .map(|s| format!("{}{}号楼", s.name, number))
            .unwrap_or_else(|| format!("{}{}号公共建筑", community.name, number)),
        (Some(c), false) => format!("{c}{number}号楼"),
        (None, false) if community.village => format!("{}{}号", community.name, number),
        (None, false) => format!("{}{}号楼", community.name, number),
    };
    let address = match &compound {
        Some(c) => format!("{place}{c}{number}号楼"),
        None => format!("{place}{number}号"),
    };
    let extra = if placed.building_use == crate::model::BuildingUse::Commercial {
        1.5
    } else {
        0.0
    };
    Building {
        code: code.to_string(),
        name,
        address: Some(address),
        compound,
        building_use: placed.building_use,
        floors: placed.floors,
        height_m: placed.floors as f64 * 3.0 + extra,
        geometry: placed.footprint.clone(),
        grid_code: Some(grid_code.to_string()),
    }
}
