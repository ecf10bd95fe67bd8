//! The router: for every object a fetch needs, the first remote in the order that is usable —
//! not disabled in this run (capped, credentials refused, unreachable), believed to hold the
//! object (a listing, when there is one, says), and with budget left for it — as DESIGN.md §3
//! tabulates:
//!
//! | outcome | recognised by | action |
//! |---|---|---|
//! | ok | bytes arrive, md5 matches | into the cache; the remote's meter layer charged every byte and GET (retries too) |
//! | not found | 404 (or absent from a listing: no GET at all) | next remote for this object |
//! | quota | 403 with cap text; 429 without `Retry-After` from a remote with a configured daily limit | remote capped until its reset (its stack records it in the ledger and sends no further GET/HEAD), all its queued objects re-routed without a request |
//! | throttled / transient | 429/503 with `Retry-After`, 5xx, resets, cut bodies | retried with backoff by the remote's stack; then next remote; 3 objects in a row disable the remote |
//! | auth | 401, 403 without cap text | remote disabled for this run, objects re-routed, warning with the fix |
//! | corrupt | md5 mismatch | copy discarded, remote reported as holding a corrupt copy, next remote |
//! | over budget | planned use would pass `daily_download_limit`/`daily_request_limit` | next remote |
//!
//! Every pending object goes to its current choice as a batch per remote, all remotes at once,
//! each with its own concurrency. When a remote's batch ends, what it handed back (failed, or
//! still queued when the remote was disabled: those without sending a request) is routed again
//! and started on the next remote at once, while the other remotes keep going.
//!
//! **Budgets across processes.** Before a batch starts, a limited remote's share of it is
//! claimed in the ledger in one locked step ([`Ledger::claim`]), on top of what every process has
//! used or claimed today; what does not fit goes to the next remote. After each object the claim
//! is settled: the remote's meter layer has charged what really happened (bytes received, GETs
//! sent, of every attempt), so the whole claim is given back when the batch ends and the
//! remaining budget is re-read: the ledger ends with exactly what the server served. So two
//! `ferry pull`s at once never pass a limit together. Retries are GETs too: the stack retries an
//! object only as far as the budget has room. Limits: an object whose size no listing told is
//! charged on arrival, so it can pass a byte limit by what is in flight.
//!
//! It does not decide which objects are wanted, nor touch the workspace, nor know any protocol.
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use super::copy::{CopyError, download};
use super::exists::Found;
use super::id::Id;
use super::remotes::Handle;
use super::{Object, Progress};
use crate::budget::{Budget, Claims, LedgerError, Remaining, Window};
use crate::odb::Odb;
use crate::remote::{ErrorKind, ReadBudget, RemoteError, Spent};

/// Why an object moved on from a remote (or never went to it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Skip {
    /// The remote does not have it.
    NotFound,
    /// The remote's cap is exhausted (reported now or earlier today).
    Quota,
    /// The remote refused our credentials.
    Auth,
    /// The remote kept failing or could not be reached.
    Unreachable,
    /// Taking it would exceed the remote's configured daily budget.
    OverBudget,
    /// The remote's copy did not match its md5.
    Corrupt,
    /// Throttled or transient failures outlasted the retries, with the last message.
    Retries(String),
    /// Another failure, with its message.
    Failed(String),
}

impl Skip {
    /// A short reason for the per-remote summary rows ("3 not found, 1 cap reached").
    pub fn label(&self) -> &'static str {
        match self {
            Skip::NotFound => "not found",
            Skip::Quota => "cap reached",
            Skip::Auth => "credentials refused",
            Skip::Unreachable => "unreachable",
            Skip::OverBudget => "over budget",
            Skip::Corrupt => "corrupt copy",
            Skip::Retries(_) => "retries exhausted",
            Skip::Failed(_) => "failed",
        }
    }

    /// The reason with the server's message where there is one, for listing an object no
    /// remote could supply.
    pub fn detail(&self) -> String {
        match self {
            Skip::Retries(m) | Skip::Failed(m) => format!("{} ({m})", self.label()),
            _ => self.label().to_string(),
        }
    }
}

/// Disable a remote after this many transfers in a row failed with transient errors.
const UNREACHABLE_AFTER: usize = 3;

/// A size no answer told, in [`Known`]'s compact form.
const UNTOLD: u64 = u64::MAX;

