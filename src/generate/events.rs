//! Synthetic events (事件), streamed in chunks of whole days, oldest first.
//!
//! - Volume per day follows a weekly rhythm (weekends quieter), a summer bump and slow growth;
//!   the counts are fixed up front (cumulative rounding) so they add up to the total exactly.
//! - Time of day (Beijing time) peaks 9–11 and 15–17.
//! - Places: about 30 % round hotspots (markets, schools, hospitals, old 家属院 compounds) with
//!   the categories they draw; the rest uniformly inside grids weighted by households; 0.2 %
//!   just outside the city (`outside_grid`, no area).
//! - Status: the full seven-step history is drawn (上报 → 立案 → 派遣 → 处置 → 反馈 → 结案 →
//!   评价) with plausible gaps and ~15 % finishing after the category's deadline, then cut at
//!   the anchor date: old events are closed or evaluated, recent ones still open.
//!
//! Each day draws from its own random stream, so any day can be generated alone and the whole
//! stream never holds more than one chunk.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use geo::{BoundingRect, Centroid, Contains};
use geo_types::{Coord, Point};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::locate::GridIndex;
use super::metric::{m_per_deg_lat, m_per_deg_lon};
use super::names::{self, SiteKind};
use super::random::{normal, stream, weighted_index, Purpose};
use super::City;
use crate::model::area::city_code;
use crate::model::category_names::CategoryNames;
use crate::model::deadline_hours::Deadlines;
use crate::model::event_code::format_code;
use crate::model::{
    Evaluation, Event, EventSource, EventStatus, HandlingLevel, Layer, Level, Transition,
};

/// Events per chunk the stream aims at (whole days are never split).
const CHUNK_EVENTS: usize = 5_000;
/// Share of events placed round hotspots.
const HOTSPOT_SHARE: f64 = 0.3;
/// Share of events just outside the city.
const OUTSIDE_SHARE: f64 = 0.002;

/// The fixed end of the synthetic history when no other is asked for: 2026-11-01T00:00:00Z
/// (see `GenerateOptions::as_of`).
pub fn fixed_as_of() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// One event category: GB/T 30428.2-style code, the department handling it above the
/// community, weights in urban and rural grids, and a description. Its name is the catalog's
/// (`events/categories.toml`).
pub struct Category {
    pub code: &'static str,
    pub department: &'static str,
    urban: f64,
    rural: f64,
    pub detail: &'static str,
}

/// A category drawn by its weight in urban grids: what a new report is about (the demo feed
/// of `serve` files these).
pub fn draw_report(rng: &mut impl Rng) -> &'static Category {
    let total: f64 = CATEGORIES.iter().map(|c| c.urban).sum();
    let mut x = rng.random_range(0.0..total);
    for c in CATEGORIES {
        if x < c.urban {
            return c;
        }
        x -= c.urban;
    }
    &CATEGORIES[CATEGORIES.len() - 1]
}

/// The department that handles a category above the community (a dispatch step names it).
pub fn department_of(code: &str) -> &'static str {
    category(code).department
}

