//! `gridmap generate`: a deterministic synthetic city on Hebi's real hierarchy codes.
//!
//! The same options give byte-identical data: every random draw comes from a ChaCha8 stream
//! seeded from `--seed` (see `random`), no output depends on hash-map order, and "now" is the
//! fixed [`events::anchor`] date, never the wall clock.
//!
//! Stages, each in its own file: the fixed district and street table ([`hierarchy`]), exact
//! nested partitions ([`partition`], [`base`]), grid layouts and footprints ([`layout`],
//! [`footprints`]), buildings, houses and population ([`buildings`], [`population`]), special
//! and fire-safety layers ([`areas`]), workers and their fixes ([`workers`]), events
//! ([`events`]), and the basemap ([`basemap`]).

pub mod areas;
pub mod base;
pub mod basemap;
pub mod buildings;
pub mod events;
pub mod footprints;
pub mod hierarchy;
pub mod layout;
pub mod locate;
pub mod metric;
pub mod names;
pub mod partition;
pub mod population;
pub mod random;
pub mod scale;
pub mod workers;

use std::time::Duration;

use chrono::{DateTime, Utc};
use geo_types::Polygon;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

pub use basemap::{Basemap, River, Road, RoadClass, Water};
pub use events::EventStream;
pub use partition::PartitionError;
pub use scale::{Scale, ScaleParams};

use crate::model::{Change, Dataset, Layer, Level, WorkerFix};
use crate::write::Writes;

/// Changes per committed batch.
const BATCH: usize = 2_000;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenerateOptions {
    pub scale: Scale,
    pub seed: u64,
    /// Show a progress bar on stderr while writing.
    pub progress: bool,
    /// Overrides the scale's event count.
    pub events: Option<u64>,
    /// The instant the synthetic history ends at (events before it, the latest still open;
    /// the workers' day of fixes ends there). `None`: [`events::fixed_as_of`], so the same
    /// seed gives the same data on any day (what the tests use); the CLI and the first run
    /// of `serve` pass now, so the demo city is current.
    pub as_of: Option<DateTime<Utc>>,
}

impl GenerateOptions {
    /// The instant the synthetic history ends at.
    pub fn as_of(&self) -> DateTime<Utc> {
        self.as_of.unwrap_or_else(events::fixed_as_of)
    }
}

/// How many records were generated (and written).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GenerateSummary {
    pub areas: u64,
    pub buildings: u64,
    pub houses: u64,
    pub population_rows: u64,
    pub events: u64,
    pub workers: u64,
    pub worker_fixes: u64,
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("generating the boundaries failed: {0}; try another --seed")]
    Partition(#[from] PartitionError),
}

/// The generated city: everything but the events (which are streamed, see [`events`]).
#[derive(Debug, Clone)]
pub struct City {
    pub dataset: Dataset,
    pub basemap: Basemap,
}

/// Builds the city for `opts.scale` and `opts.seed`. Pure and deterministic.
pub fn city(opts: &GenerateOptions) -> Result<City, GenerateError> {
    let params = ScaleParams::of(opts.scale);
    let base = base::build(&params, opts.seed)?;
    let built = buildings::build(&base, opts.seed);
    let map = basemap::basemap();
    let mut all_areas = areas::base_areas(&base, opts.seed);
    all_areas.extend(areas::special_areas(&base, &built.sites, opts.seed));
    all_areas.extend(areas::fire_areas(&base, opts.seed));
    Ok(City {
        dataset: Dataset {
            areas: all_areas,
            buildings: built.buildings,
            houses: built.houses,
            population: built.population,
            workers: workers::workers(&base, opts.seed),
            basemap: map.features(),
        },
        basemap: map,
    })
}

/// The number of events `opts` asks for.
pub fn event_count(opts: &GenerateOptions) -> u64 {
    opts.events.unwrap_or(ScaleParams::of(opts.scale).events)
}

/// The events of `city`, in chunks of whole days, oldest first; deterministic for the seed and
/// streaming (only one chunk is in memory at a time).
pub fn events(city: &City, opts: &GenerateOptions) -> EventStream {
    let params = ScaleParams::of(opts.scale);
    events::stream_of(
        city,
        event_count(opts),
        params.event_days,
        opts.seed,
        opts.as_of(),
    )
}

