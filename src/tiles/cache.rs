//! The tile cache: encoded tiles ([`CachedTile`], every coding) kept in memory up to a byte
//! budget, least recently used out first, and invalidated exactly when the data under them
//! changes (which tiles a change touches is [`super::invalidate`]).
//!
//! The rules:
//! - a key is (tileset, content version, z/x/y, scope, crs, filters): a scoped caller never sees a
//!   tile cut for another scope; `public` is the scope of anonymous callers;
//! - [`TileCache::invalidate`] removes the tiles changed boxes touch, for every scope, in both
//!   tile grids, or bumps the tileset's content version when a box is huge (every tile of the
//!   tileset becomes unreachable at once and ages out of the LRU);
//!   [`TileCache::invalidate_points`] removes the tiles of event tilesets that could hold a
//!   moved event, for every scope and filter;
//! - cached tiles are also filed by their place (tileset, crs, z/x/y), so an invalidation costs
//!   the tiles a change touches, never the number of scopes or filters ever requested (the wall
//!   map's time slider makes a new filter string with every move);
//! - a render that raced with an invalidation is served but not stored (see [`Ticket`]), so a
//!   tile cut from an older snapshot can never be cached after the invalidation that concerns it.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use geo_types::Rect;

use super::coding::CachedTile;
use super::invalidate::{event_tiles, gcj02_boxes, touched_tiles};
use super::tile_frame::TileCrs;
use super::tileset::{Tileset, Tilesets};
use crate::engine::events::WorldPoint;

/// Counter of tile requests answered from the cache, labelled by tileset.
pub const HITS_METRIC: &str = "gridmap_tile_cache_hits_total";
/// Counter of tile requests that had to render, labelled by tileset.
pub const MISSES_METRIC: &str = "gridmap_tile_cache_misses_total";
/// Counter of cached tiles removed because their data changed, labelled by tileset.
pub const INVALIDATIONS_METRIC: &str = "gridmap_tile_cache_invalidations_total";
/// Counter of whole-tileset invalidations (content version bumps), labelled by tileset.
pub const VERSION_BUMPS_METRIC: &str = "gridmap_tile_cache_version_bumps_total";

/// The scope of anonymous callers (not an area code, so it never collides with one).
pub const PUBLIC_SCOPE: &str = "public";

/// Which tile, for whom.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TileAddr {
    pub tileset: String,
    pub z: u8,
    pub x: u32,
    pub y: u32,
    /// The caller's jurisdiction code, or [`PUBLIC_SCOPE`].
    pub scope: String,
    /// The grid the tile was cut in (`?crs=`).
    pub crs: TileCrs,
}

impl TileAddr {
    /// The address with borrowed names, as [`TileCache::lookup_tile`] takes it.
    pub fn as_tile(&self) -> TileAt<'_> {
        TileAt {
            tileset: &self.tileset,
            z: self.z,
            x: self.x,
            y: self.y,
            scope: &self.scope,
            crs: self.crs,
        }
    }
}

/// [`TileAddr`] with borrowed names: a request looks its tile up without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileAt<'a> {
    pub tileset: &'a str,
    pub z: u8,
    pub x: u32,
    pub y: u32,
    /// The caller's jurisdiction code, or [`PUBLIC_SCOPE`].
    pub scope: &'a str,
    /// The grid the tile was cut in (`?crs=`).
    pub crs: TileCrs,
}

impl TileAt<'_> {
    /// The owned address.
    pub fn to_addr(&self) -> TileAddr {
        TileAddr {
            tileset: self.tileset.to_string(),
            z: self.z,
            x: self.x,
            y: self.y,
            scope: self.scope.to_string(),
            crs: self.crs,
        }
    }
}

#[derive(Debug, Clone)]
struct Key {
    addr: TileAddr,
    version: u64,
    /// The canonical event filters of the request (empty for other tilesets).
    filters: String,
}

/// What a cache key is made of, borrowed: the map is probed with a [`KeyRef`] (no allocation)
/// and holds [`Key`]s; both hash and compare through this.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct KeyParts<'a> {
    tile: TileAt<'a>,
    version: u64,
    filters: &'a str,
}

/// Anything that names a cache entry.
trait AsKey {
    fn parts(&self) -> KeyParts<'_>;
}

impl AsKey for Key {
    fn parts(&self) -> KeyParts<'_> {
        KeyParts {
            tile: self.addr.as_tile(),
            version: self.version,
            filters: &self.filters,
        }
    }
}

