//! The state cache: `(inode, mtime, size)` of a file → its md5, so `status` and re-`add` never
//! read an unchanged file again. Kept privately in `.dvc/tmp/ferry/state.redb` (DVC's own state
//! DB lives outside the repo and is not shared; dvc-format.md §9).
//!
//! A fingerprint is remembered only when its mtime is strictly older than a [`Clock`] reading
//! of the file's filesystem taken before the stat that read it (the racy-timestamp rule, argued
//! in [`crate::repo::snapshot`]): a file rewritten with the same size in the tick it was hashed
//! in would otherwise keep its old md5 for good. dvc has no such rule. For a file Ferry itself
//! has just written (a checkout), the reading is taken after the write: a later change is
//! stamped at or after the reading and so seen; what stays unseen is a change another process
//! makes to the file in the very tick Ferry writes it, git's checkout window too.
//!
//! All lookups of a command go through one read transaction and all new entries through one
//! write transaction, so there is no per-file fsync or transaction. The database is opened
//! read-only until something is to be written: a `status` that finds nothing new writes
//! nothing and syncs nothing (a writable open and its close cost five `fdatasync`s, a
//! journal commit each).
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use redb::{Database, ReadOnlyDatabase, ReadableDatabase, TableDefinition};

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("md5_by_path_v1");

/// What identifies an unchanged file: inode, modification time (ns) and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    /// The inode number.
    pub ino: u64,
    /// The modification time, in ns since the epoch.
    pub mtime_ns: i64,
    /// The size in bytes.
    pub size: u64,
}

impl Fingerprint {
    /// The fingerprint of a file from its metadata.
    pub fn of(meta: &Metadata) -> Self {
        Self {
            ino: meta.ino(),
            mtime_ns: meta
                .mtime()
                .saturating_mul(1_000_000_000)
                .saturating_add(meta.mtime_nsec()),
            size: meta.size(),
        }
    }

    fn encode(&self, md5: &[u8; 16], legacy: bool) -> [u8; 49] {
        let mut v = [0u8; 49];
        v[0..8].copy_from_slice(&self.ino.to_le_bytes());
        v[8..24].copy_from_slice(&i128::from(self.mtime_ns).to_le_bytes());
        v[24..32].copy_from_slice(&self.size.to_le_bytes());
        v[32] = u8::from(legacy);
        v[33..49].copy_from_slice(md5);
        v
    }
}

/// A reading of a filesystem's clock, in ns: what a fingerprint's mtime must be strictly older
/// than to be trusted (see the module docs). Read from the filesystem, never from the wall
/// clock, which may be skewed from a network filesystem's or faked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Clock(i64);

