//! The local object cache: DVC 3 layout (`files/md5/xx/…`) and the legacy root layout, atomic
//! inserts (temp file in the target directory, then rename, then mode 0444), verification and
//! listing for gc.
pub mod manifest;

use std::fs::{self, File, Permissions};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

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

/// The cache directory of a repository.
#[derive(Debug, Clone)]
pub struct Odb {
    /// Root of the cache (`.dvc/cache` unless `cache.dir` says otherwise).
    pub root: PathBuf,
}

impl Odb {
    /// The cache at `root`.
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// Where `hash` lives in this cache.
    pub fn path(&self, hash: &HashInfo) -> PathBuf {
        self.root.join(key(hash))
    }

    /// Whether the cache has a file for `hash` (not verified).
    pub fn contains(&self, hash: &HashInfo) -> bool {
        self.path(hash).is_file()
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

    /// A fresh temp path in the directory `hash` will live in (created if needed), for writers
    /// that fill a file and then call [`Odb::commit_temp`].
    pub fn temp_for(&self, hash: &HashInfo) -> io::Result<PathBuf> {
        let dir = self
            .path(hash)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.root.clone());
        fs::create_dir_all(&dir)?;
        Ok(dir.join(temp_name()))
    }

    /// Moves a complete, verified temp file into place as `hash`, read-only.
    pub fn commit_temp(&self, tmp: &Path, hash: &HashInfo) -> io::Result<()> {
        fs::set_permissions(tmp, Permissions::from_mode(OBJECT_MODE))?;
        fs::rename(tmp, self.path(hash))
    }

    /// Copies (or reflinks) the workspace file `src`, whose hash the caller computed, into the
    /// cache unless it is already there.
    pub fn insert_file(&self, src: &Path, hash: &HashInfo) -> io::Result<()> {
        if self.contains(hash) {
            return Ok(());
        }
        let tmp = self.temp_for(hash)?;
        let result = clone_or_copy(src, &tmp).and_then(|()| self.commit_temp(&tmp, hash));
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Stores `bytes` (a `.dir` manifest) as `hash` unless present.
    pub fn insert_bytes(&self, bytes: &[u8], hash: &HashInfo) -> io::Result<()> {
        if self.contains(hash) {
            return Ok(());
        }
        let tmp = self.temp_for(hash)?;
        let result = fs::write(&tmp, bytes).and_then(|()| self.commit_temp(&tmp, hash));
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Reads and parses the manifest of a `.dir` hash from the cache.
    pub fn read_manifest(&self, hash: &HashInfo) -> Result<Vec<manifest::Entry>, OdbError> {
        let path = self.path(hash);
        let bytes = fs::read(&path).map_err(|source| OdbError::Io {
            path: path.clone(),
            source,
        })?;
        manifest::parse(&bytes).map_err(|source| OdbError::Manifest {
            hash: hash.md5.clone(),
            source,
        })
    }

    /// Every object in the cache (both layouts), for gc.
    pub fn list(&self) -> io::Result<Vec<HashInfo>> {
        let mut out = Vec::new();
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
                for f in files.flatten() {
                    let key = format!("{prefix}{name}/{}", f.file_name().to_string_lossy());
                    if let Some(h) = parse_key(&key) {
                        out.push(h);
                    }
                }
            }
        }
        Ok(out)
    }
}

/// An error reading from the cache.
#[derive(Debug, thiserror::Error)]
pub enum OdbError {
    /// A cache file could not be read.
    #[error("cannot read cache file '{path}': {source}")]
    Io { path: PathBuf, source: io::Error },
    /// A `.dir` object is malformed or unsafe.
    #[error("cache object {hash}: {source}")]
    Manifest {
        hash: String,
        source: manifest::ManifestError,
    },
}

/// Copies `src` to the new file `dst`, sharing blocks (reflink) when the filesystem can.
pub fn clone_or_copy(src: &Path, dst: &Path) -> io::Result<()> {
    if reflink(src, dst).is_ok() {
        return Ok(());
    }
    let _ = fs::remove_file(dst);
    fs::copy(src, dst).map(|_| ())
}

/// Reflinks `src` to the new file `dst` (FICLONE); fails on filesystems without reflinks.
pub fn reflink(src: &Path, dst: &Path) -> io::Result<()> {
    let from = File::open(src)?;
    let to = File::options().write(true).create_new(true).open(dst)?;
    rustix::fs::ioctl_ficlone(&to, &from).map_err(io::Error::from)?;
    Ok(())
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
