//! `ferry fetch` and `ferry pull`: download what outputs need, routing each object over the
//! remotes in order (with budgets), then (pull) check the data out.
use super::Ctx;
use super::checkout::checkout_all;
use super::transfer::{open_all, runtime, settings, table};
use crate::budget::Ledger;
use crate::error::Hint;
use crate::error::{Exit, UserError};
use crate::repo::{Repo, index};
use crate::transfer::fetch::{FetchReport, Plan, fetch, plan};
use crate::transfer::router::{Lane, Router, Skip};
use crate::ui::progress::TransferProgress;
use crate::ui::{files, human_bytes};

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
    match do_fetch(ctx, &repo, &args.fetch)? {
        Fetched::Planned => Ok(Exit::Ok),
        Fetched::Done(report, names) => {
            if report.fetched.is_empty() && report.failed.is_empty() {
                ctx.out.line("Everything is up to date.");
            } else if !report.fetched.is_empty() {
                ctx.out
                    .line(&format!("{} fetched", files(report.fetched.len())));
            }
            // data that is simply on no remote is a warning, as in dvc; a remote that refused,
            // failed or served corrupt bytes fails the fetch
            let only_missing = report
                .failed
                .iter()
                .all(|r| r.tried.iter().all(|(_, why)| *why == Skip::NotFound));
            fetch_failures(&report, &names, only_missing, "fetch")
        }
    }
}

