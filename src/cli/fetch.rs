//! `ferry fetch` and `ferry pull`: download what outputs need, routing each object over the
//! remotes in order (with budgets), then (pull) check the data out.
use super::Ctx;
use super::checkout::Summary;
use super::checkout::checkout_all;
use super::report_json;
use super::transfer::{settings, table};
use crate::error::Hint;
use crate::error::{Exit, UserError};
use crate::odb::twins::Twins;
use crate::ops;
use crate::ops::fetch::{FetchFrom, Fetched, Planned};
use crate::repo::{Repo, index};
use crate::transfer::router::Skip;
use crate::ui::progress::TransferProgress;
use crate::ui::{files, human_bytes};

use super::HINT_BREAK;
use std::sync::Arc;

/// Options shared by fetch and pull.
#[derive(Debug, clap::Args)]
pub struct FetchArgs {
    /// Limit to these .dvc files, outputs or stages.
    #[arg(value_name = "TARGET")]
    targets: Vec<String>,
    /// Use only this remote (no fallback).
    #[arg(short, long, value_name = "NAME")]
    remote: Option<String>,
    /// Use only the first remote of the order (the default remote).
    #[arg(long)]
    no_fallback: bool,
    /// Print the plan (objects and bytes per remote, budgets before and after); download nothing.
    #[arg(long)]
    dry_run: bool,
    /// Concurrent downloads per remote.
    #[arg(short, long, value_name = "N")]
    jobs: Option<usize>,
    /// Print one JSON report (docs/json.md) on stdout instead of the summary (with --dry-run:
    /// the plan).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    selection: super::Selection,
}

/// Download tracked data into the cache, from the first remote that can serve each object.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  ferry fetch                 # all remotes in pull order, with fallback\n  ferry fetch -r dagshub      # one remote, as dvc fetch -r\n  ferry fetch --dry-run       # the plan and the budgets, nothing downloaded"
)]
pub struct Args {
    #[command(flatten)]
    fetch: FetchArgs,
}

/// Download tracked data and check it out in the workspace.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  ferry pull                  # fallback per object over pull.order\n  ferry pull --dry-run        # what would come from where\n  ferry pull -r backblaze --force"
)]
pub struct PullArgs {
    #[command(flatten)]
    fetch: FetchArgs,
    /// Overwrite workspace changes that are not in the cache.
    #[arg(short, long)]
    force: bool,
    /// Succeed even when some data is on no remote.
    #[arg(long)]
    allow_missing: bool,
}

/// `ferry fetch`.
pub fn run_fetch(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let repo = Repo::discover(&ctx.cwd)?;
    let json = args.fetch.json;
    let Some(done) = do_fetch(ctx, &repo, &args.fetch, None)? else {
        return Ok(Exit::Ok);
    };
    let report = &done.report;
    if !json && report.fetched == 0 && report.failed.is_empty() {
        ctx.out.line("Everything is up to date.");
    } else if !json && report.fetched > 0 {
        ctx.out
            .line(&format!("{} fetched", files(report.fetched as usize)));
    }
    // data that is simply on no remote is a warning, as in dvc; a remote that refused, failed
    // or served corrupt bytes fails the fetch
    let only_missing = report
        .failed
        .iter()
        .all(|r| r.tried.iter().all(|(_, why)| *why == Skip::NotFound));
    let result = fetch_failures(ctx, &done, only_missing, "fetch");
    if json {
        return report_json::emit(ctx, report_json::fetched(&done, None), result);
    }
    result
}

/// `ferry pull`.
pub fn run_pull(ctx: &Ctx, args: PullArgs) -> anyhow::Result<Exit> {
    let repo = Repo::discover(&ctx.cwd)?;
    let json = args.fetch.json;
    // a checkout that copies files gets the large ones written while they download
    let twins = crate::repo::checkout::copies_files(&repo)
        .then(|| std::sync::Arc::new(Twins::new(repo.root.clone())));
    let Some(done) = do_fetch(ctx, &repo, &args.fetch, twins.clone())? else {
        return Ok(Exit::Ok);
    };
    let summary = match checkout_after(ctx, &repo, &args, !json, twins) {
        Ok(summary) => summary,
        Err(e) if json => return report_json::emit(ctx, report_json::fetched(&done, None), Err(e)),
        Err(e) => return Err(e),
    };
    let result = pull_outcome(ctx, &done, &summary, &args);
    if json {
        return report_json::emit(ctx, report_json::fetched(&done, Some(&summary)), result);
    }
    result
}

