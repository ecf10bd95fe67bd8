//! Which output each `add` target records, and the targets `dvc add` refuses: a path inside a
//! tracked directory re-records that directory (its `.dvc` file is updated, as dvc does); a
//! stage output, a file git tracks and a path through a symlinked directory are refused with
//! dvc's reasons.
use std::path::{Path, PathBuf};

use crate::error::UserError;

use super::Repo;
use super::out::{Origin, Out};

/// The outputs `add` records for `targets` (relative to `cwd`), each once, in order.
pub fn resolve(repo: &Repo, cwd: &Path, targets: &[String]) -> anyhow::Result<Vec<PathBuf>> {
    let outs = super::index::collect(repo, &repo.root, &[])?;
    let mut paths: Vec<PathBuf> = Vec::new();
    for target in targets {
        refuse_symlinked(repo, cwd, target)?;
        let abs = super::add::resolve_target(repo, cwd, target)?;
        let path = recorded_path(repo, &outs, target, abs)?;
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    Ok(paths)
}

/// The path `add` records for the target at `abs`: itself, or the tracked directory it is in.
fn recorded_path(repo: &Repo, outs: &[Out], target: &str, abs: PathBuf) -> anyhow::Result<PathBuf> {
    for out in outs {
        let overlaps = out.path == abs || out.path.starts_with(&abs) || abs.starts_with(&out.path);
        match &out.origin {
            Origin::Lock { file, stage } if overlaps => {
                return Err(UserError::failed(format!(
                    "cannot update '{target}': overlaps with an output of stage: '{stage}' in '{}'.",
                    super::pipeline::yaml_of(file)
                ))
                .with_hint("Run the pipeline or use 'dvc commit' to force update it.")
                .into());
            }
            Origin::DvcFile { file, .. } if abs.starts_with(&out.path) && abs != out.path => {
                if repo.root.join(file) != super::add::dvcfile_for(&out.path) {
                    return Err(UserError::failed(format!(
                        "cannot add '{target}': it is inside '{}', an output of '{file}'",
                        out.rel
                    ))
                    .with_hint(format!("record the change with `ferry commit {file}`"))
                    .into());
                }
                return Ok(out.path.clone());
            }
            _ => {}
        }
    }
    if repo.uses_scm()
        && let Ok(rel) = abs.strip_prefix(&repo.root)
        && super::git_tracks(&repo.root, &super::index::to_posix(rel))
    {
        return Err(UserError::failed(format!(
            "output '{target}' is already tracked by SCM (e.g. Git)"
        ))
        .with_hint(format!(
            "You can remove it from Git, then add to DVC: `git rm -r --cached '{target}'` and `git commit -m \"stop tracking {target}\"`"
        ))
        .into());
    }
    Ok(abs)
}

/// dvc refuses a symlink to a directory and anything reached through one, with this message.
fn refuse_symlinked(repo: &Repo, cwd: &Path, target: &str) -> anyhow::Result<()> {
    let abs = super::index::normalize(&cwd.join(target));
    let Ok(rel) = abs.strip_prefix(&repo.root) else {
        return Ok(());
    };
    let mut at = repo.root.clone();
    let parts: Vec<_> = rel.components().collect();
    for (i, part) in parts.iter().enumerate() {
        at.push(part);
        let is_link = std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink());
        let last = i + 1 == parts.len();
        if is_link && (!last || at.is_dir()) {
            return Err(UserError::failed(
                "Cannot add files inside symlinked directories to DVC. See <https://dvc.org/doc/user-guide/troubleshooting#add-symlink> for more information.",
            )
            .with_hint(format!(
                "'{}' is a symbolic link to a directory: add the directory it points to, or replace the link with that directory",
                super::index::to_posix(at.strip_prefix(&repo.root).unwrap_or(&at))
            ))
            .into());
        }
    }
    Ok(())
}

/// `add SOURCE -o DEST`: copies `source` (a file or directory, possibly outside the
/// repository) to `dest` in the workspace, whole or not at all (into a temp beside it, then
/// renamed). `dest`'s directory must exist; something already at `dest` is replaced only with
/// `force`, as in dvc.
pub fn copy_in(
    repo: &Repo,
    cwd: &Path,
    source: &str,
    dest: &str,
    force: bool,
) -> anyhow::Result<()> {
    let src = super::index::normalize(&cwd.join(source));
    let meta = std::fs::metadata(&src).map_err(|e| {
        UserError::failed(format!(
            "cannot read '{source}': {}",
            crate::error::describe_io(&e)
        ))
        .with_hint("name an existing file or directory to copy in")
    })?;
    let dst = super::add::resolve_target(repo, cwd, dest)?;
    let parent = dst.parent().unwrap_or(&repo.root).to_path_buf();
    if !parent.is_dir() {
        return Err(UserError::failed(format!(
            "stage working dir '{}' does not exist",
            parent.display()
        ))
        .with_hint("create the directory first, then rerun")
        .into());
    }
    if std::fs::symlink_metadata(&dst).is_ok() {
        if !force {
            return Err(
                UserError::failed(format!("The file '{dest}' already exists locally."))
                    .with_hint("To override it, re-run with '--force'.")
                    .into(),
            );
        }
        let m = std::fs::symlink_metadata(&dst)?;
        if m.is_dir() {
            std::fs::remove_dir_all(&dst)?;
        } else {
            std::fs::remove_file(&dst)?;
        }
    }
    let io = |e: std::io::Error| {
        anyhow::anyhow!(
            "cannot copy '{source}' to '{dest}': {}",
            crate::error::describe_io(&e)
        )
    };
    let temp = tempfile::Builder::new()
        .prefix(".ferry-copy-")
        .tempdir_in(&parent)
        .map_err(io)?;
    let staged = temp.path().join("data");
    if meta.is_dir() {
        copy_dir(&src, &staged).map_err(io)?;
    } else {
        std::fs::copy(&src, &staged).map_err(io)?;
    }
    std::fs::rename(&staged, &dst).map_err(io)?;
    Ok(())
}

/// Copies a directory tree; a symlink to a file is copied as the file, one to a directory is
/// refused (it could loop).
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let is_dir = std::fs::metadata(entry.path())?.is_dir();
        if is_dir && entry.file_type()?.is_symlink() {
            return Err(std::io::Error::other(format!(
                "'{}' is a symbolic link to a directory; copy that directory in by hand",
                entry.path().display()
            )));
        }
        if is_dir {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
