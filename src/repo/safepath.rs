//! The safe-path rule (DESIGN.md §6): a cloned repository can never make Ferry read, write or
//! delete anything outside its workspace.
//!
//! Every workspace path Ferry touches, data and metadata, is resolved component by component from
//! the repository root with `symlink_metadata`, so a symbolic link is seen before it is followed:
//!
//! - **A symlinked parent directory is refused** (as `dvc add` refuses adding through one), for
//!   outs and for every file inside a tracked directory. A committed `data -> ../outside` link can
//!   then never steer a checkout out of the workspace.
//! - **An out that is itself a symlink** is followed only when it points to a file inside the
//!   repository or the cache (what `cache.type = symlink` makes); a link to a directory is never
//!   walked, and replacing it removes the link, never its target's content.
//! - **Symlinks inside an added directory**: a link to a file inside the repository or the cache
//!   is followed and its bytes are stored, as dvc does. A link to a file *outside* is refused with
//!   an error naming it. dvc silently stores the target's bytes, which lets a cloned repository
//!   read any file the user can (`~/.ssh/id_rsa`) into the cache and on to a remote with the next
//!   push; Ferry is stricter here on purpose. A link to a directory is skipped, as dvc skips it.
//! - **Metadata** (`.gitignore`, `.dvc/tmp` and its lock, a `.dvc` file being rewritten) must not
//!   be a symlink at all: it is refused, never written through.
//! - **Reserved outs**: an out under `.git/` or `.dvc/`, or one that is a `.dvc` file, `dvc.yaml`,
//!   `dvc.lock` or `.dvcignore` at any level, is refused when the `.dvc` file or `dvc.lock` is
//!   read, before anything is downloaded. dvc checks only some of these; a `.dvc` file naming
//!   `.git/hooks/pre-commit` with `isexec: true` would otherwise plant a hook that git runs.
//! - **File names that are not UTF-8** are refused: `.dir` manifests and `.dvc` files are UTF-8,
//!   and a lossy conversion could map two names to one.
use std::collections::HashSet;
use std::ffi::OsStr;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Why a path was refused by the safe-path rule.
#[derive(Debug, thiserror::Error)]
pub enum SafePathError {
    /// A directory on the way to the path is a symbolic link.
    #[error(
        "refusing '{path}': its parent '{link}' is a symbolic link, and Ferry never reads or writes through a symlinked directory"
    )]
    SymlinkedParent {
        /// The path Ferry was about to use.
        path: PathBuf,
        /// The symlinked directory on the way.
        link: PathBuf,
    },
    /// Repository metadata that must be a plain file or directory is a symbolic link.
    #[error("refusing '{0}': it is a symbolic link, and Ferry never writes through one")]
    SymlinkedMetadata(PathBuf),
    /// `.dvc/cache` is a symlink out of the repository that came with the clone (tracked by git).
    #[error(
        "refusing '{0}': it is a symbolic link out of the repository committed to git, not a cache you configured"
    )]
    CommittedCacheLink(PathBuf),
    /// A symbolic link that points outside the repository and the cache.
    #[error("refusing '{path}': it is a symbolic link to '{target}', outside the repository")]
    LinkOutside {
        /// The link.
        path: PathBuf,
        /// Where it points (resolved).
        target: PathBuf,
    },
    /// An output that is a symbolic link to a directory.
    #[error("refusing '{0}': it is a symbolic link to a directory")]
    LinkedDir(PathBuf),
    /// An out at a place Ferry must never write.
    #[error("refusing output '{path}' declared in '{file}': {why}")]
    Reserved {
        /// The declaring `.dvc` file or `dvc.lock`.
        file: String,
        /// The out's path relative to the root.
        path: String,
        /// Which rule it breaks.
        why: &'static str,
    },
    /// A file name that is not valid UTF-8 (shown lossy-escaped).
    #[error("refusing '{0}': the file name is not valid UTF-8")]
    NotUtf8(String),
    /// A path lexically outside the repository.
    #[error("refusing '{0}': it is outside the repository")]
    Outside(PathBuf),
    /// `lstat` failed for another reason than the path not existing.
    #[error("cannot inspect '{path}': {source}")]
    Io {
        /// The path inspected.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

impl crate::error::Hint for SafePathError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            SafePathError::Reserved { file, .. } => format!(
                "'{file}' may come from an untrusted clone: inspect it, then fix or delete that entry"
            ),
            SafePathError::NotUtf8(_) => {
                "rename the file to a UTF-8 name (DVC's files can only record UTF-8 paths)".into()
            }
            SafePathError::LinkOutside { .. } => {
                "copy the file into the repository instead of linking to it (or remove the link), then rerun"
                    .into()
            }
            SafePathError::CommittedCacheLink(_) => {
                "if the cache really lives elsewhere, set it with `dvc cache dir --local PATH` (or cache.dir in .dvc/config.local) and `git rm --cached .dvc/cache`".into()
            }
            SafePathError::Io { .. } => return None,
            _ => {
                "replace the symbolic link with a real file or directory (or remove it), then rerun"
                    .into()
            }
        })
    }
}

