//! Per-output snapshots: what a directory output's workspace and cache looked like when they
//! were last walked and checked in full, so an unchanged `status` costs one `stat` per file,
//! read in one streamed pass, instead of a walk, a state-cache lookup per file and a listing of
//! every cache directory.
//!
//! Two records per output, in `.dvc/tmp/ferry/snapshot/` and named by the md5 of the output's
//! path relative to the repository root:
//! - `<id>` (the workspace): the hash kind, the resulting `.dir` md5, the time the walk began,
//!   the md5 of every `.dvcignore` that could apply (the output's ancestors'), every
//!   walked directory with its inode and mtime, then every file in manifest order with its
//!   inode, mtime, size and md5.
//! - `<id>.cache` (the cache): the `.dir` md5 whose objects were all found, the cache root, the
//!   `.dir` object's fingerprint and the inode and mtime of each cache fan-out directory holding
//!   one of its objects (deleting or adding an object changes its directory's mtime).
//!
//! Both end with the md5 of everything before it, so a torn, truncated or foreign file is
//! ignored. They are written to a temp file and renamed into place, and opened with
//! `O_NOFOLLOW`: a symlink a hostile clone planted there is never read or written through.
//!
//! What a snapshot proves: a directory whose mtime is unchanged holds the same names (any
//! create, delete or rename in it changes its mtime), and a file whose `(inode, mtime, size)` is
//! unchanged is taken as unchanged (the state cache's rule, and dvc's).
//!
//! The racy-timestamp rule ("racy git", git's `Documentation/technical/racy-git.txt`, made
//! strict): a timestamp is trusted only when it is strictly older than a reading of the same
//! filesystem's clock ([`Clock::read`]: the mtime of a nameless file created there) taken *before*
//! the stat that read it. The argument: the filesystem stamps every change with its clock, which
//! never goes back (coarse ticks, 2-s FAT ticks and the multigrain timestamps of newer kernels
//! alike). A change made before the reading `T` happened before the stat (and the listing or
//! hashing that follows it) and is in what was recorded; a change made after `T` is stamped
//! `≥ T`, so it cannot leave a trusted stamp (`< T`) as it was. A change in the same tick as the
//! stat gives a stamp `≥ T` too, which is why no stamp `≥ T` is trusted: such a directory or
//! cache directory is never recorded (no record is written), and such a file is hashed again by
//! every fast path. No margin is needed, as probe and stamps come from one clock; what the rule
//! cannot see is a timestamp set back by hand to its old value (`touch -d`, a restore), which
//! the state cache and dvc cannot see either.
//!
//! Anything odd (a symlink, a name the safe-path rule refuses, a read error, a directory
//! changed) sends status the slow way, which rewrites the snapshot. Nothing is ever written
//! because of what a snapshot says.
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rayon::prelude::*;

use super::workspace::FileInfo;
use crate::hash::HashInfo;
use crate::hash::md5::Md5;
use crate::hash::state::{Clock, Fingerprint, State, stat_mtime_ns};
use crate::odb::{Odb, manifest};

const MAGIC: &[u8; 8] = b"FERRYSNP";
const CACHE_MAGIC: &[u8; 8] = b"FERRYSNC";
const VERSION: u32 = 1;

/// Files read (and stat'ed on two threads) at a time by the fast path.
const CHUNK: usize = 16_384;

/// Past this many files whose fingerprint changed, the fast path gives up (a full walk is as
/// cheap and rewrites the snapshot).
const MAX_CHANGED: usize = 4_096;

/// The inode and mtime of a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirStamp {
    ino: u64,
    mtime_ns: i64,
}

impl DirStamp {
    fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            ino: meta.ino(),
            mtime_ns: mtime_ns(meta),
        }
    }
}

fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(meta.mtime_nsec())
}

