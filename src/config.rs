//! Service configuration: a TOML file, then the environment, then command-line flags, each
//! overriding the one before (DESIGN.md "Surface").

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The embedded store used when no database URL is given.
pub const DEFAULT_DATA: &str = "data/gridmap.gpkg";
/// The default memory budget of the tile cache, in MiB.
pub const DEFAULT_TILE_CACHE_MB: usize = 256;
/// The default `max-age` of tile answers, in seconds.
pub const DEFAULT_TILE_MAX_AGE_S: u32 = 60;
/// Where the fonts of map labels are looked for by default (Debian's TrueType fonts).
pub const DEFAULT_FONTS_DIR: &str = "/usr/share/fonts/truetype";
/// The default time a client has to send a request's line and headers, in seconds.
pub const DEFAULT_HEADER_READ_TIMEOUT_S: u64 = 10;
/// The default time a connection may stay open with no request, in seconds.
pub const DEFAULT_IDLE_TIMEOUT_S: u64 = 60;
/// The default number of connections served at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// Why the configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML for gridmap: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid listen address {0:?}: expected HOST:PORT such as 127.0.0.1:8080")]
    Listen(String),
    #[error("invalid [event_deadlines] in the config file: {0}")]
    Deadlines(String),
    #[error("invalid [event_categories] in the config file: {0}")]
    Categories(String),
    #[error("invalid [satellite] in the config file: {0}")]
    Satellite(String),
    #[error("invalid [workers] in the config file: {0}")]
    Workers(String),
    #[error("{key} in the config file must be at least 1")]
    Zero { key: &'static str },
    #[error("trusted_proxies entry {0:?} is not an IP address or network such as 127.0.0.1 or 10.0.0.0/8")]
    TrustedProxy(String),
}

/// Settings that may appear in the config file (every field optional).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub data: Option<PathBuf>,
    pub jwt_secret: Option<String>,
    /// The URL clients reach the service at (behind a proxy); used in printed and served links.
    pub public_url: Option<String>,
    /// Memory budget of the tile cache in MiB (compressed tiles of every scope); 0 turns the
    /// cache off (every tile is rendered for its request).
    pub tile_cache_mb: Option<usize>,
    /// `max-age` in seconds of tile answers (edits invalidate the server's cache at once; this
    /// only bounds how long browsers and proxies keep a tile).
    pub tile_max_age_s: Option<u32>,
    /// Directory scanned (recursively) for the TrueType/OpenType fonts served under `/fonts`.
    pub fonts_dir: Option<PathBuf>,
    /// API keys for embedded tile URLs (`[[api_key]]` tables; `gridmap api-key` prints one).
    #[serde(default)]
    pub api_key: Vec<ApiKeyConfig>,
    /// Event deadline hours over the built-in `events/deadlines.toml` (same shape:
    /// `[event_deadlines.default]`, `[event_deadlines.category."0102"]`).
    pub event_deadlines: Option<crate::model::deadline_hours::Deadlines>,
    /// Event category names over the built-in `events/categories.toml` (same shape:
    /// `[event_categories.names]`, `"0102" = "井盖缺失"`).
    pub event_categories: Option<crate::model::category_names::CategoryNames>,
    /// A satellite basemap the service fetches for its map clients (`[satellite]`).
    pub satellite: Option<SatelliteConfig>,
    /// Grid workers: status, alerts, fix checks and retention (`[workers]`).
    #[serde(default)]
    pub workers: WorkersConfig,
    /// Seconds a client has to send a request's line and headers before it is disconnected.
    pub header_read_timeout_s: Option<u64>,
    /// Seconds a connection may stay open with no request in progress.
    pub idle_timeout_s: Option<u64>,
    /// Connections served at once; more wait in the listen queue until one closes.
    pub max_connections: Option<usize>,
    /// Addresses or networks of the reverse proxies whose `X-Forwarded-*` headers are believed
    /// (e.g. `["127.0.0.1/32"]`); from anyone else those headers are dropped. Default: none.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