const CATEGORIES: &[Category] = &[
    Category {
        code: "0101",
        department: "住房和城乡建设局",
        urban: 6.0,
        rural: 6.0,
        detail: "路面出现坑洼破损，影响车辆和行人通行",
    },
    Category {
        code: "0102",
        department: "住房和城乡建设局",
        urban: 3.0,
        rural: 1.0,
        detail: "窨井盖缺失或破损，存在安全隐患",
    },
    Category {
        code: "0103",
        department: "城市管理局",
        urban: 4.0,
        rural: 2.0,
        detail: "路灯不亮，夜间出行不便",
    },
    Category {
        code: "0201",
        department: "城市管理局",
        urban: 4.0,
        rural: 1.0,
        detail: "墙面张贴小广告、乱涂乱画",
    },
    Category {
        code: "0203",
        department: "城市管理局",
        urban: 9.0,
        rural: 2.0,
        detail: "商贩占用人行道经营，影响通行",
    },
    Category {
        code: "0205",
        department: "城市管理局",
        urban: 7.0,
        rural: 8.0,
        detail: "生活垃圾堆放未及时清运",
    },
    Category {
        code: "0301",
        department: "自然资源和规划局",
        urban: 2.0,
        rural: 5.0,
        detail: "未经审批私自搭建建筑物",
    },
    Category {
        code: "0305",
        department: "城市管理局",
        urban: 5.0,
        rural: 6.0,
        detail: "楼道、路边乱堆杂物和建筑材料",
    },
    Category {
        code: "0401",
        department: "生态环境局",
        urban: 5.0,
        rural: 1.5,
        detail: "夜间施工或商户噪音影响居民休息",
    },
    Category {
        code: "0402",
        department: "生态环境局",
        urban: 3.0,
        rural: 0.5,
        detail: "餐饮油烟直排，周边居民反映强烈",
    },
    Category {
        code: "0502",
        department: "消防救援支队",
        urban: 4.0,
        rural: 3.0,
        detail: "楼道堆放杂物、电动车飞线充电，存在火灾隐患",
    },
    Category {
        code: "0503",
        department: "应急管理局",
        urban: 2.0,
        rural: 3.0,
        detail: "设施老化存在安全隐患",
    },
    Category {
        code: "0601",
        department: "司法局",
        urban: 5.0,
        rural: 8.0,
        detail: "邻里之间发生矛盾纠纷，需调解",
    },
    Category {
        code: "0602",
        department: "人力资源和社会保障局",
        urban: 2.0,
        rural: 2.0,
        detail: "务工人员反映工资被拖欠",
    },
    Category {
        code: "0701",
        department: "市场监督管理局",
        urban: 2.0,
        rural: 1.0,
        detail: "商户销售过期或来源不明食品",
    },
    Category {
        code: "0801",
        department: "教育局",
        urban: 1.0,
        rural: 0.5,
        detail: "校园周边交通秩序混乱、摊点聚集",
    },
];

/// Sources and their shares: patrol, 12345 hotline, WeChat, app, video.
const SOURCE_WEIGHTS: [(EventSource, f64); 5] = [
    (EventSource::Patrol, 0.45),
    (EventSource::Hotline, 0.25),
    (EventSource::Wechat, 0.12),
    (EventSource::App, 0.10),
    (EventSource::Video, 0.08),
];

/// Relative event volume per hour of the day (Beijing time), peaks 9–11 and 15–17.
const HOUR_WEIGHTS: [f64; 24] = [
    0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.2, 2.5, 4.0, 4.5, 3.5, 1.8, 1.5, 2.5, 4.0, 4.3, 3.2, 1.8,
    1.2, 1.0, 0.8, 0.5, 0.3,
];

/// What kind of place draws events, and which categories it draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HotspotKind {
    Site(SiteKind),
    OldCompound,
}

impl HotspotKind {
    fn categories(self) -> &'static [&'static str] {
        match self {
            HotspotKind::Site(SiteKind::Market) => &["0203", "0205", "0701", "0401"],
            HotspotKind::Site(SiteKind::School) => &["0801", "0203", "0401"],
            HotspotKind::Site(SiteKind::Hospital) => &["0203", "0601", "0103"],
            HotspotKind::OldCompound => &["0101", "0305", "0502", "0601", "0402", "0102"],
        }
    }
}

#[derive(Debug, Clone)]
struct Hotspot {
    kind: HotspotKind,
    point: Coord<f64>,
    name: String,
}

/// A grid as the event generator sees it.
#[derive(Debug, Clone)]
struct GridInfo {
    urban: bool,
    /// "鹤壁市XX区XX街道XX社区": the address prefix.
    place: String,
    community: String,
    worker: Option<(String, String, Option<String>)>,
    leader: Option<String>,
}

