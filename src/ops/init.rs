//! `init`: create the same files `dvc init` makes.
use std::path::Path;

use anyhow::Context;

use crate::error::UserError;

/// Makes `root` a DVC repository (`no_scm`: without git, writing `core.no_scm = True`), as
/// `dvc init` does, and stages the new files in git. Refuses an existing `.dvc`, unless
/// `force`: then, as `dvc init -f`, the old `.dvc` (its local cache included) is removed first
/// (a `.dvc` that is a symlink loses the link, never what it points to).
pub fn init(root: &Path, no_scm: bool, force: bool) -> anyhow::Result<()> {
    let dvc = root.join(".dvc");
    let meta = std::fs::symlink_metadata(&dvc);
    if force && let Ok(meta) = meta {
        let removed = if meta.is_dir() {
            std::fs::remove_dir_all(&dvc)
        } else {
            std::fs::remove_file(&dvc)
        };
        removed.with_context(|| format!("cannot remove '{}'", dvc.display()))?;
    }
    if dvc.exists() {
        return Err(
            UserError::failed(format!("'{}' exists.", dvc.display()))
                .with_hint("this directory is already a DVC repository; nothing was changed (`ferry init -f` starts over: it removes .dvc/, its cache and config included)")
                .into(),
        );
    }
    if !no_scm && !root.join(".git").exists() {
        return Err(UserError::failed(format!(
            "{} is not tracked by any supported SCM tool (e.g. Git).",
            root.display()
        ))
        .with_hint("run `git init` first, or `ferry init --no-scm`")
        .into());
    }
    std::fs::create_dir_all(dvc.join("tmp"))
        .with_context(|| format!("cannot create {}", dvc.display()))?;
    let config = if no_scm {
        "[core]\n    no_scm = True\n"
    } else {
        ""
    };
    std::fs::write(dvc.join("config"), config)?;
    if !no_scm {
        std::fs::write(dvc.join(".gitignore"), "/config.local\n/tmp\n/cache\n")?;
    }
    std::fs::write(dvc.join("tmp").join("btime"), "")?;
    std::fs::write(
        root.join(".dvcignore"),
        "# Add patterns of files dvc should ignore, which could improve\n# the performance. Learn more at\n# https://dvc.org/doc/user-guide/dvcignore\n",
    )?;
    if !no_scm {
        let _ = std::process::Command::new("git")
            .current_dir(root)
            .args(["add", ".dvc/.gitignore", ".dvc/config", ".dvcignore"])
            .status();
    }
    Ok(())
}
