//! `ferry config [--local|--global] [--list [--show-origin]] [--unset] KEY [VALUE]`: Ferry's own
//! settings, the way `git config` shows and sets git's. The logic is in [`crate::ops::config`].
use std::path::{Path, PathBuf};

use super::Ctx;
use crate::config::ferry_levels::Scope;
use crate::error::{Exit, UserError};
use crate::ops::config as ops;
use crate::repo::Repo;

/// Show or set Ferry's settings (pull order, push targets, redundancy, team ledger, budgets).
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  ferry config pull.order dagshub,backblaze
  ferry config push.remotes backblaze,dagshub
  ferry config redundancy.min_copies 2
  ferry config remote.backblaze.daily_download_limit 1GB
  ferry config --local remote.backblaze.budget_reset Europe/Berlin
  ferry config --list --show-origin
  ferry config --unset pull.order

Keys: pull.order, push.remotes, redundancy.min_copies, team.ledger,
remote.NAME.{daily_download_limit,daily_request_limit,daily_list_limit,budget_reset}.
Files: --global (~/.config/dvc/ferry.toml), the repository's .dvc/ferry.toml (the default,
tracked by git) and --local (.dvc/ferry.local.toml, git-ignored); later ones win.
`ferry config KEY` exits 1, printing nothing, when KEY is not set.")]
pub struct Args {
    /// Use the user's global file (all repositories).
    #[arg(long, conflicts_with = "local")]
    global: bool,
    /// Use this clone's git-ignored .dvc/ferry.local.toml.
    #[arg(long)]
    local: bool,
    /// List every setting (with --global/--local: of that file only).
    #[arg(short, long, conflicts_with_all = ["key", "unset"])]
    list: bool,
    /// With --list: which file each value is set in.
    #[arg(long, requires = "list")]
    show_origin: bool,
    /// Remove KEY from the file.
    #[arg(long, requires = "key", conflicts_with = "value")]
    unset: bool,
    /// The setting, e.g. `pull.order` or `remote.backblaze.daily_download_limit`.
    key: Option<String>,
    /// Its new value.
    value: Option<String>,
}

impl Args {
    fn scope(&self) -> Option<Scope> {
        if self.global {
            Some(Scope::Global)
        } else if self.local {
            Some(Scope::Local)
        } else {
            None
        }
    }
}

/// Runs `ferry config`.
pub fn run(ctx: &Ctx, args: Args) -> anyhow::Result<Exit> {
    let repo = match Repo::discover(&ctx.cwd) {
        Ok(r) => Some(r),
        Err(_) if args.global => None,
        Err(e) => return Err(e.into()),
    };
    // Only the global file is read or written outside a repository.
    let dvc_dir = repo
        .as_ref()
        .map(|r| r.dvc_dir.clone())
        .unwrap_or_else(|| PathBuf::from(".dvc"));
    let scopes: Vec<Scope> = args.scope().into_iter().collect();
    if args.list {
        let entries = ops::list(&dvc_dir, &scopes)?;
        for e in effective(entries, args.show_origin) {
            let shown = if args.show_origin {
                format!(
                    "{}\t{}\t{}={}",
                    e.scope.name(),
                    shown_path(&e.file, repo.as_ref()),
                    e.key,
                    e.value
                )
            } else {
                format!("{}={}", e.key, e.value)
            };
            ctx.out.line(&shown);
        }
        // the list shows what the files hold; a value every command refuses is said here too
        ops::check(&dvc_dir)?;
        return Ok(Exit::Ok);
    }
    let Some(key) = args.key.as_deref() else {
        return Err(UserError::failed("give a KEY to show or set, or --list")
            .with_hint("e.g. `ferry config --list --show-origin` or `ferry config pull.order`")
            .with_exit(Exit::Usage)
            .into());
    };
    if ops::DVC_KEYS.contains(&key) {
        return dvc_key(ctx, repo.as_ref(), &args, key);
    }
    if args.value.is_none() && !args.unset {
        return Ok(match ops::get(&dvc_dir, key, &scopes)? {
            Some(e) => {
                ctx.out.line(&e.value);
                Exit::Ok
            }
            None => Exit::Failed,
        });
    }
    let remotes = repo
        .as_ref()
        .map(|r| r.config.remote_names())
        .unwrap_or_default();
    let scope = args.scope().unwrap_or(Scope::Repo);
    ops::set(&dvc_dir, scope, key, args.value.as_deref(), &remotes)?;
    Ok(Exit::Ok)
}

/// One of DVC's own options Ferry reads (`core.autostage`): shown from the merged DVC config,
/// written to DVC's config file of the level.
fn dvc_key(ctx: &Ctx, repo: Option<&Repo>, args: &Args, key: &str) -> anyhow::Result<Exit> {
    let (section, option) = key.split_once('.').unwrap_or((key, ""));
    if args.value.is_none() && !args.unset {
        let Some(repo) = repo else {
            return Ok(Exit::Failed);
        };
        return Ok(match repo.config.get(section, option) {
            Some(v) => {
                ctx.out.line(v);
                Exit::Ok
            }
            None => Exit::Failed,
        });
    }
    let levels = crate::config::edit::Levels::new(repo.map(|r| r.dvc_dir.clone()));
    let level = match args.scope() {
        Some(Scope::Global) => crate::config::Level::Global,
        Some(Scope::Local) => crate::config::Level::Local,
        _ => crate::config::Level::Repo,
    };
    ops::set_dvc(&levels, level, key, args.value.as_deref())?;
    Ok(Exit::Ok)
}

/// Without `--show-origin`, one line per key with the value in effect (the last file wins),
/// sorted by key; with it, every file's lines in level order.
fn effective(entries: Vec<ops::Entry>, all: bool) -> Vec<ops::Entry> {
    if all {
        return entries;
    }
    let mut last: std::collections::BTreeMap<String, ops::Entry> = Default::default();
    for e in entries {
        last.insert(e.key.clone(), e);
    }
    last.into_values().collect()
}

/// A file inside the repository relative to its root (`.dvc/ferry.toml`), others as they are.
fn shown_path(file: &Path, repo: Option<&Repo>) -> String {
    repo.and_then(|r| file.strip_prefix(&r.root).ok())
        .unwrap_or(file)
        .display()
        .to_string()
}