/// A directory's stamp when it is a real directory (not a link) stamped strictly before the
/// clock reading `since_ns` taken before this stat (the racy rule in the module docs).
fn trusted_dir(path: &Path, since_ns: i64) -> Option<DirStamp> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    let stamp = DirStamp::of(&meta);
    (meta.is_dir() && stamp.mtime_ns < since_ns).then_some(stamp)
}

/// Where the snapshots of the repository whose state cache is `state` live.
pub fn dir_of(state: &State) -> Option<PathBuf> {
    state.dir().map(|d| d.join("snapshot"))
}

/// The record name of the output at `out` (the md5 of its path relative to `root`).
fn id(root: &Path, out: &Path) -> String {
    let rel = out.strip_prefix(root).unwrap_or(out);
    crate::hash::md5_bytes(rel.as_os_str().as_bytes())
}

/// The `.dvcignore` files that could apply to a walk of `out` (each of its ancestors'), each as
/// the md5 of its bytes (`None`: absent). Their content is compared, not their timestamps: they
/// are few and small. A `.dvcignore` inside `out` is refused by the walk.
fn ignore_stamps(out: &Path) -> Vec<Option<[u8; 16]>> {
    out.ancestors()
        .skip(1)
        .map(|dir| std::fs::read(dir.join(".dvcignore")).ok().map(Md5::digest))
        .collect()
}

/// What a full walk of a directory output found, to be written as its snapshot.
pub struct Walked<'a> {
    /// When the walk began, on the output's filesystem's clock ([`Clock`], read before it).
    pub started_ns: i64,
    /// The hash kind.
    pub legacy: bool,
    /// The `.dir` md5 (hex, without `.dir`).
    pub md5: &'a str,
    /// The walked directories, relative to the output (`""` for itself).
    pub dirs: &'a [Box<str>],
    /// The files in manifest order.
    pub files: &'a [FileInfo],
}

/// Writes the workspace snapshot of the directory output `out` after a full walk (see the
/// module docs); skipped when a directory or `.dvcignore` is too young to be trusted. Failure
/// only costs a slow status later.
pub fn write_workspace(snap_dir: &Path, root: &Path, out: &Path, walked: &Walked) {
    let since = walked.started_ns;
    let ignores = ignore_stamps(out);
    let mut dirs = Vec::with_capacity(walked.dirs.len());
    for rel in walked.dirs {
        let Some(stamp) = trusted_dir(&join(out, rel), since) else {
            return;
        };
        dirs.push(stamp);
    }
    let mut md5 = [0u8; 16];
    if hex::decode_to_slice(walked.md5, &mut md5).is_err() {
        return;
    }
    let result = write_record(snap_dir, &id(root, out), |w| {
        w.put(MAGIC)?;
        w.put(&VERSION.to_le_bytes())?;
        w.put(&[u8::from(walked.legacy)])?;
        w.put(&md5)?;
        w.put(&since.to_le_bytes())?;
        w.put(&(ignores.len() as u32).to_le_bytes())?;
        for md5 in &ignores {
            match md5 {
                None => w.put(&[0])?,
                Some(md5) => {
                    w.put(&[1])?;
                    w.put(md5)?;
                }
            }
        }
        w.put(&(dirs.len() as u32).to_le_bytes())?;
        for (rel, stamp) in walked.dirs.iter().zip(&dirs) {
            w.name(rel)?;
            w.put(&stamp.ino.to_le_bytes())?;
            w.put(&stamp.mtime_ns.to_le_bytes())?;
        }
        w.put(&(walked.files.len() as u64).to_le_bytes())?;
        for f in walked.files {
            w.name(&f.rel)?;
            put_fp(w, &f.fp)?;
            w.put(&f.md5)?;
        }
        Ok(())
    });
    if let Err(e) = result {
        tracing::debug!(
            "could not write the status snapshot of '{}': {e}",
            out.display()
        );
    }
}

fn put_fp(w: &mut Writer, fp: &Fingerprint) -> io::Result<()> {
    w.put(&fp.ino.to_le_bytes())?;
    w.put(&fp.mtime_ns.to_le_bytes())?;
    w.put(&fp.size.to_le_bytes())
}

