//! The `--json` documents of the transfer commands (`push`, `fetch`, `pull`, `sync` and the
//! `--dry-run` plans), built from the operations' typed reports: per remote what was sent or
//! received, skipped, failed and why, and its budget; docs/json.md describes each shape.
use serde_json::{Value, json};

use super::Ctx;
use super::checkout::Summary;
use crate::error::Exit;
use crate::ops::fetch::{Fetched, LaneReport, Planned};
use crate::ops::push::Pushed;
use crate::ops::sync::Synced;
use crate::remote::ErrorKind;
use crate::transfer::Object;
use crate::transfer::router::{Routed, Skip};

/// Prints `doc`, with the `exit_code` that `result` gives the process, as the one JSON
/// document on stdout, and hands `result` back (its error still goes to stderr).
pub fn emit(ctx: &Ctx, mut doc: Value, result: anyhow::Result<Exit>) -> anyhow::Result<Exit> {
    let exit = match &result {
        Ok(exit) => *exit,
        Err(e) => super::classify(e).0,
    };
    doc["exit_code"] = (exit as u8).into();
    ctx.out.line(&crate::ui::json::report(&doc)?);
    result
}

/// A reason as a JSON key: `not_found`, `cap_reached`, `credentials_refused`, `unreachable`,
/// `over_budget`, `corrupt_copy`, `retries_exhausted`, `failed`.
pub fn reason_key(why: &Skip) -> String {
    why.label().replace(' ', "_")
}

fn object(o: &Object) -> Value {
    json!({"md5": o.hash.md5, "path": o.out})
}

/// The objects no remote supplied, by md5, each with every remote's reason in order.
fn unserved(failed: &[Routed], lanes: &[LaneReport]) -> Vec<Value> {
    let mut sorted: Vec<&Routed> = failed.iter().collect();
    sorted.sort_by(|a, b| a.object.hash.md5.cmp(&b.object.hash.md5));
    sorted
        .into_iter()
        .map(|r| {
            let tried: Vec<Value> = r
                .tried
                .iter()
                .map(|(i, why)| {
                    json!({
                        "remote": lanes.get(*i).map(|l| l.name.as_str()),
                        "reason": reason_key(why),
                        "detail": why.detail(),
                    })
                })
                .collect();
            json!({"md5": r.object.hash.md5, "path": r.object.out, "tried": tried})
        })
        .collect()
}

/// The remotes of a fetch (or a sync's sources): what each supplied, every object that passed
/// it over by reason (whether another remote then supplied it or, in `failed`, none did),
/// whether it was taken out of the run, and its budget afterwards.
pub fn lanes(lanes: &[LaneReport], failed: &[Routed]) -> Vec<Value> {
    lanes
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut passed = l.fell_back.clone();
            for (_, why) in failed
                .iter()
                .flat_map(|r| &r.tried)
                .filter(|(t, _)| *t == i)
            {
                *passed.entry(why.label().to_string()).or_default() += 1;
            }
            let passed_on: serde_json::Map<String, Value> = passed
                .iter()
                .map(|(why, n)| (why.replace(' ', "_"), (*n).into()))
                .collect();
            let mut corrupt = l.corrupt.clone();
            corrupt.sort();
            json!({
                "name": l.name,
                "received": {"objects": l.objects, "bytes": l.bytes},
                "passed_on": passed_on,
                "corrupt": corrupt,
                "disabled": l.disabled.as_ref().map(reason_key),
                "error": l.cause,
                "listed": l.listed,
                "budget": l.budget,
            })
        })
        .collect()
}

/// `fetch --json` and `pull --json` (with the checkout's `summary`).
pub fn fetched(done: &Fetched, checkout: Option<&Summary>) -> Value {
    let report = &done.report;
    let bytes: u64 = done.lanes.iter().map(|l| l.bytes).sum();
    let mut bad: Vec<Value> = report
        .bad_manifests
        .iter()
        .map(|(path, error)| json!({"path": path, "error": error}))
        .collect();
    bad.sort_by_key(|v| v["path"].as_str().map(str::to_string));
    let imports: Vec<Value> = done
        .imports
        .iter()
        .map(|i| json!({"file": i.file, "url": i.url, "missing_objects": i.objects}))
        .collect();
    let mut doc = json!({
        "remotes": lanes(&done.lanes, &report.failed),
        "fetched": {"objects": report.fetched, "bytes": bytes},
        "failed": unserved(&report.failed, &done.lanes),
        "bad_manifests": bad,
        "imports": imports,
        "warnings": done.warnings,
    });
    if let Some(s) = checkout {
        let (mut missing, mut unsaved) = (s.missing.clone(), s.unsaved.clone());
        missing.sort();
        unsaved.sort();
        doc["checkout"] = json!({
            "added": s.added,
            "modified": s.modified,
            "missing": missing,
            "unsaved": unsaved,
        });
    }
    doc
}

/// `fetch --dry-run --json` and `pull --dry-run --json`: per remote its share of the plan and
/// its budget left before and after it.
pub fn planned(planned: &Planned) -> Value {
    let plan = &planned.plan;
    let remotes: Vec<Value> = planned
        .lanes
        .iter()
        .zip(&plan.rows)
        .map(|(l, row)| {
            json!({
                "name": l.name,
                "planned": {"objects": row.objects, "bytes": row.bytes},
                "listed": l.listed,
                "disabled": l.disabled.as_ref().map(reason_key),
                "budget_left_before": l.budget_before,
                "budget_left_after": l.budget_after,
                "budget": l.budget,
            })
        })
        .collect();
    let mut unknown = plan.unknown_dirs.clone();
    unknown.sort();
    json!({
        "dry_run": true,
        "remotes": remotes,
        "manifests_read": plan.manifests_read,
        "unknown_dirs": unknown,
        "unroutable": unserved(&plan.unroutable, &planned.lanes),
        "warnings": planned.warnings,
    })
}

