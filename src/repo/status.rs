//! Local status of outputs: DVC's `modified`, `deleted` and `not in cache`.
use crate::hash::HashInfo;
use crate::hash::state::State;
use crate::odb::Odb;

use super::out::Out;
use super::safepath::{Bounds, SafePathError};
use super::workspace::{self, Current, WorkspaceError};

/// How an output differs from its record, as DVC names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutStatus {
    /// Workspace and cache match the record.
    Clean,
    /// The workspace content differs from the record.
    Modified,
    /// Nothing at the output's path.
    Deleted,
    /// The recorded object (or part of a directory) is missing from the cache.
    NotInCache,
}

impl OutStatus {
    /// DVC's wording.
    pub fn as_str(self) -> &'static str {
        match self {
            OutStatus::Clean => "clean",
            OutStatus::Modified => "modified",
            OutStatus::Deleted => "deleted",
            OutStatus::NotInCache => "not in cache",
        }
    }
}

/// Whether the cache holds the object and, for a directory, every file it lists.
pub fn cache_complete(odb: &Odb, hash: &HashInfo) -> bool {
    if !odb.contains(hash) {
        return false;
    }
    if !hash.is_dir() {
        return true;
    }
    // only the md5s are kept of the manifest (16 bytes a file)
    let md5s = std::fs::read(odb.path(hash))
        .ok()
        .and_then(|bytes| crate::odb::manifest::md5s(&bytes).ok());
    md5s.is_some_and(|md5s| odb.contains_all_raw(hash.legacy, md5s))
}

/// The status of one output (DVC's order: cache first, then the workspace).
pub fn out_status(
    odb: &Odb,
    bounds: &Bounds,
    out: &Out,
    state: &mut State,
) -> Result<OutStatus, WorkspaceError> {
    // never recorded (a stage that never ran): dvc calls it deleted when absent, else modified
    let Some(recorded) = &out.hash else {
        return Ok(if out.path.exists() {
            OutStatus::Modified
        } else {
            OutStatus::Deleted
        });
    };
    // The cache and the workspace are looked at side by side (a directory's manifest read and
    // its objects listed while the workspace is walked and hashed); the cache's answer comes
    // first, as in DVC.
    let (complete, current) = rayon::join(
        || !out.cache || cache_complete(odb, recorded),
        || workspace::current(bounds, &out.path, recorded.legacy, state),
    );
    if !complete {
        return Ok(OutStatus::NotInCache);
    }
    // A symlink Ferry will not read through (to a directory, or out of the repository) where
    // the data should be is a change to report, not a reason to fail the whole status.
    let current = match current {
        Err(WorkspaceError::Unsafe(
            SafePathError::LinkedDir(_) | SafePathError::LinkOutside { .. },
        )) => return Ok(OutStatus::Modified),
        other => other?,
    };
    Ok(match current.hash(recorded.legacy) {
        None => OutStatus::Deleted,
        Some(h)
            if matches!(current, Current::File { .. }) == recorded.is_dir()
                || h.md5 != recorded.md5 =>
        {
            OutStatus::Modified
        }
        Some(_) => OutStatus::Clean,
    })
}