/// Everything the event stream needs, owned so the stream can outlive the city.
#[derive(Debug, Clone)]
struct Plan {
    seed: u64,
    anchor: DateTime<Utc>,
    first_day: DateTime<Utc>,
    day_counts: Vec<u32>,
    index: GridIndex,
    grids: Vec<GridInfo>,
    /// Cumulative grid weights (households + a floor) for sampling.
    cumulative: Vec<f64>,
    hotspots: Vec<Hotspot>,
    /// The city boundary (open ring, counter-clockwise) for points just outside.
    city_ring: Vec<Coord<f64>>,
    /// Hours per category and level: `events/deadlines.toml`, the table the server uses.
    deadlines: Deadlines,
    /// The idempotency key space of the events: the city's, as for imports.
    key_scope: String,
}

/// The event stream of a city: an iterator of chunks (whole days), oldest first.
#[derive(Debug, Clone)]
pub struct EventStream {
    plan: Plan,
    day: usize,
    next_index: u64,
}

impl EventStream {
    /// The total number of events the stream yields.
    pub fn total(&self) -> u64 {
        self.plan.day_counts.iter().map(|&c| c as u64).sum()
    }
}

impl Iterator for EventStream {
    type Item = Vec<Event>;

    fn next(&mut self) -> Option<Vec<Event>> {
        let mut chunk = Vec::new();
        while self.day < self.plan.day_counts.len() && chunk.len() < CHUNK_EVENTS {
            let events = self.plan.day(self.day, self.next_index);
            self.next_index += events.len() as u64;
            chunk.extend(events);
            self.day += 1;
        }
        (!chunk.is_empty()).then_some(chunk)
    }
}

/// Relative volume of a day: weekday rhythm, a summer bump, and 30 % growth over the span.
fn day_weight(date: DateTime<Utc>, d: usize, days: usize) -> f64 {
    let weekly = match date.weekday() {
        Weekday::Sat => 0.7,
        Weekday::Sun => 0.6,
        _ => 1.0,
    };
    let season =
        1.0 + 0.15 * ((date.ordinal() as f64 - 100.0) / 365.0 * std::f64::consts::TAU).sin();
    let growth = 1.0 + 0.3 * d as f64 / days.max(1) as f64;
    weekly * season * growth
}

/// Per-day counts adding up to `total` exactly.
fn day_counts(first_day: DateTime<Utc>, days: usize, total: u64) -> Vec<u32> {
    let weights: Vec<f64> = (0..days)
        .map(|d| day_weight(first_day + Duration::days(d as i64), d, days))
        .collect();
    let sum: f64 = weights.iter().sum();
    let mut acc = 0.0;
    let mut previous = 0u64;
    weights
        .iter()
        .enumerate()
        .map(|(d, w)| {
            acc += w;
            let upto = if d + 1 == days {
                total
            } else {
                ((acc / sum) * total as f64).round() as u64
            };
            let count = upto.saturating_sub(previous);
            previous = upto.max(previous);
            count as u32
        })
        .collect()
}