/// A day of patrol fixes for a sample of the grid workers (see [`workers::fixes`]).
pub fn worker_fixes(city: &City, opts: &GenerateOptions) -> Vec<WorkerFix> {
    let params = ScaleParams::of(opts.scale);
    let grids: Vec<(&str, &Polygon<f64>)> = city
        .dataset
        .areas
        .iter()
        .filter(|a| a.layer == Layer::Base && a.level == Level::Grid)
        .filter_map(|a| a.geometry.0.first().map(|p| (a.code.as_str(), p)))
        .collect();
    workers::fixes(
        &grids,
        opts.as_of(),
        params.fix_workers,
        params.fixes_per_worker,
        opts.seed,
    )
}

fn progress_bar(show: bool, total: u64) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} {msg:<12} [{bar:40}] {human_pos}/{human_len} ({eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Writes `changes` through `target` in batches, advancing the bar.
async fn write_all<W: Writes + ?Sized>(
    target: &W,
    changes: Vec<Change>,
    bar: &ProgressBar,
) -> anyhow::Result<()> {
    for batch in changes.chunks(BATCH) {
        target.commit(batch).await?;
        bar.inc(batch.len() as u64);
    }
    Ok(())
}

/// Generates the city and writes all of it through `target` in batches: areas (parents
/// first), buildings, houses, population, workers, fixes, the basemap, then the events chunk
/// by chunk.
pub async fn generate_into<W: Writes + ?Sized>(
    target: &W,
    opts: &GenerateOptions,
) -> anyhow::Result<GenerateSummary> {
    let owned = *opts;
    let city = tokio::task::spawn_blocking(move || city(&owned)).await??;
    let fixes = worker_fixes(&city, opts);
    let mut stream = events(&city, opts);
    let d = &city.dataset;
    let summary = GenerateSummary {
        areas: d.areas.len() as u64,
        buildings: d.buildings.len() as u64,
        houses: d.houses.len() as u64,
        population_rows: d.population.len() as u64,
        events: stream.total(),
        workers: d.workers.len() as u64,
        worker_fixes: fixes.len() as u64,
    };
    let total = summary.areas
        + summary.buildings
        + summary.houses
        + summary.population_rows
        + summary.events
        + summary.workers
        + summary.worker_fixes
        + d.basemap.len() as u64;
    let bar = progress_bar(opts.progress, total);
    let City { dataset, .. } = city;
    let stages: [(&str, Vec<Change>); 7] = [
        (
            "areas",
            dataset.areas.into_iter().map(Change::UpsertArea).collect(),
        ),
        (
            "buildings",
            dataset
                .buildings
                .into_iter()
                .map(Change::UpsertBuilding)
                .collect(),
        ),
        (
            "houses",
            dataset
                .houses
                .into_iter()
                .map(Change::UpsertHouse)
                .collect(),
        ),
        (
            "population",
            dataset
                .population
                .into_iter()
                .map(Change::SetPopulation)
                .collect(),
        ),
        (
            "workers",
            dataset
                .workers
                .into_iter()
                .map(Change::UpsertWorker)
                .collect(),
        ),
        ("fixes", fixes.into_iter().map(Change::InsertFix).collect()),
        (
            "basemap",
            dataset
                .basemap
                .into_iter()
                .map(Change::UpsertBasemap)
                .collect(),
        ),
    ];
    for (name, changes) in stages {
        bar.set_message(name);
        write_all(target, changes, &bar).await?;
    }
    bar.set_message("events");
    loop {
        // Drawing a chunk is CPU work: keep it off the async workers.
        let (rest, chunk) = tokio::task::spawn_blocking(move || {
            let chunk = stream.next();
            (stream, chunk)
        })
        .await?;
        stream = rest;
        let Some(chunk) = chunk else { break };
        let changes: Vec<Change> = chunk.into_iter().map(Change::UpsertEvent).collect();
        write_all(target, changes, &bar).await?;
    }
    bar.finish_with_message("done");
    target.store().refresh_statistics().await?;
    Ok(summary)
}