/// How long connections may take and how many are served at once (see `serve::http`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time from a request's first byte (or a connection's opening) to its last header.
    pub header_read_timeout: Duration,
    /// Time a connection may stay open with no request in progress.
    pub idle_timeout: Duration,
    /// Connections served at once, over every core.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(DEFAULT_HEADER_READ_TIMEOUT_S),
            idle_timeout: Duration::from_secs(DEFAULT_IDLE_TIMEOUT_S),
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// The reverse proxies whose `X-Forwarded-*` headers are believed: a request from any other
/// address could claim any host or scheme and have it written into the links it is served.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

impl TrustedProxies {
    /// Parses addresses (`127.0.0.1`, `::1`) and networks (`10.0.0.0/8`).
    pub fn parse(entries: &[String]) -> Result<TrustedProxies, ConfigError> {
        entries
            .iter()
            .map(|e| {
                let text = e.trim();
                text.parse::<ipnet::IpNet>()
                    .or_else(|_| text.parse::<IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| ConfigError::TrustedProxy(e.clone()))
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    /// Whether a connection from `peer` comes from a trusted proxy (an IPv4 peer seen on an
    /// IPv6 socket as `::ffff:a.b.c.d` counts as `a.b.c.d`).
    pub fn contains(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.0.iter().any(|net| net.contains(&peer))
    }
}

/// One API key in the config file: its SHA-256 (never the key), a name for logs, the
/// jurisdiction it reads, and optionally the web origins allowed to embed it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    pub name: String,
    pub sha256: String,
    pub scope: String,
    #[serde(default)]
    pub origins: Vec<String>,
}

/// The satellite basemap: Tianditu's (天地图) imagery by default. The service fetches the tiles
/// with the key and hands them on at `/rasters/satellite/{z}/{x}/{y}`, so the key never reaches
/// a browser.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SatelliteConfig {
    /// The Tianditu key (`tk`), or whatever the upstream template's `{key}` stands for.
    pub key: String,
    /// The upstream tile URL with `{z}`, `{x}`, `{y}` and `{key}`; default
    /// [`TIANDITU_IMAGERY_URL`].
    pub url: Option<String>,
    /// The deepest zoom the upstream serves (default 18).
    pub maxzoom: Option<u8>,
}

/// Tianditu's Web Mercator imagery (img_w) as WMTS tiles.
pub const TIANDITU_IMAGERY_URL: &str = "https://t0.tianditu.gov.cn/img_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=img&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}";

/// The deepest zoom of Tianditu's imagery.
pub const DEFAULT_SATELLITE_MAXZOOM: u8 = 18;

impl SatelliteConfig {
    /// The upstream template, checked to hold every placeholder.
    pub fn url_template(&self) -> Result<String, ConfigError> {
        let url = self
            .url
            .clone()
            .unwrap_or_else(|| TIANDITU_IMAGERY_URL.to_string());
        let missing: Vec<&str> = ["{z}", "{x}", "{y}", "{key}"]
            .into_iter()
            .filter(|p| !url.contains(p))
            .collect();
        if !(url.starts_with("http://") || url.starts_with("https://")) || !missing.is_empty() {
            return Err(ConfigError::Satellite(format!(
                "url must be an http(s) URL holding {{z}}, {{x}}, {{y}} and {{key}}; {url:?} lacks {}",
                if missing.is_empty() { "the scheme".to_string() } else { missing.join(", ") }
            )));
        }
        if self.key.trim().is_empty() {
            return Err(ConfigError::Satellite("key is empty".into()));
        }
        Ok(url)
    }
}

impl FileConfig {
    /// Reads a config file.
    pub fn read(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }
}

/// Where the system of record lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A PostGIS database URL.
    Postgis(String),
    /// An embedded GeoPackage file.
    Gpkg(PathBuf),
}

