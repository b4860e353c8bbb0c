//! The command line: `serve`, `generate`, `import`, `token`, `export-tiles` (DESIGN.md "Surface").

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::access::api_key::{key_hash, new_key};
use crate::access::ApiKeys;
use crate::access::{parse_ttl, Auth, Role};
use crate::config::{store_location, ApiKeyConfig, Config, FileConfig, Overrides};
use crate::crs::Crs;
use crate::engine::Engine;
use crate::generate::{GenerateOptions, Scale};
use crate::import::{ImportKind, ImportOptions};
use crate::serve;
use crate::tiles::pmtiles::{export_tiles, parse_bbox, ExportOptions};
use crate::tiles::Tilesets;

/// gridmap: map and spatial-analytics service for city grid management (网格化服务管理).
#[derive(Debug, Parser)]
#[command(name = "gridmap", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service. With neither --database-url nor --data, the embedded store
    /// data/gridmap.gpkg is used and, when empty, filled with the sample city.
    Serve(ServeArgs),
    /// Generate the deterministic synthetic Hebi city into a GeoPackage file or a PostGIS database.
    Generate(GenerateArgs),
    /// Import areas, buildings, houses, population, events or workers from GeoJSON, GeoPackage or CSV.
    Import(ImportArgs),
    /// Print a JWT for the configured secret (GRIDMAP_JWT_SECRET).
    Token(TokenArgs),
    /// Render one tileset over a zoom range into a PMTiles v3 archive (static or offline maps).
    ExportTiles(ExportTilesArgs),
    /// Make a new API key for embedding tiles in another app: prints the key and the
    /// `[[api_key]]` entry (its SHA-256) to add to the config file.
    ApiKey(ApiKeyArgs),
}

/// Arguments of `api-key`.
#[derive(Debug, Args)]
pub struct ApiKeyArgs {
    /// A name for the key, shown in logs and errors (e.g. the app that embeds it).
    #[arg(long)]
    pub name: String,
    /// The jurisdiction the key reads: an area code (410600 = the whole city).
    #[arg(long)]
    pub scope: String,
    /// Web origins allowed to embed the key, e.g. https://portal.example.gov.cn (repeatable;
    /// none = any).
    #[arg(long = "origin")]
    pub origins: Vec<String>,
}

/// Where the store is, shared by serve and import.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// PostgreSQL/PostGIS URL, e.g. postgres://user@host/db (wins over --data).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Embedded GeoPackage file (default data/gridmap.gpkg).
    #[arg(long, env = "GRIDMAP_DATA")]
    pub data: Option<PathBuf>,
    /// TOML config file (listen, database_url, data, jwt_secret, public_url).
    #[arg(long, env = "GRIDMAP_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (HOST:PORT; port 0 picks a free one).
    #[arg(long, env = "GRIDMAP_LISTEN")]
    pub listen: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// HS256 secret for bearer tokens; without one the service runs in demo mode and prints an admin token.
    #[arg(long, env = "GRIDMAP_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// In demo mode, do not file a new report and move an event along every 15 s.
    #[arg(long)]
    pub no_demo_feed: bool,
}

/// Arguments of `generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// `sample` (seconds; a few hundred grids) or `city` (about Hebi: ~5 000 grids, 10 M events).
    #[arg(long, value_parser = ["sample", "city"], default_value = "sample")]
    pub scale: String,
    /// Random seed; the same seed gives the same city.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Override the number of events.
    #[arg(long)]
    pub events: Option<u64>,
    /// When the synthetic history ends (RFC 3339, or a day: its start in China Standard Time);
    /// default now. The same seed and --as-of give the same data.
    #[arg(long, value_parser = parse_as_of)]
    pub as_of: Option<chrono::DateTime<chrono::Utc>>,
    /// Write into this GeoPackage file.
    #[arg(
        long,
        conflicts_with = "database_url",
        required_unless_present = "database_url"
    )]
    pub out: Option<PathBuf>,
    /// Write into this PostGIS database.
    #[arg(long)]
    pub database_url: Option<String>,
}

/// Arguments of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A .geojson/.json, .gpkg or .csv file.
    pub file: PathBuf,
    /// What the file holds.
    #[arg(long, value_parser = ["areas", "buildings", "houses", "population", "events", "workers", "basemap"])]
    pub kind: String,
    /// CRS of the coordinates: wgs84 (default), cgcs2000, gcj02, bd09, EPSG:3857, EPSG:4491–4554.
    #[arg(long)]
    pub crs: Option<String>,
    /// Validate and report without writing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the valid features even when others fail (default: all or nothing).
    #[arg(long)]
    pub partial: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Arguments of `export-tiles`.
