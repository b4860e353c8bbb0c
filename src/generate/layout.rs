//! Laying out one grid (or micro-grid): a lattice of plots aligned with the block's longest
//! side, a special site (school, hospital, market) when asked for, then buildings plot by plot
//! until the planned households are housed. Every footprint lies inside its plot and every plot
//! lies inside the grid with [`MARGIN_M`] to spare, so no footprint crosses a grid border.

use geo::Centroid;
use geo_types::{Coord, LineString, Polygon};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::footprints::{draw, extent, translate, Shape};
use super::metric::{clearance, LocalFrame};
use super::names::SiteKind;
use crate::model::BuildingUse;

/// Minimum distance between a footprint (or a site) and the grid border, in metres.
pub const MARGIN_M: f64 = 3.0;

/// The kind of ground a grid is built on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Style {
    /// Multi-storey compounds; `old_share` of them are old work-unit 家属院.
    Urban { old_share: f64 },
    /// Industrial park (development zone 123 areas): sheds with some housing.
    Industrial,
    /// Village courtyards and houses, 1–3 floors.
    Village,
}

impl Style {
    fn cell(self) -> (f64, f64) {
        match self {
            Style::Urban { .. } => (80.0, 50.0),
            Style::Industrial => (120.0, 70.0),
            Style::Village => (20.0, 20.0),
        }
    }

    /// Rough houses per plot, to size the search window.
    fn houses_per_plot(self) -> f64 {
        match self {
            Style::Urban { .. } => 40.0,
            Style::Industrial => 10.0,
            Style::Village => 2.0,
        }
    }
}

/// One building as laid out, before it gets its code.
#[derive(Debug, Clone)]
pub struct PlacedBuilding {
    pub footprint: Polygon<f64>,
    pub shape: Shape,
    pub building_use: BuildingUse,
    pub floors: i16,
    /// Units (单元) and rooms per floor and unit; houses = units × floors × rooms.
    pub units: i16,
    pub rooms_per_floor: i16,
    /// Index into [`Layout::compounds`].
    pub compound: Option<usize>,
    /// Whether the building belongs to the special site.
    pub on_site: bool,
}

impl PlacedBuilding {
    /// The number of houses (dwelling units) the building holds.
    pub fn houses(&self) -> u32 {
        self.units.max(0) as u32 * self.floors.max(0) as u32 * self.rooms_per_floor.max(0) as u32
    }
}

/// The result of laying out one grid.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// The special site's boundary, when one was asked for and fitted.
    pub site: Option<Polygon<f64>>,
    pub buildings: Vec<PlacedBuilding>,
    /// Compound names as (name, old work-unit compound?).
    pub compounds: Vec<(String, bool)>,
}

fn site_size(kind: SiteKind) -> (f64, f64) {
    match kind {
        SiteKind::School => (200.0, 140.0),
        SiteKind::Hospital => (140.0, 100.0),
        SiteKind::Market => (120.0, 80.0),
    }
}

/// A plot of the lattice: its centre in local metres and its lattice index.
#[derive(Debug, Clone, Copy)]
struct Plot {
    i: i64,
    j: i64,
    center: Coord<f64>,
}

struct Lattice {
    frame: LocalFrame,
    ring: Vec<Coord<f64>>,
    cell: (f64, f64),
    phase: Coord<f64>,
}

impl Lattice {
    fn center(&self, i: i64, j: i64) -> Coord<f64> {
        Coord {
            x: self.phase.x + i as f64 * self.cell.0,
            y: self.phase.y + j as f64 * self.cell.1,
        }
    }

    /// Whether the rectangle `[min, max]` lies inside the grid with the margin.
    fn rect_fits(&self, min: Coord<f64>, max: Coord<f64>) -> bool {
        [
            (min.x, min.y),
            (max.x, min.y),
            (max.x, max.y),
            (min.x, max.y),
        ]
        .into_iter()
        .all(|(x, y)| clearance(&self.ring, Coord { x, y }) >= MARGIN_M)
    }

    fn cell_fits(&self, i: i64, j: i64) -> bool {
        let c = self.center(i, j);
        let h = Coord {
            x: self.cell.0 / 2.0,
            y: self.cell.1 / 2.0,
        };
        self.rect_fits(c - h, c + h)
    }