/// The effective configuration of `gridmap serve`.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub store: StoreLocation,
    /// `None` means demo mode: a random secret is made at start-up and an admin token printed.
    pub jwt_secret: Option<String>,
    pub public_url: Option<String>,
    /// Memory budget of the tile cache in bytes.
    pub tile_cache_bytes: usize,
    /// `max-age` in seconds of tile answers.
    pub tile_max_age_s: u32,
    /// Directory of the fonts served under `/fonts`.
    pub fonts_dir: PathBuf,
    /// API keys for embedded tile URLs.
    pub api_keys: Vec<ApiKeyConfig>,
    /// Event deadline hours: the built-in table with the config file's entries on top.
    pub event_deadlines: crate::model::deadline_hours::Deadlines,
    /// Event category names: the built-in catalog with the config file's names on top.
    pub event_categories: crate::model::category_names::CategoryNames,
    /// Timeouts and the cap of HTTP connections.
    pub connections: ConnectionLimits,
    /// The proxies whose `X-Forwarded-*` headers are believed.
    pub trusted_proxies: TrustedProxies,
    /// The satellite basemap, when a key is configured.
    pub satellite: Option<SatelliteConfig>,
    /// Grid workers: status, alerts, fix checks and retention.
    pub workers: WorkersConfig,
}

/// `[workers]`: the thresholds of worker status and alerts, the plausibility check of fixes
/// and how long fixes are kept. Every key is optional.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkersConfig {
    /// A worker without a fix for this many seconds is offline (default 600).
    pub offline_after_s: u32,
    /// Metres outside the home area a fix may lie before it counts as outside (default 50).
    pub tolerance_m: f64,
    /// Seconds a worker may stay outside before the out-of-grid alert (default 300).
    pub dwell_s: u32,
    /// Fixes implying a faster move from the worker's latest fix are refused (default 60 m/s,
    /// 216 km/h: no grid worker's vehicle; a GPS jump).
    pub max_speed_mps: f64,
    /// Days of fixes kept; older ones are deleted every hour (default 180).
    pub retention_days: u32,
}

impl Default for WorkersConfig {
    fn default() -> WorkersConfig {
        WorkersConfig {
            offline_after_s: 600,
            tolerance_m: 50.0,
            dwell_s: 300,
            max_speed_mps: 60.0,
            retention_days: 180,
        }
    }
}

impl WorkersConfig {
    /// The engine's thresholds.
    pub fn rules(&self) -> crate::engine::WorkerRules {
        crate::engine::WorkerRules {
            offline_after: chrono::Duration::seconds(i64::from(self.offline_after_s)),
            tolerance_m: self.tolerance_m,
            dwell: chrono::Duration::seconds(i64::from(self.dwell_s)),
        }
    }

    fn check(self) -> Result<WorkersConfig, ConfigError> {
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if self.offline_after_s == 0 || self.retention_days == 0 {
            return Err(ConfigError::Workers(
                "offline_after_s and retention_days must be at least 1".into(),
            ));
        }
        if !(positive(self.max_speed_mps)
            && (self.tolerance_m.is_finite() && self.tolerance_m >= 0.0))
        {
            return Err(ConfigError::Workers(
                "max_speed_mps must be above 0 and tolerance_m at least 0".into(),
            ));
        }
        Ok(self)
    }
}

/// Values given on the command line or in the environment (clap merges the two; flags win).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub data: Option<PathBuf>,
    pub jwt_secret: Option<String>,
    pub config: Option<PathBuf>,
}

