//! The workspace side of an output: what is on disk now, hashed through the state cache with
//! all cores, and directory manifests built exactly as DVC builds them.
use std::fs::Metadata;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::safepath::{self, Bounds, SafePathError};
use super::snapshot;
use crate::hash::state::{Clock, Fingerprint, State};
use crate::hash::{self, HashInfo};
use crate::odb::manifest;

/// A file as found in the workspace, with its hash: 56 bytes and its name, as a million-file
/// directory holds a million of them (its absolute path is [`FileInfo::path_in`] the output).
#[derive(Debug, Clone)]
pub struct FileInfo {
    /// Path relative to the output directory (`/`-separated); the file name for a single file.
    pub rel: Box<str>,
    /// Its md5 under the out's hash kind.
    pub md5: [u8; 16],
    /// Its fingerprint when it was looked at (for the state cache and the status snapshot).
    pub fp: Fingerprint,
}

impl FileInfo {
    /// Its size as it was stat'ed (what dvc records, too).
    pub fn size(&self) -> u64 {
        self.fp.size
    }

    /// The md5 as 32 lowercase hex digits.
    pub fn md5_hex(&self) -> String {
        hex::encode(self.md5)
    }

    /// Its object's hash under `legacy`'s kind.
    pub fn hash(&self, legacy: bool) -> HashInfo {
        HashInfo {
            md5: self.md5_hex(),
            legacy,
        }
    }

    /// Whether its md5 is `hex` (as a manifest writes it).
    pub fn md5_is(&self, hex: &str) -> bool {
        let mut raw = [0u8; 16];
        hex::decode_to_slice(hex, &mut raw).is_ok() && raw == self.md5
    }

    /// Its path inside `dir`: the output directory, or a single file's parent.
    pub fn path_in(&self, dir: &Path) -> PathBuf {
        dir.join(&*self.rel)
    }
}

/// What an output's path holds right now.
#[derive(Debug)]
pub enum Current {
    /// Nothing at the path.
    Missing,
    /// A single file.
    File {
        /// The file and its hash (`rel` is its name).
        file: FileInfo,
        /// Its path.
        path: PathBuf,
        /// Whether its owner-exec bit is set.
        isexec: bool,
    },
    /// A directory, with its files sorted as in its manifest.
    Dir {
        /// The manifest's hash (`….dir`); its bytes are [`manifest_of`] the files.
        hash: HashInfo,
        /// Every file (after `.dvcignore`), sorted by relpath.
        files: Vec<FileInfo>,
        /// Sum of the file sizes.
        size: u64,
    },
}

impl Current {
    /// The hash this workspace content would be recorded with.
    pub fn hash(&self, legacy: bool) -> Option<HashInfo> {
        match self {
            Current::Missing => None,
            Current::File { file, .. } => Some(file.hash(legacy)),
            Current::Dir { hash, .. } => Some(hash.clone()),
        }
    }
}

/// The `.dir` bytes of a directory's files (sorted by relpath), as DVC writes them.
pub fn manifest_of(files: &[FileInfo]) -> Vec<u8> {
    let mut out = Vec::with_capacity(files.len() * 80 + 2);
    stream_manifest(files, |piece| out.extend_from_slice(piece));
    out
}

/// The `.dir` bytes of `files` handed to `sink` in pieces (never all held: a million-file
/// manifest is about 80 MB).
pub fn stream_manifest(files: &[FileInfo], sink: impl FnMut(&[u8])) {
    manifest::stream_json_pairs(files.iter().map(|f| (&*f.rel, Hex::of(&f.md5))), sink);
}

/// The md5 of [`manifest_of`] `files`, without holding the bytes.
pub fn manifest_md5(files: &[FileInfo]) -> String {
    manifest::md5_of_pairs(files.iter().map(|f| (&*f.rel, Hex::of(&f.md5))))
}

/// An md5's hex digits on the stack, for writing manifests of binary md5s.
struct Hex([u8; 32]);

