//! Restoring outputs from the cache into the workspace, following `cache.type`, never leaving a
//! partial file (temp + rename) and never dropping unsaved changes without `--force`.
use std::collections::HashSet;
use std::fs::{self, Permissions};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::error::describe_io;
use crate::hash::HashInfo;
use crate::hash::state::{Fingerprint, State};
use crate::odb::{self, Odb};

use super::out::Out;
use super::safepath::{self, Bounds, SafePathError};
use super::workspace::{self, Current, FileInfo};

/// Temp files Ferry is writing in the workspace right now, so a Ctrl-C can clean them up on the
/// way out ([`on_interrupt`]) instead of leaving `.XXXX.tmp` files among the data.
static IN_FLIGHT: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

/// Set by Ctrl-C: no new workspace file is started after it.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// How long Ctrl-C waits for the files being written to finish (or give up) before it removes
/// what is left and exits.
const GRACE: Duration = Duration::from_secs(3);

fn in_flight() -> MutexGuard<'static, Option<HashSet<PathBuf>>> {
    IN_FLIGHT.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A workspace temp file (named by [`odb::temp_name`]) registered for cleanup: removed when
/// dropped (a no-op once it has been renamed into place) and by [`on_interrupt`].
#[derive(Debug)]
pub struct WorkspaceTemp(PathBuf);

impl WorkspaceTemp {
    /// Picks a fresh temp path in `dir` and registers it before anything is created there.
    /// Fails once Ctrl-C was pressed, so nothing new is started while the process winds down
    /// (registering first, then checking, leaves no window for an unregistered file).
    pub fn new_in(dir: &Path) -> std::io::Result<Self> {
        let path = dir.join(odb::temp_name());
        in_flight()
            .get_or_insert_with(HashSet::new)
            .insert(path.clone());
        let temp = Self(path);
        if INTERRUPTED.load(Ordering::SeqCst) {
            return Err(std::io::Error::from(std::io::ErrorKind::Interrupted));
        }
        Ok(temp)
    }

    /// The temp path.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Forgets a temp file that was renamed into place (no `unlink` of a path that is gone).
    pub fn renamed(self) {
        if let Some(set) = in_flight().as_mut() {
            set.remove(&self.0);
        }
        std::mem::forget(self);
    }
}

impl Drop for WorkspaceTemp {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
        if let Some(set) = in_flight().as_mut() {
            set.remove(&self.0);
        }
    }
}

