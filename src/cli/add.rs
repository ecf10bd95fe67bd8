//! `ferry add`: track files and directories, as `dvc add` does.
use std::path::PathBuf;

use super::Ctx;
use crate::error::{Exit, UserError};
use crate::repo::{Repo, add, add_targets, targets};

/// Track data files or directories: hash them, store them in the cache, write `.dvc` files.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  ferry add data/                # a directory\n  ferry add model.pt images/     # several outputs at once\n  ferry add --glob 'raw/*.csv'   # every match, each with its own .dvc file\n  ferry add ~/big.bin -o data/big.bin   # copy in from outside, then track"
)]
pub struct Args {
    /// Files or directories to track.
    #[arg(required = true, value_name = "PATH")]
    targets: Vec<String>,
    /// Write the .dvc files without storing the data in the cache (`ferry commit` does later).
    #[arg(long)]
    no_commit: bool,
    /// Read the targets as glob patterns (`*`, `?`, `[…]`, `**`).
    #[arg(long)]
    glob: bool,
    /// Copy the one target (a file or directory, also from outside the repository) to PATH in
    /// the workspace and track it there.
    #[arg(short, long, value_name = "PATH")]
    out: Option<String>,
    /// With -o: overwrite what is at PATH.
    #[arg(short, long, requires = "out")]
    force: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let repo = Repo::discover(&ctx.cwd)?;
    let _lock = repo.lock()?;
    let names = if args.glob {
        targets::expand_globs(&repo, &ctx.cwd, &args.targets)?
    } else {
        args.targets.clone()
    };
    let names = match &args.out {
        Some(dest) => {
            let [source] = names.as_slice() else {
                return Err(UserError::failed("-o/--out takes exactly one target")
                    .with_hint("add the targets one by one, each with its own -o")
                    .with_exit(Exit::Usage)
                    .into());
            };
            add_targets::copy_in(&repo, &ctx.cwd, source, dest, args.force)?;
            vec![dest.clone()]
        }
        None => names,
    };
    let paths = add_targets::resolve(&repo, &ctx.cwd, &names)?;
    let odb = repo.odb();
    let mut state = repo.state();
    let git = repo.uses_scm();
    let mut to_stage: Vec<PathBuf> = Vec::new();
    let mut ignores: Vec<PathBuf> = Vec::new();
    let busy = ctx.busy("adding");
    for path in &paths {
        let added = add::add_path(&repo, &odb, &mut state, path, git, !args.no_commit)?;
        to_stage.extend(added.dvcfile);
        ignores.extend(added.gitignore);
    }
    state.flush();
    drop(busy);
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
            "\nTo track the changes with git, run:\n\n\tgit add {}\n\nTo enable auto staging, run:\n\n\tferry config core.autostage true",
            shown.join(" ")
        ));
    }
    Ok(Exit::Ok)
}
