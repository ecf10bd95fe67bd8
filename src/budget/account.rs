//! One remote's budget account for one process: its limits, the meter that records what its
//! requests really cost, the claims a router takes before downloading, and the cap the server
//! reported. The remote's layer stack ([`crate::remote::Stack`]) charges every request and every
//! byte received here, and asks it before each request whether the request still fits, so no
//! road to a remote bypasses the budget.
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::{Budget, Claims, Ledger, LedgerError, Meter, Usage};

/// A remote's account: shared by its layer stack (which charges and checks) and by the router
/// (which claims and settles), behind an `Arc`.
#[derive(Debug)]
pub struct Account {
    ledger: Ledger,
    key: String,
    tz: TimeZone,
    limits: Budget,
    meter: Meter,
    claims: Option<Arc<Claims>>,
    capped_until: Option<Timestamp>,
    view: Mutex<View>,
}

/// What this process believes the remote has used today: the ledger's totals when last read
/// (every process's use and claims), plus what this process charged since, plus what requests
/// in flight have reserved (so concurrent requests cannot pass a limit together).
#[derive(Debug, Clone, Copy, Default)]
struct View {
    base: (u64, u64),
    since: (u64, u64),
    inflight: (u64, u64),
    /// The ledger window of the claims in flight (see [`Account::reserve`]).
    window: Option<super::Window>,
}

impl View {
    fn fits(&self, limits: &Budget, bytes: u64, requests: u64) -> bool {
        let fits = |limit: Option<u64>, parts: [u64; 4]| {
            limit.is_none_or(|l| parts.iter().fold(0u64, |a, b| a.saturating_add(*b)) <= l)
        };
        fits(
            limits.limit_bytes,
            [self.base.0, self.since.0, self.inflight.0, bytes],
        ) && fits(
            limits.limit_requests,
            [self.base.1, self.since.1, self.inflight.1, requests],
        )
    }
}

impl Account {
    /// The account of the remote whose ledger key is `key`, reset in `tz`, with `limits`; reads
    /// today's use and any cap the ledger remembers. A ledger that cannot be read counts as no
    /// use (see the module doc of [`crate::budget`]).
    pub fn open(ledger: &Ledger, key: &str, tz: &TimeZone, limits: Budget) -> Account {
        let usage = ledger.usage(key, tz).ok();
        let limited = limits.limit_bytes.is_some() || limits.limit_requests.is_some();
        Account {
            meter: ledger.meter(key, tz),
            claims: limited.then(|| Arc::new(Claims::new(ledger.clone(), key, tz.clone()))),
            capped_until: usage.as_ref().and_then(|u| u.capped_until),
            view: Mutex::new(View {
                base: usage.map(|u| (u.bytes, u.requests)).unwrap_or_default(),
                ..View::default()
            }),
            ledger: ledger.clone(),
            key: key.to_string(),
            tz: tz.clone(),
            limits,
        }
    }

    /// The configured daily limits.
    pub fn limits(&self) -> Budget {
        self.limits
    }

    /// Whether a daily limit is configured (then the router claims before downloading).
    pub fn is_limited(&self) -> bool {
        self.claims.is_some()
    }

    /// The claims a router takes on this remote (`None` without a limit).
    pub fn claims(&self) -> Option<&Arc<Claims>> {
        self.claims.as_ref()
    }

    /// The cap the ledger remembered when the account was opened: until when.
    pub fn capped_until(&self) -> Option<Timestamp> {
        self.capped_until
    }

    /// Today's use as the ledger has it now (after flushing this process's counts).
    pub fn usage(&self) -> Result<Usage, LedgerError> {
        self.meter.flush()?;
        self.ledger.usage(&self.key, &self.tz)
    }

    /// Charges what one request cost: `bytes` received and `requests` sent. Never fails (the
    /// meter keeps counts it could not write and warns once).
    pub fn charge(&self, bytes: u64, requests: u64) {
        if bytes == 0 && requests == 0 {
            return;
        }
        let mut v = self.view.lock().unwrap_or_else(|p| p.into_inner());
        v.since.0 = v.since.0.saturating_add(bytes);
        v.since.1 = v.since.1.saturating_add(requests);
        self.meter.add(bytes, requests);
    }

    /// Whether `requests` more requests bringing `bytes` more bytes stay within today's limits,
    /// by this process's view (conservative: claims still held count as used as well).
    pub fn room(&self, bytes: u64, requests: u64) -> bool {
        let v = *self.view.lock().unwrap_or_else(|p| p.into_inner());
        v.fits(&self.limits, bytes, requests)
    }

