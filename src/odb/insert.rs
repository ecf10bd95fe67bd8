//! Putting many workspace files in the cache at once (`add`, `commit` of a directory), one
//! cache directory at a time: each two-digit directory is opened once and listed once, and
//! its objects are created and linked in relative to it. A million-file add so costs 256
//! listings instead of a million failed lookups, and no path walk per object.
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{LIST_AT, Odb, clone_or_copy, name_bytes, object_file, object_names};

/// Files up to this size are copied with one read and one write (cheaper than the kernel's
/// `copy_file_range`, which sets up a splice per call).
const SMALL_COPY: u64 = 64 << 10;

/// A file that could not be put in the cache, named by its workspace path.
#[derive(Debug)]
pub struct InsertError {
    /// The workspace file being stored.
    pub path: PathBuf,
    /// What failed, reading it or writing its object.
    pub source: io::Error,
}

/// One file to store: its size and where its bytes are.
pub struct Source {
    /// Its size, as hashed.
    pub size: u64,
    /// The workspace file.
    pub path: PathBuf,
}

impl Odb {
    /// Stores the `count` files `source(i)` (each hashed by the caller) unless their object is
    /// in the cache already, on all cores, each cache directory listed once. Only the order of
    /// the files (4 bytes each) is held beside the caller's list.
    pub fn insert_files(
        &self,
        legacy: bool,
        count: usize,
        md5_of: impl Fn(usize) -> [u8; 16] + Sync,
        source: impl Fn(usize) -> Source + Sync,
    ) -> Result<(), InsertError> {
        let mut order: Vec<u32> = (0..count as u32).collect();
        order.par_sort_unstable_by_key(|&i| md5_of(i as usize));
        order.dedup_by_key(|i| md5_of(*i as usize));
        let groups: Vec<&[u32]> = order
            .chunk_by(|a, b| md5_of(*a as usize)[0] == md5_of(*b as usize)[0])
            .collect();
        groups.par_iter().try_for_each(|group| {
            let files = group
                .iter()
                .map(|&i| (md5_of(i as usize), source(i as usize)));
            self.insert_group(legacy, files)
        })
    }

    /// [`Odb::insert_files`] of files whose md5s share their first byte (one cache directory).
    fn insert_group(
        &self,
        legacy: bool,
        mut files: impl ExactSizeIterator<Item = ([u8; 16], Source)>,
    ) -> Result<(), InsertError> {
        let count = files.len();
        let Some((first_md5, first)) = files.next() else {
            return Ok(());
        };
        let dir = self.fanout_dir(legacy, first_md5[0]);
        let cache_error = |source| InsertError {
            path: first.path.clone(),
            source,
        };
        let dir_fd = match open_dir(&dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.make_dir(&dir).map_err(cache_error)?;
                open_dir(&dir).map_err(cache_error)?
            }
            other => other.map_err(cache_error)?,
        };
        // a few objects are looked up one by one; more, by one listing of the directory
        // (a listing cut short only costs objects stored again, linked over their old copy)
        let present = (count >= LIST_AT).then(|| object_names(&dir).unwrap_or_default());
        for (md5, src) in std::iter::once((first_md5, first)).chain(files) {
            let name = hex::encode(&md5[1..]);
            let there = match &present {
                Some(names) => names.binary_search(&name_bytes(&md5)).is_ok(),
                None => is_file_at(&dir_fd, &name),
            };
            if !there {
                store(&dir_fd, &dir, &name, (&md5, legacy), &src).map_err(|source| {
                    InsertError {
                        path: src.path,
                        source,
                    }
                })?;
            }
        }
        Ok(())
    }
}

fn open_dir(dir: &Path) -> io::Result<OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    rustix::fs::open(dir, flags, Mode::empty()).map_err(io::Error::from)
}

/// Whether `name` in the open directory is a regular file (following a link, as
/// [`Odb::contains`] does).
fn is_file_at(dir_fd: &OwnedFd, name: &str) -> bool {
    rustix::fs::statat(dir_fd, name, rustix::fs::AtFlags::empty())
        .is_ok_and(|st| rustix::fs::FileType::from_raw_mode(st.st_mode).is_file())
}