impl Hex {
    fn of(md5: &[u8; 16]) -> Self {
        let mut hex = [0u8; 32];
        let _ = hex::encode_to_slice(md5, &mut hex);
        Hex(hex)
    }
}

impl AsRef<str> for Hex {
    fn as_ref(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// Why the workspace could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// A file or directory could not be read.
    #[error("cannot read '{path}': {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A `.dvcignore` inside a tracked directory (DVC refuses it too).
    #[error(".dvcignore file should not be in collected dir path: '{0}'")]
    NestedDvcignore(PathBuf),
    /// Walking the directory failed.
    #[error("cannot walk '{path}': {message}")]
    Walk { path: PathBuf, message: String },
    /// A symlink or file name the safe-path rule refuses.
    #[error(transparent)]
    Unsafe(#[from] SafePathError),
}

impl crate::error::Hint for WorkspaceError {
    fn hint(&self) -> Option<String> {
        match self {
            WorkspaceError::Unsafe(e) => e.hint(),
            WorkspaceError::NestedDvcignore(_) => {
                Some("move the .dvcignore to the repository root or remove it".into())
            }
            _ => None,
        }
    }
}

/// Looks at `path` and hashes what is there, reusing and refreshing the state cache. Symlinks
/// follow the safe-path rule ([`super::safepath`]): a link to a file inside `bounds` is read
/// through, a link to a directory or to a file outside is refused, a dangling one is missing.
pub fn current(
    bounds: &Bounds,
    path: &Path,
    legacy: bool,
    state: &mut State,
) -> Result<Current, WorkspaceError> {
    let io = |source| WorkspaceError::Io {
        path: path.to_path_buf(),
        source,
    };
    let missing = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
    // before the stat: what a single file's fingerprint is trusted against
    let parent = path.parent().unwrap_or(Path::new("."));
    let file_clock = state.clock(parent);
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => return Err(SafePathError::LinkedDir(path.to_path_buf()).into()),
            Ok(m) => {
                bounds.check_link(path)?;
                m
            }
            Err(e) if missing(&e) => return Ok(Current::Missing),
            Err(e) => return Err(io(e)),
        },
        Ok(m) => m,
        Err(e) if missing(&e) => return Ok(Current::Missing),
        Err(e) => return Err(io(e)),
    };
    if meta.is_file() {
        let name = path
            .file_name()
            .map(|n| safepath::utf8(n).map(str::to_string))
            .transpose()?
            .unwrap_or_default();
        let isexec = meta.permissions().mode() & 0o100 != 0;
        let dir = path.parent().unwrap_or(Path::new(""));
        let mut files = hash_files(
            dir,
            vec![name.into()],
            Some(meta),
            legacy,
            state,
            file_clock,
        )?;
        let file = files
            .pop()
            .ok_or_else(|| io(std::io::Error::other("file vanished")))?;
        return Ok(Current::File {
            file,
            path: path.to_path_buf(),
            isexec,
        });
    }
    let snap_dir = snapshot::dir_of(state);
    // before the walk, on the output's own filesystem: what the walk's stamps are trusted
    // against, in the state cache and in the snapshot
    let started = state.clock(path);
    let (listed, dirs) = list_dir(bounds, path)?;
    let files = hash_files(path, listed, None, legacy, state, started)?;
    let md5 = manifest_md5(&files);
    if let (Some(snap_dir), Some(started), Some(dirs)) = (snap_dir, started, &dirs) {
        let walked = snapshot::Walked {
            started_ns: started.ns(),
            legacy,
            md5: &md5,
            dirs,
            files: &files,
        };
        snapshot::write_workspace(&snap_dir, &bounds.root, path, &walked);
    }
    let hash = HashInfo {
        md5: format!("{md5}.dir"),
        legacy,
    };
    let size = files.iter().map(FileInfo::size).sum();
    Ok(Current::Dir { hash, files, size })
}

