//! The tile cache: encoded tiles (identity, gzip, brotli) kept in memory up to a byte budget,
//! least recently used out first, and invalidated exactly when the data under them changes.
//!
//! The rules:
//! - a key is (tileset, content version, z/x/y, scope, crs, filters): a scoped caller never sees a
//!   tile cut for another scope; `public` is the scope of anonymous callers;
//! - after every engine apply, [`changed_boxes`] gives the old and new bounding boxes of every
//!   changed area and building (house and population changes draw nothing, so they give none),
//!   and [`TileCache::invalidate`] removes, for every tileset and every zoom of its range, the
//!   tiles those boxes touch once grown by the tileset's largest layer buffer (the same growth
//!   the renderer's R-tree query uses); for the GCJ-02 variants the boxes are first widened by
//!   [`GCJ02_MARGIN_DEG`], more than the largest GCJ-02 shift. When one box touches more than [`HUGE_BOX_TILES`] tiles
//!   at a zoom, the tileset's content version is bumped instead: every tile of the tileset
//!   becomes unreachable at once and ages out of the LRU;
//! - event tilesets ([`Tileset::is_event_based`]) hold events only: area and building changes
//!   leave them alone, and [`TileCache::invalidate_points`] removes, after an apply, the tiles of
//!   event tilesets that could hold an event's old or new position — the tile containing it and,
//!   for H3 heatmaps, every tile whose hexagons (cells whose centre lies in the tile) could
//!   reach it — at every zoom, for every scope and every filter seen;
//! - a render that raced with an invalidation is served but not stored (see [`Ticket`]), so a
//!   tile cut from an older snapshot can never be cached after the invalidation that concerns it.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;
use geo::BoundingRect;
use geo_types::{coord, Rect};

use super::event_tiles::buffer_reach;
use super::fx_hash::le_words;
use super::tile_id::{TileCrs, GCJ02_MARGIN_DEG};
use super::tileset::{Source, Tileset, Tilesets, EXTENT, UNITS_PER_PX};
use crate::crs::mercator::{lonlat_to_mercator, HALF_WORLD_M};
use crate::engine::events::{h3_resolution, WorldPoint};
use crate::engine::Snapshot;
use crate::model::{Area, Building, Change};

/// Counter of tile requests answered from the cache, labelled by tileset.
pub const HITS_METRIC: &str = "gridmap_tile_cache_hits_total";
/// Counter of tile requests that had to render, labelled by tileset.
pub const MISSES_METRIC: &str = "gridmap_tile_cache_misses_total";
/// Counter of cached tiles removed because their data changed, labelled by tileset.
pub const INVALIDATIONS_METRIC: &str = "gridmap_tile_cache_invalidations_total";
/// Counter of whole-tileset invalidations (content version bumps), labelled by tileset.
pub const VERSION_BUMPS_METRIC: &str = "gridmap_tile_cache_version_bumps_total";

/// Above this many tiles for one box at one zoom, the tileset's version is bumped instead of
/// removing tiles one by one (a district redrawn at z16 touches tens of thousands of tiles).
pub const HUGE_BOX_TILES: u64 = 10_000;

/// Brotli quality for cached tiles: compressed once per cached tile, so worth more than the
/// on-the-fly default, but not the slow top levels.
const BROTLI_QUALITY: u32 = 6;
const BROTLI_WINDOW: u32 = 22;

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

/// A content coding of tile answers (`Content-Encoding`), in order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Brotli,
    Gzip,
    Identity,
}

impl Coding {
    /// The `Content-Encoding` value; `None` for identity.
    pub fn header(self) -> Option<&'static str> {
        match self {
            Coding::Brotli => Some("br"),
            Coding::Gzip => Some("gzip"),
            Coding::Identity => None,
        }
    }
}