impl Config {
    /// Builds the configuration: file (if any) overridden by environment/flags.
    pub fn build(over: &Overrides) -> Result<Config, ConfigError> {
        let file = match &over.config {
            Some(path) => FileConfig::read(path)?,
            None => FileConfig::default(),
        };
        let connections = connection_limits(&file)?;
        let trusted_proxies = TrustedProxies::parse(&file.trusted_proxies)?;
        let listen_text = over
            .listen
            .clone()
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let listen = listen_text
            .parse()
            .map_err(|_| ConfigError::Listen(listen_text.clone()))?;
        let store = store_location(
            over.database_url.clone().or(file.database_url),
            over.data.clone().or(file.data),
        );
        Ok(Config {
            listen,
            store,
            jwt_secret: over
                .jwt_secret
                .clone()
                .or(file.jwt_secret)
                .filter(|s| !s.is_empty()),
            public_url: file.public_url,
            tile_cache_bytes: file.tile_cache_mb.unwrap_or(DEFAULT_TILE_CACHE_MB) * 1024 * 1024,
            tile_max_age_s: file.tile_max_age_s.unwrap_or(DEFAULT_TILE_MAX_AGE_S),
            fonts_dir: file
                .fonts_dir
                .unwrap_or_else(|| PathBuf::from(DEFAULT_FONTS_DIR)),
            api_keys: file.api_key,
            event_deadlines: crate::model::deadline_hours::Deadlines::with_overrides(
                &file.event_deadlines.unwrap_or_default(),
            )
            .map_err(ConfigError::Deadlines)?,
            event_categories: crate::model::category_names::CategoryNames::with_overrides(
                &file.event_categories.unwrap_or_default(),
            )
            .map_err(ConfigError::Categories)?,
            satellite: match file.satellite {
                Some(s) => Some(SatelliteConfig {
                    url: Some(s.url_template()?),
                    ..s
                }),
                None => None,
            },
            workers: file.workers.check()?,
            connections,
            trusted_proxies,
        })
    }
}

/// The connection limits of the file, each defaulted and none zero.
fn connection_limits(file: &FileConfig) -> Result<ConnectionLimits, ConfigError> {
    let seconds = |value, default, key| at_least_one(value, default, key).map(Duration::from_secs);
    Ok(ConnectionLimits {
        header_read_timeout: seconds(
            file.header_read_timeout_s,
            DEFAULT_HEADER_READ_TIMEOUT_S,
            "header_read_timeout_s",
        )?,
        idle_timeout: seconds(
            file.idle_timeout_s,
            DEFAULT_IDLE_TIMEOUT_S,
            "idle_timeout_s",
        )?,
        max_connections: at_least_one(
            file.max_connections,
            DEFAULT_MAX_CONNECTIONS,
            "max_connections",
        )?,
    })
}

/// `value`, or `default` when it is not given; an error naming `key` when it is zero.
fn at_least_one<T: Copy + Default + PartialEq>(
    value: Option<T>,
    default: T,
    key: &'static str,
) -> Result<T, ConfigError> {
    match value {
        Some(v) if v == T::default() => Err(ConfigError::Zero { key }),
        v => Ok(v.unwrap_or(default)),
    }
}