/// A key of borrowed parts, to probe the map.
struct KeyRef<'a>(KeyParts<'a>);

impl AsKey for KeyRef<'_> {
    fn parts(&self) -> KeyParts<'_> {
        self.0
    }
}

impl Hash for dyn AsKey + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parts().hash(state);
    }
}

impl PartialEq for dyn AsKey + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for dyn AsKey + '_ {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parts().hash(state);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for Key {}

impl<'a> Borrow<dyn AsKey + 'a> for Key {
    fn borrow(&self) -> &(dyn AsKey + 'a) {
        self
    }
}

/// Permission to store a freshly rendered tile: the key it goes under and the invalidation
/// epoch seen before the snapshot was taken. Take it (by [`TileCache::lookup`]) BEFORE loading
/// the snapshot you render from.
#[derive(Debug, Clone)]
pub struct Ticket {
    key: Key,
    epoch: u64,
}

/// What [`TileCache::lookup`] found.
#[derive(Debug)]
pub enum Lookup {
    Hit(Arc<CachedTile>),
    /// Not cached: render, then [`TileCache::store`] with this ticket.
    Miss(Ticket),
}

/// A cached tile and its places in the LRU order.
#[derive(Debug)]
struct Entry {
    tile: Arc<CachedTile>,
    /// Its key in [`State::order`].
    queued: u64,
    /// The tick of its last use; newer than `queued` when a hit touched it since (hits only
    /// read the map, so they move the entry in the order lazily, when eviction reaches it).
    used: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<Key, Entry>,
    /// Queue tick → key, oldest first.
    order: BTreeMap<u64, Key>,
    bytes: usize,
    versions: HashMap<String, u64>,
    /// The keys cached at each place, by tileset: what an invalidation of that place removes
    /// (every scope, filter and content version).
    places: HashMap<String, HashMap<Place, Vec<Key>>>,
    epoch: u64,
}

/// Where a tile lies within its tileset: the grid it was cut in and z/x/y.
type Place = (TileCrs, u8, u32, u32);

fn place_of(tile: TileAt<'_>) -> Place {
    (tile.crs, tile.z, tile.x, tile.y)
}

impl State {
    fn insert(&mut self, key: Key, entry: Entry) {
        self.bytes += entry.tile.weight();
        self.order.insert(entry.queued, key.clone());
        self.places
            .entry(key.addr.tileset.clone())
            .or_default()
            .entry(place_of(key.addr.as_tile()))
            .or_default()
            .push(key.clone());
        self.entries.insert(key, entry);
    }

    fn remove(&mut self, key: &dyn AsKey) -> bool {
        let Some(entry) = self.entries.remove(key) else {
            return false;
        };
        self.order.remove(&entry.queued);
        self.bytes -= entry.tile.weight();
        let parts = key.parts();
        if let Some(places) = self.places.get_mut(parts.tile.tileset) {
            let place = place_of(parts.tile);
            if let Some(keys) = places.get_mut(&place) {
                keys.retain(|k| k.parts() != parts);
                if keys.is_empty() {
                    places.remove(&place);
                }
            }
        }
        true
    }

    /// Removes every tile cached at one place of `tileset`; returns how many there were.
    fn remove_place(&mut self, tileset: &str, place: Place) -> u64 {
        let Some(keys) = self
            .places
            .get_mut(tileset)
            .and_then(|places| places.remove(&place))
        else {
            return 0;
        };
        let mut removed = 0;
        for key in keys {
            if let Some(entry) = self.entries.remove(&key) {
                self.order.remove(&entry.queued);
                self.bytes -= entry.tile.weight();
                removed += 1;
            }
        }
        removed
    }

    /// Drops the least recently used tile; false when there is none. An entry used since it
    /// was queued is queued again at its last use instead.
    fn evict_one(&mut self) -> bool {
        while let Some((queued, key)) = self.order.pop_first() {
            let Some(entry) = self.entries.get_mut(&key) else {
                continue;
            };
            let used = *entry.used.get_mut();
            if used > queued {
                entry.queued = used;
                self.order.insert(used, key);
                continue;
            }
            self.remove(&key);
            return true;
        }
        false
    }

    fn version(&self, tileset: &str) -> u64 {
        self.versions.get(tileset).copied().unwrap_or(0)
    }
}

/// The hit and miss counters of one tileset.
#[derive(Debug, Clone)]
struct Counters {
    hits: metrics::Counter,
    misses: metrics::Counter,
}