/// The directories a followed symlink may point into: the repository and its cache.
#[derive(Debug, Clone)]
pub struct Bounds {
    /// The repository root, as given (used for lexical checks).
    pub root: PathBuf,
    /// Canonical repository root.
    canon_root: PathBuf,
    /// Canonical cache root (lexical when it does not exist yet).
    canon_cache: PathBuf,
}

impl Bounds {
    /// Bounds for the repository at `root` whose cache is at `cache`.
    pub fn new(root: &Path, cache: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            canon_root: root.canonicalize().unwrap_or_else(|_| root.to_path_buf()),
            canon_cache: cache
                .canonicalize()
                .unwrap_or_else(|_| super::index::normalize(cache)),
        }
    }

    /// Whether the resolved path `target` lies inside the repository or the cache.
    pub fn contains(&self, target: &Path) -> bool {
        target.starts_with(&self.canon_root) || target.starts_with(&self.canon_cache)
    }

    /// Checks a symlink met at `path` that resolves to a file: `Ok(())` when its target is inside
    /// the bounds, else the error naming both.
    pub fn check_link(&self, path: &Path) -> Result<(), SafePathError> {
        let target = path.canonicalize().map_err(|source| SafePathError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if self.contains(&target) {
            Ok(())
        } else {
            Err(SafePathError::LinkOutside {
                path: path.to_path_buf(),
                target,
            })
        }
    }
}

