//! The local object cache: DVC 3 layout (`files/md5/xx/…`) and the legacy root layout, atomic
//! inserts (temp file in the target directory, then rename, then mode 0444), verification and
//! listing for gc.
mod insert;
pub mod manifest;
pub mod twins;

pub use insert::{InsertError, Source};

use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::hash::{self, HashInfo};

/// Mode of every cache file; DVC trusts a cache file with exactly this mode without rehashing.
pub const OBJECT_MODE: u32 = 0o444;

/// The object key of `hash` relative to a cache or remote root: `files/md5/ab/cdef…` for DVC 3
/// objects, `ab/cdef…` for legacy ones.
pub fn key(hash: &HashInfo) -> String {
    let (head, tail) = hash.md5.split_at(2.min(hash.md5.len()));
    if hash.legacy {
        format!("{head}/{tail}")
    } else {
        format!("files/md5/{head}/{tail}")
    }
}

/// Parses an object key back into a hash (listing a cache or remote); `None` for other files.
pub fn parse_key(key: &str) -> Option<HashInfo> {
    let (legacy, rest) = match key.strip_prefix("files/md5/") {
        Some(rest) => (false, rest),
        None => (true, key),
    };
    let (head, tail) = rest.split_once('/')?;
    let info = HashInfo {
        md5: format!("{head}{tail}"),
        legacy,
    };
    (head.len() == 2 && !tail.contains('/') && info.is_valid()).then_some(info)
}

/// A temp file name as DVC makes them (`.<random>.tmp`), which listings skip.
pub fn temp_name() -> String {
    use rand::RngExt;
    let mut rng = rand::rng();
    let token: String = (0..22)
        .map(|_| {
            let n = rng.random_range(0..64u8);
            (match n {
                0..=25 => b'A' + n,
                26..=51 => b'a' + n - 26,
                52..=61 => b'0' + n - 52,
                62 => b'-',
                _ => b'_',
            }) as char
        })
        .collect();
    format!(".{token}.tmp")
}