    /// Plots that fit, nearest to the origin first, at least `wanted` of them when the grid
    /// has room (the search window grows until it covers the grid).
    fn plots(&self, wanted: usize) -> Vec<Plot> {
        let (mut lo, mut hi) = (
            Coord {
                x: f64::MAX,
                y: f64::MAX,
            },
            Coord {
                x: f64::MIN,
                y: f64::MIN,
            },
        );
        for c in &self.ring {
            lo = Coord {
                x: lo.x.min(c.x),
                y: lo.y.min(c.y),
            };
            hi = Coord {
                x: hi.x.max(c.x),
                y: hi.y.max(c.y),
            };
        }
        let (i0, i1) = (
            (lo.x / self.cell.0).floor() as i64 - 1,
            (hi.x / self.cell.0).ceil() as i64 + 1,
        );
        let (j0, j1) = (
            (lo.y / self.cell.1).floor() as i64 - 1,
            (hi.y / self.cell.1).ceil() as i64 + 1,
        );
        let mut radius = ((wanted as f64).sqrt() * 0.8 + 2.0).ceil() as i64;
        loop {
            let mut plots = Vec::new();
            for j in j0.max(-radius)..=j1.min(radius) {
                for i in i0.max(-radius)..=i1.min(radius) {
                    if self.cell_fits(i, j) {
                        plots.push(Plot {
                            i,
                            j,
                            center: self.center(i, j),
                        });
                    }
                }
            }
            let covered = -radius <= i0 && radius >= i1 && -radius <= j0 && radius >= j1;
            if plots.len() >= wanted || covered {
                plots.sort_by(|a, b| {
                    let (da, db) = (a.center.x.hypot(a.center.y), b.center.x.hypot(b.center.y));
                    da.total_cmp(&db).then(a.j.cmp(&b.j)).then(a.i.cmp(&b.i))
                });
                return plots;
            }
            radius *= 2;
        }
    }

    fn to_polygon(&self, local: &[Coord<f64>]) -> Polygon<f64> {
        let mut coords: Vec<Coord<f64>> = local.iter().map(|&c| self.frame.to_lonlat(c)).collect();
        if let Some(&first) = coords.first() {
            coords.push(first);
        }
        Polygon::new(LineString::new(coords), vec![])
    }
}

/// The angle (radians from east, metric) of the longest edge of a lon/lat ring.
fn block_angle(frame: &LocalFrame, ring: &[Coord<f64>]) -> f64 {
    let local: Vec<Coord<f64>> = ring.iter().map(|&c| frame.to_local(c)).collect();
    (0..local.len())
        .map(|i| local[(i + 1) % local.len()] - local[i])
        .fold((0.0, 0.0), |best: (f64, f64), d| {
            let len = d.x.hypot(d.y);
            if len > best.0 {
                (len, d.y.atan2(d.x))
            } else {
                best
            }
        })
        .1
}

/// Lays out a convex grid `leaf` for `households` dwellings in `style`, with an optional site.
pub fn lay_out(
    leaf: &Polygon<f64>,
    households: u32,
    style: Style,
    site: Option<SiteKind>,
    rng: &mut ChaCha8Rng,
) -> Layout {
    let mut layout = Layout::default();
    let exterior = &leaf.exterior().0;
    let open = &exterior[..exterior.len().saturating_sub(1)];
    let Some(centroid) = leaf.centroid() else {
        return layout;
    };
    let level = LocalFrame::new(centroid.0, 0.0);
    let frame = LocalFrame::new(centroid.0, block_angle(&level, open));
    let cell = style.cell();
    let lattice = Lattice {
        frame,
        ring: open.iter().map(|&c| frame.to_local(c)).collect(),
        cell,
        phase: Coord {
            x: rng.random_range(-0.5..0.5) * cell.0,
            y: rng.random_range(-0.5..0.5) * cell.1,
        },
    };
    let wanted = (households as f64 / style.houses_per_plot()).ceil() as usize + 4;
    let mut plots = lattice.plots(wanted);
    if let Some(kind) = site {
        place_site(&lattice, &mut plots, kind, &mut layout, rng);
    }
    fill(&lattice, &plots, households, style, &mut layout, rng);
    layout
}

