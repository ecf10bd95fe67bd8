//! The day window a budget counts in: the calendar day in the remote's reset time zone.
//!
//! Providers reset daily caps at local midnight of *their* zone (Backblaze B2: 00:00 UTC), not
//! the user's, so the window is computed in the zone named by `budget_reset`. Computing it from
//! civil dates (not `now + 24h`) keeps 23- and 25-hour days right across DST changes.
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::LedgerError;

/// One reset period: counts recorded at `start <= t < end` belong together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The last reset (local midnight in the reset zone).
    pub start: Timestamp,
    /// The next reset; from this instant on the counts start again from zero.
    pub end: Timestamp,
}

impl Window {
    /// The window containing `now` in `tz`.
    pub fn at(now: Timestamp, tz: &TimeZone) -> Result<Window, LedgerError> {
        let zoned = now.to_zoned(tz.clone());
        let start = zoned.start_of_day().map_err(LedgerError::time)?;
        let end = zoned
            .date()
            .tomorrow()
            .and_then(|d| d.to_zoned(tz.clone()))
            .and_then(|z| z.start_of_day())
            .map_err(LedgerError::time)?;
        Ok(Window {
            start: start.timestamp(),
            end: end.timestamp(),
        })
    }

    /// Whether `now` falls before this window's reset. A window that starts after `now` (the
    /// clock went back) still counts: forgetting use could overspend a cap, remembering it can't.
    pub fn is_current(&self, now: Timestamp) -> bool {
        now < self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn utc_window_is_the_utc_calendar_day() {
        let w = Window::at(ts("2026-11-27T23:59:59Z"), &TimeZone::UTC).unwrap();
        assert_eq!(w.start, ts("2026-11-27T00:00:00Z"));
        assert_eq!(w.end, ts("2026-11-28T00:00:00Z"));
        let next = Window::at(ts("2026-11-28T00:00:00Z"), &TimeZone::UTC).unwrap();
        assert_eq!(next.start, w.end);
    }

    #[test]
    fn los_angeles_window_follows_local_midnight_and_dst() {
        let la = TimeZone::get("America/Los_Angeles").unwrap();
        // 07:30 UTC on 27 Nov is 23:30 on 26 Nov in Los Angeles (PST, UTC-8).
        let w = Window::at(ts("2026-11-27T07:30:00Z"), &la).unwrap();
        assert_eq!(w.start, ts("2026-11-26T08:00:00Z"));
        assert_eq!(w.end, ts("2026-11-27T08:00:00Z"));
        // 1 Nov 2026 is the fall-back day: 25 hours long.
        let long = Window::at(ts("2026-11-01T12:00:00Z"), &la).unwrap();
        assert_eq!(long.start, ts("2026-11-01T07:00:00Z"));
        assert_eq!(long.end, ts("2026-11-02T08:00:00Z"));
    }
}