/// The byte-bounded LRU of encoded tiles. `Send + Sync`; share it in an `Arc`. Hits take the
/// state's read lock only, so requests answered from the cache do not wait for each other.
#[derive(Debug)]
pub struct TileCache {
    max_bytes: usize,
    /// The use clock of the LRU order (every hit and store takes the next tick).
    tick: AtomicU64,
    state: RwLock<State>,
    /// Hit and miss counters by tileset, registered on first use.
    counters: RwLock<HashMap<String, Counters>>,
}

impl TileCache {
    /// A cache holding at most `max_bytes` of tile bytes (all encodings together).
    pub fn new(max_bytes: usize) -> TileCache {
        TileCache {
            max_bytes,
            tick: AtomicU64::new(0),
            state: RwLock::new(State::default()),
            counters: RwLock::new(HashMap::new()),
        }
    }

    /// Whether the cache keeps any tile; a budget of 0 (`tile_cache_mb = 0`) turns it off.
    pub fn keeps_tiles(&self) -> bool {
        self.max_bytes > 0
    }

    // The state is consistent between statements; a panic elsewhere cannot break it.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn state(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn next_tick(&self) -> u64 {
        self.tick.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The counters of `tileset`, registered with the metrics recorder on first use.
    fn counters(&self, tileset: &str) -> Counters {
        let known = self.counters.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = known.get(tileset) {
            return c.clone();
        }
        drop(known);
        let name = tileset.to_string();
        let c = Counters {
            hits: metrics::counter!(HITS_METRIC, "tileset" => name.clone()),
            misses: metrics::counter!(MISSES_METRIC, "tileset" => name.clone()),
        };
        let mut known = self
            .counters
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        known.entry(name).or_insert(c).clone()
    }

    /// The cached tile, or a ticket to store the one you render. Counts hits and misses.
    pub fn lookup(&self, addr: &TileAddr) -> Lookup {
        self.lookup_filtered(addr, "")
    }

    /// [`TileCache::lookup`] for a request with event filters, in a canonical form (the same
    /// string for the same filters, whatever order the request listed them in).
    pub fn lookup_filtered(&self, addr: &TileAddr, filters: &str) -> Lookup {
        self.lookup_tile(addr.as_tile(), filters)
    }

    /// [`TileCache::lookup_filtered`] with a borrowed address: a hit allocates nothing and
    /// takes the read lock only.
    pub fn lookup_tile(&self, tile: TileAt<'_>, filters: &str) -> Lookup {
        let counters = self.counters(tile.tileset);
        match self.hit(tile, filters) {
            Ok(found) => {
                counters.hits.increment(1);
                Lookup::Hit(found)
            }
            Err(stale) => {
                counters.misses.increment(1);
                Lookup::Miss(self.ticket(tile, filters, stale))
            }
        }
    }

    /// The fresh cached tile; else whether a stale one is in the way (`Err(true)`).
    fn hit(&self, tile: TileAt<'_>, filters: &str) -> Result<Arc<CachedTile>, bool> {
        let state = self.read();
        let probe = KeyRef(KeyParts {
            tile,
            version: state.version(tile.tileset),
            filters,
        });
        let entry = state.entries.get(&probe as &dyn AsKey).ok_or(false)?;
        if entry.tile.is_stale() {
            return Err(true);
        }
        entry.used.store(self.next_tick(), Ordering::Relaxed);
        Ok(entry.tile.clone())
    }

    /// The ticket for a miss (dropping the stale tile in the way, if any).
    fn ticket(&self, tile: TileAt<'_>, filters: &str, stale: bool) -> Ticket {
        let key_of = |state: &State| Key {
            version: state.version(tile.tileset),
            addr: tile.to_addr(),
            filters: filters.to_string(),
        };
        if stale {
            let mut state = self.state();
            let key = key_of(&state);
            if state.entries.get(&key).is_some_and(|e| e.tile.is_stale()) {
                state.remove(&key);
            }
            return Ticket {
                key,
                epoch: state.epoch,
            };
        }
        let state = self.read();
        Ticket {
            key: key_of(&state),
            epoch: state.epoch,
        }
    }

    /// Stores a rendered tile unless an invalidation ran since the ticket was issued (the tile
    /// may then be cut from an older snapshot), evicting the least recently used tiles to fit.
    pub fn store(&self, ticket: Ticket, tile: Arc<CachedTile>) {
        let weight = tile.weight();
        let mut state = self.state();
        if state.epoch != ticket.epoch || weight > self.max_bytes {
            return;
        }
        state.remove(&ticket.key);
        while state.bytes + weight > self.max_bytes && state.evict_one() {}
        let tick = self.next_tick();
        let entry = Entry {
            tile,
            queued: tick,
            used: AtomicU64::new(tick),
        };
        state.insert(ticket.key, entry);
    }

