//! Service configuration: a TOML file, then the environment, then command-line flags, each
//! overriding the one before (DESIGN.md "Surface").

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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
        })
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