/// The hash of what `path` holds and whether it is a directory (`None`: nothing there), as
/// [`current`] finds it, but for a directory proven unchanged by its status snapshot
/// ([`super::snapshot`]) without walking or hashing it: one stat per file.
pub fn current_hash(
    bounds: &Bounds,
    path: &Path,
    legacy: bool,
    state: &mut State,
) -> Result<Option<(HashInfo, bool)>, WorkspaceError> {
    let is_dir = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
    if is_dir
        && let Some(snap_dir) = snapshot::dir_of(state)
        && let Some(md5) = snapshot::workspace_md5(&snap_dir, &bounds.root, path, legacy, state)
    {
        tracing::debug!("'{}' hashed from its status snapshot", path.display());
        return Ok(Some((HashInfo { md5, legacy }, true)));
    }
    let current = current(bounds, path, legacy, state)?;
    let is_dir = matches!(current, Current::Dir { .. });
    Ok(current.hash(legacy).map(|h| (h, is_dir)))
}

/// Lists a directory's files (following `.dvcignore`, skipping `.git`, `.dvc`, `.hg`).
/// Only names are collected here; the stats happen in parallel while hashing. A name that is not
/// UTF-8 is refused (never mapped lossily, which could make two files one), and so is a symlink
/// to a file outside `bounds`; a symlink to a directory is not walked. The walked directories
/// (relative, `""` for `dir`) are listed too, unless one has a name that is not UTF-8 (`None`:
/// no snapshot can describe the walk).
type Listed = (Vec<Box<str>>, Option<Vec<Box<str>>>);

fn list_dir(bounds: &Bounds, dir: &Path) -> Result<Listed, WorkspaceError> {
    let walker = ignore::WalkBuilder::new(dir)
        .standard_filters(false)
        .parents(true)
        .add_custom_ignore_filename(".dvcignore")
        .filter_entry(|e| !matches!(e.file_name().to_str(), Some(".git" | ".dvc" | ".hg")))
        .build();
    let mut out = Vec::new();
    let mut dirs = Some(Vec::new());
    for entry in walker {
        let entry = entry.map_err(|e| WorkspaceError::Walk {
            path: dir.to_path_buf(),
            message: e.to_string(),
        })?;
        let Some(ft) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if ft.is_dir() {
            match (
                path.strip_prefix(dir).ok().and_then(Path::to_str),
                &mut dirs,
            ) {
                (Some(rel), Some(d)) => {
                    d.push(super::index::to_posix(Path::new(rel)).into_boxed_str())
                }
                _ => dirs = None,
            }
            continue;
        }
        if entry.file_name() == ".dvcignore" {
            return Err(WorkspaceError::NestedDvcignore(
                path.parent().unwrap_or(dir).to_path_buf(),
            ));
        }
        let rel = path.strip_prefix(dir).unwrap_or(path);
        if rel.to_str().is_none() {
            let shown = path.strip_prefix(&bounds.root).unwrap_or(path);
            safepath::utf8(shown.as_os_str())?;
        }
        if ft.is_symlink() {
            match std::fs::metadata(path) {
                Ok(m) if m.is_dir() => continue,
                Ok(_) => bounds.check_link(path)?,
                Err(_) => {}
            }
        }
        out.push(super::index::to_posix(rel).into_boxed_str());
    }
    Ok((out, dirs))
}

/// A hashed file, and whether the hash is new to the state cache.
type Hashed = (FileInfo, bool);

/// Files per state-cache range scan (see [`crate::hash::state::StateReader::get_sorted`]).
const STATE_CHUNK: usize = 512;

/// Files hashed per batch: the results of one batch are held at a time beside the output.
const BATCH: usize = 1 << 16;

