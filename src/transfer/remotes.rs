//! Opening the remotes a command works with: each comes back wrapped in its layer stack
//! (retry, concurrency, meter, capability; see [`crate::remote::Stack`]) with its budget
//! account, so no caller can send a request around them.
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::budget::{Account, Budget, Ledger, Team};
use crate::config::Config;
use crate::config::ferry::FerrySettings;
use crate::error::{Exit, UserError};
use crate::remote::{self, RemoteSpec, RetryPolicy, Stack, StackConfig};

/// An opened remote plus what the engine needs to drive it.
pub struct Handle {
    /// The remote's name.
    pub name: String,
    /// Its URL (without credentials) for messages.
    pub url: String,
    /// The key of its budget in the ledger (endpoint + bucket for S3).
    pub ledger_key: String,
    /// The remote in its layer stack: every request goes through it.
    pub remote: Arc<Stack>,
    /// Concurrent requests against it (the stack enforces it; queues are sized by it).
    pub jobs: usize,
    /// Ferry's per-remote settings (budgets).
    pub settings: crate::config::ferry::RemoteSettings,
}

/// Default concurrency: DVC uses 4 × cores; object stores answer many small requests in
/// parallel far better, so network remotes get at least 32.
fn default_jobs(spec: &RemoteSpec) -> usize {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    if spec.url.contains("://") && !spec.url.starts_with("file://") {
        (4 * cores).max(32)
    } else {
        4 * cores
    }
}

/// Opens remote `name` in its layer stack; `jobs` (from `-j`) overrides the remote's `jobs`
/// option. Every request and byte is charged to the remote's account in the per-user ledger
/// (unless that cannot be opened: the commands that plan on budgets warn then). A remote opened
/// twice in one process (a sync's target that is also a source) shares one stack, so its cap,
/// its concurrency limit and its meter are one.
pub fn open(
    config: &Config,
    settings: &FerrySettings,
    name: &str,
    jobs: Option<usize>,
) -> anyhow::Result<Handle> {
    let spec = config.remote(name).map_err(|e| match e {
        // A configuration error (exit 251, as the README says; DVC's transfer commands exit 1).
        crate::config::ConfigError::UnknownRemote(name) => anyhow::Error::from(
            UserError::config(format!("config file error: remote '{name}' doesn't exist"))
                .with_hint("list the configured remotes with `ferry remote list`, or add it with `ferry remote add NAME URL`"),
        ),
        e => e.into(),
    })?;
    open_spec(config, &spec, settings, jobs, RetryPolicy::default()).map_err(|e| {
        // the backend's advice names the option or URL to change; the generic line otherwise
        let hint = e.advice.clone().unwrap_or_else(|| {
            format!(
                "check `ferry remote list -v` and the options of remote '{}'",
                spec.name
            )
        });
        UserError::config(e.to_string())
            .with_hint(hint)
            .with_exit(Exit::Config)
            .into()
    })
}

/// Opens the remote `spec` describes in its layer stack, retrying by `policy` (`doctor` probes
/// with one attempt, so it sees each answer); the backend's own error when it cannot be set up.
pub fn open_spec(
    config: &Config,
    spec: &RemoteSpec,
    settings: &FerrySettings,
    jobs: Option<usize>,
    policy: RetryPolicy,
) -> Result<Handle, remote::RemoteError> {
    let backend = remote::open(spec)?;
    let jobs = jobs
        .or_else(|| spec.options.get("jobs").and_then(|j| j.parse().ok()))
        .unwrap_or_else(|| default_jobs(spec))
        .max(1);
    let remote_settings = settings.remote(&spec.name);
    let ledger_key = crate::budget::ledger_url(spec);
    let ledger = Ledger::open_default().ok();
    let id = format!(
        "{}\0{}\0{:?}\0{jobs}\0{:?}\0{:?}\0{policy:?}",
        spec.name,
        spec.url,
        spec.options,
        remote_settings,
        ledger.as_ref().map(|l| l.dir().to_path_buf())
    );
    let stack = shared(id, || {
        let limits = Budget::from(&remote_settings);
        let account = ledger.as_ref().map(|l| {
            Arc::new(
                Account::open(l, &ledger_key, &remote_settings.budget_reset.tz, limits)
                    .with_team(team(config, settings, l)),
            )
        });
        Stack::new(
            backend,
            StackConfig {
                jobs,
                policy,
                account,
            },
        )
        .named(remote_settings.named)
    });
    Ok(Handle {
        url: remote::display_url(&spec.url),
        ledger_key,
        name: spec.name.clone(),
        remote: stack,
        jobs,
        settings: remote_settings,
    })
}

/// Opens the named remotes, in order, skipping duplicates.
pub fn open_all(
    config: &Config,
    settings: &FerrySettings,
    names: &[String],
    jobs: Option<usize>,
) -> anyhow::Result<Vec<Handle>> {
    let mut seen = std::collections::HashSet::new();
    names
        .iter()
        .filter(|n| seen.insert(n.to_lowercase()))
        .map(|n| open(config, settings, n, jobs))
        .collect()
}

/// The stack already open under `id` in this process, else a new one from `make`. Holds them
/// weakly: a stack no handle uses any more is dropped (its meter flushes).
fn shared(id: String, make: impl FnOnce() -> Stack) -> Arc<Stack> {
    static OPEN: OnceLock<Mutex<HashMap<String, Weak<Stack>>>> = OnceLock::new();
    let mut open = OPEN
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    open.retain(|_, w| w.strong_count() > 0);
    if let Some(stack) = open.get(&id).and_then(Weak::upgrade) {
        return stack;
    }
    let stack = Arc::new(make());
    open.insert(id, Arc::downgrade(&stack));
    stack
}

/// The remote a single-remote command uses: `-r`, else `core.remote`, else an error like DVC's.
pub fn default_name(
    config: &Config,
    explicit: Option<&str>,
    root: &std::path::Path,
) -> anyhow::Result<String> {
    if let Some(r) = explicit {
        return Ok(r.to_lowercase());
    }
    match config.default_remote() {
        Some(r) => Ok(r.to_string()),
        None => Err(UserError::failed(format!(
            "config file error: no remote specified in {}. Create a default remote with\n    ferry remote add -d <remote name> <remote url>",
            root.display()
        ))
        .with_hint("or pass `-r NAME`; `ferry remote list` shows the configured remotes")
        .into()),
    }
}

/// The team ledger `ferry.toml` turns on, if any; one that cannot be used is warned about and
/// left off (the limits then count this machine's use only).
fn team(config: &Config, settings: &FerrySettings, ledger: &Ledger) -> Option<Arc<Team>> {
    crate::budget::Team::shared(config, settings, ledger)
        .map_err(|e| tracing::warn!("the team ledger is off: {e}"))
        .ok()
        .flatten()
}