/// A tile ready to send: its bytes in every encoding and its ETag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedTile {
    /// Uncompressed MVT; empty for a tile without features.
    pub identity: Bytes,
    /// Empty when the tile is empty or was made for another coding ([`CachedTile::encode_once`]).
    pub gzip: Bytes,
    /// Empty when the tile is empty or was made for another coding ([`CachedTile::encode_once`]).
    pub brotli: Bytes,
    /// Strong ETag (quoted) computed from the uncompressed bytes.
    pub etag: String,
    /// When the cache must stop answering with this tile although nothing it holds was
    /// edited: tiles that carry values judged at render time (an event's overdue flag and
    /// card) go stale as the clock runs. `None`: fresh until an edit invalidates it.
    pub fresh_until: Option<std::time::Instant>,
}

impl CachedTile {
    /// Compresses an encoded tile once in both encodings and computes its ETag (for the cache:
    /// every later request is answered without compressing again).
    pub fn encode(raw: Vec<u8>) -> std::io::Result<CachedTile> {
        let etag = etag_of(&raw);
        let (gzip, brotli) = if raw.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            (gzip(&raw)?, brotli(&raw)?)
        };
        Ok(CachedTile {
            identity: Bytes::from(raw),
            gzip: Bytes::from(gzip),
            brotli: Bytes::from(brotli),
            etag,
            fresh_until: None,
        })
    }

    /// Compresses an encoded tile in `coding` only, for one answer that is not cached (cache
    /// off): compressing in the coding nobody asked for would double the cost of every request.
    pub fn encode_once(raw: Vec<u8>, coding: Coding) -> std::io::Result<CachedTile> {
        let etag = etag_of(&raw);
        let compressed = |wanted: Coding, f: fn(&[u8]) -> std::io::Result<Vec<u8>>| {
            if coding == wanted && !raw.is_empty() {
                f(&raw).map(Bytes::from)
            } else {
                Ok(Bytes::new())
            }
        };
        Ok(CachedTile {
            gzip: compressed(Coding::Gzip, gzip_fast)?,
            brotli: compressed(Coding::Brotli, brotli)?,
            identity: Bytes::from(raw),
            etag,
            fresh_until: None,
        })
    }

    /// The body for a client preferring `coding` and the coding it is in: the preferred form
    /// when the tile holds it, identity otherwise.
    pub fn body(&self, coding: Coding) -> (Coding, Bytes) {
        match coding {
            Coding::Brotli if !self.brotli.is_empty() => (Coding::Brotli, self.brotli.clone()),
            Coding::Gzip if !self.gzip.is_empty() => (Coding::Gzip, self.gzip.clone()),
            _ => (Coding::Identity, self.identity.clone()),
        }
    }

    /// Whether the cache must no longer answer with this tile (see `fresh_until`).
    pub fn is_stale(&self) -> bool {
        self.fresh_until
            .is_some_and(|t| std::time::Instant::now() >= t)
    }

    /// Whether the tile has no feature (answered 204).
    pub fn is_empty(&self) -> bool {
        self.identity.is_empty()
    }

    fn weight(&self) -> usize {
        self.identity.len() + self.gzip.len() + self.brotli.len() + self.etag.len() + 64
    }
}

