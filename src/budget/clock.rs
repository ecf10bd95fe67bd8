//! Where "now" comes from, so day windows and resets can be tested without waiting a day.
use jiff::Timestamp;

use super::LedgerError;

/// The environment variable that freezes Ferry's budget clock at an RFC 3339 instant
/// (`2026-11-27T23:30:00Z`). It exists for end-to-end tests of "same day" and "after the reset";
/// unset, the system clock is used.
pub const NOW_ENV: &str = "FERRY_NOW";

/// A source of the current instant.
#[derive(Debug, Clone)]
pub enum Clock {
    /// The system clock.
    System,
    /// Always the same instant (tests, `FERRY_NOW`).
    Fixed(Timestamp),
    /// An instant a unit test moves by hand, shared by every clone (a reset in the middle of a
    /// transfer).
    #[cfg(test)]
    Manual(std::sync::Arc<std::sync::Mutex<Timestamp>>),
}

impl Clock {
    /// `Fixed` when `FERRY_NOW` is set, else `System`; a malformed value is an error rather than
    /// a silent fallback, so a test cannot pass on the wrong clock.
    pub fn from_env() -> Result<Clock, LedgerError> {
        match std::env::var(NOW_ENV) {
            Ok(value) => value
                .trim()
                .parse::<Timestamp>()
                .map(Clock::Fixed)
                .map_err(|e| LedgerError::BadClock {
                    value,
                    reason: e.to_string(),
                }),
            Err(_) => Ok(Clock::System),
        }
    }

    /// The current instant by this clock.
    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::Fixed(t) => *t,
            #[cfg(test)]
            Clock::Manual(t) => *t.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }
}
