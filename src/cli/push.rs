//! `ferry push`: upload outputs' objects to one remote, or fan out to several.
use super::Ctx;
use super::transfer::{settings, table};
use crate::error::{Exit, UserError};
use crate::ops::push::PushTo;
use crate::remote::{ErrorKind, RemoteError};
use crate::repo::Repo;
use crate::transfer::push::PushReport;
use crate::ui::progress::TransferProgress;
use crate::ui::{files, human_bytes};

/// Upload tracked data to remotes.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  ferry push                   # the default remote (or push.remotes in .dvc/ferry.toml)\n  ferry push -r dagshub data.dvc\n  ferry push --all-remotes     # every configured remote, one report row each"
)]
pub struct Args {
    /// Limit to these .dvc files, outputs or stages.
    #[arg(value_name = "TARGET")]
    targets: Vec<String>,
    /// Push to this remote only.
    #[arg(short, long, value_name = "NAME", conflicts_with = "all_remotes")]
    remote: Option<String>,
    /// Push to every configured remote.
    #[arg(long)]
    all_remotes: bool,
    /// Concurrent uploads per remote.
    #[arg(short, long, value_name = "N")]
    jobs: Option<usize>,
    #[command(flatten)]
    selection: super::Selection,
    /// Read the targets as glob patterns (`*`, `?`, `[…]`, `**`).
    #[arg(long)]
    glob: bool,
    /// Print one JSON report (docs/json.md) on stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// Check every file on the remote, not trusting directories an earlier push saw complete.
    #[arg(long)]
    verify: bool,
}

/// Runs `ferry push`: resolves where it goes, calls [`crate::ops::push::push`], renders.
pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let repo = Repo::discover(&ctx.cwd)?;
    let settings = settings(&repo)?.naming(args.remote.as_deref());
    let targets = if args.glob {
        crate::repo::targets::expand_globs(&repo, &ctx.cwd, &args.targets)?
    } else {
        args.targets.clone()
    };
    let outs = args.selection.outs(ctx, &repo, &targets)?;
    let to = PushTo {
        remote: args.remote,
        all_remotes: args.all_remotes,
        jobs: args.jobs,
        verify: args.verify,
    };
    let progress = TransferProgress::new("pushing", ctx.out.is_quiet());
    let pushed = crate::ops::push::push(&repo, &settings, &outs, &to, &progress)?;
    progress.finish();
    for w in &pushed.warnings {
        ctx.out.warn(w);
    }
    let result = render(ctx, &pushed.report, pushed.fan_out, args.json);
    if args.json {
        return super::report_json::emit(ctx, super::report_json::pushed(&pushed), result);
    }
    result
}