/// Whether `name` is one of [`temp_name`]'s names (`.` + 22 URL-safe characters + `.tmp`), so a
/// leftover from an interrupted run is recognised as Ferry's own.
pub fn is_temp_name(name: &str) -> bool {
    name.strip_prefix('.')
        .and_then(|n| n.strip_suffix(".tmp"))
        .is_some_and(|token| {
            token.len() == 22
                && token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The cache directory of a repository.
#[derive(Debug, Clone)]
pub struct Odb {
    /// Root of the cache (`.dvc/cache` unless `cache.dir` says otherwise).
    pub root: PathBuf,
    /// `cache.shared = group`: directories Ferry creates in the cache get mode 2775 (group
    /// writable, new files inherit the group), as dvc makes them.
    pub shared: bool,
    /// Where interrupted downloads of large objects wait to be resumed (`.dvc/tmp/ferry/partial`
    /// for a repository's cache; `None`: a download resumes within its run only).
    pub partials: Option<PathBuf>,
    /// Where large downloads also write their workspace copy (a pull whose checkout copies;
    /// `None`: no twins, see [`twins`]).
    pub twins: Option<std::sync::Arc<twins::Twins>>,
}

/// Mode of the cache directories Ferry creates when the cache is shared with a group.
pub const SHARED_DIR_MODE: u32 = 0o2775;

impl Odb {
    /// The cache at `root`.
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            shared: false,
            partials: None,
            twins: None,
        }
    }

    /// Creates `dir` (inside the cache) and its missing parents. In a shared cache, each
    /// directory created and `dir` itself get [`SHARED_DIR_MODE`], as dvc's `makedirs` does.
    fn make_dir(&self, dir: &Path) -> io::Result<()> {
        if !self.shared {
            return fs::create_dir_all(dir);
        }
        let below = dir.strip_prefix(&self.root).unwrap_or(dir);
        let mut path = self.root.clone();
        let mut steps = vec![path.clone()];
        for c in below.components() {
            path.push(c);
            steps.push(path.clone());
        }
        for step in &steps {
            let created = match fs::create_dir(step) {
                Ok(()) => true,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && step.is_dir() => false,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::create_dir_all(step)?;
                    true
                }
                Err(e) => return Err(e),
            };
            if created || step == dir {
                fs::set_permissions(step, Permissions::from_mode(SHARED_DIR_MODE))?;
            }
        }
        Ok(())
    }

    /// Where `hash` lives in this cache.
    pub fn path(&self, hash: &HashInfo) -> PathBuf {
        self.root.join(key(hash))
    }

    /// Whether the cache has a file for `hash` (not verified).
    pub fn contains(&self, hash: &HashInfo) -> bool {
        self.path(hash).is_file()
    }

    /// Whether the cache has an object for every one of `md5s` (hex, of one hash kind).
    pub fn contains_all<'a>(&self, legacy: bool, md5s: impl IntoIterator<Item = &'a str>) -> bool {
        let mut raw = Vec::new();
        for md5 in md5s {
            let mut r = [0u8; 16];
            if hex::decode_to_slice(md5, &mut r).is_err() {
                return false;
            }
            raw.push(r);
        }
        self.contains_all_raw(legacy, raw)
    }

    /// [`Odb::contains_all`] of binary md5s (16 bytes each: a million-file manifest's are 16 MB).
    /// Where many objects share a two-digit directory, one directory listing replaces their
    /// stats (a 10,000-file tree costs ~256 listings instead of 10,000 stats); the directories
    /// are looked at on all cores.
    pub fn contains_all_raw(&self, legacy: bool, mut md5s: Vec<[u8; 16]>) -> bool {
        use rayon::prelude::*;
        md5s.par_sort_unstable();
        md5s.dedup();
        let groups: Vec<&[[u8; 16]]> = md5s.chunk_by(|a, b| a[0] == b[0]).collect();
        groups
            .par_iter()
            .all(|group| self.missing_in_group(legacy, group).is_empty())
    }

    /// Which of `md5s` (binary, sorted, each once) the cache lacks, in their order: the bulk
    /// form of [`Odb::contains`] (a directory listing per two-digit directory in place of a
    /// stat per object), on all cores.
    pub fn missing_raw(&self, legacy: bool, md5s: &[[u8; 16]]) -> Vec<[u8; 16]> {
        use rayon::prelude::*;
        let groups: Vec<&[[u8; 16]]> = md5s.chunk_by(|a, b| a[0] == b[0]).collect();
        groups
            .par_iter()
            .flat_map_iter(|group| self.missing_in_group(legacy, group))
            .collect()
    }

    /// The md5s of `group` (sorted, sharing their first byte: one cache directory) that the
    /// cache lacks; the directory is listed once when they are more than a few.
    fn missing_in_group(&self, legacy: bool, group: &[[u8; 16]]) -> Vec<[u8; 16]> {
        let hash = |md5: &[u8; 16]| HashInfo {
            md5: hex::encode(md5),
            legacy,
        };
        let Some(first) = group.first() else {
            return Vec::new();
        };
        if group.len() < LIST_AT {
            return group
                .iter()
                .filter(|m| !self.contains(&hash(m)))
                .copied()
                .collect();
        }
        let Some(present) = object_names(&self.fanout_dir(legacy, first[0])) else {
            return group.to_vec();
        };
        group
            .iter()
            .filter(|m| present.binary_search(&name_bytes(m)).is_err())
            .copied()
            .collect()
    }

    /// The two-digit directory holding the objects whose md5 begins with `head`.
    fn fanout_dir(&self, legacy: bool, head: u8) -> PathBuf {
        let head = hex::encode([head]);
        if legacy {
            self.root.join(head)
        } else {
            self.root.join("files/md5").join(head)
        }
    }

    /// Whether the cache holds a good copy of `hash`: a 0444 file is trusted as DVC does;
    /// any other mode means rehash, delete when corrupt, else fix the mode.
    pub fn check(&self, hash: &HashInfo) -> io::Result<bool> {
        let path = self.path(hash);
        let meta = match fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        if meta.permissions().mode() & 0o7777 == OBJECT_MODE {
            return Ok(true);
        }
        let (actual, _) = if hash.legacy {
            hash::file_md5_dos2unix(&path)?
        } else {
            hash::file_md5(&path)?
        };
        let expected = hash.md5.strip_suffix(".dir").unwrap_or(&hash.md5);
        if actual != expected {
            tracing::warn!("corrupted cache file '{}', removing it", path.display());
            fs::remove_file(&path)?;
            return Ok(false);
        }
        fs::set_permissions(&path, Permissions::from_mode(OBJECT_MODE))?;
        Ok(true)
    }

    /// Creates the file a new object is written into, in the directory `hash` will live in
    /// (making the directory on first use), already read-only: the returned handle can still
    /// write, and no chmod is needed after. Fill it, then [`Odb::commit_temp`].
    pub fn create_temp(&self, hash: &HashInfo) -> io::Result<TempObject> {
        let final_path = self.path(hash);
        let dir = final_path.parent().unwrap_or(&self.root);
        match object_file(None, dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.make_dir(dir)?;
                object_file(None, dir)
            }
            other => other,
        }
    }

    /// Puts a complete, verified object from [`Odb::create_temp`] in place as `hash`.
    pub fn commit_temp(&self, temp: TempObject, hash: &HashInfo) -> io::Result<()> {
        temp.commit(&self.path(hash))
    }

    /// Puts the complete, verified file at `path` (outside the cache, e.g. a resumed download)
    /// in place as `hash`: made read-only, then renamed in (copied where `path` is on another
    /// filesystem, then removed).
    pub fn commit_file(&self, path: &Path, hash: &HashInfo) -> io::Result<()> {
        let dest = self.path(hash);
        let dir = dest.parent().unwrap_or(&self.root);
        if !dir.is_dir() {
            self.make_dir(dir)?;
        }
        fs::set_permissions(path, Permissions::from_mode(OBJECT_MODE))?;
        match fs::rename(path, &dest) {
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::XDEV.raw_os_error()) => {
                let mut temp = self.create_temp(hash)?;
                File::open(path).and_then(|mut from| clone_or_copy(&mut from, &mut temp.file))?;
                self.commit_temp(temp, hash)?;
                fs::remove_file(path)
            }
            other => other,
        }
    }

    /// Copies (or reflinks) the workspace file `src`, whose hash the caller computed, into the
    /// cache unless it is already there.
    pub fn insert_file(&self, src: &Path, hash: &HashInfo) -> io::Result<()> {
        if self.contains(hash) {
            return Ok(());
        }
        let mut temp = self.create_temp(hash)?;
        File::open(src).and_then(|mut from| clone_or_copy(&mut from, &mut temp.file))?;
        self.commit_temp(temp, hash)
    }

    /// Stores `bytes` (a `.dir` manifest) as `hash` unless present.
    pub fn insert_bytes(&self, bytes: &[u8], hash: &HashInfo) -> io::Result<()> {
        if self.contains(hash) {
            return Ok(());
        }
        let mut temp = self.create_temp(hash)?;
        temp.file.write_all(bytes)?;
        self.commit_temp(temp, hash)
    }

    /// Reads and parses the manifest of a `.dir` hash from the cache.
    pub fn read_manifest(&self, hash: &HashInfo) -> Result<Vec<manifest::Entry>, OdbError> {
        let path = self.path(hash);
        let bytes = fs::read(&path).map_err(|reason| OdbError::Io {
            path: path.clone(),
            reason,
        })?;
        manifest::parse(&bytes).map_err(|reason| OdbError::Manifest {
            hash: hash.md5.clone(),
            reason,
        })
    }

    /// Calls `f(relpath, md5)` for each entry of the `.dir` object `hash` in the cache, read as it
    /// is parsed (a million-file manifest is never held whole).
    pub fn for_each_entry(
        &self,
        hash: &HashInfo,
        f: impl FnMut(&str, &str),
    ) -> Result<(), OdbError> {
        let path = self.path(hash);
        let file = File::open(&path).map_err(|reason| OdbError::Io {
            path: path.clone(),
            reason,
        })?;
        manifest::for_each_read(file, f).map_err(|reason| OdbError::Manifest {
            hash: hash.md5.clone(),
            reason,
        })
    }

    /// Calls `f` with every object in the cache (both layouts), a two-digit directory at a time,
    /// for gc: a million-object cache is never held as a list.
    pub fn for_each_object(&self, mut f: impl FnMut(HashInfo)) -> io::Result<()> {
        for (base, prefix) in [
            (self.root.join("files/md5"), "files/md5/"),
            (self.root.clone(), ""),
        ] {
            let Ok(dirs) = fs::read_dir(&base) else {
                continue;
            };
            for dir in dirs.flatten() {
                let name = dir.file_name().to_string_lossy().into_owned();
                if name.len() != 2 {
                    continue;
                }
                let Ok(files) = fs::read_dir(dir.path()) else {
                    continue;
                };
                for file in files.flatten() {
                    let key = format!("{prefix}{name}/{}", file.file_name().to_string_lossy());
                    if let Some(h) = parse_key(&key) {
                        f(h);
                    }
                }
            }
        }
        Ok(())
    }
}

