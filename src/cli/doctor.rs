//! `ferry doctor`: one command that says, for each remote, whether it can be used right now
//! (reachable, credentials accepted, list/read, optionally write, budget and cap) and what in the
//! repository's setup puts data or secrets at risk — each problem with the command that fixes it.
//!
//! Exit code: 251 when a problem is in the configuration (credentials refused, a remote that
//! cannot be set up, a secret in a tracked file, an unknown remote named in `.dvc/ferry.toml`),
//! else 1 when a remote is unusable (unreachable, capped, failing), else 0. Warnings alone
//! (e.g. `.dvc/config.local` readable by others) do not change it.
use std::path::Path;

use serde::Serialize;

use super::Ctx;
use crate::budget::Ledger;
use crate::config::ferry::FerrySettings;
use crate::error::{Exit, UserError};
use crate::repo::Repo;

mod probe;
mod setup;

/// Check each remote and the repository's setup, and say how to fix what is wrong.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  ferry doctor                 # every remote, and the repository's setup
  ferry doctor -r dagshub      # one remote
  ferry doctor --write         # also write and delete a probe object under ferry-doctor/
  ferry doctor --json | jq '.remotes[] | {name, problem}'

Exit code: 0 all usable, 1 a remote is unusable (unreachable, capped, failing),
251 a configuration problem (credentials refused, secret in a tracked file, unknown remote name).")]
pub struct Args {
    /// Check only this remote.
    #[arg(short, long, value_name = "NAME")]
    remote: Option<String>,
    /// Also write, read back and delete a small probe object under `ferry-doctor/`, and list
    /// multipart uploads left incomplete under the remote (S3).
    #[arg(long)]
    write: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

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
    fn mark(self) -> &'static str {
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
    fn new(check: &'static str, status: Status, detail: impl Into<String>) -> Self {
        Self {
            check,
            status,
            detail: detail.into(),
            fix: None,
        }
    }

    fn ok(check: &'static str, detail: impl Into<String>) -> Self {
        Self::new(check, Status::Ok, detail)
    }

    fn skip(check: &'static str, detail: impl Into<String>) -> Self {
        Self::new(check, Status::Skip, detail)
    }

    fn fix(mut self, fix: impl Into<String>) -> Self {
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
    /// No answer: wrong address, host down, network.
    Unreachable,
    /// Its download cap is exhausted (the server said so); pulls skip it until the reset.
    Capped,
    /// It answers, but reading or writing fails.
    Failing,
}

impl Problem {
    fn label(self) -> &'static str {
        match self {
            Problem::Config => "misconfigured",
            Problem::CredentialsRefused => "credentials refused",
            Problem::Unreachable => "unreachable",
            Problem::Capped => "capped",
            Problem::Failing => "failing",
        }
    }

