//! Workspace copies of large objects written while they download, so a pull writes each
//! downloaded byte once into the cache and once into the workspace, instead of downloading
//! into the cache and then copying the cache file into the workspace.
//!
//! A pull whose checkout copies files (`cache.type` without links, or reflinks the filesystem
//! lacks) hands the fetch a [`Twins`]. Each large download ([`crate::transfer::resume`]) that
//! starts from nothing writes every chunk at its offset into the cache's partial file and into
//! an anonymous file (`O_TMPFILE`) on the workspace's filesystem. Once the md5 of the partial
//! file matched and it is in the cache, the twin holds the same verified bytes and is kept here;
//! the checkout links it in where it would have copied the cache object. A twin nobody takes
//! vanishes with the process, leaving nothing behind.
//!
//! Bounds: at most [`MAX_TWINS`] twins per run, and a twin only while the workspace's filesystem
//! keeps twice the object's size free, so twins never fill a disk the checkout would not.
use std::collections::HashMap;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::TempObject;
use crate::hash::HashInfo;

/// Twins started at most in one run.
pub const MAX_TWINS: usize = 64;

/// The twins of one pull: where they are made and those complete.
#[derive(Debug)]
pub struct Twins {
    /// A directory on the workspace's filesystem (the repository root).
    dir: PathBuf,
    /// Verified twins by object (`legacy:` before a legacy md5).
    ready: Mutex<HashMap<String, TempObject>>,
    /// Twins started so far.
    started: AtomicUsize,
}

impl Twins {
    /// Twins made in `dir` (the repository root).
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            ready: Mutex::new(HashMap::new()),
            started: AtomicUsize::new(0),
        }
    }

    /// A new anonymous file for the download of `hash` (`size` bytes), or `None` when the run's
    /// twins are used up, the disk is short, or the filesystem has no anonymous files.
    pub fn start(&self, size: u64) -> Option<Twin> {
        if self.started.fetch_add(1, Ordering::Relaxed) >= MAX_TWINS {
            return None;
        }
        let free = rustix::fs::statvfs(&self.dir)
            .ok()
            .map(|s| s.f_bavail.saturating_mul(s.f_frsize))?;
        if free < size.saturating_mul(2) {
            return None;
        }
        match TempObject::create(&self.dir, TWIN_MODE) {
            Ok(temp) if temp.is_anonymous() => Some(Twin {
                temp,
                broken: AtomicBool::new(false),
            }),
            Ok(_) => None,
            Err(e) => {
                tracing::debug!("no workspace twin in {}: {e}", self.dir.display());
                None
            }
        }
    }

    /// Keeps `twin`, written with exactly the bytes of `hash` now in the cache, unless one of
    /// its writes failed.
    pub fn finish(&self, hash: &HashInfo, twin: Twin) {
        if twin.broken.into_inner() {
            return;
        }
        if let Ok(mut ready) = self.ready.lock() {
            ready.insert(hash.tagged(), twin.temp);
        }
    }

    /// The verified twin of `hash`, if one is left (each is taken once).
    pub fn take(&self, hash: &HashInfo) -> Option<TempObject> {
        self.ready.lock().ok()?.remove(&hash.tagged())
    }
}

/// A workspace copy being written beside a download. A failed write (a full disk) only marks
/// it broken, so it is never kept; the download goes on.
#[derive(Debug)]
pub struct Twin {
    temp: TempObject,
    broken: AtomicBool,
}

impl Twin {
    /// Writes `bytes` at offset `at` (downloads in parts).
    pub fn write_at(&self, bytes: &[u8], at: u64) {
        if !self.broken.load(Ordering::Relaxed) {
            let written = self.temp.file.write_all_at(bytes, at);
            self.check(written);
        }
    }

    /// Writes `bytes` at the end (a download in one stream).
    pub fn append(&mut self, bytes: &[u8]) {
        if !self.broken.load(Ordering::Relaxed) {
            let written = self.temp.file.write_all(bytes);
            self.check(written);
        }
    }

    /// Copies all of `from` (the bytes a stream brought before the twin began) to the twin.
    pub fn append_file(&mut self, from: &mut std::fs::File) {
        if !self.broken.load(Ordering::Relaxed) {
            let copied = super::clone_or_copy(from, &mut self.temp.file);
            self.check(copied);
        }
    }

    fn check(&self, result: io::Result<()>) {
        if let Err(e) = result {
            tracing::debug!("workspace twin dropped: {e}");
            self.broken.store(true, Ordering::Relaxed);
        }
    }
}

/// The mode twins are made with (less the umask), as a checkout's copy of a plain file.
pub const TWIN_MODE: u32 = 0o644;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_twin_is_taken_once_and_the_run_has_a_cap() {
        let dir = tempfile::tempdir().unwrap();
        let twins = Twins::new(dir.path().to_path_buf());
        let hash = HashInfo::md5("0cc175b9c0f1b6a831c399e269772661");
        let mut twin = twins.start(1).expect("a twin on a filesystem with room");
        twin.append(b"a");
        twins.finish(&hash, twin);
        let broken = twins.start(1).unwrap();
        broken.broken.store(true, Ordering::Relaxed);
        twins.finish(&HashInfo::md5("92eb5ffee6ae2fec3ad71c777531578f"), broken);
        assert!(
            twins
                .take(&HashInfo::md5("92eb5ffee6ae2fec3ad71c777531578f"))
                .is_none(),
            "a twin a write failed on is never kept"
        );
        let legacy = HashInfo {
            legacy: true,
            ..hash.clone()
        };
        assert!(
            twins.take(&legacy).is_none(),
            "a legacy hash is another object"
        );
        let temp = twins.take(&hash).expect("the finished twin");
        assert!(twins.take(&hash).is_none(), "taken once");
        temp.commit(&dir.path().join("a")).unwrap();
        assert_eq!(std::fs::read(dir.path().join("a")).unwrap(), b"a");
        for _ in 2..MAX_TWINS {
            assert!(twins.start(1).is_some());
        }
        assert!(twins.start(1).is_none(), "at most MAX_TWINS a run");
        let huge = Twins::new(dir.path().to_path_buf());
        assert!(
            huge.start(u64::MAX / 2).is_none(),
            "no twin the disk cannot hold twice"
        );
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "twins leave no names behind: {names:?}");
    }
}
