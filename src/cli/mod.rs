//! Command-line parsing and output only: each subcommand lives in its own file, turns its
//! arguments into calls on `repo`/`transfer`, and renders the result.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::{Exit, Hint, UserError};
use crate::ui::Printer;

mod add;
mod checkout;
mod commit;
mod completions;
mod config;
mod doctor;
mod fetch;
mod gc;
mod init;
mod push;
mod redundancy;
mod remote;
mod remove;
mod report_json;
mod status;
mod sync;
mod transfer;
mod usage;

/// `ferry --version`: the version, the commit it was built from and the target, e.g.
/// `ferry 0.1.0 (1a2b3c4d5e x86_64-unknown-linux-gnu)` (stamped by `build.rs`).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("FERRY_BUILD_COMMIT"),
    " ",
    env!("FERRY_BUILD_TARGET"),
    ")"
);

/// Ferry: DVC-compatible data version control for data kept on several remotes at once.
#[derive(Debug, Parser)]
#[command(
    name = "ferry",
    version = VERSION,
    about,
    long_about = None,
    propagate_version = true,
    after_help = "Examples:
  git init && ferry init
  ferry remote add -d backblaze b2://my-bucket/data --region us-west-004
  ferry remote add dagshub dagshub://alice/proj --token-env DAGSHUB_TOKEN
  ferry push --all-remotes          # every remote gets every object
  ferry pull                        # per object from the first remote that can serve it
  ferry doctor                      # is each remote reachable, are the credentials right?

Exit codes: 0 ok, 1 failed, 251 config, 252 Ctrl-C, 253 not a repo, 254 usage, 255 unexpected."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand accepts.
#[derive(Debug, clap::Args)]
pub struct GlobalArgs {
    /// Print more detail (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Print only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Run as if started in DIR (dvc's `--cd`).
    #[arg(short = 'C', long = "cd", value_name = "DIR", global = true)]
    pub cwd: Option<PathBuf>,
    /// Wait for the repository lock as long as another `dvc` or `ferry` holds it, instead of
    /// failing after a few seconds.
    #[arg(long, global = true)]
    pub wait_for_lock: bool,
}

/// The subcommands, named as in DVC where DVC has them.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Initialize a DVC repository.
    Init(init::Args),
    /// Track files or directories.
    Add(add::Args),
    /// Show changes in the workspace and cache.
    Status(status::Args),
    /// Restore tracked data from the cache.
    Checkout(checkout::Args),
    /// Record changed outputs.
    Commit(commit::Args),
    /// Stop tracking outputs.
    #[command(visible_alias = "rm")]
    Remove(remove::Args),
    /// Remove unused cache objects.
    Gc(gc::Args),
    /// Upload tracked data to remotes.
    Push(push::Args),
    /// Download tracked data into the cache.
    Fetch(fetch::Args),
    /// Download tracked data and check it out.
    Pull(fetch::PullArgs),
    /// Set up and manage data remotes.
    Remote(remote::Args),
    /// Show or set Ferry's own settings (pull order, push targets, redundancy, budgets).
    Config(config::Args),
    /// Check every remote (reachable, credentials, read/write, budget) and the repository setup.
    Doctor(doctor::Args),
    /// Print a shell completion script (bash, zsh, fish).
    Completions(completions::Args),
    /// Print Ferry's man page (roff), e.g. `ferry man > ~/.local/share/man/man1/ferry.1`.
    Man(completions::ManArgs),
    /// Copy what each remote lacks from the cache or from the other remotes.
    Sync(sync::Args),
}

/// dvc's target and revision flags of push, pull and fetch: `-R` widens the targets, `-a/-T/-A`
/// add what the branches, tags or all commits record to the workspace's outputs.
#[derive(Debug, Clone, clap::Args)]
pub struct Selection {
    /// Targets that are directories stand for every .dvc file and dvc.yaml under them.
    #[arg(short = 'R', long)]
    recursive: bool,
    /// Also the data each git branch's tip records.
    #[arg(short = 'a', long)]
    all_branches: bool,
    /// Also the data each git tag records.
    #[arg(short = 'T', long)]
    all_tags: bool,
    /// Also the data every commit records.
    #[arg(short = 'A', long)]
    all_commits: bool,
}

impl Selection {
    /// The targets after `-R`.
    fn targets(
        &self,
        repo: &crate::repo::Repo,
        cwd: &std::path::Path,
        targets: &[String],
    ) -> anyhow::Result<Vec<String>> {
        Ok(if self.recursive {
            crate::repo::targets::recursive(repo, cwd, targets)
        } else {
            targets.to_vec()
        })
    }

