//! `ferry commit`: record the current workspace state of outputs in their `.dvc` files and cache.
use super::Ctx;
use crate::error::{Exit, UserError};
use crate::repo::out::Origin;
use crate::repo::status::{OutStatus, out_status};
use crate::repo::{Repo, add, index};

/// Save changed outputs to the cache and update their `.dvc` files.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  ferry commit -f data.dvc      # record edits made to data/")]
pub struct Args {
    /// Limit to these .dvc files or outputs.
    #[arg(value_name = "TARGET")]
    targets: Vec<String>,
    /// Commit outputs whose content changed without asking.
    #[arg(short, long)]
    force: bool,
    /// Targets that are directories stand for every .dvc file and dvc.yaml under them.
    #[arg(short = 'R', long)]
    recursive: bool,
    /// Also commit the stages the targets depend on.
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
    let outs = index::collect(&repo, &ctx.cwd, &targets)?;
    let odb = repo.odb();
    let bounds = repo.bounds();
    let mut state = repo.state();
    // pipeline stages: each selected stage once, recorded in its dvc.lock as dvc does
    let mut stages: Vec<(String, String)> = Vec::new();
    for out in &outs {
        if let Origin::Lock { file, stage } = &out.origin
            && !stages.iter().any(|(f, s)| f == file && s == stage)
        {
            stages.push((file.clone(), stage.clone()));
        }
    }
    for (lock_file, name) in &stages {
        let yaml = crate::repo::pipeline::yaml_of(lock_file);
        let target = format!("{yaml}:{name}");
        let report = crate::repo::stage_status::local(
            &repo,
            &repo.root,
            std::slice::from_ref(&target),
            &mut state,
        )?;
        if report.stages.is_empty() {
            continue;
        }
        if !args.force {
            return Err(UserError::failed(format!("failed to commit - unable to commit changed stage: '{name}'. Use `-f|--force` to force."))
                .with_hint("check the change with `ferry status`, then rerun with --force")
                .into());
        }
        let pipeline = crate::repo::pipeline::load(&repo, &yaml)?;
        if let Some(stage) = pipeline.stages.iter().find(|s| &s.name == name) {
            crate::repo::lock_commit::commit_stage(&repo, &odb, &mut state, &pipeline, stage)?;
        }
    }
    for out in outs.iter().filter(|o| o.cache) {
        let Origin::DvcFile { file, .. } = &out.origin else {
            continue;
        };
        match out_status(&odb, &bounds, out, &mut state)? {
            OutStatus::Deleted => {
                return Err(UserError::failed(format!(
                    "failed to commit - output '{}' does not exist",
                    out.rel
                ))
                .with_hint(
                    "restore it with `ferry checkout`, or stop tracking it with `ferry remove`",
                )
                .into());
            }
            OutStatus::Modified if !args.force => {
                return Err(UserError::failed(format!("failed to commit - unable to commit changed stage: '{file}'. Use `-f|--force` to force."))
                    .with_hint("check the change with `ferry status`, then rerun with --force")
                    .into());
            }
            _ => {}
        }
        // dvc ignores every committed out in git, also one whose .dvc file had no hash yet
        add::add_path(&repo, &odb, &mut state, &out.path, repo.uses_scm(), true)?;
    }
    state.flush();
    Ok(Exit::Ok)
}
