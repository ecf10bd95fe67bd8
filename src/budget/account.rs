//! One remote's budget account for one process: its limits, the meter that records what its
//! requests really cost, the claims a router takes before downloading, and the cap the server
//! reported. The remote's layer stack ([`crate::remote::Stack`]) charges every request and every
//! byte received here, and asks it before each request whether the request still fits, so no
//! road to a remote bypasses the budget.
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::{Budget, Claims, Ledger, LedgerError, Meter, Team, Usage};

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
    capped_until: Mutex<Option<Timestamp>>,
    view: Mutex<View>,
    /// The team ledger this remote's use is shared through (limited remotes only).
    team: Option<Arc<Team>>,
}

/// `[bytes, Class B calls (GET/HEAD), Class C calls (LIST)]`: what a request costs, in the three
/// meters B2 bills by.
pub type Cost = [u64; 3];

/// What this process believes the remote has used today: the ledger's totals when last read
/// (every process's use and claims), plus what this process charged since, plus what requests
/// in flight have reserved (so concurrent requests cannot pass a limit together).
#[derive(Debug, Clone, Copy, Default)]
struct View {
    base: Cost,
    since: Cost,
    inflight: Cost,
    /// The ledger window of the claims in flight (see [`Account::reserve_cost`]).
    window: Option<super::Window>,
}

impl View {
    fn fits(&self, limits: &Budget, need: Cost) -> bool {
        let caps = [
            limits.limit_bytes,
            limits.limit_requests,
            limits.limit_lists,
        ];
        (0..3).all(|i| {
            caps[i].is_none_or(|l| {
                [self.base[i], self.since[i], self.inflight[i], need[i]]
                    .iter()
                    .fold(0u64, |a, b| a.saturating_add(*b))
                    <= l
            })
        })
    }
}

fn add(to: &mut Cost, cost: Cost) {
    for (t, c) in to.iter_mut().zip(cost) {
        *t = t.saturating_add(c);
    }
}

