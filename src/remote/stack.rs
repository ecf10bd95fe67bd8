//! The layers every remote is wrapped in when it is opened (DESIGN.md §4, issue 12), outermost
//! last:
//!
//! 1. **backend**: the [`Remote`] that speaks the protocol and classifies its errors;
//! 2. **retry**: `Throttled`/`Transient` failures are tried again with [`RetryPolicy`]'s
//!    jittered backoff, honouring `Retry-After`. Before *each* attempt the remote's state is
//!    re-checked: once any request reported the cap, no further GET/HEAD leaves (a retry that
//!    slept on `Retry-After` gives up instead), and a retry must fit the remote's daily budget
//!    (the retry budget: a retry is a request like any other);
//! 3. **concurrency**: a semaphore of the remote's `jobs` permits, held for one attempt, shared
//!    by every caller of the remote in the process;
//! 4. **meter**: every GET and HEAD sent (object reads, existence checks, manifests) and every
//!    byte received, whether the attempt then succeeded or not (cut, reset and corrupt bodies
//!    included), is charged to the remote's [`Account`] and so to the ledger, as are LIST calls
//!    (B2 Class C, `daily_list_limit`): a backend that counts them on the wire (S3: one per
//!    ListObjectsV2 page, and the LIST a bare 403 on HEAD sends) reports them through
//!    [`Remote::take_list_calls`], else one per listing attempt is charged. Uploads and deletes
//!    (B2 Class A, free) are not metered;
//! 5. **capability**: an operation the backend does not declare (`list`, `write`, `delete`)
//!    fails with an `Unsupported` error naming the remote before anything is sent.
//!
//! Callers above `remote/` never retry, limit or count by hand: they call a [`Stack`].
//! Whole-object operations take a closure run once per attempt (`read_with` consumes the stream,
//! `write_with` makes a fresh body). A read retried after a cut body asks only for the bytes
//! its reader does not hold yet (`read_span`, a ranged GET), so a download resumes, not restarts.
//!
//! What it does not do: choose another remote (the router does), or reserve budget for work
//! planned ahead (the router's claims do; a claimed read skips the first budget check, which
//! its claim already made).
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use futures::StreamExt;
use tokio::sync::Semaphore;

use super::{
    ByteStream, Capabilities, ErrorKind, PendingUpload, Presence, Ranged, Remote, RemoteError,
    RetryPolicy,
};
use crate::budget::{Account, Cost};

/// An operation, for capability checks and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Download an object.
    Read,
    /// Ask whether an object exists (HEAD, or GET on HTTP remotes).
    Exists,
    /// List keys under a prefix.
    List,
    /// Upload an object.
    Write,
    /// Delete an object.
    Delete,
}

impl Op {
    fn verb(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::Exists => "check objects on",
            Op::List => "list",
            Op::Write => "write to",
            Op::Delete => "delete from",
        }
    }

    /// Whether a remote that reported its download cap refuses this (B2 caps downloads and
    /// Class B calls, GET and HEAD; listing, uploads and deletes still work).
    fn capped_by_quota(self) -> bool {
        matches!(self, Op::Read | Op::Exists)
    }
}

/// An error a whole-object attempt can end with: a remote's (retried when worth it) or the
/// caller's own (e.g. the local cache cannot be written: returned at once).
pub trait AttemptError: From<RemoteError> {
    /// The remote error that decides whether the attempt is tried again, if this is one.
    fn remote_error(&mut self) -> Option<&mut RemoteError>;
}

impl AttemptError for RemoteError {
    fn remote_error(&mut self) -> Option<&mut RemoteError> {
        Some(self)
    }
}

/// How the stack is set up for one remote.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// Requests in flight at most (the remote's `jobs`, or `-j`).
    pub jobs: usize,
    /// How hard to retry.
    pub policy: RetryPolicy,
    /// The remote's budget account (`None` when the ledger is unusable: nothing is metered).
    pub account: Option<Arc<Account>>,
}

/// What one call cost, for callers that keep a plan of their own (the router).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spent {
    /// Bytes received, of every attempt.
    pub bytes: u64,
    /// GET/HEAD requests sent, retries included.
    pub requests: u64,
}

/// How a read is budgeted.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadBudget {
    /// The object's size when known, checked against the byte budget before each attempt.
    pub size: Option<u64>,
    /// The first attempt was claimed in the ledger already (the router's claims).
    pub claimed: bool,
}

/// The part of an object a read is for, and how much of it the reader holds so far: the
/// reader advances `done` as it stores bytes, and every retry asks for what follows.
#[derive(Debug, Default)]
pub struct Span {
    /// The object offset the part starts at.
    pub start: u64,
    /// Where it ends (exclusive); `None` for the object's end.
    pub end: Option<u64>,
    done: AtomicU64,
}

impl Span {
    /// The whole object, nothing held yet.
    pub fn whole() -> Span {
        Span::default()
    }

    /// `start..end` of the object, of which the first `done` bytes are held already.
    pub fn new(start: u64, end: Option<u64>, done: u64) -> Span {
        Span {
            start,
            end,
            done: AtomicU64::new(done),
        }
    }

    /// Bytes of the part the reader holds.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Acquire)
    }

    /// Records that the reader now holds `done` bytes of the part (0: it dropped them).
    pub fn set_done(&self, done: u64) {
        self.done.store(done, Ordering::Release);
    }
}