fn join(out: &Path, rel: &str) -> PathBuf {
    if rel.is_empty() {
        out.to_path_buf()
    } else {
        out.join(rel)
    }
}

/// A record being written: bytes go through a buffer and into the trailing md5.
struct Writer {
    out: BufWriter<File>,
    md5: Md5,
}

impl Writer {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.md5.update(bytes);
        self.out.write_all(bytes)
    }

    fn name(&mut self, name: &str) -> io::Result<()> {
        let len = u16::try_from(name.len()).map_err(io::Error::other)?;
        self.put(&len.to_le_bytes())?;
        self.put(name.as_bytes())
    }
}

/// Writes a record by temp file (created new, never through a link) and rename.
fn write_record(
    snap_dir: &Path,
    name: &str,
    body: impl FnOnce(&mut Writer) -> io::Result<()>,
) -> io::Result<()> {
    std::fs::create_dir_all(snap_dir)?;
    if std::fs::symlink_metadata(snap_dir)?
        .file_type()
        .is_symlink()
    {
        return Err(io::Error::other(
            "the snapshot directory is a symbolic link",
        ));
    }
    let temp = snap_dir.join(format!(".{name}.{}", crate::odb::temp_name()));
    let file = File::options()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(&temp)?;
    let mut w = Writer {
        out: BufWriter::with_capacity(1 << 20, file),
        md5: Md5::new(),
    };
    let written = body(&mut w).and_then(|()| {
        let sum = w.md5.finalize();
        w.out.write_all(&sum)?;
        w.out.flush()
    });
    let renamed = written.and_then(|()| std::fs::rename(&temp, snap_dir.join(name)));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    renamed
}

/// A record being read: every byte read goes into the md5 checked at the end.
struct Reader {
    input: BufReader<File>,
    md5: Md5,
}

impl Reader {
    /// Opens a record, never through a symbolic link, only a regular file.
    fn open(path: &Path) -> Option<Self> {
        let file = File::options()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(path)
            .ok()?;
        if !file.metadata().ok()?.is_file() {
            return None;
        }
        Some(Self {
            input: BufReader::with_capacity(1 << 20, file),
            md5: Md5::new(),
        })
    }

    fn bytes<const N: usize>(&mut self) -> Option<[u8; N]> {
        let mut buf = [0u8; N];
        self.input.read_exact(&mut buf).ok()?;
        self.md5.update(buf);
        Some(buf)
    }

    fn u32(&mut self) -> Option<u32> {
        self.bytes().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.bytes().map(u64::from_le_bytes)
    }

    fn i64(&mut self) -> Option<i64> {
        self.bytes().map(i64::from_le_bytes)
    }

    fn fp(&mut self) -> Option<Fingerprint> {
        Some(Fingerprint {
            ino: self.u64()?,
            mtime_ns: self.i64()?,
            size: self.u64()?,
        })
    }

    /// A name as written by [`Writer::name`]: UTF-8, checked by the manifest's safe-path rule
    /// (`""` only where `empty_ok`: the output directory itself).
    fn name(&mut self, empty_ok: bool) -> Option<String> {
        let len = u16::from_le_bytes(self.bytes()?) as usize;
        let mut buf = vec![0u8; len];
        self.input.read_exact(&mut buf).ok()?;
        self.md5.update(&buf);
        let name = String::from_utf8(buf).ok()?;
        let ok = (empty_ok && name.is_empty()) || manifest::check_relpath(&name).is_ok();
        ok.then_some(name)
    }

    /// Whether the record ends here with the md5 of all that was read.
    fn finish(mut self) -> bool {
        let sum = self.md5.finalize_reset();
        let mut tail = [0u8; 16];
        let mut extra = [0u8; 1];
        self.input.read_exact(&mut tail).is_ok()
            && tail == sum
            && matches!(self.input.read(&mut extra), Ok(0))
    }
}