fn lstat(path: &Path) -> Result<Option<std::fs::Metadata>, SafePathError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) => Ok(Some(m)),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(None)
        }
        Err(source) => Err(SafePathError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Checks that no directory between `root` (excluded) and `path` (excluded) is a symbolic link.
/// `path` must be lexically inside `root`; parts that do not exist yet are fine (Ferry creates
/// them as real directories).
pub fn check_parents(root: &Path, path: &Path) -> Result<(), SafePathError> {
    let rel = path
        .strip_prefix(root)
        .map_err(|_| SafePathError::Outside(path.to_path_buf()))?;
    let mut dir = root.to_path_buf();
    let mut comps = rel.components().peekable();
    while let Some(c) = comps.next() {
        if comps.peek().is_none() {
            break;
        }
        match c {
            Component::Normal(name) => dir.push(name),
            _ => return Err(SafePathError::Outside(path.to_path_buf())),
        }
        match lstat(&dir)? {
            None => return Ok(()),
            Some(m) if m.file_type().is_symlink() => {
                return Err(SafePathError::SymlinkedParent {
                    path: path.to_path_buf(),
                    link: dir,
                });
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Checks a metadata path (`.gitignore`, `.dvc/tmp/lock`, a `.dvc` file): neither it nor any
/// directory on the way from `root` may be a symbolic link.
pub fn check_metadata(root: &Path, path: &Path) -> Result<(), SafePathError> {
    check_parents(root, path)?;
    match lstat(path)? {
        Some(m) if m.file_type().is_symlink() => {
            Err(SafePathError::SymlinkedMetadata(path.to_path_buf()))
        }
        _ => Ok(()),
    }
}

/// Checks the parents of many files under `dir` (itself already checked) at once, each
/// directory once: for a checkout of thousands of files in a few directories.
pub fn check_tree_parents<'a>(
    dir: &Path,
    rels: impl IntoIterator<Item = &'a str>,
) -> Result<(), SafePathError> {
    let mut seen: HashSet<&'a str> = HashSet::new();
    for rel in rels {
        for (i, _) in rel.match_indices('/') {
            let parent = &rel[..i];
            if !seen.insert(parent) {
                continue;
            }
            let path = dir.join(parent);
            match lstat(&path)? {
                None => break,
                Some(m) if m.file_type().is_symlink() => {
                    return Err(SafePathError::SymlinkedParent {
                        path: dir.join(rel),
                        link: path,
                    });
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

/// Why an out path (relative to the root, `/`-separated) is reserved, if it is.
pub fn reserved(rel: &str) -> Option<&'static str> {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    if rel.split('/').any(|c| c == ".git") {
        return Some("outputs inside .git/ are not allowed");
    }
    if rel.split('/').any(|c| c == ".dvc") {
        return Some("outputs inside .dvc/ are not allowed");
    }
    if name.ends_with(".dvc") {
        return Some("an output cannot be a .dvc file");
    }
    if matches!(name, "dvc.yaml" | "dvc.lock" | ".dvcignore") {
        return Some("an output cannot be dvc.yaml, dvc.lock or .dvcignore");
    }
    None
}

/// The UTF-8 form of a file name or relative path, or the refusal naming it with its bytes
/// escaped (`\xff.bin`).
pub fn utf8(name: &OsStr) -> Result<&str, SafePathError> {
    name.to_str()
        .ok_or_else(|| SafePathError::NotUtf8(name.as_encoded_bytes().escape_ascii().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_outs_are_named() {
        for bad in [
            ".git/hooks/pre-commit",
            ".git",
            "sub/.git/config",
            ".dvc/config.local",
            "other.dvc",
            "a/b/x.dvc",
            "dvc.yaml",
            "sub/dvc.lock",
            ".dvcignore",
        ] {
            assert!(reserved(bad).is_some(), "{bad} accepted");
        }
        for good in ["data", "a/.gitx", "dvc.yaml.bak", "x.dvcz", ".gitignore"] {
            assert!(reserved(good).is_none(), "{good} refused");
        }
    }

    #[test]
    fn symlinked_parents_are_refused_and_missing_ones_are_fine() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        std::fs::create_dir_all(root.join("real")).unwrap();
        std::os::unix::fs::symlink(dir.path(), root.join("link")).unwrap();
        assert!(check_parents(&root, &root.join("real/x")).is_ok());
        assert!(check_parents(&root, &root.join("new/deeper/x")).is_ok());
        assert!(check_parents(&root, &root.join("link")).is_ok());
        assert!(matches!(
            check_parents(&root, &root.join("link/x")),
            Err(SafePathError::SymlinkedParent { .. })
        ));
        assert!(matches!(
            check_metadata(&root, &root.join("link")),
            Err(SafePathError::SymlinkedMetadata(_))
        ));
        assert!(check_tree_parents(&root, ["real/a", "new/b/c"]).is_ok());
        assert!(check_tree_parents(&root, ["real/a", "link/b"]).is_err());
        assert!(matches!(
            check_parents(&root, Path::new("/elsewhere/x")),
            Err(SafePathError::Outside(_))
        ));
    }
}
