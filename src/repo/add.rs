//! `add` and `commit`: hash an output, store it in the cache and record it in its `.dvc` file.
use std::path::{Path, PathBuf};

use crate::error::{UserError, describe_io};
use crate::hash::HashInfo;
use crate::hash::state::State;
use crate::odb::Odb;

use super::Repo;
use super::checkout;
use super::dvcfile::{self, OutEntry, Recorded};
use super::safepath;
use super::workspace::{self, Current};

/// What recording one output changed on disk.
#[derive(Debug, Default)]
pub struct Added {
    /// The `.dvc` file, if it was written.
    pub dvcfile: Option<PathBuf>,
    /// The `.gitignore` that got a new line, if any.
    pub gitignore: Option<PathBuf>,
}

/// The `.dvc` file that tracks `path`: `<path>.dvc` beside it.
pub fn dvcfile_for(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".dvc");
    path.with_file_name(name)
}

/// Checks that `target` (relative to `cwd`) names something Ferry may track: inside the
/// repository, not reserved, not reached through a symlinked directory (dvc refuses that too),
/// and, if it is itself a symlink, one to a file inside the repository or the cache.
pub fn resolve_target(repo: &Repo, cwd: &Path, target: &str) -> anyhow::Result<PathBuf> {
    let abs = super::index::normalize(&cwd.join(target));
    let rel = abs.strip_prefix(&repo.root).map_err(|_| {
        UserError::failed(format!(
            "'{target}' is outside of the repository '{}'",
            repo.root.display()
        ))
        .with_hint("only paths inside the repository can be tracked")
    })?;
    safepath::utf8(rel.as_os_str())?;
    let first = rel
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned());
    if rel.as_os_str().is_empty() || matches!(first.as_deref(), Some(".dvc" | ".git")) {
        return Err(UserError::failed(format!(
            "'{target}' cannot be tracked: it is the repository itself or inside .dvc/.git"
        ))
        .into());
    }
    if abs.extension().is_some_and(|e| e == "dvc") {
        return Err(UserError::failed(format!(
            "'{target}' is a .dvc file; name the data it tracks instead"
        ))
        .into());
    }
    let rel_posix = super::index::to_posix(rel);
    if let Some(why) = safepath::reserved(&rel_posix) {
        return Err(UserError::failed(format!("'{target}' cannot be tracked: {why}")).into());
    }
    safepath::check_parents(&repo.root, &abs)?;
    Ok(abs)
}