impl Clock {
    /// Now as the filesystem holding the existing directory `dir` stamps it: the mtime of a
    /// nameless file created there (`O_TMPFILE`, never linked, gone when closed, so the
    /// directory's own mtime does not move). `None` where that cannot be done (no `O_TMPFILE`,
    /// a read-only directory, a symbolic link).
    pub fn read(dir: &Path) -> Option<Self> {
        use rustix::fs::{Mode, OFlags};
        let probe = rustix::fs::openat(
            Self::open_dir(dir)?,
            ".",
            OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .ok()?;
        rustix::fs::fstat(&probe)
            .ok()
            .map(|st| Self(stat_mtime_ns(&st)))
    }

    /// [`Clock::read`] by a named probe file, created new and removed at once: for Ferry's own
    /// directory on a filesystem without `O_TMPFILE` (NFS), where a name coming and going
    /// disturbs nothing.
    fn read_named(dir: &Path) -> Option<Self> {
        use rustix::fs::{AtFlags, Mode, OFlags};
        static PROBES: AtomicU64 = AtomicU64::new(0);
        let dir_fd = Self::open_dir(dir)?;
        let name = format!(
            ".clock-{}-{}",
            std::process::id(),
            PROBES.fetch_add(1, Ordering::Relaxed)
        );
        let probe = rustix::fs::openat(
            &dir_fd,
            name.as_str(),
            OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::WRONLY | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .ok()?;
        let now = rustix::fs::fstat(&probe)
            .ok()
            .map(|st| Self(stat_mtime_ns(&st)));
        let _ = rustix::fs::unlinkat(&dir_fd, name.as_str(), AtFlags::empty());
        now
    }

    /// The directory a probe is made in, never through a symbolic link.
    fn open_dir(dir: &Path) -> Option<std::os::fd::OwnedFd> {
        use rustix::fs::{Mode, OFlags};
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        rustix::fs::open(dir, flags, Mode::empty()).ok()
    }

    /// The reading, in ns since the epoch.
    pub fn ns(self) -> i64 {
        self.0
    }

    /// Whether a fingerprint stat'ed after this reading may be remembered: its mtime is
    /// strictly older, so any change after the reading would move it.
    pub fn trusts(self, fp: &Fingerprint) -> bool {
        fp.mtime_ns < self.0
    }
}

/// The mtime of a raw `stat` answer, in ns.
pub fn stat_mtime_ns(st: &rustix::fs::Stat) -> i64 {
    st.st_mtime
        .saturating_mul(1_000_000_000)
        .saturating_add(st.st_mtime_nsec as i64)
}

/// Entries queued before [`State::remember`] writes them (one transaction, one fsync, per
/// 50,000 files: about 7 MB of queue).
const PENDING_MAX: usize = 50_000;

/// The database, as opened so far.
enum Db {
    /// For lookups only: opening it writes nothing.
    Read(ReadOnlyDatabase),
    /// Opened for writing (on the first flush with something to write).
    Write(Database),
}

/// The opened state cache. Absent (`None` inside) when it cannot be opened, e.g. another process
/// holds it: Ferry then simply hashes everything.
pub struct State {
    path: PathBuf,
    db: Option<Db>,
    pending: Vec<(Vec<u8>, [u8; 49])>,
}

impl State {
    /// Opens the state database at `path` (read-only while it exists; created when it does not,
    /// or cannot be read as it is); never fails, see the type's docs.
    pub fn open(path: &Path) -> Self {
        let db = path
            .parent()
            .map(std::fs::create_dir_all)
            .and_then(|r| r.ok())
            .and_then(|_| match builder().open_read_only(path) {
                Ok(db) => Some(Db::Read(db)),
                Err(_) => writable(path).map(Db::Write),
            });
        Self {
            path: path.to_path_buf(),
            db,
            pending: Vec::new(),
        }
    }

    /// A state that remembers nothing (for one-off hashing).
    pub fn disabled() -> Self {
        Self {
            path: PathBuf::new(),
            db: None,
            pending: Vec::new(),
        }
    }

    /// The directory holding the state database (`None` for [`State::disabled`]): Ferry's
    /// private per-repository state, where the status snapshots live too.
    pub fn dir(&self) -> Option<&Path> {
        self.path.parent().filter(|p| !p.as_os_str().is_empty())
    }

    /// A [`Clock`] reading for files in `dir`: in `dir` itself where it can be (their own
    /// filesystem), else in the state's directory (the repository's filesystem). `None` when
    /// neither can be read: nothing is remembered then.
    pub fn clock(&self, dir: &Path) -> Option<Clock> {
        Clock::read(dir).or_else(|| {
            let own = self.dir()?;
            Clock::read(own).or_else(|| Clock::read_named(own))
        })
    }

    /// A snapshot for lookups; cheap, usable from many threads. Drop it before
    /// [`State::remember`]: the first write reopens the database for writing.
    pub fn reader(&self) -> StateReader {
        let txn = match self.db.as_ref() {
            Some(Db::Read(db)) => db.begin_read().ok(),
            Some(Db::Write(db)) => db.begin_read().ok(),
            None => None,
        };
        let table = txn.and_then(|txn| txn.open_table(TABLE).ok());
        StateReader { table }
    }

    /// Queues `path` → `md5` for the next [`State::flush`] when `clock` (read before the stat
    /// that gave `fp`, or after Ferry wrote the file) trusts `fp`; every [`PENDING_MAX`]
    /// entries are written at once, so the queue's memory stays flat in the number of files.
    pub fn remember(
        &mut self,
        path: &Path,
        fp: Fingerprint,
        md5_hex: &str,
        legacy: bool,
        clock: Option<Clock>,
    ) {
        let mut raw = [0u8; 16];
        if hex::decode_to_slice(md5_hex, &mut raw).is_ok() {
            self.remember_raw(path, fp, &raw, legacy, clock);
        }
    }

    /// [`State::remember`] of a binary md5.
    pub fn remember_raw(
        &mut self,
        path: &Path,
        fp: Fingerprint,
        md5: &[u8; 16],
        legacy: bool,
        clock: Option<Clock>,
    ) {
        if self.db.is_some() && clock.is_some_and(|c| c.trusts(&fp)) {
            self.pending
                .push((path.as_os_str().as_bytes().to_vec(), fp.encode(md5, legacy)));
            if self.pending.len() >= PENDING_MAX {
                self.flush();
            }
        }
    }

    /// Writes the queued entries in one transaction. Failure only costs re-hashing later.
    pub fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        if let Some(Db::Read(_)) = self.db {
            // the read-only handle's lock goes before the writable open takes its own
            self.db = None;
            self.db = writable(&self.path).map(Db::Write);
        }
        let Some(Db::Write(db)) = &self.db else {
            self.pending.clear();
            return;
        };
        // in key order: the B-tree is filled front to back
        self.pending.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let result = (|| -> Result<(), redb::Error> {
            let txn = db.begin_write()?;
            {
                let mut table = txn.open_table(TABLE)?;
                for (k, v) in &self.pending {
                    table.insert(k.as_slice(), v.as_slice())?;
                }
            }
            txn.commit()?;
            Ok(())
        })();
        if let Err(e) = result {
            tracing::debug!("could not update the state cache: {e}");
        }
        self.pending.clear();
    }
}

/// Bytes of pages redb keeps in memory (its default is 1 GiB, which a million-file state
/// database, read once front to back, would fill with pages never read again).
const CACHE_BYTES: usize = 16 << 20;

fn builder() -> redb::Builder {
    let mut b = redb::Builder::new();
    b.set_cache_size(CACHE_BYTES);
    b
}

/// The state database at `path` opened for writing (created if missing), or `None` when it
/// cannot be (another process holds it).
fn writable(path: &Path) -> Option<Database> {
    match builder().create(path) {
        Ok(db) => Some(db),
        Err(e) => {
            tracing::debug!(
                "state cache {} unavailable ({e}); hashing without it",
                path.display()
            );
            None
        }
    }
}

/// A read snapshot of the state cache.
pub struct StateReader {
    table: Option<redb::ReadOnlyTable<&'static [u8], &'static [u8]>>,
}

impl StateReader {
    /// The md5 remembered for `path` if its fingerprint is unchanged and the hash kind matches.
    pub fn get(&self, path: &Path, fp: Fingerprint, legacy: bool) -> Option<String> {
        let table = self.table.as_ref()?;
        let value = table.get(path.as_os_str().as_bytes()).ok()??;
        matching(value.value(), fp, legacy)
    }