/// The strong ETag of uncompressed tile bytes: length and a 64-bit FNV-1a hash taken over
/// 8-byte little-endian words (the tail zero-padded), quoted. Stable across processes, so
/// replicas agree. Hashing word by word rather than byte by byte took the ETag from about 3 %
/// of an uncached building tile's time to a few tenths of one.
pub fn etag_of(bytes: &[u8]) -> String {
    let hash = le_words(bytes).fold(0xcbf2_9ce4_8422_2325_u64, |hash, word| {
        (hash ^ word).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("\"{:x}-{hash:016x}\"", bytes.len())
}

/// gzip at the default level, for tiles compressed once and answered many times.
fn gzip(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    gzip_at(raw, flate2::Compression::default())
}

/// gzip at the fastest level, for a tile answered once (cache off): deflate at the default
/// level took about a sixth of an uncached tile's time, the fastest level a third of that, for
/// answers about a tenth larger.
fn gzip_fast(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    gzip_at(raw, flate2::Compression::fast())
}

/// One gzip member (RFC 1952) of `raw` at `level`. The deflate state (about 300 KB that zlib
/// allocates and zeroes) is kept per thread and level and reset between tiles: making it afresh
/// cost as much as compressing a typical tile. flate2 has no gzip writer over a reused
/// [`flate2::Compress`], so the 10-byte header and the CRC-32/size trailer are written here.
fn gzip_at(raw: &[u8], level: flate2::Compression) -> std::io::Result<Vec<u8>> {
    thread_local! {
        static DEFLATERS: std::cell::RefCell<Vec<(u32, flate2::Compress)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    let mut out = Vec::with_capacity(raw.len() / 2 + 64);
    out.extend_from_slice(&HEADER);
    DEFLATERS.with_borrow_mut(|deflaters| {
        let at = match deflaters.iter().position(|(l, _)| *l == level.level()) {
            Some(at) => at,
            None => {
                deflaters.push((level.level(), flate2::Compress::new(level, false)));
                deflaters.len() - 1
            }
        };
        let deflater = &mut deflaters[at].1;
        deflater.reset();
        deflate_all(deflater, raw, &mut out)
    })?;
    let mut crc = flate2::Crc::new();
    crc.update(raw);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&crc.amount().to_le_bytes());
    Ok(out)
}

/// Deflates all of `raw` onto the end of `out`, growing it as needed.
fn deflate_all(
    deflater: &mut flate2::Compress,
    raw: &[u8],
    out: &mut Vec<u8>,
) -> std::io::Result<()> {
    let start = deflater.total_in();
    loop {
        let read = usize::try_from(deflater.total_in() - start).unwrap_or(raw.len());
        out.reserve(raw.len().saturating_sub(read) / 2 + 1024);
        let status = deflater
            .compress_vec(&raw[read..], out, flate2::FlushCompress::Finish)
            .map_err(std::io::Error::other)?;
        if status == flate2::Status::StreamEnd {
            return Ok(());
        }
    }
}

fn brotli(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = brotli::CompressorWriter::new(Vec::new(), 4096, BROTLI_QUALITY, BROTLI_WINDOW);
    enc.write_all(raw)?;
    enc.flush()?;
    Ok(enc.into_inner())
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
    /// Every scope a tile was cached for, so invalidation reaches all of them.
    scopes: HashSet<String>,
    /// Every filter string a tile was cached for, likewise.
    filters: HashSet<String>,
    epoch: u64,
}

impl State {
    fn remove(&mut self, key: &dyn AsKey) -> bool {
        match self.entries.remove(key) {
            Some(entry) => {
                self.order.remove(&entry.queued);
                self.bytes -= entry.tile.weight();
                true
            }
            None => false,
        }
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
            if let Some(old) = self.entries.remove(&key) {
                self.bytes -= old.tile.weight();
            }
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
    /// Held across "read old boxes, apply, invalidate" (see [`TileCache::writer`]).
    writer: Mutex<()>,
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
            writer: Mutex::new(()),
            counters: RwLock::new(HashMap::new()),
        }
    }

    /// Whether the cache keeps any tile; a budget of 0 (`tile_cache_mb = 0`) turns it off.
    pub fn keeps_tiles(&self) -> bool {
        self.max_bytes > 0
    }

    /// Serializes the writers of the engine this cache serves: hold it while reading the old
    /// boxes of a batch, applying it and invalidating, so the old boxes always come from the
    /// snapshot the batch is applied to even when two writers run at once.
    pub fn writer(&self) -> std::sync::MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
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
        state.scopes.insert(ticket.key.addr.scope.clone());
        state.filters.insert(ticket.key.filters.clone());
        state.order.insert(tick, ticket.key.clone());
        let entry = Entry {
            tile,
            queued: tick,
            used: AtomicU64::new(tick),
        };
        state.entries.insert(ticket.key, entry);
        state.bytes += weight;
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
        let scopes: Vec<String> = state.scopes.iter().cloned().collect();
        let shifted: Vec<Rect<f64>> = boxes
            .iter()
            .map(|b| widened(*b, GCJ02_MARGIN_DEG))
            .collect();
        for tileset in tilesets.tilesets.iter().filter(|t| !t.is_event_based()) {
            let removed = invalidate_tileset(&mut state, tileset, boxes, &scopes, TileCrs::Wgs84)
                + invalidate_tileset(&mut state, tileset, &shifted, &scopes, TileCrs::Gcj02);
            if removed > 0 {
                metrics::counter!(INVALIDATIONS_METRIC, "tileset" => tileset.name.clone())
                    .increment(removed);
            }
        }
    }
}