    /// The outputs the command acts on: the targets' (all the workspace's when none), then
    /// those recorded at the selected revisions that the workspace does not already name.
    fn outs(
        &self,
        ctx: &Ctx,
        repo: &crate::repo::Repo,
        targets: &[String],
    ) -> anyhow::Result<Vec<crate::repo::out::Out>> {
        let targets = self.targets(repo, &ctx.cwd, targets)?;
        let mut outs = crate::repo::index::collect(repo, &ctx.cwd, &targets)?;
        let revs = crate::transfer::wanted::Revisions {
            all_branches: self.all_branches,
            all_tags: self.all_tags,
            all_commits: self.all_commits,
        };
        if revs.any() {
            let (more, unreadable) = crate::transfer::wanted::outs_at(&repo.root, revs)?;
            for f in unreadable {
                ctx.out
                    .warn(&format!(
                        "skipping '{f}' at a selected revision: it cannot be parsed, so the data it records is left out"
                    ));
            }
            for o in more {
                if !outs.iter().any(|w| w.hash == o.hash) {
                    outs.push(o);
                }
            }
        }
        Ok(outs)
    }
}

/// Between the advice for one remote and the next in one error's hint: each gets a `hint:`
/// line of its own.
const HINT_BREAK: &str = "\nhint: ";

/// What every command gets: the resolved global options and the printer.
pub struct Ctx {
    /// The directory the command runs in (after `-C`).
    pub cwd: PathBuf,
    /// Where results and messages go.
    pub out: Printer,
    /// How many `-v` were given.
    pub verbose: u8,
}

impl Ctx {
    /// A spinner (or plain lines every few seconds without a terminal) for work that can take
    /// more than a second; stops when dropped, so drop it before printing the result.
    pub fn busy(&self, what: &'static str) -> crate::ui::progress::Activity {
        crate::ui::progress::Activity::start(what, self.out.is_quiet())
    }
}

/// Parses, runs and maps the outcome to an exit code; the whole of `main`.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if let Some(cmd) = dvc_only_command(&e) => {
            let out = Printer::new(false);
            out.error(&format!("not in ferry: run `{}`", dvc_command_line(cmd)));
            out.hint(&format!(
                "ferry implements dvc's data commands (add, status, checkout, commit, remove, gc, push, pull, fetch, remote); `{cmd}` is left to dvc, which reads the same repository"
            ));
            return ExitCode::from(Exit::Usage as u8);
        }
        Err(e) => {
            let code = if e.use_stderr() { Exit::Usage as u8 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    crate::ui::init_logging(cli.global.verbose, cli.global.quiet);
    exit_on_interrupt();
    let out = Printer::new(cli.global.quiet);
    match run(cli, out.clone()) {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(err) => {
            let (exit, hint) = classify(&err);
            out.error(&format!("{err:#}"));
            // Every error ends with a hint, even one no module had advice for.
            out.hint(
                &hint
                    .unwrap_or_else(|| "rerun with -v for more detail (-vv for debug logs)".into()),
            );
            ExitCode::from(exit as u8)
        }
    }
}

/// Ctrl-C ends the process with DVC's exit code 252 and a message, instead of a bare death by
/// SIGINT (130 in a shell). Nothing is lost that a kill would not lose: objects and files are
/// written by temp file + rename, and locks are released by the kernel; what a kill would leak
/// (budget claimed for downloads that never happened) is undone first ([`crate::interrupt`]),
/// then a checkout in progress stops starting files and its workspace temp files are removed
/// ([`crate::repo::checkout::on_interrupt`]), so none is left among the data.
fn exit_on_interrupt() {
    let _ = std::thread::Builder::new().name("ctrl-c".into()).spawn(|| {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
        else {
            return;
        };
        if rt.block_on(tokio::signal::ctrl_c()).is_ok() {
            crate::interrupt::run_undos();
            crate::repo::checkout::on_interrupt();
            eprintln!("ERROR: interrupted by the user");
            eprintln!("hint: rerun the same command; what was finished is kept");
            std::process::exit(Exit::Interrupted as i32);
        }
    });
}

/// dvc commands Ferry leaves to dvc (`config` is Ferry's own command for its settings).
const DVC_ONLY: &[&str] = &[
    "artifacts",
    "cache",
    "check-ignore",
    "dag",
    "data",
    "destroy",
    "diff",
    "du",
    "exp",
    "experiments",
    "freeze",
    "get",
    "get-url",
    "import",
    "import-url",
    "install",
    "ls",
    "ls-url",
    "metrics",
    "move",
    "mv",
    "params",
    "plots",
    "queue",
    "repro",
    "root",
    "run",
    "stage",
    "studio",
    "unfreeze",
    "unprotect",
    "update",
    "version",
];

/// The dvc command clap did not recognize, when it is one Ferry leaves to dvc.
fn dvc_only_command(e: &clap::Error) -> Option<&'static str> {
    if e.kind() != clap::error::ErrorKind::InvalidSubcommand {
        return None;
    }
    let Some(clap::error::ContextValue::String(name)) =
        e.get(clap::error::ContextKind::InvalidSubcommand)
    else {
        return None;
    };
    DVC_ONLY.iter().copied().find(|c| c == name)
}

