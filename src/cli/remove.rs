//! `ferry remove`: stop tracking outputs (delete their `.dvc` files and `.gitignore` lines).
use super::Ctx;
use crate::error::{Exit, UserError};
use crate::repo::{Repo, gitignore, index};

/// Stop tracking: remove `.dvc` files and their `.gitignore` entries (data stays unless --outs).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  ferry remove data.dvc\n  ferry remove --outs old.dvc   # also delete the data"
)]
pub struct Args {
    /// The .dvc files to remove.
    #[arg(required = true, value_name = "TARGET.dvc")]
    targets: Vec<String>,
    /// Also delete the outputs from the workspace.
    #[arg(long)]
    outs: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let repo = Repo::discover(&ctx.cwd)?;
    let _lock = repo.lock()?;
    for target in &args.targets {
        let path = index::normalize(&ctx.cwd.join(target));
        let rel = path
            .strip_prefix(&repo.root)
            .map(index::to_posix)
            .unwrap_or_default();
        if !target.ends_with(".dvc") || !path.is_file() {
            return Err(UserError::failed(format!("'{target}' is not a .dvc file"))
                .with_hint("name the .dvc file, e.g. `ferry remove data.dvc`")
                .into());
        }
        let outs = index::outs_of_dvcfile(&repo, &rel)?;
        for out in &outs {
            if repo.uses_scm() {
                gitignore::unignore(&repo.root, &out.path)?;
            }
            if args.outs {
                // lstat: a symlinked out is removed as a link, never through it
                let is_dir = out.path.symlink_metadata().is_ok_and(|m| m.is_dir());
                let _ = if is_dir {
                    std::fs::remove_dir_all(&out.path)
                } else {
                    std::fs::remove_file(&out.path)
                };
            }
        }
        std::fs::remove_file(&path)?;
    }
    Ok(Exit::Ok)
}