/// Reserves a block of plots for the site, nearest the centre first, and puts its main
/// building(s) in it. Does nothing when no block of plots fits.
fn place_site(
    lattice: &Lattice,
    plots: &mut Vec<Plot>,
    kind: SiteKind,
    layout: &mut Layout,
    rng: &mut ChaCha8Rng,
) {
    let (w, h) = site_size(kind);
    let (si, sj) = (
        (w / lattice.cell.0).ceil() as i64,
        (h / lattice.cell.1).ceil() as i64,
    );
    let free = |i: i64, j: i64| plots.iter().any(|p| p.i == i && p.j == j);
    let Some(anchor) = plots
        .iter()
        .find(|p| (0..si).all(|di| (0..sj).all(|dj| free(p.i + di, p.j + dj))))
        .copied()
    else {
        return;
    };
    let half = Coord {
        x: lattice.cell.0 / 2.0,
        y: lattice.cell.1 / 2.0,
    };
    let min = anchor.center - half + Coord { x: 2.0, y: 2.0 };
    let max =
        lattice.center(anchor.i + si - 1, anchor.j + sj - 1) + half - Coord { x: 2.0, y: 2.0 };
    plots.retain(|p| {
        !(p.i >= anchor.i && p.i < anchor.i + si && p.j >= anchor.j && p.j < anchor.j + sj)
    });
    let boundary = [
        min,
        Coord { x: max.x, y: min.y },
        max,
        Coord { x: min.x, y: max.y },
    ];
    layout.site = Some(lattice.to_polygon(&boundary));
    let mid = Coord {
        x: (min.x + max.x) / 2.0,
        y: (min.y + max.y) / 2.0,
    };
    let (floors, second) = match kind {
        SiteKind::School => (rng.random_range(4..=5), true),
        SiteKind::Hospital => (rng.random_range(6..=12), false),
        SiteKind::Market => (rng.random_range(1..=2), false),
    };
    let main = draw(Shape::Public, rng);
    let main_dy = if second { -20.0 } else { 0.0 };
    layout
        .buildings
        .push(site_building(lattice, &main, mid, main_dy, floors));
    if second {
        let block = draw(Shape::Slab, rng);
        layout
            .buildings
            .push(site_building(lattice, &block, mid, 50.0, floors));
    }
}

fn site_building(
    lattice: &Lattice,
    ring: &[Coord<f64>],
    mid: Coord<f64>,
    dy: f64,
    floors: i16,
) -> PlacedBuilding {
    PlacedBuilding {
        footprint: lattice.to_polygon(&translate(ring, mid.x, mid.y + dy)),
        shape: Shape::Public,
        building_use: BuildingUse::Public,
        floors,
        units: 0,
        rooms_per_floor: 0,
        compound: None,
        on_site: true,
    }
}

/// Picks the next building's shape for a plot.
fn choose_shape(style: Style, need_per_plot: f64, old: bool, rng: &mut ChaCha8Rng) -> Shape {
    let x: f64 = rng.random();
    match style {
        Style::Village => {
            if x < 0.7 {
                Shape::Courtyard
            } else {
                Shape::Villa
            }
        }
        Style::Industrial => match x {
            x if x < 0.55 => Shape::Shed,
            x if x < 0.65 => Shape::Shop,
            _ => Shape::Slab,
        },
        Style::Urban { .. } if old => Shape::Slab,
        Style::Urban { .. } if need_per_plot > 60.0 => Shape::Tower,
        Style::Urban { .. } => match x {
            x if x < 0.52 => Shape::Slab,
            x if x < 0.68 => Shape::LBlock,
            x if x < 0.86 => Shape::Tower,
            x if x < 0.985 => Shape::Shop,
            _ => Shape::Public,
        },
    }
}

/// Floors, units and rooms per floor of a residential shape (units 0 for non-residential).
fn storeys(shape: Shape, old: bool, rng: &mut ChaCha8Rng) -> (i16, i16, i16) {
    match shape {
        Shape::Slab if old => (rng.random_range(5..=7), rng.random_range(3..=4), 2),
        Shape::Slab => (rng.random_range(6..=11), rng.random_range(3..=4), 2),
        Shape::LBlock => (rng.random_range(6..=12), 3, 2),
        Shape::Tower => (
            rng.random_range(18..=33),
            rng.random_range(1..=2),
            rng.random_range(2..=4),
        ),
        Shape::Courtyard => (rng.random_range(1..=3), 1, 1),
        Shape::Villa => (rng.random_range(2..=3), 1, 1),
        Shape::Shop => (rng.random_range(2..=5), 0, 0),
        Shape::Public => (rng.random_range(3..=6), 0, 0),
        Shape::Shed => (rng.random_range(1..=2), 0, 0),
    }
}

fn use_of(shape: Shape, style: Style, rng: &mut ChaCha8Rng) -> BuildingUse {
    match shape {
        Shape::Shop => BuildingUse::Commercial,
        Shape::Public => BuildingUse::Public,
        Shape::Shed => BuildingUse::Industrial,
        Shape::Tower | Shape::Slab | Shape::LBlock if rng.random_bool(0.10) => BuildingUse::Mixed,
        Shape::Courtyard | Shape::Villa if style == Style::Village && rng.random_bool(0.04) => {
            BuildingUse::Mixed
        }
        _ => BuildingUse::Residential,
    }
}

