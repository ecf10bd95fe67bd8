//! Probing remotes for `ferry doctor`: a few cheap requests per remote, all remotes at once,
//! each answer mapped to a checklist line and, when something is wrong, the command that fixes
//! it.
//!
//! The requests: one existence check and one read of a key that is not there (a healthy remote
//! answers "not found"; refused credentials, a cap or no answer show up here), one listing of
//! the `ferry-doctor/` prefix where the backend can list, and with `--write` one small probe
//! object written, read back and deleted. Every request goes through the remote's layer stack,
//! opened with one attempt per request (a probe reports each answer, it does not retry): the
//! stack's meter charges the GET/HEAD calls to the budget like any other (B2 bills them as
//! Class B), records a cap the probe meets, and sends no GET/HEAD to a remote the ledger knows
//! is capped today.
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use serde_json::json;

use super::{Check, Problem, RemoteReport, Status};
use crate::budget::{Budget, Ledger, ledger_url};
use crate::config::ferry::{FerrySettings, RemoteSettings};
use crate::config::{Config, ConfigError};
use crate::error::Hint;
use crate::remote::{
    self, ErrorKind, ReadBudget, RemoteError, RemoteSpec, RetryPolicy, Stack, display_url,
};
use crate::transfer::remotes;
use crate::ui::human_bytes;

/// Where probe keys live on the remote, away from DVC's `files/md5/…` objects.
const PREFIX: &str = "ferry-doctor/";
/// How long one probe request may take before the remote counts as unreachable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);
/// What the `--write` probe object holds.
const PROBE_BODY: &[u8] = b"ferry doctor probe: safe to delete\n";

/// Probes the named remotes concurrently; reports come back in the order of `names`.
pub fn all(
    config: &Config,
    settings: &FerrySettings,
    ledger: Option<&Ledger>,
    names: &[String],
    write: bool,
) -> anyhow::Result<Vec<RemoteReport>> {
    let rt = crate::ops::runtime()?;
    let probes = names.iter().map(|name| {
        let spec = config.remote(name);
        let budget = settings.remote(name);
        let settings = settings.clone();
        async move {
            match spec {
                Ok(spec) => probe(config, spec, settings, budget, ledger, write).await,
                Err(e) => unusable_config(name, &e),
            }
        }
    });
    Ok(rt.block_on(futures::future::join_all(probes)))
}

/// A remote whose config sections cannot even give a spec (e.g. no `url`).
fn unusable_config(name: &str, e: &ConfigError) -> RemoteReport {
    let mut check = Check::new("config", Status::Fail, e.to_string());
    check.fix = e.hint();
    RemoteReport {
        name: name.to_string(),
        backend: "unknown".into(),
        url: String::new(),
        endpoint: None,
        problem: Some(Problem::Config),
        checks: vec![check],
        budget: None,
    }
}

/// What a remote is, for people: the backend and where it points.
struct Target {
    name: String,
    kind: Kind,
    backend: String,
    url: String,
    endpoint: Option<String>,
    /// Whether any credential is set for it (options, `FERRY_REMOTE_*`, for S3 also AWS's
    /// variables and `~/.aws/credentials`): a refusal without one is "no credentials set".
    credentials: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Local,
    S3,
    Http,
    Other,
}