/// A remote wrapped in its layers (module doc). Built once per remote when it is opened and
/// shared by every task of the process that uses it.
pub struct Stack {
    backend: Arc<dyn Remote>,
    caps: Capabilities,
    jobs: usize,
    policy: RetryPolicy,
    permits: Semaphore,
    account: Option<Arc<Account>>,
    capped: AtomicBool,
    /// Named on the command line while the ledger marked it capped: the next GET/HEAD goes out
    /// alone (the others wait for its answer), and that answer decides (see [`Stack::named`]).
    probing: AtomicBool,
    probe: tokio::sync::Mutex<()>,
}

impl Drop for Stack {
    /// A named remote whose probe never went out (the command sent no GET/HEAD) keeps the cap
    /// mark it had.
    fn drop(&mut self) {
        if self.probing.load(Ordering::Relaxed)
            && let Some(account) = &self.account
            && let Err(e) = account.mark_capped()
        {
            tracing::warn!("could not restore the cap mark of '{}': {e}", self.name());
        }
    }
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack")
            .field("remote", &self.backend.name())
            .field("jobs", &self.jobs)
            .field("capped", &self.capped.load(Ordering::Relaxed))
            .finish()
    }
}

impl Stack {
    /// Wraps `backend`. A remote the account's ledger knows is capped today starts capped.
    pub fn new(backend: Arc<dyn Remote>, config: StackConfig) -> Stack {
        let jobs = config.jobs.max(1);
        let capped = config
            .account
            .as_ref()
            .is_some_and(|a| a.capped_until().is_some());
        Stack {
            caps: backend.capabilities(),
            backend,
            jobs,
            policy: config.policy,
            permits: Semaphore::new(jobs),
            account: config.account,
            capped: AtomicBool::new(capped),
            probing: AtomicBool::new(false),
            probe: tokio::sync::Mutex::new(()),
        }
    }

    /// The stack of a remote the user named (`-r NAME`): a cap the ledger remembers is not
    /// trusted blindly, since caps get lifted (a bigger cap bought, a new day at the provider).
    /// The mark is set aside and the first GET/HEAD is sent alone, as a probe: an answer from
    /// the server (the object or "not found") ends the cap for good, a cap answer marks it
    /// again (no further request this run), and a probe that never happens puts the mark
    /// back when the stack is dropped. So a named capped remote costs one request at most.
    pub fn named(self, named: bool) -> Stack {
        if named
            && self.is_capped()
            && let Some(account) = &self.account
        {
            match account.clear_cap() {
                Ok(_) => {
                    self.capped.store(false, Ordering::Relaxed);
                    self.probing.store(true, Ordering::Relaxed);
                }
                Err(e) => tracing::warn!(
                    "cannot set aside the cap mark of remote '{}': {e}",
                    self.name()
                ),
            }
        }
        self
    }

    /// The remote's configured name.
    pub fn name(&self) -> &str {
        self.backend.name()
    }

    /// What the backend declares it can do.
    pub fn capabilities(&self) -> Capabilities {
        self.caps
    }

    /// Requests it sends at once at most; callers size their work queues by it.
    pub fn jobs(&self) -> usize {
        self.jobs
    }

    /// The remote's budget account, when budgets are tracked.
    pub fn account(&self) -> Option<&Arc<Account>> {
        self.account.as_ref()
    }

    /// Whether the remote reported its download cap (in this run, or earlier today per the
    /// ledger): it then receives no GET or HEAD until its reset.
    pub fn is_capped(&self) -> bool {
        self.capped.load(Ordering::Relaxed)
    }

    /// Fails with `Unsupported` unless the backend declares `op`; callers check before an
    /// operation starts, so nothing is half done.
    pub fn require(&self, op: Op) -> Result<(), RemoteError> {
        let ok = match op {
            Op::Read | Op::Exists => true,
            Op::List => self.caps.list,
            Op::Write => self.caps.write,
            Op::Delete => self.caps.delete,
        };
        if ok {
            return Ok(());
        }
        Err(RemoteError::new(
            ErrorKind::Unsupported,
            self.name(),
            format!(
                "remote '{}' cannot {} it: its backend does not support that",
                self.name(),
                op.verb()
            ),
        ))
    }

    /// Whether `key` exists and, when the answer says it, its size. `Absent` only for a
    /// definite "not found".
    pub async fn stat(&self, key: &str) -> Result<Presence, RemoteError> {
        let spent = &Counter::default();
        let head = self
            .retried(Op::Exists, key, [0, 1, 0], true, spent, move || {
                self.backend.stat(key)
            })
            .await;
        match head {
            // The backend could not tell by HEAD: a one-byte GET, its own charged request.
            Err(e) if e.kind == ErrorKind::Unsupported => {
                let spent = &Counter::default();
                self.retried(Op::Exists, key, [0, 1, 0], true, spent, move || {
                    self.backend.stat_by_range(key)
                })
                .await
            }
            other => other,
        }
    }

    /// Whether `key` exists. `Ok(false)` only for a definite "not found".
    pub async fn exists(&self, key: &str) -> Result<bool, RemoteError> {
        Ok(self.stat(key).await? != Presence::Absent)
    }

    /// The multipart uploads never completed nor aborted (see
    /// [`Remote::pending_uploads`]): a LIST-class call, retried and limited like the others.
    pub async fn pending_uploads(&self) -> Result<Vec<PendingUpload>, RemoteError> {
        let spent = &Counter::default();
        self.retried(Op::List, "", [0, 0, 1], true, spent, move || {
            self.backend.pending_uploads()
        })
        .await
    }