/// A file of the snapshot as read back.
struct Entry {
    rel: String,
    fp: Fingerprint,
    md5: [u8; 16],
}

/// What the fast path found of one file.
enum Seen {
    /// Its fingerprint is the recorded one (and old enough to trust).
    Same,
    /// It must be hashed again: it is now this regular file.
    Changed(Fingerprint),
    /// Something the fast path does not handle (gone, a link, not a file, unreadable).
    Odd,
}

/// The `.dir` md5 (with `.dir`) of the directory output at `out` as the workspace holds it
/// now, proven from its snapshot, or `None` when the snapshot proves nothing (missing, stale,
/// damaged, for the other hash kind, or something changed that needs a full walk). Files whose
/// fingerprint changed are hashed again (through the state cache) and their md5 substituted.
pub fn workspace_md5(
    snap_dir: &Path,
    root: &Path,
    out: &Path,
    legacy: bool,
    state: &State,
) -> Option<String> {
    let path = snap_dir.join(id(root, out));
    let mut r = Reader::open(&path)?;
    let (md5, since) = header(&mut r, out, legacy)?;
    let count = r.u64()?;
    let reader = state.reader();
    // the record is decoded (and its checksum summed) on a thread of its own, a chunk ahead of
    // the stats of the chunk before
    let (chunks, decoded) = std::sync::mpsc::sync_channel::<Vec<Entry>>(1);
    let (changed, complete) = std::thread::scope(|scope| {
        let decoder = scope.spawn(move || decode(r, count, &chunks));
        let changed = compare(out, since, legacy, &reader, decoded);
        (changed, decoder.join().unwrap_or(false))
    });
    let changed = changed.filter(|_| complete)?;
    if changed.is_empty() {
        return Some(format!("{}.dir", hex::encode(md5)));
    }
    recompute(&path, out, legacy, &changed)
}

/// Reads the `count` files of a workspace record into `chunks` of [`CHUNK`]; whether the
/// record was whole (read to its end and its checksum held). Stops when the receiver is gone.
fn decode(mut r: Reader, count: u64, chunks: &std::sync::mpsc::SyncSender<Vec<Entry>>) -> bool {
    let mut index = 0u64;
    while index < count {
        let n = (count - index).min(CHUNK as u64) as usize;
        let mut chunk = Vec::with_capacity(n);
        for _ in 0..n {
            let entry = (|| {
                Some(Entry {
                    rel: r.name(false)?,
                    fp: r.fp()?,
                    md5: r.bytes::<16>()?,
                })
            })();
            let Some(entry) = entry else {
                return false;
            };
            chunk.push(entry);
        }
        if chunks.send(chunk).is_err() {
            return false;
        }
        index += n as u64;
    }
    r.finish()
}

/// Stats each decoded chunk and hashes again the files whose fingerprint is not the trusted
/// recorded one: the files whose md5 changed (by index), or `None` when the fast path gives up.
fn compare(
    out: &Path,
    since: i64,
    legacy: bool,
    reader: &crate::hash::state::StateReader,
    decoded: std::sync::mpsc::Receiver<Vec<Entry>>,
) -> Option<Vec<(u64, [u8; 16])>> {
    let mut changed: Vec<(u64, [u8; 16])> = Vec::new();
    let mut index = 0u64;
    for chunk in decoded {
        let seen = look(out, &chunk, since);
        for (i, (e, s)) in chunk.iter().zip(seen).enumerate() {
            let fp = match s {
                Seen::Same => continue,
                Seen::Odd => return None,
                Seen::Changed(fp) => fp,
            };
            let abs = out.join(&e.rel);
            // a fingerprint as recorded but too young to trust: the state cache's entry for it
            // is as young, so the bytes are read
            let known = (fp != e.fp).then(|| reader.get(&abs, fp, legacy)).flatten();
            let hex = match known {
                Some(hex) => hex,
                None => hash_file(&abs, legacy)?,
            };
            let mut now = [0u8; 16];
            hex::decode_to_slice(&hex, &mut now).ok()?;
            if now != e.md5 {
                changed.push((index + i as u64, now));
                if changed.len() > MAX_CHANGED {
                    return None;
                }
            }
        }
        index += chunk.len() as u64;
    }
    Some(changed)
}