    fn exit(self) -> Exit {
        match self {
            Problem::Config | Problem::CredentialsRefused => Exit::Config,
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

/// The whole report, as `--json` prints it.
#[derive(Debug, Serialize)]
struct Report {
    remotes: Vec<RemoteReport>,
    repository: Vec<Check>,
    problems: Vec<String>,
    exit_code: u8,
}

/// Runs every check and prints the report; the exit code says how bad it is (module doc).
pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let repo = Repo::discover(&ctx.cwd)?;
    let (settings, settings_error) = match FerrySettings::load(&repo.dvc_dir) {
        Ok(s) => (s, None),
        Err(e) => (FerrySettings::default(), Some(e)),
    };
    let names = match &args.remote {
        Some(r) => {
            let name = r.to_lowercase();
            // Fails with DVC's "remote 'x' doesn't exist" (exit 251) for a name no level defines.
            repo.config.remote(&name)?;
            vec![name]
        }
        None => repo.config.remote_names(),
    };
    let ledger = Ledger::open_default();
    let places = Places::new(&ctx.cwd, &repo.root);
    let remotes = probe::all(
        &repo.config,
        &settings,
        ledger.as_ref().ok(),
        &names,
        args.write,
    )?;
    let mut repository = setup::checks(&repo, &settings, settings_error.as_ref(), &places);
    if let Err(e) = &ledger {
        repository.push(Check::new(
            "budget_ledger",
            Status::Warn,
            format!("the budget ledger cannot be opened, budgets are not tracked: {e}"),
        ));
    }

    let mut problems = Vec::new();
    let mut exit = Exit::Ok;
    for r in &remotes {
        if let Some(p) = r.problem {
            problems.push(format!("remote '{}' {}", r.name, p.label()));
            exit = worse(exit, p.exit());
        }
    }
    for c in repository.iter().filter(|c| c.status == Status::Fail) {
        problems.push(c.detail.clone());
        exit = worse(exit, Exit::Config);
    }

    if args.json {
        let report = Report {
            remotes,
            repository,
            problems: problems.clone(),
            exit_code: exit as u8,
        };
        ctx.out.line(&serde_json::to_string_pretty(&report)?);
    } else {
        ctx.out.raw(&render(&remotes, &repository));
    }
    if problems.is_empty() {
        return Ok(Exit::Ok);
    }
    let count = if problems.len() == 1 {
        "1 problem".to_string()
    } else {
        format!("{} problems", problems.len())
    };
    Err(
        UserError::failed(format!("{count}: {}", problems.join("; ")))
            .with_hint(
                "run the `fix:` commands shown for each problem, then `ferry doctor` again"
                    .to_string(),
            )
            .with_exit(exit)
            .into(),
    )
}

/// 251 (configuration) outranks 1 (a remote unusable), which outranks 0.
fn worse(a: Exit, b: Exit) -> Exit {
    let rank = |e: Exit| match e {
        Exit::Ok => 0,
        Exit::Failed => 1,
        _ => 2,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// How file paths appear in messages and fix commands: relative to the repository root when
/// doctor runs there, absolute otherwise, so every command can be pasted as is.
pub struct Places {
    prefix: Option<std::path::PathBuf>,
}

impl Places {
    fn new(cwd: &Path, root: &Path) -> Self {
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

/// The checklist for people.
fn render(remotes: &[RemoteReport], repository: &[Check]) -> String {
    let mut out = String::new();
    for r in remotes {
        out += &format!("{}  {}  {}", r.name, r.backend, r.url);
        if let Some(e) = &r.endpoint {
            out += &format!("  (endpoint {e})");
        }
        out += "\n";
        render_checks(&mut out, &r.checks);
        out += "\n";
    }
    out += "repository\n";
    render_checks(&mut out, repository);
    out
}

fn render_checks(out: &mut String, checks: &[Check]) {
    for c in checks {
        *out += &format!("  {}  {}\n", c.status.mark(), c.detail);
        if let Some(fix) = &c.fix {
            for (i, line) in fix.lines().enumerate() {
                let lead = if i == 0 { "fix:" } else { "    " };
                *out += &format!("        {lead} {line}\n");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_outranks_an_unusable_remote() {
        assert_eq!(worse(Exit::Ok, Exit::Failed), Exit::Failed);
        assert_eq!(worse(Exit::Failed, Exit::Config), Exit::Config);
        assert_eq!(worse(Exit::Config, Exit::Failed), Exit::Config);
        assert_eq!(worse(Exit::Ok, Exit::Ok), Exit::Ok);
    }

    #[test]
    fn fixes_are_indented_under_their_check() {
        let checks = vec![
            Check::ok("reachable", "reachable"),
            Check::new("credentials", Status::Fail, "credentials refused")
                .fix("ferry remote modify --local d user <user>\nferry remote modify --local d password <token>"),
        ];
        let mut out = String::new();
        render_checks(&mut out, &checks);
        assert_eq!(
            out,
            "  ok    reachable\n  FAIL  credentials refused\n        fix: ferry remote modify --local d user <user>\n             ferry remote modify --local d password <token>\n"
        );
    }
}