/// Pull's checkout of the targets once their data is fetched (`lines`: DVC's `A`/`M` lines).
fn checkout_after(
    ctx: &Ctx,
    repo: &Repo,
    args: &PullArgs,
    lines: bool,
    twins: Option<Arc<Twins>>,
) -> anyhow::Result<Summary> {
    let _lock = repo.lock()?;
    let targets = args
        .fetch
        .selection
        .targets(repo, &ctx.cwd, &args.fetch.targets)?;
    let outs = index::collect(repo, &ctx.cwd, &targets)?;
    checkout_all(ctx, repo, &outs, args.force, lines, twins)
}

/// A pull's summary line (without `--json`) and its outcome: DVC's checkout failures, or the
/// downloads no remote could serve.
fn pull_outcome(
    ctx: &Ctx,
    done: &Fetched,
    summary: &Summary,
    args: &PullArgs,
) -> anyhow::Result<Exit> {
    let report = &done.report;
    let mut parts = Vec::new();
    if report.fetched > 0 {
        parts.push(format!("{} fetched", files(report.fetched as usize)));
    }
    if summary.added > 0 {
        parts.push(format!("{} added", files(summary.added)));
    }
    if summary.modified > 0 {
        parts.push(format!("{} modified", files(summary.modified)));
    }
    let json = args.fetch.json;
    if !json && parts.is_empty() && summary.missing.is_empty() && summary.unsaved.is_empty() {
        ctx.out.line("Everything is up to date.");
    } else if let Some(last) = parts.pop().filter(|_| !json) {
        ctx.out.line(&if parts.is_empty() {
            last
        } else {
            format!("{} and {last}", parts.join(", "))
        });
    }
    if !summary.unsaved.is_empty() {
        let mut unsaved = summary.unsaved.clone();
        unsaved.sort();
        return Err(UserError::failed(format!("failed to pull data from the cloud - Can't remove the following unsaved files without confirmation. Use `--force` to force.\n{}", unsaved.join("\n")))
            .with_hint("save them with `ferry add`, or pass --force to discard them")
            .into());
    }
    // Data that is simply on no remote is DVC's checkout failure (or, with --allow-missing, a
    // warning); a remote that refused, failed or served corrupt bytes is a failed download.
    let refused = report
        .failed
        .iter()
        .any(|r| r.tried.iter().any(|(_, why)| *why != Skip::NotFound));
    if refused {
        fetch_failures(ctx, done, false, "pull")?;
    }
    if !summary.missing.is_empty() && !args.allow_missing {
        fetch_failures(ctx, done, true, "pull")?;
        let mut missing = summary.missing.clone();
        missing.sort();
        return Err(UserError::failed(format!("failed to pull data from the cloud - Checkout failed for following targets:\n{}\nIs your cache up to date?\n<https://error.dvc.org/missing-files>", missing.join("\n")))
            .with_hint(failure_hint(done))
            .into());
    }
    fetch_failures(ctx, done, args.allow_missing, "pull")
}

/// Resolves the fetch's settings and runs [`ops::fetch::fetch`] (or, `--dry-run`, renders
/// [`ops::fetch::plan`] and returns `None`), rendering the per-remote summary and warnings.
fn do_fetch(
    ctx: &Ctx,
    repo: &Repo,
    args: &FetchArgs,
    twins: Option<Arc<Twins>>,
) -> anyhow::Result<Option<Fetched>> {
    let settings = settings(repo)?.naming(args.remote.as_deref());
    let outs = args.selection.outs(ctx, repo, &args.targets)?;
    let from = FetchFrom {
        remote: args.remote.clone(),
        no_fallback: args.no_fallback,
        jobs: args.jobs,
        twins,
    };
    if args.dry_run {
        let planned = ops::fetch::plan(repo, &settings, &outs, &from)?;
        warn_all(ctx, &planned.warnings);
        if args.json {
            report_json::emit(ctx, report_json::planned(&planned), Ok(Exit::Ok))?;
        } else {
            ctx.out.text(&plan_text(&planned));
        }
        return Ok(None);
    }
    let progress = TransferProgress::new("fetching", ctx.out.is_quiet());
    let done = ops::fetch::fetch(repo, &settings, &outs, &from, &progress);
    progress.finish();
    let done = done?;
    warn_all(ctx, &done.warnings);
    let report = &done.report;
    if done.lanes.len() > 1 && done.routed && !args.json {
        ctx.out.line(&lanes_table(&done));
    }
    warn_lanes(ctx, &done);
    let mut bad: Vec<_> = report.bad_manifests.iter().collect();
    bad.sort();
    for (out, e) in bad {
        ctx.out.error(&format!("'{out}': {e}"));
    }
    for i in &done.imports {
        ctx.out.warn(&format!(
            "{} of '{}' could not be fetched from its source repository {}",
            files(i.objects),
            i.file,
            i.url
        ));
    }
    Ok(Some(done))
}

