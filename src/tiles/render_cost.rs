//! What an uncached tile of each tileset and zoom has recently cost to render.
//!
//! The server renders a tile on the connection's own thread when tiles of its tileset and zoom
//! are cheap, and on the runtime's blocking thread otherwise. Handing a tile to another thread
//! and back costs two context switches; for the common tile of a tenth of a millisecond that
//! was a quarter of the server's CPU (measured with perf at z16). An expensive tile (a low zoom
//! over the whole city) still goes to the blocking thread, so the other connections of its
//! thread do not wait behind it for longer than [`INLINE_LIMIT`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::tileset::Tilesets;
use crate::crs::tile::MAX_ZOOM;

/// Tiles expected to render within this run on the connection's thread.
pub const INLINE_LIMIT: Duration = Duration::from_millis(1);

/// No render of this tileset and zoom has been measured yet.
const UNKNOWN: u32 = u32::MAX;

/// Weight of the newest render in the moving average: one eighth.
const NEWEST_SHARE: u32 = 8;

/// Recent render cost in microseconds per tileset and zoom.
#[derive(Debug, Default)]
pub struct RenderCosts {
    by_tileset: HashMap<String, Vec<AtomicU32>>,
}

impl RenderCosts {
    /// Costs for every zoom of every tileset, none measured yet.
    pub fn new(tilesets: &Tilesets) -> RenderCosts {
        let zooms = || (0..=MAX_ZOOM).map(|_| AtomicU32::new(UNKNOWN)).collect();
        RenderCosts {
            by_tileset: tilesets
                .tilesets
                .iter()
                .map(|t| (t.name.clone(), zooms()))
                .collect(),
        }
    }

    /// Whether tiles of `tileset` at zoom `z` have recently rendered within [`INLINE_LIMIT`].
    /// Unmeasured ones have not: the first tile at a zoom may build that zoom's simplified
    /// layers, which takes far longer than a tile.
    pub fn is_cheap(&self, tileset: &str, z: u8) -> bool {
        self.slot(tileset, z).is_some_and(|cost| {
            let micros = cost.load(Ordering::Relaxed);
            micros != UNKNOWN && u128::from(micros) <= INLINE_LIMIT.as_micros()
        })
    }

    /// Folds one render of a tile of `tileset` at zoom `z` into the moving average (the first
    /// one sets it). Concurrent records may lose one of them, which a moving average tolerates.
    pub fn record(&self, tileset: &str, z: u8, took: Duration) {
        let Some(cost) = self.slot(tileset, z) else {
            return;
        };
        let sample = u32::try_from(took.as_micros()).unwrap_or(UNKNOWN - 1);
        let old = cost.load(Ordering::Relaxed);
        let new = if old == UNKNOWN {
            sample
        } else {
            let moved = (i64::from(sample) - i64::from(old)) / i64::from(NEWEST_SHARE);
            u32::try_from(i64::from(old) + moved).unwrap_or(old)
        };
        cost.store(new, Ordering::Relaxed);
    }

    fn slot(&self, tileset: &str, z: u8) -> Option<&AtomicU32> {
        self.by_tileset.get(tileset)?.get(usize::from(z))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiles::tileset::MINIMAL;

    /// Costs of the minimal tileset `t`; costs are kept for every zoom, in range or not.
    fn costs() -> RenderCosts {
        RenderCosts::new(&Tilesets::parse(MINIMAL, "test").expect("valid tileset"))
    }

    #[test]
    fn unmeasured_and_unknown_tiles_are_not_cheap() {
        let costs = costs();
        assert!(!costs.is_cheap("t", 12));
        assert!(!costs.is_cheap("other", 12));
        costs.record("other", 12, Duration::from_micros(10));
        assert!(!costs.is_cheap("other", 12));
    }

    #[test]
    fn the_average_follows_recent_renders_at_each_zoom_apart() {
        let costs = costs();
        costs.record("t", 8, Duration::from_millis(300));
        assert!(!costs.is_cheap("t", 8), "the first render sets the cost");
        for _ in 0..60 {
            costs.record("t", 8, Duration::from_micros(100));
        }
        assert!(costs.is_cheap("t", 8), "cheap renders bring it down");
        assert!(!costs.is_cheap("t", 9), "other zooms are apart");
        for _ in 0..30 {
            costs.record("t", 8, Duration::from_millis(5));
        }
        assert!(!costs.is_cheap("t", 8), "expensive renders bring it up");
    }
}
