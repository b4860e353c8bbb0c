//! The service clock: the instant every derived time value (an event's `overdue` and card, the
//! time of a transition, a default `reported_at`) is judged at. The system clock in service; a
//! test sets a fixed instant so derived values are predictable.

use std::sync::{Arc, PoisonError, RwLock};

use chrono::{DateTime, Utc};

/// A cheap-to-clone handle on the clock; clones share the setting.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    fixed: Arc<RwLock<Option<DateTime<Utc>>>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// The current instant, truncated to the millisecond (what both stores keep).
    pub fn now(&self) -> DateTime<Utc> {
        let fixed = *self.fixed.read().unwrap_or_else(PoisonError::into_inner);
        let now = fixed.unwrap_or_else(Utc::now);
        DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
    }

    /// Stops the clock at `at` (tests).
    pub fn set(&self, at: DateTime<Utc>) {
        *self.fixed.write().unwrap_or_else(PoisonError::into_inner) = Some(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_clock_is_shared_by_clones() {
        let clock = Clock::system();
        let other = clock.clone();
        let at = DateTime::from_timestamp_millis(1_700_000_000_123).expect("time");
        clock.set(at);
        assert_eq!(other.now(), at);
    }
}
