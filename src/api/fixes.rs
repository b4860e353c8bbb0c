//! GPS fixes (`POST /api/fixes`): a batch from a worker's phone or a gateway.
//!
//! Each fix is checked on its own (`model::fix_input`): its worker (by code or device id) must
//! be registered and inside the poster's jurisdiction, and its time, position and measures
//! plausible. The fixes that pass are stored in one transaction (durable before the answer)
//! and moved onto the worker board; the answer is 200 with one result per fix in input order:
//! `stored`, `duplicate` (a fix of that worker at that instant is stored already: a retried
//! batch is harmless) or `refused` with a stable code and a message. A fix older than the
//! worker's latest is stored (its track) but does not move the worker back.

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::Json;
use chrono::Duration;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::error::{bad_json, ApiError};
use super::AppState;
use crate::access::{Principal, Role};
use crate::engine::WorkerBoard;
use crate::model::fix_input::{build_fix, implied_speed, refuse, FixInput, FixRefusal, TimeWindow};
use crate::model::WorkerFix;

/// Most fixes one post may carry.
pub const MAX_FIXES: usize = 5_000;

/// The result of one posted fix.
#[derive(Debug, Serialize)]
pub struct FixResult {
    /// `stored`, `duplicate` or `refused`.
    pub status: &'static str,
    /// The worker the fix was resolved to (absent when it could not be).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// Why it was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<RefusalBody>,
}

/// A refusal as JSON.
#[derive(Debug, Serialize)]
pub struct RefusalBody {
    pub code: &'static str,
    pub message: String,
}

/// The answer of `POST /api/fixes`.
#[derive(Debug, Serialize)]
pub struct FixAnswer {
    pub stored: usize,
    pub duplicates: usize,
    pub refused: usize,
    pub results: Vec<FixResult>,
}

/// The body of a post: each fix is kept as its JSON text and read on its own, so that one
/// malformed fix is refused without failing the batch, and no fix is parsed twice.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixBatch {
    fixes: Vec<Box<RawValue>>,
}

/// `POST /api/fixes` with `{"fixes": [...]}`.
pub async fn ingest(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Json<FixBatch>, JsonRejection>,
) -> Result<Json<FixAnswer>, ApiError> {
    if !(principal.has_role(Role::Device) || principal.has_role(Role::Dispatcher)) {
        return Err(ApiError::forbidden_role("device, dispatcher or admin"));
    }
    let Json(FixBatch { fixes: items }) = body.map_err(bad_json)?;
    check_batch_size(&items)?;
    let now = state.clock.now();
    let window = TimeWindow {
        now,
        oldest: now - Duration::days(i64::from(state.workers.retention_days)),
    };
    let checked = {
        let board = state.engine.workers();
        let mut checked: Vec<Result<WorkerFix, FixRefusal>> = items
            .iter()
            .map(|item| check_fix(&board, &principal, item, window))
            .collect();
        refuse_impossible_speeds(&board, &mut checked, state.workers.max_speed_mps);
        checked
    };
    let mut valid = Vec::with_capacity(checked.len());
    let outcomes: Vec<Result<String, FixRefusal>> = checked
        .into_iter()
        .map(|c| {
            c.map(|fix| {
                let worker = fix.worker_code.clone();
                valid.push(fix);
                worker
            })
        })
        .collect();
    let new = state
        .writes
        .ingest_fixes(valid, now)
        .await
        .map_err(|e| ApiError::unavailable(format!("cannot store the fixes: {e}")))?;
    Ok(Json(answer(outcomes, new)))
}

/// A post carries between 1 and [`MAX_FIXES`] fixes.
fn check_batch_size(items: &[Box<RawValue>]) -> Result<(), ApiError> {
    if items.is_empty() {
        return Err(ApiError::bad_request("empty_batch", "\"fixes\" is empty"));
    }
    if items.len() > MAX_FIXES {
        return Err(ApiError::bad_request(
            "too_many_fixes",
            format!(
                "a post carries at most {MAX_FIXES} fixes, this one has {}",
                items.len()
            ),
        ));
    }
    Ok(())
}

/// One fix: its shape, its worker and scope, its fields.
fn check_fix(
    board: &WorkerBoard,
    principal: &Principal,
    item: &RawValue,
    window: TimeWindow,
) -> Result<WorkerFix, FixRefusal> {
    let input: FixInput =
        serde_json::from_str(item.get()).map_err(|e| refuse("bad_fix", e.to_string()))?;
    let code = worker_of(board, &input)?;
    let home = board
        .view(&code)
        .map(|v| v.worker.home_code.as_str())
        .unwrap_or_default();
    if !principal.covers(home) {
        return Err(refuse(
            "out_of_scope",
            format!(
                "worker {code} belongs to {home}, outside your jurisdiction {}",
                principal.scope
            ),
        ));
    }
    build_fix(&input, &code, window)
}

