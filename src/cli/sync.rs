//! `ferry sync`: make every target remote hold every wanted object, copying from the local
//! cache or, through the router and its budgets, from the other remotes.
use super::Ctx;
use super::transfer::{settings, table};
use crate::error::{Exit, UserError};
use crate::ops::sync::SyncSpec;
use crate::repo::{Repo, index};
use std::collections::BTreeMap;

use crate::transfer::sync::{LOCAL, PlanRow, TargetRow};
use crate::ui::progress::TransferProgress;
use crate::ui::{files, human_bytes};

/// How many failed objects are named per remote before the rest are counted.
const FAILURES_SHOWN: usize = 10;

/// Copy what each remote lacks from the cache or from the other remotes.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  ferry sync                       # every remote gets everything the workspace records\n  ferry sync --to backblaze        # refill one remote (from the cache, else from the others)\n  ferry sync --from dagshub --to backblaze --dry-run\n  ferry sync --all-commits --keep-going"
)]
pub struct Args {
    /// Limit to these .dvc files, outputs or stages.
    #[arg(value_name = "TARGET")]
    targets: Vec<String>,
    /// Remotes to fill (repeat or comma-separate); default: every configured remote.
    #[arg(long = "to", value_name = "NAME", value_delimiter = ',')]
    to: Vec<String>,
    /// Remotes to copy from when the cache lacks an object; default: all, in pull order.
    #[arg(long = "from", value_name = "NAME", value_delimiter = ',')]
    from: Vec<String>,
    /// Carry on after a remote fails (default: stop at the first failing remote).
    #[arg(long)]
    keep_going: bool,
    /// Print per remote what it lacks and where it would come from (each object with -v);
    /// send nothing.
    #[arg(long)]
    dry_run: bool,
    /// Also every output any commit's .dvc files and dvc.lock record.
    #[arg(long)]
    all_commits: bool,
    /// Concurrent transfers per remote.
    #[arg(short, long, value_name = "N")]
    jobs: Option<usize>,
}

/// Runs `ferry sync`: resolves targets and sources, calls [`crate::ops::sync::sync`], renders.
pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let repo = Repo::discover(&ctx.cwd)?;
    let settings = settings(&repo)?;
    let outs = index::collect(&repo, &ctx.cwd, &args.targets)?;
    let spec = SyncSpec {
        to: args.to,
        from: args.from,
        keep_going: args.keep_going,
        dry_run: args.dry_run,
        all_commits: args.all_commits,
        jobs: args.jobs,
    };
    let progress = TransferProgress::new("syncing", ctx.out.is_quiet());
    let synced = crate::ops::sync::sync(&repo, &settings, &outs, &spec, &progress);
    progress.finish();
    let synced = synced?;
    for w in &synced.warnings {
        ctx.out.warn(w);
    }
    if spec.dry_run {
        ctx.out.line(&plan_text(
            &synced.plan,
            &synced.unknown_dirs,
            ctx.verbose > 0,
        ));
        return Ok(Exit::Ok);
    }
    render(ctx, &synced.rows)
}

/// Sources with the local cache first, then the remotes by name.
fn local_first<T>(from: &BTreeMap<String, T>) -> impl Iterator<Item = (&String, &T)> {
    let local = from.iter().filter(|(s, _)| s.as_str() == LOCAL);
    local.chain(from.iter().filter(|(s, _)| s.as_str() != LOCAL))
}

fn sources_text(from: impl Iterator<Item = String>) -> String {
    let parts: Vec<String> = from.collect();
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}