/// Fills plots with buildings until `households` houses are placed or the plots run out.
fn fill(
    lattice: &Lattice,
    plots: &[Plot],
    households: u32,
    style: Style,
    layout: &mut Layout,
    rng: &mut ChaCha8Rng,
) {
    let mut placed = 0u32;
    let mut compound: Option<(usize, u32)> = None; // (index, buildings left in it)
    for (k, plot) in plots.iter().enumerate() {
        if placed >= households {
            break;
        }
        let left = (plots.len() - k) as f64;
        let need_per_plot = (households - placed) as f64 / left;
        let residential_style = !matches!(style, Style::Village);
        if residential_style && compound.is_none_or(|(_, n)| n == 0) {
            let old = matches!(style, Style::Urban { old_share } if rng.random_bool(old_share));
            layout
                .compounds
                .push((super::names::compound(rng, old), old));
            compound = Some((layout.compounds.len() - 1, rng.random_range(3..=8)));
        }
        let old = compound.is_some_and(|(c, _)| layout.compounds[c].1);
        let shape = choose_shape(style, need_per_plot, old, rng);
        let (floors, units, rooms_per_floor) = storeys(shape, old, rng);
        let ring = draw(shape, rng);
        let (w, h) = extent(shape);
        let slack = Coord {
            x: ((lattice.cell.0 - w) / 2.0 - 1.0).max(0.0),
            y: ((lattice.cell.1 - h) / 2.0 - 1.0).max(0.0),
        };
        let dx = plot.center.x + rng.random_range(-1.0..=1.0) * slack.x;
        let dy = plot.center.y + rng.random_range(-1.0..=1.0) * slack.y;
        let building = PlacedBuilding {
            footprint: lattice.to_polygon(&translate(&ring, dx, dy)),
            shape,
            building_use: use_of(shape, style, rng),
            floors,
            units,
            rooms_per_floor,
            compound: compound.filter(|_| units > 0).map(|(c, _)| c),
            on_site: false,
        };
        placed += building.houses();
        if let Some((_, n)) = compound.as_mut() {
            *n = n.saturating_sub(1);
        }
        layout.buildings.push(building);
    }
}

#[cfg(test)]
mod tests {
    use geo::{Contains, Validation};
    use rand::SeedableRng;

    use super::*;

    fn block(w_deg: f64, h_deg: f64) -> Polygon<f64> {
        let (x, y) = (114.3, 35.75);
        Polygon::new(
            vec![
                (x, y),
                (x + w_deg, y + 0.0005),
                (x + w_deg, y + h_deg),
                (x, y + h_deg),
                (x, y),
            ]
            .into(),
            vec![],
        )
    }

    #[test]
    fn a_grid_too_small_for_any_plot_gets_no_buildings() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let layout = lay_out(
            &block(0.0003, 0.0003),
            300,
            Style::Urban { old_share: 0.2 },
            None,
            &mut rng,
        );
        assert!(layout.buildings.is_empty());
    }

    #[test]
    fn zero_households_build_nothing() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let layout = lay_out(&block(0.01, 0.01), 0, Style::Village, None, &mut rng);
        assert!(layout.buildings.is_empty());
    }

    #[test]
    fn footprints_house_the_households_inside_the_grid_without_overlap() {
        for (style, households) in [
            (Style::Urban { old_share: 0.3 }, 450),
            (Style::Village, 60),
            (Style::Industrial, 100),
        ] {
            let mut rng = ChaCha8Rng::seed_from_u64(4);
            let grid = block(0.008, 0.006);
            let layout = lay_out(&grid, households, style, Some(SiteKind::School), &mut rng);
            let houses: u32 = layout.buildings.iter().map(|b| b.houses()).sum();
            assert!(houses >= households, "{style:?}: {houses}");
            let site = layout.site.as_ref().expect("the school fits");
            assert!(grid.contains(site));
            for (i, b) in layout.buildings.iter().enumerate() {
                assert!(b.footprint.is_valid());
                assert!(
                    grid.contains(&b.footprint),
                    "{style:?} building {i} leaves the grid"
                );
                assert_eq!(b.on_site, site.contains(&b.footprint));
                for other in &layout.buildings[i + 1..] {
                    assert!(!geo::Intersects::intersects(&b.footprint, &other.footprint));
                }
            }
        }
    }
}