fn hash_file(path: &Path, legacy: bool) -> Option<String> {
    let hashed = if legacy {
        crate::hash::file_md5_dos2unix(path)
    } else {
        crate::hash::file_md5(path)
    };
    hashed.ok().map(|(md5, _)| md5)
}

/// Reads and checks the header of a workspace record: kind, `.dvcignore`s and directories
/// unchanged. Returns the recorded `.dir` md5 and the time its walk began.
fn header(r: &mut Reader, out: &Path, legacy: bool) -> Option<([u8; 16], i64)> {
    if &r.bytes::<8>()? != MAGIC || r.u32()? != VERSION {
        return None;
    }
    if r.bytes::<1>()?[0] != u8::from(legacy) {
        return None;
    }
    let md5 = r.bytes::<16>()?;
    let since = r.i64()?;
    let ignores = ignore_stamps(out);
    if r.u32()? as usize != ignores.len() {
        return None;
    }
    for now in ignores {
        let then = match r.bytes::<1>()?[0] {
            0 => None,
            1 => Some(r.bytes::<16>()?),
            _ => return None,
        };
        if then != now {
            return None;
        }
    }
    let dirs = r.u32()?;
    for _ in 0..dirs {
        let rel = r.name(true)?;
        let then = DirStamp {
            ino: r.u64()?,
            mtime_ns: r.i64()?,
        };
        if trusted_dir(&join(out, &rel), since) != Some(then) {
            return None;
        }
    }
    Some((md5, since))
}

/// Stats a chunk of recorded files on two threads (each its own directory handle, no link
/// followed).
fn look(out: &Path, chunk: &[Entry], since: i64) -> Vec<Seen> {
    let half = chunk.len().div_ceil(2).max(1);
    let parts: Vec<Vec<Seen>> = chunk
        .par_chunks(half)
        .map(|part| {
            let mut dir: Option<(String, OwnedFd)> = None;
            part.iter().map(|e| see(out, e, since, &mut dir)).collect()
        })
        .collect();
    parts.into_iter().flatten().collect()
}

fn see(out: &Path, e: &Entry, since: i64, dir: &mut Option<(String, OwnedFd)>) -> Seen {
    use rustix::fs::{AtFlags, FileType, Mode, OFlags};
    let (parent, name) = e.rel.rsplit_once('/').unwrap_or(("", &e.rel));
    if dir.as_ref().is_none_or(|(p, _)| p != parent) {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match rustix::fs::open(join(out, parent), flags, Mode::empty()) {
            Ok(fd) => *dir = Some((parent.to_string(), fd)),
            Err(_) => return Seen::Odd,
        }
    }
    let Some((_, fd)) = dir.as_ref() else {
        return Seen::Odd;
    };
    let Ok(st) = rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW) else {
        return Seen::Odd;
    };
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Seen::Odd;
    }
    let fp = Fingerprint {
        ino: st.st_ino,
        mtime_ns: stat_mtime_ns(&st),
        size: st.st_size as u64,
    };
    if fp == e.fp && fp.mtime_ns < since {
        Seen::Same
    } else {
        Seen::Changed(fp)
    }
}