impl Target {
    fn of(spec: &RemoteSpec) -> Self {
        let scheme = spec
            .url
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase());
        let endpoint = spec
            .options
            .get("endpointurl")
            .map(|e| display_url(e).trim_end_matches('/').to_string());
        let b2 = scheme.as_deref() == Some("b2")
            || endpoint
                .as_deref()
                .is_some_and(|e| e.contains("backblazeb2.com"));
        let (kind, backend) = match scheme.as_deref() {
            None | Some("file") => (Kind::Local, "local".to_string()),
            Some("s3") | Some("b2") if b2 => (Kind::S3, "s3 (Backblaze B2)".to_string()),
            Some("s3") | Some("b2") => (Kind::S3, "s3".to_string()),
            Some("http") | Some("https") if spec.url.contains("dagshub.com") => {
                (Kind::Http, "http (DagsHub)".to_string())
            }
            Some("http") | Some("https") => (Kind::Http, "http".to_string()),
            Some(other) => (Kind::Other, other.to_string()),
        };
        let set = |keys: &[&str]| keys.iter().any(|k| spec.options.contains_key(*k));
        let credentials = match kind {
            Kind::S3 => {
                set(&[
                    "access_key_id",
                    "secret_access_key",
                    "profile",
                    "credentialpath",
                ]) || [
                    "AWS_ACCESS_KEY_ID",
                    "AWS_PROFILE",
                    "AWS_SHARED_CREDENTIALS_FILE",
                ]
                .iter()
                .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()))
                    || std::env::var_os("HOME")
                        .is_some_and(|h| std::path::Path::new(&h).join(".aws/credentials").exists())
            }
            Kind::Http => set(&[
                "user",
                "password",
                "token",
                "custom_auth_header",
                "ask_password",
            ]),
            Kind::Local | Kind::Other => true,
        };
        Self {
            name: spec.name.clone(),
            kind,
            backend,
            url: display_url(&spec.url),
            endpoint: endpoint.filter(|_| kind == Kind::S3),
            credentials,
        }
    }

    /// How to give this remote working credentials.
    fn credentials_fix(&self) -> String {
        let n = &self.name;
        let env = crate::config::env::env_part(n);
        match self.kind {
            Kind::S3 => {
                let key = if self.backend.contains("B2") {
                    "  # a B2 application key, not the master key"
                } else {
                    ""
                };
                format!(
                    "ferry remote modify --local {n} access_key_id <key id>{key}\n\
                     ferry remote modify --local {n} secret_access_key <secret key>\n\
                     # in CI: export FERRY_REMOTE_{env}_ACCESS_KEY_ID=… FERRY_REMOTE_{env}_SECRET_ACCESS_KEY=…"
                )
            }
            Kind::Http => {
                let token = if self.backend.contains("DagsHub") {
                    "  # a token from https://dagshub.com/user/settings/tokens"
                } else {
                    ""
                };
                format!(
                    "ferry remote modify --local {n} auth basic\n\
                     ferry remote modify --local {n} user <user>\n\
                     ferry remote modify --local {n} password <token>{token}\n\
                     # in CI: export FERRY_REMOTE_{env}_USER=… FERRY_REMOTE_{env}_PASSWORD=…"
                )
            }
            Kind::Local | Kind::Other => format!(
                "ls -ld {}   # the directory must be readable (and writable to push) by you",
                self.url
            ),
        }
    }

    /// How to point the remote at the right place when nothing answers.
    fn address_fix(&self) -> String {
        let n = &self.name;
        match (self.kind, &self.endpoint) {
            (Kind::S3, Some(_)) => format!(
                "ferry remote modify {n} endpointurl https://…   # if the endpoint is wrong\n\
                 ferry doctor -r {n}   # again, once the network or the server is back"
            ),
            (Kind::Http, _) => format!(
                "ferry remote modify {n} url https://…   # if the address is wrong\n\
                 ferry doctor -r {n}   # again, once the network or the server is back"
            ),
            _ => format!("ferry doctor -r {n}   # again, once the network (or proxy) is back"),
        }
    }
}

/// The checklist being built for one remote.
struct Findings {
    checks: Vec<Check>,
    problem: Option<Problem>,
    /// The server said its cap is exhausted.
    capped_now: bool,
    /// The server answered an object request (found or "not found"): it is not capped now.
    served: bool,
}

impl Findings {
    fn push(&mut self, check: Check) {
        self.checks.push(check);
    }

    /// Records a failed check and the remote's problem (the first one found is kept).
    fn fail(&mut self, check: &'static str, problem: Problem, detail: String, fix: String) {
        self.checks
            .push(Check::new(check, Status::Fail, detail).fix(fix));
        self.problem.get_or_insert(problem);
    }