/// `dvc <cmd> <the arguments given after it>`, quoted for a POSIX shell where needed.
fn dvc_command_line(cmd: &str) -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args
        .iter()
        .position(|a| a == cmd)
        .map_or(&args[..0], |i| &args[i + 1..]);
    let mut line = format!("dvc {cmd}");
    for a in rest {
        line.push(' ');
        if !a.is_empty()
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,~".contains(c))
        {
            line.push_str(a);
        } else {
            line.push_str(&format!("'{}'", a.replace('\'', "'\\''")));
        }
    }
    line
}

fn run(cli: Cli, out: Printer) -> anyhow::Result<Exit> {
    let cwd = match cli.global.cwd {
        Some(dir) => std::env::current_dir()?.join(dir),
        None => std::env::current_dir()?,
    };
    if cli.global.wait_for_lock {
        crate::repo::lock::wait_without_limit();
    }
    let ctx = Ctx {
        cwd,
        out,
        verbose: cli.global.verbose,
    };
    match cli.command {
        Command::Init(args) => init::run(&ctx, args),
        Command::Add(args) => add::run(&ctx, args),
        Command::Status(args) => status::run(&ctx, args),
        Command::Checkout(args) => checkout::run(&ctx, args),
        Command::Commit(args) => commit::run(&ctx, args),
        Command::Remove(args) => remove::run(&ctx, args),
        Command::Gc(args) => gc::run(&ctx, args),
        Command::Push(args) => push::run(&ctx, args),
        Command::Fetch(args) => fetch::run_fetch(&ctx, args),
        Command::Pull(args) => fetch::run_pull(&ctx, args),
        Command::Remote(args) => remote::run(&ctx, args),
        Command::Doctor(args) => doctor::run(&ctx, args),
        Command::Config(args) => config::run(&ctx, args),
        Command::Completions(args) => completions::run(&ctx, args),
        Command::Man(args) => completions::run_man(&ctx, args),
        Command::Sync(args) => sync::run(&ctx, args),
    }
}

/// Finds the exit code and hint of an error by looking for a known typed error in its chain.
fn classify(err: &anyhow::Error) -> (Exit, Option<String>) {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<UserError>() {
            return (e.exit, e.hint.clone());
        }
        if let Some(e) = cause.downcast_ref::<crate::repo::RepoError>() {
            return (e.exit(), e.hint());
        }
        if let Some(e) = cause.downcast_ref::<crate::budget::LedgerError>() {
            return (e.exit(), e.hint());
        }
        if let Some(e) = cause.downcast_ref::<crate::config::ConfigError>() {
            return (e.exit(), e.hint());
        }
        if let Some(e) = cause.downcast_ref::<crate::repo::safepath::SafePathError>() {
            return (e.exit(), e.hint());
        }
        if let Some(e) = cause.downcast_ref::<crate::repo::workspace::WorkspaceError>() {
            return (e.exit(), e.hint());
        }
        if let Some(e) = cause.downcast_ref::<crate::repo::checkout::CheckoutError>() {
            return (e.exit(), e.hint());
        }
        if let Some(e) = cause.downcast_ref::<crate::repo::dvcfile::DvcFileError>() {
            return (e.exit(), e.hint());
        }
        if let Some(e) = cause.downcast_ref::<crate::remote::RemoteError>() {
            return (e.exit(), e.hint());
        }
        if let Some(e) = cause.downcast_ref::<crate::config::ferry::FerryError>() {
            return (e.exit(), e.hint());
        }
        if let Some(e) = cause.downcast_ref::<crate::transfer::wanted::HistoryError>() {
            return (Exit::Failed, e.hint());
        }
    }
    (Exit::Failed, None)
}