/// The event stream of `city`: `total` events over `days` days before `anchor` (the end of
/// the history).
pub fn stream_of(
    city: &City,
    total: u64,
    days: u32,
    seed: u64,
    anchor: DateTime<Utc>,
) -> EventStream {
    let first_day = anchor - Duration::days(days as i64);
    let names: BTreeMap<&str, &str> = city
        .dataset
        .areas
        .iter()
        .map(|a| (a.code.as_str(), a.name.as_str()))
        .collect();
    let grids: Vec<&crate::model::Area> = city
        .dataset
        .areas
        .iter()
        .filter(|a| a.layer == Layer::Base && a.level == Level::Grid)
        .collect();
    let mut households: BTreeMap<&str, f64> = BTreeMap::new();
    let building_grid: BTreeMap<&str, &str> = city
        .dataset
        .buildings
        .iter()
        .filter_map(|b| b.grid_code.as_deref().map(|g| (b.code.as_str(), g)))
        .collect();
    for h in &city.dataset.houses {
        if let Some(g) = building_grid.get(h.building_code.as_str()) {
            *households.entry(g).or_default() += h.households as f64;
        }
    }
    let workers: BTreeMap<&str, &crate::model::Worker> = city
        .dataset
        .workers
        .iter()
        .map(|w| (w.home_code.as_str(), w))
        .collect();
    let mut cumulative = Vec::with_capacity(grids.len());
    let mut acc = 0.0;
    let mut infos = Vec::with_capacity(grids.len());
    for g in &grids {
        acc += households.get(g.code.as_str()).copied().unwrap_or(0.0) + 30.0;
        cumulative.push(acc);
        infos.push(grid_info(g, &names, &workers));
    }
    let index = GridIndex::new(
        grids
            .iter()
            .filter_map(|g| g.geometry.0.first().map(|p| (g.code.clone(), p.clone())))
            .collect(),
    );
    let city_ring = city
        .dataset
        .areas
        .iter()
        .find(|a| a.level == Level::City && a.layer == Layer::Base)
        .and_then(|a| a.geometry.0.first())
        .map(|p| {
            let c = &p.exterior().0;
            c[..c.len().saturating_sub(1)].to_vec()
        })
        .unwrap_or_default();
    EventStream {
        plan: Plan {
            seed,
            anchor,
            first_day,
            day_counts: day_counts(first_day, days as usize, total),
            index,
            grids: infos,
            cumulative,
            hotspots: hotspots(city),
            city_ring,
            deadlines: Deadlines::builtin(),
            key_scope: city_code(&city.dataset.areas)
                .unwrap_or_default()
                .to_string(),
        },
        day: 0,
        next_index: 0,
    }
}

fn grid_info(
    g: &crate::model::Area,
    names: &BTreeMap<&str, &str>,
    workers: &BTreeMap<&str, &crate::model::Worker>,
) -> GridInfo {
    let part = |n: usize| {
        g.code
            .get(..n)
            .and_then(|c| names.get(c))
            .copied()
            .unwrap_or("")
    };
    let community = part(12).to_string();
    GridInfo {
        urban: g.urban_rural.is_some_and(|c| c < 200),
        place: format!("鹤壁市{}{}{}", part(6), part(9), community),
        community,
        worker: workers
            .get(g.code.as_str())
            .map(|w| (w.code.clone(), w.name.clone(), w.phone.clone())),
        leader: g
            .code
            .get(..12)
            .and_then(|c| workers.get(c))
            .map(|w| w.code.clone()),
    }
}

/// Markets, schools and hospitals (the special grids) and old 家属院 compounds.
fn hotspots(city: &City) -> Vec<Hotspot> {
    let mut out: Vec<Hotspot> = city
        .dataset
        .areas
        .iter()
        .filter(|a| a.layer == Layer::Special)
        .filter_map(|a| {
            let kind = if a.name.ends_with("学") {
                SiteKind::School
            } else if a.name.contains("卫生") || a.name.contains("医院") {
                SiteKind::Hospital
            } else {
                SiteKind::Market
            };
            a.center.map(|c| Hotspot {
                kind: HotspotKind::Site(kind),
                point: c.0,
                name: a.name.clone(),
            })
        })
        .collect();
    let mut compounds: BTreeMap<(&str, &str), (Coord<f64>, f64)> = BTreeMap::new();
    for b in &city.dataset.buildings {
        if let (Some(c), Some(g), Some(p)) = (
            b.compound.as_deref(),
            b.grid_code.as_deref(),
            b.geometry.centroid(),
        ) {
            if c.ends_with("家属院") {
                let e = compounds
                    .entry((g, c))
                    .or_insert((Coord { x: 0.0, y: 0.0 }, 0.0));
                e.0 = e.0 + p.0;
                e.1 += 1.0;
            }
        }
    }
    out.extend(compounds.into_iter().map(|((_, name), (sum, n))| Hotspot {
        kind: HotspotKind::OldCompound,
        point: sum / n,
        name: name.to_string(),
    }));
    out
}