impl TileCache {
    /// Removes every cached tile of the event tilesets that could hold an event at one of
    /// `points` (old and new positions of the events an apply moved), at every zoom, for every
    /// scope and filter; see the module rules. Other tilesets are left alone.
    pub fn invalidate_points(&self, tilesets: &Tilesets, points: &[WorldPoint]) {
        let mut state = self.state();
        state.epoch += 1;
        if points.is_empty() {
            return;
        }
        let scopes: Vec<String> = state.scopes.iter().cloned().collect();
        let filters: Vec<String> = state.filters.iter().cloned().collect();
        for tileset in tilesets.tilesets.iter().filter(|t| t.is_event_based()) {
            let version = state.version(&tileset.name);
            let mut removed = 0;
            for z in tileset.minzoom..=tileset.maxzoom {
                let reach = event_reach_units(tileset, z, points);
                let mut tiles: Vec<(u32, u32)> = points
                    .iter()
                    .flat_map(|p| tiles_within(*p, z, reach))
                    .collect();
                tiles.sort_unstable();
                tiles.dedup();
                for (x, y) in tiles {
                    for scope in &scopes {
                        for f in &filters {
                            let key = Key {
                                addr: TileAddr {
                                    tileset: tileset.name.clone(),
                                    z,
                                    x,
                                    y,
                                    scope: scope.clone(),
                                    crs: TileCrs::Wgs84,
                                },
                                version,
                                filters: f.clone(),
                            };
                            removed += u64::from(state.remove(&key));
                        }
                    }
                }
            }
            if removed > 0 {
                metrics::counter!(INVALIDATIONS_METRIC, "tileset" => tileset.name.clone())
                    .increment(removed);
            }
        }
    }
}

/// How far (world units) outside a tile of event tileset `tileset` at zoom `z` an event can be
/// and still change it: the buffer of its point and square-cell layers ([`buffer_reach`]; 0
/// for clusters, which are strictly inside the tile); for a heatmap at least the margin
/// [`crate::engine::EventStore::count_in_h3`] scans for hexagons whose centre is in the tile
/// (three edge lengths of the zoom's H3 resolution, at the most poleward of `points`, plus one
/// unit for rounding).
fn event_reach_units(tileset: &Tileset, z: u8, points: &[WorldPoint]) -> u32 {
    let serving = tileset.layers.iter().filter(|l| l.serves(z));
    let buffers = serving
        .clone()
        .map(|l| buffer_reach(l, z))
        .max()
        .unwrap_or(0);
    if !serving.clone().any(|l| l.source == Source::Heatmap) {
        return buffers;
    }
    let Ok(res) = h3o::Resolution::try_from(h3_resolution(z)) else {
        return u32::MAX;
    };
    let lat = points
        .iter()
        .map(|p| p.to_lonlat().1.abs())
        .fold(0.0, f64::max);
    // World units per metre on the ground at `lat` grown by a tile's width in degrees (more
    // than a tile's height plus the margin), so the poleward edge of any tile in reach is
    // covered: the engine sizes its margin there.
    let lat = (lat + 360.0 / f64::from(1u32 << z.min(31))).min(89.0);
    let per_m = 4_294_967_296.0 / (2.0 * HALF_WORLD_M) / lat.to_radians().cos();
    let hexagons = (3.0 * res.edge_length_m() * per_m)
        .ceil()
        .min(f64::from(u32::MAX - 1)) as u32
        + 1;
    hexagons.max(buffers)
}

/// The tiles at zoom `z` whose world-unit rectangle grown by `reach` contains `p`.
fn tiles_within(p: WorldPoint, z: u8, reach: u32) -> impl Iterator<Item = (u32, u32)> {
    let shift = 32 - u32::from(z);
    let span = |v: u32| {
        (
            v.saturating_sub(reach).checked_shr(shift).unwrap_or(0),
            v.saturating_add(reach).checked_shr(shift).unwrap_or(0),
        )
    };
    let (x0, x1) = span(p.x);
    let (y0, y1) = span(p.y);
    (y0..=y1).flat_map(move |y| (x0..=x1).map(move |x| (x, y)))
}