/// Copies the workspace file into a new read-only object `name` of the open directory. A small
/// file's bytes are checked against its md5 on the way (they are in memory already): a file
/// changed since it was hashed never becomes an object under the old name.
fn store(
    dir_fd: &OwnedFd,
    dir: &Path,
    name: &str,
    (md5, legacy): (&[u8; 16], bool),
    src: &Source,
) -> io::Result<()> {
    let mut temp = object_file(Some(dir_fd), dir)?;
    let mut from = File::open(&src.path)?;
    if src.size <= SMALL_COPY && !super::REFLINKS.load(std::sync::atomic::Ordering::Relaxed) {
        // one byte past the size sees a file that grew since it was hashed
        let mut bytes = Vec::with_capacity(src.size as usize + 1);
        (&mut from).take(src.size + 1).read_to_end(&mut bytes)?;
        if crate::hash::md5_of(&bytes, legacy) != hex::encode(md5) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "it changed while being added; run the command again",
            ));
        }
        temp.file.write_all(&bytes)?;
    } else {
        clone_or_copy(&mut from, &mut temp.file)?;
    }
    temp.commit_at(Some(dir_fd), dir, Path::new(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::HashInfo;

    fn objects(odb: &Odb) -> usize {
        let mut n = 0;
        odb.for_each_object(|_| n += 1).unwrap();
        n
    }

    fn md5(bytes: &[u8]) -> [u8; 16] {
        crate::hash::md5::Md5::digest(bytes)
    }

    #[test]
    fn stores_each_object_once_and_keeps_those_present() {
        let dir = tempfile::tempdir().unwrap();
        let odb = Odb::new(dir.path().join("cache"));
        let ws = dir.path().join("ws");
        std::fs::create_dir(&ws).unwrap();
        // 600 files (past the listing threshold in most directories), with duplicates
        let contents: Vec<Vec<u8>> = (0..600)
            .map(|i| format!("f{}", i % 500).into_bytes())
            .collect();
        for (i, c) in contents.iter().enumerate() {
            std::fs::write(ws.join(i.to_string()), c).unwrap();
        }
        // one object already there, with other bytes: it is kept, not rewritten
        let kept = HashInfo {
            md5: hex::encode(md5(&contents[0])),
            legacy: false,
        };
        let mut t = odb.create_temp(&kept).unwrap();
        t.file.write_all(b"old").unwrap();
        odb.commit_temp(t, &kept).unwrap();
        let source = |i: usize| Source {
            size: contents[i].len() as u64,
            path: ws.join(i.to_string()),
        };
        odb.insert_files(false, contents.len(), |i| md5(&contents[i]), source)
            .unwrap();
        assert_eq!(std::fs::read(odb.path(&kept)).unwrap(), b"old");
        for c in contents.iter().filter(|c| **c != contents[0]) {
            let h = HashInfo {
                md5: hex::encode(md5(c)),
                legacy: false,
            };
            assert_eq!(&std::fs::read(odb.path(&h)).unwrap(), c);
        }
        assert_eq!(objects(&odb), 500);
    }

    #[test]
    fn a_file_changed_since_hashed_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let odb = Odb::new(dir.path().join("cache"));
        let f = dir.path().join("f");
        std::fs::write(&f, b"new bytes").unwrap();
        // as on a filesystem without reflinks (where small files are copied through memory)
        crate::odb::REFLINKS.store(false, std::sync::atomic::Ordering::Relaxed);
        let err = odb
            .insert_files(
                false,
                1,
                |_| md5(b"old bytes"),
                |_| Source {
                    size: 9,
                    path: f.clone(),
                },
            )
            .unwrap_err();
        assert_eq!(err.path, f);
        assert_eq!(err.source.kind(), io::ErrorKind::InvalidData);
        assert_eq!(objects(&odb), 0);
    }

    #[test]
    fn a_missing_source_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let odb = Odb::new(dir.path().join("cache"));
        let gone = dir.path().join("gone");
        let err = odb
            .insert_files(
                true,
                1,
                |_| [7; 16],
                |_| Source {
                    size: 3,
                    path: gone.clone(),
                },
            )
            .unwrap_err();
        assert_eq!(err.path, gone);
        assert_eq!(err.source.kind(), io::ErrorKind::NotFound);
        assert_eq!(objects(&odb), 0);
    }
}
