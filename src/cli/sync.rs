//! `ferry sync`: make every target remote hold every wanted object, copying from the local
//! cache or, through the router and its budgets, from the other remotes.
use super::Ctx;
use super::report_json;
use super::transfer::{settings, table};
use crate::error::{Exit, UserError};
use crate::ops::fetch::LaneReport;
use crate::ops::sync::{SyncSpec, Synced};
use crate::repo::{Repo, index};
use crate::transfer::router::Skip;
use std::collections::BTreeMap;

use crate::transfer::sync::{LOCAL, PlanRow};
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
    /// Print one JSON report (docs/json.md) on stdout instead of the table (with --dry-run:
    /// the plan; with -v also each object and its source).
    #[arg(long)]
    json: bool,
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
        items: ctx.verbose > 0,
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
    if spec.dry_run && args.json {
        let doc = report_json::sync_plan(&synced, ctx.verbose > 0);
        return report_json::emit(ctx, doc, Ok(Exit::Ok));
    }
    if spec.dry_run {
        ctx.out.text(&plan_text(
            &synced.plan,
            &synced.unknown_dirs,
            ctx.verbose > 0,
        ));
        return Ok(Exit::Ok);
    }
    let result = render(ctx, &synced, args.json);
    if args.json {
        return report_json::emit(ctx, report_json::synced(&synced), result);
    }
    result
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

/// Prints the errors (and, unless `json`, the table), then the sync's outcome: an error naming
/// each target left incomplete, with what to do next.
fn render(ctx: &Ctx, synced: &Synced, json: bool) -> anyhow::Result<Exit> {
    let rows = &synced.rows;
    for row in rows {
        if let Some(e) = &row.unreachable {
            ctx.out.error(&format!(
                "remote '{}' could not be checked - {}",
                row.name, e.message
            ));
        }
        let mut failed: Vec<_> = row.failed.iter().collect();
        failed.sort_by(|a, b| (&a.0.out, &a.0.hash.md5).cmp(&(&b.0.out, &b.0.hash.md5)));
        for (o, why) in failed.into_iter().take(FAILURES_SHOWN) {
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
    if !json {
        ctx.out.line(&table(
            &["remote", "had", "copied", "bytes", "from", "status"],
            &table_rows,
        ));
    }
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
            .or_else(|| sources_hint(&synced.sources))
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

/// When objects failed because their sources are capped or out of today's budget: when a
/// rerun can succeed (each source's reset, in its own zone) and what to do instead.
fn sources_hint(sources: &[LaneReport]) -> Option<String> {
    let blocked: Vec<String> = sources
        .iter()
        .filter(|l| {
            matches!(l.disabled, Some(Skip::Quota))
                || l.fell_back.contains_key(Skip::OverBudget.label())
                || l.fell_back.contains_key(Skip::Quota.label())
        })
        .map(|l| {
            let why = if matches!(l.disabled, Some(Skip::Quota))
                || l.fell_back.contains_key(Skip::Quota.label())
            {
                "is capped"
            } else {
                "is out of today's budget"
            };
            match &l.budget {
                Some(b) => format!("source '{}' {why} until {}", l.name, b.reset_text()),
                None => format!("source '{}' {why} until its reset", l.name),
            }
        })
        .collect();
    if blocked.is_empty() {
        return None;
    }
    Some(format!(
        "{}: rerun `ferry sync` after that (what was copied is kept), or copy from another remote with `--from NAME`, or push from a machine that has the data",
        blocked.join("; ")
    ))
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