/// `ferry pull`.
pub fn run_pull(ctx: &Ctx, args: PullArgs) -> anyhow::Result<Exit> {
    let repo = Repo::discover(&ctx.cwd)?;
    let (report, names) = match do_fetch(ctx, &repo, &args.fetch)? {
        Fetched::Planned => return Ok(Exit::Ok),
        Fetched::Done(report, names) => (report, names),
    };
    let _lock = repo.lock()?;
    let targets = args
        .fetch
        .selection
        .targets(&repo, &ctx.cwd, &args.fetch.targets)?;
    let outs = index::collect(&repo, &ctx.cwd, &targets)?;
    let summary = checkout_all(ctx, &repo, &outs, args.force, true)?;
    let mut parts = Vec::new();
    if !report.fetched.is_empty() {
        parts.push(format!("{} fetched", files(report.fetched.len())));
    }
    if summary.added > 0 {
        parts.push(format!("{} added", files(summary.added)));
    }
    if summary.modified > 0 {
        parts.push(format!("{} modified", files(summary.modified)));
    }
    if parts.is_empty() && summary.missing.is_empty() && summary.unsaved.is_empty() {
        ctx.out.line("Everything is up to date.");
    } else if !parts.is_empty() {
        let last = parts.pop().unwrap_or_default();
        ctx.out.line(&if parts.is_empty() {
            last
        } else {
            format!("{} and {last}", parts.join(", "))
        });
    }
    if !summary.unsaved.is_empty() {
        return Err(UserError::failed(format!("failed to pull data from the cloud - Can't remove the following unsaved files without confirmation. Use `--force` to force.\n{}", summary.unsaved.join("\n")))
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
        fetch_failures(&report, &names, false, "pull")?;
    }
    if !summary.missing.is_empty() && !args.allow_missing {
        fetch_failures(&report, &names, true, "pull")?;
        return Err(UserError::failed(format!("failed to pull data from the cloud - Checkout failed for following targets:\n{}\nIs your cache up to date?\n<https://error.dvc.org/missing-files>", summary.missing.join("\n")))
            .with_hint(failure_hint(&report, &names))
            .into());
    }
    fetch_failures(&report, &names, args.allow_missing, "pull")
}

enum Fetched {
    Planned,
    /// What the fetch did, and the names of the remotes in the order the router used.
    Done(FetchReport, Vec<String>),
}

fn do_fetch(ctx: &Ctx, repo: &Repo, args: &FetchArgs) -> anyhow::Result<Fetched> {
    let settings = settings(repo)?;
    let outs = args.selection.outs(ctx, repo, &args.targets)?;
    let mut order = match &args.remote {
        Some(r) => vec![r.to_lowercase()],
        None => settings.pull_order(&repo.config),
    };
    if args.no_fallback {
        order.truncate(1);
    }
    if order.is_empty() {
        ctx.out
            .warn("No remote provided and no default remote set.");
    }
    let handles = open_all(repo, &settings, &order, args.jobs)?;
    if let Err(e) = Ledger::open_default() {
        ctx.out
            .warn(&format!("download budgets are not tracked: {e}"));
    }
    let lanes: Vec<Lane> = handles.into_iter().map(Lane::new).collect();
    let mut router = Router::new(lanes);
    let odb = repo.odb();
    let rt = runtime()?;
    if args.dry_run {
        let plan = rt.block_on(plan(&odb, &outs, &mut router));
        render_plan(ctx, &router, &plan);
        return Ok(Fetched::Planned);
    }
    // imported outs come from their source repository's remotes, as in dvc
    let (imported, outs): (Vec<_>, Vec<_>) = outs.into_iter().partition(|o| o.imported);
    let progress = TransferProgress::new("fetching", ctx.out.is_quiet());
    let mut report = rt.block_on(fetch(&odb, &outs, &mut router, &progress))?;
    progress.finish();
    if router.lanes.len() > 1 && (!report.fetched.is_empty() || !report.failed.is_empty()) {
        render_lanes(ctx, &router);
    }
    warn_lanes(ctx, &router, &report);
    for (out, e) in &report.bad_manifests {
        ctx.out.error(&format!("'{out}': {e}"));
    }
    for (file, outs) in imported_by_file(&imported) {
        // the source is cloned only when the cache lacks some of the import's data
        if outs.iter().all(|o| {
            o.hash
                .as_ref()
                .is_none_or(|h| crate::repo::status::cache_complete(&odb, h))
        }) {
            continue;
        }
        let Some(src) = std::fs::read_to_string(repo.root.join(&file))
            .ok()
            .and_then(|t| crate::repo::imports::source_of(&t))
        else {
            continue;
        };
        let source = crate::repo::imports::checkout(&repo.root, &file, &src)?;
        let src_settings = super::transfer::settings(&source.repo)?;
        let src_order = src_settings.pull_order(&source.repo.config);
        let lanes = open_all(&source.repo, &src_settings, &src_order, args.jobs)?
            .into_iter()
            .map(Lane::new)
            .collect();
        let mut src_router = Router::new(lanes);
        let progress = TransferProgress::new("fetching", ctx.out.is_quiet());
        let got = rt.block_on(fetch(&odb, &outs, &mut src_router, &progress))?;
        progress.finish();
        if !got.failed.is_empty() {
            ctx.out.warn(&format!(
                "{} of '{file}' could not be fetched from its source repository {}",
                files(got.failed.len()),
                src.url
            ));
        }
        // dvc counts an import's files, not its `.dir`
        report
            .fetched
            .extend(got.fetched.into_iter().filter(|(o, _)| !o.hash.is_dir()));
        report.bad_manifests.extend(got.bad_manifests);
    }
    let names = router.lanes.iter().map(|l| l.handle.name.clone()).collect();
    Ok(Fetched::Done(report, names))
}

/// Imported outs grouped by the `.dvc` file that declares them.
fn imported_by_file(outs: &[crate::repo::out::Out]) -> Vec<(String, Vec<crate::repo::out::Out>)> {
    let mut groups: Vec<(String, Vec<crate::repo::out::Out>)> = Vec::new();
    for o in outs {
        let file = o.origin.file().to_string();
        match groups.iter_mut().find(|(f, _)| *f == file) {
            Some((_, v)) => v.push(o.clone()),
            None => groups.push((file, vec![o.clone()])),
        }
    }
    groups
}

fn budget_text(r: &crate::budget::Remaining) -> String {
    if r.capped {
        return "capped".into();
    }
    match (r.bytes, r.requests) {
        (None, None) => "unlimited".into(),
        (Some(b), None) => format!("{} left", human_bytes(b)),
        (None, Some(q)) => format!("{q} requests left"),
        (Some(b), Some(q)) => format!("{} / {q} requests left", human_bytes(b)),
    }
}

fn render_lanes(ctx: &Ctx, router: &Router) {
    let rows: Vec<Vec<String>> = router
        .lanes
        .iter()
        .map(|lane| {
            let s = lane.stats();
            let fell: Vec<String> = s
                .fell_back
                .iter()
                .map(|(why, n)| format!("{n} {why}"))
                .collect();
            vec![
                lane.handle.name.clone(),
                s.objects.to_string(),
                human_bytes(s.bytes),
                if fell.is_empty() {
                    "-".into()
                } else {
                    fell.join(", ")
                },
            ]
        })
        .collect();
    ctx.out.line(&table(
        &["remote", "objects", "bytes", "passed on (why)"],
        &rows,
    ));
}

/// Says why a remote was left out (credentials, cap, unreachable) and what to do, and which
/// remote holds corrupt copies: the reasons behind the rows of the summary.
fn warn_lanes(ctx: &Ctx, router: &Router, report: &FetchReport) {
    for (i, lane) in router.lanes.iter().enumerate() {
        let name = &lane.handle.name;
        let stats = lane.stats();
        let passed_over = stats.fell_back.values().sum::<u64>() > 0
            || report
                .failed
                .iter()
                .any(|r| r.tried.iter().any(|(t, _)| *t == i));
        if let Some(e) = lane.cause() {
            let what = match lane.disabled() {
                Some(Skip::Auth) => "refused our credentials",
                Some(Skip::Quota) => "reports its download cap is exhausted",
                _ => "kept failing",
            };
            // Say only what happened to the objects it was asked for.
            let moved: u64 = stats.fell_back.values().sum();
            let unserved = report
                .failed
                .iter()
                .filter(|r| r.tried.iter().any(|(t, _)| *t == i))
                .count();
            let outcome = match (moved, unserved) {
                (0, 0) => String::new(),
                (_, 0) => "; its objects were taken from the other remotes".into(),
                (0, _) => "; no other remote supplied its objects".into(),
                (moved, unserved) => format!(
                    "; {} taken from the other remotes, {} from none",
                    files(moved as usize),
                    files(unserved)
                ),
            };
            let mut text = format!("remote '{name}' {what} ({}){outcome}", e.message);
            if let Some(hint) = e.hint() {
                text.push_str(&format!("\n{hint}"));
            }
            ctx.out.warn(&text);
        } else if let Some(until) = lane.capped_until().filter(|_| passed_over) {
            ctx.out.warn(&format!(
                "remote '{name}' reported its download cap earlier today; skipped without a request until its reset at {until}"
            ));
        }
        if !stats.corrupt.is_empty() {
            ctx.out.warn(&format!(
                "remote '{name}' holds corrupt copies (discarded: wrong md5 or longer than the object) of: {}; push them again from a good copy",
                stats.corrupt.join(", ")
            ));
        }
    }
}

fn render_plan(ctx: &Ctx, router: &Router, plan: &Plan) {
    let rows: Vec<Vec<String>> = router
        .lanes
        .iter()
        .zip(&plan.rows)
        .map(|(lane, row)| {
            vec![
                lane.handle.name.clone(),
                row.objects.to_string(),
                human_bytes(row.bytes),
                budget_text(&lane.budget_start),
                budget_text(&lane.budget_left()),
            ]
        })
        .collect();
    ctx.out
        .line("Plan (dry run: no data downloaded, nothing written to the cache):");
    ctx.out.line(&table(
        &[
            "remote",
            "objects",
            "bytes",
            "budget before",
            "budget after",
        ],
        &rows,
    ));
    if plan.manifests_read > 0 {
        ctx.out.line(&format!(
            "Read {} directory file list(s) from the remotes to plan their files (counted above).",
            plan.manifests_read
        ));
    }
    let unchecked: Vec<&str> = router
        .lanes
        .iter()
        .filter(|l| !l.listed() && l.disabled().is_none())
        .map(|l| l.handle.name.as_str())
        .collect();
    if !unchecked.is_empty() {
        ctx.out.line(&format!(
            "Not checked (cannot list without downloading): {}; assumed to hold what is planned there.",
            unchecked.join(", ")
        ));
    }
    if !plan.unknown_dirs.is_empty() {
        ctx.out.line(&format!(
            "Directories whose file list no remote supplied (their files are not counted): {}",
            plan.unknown_dirs.join(", ")
        ));
    }
    if !plan.unroutable.is_empty() {
        ctx.out.line(&format!(
            "{} on no usable remote:",
            files(plan.unroutable.len())
        ));
        for r in &plan.unroutable {
            let why: Vec<String> = r
                .tried
                .iter()
                .map(|(i, s)| format!("{}: {}", router.lanes[*i].handle.name, s.detail()))
                .collect();
            ctx.out
                .line(&format!("  {} ({})", r.object.out, why.join("; ")));
        }
    }
}

/// The most actionable next step for objects no remote supplied, naming the remote at fault:
/// refused credentials first, then corrupt copies, then failing remotes, else plain absence.
fn failure_hint(report: &FetchReport, names: &[String]) -> String {
    let culprit = |want: fn(&Skip) -> bool| {
        report
            .failed
            .iter()
            .flat_map(|r| &r.tried)
            .find(|(_, why)| want(why))
            .and_then(|(i, _)| names.get(*i))
    };
    if let Some(n) = culprit(|w| *w == Skip::Auth) {
        format!(
            "remote '{n}' rejected the credentials: check `ferry remote modify {n} --local user …`/`password …` (HTTP) or `access_key_id`/`secret_access_key` (S3)"
        )
    } else if let Some(n) = culprit(|w| *w == Skip::Corrupt) {
        format!(
            "remote '{n}' holds copies whose md5 or size does not match their name; they were discarded: push good copies from a machine that has the data"
        )
    } else if let Some(n) =
        culprit(|w| matches!(w, Skip::Unreachable | Skip::Retries(_) | Skip::Failed(_)))
    {
        format!(
            "remote '{n}' failed or could not be reached; rerun the command: what was downloaded is kept"
        )
    } else {
        "the data is on none of the remotes tried; push it from a machine that has it, or pass --allow-missing".into()
    }
}

/// Reports objects no remote supplied, each with every remote's reason (`names` are the
/// router's lanes); an error of command `verb` unless `allow_missing`.
fn fetch_failures(
    report: &FetchReport,
    names: &[String],
    allow_missing: bool,
    verb: &str,
) -> anyhow::Result<Exit> {
    if report.failed.is_empty() {
        return Ok(Exit::Ok);
    }
    let mut lines = Vec::new();
    for r in &report.failed {
        let why: Vec<String> = r
            .tried
            .iter()
            .map(|(i, s)| format!("{}: {}", names[*i], s.detail()))
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
    let text = format!(
        "Some of the cache files could not be downloaded from any remote:\n{}",
        lines.join("\n")
    );
    if allow_missing {
        eprintln!("WARNING: {text}");
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
    .with_hint(failure_hint(report, names))
    .with_exit(if refused { Exit::Config } else { Exit::Failed })
    .into())
}