/// What a check found on a remote: file objects as sorted ids with their sizes (a million
/// cost 25 MB), other keys whole.
#[derive(Debug, Default)]
struct Known {
    ids: Vec<Id>,
    sizes: Vec<u64>,
    keys: HashMap<String, Option<u64>>,
}

impl Known {
    /// `None` when `key` is not known present, else its size if told.
    fn get(&self, key: &str) -> Option<Option<u64>> {
        if let Some(i) = Id::of_key(key).and_then(|id| self.ids.binary_search(&id).ok()) {
            return Some(Some(self.sizes[i]).filter(|n| *n != UNTOLD));
        }
        self.keys.get(key).copied()
    }
}

/// One remote in the order with its state for this run.
pub struct Lane {
    /// The remote.
    pub handle: Handle,
    /// Its configured daily limits.
    limits: Budget,
    /// What this run may still plan on it: refreshed from the ledger after each batch (so other
    /// processes' claims count), drawn down by [`Router::route`].
    budget: Mutex<Remaining>,
    /// Budget left at the start of the run (for reports).
    pub budget_start: Remaining,
    /// The cap the ledger remembered at the start of the run, if any (skipped until then).
    capped_until: Option<jiff::Timestamp>,
    disabled: Mutex<Option<Skip>>,
    /// The error that disabled the lane in this run (for the warning and its hint).
    cause: Mutex<Option<RemoteError>>,
    /// Keys known present (from a listing), with sizes; `None` when not checked.
    known: Option<Known>,
    transient_streak: AtomicUsize,
    /// This run's claims on a limited remote's budget (`None` without a limit or a ledger):
    /// settled object by object, given back after each batch (the meter layer recorded the
    /// real use), everything given back on Ctrl-C.
    claims: Option<Arc<Claims>>,
    stats: Mutex<LaneStats>,
}

/// What one remote did in a run.
#[derive(Debug, Clone, Default)]
pub struct LaneStats {
    /// Objects it supplied.
    pub objects: u64,
    /// Bytes it supplied.
    pub bytes: u64,
    /// Objects that went elsewhere after this remote, by reason.
    pub fell_back: BTreeMap<String, u64>,
    /// Objects whose copy on this remote failed its md5 check (by output path).
    pub corrupt: Vec<String>,
}

impl Lane {
    /// A lane for `handle`, with its budget from its account (capped remotes start disabled).
    pub fn new(handle: Handle) -> Self {
        let account = handle.remote.account().cloned();
        let limits = Budget::from(&handle.settings);
        let usage = account.as_ref().and_then(|a| a.usage().ok());
        let remaining = usage
            .as_ref()
            .map(|u| limits.remaining(u))
            .unwrap_or_else(|| unlimited(&limits));
        let capped_until = account.as_ref().and_then(|a| a.capped_until());
        let claims = account.as_ref().and_then(|a| a.claims().cloned());
        Self {
            handle,
            limits,
            budget: Mutex::new(remaining),
            budget_start: remaining,
            capped_until,
            disabled: Mutex::new(capped_until.map(|_| Skip::Quota)),
            cause: Mutex::new(None),
            known: None,
            transient_streak: AtomicUsize::new(0),
            claims,
            stats: Mutex::new(LaneStats::default()),
        }
    }

    /// Records what a listing found on this remote.
    pub fn set_known(&mut self, known: HashMap<String, Option<u64>>) {
        self.known = Some(Known {
            keys: known,
            ..Known::default()
        });
    }

    /// Records what a check of `ids` (sorted) and of a few other keys found on this remote.
    pub fn set_known_ids(&mut self, ids: &[Id], found: &Found, keys: HashMap<String, Option<u64>>) {
        let mut known = Known {
            keys,
            ..Known::default()
        };
        for (id, size) in ids.iter().zip(found) {
            if let Some(size) = size {
                known.ids.push(*id);
                known.sizes.push(size.unwrap_or(UNTOLD));
            }
        }
        self.known = Some(known);
    }

    /// Drops what an earlier listing found (it covered other keys).
    pub fn forget_known(&mut self) {
        self.known = None;
    }

    /// Whether a listing told the router what this remote holds.
    pub fn listed(&self) -> bool {
        self.known.is_some()
    }

    /// The size a listing reported for `key`, if any.
    pub fn known_size(&self, key: &str) -> Option<u64> {
        self.known.as_ref()?.get(key).flatten()
    }

