//! The seven-step loop (七步闭环) as pure functions: which action moves an event from which
//! state to which, so the API, the importer and the tests share one rule.
//!
//! The steps follow the seed: 问题上报 reported → 案卷建立 registered → 任务指派 dispatched →
//! 调查落实 handling → 处理反馈 feedback → 结案归档 closed → 跟踪评价 evaluated. Two more actions:
//!
//! - **escalate** (逐级上报): "处理不了的可以随时逐级上报" — an open case (reported, registered,
//!   dispatched, handling) the current level cannot handle climbs one level (community → street
//!   → district → city) and starts again as `reported`, because the upper level screens and
//!   registers it itself (甄别, 立案). Not from feedback on (the work is done), not above city.
//! - **return** (退回): one step back — registered → reported, dispatched → registered (the
//!   department declines), handling → dispatched, feedback → handling (现场核实 fails). A case
//!   still `reported` at a level above community goes back to the level below (still
//!   `reported`). Closed and evaluated cases are archived and cannot be returned.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::deadline_hours::Deadlines;
use super::event::{Evaluation, Event, EventStatus, HandlingLevel, Transition};
use super::event_input::{EventFieldError, TextField};

/// What a caller asks of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Register,
    Dispatch,
    Handle,
    Feedback,
    Close,
    Evaluate,
    Escalate,
    Return,
}

impl Action {
    /// All actions, in the order answers list them.
    pub const ALL: [Action; 8] = [
        Action::Register,
        Action::Dispatch,
        Action::Handle,
        Action::Feedback,
        Action::Close,
        Action::Evaluate,
        Action::Escalate,
        Action::Return,
    ];

    /// The stable text form used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Register => "register",
            Action::Dispatch => "dispatch",
            Action::Handle => "handle",
            Action::Feedback => "feedback",
            Action::Close => "close",
            Action::Evaluate => "evaluate",
            Action::Escalate => "escalate",
            Action::Return => "return",
        }
    }

    /// Inverse of [`Action::as_str`].
    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// The part of an event the loop moves: its step and the level handling it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WorkflowState {
    pub status: EventStatus,
    pub level: HandlingLevel,
}

/// The state after `action`, or `None` when the action is not allowed from `state`.
pub fn next(state: WorkflowState, action: Action) -> Option<WorkflowState> {
    use EventStatus::*;
    let WorkflowState { status, level } = state;
    let step = |to| Some(WorkflowState { status: to, level });
    match (action, status) {
        (Action::Register, Reported) => step(Registered),
        (Action::Dispatch, Registered) => step(Dispatched),
        (Action::Handle, Dispatched) => step(Handling),
        (Action::Feedback, Handling) => step(Feedback),
        (Action::Close, Feedback) => step(Closed),
        (Action::Evaluate, Closed) => step(Evaluated),
        (Action::Escalate, Reported | Registered | Dispatched | Handling) => level_above(level)
            .map(|up| WorkflowState {
                status: Reported,
                level: up,
            }),
        (Action::Return, Reported) => level_below(level).map(|down| WorkflowState {
            status: Reported,
            level: down,
        }),
        (Action::Return, Registered) => step(Reported),
        (Action::Return, Dispatched) => step(Registered),
        (Action::Return, Handling) => step(Dispatched),
        (Action::Return, Feedback) => step(Handling),
        _ => None,
    }
}

/// The actions allowed from `state`, in [`Action::ALL`] order (the body of a 409 answer).
pub fn allowed(state: WorkflowState) -> Vec<Action> {
    Action::ALL
        .into_iter()
        .filter(|a| next(state, *a).is_some())
        .collect()
}

/// What a caller sends with an action besides the action itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepInput {
    /// The department now handling the event (required by dispatch).
    pub department: Option<String>,
    /// A note for the log entry.
    pub note: Option<String>,
    /// 1–5, evaluate only.
    pub score: Option<i16>,
    /// evaluate only.
    pub comment: Option<String>,
}

/// Why a step was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkflowError {
    #[error("{} is not allowed for event {code} ({} at {} level); allowed: {}", action.as_str(), from.status.as_str(), from.level.as_str(), names(allowed))]
    NotAllowed {
        code: String,
        action: Action,
        from: WorkflowState,
        allowed: Vec<Action>,
    },
    #[error("score and comment belong to the evaluate action only")]
    UnexpectedEvaluation,
    #[error("dispatch needs the department it goes to")]
    MissingDepartment,
    #[error("evaluate needs a score from 1 to 5")]
    BadScore,
    #[error(transparent)]
    Field(#[from] EventFieldError),
}

impl WorkflowError {
    /// The stable code of the error (the API's `error.code`).
    pub fn code(&self) -> &'static str {
        match self {
            WorkflowError::NotAllowed { .. } => "invalid_transition",
            WorkflowError::UnexpectedEvaluation => "unexpected_evaluation",
            WorkflowError::MissingDepartment => "missing_department",
            WorkflowError::BadScore => "bad_score",
            WorkflowError::Field(e) => e.code(),
        }
    }
}