    fn skip_rest(&mut self, from: &[&'static str], why: &str) {
        for c in from {
            self.checks
                .push(Check::skip(c, format!("{c}: not tried ({why})")));
        }
    }
}

/// Bounds one request, so a host that never answers costs [`PROBE_TIMEOUT`], not minutes.
async fn timed<T>(
    name: &str,
    f: impl Future<Output = Result<T, RemoteError>>,
) -> Result<T, RemoteError> {
    match tokio::time::timeout(PROBE_TIMEOUT, f).await {
        Ok(r) => r,
        Err(_) => Err(RemoteError::new(
            ErrorKind::Transient,
            name,
            format!("no answer within {} s", PROBE_TIMEOUT.as_secs()),
        )),
    }
}

async fn probe(
    config: &Config,
    spec: RemoteSpec,
    all_settings: FerrySettings,
    settings: RemoteSettings,
    ledger: Option<&Ledger>,
    write: bool,
) -> RemoteReport {
    let target = Target::of(&spec);
    let mut f = Findings {
        checks: Vec::new(),
        problem: None,
        capped_now: false,
        served: false,
    };
    // Doctor names every remote it probes: a cap marked earlier gets one request to check it
    // (the stack's named probe), so the report says what the server says today.
    let was_capped = ledger
        .and_then(|l| l.usage(&ledger_url(&spec), &settings.budget_reset.tz).ok())
        .is_some_and(|u| u.capped_until.is_some());
    let all_settings = all_settings.naming(Some(&spec.name));
    let one_attempt = RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    };
    let opened = remotes::open_spec(config, &spec, &all_settings, None, one_attempt);
    match &opened {
        Ok(handle) => probe_remote(&target, &handle.remote, write, &mut f).await,
        Err(e) => f.fail(
            "config",
            Problem::Config,
            format!("cannot be set up: {}", e.message),
            format!(
                "ferry remote list -v   # the options of '{0}'\nferry remote modify {0} <option> <value>",
                target.name
            ),
        ),
    }
    let stack = opened.as_ref().ok().map(|h| h.remote.as_ref());
    let budget = budget(&spec, &settings, ledger, stack, was_capped, &target, &mut f);
    RemoteReport {
        name: target.name,
        backend: target.backend,
        url: target.url,
        endpoint: target.endpoint,
        problem: f.problem,
        checks: f.checks,
        budget,
    }
}

async fn probe_remote(target: &Target, remote: &Stack, write: bool, f: &mut Findings) {
    let absent = format!("{PREFIX}absent-{:016x}", rand::random::<u64>());

    if remote.is_capped() {
        // The ledger says the server reported its cap today: no GET/HEAD until the reset.
        f.push(Check::skip(
            "reachable",
            "reachable: not probed (capped today: no GET or HEAD is sent until the reset)",
        ));
        f.push(Check::skip(
            "credentials",
            "credentials: not probed (capped today)",
        ));
        f.capped_now = true;
    } else {
        probe_access(target, remote, &absent, f).await;
        if f.problem.is_some() && !f.capped_now {
            return;
        }
    }
    probe_rest(target, remote, &absent, write, f).await;
}

/// Reachable and credentials: an existence check of a key that is not there.
async fn probe_access(target: &Target, remote: &Stack, absent: &str, f: &mut Findings) {
    let name = target.name.as_str();
    match timed(name, remote.exists(absent)).await {
        Ok(_) => {
            f.served = true;
            f.push(Check::ok("reachable", reachable_text(target)));
            f.push(credentials_ok(target));
        }
        Err(e) => match e.kind {
            ErrorKind::Transient | ErrorKind::Throttled => {
                f.fail(
                    "reachable",
                    Problem::Unreachable,
                    format!("unreachable: {}", e.message),
                    target.address_fix(),
                );
                f.skip_rest(&["credentials", "list", "read", "write"], "unreachable");
            }
            ErrorKind::Auth => {
                f.push(Check::ok("reachable", "reachable"));
                let (problem, detail) = if target.credentials {
                    (
                        Problem::CredentialsRefused,
                        format!("credentials refused: {}", e.message),
                    )
                } else {
                    (
                        Problem::NoCredentials,
                        format!(
                            "no credentials set, and the server refuses requests without them: {}",
                            e.message
                        ),
                    )
                };
                f.fail("credentials", problem, detail, target.credentials_fix());
                f.skip_rest(&["list", "read", "write"], problem.label());
            }
            ErrorKind::Quota => {
                f.push(Check::ok("reachable", "reachable"));
                f.push(Check::ok(
                    "credentials",
                    "credentials accepted (the server answers with its cap)",
                ));
                f.capped_now = true;
            }
            _ => {
                f.fail(
                    "reachable",
                    Problem::Failing,
                    format!("cannot check objects: {}", e.message),
                    target.credentials_fix(),
                );
                f.skip_rest(&["credentials", "list", "read", "write"], "no access");
            }
        },
    }
}

