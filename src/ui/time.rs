//! Times for people: a reset instant in its zone, and how long until it.
use jiff::tz::TimeZone;
use jiff::{Timestamp, Unit};

/// `2026-11-28 00:00 UTC`: an instant in `zone`, to the minute (also used by `doctor`).
pub fn at(t: Timestamp, zone: &TimeZone) -> String {
    t.to_zoned(zone.clone())
        .strftime("%Y-%m-%d %H:%M %Z")
        .to_string()
}

/// `7h 12m` from `now` to `then` (rounded down to the minute).
pub fn until(now: Timestamp, then: Timestamp) -> String {
    let minutes = then
        .since(now)
        .and_then(|span| span.total(Unit::Minute))
        .unwrap_or(0.0)
        .max(0.0) as i64;
    format!("{}h {:02}m", minutes / 60, minutes % 60)
}
