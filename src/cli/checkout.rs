//! `ferry checkout`: restore tracked data in the workspace from the cache.
use super::Ctx;
use crate::error::{Exit, UserError};
use crate::repo::checkout::{Change, CheckoutError, checkout_out};
use crate::repo::checkout_parts::checkout_parts;
use crate::repo::unsaved::unsaved_change;
use crate::repo::{Repo, index};

/// Restore outputs from the cache, following `cache.type`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  ferry checkout\n  ferry checkout data.dvc --force   # drop local edits to data/"
)]
pub struct Args {
    /// Limit to these .dvc files, outputs or stages.
    #[arg(value_name = "TARGET")]
    targets: Vec<String>,
    /// Overwrite workspace changes that are not in the cache.
    #[arg(short, long)]
    force: bool,
    /// Print one summary line instead of a line per output.
    #[arg(long)]
    summary: bool,
    /// Succeed when some data is missing from the cache (the rest is checked out).
    #[arg(long)]
    allow_missing: bool,
    /// Targets that are directories stand for every .dvc file and dvc.yaml under them.
    #[arg(short = 'R', long)]
    recursive: bool,
    /// Also check out the outputs of the stages the targets depend on.
    #[arg(short = 'd', long)]
    with_deps: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let repo = Repo::discover(&ctx.cwd)?;
    let _lock = repo.lock()?;
    let mut targets = args.targets.clone();
    if args.recursive {
        targets = crate::repo::targets::recursive(&repo, &ctx.cwd, &targets);
    }
    if args.with_deps {
        targets = crate::repo::targets::with_deps(&repo, &ctx.cwd, &targets)?;
    }
    let outs =
        index::collect(&repo, &ctx.cwd, &targets).map_err(|e| unknown_target(e, &targets))?;
    let mut summary = checkout_all(ctx, &repo, &outs, args.force, !args.summary, None)?;
    if args.summary {
        ctx.out.line(&summary.line());
    }
    if args.allow_missing && !summary.missing.is_empty() {
        let mut missing = std::mem::take(&mut summary.missing);
        missing.sort();
        ctx.out.warn(&format!(
            "missing from the cache, not checked out: {}; `ferry pull` downloads them (or `ferry fetch`, then `ferry checkout`)",
            missing.join(", ")
        ));
    }
    summary.into_result()
}

/// A target that names nothing tracked: dvc's checkout suggests `git checkout` and exits 255.
fn unknown_target(err: anyhow::Error, targets: &[String]) -> anyhow::Error {
    match err.downcast::<UserError>() {
        Ok(e) if e.exit == Exit::Failed => {
            let hint = e.hint.clone().unwrap_or_default();
            let target = targets
                .iter()
                .find(|t| e.message.starts_with(&format!("'{t}'")))
                .map_or("…", String::as_str);
            UserError::failed(format!(
                "Did you mean `git checkout {target}`?: {}",
                e.message
            ))
            .with_hint(hint)
            .with_exit(Exit::Internal)
            .into()
        }
        Ok(e) => e.into(),
        Err(e) => e,
    }
}

/// What a checkout of several outputs did, for `checkout` and `pull` to report.
#[derive(Debug, Default)]
pub struct Summary {
    /// Files written where no output was.
    pub added: usize,
    /// Files written over different content.
    pub modified: usize,
    /// Outputs whose data is missing from the cache.
    pub missing: Vec<String>,
    /// Paths with unsaved changes that were not overwritten.
    pub unsaved: Vec<String>,
}

impl Summary {
    /// dvc's `checkout --summary` line: `1 file modified and 2 files added`, or `No changes.`.
    pub fn line(&self) -> String {
        let mut parts = Vec::new();
        if self.modified > 0 {
            parts.push(format!("{} modified", crate::ui::files(self.modified)));
        }
        if self.added > 0 {
            parts.push(format!("{} added", crate::ui::files(self.added)));
        }
        match parts.as_slice() {
            [] => "No changes.".into(),
            [one] => one.clone(),
            [first, second] => format!("{first} and {second}"),
            _ => parts.join(", "),
        }
    }