    /// Whether this lane has a daily byte limit (the planner then wants object sizes first).
    pub fn limits_bytes(&self) -> bool {
        self.limits.limit_bytes.is_some()
    }

    /// Whether a daily GET/HEAD limit is configured (then the plan needs sizes as well).
    pub fn limits_calls(&self) -> bool {
        self.limits.limit_requests.is_some()
    }

    /// Whether this lane is out of the run, and why (a cap its stack saw counts too).
    pub fn disabled(&self) -> Option<Skip> {
        let disabled = self.disabled.lock().ok()?.clone();
        disabled.or_else(|| self.handle.remote.is_capped().then_some(Skip::Quota))
    }

    /// The error that took this lane out of the run, when one did (not a cap from the ledger).
    pub fn cause(&self) -> Option<RemoteError> {
        self.cause.lock().ok()?.clone()
    }

    /// When the ledger said at the start of the run that this remote is capped: until when.
    pub fn capped_until(&self) -> Option<jiff::Timestamp> {
        self.capped_until
    }

    fn disable(&self, why: Skip, cause: &RemoteError) {
        if let Ok(mut d) = self.disabled.lock()
            && d.is_none()
        {
            tracing::info!(
                remote = %self.handle.name,
                "taken out of this run ({}): its other objects go to the next remote - {}",
                why.label(),
                cause.message
            );
            *d = Some(why);
            if let Ok(mut c) = self.cause.lock() {
                *c = Some(cause.clone());
            }
        }
    }

    /// Budget left now (after what this run planned).
    pub fn budget_left(&self) -> Remaining {
        self.budget.lock().map(|b| *b).unwrap_or(self.budget_start)
    }

    /// This lane's statistics so far.
    pub fn stats(&self) -> LaneStats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn note_fell_back(&self, why: &Skip) {
        if let Ok(mut s) = self.stats.lock() {
            *s.fell_back.entry(why.label().to_string()).or_default() += 1;
        }
    }

    /// The bytes an object is planned to cost on this remote (0 when its size is unknown; the
    /// real size is charged once it arrives).
    fn cost(&self, object: &Object) -> u64 {
        self.known_size(&object.key()).or(object.size).unwrap_or(0)
    }

    /// Takes from the ledger as many of `batch` (in order) as fit today's limits, counting
    /// every process's use; returns the objects that did not fit and the window the rest were
    /// claimed in (`None` when nothing was claimed: no limit, or no ledger).
    fn claim(&self, batch: &mut Vec<Routed>) -> (Vec<Routed>, Option<Window>) {
        let Some(claims) = &self.claims else {
            return (Vec::new(), None);
        };
        let costs: Vec<(u64, u64)> = batch.iter().map(|r| (self.cost(&r.object), 1)).collect();
        match claims.claim(&self.limits, &costs) {
            Ok(claim) => {
                if claim.granted < batch.len() {
                    tracing::info!(
                        remote = %self.handle.name,
                        "today's budget covers {} of {} objects; the rest go to the next remote",
                        claim.granted,
                        batch.len()
                    );
                }
                (batch.split_off(claim.granted), Some(claim.window))
            }
            Err(e) => {
                self.ledger_failed(&e);
                (Vec::new(), None)
            }
        }
    }

    /// Squares what was planned for one object (`reserved` bytes and requests, claimed in
    /// `claimed_in`) with what it really took (`used`, as the stack's meter charged it): the
    /// planning view ends up with `used`; the claim is settled as wholly unused, because the
    /// meter layer already recorded `used` in the ledger (so nothing is counted twice).
    fn settle(&self, reserved: (u64, u64), used: Spent, claimed_in: Option<Window>) {
        if let Ok(mut b) = self.budget.lock() {
            adjust(&mut b.bytes, reserved.0, used.bytes);
            adjust(&mut b.requests, reserved.1, used.requests);
        }
        if let (Some(window), Some(claims)) = (claimed_in, &self.claims) {
            claims.settle(window, reserved, (0, 0));
        }
    }