/// The built-in category catalog, parsed once.
static CATEGORY_NAMES: LazyLock<CategoryNames> = LazyLock::new(CategoryNames::builtin);

impl Category {
    /// The catalog's name of this category.
    pub fn name(&self) -> &'static str {
        CATEGORY_NAMES.name(self.code).unwrap_or(self.code)
    }
}

fn category(code: &str) -> &'static Category {
    CATEGORIES
        .iter()
        .find(|c| c.code == code)
        .unwrap_or(&CATEGORIES[0])
}

fn offset_m(p: Coord<f64>, east: f64, north: f64) -> Coord<f64> {
    Coord {
        x: p.x + east / m_per_deg_lon(p.y),
        y: p.y + north / m_per_deg_lat(p.y),
    }
}

/// Where an event happened and what it is about.
struct Place {
    point: Coord<f64>,
    grid: Option<usize>,
    category: &'static Category,
    landmark: Option<String>,
}

impl Plan {
    /// The events of day `d`, numbered from `first_index` (for external ids).
    fn day(&self, d: usize, first_index: u64) -> Vec<Event> {
        let mut rng = stream(self.seed, Purpose::Events, d as u64);
        let start = self.first_day + Duration::days(d as i64);
        let mut times: Vec<DateTime<Utc>> = (0..self.day_counts[d])
            .map(|_| {
                let hour = weighted_index(&mut rng, &HOUR_WEIGHTS) as f64;
                let local_s = ((hour + rng.random::<f64>()) * 3600.0) as i64;
                // Beijing time is UTC+8.
                start + Duration::seconds(local_s - 8 * 3600)
            })
            .collect();
        times.sort();
        // `start` is the China day's midnight written as UTC: its date is the day of the codes.
        let day = start.date_naive();
        times
            .into_iter()
            .enumerate()
            .map(|(k, at)| self.event(&mut rng, day, k, first_index + k as u64, at))
            .collect()
    }

    fn uniform_place(&self, rng: &mut ChaCha8Rng, urban_bias: Option<bool>) -> Place {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let mut gi = 0;
        let mut point = Coord { x: 0.0, y: 0.0 };
        for _ in 0..20 {
            let x = rng.random_range(0.0..total.max(f64::MIN_POSITIVE));
            gi = self
                .cumulative
                .partition_point(|&c| c <= x)
                .min(self.index.len().saturating_sub(1));
            point = random_point_in(self.index.polygon(gi), rng);
            if urban_bias.is_none_or(|u| self.grids[gi].urban == u) {
                break;
            }
        }
        let info = &self.grids[gi];
        let weights: Vec<f64> = CATEGORIES
            .iter()
            .map(|c| if info.urban { c.urban } else { c.rural })
            .collect();
        Place {
            point,
            grid: self.index.locate(point),
            category: &CATEGORIES[weighted_index(rng, &weights)],
            landmark: None,
        }
    }

    fn place(&self, rng: &mut ChaCha8Rng) -> Place {
        let roll: f64 = rng.random();
        if roll < OUTSIDE_SHARE && !self.city_ring.is_empty() {
            if let Some(point) = self.outside_point(rng) {
                let mut place = self.uniform_place(rng, None);
                place.point = point;
                place.grid = None;
                return place;
            }
        }
        if roll < OUTSIDE_SHARE + HOTSPOT_SHARE && !self.hotspots.is_empty() {
            let h = &self.hotspots[rng.random_range(0..self.hotspots.len())];
            let point = offset_m(h.point, normal(rng) * 60.0, normal(rng) * 60.0);
            if let Some(grid) = self.index.locate(point) {
                let codes = h.kind.categories();
                return Place {
                    point,
                    grid: Some(grid),
                    category: category(codes[rng.random_range(0..codes.len())]),
                    landmark: Some(h.name.clone()),
                };
            }
        }
        self.uniform_place(rng, None)
    }