/// Hashes `path`, caches it (unless `commit` is false: `add --no-commit`) and writes its `.dvc`
/// file (creating or updating in place). Unchanged data rewrites nothing. With `git` set, the
/// output is added to `.gitignore`.
pub fn add_path(
    repo: &Repo,
    odb: &Odb,
    state: &mut State,
    path: &Path,
    git: bool,
    commit: bool,
) -> anyhow::Result<Added> {
    let dvcfile_path = dvcfile_for(path);
    safepath::check_metadata(&repo.root, &dvcfile_path)?;
    if git && let Some(parent) = path.parent() {
        // refused before anything is cached or written, not halfway through
        safepath::check_metadata(&repo.root, &parent.join(".gitignore"))?;
    }
    let name = path
        .file_name()
        .map(|n| safepath::utf8(n).map(str::to_string))
        .transpose()?
        .unwrap_or_default();
    let bounds = repo.bounds();
    let existing = if dvcfile_path.exists() {
        Some(dvcfile::load(&dvcfile_path)?)
    } else {
        None
    };
    let index = existing
        .as_ref()
        .and_then(|(_, outs)| outs.iter().position(|o| o.path == name));
    let old: Option<&OutEntry> = existing.as_ref().zip(index).map(|((_, outs), i)| &outs[i]);
    let old_hash = old.and_then(OutEntry::hash);

    let mut current = None;
    if let Some(h) = old_hash.as_ref().filter(|h| h.legacy) {
        let legacy_now = workspace::current(&bounds, path, true, state)?;
        if legacy_now.hash(true).as_ref() == Some(h) {
            current = Some(legacy_now);
        }
    }
    let current = match current {
        Some(c) => c,
        None => workspace::current(&bounds, path, false, state)?,
    };
    let (hash, rec) = match &current {
        Current::Missing => {
            return Err(
                UserError::failed(format!("output '{}' does not exist", path.display()))
                    .with_hint("check the path; `ferry add` takes files or directories that exist")
                    .into(),
            );
        }
        Current::File {
            file,
            path: file_path,
            isexec,
        } => {
            let hash = current
                .hash(
                    old_hash
                        .as_ref()
                        .is_some_and(|h| h.legacy && file.md5_is(&h.md5)),
                )
                .unwrap_or_else(|| file.hash(false));
            if commit {
                odb.insert_file(file_path, &hash)
                    .map_err(|e| cache_write(file_path, &e))?;
                let dir = file_path.parent().unwrap_or(&repo.root);
                let links = repo.link_types();
                checkout::relink(
                    odb,
                    dir,
                    std::slice::from_ref(file),
                    hash.legacy,
                    &links,
                    state,
                )?;
            }
            let rec = Recorded {
                hash: hash.clone(),
                size: file.size(),
                nfiles: None,
                isexec: *isexec,
            };
            (hash, rec)
        }
        Current::Dir { hash, files, size } => {
            let legacy = hash.legacy;
            if commit {
                let source = |i: usize| crate::odb::Source {
                    size: files[i].size(),
                    path: files[i].path_in(path),
                };
                odb.insert_files(legacy, files.len(), |i| files[i].md5, source)
                    .map_err(|e| cache_write(&e.path, &e.source))?;
                insert_manifest(odb, files, hash).map_err(|e| cache_write(path, &e))?;
                checkout::relink(odb, path, files, legacy, &repo.link_types(), state)?;
                if let Some(snap_dir) = super::snapshot::dir_of(state) {
                    super::snapshot::record_stored(&snap_dir, &repo.root, path, odb, hash, files);
                }
            }
            let rec = Recorded {
                hash: hash.clone(),
                size: *size,
                nfiles: Some(files.len() as u64),
                isexec: false,
            };
            (hash.clone(), rec)
        }
    };
    state.flush();
    let mut added = Added::default();
    let unchanged = old.is_some_and(|o| {
        old_hash.as_ref() == Some(&hash)
            && o.size == Some(rec.size)
            && o.nfiles == rec.nfiles
            && o.isexec == rec.isexec
    });
    if !unchanged {
        let text = match (&existing, index) {
            (Some((text, _)), Some(i)) => dvcfile::update(text, i, &rec, &dvcfile_path)?,
            _ => dvcfile::render_new(&name, &rec),
        };
        write_atomic(&dvcfile_path, text.as_bytes()).map_err(|e| {
            anyhow::anyhow!(
                "cannot write '{}': {}",
                dvcfile_path.display(),
                describe_io(&e)
            )
        })?;
        added.dvcfile = Some(dvcfile_path);
    }
    if git {
        added.gitignore = super::gitignore::ignore(&repo.root, path)?;
    }
    Ok(added)
}

/// Writes a small file by temp + rename so readers never see half of it; renaming over a
/// symlink replaces the link, never its target. The temp file is removed on failure and on
/// Ctrl-C.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let temp = super::checkout::WorkspaceTemp::new_in(dir)?;
    std::fs::write(temp.path(), bytes)?;
    std::fs::rename(temp.path(), path)
}

/// Stores the `.dir` of `files` as `hash`, streamed into the cache's temp file (a million-file
/// manifest is never held whole).
pub(crate) fn insert_manifest(
    odb: &Odb,
    files: &[workspace::FileInfo],
    hash: &HashInfo,
) -> std::io::Result<()> {
    if odb.contains(hash) {
        return Ok(());
    }
    let temp = odb.create_temp(hash)?;
    let mut out = std::io::BufWriter::new(&temp.file);
    let mut failed = None;
    workspace::stream_manifest(files, |piece| {
        if failed.is_none()
            && let Err(e) = std::io::Write::write_all(&mut out, piece)
        {
            failed = Some(e);
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    std::io::Write::flush(&mut out)?;
    drop(out);
    odb.commit_temp(temp, hash)
}

/// Storing a workspace file in the cache failed: name the file and, when it is, the full disk.
fn cache_write(path: &Path, e: &std::io::Error) -> anyhow::Error {
    UserError::failed(format!(
        "cannot store '{}' in the cache: {}",
        path.display(),
        describe_io(e)
    ))
    .with_hint("check that the cache directory (cache.dir) is writable and has free space, then rerun `ferry add`")
    .into()
}
