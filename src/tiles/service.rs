//! The tile service: one tile for one caller, from the cache or rendered and stored.
//!
//! The rules:
//! - the cache is asked first, keyed by the caller's scope, the grid and the canonical event
//!   filters; its ticket is taken before the snapshot is loaded, so a render that raced an
//!   invalidation is not stored (see [`super::cache::Ticket`]);
//! - a miss renders on the connection's thread when tiles of its tileset and zoom have recently
//!   been cheap, else on the runtime's blocking thread ([`RenderCosts`]); a render that panics
//!   is an error either way ([`ServeError::Panicked`] or [`ServeError::Stopped`]), never a
//!   dropped connection;
//! - with the cache on, a rendered tile is compressed once in every coding and stored; with it
//!   off, only in the coding the caller asked for ([`CachedTile::encode_once`]);
//! - event tiles are served from the cache for at most [`EVENT_TILE_FRESHNESS`]: their points
//!   carry the overdue flag and card judged when they were cut.
//!
//! HTTP (parsing the address, credentials, headers, status codes) is the handler's part.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::cache::{Lookup, TileAt, TileCache};
use super::coding::{CachedTile, Coding};
use super::event_tiles::EventTileQuery;
use super::render::{render_tile_in, TileError, TileRequest};
use super::render_cost::RenderCosts;
use super::tile_frame::TileCrs;
use super::tileset::Tileset;
use crate::crs::tile::TileId;
use crate::engine::{Engine, Snapshot};

/// How long a cached event tile may be served: its points carry the overdue flag and the card
/// judged when it was cut, and those change with the clock, not only with edits.
pub const EVENT_TILE_FRESHNESS: Duration = Duration::from_secs(60);

/// Who a tile is cut for. Cloned onto the blocking thread when the render goes there.
pub trait TileScope: Clone + Send + Sync + 'static {
    /// The cache scope: the caller's jurisdiction code, or
    /// [`super::cache::PUBLIC_SCOPE`] for anonymous callers.
    fn cache_scope(&self) -> &str;

    /// Whether the caller may see the area or building with this code.
    fn covers(&self, code: &str) -> bool;
}

/// The event filters of a tile of an event tileset.
#[derive(Debug, Clone)]
pub struct EventTileFilters {
    /// The filters in canonical form (the same string for the same filters), part of the
    /// cache key.
    pub canonical: String,
    /// The filter (with the caller's jurisdiction) and binning the tile is cut with.
    pub query: EventTileQuery,
}

/// One tile asked for.
#[derive(Debug)]
pub struct TileOrder<'a, S> {
    pub tileset: &'a Tileset,
    pub id: TileId,
    /// The grid the address is read in.
    pub crs: TileCrs,
    pub scope: &'a S,
    /// For event tilesets only.
    pub events: Option<EventTileFilters>,
    /// The coding the caller prefers (the only one made when the cache is off).
    pub coding: Coding,
}

/// Why a tile could not be served.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address or zoom was refused, or the tile could not be encoded.
    #[error(transparent)]
    Tile(#[from] TileError),
    #[error("tile rendering stopped: it panicked")]
    Panicked,
    /// The blocking thread's task ended without a tile.
    #[error("tile rendering stopped: {0}")]
    Stopped(String),
    #[error("cannot compress: {0}")]
    Compress(std::io::Error),
}

/// The tile service over the engine, the cache and the render costs of one server.
#[derive(Clone, Copy)]
pub struct TileService<'a> {
    engine: &'a Engine,
    cache: &'a TileCache,
    costs: &'a Arc<RenderCosts>,
}

impl<'a> TileService<'a> {
    /// The service over these parts (cheap: it borrows them).
    pub fn new(engine: &'a Engine, cache: &'a TileCache, costs: &'a Arc<RenderCosts>) -> Self {
        TileService {
            engine,
            cache,
            costs,
        }
    }

    /// The tile from the cache, or rendered (off the async threads when it is expensive) and
    /// stored; with the cache off, rendered and compressed in the asked coding alone.
    pub async fn tile<S: TileScope>(
        &self,
        order: TileOrder<'_, S>,
    ) -> Result<Arc<CachedTile>, ServeError> {
        let TileOrder {
            tileset,
            id,
            crs,
            scope,
            events,
            coding,
        } = order;
        let at = TileAt {
            tileset: &tileset.name,
            z: id.z,
            x: id.x,
            y: id.y,
            scope: scope.cache_scope(),
            crs,
        };
        let filters = events.as_ref().map_or("", |e| e.canonical.as_str());
        let ticket = match self.cache.lookup_tile(at, filters) {
            Lookup::Hit(tile) => return Ok(tile),
            Lookup::Miss(ticket) => ticket,
        };
        let event_based = events.is_some();
        let job = RenderJob {
            snapshot: self.engine.snapshot(),
            id,
            crs,
            events: events.map(|e| e.query),
            keep: self.cache.keeps_tiles(),
            coding,
        };
        let mut rendered = if self.costs.is_cheap(&tileset.name, id.z) {
            // A panic is an error here as it is from the blocking thread, not a dropped
            // connection.
            std::panic::catch_unwind(AssertUnwindSafe(|| job.run(tileset, scope, self.costs)))
                .map_err(|_| ServeError::Panicked)??
        } else {
            let (tileset, scope, costs) = (tileset.clone(), scope.clone(), self.costs.clone());
            tokio::task::spawn_blocking(move || job.run(&tileset, &scope, &costs))
                .await
                .map_err(|e| ServeError::Stopped(e.to_string()))??
        };
        if event_based {
            rendered.fresh_until = Some(Instant::now() + EVENT_TILE_FRESHNESS);
        }
        let tile = Arc::new(rendered);
        self.cache.store(ticket, tile.clone());
        Ok(tile)
    }
}

/// An uncached tile to render and compress: on the connection's thread when tiles of its
/// tileset and zoom are cheap, else on the blocking thread (see [`RenderCosts`]).
struct RenderJob {
    snapshot: Arc<Snapshot>,
    id: TileId,
    crs: TileCrs,
    events: Option<EventTileQuery>,
    /// Whether the cache keeps the tile (then every coding is made once).
    keep: bool,
    coding: Coding,
}

impl RenderJob {
    /// Renders the tile for `scope`, records what it cost, and compresses it.
    fn run<S: TileScope>(
        self,
        tileset: &Tileset,
        scope: &S,
        costs: &RenderCosts,
    ) -> Result<CachedTile, ServeError> {
        let started = Instant::now();
        let in_scope = |code: &str| scope.covers(code);
        let request = TileRequest {
            in_scope: &in_scope,
            crs: self.crs,
            events: self.events.as_ref(),
        };
        let (z, x, y) = (self.id.z, self.id.x, self.id.y);
        let raw = render_tile_in(&self.snapshot, tileset, z, x, y, &request)?;
        costs.record(&tileset.name, z, started.elapsed());
        let encoded = if self.keep {
            CachedTile::encode(raw.bytes)
        } else {
            CachedTile::encode_once(raw.bytes, self.coding)
        };
        encoded.map_err(ServeError::Compress)
    }
}