/// List, read and (`write`) write, after the access check.
async fn probe_rest(target: &Target, remote: &Stack, absent: &str, write: bool, f: &mut Findings) {
    let name = target.name.as_str();
    // List: what `fetch` uses to learn what a remote holds in one call per 1,000 keys.
    if remote.capabilities().list {
        match timed(name, remote.list_sized(PREFIX)).await {
            Ok(_) => f.push(Check::ok("list", "can list")),
            Err(e) => list_failed(target, e, f),
        }
    } else {
        f.push(Check::skip(
            "list",
            "list: not possible on HTTP remotes (objects are checked one by one)",
        ));
    }

    if f.problem == Some(Problem::Config) {
        f.skip_rest(&["read", "write"], "the bucket does not exist");
        return;
    }

    // Read: a missing object must answer a clean "not found".
    if f.capped_now {
        f.fail(
            "read",
            Problem::Capped,
            "cannot read: the server says its download cap is exceeded".into(),
            cap_fix(name),
        );
    } else {
        match timed(name, read_all(remote, absent)).await {
            Err(e) if e.kind == ErrorKind::NotFound => f.push(Check::ok(
                "read",
                "can read (a missing object answers \"not found\")",
            )),
            Ok(_) => f.push(Check::ok("read", "can read")),
            Err(e) => access_failed("read", target, e, f),
        }
    }

    if !write {
        f.push(Check::skip(
            "write",
            format!("write: not tried (add --write to write and delete a probe under {PREFIX})"),
        ));
        return;
    }
    if !remote.capabilities().write {
        f.push(Check::skip("write", "write: this backend is read-only"));
        return;
    }
    write_probe(target, remote, f).await;
    pending_uploads(target, remote, f).await;
}

/// `--write`: multipart uploads left incomplete under the remote's root. Their parts stay
/// stored, and billed, until aborted; Ferry aborts its own failed uploads, but a killed process
/// (or another tool) leaves them behind.
async fn pending_uploads(target: &Target, remote: &Stack, f: &mut Findings) {
    let name = target.name.as_str();
    let uploads = match timed(name, remote.pending_uploads()).await {
        Ok(u) => u,
        Err(e) if e.kind == ErrorKind::Unsupported => return,
        Err(e) => {
            f.push(Check::new(
                "incomplete_uploads",
                Status::Warn,
                format!("cannot list incomplete multipart uploads: {}", e.message),
            ));
            return;
        }
    };
    if uploads.is_empty() {
        f.push(Check::ok(
            "incomplete_uploads",
            "no incomplete multipart uploads",
        ));
        return;
    }
    let oldest = uploads
        .iter()
        .map(|u| u.initiated.as_str())
        .filter(|t| !t.is_empty())
        .min()
        .unwrap_or("an unknown time");
    let more = if uploads.len() >= 1000 {
        " or more"
    } else {
        ""
    };
    let (bucket, prefix) = target
        .url
        .split_once("://")
        .map(|(_, rest)| rest.split_once('/').unwrap_or((rest, "")))
        .unwrap_or(("<bucket>", ""));
    let prefix = if prefix.is_empty() {
        String::new()
    } else {
        format!("{}/", prefix.trim_end_matches('/'))
    };
    let endpoint = target
        .endpoint
        .as_ref()
        .map(|e| format!(" --endpoint-url {e}"))
        .unwrap_or_default();
    let mut fix = format!(
        "# uploads started less than a day ago may still be running elsewhere; abort the others:\n\
         aws s3api list-multipart-uploads --bucket {bucket} --prefix '{prefix}'{endpoint}"
    );
    for u in uploads.iter().take(3) {
        fix.push_str(&format!(
            "\naws s3api abort-multipart-upload --bucket {bucket} --key '{prefix}{}' --upload-id '{}'{endpoint}",
            u.key, u.upload_id
        ));
    }
    if target.backend.contains("B2") {
        fix.push_str(
            "\n# B2: a lifecycle rule with daysFromStartingToCancelingUnfinishedLargeFiles cancels them for you",
        );
    }
    f.push(
        Check::new(
            "incomplete_uploads",
            Status::Warn,
            format!(
                "{}{more} incomplete multipart upload(s) under {} (oldest started {oldest}): \
                 their parts stay stored and billed until aborted",
                uploads.len(),
                target.url
            ),
        )
        .fix(fix),
    );
}