    /// Writes metered use to the ledger, then gives back settled claims and, for a limited
    /// lane, re-reads what is left today (other processes may have used some). Claims go back
    /// only once the counts are written, so the ledger never holds less than was used; a ledger
    /// that cannot be used is reported once for the whole run, which plans on its own view.
    fn sync_ledger(&self) {
        let Some(account) = self.handle.remote.account() else {
            return;
        };
        if let Err(e) = account.flush() {
            return account.warn_ledger(&e);
        }
        let Some(claims) = &self.claims else {
            return;
        };
        match claims.give_back().and_then(|_| account.refresh()) {
            Ok(usage) => {
                if let Ok(mut b) = self.budget.lock() {
                    *b = self.limits.remaining(&usage);
                }
            }
            Err(e) => account.warn_ledger(&e),
        }
    }

    /// Reports a ledger this lane could not claim in, once per run (the claims are the
    /// account's, so a lane that claims has one).
    fn ledger_failed(&self, e: &LedgerError) {
        if let Some(account) = self.handle.remote.account() {
            account.warn_ledger(e);
        }
    }
}

/// `left + reserved - used`, for an allowance that may be unlimited (`None`).
fn adjust(left: &mut Option<u64>, reserved: u64, used: u64) {
    if let Some(l) = left {
        *l = l.saturating_add(reserved).saturating_sub(used);
    }
}

fn unlimited(budget: &Budget) -> Remaining {
    budget.unused()
}

/// What [`Router::claim_one`] got from the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claimed {
    /// Claimed in this window: give it back with [`Router::release`].
    Held(Window),
    /// No claim needed: the remote has no limit, or there is no ledger.
    NotNeeded,
    /// Today's limit has no room for it (counting every process): take another source.
    NoRoom,
}

/// An object being routed, with the remotes it has left behind.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Routed {
    /// The object.
    pub object: Object,
    /// `(lane index, reason)` for every remote passed over.
    pub tried: Vec<(usize, Skip)>,
    /// A lane to try before the order (the output's own `remote:`).
    pub prefer: Option<usize>,
}

/// The result of a routed fetch.
#[derive(Debug, Default)]
pub struct FetchOutcome {
    /// Objects now in the cache (counted, not listed: a million-file pull keeps no list).
    pub fetched: u64,
    /// How many of them are `.dir` manifests.
    pub fetched_dirs: u64,
    /// Objects no remote could supply, with each remote's reason.
    pub failed: Vec<Routed>,
}

/// Routes downloads over an ordered list of remotes.
pub struct Router {
    /// The remotes in pull order.
    pub lanes: Vec<Lane>,
}

impl Router {
    /// A router over `lanes` in order.
    pub fn new(lanes: Vec<Lane>) -> Self {
        Self { lanes }
    }

    /// Puts `objects` in the order that gets the most bytes within its limits from the first
    /// usable limited remote ([`crate::budget::best_order`]; issue 15): objects it does not
    /// hold, or that prefer another remote, keep their order after the others. The plan
    /// (`--dry-run`) and the fetch both call it, so the pull does what the plan showed.
    pub fn order_for_budget(&self, objects: &mut Vec<Routed>) {
        let Some((index, lane)) = self
            .lanes
            .iter()
            .enumerate()
            .find(|(_, l)| l.disabled().is_none() && l.claims.is_some())
        else {
            return;
        };
        let (mut mine, others): (Vec<Routed>, Vec<Routed>) = objects.drain(..).partition(|r| {
            r.prefer.is_none_or(|p| p == index)
                && lane
                    .known
                    .as_ref()
                    .is_none_or(|k| k.get(&r.object.key()).is_some())
        });
        let sizes: Vec<u64> = mine.iter().map(|r| lane.cost(&r.object)).collect();
        let order = crate::budget::best_order(&sizes, &lane.budget_left());
        let mut slots: Vec<Option<Routed>> = mine.drain(..).map(Some).collect();
        objects.extend(order.into_iter().filter_map(|i| slots[i].take()));
        objects.extend(others);
    }