/// A box grown by `margin` degrees on every side.
fn widened(b: Rect<f64>, margin: f64) -> Rect<f64> {
    Rect::new(
        coord! {x: b.min().x - margin, y: b.min().y - margin},
        coord! {x: b.max().x + margin, y: b.max().y + margin},
    )
}

/// Removes the tiles of one tileset and crs the boxes touch; returns how many were cached.
fn invalidate_tileset(
    state: &mut State,
    tileset: &Tileset,
    boxes: &[Rect<f64>],
    scopes: &[String],
    crs: TileCrs,
) -> u64 {
    let buffer = tileset_buffer_units(tileset);
    let mut removed = 0;
    for z in tileset.minzoom..=tileset.maxzoom {
        let ranges: Vec<TileRange> = boxes.iter().map(|b| tile_range(*b, z, buffer)).collect();
        if ranges.iter().any(|r| r.count() > HUGE_BOX_TILES) {
            let next = state.version(&tileset.name) + 1;
            state.versions.insert(tileset.name.clone(), next);
            metrics::counter!(VERSION_BUMPS_METRIC, "tileset" => tileset.name.clone()).increment(1);
            return removed;
        }
        let version = state.version(&tileset.name);
        for range in ranges {
            for (x, y) in range.tiles() {
                for scope in scopes {
                    let key = Key {
                        addr: TileAddr {
                            tileset: tileset.name.clone(),
                            z,
                            x,
                            y,
                            scope: scope.clone(),
                            crs,
                        },
                        version,
                        filters: String::new(),
                    };
                    removed += u64::from(state.remove(&key));
                }
            }
        }
    }
    removed
}

/// The largest buffer of the tileset's layers, in tile units: how far outside a tile the
/// renderer looks for features.
pub fn tileset_buffer_units(tileset: &Tileset) -> f64 {
    tileset
        .layers
        .iter()
        .map(|l| l.buffer_px)
        .fold(0.0, f64::max)
        * UNITS_PER_PX
}

/// An inclusive block of tiles at one zoom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileRange {
    pub z: u8,
    pub min_x: u32,
    pub max_x: u32,
    pub min_y: u32,
    pub max_y: u32,
}

impl TileRange {
    /// How many tiles the block holds.
    pub fn count(&self) -> u64 {
        u64::from(self.max_x - self.min_x + 1) * u64::from(self.max_y - self.min_y + 1)
    }

    /// Whether tile x/y is in the block.
    pub fn contains(&self, x: u32, y: u32) -> bool {
        (self.min_x..=self.max_x).contains(&x) && (self.min_y..=self.max_y).contains(&y)
    }

    /// Every x/y of the block, row by row.
    pub fn tiles(self) -> impl Iterator<Item = (u32, u32)> {
        (self.min_y..=self.max_y).flat_map(move |y| (self.min_x..=self.max_x).map(move |x| (x, y)))
    }
}

/// The tiles at zoom `z` whose bounds grown by `buffer` tile units touch the longitude/latitude
/// box. Edges count as touching (the renderer's envelope query is inclusive), and a margin of a
/// millionth of a tile absorbs rounding, so the block is never too small.
pub fn tile_range(bbox: Rect<f64>, z: u8, buffer: f64) -> TileRange {
    let n = (1u64 << z) as f64;
    let world = 2.0 * HALF_WORLD_M;
    let (west, south) = lonlat_to_mercator(bbox.min().x, bbox.min().y);
    let (east, north) = lonlat_to_mercator(bbox.max().x, bbox.max().y);
    let grow = buffer / f64::from(EXTENT) + 1e-6;
    let col = |m: f64| (m + HALF_WORLD_M) / world * n;
    let row = |m: f64| (HALF_WORLD_M - m) / world * n;
    let clamp = |t: f64| t.floor().clamp(0.0, n - 1.0) as u32;
    TileRange {
        z,
        min_x: clamp(col(west) - grow),
        max_x: clamp(col(east) + grow),
        min_y: clamp(row(north) - grow),
        max_y: clamp(row(south) + grow),
    }
}

