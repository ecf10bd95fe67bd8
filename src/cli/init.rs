//! `ferry init`: create the same files `dvc init` makes.
use anyhow::Context;

use super::Ctx;
use crate::error::{Exit, UserError};

/// Initialize a DVC repository in the current directory.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  git init && ferry init\n  ferry init --no-scm    # without git"
)]
pub struct Args {
    /// Do not use git (writes `core.no_scm = True`).
    #[arg(long)]
    no_scm: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let root = &ctx.cwd;
    let dvc = root.join(".dvc");
    if dvc.exists() {
        return Err(
            UserError::failed(format!("'{}' exists. Use `-f` to force.", dvc.display()))
                .with_hint("this directory is already a DVC repository; nothing was changed")
                .into(),
        );
    }
    if !args.no_scm && !root.join(".git").exists() {
        return Err(UserError::failed(format!(
            "{} is not tracked by any supported SCM tool (e.g. Git).",
            root.display()
        ))
        .with_hint("run `git init` first, or `ferry init --no-scm`")
        .into());
    }
    std::fs::create_dir_all(dvc.join("tmp"))
        .with_context(|| format!("cannot create {}", dvc.display()))?;
    let config = if args.no_scm {
        "[core]\n    no_scm = True\n"
    } else {
        ""
    };
    std::fs::write(dvc.join("config"), config)?;
    if !args.no_scm {
        std::fs::write(dvc.join(".gitignore"), "/config.local\n/tmp\n/cache\n")?;
    }
    std::fs::write(dvc.join("tmp").join("btime"), "")?;
    std::fs::write(
        root.join(".dvcignore"),
        "# Add patterns of files dvc should ignore, which could improve\n# the performance. Learn more at\n# https://dvc.org/doc/user-guide/dvcignore\n",
    )?;
    if !args.no_scm {
        let _ = std::process::Command::new("git")
            .current_dir(root)
            .args(["add", ".dvc/.gitignore", ".dvc/config", ".dvcignore"])
            .status();
    }
    ctx.out.line("Initialized DVC repository.\n");
    if !args.no_scm {
        ctx.out.line("You can now commit the changes to git.\n");
    }
    Ok(Exit::Ok)
}
