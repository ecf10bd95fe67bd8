//! Opening the remotes a command works with, each with its concurrency and budget settings.
use std::sync::Arc;

use crate::config::Config;
use crate::config::ferry::FerrySettings;
use crate::error::{Exit, UserError};
use crate::remote::{self, Remote, RemoteSpec};

/// An opened remote plus what the engine needs to drive it.
pub struct Handle {
    /// The remote's name.
    pub name: String,
    /// Its URL (without credentials) for messages.
    pub url: String,
    /// The key of its budget in the ledger (endpoint + bucket for S3).
    pub ledger_key: String,
    /// The backend.
    pub remote: Arc<dyn Remote>,
    /// Concurrent transfers against it.
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

/// Opens remote `name`; `jobs` (from `-j`) overrides the remote's `jobs` option.
pub fn open(
    config: &Config,
    settings: &FerrySettings,
    name: &str,
    jobs: Option<usize>,
) -> anyhow::Result<Handle> {
    let spec = config.remote(name).map_err(|e| match e {
        // DVC's transfer commands fail with exit 1 here, not with a config error.
        crate::config::ConfigError::UnknownRemote(name) => anyhow::Error::from(
            UserError::failed(format!("config file error: remote '{name}' doesn't exist"))
                .with_hint("list the configured remotes with `ferry remote list`, or add it with `ferry remote add NAME URL`"),
        ),
        e => e.into(),
    })?;
    let remote = remote::open(&spec).map_err(|e| {
        UserError::config(e.to_string())
            .with_hint(format!(
                "check `ferry remote list` and the options of remote '{}'",
                spec.name
            ))
            .with_exit(Exit::Config)
    })?;
    let jobs = jobs
        .or_else(|| spec.options.get("jobs").and_then(|j| j.parse().ok()))
        .unwrap_or_else(|| default_jobs(&spec))
        .max(1);
    Ok(Handle {
        url: remote::display_url(&spec.url),
        ledger_key: crate::budget::ledger_url(&spec),
        name: spec.name.clone(),
        remote,
        jobs,
        settings: settings.remote(&spec.name),
    })
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