/// `--write`: a small object written, read back (unless capped) and deleted.
async fn write_probe(target: &Target, remote: &Stack, f: &mut Findings) {
    let name = target.name.as_str();
    let key = format!("{PREFIX}probe-{:016x}", rand::random::<u64>());
    let body = || -> remote::ByteStream {
        Box::pin(futures::stream::iter([Ok(Bytes::from_static(PROBE_BODY))]))
    };
    if let Err(e) = timed(name, remote.write_with(&key, PROBE_BODY.len() as u64, body)).await {
        return access_failed("write", target, e, f);
    }
    if !f.capped_now {
        let back = timed(name, read_all(remote, &key)).await;
        match back {
            Ok(chunks) if chunks.concat() == PROBE_BODY => {}
            Ok(_) => {
                return f.fail(
                    "write",
                    Problem::Failing,
                    format!("the probe {key} read back differs from what was written"),
                    format!(
                        "ferry doctor -r {name} --write   # again; if it persists, the remote corrupts data"
                    ),
                );
            }
            Err(e) => return access_failed("write", target, e, f),
        }
    }
    if !remote.capabilities().delete {
        f.push(
            Check::new(
                "write",
                Status::Warn,
                format!("can write; this backend cannot delete, so the probe {key} stays"),
            )
            .fix(format!("delete {key} by hand from the remote's web page")),
        );
        return;
    }
    let deleted = timed(name, remote.delete(&key)).await;
    if deleted.is_ok() && target.kind == Kind::Local {
        // A directory remote keeps the emptied `ferry-doctor/` directory; only an empty one goes.
        let _ = std::fs::remove_dir(std::path::Path::new(&target.url).join(PREFIX));
    }
    match deleted {
        Ok(()) if f.capped_now => f.push(Check::ok(
            "write",
            format!("can write and delete (probe under {PREFIX}; not read back: capped)"),
        )),
        Ok(()) => f.push(Check::ok(
            "write",
            format!("can write, read back and delete (probe under {PREFIX})"),
        )),
        Err(e) => f.push(
            Check::new(
                "write",
                Status::Warn,
                format!(
                    "can write, but deleting the probe {key} failed: {}",
                    e.message
                ),
            )
            .fix(format!(
                "delete {key} by hand; or check the credentials' delete permission"
            )),
        ),
    }
}

/// The whole body of `key`, through the stack (one attempt, metered).
async fn read_all(remote: &Stack, key: &str) -> Result<Vec<Bytes>, RemoteError> {
    remote
        .read_with(key, ReadBudget::default(), |stream| {
            stream.try_collect::<Vec<Bytes>>()
        })
        .await
        .0
}

fn reachable_text(target: &Target) -> String {
    match target.kind {
        Kind::Local if !std::path::Path::new(&target.url).exists() => {
            "reachable (the directory does not exist yet; the first push creates it)".into()
        }
        _ => "reachable".into(),
    }
}

fn credentials_ok(target: &Target) -> Check {
    match target.kind {
        Kind::Local => Check::skip("credentials", "credentials: none needed (local directory)"),
        _ => Check::ok("credentials", "credentials accepted"),
    }
}

fn cap_fix(name: &str) -> String {
    format!(
        "ferry pull   # nothing to fix: pulls take the other remotes until '{name}' resets (see `ferry remote usage`)"
    )
}