/// A new read-only object file in the existing cache directory `dir` (open as `dir_fd` when
/// given): [`TempObject::create_at`] with mode [`OBJECT_MODE`] whatever the umask.
fn object_file(dir_fd: Option<&OwnedFd>, dir: &Path) -> io::Result<TempObject> {
    let temp = TempObject::create_at(dir_fd, dir, OBJECT_MODE)?;
    if umask() & OBJECT_MODE != 0 {
        temp.file
            .set_permissions(Permissions::from_mode(OBJECT_MODE))?;
    }
    Ok(temp)
}

/// From this many objects of one two-digit directory on, the directory is listed once rather
/// than each object looked up.
const LIST_AT: usize = 4;

/// An object's name within its two-digit directory, in binary: its md5 less the first byte.
fn name_bytes(md5: &[u8; 16]) -> [u8; 15] {
    let mut tail = [0u8; 15];
    tail.copy_from_slice(&md5[1..]);
    tail
}

/// The objects of a two-digit cache directory (names of 30 hex digits; other names are not
/// objects), sorted; `None` when it cannot be listed.
fn object_names(dir: &Path) -> Option<Vec<[u8; 15]>> {
    let mut names: Vec<[u8; 15]> = fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let mut name = [0u8; 15];
            hex::decode_to_slice(e.file_name().as_encoded_bytes(), &mut name)
                .ok()
                .map(|()| name)
        })
        .collect();
    names.sort_unstable();
    Some(names)
}