/// A push target's outcome in one word, the same as its text table's `status` column.
pub fn push_status(row: &crate::transfer::push::PushRow) -> &'static str {
    match &row.unreachable {
        Some(e) if e.kind == ErrorKind::Auth => "credentials_refused",
        Some(e) if e.kind == ErrorKind::Quota => "capped",
        Some(_) => "unreachable",
        None if row.failed.is_empty() => "ok",
        None => "failed",
    }
}

/// `push --json`.
pub fn pushed(pushed: &Pushed) -> Value {
    let report = &pushed.report;
    let remotes: Vec<Value> = report
        .rows
        .iter()
        .map(|(name, r)| {
            let mut failed: Vec<_> = r.failed.iter().collect();
            failed.sort_by(|a, b| a.0.hash.md5.cmp(&b.0.hash.md5));
            let failed: Vec<Value> = failed
                .into_iter()
                .map(|(o, e)| json!({"md5": o.hash.md5, "path": o.out, "error": e}))
                .collect();
            json!({
                "name": name,
                "status": push_status(r),
                "pushed": {"objects": r.uploaded, "bytes": r.bytes},
                "already": r.already,
                "dirs_trusted": r.trusted_dirs,
                "dirs_recorded": r.recorded_dirs,
                "failed": failed,
                "error": r.unreachable,
                "budget": pushed.budgets.get(name),
            })
        })
        .collect();
    let mut missing: Vec<&Object> = report.missing_local.iter().collect();
    missing.sort_by(|a, b| a.hash.md5.cmp(&b.hash.md5));
    json!({
        "remotes": remotes,
        "missing_local": missing.into_iter().map(object).collect::<Vec<_>>(),
        "warnings": pushed.warnings,
    })
}

/// A sync target's outcome in one word, the same as its text table's `status` column.
pub fn sync_status(row: &crate::transfer::sync::TargetRow) -> &'static str {
    if row.skipped {
        "not_attempted"
    } else if row.unreachable.is_some() {
        "unreachable"
    } else if row.failed.is_empty() {
        "ok"
    } else {
        "failed"
    }
}

/// `sync --json`.
pub fn synced(synced: &Synced) -> Value {
    let remotes: Vec<Value> = synced
        .rows
        .iter()
        .map(|r| {
            let mut failed: Vec<_> = r.failed.iter().collect();
            failed.sort_by(|a, b| a.0.hash.md5.cmp(&b.0.hash.md5));
            let failed: Vec<Value> = failed
                .into_iter()
                .map(|(o, why)| json!({"md5": o.hash.md5, "path": o.out, "reason": why}))
                .collect();
            json!({
                "name": r.name,
                "status": sync_status(r),
                "had": r.already,
                "copied": {"objects": r.copied, "bytes": r.bytes},
                "from": r.from,
                "failed": failed,
                "error": r.unreachable,
                "budget": synced.budgets.get(&r.name),
            })
        })
        .collect();
    json!({
        "remotes": remotes,
        "sources": lanes(&synced.sources, &[]),
        "warnings": synced.warnings,
    })
}

/// `sync --dry-run --json`; with `items` every lacking object and its source.
pub fn sync_plan(synced: &Synced, items: bool) -> Value {
    let remotes: Vec<Value> = synced
        .plan
        .iter()
        .map(|r| {
            let from: serde_json::Map<String, Value> = r
                .from
                .iter()
                .map(|(s, (n, b))| (s.clone(), json!({"objects": n, "bytes": b})))
                .collect();
            let mut nowhere: Vec<_> = r.nowhere.iter().collect();
            nowhere.sort_by(|a, b| a.0.hash.md5.cmp(&b.0.hash.md5));
            let nowhere: Vec<Value> = nowhere
                .into_iter()
                .map(|(o, why)| json!({"md5": o.hash.md5, "path": o.out, "reason": why}))
                .collect();
            let mut doc = json!({
                "name": r.name,
                "lacks": {"objects": r.objects, "bytes": r.bytes},
                "from": from,
                "nowhere": nowhere,
                "error": r.unreachable,
                "budget": synced.budgets.get(&r.name),
            });
            if items {
                let mut list: Vec<_> = r.items.iter().collect();
                list.sort_by(|a, b| a.0.hash.md5.cmp(&b.0.hash.md5));
                doc["items"] = list
                    .into_iter()
                    .map(|(o, s)| json!({"md5": o.hash.md5, "path": o.out, "from": s}))
                    .collect();
            }
            doc
        })
        .collect();
    let mut unknown: Vec<&Object> = synced.unknown_dirs.iter().collect();
    unknown.sort_by(|a, b| a.out.cmp(&b.out));
    json!({
        "dry_run": true,
        "remotes": remotes,
        "sources": lanes(&synced.sources, &[]),
        "unknown_dirs": unknown.into_iter().map(object).collect::<Vec<_>>(),
        "warnings": synced.warnings,
    })
}