    /// Holds `bytes` and `requests` for one request about to be sent, if they fit; the caller
    /// gives them back with [`Account::unreserve`] once the request's real cost is charged.
    /// On a limited remote the hold is also a claim in the ledger (after this process's
    /// metered use is written there), so requests of two processes at once cannot pass a limit
    /// together either.
    pub fn reserve(&self, bytes: u64, requests: u64) -> bool {
        let mut v = self.view.lock().unwrap_or_else(|p| p.into_inner());
        if !v.fits(&self.limits, bytes, requests) {
            return false;
        }
        if let Some(claims) = &self.claims {
            let claimed = self
                .meter
                .flush()
                .and_then(|()| claims.claim(&self.limits, &[(bytes, requests)]));
            match claimed {
                Ok(claim) if claim.granted == 1 => v.window = Some(claim.window),
                Ok(_) => return false,
                Err(e) => tracing::warn!(
                    "could not claim budget in the ledger ({e}); going by this process's view"
                ),
            }
        }
        v.inflight.0 = v.inflight.0.saturating_add(bytes);
        v.inflight.1 = v.inflight.1.saturating_add(requests);
        true
    }

    /// Gives back what [`Account::reserve`] held: the request's real cost has been charged to
    /// the meter, which is written to the ledger before the claim goes back (so the ledger never
    /// holds less than what was used).
    pub fn unreserve(&self, bytes: u64, requests: u64) {
        let mut v = self.view.lock().unwrap_or_else(|p| p.into_inner());
        v.inflight.0 = v.inflight.0.saturating_sub(bytes);
        v.inflight.1 = v.inflight.1.saturating_sub(requests);
        if let (Some(claims), Some(window)) = (&self.claims, v.window) {
            claims.settle(window, (bytes, requests), (0, 0));
            if let Err(e) = self
                .meter
                .flush()
                .and_then(|()| claims.give_back().map(|_| ()))
            {
                tracing::warn!("could not give back a budget claim: {e}");
            }
        }
    }

    /// Writes pending counts to the ledger and re-reads the day's use (other processes may have
    /// used some); returns it.
    pub fn refresh(&self) -> Result<Usage, LedgerError> {
        let mut v = self.view.lock().unwrap_or_else(|p| p.into_inner());
        self.meter.flush()?;
        let usage = self.ledger.usage(&self.key, &self.tz)?;
        v.base = (usage.bytes, usage.requests);
        v.since = (0, 0);
        Ok(usage)
    }

    /// Records in the ledger that the server reported its cap, so later runs that day skip the
    /// remote without a request; returns when the cap resets.
    pub fn mark_capped(&self) -> Result<Timestamp, LedgerError> {
        self.ledger.mark_capped(&self.key, &self.tz)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::Clock;

    #[test]
    fn charges_reach_the_ledger_and_room_counts_them() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path())
            .with_clock(Clock::Fixed("2026-11-27T12:00:00Z".parse().unwrap()));
        ledger.record("s3://b/p", &TimeZone::UTC, 100, 1).unwrap();
        let limits = Budget {
            limit_bytes: Some(1_000),
            limit_requests: Some(4),
        };
        let account = Account::open(&ledger, "s3://b/p", &TimeZone::UTC, limits);
        assert!(account.is_limited());
        assert!(account.room(900, 3));
        account.charge(500, 2);
        assert!(
            !account.room(401, 1),
            "100 + 500 + 401 bytes pass the limit"
        );
        assert!(account.room(400, 1));
        assert!(!account.room(0, 2), "1 + 2 + 2 requests pass the limit");
        assert!(account.reserve(300, 1));
        assert!(!account.reserve(101, 0), "what is in flight counts");
        account.unreserve(300, 1);
        assert!(account.reserve(400, 1));
        account.unreserve(400, 1);
        let u = account.refresh().unwrap();
        assert_eq!((u.bytes, u.requests), (600, 3));
        assert!(account.room(400, 1) && !account.room(401, 1));
    }

    #[test]
    fn reservations_of_two_processes_share_one_limit() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path())
            .with_clock(Clock::Fixed("2026-11-27T12:00:00Z".parse().unwrap()));
        let limits = Budget {
            limit_bytes: Some(1_000),
            limit_requests: None,
        };
        // two accounts on one ledger: two processes on one remote
        let one = Account::open(&ledger, "s3://b/p", &TimeZone::UTC, limits);
        let two = Account::open(&ledger, "s3://b/p", &TimeZone::UTC, limits);
        assert!(one.reserve(600, 1));
        assert!(
            !two.reserve(600, 1),
            "the other process's reservation is claimed in the ledger"
        );
        one.charge(600, 1);
        one.unreserve(600, 1);
        assert!(!two.reserve(600, 1), "600 bytes were used, and recorded");
        assert!(two.reserve(400, 1));
        two.charge(400, 1);
        two.unreserve(400, 1);
        let u = ledger.usage("s3://b/p", &TimeZone::UTC).unwrap();
        assert_eq!((u.bytes, u.requests), (1_000, 2), "exactly what was used");
    }
}