    /// [`StateReader::get`] for many paths sorted by their bytes (a directory's files in
    /// manifest order), in one range scan of the table instead of one tree descent per path.
    pub fn get_sorted(&self, items: &[(&Path, Fingerprint)], legacy: bool) -> Vec<Option<String>> {
        let mut out = vec![None; items.len()];
        let (Some(table), Some(first), Some(last)) = (&self.table, items.first(), items.last())
        else {
            return out;
        };
        let (first, last) = (
            first.0.as_os_str().as_bytes(),
            last.0.as_os_str().as_bytes(),
        );
        if first > last {
            return out;
        }
        let Ok(mut range) = table.range::<&[u8]>(first..=last) else {
            return out;
        };
        let mut current = range.next();
        for ((path, fp), slot) in items.iter().zip(out.iter_mut()) {
            let key = path.as_os_str().as_bytes();
            while let Some(Ok((k, _))) = &current
                && k.value() < key
            {
                current = range.next();
            }
            if let Some(Ok((k, v))) = &current
                && k.value() == key
            {
                *slot = matching(v.value(), *fp, legacy);
            }
        }
        out
    }
}

/// The md5 in a stored value when its fingerprint and hash kind are those asked for.
fn matching(v: &[u8], fp: Fingerprint, legacy: bool) -> Option<String> {
    if v.len() != 49 {
        return None;
    }
    let mut probe = fp.encode(&[0; 16], legacy);
    probe[33..49].copy_from_slice(&v[33..49]);
    (probe[..] == v[..]).then(|| hex::encode(&v[33..49]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reading later than any file's stamp here.
    const LATER: Option<Clock> = Some(Clock(i64::MAX));

    #[test]
    fn a_stamp_not_older_than_the_clock_reading_is_not_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = State::open(&dir.path().join("state.redb"));
        let before = state.clock(dir.path()).expect("the clock of a temp dir");
        let young = dir.path().join("young");
        std::fs::write(&young, "v1\n").unwrap();
        let old = dir.path().join("old");
        std::fs::write(&old, "v1\n").unwrap();
        let past = std::fs::FileTimes::new()
            .set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000));
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_times(past)
            .unwrap();
        let fp = |p: &Path| Fingerprint::of(&std::fs::metadata(p).unwrap());
        let md5 = "0b5fbc1f7b1f1f1c1b0b5fbc1f7b1f1f";
        state.remember(&young, fp(&young), md5, false, Some(before));
        state.remember(&old, fp(&old), md5, false, Some(before));
        state.remember(&old, fp(&old), md5, true, None);
        state.flush();
        let reader = state.reader();
        assert_eq!(
            reader.get(&young, fp(&young), false),
            None,
            "a file written after the reading was remembered"
        );
        assert_eq!(reader.get(&old, fp(&old), false).as_deref(), Some(md5));
        assert_eq!(
            reader.get(&old, fp(&old), true),
            None,
            "remembered without a clock reading"
        );
    }