    /// Every key under `prefix` with its size, sorted: B2 Class C calls, charged to the list
    /// meter (each page), refused when not one more call fits `daily_list_limit`.
    pub async fn list_sized(&self, prefix: &str) -> Result<Vec<(String, u64)>, RemoteError> {
        self.require(Op::List)?;
        let spent = &Counter::default();
        self.retried(Op::List, prefix, [0, 0, 1], true, spent, move || {
            self.backend.list_sized(prefix)
        })
        .await
    }

    /// Reads `key` and hands the stream to `consume`, once per attempt: a failure of the stream
    /// (cut, reset) or a corrupt result is retried from the start when worth it. Returns what
    /// `consume` returned and what every attempt cost.
    pub async fn read_with<T, E, F, Fut>(
        &self,
        key: &str,
        budget: ReadBudget,
        mut consume: F,
    ) -> (Result<T, E>, Spent)
    where
        E: AttemptError,
        F: FnMut(ByteStream) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let whole = Span::whole();
        self.read_span(key, budget, &whole, |ranged| consume(ranged.body))
            .await
    }

    /// Reads the part of `key` that `span` describes and hands each attempt's body to
    /// `consume`. Before every attempt the stack reads [`Span::done`], the bytes `consume`
    /// already holds, and asks only for the rest (`Range: bytes=N-`), so a retry after a cut
    /// body continues where it stopped; the budget reserves only those bytes, and the meter
    /// charges every byte the server sends (all of them, when it ignores the range). A read of
    /// a whole object from its first byte is a plain GET. `budget.size` is the span's length.
    pub async fn read_span<T, E, F, Fut>(
        &self,
        key: &str,
        budget: ReadBudget,
        span: &Span,
        mut consume: F,
    ) -> (Result<T, E>, Spent)
    where
        E: AttemptError,
        F: FnMut(Ranged) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let spent = Counter::default();
        let mut tries = 0u32;
        let result = loop {
            tries += 1;
            let done = span.done();
            let left = budget.size.map_or(0, |n| n.saturating_sub(done));
            let need = [left, 1, 0];
            let held = match self
                .gate(Op::Read, need, !budget.claimed, tries, &spent)
                .await
            {
                Ok(held) => held,
                Err(e) => break Err(E::from(e)),
            };
            self.charge(&spent, &held, [0, 1, 0]);
            let from = span.start + done;
            let answer = if from == 0 && span.end.is_none() {
                self.backend
                    .read(key)
                    .await
                    .map(|body| Ranged { start: 0, body })
            } else {
                self.backend.read_range(key, from, span.end).await
            };
            let mut result = match answer {
                Ok(ranged) => {
                    let body = self.metered(ranged.body, &spent, &held);
                    consume(Ranged {
                        start: ranged.start,
                        body,
                    })
                    .await
                }
                Err(e) => Err(E::from(e)),
            };
            if held.probe.is_some() {
                match &mut result {
                    Ok(_) => self.end_probe(None),
                    Err(e) => match e.remote_error() {
                        Some(re) => self.end_probe(Some(re)),
                        // The remote served the body; the caller's side failed.
                        None => self.end_probe(None),
                    },
                }
            }
            drop(held);
            let error = match &mut result {
                Ok(_) => None,
                Err(e) => e.remote_error().map(|e| &*e),
            };
            self.log_attempt(Op::Read, key, tries, error);
            match result {
                Ok(value) => break Ok(value),
                Err(mut e) => {
                    let again = match e.remote_error() {
                        Some(re) => self.again(tries, re).await,
                        None => false,
                    };
                    if !again {
                        break Err(e);
                    }
                }
            }
        };
        (result, spent.get())
    }

    /// Uploads `size` bytes under `key`; `body` makes a fresh stream for each attempt.
    pub async fn write_with<F>(&self, key: &str, size: u64, body: F) -> Result<(), RemoteError>
    where
        F: Fn() -> ByteStream,
    {
        self.require(Op::Write)?;
        let spent = &Counter::default();
        let body = &body;
        self.retried(Op::Write, key, [0; 3], false, spent, move || {
            self.backend.write(key, body(), size)
        })
        .await
    }

    /// Uploads a body that cannot be replayed, in one attempt (the caller retries the whole
    /// copy, source included, e.g. `sync`'s remote-to-remote stream).
    pub async fn write_once(
        &self,
        key: &str,
        body: ByteStream,
        size: u64,
    ) -> Result<(), RemoteError> {
        self.require(Op::Write)?;
        let _permit = self.permit().await?;
        self.backend.write(key, body, size).await
    }

    /// Deletes `key`; deleting a missing key is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), RemoteError> {
        self.require(Op::Delete)?;
        let spent = &Counter::default();
        self.retried(Op::Delete, key, [0; 3], false, spent, move || {
            self.backend.delete(key)
        })
        .await
    }

    /// The retry and concurrency layers around one request: `attempt` runs once per try, each
    /// under a permit, after the state and budget checks of [`Stack::gate`].
    async fn retried<T, F, Fut>(
        &self,
        op: Op,
        key: &str,
        need: Cost,
        check_first: bool,
        spent: &Counter,
        mut attempt: F,
    ) -> Result<T, RemoteError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, RemoteError>>,
    {
        let mut tries = 0u32;
        loop {
            tries += 1;
            let result = {
                let held = self.gate(op, need, check_first, tries, spent).await?;
                // The GET/HEAD this try sends, then the LIST-class calls it sent.
                self.charge(spent, &held, [0, need[1], 0]);
                let result = attempt().await;
                if matches!(op, Op::Exists | Op::List) {
                    self.charge_lists(&held, need[2]);
                }
                if held.probe.is_some() {
                    self.end_probe(result.as_ref().err());
                }
                result
            };
            self.log_attempt(op, key, tries, result.as_ref().err());
            match result {
                Ok(value) => return Ok(value),
                Err(mut e) => {
                    if !self.again(tries, &mut e).await {
                        return Err(e);
                    }
                }
            }
        }
    }

    /// `-vv`: one line per request sent, with how it ended.
    fn log_attempt(&self, op: Op, key: &str, tries: u32, error: Option<&RemoteError>) {
        match error {
            None => {
                tracing::debug!(remote = %self.name(), attempt = tries, "{} {key}: ok", op.verb())
            }
            Some(e) => tracing::debug!(
                remote = %self.name(),
                attempt = tries,
                "{} {key}: {:?}: {}",
                op.verb(),
                e.kind,
                e.message
            ),
        }
    }

    /// Before try number `tries`: waits for a permit, then refuses (without sending anything)
    /// a GET/HEAD to a capped remote and a try that would pass the daily budget (`need` =
    /// bytes, GET/HEAD and LIST calls of one try; the first try only when `check_first`, since a claimed
    /// first try is covered by its claim). What it lets through is held in the account until
    /// the try is over, so tries in flight cannot pass a limit together.
    async fn gate(
        &self,
        op: Op,
        need: Cost,
        check_first: bool,
        tries: u32,
        spent: &Counter,
    ) -> Result<Held<'_>, RemoteError> {
        let probe = if op.capped_by_quota() && self.probing.load(Ordering::Relaxed) {
            let turn = self.probe.lock().await;
            // Another request may have settled the probe while this one waited.
            self.probing.load(Ordering::Relaxed).then_some(turn)
        } else {
            None
        };
        if op.capped_by_quota() && self.is_capped() {
            return Err(self.capped_error(tries));
        }
        let permit = self.permit().await?;
        // The cap may have been reported while this try waited for its permit.
        if op.capped_by_quota() && self.is_capped() {
            return Err(self.capped_error(tries));
        }
        let account = self
            .account
            .as_deref()
            .filter(|_| (tries > 1 || check_first) && need != [0; 3]);
        if let Some(a) = account
            && !a.reserve_cost(need)
        {
            return Err(self.over_budget(op, tries, spent));
        }
        Ok(Held {
            _permit: permit,
            reserved: account.map(|a| (a, Arc::new(Reserved::new(need)))),
            probe,
        })
    }

    /// Settles a probe of a named remote by its answer (`None`: it succeeded): the server
    /// answering ends the cap; a cap answer (or a 429 without `Retry-After` on a limited
    /// remote, as [`Stack::observe`] reads it) marks it again; a passing failure leaves the
    /// next request to probe.
    fn end_probe(&self, error: Option<&RemoteError>) {
        let limited = self.account.as_ref().is_some_and(|a| a.is_limited());
        match error {
            None => tracing::info!("remote '{}' answered: its cap is over", self.name()),
            Some(e) if e.kind == ErrorKind::NotFound => {
                tracing::info!("remote '{}' answered: its cap is over", self.name())
            }
            Some(e)
                if e.kind == ErrorKind::Quota
                    || (e.kind == ErrorKind::Throttled && e.retry_after.is_none() && limited) =>
            {
                self.observe(&mut e.clone());
            }
            Some(_) => return,
        }
        self.probing.store(false, Ordering::Relaxed);
    }

    /// After try number `tries` failed with `e`: notes what it says about the remote, then
    /// sleeps and returns `true` when the policy retries, else marks `e` final.
    async fn again(&self, tries: u32, e: &mut RemoteError) -> bool {
        self.observe(e);
        match self.policy.delay(tries, e) {
            Some(pause) => {
                tracing::info!(remote = %self.name(), attempt = tries, ?pause, "retrying: {}", e.message);
                tokio::time::sleep(pause).await;
                true
            }
            None => {
                gave_up(e, tries);
                false
            }
        }
    }

    /// Reads the remote's state off an error of its own: a cap answer (or a 429 without `Retry-After` from
    /// a remote with a daily limit: its quota, not a passing throttle) caps the remote now, for
    /// every task, and in the ledger for later runs that day.
    fn observe(&self, e: &mut RemoteError) {
        // An error of another remote (the target of a remote-to-remote copy) says nothing
        // about this one.
        if e.remote != self.name() {
            return;
        }
        let limited = self.account.as_ref().is_some_and(|a| a.is_limited());
        if e.kind == ErrorKind::Throttled && e.retry_after.is_none() && limited {
            e.kind = ErrorKind::Quota;
        }
        if e.kind != ErrorKind::Quota || self.capped.swap(true, Ordering::Relaxed) {
            return;
        }
        if let Some(account) = &self.account
            && let Err(err) = account.mark_capped()
        {
            tracing::warn!(
                "could not record the cap of remote '{}': {err}",
                self.name()
            );
        }
    }

    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, RemoteError> {
        self.permits.acquire().await.map_err(|_| {
            RemoteError::new(ErrorKind::Permanent, self.name(), "the remote was closed")
        })
    }

    /// The meter layer for LIST-class calls: what the backend counted on the wire since the
    /// last call, or `at_least` when it does not count them.
    fn charge_lists(&self, held: &Held<'_>, at_least: u64) {
        let n = self.backend.take_list_calls().unwrap_or(at_least);
        self.charge(&Counter::default(), held, [0, 0, n]);
    }

    /// Charges what a try cost, and lets go of as much of the try's reservation (what is
    /// charged is counted once, not as used *and* in flight).
    fn charge(&self, spent: &Counter, held: &Held<'_>, [bytes, requests, lists]: Cost) {
        spent.add(bytes, requests);
        if let Some(a) = &self.account {
            a.charge(bytes, requests);
            a.charge_lists(lists);
        }
        if let Some((account, reserved)) = &held.reserved {
            reserved.settle(account, [bytes, requests, lists]);
        }
    }

    /// The meter layer on a body: every chunk received is charged as it arrives (and taken
    /// off the try's reservation).
    fn metered(&self, stream: ByteStream, spent: &Counter, held: &Held<'_>) -> ByteStream {
        let account = self.account.clone();
        let reserved = held.reserved.as_ref().map(|(_, r)| Arc::clone(r));
        let counted = Arc::clone(&spent.0);
        Box::pin(stream.inspect(move |chunk| {
            if let Ok(bytes) = chunk {
                let n = bytes.len() as u64;
                counted[0].fetch_add(n, Ordering::Relaxed);
                if let Some(a) = &account {
                    a.charge(n, 0);
                    if let Some(r) = &reserved {
                        r.settle(a, [n, 0, 0]);
                    }
                }
            }
        }))
    }

    fn capped_error(&self, tries: u32) -> RemoteError {
        let mut e = RemoteError::new(
            ErrorKind::Quota,
            self.name(),
            format!(
                "remote '{}' reported its download cap; no request sent until its reset",
                self.name()
            ),
        );
        e.attempts = tries - 1;
        e
    }

    fn over_budget(&self, op: Op, tries: u32, spent: &Counter) -> RemoteError {
        tracing::info!(remote = %self.name(), attempt = tries, "not sent: over today's budget");
        let spent = spent.get();
        let message = if op == Op::List {
            format!(
                "another LIST would pass the daily_list_limit of remote '{}' (B2 Class C)",
                self.name()
            )
        } else {
            format!(
                "another request would pass the daily limit of remote '{}' (this call sent {} \
                 requests, received {} bytes)",
                self.name(),
                spent.requests,
                spent.bytes
            )
        };
        let mut e = RemoteError::new(ErrorKind::OverBudget, self.name(), message);
        e.attempts = tries - 1;
        e
    }
}