/// The registered worker a fix names by code or by device.
fn worker_of(board: &WorkerBoard, input: &FixInput) -> Result<String, FixRefusal> {
    let by_device = match &input.device {
        Some(device) => Some(board.code_of_device(device).ok_or_else(|| {
            refuse(
                "unknown_worker",
                format!("no worker is registered with device {device:?}"),
            )
        })?),
        None => None,
    };
    match (input.worker.as_deref(), by_device) {
        (None, None) => Err(refuse("missing_worker", "give worker (its code) or device")),
        (Some(code), Some(owner)) if code != owner => Err(refuse(
            "bad_fix",
            format!(
                "device {:?} belongs to worker {owner}, not {code}",
                input.device
            ),
        )),
        (Some(code), _) if board.view(code).is_none() => Err(refuse(
            "unknown_worker",
            format!("no worker {code:?} is registered: import it first"),
        )),
        (Some(code), _) => Ok(code.to_string()),
        (None, Some(owner)) => Ok(owner.to_string()),
    }
}

/// Refuses the fixes that imply a move faster than `max_mps` from the worker's previous fix:
/// its latest on the board, then each accepted fix of the batch in time order.
fn refuse_impossible_speeds(
    board: &WorkerBoard,
    checked: &mut [Result<WorkerFix, FixRefusal>],
    max_mps: f64,
) {
    let mut order: Vec<usize> = (0..checked.len()).filter(|&i| checked[i].is_ok()).collect();
    let key = |i: usize| {
        checked[i]
            .as_ref()
            .ok()
            .map(|f| (f.worker_code.as_str(), f.at))
    };
    order.sort_by(|&a, &b| key(a).cmp(&key(b)));
    // Sorted by worker, a worker's fixes are adjacent: its previous accepted fix in the batch
    // is the last one accepted, if that was the same worker's.
    let mut last_accepted: Option<usize> = None;
    for i in order {
        let Ok(fix) = &checked[i] else { continue };
        let in_batch = last_accepted
            .and_then(|j| checked[j].as_ref().ok())
            .filter(|before| before.worker_code == fix.worker_code);
        // `None`: no previous fix; `Some(None)`: not later than it (an out-of-order fix,
        // stored for the track).
        let speed = in_batch
            .or_else(|| board.view(&fix.worker_code).and_then(|v| v.fix.as_ref()))
            .map(|before| implied_speed(before, fix));
        match speed {
            Some(Some(speed)) if speed > max_mps => {
                let message = format!(
                    "this fix implies {speed:.0} m/s from the worker's previous fix (at most {max_mps} m/s): a GPS jump"
                );
                checked[i] = Err(refuse("impossible_speed", message));
            }
            Some(None) => {}
            _ => last_accepted = Some(i),
        }
    }
}

/// The answer: per fix its worker (when it passed the checks) or its refusal; `new` says, for
/// each fix that passed, whether it was stored.
fn answer(outcomes: Vec<Result<String, FixRefusal>>, new: Vec<bool>) -> FixAnswer {
    let mut new = new.into_iter();
    let results: Vec<FixResult> = outcomes
        .into_iter()
        .map(|c| match c {
            Ok(worker) => FixResult {
                status: if new.next().unwrap_or(false) {
                    "stored"
                } else {
                    "duplicate"
                },
                worker: Some(worker),
                error: None,
            },
            Err(refusal) => FixResult {
                status: "refused",
                worker: None,
                error: Some(RefusalBody {
                    code: refusal.code,
                    message: refusal.message,
                }),
            },
        })
        .collect();
    let count = |status| results.iter().filter(|r| r.status == status).count();
    FixAnswer {
        stored: count("stored"),
        duplicates: count("duplicate"),
        refused: count("refused"),
        results,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};
    use geo_types::Point;

    use super::*;
    use crate::engine::WorkerRules;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, 8, 0, 0)
            .single()
            .expect("time")
            + Duration::seconds(seconds)
    }

    fn fix(worker: &str, seconds: i64, lon: f64) -> Result<WorkerFix, FixRefusal> {
        Ok(WorkerFix {
            worker_code: worker.into(),
            at: at(seconds),
            position: Point::new(lon, 35.7),
            accuracy_m: None,
            speed_mps: None,
            heading_deg: None,
            source_crs: "wgs84".into(),
        })
    }

    fn codes(checked: &[Result<WorkerFix, FixRefusal>]) -> Vec<&str> {
        checked
            .iter()
            .map(|c| c.as_ref().map_or_else(|r| r.code, |_| "ok"))
            .collect()
    }

    #[test]
    fn each_fix_is_measured_against_its_own_worker_s_last_accepted_fix() {
        let worker = |code: &str| crate::model::Worker {
            code: code.into(),
            name: "张三".into(),
            phone: None,
            role: crate::model::WorkerRole::GridWorker,
            home_code: "410611001001001".into(),
            device: None,
        };
        let board = WorkerBoard::new(WorkerRules::default(), vec![worker("a"), worker("b")]);
        // Posted out of order and interleaved: a's jump at 10 s is refused, so its fix at 20 s
        // is measured from 0 s (no move), not from the jump; b's fixes never meet a's.
        let mut checked = vec![
            fix("a", 20, 114.3001),
            fix("b", 15, 114.5001),
            fix("a", 10, 114.4),
            fix("b", 5, 114.5),
            fix("a", 0, 114.3),
        ];
        refuse_impossible_speeds(&board, &mut checked, 60.0);
        assert_eq!(
            codes(&checked),
            ["ok", "ok", "impossible_speed", "ok", "ok"]
        );
    }
}