fn names(actions: &[Action]) -> String {
    if actions.is_empty() {
        "none".to_string()
    } else {
        actions
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The event after `actor` took `action` at `now`: the new status and level, what the action
/// sets (dispatch: the department; escalate, and return to a lower level: no department and
/// the deadline of the new level from `deadlines`; close: `closed_at`; evaluate: the
/// evaluation; any other action: the department when one is given) and the log entry.
pub fn step(
    event: &Event,
    action: Action,
    input: StepInput,
    actor: &str,
    now: DateTime<Utc>,
    deadlines: &Deadlines,
) -> Result<Event, WorkflowError> {
    let from = WorkflowState {
        status: event.status,
        level: event.level,
    };
    let to = next(from, action).ok_or_else(|| WorkflowError::NotAllowed {
        code: event.code.clone(),
        action,
        from,
        allowed: allowed(from),
    })?;
    let department = TextField::DEPARTMENT.check(input.department)?;
    let note = TextField::NOTE.check(input.note)?;
    let comment = TextField::COMMENT.check(input.comment)?;
    if (input.score.is_some() || comment.is_some()) && action != Action::Evaluate {
        return Err(WorkflowError::UnexpectedEvaluation);
    }
    let mut after = event.clone();
    after.status = to.status;
    after.level = to.level;
    match action {
        Action::Dispatch => {
            after.department = Some(department.ok_or(WorkflowError::MissingDepartment)?);
        }
        Action::Escalate | Action::Return if to.level != event.level => {
            after.department = None;
            after.deadline = Some(deadlines.deadline(&event.category, to.level, event.reported_at));
        }
        Action::Close => after.closed_at = Some(now),
        Action::Evaluate => {
            let score = input
                .score
                .filter(|s| (1..=5).contains(s))
                .ok_or(WorkflowError::BadScore)?;
            after.evaluation = Some(Evaluation { score, comment });
        }
        _ => {
            if department.is_some() {
                after.department = department;
            }
        }
    }
    after.transitions.push(Transition {
        at: now,
        from: Some(event.status),
        to: to.status,
        actor: actor.to_string(),
        level: to.level,
        department: after.department.clone(),
        note,
    });
    Ok(after)
}

fn level_above(level: HandlingLevel) -> Option<HandlingLevel> {
    match level {
        HandlingLevel::Community => Some(HandlingLevel::Street),
        HandlingLevel::Street => Some(HandlingLevel::District),
        HandlingLevel::District => Some(HandlingLevel::City),
        HandlingLevel::City => None,
    }
}

fn level_below(level: HandlingLevel) -> Option<HandlingLevel> {
    match level {
        HandlingLevel::Community => None,
        HandlingLevel::Street => Some(HandlingLevel::Community),
        HandlingLevel::District => Some(HandlingLevel::Street),
        HandlingLevel::City => Some(HandlingLevel::District),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventStatus::*;
    use HandlingLevel::*;

    fn at(status: EventStatus, level: HandlingLevel) -> WorkflowState {
        WorkflowState { status, level }
    }

    /// The expected outcome of every (status, level, action), written as a table independent
    /// of `next`: the forward step, escalate's and return's rules from the module doc.
    fn expected(
        status: EventStatus,
        level: HandlingLevel,
        action: Action,
    ) -> Option<WorkflowState> {
        let forward = [
            (Reported, Action::Register, Registered),
            (Registered, Action::Dispatch, Dispatched),
            (Dispatched, Action::Handle, Handling),
            (Handling, Action::Feedback, Feedback),
            (Feedback, Action::Close, Closed),
            (Closed, Action::Evaluate, Evaluated),
        ];
        let back = [
            (Registered, Reported),
            (Dispatched, Registered),
            (Handling, Dispatched),
            (Feedback, Handling),
        ];
        let levels = [Community, Street, District, City];
        let index = levels.iter().position(|l| *l == level).expect("level");
        match action {
            Action::Escalate => {
                let open = [Reported, Registered, Dispatched, Handling].contains(&status);
                (open && index < 3).then(|| at(Reported, levels[index + 1]))
            }
            Action::Return if status == Reported => {
                (index > 0).then(|| at(Reported, levels[index - 1]))
            }
            Action::Return => back
                .iter()
                .find(|(from, _)| *from == status)
                .map(|(_, to)| at(*to, level)),
            _ => forward
                .iter()
                .find(|(from, a, _)| *from == status && *a == action)
                .map(|(_, _, to)| at(*to, level)),
        }
    }

    #[test]
    fn every_pair_matches_the_table() {
        let mut allowed_count = 0;
        for status in EventStatus::ALL {
            for level in HandlingLevel::ALL {
                for action in Action::ALL {
                    let got = next(at(status, level), action);
                    assert_eq!(
                        got,
                        expected(status, level, action),
                        "{status:?} {level:?} {action:?}"
                    );
                    allowed_count += usize::from(got.is_some());
                }
            }
        }
        // 6 forward steps × 4 levels, escalate 4 statuses × 3 levels, return 4 × 4 + 3.
        assert_eq!(allowed_count, 24 + 12 + 19);
    }

    #[test]
    fn archived_cases_allow_only_evaluation() {
        assert_eq!(allowed(at(Closed, City)), vec![Action::Evaluate]);
        assert!(allowed(at(Evaluated, Community)).is_empty());
    }

    #[test]
    fn community_reported_cannot_be_returned_and_city_cannot_escalate() {
        assert_eq!(
            allowed(at(Reported, Community)),
            vec![Action::Register, Action::Escalate]
        );
        assert_eq!(
            allowed(at(Reported, City)),
            vec![Action::Register, Action::Return]
        );
    }

    #[test]
    fn escalate_restarts_at_the_upper_level() {
        assert_eq!(
            next(at(Handling, Street), Action::Escalate),
            Some(at(Reported, District))
        );
    }

    fn event(status: EventStatus, level: HandlingLevel) -> Event {
        let reported_at = DateTime::from_timestamp(1_780_000_000, 0).expect("time");
        Event {
            code: "E20260528000001".into(),
            external_id: Some("HL-1".into()),
            idempotency_scope: "410611".into(),
            title: "井盖缺失".into(),
            category: "0102".into(),
            source: crate::model::EventSource::Hotline,
            content: String::new(),
            reporter_name: None,
            reporter_phone: None,
            location: geo_types::Point::new(114.3, 35.75),
            address: None,
            area_code: Some("410611001001001".into()),
            outside_grid: false,
            status,
            level,
            department: Some("区城管局".into()),
            reported_at,
            deadline: None,
            closed_at: None,
            evaluation: None,
            transitions: Vec::new(),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_100_000, 0).expect("time")
    }

    fn take(e: &Event, action: Action, input: StepInput) -> Result<Event, WorkflowError> {
        step(e, action, input, "u1", now(), &Deadlines::builtin())
    }

    #[test]
    fn step_refuses_what_the_table_refuses_and_names_the_allowed() {
        let e = event(Closed, Community);
        let err = take(&e, Action::Dispatch, StepInput::default()).expect_err("refused");
        assert_eq!(err.code(), "invalid_transition");
        assert!(err.to_string().ends_with("allowed: evaluate"), "{err}");
    }

    #[test]
    fn dispatch_needs_a_department_and_logs_it() {
        let e = event(Registered, Community);
        assert_eq!(
            take(&e, Action::Dispatch, StepInput::default()),
            Err(WorkflowError::MissingDepartment)
        );
        let input = StepInput {
            department: Some(" 区环卫处 ".into()),
            note: Some("urgent".into()),
            ..StepInput::default()
        };
        let after = take(&e, Action::Dispatch, input).expect("dispatched");
        assert_eq!(after.status, Dispatched);
        assert_eq!(after.department.as_deref(), Some("区环卫处"));
        let log = after.transitions.last().expect("log entry");
        assert_eq!(
            (log.from, log.to, log.actor.as_str(), log.at),
            (Some(Registered), Dispatched, "u1", now())
        );
        assert_eq!(log.note.as_deref(), Some("urgent"));
        assert_eq!(log.department.as_deref(), Some("区环卫处"));
    }

    #[test]
    fn escalate_clears_the_department_and_rederives_the_deadline() {
        let e = event(Handling, Community);
        let after = take(&e, Action::Escalate, StepInput::default()).expect("escalated");
        assert_eq!((after.status, after.level), (Reported, Street));
        assert_eq!(after.department, None);
        let hours = Deadlines::builtin().deadline("0102", Street, e.reported_at);
        assert_eq!(after.deadline, Some(hours));
        let back = take(&after, Action::Return, StepInput::default()).expect("returned");
        assert_eq!(back.level, Community);
        assert_eq!(
            back.deadline,
            Some(Deadlines::builtin().deadline("0102", Community, e.reported_at))
        );
    }

    #[test]
    fn close_stamps_and_evaluate_needs_a_score() {
        let closed = take(
            &event(Feedback, Street),
            Action::Close,
            StepInput::default(),
        )
        .expect("closed");
        assert_eq!(closed.closed_at, Some(now()));
        assert_eq!(
            take(&closed, Action::Evaluate, StepInput::default()),
            Err(WorkflowError::BadScore)
        );
        let input = StepInput {
            score: Some(4),
            comment: Some("ok".into()),
            ..StepInput::default()
        };
        let evaluated = take(&closed, Action::Evaluate, input).expect("evaluated");
        assert_eq!(
            evaluated.evaluation,
            Some(Evaluation {
                score: 4,
                comment: Some("ok".into())
            })
        );
        let stray = StepInput {
            score: Some(4),
            ..StepInput::default()
        };
        assert_eq!(
            take(&event(Reported, Community), Action::Register, stray),
            Err(WorkflowError::UnexpectedEvaluation)
        );
    }

    #[test]
    fn step_texts_are_capped() {
        let input = StepInput {
            note: Some("n".repeat(2_001)),
            ..StepInput::default()
        };
        let err = take(&event(Reported, Community), Action::Register, input).expect_err("long");
        assert_eq!(err.code(), "too_long");
        assert!(
            err.to_string().starts_with("note is limited to 2000"),
            "{err}"
        );
    }

    #[test]
    fn action_names_round_trip() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        assert_eq!(Action::parse("approve"), None);
    }
}