    /// The next usable lane for `r`, recording why earlier ones were passed over, and
    /// reserving budget on the chosen one. `None` when no remote is left.
    pub fn route(&self, r: &mut Routed) -> Option<usize> {
        let key = r.object.key();
        let order = r
            .prefer
            .into_iter()
            .chain((0..self.lanes.len()).filter(|i| Some(*i) != r.prefer));
        for i in order {
            let lane = &self.lanes[i];
            if r.tried.iter().any(|(t, _)| *t == i) {
                continue;
            }
            if let Some(why) = lane.disabled() {
                r.tried.push((i, why));
                continue;
            }
            if let Some(known) = &lane.known
                && known.get(&key).is_none()
            {
                r.tried.push((i, Skip::NotFound));
                continue;
            }
            let size = lane.known_size(&key).or(r.object.size).unwrap_or(0);
            let reserved = lane
                .budget
                .lock()
                .map(|mut b| b.reserve(size, 1))
                .unwrap_or(false);
            if !reserved {
                r.tried.push((i, Skip::OverBudget));
                continue;
            }
            tracing::debug!(remote = %lane.handle.name, "{}: routed here", r.object.out);
            return Some(i);
        }
        None
    }

    /// Fetches `objects` into `odb`, routing each one. Stops early only on a local error
    /// (the cache cannot be written), which is returned.
    pub async fn fetch(
        &self,
        odb: &Odb,
        objects: Vec<Routed>,
        progress: &dyn Progress,
    ) -> Result<FetchOutcome, CopyError> {
        let mut outcome = FetchOutcome::default();
        let mut pending = objects;
        let _undo = self.give_back_on_interrupt();
        let abort = AtomicBool::new(false);
        let local_error: Mutex<Option<CopyError>> = Mutex::new(None);
        let mut running = FuturesUnordered::new();
        loop {
            // Route what is pending and start it on its remote while the others keep going.
            while !pending.is_empty() && !abort.load(Ordering::Relaxed) {
                let mut batches: Vec<Vec<Routed>> =
                    (0..self.lanes.len()).map(|_| Vec::new()).collect();
                for mut r in pending.drain(..) {
                    match self.route(&mut r) {
                        Some(i) => batches[i].push(r),
                        None => {
                            progress.done(0);
                            outcome.failed.push(r);
                        }
                    }
                }
                for (i, (lane, mut batch)) in self.lanes.iter().zip(batches).enumerate() {
                    let (over, claimed_in) = lane.claim(&mut batch);
                    for mut r in over {
                        r.tried.push((i, Skip::OverBudget));
                        pending.push(r);
                    }
                    if !batch.is_empty() {
                        running.push(self.run_lane(
                            i,
                            lane,
                            batch,
                            claimed_in,
                            odb,
                            progress,
                            &abort,
                            &local_error,
                        ));
                    }
                }
            }
            let Some((index, (done, dirs), again)) = running.next().await else {
                break;
            };
            outcome.fetched += done;
            outcome.fetched_dirs += dirs;
            self.lanes[index].sync_ledger();
            pending.extend(again);
        }
        for lane in &self.lanes {
            lane.sync_ledger();
        }
        if let Some(e) = local_error.lock().ok().and_then(|mut e| e.take()) {
            return Err(e);
        }
        Ok(outcome)
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_lane(
        &self,
        index: usize,
        lane: &Lane,
        batch: Vec<Routed>,
        claimed_in: Option<Window>,
        odb: &Odb,
        progress: &dyn Progress,
        abort: &AtomicBool,
        local_error: &Mutex<Option<CopyError>>,
    ) -> (usize, (u64, u64), Vec<Routed>) {
        let results: Vec<Result<bool, Routed>> = futures::stream::iter(batch)
            .map(|mut r| async move {
                let reserved = (lane.cost(&r.object), 1);
                let nothing = Spent::default();
                if abort.load(Ordering::Relaxed) {
                    lane.settle(reserved, nothing, claimed_in);
                    return Err(r);
                }
                if let Some(why) = lane.disabled() {
                    lane.settle(reserved, nothing, claimed_in);
                    r.tried.push((index, why));
                    return Err(r);
                }
                // A size learnt only on arrival was charged then: once that used the byte
                // budget up, objects of unknown size stop going to this remote.
                if reserved.0 == 0 && r.object.size.is_none() && lane.budget_left().bytes == Some(0)
                {
                    lane.settle(reserved, nothing, claimed_in);
                    r.tried.push((index, Skip::OverBudget));
                    return Err(r);
                }
                let budget = ReadBudget {
                    size: r.object.size.or(lane.known_size(&r.object.key())),
                    claimed: claimed_in.is_some(),
                };
                let meter = progress.object(&lane.handle.name, &r.object.out, budget.size);
                let (result, spent) =
                    download(&lane.handle.remote, odb, &r.object.hash, budget, &meter).await;
                drop(meter);
                lane.settle(reserved, spent, claimed_in);
                match result {
                    Ok(bytes) => {
                        lane.transient_streak.store(0, Ordering::Relaxed);
                        if let Ok(mut s) = lane.stats.lock() {
                            s.objects += 1;
                            s.bytes += bytes;
                        }
                        for (i, why) in &r.tried {
                            self.lanes[*i].note_fell_back(why);
                        }
                        progress.done(bytes);
                        Ok(r.object.hash.is_dir())
                    }
                    Err(CopyError::Remote(e)) => {
                        let why = self.classify(lane, &e);
                        if why == Skip::Corrupt
                            && let Ok(mut s) = lane.stats.lock()
                        {
                            s.corrupt.push(r.object.out.clone());
                        }
                        tracing::info!(remote = %lane.handle.name, "{}: {}", r.object.out, e.message);
                        r.tried.push((index, why));
                        Err(r)
                    }
                    Err(local) => {
                        abort.store(true, Ordering::Relaxed);
                        if let Ok(mut slot) = local_error.lock() {
                            slot.get_or_insert(local);
                        }
                        Err(r)
                    }
                }
            })
            // The stack limits requests to its `jobs`; this only bounds the queue.
            .buffer_unordered(lane.handle.remote.jobs())
            .collect()
            .await;
        let mut done = (0, 0);
        let mut again = Vec::new();
        for r in results {
            match r {
                Ok(dir) => {
                    done.0 += 1;
                    done.1 += u64::from(dir);
                }
                Err(r) => again.push(r),
            }
        }
        (index, done, again)
    }

    /// Applies the router's decision for a failure on `lane` (see [`action`]): counts the
    /// lane's transient streak, takes the lane out of the run when the table says so.
    fn classify(&self, lane: &Lane, e: &RemoteError) -> Skip {
        let streak = match e.kind {
            ErrorKind::Transient | ErrorKind::Throttled => {
                lane.transient_streak.fetch_add(1, Ordering::Relaxed) + 1
            }
            ErrorKind::NotFound => {
                lane.transient_streak.store(0, Ordering::Relaxed);
                0
            }
            _ => lane.transient_streak.load(Ordering::Relaxed),
        };
        let decided = action(e.kind, &e.message, streak);
        if decided.disable {
            lane.disable(decided.why.clone(), e);
        }
        decided.why
    }
}

/// What the router does after an attempt on a remote failed: why the object moves on to the
/// next remote, and whether the remote is taken out of the run (its queued objects then go
/// elsewhere without a request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// The reason recorded for the object (and counted in the remote's row).
    pub why: Skip,
    /// Whether the remote is out for the rest of the run.
    pub disable: bool,
}