    /// Turns failures into DVC's checkout errors (exit 255 like DVC's `checkout`).
    pub fn into_result(self) -> anyhow::Result<Exit> {
        if !self.unsaved.is_empty() {
            return Err(UserError::failed(format!("Can't remove the following unsaved files without confirmation. Use `--force` to force.\n{}", self.unsaved.join("\n")))
                .with_hint("save them first with `ferry add`/`ferry commit`, or pass --force to discard them")
                .with_exit(Exit::Internal)
                .into());
        }
        if !self.missing.is_empty() {
            return Err(UserError::failed(format!("Checkout failed for following targets:\n{}\nIs your cache up to date?\n<https://error.dvc.org/missing-files>", self.missing.join("\n")))
                .with_hint("fetch the data first with `ferry fetch` (or `ferry pull`)")
                .with_exit(Exit::Internal)
                .into());
        }
        Ok(Exit::Ok)
    }
}

/// Checks out `outs`, printing `A`/`M` lines as DVC does (unless `per_out_lines` is false),
/// and collects failures.
pub fn checkout_all(
    ctx: &Ctx,
    repo: &Repo,
    outs: &[crate::repo::out::Out],
    force: bool,
    per_out_lines: bool,
    twins: Option<std::sync::Arc<crate::odb::twins::Twins>>,
) -> anyhow::Result<Summary> {
    let mut odb = repo.odb();
    odb.twins = twins;
    let bounds = repo.bounds();
    let links = repo.link_types();
    let mut state = repo.state();
    let mut summary = Summary::default();
    crate::repo::checkout::remove_leftover_temps(outs);
    let tab = if ctx.out.is_tty() { "\t" } else { "       " };
    let _busy = ctx.busy("checking out");
    // dvc reports a checkout's changes in path order
    let mut sorted: Vec<&crate::repo::out::Out> = outs.iter().collect();
    sorted.sort_by(|a, b| a.rel.cmp(&b.rel));
    let restorable = || {
        sorted
            .iter()
            .copied()
            .filter(|o| o.cache && o.hash.is_some())
    };
    if !force {
        // all or nothing, as dvc: one out with unsaved changes and nothing is restored
        for out in restorable() {
            if let Some(p) = unsaved_change(&odb, &bounds, out, &mut state).map_err(|e| {
                anyhow::Error::new(e).context(format!("cannot check out '{}'", out.rel))
            })? {
                summary.unsaved.push(p.display().to_string());
            }
        }
        if !summary.unsaved.is_empty() {
            return Ok(summary);
        }
    }
    for out in restorable() {
        let shown = if out.is_dir() {
            format!("{}/", out.rel)
        } else {
            out.rel.clone()
        };
        let done = if out.parts.is_empty() {
            checkout_out(&odb, &bounds, out, &links, force, &mut state)
        } else {
            checkout_parts(&odb, &bounds, out, &links, force, &mut state)
        };
        match done {
            Ok(Change::Added(n)) => {
                summary.added += n;
                if per_out_lines {
                    ctx.out.line(&format!("A{tab}{shown}"));
                }
            }
            Ok(Change::Modified(n)) => {
                summary.modified += n;
                if per_out_lines {
                    ctx.out.line(&format!("M{tab}{shown}"));
                }
            }
            Ok(Change::Unchanged) => {}
            Err(CheckoutError::MissingCache(_)) => summary.missing.push(out.rel.clone()),
            Err(CheckoutError::Unsaved(p)) => summary.unsaved.push(p.display().to_string()),
            Err(e) => {
                return Err(
                    anyhow::Error::new(e).context(format!("cannot check out '{}'", out.rel))
                );
            }
        }
    }
    state.flush();
    Ok(summary)
}