fn warn_all(ctx: &Ctx, warnings: &[String]) {
    for w in warnings {
        ctx.out.warn(w);
    }
}

fn budget_text(r: &crate::budget::Remaining) -> String {
    if r.capped {
        return "capped".into();
    }
    let mut parts = Vec::new();
    if let Some(b) = r.bytes {
        parts.push(human_bytes(b));
    }
    if let Some(q) = r.requests {
        parts.push(format!("{q} requests"));
    }
    if let Some(l) = r.lists {
        parts.push(format!("{l} lists"));
    }
    if parts.is_empty() {
        "unlimited".into()
    } else {
        format!("{} left", parts.join(" / "))
    }
}

/// The per-remote summary of a fetch over several remotes: what each supplied, and every
/// object that passed it over by reason (those another remote then supplied and those none
/// did).
fn lanes_table(done: &Fetched) -> String {
    let rows: Vec<Vec<String>> = done
        .lanes
        .iter()
        .enumerate()
        .map(|(i, lane)| {
            let mut passed = lane.fell_back.clone();
            for (_, why) in done
                .report
                .failed
                .iter()
                .flat_map(|r| &r.tried)
                .filter(|(t, _)| *t == i)
            {
                *passed.entry(why.label().to_string()).or_default() += 1;
            }
            let fell: Vec<String> = passed.iter().map(|(why, n)| format!("{n} {why}")).collect();
            vec![
                lane.name.clone(),
                lane.objects.to_string(),
                human_bytes(lane.bytes),
                if fell.is_empty() {
                    "-".into()
                } else {
                    fell.join(", ")
                },
            ]
        })
        .collect();
    table(&["remote", "objects", "bytes", "passed on (why)"], &rows)
}

/// The remotes after lane `i` that supplied objects, quoted, in order (where what `i` passed
/// on went).
fn served_after(done: &Fetched, i: usize) -> String {
    let names: Vec<String> = done
        .lanes
        .iter()
        .enumerate()
        .filter(|(j, l)| *j != i && l.objects > 0)
        .map(|(_, l)| format!("'{}'", l.name))
        .collect();
    if names.is_empty() {
        "the other remotes".into()
    } else {
        names.join(", ")
    }
}

