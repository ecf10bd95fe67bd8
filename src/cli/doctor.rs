//! `ferry doctor`: one command that says, for each remote, whether it can be used right now
//! (reachable, credentials accepted, list/read, optionally write, budget and cap) and what in the
//! repository's setup puts data or secrets at risk — each problem with the command that fixes it.
//!
//! Exit code: 251 when a problem is in the configuration (credentials refused, a remote that
//! cannot be set up, a secret in a tracked file, an unknown remote named in `.dvc/ferry.toml`),
//! else 1 when a remote is unusable (unreachable, capped, failing), else 0. Warnings alone
//! (e.g. `.dvc/config.local` readable by others) do not change it.

use serde::Serialize;

use super::Ctx;
use crate::config::ferry::FerrySettings;
use crate::error::{Exit, UserError};
use crate::repo::Repo;

use crate::ops::doctor::{Check, Places, RemoteReport, Status};

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
    let places = Places::new(&ctx.cwd, &repo.root);
    let busy = ctx.busy("checking remotes");
    let diagnosis = crate::ops::doctor::diagnose(
        &repo,
        &settings,
        settings_error.as_ref(),
        &names,
        args.write,
        &places,
    )?;
    drop(busy);
    let (remotes, repository) = (diagnosis.remotes, diagnosis.repository);

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
        ctx.out.line(&crate::ui::json::report(&report)?);
    } else {
        // on a terminal, long details wrap under themselves instead of mid-word
        let text = render(&remotes, &repository);
        match text.strip_suffix('\n') {
            Some(body) => ctx.out.text(body),
            None => ctx.out.raw(&text),
        }
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
