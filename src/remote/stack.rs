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
//!    included), is charged to the remote's [`Account`] and so to the ledger. Uploads and
//!    deletes (B2 Class A, free) and LISTs (Class C, a cap of its own) are outside
//!    `daily_request_limit`, which is B2's Class B, so they are not charged to it;
//! 5. **capability**: an operation the backend does not declare (`list`, `write`, `delete`)
//!    fails with an `Unsupported` error naming the remote before anything is sent.
//!
//! Callers above `remote/` never retry, limit or count by hand: they call a [`Stack`].
//! Whole-object operations take a closure run once per attempt (`read_with` consumes the stream,
//! `write_with` makes a fresh body), so a cut body is retried from the start.
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
    ByteStream, Capabilities, ErrorKind, PendingUpload, Presence, Remote, RemoteError, RetryPolicy,
};
use crate::budget::Account;

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
        }
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
        self.retried(Op::Exists, key, (0, 1), true, spent, move || async move {
            self.charge(spent, 0, 1);
            self.backend.stat(key).await
        })
        .await
    }

    /// Whether `key` exists. `Ok(false)` only for a definite "not found".
    pub async fn exists(&self, key: &str) -> Result<bool, RemoteError> {
        Ok(self.stat(key).await? != Presence::Absent)
    }

    /// The multipart uploads never completed nor aborted (see
    /// [`Remote::pending_uploads`]): a LIST-class call, retried and limited like the others.
    pub async fn pending_uploads(&self) -> Result<Vec<PendingUpload>, RemoteError> {
        let spent = &Counter::default();
        self.retried(Op::List, "", (0, 0), false, spent, move || {
            self.backend.pending_uploads()
        })
        .await
    }

    /// Every key under `prefix` with its size, sorted (a Class C call: not charged to the
    /// GET/HEAD budget).
    pub async fn list_sized(&self, prefix: &str) -> Result<Vec<(String, u64)>, RemoteError> {
        self.require(Op::List)?;
        let spent = &Counter::default();
        self.retried(Op::List, prefix, (0, 0), false, spent, move || {
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
        let spent = Counter::default();
        let need = (budget.size.unwrap_or(0), 1);
        let mut tries = 0u32;
        let result = loop {
            tries += 1;
            let held = match self
                .gate(Op::Read, need, !budget.claimed, tries, &spent)
                .await
            {
                Ok(held) => held,
                Err(e) => break Err(E::from(e)),
            };
            self.charge(&spent, 0, 1);
            let mut result = match self.backend.read(key).await {
                Ok(stream) => consume(self.metered(stream, &spent)).await,
                Err(e) => Err(E::from(e)),
            };
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
        self.retried(Op::Write, key, (0, 0), false, spent, move || {
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
        self.retried(Op::Delete, key, (0, 0), false, spent, move || {
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
        need: (u64, u64),
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
                let _held = self.gate(op, need, check_first, tries, spent).await?;
                attempt().await
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
    /// bytes, requests of one try; the first try only when `check_first`, since a claimed
    /// first try is covered by its claim). What it lets through is held in the account until
    /// the try is over, so tries in flight cannot pass a limit together.
    async fn gate(
        &self,
        op: Op,
        need: (u64, u64),
        check_first: bool,
        tries: u32,
        spent: &Counter,
    ) -> Result<Held<'_>, RemoteError> {
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
            .filter(|_| (tries > 1 || check_first) && need != (0, 0));
        if let Some(a) = account
            && !a.reserve(need.0, need.1)
        {
            return Err(self.over_budget(tries, spent));
        }
        Ok(Held {
            _permit: permit,
            reserved: account.map(|a| (a, need)),
        })
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

    fn charge(&self, spent: &Counter, bytes: u64, requests: u64) {
        spent.add(bytes, requests);
        if let Some(a) = &self.account {
            a.charge(bytes, requests);
        }
    }

    /// The meter layer on a body: every chunk received is charged as it arrives.
    fn metered(&self, stream: ByteStream, spent: &Counter) -> ByteStream {
        let account = self.account.clone();
        let counted = Arc::clone(&spent.0);
        Box::pin(stream.inspect(move |chunk| {
            if let Ok(bytes) = chunk {
                let n = bytes.len() as u64;
                counted[0].fetch_add(n, Ordering::Relaxed);
                if let Some(a) = &account {
                    a.charge(n, 0);
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

    fn over_budget(&self, tries: u32, spent: &Counter) -> RemoteError {
        tracing::info!(remote = %self.name(), attempt = tries, "not sent: over today's budget");
        let spent = spent.get();
        let mut e = RemoteError::new(
            ErrorKind::OverBudget,
            self.name(),
            format!(
                "another request would pass the daily limit of remote '{}' (this call sent {} \
                 requests, received {} bytes)",
                self.name(),
                spent.requests,
                spent.bytes
            ),
        );
        e.attempts = tries - 1;
        e
    }
}

/// One try's permit and budget reservation, given back when the try is over (its real cost is
/// charged by then).
struct Held<'a> {
    _permit: tokio::sync::SemaphorePermit<'a>,
    reserved: Option<(&'a Account, (u64, u64))>,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Some((account, (bytes, requests))) = self.reserved {
            account.unreserve(bytes, requests);
        }
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
}