#[derive(Debug, Args)]
pub struct ExportTilesArgs {
    /// The tileset to export (see tiles/tilesets.toml), e.g. boundaries.
    #[arg(long)]
    pub tileset: String,
    /// First zoom to export (within the tileset's zooms).
    #[arg(long)]
    pub minzoom: u8,
    /// Last zoom to export (within the tileset's zooms).
    #[arg(long)]
    pub maxzoom: u8,
    /// The archive to write, e.g. boundaries.pmtiles (replaced when it exists).
    #[arg(long)]
    pub out: PathBuf,
    /// Area to cover as minlon,minlat,maxlon,maxlat (WGS84 degrees); default the city's bounds.
    #[arg(long, value_parser = parse_bbox_arg, allow_hyphen_values = true)]
    pub bbox: Option<geo_types::Rect<f64>>,
    #[command(flatten)]
    pub store: StoreArgs,
}

fn parse_bbox_arg(text: &str) -> Result<geo_types::Rect<f64>, String> {
    parse_bbox(text).map_err(|e| e.to_string())
}

/// Arguments of `token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The jurisdiction: an area code (410600 = the whole city).
    #[arg(long)]
    pub scope: String,
    /// Comma-separated roles: viewer, analyst, dispatcher, admin, device.
    #[arg(long, value_delimiter = ',', required = true)]
    pub roles: Vec<String>,
    /// Lifetime, e.g. 30d, 12h, 15m; at most 365d (the service refuses longer-lived tokens).
    #[arg(long, default_value = "30d")]
    pub ttl: String,
    /// The subject (who the token is for).
    #[arg(long, default_value = "gridmap-cli")]
    pub sub: String,
    #[arg(long, env = "GRIDMAP_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    #[arg(long, env = "GRIDMAP_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Entry point of the binary: parse, run, map errors to a message and exit code 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve(args) => run_serve(args).await,
        Command::Generate(args) => run_generate(args).await,
        Command::Import(args) => run_import(args).await,
        Command::Token(args) => run_token(args),
        Command::ExportTiles(args) => run_export_tiles(args).await,
        Command::ApiKey(args) => run_api_key(args),
    }
}

async fn run_serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let no_demo_feed = args.no_demo_feed;
    let config = Config::build(&Overrides {
        listen: args.listen,
        database_url: args.store.database_url,
        data: args.store.data,
        jwt_secret: args.jwt_secret,
        config: args.store.config,
    })?;
    let server = serve::start(&config).await?;
    let url = config.public_url.clone().unwrap_or_else(|| server.url());
    println!("gridmap listening on {url}/");
    match &server.demo_token {
        // The token rides in the fragment, which the browser keeps to itself.
        Some(token) => println!("wall map: {url}/#token={token}"),
        None => println!(
            "wall map: {url}/ (it asks for a token: gridmap token --scope CODE --roles viewer)"
        ),
    }
    if let Some(token) = &server.demo_token {
        println!(
            "demo mode (no GRIDMAP_JWT_SECRET): admin token for 410600 鹤壁市, valid 30 days:"
        );
        println!("{token}");
        println!("try: curl -H 'Authorization: Bearer {token}' '{url}/api/lookup?lon=114.297&lat=35.748'");
        if !no_demo_feed {
            let feed = serve::demo_feed::Feed {
                engine: server.engine.clone(),
                store: server.store.clone(),
                writes: server.writes.clone(),
                clock: server.clock.clone(),
                deadlines: std::sync::Arc::new(config.event_deadlines.clone()),
            };
            serve::demo_feed::spawn(feed);
            println!(
                "demo feed: a new report and one step of an open event every {} s, {} grid workers patrolling (a fix every {} s; one leaves its grid now and then) (--no-demo-feed turns it off)",
                serve::demo_feed::PERIOD.as_secs(),
                serve::demo_feed::patrol::WALKERS,
                serve::demo_feed::patrol::FIX_PERIOD.as_secs()
            );
        }
    }
    server.run_until_signal().await?;
    Ok(ExitCode::SUCCESS)
}

/// An instant of `--as-of`: RFC 3339, or a day `YYYY-MM-DD` meaning its start in China
/// Standard Time (UTC+8).
fn parse_as_of(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(crate::model::event_code::china_midnight)
        .ok_or_else(|| {
            format!(
                "{text:?} is neither RFC 3339 (2026-11-01T08:00:00+08:00) nor a day (2026-11-01)"
            )
        })
}

