//! `doctor`'s engine: probing remotes ([`probe`]) and checking the repository's setup
//! ([`setup`]) into a typed report; `cli::doctor` only renders it and picks the exit code.
use std::path::Path;

use serde::Serialize;

use crate::error::Exit;

pub mod probe;
pub mod setup;

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Fine.
    Ok,
    /// A risk worth fixing; does not change the exit code.
    Warn,
    /// A problem; the remote (or the setup) is not usable as it is.
    Fail,
    /// Not checked (not applicable, or an earlier check failed).
    Skip,
}

impl Status {
    /// The four-character mark of the checklist.
    pub fn mark(self) -> &'static str {
        match self {
            Status::Ok => "ok  ",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
            Status::Skip => "--  ",
        }
    }
}

/// One line of the checklist.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// A stable name for scripts: `reachable`, `credentials`, `list`, `read`, `write`, `budget`,
    /// `incomplete_uploads`, `tracked_secrets`, `config_local_ignored`, `config_local_private`,
    /// `remote_names`, …
    pub check: &'static str,
    /// How it came out.
    pub status: Status,
    /// What was found, for people (never a secret).
    pub detail: String,
    /// The command(s) that fix it, one per line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    /// A check that came out `status`.
    pub fn new(check: &'static str, status: Status, detail: impl Into<String>) -> Self {
        Self {
            check,
            status,
            detail: detail.into(),
            fix: None,
        }
    }

    /// A check that passed.
    pub fn ok(check: &'static str, detail: impl Into<String>) -> Self {
        Self::new(check, Status::Ok, detail)
    }

    /// A check not made.
    pub fn skip(check: &'static str, detail: impl Into<String>) -> Self {
        Self::new(check, Status::Skip, detail)
    }

    /// Adds the command(s) that fix it.
    pub fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// Why a remote cannot be used now; decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// Its configuration cannot be used (bad option, unknown scheme, missing bucket).
    Config,
    /// It refused our credentials.
    CredentialsRefused,
    /// No credential is set and the server refused the request without one.
    NoCredentials,
    /// No answer: wrong address, host down, network.
    Unreachable,
    /// Its download cap is exhausted (the server said so); pulls skip it until the reset.
    Capped,
    /// It answers, but reading or writing fails.
    Failing,
}

impl Problem {
    /// A short word for the report.
    pub fn label(self) -> &'static str {
        match self {
            Problem::Config => "misconfigured",
            Problem::CredentialsRefused => "credentials refused",
            Problem::NoCredentials => "no credentials set",
            Problem::Unreachable => "unreachable",
            Problem::Capped => "capped",
            Problem::Failing => "failing",
        }
    }

    /// The exit code it maps to: configuration problems 251, the rest 1.
    pub fn exit(self) -> Exit {
        match self {
            Problem::Config | Problem::CredentialsRefused | Problem::NoCredentials => Exit::Config,
            Problem::Unreachable | Problem::Capped | Problem::Failing => Exit::Failed,
        }
    }
}

/// Everything doctor found about one remote.
#[derive(Debug, Serialize)]
pub struct RemoteReport {
    /// The remote's name.
    pub name: String,
    /// `local`, `s3`, `s3 (Backblaze B2)`, `http`, `http (DagsHub)`.
    pub backend: String,
    /// The URL without credentials.
    pub url: String,
    /// The S3 endpoint, when one is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// What is wrong, if anything.
    pub problem: Option<Problem>,
    /// The checklist, in order.
    pub checks: Vec<Check>,
    /// Today's use against the limits, when the ledger could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<serde_json::Value>,
}

/// How file paths appear in messages and fix commands: relative to the repository root when
/// doctor runs there, absolute otherwise, so every command can be pasted as is.
pub struct Places {
    prefix: Option<std::path::PathBuf>,
}

impl Places {
    /// Paths as seen from `cwd` in the repository at `root`.
    pub fn new(cwd: &Path, root: &Path) -> Self {
        let same = cwd.canonicalize().ok() == root.canonicalize().ok();
        Self {
            prefix: (!same).then(|| root.to_path_buf()),
        }
    }

    /// `rel` (relative to the repository root) as the user should type it.
    pub fn show(&self, rel: &str) -> String {
        match &self.prefix {
            Some(root) => root.join(rel).display().to_string(),
            None => rel.to_string(),
        }
    }
}

/// What `doctor` found: one report per remote, the repository's checks.
#[derive(Debug)]
pub struct Diagnosis {
    /// One per remote probed, in the order asked.
    pub remotes: Vec<RemoteReport>,
    /// The repository's setup (and whether the budget ledger can be used).
    pub repository: Vec<Check>,
}

/// Probes the `names` remotes (with `write`, a probe object too) through their stacks and
/// checks the repository's setup; `settings_error` is why `ferry.toml` could not be read, if it
/// could not (`settings` are then the defaults).
pub fn diagnose(
    repo: &crate::repo::Repo,
    settings: &crate::config::ferry::FerrySettings,
    settings_error: Option<&crate::config::ferry::FerryError>,
    names: &[String],
    write: bool,
    places: &Places,
) -> anyhow::Result<Diagnosis> {
    let ledger = crate::budget::Ledger::open_default();
    let remotes = probe::all(&repo.config, settings, ledger.as_ref().ok(), names, write)?;
    let mut repository = setup::checks(repo, settings, settings_error, places);
    if let Err(e) = &ledger {
        repository.push(Check::new(
            "budget_ledger",
            Status::Warn,
            format!("the budget ledger cannot be opened, budgets are not tracked: {e}"),
        ));
    }
    Ok(Diagnosis {
        remotes,
        repository,
    })
}
