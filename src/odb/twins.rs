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
use std::io;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

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
    pub fn start(&self, size: u64) -> Option<TempObject> {
        if self.started.fetch_add(1, Ordering::Relaxed) >= MAX_TWINS {
            return None;
        }
        let free = rustix::fs::statvfs(&self.dir)
            .ok()
            .map(|s| s.f_bavail.saturating_mul(s.f_frsize))?;
        if free < size.saturating_mul(2) {
            return None;
        }
        match TempObject::create(&self.dir, 0o644) {
            Ok(temp) if temp.is_anonymous() => Some(temp),
            Ok(_) => None,
            Err(e) => {
                tracing::debug!("no workspace twin in {}: {e}", self.dir.display());
                None
            }
        }
    }

    /// Keeps `temp`, which holds exactly the bytes of `hash` now in the cache.
    pub fn finish(&self, hash: &HashInfo, temp: TempObject) {
        if let Ok(mut ready) = self.ready.lock() {
            ready.insert(key(hash), temp);
        }
    }

    /// The verified twin of `hash`, if one is left (each is taken once).
    pub fn take(&self, hash: &HashInfo) -> Option<TempObject> {
        self.ready.lock().ok()?.remove(&key(hash))
    }
}

fn key(hash: &HashInfo) -> String {
    if hash.legacy {
        format!("legacy:{}", hash.md5)
    } else {
        hash.md5.clone()
    }
}

/// Sets the mode a checkout gives a copied file on `temp` (it was made 0644 less the umask).
pub fn set_mode(temp: &TempObject, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if mode != 0o644 || super::umask() & mode != 0 {
        temp.file
            .set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_twin_is_taken_once_and_the_run_has_a_cap() {
        let dir = tempfile::tempdir().unwrap();
        let twins = Twins::new(dir.path().to_path_buf());
        let hash = HashInfo::md5("0cc175b9c0f1b6a831c399e269772661");
        let mut temp = twins.start(1).expect("a twin on a filesystem with room");
        temp.file.write_all(b"a").unwrap();
        twins.finish(&hash, temp);
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
        for _ in 1..MAX_TWINS {
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
