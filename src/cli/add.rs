//! `ferry add`: track files and directories, as `dvc add` does.
use std::path::PathBuf;

use super::Ctx;
use crate::error::Exit;
use crate::repo::{Repo, add, add_targets};

/// Track data files or directories: hash them, store them in the cache, write `.dvc` files.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  ferry add data/                # a directory\n  ferry add model.pt images/     # several outputs at once"
)]
pub struct Args {
    /// Files or directories to track.
    #[arg(required = true, value_name = "PATH")]
    targets: Vec<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let repo = Repo::discover(&ctx.cwd)?;
    let _lock = repo.lock()?;
    let paths = add_targets::resolve(&repo, &ctx.cwd, &args.targets)?;
    let odb = repo.odb();
    let mut state = repo.state();
    let git = repo.uses_scm();
    let mut to_stage: Vec<PathBuf> = Vec::new();
    let mut ignores: Vec<PathBuf> = Vec::new();
    for path in &paths {
        let added = add::add_path(&repo, &odb, &mut state, path, git)?;
        to_stage.extend(added.dvcfile);
        ignores.extend(added.gitignore);
    }
    state.flush();
    if !git {
        return Ok(Exit::Ok);
    }
    for g in ignores {
        if !to_stage.contains(&g) {
            to_stage.push(g);
        }
    }
    if to_stage.is_empty() {
        return Ok(Exit::Ok);
    }
    let shown: Vec<String> = to_stage
        .iter()
        .map(|p| crate::config::paths::relative_to(p, &ctx.cwd))
        .collect();
    if repo.config.get_bool("core", "autostage") {
        let _ = std::process::Command::new("git")
            .current_dir(&ctx.cwd)
            .arg("add")
            .arg("--")
            .args(&shown)
            .status();
    } else {
        ctx.out.line(&format!(
            "\nTo track the changes with git, run:\n\n\tgit add {}\n\nTo enable auto staging, run:\n\n\tdvc config core.autostage true",
            shown.join(" ")
        ));
    }
    Ok(Exit::Ok)
}