    /// Whether a tile is cached for `addr` at the current version (for tests and diagnostics).
    pub fn contains(&self, addr: &TileAddr) -> bool {
        self.contains_filtered(addr, "")
    }

    /// [`TileCache::contains`] for a request with event filters (canonical form).
    pub fn contains_filtered(&self, addr: &TileAddr, filters: &str) -> bool {
        let state = self.read();
        let probe = KeyRef(KeyParts {
            tile: addr.as_tile(),
            version: state.version(&addr.tileset),
            filters,
        });
        state.entries.contains_key(&probe as &dyn AsKey)
    }

    /// Bytes held (all encodings).
    pub fn bytes(&self) -> usize {
        self.read().bytes
    }

    /// Removes every cached tile of every tileset that one of `boxes` (longitude/latitude)
    /// touches, at every zoom of the tileset, for every scope; see the module rules.
    pub fn invalidate(&self, tilesets: &Tilesets, boxes: &[Rect<f64>]) {
        let mut state = self.state();
        state.epoch += 1;
        if boxes.is_empty() {
            return;
        }
        let shifted = gcj02_boxes(boxes);
        for tileset in tilesets.tilesets.iter().filter(|t| !t.is_event_based()) {
            let removed = invalidate_tileset(&mut state, tileset, boxes, TileCrs::Wgs84)
                + invalidate_tileset(&mut state, tileset, &shifted, TileCrs::Gcj02);
            count_invalidations(tileset, removed);
        }
    }

    /// Removes every cached tile of the event tilesets that could hold an event at one of
    /// `points` (old and new positions of the events an apply moved), at every zoom, for every
    /// scope and filter; see the module rules. Other tilesets are left alone.
    pub fn invalidate_points(&self, tilesets: &Tilesets, points: &[WorldPoint]) {
        let mut state = self.state();
        state.epoch += 1;
        if points.is_empty() {
            return;
        }
        for tileset in tilesets.tilesets.iter().filter(|t| t.is_event_based()) {
            let mut removed = 0;
            for z in tileset.minzoom..=tileset.maxzoom {
                for (x, y) in event_tiles(tileset, z, points) {
                    removed += state.remove_place(&tileset.name, (TileCrs::Wgs84, z, x, y));
                }
            }
            count_invalidations(tileset, removed);
        }
    }
}

fn count_invalidations(tileset: &Tileset, removed: u64) {
    if removed > 0 {
        metrics::counter!(INVALIDATIONS_METRIC, "tileset" => tileset.name.clone())
            .increment(removed);
    }
}