/// A database URL wins over a data file; with neither, the default embedded file.
pub fn store_location(database_url: Option<String>, data: Option<PathBuf>) -> StoreLocation {
    match (database_url.filter(|u| !u.is_empty()), data) {
        (Some(url), _) => StoreLocation::Postgis(url),
        (None, Some(path)) => StoreLocation::Gpkg(path),
        (None, None) => StoreLocation::Gpkg(PathBuf::from(DEFAULT_DATA)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_without_anything() {
        let c = Config::build(&Overrides::default()).expect("defaults");
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.store, StoreLocation::Gpkg(PathBuf::from(DEFAULT_DATA)));
        assert!(c.jwt_secret.is_none());
        assert_eq!(c.tile_cache_bytes, DEFAULT_TILE_CACHE_MB * 1024 * 1024);
        assert_eq!(c.tile_max_age_s, DEFAULT_TILE_MAX_AGE_S);
        assert_eq!(c.fonts_dir, PathBuf::from(DEFAULT_FONTS_DIR));
        assert_eq!(c.connections, ConnectionLimits::default());
        assert_eq!(c.connections.header_read_timeout, Duration::from_secs(10));
        assert_eq!(c.connections.idle_timeout, Duration::from_secs(60));
        assert_eq!(c.connections.max_connections, 10_000);
        assert!(!c.trusted_proxies.contains("127.0.0.1".parse().expect("ip")));
    }

    /// The configuration of a file holding `text`.
    fn from_file(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("g.toml");
        std::fs::write(&path, text).expect("write");
        Config::build(&Overrides {
            config: Some(path),
            ..Overrides::default()
        })
    }

    #[test]
    fn connection_limits_from_file() {
        let c = from_file("header_read_timeout_s = 3\nidle_timeout_s = 30\nmax_connections = 50\n")
            .expect("config");
        assert_eq!(
            c.connections,
            ConnectionLimits {
                header_read_timeout: Duration::from_secs(3),
                idle_timeout: Duration::from_secs(30),
                max_connections: 50,
            }
        );
        for key in ["header_read_timeout_s", "idle_timeout_s", "max_connections"] {
            let err = from_file(&format!("{key} = 0\n")).expect_err("zero");
            assert!(err.to_string().contains(key), "{err}");
        }
    }

    #[test]
    fn trusted_proxies_from_file() {
        let c = from_file("trusted_proxies = [\"10.1.0.0/16\", \"127.0.0.1\", \"::1\"]\n")
            .expect("config");
        for (peer, trusted) in [
            ("10.1.200.3", true),
            ("10.2.0.1", false),
            ("127.0.0.1", true),
            ("::ffff:127.0.0.1", true),
            ("127.0.0.2", false),
            ("::1", true),
        ] {
            let ip: IpAddr = peer.parse().expect("ip");
            assert_eq!(c.trusted_proxies.contains(ip), trusted, "{peer}");
        }
        let err = from_file("trusted_proxies = [\"localhost\"]\n").expect_err("a name");
        assert!(err.to_string().contains("localhost"), "{err}");
    }

    #[test]
    fn tile_cache_settings_from_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("g.toml");
        std::fs::write(
            &path,
            "tile_cache_mb = 8\ntile_max_age_s = 5\nfonts_dir = \"/opt/fonts\"\n",
        )
        .expect("write");
        let c = Config::build(&Overrides {
            config: Some(path),
            ..Overrides::default()
        })
        .expect("config");
        assert_eq!(c.tile_cache_bytes, 8 * 1024 * 1024);
        assert_eq!(c.tile_max_age_s, 5);
        assert_eq!(c.fonts_dir, PathBuf::from("/opt/fonts"));
    }

    #[test]
    fn flags_override_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("g.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\ndata = \"x.gpkg\"\njwt_secret = \"s\"\n",
        )
        .expect("write");
        let c = Config::build(&Overrides {
            listen: Some("127.0.0.1:9001".into()),
            config: Some(path.clone()),
            ..Overrides::default()
        })
        .expect("config");
        assert_eq!(c.listen.port(), 9001);
        assert_eq!(c.store, StoreLocation::Gpkg(PathBuf::from("x.gpkg")));
        assert_eq!(c.jwt_secret.as_deref(), Some("s"));
        let c = Config::build(&Overrides {
            database_url: Some("postgres://x".into()),
            config: Some(path),
            ..Overrides::default()
        })
        .expect("config");
        assert_eq!(c.store, StoreLocation::Postgis("postgres://x".into()));
    }

    #[test]
    fn bad_values_are_explained() {
        let err = Config::build(&Overrides {
            listen: Some("nonsense".into()),
            ..Overrides::default()
        })
        .expect_err("bad listen");
        assert!(err.to_string().contains("HOST:PORT"));
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("g.toml");
        std::fs::write(&path, "lisen = 1\n").expect("write");
        let err = Config::build(&Overrides {
            config: Some(path),
            ..Overrides::default()
        })
        .expect_err("unknown key");
        assert!(err.to_string().contains("not valid TOML"), "{err}");
    }
}