/// A file being written that appears under its final name only once complete: an anonymous
/// file (`O_TMPFILE`) linked in by `linkat`, one directory entry made and no temp name to clean
/// up after a crash; where the filesystem cannot (or `/proc` is missing), a `.<random>.tmp`
/// file renamed into place. Dropped uncommitted, it leaves nothing behind.
#[derive(Debug)]
pub struct TempObject {
    /// The open file, writable whatever its mode.
    pub file: File,
    /// The temp file's name when it is not anonymous.
    named: Option<PathBuf>,
}

impl TempObject {
    /// A new file with `mode` (less the umask) in the existing directory `dir`.
    pub fn create(dir: &Path, mode: u32) -> io::Result<Self> {
        Self::create_at(None, dir, mode)
    }

    /// [`TempObject::create`] in the directory open as `dir_fd` (whose path is `dir`): the
    /// kernel walks no path for the anonymous file.
    pub fn create_at(dir_fd: Option<&OwnedFd>, dir: &Path, mode: u32) -> io::Result<Self> {
        if anonymous_files() {
            use rustix::fs::{Mode, OFlags};
            let flags = OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC;
            let mode = Mode::from_raw_mode(mode);
            let opened = match dir_fd {
                Some(fd) => rustix::fs::openat(fd, ".", flags, mode),
                None => rustix::fs::open(dir, flags, mode),
            };
            match opened {
                Ok(fd) => {
                    return Ok(Self {
                        file: File::from(fd),
                        named: None,
                    });
                }
                Err(rustix::io::Errno::NOENT) => return Err(io::ErrorKind::NotFound.into()),
                // the filesystem has no O_TMPFILE: a named temp file instead
                Err(_) => {}
            }
        }
        let path = dir.join(temp_name());
        let file = File::options()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&path)?;
        Ok(Self {
            file,
            named: Some(path),
        })
    }

    /// Whether the file has no name until committed (`O_TMPFILE`).
    pub fn is_anonymous(&self) -> bool {
        self.named.is_none()
    }

    /// A path to read the file back through (its name, or `/proc/self/fd/N`).
    pub fn read_path(&self) -> PathBuf {
        use std::os::fd::AsRawFd;
        match &self.named {
            Some(p) => p.clone(),
            None => PathBuf::from(format!("/proc/self/fd/{}", self.file.as_raw_fd())),
        }
    }

    /// Puts the file in place as `dest`, replacing what is there.
    pub fn commit(self, dest: &Path) -> io::Result<()> {
        let (dir, name) = match (dest.parent(), dest.file_name()) {
            (Some(dir), Some(name)) => (dir, Path::new(name)),
            _ => (Path::new("."), dest),
        };
        self.commit_at(None, dir, name)
    }

    /// [`TempObject::commit`] as `name` in the directory open as `dir_fd` (whose path is
    /// `dir`), walking no path to it.
    pub fn commit_at(
        mut self,
        dir_fd: Option<&OwnedFd>,
        dir: &Path,
        name: &Path,
    ) -> io::Result<()> {
        let dest = dir.join(name);
        let rename = |from: &Path| {
            let result = fs::rename(from, &dest);
            if result.is_err() {
                let _ = fs::remove_file(from);
            }
            result
        };
        if let Some(tmp) = self.named.take() {
            return rename(&tmp);
        }
        let fd = self.read_path();
        let link = |to: &Path| {
            let flags = rustix::fs::AtFlags::SYMLINK_FOLLOW;
            match dir_fd {
                Some(dir_fd) => rustix::fs::linkat(rustix::fs::CWD, &fd, dir_fd, to, flags),
                None => {
                    rustix::fs::linkat(rustix::fs::CWD, &fd, rustix::fs::CWD, dir.join(to), flags)
                }
            }
        };
        match link(name) {
            Ok(()) => Ok(()),
            Err(rustix::io::Errno::EXIST) => {
                // something is there already: link beside it, then rename over it
                let tmp = temp_name();
                link(Path::new(&tmp))?;
                rename(&dir.join(tmp))
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl Drop for TempObject {
    fn drop(&mut self) {
        if let Some(tmp) = &self.named {
            let _ = fs::remove_file(tmp);
        }
    }
}

/// Whether anonymous files can be linked in by name (`/proc/self/fd` is there), checked once.
fn anonymous_files() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| Path::new("/proc/self/fd").is_dir())
}

/// An error reading from the cache.
#[derive(Debug, thiserror::Error)]
pub enum OdbError {
    /// A cache file could not be read.
    #[error("cannot read cache file '{path}': {reason}")]
    Io { path: PathBuf, reason: io::Error },
    /// A `.dir` object is malformed or unsafe.
    #[error("cache object {hash}: {reason}")]
    Manifest {
        hash: String,
        reason: manifest::ManifestError,
    },
}

/// Whether reflinks have worked so far in this process; the first refusal turns them off so a
/// filesystem without them costs one failed ioctl, not one per file.
static REFLINKS: AtomicBool = AtomicBool::new(true);

/// Copies the open file `src` into the new, empty file `dst`: a reflink (shared blocks) when the
/// filesystem can, else `copy_file_range` in the kernel (no `fstat` of either file first, as
/// `io::copy` does), falling back to a read/write copy where the kernel refuses it.
pub fn clone_or_copy(src: &mut File, dst: &mut File) -> io::Result<()> {
    if REFLINKS.load(Ordering::Relaxed) {
        match rustix::fs::ioctl_ficlone(&*dst, &*src) {
            Ok(()) => return Ok(()),
            Err(_) => REFLINKS.store(false, Ordering::Relaxed),
        }
    }
    let mut copied = 0u64;
    loop {
        match rustix::fs::copy_file_range(&*src, None, &*dst, None, 1 << 30) {
            Ok(0) => return Ok(()),
            Ok(n) => copied += n as u64,
            Err(rustix::io::Errno::INTR) => {}
            Err(_) if copied == 0 => return io::copy(src, dst).map(|_| ()),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Reflinks the open file `src` into the new, empty file `dst` (FICLONE); fails on
/// filesystems without reflinks.
pub fn reflink_file(src: &File, dst: &File) -> io::Result<()> {
    rustix::fs::ioctl_ficlone(dst, src).map_err(io::Error::from)
}

/// Whether files can be reflinked from the directory `from` to the directory `to` (both
/// existing), probed once per pair of filesystems in a process with a one-byte file: the answer
/// for `(dev(from), dev(to))` is remembered, so a filesystem without reflinks costs one failed
/// `FICLONE` per run, not one per file.
pub fn reflinks_between(from: &Path, to: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    static KNOWN: std::sync::Mutex<Vec<((u64, u64), bool)>> = std::sync::Mutex::new(Vec::new());
    let (Ok(a), Ok(b)) = (fs::metadata(from), fs::metadata(to)) else {
        return true;
    };
    let pair = (a.dev(), b.dev());
    let mut known = KNOWN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, ok)) = known.iter().find(|(p, _)| *p == pair) {
        return *ok;
    }
    let probe = || -> io::Result<bool> {
        let src = tempfile::tempfile_in(from)?;
        (&src).write_all(b"x")?;
        let dst = tempfile::tempfile_in(to)?;
        Ok(reflink_file(&src, &dst).is_ok())
    };
    // a probe that cannot even run (read-only cache) decides nothing: try per file then
    let ok = probe().unwrap_or(true);
    known.push((pair, ok));
    ok
}

/// The process umask (from `/proc/self/status`; assumed to strip write bits when unknown),
/// read once.
pub(crate) fn umask() -> u32 {
    static UMASK: OnceLock<u32> = OnceLock::new();
    *UMASK.get_or_init(|| {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| {
                    l.strip_prefix("Umask:")
                        .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
                })
            })
            .unwrap_or(0o022)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_in_both_layouts() {
        let h = HashInfo::md5("83d36553a910a84c55e99b18af88174f.dir");
        assert_eq!(key(&h), "files/md5/83/d36553a910a84c55e99b18af88174f.dir");
        assert_eq!(parse_key(&key(&h)), Some(h));
        let legacy = HashInfo {
            md5: "4fcc82a88ee38e0aa16c17f512c685c9".into(),
            legacy: true,
        };
        assert_eq!(key(&legacy), "4f/cc82a88ee38e0aa16c17f512c685c9");
        assert_eq!(parse_key(&key(&legacy)), Some(legacy));
        assert_eq!(parse_key("files/md5/83/.abc.tmp"), None);
    }

    #[test]
    fn contains_all_lists_crowded_directories_and_stats_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let odb = Odb::new(dir.path().to_path_buf());
        let crowded: Vec<HashInfo> = (0..6)
            .map(|i| HashInfo::md5(format!("ab{i:030}")))
            .collect();
        let alone = HashInfo::md5(format!("cd{:030}", 1));
        for h in crowded.iter().chain([&alone]) {
            odb.insert_bytes(h.md5.as_bytes(), h).unwrap();
        }
        let with = |extra: Option<HashInfo>| {
            let mut v = crowded.clone();
            v.push(alone.clone());
            v.extend(extra);
            odb.contains_all(false, v.iter().map(|h| h.md5.as_str()))
        };
        assert!(with(None));
        assert!(
            !with(Some(HashInfo::md5(format!("ab{:030}", 9)))),
            "missing among many"
        );
        assert!(
            !with(Some(HashInfo::md5(format!("ef{:030}", 9)))),
            "missing alone"
        );
        assert!(
            !odb.contains_all(true, crowded.iter().map(|h| h.md5.as_str())),
            "the other layout is another directory"
        );
    }

    #[test]
    fn missing_raw_names_what_the_cache_lacks_in_crowded_and_sparse_directories() {
        let dir = tempfile::tempdir().unwrap();
        let odb = Odb::new(dir.path().to_path_buf());
        let raw = |h: &HashInfo| {
            let mut r = [0u8; 16];
            hex::decode_to_slice(&h.md5, &mut r).unwrap();
            r
        };
        let stored: Vec<HashInfo> = (0..6)
            .map(|i| HashInfo::md5(format!("ab{i:030}")))
            .chain([HashInfo::md5(format!("cd{:030}", 1))])
            .collect();
        for h in &stored {
            odb.insert_bytes(h.md5.as_bytes(), h).unwrap();
        }
        let lacking = [
            HashInfo::md5(format!("ab{:030}", 9)),
            HashInfo::md5(format!("cd{:030}", 2)),
            HashInfo::md5(format!("ef{:030}", 9)),
        ];
        let mut asked: Vec<[u8; 16]> = stored.iter().chain(&lacking).map(raw).collect();
        asked.sort_unstable();
        let expected: Vec<[u8; 16]> = lacking.iter().map(raw).collect();
        assert_eq!(odb.missing_raw(false, &asked), expected);
        assert_eq!(
            odb.missing_raw(true, &asked).len(),
            asked.len(),
            "the legacy layout is other directories"
        );
        assert!(odb.missing_raw(false, &[]).is_empty());
    }

    #[test]
    fn temp_names_are_recognised() {
        assert!(is_temp_name(&temp_name()));
        for other in [
            ".abc.tmp",
            "x.tmp",
            ".aaaaaaaaaaaaaaaaaaaaaa.tmpx",
            ".aaaaaaaaaaaaaaaaaaa.a.tmp",
        ] {
            assert!(!is_temp_name(other), "{other}");
        }
    }

    #[test]
    fn a_corrupt_writable_object_is_removed_by_check() {
        let dir = tempfile::tempdir().unwrap();
        let odb = Odb::new(dir.path().to_path_buf());
        let h = HashInfo::md5("b1946ac92492d2347c6235b4d2611184");
        let p = odb.path(&h);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, "bad").unwrap();
        assert!(!odb.check(&h).unwrap());
        assert!(!p.exists());
        fs::write(dir.path().join("src"), "hello\n").unwrap();
        odb.insert_file(&dir.path().join("src"), &h).unwrap();
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o444
        );
        assert!(odb.check(&h).unwrap());
    }
}