/// Prints the errors (and, unless `json`, the table or summary line), then the push's outcome:
/// an error naming every remote that did not get everything.
fn render(ctx: &Ctx, report: &PushReport, fan_out: bool, json: bool) -> anyhow::Result<Exit> {
    if !report.missing_local.is_empty() {
        let mut list: Vec<String> = report
            .missing_local
            .iter()
            .map(|o| o.hash.to_string())
            .collect();
        list.sort();
        ctx.out.warn(&format!("Some of the cache files do not exist neither locally nor on remote. Missing cache files:\n{}", list.join("\n")));
    }
    let mut failed_remotes = Vec::new();
    for (name, row) in &report.rows {
        let mut failed: Vec<_> = row.failed.iter().collect();
        failed.sort_by(|a, b| a.0.hash.md5.cmp(&b.0.hash.md5));
        for (object, e) in failed {
            ctx.out.error(&format!(
                "failed to transfer '{}' to remote '{name}' - {}",
                object.hash.md5, e.message
            ));
        }
        if let Some(e) = &row.unreachable {
            ctx.out.error(&format!(
                "remote '{name}' could not be checked - {}",
                e.message
            ));
        }
        if !row.failed.is_empty() || row.unreachable.is_some() {
            failed_remotes.push(name.clone());
        }
    }
    if !json {
        summary(ctx, report, fan_out, failed_remotes.is_empty());
    }
    if failed_remotes.is_empty() {
        return Ok(Exit::Ok);
    }
    // Name each failed remote with what it got; the table above says the same per row.
    let per_remote: Vec<String> = report
        .rows
        .iter()
        .filter_map(|(name, r)| {
            if let Some(e) = &r.unreachable {
                let why = match e.kind {
                    ErrorKind::Auth => "credentials refused",
                    ErrorKind::Quota => "capped",
                    _ => "unreachable",
                };
                Some(format!("nothing sent to '{name}' ({why})"))
            } else if !r.failed.is_empty() {
                Some(format!(
                    "{} of {} failed to upload to '{name}'",
                    r.failed.len(),
                    files(r.failed.len() + r.uploaded as usize)
                ))
            } else {
                None
            }
        })
        .collect();
    let complete = report.rows.len() - per_remote.len();
    let rest = match complete {
        0 => String::new(),
        1 if report.rows.len() == 2 => "; the other remote got everything".into(),
        _ => "; the other remotes got everything".into(),
    };
    let mut hints: Vec<String> = Vec::new();
    for (_, r) in &report.rows {
        let first = r.unreachable.as_ref().or(r.failed.first().map(|(_, e)| e));
        if let Some(h) = first.and_then(crate::error::Hint::hint)
            && !hints.contains(&h)
        {
            hints.push(h);
        }
    }
    let mut err = UserError::failed(format!(
        "failed to push data to the cloud - {}{rest}",
        per_remote.join(", ")
    ));
    err.hint = Some(if hints.is_empty() {
        "rerun `ferry push`: what was uploaded is kept and only the rest is sent".into()
    } else {
        hints.join(super::HINT_BREAK)
    });
    err.exit = worst_exit(
        report
            .rows
            .iter()
            .flat_map(|(_, r)| r.unreachable.iter().chain(r.failed.iter().map(|(_, e)| e))),
    );
    Err(err.into())
}

/// The table (several remotes asked for) or DVC's one summary line.
fn summary(ctx: &Ctx, report: &PushReport, fan_out: bool, all_ok: bool) {
    if fan_out {
        let rows: Vec<Vec<String>> = report
            .rows
            .iter()
            .map(|(name, r)| {
                let status = if let Some(e) = &r.unreachable {
                    match e.kind {
                        ErrorKind::Auth => "credentials refused".to_string(),
                        ErrorKind::Quota => "capped".to_string(),
                        _ => "unreachable".to_string(),
                    }
                } else if r.failed.is_empty() {
                    "ok".to_string()
                } else {
                    format!("{} failed", r.failed.len())
                };
                vec![
                    name.clone(),
                    r.uploaded.to_string(),
                    human_bytes(r.bytes),
                    r.already.to_string(),
                    status,
                ]
            })
            .collect();
        ctx.out.line(&table(
            &["remote", "pushed", "bytes", "already there", "status"],
            &rows,
        ));
        for (name, r) in report.rows.iter().filter(|(_, r)| r.trusted_dirs > 0) {
            ctx.out.text(&format!(
                "note: remote '{name}' cannot list, so {} already there {} taken as complete \
                 from {} .dir (the files were not checked)",
                plural(r.trusted_dirs, "directory", "directories"),
                if r.trusted_dirs == 1 { "was" } else { "were" },
                if r.trusted_dirs == 1 { "its" } else { "their" },
            ));
        }
    } else {
        let uploaded: u64 = report.rows.iter().map(|(_, r)| r.uploaded).sum();
        if uploaded > 0 {
            ctx.out
                .line(&format!("{} pushed", files(uploaded as usize)));
        } else if all_ok && report.missing_local.is_empty() {
            ctx.out.line("Everything is up to date.");
        }
    }
}

/// `n` and the noun in the right number.
fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The exit code of a command that failed with `errors`: 251 when a remote refused our
/// credentials (a configuration problem, as the README says), else 1.
pub(super) fn worst_exit<'a>(errors: impl IntoIterator<Item = &'a RemoteError>) -> Exit {
    if errors.into_iter().any(|e| e.kind == ErrorKind::Auth) {
        Exit::Config
    } else {
        Exit::Failed
    }
}
