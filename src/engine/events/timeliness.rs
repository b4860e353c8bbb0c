//! 限时办结: whether an event is overdue and its yellow/red card (黄牌/红牌), derived from the
//! status, the report time, the deadline and the closing time at a given `now` — never stored,
//! so they are never stale.
//!
//! The rule:
//! - An event without a deadline is never overdue and gets no card.
//! - Open (status before 结案 closed): overdue when `deadline < now`; the card is red when
//!   overdue, yellow in the last quarter of the allotted time (`now ≥ deadline − (deadline −
//!   reported_at) / 4`, e.g. the last 6 h of a 24 h deadline), none before.
//! - Closed or evaluated: never overdue; the card is red when it was closed after the deadline
//!   (超期办结, it counts against the handler in 考核), none otherwise.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::packing::{pack_opt_time, pack_time, NO_TIME};
use crate::model::{Event, EventStatus};

/// The yellow/red card of an event at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Card {
    None,
    Yellow,
    Red,
}

/// Whether the status of each index of [`EventStatus::ALL`] is closed
/// ([`EventStatus::is_open`], the one rule, evaluated at compile time).
const CLOSED_BY_INDEX: [bool; EventStatus::ALL.len()] = {
    let mut closed = [false; EventStatus::ALL.len()];
    let mut i = 0;
    while i < closed.len() {
        closed[i] = !EventStatus::ALL[i].is_open();
        i += 1;
    }
    closed
};

/// Whether a status index (into [`EventStatus::ALL`]) means the event is closed.
pub(super) fn closed_status(status: u8) -> bool {
    CLOSED_BY_INDEX
        .get(usize::from(status))
        .copied()
        .unwrap_or(false)
}

/// Overdue on packed values (see the module documentation).
pub(super) fn overdue_packed(status: u8, deadline: u32, now: u32) -> bool {
    deadline != NO_TIME && !closed_status(status) && deadline < now
}

/// The card on packed values (see the module documentation).
pub(super) fn card_packed(status: u8, reported: u32, deadline: u32, closed: u32, now: u32) -> Card {
    if deadline == NO_TIME {
        return Card::None;
    }
    if closed_status(status) {
        return if closed != NO_TIME && closed > deadline {
            Card::Red
        } else {
            Card::None
        };
    }
    if deadline < now {
        return Card::Red;
    }
    let allotted = deadline.saturating_sub(reported);
    if now >= deadline - allotted / 4 {
        Card::Yellow
    } else {
        Card::None
    }
}

/// The index of a status in [`EventStatus::ALL`].
pub(super) fn status_index(s: EventStatus) -> u8 {
    EventStatus::ALL.iter().position(|&v| v == s).unwrap_or(0) as u8
}

/// Whether the event is overdue at `now`.
pub fn overdue_at(event: &Event, now: DateTime<Utc>) -> bool {
    overdue_packed(
        status_index(event.status),
        pack_opt_time(event.deadline),
        pack_time(now),
    )
}

/// The event's card at `now`.
pub fn card_at(event: &Event, now: DateTime<Utc>) -> Card {
    card_packed(
        status_index(event.status),
        pack_time(event.reported_at),
        pack_opt_time(event.deadline),
        pack_opt_time(event.closed_at),
        pack_time(now),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u32 = 3600;

    #[test]
    fn no_deadline_means_no_card() {
        assert!(!overdue_packed(0, NO_TIME, 10 * H));
        assert_eq!(card_packed(0, 0, NO_TIME, NO_TIME, 10 * H), Card::None);
    }

    #[test]
    fn open_event_turns_yellow_then_red() {
        let (rep, dl) = (100 * H, 124 * H);
        assert_eq!(card_packed(2, rep, dl, NO_TIME, rep + H), Card::None);
        assert_eq!(card_packed(2, rep, dl, NO_TIME, dl - 6 * H - 1), Card::None);
        assert_eq!(card_packed(2, rep, dl, NO_TIME, dl - 6 * H), Card::Yellow);
        assert_eq!(card_packed(2, rep, dl, NO_TIME, dl), Card::Yellow);
        assert!(!overdue_packed(2, dl, dl));
        assert_eq!(card_packed(2, rep, dl, NO_TIME, dl + 1), Card::Red);
        assert!(overdue_packed(2, dl, dl + 1));
    }

    #[test]
    fn packed_statuses_follow_the_one_open_rule() {
        for (i, status) in EventStatus::ALL.into_iter().enumerate() {
            assert_eq!(closed_status(i as u8), !status.is_open(), "{status:?}");
            assert_eq!(status_index(status), i as u8);
        }
    }

    #[test]
    fn closed_event_is_never_overdue_and_red_only_when_late() {
        let (rep, dl) = (100 * H, 124 * H);
        for closed_status in [5, 6] {
            assert!(!overdue_packed(closed_status, dl, dl + 100 * H));
            assert_eq!(card_packed(closed_status, rep, dl, dl, dl + H), Card::None);
            assert_eq!(
                card_packed(closed_status, rep, dl, dl + 1, dl + H),
                Card::Red
            );
        }
    }
}
