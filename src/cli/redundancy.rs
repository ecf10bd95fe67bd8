//! Copies across remotes at the command edge: rendering `status --remotes` (what each remote
//! holds of the wanted set, what is under-replicated) and `gc --cloud` (a remote's unused
//! objects deleted without going below `redundancy.min_copies`); the work is in
//! [`crate::ops::redundancy`] and [`crate::ops::gc`].
use super::Ctx;
use super::transfer::{settings, table};
use crate::error::{Exit, UserError};
use crate::ops::gc::{CloudGcReport, CloudTarget};
use crate::ops::redundancy::Copies;
use crate::repo::Repo;
use crate::repo::out::Out;
use crate::ui::human_bytes;

/// `ferry status --remotes [--json]`.
pub fn status_remotes(
    ctx: &Ctx,
    repo: &Repo,
    outs: &[Out],
    json: bool,
    jobs: Option<usize>,
) -> anyhow::Result<Exit> {
    let settings = settings(repo)?;
    let busy = ctx.busy("counting copies on the remotes");
    let copies = crate::ops::redundancy::copies(repo, &settings, outs, jobs);
    drop(busy);
    let copies = copies?;
    for w in &copies.warnings {
        ctx.out.warn(w);
    }
    if json {
        ctx.out.line(&crate::ui::json::report(&to_json(&copies))?);
    } else {
        ctx.out.text(&copies_text(&copies));
    }
    let report = &copies.replication;
    for r in &report.remotes {
        if let Some(e) = &r.error {
            ctx.out.error(&format!(
                "remote '{}' could not be checked (counted as holding nothing) - {}",
                r.name, e.message
            ));
            if let Some(hint) = crate::error::Hint::hint(e) {
                ctx.out.hint(&hint);
            }
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

/// `status --remotes` as text: the copies table, then the under-replicated objects.
fn copies_text(copies: &Copies) -> String {
    let report = &copies.replication;
    let mut lines = vec![format!(
        "Copies of the {} wanted object{} ({}) on each remote; the local cache is not counted as a copy; redundancy.min_copies = {}",
        report.wanted.objects,
        if report.wanted.objects == 1 { "" } else { "s" },
        human_bytes(report.wanted.bytes),
        report.min_copies
    )];
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
    lines.push(table(
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
    if !copies.unknown_dirs.is_empty() {
        let names: Vec<&str> = copies.unknown_dirs.iter().map(|o| o.out.as_str()).collect();
        lines.push(format!(
            "Directories whose file lists are in no cache or remote (their files are not counted): {}",
            names.join(", ")
        ));
    }
    if report.thin.is_empty() {
        lines.push(format!(
            "Every object is on at least {} remote{}.",
            report.min_copies,
            if report.min_copies == 1 { "" } else { "s" }
        ));
        return lines.join("\n");
    }
    lines.push(format!(
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
        lines.push(format!(
            "  {} ({}): {held}",
            t.object.out, t.object.hash.md5
        ));
    }
    lines.join("\n")
}

/// `status --remotes --json`: kept as it was before the report types could serialize
/// themselves (scripts read these field names).
fn to_json(copies: &Copies) -> serde_json::Value {
    let report = &copies.replication;
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
        "unknown_dirs": copies.unknown_dirs.iter().map(|o| o.out.clone()).collect::<Vec<_>>(),
    })
}

/// The remote `gc --cloud` cleans (`-r`, else the default remote), opened and checked to be
/// listable before anything is deleted anywhere.
pub fn cloud_target(
    repo: &Repo,
    remote: Option<&str>,
    jobs: Option<usize>,
) -> anyhow::Result<CloudTarget> {
    CloudTarget::open(repo, &settings(repo)?, remote, jobs)
}

/// The `gc --cloud` rule for `target`, said before the prompt.
pub fn min_copies_rule(repo: &Repo, target: &str) -> anyhow::Result<String> {
    Ok(crate::ops::gc::min_copies_rule(
        repo,
        &settings(repo)?,
        target,
    ))
}

/// `ferry gc -w --cloud [-r R]`: runs [`crate::ops::gc::gc_cloud`] and renders what it kept,
/// deleted (or, dry, would delete) and could not delete.
pub fn gc_cloud(
    ctx: &Ctx,
    repo: &Repo,
    outs: &[Out],
    target: CloudTarget,
    dry: bool,
    jobs: Option<usize>,
) -> anyhow::Result<Exit> {
    let settings = settings(repo)?;
    let busy = ctx.busy("checking the remotes' copies");
    let report = crate::ops::gc::gc_cloud(repo, &settings, outs, target, dry, jobs);
    drop(busy);
    let report = report?;
    for w in &report.warnings {
        ctx.out.warn(w);
    }
    render_gc(ctx, &report, dry)
}

fn render_gc(ctx: &Ctx, report: &CloudGcReport, dry: bool) -> anyhow::Result<Exit> {
    let (name, min_copies, plan) = (&report.remote, report.min_copies, &report.plan);
    for e in &plan.unchecked {
        ctx.out.warn(&format!(
            "remote '{}' could not be checked, so it counts as holding none of the unused objects (what only it might also hold is kept) - {}; `ferry doctor -r {}` says why",
            e.remote, e.message, e.remote
        ));
    }
    if !plan.keep.is_empty() {
        ctx.out.text(&format!(
            "Kept {} unused object{} on remote '{name}': deleting would leave fewer than {min_copies} cop{} on the other remotes (redundancy.min_copies, at most the number of other remotes):",
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
    let failures = &report.failed;
    ctx.out.line(&format!(
        "Removed {} objects from remote '{name}'.",
        plan.delete.len() - failures.len()
    ));
    if failures.is_empty() {
        return Ok(Exit::Ok);
    }
    for (hash, e) in failures {
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
