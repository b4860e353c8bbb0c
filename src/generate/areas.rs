//! The areas of all three layers as model records: the base tree, special grids (专属网格) round
//! the sites, and the fire-safety business layer (`business:fire`).
//!
//! Fire-safety grids follow the usual three tiers (一级 = the street, 二级 = a community, 三级 =
//! a base grid), so each tier tiles its parent exactly by construction: 一级 `{street}F01`
//! (parent: the district), 二级 `{street}F01{nn}`, 三级 `{street}F01{nn}{nn}`, numbered in the
//! code order of the base areas they cover.

use chrono::NaiveDate;
use geo::{Centroid, Contains, InteriorPoint};
use geo_types::{MultiPolygon, Point, Polygon};

use super::base::{BaseLayer, BaseNode};
use super::buildings::Site;
use super::hierarchy::{CITY_CENTER, DISTRICTS};
use super::names;
use super::random::{stream, Purpose};
use crate::model::{Area, Layer, Level};

/// The date every generated boundary is valid from.
pub fn valid_from() -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(2024, 1, 1)
}

/// A management centre inside `polygon`: the preferred point when it lies inside, else the
/// centroid when inside, else the interior point.
fn center(polygon: &Polygon<f64>, preferred: Option<(f64, f64)>) -> Option<Point<f64>> {
    let inside = |p: &Point<f64>| polygon.contains(p);
    preferred
        .map(Point::from)
        .filter(inside)
        .or_else(|| polygon.centroid().filter(inside))
        .or_else(|| polygon.interior_point())
}

struct AreaSpec<'a> {
    code: String,
    layer: Layer,
    level: Level,
    name: String,
    parent_code: Option<String>,
    polygon: &'a Polygon<f64>,
    preferred_center: Option<(f64, f64)>,
    urban_rural: Option<i16>,
}

fn area(spec: AreaSpec<'_>, index: u64, seed: u64) -> Area {
    let mut rng = stream(seed, Purpose::Areas, (1 << 40) | index);
    let leader_photo_url = Some(format!("/static/leaders/{}.jpg", spec.code));
    Area {
        center: center(spec.polygon, spec.preferred_center),
        geometry: MultiPolygon(vec![spec.polygon.clone()]),
        code: spec.code,
        layer: spec.layer,
        level: spec.level,
        name: spec.name,
        parent_code: spec.parent_code,
        leader_name: Some(names::person(&mut rng)),
        leader_phone: Some(names::phone(&mut rng)),
        leader_photo_url,
        urban_rural: spec.urban_rural,
        valid_from: valid_from(),
        valid_to: None,
    }
}

fn preferred_center(node: &BaseNode) -> Option<(f64, f64)> {
    match node.level {
        Level::City => Some(CITY_CENTER),
        Level::District => Some(DISTRICTS[node.district].core),
        _ => None,
    }
}

/// The base layer as areas, parents before children.
pub fn base_areas(base: &BaseLayer, seed: u64) -> Vec<Area> {
    base.nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let spec = AreaSpec {
                code: node.code.clone(),
                layer: Layer::Base,
                level: node.level,
                name: node.name.clone(),
                parent_code: node.parent.map(|p| base.nodes[p].code.clone()),
                polygon: &node.polygon,
                preferred_center: preferred_center(node),
                urban_rural: node.urban_rural,
            };
            area(spec, i as u64, seed)
        })
        .collect()
}

/// Special grids: `{community}S{nn}` round each site, numbered per community in site order.
pub fn special_areas(base: &BaseLayer, sites: &[Site], seed: u64) -> Vec<Area> {
    let mut out = Vec::new();
    let mut last: Option<(usize, u32)> = None;
    for (k, site) in sites.iter().enumerate() {
        let n = match last {
            Some((c, n)) if c == site.community => n + 1,
            _ => 1,
        };
        last = Some((site.community, n));
        let community = &base.nodes[site.community];
        let spec = AreaSpec {
            code: format!("{}S{n:02}", community.code),
            layer: Layer::Special,
            level: Level::Grid,
            name: site.name.clone(),
            parent_code: Some(community.code.clone()),
            polygon: &site.polygon,
            preferred_center: None,
            urban_rural: community.urban_rural,
        };
        out.push(area(spec, (2 << 32) | k as u64, seed));
    }
    out
}

/// The fire-safety layer: for every street its three tiers.
pub fn fire_areas(base: &BaseLayer, seed: u64) -> Vec<Area> {
    let fire = || Layer::Business("fire".into());
    let sorted = |ids: &[usize]| {
        let mut v = ids.to_vec();
        v.sort_by(|&a, &b| base.nodes[a].code.cmp(&base.nodes[b].code));
        v
    };
    let mut out = Vec::new();
    let mut index = 3u64 << 32;
    let mut push = |spec: AreaSpec<'_>, out: &mut Vec<Area>| {
        index += 1;
        out.push(area(spec, index, seed));
    };
    for street in base.nodes.iter().filter(|n| n.level == Level::Street) {
        let first = format!("{}F01", street.code);
        let spec = AreaSpec {
            code: first.clone(),
            layer: fire(),
            level: Level::Street,
            name: format!("{}消防一级网格", street.name),
            parent_code: street.parent.map(|p| base.nodes[p].code.clone()),
            polygon: &street.polygon,
            preferred_center: None,
            urban_rural: None,
        };
        push(spec, &mut out);
        for (c, &ci) in sorted(&street.children).iter().enumerate() {
            let community = &base.nodes[ci];
            let second = format!("{first}{:02}", c + 1);
            let spec = AreaSpec {
                code: second.clone(),
                layer: fire(),
                level: Level::Community,
                name: format!("{}消防二级网格", community.name),
                parent_code: Some(first.clone()),
                polygon: &community.polygon,
                preferred_center: None,
                urban_rural: community.urban_rural,
            };
            push(spec, &mut out);
            for (g, &gi) in sorted(&community.children).iter().enumerate() {
                let grid = &base.nodes[gi];
                let spec = AreaSpec {
                    code: format!("{second}{:02}", g + 1),
                    layer: fire(),
                    level: Level::Grid,
                    name: format!("{}消防三级网格", grid.name),
                    parent_code: Some(second.clone()),
                    polygon: &grid.polygon,
                    preferred_center: None,
                    urban_rural: grid.urban_rural,
                };
                push(spec, &mut out);
            }
        }
    }
    out
}
