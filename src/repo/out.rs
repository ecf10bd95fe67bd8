//! An output: one tracked file or directory, as declared in a `.dvc` file or a `dvc.lock` stage.
use std::path::PathBuf;

use crate::hash::HashInfo;

/// Where an output is declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A `.dvc` file (path relative to the repo root) and the index of the out in it.
    DvcFile { file: String, index: usize },
    /// A stage in `dvc.lock` (path of the lock file relative to the root) and the stage's name.
    Lock { file: String, stage: String },
}

impl Origin {
    /// The declaring file, relative to the repo root, as DVC prints it.
    pub fn file(&self) -> &str {
        match self {
            Origin::DvcFile { file, .. } | Origin::Lock { file, .. } => file,
        }
    }
}

/// One output with what its declaration records.
#[derive(Debug, Clone)]
pub struct Out {
    /// Where it is declared.
    pub origin: Origin,
    /// The `path:` value as written (relative to the declaring file's directory).
    pub def_path: String,
    /// The output's path relative to the repo root, `/`-separated.
    pub rel: String,
    /// Absolute workspace path.
    pub path: PathBuf,
    /// The recorded hash; `None` when the out has no md5 yet.
    pub hash: Option<HashInfo>,
    /// Recorded total size in bytes.
    pub size: Option<u64>,
    /// Recorded number of files (directories only).
    pub nfiles: Option<u64>,
    /// Recorded exec bit (single files only).
    pub isexec: bool,
    /// `cache: false` outs are not cached or transferred.
    pub cache: bool,
    /// Per-output `remote:`, overriding the default remote for push/pull.
    pub remote: Option<String>,
    /// `push: false` outs are never pushed.
    pub push: bool,
    /// An out of `dvc import` (a dep with `repo:`): its data belongs to the source repository,
    /// so dvc leaves it out of push, `status -c` and `status --remotes`.
    pub imported: bool,
    /// For a directory named by targets inside it (`pull data/dir/f1`): the paths inside it
    /// (relative to it, `/`-separated) the command acts on, as dvc's granular targets; empty
    /// for the whole output.
    pub parts: Vec<String>,
}

impl Out {
    /// Whether the out is a directory (its hash ends in `.dir`).
    pub fn is_dir(&self) -> bool {
        self.hash.as_ref().is_some_and(HashInfo::is_dir)
    }

    /// Whether the file at `relpath` inside this directory output is acted on (see `parts`).
    pub fn selects_file(&self, relpath: &str) -> bool {
        self.parts.is_empty()
            || self.parts.iter().any(|p| {
                relpath == p
                    || (relpath.starts_with(p.as_str()) && relpath[p.len()..].starts_with('/'))
            })
    }
}
