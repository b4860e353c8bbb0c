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

use serde::{Deserialize, Serialize};

use super::event::{EventStatus, HandlingLevel};

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

/// Whether an event in `status` is still open (its deadline runs).
pub fn is_open(status: EventStatus) -> bool {
    !matches!(status, EventStatus::Closed | EventStatus::Evaluated)
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

    #[test]
    fn action_names_round_trip() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        assert_eq!(Action::parse("approve"), None);
    }
}