/// Hashes the files `rels` of `dir` in parallel, skipping those the state cache already knows;
/// `meta` is the metadata of a single file already looked at. The files are sorted by name
/// first (the manifest's order, kept in the result), so each chunk of them is looked up in the
/// state cache by one range scan. New hashes are remembered when `clock`, read before the
/// stats, trusts their stamps.
fn hash_files(
    dir: &Path,
    mut rels: Vec<Box<str>>,
    meta: Option<Metadata>,
    legacy: bool,
    state: &mut State,
    clock: Option<Clock>,
) -> Result<Vec<FileInfo>, WorkspaceError> {
    // in reverse: batches are split off the end, and the names' list shrinks as they move
    // into the result (16 bytes a file not held twice)
    rels.par_sort_unstable_by(|a, b| b.as_bytes().cmp(a.as_bytes()));
    let mut out = Vec::with_capacity(rels.len());
    loop {
        let mut batch = rels.split_off(rels.len().saturating_sub(BATCH));
        rels.shrink_to_fit();
        if batch.is_empty() {
            return Ok(out);
        }
        batch.reverse();
        let snapshot = state.reader();
        let results = hash_batch(dir, batch, meta.as_ref(), legacy, &snapshot);
        drop(snapshot);
        for r in results.into_iter().flatten() {
            let Some((info, fresh)) = r? else {
                continue;
            };
            if fresh {
                state.remember_raw(&info.path_in(dir), info.fp, &info.md5, legacy, clock);
            }
            out.push(info);
        }
    }
}

/// One batch of [`hash_files`], in chunks of [`STATE_CHUNK`] on all cores.
fn hash_batch(
    dir: &Path,
    batch: Vec<Box<str>>,
    known: Option<&Metadata>,
    legacy: bool,
    reader: &crate::hash::state::StateReader,
) -> Vec<Vec<Result<Option<Hashed>, WorkspaceError>>> {
    // a batch too small to give every core chunks of STATE_CHUNK (a few large files) is cut
    // finer, so its files hash on all cores
    let chunk = STATE_CHUNK.min(
        batch
            .len()
            .div_ceil(4 * rayon::current_num_threads())
            .max(1),
    );
    batch
        .into_par_iter()
        .chunks(chunk)
        .map(|chunk| {
            let paths: Vec<PathBuf> = chunk.iter().map(|rel| dir.join(&**rel)).collect();
            let metas: Vec<Result<Metadata, std::io::Error>> = paths
                .iter()
                .map(|path| match known {
                    Some(m) => Ok(m.clone()),
                    None => std::fs::metadata(path),
                })
                .collect();
            let probes: Vec<(&Path, Fingerprint)> = paths
                .iter()
                .zip(&metas)
                .filter_map(|(path, m)| {
                    let m = m.as_ref().ok().filter(|m| m.is_file())?;
                    Some((path.as_path(), Fingerprint::of(m)))
                })
                .collect();
            let mut known_md5s = reader.get_sorted(&probes, legacy).into_iter();
            drop(probes);
            chunk
                .into_iter()
                .zip(paths)
                .zip(metas)
                .map(|((rel, path), meta)| {
                    let io = |source| WorkspaceError::Io {
                        path: path.clone(),
                        source,
                    };
                    let meta = meta.map_err(io)?;
                    if !meta.is_file() {
                        return Ok(None);
                    }
                    let fp = Fingerprint::of(&meta);
                    let (hex, fresh) = match known_md5s.next().flatten() {
                        Some(hex) => (hex, false),
                        None => {
                            let hashed = if legacy {
                                hash::file_md5_dos2unix(&path)
                            } else {
                                hash::file_md5(&path)
                            };
                            let (hex, _) = hashed.map_err(io)?;
                            (hex, true)
                        }
                    };
                    let mut md5 = [0u8; 16];
                    hex::decode_to_slice(&hex, &mut md5)
                        .map_err(|e| io(std::io::Error::other(e)))?;
                    Ok(Some((FileInfo { rel, md5, fp }, fresh)))
                })
                .collect::<Vec<_>>()
        })
        .collect()
}