    /// A point 100–800 m outside the city boundary, or `None` if it landed in a grid.
    fn outside_point(&self, rng: &mut ChaCha8Rng) -> Option<Coord<f64>> {
        let n = self.city_ring.len();
        let i = rng.random_range(0..n);
        let (a, b) = (self.city_ring[i], self.city_ring[(i + 1) % n]);
        let t: f64 = rng.random();
        let on = a + (b - a) * t;
        let (de, dn) = (
            (b.x - a.x) * m_per_deg_lon(on.y),
            (b.y - a.y) * m_per_deg_lat(on.y),
        );
        let len = de.hypot(dn);
        if len <= 0.0 {
            return None;
        }
        // Outward of a counter-clockwise ring is to the right of the edge.
        let dist = rng.random_range(100.0..800.0);
        let p = offset_m(on, dn / len * dist, -de / len * dist);
        self.index.locate(p).is_none().then_some(p)
    }

    fn event(
        &self,
        rng: &mut ChaCha8Rng,
        day: NaiveDate,
        k: usize,
        index: u64,
        at: DateTime<Utc>,
    ) -> Event {
        let source = SOURCE_WEIGHTS[weighted_index(rng, &SOURCE_WEIGHTS.map(|s| s.1))].0;
        let place = self.place(rng);
        let info = place.grid.map(|g| &self.grids[g]);
        let where_ = match (&place.landmark, info) {
            (Some(l), Some(i)) => format!("{}{}", i.place, l),
            (None, Some(i)) => i.place.clone(),
            _ => "鹤壁市市界外".to_string(),
        };
        let (reporter_name, reporter_phone, reporter_actor) =
            match (source, info.and_then(|i| i.worker.as_ref())) {
                (EventSource::Patrol, Some((code, name, phone))) => {
                    (Some(name.clone()), phone.clone(), code.clone())
                }
                (EventSource::Video, _) => (None, None, "video-ai".to_string()),
                _ => {
                    let name = names::person(rng);
                    (
                        Some(name),
                        Some(names::phone(rng)),
                        format!("{}-reporter", source.as_str()),
                    )
                }
            };
        let history = history(
            rng,
            at,
            self.anchor,
            Rules {
                category: place.category,
                deadlines: &self.deadlines,
            },
            info,
            place.grid.is_none(),
            reporter_actor,
        );
        let community = info.map(|i| i.community.as_str()).unwrap_or("市界外");
        Event {
            code: format_code(day, k as u32),
            external_id: Some(format!("{}-{index}", source.as_str())),
            idempotency_scope: self.key_scope.clone(),
            title: format!("{}：{}", community, place.category.name()),
            category: place.category.code.to_string(),
            source,
            content: format!("{where_}附近{}，请尽快处理。", place.category.detail),
            reporter_name,
            reporter_phone,
            location: Point::from(place.point),
            address: Some(where_),
            area_code: place.grid.map(|g| self.index.code(g).to_string()),
            outside_grid: place.grid.is_none(),
            status: history.status,
            level: history.level,
            department: history.department,
            reported_at: at,
            deadline: Some(
                self.deadlines
                    .deadline(place.category.code, history.level, at),
            ),
            closed_at: history.closed_at,
            evaluation: history.evaluation,
            transitions: history.transitions,
        }
    }
}

/// A uniform point strictly inside a (convex) grid, by rejection in its bounding box.
fn random_point_in(polygon: &geo_types::Polygon<f64>, rng: &mut ChaCha8Rng) -> Coord<f64> {
    let fallback = polygon
        .centroid()
        .map(|c| c.0)
        .unwrap_or(Coord { x: 0.0, y: 0.0 });
    let Some(r) = polygon.bounding_rect() else {
        return fallback;
    };
    for _ in 0..100 {
        let p = Coord {
            x: rng.random_range(r.min().x..=r.max().x),
            y: rng.random_range(r.min().y..=r.max().y),
        };
        if polygon.contains(&Point::from(p)) {
            return p;
        }
    }
    fallback
}