/// One try's permit and budget reservation, given back when the try is over (its real cost is
/// charged by then).
struct Held<'a> {
    _permit: tokio::sync::SemaphorePermit<'a>,
    reserved: Option<(&'a Account, Arc<Reserved>)>,
    /// This try is the probe of a named capped remote (the others wait for it).
    probe: Option<tokio::sync::MutexGuard<'a, ()>>,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Some((account, reserved)) = &self.reserved {
            account.unreserve_cost(reserved.take_all());
        }
    }
}

/// What one try still holds of its reservation in the account: charges take it back as they
/// are made (shared with the try's metered body), the rest goes back when the try ends.
struct Reserved([AtomicU64; 3]);

impl Reserved {
    fn new(cost: Cost) -> Reserved {
        Reserved(cost.map(AtomicU64::new))
    }

    /// Lets go of up to `charged` of what is held, in the account too.
    fn settle(&self, account: &Account, charged: Cost) {
        let mut released = [0; 3];
        for i in 0..3 {
            let take = |held: u64| Some(held - held.min(charged[i]));
            if let Ok(before) = self.0[i].fetch_update(Ordering::Relaxed, Ordering::Relaxed, take) {
                released[i] = before.min(charged[i]);
            }
        }
        account.unreserve_cost(released);
    }