/// Removes the tiles of one tileset and crs the boxes touch; returns how many were cached.
fn invalidate_tileset(
    state: &mut State,
    tileset: &Tileset,
    boxes: &[Rect<f64>],
    crs: TileCrs,
) -> u64 {
    let mut removed = 0;
    for z in tileset.minzoom..=tileset.maxzoom {
        let Some(ranges) = touched_tiles(tileset, boxes, z) else {
            let next = state.version(&tileset.name) + 1;
            state.versions.insert(tileset.name.clone(), next);
            metrics::counter!(VERSION_BUMPS_METRIC, "tileset" => tileset.name.clone()).increment(1);
            return removed;
        };
        for range in ranges {
            for (x, y) in range.tiles() {
                removed += state.remove_place(&tileset.name, (crs, z, x, y));
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::coord;

    fn addr(z: u8, x: u32, y: u32, scope: &str) -> TileAddr {
        TileAddr {
            tileset: "boundaries".into(),
            z,
            x,
            y,
            scope: scope.into(),
            crs: TileCrs::Wgs84,
        }
    }

    fn tile(bytes: &[u8]) -> Arc<CachedTile> {
        Arc::new(CachedTile::encode(bytes.to_vec()).expect("encode"))
    }

    fn miss(cache: &TileCache, a: &TileAddr) -> Ticket {
        match cache.lookup(a) {
            Lookup::Miss(t) => t,
            Lookup::Hit(_) => panic!("unexpected hit for {a:?}"),
        }
    }

    fn sets() -> Tilesets {
        Tilesets::parse(include_str!("../../tiles/tilesets.toml"), "tilesets.toml")
            .expect("tilesets")
    }

    #[test]
    fn lookup_store_hit_and_scopes_do_not_leak() {
        let cache = TileCache::new(1 << 20);
        let city = addr(14, 1, 2, "410600");
        let t = miss(&cache, &city);
        cache.store(t, tile(b"city"));
        assert!(matches!(cache.lookup(&city), Lookup::Hit(h) if &h.identity[..] == b"city"));
        assert!(matches!(
            cache.lookup(&addr(14, 1, 2, "410621")),
            Lookup::Miss(_)
        ));
        assert!(matches!(
            cache.lookup(&addr(14, 1, 2, PUBLIC_SCOPE)),
            Lookup::Miss(_)
        ));
    }

    #[test]
    fn a_zero_budget_keeps_nothing() {
        let cache = TileCache::new(0);
        assert!(!cache.keeps_tiles());
        let a = addr(14, 1, 2, PUBLIC_SCOPE);
        cache.store(miss(&cache, &a), tile(b"x"));
        cache.store(miss(&cache, &a), tile(b""));
        assert!(!cache.contains(&a) && cache.bytes() == 0);
        assert!(TileCache::new(1).keeps_tiles());
    }

    #[test]
    fn a_tile_past_its_freshness_is_a_miss() {
        let cache = TileCache::new(1 << 20);
        let (a, b) = (addr(14, 1, 2, PUBLIC_SCOPE), addr(14, 1, 3, PUBLIC_SCOPE));
        let now = std::time::Instant::now();
        let mut stale = CachedTile::encode(b"x".to_vec()).expect("encode");
        stale.fresh_until = Some(now);
        let mut fresh = stale.clone();
        fresh.fresh_until = Some(now + std::time::Duration::from_secs(3600));
        cache.store(miss(&cache, &a), Arc::new(stale));
        cache.store(miss(&cache, &b), Arc::new(fresh));
        assert!(matches!(cache.lookup(&a), Lookup::Miss(_)));
        assert!(!cache.contains(&a), "the stale tile is dropped");
        assert!(matches!(cache.lookup(&b), Lookup::Hit(_)));
    }

    #[test]
    fn a_render_that_raced_an_invalidation_is_not_stored() {
        let cache = TileCache::new(1 << 20);
        let a = addr(14, 1, 2, PUBLIC_SCOPE);
        let t = miss(&cache, &a);
        cache.invalidate(&sets(), &[]);
        cache.store(t, tile(b"stale"));
        assert!(!cache.contains(&a));
    }

    #[test]
    fn the_least_recently_used_tile_goes_first() {
        let one = tile(&[1; 100]);
        let cache = TileCache::new(one.weight() * 2 + 10);
        let (a, b, c) = (
            addr(14, 0, 0, "p"),
            addr(14, 1, 0, "p"),
            addr(14, 2, 0, "p"),
        );
        cache.store(miss(&cache, &a), one.clone());
        cache.store(miss(&cache, &b), one.clone());
        assert!(matches!(cache.lookup(&a), Lookup::Hit(_)));
        cache.store(miss(&cache, &c), one.clone());
        assert!(cache.contains(&a) && cache.contains(&c) && !cache.contains(&b));
        assert!(cache.bytes() <= one.weight() * 2 + 10);
    }

    #[test]
    fn invalidation_removes_only_touched_tiles_of_every_scope() {
        let cache = TileCache::new(1 << 20);
        let lonlat = (114.297, 35.748);
        let here = crate::tiles::TileId::containing(14, lonlat.0, lonlat.1).expect("tile");
        let inside = [
            addr(14, here.x, here.y, "410600"),
            addr(14, here.x, here.y, "public"),
        ];
        let far = addr(14, here.x + 5, here.y, "public");
        for a in inside.iter().chain([&far]) {
            cache.store(miss(&cache, a), tile(b"x"));
        }
        let point = Rect::new(
            coord! {x: lonlat.0, y: lonlat.1},
            coord! {x: lonlat.0, y: lonlat.1},
        );
        cache.invalidate(&sets(), &[point]);
        assert!(inside.iter().all(|a| !cache.contains(a)));
        assert!(cache.contains(&far));
    }

    #[test]
    fn invalidation_reaches_the_gcj02_variant_of_the_shifted_tile() {
        let cache = TileCache::new(1 << 20);
        let (lon, lat) = (114.297, 35.748);
        let (glon, glat) = crate::crs::wgs84_to_gcj02(lon, lat);
        let shifted = crate::tiles::TileId::containing(16, glon, glat).expect("tile");
        let gcj = TileAddr {
            crs: TileCrs::Gcj02,
            ..addr(16, shifted.x, shifted.y, "public")
        };
        let plain = addr(16, shifted.x, shifted.y, "public");
        let far = TileAddr {
            crs: TileCrs::Gcj02,
            ..addr(16, shifted.x + 200, shifted.y, "public")
        };
        for a in [&gcj, &plain, &far] {
            cache.store(miss(&cache, a), tile(b"x"));
        }
        assert!(cache.contains(&gcj) && cache.contains(&plain));
        let point = Rect::new(coord! {x: lon, y: lat}, coord! {x: lon, y: lat});
        cache.invalidate(&sets(), &[point]);
        assert!(!cache.contains(&gcj));
        assert!(cache.contains(&far));
    }

    #[test]
    fn event_points_drop_event_tiles_of_every_filter_and_nothing_else() {
        let cache = TileCache::new(1 << 20);
        let (lon, lat) = (114.297, 35.748);
        let p = WorldPoint::from_lonlat(lon, lat);
        let here = crate::tiles::TileId::containing(14, lon, lat).expect("tile");
        let at = |tileset: &str, dx: u32| TileAddr {
            tileset: tileset.into(),
            ..addr(14, here.x + dx, here.y, "410600")
        };
        let filtered = "status=closed";
        for a in [at("events", 0), at("heatmap", 0), at("events", 3)] {
            cache.store(cache_miss_filtered(&cache, &a, ""), tile(b"x"));
            cache.store(cache_miss_filtered(&cache, &a, filtered), tile(b"x"));
        }
        cache.store(miss(&cache, &at("boundaries", 0)), tile(b"x"));
        cache.invalidate_points(&sets(), &[p]);
        for f in ["", filtered] {
            assert!(!cache.contains_filtered(&at("events", 0), f));
            assert!(!cache.contains_filtered(&at("heatmap", 0), f));
            assert!(cache.contains_filtered(&at("events", 3), f));
        }
        assert!(cache.contains(&at("boundaries", 0)));
    }

    #[test]
    fn area_boxes_leave_event_tiles_alone() {
        let cache = TileCache::new(1 << 20);
        let (lon, lat) = (114.297, 35.748);
        let here = crate::tiles::TileId::containing(14, lon, lat).expect("tile");
        let events = TileAddr {
            tileset: "events".into(),
            ..addr(14, here.x, here.y, "410600")
        };
        cache.store(miss(&cache, &events), tile(b"x"));
        let point = Rect::new(coord! {x: lon, y: lat}, coord! {x: lon, y: lat});
        cache.invalidate(&sets(), &[point]);
        assert!(cache.contains(&events));
    }

    fn cache_miss_filtered(cache: &TileCache, a: &TileAddr, filters: &str) -> Ticket {
        match cache.lookup_filtered(a, filters) {
            Lookup::Miss(t) => t,
            Lookup::Hit(_) => panic!("unexpected hit for {a:?}"),
        }
    }

    /// Tiles cached under many filter strings, then evicted or invalidated, leave nothing
    /// filed behind: what an invalidation walks is bounded by what is cached.
    #[test]
    fn places_hold_only_what_is_cached() {
        let one = tile(&[1; 100]);
        let cache = TileCache::new(one.weight() * 4);
        let (lon, lat) = (114.297, 35.748);
        let here = crate::tiles::TileId::containing(14, lon, lat).expect("tile");
        let events = TileAddr {
            tileset: "events".into(),
            ..addr(14, here.x, here.y, "410600")
        };
        for i in 0..50 {
            let filters = format!("from={i}");
            cache.store(cache_miss_filtered(&cache, &events, &filters), one.clone());
        }
        let filed = |cache: &TileCache| -> usize {
            let state = cache.read();
            state
                .places
                .values()
                .flat_map(|p| p.values())
                .map(Vec::len)
                .sum()
        };
        assert_eq!(filed(&cache), 4, "only the four tiles the budget keeps");
        cache.invalidate_points(&sets(), &[WorldPoint::from_lonlat(lon, lat)]);
        assert_eq!(filed(&cache), 0);
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn a_huge_box_bumps_the_version() {
        let cache = TileCache::new(1 << 20);
        let far = addr(16, 0, 0, "public");
        cache.store(miss(&cache, &far), tile(b"x"));
        let huge = Rect::new(coord! {x: 110.0, y: 30.0}, coord! {x: 118.0, y: 38.0});
        cache.invalidate(&sets(), &[huge]);
        assert!(!cache.contains(&far));
    }
}