/// The state of an event at the anchor date.
struct History {
    transitions: Vec<Transition>,
    status: EventStatus,
    level: HandlingLevel,
    department: Option<String>,
    closed_at: Option<DateTime<Utc>>,
    evaluation: Option<Evaluation>,
}

fn minutes(rng: &mut ChaCha8Rng, lo: i64, hi: i64) -> Duration {
    Duration::minutes(rng.random_range(lo..=hi))
}

/// A category and the deadline table its events are timed by.
#[derive(Clone, Copy)]
struct Rules<'a> {
    category: &'a Category,
    deadlines: &'a Deadlines,
}

/// Draws the full seven-step history and keeps what happened before `anchor`.
fn history(
    rng: &mut ChaCha8Rng,
    reported: DateTime<Utc>,
    anchor: DateTime<Utc>,
    rules: Rules<'_>,
    info: Option<&GridInfo>,
    outside: bool,
    reporter: String,
) -> History {
    let cat = rules.category;
    let level = if outside {
        HandlingLevel::City
    } else {
        HandlingLevel::ALL[weighted_index(rng, &[0.80, 0.15, 0.04, 0.01])]
    };
    let department = match level {
        HandlingLevel::Community => format!(
            "{}网格工作站",
            info.map(|i| i.community.as_str()).unwrap_or("")
        ),
        HandlingLevel::Street => "街道综治中心".to_string(),
        HandlingLevel::District => format!("区{}", cat.department),
        HandlingLevel::City => format!("市{}", cat.department),
    };
    let leader = info
        .and_then(|i| i.leader.clone())
        .unwrap_or_else(|| "city-center".into());
    let handler = match level {
        HandlingLevel::Community => info
            .and_then(|i| i.worker.as_ref().map(|w| w.0.clone()))
            .unwrap_or_else(|| leader.clone()),
        _ => format!("dept:{department}"),
    };
    let registered = reported + minutes(rng, 5, 60);
    let dispatched = registered + minutes(rng, 10, 120);
    let handling = dispatched + minutes(rng, 20, 240);
    // Share of the deadline used until feedback; closing follows within hours, so about one
    // event in seven is closed late.
    let share = if rng.random_bool(0.13) {
        rng.random_range(1.05..2.5)
    } else {
        rng.random_range(0.3..0.8)
    };
    let allotted_min = f64::from(rules.deadlines.hours(cat.code, level)) * 60.0;
    let feedback = (reported + Duration::minutes((allotted_min * share) as i64))
        .max(handling + Duration::minutes(10));
    let closed = feedback + minutes(rng, 15, 4 * 60);
    let evaluated = rng
        .random_bool(0.75)
        .then(|| closed + minutes(rng, 60, 96 * 60));
    let score = [5, 4, 3, 2, 1][weighted_index(rng, &[0.60, 0.25, 0.10, 0.03, 0.02])];
    let steps = [
        (
            reported,
            EventStatus::Reported,
            reporter,
            HandlingLevel::Community,
            None,
        ),
        (
            registered,
            EventStatus::Registered,
            leader.clone(),
            HandlingLevel::Community,
            None,
        ),
        (
            dispatched,
            EventStatus::Dispatched,
            leader.clone(),
            level,
            Some(department.clone()),
        ),
        (
            handling,
            EventStatus::Handling,
            handler.clone(),
            level,
            Some(department.clone()),
        ),
        (
            feedback,
            EventStatus::Feedback,
            handler,
            level,
            Some(department.clone()),
        ),
        (
            closed,
            EventStatus::Closed,
            leader,
            level,
            Some(department.clone()),
        ),
    ];
    let mut transitions: Vec<Transition> = Vec::with_capacity(7);
    let mut from = None;
    for (at, to, actor, step_level, dept) in steps {
        if at > anchor {
            break;
        }
        transitions.push(Transition {
            at,
            from,
            to,
            actor,
            level: step_level,
            department: dept,
            note: None,
        });
        from = Some(to);
    }
    let closed_at = from.is_some_and(|s| !s.is_open()).then_some(closed);
    let mut evaluation = None;
    if let (Some(at), Some(EventStatus::Closed)) = (evaluated, from) {
        if at <= anchor {
            let comment = (score <= 3).then(|| "处理速度有待提高".to_string());
            transitions.push(Transition {
                at,
                from,
                to: EventStatus::Evaluated,
                actor: "resident".into(),
                level,
                department: Some(department.clone()),
                note: Some(format!("满意度{score}分")),
            });
            evaluation = Some(Evaluation { score, comment });
        }
    }
    let status = transitions
        .last()
        .map(|t| t.to)
        .unwrap_or(EventStatus::Reported);
    let current_level = transitions
        .last()
        .map(|t| t.level)
        .unwrap_or(HandlingLevel::Community);
    History {
        transitions,
        status,
        level: current_level,
        department: (status >= EventStatus::Dispatched).then_some(department),
        closed_at,
        evaluation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_generated_category_and_its_major_is_named_in_the_catalog() {
        let catalog = CategoryNames::builtin();
        for c in CATEGORIES {
            assert!(catalog.name(c.code).is_some(), "{} has no name", c.code);
            assert!(
                catalog.name(&c.code[..2]).is_some(),
                "{} has no major",
                c.code
            );
        }
    }

    #[test]
    fn day_counts_add_up_and_weekends_are_quieter() {
        let first = fixed_as_of() - Duration::days(28);
        assert!(day_counts(first, 0, 100).is_empty());
        assert_eq!(day_counts(first, 1, 7), vec![7]);
        let counts = day_counts(first, 28, 28_000);
        assert_eq!(counts.iter().map(|&c| c as u64).sum::<u64>(), 28_000);
        let (mut weekday, mut weekend) = (0.0, 0.0);
        for (d, &c) in counts.iter().enumerate() {
            match (first + Duration::days(d as i64)).weekday() {
                Weekday::Sat | Weekday::Sun => weekend += c as f64 / 8.0,
                _ => weekday += c as f64 / 20.0,
            }
        }
        assert!(weekend < 0.8 * weekday);
    }

    #[test]
    fn histories_cut_at_the_anchor() {
        let mut rng = stream(1, Purpose::Events, 0);
        let cat = category("0203");
        let deadlines = Deadlines::builtin();
        let a = fixed_as_of();
        let fresh = history(
            &mut rng,
            a - Duration::minutes(1),
            a,
            Rules {
                category: cat,
                deadlines: &deadlines,
            },
            None,
            false,
            "x".into(),
        );
        assert_eq!(fresh.status, EventStatus::Reported);
        assert_eq!(fresh.closed_at, None);
        assert_eq!(fresh.department, None);
        let old = history(
            &mut rng,
            a - Duration::days(60),
            a,
            Rules {
                category: cat,
                deadlines: &deadlines,
            },
            None,
            false,
            "x".into(),
        );
        assert!(!old.status.is_open());
        assert!(old.closed_at.is_some());
        for w in old.transitions.windows(2) {
            assert!(w[0].at <= w[1].at);
            assert_eq!(w[1].from, Some(w[0].to));
        }
        let outside = history(
            &mut rng,
            a - Duration::days(60),
            a,
            Rules {
                category: cat,
                deadlines: &deadlines,
            },
            None,
            true,
            "x".into(),
        );
        assert_eq!(outside.level, HandlingLevel::City);
    }

    #[test]
    fn unknown_category_falls_back_to_the_first() {
        assert_eq!(category("9999").code, "0101");
    }
}