/// The `.dir` md5 of the recorded files with the `changed` md5s substituted (a second read of
/// the record, checked again).
fn recompute(path: &Path, out: &Path, legacy: bool, changed: &[(u64, [u8; 16])]) -> Option<String> {
    let mut r = Reader::open(path)?;
    header(&mut r, out, legacy)?;
    let count = r.u64()?;
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(count.min(1 << 24) as usize);
    let mut next = changed.iter().peekable();
    for index in 0..count {
        let rel = r.name(false)?;
        r.fp()?;
        let mut md5 = r.bytes::<16>()?;
        if let Some((_, now)) = next.next_if(|(i, _)| *i == index) {
            md5 = *now;
        }
        pairs.push((rel, hex::encode(md5)));
    }
    if !r.finish() {
        return None;
    }
    let md5 = manifest::md5_of_pairs(pairs.iter().map(|(r, m)| (r.as_str(), m.as_str())));
    Some(format!("{md5}.dir"))
}

/// The cache fan-out directory holding objects whose md5 starts with byte `prefix`.
fn fanout(odb: &Odb, legacy: bool, prefix: u8) -> Option<PathBuf> {
    let hash = HashInfo {
        md5: format!("{prefix:02x}{}", "0".repeat(30)),
        legacy,
    };
    odb.path(&hash).parent().map(Path::to_path_buf)
}

fn first_byte(md5: &str) -> Option<u8> {
    md5.get(..2).and_then(|h| u8::from_str_radix(h, 16).ok())
}

/// Now on the clock of the filesystem holding the cache ([`Clock::read`] in its root, which is
/// not created): what the cache record's stamps are compared with.
pub fn cache_now(odb: &Odb) -> Option<i64> {
    Clock::read(&odb.root).map(Clock::ns)
}

/// Records that every object of the `.dir` `hash` was found in the cache by a full check begun
/// after the clock reading `started_ns` ([`cache_now`]), with `prefixes` the first bytes of its
/// objects' md5s; skipped when a directory involved is too young to be trusted.
pub fn write_cache(
    snap_dir: &Path,
    root: &Path,
    out: &Path,
    odb: &Odb,
    hash: &HashInfo,
    prefixes: &[bool; 256],
    started_ns: i64,
) {
    if let Some(stamps) = cache_stamps(odb, hash, prefixes, started_ns) {
        put_cache(snap_dir, root, out, hash, &stamps);
    }
}

/// Longest wait for the cache's clock to pass the fan-out directories just written (a coarse
/// clock's tick is a few ms; a 1- or 2-s clock is not waited for).
const SETTLE_MAX: Duration = Duration::from_millis(64);

/// Records the cache side of the directory output at `out` whose objects (`files`) and `.dir`
/// (`hash`) were just stored by `add` or `commit` under the repository lock, so that the first
/// status after them needs no full check. The fan-out directories are stamped first (after a
/// clock reading, waiting out the tick they were written in), then every object is looked for
/// in a listing of its directory (names only, no stat per object): a deletion before the
/// stamps (an outside `dvc gc`) is found by the listing, one after them moves a stamp. Where
/// anything is missing or the clock will not settle, nothing is recorded and the first status
/// checks in full, as before.
pub fn record_stored(
    snap_dir: &Path,
    root: &Path,
    out: &Path,
    odb: &Odb,
    hash: &HashInfo,
    files: &[FileInfo],
) {
    let mut prefixes = [false; 256];
    for f in files {
        prefixes[f.md5[0] as usize] = true;
    }
    let mut wait = Duration::from_millis(1);
    let stamps = loop {
        let Some(since) = cache_now(odb) else {
            return;
        };
        if let Some(stamps) = cache_stamps(odb, hash, &prefixes, since) {
            break stamps;
        }
        if wait > SETTLE_MAX {
            return;
        }
        std::thread::sleep(wait);
        wait *= 2;
    };
    if odb.contains(hash) && all_listed(odb, hash.legacy, files) {
        put_cache(snap_dir, root, out, hash, &stamps);
    }
}