/// Says why a remote was left out (credentials, cap, unreachable) and what became of its
/// objects, and which remote holds corrupt copies: the reasons behind the rows of the summary.
/// A cap that other remotes made up for is one `note:` line (nothing to fix); a refusal or a
/// failure is a warning, with the remote's own advice unless objects are missing (the final
/// error's hint then gives it, per remote).
fn warn_lanes(ctx: &Ctx, done: &Fetched) {
    let report = &done.report;
    for (i, lane) in done.lanes.iter().enumerate() {
        let name = &lane.name;
        let moved: u64 = lane.fell_back.values().sum();
        let unserved = report
            .failed
            .iter()
            .filter(|r| r.tried.iter().any(|(t, _)| *t == i))
            .count();
        let until = lane
            .budget
            .as_ref()
            .filter(|b| b.capped)
            .map(|b| format!(" (until {})", b.reset_text()))
            .unwrap_or_default();
        if let Some(e) = &lane.cause {
            let capped = lane.disabled == Some(Skip::Quota);
            if capped && unserved == 0 {
                let rest = if moved > 0 {
                    format!(
                        "; {} came from {} instead",
                        files(moved as usize),
                        served_after(done, i)
                    )
                } else {
                    String::new()
                };
                ctx.out.note(&format!(
                    "remote '{name}' reports its download cap is exhausted{until}{rest}"
                ));
            } else {
                let what = match lane.disabled {
                    Some(Skip::Auth) => "refused our credentials".to_string(),
                    Some(Skip::Quota) => format!("reports its download cap is exhausted{until}"),
                    _ => "kept failing".to_string(),
                };
                // Say only what happened to the objects it was asked for.
                let outcome = match (moved, unserved) {
                    (0, 0) => String::new(),
                    (moved, 0) => format!(
                        "; its objects were taken from the other remotes ({} from {})",
                        files(moved as usize),
                        served_after(done, i)
                    ),
                    (0, _) => "; no other remote supplied its objects".into(),
                    (moved, unserved) => format!(
                        "; {} came from {}, {} from no remote",
                        files(moved as usize),
                        served_after(done, i),
                        files(unserved)
                    ),
                };
                let mut text = format!("remote '{name}' {what} ({}){outcome}", e.message);
                // Refused credentials need fixing even when others made up for them; a remote
                // that failed needs nothing now but a look.
                if unserved == 0 && lane.disabled == Some(Skip::Auth) {
                    if let Some(hint) = e.hint() {
                        text.push_str(&format!("\n{hint}"));
                    }
                } else if unserved == 0 {
                    text.push_str(&format!("; `ferry doctor -r {name}` checks it"));
                }
                ctx.out.warn(&text);
            }
        } else if let Some(at) = lane.capped_until.filter(|_| moved > 0 || unserved > 0) {
            let at = lane
                .budget
                .as_ref()
                .map(|b| b.reset_text())
                .unwrap_or_else(|| at.to_string());
            let text = format!(
                "remote '{name}' reported its download cap earlier today; skipped without a request until its reset at {at}"
            );
            if unserved == 0 {
                ctx.out.note(&format!(
                    "{text}; {} came from {} instead",
                    files(moved as usize),
                    served_after(done, i)
                ));
            } else {
                ctx.out.warn(&text);
            }
        }
        // Failures that did not take it out of the run but that another remote made up for.
        let failing = [
            Skip::Unreachable,
            Skip::Retries(String::new()),
            Skip::Failed(String::new()),
        ];
        let failed: Vec<String> = failing
            .iter()
            .filter(|w| lane.fell_back.contains_key(w.label()))
            .map(|w| w.label().to_string())
            .collect();
        if lane.cause.is_none() && !failed.is_empty() {
            let n: u64 = failing
                .iter()
                .filter_map(|w| lane.fell_back.get(w.label()))
                .sum();
            ctx.out.note(&format!(
                "remote '{name}' failed to serve {} ({}); {} came from {} instead; `ferry doctor -r {name}` checks it",
                files(n as usize),
                failed.join(", "),
                if n == 1 { "it" } else { "they" },
                served_after(done, i)
            ));
        }
        if !lane.corrupt.is_empty() {
            let mut corrupt = lane.corrupt.clone();
            corrupt.sort();
            ctx.out.warn(&format!(
                "remote '{name}' holds corrupt copies (discarded: wrong md5 or longer than the object) of: {}; push them again from a good copy",
                corrupt.join(", ")
            ));
        }
    }
}

/// The `--dry-run` plan as text: per remote what it would supply and its budgets, then what
/// was read to plan, what could not be checked and what no remote can supply.
fn plan_text(planned: &Planned) -> String {
    let plan = &planned.plan;
    let rows: Vec<Vec<String>> = planned
        .lanes
        .iter()
        .zip(&plan.rows)
        .map(|(lane, row)| {
            vec![
                lane.name.clone(),
                row.objects.to_string(),
                human_bytes(row.bytes),
                budget_text(&lane.budget_before),
                budget_text(&lane.budget_after),
            ]
        })
        .collect();
    let mut lines = vec![
        "Plan (dry run: no data downloaded, nothing written to the cache):".to_string(),
        table(
            &[
                "remote",
                "objects",
                "bytes",
                "budget before",
                "budget after",
            ],
            &rows,
        ),
    ];
    if plan.manifests_read > 0 {
        lines.push(format!(
            "Read {} directory file list(s) from the remotes to plan their files (counted above).",
            plan.manifests_read
        ));
    }
    let unchecked: Vec<&str> = planned
        .lanes
        .iter()
        .filter(|l| !l.listed && l.disabled.is_none())
        .map(|l| l.name.as_str())
        .collect();
    if !unchecked.is_empty() {
        lines.push(format!(
            "Not checked (cannot list without downloading): {}; assumed to hold what is planned there.",
            unchecked.join(", ")
        ));
    }
    if !plan.unknown_dirs.is_empty() {
        lines.push(format!(
            "Directories whose file list no remote supplied (their files are not counted): {}",
            plan.unknown_dirs.join(", ")
        ));
    }
    if !plan.unroutable.is_empty() {
        lines.push(format!(
            "{} on no usable remote:",
            files(plan.unroutable.len())
        ));
        for r in &plan.unroutable {
            let why: Vec<String> = r
                .tried
                .iter()
                .map(|(i, s)| format!("{}: {}", planned.lanes[*i].name, s.detail()))
                .collect();
            lines.push(format!("  {} ({})", r.object.out, why.join("; ")));
        }
    }
    lines.join("\n")
}

