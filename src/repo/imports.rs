//! `dvc import` sources: the git repository and revision (`repo: {url, rev_lock}`) an imported
//! out came from, cloned into a temporary directory so its remotes can serve the out's data, as
//! dvc fetches imports from the source repository rather than from the project's remotes.
use std::path::Path;
use std::process::Command;

use serde_yaml_ng::Value;

use super::Repo;

/// The source repository of an import could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// `git clone`/`git checkout` of the source failed.
    #[error("cannot get the source of '{file}' ({url} at {rev}): {message}")]
    Git {
        file: String,
        url: String,
        rev: String,
        message: String,
    },
}

impl crate::error::Hint for ImportError {
    fn hint(&self) -> Option<String> {
        Some("check that the source repository is reachable with git (or pull the import with `dvc pull`)".into())
    }
}

/// Where an imported `.dvc` file's data comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Source {
    /// The git URL (or local path) of the source repository.
    pub url: String,
    /// The commit the import is locked to (`rev_lock`, else `rev`, else the default branch).
    pub rev: Option<String>,
}

/// The source of a `.dvc` file's `repo:` dep, if it is an import.
pub fn source_of(text: &str) -> Option<Source> {
    let doc: Value = serde_yaml_ng::from_str(text).ok()?;
    let deps = doc.get("deps")?.as_sequence()?;
    let repo = deps.iter().find_map(|d| d.get("repo"))?;
    let url = repo.get("url")?.as_str()?.to_string();
    let rev = ["rev_lock", "rev"]
        .iter()
        .find_map(|k| repo.get(*k).and_then(Value::as_str))
        .map(str::to_string);
    Some(Source { url, rev })
}

/// A checkout of the source repository at the locked revision, removed when dropped.
#[derive(Debug)]
pub struct Checkout {
    /// The opened source repository (its config names the remotes that hold the data).
    pub repo: Repo,
    _dir: tempfile::TempDir,
}

/// Clones `src` (for the import declared in `file`; a relative local URL is taken from the
/// project root `base`, as dvc records it) at its revision into a temporary directory. Only git
/// runs there (hooks off); nothing of the source is executed and the workspace is not touched.
pub fn checkout(base: &Path, file: &str, src: &Source) -> anyhow::Result<Checkout> {
    let fail = |message: String| ImportError::Git {
        file: file.to_string(),
        url: src.url.clone(),
        rev: src.rev.clone().unwrap_or_else(|| "HEAD".into()),
        message,
    };
    let dir = tempfile::Builder::new()
        .prefix("ferry-import-")
        .tempdir()
        .map_err(|e| fail(e.to_string()))?;
    let local = base.join(&src.url);
    let url = if !src.url.contains("://") && local.exists() {
        local.display().to_string()
    } else {
        src.url.clone()
    };
    git(
        dir.path(),
        &["clone", "-q", "--no-checkout", "--", &url, "."],
    )
    .map_err(&fail)?;
    let rev = src.rev.as_deref().unwrap_or("HEAD");
    git(dir.path(), &["checkout", "-q", rev, "--", ".dvc"]).map_err(&fail)?;
    let repo = Repo::open(dir.path())?;
    Ok(Checkout { repo, _dir: dir })
}

fn git(dir: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "protocol.file.allow=always",
        ])
        .args(args)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_locked_revision_is_the_source() {
        let text = "md5: 1\nfrozen: true\ndeps:\n- path: data\n  repo:\n    url: ../src\n    rev_lock: abc\nouts:\n- path: data\n";
        let s = super::source_of(text).unwrap();
        assert_eq!(s.url, "../src");
        assert_eq!(s.rev.as_deref(), Some("abc"));
        assert!(super::source_of("outs:\n- path: a\n").is_none());
    }
}