/// The decision table of DESIGN.md §3, pure: a failure of `kind` (with the server's
/// `message`) after `streak` transient failures in a row on that remote, this one included.
/// The stack has already turned a cap answer (a 429 without `Retry-After` from a limited
/// remote included) into `Quota` and retried what was worth retrying on the same remote.
pub fn action(kind: ErrorKind, message: &str, streak: usize) -> Action {
    let (why, disable) = match kind {
        ErrorKind::Quota => (Skip::Quota, true),
        ErrorKind::Auth => (Skip::Auth, true),
        ErrorKind::NotFound => (Skip::NotFound, false),
        ErrorKind::OverBudget => (Skip::OverBudget, false),
        ErrorKind::Corrupt => (Skip::Corrupt, false),
        ErrorKind::Transient | ErrorKind::Throttled if streak >= UNREACHABLE_AFTER => {
            (Skip::Unreachable, true)
        }
        ErrorKind::Transient | ErrorKind::Throttled => (Skip::Retries(message.into()), false),
        ErrorKind::Unsupported | ErrorKind::Permanent => (Skip::Failed(message.into()), false),
    };
    Action { why, disable }
}

/// Bookkeeping for engines that move an object from a routed source somewhere other than the
/// cache (`sync` streams remote to remote): they do the copy, the router keeps the books.
impl Router {
    /// Records that lane `index` supplied an object of `bytes` after the remotes in `passed`
    /// were passed over.
    pub fn supplied(&self, index: usize, bytes: u64, passed: &[(usize, Skip)]) {
        let lane = &self.lanes[index];
        lane.transient_streak.store(0, Ordering::Relaxed);
        if let Ok(mut s) = lane.stats.lock() {
            s.objects += 1;
            s.bytes += bytes;
        }
        for (i, why) in passed {
            self.lanes[*i].note_fell_back(why);
        }
    }

