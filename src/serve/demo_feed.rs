//! The demo feed: in demo mode (no JWT secret configured) the service plays a city at work, so
//! the wall map of a fresh machine is alive. Every [`PERIOD`] it files one new report at a
//! random place inside a grid, as the 12345 hotline or a patrol would, and moves one open event
//! a step along the seven-step loop, as the departments would; every [`patrol::FIX_PERIOD`] a
//! handful of grid workers send a GPS fix as they patrol, one of them now and then staying out
//! of its grid long enough to be alerted ([`patrol`]). All of it goes through the one write path,
//! like any other writer, so tiles, statistics, the worker board and live subscribers follow.
//! `serve --no-demo-feed`, or a configured secret, turns it off.

pub mod patrol;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::engine::events::EventFilter;
use crate::engine::Engine;
use crate::generate::events::draw_report;
use crate::model::deadline_hours::Deadlines;
use crate::model::event_input::{EventStanding, ValidFields};
use crate::model::workflow::{self, Action, StepInput, WorkflowState};
use crate::model::{Event, EventSource, EventStatus, HandlingLevel};
use crate::store::Store;
use crate::write::WritePath;

/// Seconds between two rounds of the feed.
pub const PERIOD: Duration = Duration::from_secs(15);
/// Who the feed's steps are logged as.
const ACTOR: &str = "demo-feed";
/// The scope the feed's idempotency keys live in (the whole city).
const KEY_SCOPE: &str = "410600";
/// Random places tried before a round gives up finding one inside a grid.
const PLACE_TRIES: usize = 64;
/// Open events the feed chooses the next step among (the newest ones).
const STEP_CANDIDATES: usize = 200;

/// What the feed writes through.
#[derive(Clone)]
pub struct Feed {
    pub engine: Arc<Engine>,
    pub store: Arc<dyn Store>,
    pub writes: Arc<WritePath>,
    pub clock: Clock,
    pub deadlines: Arc<Deadlines>,
}

/// Runs the feed until the task is aborted: a round every [`PERIOD`], a patrol every
/// [`patrol::FIX_PERIOD`]. A failed round or patrol is logged and the next one tries again.
pub fn spawn(feed: Feed) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut rng = ChaCha8Rng::from_os_rng();
        let mut rounds = every(PERIOD);
        let mut patrols = every(patrol::FIX_PERIOD);
        loop {
            let done = tokio::select! {
                _ = rounds.tick() => feed.round(&mut rng).await,
                _ = patrols.tick() => feed.patrol(&mut rng).await,
            };
            if let Err(e) = done {
                tracing::warn!(error = %e, "demo feed failed");
            }
        }
    })
}

fn every(period: Duration) -> tokio::time::Interval {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks
}

impl Feed {
    /// One round: a new report, then one step of an open event.
    pub async fn round(&self, rng: &mut ChaCha8Rng) -> anyhow::Result<()> {
        let now = self.clock.now();
        if let Some(event) = self.new_report(rng, now) {
            self.writes.ingest_events(&[event]).await?;
        }
        self.advance_one(rng, now).await
    }

    /// One patrol: a fix at now for each walker (see [`patrol`]), through the write path.
    pub async fn patrol(&self, rng: &mut ChaCha8Rng) -> anyhow::Result<()> {
        let now = self.clock.now();
        let fixes: Vec<_> = {
            let board = self.engine.workers();
            let dwell = board.rules().dwell;
            let walkers = patrol::walkers(&self.engine.snapshot(), &board);
            walkers
                .iter()
                .enumerate()
                .map(|(i, w)| w.next_fix(now, i == 0 && patrol::stray_out(now, dwell), rng))
                .collect()
        };
        self.writes.ingest_fixes(fixes, now).await?;
        Ok(())
    }

    /// A report at a random place inside a grid of the city (`None` when none was found).
    fn new_report(&self, rng: &mut ChaCha8Rng, now: DateTime<Utc>) -> Option<Event> {
        let snapshot = self.engine.snapshot();
        let extent = snapshot.city_extent()?;
        let (lon, lat) = (0..PLACE_TRIES).find_map(|_| {
            let lon = rng.random_range(extent.min().x..extent.max().x);
            let lat = rng.random_range(extent.min().y..extent.max().y);
            snapshot.grid_at(lon, lat).map(|_| (lon, lat))
        })?;
        // The deepest base area (a micro-grid where there is one), as for a posted event.
        let area = snapshot.lookup(lon, lat).first().map(|a| a.code.clone());
        let report = draw_report(rng);
        let source = *[
            EventSource::Hotline,
            EventSource::Patrol,
            EventSource::App,
            EventSource::Wechat,
        ]
        .choose(rng)?;
        let level = HandlingLevel::Community;
        let fields = ValidFields {
            external_id: Some(format!("demo-{}", uuid::Uuid::new_v4())),
            source,
            category: report.code.to_string(),
            title: report.name().to_string(),
            content: report.detail.to_string(),
            reporter_name: None,
            reporter_phone: None,
            address: None,
            location: geo_types::Point::new(lon, lat),
            reported_at: now,
        };
        let standing = EventStanding {
            code: String::new(),
            idempotency_scope: KEY_SCOPE.to_string(),
            area_code: area,
            outside_grid: false,
            status: EventStatus::Reported,
            level,
            department: None,
            deadline: Some(self.deadlines.deadline(report.code, level, now)),
            closed_at: None,
            evaluation: None,
            actor: ACTOR.to_string(),
            note: None,
        };
        Some(fields.into_event(standing))
    }

    /// Moves one of the newest open events one step forward (the first forward action the
    /// loop allows: register, dispatch, handle, feedback, close).
    async fn advance_one(&self, rng: &mut ChaCha8Rng, now: DateTime<Utc>) -> anyhow::Result<()> {
        let mut filter = EventFilter::at(now);
        filter.statuses = EventStatus::ALL
            .into_iter()
            .filter(|s| s.is_open())
            .collect();
        let keys = self
            .engine
            .snapshot()
            .events()
            .page(&filter, None, STEP_CANDIDATES);
        let Some(key) = keys.choose(rng) else {
            return Ok(());
        };
        let Some(event) = self.store.event(&key.code).await? else {
            return Ok(());
        };
        let state = WorkflowState {
            status: event.status,
            level: event.level,
        };
        let forward = [
            Action::Register,
            Action::Dispatch,
            Action::Handle,
            Action::Feedback,
            Action::Close,
        ];
        let Some(action) = workflow::allowed(state)
            .into_iter()
            .find(|a| forward.contains(a))
        else {
            return Ok(());
        };
        let input = StepInput {
            department: (action == Action::Dispatch)
                .then(|| crate::generate::events::department_of(&event.category).to_string()),
            ..StepInput::default()
        };
        let next = workflow::step(&event, action, input, ACTOR, now, &self.deadlines)?;
        self.writes
            .transition_event(&next, event.transitions.len())
            .await?;
        Ok(())
    }
}