    #[test]
    fn the_clock_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), "x").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let stamp = || std::fs::metadata(dir.path()).unwrap().modified().unwrap();
        let before = stamp();
        let nameless = Clock::read(dir.path()).expect("a nameless probe");
        assert_eq!(
            stamp(),
            before,
            "a nameless probe moved the directory's mtime"
        );
        let named = Clock::read_named(dir.path()).expect("a named probe");
        assert!(named >= nameless, "the clock went back");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["f"], "a probe was left behind");
    }

    #[test]
    fn remembers_until_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "hello\n").unwrap();
        let fp = Fingerprint::of(&std::fs::metadata(&file).unwrap());
        let mut state = State::open(&dir.path().join("state.redb"));
        state.remember(&file, fp, "b1946ac92492d2347c6235b4d2611184", false, LATER);
        state.flush();
        let reader = state.reader();
        assert_eq!(
            reader.get(&file, fp, false).as_deref(),
            Some("b1946ac92492d2347c6235b4d2611184")
        );
        assert_eq!(
            reader.get(&file, fp, true),
            None,
            "a legacy lookup must not see a plain md5"
        );
        let sorted = reader.get_sorted(
            &[
                (dir.path().join("a").as_path(), fp),
                (file.as_path(), fp),
                (dir.path().join("g").as_path(), fp),
            ],
            false,
        );
        assert_eq!(
            sorted,
            [None, Some("b1946ac92492d2347c6235b4d2611184".into()), None]
        );
        std::fs::write(&file, "hello!\n").unwrap();
        let changed = Fingerprint::of(&std::fs::metadata(&file).unwrap());
        assert_eq!(reader.get(&file, changed, false), None);
        drop(reader);
        drop(state);
        // reopened read-only: lookups work, and the first write reopens it for writing
        let db = dir.path().join("state.redb");
        let before = std::fs::read(&db).unwrap();
        let mut state = State::open(&db);
        assert!(matches!(state.db, Some(Db::Read(_))));
        assert_eq!(
            state.reader().get(&file, fp, false).as_deref(),
            Some("b1946ac92492d2347c6235b4d2611184")
        );
        state.flush();
        drop(state);
        assert_eq!(
            std::fs::read(&db).unwrap(),
            before,
            "a read-only use wrote to the file"
        );
        let mut state = State::open(&db);
        state.remember(
            &file,
            changed,
            "6a5e2c2a4b1c5c2e1f1e4e07e4e10b3a",
            false,
            LATER,
        );
        state.flush();
        assert!(matches!(state.db, Some(Db::Write(_))));
        assert_eq!(
            state.reader().get(&file, changed, false).as_deref(),
            Some("6a5e2c2a4b1c5c2e1f1e4e07e4e10b3a")
        );
        assert_eq!(
            state.reader().get(&file, fp, false),
            None,
            "the old fingerprint was replaced"
        );
    }
}
