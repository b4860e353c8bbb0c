//! `gridmap import FILE --kind KIND [--crs CRS] [--dry-run]`: bring real data in, feature by
//! feature validated, with a report that names every problem.
//!
//! Formats by extension: GeoJSON (`.geojson`, `.json`), GeoPackage (`.gpkg`), CSV (`.csv`);
//! each reader (`geojson_file`, `gpkg_file`, `csv_file`) hands over [`source::RawFeature`]s.
//! The CRS is `--crs` if given (it wins: GCJ-02 data is often labelled EPSG:4326), else the one
//! the file declares, else WGS84/CGCS2000. Each kind has its own file of rules (`areas`,
//! `buildings`, `houses`, `population`, `events`, `workers`, `basemap`); `geometry` holds the shape,
//! conversion and validity checks, `context` what is already known.
//!
//! By default a file is all or nothing: if any feature fails, nothing is written and the report
//! lists every error. Otherwise valid features are written in batches of [`BATCH_SIZE`].

mod areas;
mod basemap;
mod buildings;
mod context;
mod csv_file;
mod error;
mod event_codes;
mod events;
mod fields;
mod geojson_file;
mod geometry;
mod gpkg_file;
mod houses;
mod population;
mod source;
mod workers;

use std::path::Path;

use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::crs::Crs;
use crate::model::Change;
use crate::store::Store;
use crate::write::Writes;
use context::Context;
use event_codes::EventCodes;
use source::{RawFeature, SourceFile};

pub use error::ImportError;

/// Changes per `Store::apply` call when features are written independently.
pub const BATCH_SIZE: usize = 5_000;
/// Files with at least this many features show a progress bar (when asked for).
const PROGRESS_THRESHOLD: usize = 2_000;

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportKind {
    Areas,
    Buildings,
    Houses,
    Population,
    Events,
    Workers,
    Basemap,
}

impl ImportKind {
    /// Every kind, in dependency order (areas before buildings before houses …).
    pub const ALL: [ImportKind; 7] = [
        ImportKind::Areas,
        ImportKind::Buildings,
        ImportKind::Houses,
        ImportKind::Population,
        ImportKind::Events,
        ImportKind::Workers,
        ImportKind::Basemap,
    ];

    /// The name used on the command line: `areas`, `buildings`, …
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Areas => "areas",
            ImportKind::Buildings => "buildings",
            ImportKind::Houses => "houses",
            ImportKind::Population => "population",
            ImportKind::Events => "events",
            ImportKind::Workers => "workers",
            ImportKind::Basemap => "basemap",
        }
    }

    /// Inverse of [`ImportKind::as_str`].
    pub fn parse(s: &str) -> Option<ImportKind> {
        ImportKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The store's table name for this kind (`area`, `building`, …), also looked for in a GeoPackage.
    pub fn table_name(self) -> &'static str {
        match self {
            ImportKind::Areas => "area",
            ImportKind::Buildings => "building",
            ImportKind::Houses => "house",
            ImportKind::Population => "population",
            ImportKind::Events => "event",
            ImportKind::Workers => "worker",
            ImportKind::Basemap => "basemap",
        }
    }

    /// Whether features of this kind carry a geometry.
    pub fn is_spatial(self) -> bool {
        matches!(
            self,
            ImportKind::Areas | ImportKind::Buildings | ImportKind::Events | ImportKind::Basemap
        )
    }
}

/// How to import a file.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub kind: ImportKind,
    /// The CRS of the coordinates; overrides what the file declares.
    pub crs: Option<Crs>,
    /// Validate and report only.
    pub dry_run: bool,
    /// Write nothing if any feature fails (one transaction for the whole file).
    pub all_or_nothing: bool,
    /// Show a progress bar on the terminal for large files.
    pub progress: bool,
}

impl ImportOptions {
    /// Options for `kind` with the defaults: file CRS, writing, all or nothing, no progress bar.
    pub fn new(kind: ImportKind) -> ImportOptions {
        ImportOptions {
            kind,
            crs: None,
            dry_run: false,
            all_or_nothing: true,
            progress: false,
        }
    }
}

/// The outcome of an import.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportReport {
    /// Features read from the file.
    pub read: usize,
    /// Features that passed validation.
    pub valid: usize,
    /// Features written to the store.
    pub written: usize,
    /// The CRS the coordinates were read in (canonical name).
    pub crs: String,
    /// Every problem, in file order.
    pub errors: Vec<FeatureError>,
}

/// One problem of one feature.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureError {
    /// Position of the feature in the file, from 0 (CSV: data row, header excluded).
    pub index: usize,
    /// The feature's code, if it has one.
    pub id: Option<String>,
    /// What is wrong, precisely.
    pub message: String,
}

impl std::fmt::Display for FeatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.id {
            Some(id) => write!(f, "feature {} ({id}): {}", self.index, self.message),
            None => write!(f, "feature {}: {}", self.index, self.message),
        }
    }
}

