//! `ferry gc --workspace [--cloud]`: delete cache objects no workspace output uses (and, with
//! `--cloud`, a remote's, keeping `redundancy.min_copies` remote copies).
use super::Ctx;
use crate::error::{Exit, UserError};
use crate::repo::{Repo, index};

/// Remove unused objects from the local cache.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  ferry gc --workspace --dry    # list what would go\n  ferry gc -w -f\n  ferry gc -w --cloud -r backblaze --dry   # what would go from a remote (min_copies kept)\n  ferry gc -w --dry --json      # for scripts (docs/json.md)"
)]
pub struct Args {
    /// Keep only what the current workspace's outputs use.
    #[arg(short, long)]
    workspace: bool,
    /// Only print what would be removed.
    #[arg(long)]
    dry: bool,
    /// Do not ask for confirmation before removing.
    #[arg(short, long)]
    force: bool,
    /// Also delete unused objects from a remote, keeping redundancy.min_copies copies.
    #[arg(short, long)]
    cloud: bool,
    /// The remote to clean with --cloud (default: the default remote).
    #[arg(short, long, value_name = "NAME", requires = "cloud")]
    remote: Option<String>,
    /// A JSON report (docs/json.md) instead of DVC's lines; local cache only.
    #[arg(long, conflicts_with = "cloud")]
    json: bool,
    /// Concurrent requests per remote (with --cloud).
    #[arg(short, long, value_name = "N")]
    jobs: Option<usize>,
}

/// Runs `ferry gc`.
pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    if !args.workspace {
        return Err(UserError::failed("Either of `-w|--workspace`, `-a|--all-branches`, `-T|--all-tags` `--all-experiments`, `--all-commits`, `--date` or `--rev` needs to be set.")
            .with_hint("use `ferry gc --workspace` to keep only what the workspace uses")
            .with_exit(Exit::Internal)
            .into());
    }
    let repo = Repo::discover(&ctx.cwd)?;
    let cloud = if args.cloud {
        Some(super::redundancy::cloud_target(
            &repo,
            args.remote.as_deref(),
            args.jobs,
        )?)
    } else {
        None
    };
    let _lock = repo.lock()?;
    let odb = repo.odb();
    let outs = index::collect(&repo, &ctx.cwd, &[])?;
    if !args.dry {
        ctx.out.warn(
            "This will remove all cache except items used in the workspace of the current repo.",
        );
        if let Some(target) = &cloud {
            ctx.out
                .warn(&super::redundancy::min_copies_rule(&repo, target.name())?);
        }
        if !args.force && !confirm(ctx) {
            return Err(
                UserError::failed("gc was not confirmed: nothing was removed")
                    .with_hint(
                        "answer `y` at the prompt, or pass -f/--force to skip it (scripts, CI)",
                    )
                    .into(),
            );
        }
    }
    let busy = ctx.busy("collecting unused cache");
    let report = crate::ops::gc::gc_local(&odb, &outs, args.dry)?;
    drop(busy);
    if args.json {
        let removed: Vec<String> = report.removed.iter().map(crate::odb::key).collect();
        ctx.out.line(&crate::ui::json::report(&serde_json::json!({
            "dry_run": args.dry,
            "removed": removed,
            "repo": report.repo,
            "legacy": report.legacy,
        }))?);
        return Ok(Exit::Ok);
    }
    if args.dry {
        for obj in &report.removed {
            ctx.out
                .line(&format!("Would remove {}", crate::odb::key(obj)));
        }
    }
    let (repo_n, legacy_n) = (report.repo, report.legacy);
    let verb = if args.dry { "Would remove" } else { "Removed" };
    for (n, kind) in [(repo_n, "repo"), (legacy_n, "legacy")] {
        if n == 0 {
            ctx.out
                .line(&format!("No unused '{kind}' cache to remove."));
        } else {
            ctx.out
                .line(&format!("{verb} {n} objects from {kind} cache."));
        }
    }
    if let Some(target) = cloud {
        return super::redundancy::gc_cloud(ctx, &repo, &outs, target, args.dry, args.jobs);
    }
    Ok(Exit::Ok)
}

/// dvc's prompt: `y`/`yes` on stdin goes ahead; anything else, or no input (not interactive),
/// does not.
fn confirm(ctx: &Ctx) -> bool {
    ctx.out.raw("Are you sure you want to proceed? [y/n]: ");
    let mut answer = String::new();
    if std::io::stdin().read_line(&mut answer).unwrap_or(0) == 0 {
        ctx.out.line("");
        return false;
    }
    matches!(answer.trim().to_lowercase().as_str(), "y" | "yes")
}