/// The bounding boxes a batch of changes draws in: the old box (from `before`, the snapshot
/// the batch is applied to) and the new one of every changed area and building. Areas include
/// their management center (the label point).
pub fn changed_boxes(before: &Snapshot, changes: &[Change]) -> Vec<Rect<f64>> {
    let mut boxes = Vec::new();
    for change in changes {
        match change {
            Change::UpsertArea(area) => {
                boxes.extend(before.area(&area.code).and_then(area_box));
                boxes.extend(area_box(area));
            }
            Change::DeleteArea(code) => boxes.extend(before.area(code).and_then(area_box)),
            Change::UpsertBuilding(b) => {
                boxes.extend(before.building(&b.code).and_then(building_box));
                boxes.extend(building_box(b));
            }
            Change::DeleteBuilding(code) => {
                boxes.extend(before.building(code).and_then(building_box))
            }
            Change::UpsertBasemap(_) | Change::DeleteBasemap(_) => {
                boxes.extend(crate::tiles::source::basemap_change_boxes(before, change))
            }
            Change::UpsertHouse(_)
            | Change::DeleteHouse(_)
            | Change::SetPopulation(_)
            | Change::UpsertWorker(_)
            | Change::DeleteWorker(_)
            | Change::InsertFix(_)
            | Change::UpsertEvent(_) => {}
        }
    }
    boxes
}

fn area_box(area: &Area) -> Option<Rect<f64>> {
    let shape = area.geometry.bounding_rect();
    let center = area.center.map(|c| Rect::new(c.0, c.0));
    match (shape, center) {
        (Some(s), Some(c)) => Some(union(s, c)),
        (s, c) => s.or(c),
    }
}

fn building_box(b: &Building) -> Option<Rect<f64>> {
    b.geometry.bounding_rect()
}