/// Reads, validates and (unless a dry run, or a failed all-or-nothing file) writes a file
/// through `target`: a bare store from the command line, the write path inside a server.
pub async fn import_file<W: Writes + ?Sized>(
    target: &W,
    path: &Path,
    opts: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    let source = read_source(path, opts.kind)?;
    let crs = opts.crs.or(source.declared_crs).unwrap_or(Crs::Wgs84);
    let mut ctx = load_context(target.store(), opts.kind, &source.features).await?;
    let (changes, errors) = validate(&source.features, opts, crs, &mut ctx);
    let mut report = ImportReport {
        read: source.features.len(),
        valid: changes.len(),
        written: 0,
        crs: crs.name(),
        errors,
    };
    if opts.dry_run || (opts.all_or_nothing && !report.errors.is_empty()) {
        return Ok(report);
    }
    report.written = write(target, &changes, opts).await?;
    Ok(report)
}

fn read_source(path: &Path, kind: ImportKind) -> Result<SourceFile, ImportError> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("geojson" | "json") => geojson_file::read(path),
        Some("gpkg") => gpkg_file::read(path, kind),
        Some("csv") => csv_file::read(path),
        _ => Err(ImportError::UnsupportedFormat {
            path: path.display().to_string(),
        }),
    }
}

/// Loads what validation needs from the store: the dataset always, stored event codes for events.
async fn load_context(
    store: &dyn Store,
    kind: ImportKind,
    features: &[RawFeature],
) -> Result<Context, ImportError> {
    let dataset = store.load().await?;
    let now = Utc::now();
    let key_scope = crate::model::area::city_code(&dataset.areas).unwrap_or_default();
    let mut codes = EventCodes::new(key_scope);
    if kind == ImportKind::Events {
        events::note_stored_codes(store, features, now, &mut codes).await?;
        for code in features.iter().filter_map(RawFeature::code) {
            codes.note_code(&code);
        }
    }
    Ok(Context::new(dataset, codes, now))
}

/// Validates every feature; returns the changes in write order and the errors in file order.
fn validate(
    features: &[RawFeature],
    opts: &ImportOptions,
    crs: Crs,
    ctx: &mut Context,
) -> (Vec<Change>, Vec<FeatureError>) {
    let progress = progress_bar(opts.progress, features.len(), "validating");
    let mut changes = Vec::with_capacity(features.len());
    let mut errors = Vec::new();
    for feature in processing_order(features, opts.kind) {
        let built = match opts.kind {
            ImportKind::Areas => areas::build(feature, crs, ctx),
            ImportKind::Buildings => buildings::build(feature, crs, ctx),
            ImportKind::Houses => houses::build(feature, ctx),
            ImportKind::Population => population::build(feature, ctx),
            ImportKind::Events => events::build(feature, crs, ctx),
            ImportKind::Workers => workers::build(feature, ctx),
            ImportKind::Basemap => basemap::build(feature, crs, ctx),
        };
        match built {
            Ok(change) => changes.push(change),
            Err(problems) => {
                let id = feature.code();
                if let Some(code) = &id {
                    ctx.rejected.entry(code.clone()).or_insert(feature.index);
                }
                errors.extend(problems.into_iter().map(|message| FeatureError {
                    index: feature.index,
                    id: id.clone(),
                    message,
                }));
            }
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    errors.sort_by_key(|e| e.index);
    (changes, errors)
}

/// File order, except areas: shorter codes (parents) first, so a parent anywhere in the file
/// is known when its children are checked, and parents are written before their children.
fn processing_order(features: &[RawFeature], kind: ImportKind) -> Vec<&RawFeature> {
    let mut order: Vec<&RawFeature> = features.iter().collect();
    if kind == ImportKind::Areas {
        order.sort_by_key(|f| (f.code().map_or(usize::MAX, |c| c.len()), f.index));
    }
    order
}

/// Writes the changes: one transaction when all or nothing, else batches of [`BATCH_SIZE`].
async fn write<W: Writes + ?Sized>(
    target: &W,
    changes: &[Change],
    opts: &ImportOptions,
) -> Result<usize, ImportError> {
    if changes.is_empty() {
        return Ok(0);
    }
    if opts.all_or_nothing {
        target.commit(changes).await?;
        target.store().refresh_statistics().await?;
        return Ok(changes.len());
    }
    let progress = progress_bar(opts.progress, changes.len(), "writing");
    let mut written = 0;
    for batch in changes.chunks(BATCH_SIZE) {
        target.commit(batch).await?;
        written += batch.len();
        progress.inc(batch.len() as u64);
    }
    progress.finish_and_clear();
    target.store().refresh_statistics().await?;
    Ok(written)
}

fn progress_bar(wanted: bool, len: usize, what: &'static str) -> ProgressBar {
    if !wanted || len < PROGRESS_THRESHOLD {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64).with_message(what);
    if let Ok(style) = ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