/// A failed listing: missing bucket, credentials without list permission, or no answer.
fn list_failed(target: &Target, e: RemoteError, f: &mut Findings) {
    match e.kind {
        ErrorKind::NotFound => no_bucket("list", target, e, f),
        ErrorKind::Auth => f.fail(
            "list",
            Problem::CredentialsRefused,
            format!("these credentials may not list: {}", e.message),
            format!(
                "# give the key list permission (B2: listFiles, S3: s3:ListBucket), or use another:\n{}",
                target.credentials_fix()
            ),
        ),
        ErrorKind::Quota => f.push(Check::ok("list", "can list")),
        _ => access_failed("list", target, e, f),
    }
}

/// The bucket (or the remote's directory) is not there: the URL is wrong or it was never made.
fn no_bucket(check: &'static str, target: &Target, e: RemoteError, f: &mut Findings) {
    let n = &target.name;
    f.fail(
        check,
        Problem::Config,
        format!("the bucket does not exist: {}", e.message),
        format!(
            "ferry remote modify {n} url s3://<existing bucket>/<path>   # or create the bucket"
        ),
    );
}

/// A failed read or write, by class.
fn access_failed(check: &'static str, target: &Target, e: RemoteError, f: &mut Findings) {
    if e.message.contains("NoSuchBucket") {
        return no_bucket(check, target, e, f);
    }
    match e.kind {
        ErrorKind::Auth => f.fail(
            check,
            Problem::CredentialsRefused,
            format!("these credentials may not {check}: {}", e.message),
            target.credentials_fix(),
        ),
        ErrorKind::Quota => {
            f.capped_now = true;
            f.fail(
                check,
                Problem::Capped,
                format!("cannot {check}: the server says its download cap is exceeded"),
                cap_fix(&target.name),
            );
        }
        ErrorKind::Transient | ErrorKind::Throttled => f.fail(
            check,
            Problem::Unreachable,
            format!("cannot {check}: {}", e.message),
            target.address_fix(),
        ),
        // The backend's own advice (an upload refused by POST: `method PUT`), else the options.
        _ => {
            let fix = e.advice.clone().unwrap_or_else(|| {
                format!(
                    "ferry remote list -v   # check the options of '{}'",
                    target.name
                )
            });
            f.fail(
                check,
                Problem::Failing,
                format!("cannot {check}: {}", e.message),
                fix,
            )
        }
    }
}