    fn take_all(&self) -> Cost {
        [0, 1, 2].map(|i| self.0[i].swap(0, Ordering::Relaxed))
    }
}

/// Marks an error as final after `attempts` tries.
fn gave_up(err: &mut RemoteError, attempts: u32) {
    err.attempts = attempts;
    if attempts > 1 {
        err.message = format!("{} (gave up after {attempts} attempts)", err.message);
    }
}

/// Bytes and requests one call spent, shared with its metered streams.
#[derive(Default)]
struct Counter(Arc<[AtomicU64; 2]>);

impl Counter {
    fn add(&self, bytes: u64, requests: u64) {
        self.0[0].fetch_add(bytes, Ordering::Relaxed);
        self.0[1].fetch_add(requests, Ordering::Relaxed);
    }

    fn get(&self) -> Spent {
        Spent {
            bytes: self.0[0].load(Ordering::Relaxed),
            requests: self.0[1].load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use bytes::Bytes;

    use super::*;
    use crate::budget::{Budget, Clock, Ledger};

    /// A remote that answers reads from a script, one answer per request, and counts them.
    struct Scripted {
        answers: Mutex<Vec<Result<&'static [u8], RemoteError>>>,
        requests: AtomicU64,
        caps: Capabilities,
    }

    impl Scripted {
        fn new(answers: Vec<Result<&'static [u8], RemoteError>>) -> Arc<Scripted> {
            Arc::new(Scripted {
                answers: Mutex::new(answers),
                requests: AtomicU64::new(0),
                caps: Capabilities {
                    list: false,
                    write: false,
                    delete: false,
                },
            })
        }

        fn next(&self) -> Result<&'static [u8], RemoteError> {
            self.requests.fetch_add(1, Ordering::Relaxed);
            let mut a = self.answers.lock().unwrap();
            if a.is_empty() { Ok(b"") } else { a.remove(0) }
        }
    }

    #[async_trait::async_trait]
    impl Remote for Scripted {
        fn name(&self) -> &str {
            "r"
        }
        fn capabilities(&self) -> Capabilities {
            self.caps
        }
        async fn stat(&self, _: &str) -> Result<Presence, RemoteError> {
            self.next().map(|_| Presence::Present(None))
        }
        async fn list_sized(&self, _: &str) -> Result<Vec<(String, u64)>, RemoteError> {
            Ok(Vec::new())
        }
        async fn read(&self, _: &str) -> Result<ByteStream, RemoteError> {
            let body = self.next()?;
            // Half the body arrives, then the connection drops when the script says "cut".
            if body == b"cut!cut!" {
                let items: Vec<Result<Bytes, RemoteError>> = vec![
                    Ok(Bytes::from_static(&body[..4])),
                    Err(RemoteError::new(ErrorKind::Transient, "r", "cut")),
                ];
                return Ok(Box::pin(futures::stream::iter(items)));
            }
            Ok(Box::pin(futures::stream::once(async move {
                Ok(Bytes::from_static(body))
            })))
        }
        async fn write(&self, _: &str, _: ByteStream, _: u64) -> Result<(), RemoteError> {
            Ok(())
        }
        async fn delete(&self, _: &str) -> Result<(), RemoteError> {
            Ok(())
        }
    }

    fn fast() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            ..RetryPolicy::default()
        }
    }

    fn account(dir: &std::path::Path, limits: Budget) -> Arc<Account> {
        let ledger =
            Ledger::open(dir).with_clock(Clock::Fixed("2026-11-27T12:00:00Z".parse().unwrap()));
        Arc::new(Account::open(
            &ledger,
            "s3://b/p",
            &jiff::tz::TimeZone::UTC,
            limits,
        ))
    }

    async fn read_all(stack: &Stack, budget: ReadBudget) -> (Result<Vec<u8>, RemoteError>, Spent) {
        stack
            .read_with("k", budget, |mut s| async move {
                let mut got = Vec::new();
                while let Some(chunk) = s.next().await {
                    got.extend_from_slice(&chunk?);
                }
                Ok(got)
            })
            .await
    }

    fn err(kind: ErrorKind) -> RemoteError {
        RemoteError::new(kind, "r", "x")
    }

    #[tokio::test]
    async fn every_attempt_and_every_byte_is_charged() {
        let dir = tempfile::tempdir().unwrap();
        let acct = account(dir.path(), Budget::default());
        let backend = Scripted::new(vec![
            Err(err(ErrorKind::Transient)),
            Ok(b"cut!cut!"),
            Ok(b"whole body"),
        ]);
        let stack = Stack::new(
            backend.clone(),
            StackConfig {
                jobs: 2,
                policy: fast(),
                account: Some(acct.clone()),
            },
        );
        let (got, spent) = read_all(&stack, ReadBudget::default()).await;
        assert_eq!(got.unwrap(), b"whole body");
        assert_eq!(
            spent,
            Spent {
                bytes: 4 + 10,
                requests: 3
            },
            "the 500, the cut body and the good one"
        );
        let u = acct.usage().unwrap();
        assert_eq!((u.bytes, u.requests), (14, 3));
    }

    #[tokio::test]
    async fn a_cap_answer_stops_every_request_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let acct = account(dir.path(), Budget::default());
        let backend = Scripted::new(vec![Err(err(ErrorKind::Quota))]);
        let stack = Stack::new(
            backend.clone(),
            StackConfig {
                jobs: 1,
                policy: fast(),
                account: Some(acct.clone()),
            },
        );
        assert_eq!(stack.exists("k").await.unwrap_err().kind, ErrorKind::Quota);
        assert!(stack.is_capped());
        let (r, spent) = read_all(&stack, ReadBudget::default()).await;
        assert_eq!(r.unwrap_err().kind, ErrorKind::Quota);
        assert_eq!(spent.requests, 0);
        assert_eq!(backend.requests.load(Ordering::Relaxed), 1);
        // The ledger remembers: a stack opened later that day starts capped.
        let later = Stack::new(
            backend.clone(),
            StackConfig {
                jobs: 1,
                policy: fast(),
                account: Some(account(dir.path(), Budget::default())),
            },
        );
        assert!(later.is_capped());
        assert_eq!(later.exists("k").await.unwrap_err().kind, ErrorKind::Quota);
        assert_eq!(backend.requests.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_retry_sleeping_on_retry_after_sends_nothing_once_capped() {
        let throttled = err(ErrorKind::Throttled).with_retry_after(Some(Duration::from_millis(80)));
        let backend = Scripted::new(vec![Err(throttled), Err(err(ErrorKind::Quota))]);
        let stack = Stack::new(
            backend.clone(),
            StackConfig {
                jobs: 2,
                policy: fast(),
                account: None,
            },
        );
        let sleeper = read_all(&stack, ReadBudget::default());
        let capper = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            stack.exists("other").await
        };
        let ((r, spent), capped) = tokio::join!(sleeper, capper);
        assert_eq!(capped.unwrap_err().kind, ErrorKind::Quota);
        assert_eq!(r.unwrap_err().kind, ErrorKind::Quota);
        assert_eq!(
            spent.requests, 1,
            "the retry after Retry-After was never sent"
        );
        assert_eq!(backend.requests.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn a_429_without_retry_after_on_a_limited_remote_is_its_quota() {
        let dir = tempfile::tempdir().unwrap();
        let limits = Budget {
            limit_bytes: None,
            limit_requests: Some(100),
            limit_lists: None,
        };
        let backend = Scripted::new(vec![Err(err(ErrorKind::Throttled))]);
        let stack = Stack::new(
            backend.clone(),
            StackConfig {
                jobs: 1,
                policy: fast(),
                account: Some(account(dir.path(), limits)),
            },
        );
        let (r, _) = read_all(&stack, ReadBudget::default()).await;
        assert_eq!(r.unwrap_err().kind, ErrorKind::Quota);
        assert_eq!(backend.requests.load(Ordering::Relaxed), 1, "not retried");
    }

    #[tokio::test]
    async fn retries_stop_at_the_request_budget() {
        let dir = tempfile::tempdir().unwrap();
        let limits = Budget {
            limit_bytes: None,
            limit_requests: Some(3),
            limit_lists: None,
        };
        let backend = Scripted::new(vec![Err(err(ErrorKind::Transient)); 5]);
        let stack = Stack::new(
            backend.clone(),
            StackConfig {
                jobs: 1,
                policy: fast(),
                account: Some(account(dir.path(), limits)),
            },
        );
        let budget = ReadBudget {
            size: None,
            claimed: false,
        };
        let (r, spent) = read_all(&stack, budget).await;
        assert_eq!(r.unwrap_err().kind, ErrorKind::OverBudget);
        assert_eq!(spent.requests, 3);
        assert_eq!(backend.requests.load(Ordering::Relaxed), 3);
    }

    #[tokio::test]
    async fn what_a_try_was_charged_no_longer_counts_as_in_flight_too() {
        let dir = tempfile::tempdir().unwrap();
        let limits = Budget {
            limit_bytes: Some(10),
            limit_requests: Some(2),
            ..Budget::default()
        };
        let acct = account(dir.path(), limits);
        let stack = Stack::new(
            Scripted::new(vec![Ok(b"ten bytes!")]),
            StackConfig {
                jobs: 2,
                policy: fast(),
                account: Some(acct.clone()),
            },
        );
        let budget = ReadBudget {
            size: Some(10),
            claimed: false,
        };
        let inside = acct.clone();
        let (room, _) = stack
            .read_with("k", budget, |mut s| {
                let inside = inside.clone();
                async move {
                    while let Some(chunk) = s.next().await {
                        chunk?;
                    }
                    // The body and the GET are charged; counting them as reserved as well
                    // would make the day look full: 10 + 10 bytes, 1 + 1 requests.
                    Ok::<_, RemoteError>(inside.room(0, 1))
                }
            })
            .await;
        assert!(room.unwrap(), "one more request fits while the try ends");
        assert!(acct.room(0, 1) && !acct.room(1, 0));
    }

    #[tokio::test]
    async fn undeclared_operations_fail_before_a_request() {
        let backend = Scripted::new(Vec::new());
        let stack = Stack::new(
            backend.clone(),
            StackConfig {
                jobs: 1,
                policy: fast(),
                account: None,
            },
        );
        let body = || -> ByteStream { Box::pin(futures::stream::empty()) };
        let e = stack.write_with("k", 0, body).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert!(e.message.contains("cannot write to"), "{e}");
        assert_eq!(
            stack.list_sized("").await.unwrap_err().kind,
            ErrorKind::Unsupported
        );
        assert_eq!(
            stack.delete("k").await.unwrap_err().kind,
            ErrorKind::Unsupported
        );
        assert_eq!(backend.requests.load(Ordering::Relaxed), 0);
    }

    /// A remote that serves one object by ranges, cutting the first body after `cut` bytes,
    /// and records where each request started.
    struct Ranges {
        object: &'static [u8],
        cut: usize,
        starts: Mutex<Vec<u64>>,
    }

    #[async_trait::async_trait]
    impl Remote for Ranges {
        fn name(&self) -> &str {
            "r"
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities::default()
        }
        async fn stat(&self, _: &str) -> Result<Presence, RemoteError> {
            Ok(Presence::Present(None))
        }
        async fn list_sized(&self, _: &str) -> Result<Vec<(String, u64)>, RemoteError> {
            Ok(Vec::new())
        }
        async fn read(&self, k: &str) -> Result<ByteStream, RemoteError> {
            self.read_range(k, 0, None).await.map(|r| r.body)
        }
        async fn read_range(
            &self,
            _: &str,
            start: u64,
            _: Option<u64>,
        ) -> Result<Ranged, RemoteError> {
            let first = {
                let mut starts = self.starts.lock().unwrap();
                starts.push(start);
                starts.len() == 1
            };
            let rest = &self.object[start as usize..];
            let mut items = vec![Ok(Bytes::from_static(rest))];
            if first {
                items = vec![
                    Ok(Bytes::from_static(&rest[..self.cut])),
                    Err(RemoteError::new(ErrorKind::Transient, "r", "cut")),
                ];
            }
            Ok(Ranged {
                start,
                body: Box::pin(futures::stream::iter(items)),
            })
        }
        async fn write(&self, _: &str, _: ByteStream, _: u64) -> Result<(), RemoteError> {
            Ok(())
        }
        async fn delete(&self, _: &str) -> Result<(), RemoteError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_retry_after_a_cut_asks_for_the_rest_and_reserves_only_that() {
        let dir = tempfile::tempdir().unwrap();
        // Room for the object once (10 bytes), not for the whole of it twice.
        let limits = Budget {
            limit_bytes: Some(10),
            limit_requests: Some(2),
            ..Budget::default()
        };
        let acct = account(dir.path(), limits);
        let backend = Arc::new(Ranges {
            object: b"0123456789",
            cut: 6,
            starts: Mutex::new(Vec::new()),
        });
        let stack = Stack::new(
            backend.clone(),
            StackConfig {
                jobs: 1,
                policy: fast(),
                account: Some(acct.clone()),
            },
        );
        let span = Span::whole();
        let got = tokio::sync::Mutex::new(Vec::new());
        let budget = ReadBudget {
            size: Some(10),
            claimed: false,
        };
        let (result, spent) = stack
            .read_span("k", budget, &span, |mut ranged| {
                let (span, got) = (&span, &got);
                async move {
                    let mut got = got.lock().await;
                    assert_eq!(ranged.start as usize, got.len(), "starts where it stopped");
                    while let Some(chunk) = ranged.body.next().await {
                        got.extend_from_slice(&chunk?);
                        span.set_done(got.len() as u64);
                    }
                    Ok::<_, RemoteError>(())
                }
            })
            .await;
        result.unwrap();
        assert_eq!(got.into_inner(), b"0123456789");
        assert_eq!(*backend.starts.lock().unwrap(), vec![0, 6]);
        assert_eq!(
            spent,
            Spent {
                bytes: 10,
                requests: 2
            }
        );
        let u = acct.usage().unwrap();
        assert_eq!((u.bytes, u.requests), (10, 2), "the meter saw every byte");
    }

    fn capped_account(dir: &std::path::Path) -> Arc<Account> {
        let acct = account(dir, Budget::default());
        acct.mark_capped().unwrap();
        account(dir, Budget::default())
    }

    fn stack_on(backend: Arc<Scripted>, acct: Arc<Account>, named: bool) -> Stack {
        Stack::new(
            backend,
            StackConfig {
                jobs: 4,
                policy: fast(),
                account: Some(acct),
            },
        )
        .named(named)
    }

    #[tokio::test]
    async fn a_named_capped_remote_gets_one_probe_and_a_cap_answer_marks_it_again() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Scripted::new(vec![Err(err(ErrorKind::Quota))]);
        let unnamed = stack_on(backend.clone(), capped_account(dir.path()), false);
        assert_eq!(
            unnamed.exists("k").await.unwrap_err().kind,
            ErrorKind::Quota
        );
        assert_eq!(backend.requests.load(Ordering::Relaxed), 0, "unnamed: none");
        drop(unnamed);

        let stack = stack_on(backend.clone(), capped_account(dir.path()), true);
        assert!(!stack.is_capped());
        let (a, b, c) = tokio::join!(stack.exists("a"), stack.exists("b"), stack.stat("c"));
        for r in [a, b] {
            assert_eq!(r.unwrap_err().kind, ErrorKind::Quota);
        }
        assert_eq!(c.unwrap_err().kind, ErrorKind::Quota);
        assert_eq!(backend.requests.load(Ordering::Relaxed), 1, "one probe");
        assert!(stack.is_capped());
        drop(stack);
        assert!(
            account(dir.path(), Budget::default())
                .capped_until()
                .is_some()
        );
    }

    #[tokio::test]
    async fn a_named_remote_that_answers_is_no_longer_capped_and_an_unused_probe_keeps_the_mark() {
        let dir = tempfile::tempdir().unwrap();
        let backend = Scripted::new(Vec::new());
        let stack = stack_on(backend.clone(), capped_account(dir.path()), true);
        let (a, b) = tokio::join!(stack.exists("a"), stack.exists("b"));
        assert!(a.unwrap() && b.unwrap());
        assert_eq!(backend.requests.load(Ordering::Relaxed), 2);
        drop(stack);
        assert_eq!(account(dir.path(), Budget::default()).capped_until(), None);

        let other = tempfile::tempdir().unwrap();
        let stack = stack_on(backend.clone(), capped_account(other.path()), true);
        assert_eq!(
            account(other.path(), Budget::default()).capped_until(),
            None
        );
        drop(stack);
        assert!(
            account(other.path(), Budget::default())
                .capped_until()
                .is_some(),
            "no request was sent: the mark is back"
        );
    }

    #[tokio::test]
    async fn lists_are_charged_and_refused_past_the_list_limit() {
        let dir = tempfile::tempdir().unwrap();
        let limits = Budget {
            limit_lists: Some(2),
            ..Budget::default()
        };
        let acct = account(dir.path(), limits);
        let backend = Scripted::new(Vec::new());
        let stack = Stack::new(
            Arc::new(Listing(backend)),
            StackConfig {
                jobs: 1,
                policy: fast(),
                account: Some(acct.clone()),
            },
        );
        stack.list_sized("").await.unwrap();
        stack.list_sized("").await.unwrap();
        let e = stack.list_sized("").await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::OverBudget);
        let u = acct.usage().unwrap();
        assert_eq!((u.requests, u.lists), (0, 2));
    }

    /// A scripted remote that can list.
    struct Listing(Arc<Scripted>);

    #[async_trait::async_trait]
    impl Remote for Listing {
        fn name(&self) -> &str {
            "r"
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities::FULL
        }
        async fn stat(&self, k: &str) -> Result<Presence, RemoteError> {
            self.0.stat(k).await
        }
        async fn list_sized(&self, _: &str) -> Result<Vec<(String, u64)>, RemoteError> {
            Ok(Vec::new())
        }
        async fn read(&self, k: &str) -> Result<ByteStream, RemoteError> {
            self.0.read(k).await
        }
        async fn write(&self, _: &str, _: ByteStream, _: u64) -> Result<(), RemoteError> {
            Ok(())
        }
        async fn delete(&self, _: &str) -> Result<(), RemoteError> {
            Ok(())
        }
    }
}