/// Called on Ctrl-C before the process exits: stops new workspace files from being started,
/// lets the ones being written finish (each is complete or removed) for up to [`GRACE`], then
/// removes whatever temp file is still registered. The lock is kept, so none can start after.
pub fn on_interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
    let start = Instant::now();
    loop {
        let guard = in_flight();
        if guard.as_ref().is_none_or(HashSet::is_empty) || start.elapsed() > GRACE {
            for path in guard.iter().flatten() {
                let _ = fs::remove_file(path);
            }
            std::mem::forget(guard);
            return;
        }
        drop(guard);
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Removes the temp files an interrupted or killed run left beside single-file outs (inside a
/// tracked directory they are removed while checking it out). Only Ferry's own names
/// ([`odb::is_temp_name`]) are touched, and only plain files; the repository lock keeps another
/// checkout from writing these directories meanwhile.
pub fn remove_leftover_temps(outs: &[Out]) {
    let parents: HashSet<&Path> = outs
        .iter()
        .filter(|o| !o.is_dir())
        .filter_map(|o| o.path.parent())
        .collect();
    for dir in parents {
        let Ok(listing) = fs::read_dir(dir) else {
            continue;
        };
        for entry in listing.flatten() {
            let ours = entry.file_name().to_str().is_some_and(odb::is_temp_name);
            if ours && entry.file_type().is_ok_and(|t| t.is_file()) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// How a workspace file is made from a cache object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// Copy-on-write clone (btrfs, xfs); falls through when unsupported.
    Reflink,
    /// A hard link to the read-only cache file.
    Hardlink,
    /// A symbolic link to the cache file.
    Symlink,
    /// A full copy.
    Copy,
}

impl LinkType {
    /// Parses DVC's comma list (`reflink,copy`); unknown names are skipped, copy is the fallback.
    pub fn parse_list(s: &str) -> Vec<LinkType> {
        let mut list: Vec<LinkType> = s
            .split(',')
            .filter_map(|t| match t.trim() {
                "reflink" => Some(LinkType::Reflink),
                "hardlink" => Some(LinkType::Hardlink),
                "symlink" => Some(LinkType::Symlink),
                "copy" => Some(LinkType::Copy),
                _ => None,
            })
            .collect();
        if list.is_empty() {
            list.push(LinkType::Copy);
        }
        list
    }
}

/// What checking out one output did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Already matched.
    Unchanged,
    /// Created where nothing was; the number of files written.
    Added(usize),
    /// Replaced different content; the number of files written.
    Modified(usize),
}

/// Why an output could not be checked out.
#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    /// The cache lacks the object (or part of the directory).
    #[error("missing from the cache: {0}")]
    MissingCache(String),
    /// Workspace content that is not in the cache would be lost.
    #[error("unsaved changes in '{0}'")]
    Unsaved(PathBuf),
    /// The out has no recorded hash.
    #[error("'{0}' has no recorded hash")]
    NoHash(String),
    /// Filesystem failure.
    #[error("{0}")]
    Io(String),
    /// Writing a workspace file failed; a full disk is named as such.
    #[error("cannot write '{}': {}", path.display(), describe_io(error))]
    Write {
        /// The workspace file.
        path: PathBuf,
        /// The last error met (of the link types tried); not a `source`, as the message
        /// already says it.
        error: std::io::Error,
    },
    /// The safe-path rule refused a path (a symlinked directory on the way).
    #[error(transparent)]
    Unsafe(#[from] SafePathError),
    /// A malformed or unsafe manifest in the cache.
    #[error(transparent)]
    Odb(#[from] crate::odb::OdbError),
    /// Reading the workspace failed.
    #[error(transparent)]
    Workspace(#[from] workspace::WorkspaceError),
}

impl crate::error::Hint for CheckoutError {
    fn hint(&self) -> Option<String> {
        match self {
            CheckoutError::Write { error, .. } if describe_io(error).contains("space") => Some(
                "free some disk space (or set cache.type to reflink/hardlink to avoid copies), then rerun: finished files are kept"
                    .into(),
            ),
            CheckoutError::Unsafe(e) => crate::error::Hint::hint(e),
            CheckoutError::Workspace(e) => crate::error::Hint::hint(e),
            _ => None,
        }
    }
    fn exit(&self) -> crate::error::Exit {
        match self {
            CheckoutError::Write { error, .. }
                if error.kind() == std::io::ErrorKind::Interrupted =>
            {
                crate::error::Exit::Interrupted
            }
            _ => crate::error::Exit::Failed,
        }
    }
}

/// The hash `out` records, or the error every checkout gives for an out recorded without one.
pub(crate) fn recorded_hash(out: &Out) -> Result<HashInfo, CheckoutError> {
    out.hash
        .clone()
        .ok_or_else(|| CheckoutError::NoHash(out.rel.clone()))
}

/// Restores one output. Files already matching are left alone. An out that is a symlink Ferry
/// may not read through (to a directory, or outside the repository) is unsaved content: with
/// `force` the link itself is removed, never what it points to.
pub fn checkout_out(
    odb: &Odb,
    bounds: &Bounds,
    out: &Out,
    links: &[LinkType],
    force: bool,
    state: &mut State,
) -> Result<Change, CheckoutError> {
    let recorded = recorded_hash(out)?;
    if fs::symlink_metadata(&out.path).is_ok_and(|m| m.file_type().is_symlink()) {
        let target = fs::metadata(&out.path);
        let followable =
            target.as_ref().is_ok_and(|m| m.is_file()) && bounds.check_link(&out.path).is_ok();
        if !followable {
            if !force && target.is_ok() {
                return Err(CheckoutError::Unsaved(out.path.clone()));
            }
            fs::remove_file(&out.path).map_err(|e| {
                CheckoutError::Io(format!(
                    "cannot remove the link '{}': {e}",
                    out.path.display()
                ))
            })?;
        }
    }
    let current = workspace::current(bounds, &out.path, recorded.legacy, state)?;
    if current.hash(recorded.legacy).as_ref() == Some(&recorded)
        && !recorded.is_dir() == matches!(current, Current::File { .. })
    {
        if let Current::File { isexec, .. } = current
            && out.isexec
            && !isexec
        {
            set_exec(&out.path).map_err(|e| CheckoutError::Io(e.to_string()))?;
        }
        return Ok(Change::Unchanged);
    }
    let existed = !matches!(current, Current::Missing);
    let written = if recorded.is_dir() {
        checkout_dir(odb, out, &recorded, current, links, force, state)?
    } else {
        if !odb.contains(&recorded) {
            return Err(CheckoutError::MissingCache(out.rel.clone()));
        }
        match &current {
            Current::File { file, .. }
                if !force && !saved(odb, &file.md5_hex(), recorded.legacy) =>
            {
                return Err(CheckoutError::Unsaved(out.path.clone()));
            }
            Current::Dir { files, .. }
                if !force
                    && files
                        .iter()
                        .any(|f| !saved(odb, &f.md5_hex(), recorded.legacy)) =>
            {
                return Err(CheckoutError::Unsaved(out.path.clone()));
            }
            Current::Dir { .. } => fs::remove_dir_all(&out.path).map_err(|e| {
                CheckoutError::Io(format!("cannot remove '{}': {e}", out.path.display()))
            })?,
            _ => {}
        }
        place(odb, &recorded, &out.path, links, out.isexec, state)?;
        1
    };
    Ok(if existed {
        Change::Modified(written)
    } else {
        Change::Added(written)
    })
}

fn saved(odb: &Odb, md5: &str, legacy: bool) -> bool {
    odb.contains(&HashInfo {
        md5: md5.to_string(),
        legacy,
    })
}

fn checkout_dir(
    odb: &Odb,
    out: &Out,
    recorded: &HashInfo,
    current: Current,
    links: &[LinkType],
    force: bool,
    state: &mut State,
) -> Result<usize, CheckoutError> {
    if !odb.contains(recorded) {
        return Err(CheckoutError::MissingCache(out.rel.clone()));
    }
    if matches!(current, Current::Missing) {
        return checkout_new_dir(odb, out, recorded, links, state);
    }
    let entries = odb.read_manifest(recorded)?;
    // before anything in the directory is touched: no symlinked directory on the way to a file
    safepath::check_tree_parents(&out.path, entries.iter().map(|e| e.relpath.as_str()))?;
    let legacy = recorded.legacy;
    let all_saved = odb.contains_all(legacy, entries.iter().map(|e| e.md5.as_str()));
    if !all_saved && let Some(missing) = entries.iter().find(|e| !saved(odb, &e.md5, legacy)) {
        return Err(CheckoutError::MissingCache(format!(
            "{}/{}",
            out.rel, missing.relpath
        )));
    }
    let existing: Vec<FileInfo> = match current {
        Current::Dir { files, .. } => files,
        Current::File { file, .. } => {
            if !force && !saved(odb, &file.md5_hex(), legacy) {
                return Err(CheckoutError::Unsaved(out.path.clone()));
            }
            fs::remove_file(&out.path).map_err(|e| {
                CheckoutError::Io(format!("cannot remove '{}': {e}", out.path.display()))
            })?;
            Vec::new()
        }
        Current::Missing => Vec::new(),
    };
    let wanted: std::collections::HashMap<&str, &str> = entries
        .iter()
        .map(|e| (e.relpath.as_str(), e.md5.as_str()))
        .collect();
    // Temp files an interrupted run left behind are Ferry's own, not unsaved changes.
    let (leftovers, existing): (Vec<FileInfo>, Vec<FileInfo>) =
        existing.into_iter().partition(|f| {
            !wanted.contains_key(&*f.rel) && f.rel.rsplit('/').next().is_some_and(odb::is_temp_name)
        });
    for f in &leftovers {
        let path = f.path_in(&out.path);
        fs::remove_file(&path)
            .map_err(|e| CheckoutError::Io(format!("cannot remove '{}': {e}", path.display())))?;
    }
    let stale: Vec<&FileInfo> = existing
        .iter()
        .filter(|f| !wanted.get(&*f.rel).is_some_and(|m| f.md5_is(m)))
        .collect();
    if !force && let Some(f) = stale.iter().find(|f| !saved(odb, &f.md5_hex(), legacy)) {
        return Err(CheckoutError::Unsaved(f.path_in(&out.path)));
    }
    for f in &stale {
        let path = f.path_in(&out.path);
        fs::remove_file(&path)
            .map_err(|e| CheckoutError::Io(format!("cannot remove '{}': {e}", path.display())))?;
    }
    let have: std::collections::HashSet<&str> = existing
        .iter()
        .filter(|f| wanted.get(&*f.rel).is_some_and(|m| f.md5_is(m)))
        .map(|f| &*f.rel)
        .collect();
    fs::create_dir_all(&out.path)
        .map_err(|e| CheckoutError::Io(format!("cannot create '{}': {e}", out.path.display())))?;
    let todo: Vec<_> = entries
        .iter()
        .filter(|e| !have.contains(e.relpath.as_str()))
        .collect();
    // Every directory once (entries are sorted, so a directory's files are together), before
    // the files: no `mkdir` per file.
    let mut last_dir = None;
    for e in &todo {
        let dir = e.relpath.rsplit_once('/').map(|(d, _)| d);
        if dir.is_some() && dir != last_dir {
            let path = out.path.join(dir.unwrap_or_default());
            fs::create_dir_all(&path).map_err(|e| {
                CheckoutError::Io(format!("cannot create '{}': {e}", path.display()))
            })?;
        }
        last_dir = dir;
    }
    let linker = Linker::new(odb, &out.path, links);
    let placed: Vec<Result<(PathBuf, Fingerprint, String), CheckoutError>> = todo
        .par_iter()
        .map(|e| {
            let dest = out.path.join(&e.relpath);
            let hash = HashInfo {
                md5: e.md5.clone(),
                legacy,
            };
            let fp = linker.link(odb, &hash, &dest, false)?;
            Ok((dest, fp, e.md5.clone()))
        })
        .collect();
    let written = placed.len();
    // after the writes (see the state cache's docs on files Ferry wrote itself)
    let clock = state.clock(&out.path);
    for r in placed {
        let (dest, fp, md5) = r?;
        state.remember(&dest, fp, &md5, legacy, clock);
    }
    Ok(written)
}

pub(crate) fn place(
    odb: &Odb,
    hash: &HashInfo,
    dest: &Path,
    links: &[LinkType],
    isexec: bool,
    state: &mut State,
) -> Result<(), CheckoutError> {
    let parent = dest.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(|e| {
        CheckoutError::Io(format!(
            "cannot create the parent of '{}': {}",
            dest.display(),
            describe_io(&e)
        ))
    })?;
    let fp = Linker::new(odb, parent, links).link(odb, hash, dest, isexec)?;
    let clock = state.clock(parent);
    state.remember(dest, fp, &hash.md5, hash.legacy, clock);
    Ok(())
}

/// After `add` or `commit`, as dvc does: when the first link type `cache.type` allows between
/// the cache and `dir` is `hardlink` or `symlink`, each of `files` of `dir` (just cached) is replaced by
/// that link to its cache object (read-only, mode 0444, like the object); with `reflink` or
/// `copy` first, the workspace files stay as they are.
pub fn relink(
    odb: &Odb,
    dir: &Path,
    files: &[FileInfo],
    legacy: bool,
    links: &[LinkType],
    state: &mut State,
) -> Result<(), CheckoutError> {
    let linker = Linker::new(odb, dir, links);
    if !matches!(
        linker.links.first(),
        Some(LinkType::Hardlink | LinkType::Symlink)
    ) {
        return Ok(());
    }
    let linked: Vec<Result<Option<Fingerprint>, CheckoutError>> = files
        .par_iter()
        .map(|f| {
            let hash = f.hash(legacy);
            let path = f.path_in(dir);
            if linked_already(&odb.path(&hash), &path) {
                return Ok(None);
            }
            linker.link(odb, &hash, &path, false).map(Some)
        })
        .collect();
    let clock = state.clock(dir);
    for (f, fp) in files.iter().zip(linked) {
        if let Some(fp) = fp? {
            state.remember_raw(&f.path_in(dir), fp, &f.md5, legacy, clock);
        }
    }
    Ok(())
}

/// Whether the workspace file `path` is already a link to the cache file `object`: a hard
/// link to the same inode, or a symlink to its path (a re-`add` of unchanged data relinks
/// nothing).
fn linked_already(object: &Path, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => fs::read_link(path).is_ok_and(|t| t == object),
        Ok(m) => fs::metadata(object).is_ok_and(|o| o.ino() == m.ino() && o.dev() == m.dev()),
        Err(_) => false,
    }
}

/// The link types to use between the cache and one workspace directory, with reflinks probed
/// once per pair of filesystems (see [`odb::reflinks_between`]): a filesystem without them
/// costs no failed `FICLONE` per file.
/// Files a streamed checkout places at a time (on all cores).
const CHECKOUT_BATCH: usize = 4096;

/// [`checkout_dir`] of a directory the workspace lacks, streamed: the manifest is read twice
/// as it is parsed (once for the completeness check, 16 bytes a file; once to place the files,
/// [`CHECKOUT_BATCH`] at a time), so a million-file directory never holds its entries. Nothing
/// exists under the directory yet, so there is no unsaved file to protect and no link on the
/// way to a file (every directory under it is made here).
fn checkout_new_dir(
    odb: &Odb,
    out: &Out,
    recorded: &HashInfo,
    links: &[LinkType],
    state: &mut State,
) -> Result<usize, CheckoutError> {
    let legacy = recorded.legacy;
    let mut md5s: Vec<[u8; 16]> = Vec::new();
    odb.for_each_entry(recorded, |_, md5| {
        let mut raw = [0u8; 16];
        if hex::decode_to_slice(md5, &mut raw).is_ok() {
            md5s.push(raw);
        }
    })?;
    md5s.sort_unstable();
    md5s.dedup();
    let lacking = odb.missing_raw(legacy, &md5s);
    drop(md5s);
    if !lacking.is_empty() {
        let mut first = None;
        odb.for_each_entry(recorded, |relpath, md5| {
            let mut raw = [0u8; 16];
            if first.is_none()
                && hex::decode_to_slice(md5, &mut raw).is_ok()
                && lacking.binary_search(&raw).is_ok()
            {
                first = Some(format!("{}/{relpath}", out.rel));
            }
        })?;
        return Err(CheckoutError::MissingCache(
            first.unwrap_or_else(|| out.rel.clone()),
        ));
    }
    fs::create_dir_all(&out.path)
        .map_err(|e| CheckoutError::Io(format!("cannot create '{}': {e}", out.path.display())))?;
    let linker = Linker::new(odb, &out.path, links);
    let mut written = 0;
    let mut failure: Option<CheckoutError> = None;
    let mut batch: Vec<(String, String)> = Vec::with_capacity(CHECKOUT_BATCH);
    let mut last_dir: Option<String> = None;
    let mut place_batch = |batch: &mut Vec<(String, String)>, state: &mut State| {
        if failure.is_some() {
            batch.clear();
            return;
        }
        // Every directory once (entries are sorted, so a directory's files are together),
        // before the files: no `mkdir` per file.
        for (rel, _) in batch.iter() {
            let dir = rel.rsplit_once('/').map(|(d, _)| d);
            if let Some(dir) = dir
                && last_dir.as_deref() != Some(dir)
            {
                let path = out.path.join(dir);
                if let Err(e) = fs::create_dir_all(&path) {
                    failure = Some(CheckoutError::Io(format!(
                        "cannot create '{}': {e}",
                        path.display()
                    )));
                    batch.clear();
                    return;
                }
                last_dir = Some(dir.to_string());
            }
        }
        let placed: Vec<Result<(PathBuf, Fingerprint), CheckoutError>> = batch
            .par_iter()
            .map(|(rel, md5)| {
                let dest = out.path.join(rel);
                let hash = HashInfo {
                    md5: md5.clone(),
                    legacy,
                };
                linker.link(odb, &hash, &dest, false).map(|fp| (dest, fp))
            })
            .collect();
        let clock = state.clock(&out.path);
        for (r, (_, md5)) in placed.into_iter().zip(batch.iter()) {
            match r {
                Ok((dest, fp)) => {
                    state.remember(&dest, fp, md5, legacy, clock);
                    written += 1;
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        batch.clear();
    };
    odb.for_each_entry(recorded, |relpath, md5| {
        batch.push((relpath.to_string(), md5.to_ascii_lowercase()));
        if batch.len() >= CHECKOUT_BATCH {
            place_batch(&mut batch, state);
        }
    })?;
    place_batch(&mut batch, state);
    match failure {
        Some(e) => Err(e),
        None => Ok(written),
    }
}

/// Whether a checkout in `repo` copies files out of the cache (the first of its `cache.type`
/// that can work is `copy`, or `reflink` where the filesystem has none): then a pull writes the
/// workspace copies of large objects while they download (see [`odb::twins`]).
pub fn copies_files(repo: &crate::repo::Repo) -> bool {
    let odb = repo.odb();
    // a cache not made yet will be made on the filesystem of its nearest existing ancestor
    let cache = odb
        .root
        .ancestors()
        .find(|d| d.is_dir())
        .unwrap_or(&repo.root);
    for kind in repo.link_types() {
        match kind {
            LinkType::Reflink if odb::reflinks_between(cache, &repo.root) => return false,
            LinkType::Reflink => {}
            LinkType::Copy => return true,
            LinkType::Hardlink | LinkType::Symlink => return false,
        }
    }
    false
}

struct Linker {
    links: Vec<LinkType>,
}

impl Linker {
    fn new(odb: &Odb, dir: &Path, links: &[LinkType]) -> Self {
        let mut links = links.to_vec();
        if links.contains(&LinkType::Reflink) && !odb::reflinks_between(&odb.root, dir) {
            links.retain(|l| *l != LinkType::Reflink);
            if links.is_empty() {
                links.push(LinkType::Reflink);
            }
        }
        Self { links }
    }

    /// Makes `dest` (whose directory exists) from the cache object by the first link type that
    /// works, atomically: a copy is written into an anonymous file linked in whole (see
    /// [`odb::TempObject`]), a link is made under a temp name registered ([`WorkspaceTemp`]) so
    /// an interrupted run does not leave it behind, then renamed.
    fn link(
        &self,
        odb: &Odb,
        hash: &HashInfo,
        dest: &Path,
        isexec: bool,
    ) -> Result<Fingerprint, CheckoutError> {
        let write = |error: std::io::Error| CheckoutError::Write {
            path: dest.to_path_buf(),
            error,
        };
        // nothing new is started once Ctrl-C was pressed
        if INTERRUPTED.load(Ordering::SeqCst) {
            return Err(write(std::io::ErrorKind::Interrupted.into()));
        }
        let parent = dest.parent().unwrap_or(Path::new("."));
        let src = odb.path(hash);
        let mut last = None;
        for kind in &self.links {
            let twin = match kind {
                LinkType::Copy => odb.twins.as_ref().and_then(|t| t.take(hash)),
                _ => None,
            };
            if let Some(twin) = twin {
                match place_twin(twin, dest, isexec) {
                    Ok(meta) => {
                        tracing::debug!("{}: the copy written while it downloaded", dest.display());
                        return Ok(Fingerprint::of(&meta));
                    }
                    Err(e) => tracing::debug!("{}: twin not placed ({e}); copying", dest.display()),
                }
            }
            let made = match kind {
                LinkType::Reflink | LinkType::Copy => {
                    copy_into(&src, parent, dest, *kind == LinkType::Reflink, isexec)
                }
                LinkType::Hardlink | LinkType::Symlink => {
                    link_into(&src, parent, dest, *kind == LinkType::Hardlink)
                }
            };
            match made {
                Ok(meta) => return Ok(Fingerprint::of(&meta)),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return Err(write(e)),
                Err(e) => last = Some(e),
            }
        }
        Err(write(last.unwrap_or_else(|| {
            std::io::Error::other("no link type to check the file out with")
        })))
    }
}

/// A reflink (`reflink_only`) or a copy of the cache file `src` put in place as `dest`, with
/// mode 0644 (0744 for an executable); the metadata it has in place.
fn copy_into(
    src: &Path,
    dir: &Path,
    dest: &Path,
    reflink_only: bool,
    isexec: bool,
) -> std::io::Result<fs::Metadata> {
    let mode = if isexec { 0o744 } else { 0o644 };
    let mut from = fs::File::open(src)?;
    let mut to = odb::TempObject::create(dir, mode)?;
    if reflink_only {
        odb::reflink_file(&from, &to.file)?;
    } else {
        odb::clone_or_copy(&mut from, &mut to.file)?;
    }
    give_mode(&to.file, mode, mode)?;
    // taken before it is put in place, which changes neither inode, size nor mtime
    let meta = to.file.metadata()?;
    to.commit(dest)?;
    Ok(meta)
}

/// The pull's verified workspace copy of the object (see [`odb::twins`]) put in place as
/// `dest`, with the mode [`copy_into`] gives; the metadata it has in place. Fails (and the
/// caller copies) where `dest` is on another filesystem.
fn place_twin(twin: odb::TempObject, dest: &Path, isexec: bool) -> std::io::Result<fs::Metadata> {
    let mode = if isexec { 0o744 } else { 0o644 };
    give_mode(&twin.file, odb::twins::TWIN_MODE, mode)?;
    let meta = twin.file.metadata()?;
    twin.commit(dest)?;
    Ok(meta)
}

/// Gives `file`, created with mode `made` (less the umask), the mode `mode` a checkout's copy has.
fn give_mode(file: &fs::File, made: u32, mode: u32) -> std::io::Result<()> {
    if made != mode || odb::umask() & mode != 0 {
        file.set_permissions(Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// A hard link to, or a symlink at, the cache file `src` put in place as `dest`; the metadata
/// of the file it reaches.
fn link_into(src: &Path, dir: &Path, dest: &Path, hard: bool) -> std::io::Result<fs::Metadata> {
    let temp = WorkspaceTemp::new_in(dir)?;
    if hard {
        fs::hard_link(src, temp.path())?;
    } else {
        std::os::unix::fs::symlink(src, temp.path())?;
    }
    fs::rename(temp.path(), dest)?;
    temp.renamed();
    fs::metadata(dest)
}

fn set_exec(path: &Path) -> std::io::Result<()> {
    let mode = fs::metadata(path)?.permissions().mode();
    fs::set_permissions(path, Permissions::from_mode(mode | 0o100))
}