/// What to do about the objects no remote supplied: one line per remote at fault, for that
/// remote's kind and reason (refused credentials, corrupt copies, a cap, a daily limit, a
/// failure), in the order of the remotes; else plain absence.
fn failure_hint(done: &Fetched) -> String {
    let mut hints = Vec::new();
    for (i, lane) in done.lanes.iter().enumerate() {
        let whys: Vec<&Skip> = done
            .report
            .failed
            .iter()
            .flat_map(|r| &r.tried)
            .filter(|(t, _)| *t == i)
            .map(|(_, why)| why)
            .collect();
        let n = &lane.name;
        let own = || lane.cause.as_ref().and_then(Hint::hint);
        let reset = || {
            lane.budget
                .as_ref()
                .map(|b| format!(" at {}", b.reset_text()))
                .unwrap_or_default()
        };
        let hint = if whys.contains(&&Skip::Auth) {
            own().unwrap_or_else(|| {
                format!("check the credentials of remote '{n}': `ferry doctor -r {n}` tests them")
            })
        } else if whys.contains(&&Skip::Corrupt) {
            format!(
                "remote '{n}' holds copies whose md5 or size does not match their name; they were discarded: push good copies from a machine that has the data (`ferry push -r {n}`)"
            )
        } else if whys.contains(&&Skip::Quota) {
            format!(
                "remote '{n}' is capped until its reset{}; rerun then (what was downloaded is kept), or push the data to another remote from a machine that has it",
                reset()
            )
        } else if whys.contains(&&Skip::OverBudget) {
            format!(
                "remote '{n}' reached a daily limit of .dvc/ferry.toml until its reset{}; `ferry remote usage` shows which, `ferry config remote.{n}.daily_download_limit …` raises it",
                reset()
            )
        } else if whys
            .iter()
            .any(|w| matches!(w, Skip::Unreachable | Skip::Retries(_) | Skip::Failed(_)))
        {
            own().unwrap_or_else(|| {
                format!(
                    "remote '{n}' failed or could not be reached; rerun the command: what was downloaded is kept (`ferry doctor -r {n}` checks it)"
                )
            })
        } else {
            continue;
        };
        if !hints.contains(&hint) {
            hints.push(hint);
        }
    }
    if hints.is_empty() {
        "the data is on none of the remotes tried; push it from a machine that has it, or pass --allow-missing".into()
    } else {
        hints.join(HINT_BREAK)
    }
}

/// Reports objects no remote supplied, each with every remote's reason; an error of command
/// `verb` unless `allow_missing`.
fn fetch_failures(
    ctx: &Ctx,
    done: &Fetched,
    allow_missing: bool,
    verb: &str,
) -> anyhow::Result<Exit> {
    let report = &done.report;
    if report.failed.is_empty() {
        return Ok(Exit::Ok);
    }
    let mut lines = Vec::new();
    for r in &report.failed {
        let why: Vec<String> = r
            .tried
            .iter()
            .map(|(i, s)| format!("{}: {}", done.lanes[*i].name, s.detail()))
            .collect();
        lines.push(format!(
            "{}: {} ({})",
            r.object.hash,
            r.object.out,
            if why.is_empty() {
                "no remote configured".into()
            } else {
                why.join("; ")
            }
        ));
    }
    // objects fail in whatever order their downloads end: listed by hash, the same every run
    lines.sort();
    let text = format!(
        "Some of the cache files could not be downloaded from any remote:\n{}",
        lines.join("\n")
    );
    // (callers pass `allow_missing` only when every remote simply lacks the objects)
    if allow_missing {
        ctx.out.warn(&format!(
            "{text}\npush them from a machine that has the data (`ferry push` there)"
        ));
        return Ok(Exit::Ok);
    }
    // A remote that refused the credentials is a configuration problem (exit 251).
    let refused = report
        .failed
        .iter()
        .any(|r| r.tried.iter().any(|(_, why)| *why == Skip::Auth));
    Err(UserError::failed(format!(
        "{text}\nfailed to {verb} data from the cloud - {} failed to download",
        files(report.failed.len())
    ))
    .with_hint(failure_hint(done))
    .with_exit(if refused { Exit::Config } else { Exit::Failed })
    .into())
}
