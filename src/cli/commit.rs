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
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let repo = Repo::discover(&ctx.cwd)?;
    let _lock = repo.lock()?;
    let outs = index::collect(&repo, &ctx.cwd, &args.targets)?;
    let odb = repo.odb();
    let bounds = repo.bounds();
    let mut state = repo.state();
    for out in outs.iter().filter(|o| o.cache) {
        let Origin::DvcFile { file, .. } = &out.origin else {
            return Err(UserError::failed(format!("'{}' is a pipeline output in {}; committing dvc.lock stages is not supported by ferry", out.rel, out.origin.file()))
                .with_hint("run `dvc commit` for pipeline stages")
                .into());
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
        add::add_path(&repo, &odb, &mut state, &out.path, false)?;
    }
    state.flush();
    Ok(Exit::Ok)
}
