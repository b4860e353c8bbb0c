//! The satellite basemap, fetched from an upstream raster service (Tianditu's imagery by
//! default) with the configured key and handed on to map clients, so the key stays on the
//! server. Tiles are kept in memory up to a byte budget; concurrent requests for one tile make
//! one upstream fetch.

use std::time::Duration;

use bytes::Bytes;
use moka::future::Cache;

use crate::config::{SatelliteConfig, DEFAULT_SATELLITE_MAXZOOM, TIANDITU_IMAGERY_URL};
use crate::crs::tile::TileId;

/// Bytes of imagery kept in memory.
const CACHE_BYTES: u64 = 128 * 1024 * 1024;
/// How long an upstream fetch may take before the client is told the upstream failed.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest tile accepted from the upstream.
const MAX_TILE_BYTES: usize = 4 * 1024 * 1024;

/// One imagery tile as the upstream sent it.
#[derive(Debug, Clone)]
pub struct Raster {
    pub bytes: Bytes,
    /// `image/jpeg`, `image/png`, …
    pub content_type: String,
}

/// Why no tile could be handed on. Messages never hold the upstream URL (it holds the key).
#[derive(Debug, Clone, thiserror::Error)]
pub enum SatelliteError {
    #[error("zoom {z} is beyond the satellite imagery's deepest zoom {maxzoom}")]
    TooDeep { z: u8, maxzoom: u8 },
    #[error("the satellite upstream has no tile {0}")]
    Missing(String),
    #[error("the satellite upstream failed: {0}")]
    Upstream(String),
}

/// The upstream, its key and the tiles fetched so far.
pub struct SatelliteProxy {
    client: reqwest::Client,
    template: String,
    key: String,
    maxzoom: u8,
    cache: Cache<TileId, Raster>,
}

impl std::fmt::Debug for SatelliteProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SatelliteProxy")
            .field("maxzoom", &self.maxzoom)
            .finish_non_exhaustive()
    }
}

impl SatelliteProxy {
    /// A proxy for the configured upstream.
    pub fn new(config: &SatelliteConfig) -> Result<SatelliteProxy, SatelliteError> {
        let client = reqwest::Client::builder()
            .timeout(UPSTREAM_TIMEOUT)
            .user_agent(concat!("gridmap/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SatelliteError::Upstream(e.without_url().to_string()))?;
        Ok(SatelliteProxy {
            client,
            template: config
                .url
                .clone()
                .unwrap_or_else(|| TIANDITU_IMAGERY_URL.to_string()),
            key: config.key.clone(),
            maxzoom: config.maxzoom.unwrap_or(DEFAULT_SATELLITE_MAXZOOM),
            cache: Cache::builder()
                .weigher(|_, r: &Raster| u32::try_from(r.bytes.len()).unwrap_or(u32::MAX))
                .max_capacity(CACHE_BYTES)
                .build(),
        })
    }

    /// The deepest zoom the upstream serves.
    pub fn maxzoom(&self) -> u8 {
        self.maxzoom
    }

    /// The tile, from memory or fetched once from the upstream.
    pub async fn tile(&self, id: TileId) -> Result<Raster, SatelliteError> {
        if id.z > self.maxzoom {
            return Err(SatelliteError::TooDeep {
                z: id.z,
                maxzoom: self.maxzoom,
            });
        }
        self.cache
            .try_get_with(id, self.fetch(id))
            .await
            .map_err(|e| (*e).clone())
    }

    fn upstream_url(&self, id: TileId) -> String {
        self.template
            .replace("{z}", &id.z.to_string())
            .replace("{x}", &id.x.to_string())
            .replace("{y}", &id.y.to_string())
            .replace("{key}", &self.key)
    }

    async fn fetch(&self, id: TileId) -> Result<Raster, SatelliteError> {
        let failed = |e: reqwest::Error| SatelliteError::Upstream(e.without_url().to_string());
        let response = self
            .client
            .get(self.upstream_url(id))
            .send()
            .await
            .map_err(failed)?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(SatelliteError::Missing(format!(
                "{}/{}/{}",
                id.z, id.x, id.y
            )));
        }
        if !status.is_success() {
            return Err(SatelliteError::Upstream(format!("it answered {status}")));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if !content_type.starts_with("image/") {
            // Tianditu answers a refused key with 200 and an XML or HTML error page.
            return Err(SatelliteError::Upstream(format!(
                "it answered {content_type:?}, not an image; check the key"
            )));
        }
        let bytes = response.bytes().await.map_err(failed)?;
        if bytes.len() > MAX_TILE_BYTES {
            return Err(SatelliteError::Upstream(format!(
                "a tile of {} bytes is over the {MAX_TILE_BYTES} accepted",
                bytes.len()
            )));
        }
        Ok(Raster {
            bytes,
            content_type,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(url: &str) -> SatelliteProxy {
        SatelliteProxy::new(&SatelliteConfig {
            key: "secret".into(),
            url: Some(url.into()),
            maxzoom: Some(17),
        })
        .expect("proxy")
    }

    #[test]
    fn the_upstream_url_fills_every_placeholder() {
        let p = proxy("http://127.0.0.1:1/t/{z}/{y}/{x}?tk={key}");
        let id = TileId::new(3, 5, 6).expect("tile");
        assert_eq!(p.upstream_url(id), "http://127.0.0.1:1/t/3/6/5?tk=secret");
    }

    #[tokio::test]
    async fn too_deep_is_refused_and_an_unreachable_upstream_fails_without_the_key() {
        let p = proxy("http://127.0.0.1:1/{z}/{x}/{y}?tk={key}");
        let deep = TileId::new(18, 0, 0).expect("tile");
        assert!(matches!(
            p.tile(deep).await,
            Err(SatelliteError::TooDeep { .. })
        ));
        let err = p
            .tile(TileId::new(1, 0, 0).expect("tile"))
            .await
            .expect_err("no upstream");
        assert!(matches!(err, SatelliteError::Upstream(_)), "{err:?}");
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}
