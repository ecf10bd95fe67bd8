//! The claims one process holds on one remote's budget, so they can be squared or given back.
//!
//! A limited remote's share of a batch is claimed in the ledger before any download starts
//! ([`Ledger::claim`]): the claim counts as used for every other process at once. Each object
//! then settles its part of the claim against what it really took; what it did not use is
//! given back to the window it was claimed in. If the process is interrupted, every part not
//! yet settled is given back too ([`Claims::give_back_all`], run by the Ctrl-C handler through
//! [`crate::interrupt`]), so a rerun is not refused "over budget" for bytes never downloaded.
use std::collections::BTreeMap;
use std::sync::Mutex;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::{Budget, Claim, Ledger, LedgerError, Usage, Window};

/// Claimed bytes and requests of one window: not yet settled, and settled but unused.
#[derive(Debug, Clone, Copy)]
struct Held {
    window: Window,
    outstanding: (u64, u64),
    unused: (u64, u64),
}

/// One process's claims on one remote (shared by its transfer tasks behind an `Arc`).
#[derive(Debug)]
pub struct Claims {
    ledger: Ledger,
    key: String,
    tz: TimeZone,
    held: Mutex<BTreeMap<Timestamp, Held>>,
}

impl Claims {
    /// No claims yet on the remote whose ledger key is `key`, reset in `tz`.
    pub fn new(ledger: Ledger, key: &str, tz: TimeZone) -> Claims {
        Claims {
            ledger,
            key: key.to_string(),
            tz,
            held: Mutex::new(BTreeMap::new()),
        }
    }

    /// Claims the longest prefix of `costs` that fits `budget` (see [`Ledger::claim`]) and
    /// holds it until it is settled.
    pub fn claim(&self, budget: &Budget, costs: &[(u64, u64)]) -> Result<Claim, LedgerError> {
        let claim = self.ledger.claim(&self.key, &self.tz, budget, costs)?;
        let (bytes, requests) = costs[..claim.granted]
            .iter()
            .fold((0u64, 0u64), |(b, r), (cb, cr)| {
                (b.saturating_add(*cb), r.saturating_add(*cr))
            });
        if claim.granted > 0 {
            let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
            let h = held.entry(claim.window.start).or_insert(Held {
                window: claim.window,
                outstanding: (0, 0),
                unused: (0, 0),
            });
            h.outstanding.0 = h.outstanding.0.saturating_add(bytes);
            h.outstanding.1 = h.outstanding.1.saturating_add(requests);
        }
        Ok(claim)
    }

    /// Squares one object's part of a claim taken in `window`: `reserved` was claimed, `used`
    /// was really taken; the difference (if positive) is given back at the next
    /// [`Claims::give_back`]. What `used` took beyond `reserved` is the caller's to record.
    pub fn settle(&self, window: Window, reserved: (u64, u64), used: (u64, u64)) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(h) = held.get_mut(&window.start) {
            h.outstanding.0 = h.outstanding.0.saturating_sub(reserved.0);
            h.outstanding.1 = h.outstanding.1.saturating_sub(reserved.1);
            h.unused.0 += reserved.0.saturating_sub(used.0);
            h.unused.1 += reserved.1.saturating_sub(used.1);
        }
    }

    /// Gives back what settled objects did not use; returns the use in the current window.
    pub fn give_back(&self) -> Result<Usage, LedgerError> {
        let returns: Vec<(Window, (u64, u64))> = {
            let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
            let out = held
                .values_mut()
                .map(|h| (h.window, std::mem::take(&mut h.unused)))
                .collect();
            held.retain(|_, h| h.outstanding != (0, 0));
            out
        };
        self.release(returns)
    }

    /// Gives back everything still held, settled or not: the process is about to end without
    /// finishing its transfers (Ctrl-C).
    pub fn give_back_all(&self) -> Result<Usage, LedgerError> {
        let returns: Vec<(Window, (u64, u64))> =
            std::mem::take(&mut *self.held.lock().unwrap_or_else(|p| p.into_inner()))
                .into_values()
                .map(|h| {
                    (
                        h.window,
                        (
                            h.unused.0.saturating_add(h.outstanding.0),
                            h.unused.1.saturating_add(h.outstanding.1),
                        ),
                    )
                })
                .collect();
        self.release(returns)
    }

    fn release(&self, returns: Vec<(Window, (u64, u64))>) -> Result<Usage, LedgerError> {
        let mut first_error = None;
        for (window, (bytes, requests)) in returns {
            if let Err(e) = self
                .ledger
                .release(&self.key, &self.tz, window, bytes, requests)
            {
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => self.ledger.usage(&self.key, &self.tz),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::Clock;

    #[test]
    fn settled_parts_give_back_their_unused_share_and_an_interrupt_gives_back_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path())
            .with_clock(Clock::Fixed("2026-11-27T12:00:00Z".parse().unwrap()));
        let claims = Claims::new(ledger.clone(), "s3://b/p", TimeZone::UTC);
        let budget = Budget {
            limit_bytes: Some(10_000),
            limit_requests: Some(100),
            limit_lists: None,
        };
        let claim = claims
            .claim(&budget, &[(1_000, 1), (2_000, 1), (3_000, 1)])
            .unwrap();
        assert_eq!(claim.granted, 3);
        // The first object came in smaller than planned, the second failed after 2 GETs.
        claims.settle(claim.window, (1_000, 1), (900, 1));
        claims.settle(claim.window, (2_000, 1), (0, 2));
        let u = claims.give_back().unwrap();
        assert_eq!(
            (u.bytes, u.requests),
            (3_900, 3),
            "100 + 2,000 bytes back; the extra GET is the caller's to record"
        );
        // Interrupted with the third still in flight: its claim goes back too.
        let u = claims.give_back_all().unwrap();
        assert_eq!((u.bytes, u.requests), (900, 2));
        let u = claims.give_back_all().unwrap();
        assert_eq!(
            (u.bytes, u.requests),
            (900, 2),
            "nothing is given back twice"
        );
    }
}
