//! The repository: finding it, its outputs (`.dvc` files and `dvc.lock`), `.gitignore` upkeep,
//! and the workspace side of add/status/checkout.
use std::path::{Path, PathBuf};

pub mod add;
pub mod add_targets;
pub mod checkout;
pub mod checkout_parts;
pub mod dvcfile;
pub mod gitignore;
pub mod imports;
pub mod index;
pub mod lock;
pub mod lock_commit;
pub mod out;
pub mod pipeline;
pub mod safepath;
pub mod snapshot;
pub mod stage_status;
pub mod status;
pub mod targets;
pub mod unsaved;
pub mod workspace;
pub mod yaml;
mod yaml_edit;

use crate::config::{Config, ConfigError};
use crate::error::{Exit, Hint};

/// Errors about the repository as a whole.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// No `.dvc` directory in the start directory or any parent.
    #[error("you are not inside of a DVC repository (checked up to mount point '{0}')")]
    NotARepo(PathBuf),
    /// The configuration could not be loaded.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Repository metadata (`.dvc/tmp`, its lock, a committed `.dvc/cache`) is an unsafe symlink.
    #[error(transparent)]
    Unsafe(#[from] safepath::SafePathError),
}

impl Hint for RepoError {
    fn hint(&self) -> Option<String> {
        match self {
            RepoError::NotARepo(_) => {
                Some("run `ferry init` in the root of your git repository, or pass `-C DIR`".into())
            }
            RepoError::Config(e) => e.hint(),
            RepoError::Unsafe(e) => e.hint(),
        }
    }
    fn exit(&self) -> Exit {
        match self {
            RepoError::NotARepo(_) => Exit::NotARepo,
            RepoError::Config(_) => Exit::Config,
            RepoError::Unsafe(_) => Exit::Failed,
        }
    }
}

/// An opened DVC repository.
#[derive(Debug, Clone)]
pub struct Repo {
    /// The workspace root (the directory holding `.dvc/`).
    pub root: PathBuf,
    /// `root/.dvc`.
    pub dvc_dir: PathBuf,
    /// The merged configuration.
    pub config: Config,
}

impl Repo {
    /// Finds the repository containing `start` by walking up to the nearest `.dvc` directory.
    pub fn discover(start: &Path) -> Result<Self, RepoError> {
        let mut dir = start;
        loop {
            if dir.join(".dvc").is_dir() {
                return Self::open(dir);
            }
            match dir.parent() {
                Some(parent) => dir = parent,
                None => return Err(RepoError::NotARepo(dir.to_path_buf())),
            }
        }
    }

    /// Opens the repository rooted at `root`.
    pub fn open(root: &Path) -> Result<Self, RepoError> {
        let dvc_dir = root.join(".dvc");
        let config = Config::load(&dvc_dir)?;
        let repo = Self {
            root: root.to_path_buf(),
            dvc_dir,
            config,
        };
        repo.check_metadata()?;
        Ok(repo)
    }

    /// Refuses `.dvc/tmp` (and the lock, state, spool, partial downloads, push records and status
    /// snapshots inside it) when any of it is a symlink, and a `.dvc/cache` symlink committed to
    /// git that points out of the repository when `cache.dir` is not configured: a cloned
    /// repository must not make Ferry write outside it. A cache symlink the user made locally
    /// (not in git) is their own choice and is kept, as dvc keeps it.
    fn check_metadata(&self) -> Result<(), safepath::SafePathError> {
        let tmp = self.tmp_dir();
        for path in [
            tmp.clone(),
            tmp.join("lock"),
            tmp.join("ferry"),
            tmp.join("ferry").join("state.redb"),
            tmp.join("ferry").join("spool"),
            tmp.join("ferry").join("partial"),
            tmp.join("ferry").join("verified"),
            tmp.join("ferry").join("snapshot"),
        ] {
            safepath::check_metadata(&self.root, &path)?;
        }
        let cache = self.dvc_dir.join("cache");
        // a link whose target is missing counts as escaping: fetch would create it
        let escapes = || match (cache.canonicalize(), self.root.canonicalize()) {
            (Ok(target), Ok(root)) => !target.starts_with(root),
            _ => true,
        };
        if self.config.get("cache", "dir").is_none()
            && cache
                .symlink_metadata()
                .is_ok_and(|m| m.file_type().is_symlink())
            && escapes()
            && git_tracks(&self.root, ".dvc/cache")
        {
            return Err(safepath::SafePathError::CommittedCacheLink(cache));
        }
        Ok(())
    }

    /// The directories a followed symlink may point into (the workspace and the cache).
    pub fn bounds(&self) -> safepath::Bounds {
        safepath::Bounds::new(&self.root, &self.odb().root)
    }

    /// `.dvc/tmp`, where locks and Ferry's private state live.
    pub fn tmp_dir(&self) -> PathBuf {
        self.dvc_dir.join("tmp")
    }

    /// The local object cache (`cache.dir`, relative to `.dvc/`, default `.dvc/cache`).
    pub fn odb(&self) -> crate::odb::Odb {
        let dir = match self.config.get("cache", "dir") {
            Some(d) => self.dvc_dir.join(d),
            None => self.dvc_dir.join("cache"),
        };
        let mut odb = crate::odb::Odb::new(dir);
        odb.shared = self.config.get("cache", "shared") == Some("group");
        odb.partials = Some(self.tmp_dir().join("ferry").join("partial"));
        odb
    }

    /// Ferry's state cache for this repository.
    pub fn state(&self) -> crate::hash::state::State {
        crate::hash::state::State::open(&self.tmp_dir().join("ferry").join("state.redb"))
    }

    /// Takes DVC's repository lock for a command that writes.
    pub fn lock(&self) -> Result<lock::RepoLock, crate::error::UserError> {
        lock::acquire(&self.tmp_dir())
    }

    /// The link types to try when checking files out (`cache.type`, default `reflink,copy`).
    pub fn link_types(&self) -> Vec<checkout::LinkType> {
        checkout::LinkType::parse_list(self.config.get("cache", "type").unwrap_or("reflink,copy"))
    }

    /// Whether git is in use (`core.no_scm` unset).
    pub fn uses_scm(&self) -> bool {
        !self.config.get_bool("core", "no_scm")
    }
}

/// Whether git tracks `rel` in the repository at `root` (false when git is not in use).
pub(crate) fn git_tracks(root: &Path, rel: &str) -> bool {
    std::process::Command::new("git")
        .current_dir(root)
        .args(["ls-files", "--error-unmatch", "--", rel])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