fn union(a: Rect<f64>, b: Rect<f64>) -> Rect<f64> {
    Rect::new(
        coord! {x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y)},
        coord! {x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y)},
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn empty_tile_has_no_compressed_variants_but_an_etag() {
        let t = CachedTile::encode(Vec::new()).expect("encode");
        assert!(t.is_empty() && t.gzip.is_empty() && t.brotli.is_empty());
        assert_eq!(t.etag, etag_of(&[]));
        assert_ne!(etag_of(b"a"), etag_of(b"b"));
        assert!(etag_of(b"abc").starts_with('"') && etag_of(b"abc").ends_with('"'));
    }

    #[test]
    fn a_box_on_a_tile_edge_touches_both_neighbours() {
        // Longitude 0 is the edge between columns 0 and 1 at z1.
        let edge = Rect::new(coord! {x: 0.0, y: 10.0}, coord! {x: 0.0, y: 10.0});
        let r = tile_range(edge, 1, 0.0);
        assert_eq!((r.min_x, r.max_x, r.min_y, r.max_y), (0, 1, 0, 0));
        let world = Rect::new(coord! {x: -180.0, y: -85.0}, coord! {x: 180.0, y: 85.0});
        assert_eq!(tile_range(world, 3, 64.0).count(), 64);
    }

    #[test]
    fn the_block_contains_the_tile_of_every_corner() {
        let b = Rect::new(coord! {x: 114.2, y: 35.7}, coord! {x: 114.35, y: 35.8});
        for z in [8, 12, 16] {
            let r = tile_range(b, z, 64.0);
            for (lon, lat) in [(114.2, 35.7), (114.35, 35.8), (114.2, 35.8)] {
                let t = crate::tiles::TileId::containing(z, lon, lat).expect("tile");
                assert!(r.contains(t.x, t.y), "z{z} {t:?} not in {r:?}");
            }
        }
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
    fn encode_once_compresses_only_the_asked_coding() {
        let raw = vec![7u8; 300];
        let all = CachedTile::encode(raw.clone()).expect("encode");
        for coding in [Coding::Brotli, Coding::Gzip, Coding::Identity] {
            let once = CachedTile::encode_once(raw.clone(), coding).expect("encode");
            assert_eq!(once.etag, all.etag);
            let (sent, body) = once.body(coding);
            assert_eq!(sent, all.body(coding).0);
            if coding == Coding::Gzip {
                // Compressed at the fastest level: other bytes, the same content.
                let mut unzipped = Vec::new();
                std::io::Read::read_to_end(
                    &mut flate2::read::GzDecoder::new(&body[..]),
                    &mut unzipped,
                )
                .expect("gunzip");
                assert_eq!(unzipped, raw);
            } else {
                assert_eq!(body, all.body(coding).1);
            }
            let others = [Coding::Brotli, Coding::Gzip]
                .into_iter()
                .filter(|&c| c != coding);
            for other in others {
                assert_eq!(once.body(other), (Coding::Identity, all.identity.clone()));
            }
        }
        assert_eq!(all.body(Coding::Gzip).0, Coding::Gzip);
        assert_ne!(all.body(Coding::Gzip).1, all.identity);
        let empty = CachedTile::encode_once(Vec::new(), Coding::Gzip).expect("encode");
        assert!(empty.is_empty() && empty.gzip.is_empty());
    }

    #[test]
    fn gzip_members_stay_whole_when_the_deflater_is_reused() {
        let gunzip = |bytes: &[u8]| {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut out)
                .expect("gunzip");
            out
        };
        // Incompressible bytes (an LCG) make the output outgrow its first reservation.
        let mut state = 1u32;
        let noise: Vec<u8> = (0..200_000)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (state >> 24) as u8
            })
            .collect();
        let inputs = [
            vec![1u8; 10],
            noise.clone(),
            b"tile".repeat(5000),
            Vec::new(),
            noise[..777].to_vec(),
        ];
        for round in 0..2 {
            for raw in &inputs {
                for zipped in [gzip(raw), gzip_fast(raw)] {
                    let zipped = zipped.expect("gzip");
                    assert_eq!(gunzip(&zipped), *raw, "round {round}, {} bytes", raw.len());
                }
            }
        }
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

    #[test]
    fn h3_reach_covers_the_engine_margin_at_every_zoom() {
        let set = sets();
        let heatmap = set.get("heatmap").expect("heatmap");
        let events = set.get("events").expect("events");
        let p = WorldPoint::from_lonlat(114.297, 35.748);
        for z in heatmap.minzoom..=heatmap.maxzoom {
            let res = h3o::Resolution::try_from(h3_resolution(z)).expect("res");
            let reach = event_reach_units(heatmap, z, &[p]);
            // Three edges in world units at Hebi's latitude, as the engine scans.
            let per_m = 4_294_967_296.0 / (2.0 * HALF_WORLD_M) / 35.75f64.to_radians().cos();
            assert!(
                f64::from(reach) >= 3.0 * res.edge_length_m() * per_m,
                "z{z}"
            );
            // The heatmap's ring of buffer cells is covered too.
            let ring = heatmap.layers.iter().map(|l| buffer_reach(l, z)).max();
            assert!(reach >= ring.unwrap_or(0), "z{z}");
            // Clusters lie inside their tile; points reach as far as their layer's buffer.
            let points = events.layers.iter().filter(|l| l.serves(z));
            let buffer = points.map(|l| buffer_reach(l, z)).max().unwrap_or(0);
            assert_eq!(event_reach_units(events, z, &[p]), buffer, "z{z}");
            assert_eq!(buffer > 0, z >= 14, "z{z}");
        }
        // A point one unit west of a tile's edge reaches that tile only through the margin.
        let t = crate::tiles::TileId::containing(12, 114.297, 35.748).expect("tile");
        let edge = WorldPoint {
            x: (t.x << 20) - 1,
            y: t.y << 20,
        };
        assert!(tiles_within(edge, 12, 0).all(|(x, _)| x == t.x - 1));
        assert!(tiles_within(edge, 12, 2).any(|(x, y)| (x, y) == (t.x, t.y)));
    }

    fn cache_miss_filtered(cache: &TileCache, a: &TileAddr, filters: &str) -> Ticket {
        match cache.lookup_filtered(a, filters) {
            Lookup::Miss(t) => t,
            Lookup::Hit(_) => panic!("unexpected hit for {a:?}"),
        }
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