    /// Records that lane `index` failed to supply an object with `e` (its stack charged what
    /// the attempts cost), and returns why the object moves on (capping or disabling the lane
    /// as the module table says).
    pub fn source_failed(&self, index: usize, e: &RemoteError) -> Skip {
        self.classify(&self.lanes[index], e)
    }

    /// While the guards live, an interrupt gives back every claim not yet settled (module doc
    /// of `budget::claims`).
    pub fn give_back_on_interrupt(&self) -> Vec<crate::interrupt::Guard> {
        self.lanes
            .iter()
            .filter_map(|lane| lane.claims.clone())
            .map(|claims| {
                crate::interrupt::on_interrupt(move || {
                    let _ = claims.give_back_all();
                })
            })
            .collect()
    }

    /// Claims in the ledger what reading `object` from lane `index` may cost (one request and
    /// its known size), on top of what every process has used or claimed today, so two
    /// processes copying from one limited remote (two `sync`s, a `sync` and a `pull`) never
    /// pass its limit together. Pair a [`Claimed::Held`] with [`Router::release`].
    pub fn claim_one(&self, index: usize, object: &Object) -> Claimed {
        let lane = &self.lanes[index];
        let Some(claims) = &lane.claims else {
            return Claimed::NotNeeded;
        };
        match claims.claim(&lane.limits, &[(lane.cost(object), 1)]) {
            Ok(claim) if claim.granted == 1 => Claimed::Held(claim.window),
            Ok(_) => Claimed::NoRoom,
            Err(e) => {
                lane.ledger_failed(&e);
                Claimed::NotNeeded
            }
        }
    }

    /// Ends a [`Router::claim_one`] for `object`: the stack's meter has charged what the read
    /// really cost, so the meter is flushed to the ledger first and then the whole claim is
    /// given back (nothing counted twice, nothing uncounted in between).
    pub fn release(&self, index: usize, object: &Object, claimed: Claimed) {
        let lane = &self.lanes[index];
        if let (Claimed::Held(window), Some(claims)) = (claimed, &lane.claims) {
            claims.settle(window, (lane.cost(object), 1), (0, 0));
            lane.sync_ledger();
        }
    }

    /// Writes every lane's usage to the ledger and gives back settled claims.
    pub fn flush_usage(&self) {
        for lane in &self.lanes {
            lane.sync_ledger();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: ErrorKind, streak: usize) -> (Skip, bool) {
        let a = action(kind, "m", streak);
        (a.why, a.disable)
    }

    /// DESIGN.md §3, row by row: what each outcome of an attempt does to the object and to the
    /// remote.
    #[test]
    fn the_decision_table() {
        // not found: next remote for this object; the remote stays.
        assert_eq!(row(ErrorKind::NotFound, 0), (Skip::NotFound, false));
        // quota: the remote is capped until its reset, its pending objects re-routed.
        assert_eq!(row(ErrorKind::Quota, 0), (Skip::Quota, true));
        // auth: the remote is unusable this run, objects re-routed.
        assert_eq!(row(ErrorKind::Auth, 0), (Skip::Auth, true));
        // throttled / transient: retried by the stack, then the next remote; the remote stays
        // until 3 objects in a row failed so.
        for kind in [ErrorKind::Throttled, ErrorKind::Transient] {
            assert_eq!(row(kind, 1), (Skip::Retries("m".into()), false));
            assert!(!row(kind, UNREACHABLE_AFTER - 1).1);
            assert_eq!(row(kind, UNREACHABLE_AFTER), (Skip::Unreachable, true));
        }
        // corrupt: the copy is discarded, the next remote serves it; the remote stays.
        assert_eq!(row(ErrorKind::Corrupt, 0), (Skip::Corrupt, false));
        // over budget: the next remote; nothing was sent.
        assert_eq!(row(ErrorKind::OverBudget, 0), (Skip::OverBudget, false));
        // anything else fails this object on this remote only.
        for kind in [ErrorKind::Unsupported, ErrorKind::Permanent] {
            assert_eq!(row(kind, 5), (Skip::Failed("m".into()), false));
        }
    }
}