fn render(ctx: &Ctx, rows: &[TargetRow]) -> anyhow::Result<Exit> {
    for row in rows {
        if let Some(e) = &row.unreachable {
            ctx.out.error(&format!(
                "remote '{}' could not be checked - {}",
                row.name, e.message
            ));
        }
        for (o, why) in row.failed.iter().take(FAILURES_SHOWN) {
            ctx.out.error(&format!(
                "failed to sync '{}' ({}) to remote '{}' - {why}",
                o.out, o.hash.md5, row.name
            ));
        }
        if row.failed.len() > FAILURES_SHOWN {
            ctx.out.error(&format!(
                "... and {} more failed on remote '{}'",
                row.failed.len() - FAILURES_SHOWN,
                row.name
            ));
        }
    }
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let status = if r.skipped {
                "not attempted".to_string()
            } else if r.unreachable.is_some() {
                "unreachable".to_string()
            } else if r.failed.is_empty() {
                "ok".to_string()
            } else {
                format!("{} failed", r.failed.len())
            };
            vec![
                r.name.clone(),
                if r.skipped || r.unreachable.is_some() {
                    "-".into()
                } else {
                    r.already.to_string()
                },
                r.copied.to_string(),
                human_bytes(r.bytes),
                sources_text(local_first(&r.from).map(|(s, n)| format!("{s} {n}"))),
                status,
            ]
        })
        .collect();
    ctx.out.line(&table(
        &["remote", "had", "copied", "bytes", "from", "status"],
        &table_rows,
    ));
    let failed: Vec<&str> = rows
        .iter()
        .filter(|r| r.is_failed())
        .map(|r| r.name.as_str())
        .collect();
    if failed.is_empty() {
        return Ok(Exit::Ok);
    }
    let skipped: Vec<&str> = rows
        .iter()
        .filter(|r| r.skipped)
        .map(|r| r.name.as_str())
        .collect();
    let mut err = UserError::failed(format!(
        "failed to sync remote{} {}",
        if failed.len() == 1 { "" } else { "s" },
        failed.join(", ")
    ));
    err.exit = super::push::worst_exit(rows.iter().flat_map(|r| r.unreachable.iter()));
    err.hint = Some(if skipped.is_empty() {
        rows.iter()
            .find_map(|r| r.unreachable.as_ref())
            .and_then(crate::error::Hint::hint)
            .unwrap_or_else(|| {
                "rerun `ferry sync`: what was copied is kept and only the rest is sent".into()
            })
    } else {
        format!(
            "stopped at the first failing remote; {} not attempted: rerun with --keep-going to sync them anyway",
            skipped.join(", ")
        )
    });
    Err(err.into())
}

/// The `--dry-run` plan as text: per target what it lacks and where it would come from; with
/// `verbose` each object.
fn plan_text(rows: &[PlanRow], unknown_dirs: &[crate::transfer::Object], verbose: bool) -> String {
    let mut lines = vec!["Plan (dry run, nothing sent):".to_string()];
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            if let Some(e) = &r.unreachable {
                return vec![
                    r.name.clone(),
                    "-".into(),
                    "-".into(),
                    format!("cannot be checked: {}", e.message),
                ];
            }
            let mut from: Vec<String> = local_first(&r.from)
                .map(|(s, (n, b))| format!("{s} {n} ({})", human_bytes(*b)))
                .collect();
            if !r.nowhere.is_empty() {
                from.push(format!("nowhere {}", r.nowhere.len()));
            }
            vec![
                r.name.clone(),
                r.objects.to_string(),
                human_bytes(r.bytes),
                sources_text(from.into_iter()),
            ]
        })
        .collect();
    lines.push(table(
        &["remote", "lacks", "bytes", "would come from"],
        &table_rows,
    ));
    if !unknown_dirs.is_empty() {
        let names: Vec<&str> = unknown_dirs.iter().map(|o| o.out.as_str()).collect();
        lines.push(format!(
            "Directories whose file lists are not in the cache (their files are not counted; a real sync fetches the lists first): {}",
            names.join(", ")
        ));
    }
    if verbose {
        for r in rows.iter().filter(|r| !r.items.is_empty()) {
            lines.push(format!("'{}' would get:", r.name));
            for (o, source) in &r.items {
                lines.push(format!("  {} ({}) from {source}", o.out, o.hash.md5));
            }
        }
    }
    for r in rows {
        if r.nowhere.is_empty() {
            continue;
        }
        lines.push(format!(
            "{} that '{}' lacks on no usable source:",
            files(r.nowhere.len()),
            r.name
        ));
        for (o, why) in &r.nowhere {
            lines.push(format!("  {} ({why})", o.out));
        }
    }
    lines.join("\n")
}