/// Whether the cache holds every object of `files`, by listings of its fan-out directories,
/// in 16 passes (one per first hex digit) so that at most a sixteenth of the md5s is held.
fn all_listed(odb: &Odb, legacy: bool, files: &[FileInfo]) -> bool {
    (0..16u8).all(|digit| {
        let mut md5s: Vec<[u8; 16]> = files
            .iter()
            .filter(|f| f.md5[0] >> 4 == digit)
            .map(|f| f.md5)
            .collect();
        md5s.par_sort_unstable();
        md5s.dedup();
        odb.missing_raw(legacy, &md5s).is_empty()
    })
}

/// What a cache record holds besides its `.dir` md5.
struct CacheStamps {
    /// The clock reading the stamps were trusted against.
    since: i64,
    /// The `.dir` object's fingerprint.
    object: Fingerprint,
    /// The fan-out directories (by first md5 byte) holding its objects and itself.
    dirs: Vec<(u8, DirStamp)>,
}

/// Stamps the `.dir` object and the fan-out directories of `prefixes` (and the `.dir`'s own),
/// each trusted against `since`; `None` when one is missing or too young.
fn cache_stamps(
    odb: &Odb,
    hash: &HashInfo,
    prefixes: &[bool; 256],
    since: i64,
) -> Option<CacheStamps> {
    let own = first_byte(&hash.md5)?;
    let object = Fingerprint::of(&std::fs::symlink_metadata(odb.path(hash)).ok()?);
    let mut dirs = Vec::new();
    for p in 0..=255u8 {
        if prefixes[p as usize] || p == own {
            dirs.push((
                p,
                fanout(odb, hash.legacy, p).and_then(|d| trusted_dir(&d, since))?,
            ));
        }
    }
    Some(CacheStamps {
        since,
        object,
        dirs,
    })
}

fn put_cache(snap_dir: &Path, root: &Path, out: &Path, hash: &HashInfo, stamps: &CacheStamps) {
    let result = write_record(snap_dir, &format!("{}.cache", id(root, out)), |w| {
        w.put(CACHE_MAGIC)?;
        w.put(&VERSION.to_le_bytes())?;
        w.put(&[u8::from(hash.legacy)])?;
        w.name(&hash.md5)?;
        w.put(&stamps.since.to_le_bytes())?;
        put_fp(w, &stamps.object)?;
        w.put(&(stamps.dirs.len() as u32).to_le_bytes())?;
        for (p, stamp) in &stamps.dirs {
            w.put(&[*p])?;
            w.put(&stamp.ino.to_le_bytes())?;
            w.put(&stamp.mtime_ns.to_le_bytes())?;
        }
        Ok(())
    });
    if let Err(e) = result {
        tracing::debug!(
            "could not write the cache snapshot of '{}': {e}",
            out.display()
        );
    }
}

/// Whether the cache record proves every object of the `.dir` `hash` still in the cache: the
/// `.dir` object and every fan-out directory it recorded are as they were.
pub fn cache_proven(snap_dir: &Path, root: &Path, out: &Path, odb: &Odb, hash: &HashInfo) -> bool {
    (|| -> Option<bool> {
        let mut r = Reader::open(&snap_dir.join(format!("{}.cache", id(root, out))))?;
        if &r.bytes::<8>()? != CACHE_MAGIC || r.u32()? != VERSION {
            return None;
        }
        if r.bytes::<1>()?[0] != u8::from(hash.legacy) {
            return None;
        }
        if r.name(false)? != hash.md5 {
            return None;
        }
        let since = r.i64()?;
        let object = r.fp()?;
        let now = std::fs::symlink_metadata(odb.path(hash)).ok()?;
        if !now.is_file() || Fingerprint::of(&now) != object {
            return None;
        }
        let n = r.u32()?;
        if n > 256 {
            return None;
        }
        for _ in 0..n {
            let p = r.bytes::<1>()?[0];
            let then = DirStamp {
                ino: r.u64()?,
                mtime_ns: r.i64()?,
            };
            if fanout(odb, hash.legacy, p).and_then(|d| trusted_dir(&d, since)) != Some(then) {
                return None;
            }
        }
        Some(r.finish())
    })()
    .unwrap_or(false)
}