fn of(u: &Usage) -> Cost {
    [u.bytes, u.requests, u.lists]
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
            capped_until: Mutex::new(usage.as_ref().and_then(|u| u.capped_until)),
            view: Mutex::new(View {
                base: usage.as_ref().map(of).unwrap_or_default(),
                ..View::default()
            }),
            ledger: ledger.clone(),
            key: key.to_string(),
            tz: tz.clone(),
            limits,
            team: None,
        }
    }

    /// This account with its use shared through `team` (a limited remote only): the team's use
    /// today is read now (one LIST) and counts against the limits; what this process used is
    /// published when the account is dropped (one PUT).
    pub fn with_team(mut self, team: Option<Arc<Team>>) -> Account {
        let Some(team) = team.filter(|_| self.limits.is_limited()) else {
            return self;
        };
        if let Err(why) = team.refresh(&self.key, &self.tz) {
            team.warn_unreadable(&why);
        }
        if let Err(e) = self.refresh() {
            self.warn_ledger(&e);
        }
        self.team = Some(team);
        self
    }

    /// The configured daily limits.
    pub fn limits(&self) -> Budget {
        self.limits
    }

    /// Whether a daily download or Class B limit is configured (then the router claims before
    /// downloading).
    pub fn is_limited(&self) -> bool {
        self.claims.is_some()
    }

    /// The claims a router takes on this remote (`None` without a limit).
    pub fn claims(&self) -> Option<&Arc<Claims>> {
        self.claims.as_ref()
    }

    /// The cap the ledger remembered when the account was opened (until when), unless it was
    /// cleared since ([`Account::clear_cap`]).
    pub fn capped_until(&self) -> Option<Timestamp> {
        *self.capped_until.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes this process's pending counts to the ledger now.
    pub fn flush(&self) -> Result<(), LedgerError> {
        self.meter.flush()
    }

    /// Reports that this remote's ledger could not be used, once per process (see
    /// [`Meter::warn_once`]); the caller goes on by its own count.
    pub fn warn_ledger(&self, e: &LedgerError) {
        self.meter.warn_once(e);
    }

    /// Today's use as the ledger has it now (after flushing this process's counts).
    pub fn usage(&self) -> Result<Usage, LedgerError> {
        self.meter.flush()?;
        self.ledger.usage(&self.key, &self.tz)
    }

    /// Charges what one request cost: `bytes` received and `requests` GET/HEAD calls sent.
    /// Never fails (the meter keeps counts it could not write and warns once).
    pub fn charge(&self, bytes: u64, requests: u64) {
        self.charge_cost([bytes, requests, 0]);
    }

    /// Charges `lists` LIST-class calls (B2 Class C).
    pub fn charge_lists(&self, lists: u64) {
        self.charge_cost([0, 0, lists]);
    }

    fn charge_cost(&self, cost: Cost) {
        if cost == [0; 3] {
            return;
        }
        let mut v = self.view.lock().unwrap_or_else(|p| p.into_inner());
        add(&mut v.since, cost);
        self.meter.add_cost(cost);
    }

    /// Whether `requests` more requests bringing `bytes` more bytes stay within today's limits,
    /// by this process's view (conservative: claims still held count as used as well).
    pub fn room(&self, bytes: u64, requests: u64) -> bool {
        let v = *self.view.lock().unwrap_or_else(|p| p.into_inner());
        v.fits(&self.limits, [bytes, requests, 0])
    }

    /// Holds `bytes` and `requests` for one request about to be sent, if they fit; the caller
    /// gives them back with [`Account::unreserve`] once the request's real cost is charged.
    /// On a limited remote the hold is also a claim in the ledger (after this process's
    /// metered use is written there), so requests of two processes at once cannot pass a limit
    /// together either.
    pub fn reserve(&self, bytes: u64, requests: u64) -> bool {
        self.reserve_cost([bytes, requests, 0])
    }

    /// Holds a whole [`Cost`] (list calls included) for one request about to be sent, if it
    /// fits; given back with [`Account::unreserve_cost`].
    pub fn reserve_cost(&self, need: Cost) -> bool {
        let mut v = self.view.lock().unwrap_or_else(|p| p.into_inner());
        if !v.fits(&self.limits, need) {
            return false;
        }
        let downloads = (need[0], need[1]);
        if let (Some(claims), true) = (&self.claims, downloads != (0, 0)) {
            let claimed = self
                .meter
                .flush()
                .and_then(|()| claims.claim(&self.limits, &[downloads]));
            match claimed {
                Ok(claim) if claim.granted == 1 => v.window = Some(claim.window),
                Ok(_) => return false,
                Err(e) => self.warn_ledger(&e),
            }
        }
        add(&mut v.inflight, need);
        true
    }

    /// Gives back what [`Account::reserve`] held: the request's real cost has been charged to
    /// the meter, which is written to the ledger before the claim goes back (so the ledger never
    /// holds less than what was used).
    pub fn unreserve(&self, bytes: u64, requests: u64) {
        self.unreserve_cost([bytes, requests, 0]);
    }

    /// Gives back what [`Account::reserve_cost`] held.
    pub fn unreserve_cost(&self, held: Cost) {
        let mut v = self.view.lock().unwrap_or_else(|p| p.into_inner());
        for (i, h) in v.inflight.iter_mut().zip(held) {
            *i = i.saturating_sub(h);
        }
        let downloads = (held[0], held[1]);
        if let (Some(claims), Some(window), true) = (&self.claims, v.window, downloads != (0, 0)) {
            claims.settle(window, downloads, (0, 0));
            if let Err(e) = self
                .meter
                .flush()
                .and_then(|()| claims.give_back().map(|_| ()))
            {
                self.warn_ledger(&e);
            }
        }
    }

    /// Adds use this process did not make itself (the team's, read from the shared ledger)
    /// to what the limits are checked against, for the rest of this process.
    pub fn add_outside_use(&self, cost: Cost) {
        let mut v = self.view.lock().unwrap_or_else(|p| p.into_inner());
        add(&mut v.base, cost);
    }

    /// Writes pending counts to the ledger and re-reads the day's use (other processes may have
    /// used some); returns it.
    pub fn refresh(&self) -> Result<Usage, LedgerError> {
        let mut v = self.view.lock().unwrap_or_else(|p| p.into_inner());
        self.meter.flush()?;
        let usage = self.ledger.usage(&self.key, &self.tz)?;
        v.base = of(&usage);
        v.since = [0; 3];
        Ok(usage)
    }

    /// Records in the ledger that the server reported its cap, so later runs that day skip the
    /// remote without a request; returns when the cap resets.
    pub fn mark_capped(&self) -> Result<Timestamp, LedgerError> {
        let until = self.ledger.mark_capped(&self.key, &self.tz)?;
        *self.capped_until.lock().unwrap_or_else(|p| p.into_inner()) = Some(until);
        Ok(until)
    }

    /// Forgets the cap mark, here and in the ledger: a read went through after all (the cap
    /// was lifted, or the mark was wrong), or the user is about to try the remote again.
    pub fn clear_cap(&self) -> Result<bool, LedgerError> {
        *self.capped_until.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.ledger.clear_cap(&self.key, &self.tz)
    }
}

impl Drop for Account {
    fn drop(&mut self) {
        if let Some(team) = &self.team {
            if let Err(e) = self.meter.flush() {
                self.warn_ledger(&e);
            }
            team.publish(&self.key, &self.tz);
        }
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
            limit_lists: None,
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
            ..Budget::default()
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

    #[test]
    fn list_calls_are_a_third_meter_with_their_own_limit() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path())
            .with_clock(Clock::Fixed("2026-11-27T12:00:00Z".parse().unwrap()));
        let limits = Budget {
            limit_lists: Some(3),
            ..Budget::default()
        };
        let account = Account::open(&ledger, "s3://b/p", &TimeZone::UTC, limits);
        assert!(!account.is_limited(), "no claims for a list limit alone");
        account.charge_lists(2);
        assert!(account.reserve_cost([0, 0, 1]));
        assert!(!account.reserve_cost([0, 0, 1]), "2 used + 1 in flight");
        assert!(account.reserve(10_000, 100), "GETs are not limited here");
        account.unreserve_cost([0, 0, 1]);
        let u = account.usage().unwrap();
        assert_eq!((u.bytes, u.requests, u.lists), (0, 0, 2));
        account.add_outside_use([0, 0, 1]);
        assert!(!account.reserve_cost([0, 0, 1]), "the team's call counts");
    }
}
