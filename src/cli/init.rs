//! `ferry init`: create the same files `dvc init` makes.
use super::Ctx;
use crate::error::Exit;

/// Initialize a DVC repository in the current directory.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  git init && ferry init\n  ferry init --no-scm    # without git\n  ferry init -f          # start over: removes .dvc/, its cache included"
)]
pub struct Args {
    /// Do not use git (writes `core.no_scm = True`).
    #[arg(long)]
    no_scm: bool,
    /// Remove an existing `.dvc` first, its local cache included (as `dvc init -f`).
    #[arg(short, long)]
    force: bool,
}

/// Runs `ferry init` in the current directory.
pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    crate::ops::init::init(&ctx.cwd, args.no_scm, args.force)?;
    ctx.out.line("Initialized DVC repository.\n");
    if !args.no_scm {
        ctx.out.line("You can now commit the changes to git.\n");
    }
    Ok(Exit::Ok)
}
