//! Copies across remotes at the command edge: `status --remotes` (what each remote holds of
//! the wanted set, what is under-replicated) and `gc --cloud` (delete a remote's unused objects
//! without going below `redundancy.min_copies`). Shared with `sync`: the remotes in pull order
//! and a router for fetching directory manifests.
use std::collections::HashSet;

use super::Ctx;
use super::transfer::{open_all, runtime, settings, table};
use crate::budget::Ledger;
use crate::config::ferry::FerrySettings;
use crate::error::{Exit, UserError};
use crate::repo::Repo;
use crate::repo::out::Out;
use crate::transfer::redundancy::{Replication, check_listable, delete, plan_gc, replication};
use crate::transfer::remotes::Handle;
use crate::transfer::router::{Lane, Router};
use crate::transfer::wanted::{self, Root, Wanted};
use crate::transfer::{NoProgress, remotes};
use crate::ui::human_bytes;

/// Every configured remote: the pull order first, then the others in config order.
pub fn all_remotes(repo: &Repo, settings: &FerrySettings) -> Vec<String> {
    let mut names = settings.pull_order(&repo.config);
    for n in repo.config.remote_names() {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    names
}

/// A router over `names` with the budget ledger (warning when the ledger is unusable).
pub fn manifest_router(
    ctx: &Ctx,
    repo: &Repo,
    settings: &FerrySettings,
    names: &[String],
    jobs: Option<usize>,
) -> anyhow::Result<Router> {
    let handles = open_all(repo, settings, names, jobs)?;
    if let Err(e) = Ledger::open_default() {
        ctx.out
            .warn(&format!("download budgets are not tracked: {e}"));
    }
    Ok(Router::new(handles.into_iter().map(Lane::new).collect()))
}

/// The roots of `outs`, with the directory manifests the cache lacks fetched from the remotes
/// in pull order, so expanding them finds their files.
fn roots_of(
    ctx: &Ctx,
    repo: &Repo,
    settings: &FerrySettings,
    outs: &[Out],
    jobs: Option<usize>,
) -> anyhow::Result<Vec<Root>> {
    let roots = wanted::of_outs(outs);
    let odb = repo.odb();
    if roots
        .iter()
        .any(|r| r.hash.is_dir() && !odb.contains(&r.hash))
    {
        let router = manifest_router(
            ctx,
            repo,
            settings,
            &settings.pull_order(&repo.config),
            jobs,
        )?;
        runtime()?.block_on(wanted::fetch_manifests(&odb, &roots, &router, &NoProgress))?;
        router.flush_usage();
    }
    Ok(roots)
}

/// `ferry status --remotes [--json]`.
pub fn status_remotes(
    ctx: &Ctx,
    repo: &Repo,
    outs: &[Out],
    json: bool,
    jobs: Option<usize>,
) -> anyhow::Result<Exit> {
    let settings = settings(repo)?;
    let names = all_remotes(repo, &settings);
    if names.is_empty() {
        return Err(UserError::failed("no remote is configured")
            .with_hint("add remotes with `ferry remote add NAME URL`")
            .into());
    }
    let roots = roots_of(ctx, repo, &settings, outs, jobs)?;
    let odb = repo.odb();
    let wanted = wanted::expand(&odb, &roots);
    let handles: Vec<_> = open_all(repo, &settings, &names, jobs)?
        .into_iter()
        .map(|h| {
            let belongs = wanted::expand(&odb, &wanted::for_remote(&roots, &h.name));
            (h, belongs)
        })
        .collect();
    let report = runtime()?.block_on(replication(&odb, &wanted, &handles, settings.min_copies()));
    if json {
        ctx.out
            .line(&crate::ui::json::dumps(&to_json(&report, &wanted)));
    } else {
        render(ctx, &report, &wanted);
    }
    for r in &report.remotes {
        if let Some(e) = &r.error {
            ctx.out.error(&format!(
                "remote '{}' could not be checked (counted as holding nothing) - {}",
                r.name, e.message
            ));
        }
    }
    let unchecked = report.remotes.iter().any(|r| r.error.is_some());
    Ok(
        if unchecked || (ctx.out.is_quiet() && !report.thin.is_empty()) {
            Exit::Failed
        } else {
            Exit::Ok
        },
    )
}

fn render(ctx: &Ctx, report: &Replication, wanted: &Wanted) {
    ctx.out.line(&format!(
        "Copies of the {} wanted objects ({}) on each remote; the local cache is not counted as a copy; redundancy.min_copies = {}",
        report.wanted.objects,
        human_bytes(report.wanted.bytes),
        report.min_copies
    ));
    let rows: Vec<Vec<String>> = report
        .remotes
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.present.objects.to_string(),
                human_bytes(r.present.bytes),
                r.missing.objects.to_string(),
                human_bytes(r.missing.bytes),
                if r.error.is_some() {
                    "not checked".into()
                } else if r.missing.objects == 0 {
                    "complete".into()
                } else {
                    "incomplete".into()
                },
            ]
        })
        .collect();
    ctx.out.line(&table(
        &[
            "remote",
            "present",
            "bytes",
            "missing",
            "missing bytes",
            "status",
        ],
        &rows,
    ));
    if !wanted.unknown_dirs.is_empty() {
        let names: Vec<&str> = wanted.unknown_dirs.iter().map(|o| o.out.as_str()).collect();
        ctx.out.line(&format!(
            "Directories whose file lists are in no cache or remote (their files are not counted): {}",
            names.join(", ")
        ));
    }
    if report.thin.is_empty() {
        ctx.out.line(&format!(
            "Every object is on at least {} remote{}.",
            report.min_copies,
            if report.min_copies == 1 { "" } else { "s" }
        ));
        return;
    }
    ctx.out.line(&format!(
        "{} object{} on fewer than {} remotes:",
        report.thin.len(),
        if report.thin.len() == 1 { "" } else { "s" },
        report.min_copies
    ));
    for t in &report.thin {
        let held = if t.holders.is_empty() {
            "on no remote".to_string()
        } else {
            format!("only on {}", t.holders.join(", "))
        };
        ctx.out.line(&format!(
            "  {} ({}): {held}",
            t.object.out, t.object.hash.md5
        ));
    }
}

