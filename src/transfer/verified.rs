//! The per-remote record of directories an earlier push saw whole on a remote, so a no-op push
//! of a million-file directory costs one request (the `.dir`'s HEAD or a one-prefix LIST)
//! instead of a listing of the whole remote.
//!
//! What the record trusts: a directory is written into it only after this push (or an earlier
//! one) checked or uploaded every file it lists and then found or uploaded its `.dir`. Ferry and
//! dvc both upload a `.dir` after all its files and `gc --cloud` (dvc's or Ferry's) removes a
//! directory's files only when no kept commit uses the directory, which removes its `.dir` too;
//! so a later push that finds the `.dir` still on the remote, with the size of the local one,
//! takes its files as there. A `.dir` gone from the remote drops the directory from the record
//! and its files are checked again. What it cannot see is someone deleting single files from
//! the remote by hand: `ferry push --verify` ignores the record and checks every file.
//!
//! The record lives in `.dvc/tmp/ferry/verified/<id>`, one file per remote, named by the md5 of
//! the remote's URL (without credentials) and budget key, so a remote renamed or pointed
//! elsewhere starts with an empty record. It holds one `.dir` hash a line, sorted.
use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::hash::HashInfo;

/// The directories known complete on one remote.
#[derive(Debug, Default)]
pub struct Verified {
    /// Where the record is kept (`None`: nothing is read or written).
    path: Option<PathBuf>,
    /// `.dir` names (`<md5>.dir`, `legacy:` before a legacy one).
    dirs: BTreeSet<String>,
    /// Whether `dirs` differs from the file.
    changed: bool,
}

impl Verified {
    /// The record of the remote at `url` (budget key `ledger_key`) under `dir`; `trust` false
    /// (`--verify`) starts it empty, so every file is checked and the record is rebuilt.
    pub fn load(dir: &Path, url: &str, ledger_key: &str, trust: bool) -> Self {
        let id = crate::hash::md5_bytes(format!("{url}\n{ledger_key}").as_bytes());
        let path = dir.join(id);
        let dirs: BTreeSet<String> = match std::fs::read_to_string(&path) {
            Ok(text) if trust => text
                .lines()
                .filter(|l| is_entry(l))
                .map(str::to_string)
                .collect(),
            _ => BTreeSet::new(),
        };
        Self {
            path: Some(path),
            changed: !trust,
            dirs,
        }
    }

    /// A record that remembers nothing (no repository to keep it in).
    pub fn none() -> Self {
        Self::default()
    }

    /// Whether an earlier push saw every file of the directory `hash` on this remote.
    pub fn holds(&self, hash: &HashInfo) -> bool {
        self.dirs.contains(&hash.tagged())
    }

    /// Whether the record names no directory (then nothing needs checking first).
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty()
    }

    /// Every file of the directory `hash` and its `.dir` are on the remote now.
    pub fn insert(&mut self, hash: &HashInfo) {
        self.changed |= self.dirs.insert(hash.tagged());
    }

    /// The directory `hash` can no longer be vouched for (its `.dir` is gone from the remote).
    pub fn forget(&mut self, hash: &HashInfo) {
        self.changed |= self.dirs.remove(&hash.tagged());
    }

    /// Writes the record if it changed (a temp file renamed over it). A failure only costs
    /// the next push a full check, so it is logged, not returned.
    pub fn save(&self) {
        let Some(path) = self.path.as_ref().filter(|_| self.changed) else {
            return;
        };
        let write = || -> std::io::Result<()> {
            let dir = path.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir)?;
            let mut temp = tempfile::NamedTempFile::new_in(dir)?;
            for d in &self.dirs {
                writeln!(temp, "{d}")?;
            }
            temp.persist(path).map_err(|e| e.error)?;
            Ok(())
        };
        if let Err(e) = write() {
            tracing::debug!("could not write the push record {}: {e}", path.display());
        }
    }
}

/// Whether a line of the file is a well-formed entry (anything else is ignored).
fn is_entry(line: &str) -> bool {
    let md5 = line.strip_prefix("legacy:").unwrap_or(line);
    md5.strip_suffix(".dir").is_some_and(|hex| {
        hex.len() == 32 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(md5: &str) -> HashInfo {
        HashInfo {
            md5: format!("{md5}.dir"),
            legacy: false,
        }
    }

    #[test]
    fn a_record_survives_a_reload_and_a_verify_starts_empty() {
        let tmp = tempfile::tempdir().unwrap();
        let a = dir(&"a".repeat(32));
        let mut r = Verified::load(tmp.path(), "/remote", "local:/remote", true);
        assert!(!r.holds(&a));
        r.insert(&a);
        r.save();
        let again = Verified::load(tmp.path(), "/remote", "local:/remote", true);
        assert!(again.holds(&a));
        assert!(!again.holds(&HashInfo {
            legacy: true,
            ..a.clone()
        }));
        let other = Verified::load(tmp.path(), "/elsewhere", "local:/elsewhere", true);
        assert!(other.is_empty(), "another remote has its own record");
        let verify = Verified::load(tmp.path(), "/remote", "local:/remote", false);
        assert!(verify.is_empty());
        verify.save();
        let after = Verified::load(tmp.path(), "/remote", "local:/remote", true);
        assert!(
            after.is_empty(),
            "--verify rewrites the record from what it checked"
        );
        let mut forget = Verified::load(tmp.path(), "/remote", "local:/remote", true);
        forget.insert(&a);
        forget.forget(&a);
        forget.save();
        assert!(Verified::load(tmp.path(), "/remote", "local:/remote", true).is_empty());
    }

    #[test]
    fn malformed_lines_are_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        let r = Verified::load(tmp.path(), "/r", "k", true);
        let path = r.path.clone().unwrap();
        let good = format!("{}.dir", "b".repeat(32));
        std::fs::write(&path, format!("junk\n{good}\n{}\n", "c".repeat(32))).unwrap();
        let r = Verified::load(tmp.path(), "/r", "k", true);
        assert_eq!(r.dirs.iter().collect::<Vec<_>>(), [&good]);
    }
}