async fn run_generate(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    let scale = if args.scale == "city" {
        Scale::City
    } else {
        Scale::Sample
    };
    let location = store_location(args.database_url, args.out);
    let store = serve::open_store(&location).await?;
    let opts = GenerateOptions {
        scale,
        seed: args.seed,
        progress: true,
        events: args.events,
        as_of: Some(args.as_of.unwrap_or_else(chrono::Utc::now)),
    };
    let summary = crate::generate::generate_into(store.as_ref(), &opts).await?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(ExitCode::SUCCESS)
}

async fn run_import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let kind = match args.kind.as_str() {
        "areas" => ImportKind::Areas,
        "buildings" => ImportKind::Buildings,
        "houses" => ImportKind::Houses,
        "population" => ImportKind::Population,
        "events" => ImportKind::Events,
        "basemap" => ImportKind::Basemap,
        _ => ImportKind::Workers,
    };
    let crs = args.crs.as_deref().map(Crs::parse).transpose()?;
    let file = match &args.store.config {
        Some(path) => FileConfig::read(path)?,
        None => FileConfig::default(),
    };
    let location = store_location(
        args.store.database_url.or(file.database_url),
        args.store.data.or(file.data),
    );
    let store = serve::open_store(&location).await?;
    let opts = ImportOptions {
        kind,
        crs,
        dry_run: args.dry_run,
        all_or_nothing: !args.partial,
        progress: true,
    };
    let report = crate::import::import_file(store.as_ref(), &args.file, &opts).await?;
    for e in &report.errors {
        match &e.id {
            Some(id) => eprintln!("feature #{} ({id}): {}", e.index, e.message),
            None => eprintln!("feature #{}: {}", e.index, e.message),
        }
    }
    println!(
        "read {}, valid {}, written {}{}",
        report.read,
        report.valid,
        report.written,
        if args.dry_run { " (dry run)" } else { "" }
    );
    Ok(if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn run_export_tiles(args: ExportTilesArgs) -> anyhow::Result<ExitCode> {
    let file = match &args.store.config {
        Some(path) => FileConfig::read(path)?,
        None => FileConfig::default(),
    };
    let location = store_location(
        args.store.database_url.or(file.database_url),
        args.store.data.or(file.data),
    );
    let tilesets = Tilesets::parse(serve::TILESETS_TOML, "tiles/tilesets.toml")?;
    let store = serve::open_store(&location).await?;
    let engine = Engine::new(store.load().await?);
    let opts = ExportOptions {
        tileset: args.tileset,
        minzoom: args.minzoom,
        maxzoom: args.maxzoom,
        bbox: args.bbox,
        progress: true,
    };
    let out = args.out;
    let summary = tokio::task::spawn_blocking(move || {
        export_tiles(&engine.snapshot(), &tilesets, &opts, &out)
    })
    .await??;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(ExitCode::SUCCESS)
}

fn run_api_key(args: ApiKeyArgs) -> anyhow::Result<ExitCode> {
    let key = new_key();
    let entry = ApiKeyConfig {
        name: args.name,
        sha256: key_hash(&key),
        scope: args.scope,
        origins: args.origins,
    };
    ApiKeys::new(std::slice::from_ref(&entry))?;
    let origins: Vec<String> = entry.origins.iter().map(|o| format!("{o:?}")).collect();
    println!("{key}");
    eprintln!("add this to the config file (the key itself is not stored anywhere):");
    eprintln!();
    eprintln!("[[api_key]]");
    eprintln!("name = {:?}", entry.name);
    eprintln!("sha256 = {:?}", entry.sha256);
    eprintln!("scope = {:?}", entry.scope);
    eprintln!("origins = [{}]", origins.join(", "));
    Ok(ExitCode::SUCCESS)
}

fn run_token(args: TokenArgs) -> anyhow::Result<ExitCode> {
    let file = match &args.config {
        Some(path) => FileConfig::read(path)?,
        None => FileConfig::default(),
    };
    let secret = args.jwt_secret.or(file.jwt_secret).filter(|s| !s.is_empty()).ok_or_else(|| {
        anyhow::anyhow!(
            "no secret configured: set GRIDMAP_JWT_SECRET (or --jwt-secret, or jwt_secret in the config file) to the server's secret; a server in demo mode prints its own token at start-up"
        )
    })?;
    let roles = args
        .roles
        .iter()
        .map(|r| Role::parse(r.trim()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let ttl = parse_ttl(&args.ttl).map_err(anyhow::Error::msg)?;
    let token = Auth::new(&secret).issue(&args.sub, &args.scope, &roles, ttl)?;
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}