fn to_json(report: &Replication, wanted: &Wanted) -> serde_json::Value {
    let count = |c: &crate::transfer::redundancy::Count| serde_json::json!({"objects": c.objects, "bytes": c.bytes});
    serde_json::json!({
        "min_copies": report.min_copies,
        "local_cache_counted": false,
        "wanted": count(&report.wanted),
        "remotes": report.remotes.iter().map(|r| serde_json::json!({
            "name": r.name,
            "present": count(&r.present),
            "missing": count(&r.missing),
            "error": r.error.as_ref().map(|e| e.message.clone()),
        })).collect::<Vec<_>>(),
        "under_replicated": report.thin.iter().map(|t| serde_json::json!({
            "path": t.object.out,
            "md5": t.object.hash.md5,
            "remotes": t.holders,
        })).collect::<Vec<_>>(),
        "unknown_dirs": wanted.unknown_dirs.iter().map(|o| o.out.clone()).collect::<Vec<_>>(),
    })
}

/// The remote `gc --cloud` cleans (`-r`, else the default remote), opened and checked to be
/// listable before anything is deleted anywhere.
pub fn cloud_target(
    repo: &Repo,
    remote: Option<&str>,
    jobs: Option<usize>,
) -> anyhow::Result<Handle> {
    let settings = settings(repo)?;
    let name = remotes::default_name(&repo.config, remote, &repo.root)?;
    let target = remotes::open(&repo.config, &settings, &name, jobs)?;
    check_listable(&target).map_err(|e| {
        UserError::failed(e.message)
            .with_hint("gc --cloud needs a remote that can be listed (S3 or a local directory)")
    })?;
    Ok(target)
}

/// `ferry gc -w --cloud [-r R]`: delete the remote's objects no workspace output uses, keeping
/// any whose deletion would leave fewer than `min_copies` copies on the configured remotes.
/// `min_copies` as `gc --cloud` applies it: never more copies than there are other remotes to
/// hold them, so with one remote `gc --cloud` deletes every unused object, as dvc does.
fn effective_min_copies(settings: &FerrySettings, other_remotes: usize) -> u32 {
    settings
        .min_copies()
        .min(u32::try_from(other_remotes).unwrap_or(u32::MAX))
}

