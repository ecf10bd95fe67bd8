//! Local status of outputs: DVC's `modified`, `deleted` and `not in cache`.
use std::path::Path;

use crate::hash::HashInfo;
use crate::hash::state::State;
use crate::odb::Odb;

use super::out::Out;
use super::safepath::{Bounds, SafePathError};
use super::snapshot;
use super::workspace::{self, WorkspaceError};

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
    full_cache_check(odb, hash).is_some()
}

/// [`cache_complete`], answered by the output's cache snapshot when it proves the answer
/// ([`snapshot::cache_proven`]), else checked in full and, when complete, recorded.
fn cache_complete_of(
    odb: &Odb,
    bounds: &Bounds,
    out: &Out,
    hash: &HashInfo,
    snap_dir: Option<&Path>,
) -> bool {
    let Some(snap_dir) = snap_dir.filter(|_| hash.is_dir()) else {
        return cache_complete(odb, hash);
    };
    if snapshot::cache_proven(snap_dir, &bounds.root, &out.path, odb, hash) {
        tracing::debug!(
            "the cache of '{}' unchanged since its snapshot",
            out.path.display()
        );
        return true;
    }
    let started = snapshot::cache_now(odb);
    let Some(prefixes) = full_cache_check(odb, hash) else {
        return false;
    };
    if let Some(started) = started {
        snapshot::write_cache(
            snap_dir,
            &bounds.root,
            &out.path,
            odb,
            hash,
            &prefixes,
            started,
        );
    }
    true
}

/// The full cache check: `Some` when complete, with (for a `.dir`) the first bytes of its
/// objects' md5s.
fn full_cache_check(odb: &Odb, hash: &HashInfo) -> Option<[bool; 256]> {
    let mut prefixes = [false; 256];
    if !odb.contains(hash) {
        return None;
    }
    if !hash.is_dir() {
        return Some(prefixes);
    }
    // only the md5s are kept of the manifest (16 bytes a file), read as it is parsed (a
    // million-file `.dir` is about 80 MB)
    let file = std::fs::File::open(odb.path(hash)).ok()?;
    let mut md5s: Vec<[u8; 16]> = Vec::new();
    crate::odb::manifest::for_each_read(file, |_, md5| {
        let mut raw = [0u8; 16];
        // checked to be 32 hex digits by the parse
        if hex::decode_to_slice(md5, &mut raw).is_ok() {
            prefixes[raw[0] as usize] = true;
            md5s.push(raw);
        }
    })
    .ok()?;
    odb.contains_all_raw(hash.legacy, md5s).then_some(prefixes)
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
    let snap_dir = snapshot::dir_of(state);
    let (complete, current) = rayon::join(
        || !out.cache || cache_complete_of(odb, bounds, out, recorded, snap_dir.as_deref()),
        || workspace::current_hash(bounds, &out.path, recorded.legacy, state),
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
    Ok(match current {
        None => OutStatus::Deleted,
        Some((h, is_dir)) if is_dir != recorded.is_dir() || h.md5 != recorded.md5 => {
            OutStatus::Modified
        }
        Some(_) => OutStatus::Clean,
    })
}