/// Today's use against the limits from the ledger and `ferry.toml`, and a cap in force. A cap
/// the probe just met is written to the ledger, so the next pull skips the remote at once.
fn budget(
    spec: &RemoteSpec,
    settings: &RemoteSettings,
    ledger: Option<&Ledger>,
    stack: Option<&Stack>,
    was_capped: bool,
    target: &Target,
    f: &mut Findings,
) -> Option<serde_json::Value> {
    let Some(ledger) = ledger else {
        f.push(Check::skip("budget", "budget: not tracked (no ledger)"));
        return None;
    };
    let key = ledger_url(spec);
    let tz = &settings.budget_reset.tz;
    let n = &target.name;
    // The stack's meter charged the probe's requests (and recorded a cap it met); flushed here.
    // A served answer ended a cap marked earlier (the named probe): say so, rather than show
    // "can read" next to "capped".
    let lifted = was_capped && !f.capped_now && f.served;
    let usage = match stack.and_then(|s| s.account()) {
        Some(account) => account.usage(),
        None => ledger.usage(&key, tz),
    };
    let usage = match usage {
        Ok(u) => u,
        Err(e) => {
            f.push(Check::new(
                "budget",
                Status::Warn,
                format!("budget: cannot read the ledger: {e}"),
            ));
            return None;
        }
    };
    let limits = Budget::from(settings);
    let left = limits.remaining(&usage);
    let now = ledger.now();
    let zone = &settings.budget_reset;
    let resets = format!(
        "resets {} (in {})",
        crate::ui::time::at(usage.resets_at, &zone.tz),
        crate::ui::time::until(now, usage.resets_at)
    );
    let mut parts = Vec::new();
    match (limits.limit_bytes, left.bytes) {
        (Some(limit), Some(rest)) => parts.push(format!(
            "{} of {} downloaded today, {} left",
            human_bytes(usage.bytes),
            human_bytes(limit),
            human_bytes(rest)
        )),
        _ => parts.push(format!(
            "{} downloaded today (no limit)",
            human_bytes(usage.bytes)
        )),
    }
    match (limits.limit_requests, left.requests) {
        (Some(limit), Some(rest)) => parts.push(format!(
            "{} of {limit} requests, {rest} left",
            usage.requests
        )),
        _ => parts.push(format!(
            "{} (no limit)",
            plural(usage.requests, "request", "requests")
        )),
    }
    match (limits.limit_lists, left.lists) {
        (Some(limit), Some(rest)) => parts.push(format!(
            "{} of {limit} list calls, {rest} left",
            usage.lists
        )),
        _ => parts.push(format!(
            "{} (no limit)",
            plural(usage.lists, "list call", "list calls")
        )),
    }
    let lifted = if lifted {
        "; the cap marked earlier today is cleared: the server answered this probe"
    } else {
        ""
    };
    let text = format!("budget: {}; {resets}{lifted}", parts.join("; "));
    let spent = left.bytes == Some(0) || left.requests == Some(0);
    if let Some(until) = usage.capped_until {
        f.fail(
            "budget",
            Problem::Capped,
            format!(
                "capped until {} (in {}): the server reported its cap, pulls skip '{n}' until then; {}",
                crate::ui::time::at(until, &zone.tz),
                crate::ui::time::until(now, until),
                parts.join("; ")
            ),
            cap_fix(n),
        );
    } else if spent {
        f.push(
            Check::new(
                "budget",
                Status::Warn,
                format!("{text}; pulls take the other remotes until then"),
            )
            .fix(format!(
                "ferry remote modify {n} daily_download_limit <more, e.g. 2GB>   # or wait for the reset"
            )),
        );
    } else {
        f.push(Check::ok("budget", text));
    }
    Some(json!({
        "bytes": usage.bytes,
        "bytes_limit": limits.limit_bytes,
        "requests": usage.requests,
        "requests_limit": limits.limit_requests,
        "lists": usage.lists,
        "lists_limit": limits.limit_lists,
        "reset_zone": zone.name,
        "resets_at": usage.resets_at.to_string(),
        "capped_until": usage.capped_until.map(|t| t.to_string()),
    }))
}

/// `1 request`, `3 requests`.
fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(url: &str, options: &[(&str, &str)]) -> RemoteSpec {
        RemoteSpec {
            name: "r".into(),
            url: url.into(),
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn backends_are_named_for_people() {
        let b2 = Target::of(&spec(
            "s3://bkt/data",
            &[("endpointurl", "https://s3.us-west-004.backblazeb2.com")],
        ));
        assert_eq!(b2.backend, "s3 (Backblaze B2)");
        assert!(b2.credentials_fix().contains("not the master key"));
        let dagshub = Target::of(&spec("https://alice:tok@dagshub.com/alice/proj.dvc", &[]));
        assert_eq!(dagshub.backend, "http (DagsHub)");
        assert_eq!(dagshub.url, "https://dagshub.com/alice/proj.dvc");
        assert!(dagshub.credentials_fix().contains("password <token>"));
        assert_eq!(Target::of(&spec("/mnt/x", &[])).backend, "local");
    }

    #[test]
    fn ci_variables_in_fixes_are_the_ones_the_config_reads() {
        let fix = Target::of(&RemoteSpec {
            name: "b2-eu".into(),
            url: "s3://bkt/x".into(),
            options: Default::default(),
        })
        .credentials_fix();
        assert!(
            fix.contains("FERRY_REMOTE_B2_EU_SECRET_ACCESS_KEY"),
            "{fix}"
        );
        let vars = [(
            "FERRY_REMOTE_B2_EU_SECRET_ACCESS_KEY".to_string(),
            "s".to_string(),
        )];
        let names = ["b2-eu".to_string()];
        assert_eq!(
            crate::config::env::overrides("b2-eu", &names, vars.into_iter()),
            vec![("secret_access_key".to_string(), "s".to_string())]
        );
    }
}