/// The `gc --cloud` rule for `target`, said before the prompt: which unused objects stay.
pub fn min_copies_rule(repo: &Repo, target: &str) -> anyhow::Result<String> {
    let settings = settings(repo)?;
    let others = all_remotes(repo, &settings)
        .into_iter()
        .filter(|n| n != target)
        .count();
    let need = effective_min_copies(&settings, others);
    Ok(if need == 0 {
        format!(
            "--cloud removes every unused object from remote '{target}': no other remote is configured to hold copies, so redundancy.min_copies ({}) keeps none",
            settings.min_copies()
        )
    } else {
        format!(
            "--cloud keeps an unused object on remote '{target}' unless {need} of the {others} other remotes hold it (redundancy.min_copies = {})",
            settings.min_copies()
        )
    })
}

pub fn gc_cloud(
    ctx: &Ctx,
    repo: &Repo,
    outs: &[Out],
    target: Handle,
    dry: bool,
    jobs: Option<usize>,
) -> anyhow::Result<Exit> {
    let settings = settings(repo)?;
    let name = target.name.clone();
    let wanted = wanted::expand(&repo.odb(), &roots_of(ctx, repo, &settings, outs, jobs)?);
    if let Some(o) = wanted
        .unknown_dirs
        .iter()
        .chain(wanted.bad_dirs.iter().map(|(o, _)| o))
        .next()
    {
        return Err(UserError::failed(format!(
            "cannot tell which files directory '{}' uses: its file list ({}) is neither in the cache nor on any remote; nothing was deleted from remote '{name}'",
            o.out, o.hash.md5
        ))
        .with_hint("fetch or push the directory's data first (`ferry fetch`, `ferry push`)")
        .into());
    }
    let used: HashSet<_> = wanted.all().map(|o| o.hash.clone()).collect();
    let others = open_all(repo, &settings, &all_remotes(repo, &settings), jobs)?;
    let min_copies =
        effective_min_copies(&settings, others.iter().filter(|h| h.name != name).count());
    let rt = runtime()?;
    let plan = rt.block_on(plan_gc(&target, &others, &used, min_copies))?;
    for e in &plan.unchecked {
        ctx.out.warn(&format!(
            "remote '{}' could not be checked, so it counts as holding none of the unused objects - {}",
            e.remote, e.message
        ));
    }
    if !plan.keep.is_empty() {
        ctx.out.line(&format!(
            "Kept {} unused object{} on remote '{name}': deleting would leave fewer than {min_copies} cop{} on the remotes (redundancy.min_copies):",
            plan.keep.len(),
            if plan.keep.len() == 1 { "" } else { "s" },
            if min_copies == 1 { "y" } else { "ies" },
        ));
        for (hash, holders) in &plan.keep {
            ctx.out.line(&format!(
                "  {}: held by {}",
                crate::odb::key(hash),
                holders.join(", ")
            ));
        }
    }
    let bytes: u64 = plan.delete.iter().map(|(_, n)| n).sum();
    if plan.delete.is_empty() {
        ctx.out.line(&format!(
            "No unused objects to remove from remote '{name}'."
        ));
        return Ok(Exit::Ok);
    }
    if dry {
        for (hash, _) in &plan.delete {
            ctx.out.line(&format!(
                "Would remove {} from remote '{name}'",
                crate::odb::key(hash)
            ));
        }
        ctx.out.line(&format!(
            "Would remove {} objects ({}) from remote '{name}'.",
            plan.delete.len(),
            human_bytes(bytes)
        ));
        return Ok(Exit::Ok);
    }
    let hashes: Vec<_> = plan.delete.iter().map(|(h, _)| h.clone()).collect();
    let failures = rt.block_on(delete(&target, &hashes));
    ctx.out.line(&format!(
        "Removed {} objects from remote '{name}'.",
        hashes.len() - failures.len()
    ));
    if failures.is_empty() {
        return Ok(Exit::Ok);
    }
    for (hash, e) in &failures {
        ctx.out.error(&format!(
            "cannot delete {} from remote '{name}' - {}",
            crate::odb::key(hash),
            e.message
        ));
    }
    let hint = failures
        .first()
        .and_then(|(_, e)| crate::error::Hint::hint(e));
    let mut err = UserError::failed(format!(
        "failed to remove {} objects from remote '{name}'",
        failures.len()
    ));
    err.hint = hint.or(Some(
        "rerun `ferry gc --cloud`: only what is left is deleted".into(),
    ));
    Err(err.into())
}
